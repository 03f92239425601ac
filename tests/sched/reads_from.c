/* Reads-from features (FTFUZZ_IL_READS_FROM): two writers store to x from
 * two call sites, in an order the schedule picks; then a reader loads x
 * and also reads back its own store to y.  Prints which writer was last,
 * the session's steps and trace hash, and the reads-from features.
 *
 * usage: see main. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ftfuzz/sched.h"

static _Atomic int x, y;

static void *
writer_one(void *arg)
{
    (void)arg;
    atomic_store(&x, 1);
    return NULL;
}

static void *
writer_two(void *arg)
{
    (void)arg;
    atomic_store(&x, 2);
    return NULL;
}

static void *
reader(void *arg)
{
    (void)arg;
    atomic_store(&y, 1);
    atomic_load(&y);   /* its own write: no pair */
    return (void *)(long)atomic_load(&x);
}

/* One session; with_writers 0 runs the reader alone. */
static void
session(uint64_t seed, int reads_from, int with_writers)
{
    ftfuzz_strategy *s = ftfuzz_strategy_random(0.5, seed);
    ftfuzz_sched_config cfg = {.strategy = s, .reads_from = reads_from};
    if (ftfuzz_sched_begin(&cfg) != 0)
        exit(2);
    ftfuzz_sched_mark();
    pthread_t w1, w2, r;
    void *seen = NULL;
    if (with_writers) {
        pthread_create(&w1, NULL, writer_one, NULL);
        pthread_create(&w2, NULL, writer_two, NULL);
        pthread_join(w1, NULL);
        pthread_join(w2, NULL);
    }
    pthread_create(&r, NULL, reader, NULL);
    pthread_join(r, &seen);
    ftfuzz_sched_result res = ftfuzz_sched_end();

    uint8_t counters[4096] = {0};
    ftfuzz_sched_interleaving(counters, sizeof counters,
                              FTFUZZ_IL_READS_FROM);
    printf("last %ld steps %llu hash 0x%016llx features", (long)seen,
           (unsigned long long)res.steps,
           (unsigned long long)res.trace_hash);
    for (size_t i = 0; i < sizeof counters; i++)
        if (counters[i])
            printf(" %zu:%u", i, counters[i]);
    printf("\n");
    s->destroy(s);
}

/* usage: reads_from [off] SEED|alone...  One session per argument, in one
 * process (call sites are addresses: features compare within a process);
 * off: sessions without reads_from; alone: the reader without writers. */
int
main(int argc, char **argv)
{
    int reads_from = 1;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "off") == 0)
            reads_from = 0;
        else if (strcmp(argv[i], "alone") == 0)
            session(0, reads_from, 0);
        else
            session(strtoull(argv[i], NULL, 10), reads_from, 1);
    }
    return 0;
}
