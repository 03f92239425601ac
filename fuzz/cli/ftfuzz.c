/*
 * ftfuzz: the command.  One entry point, subcommands from commands.def.
 *
 * explore and replay drive programs built with scripts/ftfuzz-cc: each
 * schedule runs in a fresh process (so no state survives between runs),
 * with address-space randomization off (set here once and inherited), and
 * reports back through the result file the program's automatic session
 * writes (FTFUZZ_RESULT).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "ftfuzz/env.h"
#include "cli.h"
#include "ftfuzz/aslr.h"
#include "ftfuzz/result.h"
#include "ftfuzz/sched.h"
#include "ftfuzz/trace_file.h"

/* --- the command table ------------------------------------------------------ */

struct flag {
    const char *cmd, *name, *value, *dflt, *help;
    const char *set;   /* the value given, or NULL */
};

#define FTFUZZ_CMD(name, args, summary) int cmd_##name(int, char **);
#define FTFUZZ_FLAG(cmd, flag, value, dflt, help)
#include "commands.def"
#undef FTFUZZ_CMD
#undef FTFUZZ_FLAG

static const struct cmd commands[] = {
#define FTFUZZ_CMD(name, args, summary) {#name, args, summary, cmd_##name},
#define FTFUZZ_FLAG(cmd, flag, value, dflt, help)
#include "commands.def"
#undef FTFUZZ_CMD
#undef FTFUZZ_FLAG
};

static struct flag flags[] = {
#define FTFUZZ_CMD(name, args, summary)
#define FTFUZZ_FLAG(cmd, flag, value, dflt, help) \
    {#cmd, flag, value, dflt, help, NULL},
#include "commands.def"
#undef FTFUZZ_CMD
#undef FTFUZZ_FLAG
};

#define NCOMMANDS (sizeof commands / sizeof commands[0])
#define NFLAGS (sizeof flags / sizeof flags[0])

const struct cmd *
find_cmd(const char *name)
{
    for (size_t i = 0; i < NCOMMANDS; i++)
        if (!strcmp(commands[i].name, name))
            return &commands[i];
    abort();
}

static void
usage(FILE *f)
{
    fprintf(f, "usage: ftfuzz COMMAND [flags] [arguments]\n\n"
               "ftfuzz finds free-threading races and replays them exactly.\n"
               "\ncommands:\n");
    for (size_t i = 0; i < NCOMMANDS; i++)
        fprintf(f, "  %-9s %s\n", commands[i].name, commands[i].summary);
    fprintf(f, "\n'ftfuzz COMMAND --help' describes a command and its flags.\n");
}

void
command_help(const struct cmd *c, FILE *f)
{
    fprintf(f, "usage: ftfuzz %s %s\n\n%s\n", c->name, c->args, c->summary);
    int any = 0;
    for (size_t i = 0; i < NFLAGS; i++) {
        if (strcmp(flags[i].cmd, c->name))
            continue;
        if (!any++)
            fprintf(f, "\nflags:\n");
        char left[64];
        snprintf(left, sizeof left, "%s%s%s", flags[i].name,
                 flags[i].value ? " " : "",
                 flags[i].value ? flags[i].value : "");
        fprintf(f, "  %-22s %s", left, flags[i].help);
        if (flags[i].dflt && *flags[i].dflt)
            fprintf(f, " (default %s)", flags[i].dflt);
        fprintf(f, "\n");
    }
}

const char *
flag(const char *cmd, const char *name)
{
    for (size_t i = 0; i < NFLAGS; i++)
        if (!strcmp(flags[i].cmd, cmd) && !strcmp(flags[i].name, name))
            return flags[i].set ? flags[i].set : flags[i].dflt;
    return "";
}

/*
 * Parses the flags of `cmd` from argv; returns the index of the first
 * argument that is not a flag (after "--" if there is one), or -1 after
 * printing an error.  --help prints help and exits.
 */
int
parse_flags(const struct cmd *c, int argc, char **argv, int *saw_dashdash)
{
    *saw_dashdash = 0;
    int i = 1;
    for (; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--")) {
            *saw_dashdash = 1;
            return i + 1;
        }
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            command_help(c, stdout);
            exit(0);
        }
        if (strncmp(a, "--", 2))
            return i;
        const char *eq = strchr(a, '=');
        size_t nlen = eq ? (size_t)(eq - a) : strlen(a);
        struct flag *f = NULL;
        for (size_t k = 0; k < NFLAGS; k++)
            if (!strcmp(flags[k].cmd, c->name)
                && strlen(flags[k].name) == nlen
                && !strncmp(flags[k].name, a, nlen))
                f = &flags[k];
        if (!f) {
            fprintf(stderr, "ftfuzz %s: unknown flag %s\n", c->name, a);
            command_help(c, stderr);
            return -1;
        }
        if (!f->value) {
            if (eq) {
                fprintf(stderr, "ftfuzz %s: %s takes no value\n", c->name,
                        f->name);
                return -1;
            }
            f->set = "1";
        } else if (eq) {
            f->set = eq + 1;
        } else if (i + 1 < argc) {
            f->set = argv[++i];
        } else {
            fprintf(stderr, "ftfuzz %s: %s needs a value (%s)\n", c->name,
                    f->name, f->value);
            return -1;
        }
    }
    return i;
}

