/*
 * The `pct` strategy: Probabilistic Concurrency Testing (Burckhardt et al.,
 * ASPLOS 2010).  Each thread gets a random priority above d when it starts;
 * the highest-priority thread that can run always runs; at d-1 change points
 * drawn uniformly from [1, k] the running thread's priority drops to i (the
 * i-th change point), below every starting priority.  A bug of depth d is
 * found with probability at least 1/(n k^(d-1)) per run.
 *
 * Because the running thread can only lose the turn at a change point or
 * when the set of runnable threads changes (primitive points, which always
 * consult the strategy), the fast path only needs the next change point.
 *
 * A yield (or a fairness quantum) drops the yielder below everybody, even
 * below change-point priorities, so a spinning high-priority thread lets the
 * thread it waits for make progress.
 */
#include <stdio.h>

#include "sched_internal.h"

#define PCT_DEFAULT_K 20000
#define PCT_MAX_DEPTH 64

struct pct_strategy {
    ftfuzz_strategy base;
    unsigned depth;
    uint64_t k, seed, rng;
    /* by thread id; ids are below FTFUZZ_SCHED_MAX_THREADS (core.c) */
    int64_t prio[FTFUZZ_SCHED_MAX_THREADS];
    uint64_t change[PCT_MAX_DEPTH];
    unsigned nchange, next_change;
    int64_t lowest;   /* the yield priority, ever lower */
    /* change[] counts from here: 0, or for pct@mark the step of the
     * session's mark (SCHED_NO_DEADLINE until it is reached) */
    uint64_t origin;
    int from_mark;
    int log_scale;    /* change points log-uniform over [1, k] */
};

static uint64_t
pct_next_change(const struct pct_strategy *p)
{
    if (p->next_change >= p->nchange || p->origin == SCHED_NO_DEADLINE)
        return SCHED_NO_DEADLINE;
    return p->origin + p->change[p->next_change];
}

static void
pct_thread_started(ftfuzz_strategy *s, unsigned id)
{
    struct pct_strategy *p = (struct pct_strategy *)s;
    /* Random 40-bit priorities above depth: distinct with near certainty,
     * and ties go to the lower id. */
    p->prio[id] = (int64_t)p->depth + 1
                  + (int64_t)(sched_rng_next(&p->rng) >> 24);
}

static void
pct_yielded(ftfuzz_strategy *s, unsigned id)
{
    struct pct_strategy *p = (struct pct_strategy *)s;
    p->prio[id] = --p->lowest;
}

static unsigned
pct_choose(ftfuzz_strategy *s, const ftfuzz_decision *d, uint64_t *next)
{
    struct pct_strategy *p = (struct pct_strategy *)s;
    while (pct_next_change(p) <= d->step) {
        p->prio[d->current] = (int64_t)(p->nchange - p->next_change);
        p->next_change++;
    }
    *next = pct_next_change(p);
    if (d->nrunnable == 0)
        return 0;   /* only timed waiters: the earliest times out */
    unsigned best = 0;
    for (unsigned i = 1; i < d->nrunnable; i++)
        if (p->prio[d->candidates[i]] > p->prio[d->candidates[best]])
            best = i;
    return best;
}

static void
pct_describe(ftfuzz_strategy *s, char *buf, size_t size)
{
    struct pct_strategy *p = (struct pct_strategy *)s;
    snprintf(buf, size, "%s%s:%u:k=%llu seed=%llu",
             p->log_scale ? "pctlog" : "pct", p->from_mark ? "@mark" : "",
             p->depth,
             (unsigned long long)p->k, (unsigned long long)p->seed);
}

static void
pct_destroy(ftfuzz_strategy *s)
{
    sched_mem_free(s);
}

/* Insertion sort (at most PCT_MAX_DEPTH - 1 points): libc's qsort may
 * allocate, and the runtime keeps off the program's heap (memory.c). */
static void
sort_u64(uint64_t *a, unsigned n)
{
    for (unsigned i = 1; i < n; i++) {
        uint64_t v = a[i];
        unsigned j = i;
        for (; j > 0 && a[j - 1] > v; j--)
            a[j] = a[j - 1];
        a[j] = v;
    }
}

