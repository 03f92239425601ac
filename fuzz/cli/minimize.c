/*
 * `ftfuzz minimize FILE`: the smallest input that still gives FILE's
 * verdict, in three passes, each candidate checked by running it alone:
 *
 *   1. libFuzzer's -minimize_crash shrinks the bytes (through the custom
 *      mutator, so structurally);
 *   2. a greedy pass over the decoded program drops threads, operations and
 *      objects and shrinks objects, until nothing more can go;
 *   3. the schedule: whatever strategy found the race, the execution's
 *      trace is rewritten as explicit `bytes` preemptions (each switch's
 *      step and chosen thread), and then every preemption that the verdict
 *      does not need is dropped: the fewest preemptions that still fail.
 *
 * "The same verdict" is the same kind (crash, assertion, linearizability,
 * deadlock, ...) and the same signal.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "ftfuzz/program.h"

/* The trace file's flag bits (scheduler/sched_internal.h): the pick is
 * bits 8-23; a bytes CHOICE is one byte, which a fuzz program's few
 * threads never outgrow. */
#define SWITCH_PICK_SHIFT 8

struct minimizer {
    const char *target;
    char dir[64];            /* scratch directory */
    char cand[128];          /* candidate input path */
    struct replay_outcome want;
    unsigned runs;           /* executions so far */
};

static int
write_bytes(const char *path, const uint8_t *data, size_t size)
{
    FILE *f = fopen(path, "wb");
    if (!f)
        return -1;
    size_t w = fwrite(data, 1, size, f);
    return fclose(f) != 0 || w != size ? -1 : 0;
}

static int
same_verdict(const struct replay_outcome *a, const struct replay_outcome *b)
{
    return !strcmp(a->verdict, b->verdict) && a->signal == b->signal;
}

/* Does p still give the verdict?  (*out: the outcome, when asked.) */
static int
still_fails(struct minimizer *m, const prog_program *p, int with_switches,
            struct replay_outcome *out)
{
    uint8_t buf[PROG_MAX_ENCODED];
    size_t n = prog_encode(p, buf, sizeof buf);
    if (n == 0 || write_bytes(m->cand, buf, n) != 0)
        return 0;
    struct replay_outcome o;
    if (replay_run(m->target, m->cand, m->dir, with_switches, &o) != 0) {
        /* The target itself failed to run: nothing below can be trusted. */
        fprintf(stderr, "ftfuzz: cannot run %s on a candidate: stopping\n",
                m->target);
        exit(2);
    }
    m->runs++;
    int ok = same_verdict(&o, &m->want);
    if (out)
        *out = o;
    else
        free(o.sw);
    return ok;
}

static size_t
encoded_size(const prog_program *p)
{
    uint8_t buf[PROG_MAX_ENCODED];
    return prog_encode(p, buf, sizeof buf);
}

/* --- pass 2: the program ------------------------------------------------------ */

static void
drop_thread(prog_program *p, uint32_t t)
{
    memmove(&p->threads[t], &p->threads[t + 1],
            (p->nthreads - t - 1) * sizeof p->threads[0]);
    p->nthreads--;
}

static void
drop_op(prog_program *p, uint32_t t, uint32_t i)
{
    prog_thread *th = &p->threads[t];
    memmove(&th->ops[i], &th->ops[i + 1],
            (th->nops - i - 1) * sizeof th->ops[0]);
    th->nops--;
}

/* Removes object o; references to later objects move down with them. */
static void
drop_object(prog_program *p, uint32_t o)
{
    uint32_t n = p->nobjects;
    for (uint32_t t = 0; t < p->nthreads; t++)
        for (uint32_t i = 0; i < p->threads[t].nops; i++) {
            prog_op *op = &p->threads[t].ops[i];
            uint32_t tg = op->target % n, ot = op->other % n;
            op->target = tg > o ? tg - 1 : tg == o ? 0 : tg;
            op->other = ot > o ? ot - 1 : ot == o ? 0 : ot;
        }
    for (uint32_t i = o + 1; i < n; i++) {
        uint32_t src = p->objects[i].source % n;
        p->objects[i].source = src > o ? src - 1 : src;
    }
    memmove(&p->objects[o], &p->objects[o + 1],
            (n - o - 1) * sizeof p->objects[0]);
    p->nobjects--;
}

