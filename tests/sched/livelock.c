/* Livelock: two threads each wait, politely yielding, for a flag that
 * nobody sets.  The step cap must turn this into a report. */
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>

static atomic_int go;

static void *
waiter(void *arg)
{
    (void)arg;
    while (!atomic_load(&go))
        sched_yield();
    return NULL;
}

int
main(void)
{
    pthread_t t1, t2;
    pthread_create(&t1, NULL, waiter, NULL);
    pthread_create(&t2, NULL, waiter, NULL);
    pthread_join(t1, NULL);
    pthread_join(t2, NULL);
    return 0;
}