int
parse_u64(const char *cmd, const char *name, uint64_t *out)
{
    const char *v = flag(cmd, name);
    char *end;
    errno = 0;
    unsigned long long x = strtoull(v, &end, 0);
    if (!*v || *end || errno || v[0] == '-') {
        fprintf(stderr, "ftfuzz %s: %s wants a whole number, not '%s'\n", cmd,
                name, v);
        return -1;
    }
    *out = x;
    return 0;
}

/* --- running programs -------------------------------------------------------- */


double
now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* The result record a C program's session wrote (ftfuzz/result.h). */
static void
read_result(const char *path, struct run_result *r)
{
    static struct ftfuzz_result rec;
    char err[512];
    r->have_result = 0;
    int rc = ftfuzz_result_read(path, &rec, err, sizeof err);
    if (rc < 0)
        fprintf(stderr, "ftfuzz: %s\n", err);
    if (rc != 0)
        return;
    snprintf(r->verdict, sizeof r->verdict, "%s",
             ftfuzz_verdict_text(rec.verdict));
    r->hash = rec.hash;
    r->steps = rec.steps;
    r->switches = rec.switches;
    r->have_result = 1;
}

/* Starts argv with extra "NAME=VALUE" entries, its stdout and stderr on
 * out_fd (inherited when -1). */
pid_t
spawn(char **argv, const char *const *env, int out_fd)
{
    pid_t pid = fork();
    if (pid < 0) {
        perror("ftfuzz: fork");
        return -1;
    }
    if (pid == 0) {
        for (const char *const *e = env; *e; e++)
            putenv((char *)*e);
        if (out_fd >= 0) {
            dup2(out_fd, 1);
            dup2(out_fd, 2);
        }
        execvp(argv[0], argv);
        fprintf(stderr, "ftfuzz: cannot run %s: %s\n", argv[0],
                strerror(errno));
        _exit(127);
    }
    return pid;
}

/* Waits for pid; fills exited, status and signal of r. */
int
wait_program(pid_t pid, struct run_result *r)
{
    int st;
    while (waitpid(pid, &st, 0) < 0)
        if (errno != EINTR)
            return -1;
    r->exited = WIFEXITED(st);
    r->status = r->exited ? WEXITSTATUS(st) : 0;
    r->signal = WIFSIGNALED(st) ? WTERMSIG(st) : 0;
    return 0;
}

/*
 * Runs argv with extra environment entries ("NAME=VALUE", NULL-ended),
 * output to log (or inherited when log is NULL); reads the result file at
 * result_path when there is one (it is removed first).
 */
int
run_program(char **argv, const char *const *env, const char *log,
            const char *result_path, struct run_result *r)
{
    memset(r, 0, sizeof *r);
    if (result_path)
        unlink(result_path);
    int fd = -1;
    if (log && (fd = open(log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
                          0644)) < 0) {
        fprintf(stderr, "ftfuzz: cannot write %s: %s\n", log,
                strerror(errno));
        return -1;
    }
    pid_t pid = spawn(argv, env, fd);
    if (fd >= 0)
        close(fd);
    if (pid < 0 || wait_program(pid, r) != 0)
        return -1;
    if (result_path)
        read_result(result_path, r);
    return 0;
}

/* expect_exit: the exit status of a passing run (explore --expect-exit) */
static int
run_failed(const struct run_result *r, int expect_exit)
{
    return !r->exited || r->status != expect_exit || !r->have_result
           || strcmp(r->verdict, "passed");
}

static const char *
describe_failure(const struct run_result *r, int expect_exit, char *buf,
                 size_t size)
{
    if (r->have_result && strcmp(r->verdict, "passed") && r->signal)
        snprintf(buf, size, "%s (signal %d: %s)", r->verdict, r->signal,
                 strsignal(r->signal));
    else if (r->have_result && strcmp(r->verdict, "passed"))
        snprintf(buf, size, "%s", r->verdict);
    else if (r->signal)
        snprintf(buf, size, "signal %d (%s)", r->signal,
                 strsignal(r->signal));
    else if (r->exited && r->status == 127 && !r->have_result)
        snprintf(buf, size, "the program could not be started");
    else if (r->exited && r->status != expect_exit && expect_exit)
        snprintf(buf, size, "exit status %d (expected %d)", r->status,
                 expect_exit);
    else if (r->exited && r->status != expect_exit)
        snprintf(buf, size, "exit status %d", r->status);
    else
        snprintf(buf, size, "no result: was the program built with "
                            "scripts/ftfuzz-cc?");
    return buf;
}

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

