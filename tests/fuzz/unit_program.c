/*
 * Unit tests of the program format and the structural mutator, driven by
 * tests/test_program.py.  Each command checks its properties itself (a
 * failed CHECK prints where and exits 1) and prints what it observed as one
 * JSON object, which the Python test asserts on.
 *
 *   roundtrip N SEED      decode(encode(p)) == p for N random valid programs
 *   garbage N SEED        N random, truncated and corrupted inputs decode
 *   decode                stdin -> the decoded program as JSON
 *   reencode              stdin -> decode -> encode -> stdout
 *   mutate SEED MAX       stdin -> prog_mutate -> stdout
 *   crossover SEED MAX A B  files A, B -> prog_cross_over -> stdout
 *   determinism N         same (data, seed), same output, in one process
 *   maxsize               mutation and cross-over for max_size 1..4096
 *   kinds N SEED          N chained mutations, changes observed by kind
 *   bytehook N            the installed byte mutator is used
 *   crossmix N SEED       cross-over children take from both parents
 *   schedonly N           of N mutations of one program, how many change
 *                         its schedule only, and how many draw a new
 *                         random, pct@mark or pctlog@mark schedule
 *   result-format V SIG STATUS HASH DIAG [BUF]  a result record
 *                         (ftfuzz/result.h) with stdin as its finding ->
 *                         stdout, formatted in BUF bytes (default: plenty)
 *   result-parse          stdin, a result record -> its fields as JSON
 *   diagnosis-verdict SIG stdin, an execution's output -> the verdict of
 *                         its death (ftfuzz/diagnosis.h)
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ftfuzz/diagnosis.h"
#include "ftfuzz/program.h"
#include "ftfuzz/result.h"
#include "ftfuzz/schedule_bytes.h"
#include "mutator.h"

#define CHECK(cond) \
    do { \
        if (!(cond)) { \
            fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, \
                    __LINE__, #cond); \
            exit(1); \
        } \
    } while (0)

/* --- helpers ------------------------------------------------------------- */

static uint64_t rng_state;

