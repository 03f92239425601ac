/* A program whose length depends on the schedule: the worker does 2,000
 * atomic additions only when the setter ran before it, else a handful of
 * points.  explore must measure PCT's k from the longer runs. */
#include <pthread.h>
#include <stdatomic.h>

static _Atomic int go, counter;

static void *
worker(void *arg)
{
    (void)arg;
    if (atomic_load(&go))
        for (int i = 0; i < 2000; i++)
            atomic_fetch_add(&counter, 1);
    return NULL;
}

static void *
setter(void *arg)
{
    (void)arg;
    atomic_store(&go, 1);
    return NULL;
}

int
main(void)
{
    pthread_t t[2];
    pthread_create(&t[0], NULL, worker, NULL);
    pthread_create(&t[1], NULL, setter, NULL);
    for (int i = 0; i < 2; i++)
        pthread_join(t[i], NULL);
    return 0;
}
