/*
 * The buckets of `ftfuzz triage DIR` (triage.c): groups a campaign's
 * findings into buckets, one per signature, and says which are already in
 * the regression corpus.  Also the summary at the end of `ftfuzz fuzz`.
 *
 * A signature must survive a rebuild (another layout moves the steps and
 * the addresses, not the functions): the verdict (with the signal of a
 * crash), CPython's diagnosis kind (ftfuzz/diagnosis.h), and the first
 * function of the failing thread's stack outside the runtime: the crash
 * reporting, the refcount helpers, the allocator, the collector, the call
 * machinery and ftfuzz's own harness.  A negative reference count the
 * collector finds has only the collector on its stack; its signature names
 * instead the kinds of the program's objects through which the broken
 * type was used (a set's count broken through a set_iterator).  Which
 * operation broke it would need the object's refcount history.
 */
#include <dirent.h>
#include <errno.h>
#include <libgen.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"

#define SIG_MAX 512

/* One frame: the function that failed.  Its caller splits one race by
 * the operation that reached it (ga_iternext under list(), tuple() or
 * next()), which the program already says. */
#define FRAMES_IN_SIGNATURE 1

/* Functions that are not where a race is: matched as a prefix. */
static const char *const runtime_prefixes[] = {
    /* reporting the error */
    "__pthread_kill", "pthread_kill", "raise", "gsignal", "abort",
    "__assert_fail", "fatal_error", "_Py_FatalError", "Py_FatalError",
    "_PyObject_AssertFailed", "_Py_NegativeRefcount",
    /* reference counting */
    "Py_DECREF", "Py_XDECREF", "Py_INCREF", "Py_XINCREF", "Py_CLEAR",
    "Py_SETREF", "Py_XSETREF", "Py_NewRef", "Py_XNewRef", "_Py_Dealloc",
    "_Py_DecRef", "_Py_IncRef", "_Py_MergeZeroLocalRefcount",
    "_Py_ExplicitMergeRefcount", "_Py_TryIncref", "_Py_IsOwnedByCurrentThread",
    "_Py_ThreadId", "_Py_atomic_", "_Py_REF", "_Py_brc_",
    /* the allocator */
    "_PyMem_", "PyMem_", "_PyObject_Malloc", "_PyObject_Free",
    "_PyObject_Realloc", "PyObject_Malloc", "PyObject_Free",
    "PyObject_Realloc", "PyObject_GC_Del", "_PyObject_GC_", "mi_", "_mi_",
    "malloc", "free", "realloc", "calloc",
    /* the collector */
    "update_refs", "gc_", "_PyGC_", "deduce_unreachable", "PyGC_",
    /* the call machinery */
    "_PyObject_Vectorcall", "PyObject_Vectorcall", "_PyObject_Call",
    "PyObject_Call", "cfunction_", "method_vectorcall", "_PyEval_",
    "_PyFunction_Vectorcall", "vectorcall",
    /* ftfuzz */
    "harness_", "thread_body", "ftfuzz_", "__wrap_", "report_",
};

static int
is_runtime(const char *func)
{
    for (size_t i = 0;
         i < sizeof runtime_prefixes / sizeof runtime_prefixes[0]; i++)
        if (!strncmp(func, runtime_prefixes[i], strlen(runtime_prefixes[i])))
            return 1;
    return !strcmp(func, "??");
}

/* The type a diagnosis kind names ("negative refcount of set ..."). */
static void
kind_type(const char *kind, char *type, size_t n)
{
    type[0] = 0;
    const char *p = strstr(kind, " of ");
    if (strncmp(kind, "negative refcount", 17) || !p)
        return;
    snprintf(type, n, "%s", p + 4);
    type[strcspn(type, " ")] = 0;
}

/* "via set_iterator": the kinds of the program's objects over `type`
 * (iterators, views), else `type` itself.  In 3.13 a container's own
 * methods take its critical section and its iterators do not, so an
 * iterator over it, when there is one, is where its count breaks. */
