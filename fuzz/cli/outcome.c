/*
 * What minimize, reseed, anchor and search share: a candidate program run
 * alone and checked against the wanted outcome (struct minimizer, in
 * cli.h), batches of candidates in one target process, schedules
 * rewritten as the anchors of their own execution, fuzz inputs read and
 * written; and anchor_finding, which explore and fuzz use on what they
 * find.  Replays through report.c (replay_run).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "ftfuzz/anchors.h"
#include "ftfuzz/program.h"
#include "ftfuzz/result.h"
#include "ftfuzz/trace_file.h"

/* Is every name of "V[,V...][:SIG]" a verdict (verdicts.def)?  Else a
 * message that lists them. */
int
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
int
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

const char *
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
int
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
unsigned
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

int
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

uint8_t *
read_input(const char *path, size_t *size)
{
    return (uint8_t *)slurp(path, size);
}

/*
 * Runs the candidates c[0..n) in one target process (each in a child
 * forked from one initialised interpreter: much cheaper than a process
 * each); the target stops at the first one whose execution dies, whose
 * index goes to *failed (-1: none).  0, or -1 after a message when the
 * target could not run.  m->runs counts the candidates that ran.
 */
int
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

/* The set-up anchor and search share with reseed: flags, target, scratch
 * directory, the decoded input.  NULL after a message (exit 2). */
prog_program *
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

void
close_input(struct minimizer *m, prog_program *p)
{
    free(p);
    unlink(m->cand);
    rmdir(m->dir);
}

int
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
