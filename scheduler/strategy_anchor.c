/*
 * The `anchors` strategy: preemptions named by where they happen in the
 * program (ftfuzz_anchor: thread, region, point in the region, next
 * thread), not by the session's step count, so that points added
 * elsewhere (another thread's start-up, an earlier operation, the
 * interpreter's own start) do not move them.
 *
 * Each thread has its own queue of anchors, in the order given.  Only the
 * head of the running thread's queue can fire, and only in its region: the
 * strategy asks to be consulted at the step where the running thread
 * reaches the head's point (step + point - points so far), so a point
 * that does not switch costs what it costs under `bytes`.  A forced
 * switch (`blocked`: the thread blocked, yielded or exited there) fires at
 * the thread's next such decision in its region, whatever its point: the
 * program decides where a thread blocks, and a rebuild that moves the
 * points before it does not move the block.  Heads whose region or point
 * the thread has passed are dropped (the program changed under them).  Between anchors the current thread keeps running; when it
 * blocks, yields or exits, the turn goes round-robin as under `bytes`.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sched_internal.h"

struct anchor_strategy {
    ftfuzz_strategy base;
    ftfuzz_anchor *a;
    size_t n;
    /* per thread: its queue as indices into a, and the next one */
    size_t *queue[FTFUZZ_SCHED_MAX_THREADS];
    size_t qlen[FTFUZZ_SCHED_MAX_THREADS], qpos[FTFUZZ_SCHED_MAX_THREADS];
};

static void
anchor_noop(ftfuzz_strategy *s, unsigned id)
{
    (void)s;
    (void)id;
}

/* Thread id's next anchor at or after (region, points + 1), dropping the
 * ones it passed; NULL when it has none in this region. */
static const ftfuzz_anchor *
anchor_head(struct anchor_strategy *st, unsigned id, uint32_t region,
            uint64_t points)
{
    if (id >= FTFUZZ_SCHED_MAX_THREADS)
        return NULL;
    while (st->qpos[id] < st->qlen[id]) {
        const ftfuzz_anchor *h = &st->a[st->queue[id][st->qpos[id]]];
        if (h->region > region)
            return NULL;
        if (h->region == region && (h->blocked || h->point > points))
            return h;
        st->qpos[id]++;
    }
    return NULL;
}

/* The step at which thread id, about to run from `step` with `points`
 * points in `region`, reaches its next anchor. */
static uint64_t
anchor_next(struct anchor_strategy *st, unsigned id, uint32_t region,
            uint64_t points, uint64_t step)
{
    const ftfuzz_anchor *h = anchor_head(st, id, region, points);
    /* a forced switch needs no deadline: blocking always decides */
    return h && !h->blocked ? step + (h->point - points) : SCHED_NO_DEADLINE;
}

static unsigned
anchor_choose(ftfuzz_strategy *s, const ftfuzz_decision *d, uint64_t *next)
{
    struct anchor_strategy *st = (struct anchor_strategy *)s;
    unsigned pick = d->current_can_continue ? sched_index_of_current(d)
                                            : sched_round_robin(d);
    /* the head fires at its point: this one, as the point before it was
     * not counted yet */
    const ftfuzz_anchor *h =
        d->region_point ? anchor_head(st, d->current, d->region,
                                      d->region_point - 1)
                        : NULL;
    if (h && (h->blocked ? !d->current_can_continue
                         : h->point == d->region_point)) {
        st->qpos[d->current]++;
        for (unsigned i = 0; i < d->ncandidates; i++)
            if (d->candidates[i] == h->to)
                pick = i;
    }
    unsigned to = d->candidates[pick];
    if (to == d->current)
        *next = anchor_next(st, to, d->region, d->region_point, d->step);
    else
        *next = anchor_next(st, to, sched.threads[to].region,
                            sched.threads[to].region_points, d->step);
    return pick;
}

static uint64_t
anchor_region(ftfuzz_strategy *s, unsigned id, uint32_t region,
              uint64_t step)
{
    return anchor_next((struct anchor_strategy *)s, id, region, 0, step);
}

static void
anchor_describe(ftfuzz_strategy *s, char *buf, size_t size)
{
    struct anchor_strategy *st = (struct anchor_strategy *)s;
    int n = snprintf(buf, size, "anchors:");
    for (size_t i = 0; i < st->n && n > 0 && (size_t)n < size; i++)
        n += snprintf(buf + n, size - (size_t)n, "%sT%u.r%u.%u%s>T%u",
                      i ? "," : "", st->a[i].thread, st->a[i].region,
                      st->a[i].point, st->a[i].blocked ? "!" : "",
                      st->a[i].to);
    if (n < 0 || (size_t)n >= size)
        snprintf(buf, size, "anchors:(%zu)", st->n);
}

static void
anchor_destroy(ftfuzz_strategy *s)
{
    struct anchor_strategy *st = (struct anchor_strategy *)s;
    for (unsigned t = 0; t < FTFUZZ_SCHED_MAX_THREADS; t++)
        free(st->queue[t]);
    free(st->a);
    free(st);
}

FTFUZZ_EXPORT ftfuzz_strategy *
ftfuzz_strategy_anchors(const ftfuzz_anchor *a, size_t n)
{
    struct anchor_strategy *st = calloc(1, sizeof *st);
    st->base = (ftfuzz_strategy){
        .name = "anchors",
        .thread_started = anchor_noop,
        .yielded = anchor_noop,
        .choose = anchor_choose,
        .describe = anchor_describe,
        .destroy = anchor_destroy,
        .region = anchor_region,
    };
    st->a = malloc((n ? n : 1) * sizeof *a);
    if (n)
        memcpy(st->a, a, n * sizeof *a);
    st->n = n;
    for (size_t i = 0; i < n; i++) {
        unsigned t = a[i].thread;
        if (t >= FTFUZZ_SCHED_MAX_THREADS || a[i].point == 0)
            continue;   /* can never fire */
        if (st->queue[t] == NULL)
            st->queue[t] = malloc(n * sizeof(size_t));
        st->queue[t][st->qlen[t]++] = i;
    }
    return &st->base;
}
