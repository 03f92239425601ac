/*
 * The structural mutator: libFuzzer mutates decoded programs, not bytes.
 *
 * A byte-level mutation of a protobuf message mostly breaks it, and a
 * broken message decodes to the empty program, so libFuzzer's own mutators
 * would spend their time on nothing.  Here an input is decoded, changed one
 * program element at a time (an op, a thread, an object, the schedule) and
 * encoded again; numbers and the schedule bytes still get libFuzzer's byte
 * mutations (and its dictionaries) through the byte mutator hook.
 *
 * Determinism.  Every choice comes from one splitmix64 stream seeded with
 * libFuzzer's seed, and there is no state between calls except the byte
 * mutator pointer, so (data, seed) gives the same output bit for bit when
 * the byte mutator is deterministic.
 *
 * Size.  The encoding is written to data only when it fits max_size;
 * otherwise the mutated program is shrunk (ops, threads, objects, schedule
 * bytes removed) until it fits.  Every shrinking step removes something, so
 * the loop ends.
 */
#include <assert.h>
#include <string.h>

#include "ftfuzz/schedule_bytes.h"
#include "ftfuzz/program.h"
#include "mutator.h"

/* Op codes are drawn below this; the harness takes them modulo the table of
 * the target's kind, so a power of two larger than any table spreads them
 * evenly while keeping the varint to one byte. */
#define PROG_CODE_SPACE 64

/* Attempts at a mutation (or a cross-over) that changes the program and
 * fits, before giving up. */
#define PROG_ATTEMPTS 8

typedef struct prog_rng {
    uint64_t state;
} prog_rng;

static prog_byte_mutator prog_byte_mutator_fn;

void
prog_set_byte_mutator(prog_byte_mutator fn)
{
    prog_byte_mutator_fn = fn;
}

/* --- randomness ---------------------------------------------------------- */

