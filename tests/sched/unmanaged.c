/* Threads created outside a session keep running freely: a thread started
 * before the session counts, sleeps for real and takes a real mutex while a
 * session is open; the managed thread sees its counter move.  Uses the
 * library API (no automatic session). */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "ftfuzz/sched.h"

static atomic_long ticks;
static atomic_int stop;
static pthread_mutex_t m = PTHREAD_MUTEX_INITIALIZER;

static void *
free_runner(void *arg)
{
    (void)arg;
    while (!atomic_load(&stop)) {
        pthread_mutex_lock(&m);
        atomic_fetch_add(&ticks, 1);
        pthread_mutex_unlock(&m);
        usleep(100);
    }
    return NULL;
}

static void *
managed(void *arg)
{
    (void)arg;
    long start = atomic_load(&ticks);
    /* Spin on atomic loads (scheduling points) until the free thread has
     * moved on by 20 ticks: that needs real time to pass. */
    long spins = 0;
    while (atomic_load(&ticks) < start + 20 && spins < 200000000)
        spins++;
    return (void *)(atomic_load(&ticks) - start);
}

int
main(void)
{
    pthread_t free_thread, t;
    pthread_create(&free_thread, NULL, free_runner, NULL);
    ftfuzz_strategy *s = ftfuzz_strategy_pct(3, 0, 1);
    ftfuzz_sched_config cfg = { .strategy = s };
    if (ftfuzz_sched_begin(&cfg) != 0)
        return 2;
    void *moved = NULL;
    pthread_create(&t, NULL, managed, NULL);
    pthread_join(t, &moved);
    ftfuzz_sched_result r = ftfuzz_sched_end();
    atomic_store(&stop, 1);
    pthread_join(free_thread, NULL);
    printf("moved %ld steps %llu self %d\n", (long)moved,
           (unsigned long long)r.steps, ftfuzz_sched_self());
    s->destroy(s);
    return (long)moved >= 20 ? 0 : 1;
}