static void
via_kinds(const struct replay_details *d, const char *type, char *out,
          size_t n)
{
    size_t tl = strlen(type), used = 0;
    int over = 0;
    out[0] = 0;
    for (unsigned i = 0; i < d->nobjects; i++)
        over |= !strncmp(d->object_kind[i], type, tl)
                && d->object_kind[i][tl] == '_';
    for (unsigned i = 0; i < d->nobjects; i++) {
        const char *k = d->object_kind[i];
        if (over ? !(strncmp(k, type, tl) == 0 && k[tl] == '_')
                 : strcmp(k, type) != 0)
            continue;
        char word[40];
        snprintf(word, sizeof word, "%s", k);
        /* each kind once, in the order of the objects */
        int seen = 0;
        for (const char *p = out; (p = strstr(p, word)); p++)
            seen |= (p == out || p[-1] == ' ' || p[-1] == '/')
                    && (p[strlen(word)] == 0 || p[strlen(word)] == '/');
        if (!seen && used < n)
            used += (size_t)snprintf(out + used, n - used, "%s%s",
                                     used ? "/" : "via ", word);
    }
    if (!out[0])
        snprintf(out, n, "via %s", type);
}

/* The signature of one execution (see the top of the file). */
static void
signature(const struct replay_details *d, char *sig, size_t n)
{
    const struct replay_outcome *o = &d->o;
    char verdict[48], frames[256] = "";
    if (o->signal && strcmp(o->verdict, "linearizability"))
        snprintf(verdict, sizeof verdict, "%s:%d", o->verdict, o->signal);
    else
        snprintf(verdict, sizeof verdict, "%s", o->verdict);
    size_t used = 0;
    unsigned found = 0;
    for (unsigned i = 0; i < d->nfuncs && found < FRAMES_IN_SIGNATURE; i++) {
        if (is_runtime(d->funcs[i]))
            continue;
        used += (size_t)snprintf(frames + used, sizeof frames - used,
                                 "%s%s", found ? " < " : "", d->funcs[i]);
        found++;
    }
    char type[96];
    kind_type(o->diagnosis, type, sizeof type);
    if (type[0] && (found == 0 || strstr(o->diagnosis, "collector")))
        via_kinds(d, type, frames, sizeof frames);
    snprintf(sig, n, "%s | %s | %s", verdict,
             o->diagnosis[0] ? o->diagnosis : "-", frames[0] ? frames : "-");
}

struct finding {
    char path[4200];
    long size;
    char sig[SIG_MAX];
    char verdict[32];
    int signal;
};

struct bucket {
    char sig[SIG_MAX];
    char verdict[32];
    int signal;
    int count;
    const struct finding *rep;    /* the smallest input */
    char known[256];              /* regression inputs with this signature */
};

static int
is_input(const char *name)
{
    size_t len = strlen(name);
    static const char *const skip[] = {".meta", ".repro.py", ".trace",
                                       ".timeline.svg", ".min", ".tsv",
                                       ".txt", ".md", ".log"};
    if (name[0] == '.')
        return 0;
    for (size_t i = 0; i < sizeof skip / sizeof skip[0]; i++) {
        size_t k = strlen(skip[i]);
        if (len > k && !strcmp(name + len - k, skip[i]))
            return 0;
    }
    return 1;
}

/* Signature of one input file; 0 if it failed, 1 if it passed, -1. */
static int
input_signature(const char *target, const char *path, const char *tmp,
                struct finding *f)
{
    struct replay_details *d = malloc(sizeof *d);
    if (!d || replay_details(target, path, tmp, d) != 0) {
        free(d);
        return -1;
    }
    signature(d, f->sig, sizeof f->sig);
    snprintf(f->verdict, sizeof f->verdict, "%s", d->o.verdict);
    f->signal = d->o.signal;
    int passed = !strcmp(d->o.verdict, "passed");
    free(d);
    return passed;
}

