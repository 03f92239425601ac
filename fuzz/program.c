/*
 * Programs: the ftfuzz.Program message <-> prog_program.
 *
 * Decoding never rejects a well-formed message: counts are cut and indices
 * taken modulo so that whatever libFuzzer writes means something, and the
 * clamping rules (docs/program-format.md) are idempotent, so that
 * decode(encode(p)) == p for every valid p.  Encoding is canonical: fields
 * equal to what their absence decodes to are left out, which keeps inputs
 * small for libFuzzer's length control.
 */
#include <string.h>

#include "ftfuzz/program.h"
#include "ftfuzz/schedule_bytes.h"
#include "program.pb-c.h"

/*
 * Worst-case encoding of a valid program.  In range, kind, size, source,
 * target and other are one-byte varints; code and arg (sint32) take up to
 * five bytes and the seed up to ten.  Each field adds a one-byte tag, each
 * submessage a tag and a length (two bytes at most: a thread body is under
 * 16384 bytes).
 */
#define PROG_OBJECT_BOUND (2 + 3 * 2)
#define PROG_OP_BOUND (2 + 6 + 2 + 2 + 6)
#define PROG_THREAD_BOUND (3 + PROG_MAX_OPS * PROG_OP_BOUND)
#define PROG_SCHEDULE_BOUND (3 + 2 + 2 + 11 + 3 + PROG_MAX_SCHEDULE)
#define PROG_ENCODED_BOUND(threads) (PROG_MAX_OBJECTS * PROG_OBJECT_BOUND \
                                     + (threads) * PROG_THREAD_BOUND \
                                     + PROG_SCHEDULE_BOUND)
_Static_assert(PROG_ENCODED_BOUND(PROG_MAX_THREADS) <= PROG_MAX_ENCODED,
               "PROG_MAX_ENCODED is too small for the largest program");
/* what the mutator makes fits libFuzzer's max_len (fuzz.options) */
_Static_assert(PROG_ENCODED_BOUND(PROG_FUZZ_MAX_THREADS)
                   <= PROG_FUZZ_MAX_ENCODED
               && PROG_FUZZ_MAX_THREADS <= PROG_MAX_THREADS
               && PROG_FUZZ_MAX_ENCODED <= PROG_MAX_ENCODED,
               "the fuzzer's programs must fit its max_len");
_Static_assert(PROG_OP_BOUND * PROG_MAX_OPS < 16384,
               "a thread body length must stay a two-byte varint");
_Static_assert(PROG_KIND_LIMIT <= 128 && PROG_MAX_SIZE <= 128
               && PROG_MAX_OBJECTS <= 128,
               "in-range kinds, sizes and indices must be one-byte varints");

/* prog_equal() compares used slots with memcmp. */
_Static_assert(sizeof(prog_object) == 3 * sizeof(uint32_t)
               && sizeof(prog_op) == 4 * sizeof(uint32_t),
               "prog_object and prog_op must have no padding");

void
prog_init(prog_program *p)
{
    memset(p, 0, sizeof *p);
    p->schedule.strategy = PROG_SCHED_BYTES;
    p->schedule.depth = 1;
}

static uint32_t
prog_min(size_t n, uint32_t max)
{
    return n < max ? (uint32_t)n : max;
}

static void
prog_decode_schedule(const Ftfuzz__Schedule *m, prog_schedule *s)
{
    s->strategy = m->strategy % PROG_STRATEGY_COUNT;
    s->depth = m->depth < 1 ? 1
               : m->depth > PROG_MAX_DEPTH ? PROG_MAX_DEPTH : m->depth;
    s->seed = m->seed;
    s->k = m->k;
    s->p_ppm = m->p_ppm > PROG_PPM ? PROG_PPM : m->p_ppm;
    s->nbytes = prog_min(m->bytes.len, PROG_MAX_SCHEDULE);
    if (s->nbytes)
        memcpy(s->bytes, m->bytes.data, s->nbytes);
}