/*
 * Setting the threads up takes fairness quanta and yields, each of which
 * drops a thread below all others in a fixed order: by the mark the
 * starting priorities are gone.  So every thread draws a fresh one here,
 * and the seed decides the order of the operations again.
 */
static uint64_t
pct_marked(ftfuzz_strategy *s, uint64_t step)
{
    struct pct_strategy *p = (struct pct_strategy *)s;
    p->origin = step;
    for (unsigned id = 0; id < FTFUZZ_SCHED_MAX_THREADS; id++)
        pct_thread_started(s, id);
    return pct_next_change(p);
}

/* A change point in [1, k], log-uniform: a power of two below k uniformly,
 * then uniform within it (capped at k).  Integers only, so that the same
 * seed gives the same points on any machine. */
static uint64_t
pct_log_point(uint64_t *rng, uint64_t k)
{
    unsigned bits = 0;
    while (bits < 63 && (2ull << bits) <= k)
        bits++;
    /* [2^b, 2^(b+1)) for b in 0..bits; the last one is cut at k */
    unsigned b = (unsigned)(sched_rng_next(rng) % (bits + 1));
    uint64_t lo = 1ull << b;
    uint64_t hi = b < 63 && (lo << 1) - 1 < k ? (lo << 1) - 1 : k;
    return lo + sched_rng_next(rng) % (hi - lo + 1);
}

/* The four variants differ in where the change points count from (the
 * start, or the session's mark) and how they are drawn over [1, k]
 * (uniform, or log-uniform); each draws them once, from its own stream,
 * which then gives the threads' priorities. */
static ftfuzz_strategy *
pct_new(unsigned depth, uint64_t k, uint64_t seed, int from_mark,
        int log_scale)
{
    struct pct_strategy *p = sched_mem_alloc(sizeof *p);
    p->base = (ftfuzz_strategy){
        .name = "pct",
        .thread_started = pct_thread_started,
        .yielded = pct_yielded,
        .choose = pct_choose,
        .describe = pct_describe,
        .destroy = pct_destroy,
        .marked = from_mark ? pct_marked : NULL,
    };
    if (depth < 1)
        depth = 1;
    if (depth > PCT_MAX_DEPTH)
        depth = PCT_MAX_DEPTH;
    p->depth = depth;
    p->k = k ? k : PCT_DEFAULT_K;
    p->seed = seed;
    p->from_mark = from_mark;
    p->log_scale = log_scale;
    p->origin = from_mark ? SCHED_NO_DEADLINE : 0;
    p->rng = seed ^ (log_scale ? 0x7063746c6f67ull : 0x706374ull);
    p->nchange = depth - 1;
    for (unsigned i = 0; i < p->nchange; i++)
        p->change[i] = log_scale ? pct_log_point(&p->rng, p->k)
                                 : 1 + sched_rng_next(&p->rng) % p->k;
    sort_u64(p->change, p->nchange);
    return &p->base;
}

FTFUZZ_EXPORT ftfuzz_strategy *
ftfuzz_strategy_pct(unsigned depth, uint64_t k, uint64_t seed)
{
    return pct_new(depth, k, seed, 0, 0);
}

/* pct whose change points fall log-uniformly in [1, k]. */
FTFUZZ_EXPORT ftfuzz_strategy *
ftfuzz_strategy_pct_log(unsigned depth, uint64_t k, uint64_t seed)
{
    return pct_new(depth, k, seed, 0, 1);
}

/* The change points count from the session's mark (a harness's first
 * operation): the thousands of points of setting threads up never take
 * one, so a small k covers the operations themselves. */
FTFUZZ_EXPORT ftfuzz_strategy *
ftfuzz_strategy_pct_from_mark(unsigned depth, uint64_t k, uint64_t seed)
{
    return pct_new(depth, k, seed, 1, 0);
}

/* pct@mark whose change points fall log-uniformly in [1, k]: each scale
 * (1-2, 2-4, ... points after the first operation) gets the same share,
 * so a race a few hundred points in is found with a k of thousands. */
FTFUZZ_EXPORT ftfuzz_strategy *
ftfuzz_strategy_pct_log_from_mark(unsigned depth, uint64_t k, uint64_t seed)
{
    return pct_new(depth, k, seed, 1, 1);
}
