/*
 * ftfuzz programs: what one fuzz input means, decoded.
 *
 * On the wire a program is the protobuf message ftfuzz.Program
 * (fuzz/program.proto, compiled by protoc-c at build time).  Decoding
 * clamps every count and never fails: any byte string is a valid, possibly
 * empty, program.  The harnesses only ever see this plain C form.
 */
#ifndef FTFUZZ_PROGRAM_H
#define FTFUZZ_PROGRAM_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* PROG_MAX_THREADS, PROG_MAX_OPS, ...: the limits, from limits.def. */
enum prog_limit {
#define FTFUZZ_LIMIT(name, value, help) name = (value),
#include "ftfuzz/limits.def"
#undef FTFUZZ_LIMIT
};

/* Shared objects.  An iterator kind iterates over the object `source`
 * designates (or over a fresh one of the right type). */
enum prog_object_kind {
    PROG_LIST = 0,
    PROG_DICT,
    PROG_SET,
    PROG_BYTEARRAY,
    PROG_DEQUE,
    PROG_ITER_LIST,
    PROG_ITER_DICT,
    PROG_ITER_SET,
    PROG_ITER_STR,
    PROG_ITER_BYTES,
    PROG_ITER_RANGE,
    PROG_ITER_GENERIC_ALIAS,
    /* the built-in kinds; kinds from PROG_KIND_COUNT up to PROG_KIND_LIMIT
     * name extension types declared in a spec (harnesses/spec.c), which a
     * target maps onto its own types */
    PROG_KIND_COUNT
};

/* pct@mark's k when the input gives none: about the points two threads of
 * a few operations take (measured in docs/program-format.md). */
#define PROG_PCT_DEFAULT_K 2000

/* random's preemption probability, in millionths, when the input gives
 * none: the value every input had before the field existed, so stored
 * inputs keep their schedules.  Larger ones are clamped to PROG_PPM. */
#define PROG_RANDOM_DEFAULT_PPM 2000
#define PROG_PPM 1000000

/* How the interleaving of a run is chosen. */
enum prog_strategy {
    /* the scheduler's `bytes` strategy over schedule.bytes */
    PROG_SCHED_BYTES = 0,
    /* PCT with schedule.depth and schedule.seed */
    PROG_SCHED_PCT,
    /* a random walk with schedule.seed */
    PROG_SCHED_RANDOM,
    /* the `bytes` strategy with its first DELTA counted from the program's
     * first operation, not from the start of its threads (thousands of
     * points): the preemptions land in the operations */
    PROG_SCHED_BYTES_OPS,
    /* PCT with its change points counted from the program's first
     * operation, spread over schedule.k points */
    PROG_SCHED_PCT_OPS,
    /* the same with the change points log-uniform over 1..schedule.k: as
     * many a few points in as thousands in */
    PROG_SCHED_PCT_LOG_OPS,
    PROG_STRATEGY_COUNT
};

/* pct@mark and pctlog@mark: the strategies that read schedule.k, count
 * from the first operation and need the harness's start barrier. */
static inline int
prog_pct_at_mark(uint32_t strategy)
{
    return strategy == PROG_SCHED_PCT_OPS
           || strategy == PROG_SCHED_PCT_LOG_OPS;
}

typedef struct prog_object {
    uint32_t kind;     /* < PROG_KIND_LIMIT (SharedObject.kind decodes
                        * modulo it): enum prog_object_kind, or a spec
                        * type */
    uint32_t size;     /* < PROG_MAX_SIZE */
    uint32_t source;   /* < nobjects */
} prog_object;

typedef struct prog_op {
    uint32_t code;     /* operation, modulo the target kind's table */
    uint32_t target;   /* shared object, < nobjects */
    uint32_t other;    /* second object of cross-object operations */
    int32_t arg;       /* small integer argument */
} prog_op;

typedef struct prog_thread {
    uint32_t nops;
    prog_op ops[PROG_MAX_OPS];
} prog_thread;

typedef struct prog_schedule {
    uint32_t strategy; /* enum prog_strategy */
    uint32_t depth;    /* pct: 1..8 */
    uint64_t seed;
    uint32_t k;        /* pct@mark: 0 means PROG_PCT_DEFAULT_K */
    uint32_t p_ppm;    /* random: <= PROG_PPM; 0 means PROG_RANDOM_DEFAULT_PPM */
    uint32_t nbytes;
    uint8_t bytes[PROG_MAX_SCHEDULE];
} prog_schedule;

typedef struct prog_program {
    uint32_t nobjects;
    prog_object objects[PROG_MAX_OBJECTS];
    uint32_t nthreads;
    prog_thread threads[PROG_MAX_THREADS];
    prog_schedule schedule;
} prog_program;

/* The empty program: no objects, no threads, bytes strategy, no bytes. */
void prog_init(prog_program *p);

/*
 * Decodes data into *p, clamping counts and indices into range.  Returns 0
 * when data was a Program message, -1 when it was not (then *p is the empty
 * program).  Never fails otherwise.
 */
int prog_decode(const uint8_t *data, size_t size, prog_program *p);

/* Operations in all threads. */
uint32_t prog_count_ops(const prog_program *p);

/* One preemption of the `bytes` schedule, in absolute terms: at scheduling
 * point `step` the turn goes to candidates[choice % ncandidates]. */
typedef struct prog_preemption {
    uint64_t step;
    uint8_t choice;
} prog_preemption;

/* p's bytes schedule as preemptions (what strategy_bytes.c reads);
 * returns their number, at most max. */
size_t prog_preemptions(const prog_program *p, prog_preemption *out,
                        size_t max);

/* Makes p's schedule the bytes strategy with these preemptions (steps
 * strictly ascending, the first > 0); -1 when they do not fit. */
int prog_set_preemptions(prog_program *p, const prog_preemption *pre,
                         size_t n);

/* Encodes *p into out; returns the size, or 0 when it needs more than max. */
size_t prog_encode(const prog_program *p, uint8_t *out, size_t max);

/* No valid program encodes to more than PROG_MAX_ENCODED bytes, and none
 * of at most PROG_FUZZ_MAX_THREADS threads to more than
 * PROG_FUZZ_MAX_ENCODED (program.c checks the arithmetic at compile time),
 * so a buffer that big always suffices. */

/* 1 when every count, kind, index and schedule field of *p is in range,
 * which is what prog_decode() always produces; 0 otherwise. */
int prog_valid(const prog_program *p);

/* 1 when a and b are the same program (unused array slots are ignored). */
int prog_equal(const prog_program *a, const prog_program *b);

#ifdef __cplusplus
}
#endif

#endif /* FTFUZZ_PROGRAM_H */