int
prog_decode(const uint8_t *data, size_t size, prog_program *p)
{
    static const uint8_t nothing[1];
    prog_init(p);
    Ftfuzz__Program *m = ftfuzz__program__unpack(NULL, size,
                                                 size ? data : nothing);
    if (m == NULL)
        return -1;

    p->nobjects = prog_min(m->n_objects, PROG_MAX_OBJECTS);
    for (uint32_t i = 0; i < p->nobjects; i++) {
        const Ftfuzz__SharedObject *o = m->objects[i];
        p->objects[i].kind = o->kind % PROG_KIND_LIMIT;
        p->objects[i].size = o->size % PROG_MAX_SIZE;
        p->objects[i].source = o->source % p->nobjects;
    }

    /* Without objects no op has a target: the threads stay, empty. */
    p->nthreads = prog_min(m->n_threads, PROG_MAX_THREADS);
    for (uint32_t t = 0; t < p->nthreads; t++) {
        const Ftfuzz__ThreadBody *b = m->threads[t];
        prog_thread *th = &p->threads[t];
        th->nops = p->nobjects ? prog_min(b->n_ops, PROG_MAX_OPS) : 0;
        for (uint32_t i = 0; i < th->nops; i++) {
            const Ftfuzz__Op *o = b->ops[i];
            th->ops[i].code = o->code;
            th->ops[i].target = o->target % p->nobjects;
            th->ops[i].other = o->other % p->nobjects;
            th->ops[i].arg = o->arg;
        }
    }

    if (m->schedule != NULL)
        prog_decode_schedule(m->schedule, &p->schedule);
    ftfuzz__program__free_unpacked(m, NULL);
    return 0;
}

/* Sets a proto2 optional scalar only when it differs from its default. */
#define PROG_SET(msg, field, value, dflt) \
    do { \
        (msg).field = (value); \
        (msg).has_##field = (msg).field != (dflt); \
    } while (0)

size_t
prog_encode(const prog_program *p, uint8_t *out, size_t max)
{
    /* Everything lives on the stack: the message only points into *p. */
    Ftfuzz__SharedObject objects[PROG_MAX_OBJECTS];
    Ftfuzz__SharedObject *object_ptrs[PROG_MAX_OBJECTS];
    Ftfuzz__Op ops[PROG_MAX_THREADS][PROG_MAX_OPS];
    Ftfuzz__Op *op_ptrs[PROG_MAX_THREADS][PROG_MAX_OPS];
    Ftfuzz__ThreadBody threads[PROG_MAX_THREADS];
    Ftfuzz__ThreadBody *thread_ptrs[PROG_MAX_THREADS];
    Ftfuzz__Schedule schedule = FTFUZZ__SCHEDULE__INIT;
    Ftfuzz__Program m = FTFUZZ__PROGRAM__INIT;

    /* Counts are bounded by the arrays even for an invalid *p. */
    m.n_objects = prog_min(p->nobjects, PROG_MAX_OBJECTS);
    m.objects = object_ptrs;
    for (size_t i = 0; i < m.n_objects; i++) {
        const prog_object *o = &p->objects[i];
        ftfuzz__shared_object__init(&objects[i]);
        PROG_SET(objects[i], kind, o->kind, 0);
        PROG_SET(objects[i], size, o->size, 0);
        PROG_SET(objects[i], source, o->source, 0);
        object_ptrs[i] = &objects[i];
    }

    m.n_threads = prog_min(p->nthreads, PROG_MAX_THREADS);
    m.threads = thread_ptrs;
    for (size_t t = 0; t < m.n_threads; t++) {
        const prog_thread *th = &p->threads[t];
        ftfuzz__thread_body__init(&threads[t]);
        threads[t].n_ops = prog_min(th->nops, PROG_MAX_OPS);
        threads[t].ops = op_ptrs[t];
        for (size_t i = 0; i < threads[t].n_ops; i++) {
            const prog_op *o = &th->ops[i];
            Ftfuzz__Op *mo = &ops[t][i];
            ftfuzz__op__init(mo);
            PROG_SET(*mo, code, o->code, 0);
            PROG_SET(*mo, target, o->target, 0);
            PROG_SET(*mo, other, o->other, 0);
            PROG_SET(*mo, arg, o->arg, 0);
            op_ptrs[t][i] = mo;
        }
        thread_ptrs[t] = &threads[t];
    }

    const prog_schedule *s = &p->schedule;
    PROG_SET(schedule, strategy, s->strategy, PROG_SCHED_BYTES);
    PROG_SET(schedule, depth, s->depth, 1u);
    PROG_SET(schedule, seed, s->seed, 0);
    PROG_SET(schedule, k, s->k, 0u);
    PROG_SET(schedule, p_ppm, s->p_ppm, 0u);
    schedule.bytes.len = prog_min(s->nbytes, PROG_MAX_SCHEDULE);
    schedule.bytes.data = (uint8_t *)s->bytes;
    schedule.has_bytes = schedule.bytes.len != 0;
    if (schedule.has_strategy || schedule.has_depth || schedule.has_seed
        || schedule.has_k || schedule.has_p_ppm || schedule.has_bytes)
        m.schedule = &schedule;

    if (ftfuzz__program__get_packed_size(&m) > max)
        return 0;
    return ftfuzz__program__pack(&m, out);
}