static void
shrink_program(struct minimizer *m, prog_program *p, unsigned *dropped_threads,
               unsigned *dropped_ops, unsigned *dropped_objects)
{
    int progress = 1;
    while (progress) {
        progress = 0;
        for (uint32_t t = p->nthreads; t-- > 0 && p->nthreads > 1;) {
            prog_program c = *p;
            drop_thread(&c, t);
            if (still_fails(m, &c, 0, NULL)) {
                *dropped_ops += p->threads[t].nops;
                *p = c;
                (*dropped_threads)++;
                progress = 1;
            }
        }
        for (uint32_t t = 0; t < p->nthreads; t++)
            for (uint32_t i = p->threads[t].nops; i-- > 0;) {
                prog_program c = *p;
                drop_op(&c, t, i);
                if (still_fails(m, &c, 0, NULL)) {
                    *p = c;
                    (*dropped_ops)++;
                    progress = 1;
                }
            }
        for (uint32_t o = p->nobjects; o-- > 0 && p->nobjects > 1;) {
            prog_program c = *p;
            drop_object(&c, o);
            if (still_fails(m, &c, 0, NULL)) {
                *p = c;
                (*dropped_objects)++;
                progress = 1;
            }
        }
        for (uint32_t o = 0; o < p->nobjects; o++) {
            while (p->objects[o].size > 0) {
                prog_program c = *p;
                c.objects[o].size /= 2;
                if (!still_fails(m, &c, 0, NULL))
                    break;
                *p = c;
                progress = 1;
            }
        }
    }
}

/* --- pass 3: the schedule ----------------------------------------------------- */

static const char *
schedule_text(const prog_program *p, char *buf, size_t n)
{
    prog_preemption pre[PROG_MAX_SCHEDULE];
    switch (p->schedule.strategy) {
    case PROG_SCHED_PCT:
        snprintf(buf, n, "pct depth %u seed %llu", p->schedule.depth,
                 (unsigned long long)p->schedule.seed);
        break;
    case PROG_SCHED_PCT_OPS:
    case PROG_SCHED_PCT_LOG_OPS:
        snprintf(buf, n, "%s depth %u k %u seed %llu",
                 p->schedule.strategy == PROG_SCHED_PCT_OPS ? "pct@mark"
                                                            : "pctlog@mark",
                 p->schedule.depth, p->schedule.k,
                 (unsigned long long)p->schedule.seed);
        break;
    case PROG_SCHED_RANDOM:
        if (p->schedule.p_ppm)
            snprintf(buf, n, "random p %g seed %llu",
                     p->schedule.p_ppm / (double)PROG_PPM,
                     (unsigned long long)p->schedule.seed);
        else
            snprintf(buf, n, "random seed %llu",
                     (unsigned long long)p->schedule.seed);
        break;
    default:
        snprintf(buf, n, "bytes, %zu preemptions",
                 prog_preemptions(p, pre, PROG_MAX_SCHEDULE));
    }
    return buf;
}

/*
 * Rewrites p's schedule as the preemptions its execution took, then drops
 * every one the verdict does not need.  Returns the number dropped.
 */
static unsigned
shrink_schedule(struct minimizer *m, prog_program *p, int *rewritten)
{
    prog_preemption pre[PROG_MAX_SCHEDULE];
    size_t n;
    *rewritten = 0;
    struct replay_outcome o;
    if (!still_fails(m, p, 1, &o))
        return 0;
    /* Every switch the strategy chose, as the bytes strategy would take
     * it; blocking switches are kept too (their choice may differ from the
     * bytes strategy's round robin) and dropped below if not needed. */
    prog_program c = *p;
    n = 0;
    for (size_t i = 0; i < o.nsw && n < PROG_MAX_SCHEDULE; i++) {
        if (n && o.sw[i].step == pre[n - 1].step)
            continue;
        pre[n].step = o.sw[i].step;
        pre[n++].choice = (uint8_t)(o.sw[i].flags >> SWITCH_PICK_SHIFT);
    }
    free(o.sw);
    if (p->schedule.strategy != PROG_SCHED_BYTES) {
        if (prog_set_preemptions(&c, pre, n) == 0 && still_fails(m, &c, 0, NULL)) {
            *p = c;
            *rewritten = 1;
        } else {
            return 0;   /* keep the strategy as it is */
        }
    }
    n = prog_preemptions(p, pre, PROG_MAX_SCHEDULE);
    unsigned dropped = 0;
    for (size_t i = n; i-- > 0;) {
        prog_preemption fewer[PROG_MAX_SCHEDULE];
        memcpy(fewer, pre, i * sizeof pre[0]);
        memcpy(fewer + i, pre + i + 1, (n - i - 1) * sizeof pre[0]);
        c = *p;
        if (prog_set_preemptions(&c, fewer, n - 1) == 0
            && still_fails(m, &c, 0, NULL)) {
            *p = c;
            memcpy(pre, fewer, (n - 1) * sizeof pre[0]);
            n--;
            dropped++;
        }
    }
    return dropped;
}