void
print_file(const char *path, FILE *to)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return;
    char buf[4096];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, f)) > 0)
        fwrite(buf, 1, n, to);
    fclose(f);
}

int
copy_file(const char *from, const char *to)
{
    FILE *in = fopen(from, "rb"), *out = in ? fopen(to, "wb") : NULL;
    if (!in || !out) {
        if (in)
            fclose(in);
        return -1;
    }
    char buf[8192];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, in)) > 0)
        fwrite(buf, 1, n, out);
    fclose(in);
    return fclose(out);
}

/* Address-space layout must not differ between runs (DESIGN-NOTES §5). */
void
disable_aslr(void)
{
    ftfuzz_aslr_off();
}

/* Creates dir and any missing parents, like mkdir -p. */
int
make_dir(const char *dir)
{
    char path[4096];
    if (snprintf(path, sizeof path, "%s", dir) >= (int)sizeof path) {
        fprintf(stderr, "ftfuzz: %s: path too long\n", dir);
        return -1;
    }
    for (char *p = path + 1;; p++) {
        if (*p != '/' && *p)
            continue;
        char c = *p;
        *p = 0;
        if (mkdir(path, 0755) != 0 && errno != EEXIST) {
            fprintf(stderr, "ftfuzz: cannot create %s: %s\n", path,
                    strerror(errno));
            return -1;
        }
        *p = c;
        if (!c)
            break;
    }
    struct stat st;
    if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
        fprintf(stderr, "ftfuzz: %s is not a directory\n", dir);
        return -1;
    }
    return 0;
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

/* --- replay ------------------------------------------------------------------ */

static int
read_trace_header(const char *path, unsigned long long *hash)
{
    char *text = slurp(path, NULL);
    if (!text) {
        fprintf(stderr, "ftfuzz replay: cannot open %s: %s\n", path,
                strerror(errno));
        return -1;
    }
    /* the whole file: a broken trace is refused before anything runs */
    struct ftfuzz_trace_reader rd;
    struct ftfuzz_trace_record rec;
    ftfuzz_trace_reader_init(&rd, path);
    int got = 0;
    for (char *pos = text; *pos && got >= 0;)
        if ((got = ftfuzz_trace_read(&rd, &pos, &rec)) > 0
            && rec.tag == FTFUZZ_TRACE_HASH)
            *hash = rec.hash;
    free(text);
    if (got < 0 || ftfuzz_trace_read_end(&rd) < 0) {
        fprintf(stderr, "ftfuzz replay: %s\n", rd.err);
        return -1;
    }
    return 0;
}

int
cmd_replay(int argc, char **argv)
{
    const struct cmd *c = find_cmd("replay");
    int dd;
    int first = parse_flags(c, argc, argv, &dd);
    if (first < 0)
        return 2;
    const char *trace = flag("replay", "--trace");
    if (!*trace && first < argc && !dd)
        return replay_input(argc, argv, first);
    if (!*trace) {
        fprintf(stderr, "ftfuzz replay: give a fuzz input FILE, or --trace "
                        "FILE -- PROGRAM\n");
        command_help(c, stderr);
        return 2;
    }
    if (first >= argc) {
        fprintf(stderr, "ftfuzz replay: no program given (after --)\n");
        return 2;
    }
    uint64_t times;
    if (parse_u64("replay", "--times", &times))
        return 2;
    if (times == 0)
        times = 1;
    int quiet = *flag("replay", "--quiet") != 0;
    unsigned long long want;
    if (read_trace_header(trace, &want))
        return 2;
    disable_aslr();

    char dir[] = "/tmp/ftfuzz-replay-XXXXXX";
    if (!mkdtemp(dir)) {
        perror("ftfuzz replay: mkdtemp");
        return 2;
    }
    char result[256], log[256], env_strategy[4200], env_result[300];
    snprintf(result, sizeof result, "%s/result", dir);
    snprintf(log, sizeof log, "%s/log", dir);
    snprintf(env_strategy, sizeof env_strategy, "FTFUZZ_STRATEGY=replay:%s",
             trace);
    snprintf(env_result, sizeof env_result, "FTFUZZ_RESULT=%s", result);
    const char *env[] = { env_strategy, env_result, "FTFUZZ_QUIET=1", NULL };
    char **prog = argv + first;
    uint64_t same = 0;
    char first_verdict[64] = "";
    int rc = 0;
    for (uint64_t i = 0; i < times; i++) {
        struct run_result r;
        if (run_program(prog, env, log, result, &r) != 0) {
            rc = 2;
            break;
        }
        char why[256];
        const char *verdict = run_failed(&r, 0)
                                  ? describe_failure(&r, 0, why, sizeof why)
                                  : "passed";
        if (i == 0) {
            snprintf(first_verdict, sizeof first_verdict, "%s", verdict);
            if (!quiet) {
                printf("---- program output ----\n");
                fflush(stdout);
                print_file(log, stdout);
                printf("----\n");
            }
        }
        if (r.have_result && !strcmp(r.verdict, "diverged")) {
            printf("replay: run %llu DIVERGED from the trace\n",
                   (unsigned long long)i + 1);
            if (i > 0 || quiet)
                print_file(log, stdout);
            rc = 1;
            break;
        }
        if (r.have_result && r.hash == want)
            same++;
        else if (!quiet)
            printf("replay: run %llu: %s, hash 0x%016llx (trace: "
                   "0x%016llx)\n",
                   (unsigned long long)i + 1, verdict, r.hash, want);
    }
    if (rc == 0) {
        printf("replay: %s, trace hash 0x%016llx in %llu of %llu runs\n",
               first_verdict, want, (unsigned long long)same,
               (unsigned long long)times);
        rc = same == times ? 0 : 1;
    }
    unlink(result);
    unlink(log);
    rmdir(dir);
    return rc;
}

