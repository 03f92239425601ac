/* Lost update: each thread increments a counter made of an atomic load and
 * an atomic store.  CORRECT: one atomic fetch-add.  EXTRA_POINT: one more
 * atomic access (a "modified program" for the divergence test). */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>

static _Atomic int counter;
#ifdef EXTRA_POINT
static _Atomic int unrelated;
#endif

static void *
worker(void *arg)
{
    (void)arg;
#ifdef EXTRA_POINT
    atomic_load(&unrelated);
#endif
#ifdef CORRECT
    atomic_fetch_add(&counter, 1);
#else
    int v = atomic_load(&counter);
    atomic_store(&counter, v + 1);
#endif
    return NULL;
}

int
main(void)
{
    pthread_t t[2];
    for (int i = 0; i < 2; i++)
        pthread_create(&t[i], NULL, worker, NULL);
    for (int i = 0; i < 2; i++)
        pthread_join(t[i], NULL);
    if (atomic_load(&counter) != 2) {
        fprintf(stderr, "lost update: counter is %d, expected 2\n",
                atomic_load(&counter));
        abort();
    }
    return 0;
}