static int
cmp_bucket(const void *a, const void *b)
{
    const struct bucket *x = a, *y = b;
    if (x->count != y->count)
        return y->count - x->count;
    return strcmp(x->sig, y->sig);
}

/* The fuzz target binary for name (fuzz_mixed ...), or -1. */
int
target_path(const char *name, char *path, size_t n)
{
    return cli_target_path("triage", name, path, n);
}

/* The regression corpus: --regressions, else the data directory's. */
void
regressions_dir(char *dir, size_t n)
{
    const char *reg = flag("triage", "--regressions");
    if (*reg)
        snprintf(dir, n, "%s", reg);
    else
        snprintf(dir, n, "%s/corpus/regressions", cli_data_dir());
}

/* Marks each bucket whose signature a regression input of the same target
 * has. */
static void
known_as(struct bucket *b, size_t nb, const char *target_name,
         const char *tmp)
{
    char dir[4200];
    regressions_dir(dir, sizeof dir);
    DIR *d = opendir(dir);
    struct dirent *e;
    while (d && (e = readdir(d))) {
        if (!is_input(e->d_name))
            continue;
        char path[4600], meta[4700], line[512], t[64] = "";
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        snprintf(meta, sizeof meta, "%s.meta", path);
        FILE *m = fopen(meta, "r");
        while (m && fgets(line, sizeof line, m))
            sscanf(line, "target: %63s", t);
        if (m)
            fclose(m);
        char tpath[4300];
        if (strcmp(t, target_name) || target_path(t, tpath, sizeof tpath))
            continue;
        struct finding f;
        if (input_signature(tpath, path, tmp, &f) != 0)
            continue;
        for (size_t i = 0; i < nb; i++)
            if (!strcmp(b[i].sig, f.sig)) {
                size_t len = strlen(b[i].known);
                snprintf(b[i].known + len, sizeof b[i].known - len, "%s%s",
                         len ? ", " : "", e->d_name);
            }
    }
    if (d)
        closedir(d);
}

/* The directory of a target's path. */
static const char *
target_dir(const char *target)
{
    static char dir[4300];
    snprintf(dir, sizeof dir, "%s", target);
    char *slash = strrchr(dir, '/');
    if (slash)
        *slash = 0;
    return dir;
}

