/* A barrier between two phases: each worker fills its slot, all meet at
 * the barrier, the serial thread (PTHREAD_BARRIER_SERIAL_THREAD) adds the
 * slots up, and every worker then reads the total.  Bug: nothing makes
 * the others wait for the serial thread's sum.  CORRECT: a second
 * barrier_wait after the sum.  Either way no run may hang in the real
 * pthread_barrier_wait. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>

#define WORKERS 3

static pthread_barrier_t barrier;
static _Atomic int slot[WORKERS];
static _Atomic int total;

static void *
worker(void *arg)
{
    int i = (int)(long)arg;
    atomic_store(&slot[i], i + 1);
    if (pthread_barrier_wait(&barrier) == PTHREAD_BARRIER_SERIAL_THREAD) {
        int sum = 0;
        for (int k = 0; k < WORKERS; k++)
            sum += atomic_load(&slot[k]);
        atomic_store(&total, sum);
    }
#ifdef CORRECT
    pthread_barrier_wait(&barrier);
#endif
    if (atomic_load(&total) != WORKERS * (WORKERS + 1) / 2) {
        fprintf(stderr, "worker %d read total %d before the sum\n", i,
                atomic_load(&total));
        abort();
    }
    return NULL;
}

int
main(void)
{
    pthread_barrier_init(&barrier, NULL, WORKERS);
    pthread_t t[WORKERS];
    for (long i = 0; i < WORKERS; i++)
        pthread_create(&t[i], NULL, worker, (void *)i);
    for (int i = 0; i < WORKERS; i++)
        pthread_join(t[i], NULL);
    pthread_barrier_destroy(&barrier);
    return 0;
}
