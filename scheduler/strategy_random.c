/*
 * The `random` strategy: a seeded random walk.  Preemption points are drawn
 * with gaps uniform in [1, 2/p], so on average one point in 1/p preempts;
 * drawing the gap once, instead of a coin at every point, keeps the atomic
 * fast path free of the strategy.  At a preemption, and whenever the
 * current thread cannot go on, the next thread is uniform among all
 * candidates (so timed waits time out now and then).
 */
#include <stdio.h>

#include "sched_internal.h"

struct random_strategy {
    ftfuzz_strategy base;
    double p;
    uint64_t seed, rng, next_switch, max_gap;
};

static void
random_draw(struct random_strategy *r, uint64_t from_step)
{
    r->next_switch = from_step + 1 + sched_rng_next(&r->rng) % r->max_gap;
}

static void
random_noop(ftfuzz_strategy *s, unsigned id)
{
    (void)s;
    (void)id;
}

static unsigned
random_choose(ftfuzz_strategy *s, const ftfuzz_decision *d, uint64_t *next)
{
    struct random_strategy *r = (struct random_strategy *)s;
    unsigned pick;
    if (d->step >= r->next_switch) {
        pick = (unsigned)(sched_rng_next(&r->rng) % d->ncandidates);
        random_draw(r, d->step);
    } else if (!d->current_can_continue) {
        pick = (unsigned)(sched_rng_next(&r->rng) % d->ncandidates);
    } else {
        pick = sched_index_of_current(d);
    }
    *next = r->next_switch;
    return pick;
}

static void
random_describe(ftfuzz_strategy *s, char *buf, size_t size)
{
    struct random_strategy *r = (struct random_strategy *)s;
    snprintf(buf, size, "random:%g seed=%llu", r->p,
             (unsigned long long)r->seed);
}

static void
random_destroy(ftfuzz_strategy *s)
{
    sched_mem_free(s);
}

FTFUZZ_EXPORT ftfuzz_strategy *
ftfuzz_strategy_random(double p, uint64_t seed)
{
    struct random_strategy *r = sched_mem_alloc(sizeof *r);
    r->base = (ftfuzz_strategy){
        .name = "random",
        .thread_started = random_noop,
        .yielded = random_noop,
        .choose = random_choose,
        .describe = random_describe,
        .destroy = random_destroy,
    };
    if (!(p > 0))
        p = 0.02;
    r->p = p;
    r->seed = seed;
    r->rng = seed ^ 0x72616e646f6dull;
    r->max_gap = (uint64_t)(2.0 / p);
    if (r->max_gap < 1)
        r->max_gap = 1;
    random_draw(r, 0);
    return &r->base;
}