/* --- the rest ---------------------------------------------------------------- */

const char *const families[FTFUZZ_NFAMILIES] = {
#define FTFUZZ_FAMILY_ROW(NAME, name, regress, help, ...) #name,
#include "ftfuzz/families.def"
#undef FTFUZZ_FAMILY_ROW
};

int
use_spec(const char *cmd, const char *meta_file)
{
    char given[4096] = "", resolved[PATH_MAX];
    const char *f = flag(cmd, "--spec");
    if (*f) {
        snprintf(given, sizeof given, "%s", f);
    } else if (meta_file) {
        FILE *m = fopen(meta_file, "r");
        char line[4200], path[4096];
        while (m && fgets(line, sizeof line, m))
            if (sscanf(line, "spec: %4095[^\n]", path) == 1) {
                char dir[4096];
                snprintf(dir, sizeof dir, "%s", meta_file);
                if (path[0] == '/')
                    snprintf(given, sizeof given, "%s", path);
                else
                    snprintf(given, sizeof given, "%s/%s", dirname(dir),
                             path);
            }
        if (m)
            fclose(m);
    }
    if (!given[0])
        return 0;
    if (realpath(given, resolved) == NULL || access(resolved, R_OK) != 0) {
        fprintf(stderr, "ftfuzz %s: cannot read the spec %s: %s\n", cmd,
                given, strerror(errno));
        return -1;
    }
    setenv("FTFUZZ_SPEC", resolved, 1);
    return 1;
}

int
count_files(const char *dir, const char *prefix)
{
    DIR *d = opendir(dir);
    if (!d)
        return 0;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        /* FILE.meta describes FILE: not counted */
        size_t len = strlen(e->d_name);
        n += e->d_name[0] != '.'
             && !strncmp(e->d_name, prefix, strlen(prefix))
             && !(len > 5 && !strcmp(e->d_name + len - 5, ".meta"));
    }
    closedir(d);
    return n;
}

/* --- campaign figures ------------------------------------------------------- */

#define MAX_STAT_PIDS 4096
#define MAX_KINDS 16

/* What the fuzzing processes appended to FTFUZZ_STATS (fuzz_target.c). */
struct campaign_stats {
    int npids;
    int pid[MAX_STAT_PIDS];
    unsigned long long execs[MAX_STAT_PIDS], switches[MAX_STAT_PIDS];
    int nkinds;
    char kind[MAX_KINDS][32];
    int count[MAX_KINDS];
};

static void
read_stats(const char *path, struct campaign_stats *s)
{
    memset(s, 0, sizeof *s);
    FILE *f = fopen(path, "r");
    if (!f)
        return;
    char line[256], kind[32];
    int pid;
    unsigned long long e, sw, st;
    while (fgets(line, sizeof line, f)) {
        if (sscanf(line, "stats %d %llu %llu %llu", &pid, &e, &sw, &st) == 4) {
            int i = 0;
            while (i < s->npids && s->pid[i] != pid)
                i++;
            if (i == s->npids) {
                if (s->npids == MAX_STAT_PIDS)
                    continue;
                s->pid[s->npids++] = pid;
            }
            s->execs[i] = e;   /* running totals: the last line counts */
            s->switches[i] = sw;
        } else if (sscanf(line, "finding %d %31s", &pid, kind) == 2) {
            int k = 0;
            while (k < s->nkinds && strcmp(s->kind[k], kind))
                k++;
            if (k == s->nkinds) {
                if (s->nkinds == MAX_KINDS)
                    continue;
                snprintf(s->kind[s->nkinds++], sizeof s->kind[0], "%s", kind);
            }
            s->count[k]++;
        }
    }
    fclose(f);
}

