/*
 * `ftfuzz explore`: a pthread program built with scripts/ftfuzz-cc, or a
 * Python scenario (docs/explore.md), under many schedules, each in a
 * fresh process.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "ftfuzz/sched.h"

static void
print_quoted(FILE *f, char **argv)
{
    for (char **a = argv; *a; a++) {
        int plain = strspn(*a, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOP"
                               "QRSTUVWXYZ0123456789-_./=:@%+,")
                    == strlen(*a) && **a;
        if (plain)
            fprintf(f, " %s", *a);
        else {
            fputs(" '", f);
            for (const char *p = *a; *p; p++)
                if (*p == '\'')
                    fputs("'\\''", f);
                else
                    fputc(*p, f);
            fputc('\'', f);
        }
    }
}

/* --- explore ----------------------------------------------------------------- */

/*
 * ftfuzz explore test.py: a Python scenario (docs/explore.md), explored by
 * the fuzz_spec target in its scenario mode (FTFUZZ_EXPLORE); its progress
 * comes on stdout, its stderr goes to a log.  A failing schedule is saved
 * as a fuzz input with a .meta naming the scenario, and replayed at once
 * for the report, which is what `ftfuzz replay FILE` prints later.
 * argv[0] is the scenario; flags may follow it.
 */
static int
explore_scenario(const struct cmd *c, int argc, char **argv)
{
    int dd;
    int more = parse_flags(c, argc, argv, &dd);
    if (more < 0)
        return 2;
    if (more < argc || dd) {
        fprintf(stderr, "ftfuzz explore: unexpected argument %s after the "
                        "scenario %s\n", more < argc ? argv[more] : "--",
                argv[0]);
        return 2;
    }
    uint64_t iterations, seed, max_steps, watchdog;
    if (parse_u64("explore", "--iterations", &iterations)
        || parse_u64("explore", "--seed", &seed)
        || parse_u64("explore", "--max-steps", &max_steps)
        || parse_u64("explore", "--watchdog", &watchdog))
        return 2;
    if (iterations == 0) {
        fprintf(stderr, "ftfuzz explore: --iterations must be at least 1\n");
        return 2;
    }
    int quiet = *flag("explore", "--quiet") != 0;
    const char *out = flag("explore", "--out");
    /* empty: the target's own default (the portfolio, harness_explore) */
    const char *strategy = flag("explore", "--strategy");
    char *scenario = realpath(argv[0], NULL);
    if (!scenario) {
        fprintf(stderr, "ftfuzz explore: %s: %s\n", argv[0],
                strerror(errno));
        return 2;
    }
    char target[4200], tdir[4200] = "";
    int plain = *flag("explore", "--plain-accesses") != 0;
    if (plain) {
        /* the fuzz_spec of `make plain-cpython`, beside the usual ones */
        char rel[4200];
        snprintf(rel, sizeof rel, "%s/../plain/fuzz", cli_targets_dir());
        if (!realpath(rel, tdir))
            snprintf(tdir, sizeof tdir, "%s", rel);
        snprintf(target, sizeof target, "%s/fuzz_spec", tdir);
        if (access(target, X_OK) != 0) {
            fprintf(stderr, "ftfuzz explore: %s is not built: run 'make "
                            "plain-cpython' in the ftfuzz checkout\n",
                    target);
            free(scenario);
            return 2;
        }
    } else if (cli_target_path("explore", "fuzz_spec", target,
                               sizeof target)) {
        free(scenario);
        return 2;
    }
    if (make_dir(out)) {
        free(scenario);
        return 2;
    }
    char stem[256];
    const char *base = strrchr(scenario, '/');
    snprintf(stem, sizeof stem, "%s", base ? base + 1 : scenario);
    stem[strlen(stem) - 3] = '\0';   /* ".py" */
    char input[4500], meta[4600], log[4600];
    snprintf(input, sizeof input, "%s/explore-%s", out, stem);
    snprintf(meta, sizeof meta, "%s.meta", input);
    snprintf(log, sizeof log, "%s.log", input);
    unlink(input);
    unlink(meta);

    char e_spec[4200], e_out[4600], e_strategy[300], e_iter[64], e_seed[64],
        e_steps[64], e_watchdog[64];
    snprintf(e_spec, sizeof e_spec, "FTFUZZ_SPEC=%s", scenario);
    snprintf(e_out, sizeof e_out, "FTFUZZ_EXPLORE=%s", input);
    snprintf(e_strategy, sizeof e_strategy, "FTFUZZ_EXPLORE_STRATEGY=%s",
             strategy);
    snprintf(e_iter, sizeof e_iter, "FTFUZZ_EXPLORE_ITERATIONS=%llu",
             (unsigned long long)iterations);
    snprintf(e_seed, sizeof e_seed, "FTFUZZ_EXPLORE_SEED=%llu",
             (unsigned long long)seed);
    snprintf(e_steps, sizeof e_steps, "FTFUZZ_MAX_STEPS=%llu",
             (unsigned long long)max_steps);
    snprintf(e_watchdog, sizeof e_watchdog, "FTFUZZ_WATCHDOG_SECONDS=%llu",
             (unsigned long long)watchdog);
    const char *env[] = {e_spec, e_out, e_strategy, e_iter, e_seed, e_steps,
                         e_watchdog, quiet ? "FTFUZZ_EXPLORE_QUIET=1" : NULL,
                         NULL};
    int fd = open(log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) {
        fprintf(stderr, "ftfuzz explore: cannot write %s: %s\n", log,
                strerror(errno));
        free(scenario);
        return 2;
    }
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        for (const char *const *e = env; *e; e++)
            putenv((char *)*e);
        dup2(fd, 2);
        char *targv[] = {target, NULL};
        execv(target, targv);
        fprintf(stderr, "ftfuzz: cannot run %s: %s\n", target,
                strerror(errno));
        _exit(127);
    }
    close(fd);
    struct run_result r;
    if (pid < 0 || wait_program(pid, &r) != 0) {
        perror("ftfuzz explore");
        free(scenario);
        return 2;
    }
    if (!r.exited || (r.status != 0 && r.status != 1)) {
        /* a bad scenario, or the target itself failed: say why */
        char *text = slurp(log, NULL);
        const char *why = text ? strstr(text, "ftfuzz: bad spec: ") : NULL;
        if (why) {
            const char *end = strchr(why, '\n');
            fprintf(stderr, "ftfuzz explore: bad scenario: %.*s\n",
                    (int)(end ? end - why - 18 : (long)strlen(why + 18)),
                    why + 18);
        } else {
            fprintf(stderr, "ftfuzz explore: the explorer failed (%s %d); "
                            "its log:\n", r.exited ? "status" : "signal",
                    r.exited ? r.status : r.signal);
            print_file(log, stderr);
        }
        free(text);
        free(scenario);
        return 2;
    }
    if (r.status == 0) {
        free(scenario);
        return 0;
    }
    FILE *f = fopen(meta, "w");
    if (!f || fprintf(f, "target: fuzz_spec\nspec: %s\n", scenario) < 0
        || (plain && fprintf(f, "targets-dir: %s\n", tdir) < 0)
        || fclose(f) != 0) {
        fprintf(stderr, "ftfuzz explore: cannot write %s\n", meta);
        free(scenario);
        return 2;
    }
    /* the seed's schedule as the anchors of its execution, which a later
     * build replays better (docs/program-format.md) */
    setenv("FTFUZZ_SPEC", scenario, 1);
    int anchored = anchor_finding(target, input, input) == 1;
    free(scenario);
    printf("explore: saved %s%s; replay it with\n  ftfuzz replay %s\n",
           input, anchored ? " (as anchors)" : "", input);
    if (!quiet) {
        printf("\n");
        fflush(stdout);
        char *rargv[] = {"replay", input, NULL};
        replay_input(2, rargv, 1);
    }
    return 1;
}

