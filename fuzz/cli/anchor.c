/* `ftfuzz anchor FILE`: FILE's schedule as anchored preemptions. */
#include <stdio.h>

#include "cli.h"
#include "ftfuzz/program.h"

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