int
prog_valid(const prog_program *p)
{
    if (p->nobjects > PROG_MAX_OBJECTS || p->nthreads > PROG_MAX_THREADS)
        return 0;
    for (uint32_t i = 0; i < p->nobjects; i++) {
        const prog_object *o = &p->objects[i];
        if (o->kind >= PROG_KIND_LIMIT || o->size >= PROG_MAX_SIZE
            || o->source >= p->nobjects)
            return 0;
    }
    for (uint32_t t = 0; t < p->nthreads; t++) {
        const prog_thread *th = &p->threads[t];
        if (th->nops > PROG_MAX_OPS || (th->nops && !p->nobjects))
            return 0;
        for (uint32_t i = 0; i < th->nops; i++)
            if (th->ops[i].target >= p->nobjects
                || th->ops[i].other >= p->nobjects)
                return 0;
    }
    const prog_schedule *s = &p->schedule;
    return s->strategy < PROG_STRATEGY_COUNT && s->depth >= 1
           && s->depth <= PROG_MAX_DEPTH && s->p_ppm <= PROG_PPM
           && s->nbytes <= PROG_MAX_SCHEDULE;
}

int
prog_equal(const prog_program *a, const prog_program *b)
{
    if (a->nobjects != b->nobjects || a->nthreads != b->nthreads
        || a->nobjects > PROG_MAX_OBJECTS || a->nthreads > PROG_MAX_THREADS)
        return 0;
    if (a->nobjects && memcmp(a->objects, b->objects,
                              a->nobjects * sizeof a->objects[0]))
        return 0;
    for (uint32_t t = 0; t < a->nthreads; t++) {
        const prog_thread *x = &a->threads[t], *y = &b->threads[t];
        if (x->nops != y->nops || x->nops > PROG_MAX_OPS)
            return 0;
        if (x->nops && memcmp(x->ops, y->ops, x->nops * sizeof x->ops[0]))
            return 0;
    }
    const prog_schedule *s = &a->schedule, *r = &b->schedule;
    return s->strategy == r->strategy && s->depth == r->depth
           && s->seed == r->seed && s->k == r->k && s->p_ppm == r->p_ppm
           && s->nbytes == r->nbytes
           && s->nbytes <= PROG_MAX_SCHEDULE
           && memcmp(s->bytes, r->bytes, s->nbytes) == 0;
}

uint32_t
prog_count_ops(const prog_program *p)
{
    uint32_t n = 0;
    for (uint32_t t = 0; t < p->nthreads; t++)
        n += p->threads[t].nops;
    return n;
}

/* The bytes strategy's encoding: include/ftfuzz/schedule_bytes.h. */
size_t
prog_preemptions(const prog_program *p, prog_preemption *out, size_t max)
{
    size_t n = 0, pos = 0;
    uint64_t at = 0, delta;
    uint8_t choice;
    if (p->schedule.strategy != PROG_SCHED_BYTES)
        return 0;
    while (n < max && ftfuzz_bytes_read(p->schedule.bytes, p->schedule.nbytes,
                                        &pos, &delta, &choice)) {
        at += delta ? delta : 1;
        out[n].step = at;
        out[n++].choice = choice;
    }
    return n;
}

int
prog_set_preemptions(prog_program *p, const prog_preemption *pre, size_t n)
{
    uint8_t bytes[PROG_MAX_SCHEDULE];
    size_t pos = 0;
    uint64_t prev = 0;
    for (size_t i = 0; i < n; i++) {
        if (pre[i].step <= prev
            || !ftfuzz_bytes_write(bytes, sizeof bytes, &pos,
                                   pre[i].step - prev, pre[i].choice))
            return -1;
        prev = pre[i].step;
    }
    p->schedule.strategy = PROG_SCHED_BYTES;
    p->schedule.nbytes = (uint32_t)pos;
    memcpy(p->schedule.bytes, bytes, pos);
    return 0;
}