/*
 * Calibration runs (pct:1, seeds S to S+4) that measure PCT's k: the
 * longest of them.  One run can be unrepresentative (one point long, and
 * then PCT never preempts).  Growing k from the explored runs instead was
 * tried and dropped: a preemption that makes a thread spin to the
 * fairness quantum lengthens a run a thousandfold (tests/sched/spinlock:
 * k went from 40 to 40,038 and pct:3 no longer found the bug in 200
 * schedules).
 */
#define EXPLORE_CALIBRATION_RUNS 5

/* What explore needs to run a program and report a failing schedule. */
struct explore_run {
    char **prog;
    const char *out, *trace, *log, *result;
    const char *const *env;
    char *env_strategy, *env_seed;   /* FTFUZZ_STRATEGY=, FTFUZZ_SEED= */
    size_t env_strategy_size, env_seed_size;
    int expect_exit, quiet;
};

/* Runs one schedule; -1 when the program could not be run. */
static int
explore_run_one(const struct explore_run *x, const char *strategy,
                uint64_t seed, struct run_result *r)
{
    snprintf(x->env_strategy, x->env_strategy_size, "FTFUZZ_STRATEGY=%s",
             strategy);
    snprintf(x->env_seed, x->env_seed_size, "FTFUZZ_SEED=%llu",
             (unsigned long long)seed);
    return run_program(x->prog, x->env, x->log, x->result, r);
}

