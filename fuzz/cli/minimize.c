/*
 * `ftfuzz minimize FILE`: the smallest input that still gives FILE's
 * verdict, in three passes, each candidate checked by running it alone:
 *
 *   1. libFuzzer's -minimize_crash shrinks the bytes (through the custom
 *      mutator, so structurally);
 *   2. a greedy pass over the decoded program drops threads, operations and
 *      objects and shrinks objects, until nothing more can go;
 *   3. the schedule: whatever strategy found the race, the execution's
 *      trace is rewritten as anchored preemptions (each switch named by
 *      its thread, operation and point inside the operation, and the
 *      thread that ran next: docs/program-format.md), and then every one
 *      that the verdict does not need is dropped.
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
#include "ftfuzz/anchors.h"
#include "ftfuzz/program.h"
#include "ftfuzz/result.h"
#include "ftfuzz/schedule_bytes.h"
#include "ftfuzz/trace_file.h"

/* Most anchors a schedule holds: 4 bytes each at least. */
#define PROG_MAX_ANCHORS (PROG_MAX_SCHEDULE / 4)

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
    case PROG_SCHED_ANCHORS:
    case PROG_SCHED_ANCHORS_BARRIER: {
        prog_anchor a[PROG_MAX_ANCHORS];
        snprintf(buf, n, "anchors%s, %zu preemptions",
                 p->schedule.strategy == PROG_SCHED_ANCHORS ? ""
                                                            : " (barrier)",
                 prog_anchors_decode(p->schedule.bytes, p->schedule.nbytes,
                                     a, PROG_MAX_ANCHORS));
        break;
    }
    default:
        snprintf(buf, n, "%s, %zu preemptions",
                 p->schedule.strategy == PROG_SCHED_BYTES ? "bytes"
                                                          : "bytes@mark",
                 prog_preemptions(p, pre, PROG_MAX_SCHEDULE));
    }
    return buf;
}

/* p's schedule as the anchors a[0..n); -1 when they do not fit. */
static int
set_anchors(prog_program *p, const prog_anchor *a, size_t n)
{
    uint8_t bytes[PROG_MAX_SCHEDULE];
    size_t len = prog_anchors_encode(a, n, bytes, sizeof bytes);
    if (len == (size_t)-1)
        return -1;
    /* a schedule behind the start barrier keeps it */
    uint32_t strategy = prog_start_barrier(p->schedule.strategy)
                            ? PROG_SCHED_ANCHORS_BARRIER
                            : PROG_SCHED_ANCHORS;
    p->schedule = (prog_schedule){.strategy = strategy, .depth = 1,
                                  .nbytes = (uint32_t)len};
    memcpy(p->schedule.bytes, bytes, len);
    return 0;
}

/* The switches of an execution (o, with switches) as anchors, all of them
 * or only the preemptions (where the running thread could have gone on);
 * returns their number. */
static size_t
anchors_of(const struct replay_outcome *o, int preemptions_only,
           prog_anchor *a, size_t max)
{
    size_t n = 0;
    for (size_t i = 0; i < o->nsw && n < max; i++) {
        if (i && o->sw[i].step == o->sw[i - 1].step)
            continue;   /* a second switch at one point is not a choice */
        if (o->sw[i].point == 0 || o->sw[i].point > UINT32_MAX)
            continue;
        if (preemptions_only && !(o->sw[i].flags & FTFUZZ_TRACE_PREEMPT))
            continue;
        a[n++] = (prog_anchor){o->sw[i].from, o->sw[i].region,
                               (uint32_t)o->sw[i].point, o->sw[i].to,
                               !(o->sw[i].flags & FTFUZZ_TRACE_PREEMPT)};
    }
    return n;
}

/* Drops each anchor of p's anchored schedule that the verdict does not
 * need, last first; returns the number dropped. */