/* "1234 executions (56.7/s), 3.2 switches per execution, findings: ..." */
static void
print_stats(const char *path, double elapsed, FILE *to)
{
    struct campaign_stats *s = malloc(sizeof *s);
    if (!s)
        return;
    read_stats(path, s);
    unsigned long long execs = 0, switches = 0;
    for (int i = 0; i < s->npids; i++) {
        execs += s->execs[i];
        switches += s->switches[i];
    }
    fprintf(to, "ftfuzz: %llu executions (%.1f/s), %.1f switches per "
                "execution, findings:", execs,
            elapsed > 0 ? (double)execs / elapsed : 0.0,
            execs ? (double)switches / (double)execs : 0.0);
    if (s->nkinds == 0)
        fprintf(to, " none");
    for (int k = 0; k < s->nkinds; k++)
        fprintf(to, "%s %d %s", k ? "," : "", s->count[k], s->kind[k]);
    fprintf(to, "\n");
    fflush(to);
    free(s);
}

/*
 * Runs libFuzzer with its output through a pipe: each of its status lines
 * (they carry "exec/s") is followed by ftfuzz's own figures.
 */
static int
run_campaign(char **argv, const char *stats_env, const char *stats_path,
             struct run_result *r)
{
    int fds[2];
    memset(r, 0, sizeof *r);
    if (pipe2(fds, O_CLOEXEC) != 0) {
        perror("ftfuzz fuzz: pipe");
        return -1;
    }
    double start = now_s();
    const char *env[] = {stats_env, NULL};
    pid_t pid = spawn(argv, env, fds[1]);
    if (pid < 0)
        return -1;
    close(fds[1]);
    FILE *in = fdopen(fds[0], "r");
    char line[8192];
    /* libFuzzer writes to stderr; so do its lines and ours here. */
    while (in && fgets(line, sizeof line, in)) {
        fputs(line, stderr);
        if (strstr(line, "exec/s"))
            print_stats(stats_path, now_s() - start, stderr);
    }
    if (in)
        fclose(in);
    if (wait_program(pid, r) != 0)
        return -1;
    print_stats(stats_path, now_s() - start, stdout);
    return 0;
}

/* Executions so far, from the FTFUZZ_STATS file. */
static unsigned long long
stats_execs(const char *path)
{
    struct campaign_stats *s = malloc(sizeof *s);
    unsigned long long execs = 0;
    if (!s)
        return 0;
    read_stats(path, s);
    for (int i = 0; i < s->npids; i++)
        execs += s->execs[i];
    free(s);
    return execs;
}

/* 1 when files a and b have the same contents. */
static int
same_file(const char *a, const char *b)
{
    FILE *fa = fopen(a, "rb"), *fb = fopen(b, "rb");
    int same = fa && fb;
    while (same) {
        int ca = fgetc(fa), cb = fgetc(fb);
        same = ca == cb;
        if (ca == EOF)
            break;
    }
    if (fa)
        fclose(fa);
    if (fb)
        fclose(fb);
    return same;
}

/* Removes from seeds_dir the seeds that a crash file of out repeats. */
static void
drop_failing_seeds(const char *out, const char *seeds_dir)
{
    DIR *d = opendir(out);
    struct dirent *e;
    while (d && (e = readdir(d))) {
        size_t len = strlen(e->d_name);
        if (strncmp(e->d_name, "crash-", 6)
            || (len > 5 && !strcmp(e->d_name + len - 5, ".meta")))
            continue;
        char crash[4600];
        snprintf(crash, sizeof crash, "%s/%s", out, e->d_name);
        DIR *s = opendir(seeds_dir);
        struct dirent *f;
        while (s && (f = readdir(s))) {
            char seed[4600];
            snprintf(seed, sizeof seed, "%s/%s", seeds_dir, f->d_name);
            if (f->d_name[0] != '.' && same_file(crash, seed))
                unlink(seed);
        }
        if (s)
            closedir(s);
    }
    if (d)
        closedir(d);
}

/* A findings directory's crash files get a .meta naming the target and
 * the spec, so that `ftfuzz replay FILE` needs no flags. */
static void
write_spec_metas(const char *dir, const char *spec)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    while (d && (e = readdir(d))) {
        const char *n = e->d_name;
        size_t len = strlen(n);
        if (strncmp(n, "crash-", 6) && strncmp(n, "timeout-", 8)
            && strncmp(n, "oom-", 4))
            continue;
        if (len > 5 && !strcmp(n + len - 5, ".meta"))
            continue;
        char meta[4400];
        snprintf(meta, sizeof meta, "%s/%s.meta", dir, n);
        if (access(meta, F_OK) == 0)
            continue;
        FILE *f = fopen(meta, "w");
        if (f) {
            fprintf(f, "target: fuzz_spec\nspec: %s\n", spec);
            fclose(f);
        }
    }
    if (d)
        closedir(d);
}

/*
 * Each crash, timeout and out-of-memory file of dir gets an anchored twin,
 * anchored-NAME, when its execution fits as anchors (docs/program-format.md):
 * libFuzzer's file keeps the mutator's form (a seed, step counts), which a
 * rebuild can move; the twin survives changes elsewhere in the program.
 * Returns how many were written.
 */
