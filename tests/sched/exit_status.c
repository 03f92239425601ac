/* A program whose normal exit status is 3 (explore --expect-exit 3). */
#include <pthread.h>
#include <stdatomic.h>

static _Atomic int counter;

static void *
worker(void *arg)
{
    (void)arg;
    atomic_fetch_add(&counter, 1);
    return NULL;
}

int
main(void)
{
    pthread_t t;
    pthread_create(&t, NULL, worker, NULL);
    pthread_join(t, NULL);
    return atomic_load(&counter) == 1 ? 3 : 1;
}
