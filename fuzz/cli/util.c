/*
 * What several ftfuzz commands use: running programs and reading their
 * result file, files and directories, the fuzz target families and
 * finding the target of an input.  Calls no command.
 *
 * Programs built with scripts/ftfuzz-cc run each schedule in a fresh
 * process (so no state survives between runs), with address-space
 * randomization off (set once and inherited), and report back through
 * the result file the program's automatic session writes (FTFUZZ_RESULT).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "ftfuzz/aslr.h"
#include "ftfuzz/result.h"

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
int
run_failed(const struct run_result *r, int expect_exit)
{
    return !r->exited || r->status != expect_exit || !r->have_result
           || strcmp(r->verdict, "passed");
}

const char *
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

char *
slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    size_t cap = 1 << 16, n = 0;
    char *buf = malloc(cap + 1);
    size_t k;
    while (buf && (k = fread(buf + n, 1, cap - n, f)) > 0) {
        n += k;
        if (n == cap) {
            char *b = realloc(buf, 2 * cap + 1);
            if (!b) {
                free(buf);
                buf = NULL;
                break;
            }
            buf = b;
            cap *= 2;
        }
    }
    fclose(f);
    if (buf)
        buf[n] = 0;
    if (len)
        *len = n;
    return buf;
}

/* fuzz_<family> for the input: --target, its .meta, its directory's name,
 * else fuzz_mixed. */
static void
pick_target(const char *cmd, const char *input, char *out, size_t n,
            int quiet)
{
    const char *given = flag(cmd, "--target");
    if (*given) {
        snprintf(out, n, "%s%s", strncmp(given, "fuzz_", 5) ? "fuzz_" : "",
                 given);
        return;
    }
    char meta[4200];
    snprintf(meta, sizeof meta, "%s.meta", input);
    FILE *f = fopen(meta, "r");
    if (f) {
        char line[512], t[64];
        while (fgets(line, sizeof line, f))
            if (sscanf(line, "target: %63s", t) == 1) {
                snprintf(out, n, "%s", t);
                fclose(f);
                return;
            }
        fclose(f);
    }
    char copy[4096];
    snprintf(copy, sizeof copy, "%s", input);
    const char *dir = basename(dirname(copy));
    for (size_t i = 0; i < FTFUZZ_NFAMILIES; i++) {
        char name[64];
        snprintf(name, sizeof name, "fuzz_%s", families[i]);
        if (!strcmp(dir, name)) {
            snprintf(out, n, "%s", name);
            return;
        }
    }
    if (!quiet)
        fprintf(stderr, "ftfuzz %s: no --target, no %s.meta and no "
                        "fuzz_<family> directory: using fuzz_mixed\n",
                cmd, input);
    snprintf(out, n, "fuzz_mixed");
}

static int
valid_target(const char *name)
{
    for (size_t i = 0; i < FTFUZZ_NFAMILIES; i++) {
        char t[64];
        snprintf(t, sizeof t, "fuzz_%s", families[i]);
        if (!strcmp(name, t))
            return 1;
    }
    return 0;
}

int
resolve_target(const char *cmd, const char *input, char *path, size_t n,
               char *name, size_t nname, int quiet)
{
    char meta[4200];
    snprintf(meta, sizeof meta, "%s.meta", input);
    int spec = use_spec(cmd, meta);
    if (spec < 0)
        return -1;
    if (spec && !*flag(cmd, "--target"))
        snprintf(name, nname, "fuzz_spec");
    else
        pick_target(cmd, input, name, nname, quiet);
    if (!strcmp(name, "fuzz_spec") && !getenv("FTFUZZ_SPEC")) {
        fprintf(stderr, "ftfuzz %s: fuzz_spec needs the spec the input was "
                        "found with: give --spec FILE.toml\n", cmd);
        return -1;
    }
    if (!valid_target(name)) {
        fprintf(stderr, "ftfuzz %s: unknown target '%s' (ftfuzz targets "
                        "lists them)\n", cmd, name);
        return -1;
    }
    if (!*flag(cmd, "--targets-dir")) {
        /* a scenario explored with --plain-accesses names its target's
         * directory (build/plain/fuzz) in its .meta */
        char line[4200], tdir[4096] = "";
        FILE *mf = fopen(meta, "r");
        while (mf && fgets(line, sizeof line, mf))
            sscanf(line, "targets-dir: %4095s", tdir);
        if (mf)
            fclose(mf);
        if (*tdir) {
            snprintf(path, n, "%s/%s", tdir, name);
            if (access(path, X_OK) != 0) {
                fprintf(stderr, "ftfuzz %s: %s is not built: run 'make "
                                "plain-cpython' in the ftfuzz checkout\n",
                        cmd, path);
                return -1;
            }
            return 0;
        }
    }
    return cli_target_path(cmd, name, path, n);
}