static int
anchor_findings(const char *dir, const char *target)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    int written = 0;
    while (d && (e = readdir(d))) {
        const char *n = e->d_name;
        size_t len = strlen(n);
        if ((strncmp(n, "crash-", 6) && strncmp(n, "timeout-", 8)
             && strncmp(n, "oom-", 4))
            || (len > 5 && !strcmp(n + len - 5, ".meta")))
            continue;
        char path[4400], out[4500], meta[4500], out_meta[4600];
        snprintf(path, sizeof path, "%s/%s", dir, n);
        snprintf(out, sizeof out, "%s/anchored-%s", dir, n);
        if (access(out, F_OK) == 0)
            continue;
        if (anchor_finding(target, path, out) == 1) {
            written++;
            snprintf(meta, sizeof meta, "%s.meta", path);
            snprintf(out_meta, sizeof out_meta, "%s.meta", out);
            if (access(meta, R_OK) == 0) {
                FILE *a = fopen(meta, "r"), *b = fopen(out_meta, "w");
                int c;
                while (a && b && (c = fgetc(a)) != EOF)
                    fputc(c, b);
                if (a)
                    fclose(a);
                if (b)
                    fclose(b);
            }
        }
    }
    if (d)
        closedir(d);
    return written;
}

/*
 * The campaign: libFuzzer's fork mode over all cores, crashes, timeouts
 * and out-of-memory inputs saved and not fatal, for a bounded time.  With
 * --runs, one process instead, for a number of executions: libFuzzer with
 * -seed is deterministic there, and it is restarted (seed + 1) after each
 * finding until the executions are spent, so one budget finds several
 * races and gives the same findings every time.
 */
