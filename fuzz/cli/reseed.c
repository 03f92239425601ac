/* `ftfuzz reseed FILE --expect V[:SIGNAL]`: a schedule that gives FILE's
 * program the verdict on this build (cmd_reseed says how). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "ftfuzz/program.h"
#include "ftfuzz/schedule_bytes.h"

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