static uint64_t
rnd(void)
{
    uint64_t z = (rng_state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static uint32_t
below(uint32_t n)
{
    return n ? (uint32_t)(rnd() % n) : 0;
}

/* Any valid program, independent of the mutator's generators: full-range
 * codes, args and seeds, often at the limits. */
static void
random_program(prog_program *p)
{
    prog_init(p);
    int full = below(8) == 0;
    p->nobjects = full ? PROG_MAX_OBJECTS : below(PROG_MAX_OBJECTS + 1);
    for (uint32_t i = 0; i < p->nobjects; i++) {
        p->objects[i].kind = below(PROG_KIND_LIMIT);
        p->objects[i].size = below(PROG_MAX_SIZE);
        p->objects[i].source = below(p->nobjects);
    }
    p->nthreads = full ? PROG_MAX_THREADS : below(PROG_MAX_THREADS + 1);
    for (uint32_t t = 0; t < p->nthreads; t++) {
        prog_thread *th = &p->threads[t];
        th->nops = !p->nobjects ? 0 : full ? PROG_MAX_OPS
                                           : below(PROG_MAX_OPS + 1);
        for (uint32_t i = 0; i < th->nops; i++) {
            prog_op *op = &th->ops[i];
            op->code = full ? UINT32_MAX : below(2) ? below(64)
                                                    : (uint32_t)rnd();
            op->target = below(p->nobjects);
            op->other = below(p->nobjects);
            op->arg = full ? INT32_MIN : below(2) ? (int32_t)below(20) - 5
                                                  : (int32_t)rnd();
        }
    }
    prog_schedule *s = &p->schedule;
    s->strategy = below(PROG_STRATEGY_COUNT);
    s->depth = 1 + below(PROG_MAX_DEPTH);
    s->seed = full ? UINT64_MAX : below(2) ? below(100) : rnd();
    s->k = full ? UINT32_MAX : below(2) ? 0 : (uint32_t)rnd();
    s->p_ppm = full ? PROG_PPM : below(2) ? 0 : below(PROG_PPM + 1);
    s->nbytes = full ? PROG_MAX_SCHEDULE : below(PROG_MAX_SCHEDULE + 1);
    for (uint32_t i = 0; i < s->nbytes; i++)
        s->bytes[i] = (uint8_t)rnd();
}

static int
is_empty(const prog_program *p)
{
    prog_program e;
    prog_init(&e);
    return prog_equal(p, &e);
}

/* Decodes, checks that the result is valid and that its encoding decodes
 * to the same program (clamping is idempotent); returns prog_decode's rc. */
static int
decode_checked(const uint8_t *data, size_t size, prog_program *p)
{
    uint8_t buf[PROG_MAX_ENCODED];
    prog_program q;
    int rc = prog_decode(data, size, p);
    CHECK(rc == 0 || rc == -1);
    CHECK(prog_valid(p));
    if (rc == -1)
        CHECK(is_empty(p));
    size_t n = prog_encode(p, buf, sizeof buf);
    CHECK(n > 0 || is_empty(p));
    CHECK(prog_decode(buf, n, &q) == 0);
    CHECK(prog_equal(p, &q));
    return rc;
}

static size_t
read_all(FILE *f, uint8_t *buf, size_t max)
{
    size_t n = 0, got;
    while (n < max && (got = fread(buf + n, 1, max - n, f)) > 0)
        n += got;
    return n;
}

static void
dump(int rc, const prog_program *p)
{
    printf("{\"rc\": %d, \"valid\": %d, \"objects\": [", rc, prog_valid(p));
    for (uint32_t i = 0; i < p->nobjects; i++)
        printf("%s{\"kind\": %" PRIu32 ", \"size\": %" PRIu32
               ", \"source\": %" PRIu32 "}", i ? ", " : "",
               p->objects[i].kind, p->objects[i].size, p->objects[i].source);
    printf("], \"threads\": [");
    for (uint32_t t = 0; t < p->nthreads; t++) {
        printf("%s[", t ? ", " : "");
        for (uint32_t i = 0; i < p->threads[t].nops; i++) {
            const prog_op *op = &p->threads[t].ops[i];
            printf("%s{\"code\": %" PRIu32 ", \"target\": %" PRIu32
                   ", \"other\": %" PRIu32 ", \"arg\": %" PRId32 "}",
                   i ? ", " : "", op->code, op->target, op->other, op->arg);
        }
        printf("]");
    }
    const prog_schedule *s = &p->schedule;
    printf("], \"schedule\": {\"strategy\": %" PRIu32 ", \"depth\": %" PRIu32
           ", \"seed\": %" PRIu64 ", \"k\": %" PRIu32 ", \"p_ppm\": %" PRIu32
           ", \"bytes\": \"", s->strategy, s->depth, s->seed, s->k, s->p_ppm);
    for (uint32_t i = 0; i < s->nbytes; i++)
        printf("%02x", s->bytes[i]);
    printf("\"}}\n");
}

/* A mid-sized program for the mutator tests: 3 objects, 3 threads of 4
 * ops, a bytes schedule of three preemptions. */
static void
seed_program(prog_program *p)
{
    static const uint8_t sched[] = {0x05, 0x01, 0x81, 0x01, 0x02, 0x10, 0x00};
    prog_init(p);
    p->nobjects = 3;
    for (uint32_t i = 0; i < 3; i++)
        p->objects[i] = (prog_object){.kind = i * 4, .size = i + 2,
                                      .source = (i + 1) % 3};
    p->nthreads = 3;
    for (uint32_t t = 0; t < 3; t++) {
        p->threads[t].nops = 4;
        for (uint32_t i = 0; i < 4; i++)
            p->threads[t].ops[i] = (prog_op){
                .code = t * 4 + i, .target = i % 3, .other = t,
                .arg = (int32_t)i};
    }
    memcpy(p->schedule.bytes, sched, sizeof sched);
    p->schedule.nbytes = sizeof sched;
}

/* --- commands ------------------------------------------------------------ */

static int
cmd_roundtrip(int n)
{
    uint8_t buf[PROG_MAX_ENCODED], small[PROG_MAX_ENCODED];
    size_t largest = 0;
    int empty = 0;
    for (int k = 0; k < n; k++) {
        prog_program p, q;
        random_program(&p);
        CHECK(prog_valid(&p));
        size_t len = prog_encode(&p, buf, sizeof buf);
        if (len == 0) {
            CHECK(is_empty(&p));
            empty++;
        }
        CHECK(prog_decode(buf, len, &q) == 0);
        CHECK(prog_equal(&p, &q));
        /* exactly len bytes are needed */
        if (len) {
            CHECK(prog_encode(&p, small, len - 1) == 0);
            CHECK(prog_encode(&p, small, len) == len);
            CHECK(memcmp(small, buf, len) == 0);
        }
        if (len > largest)
            largest = len;
    }
    printf("{\"programs\": %d, \"largest\": %zu, \"empty\": %d, "
           "\"max_encoded\": %d}\n", n, largest, empty, PROG_MAX_ENCODED);
    return 0;
}

static int
cmd_garbage(int n)
{
    int accepted = 0, rejected = 0, nonempty = 0;
    uint8_t buf[2 * PROG_MAX_ENCODED + 8];
    for (int k = 0; k < n; k++) {
        prog_program p;
        size_t len;
        switch (k % 4) {
        case 0:
            /* random bytes */
            len = below(300);
            for (size_t i = 0; i < len; i++)
                buf[i] = (uint8_t)rnd();
            break;
        case 1:
            /* a program cut short */
            random_program(&p);
            len = prog_encode(&p, buf, sizeof buf);
            len = below((uint32_t)len + 1);
            break;
        case 2:
            /* a program with a few corrupted bytes */
            random_program(&p);
            len = prog_encode(&p, buf, sizeof buf);
            for (int f = 0; len && f < 1 + (int)below(4); f++)
                buf[below((uint32_t)len)] ^= (uint8_t)(1 + below(255));
            break;
        default:
            /* two programs glued, with random junk between */
            random_program(&p);
            len = prog_encode(&p, buf, PROG_MAX_ENCODED);
            for (int j = (int)below(8); j > 0; j--)
                buf[len++] = (uint8_t)rnd();
            random_program(&p);
            len += prog_encode(&p, buf + len, sizeof buf - len);
            break;
        }
        /* an exact-size heap copy, so that ASan sees any overread */
        uint8_t *copy = malloc(len ? len : 1);
        memcpy(copy, buf, len);
        if (decode_checked(copy, len, &p) == 0) {
            accepted++;
            nonempty += !is_empty(&p);
        } else {
            rejected++;
        }
        free(copy);
    }
    printf("{\"inputs\": %d, \"accepted\": %d, \"rejected\": %d, "
           "\"nonempty\": %d}\n", n, accepted, rejected, nonempty);
    return 0;
}

static int
cmd_decode(void)
{
    static uint8_t buf[1 << 20];
    prog_program p;
    size_t n = read_all(stdin, buf, sizeof buf);
    int rc = prog_decode(buf, n, &p);
    dump(rc, &p);
    return 0;
}

static int
cmd_reencode(void)
{
    static uint8_t in[1 << 20];
    uint8_t out[PROG_MAX_ENCODED];
    prog_program p;
    size_t n = read_all(stdin, in, sizeof in);
    prog_decode(in, n, &p);
    n = prog_encode(&p, out, sizeof out);
    fwrite(out, 1, n, stdout);
    return 0;
}

static int
cmd_mutate(unsigned seed, size_t max)
{
    static uint8_t buf[1 << 20];
    size_t n = read_all(stdin, buf, sizeof buf);
    CHECK(max <= sizeof buf);
    n = prog_mutate(buf, n, max, seed);
    CHECK(n <= max);
    fwrite(buf, 1, n, stdout);
    return 0;
}

static size_t
read_file(const char *path, uint8_t *buf, size_t max)
{
    FILE *f = fopen(path, "rb");
    CHECK(f != NULL);
    size_t n = read_all(f, buf, max);
    fclose(f);
    return n;
}

static int
cmd_crossover(unsigned seed, size_t max, const char *a, const char *b)
{
    static uint8_t d1[1 << 16], d2[1 << 16], out[1 << 16];
    size_t s1 = read_file(a, d1, sizeof d1), s2 = read_file(b, d2, sizeof d2);
    CHECK(max <= sizeof out);
    size_t n = prog_cross_over(d1, s1, d2, s2, out, max, seed);
    CHECK(n <= max);
    fwrite(out, 1, n, stdout);
    return 0;
}

static int
cmd_determinism(int n)
{
    uint8_t in[PROG_MAX_ENCODED], a[PROG_MAX_ENCODED], b[PROG_MAX_ENCODED];
    uint8_t in2[PROG_MAX_ENCODED];
    int differs_by_seed = 0;
    for (int k = 0; k < n; k++) {
        prog_program p;
        random_program(&p);
        size_t len = prog_encode(&p, in, sizeof in);
        unsigned seed = (unsigned)rnd();
        memcpy(a, in, len);
        memcpy(b, in, len);
        size_t na = prog_mutate(a, len, sizeof a, seed);
        size_t nb = prog_mutate(b, len, sizeof b, seed);
        CHECK(na == nb && memcmp(a, b, na) == 0);
        memcpy(b, in, len);
        nb = prog_mutate(b, len, sizeof b, seed + 1);
        differs_by_seed += na != nb || memcmp(a, b, na) != 0;

        random_program(&p);
        size_t len2 = prog_encode(&p, in2, sizeof in2);
        na = prog_cross_over(in, len, in2, len2, a, sizeof a, seed);
        nb = prog_cross_over(in, len, in2, len2, b, sizeof b, seed);
        CHECK(na == nb && memcmp(a, b, na) == 0);
    }
    printf("{\"pairs\": %d, \"differs_by_seed\": %d}\n", n, differs_by_seed);
    return 0;
}

/* Calls fn-like mutations with an exact-size heap buffer followed by a
 * canary, for every max_size in 1..4096. */
static int
cmd_maxsize(void)
{
    enum { GUARD = 64, TOP = 4096 };
    uint8_t inputs[5][PROG_MAX_ENCODED];
    size_t sizes[5];
    prog_program p;

    /* the largest program, a mid-sized one, a small one, garbage, empty */
    random_program(&p);
    while (p.nthreads < PROG_MAX_THREADS || p.nobjects < PROG_MAX_OBJECTS
           || prog_count_ops(&p) < PROG_MAX_THREADS * PROG_MAX_OPS)
        random_program(&p);
    /* libFuzzer hands the mutator at most max_len bytes: the largest
     * program it sees has the fuzzer's thread count */
    p.nthreads = PROG_FUZZ_MAX_THREADS;
    sizes[0] = prog_encode(&p, inputs[0], PROG_MAX_ENCODED);
    seed_program(&p);
    sizes[1] = prog_encode(&p, inputs[1], PROG_MAX_ENCODED);
    prog_init(&p);
    p.nobjects = 1;
    p.nthreads = 1;
    p.threads[0].nops = 1;
    sizes[2] = prog_encode(&p, inputs[2], PROG_MAX_ENCODED);
    memcpy(inputs[3], "\xff\xff\xff\xff\x07", 5);
    sizes[3] = 5;
    sizes[4] = 0;

    long calls = 0, zero = 0, unchanged = 0;
    size_t largest_zero_max = 0;
    uint8_t *buf = malloc(TOP + GUARD);
    for (size_t max = 1; max <= TOP; max++) {
        for (int k = 0; k < 5; k++) {
            for (int cross = 0; cross < 2; cross++) {
                size_t in = sizes[k] < max ? sizes[k] : max;
                size_t n;
                memset(buf, 0xa5, TOP + GUARD);
                if (cross) {
                    n = prog_cross_over(inputs[k], sizes[k], inputs[1],
                                        sizes[1], buf, max,
                                        (unsigned)(max * 7 + k));
                } else {
                    memcpy(buf, inputs[k], in);
                    n = prog_mutate(buf, in, max, (unsigned)(max * 7 + k));
                }
                calls++;
                CHECK(n <= max);
                for (size_t i = max; i < TOP + GUARD; i++)
                    CHECK(buf[i] == 0xa5);
                prog_program q;
                int rc = prog_decode(buf, n, &q);
                CHECK(prog_valid(&q));
                if (n == 0) {
                    zero++;
                    if (max > largest_zero_max)
                        largest_zero_max = max;
                    continue;
                }
                /* every non-empty output is a program, unless it is the
                 * unchanged input (kept only when it was a program) */
                CHECK(rc == 0);
                if (!cross && n == in && memcmp(buf, inputs[k], n) == 0)
                    unchanged++;
            }
        }
    }
    free(buf);
    printf("{\"calls\": %ld, \"zero\": %ld, \"largest_zero_max\": %zu, "
           "\"unchanged\": %ld, \"largest_input\": %zu}\n", calls, zero,
           largest_zero_max, unchanged, sizes[0]);
    return 0;
}

/* Changes between consecutive programs of a chain, by kind. */
#define KINDS(X) \
    X(ops_inserted) X(ops_deleted) X(ops_moved) X(ops_reordered) \
    X(op_code) X(op_arg) X(op_target) X(op_other) \
    X(threads_added) X(threads_removed) \
    X(objects_added) X(objects_removed) \
    X(object_kind) X(object_size) X(object_source) \
    X(schedule_strategy) X(schedule_depth) X(schedule_seed) X(schedule_k) \
    X(schedule_p) \
    X(schedule_bytes) X(schedule_pairs_added) X(schedule_pairs_removed) \
    X(unchanged)

struct kinds {
#define FIELD(name) long name;
    KINDS(FIELD)
#undef FIELD
};

/* Complete preemptions of a bytes schedule, as strategy_bytes.c reads it. */
static int
count_pairs(const prog_schedule *s)
{
    size_t pos = 0;
    uint64_t delta;
    uint8_t choice;
    int n = 0;
    while (ftfuzz_bytes_read(s->bytes, s->nbytes, &pos, &delta, &choice))
        n++;
    return n;
}

static int
op_cmp(const void *a, const void *b)
{
    return memcmp(a, b, sizeof(prog_op));
}

static void
classify(const prog_program *a, const prog_program *b, struct kinds *k)
{
    uint32_t oa = prog_count_ops(a), ob = prog_count_ops(b);
    int changed = 0;
#define SEEN(name) (k->name++, changed = 1)
    if (ob > oa)
        SEEN(ops_inserted);
    if (ob < oa)
        SEEN(ops_deleted);
    if (b->nthreads > a->nthreads)
        SEEN(threads_added);
    if (b->nthreads < a->nthreads)
        SEEN(threads_removed);
    if (b->nobjects > a->nobjects)
        SEEN(objects_added);
    if (b->nobjects < a->nobjects)
        SEEN(objects_removed);
    if (a->nobjects == b->nobjects) {
        int kind = 0, size = 0, source = 0;
        for (uint32_t i = 0; i < a->nobjects; i++) {
            kind |= a->objects[i].kind != b->objects[i].kind;
            size |= a->objects[i].size != b->objects[i].size;
            source |= a->objects[i].source != b->objects[i].source;
        }
        if (kind)
            SEEN(object_kind);
        if (size)
            SEEN(object_size);
        if (source)
            SEEN(object_source);
    }
    if (a->nthreads == b->nthreads && oa == ob && a->nobjects == b->nobjects) {
        int same_shape = 1;
        for (uint32_t t = 0; t < a->nthreads; t++)
            same_shape &= a->threads[t].nops == b->threads[t].nops;
        if (!same_shape) {
            SEEN(ops_moved);
        } else {
            int code = 0, arg = 0, target = 0, other = 0;
            prog_op la[PROG_MAX_THREADS * PROG_MAX_OPS];
            prog_op lb[PROG_MAX_THREADS * PROG_MAX_OPS];
            uint32_t n = 0;
            for (uint32_t t = 0; t < a->nthreads; t++) {
                for (uint32_t i = 0; i < a->threads[t].nops; i++, n++) {
                    const prog_op *x = &a->threads[t].ops[i];
                    const prog_op *y = &b->threads[t].ops[i];
                    la[n] = *x;
                    lb[n] = *y;
                    code |= x->code != y->code;
                    arg |= x->arg != y->arg;
                    target |= x->target != y->target;
                    other |= x->other != y->other;
                }
            }
            qsort(la, n, sizeof la[0], op_cmp);
            qsort(lb, n, sizeof lb[0], op_cmp);
            if ((code || arg || target || other)
                && memcmp(la, lb, n * sizeof la[0]) == 0) {
                SEEN(ops_reordered);
            } else {
                if (code)
                    SEEN(op_code);
                if (arg)
                    SEEN(op_arg);
                if (target)
                    SEEN(op_target);
                if (other)
                    SEEN(op_other);
            }
        }
    }
    const prog_schedule *s = &a->schedule, *r = &b->schedule;
    if (s->strategy != r->strategy)
        SEEN(schedule_strategy);
    if (s->depth != r->depth)
        SEEN(schedule_depth);
    if (s->seed != r->seed)
        SEEN(schedule_seed);
    if (s->k != r->k)
        SEEN(schedule_k);
    if (s->p_ppm != r->p_ppm)
        SEEN(schedule_p);
    if (s->nbytes != r->nbytes || memcmp(s->bytes, r->bytes, s->nbytes))
        SEEN(schedule_bytes);
    if (count_pairs(r) > count_pairs(s))
        SEEN(schedule_pairs_added);
    if (count_pairs(r) < count_pairs(s))
        SEEN(schedule_pairs_removed);
    if (!changed)
        k->unchanged++;
#undef SEEN
}

static int
cmd_kinds(int n, unsigned seed)
{
    uint8_t buf[4096];
    prog_program a, b;
    struct kinds k = {0};
    uint32_t min_threads_after_two = PROG_MAX_THREADS;
    seed_program(&a);
    size_t len = prog_encode(&a, buf, sizeof buf);
    for (int i = 0; i < n; i++) {
        len = prog_mutate(buf, len, sizeof buf, seed + (unsigned)i);
        CHECK(len > 0);
        CHECK(decode_checked(buf, len, &b) == 0);
        classify(&a, &b, &k);
        /* threads are removed only down to two */
        if (a.nthreads >= 2 && b.nthreads < min_threads_after_two)
            min_threads_after_two = b.nthreads;
        a = b;
    }
    printf("{\"mutations\": %d, \"min_threads_after_two\": %" PRIu32, n,
           min_threads_after_two);
#define PRINT(name) printf(", \"" #name "\": %ld", k.name);
    KINDS(PRINT)
#undef PRINT
    printf("}\n");
    return 0;
}

/* A byte mutator that leaves a mark: every byte becomes 0xb7. */
static long hook_calls;

static size_t
marking_mutator(uint8_t *data, size_t size, size_t max_size)
{
    CHECK(max_size > 0 && size <= max_size);
    hook_calls++;
    if (size == 0)
        size = 1;
    memset(data, 0xb7, size);
    return size;
}

static int
cmd_bytehook(int n)
{
    uint8_t buf[4096];
    prog_program p, q;
    long marked_bytes = 0, marked_seed = 0, marked_code = 0;
    seed_program(&p);
    size_t len = prog_encode(&p, buf, sizeof buf);
    prog_set_byte_mutator(marking_mutator);
    for (int i = 0; i < n; i++) {
        size_t m = prog_mutate(buf, len, sizeof buf, (unsigned)i);
        CHECK(m > 0);
        CHECK(decode_checked(buf, m, &q) == 0);
        len = m;
        const prog_schedule *s = &q.schedule;
        marked_bytes += s->nbytes && memchr(s->bytes, 0xb7, s->nbytes);
        marked_seed += s->seed == 0xb7b7b7b7b7b7b7b7ull;
        for (uint32_t t = 0; t < q.nthreads; t++)
            for (uint32_t j = 0; j < q.threads[t].nops; j++)
                marked_code += q.threads[t].ops[j].code == 0xb7b7b7b7u;
    }
    prog_set_byte_mutator(NULL);
    long calls_with_hook = hook_calls;
    for (int i = 0; i < n; i++)
        len = prog_mutate(buf, len, sizeof buf, (unsigned)i);
    printf("{\"mutations\": %d, \"calls\": %ld, \"calls_after_reset\": %ld, "
           "\"marked_bytes\": %ld, \"marked_seed\": %ld, "
           "\"marked_code\": %ld}\n", n, calls_with_hook,
           hook_calls - calls_with_hook, marked_bytes, marked_seed,
           marked_code);
    return 0;
}

/* Parents whose op codes and seeds tell them apart: 1000+ in the first,
 * 2000+ in the second. */
static int
cmd_crossmix(int n)
{
    uint8_t d1[PROG_MAX_ENCODED], d2[PROG_MAX_ENCODED], out[4096];
    long both = 0, only_a = 0, only_b = 0, seed_a = 0, seed_b = 0;
    long objects_from_both = 0;
    for (int k = 0; k < n; k++) {
        prog_program a, b, c;
        random_program(&a);
        random_program(&b);
        a.nobjects = 1 + below(4);
        b.nobjects = 1 + below(4);
        for (uint32_t i = 0; i < a.nobjects; i++)
            a.objects[i] = (prog_object){.kind = 1, .size = 1, .source = 0};
        for (uint32_t i = 0; i < b.nobjects; i++)
            b.objects[i] = (prog_object){.kind = 2, .size = 2, .source = 0};
        a.nthreads = 2 + below(3);
        b.nthreads = 2 + below(3);
        for (uint32_t t = 0; t < PROG_MAX_THREADS; t++) {
            a.threads[t].nops = 1 + below(PROG_MAX_OPS);
            b.threads[t].nops = 1 + below(PROG_MAX_OPS);
            for (uint32_t i = 0; i < PROG_MAX_OPS; i++) {
                a.threads[t].ops[i] = (prog_op){
                    .code = 1000 + below(100), .target = below(a.nobjects),
                    .other = below(a.nobjects)};
                b.threads[t].ops[i] = (prog_op){
                    .code = 2000 + below(100), .target = below(b.nobjects),
                    .other = below(b.nobjects)};
            }
        }
        a.schedule.seed = 1000;
        b.schedule.seed = 2000;
        CHECK(prog_valid(&a) && prog_valid(&b));
        size_t s1 = prog_encode(&a, d1, sizeof d1);
        size_t s2 = prog_encode(&b, d2, sizeof d2);
        size_t m = prog_cross_over(d1, s1, d2, s2, out, sizeof out,
                                   (unsigned)k);
        CHECK(m > 0);
        CHECK(decode_checked(out, m, &c) == 0);
        int from_a = 0, from_b = 0;
        for (uint32_t t = 0; t < c.nthreads; t++) {
            for (uint32_t i = 0; i < c.threads[t].nops; i++) {
                const prog_op *op = &c.threads[t].ops[i];
                /* each op keeps the kind of object its parent gave it */
                uint32_t kind = c.objects[op->target].kind;
                if (op->code >= 2000) {
                    from_b = 1;
                    CHECK(kind == 2 || c.nobjects == PROG_MAX_OBJECTS);
                } else {
                    CHECK(op->code >= 1000);
                    from_a = 1;
                    CHECK(kind == 1);
                }
            }
        }
        both += from_a && from_b;
        only_a += from_a && !from_b;
        only_b += from_b && !from_a;
        seed_a += c.schedule.seed == 1000;
        seed_b += c.schedule.seed == 2000;
        int kinds = 0;
        for (uint32_t i = 0; i < c.nobjects; i++)
            kinds |= 1 << c.objects[i].kind;
        objects_from_both += kinds == 6;
    }
    printf("{\"children\": %d, \"ops_from_both\": %ld, \"only_a\": %ld, "
           "\"only_b\": %ld, \"seed_a\": %ld, \"seed_b\": %ld, "
           "\"objects_from_both\": %ld}\n", n, both, only_a, only_b, seed_a,
           seed_b, objects_from_both);
    return 0;
}

static int
cmd_schedonly(int n)
{
    uint8_t buf[4096];
    prog_program a, b;
    long schedule_only = 0, schedule_changed = 0, fresh = 0;
    seed_program(&a);
    size_t len = prog_encode(&a, buf, sizeof buf);
    for (int i = 0; i < n; i++) {
        uint8_t out[4096];
        memcpy(out, buf, len);
        size_t m = prog_mutate(out, len, sizeof out, (unsigned)i);
        CHECK(m > 0);
        CHECK(decode_checked(out, m, &b) == 0);
        int sched_differs = memcmp(&a.schedule, &b.schedule,
                                   sizeof a.schedule) != 0;
        /* a new sample of the strategies that find races fastest */
        int sample = (b.schedule.strategy == PROG_SCHED_RANDOM
                      || b.schedule.strategy == PROG_SCHED_PCT_OPS
                      || b.schedule.strategy == PROG_SCHED_PCT_LOG_OPS)
                     && b.schedule.strategy != a.schedule.strategy
                     && b.schedule.seed != a.schedule.seed;
        b.schedule = a.schedule;
        schedule_changed += sched_differs;
        schedule_only += sched_differs && prog_equal(&a, &b);
        fresh += sample && prog_equal(&a, &b);
    }
    printf("{\"mutations\": %d, \"schedule_only\": %ld, "
           "\"schedule_changed\": %ld, \"fresh_samples\": %ld}\n", n,
           schedule_only, schedule_changed, fresh);
    return 0;
}

/* --- the result record ------------------------------------------------- */

static struct ftfuzz_result rec;
static char text[8 * FTFUZZ_RESULT_TEXT];

static void
json_string(const char *key, const char *s, const char *sep)
{
    printf("\"%s\": \"", key);
    for (; *s; s++) {
        if (*s == '"' || *s == '\\')
            printf("\\%c", *s);
        else if ((unsigned char)*s < 0x20)
            printf("\\u%04x", (unsigned char)*s);
        else
            putchar(*s);
    }
    printf("\"%s", sep);
}

static int
cmd_result_format(char **argv)
{
    memset(&rec, 0, sizeof rec);
    rec.verdict = ftfuzz_verdict_from_name(argv[2]);
    CHECK(rec.verdict >= 0);
    rec.signal = atoi(argv[3]);
    rec.status = atoi(argv[4]);
    rec.have_hash = strcmp(argv[5], "-") != 0;
    rec.hash = strtoull(argv[5], NULL, 16);
    rec.steps = 1234;
    rec.switches = 56;
    snprintf(rec.diagnosis, sizeof rec.diagnosis, "%s", argv[6]);
    size_t n = read_all(stdin, (uint8_t *)rec.finding,
                        sizeof rec.finding - 1);
    rec.finding[n] = 0;
    size_t size = argv[7] ? strtoul(argv[7], NULL, 0) : sizeof text;
    CHECK(size >= 1024 && size <= sizeof text);
    size_t len = ftfuzz_result_format(&rec, text, size);
    CHECK(len < size && text[len] == 0);
    fwrite(text, 1, len, stdout);
    return 0;
}

static int
cmd_result_parse(void)
{
    size_t n = read_all(stdin, (uint8_t *)text, sizeof text - 1);
    text[n] = 0;
    char err[256] = "";
    int rc = ftfuzz_result_parse(text, &rec, err, sizeof err);
    printf("{\"rc\": %d, ", rc);
    json_string("error", err, ", ");
    if (rc == 0) {
        printf("\"verdict\": \"%s\", \"died\": %d, \"signal\": %d, "
               "\"status\": %d, \"have_hash\": %d, \"hash\": %llu, "
               "\"steps\": %llu, \"switches\": %llu, ",
               ftfuzz_verdict_text(rec.verdict),
               ftfuzz_verdict_died(rec.verdict), rec.signal, rec.status,
               rec.have_hash, rec.hash, rec.steps, rec.switches);
        json_string("diagnosis", rec.diagnosis, ", ");
        json_string("strategy", rec.strategy, ", ");
        json_string("diagnosis_text", rec.diagnosis_text, ", ");
        json_string("finding", rec.finding, "");
    } else {
        printf("\"verdict\": null");
    }
    printf("}\n");
    return 0;
}

static int
cmd_diagnosis_verdict(int sig)
{
    size_t n = read_all(stdin, (uint8_t *)text, sizeof text - 1);
    text[n] = 0;
    printf("{\"verdict\": \"%s\"}\n",
           ftfuzz_verdict_text(ftfuzz_diagnosis_verdict(text, sig)));
    return 0;
}

int
main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: see the comment at the top of %s\n",
                __FILE__);
        return 2;
    }
    const char *cmd = argv[1];
    int n = argc > 2 ? atoi(argv[2]) : 0;
    rng_state = argc > 3 ? strtoull(argv[3], NULL, 0) : 0;
    if (!strcmp(cmd, "roundtrip"))
        return cmd_roundtrip(n);
    if (!strcmp(cmd, "garbage"))
        return cmd_garbage(n);
    if (!strcmp(cmd, "decode"))
        return cmd_decode();
    if (!strcmp(cmd, "reencode"))
        return cmd_reencode();
    if (!strcmp(cmd, "mutate") && argc == 4)
        return cmd_mutate((unsigned)strtoul(argv[2], NULL, 0),
                          strtoul(argv[3], NULL, 0));
    if (!strcmp(cmd, "crossover") && argc == 6)
        return cmd_crossover((unsigned)strtoul(argv[2], NULL, 0),
                             strtoul(argv[3], NULL, 0), argv[4], argv[5]);
    if (!strcmp(cmd, "determinism"))
        return cmd_determinism(n);
    if (!strcmp(cmd, "maxsize"))
        return cmd_maxsize();
    if (!strcmp(cmd, "kinds"))
        return cmd_kinds(n, (unsigned)rng_state);
    if (!strcmp(cmd, "bytehook"))
        return cmd_bytehook(n);
    if (!strcmp(cmd, "schedonly"))
        return cmd_schedonly(n);
    if (!strcmp(cmd, "crossmix"))
        return cmd_crossmix(n);
    if (!strcmp(cmd, "result-format") && (argc == 7 || argc == 8))
        return cmd_result_format(argv);
    if (!strcmp(cmd, "result-parse"))
        return cmd_result_parse();
    if (!strcmp(cmd, "diagnosis-verdict"))
        return cmd_diagnosis_verdict(n);
    fprintf(stderr, "unknown command %s\n", cmd);
    return 2;
}