int
cmd_fuzz(int argc, char **argv)
{
    int dd;
    int first = parse_flags(find_cmd("fuzz"), argc, argv, &dd);
    if (first < 0)
        return 2;
    const char *family = "mixed";
    int named = 0;
    if (first < argc && !dd) {
        family = argv[first++];
        named = 1;
        if (!strncmp(family, "fuzz_", 5))
            family += 5;
        if (first < argc && !strcmp(argv[first], "--"))
            first++;
    }
    size_t known = 0;
    for (size_t i = 0; i < FTFUZZ_NFAMILIES; i++)
        known |= !strcmp(family, families[i]);
    if (!known) {
        fprintf(stderr, "ftfuzz fuzz: unknown target '%s' (ftfuzz targets "
                        "lists them)\n", family);
        return 2;
    }
    int spec = use_spec("fuzz", NULL);
    if (spec < 0)
        return 2;
    if (spec && named && strcmp(family, "spec")) {
        fprintf(stderr, "ftfuzz fuzz: --spec fuzzes with fuzz_spec, not "
                        "fuzz_%s\n", family);
        return 2;
    }
    if (spec)
        family = "spec";
    else if (!strcmp(family, "spec")) {
        fprintf(stderr, "ftfuzz fuzz: fuzz_spec needs --spec FILE.toml "
                        "(docs/extension-spec.md)\n");
        return 2;
    }
    uint64_t seconds, jobs, runs = 0, seed = 0;
    int runs_mode = *flag("fuzz", "--runs") != 0;
    if (parse_u64("fuzz", "--time", &seconds)
        || parse_u64("fuzz", "--seed", &seed)
        || (runs_mode && parse_u64("fuzz", "--runs", &runs)))
        return 2;
    if (runs_mode && runs == 0) {
        fprintf(stderr, "ftfuzz fuzz: --runs must be at least 1\n");
        return 2;
    }
    if (*flag("fuzz", "--jobs")) {
        if (parse_u64("fuzz", "--jobs", &jobs))
            return 2;
    } else {
        long n = sysconf(_SC_NPROCESSORS_ONLN);
        jobs = n > 0 ? (uint64_t)n : 1;
    }
    char target[4096], out[4096], corpus[4200], seeds[4200];
    char name[64];
    snprintf(name, sizeof name, "fuzz_%s", family);
    if (cli_target_path("fuzz", name, target, sizeof target))
        return 2;
    const char *spec_path = spec ? getenv("FTFUZZ_SPEC") : NULL;
    if (spec_path) {
        /* findings of different specs stay apart: fuzz_spec-NAME */
        char name[256];
        snprintf(name, sizeof name, "%s", strrchr(spec_path, '/') + 1);
        char *dot = strrchr(name, '.');
        if (dot && dot != name)
            *dot = '\0';
        snprintf(out, sizeof out, "%s/fuzz_spec-%s", flag("fuzz", "--out"),
                 name);
    } else {
        snprintf(out, sizeof out, "%s/fuzz_%s", flag("fuzz", "--out"),
                 family);
    }
    snprintf(corpus, sizeof corpus, "%s/corpus", out);
    if (make_dir(flag("fuzz", "--out")) || make_dir(out) || make_dir(corpus))
        return 2;
    snprintf(seeds, sizeof seeds, "%s/corpus/fuzz_%s", cli_data_dir(),
             family);

    /* Seeds for the spec's types, written by the target itself: each pair
     * of operations of a type on two threads (spec.c).  fuzz_ext has
     * hundreds of pairs: its seeds are in corpus/fuzz_ext. */
    char gen_seeds[4300] = "";
    if (!strcmp(family, "spec")) {
        snprintf(gen_seeds, sizeof gen_seeds, "%s/seeds", out);
        if (make_dir(gen_seeds))
            return 2;
        DIR *d = opendir(gen_seeds);
        struct dirent *e;
        while (d && (e = readdir(d))) {
            char old[4600];
            snprintf(old, sizeof old, "%s/%s", gen_seeds, e->d_name);
            if (!strncmp(e->d_name, "seed-", 5))
                unlink(old);
        }
        if (d)
            closedir(d);
        char env_seeds[4400];
        snprintf(env_seeds, sizeof env_seeds, "FTFUZZ_WRITE_SEEDS=%s",
                 gen_seeds);
        /* a preemption every 4 points of each pair (spec.c) */
        const char *env[] = {env_seeds, "FTFUZZ_SEED_SWEEP=4", NULL};
        char *gen_argv[] = {target, NULL};
        struct run_result g;
        if (run_program(gen_argv, env, NULL, NULL, &g) != 0 || !g.exited
            || g.status != 0) {
            fprintf(stderr, "ftfuzz fuzz: %s could not write its seeds "
                            "(above)\n", target);
            return 2;
        }
    }

    char a_fork[64], a_time[64], a_prefix[4300], a_dict[4200], a_runs[64],
        a_seed[64];
    snprintf(a_dict, sizeof a_dict, "-dict=%s.dict", target);
    snprintf(a_fork, sizeof a_fork, "-fork=%llu", (unsigned long long)jobs);
    snprintf(a_time, sizeof a_time, "-max_total_time=%llu",
             (unsigned long long)seconds);
    snprintf(a_prefix, sizeof a_prefix, "-artifact_prefix=%s/", out);
    char **args = calloc((size_t)argc + 16, sizeof *args);
    int n = 0, runs_at = 0, seed_at = 0;
    args[n++] = target;
    if (runs_mode) {
        runs_at = n++;
        seed_at = n++;
    } else {
        args[n++] = a_fork;
        args[n++] = "-ignore_crashes=1";
        args[n++] = "-ignore_timeouts=1";
        args[n++] = "-ignore_ooms=1";
        args[n++] = a_time;
    }
    args[n++] = a_prefix;
    if (access(a_dict + 6, R_OK) == 0)
        args[n++] = a_dict;
    /* The first directory is where libFuzzer writes new inputs: ours,
     * never one the user passed after --. */
    args[n++] = corpus;
    for (int i = first; i < argc; i++)
        args[n++] = argv[i];
    if (access(seeds, R_OK) == 0)
        args[n++] = seeds;
    if (gen_seeds[0])
        args[n++] = gen_seeds;
    if (runs_mode)
        printf("fuzz: fuzz_%s for %llu executions in one process (seed "
               "%llu); corpus %s, findings in %s/\n",
               family, (unsigned long long)runs, (unsigned long long)seed,
               corpus, out);
    else
        printf("fuzz: fuzz_%s for %llu s on %llu processes; corpus %s, "
               "findings in %s/\n",
               family, (unsigned long long)seconds,
               (unsigned long long)jobs, corpus, out);
    if (spec_path)
        printf("fuzz: spec %s\n", spec_path);
    fflush(stdout);
    char stats[4300], stats_env[4400];
    snprintf(stats, sizeof stats, "%s/stats", out);
    snprintf(stats_env, sizeof stats_env, "FTFUZZ_STATS=%s", stats);
    unlink(stats);
    struct run_result r;
    unsigned long long done = 0;
    for (unsigned k = 0;; k++) {
        if (runs_mode) {
            snprintf(a_runs, sizeof a_runs, "-runs=%llu",
                     (unsigned long long)runs - done);
            snprintf(a_seed, sizeof a_seed, "-seed=%llu",
                     (unsigned long long)(seed + k));
            args[runs_at] = a_runs;
            args[seed_at] = a_seed;
        }
        int crashes_before = count_files(out, "crash-");
        if (run_campaign(args, stats_env, stats, &r) != 0)
            return 2;
        if (!runs_mode)
            break;
        unsigned long long now = stats_execs(stats);
        int found = count_files(out, "crash-") > crashes_before;
        if (r.exited && r.status == 0)
            break;                        /* the budget is spent */
        if (!found || now <= done) {
            fprintf(stderr, "fuzz: libFuzzer stopped without a finding "
                            "(exit %d, signal %d)\n", r.status, r.signal);
            free(args);
            return 1;
        }
        done = now;
        if (done >= runs)
            break;
        /* a generated seed that fails would stop every restart at once */
        if (gen_seeds[0])
            drop_failing_seeds(out, gen_seeds);
        printf("fuzz: a finding after %llu of %llu executions; going on "
               "with seed %llu\n", done, (unsigned long long)runs,
               (unsigned long long)(seed + k + 1));
        fflush(stdout);
    }
    free(args);
    if (spec_path)
        write_spec_metas(out, spec_path);
    int crashes = count_files(out, "crash-");
    int timeouts = count_files(out, "timeout-");
    int ooms = count_files(out, "oom-");
    int anchored = crashes + timeouts + ooms ? anchor_findings(out, target)
                                             : 0;
    printf("fuzz: done: %d corpus inputs, findings: %d crash, %d timeout, "
           "%d out-of-memory (in %s/; %d of them also as anchored-NAME, "
           "which later builds replay better)\n",
           count_files(corpus, ""), crashes, timeouts, ooms, out, anchored);
    /* the summary: the findings in buckets (ftfuzz triage DIR) */
    if (crashes + timeouts + ooms > 0 && !spec_path) {
        char tname[64];
        snprintf(tname, sizeof tname, "fuzz_%s", family);
        printf("\n");
        fflush(stdout);
        triage_dir(out, tname, 0);
    } else if (crashes + timeouts + ooms > 0) {
        printf("fuzz: ftfuzz triage does not group fuzz_spec findings yet: "
               "replay them one by one (ftfuzz replay FILE)\n");
    }
    if (!runs_mode
        && (!r.exited || (r.status != 0 && crashes + timeouts + ooms == 0))) {
        fprintf(stderr, "fuzz: libFuzzer stopped abnormally\n");
        return 1;
    }
    return 0;
}

