/*
 * The `bytes` strategy: decisions read from a byte buffer, which is how
 * libFuzzer steers the interleaving.
 *
 * Encoding.  The buffer is a list of preemptions, each a LEB128 varint
 * DELTA (at most 4 bytes, so < 2^28; 0 counts as 1) followed by one byte
 * CHOICE.  The first preemption happens at step DELTA (from the session's
 * mark, for ftfuzz_strategy_bytes_from_mark), each next one DELTA
 * steps after the previous.  At a preemption the thread to run is
 * candidates[CHOICE % ncandidates] (candidates are the runnable threads by
 * id, then the timed waiters by deadline; picking the current thread means
 * no switch, picking a timed waiter makes its wait time out).  A Python
 * operation passes about 70 atomic points, so one preemption is two or
 * three bytes, and a whole schedule is a few dozen.
 *
 * Between preemptions, and after the buffer runs out (a truncated varint or
 * a missing CHOICE ends it), the current thread keeps running; when it
 * blocks, yields or exits, the turn goes round-robin to the next runnable
 * thread by id, or, if none can run, to the earliest timed waiter.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sched_internal.h"
#include "ftfuzz/schedule_bytes.h"

struct bytes_strategy {
    ftfuzz_strategy base;
    int from_mark;          /* the first DELTA counts from the mark */
    uint8_t *data;
    size_t size, pos;
    uint64_t next_switch;   /* absolute step, or SCHED_NO_DEADLINE */
    uint8_t choice;
};

static void
bytes_read_next(struct bytes_strategy *b, uint64_t from_step)
{
    uint64_t delta;
    if (!ftfuzz_bytes_read(b->data, b->size, &b->pos, &delta, &b->choice)) {
        b->next_switch = SCHED_NO_DEADLINE;
        return;
    }
    b->next_switch = from_step + (delta ? delta : 1);
}

/* Index of the first runnable candidate after `current` by id, wrapping;
 * the earliest timed waiter when nothing is runnable. */
unsigned
sched_round_robin(const ftfuzz_decision *d)
{
    if (d->nrunnable == 0)
        return 0;
    for (unsigned i = 0; i < d->nrunnable; i++)
        if (d->candidates[i] > d->current)
            return i;
    return 0;
}

/* Index of the current thread among the candidates (it must be there). */
unsigned
sched_index_of_current(const ftfuzz_decision *d)
{
    for (unsigned i = 0; i < d->nrunnable; i++)
        if (d->candidates[i] == d->current)
            return i;
    return 0;
}

static void
bytes_thread_started(ftfuzz_strategy *s, unsigned id)
{
    (void)s;
    (void)id;
}

static void
bytes_yielded(ftfuzz_strategy *s, unsigned id)
{
    (void)s;
    (void)id;
}

static unsigned
bytes_choose(ftfuzz_strategy *s, const ftfuzz_decision *d, uint64_t *next)
{
    struct bytes_strategy *b = (struct bytes_strategy *)s;
    unsigned pick;
    if (d->step >= b->next_switch) {
        pick = b->choice % d->ncandidates;
        bytes_read_next(b, d->step);
    } else if (!d->current_can_continue) {
        pick = sched_round_robin(d);
    } else {
        pick = sched_index_of_current(d);
    }
    *next = b->next_switch;
    return pick;
}

static void
bytes_describe(ftfuzz_strategy *s, char *buf, size_t size)
{
    struct bytes_strategy *b = (struct bytes_strategy *)s;
    if (b->size * 2 + 12 > size) {
        snprintf(buf, size, "%s:(%zu bytes)",
                 b->from_mark ? "bytes@mark" : "bytes", b->size);
        return;
    }
    int n = snprintf(buf, size, b->from_mark ? "bytes@mark:" : "bytes:");
    for (size_t i = 0; i < b->size; i++)
        n += snprintf(buf + n, size - (size_t)n, "%02x", b->data[i]);
}

static void
bytes_destroy(ftfuzz_strategy *s)
{
    struct bytes_strategy *b = (struct bytes_strategy *)s;
    free(b->data);
    free(b);
}

static uint64_t
bytes_marked(ftfuzz_strategy *s, uint64_t step)
{
    struct bytes_strategy *b = (struct bytes_strategy *)s;
    bytes_read_next(b, step);
    return b->next_switch;
}

FTFUZZ_EXPORT ftfuzz_strategy *
ftfuzz_strategy_bytes(const uint8_t *data, size_t size)
{
    struct bytes_strategy *b = calloc(1, sizeof *b);
    b->base = (ftfuzz_strategy){
        .name = "bytes",
        .thread_started = bytes_thread_started,
        .yielded = bytes_yielded,
        .choose = bytes_choose,
        .describe = bytes_describe,
        .destroy = bytes_destroy,
    };
    b->data = malloc(size ? size : 1);
    if (size)
        memcpy(b->data, data, size);
    b->size = size;
    bytes_read_next(b, 0);
    return &b->base;
}

FTFUZZ_EXPORT ftfuzz_strategy *
ftfuzz_strategy_bytes_from_mark(const uint8_t *data, size_t size)
{
    ftfuzz_strategy *s = ftfuzz_strategy_bytes(data, size);
    struct bytes_strategy *b = (struct bytes_strategy *)s;
    /* nothing happens before the mark: the buffer is read from there */
    b->from_mark = 1;
    b->base.marked = bytes_marked;
    b->pos = 0;
    b->next_switch = SCHED_NO_DEADLINE;
    return s;
}