int
triage_dir(const char *dir, const char *target_name, int minimize)
{
    char target[4300], name[64];
    snprintf(name, sizeof name, "%s", target_name);
    if (target_path(name, target, sizeof target))
        return -1;
    DIR *d = opendir(dir);
    if (!d) {
        fprintf(stderr, "ftfuzz triage: %s: %s\n", dir, strerror(errno));
        return -1;
    }
    size_t nf = 0, cap = 64;
    struct finding *fs = malloc(cap * sizeof *fs);
    struct dirent *e;
    char tmp[] = "/tmp/ftfuzz-triage-XXXXXX";
    if (!fs || !mkdtemp(tmp)) {
        perror("ftfuzz triage");
        closedir(d);
        free(fs);
        return -1;
    }
    int passed = 0, failed = 0;
    while ((e = readdir(d))) {
        const char *n = e->d_name;
        if (strncmp(n, "crash-", 6) && strncmp(n, "timeout-", 8)
            && strncmp(n, "oom-", 4))
            continue;
        if (!is_input(n))
            continue;
        if (nf == cap) {
            struct finding *g = realloc(fs, 2 * cap * sizeof *fs);
            if (!g)
                break;
            fs = g;
            cap *= 2;
        }
        struct finding *f = &fs[nf];
        snprintf(f->path, sizeof f->path, "%s/%s", dir, n);
        struct stat st;
        f->size = stat(f->path, &st) == 0 ? (long)st.st_size : 0;
        int rc = input_signature(target, f->path, tmp, f);
        if (rc == 0)
            nf++;
        else if (rc == 1)
            passed++;
        else
            failed++;
    }
    closedir(d);
    /* buckets */
    struct bucket *b = calloc(nf ? nf : 1, sizeof *b);
    size_t nb = 0;
    for (size_t i = 0; b && i < nf; i++) {
        size_t k = 0;
        while (k < nb && strcmp(b[k].sig, fs[i].sig))
            k++;
        if (k == nb) {
            snprintf(b[k].sig, sizeof b[k].sig, "%s", fs[i].sig);
            snprintf(b[k].verdict, sizeof b[k].verdict, "%s",
                     fs[i].verdict);
            b[k].signal = fs[i].signal;
            nb++;
        }
        b[k].count++;
        if (!b[k].rep || fs[i].size < b[k].rep->size
            || (fs[i].size == b[k].rep->size
                && strcmp(fs[i].path, b[k].rep->path) < 0))
            b[k].rep = &fs[i];
    }
    if (b)
        qsort(b, nb, sizeof *b, cmp_bucket);
    known_as(b, nb, name, tmp);
    char (*reps)[4400] = calloc(nb ? nb : 1, sizeof *reps);
    /* the representative, minimized on request (same signature kept) */
    for (size_t i = 0; reps && i < nb; i++) {
        snprintf(reps[i], sizeof reps[0], "%s", b[i].rep->path);
        if (!minimize)
            continue;
        char min[4400], cmd[9200];
        snprintf(min, sizeof min, "%s.min", b[i].rep->path);
        snprintf(cmd, sizeof cmd, "'%s' minimize --time 10 --target %s "
                 "--targets-dir '%s' --out '%s' '%s' > /dev/null 2>&1",
                 cli_self(), name, target_dir(target), min, b[i].rep->path);
        struct finding f;
        if (system(cmd) == 0 && input_signature(target, min, tmp, &f) == 0
            && !strcmp(f.sig, b[i].sig))
            snprintf(reps[i], sizeof reps[0], "%s", min);
    }
    rmdir(tmp);
    /* the table, and DIR/triage.tsv for --promote */
    char tsv[4300];
    snprintf(tsv, sizeof tsv, "%s/triage.tsv", dir);
    FILE *t = fopen(tsv, "w");
    if (t)
        fprintf(t, "bucket\tcount\tverdict\tsignature\trepresentative\t"
                   "known-as\ttarget\n");
    printf("triage: %zu findings in %zu buckets (%s, target %s)",
           nf, nb, dir, name);
    if (passed)
        printf("; %d no longer fail", passed);
    if (failed)
        printf("; %d could not be replayed", failed);
    printf("\n%-6s %-5s %-12s %-60s %-44s %s\n", "bucket", "count",
           "verdict", "signature", "representative", "known-as");
    for (size_t i = 0; i < nb; i++) {
        const char *sig = strchr(b[i].sig, '|');
        sig = sig ? sig + 2 : b[i].sig;
        char v[48];
        if (b[i].signal && strcmp(b[i].verdict, "linearizability"))
            snprintf(v, sizeof v, "%s:%d", b[i].verdict, b[i].signal);
        else
            snprintf(v, sizeof v, "%s", b[i].verdict);
        const char *rep = reps ? reps[i] : b[i].rep->path;
        printf("%-6zu %-5d %-12s %-60s %-44s %s\n", i + 1, b[i].count, v, sig,
               rep, b[i].known[0] ? b[i].known : "new");
        if (t)
            fprintf(t, "%zu\t%d\t%s\t%s\t%s\t%s\t%s\n", i + 1, b[i].count, v,
                    b[i].sig, rep, b[i].known[0] ? b[i].known : "new", name);
    }
    if (t)
        fclose(t);
    if (nb)
        printf("replay a bucket's representative: ftfuzz replay %s; add "
               "a new one to the regression corpus: ftfuzz triage --promote "
               "BUCKET NAME %s\n", reps ? reps[0] : b[0].rep->path, dir);
    free(reps);
    free(b);
    free(fs);
    return 0;
}