static unsigned
drop_anchors(struct minimizer *m, prog_program *p)
{
    prog_anchor a[PROG_MAX_ANCHORS];
    size_t n = prog_anchors_decode(p->schedule.bytes, p->schedule.nbytes, a,
                                   PROG_MAX_ANCHORS);
    unsigned dropped = 0;
    for (size_t i = n; i-- > 0;) {
        prog_anchor fewer[PROG_MAX_ANCHORS];
        memcpy(fewer, a, i * sizeof a[0]);
        memcpy(fewer + i, a + i + 1, (n - i - 1) * sizeof a[0]);
        prog_program c = *p;
        if (set_anchors(&c, fewer, n - 1) == 0
            && still_fails(m, &c, 0, NULL)) {
            *p = c;
            memcpy(a, fewer, (n - 1) * sizeof a[0]);
            n--;
            dropped++;
        }
    }
    return dropped;
}

/* Does p, anchored, give m's verdict with the anchors a[0..n) (which
 * need not fit in an input: FTFUZZ_ANCHORS_FILE)? */
static int
still_fails_with(struct minimizer *m, const prog_program *p,
                 const prog_anchor *a, size_t n, struct replay_outcome *out)
{
    size_t cap = n * PROG_ANCHOR_MAX_BYTES + 1;
    uint8_t *bytes = malloc(cap);
    size_t len = prog_anchors_encode(a, n, bytes, cap);
    char path[160];
    snprintf(path, sizeof path, "%s/anchors", m->dir);
    int ok = 0;
    if (write_bytes(path, bytes, len) == 0) {
        prog_program c = *p;
        set_anchors(&c, NULL, 0);
        setenv("FTFUZZ_ANCHORS_FILE", path, 1);
        ok = still_fails(m, &c, 0, out);
        unsetenv("FTFUZZ_ANCHORS_FILE");
        unlink(path);
    }
    free(bytes);
    return ok;
}

/*
 * Rewrites p's schedule, whatever it is, as the anchors of its own
 * execution's switches.  2: every switch fits, and the rewrite runs the
 * identical execution (same verdict, signal and trace hash).  1: too many
 * switches to fit (a random walk's): the list that runs the identical
 * execution is cut down (delta debugging: chunks dropped while the
 * verdict holds) until it fits; the same verdict, another execution.
 * 0: neither works (p is left alone).  -1: p does not give m's verdict.
 */
static int anchor_schedule_ex(struct minimizer *m, prog_program *p,
                              int shrink);

static int
anchor_schedule(struct minimizer *m, prog_program *p)
{
    return anchor_schedule_ex(m, p, 1);
}

/* The same; without `shrink`, only the identical rewrite (0 when the
 * switches do not fit). */
static int
anchor_schedule_ex(struct minimizer *m, prog_program *p, int shrink)
{
    struct replay_outcome o, again;
    if (!still_fails(m, p, 1, &o)) {
        free(o.sw);
        return -1;
    }
    prog_anchor *a = malloc((o.nsw + 1) * sizeof *a);
    size_t n = anchors_of(&o, 0, a, o.nsw);
    free(o.sw);
    prog_program c = *p;
    int rc = 0;
    if (set_anchors(&c, a, n) == 0) {
        if (still_fails(m, &c, 0, &again) && again.hash == o.hash) {
            *p = c;
            rc = 2;
        }
        goto done;
    }
    if (!shrink || !still_fails_with(m, p, a, n, &again)
        || again.hash != o.hash)
        goto done;
    /* complements of ever smaller chunks, while the list does not fit */
    size_t parts = 2;
    prog_anchor *b = malloc((n + 1) * sizeof *b);
    while (n > 1 && set_anchors(&c, a, n) != 0) {
        size_t chunk = (n + parts - 1) / parts, k = 0;
        int cut = 0;
        for (size_t from = 0; from < n && !cut; from += chunk) {
            size_t to = from + chunk < n ? from + chunk : n;
            memcpy(b, a, from * sizeof *a);
            memcpy(b + from, a + to, (n - to) * sizeof *a);
            k = n - (to - from);
            cut = still_fails_with(m, p, b, k, NULL);
        }
        if (cut) {
            memcpy(a, b, k * sizeof *a);
            n = k;
            parts = parts > 2 ? parts - 1 : 2;
        } else if (parts >= n) {
            break;
        } else {
            parts = parts * 2 < n ? parts * 2 : n;
        }
    }
    free(b);
    c = *p;
    if (set_anchors(&c, a, n) == 0 && still_fails(m, &c, 0, NULL)) {
        drop_anchors(m, &c);
        *p = c;
        rc = 1;
    }
done:
    free(a);
    return rc;
}