/* --- pass 1: libFuzzer ------------------------------------------------------------ */

static int
libfuzzer_minimize(struct minimizer *m, const char *input, uint64_t seconds,
                   const char *out)
{
    char a_time[64], a_out[200], log[128];
    snprintf(a_time, sizeof a_time, "-max_total_time=%llu",
             (unsigned long long)seconds);
    snprintf(a_out, sizeof a_out, "-exact_artifact_path=%s", out);
    snprintf(log, sizeof log, "%s/libfuzzer.log", m->dir);
    char *argv[] = {(char *)m->target, "-minimize_crash=1", a_time, a_out,
                    (char *)input, NULL};
    struct run_result r;
    unlink(out);
    if (run_program(argv, (const char *const[]){NULL}, log, NULL, &r) != 0)
        return -1;
    unlink(log);
    return access(out, R_OK) == 0 ? 0 : -1;
}

static uint8_t *
read_input(const char *path, size_t *size)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    uint8_t *buf = malloc(1 << 20);
    *size = buf ? fread(buf, 1, 1 << 20, f) : 0;
    fclose(f);
    return buf;
}

int
cmd_minimize(int argc, char **argv)
{
    int dd;
    int first = parse_flags(find_cmd("minimize"), argc, argv, &dd);
    if (first < 0)
        return 2;
    if (first + 1 != argc) {
        fprintf(stderr, "ftfuzz minimize: give one input FILE\n");
        command_help(find_cmd("minimize"), stderr);
        return 2;
    }
    const char *input = argv[first];
    struct stat st;
    if (stat(input, &st) != 0 || !S_ISREG(st.st_mode)
        || access(input, R_OK) != 0) {
        fprintf(stderr, "ftfuzz minimize: cannot read %s: %s\n", input,
                errno ? strerror(errno) : "not a regular file");
        return 2;
    }
    uint64_t seconds;
    if (parse_u64("minimize", "--time", &seconds))
        return 2;
    char out[4200];
    if (*flag("minimize", "--out"))
        snprintf(out, sizeof out, "%s", flag("minimize", "--out"));
    else
        snprintf(out, sizeof out, "%s.min", input);
    char name[64], target[4300];
    if (resolve_target("minimize", input, target, sizeof target, name,
                       sizeof name, 0))
        return 2;
    disable_aslr();
    struct minimizer m = {.target = target};
    snprintf(m.dir, sizeof m.dir, "/tmp/ftfuzz-minimize-XXXXXX");
    if (!mkdtemp(m.dir)) {
        perror("ftfuzz minimize: mkdtemp");
        return 2;
    }
    snprintf(m.cand, sizeof m.cand, "%s/candidate", m.dir);
    char *abs_input = realpath(input, NULL);
    int rc = 0;
    size_t size = 0;
    uint8_t *data = NULL;
    prog_program *p = malloc(sizeof *p), *best = malloc(sizeof *best);
    char lf_out[128], text[128];
    snprintf(lf_out, sizeof lf_out, "%s/libfuzzer.min", m.dir);

    if (replay_run(target, abs_input, m.dir, 0, &m.want) != 0) {
        rc = 2;
        goto done;
    }
    if (!strcmp(m.want.verdict, "passed")) {
        fprintf(stderr, "ftfuzz minimize: %s passes on %s: there is no "
                        "failure to keep\n", input, name);
        rc = 1;
        goto done;
    }
    data = read_input(abs_input, &size);
    if (!data || !p || !best) {
        rc = 2;
        goto done;
    }
    prog_decode(data, size, best);
    printf("minimize: %s on %s: %s (signal %d), %zu bytes, %u threads, "
           "%u ops, %u objects, schedule %s\n", input, name, m.want.verdict,
           m.want.signal, size, best->nthreads, prog_count_ops(best),
           best->nobjects, schedule_text(best, text, sizeof text));
    fflush(stdout);
    if (!still_fails(&m, best, 0, NULL)) {
        /* Its canonical encoding behaves otherwise: nothing to work on. */
        fprintf(stderr, "ftfuzz minimize: the decoded program does not "
                        "reproduce the verdict; keeping the input\n");
        rc = 1;
        goto done;
    }
    unsigned start_ops = prog_count_ops(best);

    if (seconds > 0) {
        printf("minimize: [1/3] libFuzzer -minimize_crash for %llu s\n",
               (unsigned long long)seconds);
        fflush(stdout);
        size_t lsize;
        uint8_t *ldata;
        if (libfuzzer_minimize(&m, abs_input, seconds, lf_out) == 0
            && (ldata = read_input(lf_out, &lsize))) {
            prog_decode(ldata, lsize, p);
            free(ldata);
            if (still_fails(&m, p, 0, NULL)
                && encoded_size(p) < encoded_size(best)) {
                printf("minimize:       %zu -> %zu bytes\n",
                       encoded_size(best), encoded_size(p));
                *best = *p;
            } else {
                printf("minimize:       nothing smaller with the same "
                       "verdict\n");
            }
        } else {
            printf("minimize:       libFuzzer found nothing smaller\n");
        }
    }

    printf("minimize: [2/3] threads, operations, objects\n");
    fflush(stdout);
    unsigned dt = 0, dop = 0, dobj = 0;
    shrink_program(&m, best, &dt, &dop, &dobj);
    printf("minimize:       removed %u threads, %u operations, %u objects\n",
           dt, dop, dobj);

    printf("minimize: [3/3] schedule: %s\n",
           schedule_text(best, text, sizeof text));
    fflush(stdout);
    int rewritten;
    *p = *best;
    unsigned dpre = shrink_schedule(&m, p, &rewritten);
    if (encoded_size(p) <= size) {
        printf("minimize:       %s%s, %u preemptions removed\n",
               rewritten ? "rewritten as " : "",
               schedule_text(p, text, sizeof text), dpre);
        *best = *p;
    } else {
        /* A seed is a few bytes; explicit preemptions cost 3 to 5 each. */
        printf("minimize:       as explicit preemptions (%s) the input "
               "would grow past %zu bytes: the schedule stays as it was\n",
               schedule_text(p, text, sizeof text), size);
    }

    uint8_t buf[PROG_MAX_ENCODED];
    size_t n = prog_encode(best, buf, sizeof buf);
    if (n == 0 || n > size || !still_fails(&m, best, 0, NULL)) {
        /* Never worse than the input: keep it as it was. */
        prog_decode(data, size, best);
        n = size < sizeof buf ? size : 0;
        memcpy(buf, data, n);
    }
    if (write_bytes(out, buf, n) != 0) {
        fprintf(stderr, "ftfuzz minimize: cannot write %s: %s\n", out,
                strerror(errno));
        rc = 2;
        goto done;
    }
    printf("minimize: wrote %s: %zu bytes (was %zu), %u ops (was %u), %s; "
           "%u executions\n", out, n, size, prog_count_ops(best), start_ops,
           m.want.verdict, m.runs);

done:
    free(m.want.sw);
    free(data);
    free(p);
    free(best);
    free(abs_input);
    unlink(m.cand);
    unlink(lf_out);
    rmdir(m.dir);
    return rc;
}

