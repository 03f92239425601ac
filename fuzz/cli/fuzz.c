/*
 * `ftfuzz fuzz`: a libFuzzer campaign over a fuzz target, with ftfuzz's
 * own figures, anchored twins of the findings and their triage.
 */
#include <dirent.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"

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