/* Saves and prints a failing schedule; `which` says which run it was. */
static void
explore_report_failure(const struct explore_run *x, const char *which,
                       const char *strategy, uint64_t seed,
                       const struct run_result *r)
{
    char why[256], saved_trace[4200], saved_log[4200];
    snprintf(saved_trace, sizeof saved_trace, "%s/failing.trace", x->out);
    snprintf(saved_log, sizeof saved_log, "%s/failing.log", x->out);
    copy_file(x->trace, saved_trace);
    copy_file(x->log, saved_log);
    printf("explore: FAILING schedule %s: %s\n", which,
           describe_failure(r, x->expect_exit, why, sizeof why));
    if (r->have_result)
        printf("explore: trace hash 0x%016llx, %llu steps, %llu "
               "switches\n", r->hash, r->steps, r->switches);
    if (!x->quiet) {
        printf("---- program output (%s) ----\n", saved_log);
        fflush(stdout);
        print_file(saved_log, stdout);
        printf("----\n");
    }
    printf("replay the schedule:\n  %s replay --trace %s --", cli_self(),
           saved_trace);
    print_quoted(stdout, x->prog);
    printf("\nor run it again directly:\n  FTFUZZ_STRATEGY='%s' "
           "FTFUZZ_SEED=%llu", strategy, (unsigned long long)seed);
    print_quoted(stdout, x->prog);
    printf("\n");
}