/* --- reseed -------------------------------------------------------------------- */

/* Appends v as a LEB128 varint of at most 4 bytes (the bytes strategy's
 * DELTA); 0 when it does not fit. */
static int
put_varint(prog_schedule *s, uint64_t v)
{
    if (v >= (1u << 28) || s->nbytes + 5 > PROG_MAX_SCHEDULE)
        return 0;
    while (v >= 0x80) {
        s->bytes[s->nbytes++] = (uint8_t)(0x80 | (v & 0x7f));
        v >>= 7;
    }
    s->bytes[s->nbytes++] = (uint8_t)v;
    return 1;
}

/* Candidates of one target process in the shifted sweep. */
#define RESEED_BATCH 100

/* p's schedule: the preemptions pre with their gaps kept, the first
 * shift + 1 points after the mark (bytes@mark); one preemption to the next
 * thread when there are none. */
static void
shifted_schedule(prog_program *p, const prog_preemption *pre, size_t npre,
                 uint64_t shift)
{
    prog_schedule *s = &p->schedule;
    /* nothing of the old schedule (a random walk's p, pct's k) lingers */
    *s = (prog_schedule){.strategy = PROG_SCHED_BYTES_OPS, .depth = 1};
    put_varint(s, shift + 1);
    s->bytes[s->nbytes++] = npre ? pre[0].choice : 1;
    for (size_t j = 1; j < npre; j++) {
        if (!put_varint(s, pre[j].step - pre[j - 1].step)
            || s->nbytes >= PROG_MAX_SCHEDULE)
            break;
        s->bytes[s->nbytes++] = pre[j].choice;
    }
}

