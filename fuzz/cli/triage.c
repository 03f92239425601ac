/*
 * `ftfuzz triage DIR`, the bucket table of buckets.c; `ftfuzz triage
 * --promote BUCKET NAME DIR`: a bucket's representative added to the
 * regression corpus.
 */
#include <errno.h>
#include <glob.h>
#include <libgen.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"

/* The expected: line of a .meta for a verdict (corpus/regressions/README.md). */
static void
expected_text(const char *verdict, char *out, size_t n)
{
    static const char *const sigs[] = {[4] = "SIGILL", [6] = "SIGABRT",
                                       [7] = "SIGBUS", [8] = "SIGFPE",
                                       [11] = "SIGSEGV"};
    int sig = 0;
    char v[32];
    if (sscanf(verdict, "%31[^:]:%d", v, &sig) < 1)
        snprintf(v, sizeof v, "%s", verdict);
    if (!strcmp(v, "crash"))
        snprintf(out, n, "crash%s%s%s",
                 sig > 0 && sig < 12 && sigs[sig] ? " (" : "",
                 sig > 0 && sig < 12 && sigs[sig] ? sigs[sig] : "",
                 sig > 0 && sig < 12 && sigs[sig] ? ")" : "");
    else if (!strcmp(v, "linearizability"))
        snprintf(out, n, "linearizability violation");
    else
        snprintf(out, n, "%s", v);
}

/* The CPython version of the fuzz build (its patchlevel.h). */
static void
cpython_version(char *out, size_t n)
{
    glob_t g;
    char pattern[4200];
    snprintf(out, n, "unknown");
    snprintf(pattern, sizeof pattern,
             "%s/build/cpython-fuzz/include/python3*/patchlevel.h",
             cli_data_dir());
    if (glob(pattern, 0, NULL, &g) != 0)
        return;
    FILE *f = fopen(g.gl_pathv[0], "r");
    char line[256];
    while (f && fgets(line, sizeof line, f))
        if (sscanf(line, "#define PY_VERSION \"%63[^\"]\"", out) == 1)
            break;
    if (f)
        fclose(f);
    globfree(&g);
}

static int
promote(const char *bucket, const char *name, const char *dir)
{
    char tsv[4300], line[8192];
    snprintf(tsv, sizeof tsv, "%s/triage.tsv", dir);
    FILE *t = fopen(tsv, "r");
    if (!t) {
        fprintf(stderr, "ftfuzz triage: %s: %s (run 'ftfuzz triage %s' "
                        "first)\n", tsv, strerror(errno), dir);
        return 2;
    }
    if (!*name || strchr(name, '/') || name[0] == '.') {
        fprintf(stderr, "ftfuzz triage: '%s' is not a file name\n", name);
        fclose(t);
        return 2;
    }
    char *field[7] = {0};
    int found = 0;
    while (!found && fgets(line, sizeof line, t)) {
        line[strcspn(line, "\n")] = 0;
        char *save = NULL;
        int k = 0;
        for (char *c = strtok_r(line, "\t", &save); c && k < 7;
             c = strtok_r(NULL, "\t", &save))
            field[k++] = c;
        found = k == 7 && !strcmp(field[0], bucket);
    }
    fclose(t);
    if (!found) {
        fprintf(stderr, "ftfuzz triage: no bucket %s in %s\n", bucket, tsv);
        return 2;
    }
    char to[4400], meta[4500], version[64], expected[96], reg[4200];
    regressions_dir(reg, sizeof reg);
    snprintf(to, sizeof to, "%s/%s", reg, name);
    snprintf(meta, sizeof meta, "%s.meta", to);
    if (access(to, F_OK) == 0 || access(meta, F_OK) == 0) {
        fprintf(stderr, "ftfuzz triage: %s already exists\n", to);
        return 2;
    }
    if (strcmp(field[5], "new"))
        fprintf(stderr, "ftfuzz triage: note: bucket %s is already in the "
                        "corpus as %s\n", bucket, field[5]);
    /* the hash of this build, from one replay */
    char target[4300];
    struct replay_details *d = malloc(sizeof *d);
    char tmp[] = "/tmp/ftfuzz-triage-XXXXXX";
    if (!d || target_path(field[6], target, sizeof target) || !mkdtemp(tmp)
        || replay_details(target, field[4], tmp, d) != 0) {
        fprintf(stderr, "ftfuzz triage: cannot replay %s\n", field[4]);
        free(d);
        return 2;
    }
    rmdir(tmp);
    if (copy_file(field[4], to) != 0) {
        fprintf(stderr, "ftfuzz triage: cannot write %s: %s\n", to,
                strerror(errno));
        free(d);
        return 2;
    }
    expected_text(field[2], expected, sizeof expected);
    cpython_version(version, sizeof version);
    FILE *m = fopen(meta, "w");
    if (!m) {
        fprintf(stderr, "ftfuzz triage: cannot write %s\n", meta);
        free(d);
        return 2;
    }
    fprintf(m, "target: %s\n", field[6]);
    fprintf(m, "exercises: (describe the race)\n");
    fprintf(m, "expected: %s\n", expected);
    fprintf(m, "fails-on: CPython %s free-threaded debug (the build that "
               "found it)\n", version);
    fprintf(m, "trace-hash: 0x%016llx\n", d->o.hash);
    if (d->o.diagnosis[0])
        fprintf(m, "diagnosis: %s\n", d->o.diagnosis);
    fprintf(m, "signature: %s\n", field[3]);
    fprintf(m, "found: ftfuzz triage of %s, bucket %s (%s findings), "
               "representative %s\n", dir, bucket, field[1], field[4]);
    fclose(m);
    printf("triage: bucket %s -> %s (and %s.meta: fill in exercises, "
           "note)\n", bucket, to, name);
    free(d);
    return 0;
}

int
cmd_triage(int argc, char **argv)
{
    int dd;
    int first = parse_flags(find_cmd("triage"), argc, argv, &dd);
    if (first < 0)
        return 2;
    const char *bucket = flag("triage", "--promote");
    if (*bucket) {
        if (first + 2 != argc) {
            fprintf(stderr, "ftfuzz triage: --promote BUCKET takes NAME "
                            "and DIR\n");
            return 2;
        }
        return promote(bucket, argv[first], argv[first + 1]);
    }
    if (first + 1 != argc) {
        fprintf(stderr, "ftfuzz triage: give one findings DIR (e.g. "
                        "findings/fuzz_mixed)\n");
        return 2;
    }
    const char *dir = argv[first];
    char name[64];
    const char *given = flag("triage", "--target");
    if (*given) {
        snprintf(name, sizeof name, "%s%s",
                 strncmp(given, "fuzz_", 5) ? "fuzz_" : "", given);
    } else {
        char copy[4096];
        snprintf(copy, sizeof copy, "%s", dir);
        snprintf(name, sizeof name, "%s", basename(copy));
        int known = 0;
        for (size_t i = 0; i < FTFUZZ_NFAMILIES; i++) {
            char t[64];
            snprintf(t, sizeof t, "fuzz_%s", families[i]);
            known |= !strcmp(name, t) && strcmp(name, "fuzz_spec");
        }
        if (!known) {
            fprintf(stderr, "ftfuzz triage: %s is not a fuzz_<family> "
                            "directory: give --target\n", dir);
            return 2;
        }
    }
    struct stat st;
    if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
        fprintf(stderr, "ftfuzz triage: %s is not a directory\n", dir);
        return 2;
    }
    disable_aslr();
    return triage_dir(dir, name, *flag("triage", "--minimize") != 0) ? 2 : 0;
}