static uint64_t
prog_next(prog_rng *r)
{
    uint64_t z = (r->state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

/* Uniform below n (0 when n is 0); the modulo bias is below 2^-32. */
static uint32_t
prog_below(prog_rng *r, uint32_t n)
{
    return n ? (uint32_t)(prog_next(r) % n) : 0;
}

/* True one time in n. */
static int
prog_one_in(prog_rng *r, uint32_t n)
{
    return prog_below(r, n) == 0;
}

/* A value in [0, n) other than old (n >= 2). */
static uint32_t
prog_other_than(prog_rng *r, uint32_t old, uint32_t n)
{
    return (old % n + 1 + prog_below(r, n - 1)) % n;
}

/* --- byte and scalar tweaks ---------------------------------------------- */

/* Used when no byte mutator is installed: one of libFuzzer's basic
 * mutations, driven by the mutation's own stream. */
static size_t
prog_builtin_bytes(prog_rng *r, uint8_t *d, size_t size, size_t max)
{
    if (size == 0) {
        d[0] = (uint8_t)prog_next(r);
        return 1;
    }
    size_t at = prog_below(r, (uint32_t)size);
    uint32_t what = prog_below(r, 6);
    if (what == 0 && size < max) {
        memmove(d + at + 1, d + at, size - at);
        d[at] = (uint8_t)prog_next(r);
        return size + 1;
    }
    if (what == 1 && size > 1) {
        memmove(d + at, d + at + 1, size - at - 1);
        return size - 1;
    }
    if (what == 2) {
        uint8_t delta = (uint8_t)(1 + prog_below(r, 8));
        d[at] = prog_one_in(r, 2) ? d[at] + delta : d[at] - delta;
    } else if (what == 3) {
        /* copy a chunk over another place */
        size_t from = prog_below(r, (uint32_t)size);
        size_t room = size - (at > from ? at : from);
        memmove(d + at, d + from, 1 + prog_below(r, (uint32_t)room));
    } else if (what == 4) {
        d[at] = (uint8_t)prog_next(r);
    } else {
        d[at] ^= (uint8_t)(1u << prog_below(r, 8));
    }
    return size;
}

/* Mutates d[0..size) within max (> 0) with the installed byte mutator. */
static size_t
prog_tweak_bytes(prog_rng *r, uint8_t *d, size_t size, size_t max)
{
    size_t n = prog_byte_mutator_fn ? prog_byte_mutator_fn(d, size, max)
                                    : prog_builtin_bytes(r, d, size, max);
    return n < max ? n : max;
}

/* A byte-mutated copy of the low `width` bytes of v (little-endian). */
static uint64_t
prog_tweak_scalar(prog_rng *r, uint64_t v, size_t width)
{
    uint8_t b[8] = {0};
    for (size_t i = 0; i < width; i++)
        b[i] = (uint8_t)(v >> (8 * i));
    size_t n = prog_tweak_bytes(r, b, width, width);
    uint64_t out = 0;
    for (size_t i = 0; i < n; i++)
        out |= (uint64_t)b[i] << (8 * i);
    return out;
}

/* --- random elements ----------------------------------------------------- */

static const int32_t prog_interesting_args[] = {
    0, 1, -1, 2, -2, 3, 7, 8, 15, 16, 31, 32, 63, 64, 100, 127, 128, -128,
    255, 256, 1000, 4096, 32767, 65535, 65536, INT32_MAX, INT32_MIN,
};

static int32_t
prog_random_arg(prog_rng *r)
{
    if (prog_one_in(r, 4)) {
        uint32_t n = sizeof prog_interesting_args
                     / sizeof prog_interesting_args[0];
        return prog_interesting_args[prog_below(r, n)];
    }
    /* mostly small: indices, counts and lengths of small objects */
    return (int32_t)prog_below(r, 2 * PROG_MAX_SIZE + 4) - 4;
}

static prog_op
prog_random_op(prog_rng *r, const prog_program *p)
{
    prog_op op = {
        .code = prog_below(r, PROG_CODE_SPACE),
        .target = prog_below(r, p->nobjects),
        .other = prog_below(r, p->nobjects),
        .arg = prog_random_arg(r),
    };
    return op;
}

static prog_object
prog_random_object(prog_rng *r, uint32_t nobjects)
{
    prog_object o = {
        .kind = prog_below(r, PROG_KIND_LIMIT),
        .size = prog_below(r, PROG_MAX_SIZE),
        .source = prog_below(r, nobjects),
    };
    return o;
}

/* --- program edits ------------------------------------------------------- */

/* A uniformly chosen op; 0 when there is none. */
static int
prog_pick_op(prog_rng *r, const prog_program *p, uint32_t *t, uint32_t *i)
{
    uint32_t k = prog_below(r, prog_count_ops(p));
    for (*t = 0; *t < p->nthreads; (*t)++) {
        if (k < p->threads[*t].nops) {
            *i = k;
            return 1;
        }
        k -= p->threads[*t].nops;
    }
    return 0;
}

/* A thread with room for one more op, other than `not` (pass
 * PROG_MAX_THREADS for any); -1 when there is none. */
static int
prog_pick_roomy_thread(prog_rng *r, const prog_program *p, uint32_t not)
{
    uint32_t roomy[PROG_MAX_THREADS], n = 0;
    for (uint32_t t = 0; t < p->nthreads; t++)
        if (t != not && p->threads[t].nops < PROG_MAX_OPS)
            roomy[n++] = t;
    return n ? (int)roomy[prog_below(r, n)] : -1;
}

static void
prog_insert_op(prog_thread *th, uint32_t at, prog_op op)
{
    memmove(&th->ops[at + 1], &th->ops[at],
            (th->nops - at) * sizeof th->ops[0]);
    th->ops[at] = op;
    th->nops++;
}

static prog_op
prog_remove_op(prog_thread *th, uint32_t at)
{
    prog_op op = th->ops[at];
    memmove(&th->ops[at], &th->ops[at + 1],
            (th->nops - at - 1) * sizeof th->ops[0]);
    th->nops--;
    return op;
}

static void
prog_remove_thread(prog_program *p, uint32_t t)
{
    memmove(&p->threads[t], &p->threads[t + 1],
            (p->nthreads - t - 1) * sizeof p->threads[0]);
    p->nthreads--;
}

/* Index k after removing object `gone` from n objects: later ones move
 * down, references to the removed one go to a random survivor. */
static uint32_t
prog_reindex(prog_rng *r, uint32_t k, uint32_t gone, uint32_t n)
{
    if (k == gone)
        return prog_below(r, n - 1);
    return k > gone ? k - 1 : k;
}

/* Removes object `gone`; with no object left every op goes too (an op
 * needs a target), exactly as prog_decode() would drop them. */
static void
prog_remove_object(prog_rng *r, prog_program *p, uint32_t gone)
{
    uint32_t n = p->nobjects;
    memmove(&p->objects[gone], &p->objects[gone + 1],
            (n - gone - 1) * sizeof p->objects[0]);
    p->nobjects--;
    for (uint32_t i = 0; i < p->nobjects; i++)
        p->objects[i].source = prog_reindex(r, p->objects[i].source, gone, n);
    for (uint32_t t = 0; t < p->nthreads; t++) {
        prog_thread *th = &p->threads[t];
        if (p->nobjects == 0) {
            th->nops = 0;
            continue;
        }
        for (uint32_t i = 0; i < th->nops; i++) {
            th->ops[i].target = prog_reindex(r, th->ops[i].target, gone, n);
            th->ops[i].other = prog_reindex(r, th->ops[i].other, gone, n);
        }
    }
}

/*
 * Splits bytes-strategy input into preemptions exactly as strategy_bytes.c
 * reads it: a varint DELTA of at most four bytes, then one CHOICE byte.
 * ends[k] is the offset just past preemption k; returns their number.
 * Whatever follows the last complete preemption is ignored by the strategy.
 */
static uint32_t
prog_schedule_pairs(const prog_schedule *s, uint32_t *ends)
{
    uint32_t n = 0;
    size_t pos = 0;
    uint64_t delta;
    uint8_t choice;
    while (ftfuzz_bytes_read(s->bytes, s->nbytes, &pos, &delta, &choice))
        ends[n++] = (uint32_t)pos;
    return n;
}

/* --- the mutations ----------------------------------------------------------
 *
 * Each returns 1 when it changed the program, 0 when it does not apply (then
 * another is drawn).
 */

static int
prog_mut_op_insert(prog_rng *r, prog_program *p)
{
    int t = prog_pick_roomy_thread(r, p, PROG_MAX_THREADS);
    if (t < 0 || p->nobjects == 0)
        return 0;
    prog_thread *th = &p->threads[t];
    prog_insert_op(th, prog_below(r, th->nops + 1), prog_random_op(r, p));
    return 1;
}

static int
prog_mut_op_delete(prog_rng *r, prog_program *p)
{
    uint32_t t, i;
    if (!prog_pick_op(r, p, &t, &i))
        return 0;
    prog_remove_op(&p->threads[t], i);
    return 1;
}

/* A copy of an op, after it or somewhere in another thread: the same
 * operation racing with itself. */
static int
prog_mut_op_duplicate(prog_rng *r, prog_program *p)
{
    uint32_t t, i;
    if (!prog_pick_op(r, p, &t, &i))
        return 0;
    prog_op op = p->threads[t].ops[i];
    int u = prog_one_in(r, 2) ? prog_pick_roomy_thread(r, p, t) : -1;
    if (u >= 0) {
        prog_thread *th = &p->threads[u];
        prog_insert_op(th, prog_below(r, th->nops + 1), op);
        return 1;
    }
    if (p->threads[t].nops == PROG_MAX_OPS)
        return 0;
    prog_insert_op(&p->threads[t], i + 1, op);
    return 1;
}

/* Two different ops exchange places, in one thread or across two. */
static int
prog_mut_op_swap(prog_rng *r, prog_program *p)
{
    uint32_t t1, i1, t2, i2;
    if (prog_count_ops(p) < 2)
        return 0;
    for (int tries = 0; tries < 4; tries++) {
        prog_pick_op(r, p, &t1, &i1);
        prog_pick_op(r, p, &t2, &i2);
        prog_op *a = &p->threads[t1].ops[i1], *b = &p->threads[t2].ops[i2];
        if (memcmp(a, b, sizeof *a) != 0) {
            prog_op tmp = *a;
            *a = *b;
            *b = tmp;
            return 1;
        }
    }
    return 0;
}

static int
prog_mut_op_move(prog_rng *r, prog_program *p)
{
    uint32_t t, i;
    if (!prog_pick_op(r, p, &t, &i))
        return 0;
    int u = prog_pick_roomy_thread(r, p, t);
    if (u < 0)
        return 0;
    prog_op op = prog_remove_op(&p->threads[t], i);
    prog_thread *th = &p->threads[u];
    prog_insert_op(th, prog_below(r, th->nops + 1), op);
    return 1;
}

static int
prog_mut_op_code(prog_rng *r, prog_program *p)
{
    uint32_t t, i;
    if (!prog_pick_op(r, p, &t, &i))
        return 0;
    prog_op *op = &p->threads[t].ops[i];
    uint32_t old = op->code;
    switch (prog_below(r, 4)) {
    case 0:
        op->code = (uint32_t)prog_tweak_scalar(r, old, 4);
        break;
    case 1:
        op->code = prog_one_in(r, 2) ? old + 1 : old - 1;
        break;
    default:
        op->code = prog_below(r, PROG_CODE_SPACE);
        break;
    }
    if (op->code == old)
        op->code = old + 1;
    return 1;
}

static int
prog_mut_op_arg(prog_rng *r, prog_program *p)
{
    uint32_t t, i;
    if (!prog_pick_op(r, p, &t, &i))
        return 0;
    prog_op *op = &p->threads[t].ops[i];
    int32_t old = op->arg;
    uint32_t delta = 1 + prog_below(r, 4);
    switch (prog_below(r, 3)) {
    case 0:
        op->arg = (int32_t)(uint32_t)prog_tweak_scalar(r, (uint32_t)old, 4);
        break;
    case 1:
        /* unsigned arithmetic: wraps instead of overflowing */
        op->arg = (int32_t)(prog_one_in(r, 2) ? (uint32_t)old + delta
                                              : (uint32_t)old - delta);
        break;
    default:
        op->arg = prog_random_arg(r);
        break;
    }
    if (op->arg == old)
        op->arg = (int32_t)((uint32_t)old ^ 1);
    return 1;
}

static int
prog_mut_op_target(prog_rng *r, prog_program *p)
{
    uint32_t t, i;
    if (p->nobjects < 2 || !prog_pick_op(r, p, &t, &i))
        return 0;
    prog_op *op = &p->threads[t].ops[i];
    op->target = prog_other_than(r, op->target, p->nobjects);
    return 1;
}

static int
prog_mut_op_other(prog_rng *r, prog_program *p)
{
    uint32_t t, i;
    if (p->nobjects < 2 || !prog_pick_op(r, p, &t, &i))
        return 0;
    prog_op *op = &p->threads[t].ops[i];
    op->other = prog_other_than(r, op->other, p->nobjects);
    return 1;
}

/* A new last thread: half the time a copy of another (racing with its
 * twin is the common bug), else a few random ops. */
static int
prog_mut_thread_add(prog_rng *r, prog_program *p)
{
    /* a decoded input may hold more (up to PROG_MAX_THREADS); the fuzzer
     * only grows programs to what its max_len has room for */
    if (p->nthreads >= PROG_FUZZ_MAX_THREADS)
        return 0;
    prog_thread *th = &p->threads[p->nthreads];
    if (p->nthreads && prog_one_in(r, 2)) {
        *th = p->threads[prog_below(r, p->nthreads)];
    } else {
        th->nops = 0;
        uint32_t n = p->nobjects ? 1 + prog_below(r, 3) : 0;
        while (th->nops < n)
            th->ops[th->nops++] = prog_random_op(r, p);
    }
    p->nthreads++;
    return 1;
}

/* Keeps at least two threads: a race needs two. */
static int
prog_mut_thread_remove(prog_rng *r, prog_program *p)
{
    if (p->nthreads <= 2)
        return 0;
    prog_remove_thread(p, prog_below(r, p->nthreads));
    return 1;
}

/* A new last object; half the time some op is pointed at it so that it
 * matters at once. */
static int
prog_mut_object_add(prog_rng *r, prog_program *p)
{
    if (p->nobjects == PROG_MAX_OBJECTS)
        return 0;
    uint32_t k = p->nobjects;
    p->objects[k] = prog_random_object(r, k + 1);
    p->nobjects++;
    uint32_t t, i;
    if (prog_one_in(r, 2) && prog_pick_op(r, p, &t, &i))
        p->threads[t].ops[i].target = k;
    return 1;
}

/* Never removes the last object while ops still need a target. */
static int
prog_mut_object_remove(prog_rng *r, prog_program *p)
{
    if (p->nobjects == 0 || (p->nobjects == 1 && prog_count_ops(p)))
        return 0;
    prog_remove_object(r, p, prog_below(r, p->nobjects));
    return 1;
}

static int
prog_mut_object_kind(prog_rng *r, prog_program *p)
{
    if (p->nobjects == 0)
        return 0;
    prog_object *o = &p->objects[prog_below(r, p->nobjects)];
    o->kind = prog_other_than(r, o->kind, PROG_KIND_LIMIT);
    return 1;
}

static int
prog_mut_object_size(prog_rng *r, prog_program *p)
{
    if (p->nobjects == 0)
        return 0;
    prog_object *o = &p->objects[prog_below(r, p->nobjects)];
    if (prog_one_in(r, 2))
        o->size = (o->size + (prog_one_in(r, 2) ? 1 : PROG_MAX_SIZE - 1))
                  % PROG_MAX_SIZE;
    else
        o->size = prog_other_than(r, o->size, PROG_MAX_SIZE);
    return 1;
}

static int
prog_mut_object_source(prog_rng *r, prog_program *p)
{
    if (p->nobjects < 2)
        return 0;
    prog_object *o = &p->objects[prog_below(r, p->nobjects)];
    o->source = prog_other_than(r, o->source, p->nobjects);
    return 1;
}

static int
prog_mut_schedule_strategy(prog_rng *r, prog_program *p)
{
    prog_schedule *s = &p->schedule;
    s->strategy = prog_other_than(r, s->strategy, PROG_STRATEGY_COUNT);
    return 1;
}

static int
prog_mut_schedule_depth(prog_rng *r, prog_program *p)
{
    prog_schedule *s = &p->schedule;
    s->depth = 1 + prog_other_than(r, s->depth - 1, PROG_MAX_DEPTH);
    return 1;
}

static int
prog_mut_schedule_seed(prog_rng *r, prog_program *p)
{
    prog_schedule *s = &p->schedule;
    uint64_t old = s->seed;
    switch (prog_below(r, 3)) {
    case 0:
        s->seed = prog_tweak_scalar(r, old, 8);
        break;
    case 1:
        s->seed = old + 1;
        break;
    default:
        s->seed = prog_next(r);
        break;
    }
    if (s->seed == old)
        s->seed = old + 1;
    return 1;
}

/* random's p values a re-roll draws from: no single p is best on every
 * bench-bugs race (0.01 on most, 0.002 on str_iter_exhausted), so the
 * search gets a spread.  In millionths. */
static const uint32_t prog_random_ppm[] = {2000, 5000, 10000, 20000};

/* A fresh schedule from the strategies that find the bench-bugs races in
 * the fewest tries (random; pct@mark or pctlog@mark with d = 2 or 3): a
 * new sample, where the other schedule mutations tweak the one there is. */
static int
prog_mut_schedule_reroll(prog_rng *r, prog_program *p)
{
    prog_schedule *s = &p->schedule;
    if (prog_one_in(r, 2)) {
        s->strategy = PROG_SCHED_RANDOM;
        s->p_ppm = prog_random_ppm[prog_below(
            r, sizeof prog_random_ppm / sizeof prog_random_ppm[0])];
    } else {
        s->strategy = prog_one_in(r, 2) ? PROG_SCHED_PCT_OPS
                                        : PROG_SCHED_PCT_LOG_OPS;
        s->depth = 2 + prog_below(r, 2);
    }
    s->seed = prog_next(r);
    return 1;
}

/* A strategy's scale parameter (k, p): halved, doubled up to max, or, when
 * this returns 0, for the caller to draw afresh; a third each. */
static int
prog_rescale(prog_rng *r, uint32_t *v, uint32_t max)
{
    switch (prog_below(r, 3)) {
    case 0:
        *v = *v / 2 ? *v / 2 : 1;
        return 1;
    case 1:
        *v = *v <= max / 2 ? *v * 2 : max;
        return 1;
    }
    return 0;
}

/* pct@mark's and pctlog@mark's k: how far after the first operation their
 * change points may fall; only meaningful for those strategies. */
static int
prog_mut_schedule_k(prog_rng *r, prog_program *p)
{
    prog_schedule *s = &p->schedule;
    if (!prog_pct_at_mark(s->strategy))
        return 0;
    uint32_t k = s->k ? s->k : PROG_PCT_DEFAULT_K;
    if (!prog_rescale(r, &k, 1u << 21))
        k = 1 + prog_below(r, 4 * PROG_PCT_DEFAULT_K);
    s->k = k;
    return 1;
}

/* random's p: how often a thread loses the turn; only meaningful for that
 * strategy. */
static int
prog_mut_schedule_p(prog_rng *r, prog_program *p)
{
    prog_schedule *s = &p->schedule;
    if (s->strategy != PROG_SCHED_RANDOM)
        return 0;
    uint32_t old = s->p_ppm ? s->p_ppm : PROG_RANDOM_DEFAULT_PPM;
    uint32_t ppm = old;
    if (!prog_rescale(r, &ppm, PROG_PPM))
        ppm = prog_random_ppm[prog_below(
            r, sizeof prog_random_ppm / sizeof prog_random_ppm[0])];
    if (ppm == old)
        return 0;
    s->p_ppm = ppm;
    return 1;
}

/* Byte mutations of the schedule; growth is bounded so that one call does
 * not fill the buffer with junk. */
static int
prog_mut_schedule_bytes(prog_rng *r, prog_program *p)
{
    prog_schedule *s = &p->schedule;
    uint8_t buf[PROG_MAX_SCHEDULE];
    size_t max = s->nbytes + 32 < PROG_MAX_SCHEDULE ? s->nbytes + 32
                                                    : PROG_MAX_SCHEDULE;
    memcpy(buf, s->bytes, s->nbytes);
    size_t n = prog_tweak_bytes(r, buf, s->nbytes, max);
    if (n == s->nbytes && memcmp(buf, s->bytes, n) == 0)
        return 0;
    memcpy(s->bytes, buf, n);
    s->nbytes = (uint32_t)n;
    return 1;
}

/* A new preemption (DELTA varint, CHOICE) between two existing ones. */
static int
prog_mut_schedule_pair_insert(prog_rng *r, prog_program *p)
{
    prog_schedule *s = &p->schedule;
    uint32_t ends[PROG_MAX_SCHEDULE / 2];
    uint32_t npairs = prog_schedule_pairs(s, ends);
    uint32_t k = prog_below(r, npairs + 1);
    uint32_t at = k ? ends[k - 1] : 0;
    /* A first preemption counts from the first operation: the old
     * absolute count starts thousands of points before it. */
    if (s->strategy == PROG_SCHED_BYTES && npairs == 0)
        s->strategy = PROG_SCHED_BYTES_OPS;

    /* DELTA in steps: a Python operation passes about 70 to 150 points.
     * Counted from the first operation, the first preemption is most
     * useful within the first few operations. */
    uint32_t delta;
    if (s->strategy == PROG_SCHED_BYTES_OPS && k == 0 && !prog_one_in(r, 4))
        delta = 1 + prog_below(r, 255);
    else
        delta = prog_one_in(r, 4) ? 128 + prog_below(r, 16384 - 128)
                : prog_one_in(r, 2) ? 1 + prog_below(r, 16)
                                    : 1 + prog_below(r, 127);
    uint8_t pair[FTFUZZ_BYTES_DELTA_BYTES + 1];
    size_t len = 0;
    ftfuzz_bytes_write(pair, sizeof pair, &len, delta, (uint8_t)prog_next(r));
    if (s->nbytes + len > PROG_MAX_SCHEDULE)
        return 0;
    memmove(&s->bytes[at + len], &s->bytes[at], s->nbytes - at);
    memcpy(&s->bytes[at], pair, len);
    s->nbytes += len;
    return 1;
}

static int
prog_mut_schedule_pair_delete(prog_rng *r, prog_program *p)
{
    prog_schedule *s = &p->schedule;
    uint32_t ends[PROG_MAX_SCHEDULE / 2];
    uint32_t npairs = prog_schedule_pairs(s, ends);
    if (npairs == 0)
        return 0;
    uint32_t k = prog_below(r, npairs);
    uint32_t from = k ? ends[k - 1] : 0, to = ends[k];
    memmove(&s->bytes[from], &s->bytes[to], s->nbytes - to);
    s->nbytes -= to - from;
    return 1;
}

/* The mutations and how often each is drawn: ops most, since they are
 * what the threads race on. */
static const struct prog_mutation {
    int (*apply)(prog_rng *r, prog_program *p);
    uint32_t weight;
} prog_mutations[] = {
    {prog_mut_op_insert, 6},
    {prog_mut_op_delete, 4},
    {prog_mut_op_duplicate, 3},
    {prog_mut_op_swap, 3},
    {prog_mut_op_move, 3},
    {prog_mut_op_code, 6},
    {prog_mut_op_arg, 5},
    {prog_mut_op_target, 3},
    {prog_mut_op_other, 2},
    {prog_mut_thread_add, 2},
    {prog_mut_thread_remove, 1},
    {prog_mut_object_add, 2},
    {prog_mut_object_remove, 1},
    {prog_mut_object_kind, 3},
    {prog_mut_object_size, 2},
    {prog_mut_object_source, 1},
    {prog_mut_schedule_strategy, 1},
    {prog_mut_schedule_depth, 1},
    {prog_mut_schedule_seed, 2},
    {prog_mut_schedule_k, 1},
    {prog_mut_schedule_p, 1},
    {prog_mut_schedule_bytes, 4},
    {prog_mut_schedule_pair_insert, 3},
    {prog_mut_schedule_pair_delete, 2},
    {prog_mut_schedule_reroll, 4},
};
#define PROG_NMUTATIONS (sizeof prog_mutations / sizeof prog_mutations[0])

/* Where the schedule's mutations begin in prog_mutations. */
#define PROG_FIRST_SCHEDULE_MUTATION 16

/* Applies one mutation, drawn from prog_mutations[first..].  A program
 * without two threads or without objects can race on nothing, so those are
 * grown first half the time. */
static void
prog_mutate_once(prog_rng *r, prog_program *p, size_t first)
{
    if (p->nobjects == 0 && prog_one_in(r, 2)
        && prog_mut_object_add(r, p))
        return;
    if (p->nthreads < 2 && prog_one_in(r, 2) && prog_mut_thread_add(r, p))
        return;
    uint32_t total = 0;
    for (size_t m = first; m < PROG_NMUTATIONS; m++)
        total += prog_mutations[m].weight;
    for (int tries = 0; tries < 32; tries++) {
        uint32_t w = prog_below(r, total);
        size_t m = first;
        while (w >= prog_mutations[m].weight)
            w -= prog_mutations[m++].weight;
        if (prog_mutations[m].apply(r, p))
            return;
    }
    /* always applies */
    prog_mut_schedule_seed(r, p);
}

/* Removes one thing, to make the encoding smaller; 0 when p is empty.
 * Ops go first, since they make up most of a program. */
static int
prog_shrink(prog_rng *r, prog_program *p)
{
    prog_schedule *s = &p->schedule;
    uint32_t t, i;
    /* fields the strategy ignores go first: dropping them changes nothing */
    int uses_k = prog_pct_at_mark(s->strategy);
    if ((s->k && !uses_k) || (s->p_ppm && s->strategy != PROG_SCHED_RANDOM)) {
        s->k = uses_k ? s->k : 0;
        s->p_ppm = s->strategy == PROG_SCHED_RANDOM ? s->p_ppm : 0;
        return 1;
    }
    if (s->nbytes && prog_one_in(r, 3)) {
        s->nbytes /= 2;
        return 1;
    }
    if (!prog_one_in(r, 4) && prog_pick_op(r, p, &t, &i)) {
        prog_remove_op(&p->threads[t], i);
        return 1;
    }
    if (p->nthreads && prog_one_in(r, 2)) {
        prog_remove_thread(p, prog_below(r, p->nthreads));
        return 1;
    }
    if (p->nobjects) {
        prog_remove_object(r, p, prog_below(r, p->nobjects));
        return 1;
    }
    if (p->nthreads) {
        prog_remove_thread(p, prog_below(r, p->nthreads));
        return 1;
    }
    if (s->nbytes) {
        s->nbytes /= 2;
        return 1;
    }
    if (s->strategy != PROG_SCHED_BYTES || s->depth != 1 || s->seed
        || s->k || s->p_ppm) {
        prog_init(p);
        return 1;
    }
    return 0;
}

/* Encodes p into buf (max bytes), shrinking p until it fits.  Returns the
 * size, 0 when only the empty program fits (then p is empty). */
static size_t
prog_fit(prog_rng *r, prog_program *p, uint8_t *buf, size_t max)
{
    for (;;) {
        size_t n = prog_encode(p, buf, max);
        if (n || !prog_shrink(r, p))
            return n;
    }
}

static prog_rng
prog_rng_from(unsigned int seed)
{
    prog_rng r = {.state = seed};
    prog_next(&r);
    return r;
}

size_t
prog_mutate(uint8_t *data, size_t size, size_t max_size, unsigned int seed)
{
    prog_program orig, p;
    uint8_t buf[PROG_MAX_ENCODED];
    size_t cap = max_size < sizeof buf ? max_size : sizeof buf;
    prog_rng r = prog_rng_from(seed);
    int decodable = prog_decode(data, size, &orig) == 0;

    /*
     * Half the time only the schedule changes: a race is usually a matter
     * of where the threads switch in operations that are already right,
     * and mutating those operations too would often lose them (measured on
     * the bench-bugs races: random schedules of the fixed operations find
     * most of them in tens to hundreds of tries).
     */
    assert(prog_mutations[PROG_FIRST_SCHEDULE_MUTATION].apply
           == prog_mut_schedule_strategy);
    size_t first = decodable && orig.nthreads >= 2 && prog_one_in(&r, 2)
                       ? PROG_FIRST_SCHEDULE_MUTATION : 0;
    for (int attempt = 0; attempt < PROG_ATTEMPTS; attempt++) {
        p = orig;
        /* some schedules have little to change (fields a strategy does
         * not read are dropped): then anything may change */
        if (attempt == PROG_ATTEMPTS / 2)
            first = 0;
        prog_mutate_once(&r, &p, first);
        while (prog_one_in(&r, 4))
            prog_mutate_once(&r, &p, first);
        size_t n = prog_fit(&r, &p, buf, cap);
        if (n && !prog_equal(&p, &orig)) {
            memcpy(data, buf, n);
            return n;
        }
    }
    return decodable && size <= max_size ? size : 0;
}

/* Splices the schedule bytes of a and b at preemption boundaries: a's
 * first preemptions, then b's last ones. */
static void
prog_splice_schedule(prog_rng *r, const prog_schedule *a,
                     const prog_schedule *b, prog_schedule *out)
{
    uint32_t ends_a[PROG_MAX_SCHEDULE / 2], ends_b[PROG_MAX_SCHEDULE / 2];
    uint32_t na = prog_schedule_pairs(a, ends_a);
    uint32_t nb = prog_schedule_pairs(b, ends_b);
    uint32_t ka = prog_below(r, na + 1), kb = prog_below(r, nb + 1);
    uint32_t cut_a = ka ? ends_a[ka - 1] : 0;
    uint32_t from_b = kb ? ends_b[kb - 1] : 0;
    uint32_t len_b = b->nbytes - from_b;
    if (cut_a + len_b > PROG_MAX_SCHEDULE)
        len_b = PROG_MAX_SCHEDULE - cut_a;
    memmove(out->bytes, a->bytes, cut_a);
    memcpy(out->bytes + cut_a, b->bytes + from_b, len_b);
    out->nbytes = cut_a + len_b;
}

/* Thread k of b, with b's object indices mapped into the child's. */
static void
prog_copy_thread(const prog_thread *from, const uint32_t *map,
                 prog_thread *to)
{
    to->nops = from->nops;
    for (uint32_t i = 0; i < from->nops; i++) {
        to->ops[i] = from->ops[i];
        to->ops[i].target = map[from->ops[i].target];
        to->ops[i].other = map[from->ops[i].other];
    }
}

/*
 * The child: a's objects then b's (those that do not fit are merged with
 * a's), thread slot by slot from a, from b or a splice of both (at least
 * one from each parent when both have threads), and a schedule from either
 * parent or mixed.
 */
static void
prog_combine(prog_rng *r, const prog_program *a, const prog_program *b,
             prog_program *c)
{
    uint32_t map_a[PROG_MAX_OBJECTS], map_b[PROG_MAX_OBJECTS];
    prog_init(c);
    for (uint32_t i = 0; i < a->nobjects; i++) {
        c->objects[c->nobjects++] = a->objects[i];
        map_a[i] = i;
    }
    for (uint32_t j = 0; j < b->nobjects; j++) {
        if (c->nobjects < PROG_MAX_OBJECTS) {
            map_b[j] = c->nobjects;
            c->objects[c->nobjects++] = b->objects[j];
        } else {
            map_b[j] = j % a->nobjects;
        }
    }
    for (uint32_t j = 0; j < b->nobjects; j++)
        if (map_b[j] >= a->nobjects)
            c->objects[map_b[j]].source = map_b[b->objects[j].source];

    uint32_t n = a->nthreads > b->nthreads ? a->nthreads : b->nthreads;
    uint32_t used_a = 0, used_b = 0;
    for (uint32_t k = 0; k < n; k++) {
        prog_thread *th = &c->threads[k];
        int has_a = k < a->nthreads, has_b = k < b->nthreads;
        uint32_t pick = has_a && has_b ? prog_below(r, 3) : has_a ? 0 : 1;
        if (pick == 0) {
            prog_copy_thread(&a->threads[k], map_a, th);
            used_a++;
        } else if (pick == 1) {
            prog_copy_thread(&b->threads[k], map_b, th);
            used_b++;
        } else {
            /* a's first ops, then b's last ones */
            prog_thread tail;
            prog_copy_thread(&b->threads[k], map_b, &tail);
            uint32_t keep = prog_below(r, a->threads[k].nops + 1);
            uint32_t from = prog_below(r, tail.nops + 1);
            prog_copy_thread(&a->threads[k], map_a, th);
            th->nops = keep;
            while (from < tail.nops && th->nops < PROG_MAX_OPS)
                th->ops[th->nops++] = tail.ops[from++];
            used_a++;
            used_b++;
        }
    }
    c->nthreads = n;
    if (a->nthreads && b->nthreads && (!used_a || !used_b)) {
        uint32_t k = prog_below(r, used_a ? b->nthreads : a->nthreads);
        if (used_a)
            prog_copy_thread(&b->threads[k], map_b, &c->threads[k]);
        else
            prog_copy_thread(&a->threads[k], map_a, &c->threads[k]);
    }

    switch (prog_below(r, 3)) {
    case 0:
        c->schedule = a->schedule;
        break;
    case 1:
        c->schedule = b->schedule;
        break;
    default:
        c->schedule = prog_one_in(r, 2) ? a->schedule : b->schedule;
        c->schedule.seed = prog_one_in(r, 2) ? a->schedule.seed
                                             : b->schedule.seed;
        prog_splice_schedule(r, &a->schedule, &b->schedule, &c->schedule);
        break;
    }
}

size_t
prog_cross_over(const uint8_t *d1, size_t s1, const uint8_t *d2, size_t s2,
                uint8_t *out, size_t max_out, unsigned int seed)
{
    prog_program a, b, c;
    uint8_t buf[PROG_MAX_ENCODED];
    size_t cap = max_out < sizeof buf ? max_out : sizeof buf;
    prog_rng r = prog_rng_from(seed);
    prog_decode(d1, s1, &a);
    prog_decode(d2, s2, &b);

    for (int attempt = 0; attempt < PROG_ATTEMPTS; attempt++) {
        /* either parent may come first */
        if (prog_one_in(&r, 2))
            prog_combine(&r, &a, &b, &c);
        else
            prog_combine(&r, &b, &a, &c);
        size_t n = prog_fit(&r, &c, buf, cap);
        if (n) {
            memcpy(out, buf, n);
            return n;
        }
    }
    return 0;
}
