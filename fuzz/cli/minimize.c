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
#include "ftfuzz/program.h"

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