/*
 * Runs the shifted candidates from..end-1 in one target process; *failed
 * is the first one whose execution died, or -1.  0, or -1 after a message
 * when the target could not run.
 */
static int
reseed_batch(struct minimizer *m, prog_program *p, const prog_preemption *pre,
             size_t npre, uint64_t from, uint64_t end, int *failed)
{
    char **argv = calloc((size_t)(end - from) + 2, sizeof *argv);
    char log[128];
    int n = 0, rc = 0;
    argv[n++] = (char *)m->target;
    for (uint64_t i = from; i < end; i++) {
        shifted_schedule(p, pre, npre, i);
        uint8_t buf[PROG_MAX_ENCODED];
        size_t len = prog_encode(p, buf, sizeof buf);
        char path[160];
        snprintf(path, sizeof path, "%s/shift-%llu", m->dir,
                 (unsigned long long)i);
        if (write_bytes(path, buf, len) != 0) {
            fprintf(stderr, "ftfuzz reseed: cannot write %s\n", path);
            rc = -1;
            break;
        }
        argv[n++] = strdup(path);
    }
    snprintf(log, sizeof log, "%s/batch.log", m->dir);
    struct run_result r;
    const char *env[] = {NULL};
    if (rc == 0 && run_program(argv, env, log, NULL, &r) != 0) {
        fprintf(stderr, "ftfuzz reseed: cannot run %s\n", m->target);
        rc = -1;
    }
    *failed = -1;
    /* libFuzzer says "Running: FILE" before each input it runs alone */
    FILE *f = rc == 0 && !(r.exited && r.status == 0) ? fopen(log, "r")
                                                      : NULL;
    char line[512];
    unsigned long long k;
    while (f && fgets(line, sizeof line, f)) {
        const char *at = strstr(line, "/shift-");
        if (!strncmp(line, "Running: ", 9) && at
            && sscanf(at, "/shift-%llu", &k) == 1)
            *failed = (int)k;
    }
    if (f)
        fclose(f);
    m->runs += (unsigned)(*failed >= 0 ? (uint64_t)*failed - from + 1
                                       : end - from);
    for (int i = 1; i < n; i++) {
        unlink(argv[i]);
        free(argv[i]);
    }
    unlink(log);
    free(argv);
    return rc;
}

/* Writes p to out and says so; the exit code of reseed. */
static int
reseed_write(const char *out, const prog_program *p,
             const struct replay_outcome *o, const char *how, uint64_t i,
             unsigned runs)
{
    uint8_t buf[PROG_MAX_ENCODED];
    size_t n = prog_encode(p, buf, sizeof buf);
    if (write_bytes(out, buf, n) != 0) {
        fprintf(stderr, "ftfuzz reseed: cannot write %s: %s\n", out,
                strerror(errno));
        return 2;
    }
    printf("reseed: %s %llu gives %s (hash 0x%016llx) after %u runs; "
           "wrote %s\n", how, (unsigned long long)i, o->verdict, o->hash,
           runs, out);
    return 0;
}

/*
 * `ftfuzz reseed FILE --expect V[:SIGNAL]`: keeps FILE's program and looks
 * for a schedule that gives verdict V on this build: for i = 0, 1, ...,
 * FILE's own preemptions with their gaps kept and the first one i + 1
 * points after the first operation begins (bytes@mark; a single
 * preemption when FILE has none), then seed i of random (p = 0.002 and
 * 0.01) and of pct:3.  A regression input's interleaving is made of
 * scheduling steps, and anything that moves the interpreter's steps
 * (another harness or CPython build, see docs/replay.md) can make it miss
 * its race while the race is still there; this finds the race again.
 */