int
cmd_explore(int argc, char **argv)
{
    const struct cmd *c = find_cmd("explore");
    int dd;
    int first = parse_flags(c, argc, argv, &dd);
    if (first < 0)
        return 2;
    if (first >= argc) {
        fprintf(stderr, "ftfuzz explore: no program given\n");
        command_help(c, stderr);
        return 2;
    }
    char **prog = argv + first;
    size_t plen = strlen(prog[0]);
    if (!dd && plen > 3 && !strcmp(prog[0] + plen - 3, ".py"))
        return explore_scenario(c, argc - first, prog);
    if (*flag("explore", "--plain-accesses")) {
        fprintf(stderr, "ftfuzz explore: --plain-accesses is for scenarios; "
                        "a program gets plain-access points from "
                        "'scripts/ftfuzz-cc --plain-accesses'\n");
        return 2;
    }
    uint64_t iterations, seed, max_steps, watchdog, expect_exit;
    if (parse_u64("explore", "--iterations", &iterations)
        || parse_u64("explore", "--seed", &seed)
        || parse_u64("explore", "--max-steps", &max_steps)
        || parse_u64("explore", "--watchdog", &watchdog)
        || parse_u64("explore", "--expect-exit", &expect_exit))
        return 2;
    if (expect_exit > 255) {
        fprintf(stderr, "ftfuzz explore: --expect-exit takes an exit status "
                        "(0 to 255), not %llu\n",
                (unsigned long long)expect_exit);
        return 2;
    }
    int quiet = *flag("explore", "--quiet") != 0;
    const char *out = flag("explore", "--out");
    char strategy[256];
    /* uniform: a bug late in a program (tests/sched/spinlock) is starved by
     * log-uniform change points */
    snprintf(strategy, sizeof strategy, "%s",
             *flag("explore", "--strategy") ? flag("explore", "--strategy")
                                            : "pct:3");
    ftfuzz_strategy_spec spec;
    char bad[512];
    if (ftfuzz_strategy_spec_parse(strategy, &spec, bad, sizeof bad)) {
        fprintf(stderr, "ftfuzz explore: %s\n", bad);
        return 2;
    }
    if (spec.kind == FTFUZZ_STRATEGY_REPLAY) {
        fprintf(stderr, "ftfuzz explore: use 'ftfuzz replay' for traces\n");
        return 2;
    }
    if (access(prog[0], X_OK) != 0 && !strchr(prog[0], '/')) {
        /* left to execvp's PATH search */
    } else if (access(prog[0], X_OK) != 0) {
        fprintf(stderr, "ftfuzz explore: %s: %s\n", prog[0],
                strerror(errno));
        return 2;
    }
    if (make_dir(out))
        return 2;
    disable_aslr();

    char trace[4096], result[4096], log[4096];
    snprintf(trace, sizeof trace, "%s/last.trace", out);
    snprintf(result, sizeof result, "%s/last.result", out);
    snprintf(log, sizeof log, "%s/last.log", out);
    char env_strategy[320], env_seed[64], env_trace[4200], env_result[4200];
    char env_steps[64], env_watchdog[64], plain[4096], env_plain[4200];
    /* A --plain-accesses program learns its shared memory with one run of
     * its own; this file keeps the first one's for the rest (the set is a
     * function of the program, so a replay that learns anew gets it too). */
    snprintf(plain, sizeof plain, "%s/last.plain", out);
    unlink(plain);
    snprintf(env_plain, sizeof env_plain, "FTFUZZ_PLAIN_SHARED=%s", plain);
    snprintf(env_trace, sizeof env_trace, "FTFUZZ_TRACE_OUT=%s", trace);
    snprintf(env_result, sizeof env_result, "FTFUZZ_RESULT=%s", result);
    snprintf(env_steps, sizeof env_steps, "FTFUZZ_MAX_STEPS=%llu",
             (unsigned long long)max_steps);
    snprintf(env_watchdog, sizeof env_watchdog, "FTFUZZ_WATCHDOG_SECONDS=%llu",
             (unsigned long long)watchdog);
    const char *env[] = { env_strategy, env_seed, env_trace, env_result,
                          env_steps, env_watchdog, "FTFUZZ_QUIET=1",
                          env_plain, NULL };
    struct explore_run x = {
        .prog = prog, .out = out, .trace = trace, .log = log,
        .result = result, .env = env,
        .env_strategy = env_strategy, .env_seed = env_seed,
        .env_strategy_size = sizeof env_strategy,
        .env_seed_size = sizeof env_seed,
        .expect_exit = (int)expect_exit, .quiet = quiet,
    };
    struct run_result r;
    char which[128];

    /* PCT needs k, the length of a run. */
    char base[256];
    snprintf(base, sizeof base, "%s", strategy);
    uint64_t k = 0;
    int measure_k = (spec.kind == FTFUZZ_STRATEGY_PCT
                     || spec.kind == FTFUZZ_STRATEGY_PCT_LOG) && spec.k == 0;
    for (int i = 0; measure_k && i < EXPLORE_CALIBRATION_RUNS; i++) {
        if (explore_run_one(&x, "pct:1", seed + (uint64_t)i, &r) != 0)
            return 2;
        if (!r.have_result) {
            char why[256];
            fprintf(stderr, "ftfuzz explore: the calibration run failed: "
                            "%s\n",
                    describe_failure(&r, x.expect_exit, why, sizeof why));
            print_file(log, stderr);
            return 2;
        }
        if (run_failed(&r, x.expect_exit)) {
            /* a schedule like any other: a hang or crash here is a finding,
             * not a length */
            snprintf(which, sizeof which, "in calibration run %d of %d "
                     "(pct:1, measuring k)", i + 1, EXPLORE_CALIBRATION_RUNS);
            explore_report_failure(&x, which, "pct:1", seed + (uint64_t)i,
                                   &r);
            return 1;
        }
        if (r.steps > k)
            k = r.steps;
    }
    if (measure_k) {
        snprintf(strategy, sizeof strategy, "%s:k=%llu", base,
                 (unsigned long long)(k ? k : 1));
        if (!quiet)
            printf("explore: the longest of %d runs takes %llu scheduling "
                   "points; strategy %s\n", EXPLORE_CALIBRATION_RUNS,
                   (unsigned long long)k, strategy);
    }

    double t0 = now_s(), last = t0;
    for (uint64_t i = 0; i < iterations; i++) {
        uint64_t s = seed + i;
        if (explore_run_one(&x, strategy, s, &r) != 0)
            return 2;
        if (r.exited && r.status == 2 && !r.have_result) {
            fprintf(stderr, "ftfuzz explore: the program rejected its "
                            "settings:\n");
            print_file(log, stderr);
            return 2;
        }
        if (run_failed(&r, x.expect_exit)) {
            snprintf(which, sizeof which, "after %llu of %llu iterations",
                     (unsigned long long)i + 1,
                     (unsigned long long)iterations);
            explore_report_failure(&x, which, strategy, s, &r);
            return 1;
        }
        double t = now_s();
        if (!quiet && (t - last >= 2.0 || i + 1 == iterations)) {
            printf("explore: %llu/%llu schedules, no failure (%.0f runs/s)\n",
                   (unsigned long long)i + 1, (unsigned long long)iterations,
                   (double)(i + 1) / (t - t0 > 0 ? t - t0 : 1e-9));
            fflush(stdout);
            last = t;
        }
    }
    printf("explore: no failing schedule in %llu iterations (strategy %s, "
           "seeds %llu..%llu)\n",
           (unsigned long long)iterations, strategy,
           (unsigned long long)seed,
           (unsigned long long)(seed + iterations - 1));
    return 0;
}