int
cmd_regress(int argc, char **argv)
{
    /* scripts/regress.py does the work (docs/regress.md).  Its arguments
     * are passed through unchanged: it parses them and has the --help. */
    char script[4096];
    snprintf(script, sizeof script, "%s/scripts/regress.py", cli_data_dir());
    /* regress.py finds this ftfuzz and its targets through these, so that
     * an installed ftfuzz checks its own */
    setenv("FTFUZZ_SELF", cli_self(), 1);
    setenv("FTFUZZ_TARGETS_DIR", cli_targets_dir(), 1);
    char **args = calloc((size_t)argc + 2, sizeof *args);
    if (!args) {
        perror("ftfuzz regress");
        return 2;
    }
    int n = 0;
    args[n++] = "python3";
    args[n++] = script;
    for (int i = 1; i < argc; i++)
        args[n++] = argv[i];
    args[n] = NULL;
    fflush(stdout);
    execv("/usr/bin/python3", args);
    execvp("python3", args);
    fprintf(stderr, "ftfuzz regress: cannot run python3 %s: %s\n", script,
            strerror(errno));
    free(args);
    return 2;
}

int
cmd_targets(int argc, char **argv)
{
    int dd;
    if (parse_flags(find_cmd("targets"), argc, argv, &dd) < 0)
        return 2;
    for (size_t i = 0; i < FTFUZZ_NFAMILIES; i++) {
        char path[4096];
        snprintf(path, sizeof path, "%s/fuzz_%s", cli_targets_dir(),
                 families[i]);
        printf("  fuzz_%-10s %s\n", families[i],
               access(path, X_OK) == 0 ? path : "(not built: make cpython all)");
    }
    return 0;
}

int
cmd_env(int argc, char **argv)
{
    int dd;
    if (parse_flags(find_cmd("env"), argc, argv, &dd) < 0)
        return 2;
    static const char *const types[] = {
        [FTFUZZ_ENV_STR] = "text", [FTFUZZ_ENV_U64] = "number",
        [FTFUZZ_ENV_POS] = "number >= 1", [FTFUZZ_ENV_BOOL] = "0 or 1",
    };
    for (size_t i = 0; i < FTFUZZ_ENV_COUNT; i++) {
        const struct ftfuzz_env_var *v = &ftfuzz_env_vars[i];
        printf("  %s  (%s%s%s)\n      %s\n", v->name, types[v->type],
               *v->dflt ? ", default " : "", v->dflt, v->help);
    }
    return 0;
}

int
main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    /* a malformed FTFUZZ_* value stops here; the processes this one
     * starts need not warn again about unknown names */
    ftfuzz_env_validate(environ);
    setenv("FTFUZZ_ENV_CHECKED", "1", 1);
    if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")
        || !strcmp(argv[1], "help")) {
        const struct cmd *c = NULL;
        for (size_t i = 0; argc > 2 && i < NCOMMANDS; i++)
            if (!strcmp(argv[2], commands[i].name))
                c = &commands[i];
        if (argc > 2 && !c) {
            fprintf(stderr, "ftfuzz: unknown command '%s'\n\n", argv[2]);
            usage(stderr);
            return 2;
        }
        if (c)
            command_help(c, stdout);
        else
            usage(stdout);
        return 0;
    }
    for (size_t i = 0; i < NCOMMANDS; i++)
        if (!strcmp(argv[1], commands[i].name))
            return commands[i].run(argc - 1, argv + 1);
    fprintf(stderr, "ftfuzz: unknown command '%s'\n\n", argv[1]);
    usage(stderr);
    return 2;
}