int
cmd_reseed(int argc, char **argv)
{
    int dd;
    int first = parse_flags(find_cmd("reseed"), argc, argv, &dd);
    if (first < 0)
        return 2;
    if (first + 1 != argc || !*flag("reseed", "--expect")) {
        fprintf(stderr, "ftfuzz reseed: give --expect VERDICT[:SIGNAL] and "
                        "one input FILE\n");
        command_help(find_cmd("reseed"), stderr);
        return 2;
    }
    const char *input = argv[first];
    struct minimizer m = {0};
    const char *expect = flag("reseed", "--expect");
    const char *colon = strchr(expect, ':');
    snprintf(m.want.verdict, sizeof m.want.verdict, "%.*s",
             colon ? (int)(colon - expect) : (int)strlen(expect), expect);
    m.want.signal = colon ? atoi(colon + 1) : -1;
    uint64_t tries;
    if (parse_u64("reseed", "--tries", &tries))
        return 2;
    size_t size = 0;
    uint8_t *data = read_input(input, &size);
    if (!data) {
        fprintf(stderr, "ftfuzz reseed: cannot read %s: %s\n", input,
                strerror(errno));
        return 2;
    }
    char name[64], target[4300];
    if (resolve_target("reseed", input, target, sizeof target, name,
                       sizeof name, 0)) {
        free(data);
        return 2;
    }
    m.target = target;
    disable_aslr();
    snprintf(m.dir, sizeof m.dir, "/tmp/ftfuzz-reseed-XXXXXX");
    if (!mkdtemp(m.dir)) {
        perror("ftfuzz reseed: mkdtemp");
        free(data);
        return 2;
    }
    snprintf(m.cand, sizeof m.cand, "%s/candidate", m.dir);
    prog_program *p = malloc(sizeof *p);
    prog_decode(data, size, p);
    free(data);
    int rc = 1;
    /* An input whose interleaving moved usually kept its shape: the same
     * preemptions, now some points off.  Its preemptions, as gaps. */
    prog_preemption pre[PROG_MAX_SCHEDULE];
    size_t npre = prog_preemptions(p, pre, PROG_MAX_SCHEDULE);
    const char *out = *flag("reseed", "--out") ? flag("reseed", "--out")
                                               : input;
    /* 1. the shifted sweep, in batches that one target process runs (each
     * file in a child forked from one initialised interpreter: much
     * cheaper than a process per candidate); a batch stops at its first
     * failing candidate, which is then checked alone in report mode */
    uint64_t next = 0;
    while (rc == 1 && next < tries) {
        uint64_t end = next + RESEED_BATCH < tries ? next + RESEED_BATCH
                                                   : tries;
        int failed = -1;
        if (reseed_batch(&m, p, pre, npre, next, end, &failed) != 0) {
            rc = 2;
            break;
        }
        if (failed < 0) {
            next = end;
            printf("reseed: %llu shifted schedules tried\n",
                   (unsigned long long)next);
            fflush(stdout);
            continue;
        }
        shifted_schedule(p, pre, npre, (uint64_t)failed);
        struct replay_outcome o;
        if (still_fails(&m, p, 0, &o)
            || (m.want.signal < 0 && !strcmp(o.verdict, m.want.verdict)))
            rc = reseed_write(out, p, &o, "bytes@mark preemptions from",
                              (uint64_t)failed + 1, m.runs);
        free(o.sw);
        next = (uint64_t)failed + 1;
    }
    /* 2. seeds of random (p = 0.002 and 0.01: narrow windows want the
     * larger p, BENCHMARKS.md) and pct:3, a process each */
    static const struct {
        const char *name;
        uint32_t strategy, p_ppm;
    } kinds[] = {
        {"random seed", PROG_SCHED_RANDOM, 0},
        {"random p 0.01 seed", PROG_SCHED_RANDOM, 10000},
        {"pct:3 seed", PROG_SCHED_PCT, 0},
    };
    for (uint64_t i = 0; i < tries && rc == 1; i++) {
        for (size_t kind = 0; kind < sizeof kinds / sizeof kinds[0] && rc == 1;
             kind++) {
            p->schedule = (prog_schedule){
                .strategy = kinds[kind].strategy,
                .depth = kinds[kind].strategy == PROG_SCHED_PCT ? 3 : 1,
                .seed = i,
                .p_ppm = kinds[kind].p_ppm,
            };
            struct replay_outcome o;
            if (still_fails(&m, p, 0, &o)
                || (m.want.signal < 0 && !strcmp(o.verdict, m.want.verdict)))
                rc = reseed_write(out, p, &o, kinds[kind].name, i,
                                  m.runs);
            free(o.sw);
        }
        if (rc == 1 && i % 20 == 19)
            printf("reseed: %llu seeds tried\n", (unsigned long long)i + 1);
        fflush(stdout);
    }
    if (rc == 1)
        fprintf(stderr, "ftfuzz reseed: no schedule among %llu shifted "
                        "ones and %llu seeds gives %s\n",
                (unsigned long long)tries, (unsigned long long)tries,
                expect);
    free(p);
    unlink(m.cand);
    rmdir(m.dir);
    return rc;
}
