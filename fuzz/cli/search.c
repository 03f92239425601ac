/* `ftfuzz search --expect V[:SIG] FILE`: schedules near an anchored
 * input's anchors until one gives the verdict on this build. */
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "ftfuzz/anchors.h"
#include "ftfuzz/program.h"

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