/*
 * Rewrites p's schedule as the anchors of its execution's switches
 * (anchor_schedule), then drops every one the verdict does not need.
 * Returns the number dropped.
 */
static unsigned
shrink_schedule(struct minimizer *m, prog_program *p, int *rewritten)
{
    *rewritten = 0;
    if (!prog_anchored(p->schedule.strategy)) {
        if (anchor_schedule(m, p) <= 0)
            return 0;   /* keep the strategy as it is */
        *rewritten = 1;
    }
    return drop_anchors(m, p);
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
    /* anchors may cost a few bytes more than the schedule they replace:
     * they still name the race after a rebuild, a seed does not */
    if (prog_anchored(p->schedule.strategy)
        || encoded_size(p) <= size) {
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
    if (n == 0
        || (n > size && !prog_anchored(best->schedule.strategy))
        || !still_fails(&m, best, 0, NULL)) {
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
    size_t pos = 0;
    ftfuzz_bytes_write(s->bytes, PROG_MAX_SCHEDULE, &pos, shift + 1,
                       npre ? pre[0].choice : 1);
    for (size_t j = 1; j < npre; j++)
        if (!ftfuzz_bytes_write(s->bytes, PROG_MAX_SCHEDULE, &pos,
                                pre[j].step - pre[j - 1].step, pre[j].choice))
            break;
    s->nbytes = (uint32_t)pos;
}

/*
 * Runs the candidates c[0..n) in one target process (each in a child
 * forked from one initialised interpreter: much cheaper than a process
 * each); the target stops at the first one whose execution dies, whose
 * index goes to *failed (-1: none).  0, or -1 after a message when the
 * target could not run.  m->runs counts the candidates that ran.
 */
static int
run_batch(struct minimizer *m, const prog_program *c, size_t n, int *failed)
{
    char **argv = calloc(n + 2, sizeof *argv);
    char log[128];
    int argc = 0, rc = 0;
    argv[argc++] = (char *)m->target;
    for (size_t i = 0; i < n; i++) {
        uint8_t buf[PROG_MAX_ENCODED];
        size_t len = prog_encode(&c[i], buf, sizeof buf);
        char path[160];
        snprintf(path, sizeof path, "%s/cand-%zu", m->dir, i);
        if (write_bytes(path, buf, len) != 0) {
            fprintf(stderr, "ftfuzz: cannot write %s\n", path);
            rc = -1;
            break;
        }
        argv[argc++] = strdup(path);
    }
    snprintf(log, sizeof log, "%s/batch.log", m->dir);
    struct run_result r;
    const char *env[] = {NULL};
    if (rc == 0 && run_program(argv, env, log, NULL, &r) != 0) {
        fprintf(stderr, "ftfuzz: cannot run %s\n", m->target);
        rc = -1;
    }
    *failed = -1;
    /* libFuzzer says "Running: FILE" before each input it runs alone */
    FILE *f = rc == 0 && !(r.exited && r.status == 0) ? fopen(log, "r")
                                                      : NULL;
    char line[512];
    unsigned long long k;
    while (f && fgets(line, sizeof line, f)) {
        const char *at = strstr(line, "/cand-");
        if (!strncmp(line, "Running: ", 9) && at
            && sscanf(at, "/cand-%llu", &k) == 1)
            *failed = (int)k;
    }
    if (f)
        fclose(f);
    m->runs += (unsigned)(*failed >= 0 ? (size_t)*failed + 1 : n);
    for (int i = 1; i < argc; i++) {
        unlink(argv[i]);
        free(argv[i]);
    }
    unlink(log);
    free(argv);
    return rc;
}

/* The shifted candidates from..end-1 (shifted_schedule), as run_batch;
 * *failed is the shift of the first whose execution died, or -1. */
static int
reseed_batch(struct minimizer *m, prog_program *p, const prog_preemption *pre,
             size_t npre, uint64_t from, uint64_t end, int *failed)
{
    size_t n = (size_t)(end - from);
    prog_program *c = malloc(n * sizeof *c);
    for (size_t i = 0; i < n; i++) {
        shifted_schedule(p, pre, npre, from + i);
        c[i] = *p;
    }
    int rc = run_batch(m, c, n, failed);
    if (*failed >= 0)
        *failed += (int)from;
    free(c);
    return rc;
}

/* Writes p to out, its schedule as anchors when the rewrite runs the
 * identical execution, and says so; the exit code of reseed. */
static int
reseed_write(struct minimizer *m, const char *out, prog_program *p,
             const struct replay_outcome *o, const char *how, uint64_t i)
{
    m->want = (struct replay_outcome){.signal = o->signal};
    snprintf(m->want.verdict, sizeof m->want.verdict, "%s", o->verdict);
    int anchored = anchor_schedule(m, p) > 0;
    uint8_t buf[PROG_MAX_ENCODED];
    size_t n = prog_encode(p, buf, sizeof buf);
    if (write_bytes(out, buf, n) != 0) {
        fprintf(stderr, "ftfuzz reseed: cannot write %s: %s\n", out,
                strerror(errno));
        return 2;
    }
    printf("reseed: %s %llu gives %s (hash 0x%016llx) after %u runs; "
           "wrote %s%s\n", how, (unsigned long long)i, o->verdict, o->hash,
           m->runs, out, anchored ? " (as anchors)" : "");
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
/* Is every name of "V[,V...][:SIG]" a verdict (verdicts.def)?  Else a
 * message that lists them. */
static int
known_verdicts(const char *cmd, const char *expect)
{
    size_t n = strcspn(expect, ":");
    for (const char *p = expect; p < expect + n;) {
        size_t l = strcspn(p, ",:");
        char name[64];
        snprintf(name, sizeof name, "%.*s", (int)l, p);
        if (ftfuzz_verdict_from_name(name) < 0) {
            fprintf(stderr, "ftfuzz %s: unknown verdict '%s' in --expect; "
                            "the verdicts:", cmd, name);
            for (int v = 0; v < FTFUZZ_VERDICT_COUNT; v++)
                fprintf(stderr, " %s", ftfuzz_verdict_text(v));
            fputc('\n', stderr);
            return 0;
        }
        p += l + (p[l] == ',');
    }
    return 1;
}

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
    if (!known_verdicts("reseed", expect))
        return 2;
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
            rc = reseed_write(&m, out, p, &o, "bytes@mark preemptions from",
                              (uint64_t)failed + 1);
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
                rc = reseed_write(&m, out, p, &o, kinds[kind].name, i);
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

/* --- anchor and search ------------------------------------------------------------ */

/* The set-up anchor and search share with reseed: flags, target, scratch
 * directory, the decoded input.  NULL after a message (exit 2). */
static prog_program *
open_input(const char *cmd, int argc, char **argv, struct minimizer *m,
           char *target, size_t ntarget, const char **input)
{
    int dd;
    int first = parse_flags(find_cmd(cmd), argc, argv, &dd);
    if (first < 0)
        return NULL;
    if (first + 1 != argc) {
        fprintf(stderr, "ftfuzz %s: give one input FILE\n", cmd);
        command_help(find_cmd(cmd), stderr);
        return NULL;
    }
    *input = argv[first];
    size_t size = 0;
    uint8_t *data = read_input(*input, &size);
    if (!data) {
        fprintf(stderr, "ftfuzz %s: cannot read %s: %s\n", cmd, *input,
                strerror(errno));
        return NULL;
    }
    char name[64];
    if (resolve_target(cmd, *input, target, ntarget, name, sizeof name, 0)) {
        free(data);
        return NULL;
    }
    m->target = target;
    disable_aslr();
    snprintf(m->dir, sizeof m->dir, "/tmp/ftfuzz-%s-XXXXXX", cmd);
    if (!mkdtemp(m->dir)) {
        fprintf(stderr, "ftfuzz %s: mkdtemp: %s\n", cmd, strerror(errno));
        free(data);
        return NULL;
    }
    snprintf(m->cand, sizeof m->cand, "%s/candidate", m->dir);
    prog_program *p = malloc(sizeof *p);
    prog_decode(data, size, p);
    free(data);
    return p;
}

static void
close_input(struct minimizer *m, prog_program *p)
{
    free(p);
    unlink(m->cand);
    rmdir(m->dir);
}

static int
write_program(const char *cmd, const char *out, const prog_program *p)
{
    uint8_t buf[PROG_MAX_ENCODED];
    size_t n = prog_encode(p, buf, sizeof buf);
    if (write_bytes(out, buf, n) != 0) {
        fprintf(stderr, "ftfuzz %s: cannot write %s: %s\n", cmd, out,
                strerror(errno));
        return 2;
    }
    return 0;
}

/*
 * `ftfuzz anchor FILE`: FILE's schedule, whatever it is (a seed, bytes,
 * bytes@mark), rewritten as the anchors of its own execution's switches,
 * checked to run the identical execution (same verdict and trace hash).
 */
int
cmd_anchor(int argc, char **argv)
{
    struct minimizer m = {0};
    char target[4300];
    const char *input;
    prog_program *p = open_input("anchor", argc, argv, &m, target,
                                 sizeof target, &input);
    if (!p)
        return 2;
    const char *out = *flag("anchor", "--out") ? flag("anchor", "--out")
                                               : input;
    int rc = 0;
    struct replay_outcome o;
    /* the verdict of the canonical encoding, which is what gets written */
    m.want = (struct replay_outcome){0};
    uint8_t buf[PROG_MAX_ENCODED];
    size_t n = prog_encode(p, buf, sizeof buf);
    if (write_bytes(m.cand, buf, n) != 0
        || replay_run(m.target, m.cand, m.dir, 0, &o) != 0) {
        fprintf(stderr, "ftfuzz anchor: cannot run %s\n", m.target);
        close_input(&m, p);
        return 2;
    }
    m.want = o;
    if (prog_anchored(p->schedule.strategy)) {
        printf("anchor: %s is anchored already (%s)\n", input, o.verdict);
    } else if ((rc = anchor_schedule(&m, p)) > 0) {
        char text[128];
        int same = rc == 2;
        rc = write_program("anchor", out, p);
        if (rc == 0)
            printf("anchor: %s: %s, %s (%s); wrote %s\n", input,
                   schedule_text(p, text, sizeof text), o.verdict,
                   same ? "the same execution" : "the same verdict; too many "
                   "switches to keep all, so the preemptions it needs",
                   out);
    } else {
        fprintf(stderr, "ftfuzz anchor: %s: its switches as anchors do not "
                        "give its verdict (or do not fit in %d bytes); "
                        "left as it is\n", input, PROG_MAX_SCHEDULE);
        rc = 1;
    }
    close_input(&m, p);
    return rc;
}

/* Is o's verdict one of ",V,V," (with signal sig, unless it is -1)? */
static int
verdict_in(const char *verdicts, int sig, const struct replay_outcome *o)
{
    char key[40];
    snprintf(key, sizeof key, ",%s,", o->verdict);
    return strstr(verdicts, key) != NULL && (sig < 0 || o->signal == sig);
}

/* Candidates of one target process in search. */
#define SEARCH_BATCH 100

/*
 * The k-th schedule near the anchors a[0..n), k = 0, 1, ...: for distance
 * d = 1, 2, ...: for each preemption j from the last, the anchors from j to
 * the end of j's region of j's thread moved d points later, then d
 * earlier (a point added or removed before j in the same region moves
 * them all alike; other regions keep theirs).  0 when k is past what
 * distances up to max_d give, or the move would leave a point below 1.
 */
static int
nearby_schedule(const prog_anchor *a, size_t n, uint64_t k, uint32_t max_d,
                prog_anchor *out, uint32_t *d_out, size_t *j_out)
{
    if (n == 0)
        return 0;
    uint64_t per_d = 2 * (uint64_t)n;
    uint64_t d = k / per_d + 1;
    if (d > max_d)
        return 0;
    size_t j = n - 1 - (size_t)(k % per_d / 2);
    int later = k % 2 == 0;
    if (a[j].blocked)
        return -1;   /* fires wherever its thread blocks: nothing to move */
    memcpy(out, a, n * sizeof *a);
    for (size_t i = j; i < n; i++) {
        if (a[i].thread != a[j].thread || a[i].region != a[j].region)
            continue;
        if (later)
            out[i].point = a[i].point + (uint32_t)d;
        else if (a[i].point > d)
            out[i].point = a[i].point - (uint32_t)d;
        else
            return -1;   /* skipped, not the end */
    }
    *d_out = (uint32_t)d;
    *j_out = j;
    return 1;
}

/*
 * `ftfuzz search --expect V[:SIG] FILE`: FILE is an anchored input that
 * does not give V on this build as it is; tries up to --budget schedules
 * near its anchors (nearby_schedule) and writes the first that gives V.
 * Exit 0 when found (or when FILE gives V as it is), 1 when none within
 * the budget does, 2 on bad usage.
 */
int
cmd_search(int argc, char **argv)
{
    struct minimizer m = {0};
    char target[4300];
    const char *input;
    uint64_t budget;
    prog_program *p = open_input("search", argc, argv, &m, target,
                                 sizeof target, &input);
    if (!p)
        return 2;
    if (parse_u64("search", "--budget", &budget)) {
        close_input(&m, p);
        return 2;
    }
    const char *expect = flag("search", "--expect");
    if (!*expect) {
        fprintf(stderr, "ftfuzz search: give --expect VERDICT[:SIGNAL]\n");
        close_input(&m, p);
        return 2;
    }
    if (!known_verdicts("search", expect)) {
        close_input(&m, p);
        return 2;
    }
    /* V[,V...][:SIG]: any of the verdicts (with that signal) */
    char verdicts[256];
    const char *colon = strchr(expect, ':');
    snprintf(verdicts, sizeof verdicts, ",%.*s,",
             colon ? (int)(colon - expect) : (int)strlen(expect), expect);
    int want_signal = colon ? atoi(colon + 1) : -1;
    if (!prog_anchored(p->schedule.strategy)) {
        fprintf(stderr, "ftfuzz search: %s is not anchored (run 'ftfuzz "
                        "anchor' on the build that found it)\n", input);
        close_input(&m, p);
        return 2;
    }
    const char *out = *flag("search", "--out") ? flag("search", "--out")
                                               : NULL;
    struct replay_outcome as_is;
    still_fails(&m, p, 0, &as_is);
    if (verdict_in(verdicts, want_signal, &as_is)) {
        printf("search: %s gives %s as it is (0 tries)\n", input,
               as_is.verdict);
        close_input(&m, p);
        return 0;
    }
    prog_anchor a[PROG_MAX_ANCHORS], c[PROG_MAX_ANCHORS];
    size_t n = prog_anchors_decode(p->schedule.bytes, p->schedule.nbytes, a,
                                   PROG_MAX_ANCHORS);
    /* as many distances as the budget reaches */
    size_t npre = 0;
    for (size_t i = 0; i < n; i++)
        npre += !a[i].blocked;
    uint32_t max_d = npre ? (uint32_t)(budget / (2 * npre) + 1) : 0;
    prog_program *batch = malloc(SEARCH_BATCH * sizeof *batch);
    uint32_t bd[SEARCH_BATCH];
    size_t bj[SEARCH_BATCH];
    uint64_t bk[SEARCH_BATCH];
    uint64_t k = 0, tried = 0;
    int rc = 1;
    while (rc == 1 && tried < budget) {
        size_t nb = 0;
        while (nb < SEARCH_BATCH && tried + nb < budget) {
            bk[nb] = k;
            int r = nearby_schedule(a, n, k++, max_d, c, &bd[nb], &bj[nb]);
            if (r == 0)
                break;
            if (r < 0)
                continue;
            batch[nb] = *p;
            set_anchors(&batch[nb], c, n);
            nb++;
        }
        if (nb == 0)
            break;
        int failed = -1;
        if (run_batch(&m, batch, nb, &failed) != 0) {
            rc = 2;
            break;
        }
        if (failed < 0) {
            tried += nb;
            continue;
        }
        /* the batch stopped at its first death: check it alone, and go on
         * after it */
        tried += (size_t)failed + 1;
        k = bk[failed] + 1;
        struct replay_outcome o;
        still_fails(&m, &batch[failed], 0, &o);
        if (verdict_in(verdicts, want_signal, &o)) {
            const prog_anchor *x = &a[bj[failed]];
            printf("search: %s after %llu tries: anchor %zu (T%u region %u "
                   "point %u) and the later ones of its region %u points "
                   "%s; hash 0x%016llx\n", o.verdict,
                   (unsigned long long)tried, bj[failed] + 1, x->thread,
                   x->region, x->point, bd[failed],
                   bk[failed] % 2 == 0 ? "later" : "earlier", o.hash);
            rc = 0;
            if (out && write_program("search", out, &batch[failed]) == 0)
                printf("search: wrote %s\n", out);
        }
        free(o.sw);
    }
    if (rc == 1)
        printf("search: no schedule among %llu near the %zu anchors gives "
               "%s\n", (unsigned long long)tried, n, expect);
    free(batch);
    close_input(&m, p);
    return rc;
}

/*
 * FILE, a finding of `ftfuzz fuzz` or `ftfuzz explore`, rewritten as the
 * anchors of its own execution when that is the identical execution and
 * fits (no delta debugging: a finding is kept as found otherwise), into
 * out.  1 when written, 0 when not, -1 when the target could not run.
 */
int
anchor_finding(const char *target, const char *path, const char *out)
{
    struct minimizer m = {.target = target};
    snprintf(m.dir, sizeof m.dir, "/tmp/ftfuzz-anchor-XXXXXX");
    if (!mkdtemp(m.dir))
        return -1;
    snprintf(m.cand, sizeof m.cand, "%s/candidate", m.dir);
    size_t size = 0;
    uint8_t *data = read_input(path, &size);
    int rc = -1;
    prog_program *p = malloc(sizeof *p);
    if (data && p && replay_run(target, path, m.dir, 0, &m.want) == 0) {
        prog_decode(data, size, p);
        rc = 0;
        if (!prog_anchored(p->schedule.strategy) && p->nthreads
            && anchor_schedule_ex(&m, p, 0) == 2
            && write_program("anchor", out, p) == 0)
            rc = 1;
    }
    free(data);
    free(p);
    unlink(m.cand);
    rmdir(m.dir);
    return rc;
}
