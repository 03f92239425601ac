/*
 * The `replay` strategy: re-executes a trace file switch by switch, and
 * says so the moment the execution leaves it, instead of carrying on down
 * another path.  The execution diverges when, at a recorded step, another
 * thread or another kind of point is there, or the recorded target cannot
 * run; when the current thread stops (blocks, exits) at a step where the
 * trace has no switch; when a recorded step is passed without a decision;
 * or when the run ends with switches left over or after another number of
 * steps.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "sched_internal.h"

struct replay_entry {
    uint64_t step;
    unsigned from, to;
    int kind, flags;
};

struct replay_strategy {
    ftfuzz_strategy base;
    struct replay_entry *e;
    size_t n, pos;
    uint64_t steps;
    char path[1024];
    char why[512];
};

static int
kind_by_name(const char *name)
{
    for (int k = 1; k < FTFUZZ_POINT_KIND_COUNT; k++)
        if (!strcmp(ftfuzz_point_kind_name(k), name))
            return k;
    return -1;
}

static void
replay_noop(ftfuzz_strategy *s, unsigned id)
{
    (void)s;
    (void)id;
}

__attribute__((format(printf, 2, 3))) static unsigned
replay_diverge(struct replay_strategy *r, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r->why, sizeof r->why, fmt, ap);
    va_end(ap);
    return FTFUZZ_DIVERGED;
}

static unsigned
replay_choose(ftfuzz_strategy *s, const ftfuzz_decision *d, uint64_t *next)
{
    struct replay_strategy *r = (struct replay_strategy *)s;
    const struct replay_entry *e = r->pos < r->n ? &r->e[r->pos] : NULL;
    if (e && d->step > e->step)
        return replay_diverge(r, "the trace switches at step %llu, the "
                                 "execution was already at step %llu",
                              (unsigned long long)e->step,
                              (unsigned long long)d->step);
    if (e && d->step == e->step) {
        if (d->current != e->from)
            return replay_diverge(r, "the trace has T%u here, the "
                                     "execution T%u",
                                  e->from, d->current);
        if (d->kind != e->kind) {
            snprintf(r->why, sizeof r->why,
                     "the trace has point %s here, the execution %s",
                     ftfuzz_point_kind_name(e->kind),
                     ftfuzz_point_kind_name(d->kind));
            return FTFUZZ_DIVERGED;
        }
        for (unsigned i = 0; i < d->ncandidates; i++) {
            if (d->candidates[i] != e->to)
                continue;
            int timed = i >= d->nrunnable;
            if (timed != !!(e->flags & FTFUZZ_TRACE_TIMEOUT))
                return replay_diverge(r, "the trace %s T%u's wait time "
                                         "out here",
                                      timed ? "does not let" : "lets",
                                      e->to);
            r->pos++;
            *next = r->pos < r->n ? r->e[r->pos].step : SCHED_NO_DEADLINE;
            return i;
        }
        return replay_diverge(r, "the trace switches to T%u, which "
                                 "cannot run at step %llu",
                              e->to, (unsigned long long)d->step);
    }
    if (!d->current_can_continue)
        return replay_diverge(r, "T%u stopped at step %llu, where the "
                                 "trace has no switch",
                              d->current, (unsigned long long)d->step);
    *next = e ? e->step : SCHED_NO_DEADLINE;
    return sched_index_of_current(d);
}

static const char *
replay_divergence(ftfuzz_strategy *s)
{
    return ((struct replay_strategy *)s)->why;
}

static int
replay_finished(ftfuzz_strategy *s, uint64_t steps)
{
    struct replay_strategy *r = (struct replay_strategy *)s;
    if (r->pos < r->n) {
        snprintf(r->why, sizeof r->why, "%zu of %zu recorded switches "
                 "were not reached", r->n - r->pos, r->n);
        return 1;
    }
    if (steps != r->steps) {
        snprintf(r->why, sizeof r->why, "the trace ran %llu steps, the "
                 "execution %llu", (unsigned long long)r->steps,
                 (unsigned long long)steps);
        return 1;
    }
    return 0;
}

static void
replay_describe(ftfuzz_strategy *s, char *buf, size_t size)
{
    snprintf(buf, size, "replay:%s", ((struct replay_strategy *)s)->path);
}

static void
replay_destroy(ftfuzz_strategy *s)
{
    struct replay_strategy *r = (struct replay_strategy *)s;
    sched_mem_free(r->e);
    sched_mem_free(r);
}

FTFUZZ_EXPORT ftfuzz_strategy *
ftfuzz_strategy_replay(const char *path, char *err, size_t errsize)
{
    /* read(2), not stdio: the runtime keeps off the program's heap */
    char *text = sched_mem_read_file(path, NULL);
    if (!text) {
        snprintf(err, errsize, "cannot open trace %s: %s", path,
                 strerror(errno));
        return NULL;
    }
    struct replay_strategy *r = sched_mem_alloc(sizeof *r);
    r->base = (ftfuzz_strategy){
        .name = "replay",
        .thread_started = replay_noop,
        .yielded = replay_noop,
        .choose = replay_choose,
        .describe = replay_describe,
        .divergence = replay_divergence,
        .finished = replay_finished,
        .destroy = replay_destroy,
    };
    snprintf(r->path, sizeof r->path, "%s", path);
    size_t cap = 0;
    struct ftfuzz_trace_reader rd;
    struct ftfuzz_trace_record rec;
    ftfuzz_trace_reader_init(&rd, path);
    for (char *pos = text; *pos;) {
        int got = ftfuzz_trace_read(&rd, &pos, &rec);
        if (got < 0)
            goto fail;
        if (got && rec.tag == FTFUZZ_TRACE_STEPS)
            r->steps = rec.steps;
        if (!got || rec.tag != FTFUZZ_TRACE_SWITCH)
            continue;
        int kind = kind_by_name(rec.sw.kind);
        if (kind < 0) {
            snprintf(rd.err, sizeof rd.err, "%s:%lu: malformed switch "
                     "record (no point kind '%s')", path, rd.lineno,
                     rec.sw.kind);
            goto fail;
        }
        if (r->n == cap) {
            cap = cap ? cap * 2 : 256;
            r->e = sched_mem_realloc(r->e, cap * sizeof *r->e);
        }
        r->e[r->n++] = (struct replay_entry){
            .step = rec.sw.step, .from = rec.sw.from, .to = rec.sw.to,
            .kind = kind, .flags = (int)rec.sw.flags,
        };
    }
    if (ftfuzz_trace_read_end(&rd) < 0)
        goto fail;
    sched_mem_free(text);
    return &r->base;
fail:
    snprintf(err, errsize, "%s", rd.err);
    sched_mem_free(text);
    replay_destroy(&r->base);
    return NULL;
}
