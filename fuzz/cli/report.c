/*
 * `ftfuzz replay FILE`: runs one fuzz input alone in a fresh process and
 * explains it to a CPython developer: the verdict and trace hash, the
 * program as Python, the interleaving (each switch with the C location and
 * the operation of the thread it preempted), and the crashing thread's C
 * stack.  Writes repro.py, the trace and timeline.svg beside the input.
 *
 * The fuzz target does the execution in report mode (FTFUZZ_REPORT, see
 * harnesses/report.c); this file reads that report, the trace and the
 * target's output, symbolizes with llvm-symbolizer and renders.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "ftfuzz/diagnosis.h"
#include "ftfuzz/program.h"
#include "ftfuzz/result.h"
#include "ftfuzz/symbolizer.h"
#include "ftfuzz/trace_file.h"

/* --- what one run gave ------------------------------------------------------- */

#define MAX_SWITCHES 100000
#define MAX_FRAMES 64
#define MAX_TEXT 256
#define FTFUZZ_MAX_LANES 64
#define WATCH_MAX 64       /* the harness keeps the last 64 writes */
#define WATCH_FRAMES 10

struct location {
    char module[512];
    unsigned long offset;
    char where[512];   /* symbolized: "function file:line", or "" */
};

#define MAX_CALLERS 16

struct report_switch {
    unsigned long long step;
    unsigned from, to;
    char kind[32];
    int timeout;
    unsigned flags;
    unsigned region;              /* from the `anchor` line after it */
    unsigned long long point;
    /* the switching thread's stack (its callers when the trace has them,
     * else the point's call site alone), and the C location made of it */
    struct location stack[MAX_CALLERS];
    unsigned nstack;
    char where[512];
};

struct report_run {
    unsigned thread, op;
    int sched_id, raised;
    unsigned long long start, end;
};

struct report {
    /* from the target's output */
    char verdict[32];
    int signal;
    unsigned long long hash, steps, switches;
    int have_hash;
    char *finding;                     /* the scheduler's or oracle's report */
    char diagnosis[160];               /* CPython's, ftfuzz/diagnosis.h */
    char *diagnosis_text;              /* what the interpreter printed */
    /* from the report file */
    char preamble[8192];               /* a spec's imports and prelude */
    unsigned nobjects;
    char object_kind[PROG_MAX_OBJECTS][32];
    char object_py[PROG_MAX_OBJECTS][MAX_TEXT];
    unsigned nthreads;
    int sched_id[PROG_MAX_THREADS];    /* -1: unknown */
    unsigned nops[PROG_MAX_THREADS];
    char op_py[PROG_MAX_THREADS][PROG_MAX_OPS][MAX_TEXT];
    struct report_run runs[PROG_MAX_THREADS * PROG_MAX_OPS];
    unsigned nruns;
    int crash_signal;
    struct location frames[MAX_FRAMES];
    unsigned nframes;
    int complete;                      /* the report ended with "end" */
    /* FTFUZZ_WATCH's run: the diagnosed object's refcount writes */
    unsigned long watched_addr;
    unsigned long long watched_count;
    char watch_failed[200];            /* why nothing was watched */
    struct watch_entry {
        unsigned long long step;
        int sched_id;
        unsigned local;
        long long shared;
        struct location frames[WATCH_FRAMES];
        unsigned nframes;
        char where[600];
    } *watch;
    unsigned nwatch;
    /* from the trace */
    char strategy[256];
    struct report_switch *sw;
    size_t nsw;
    /* repro.py line of each op, filled when it is written */
    unsigned op_line[PROG_MAX_THREADS][PROG_MAX_OPS];
};

static void
parse_location(const char *text, struct location *loc)
{
    memset(loc, 0, sizeof *loc);
    const char *plus = strrchr(text, '+');
    if (!plus) {
        snprintf(loc->module, sizeof loc->module, "?");
        return;
    }
    snprintf(loc->module, sizeof loc->module, "%.*s", (int)(plus - text),
             text);
    loc->offset = strtoul(plus + 1, NULL, 16);
}

static void
read_report_file(const char *path, struct report *r)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return;
    char line[1024];
    unsigned a, b;
    int n;
    while (fgets(line, sizeof line, f)) {
        line[strcspn(line, "\n")] = 0;
        if (!strncmp(line, "preamble ", 9)) {
            size_t len = strlen(r->preamble);
            snprintf(r->preamble + len, sizeof r->preamble - len, "%s\n",
                     line + 9);
        } else if (sscanf(line, "object %u %n", &a, &n) == 1
            && a < PROG_MAX_OBJECTS) {
            char kind[32];
            int src, m;
            if (sscanf(line + n, "%31s %d %n", kind, &src, &m) >= 2) {
                snprintf(r->object_kind[a], sizeof r->object_kind[a], "%s",
                         kind);
                snprintf(r->object_py[a], MAX_TEXT, "%s", line + n + m);
                if (a + 1 > r->nobjects)
                    r->nobjects = a + 1;
            }
        } else if (sscanf(line, "thread %u %d", &a, &n) == 2
                   && a < PROG_MAX_THREADS) {
            r->sched_id[a] = n;
            if (a + 1 > r->nthreads)
                r->nthreads = a + 1;
        } else if (sscanf(line, "op %u %u %n", &a, &b, &n) == 2
                   && a < PROG_MAX_THREADS && b < PROG_MAX_OPS) {
            snprintf(r->op_py[a][b], MAX_TEXT, "%s", line + n);
            if (b + 1 > r->nops[a])
                r->nops[a] = b + 1;
            if (a + 1 > r->nthreads)
                r->nthreads = a + 1;
        } else if (!strncmp(line, "run ", 4)
                   && r->nruns < PROG_MAX_THREADS * PROG_MAX_OPS) {
            struct report_run *u = &r->runs[r->nruns];
            if (sscanf(line, "run %u %u %d %llu %llu %d", &u->thread, &u->op,
                       &u->sched_id, &u->start, &u->end, &u->raised) == 6
                && u->thread < PROG_MAX_THREADS && u->op < PROG_MAX_OPS)
                r->nruns++;
        } else if (sscanf(line, "crash %d", &r->crash_signal) == 1) {
        } else if (!strncmp(line, "frame ", 6) && r->nframes < MAX_FRAMES) {
            parse_location(line + 6, &r->frames[r->nframes++]);
        } else if (sscanf(line, "watched %lx %llu", &r->watched_addr,
                          &r->watched_count) == 2) {
        } else if (sscanf(line, "watch-failed %lx %n", &r->watched_addr,
                          &n) == 1) {
            snprintf(r->watch_failed, sizeof r->watch_failed, "%s",
                     line + n);
        } else if (!strncmp(line, "watch ", 6) && r->nwatch < WATCH_MAX) {
            if (!r->watch && !(r->watch = calloc(WATCH_MAX, sizeof *r->watch)))
                continue;
            struct watch_entry *w = &r->watch[r->nwatch];
            memset(w, 0, sizeof *w);
            if (sscanf(line, "watch %llu %d %u %lld %n", &w->step,
                       &w->sched_id, &w->local, &w->shared, &n) < 4)
                continue;
            char *save = NULL;
            for (char *c = strtok_r(line + n, " ", &save);
                 c && w->nframes < WATCH_FRAMES; c = strtok_r(NULL, " ", &save))
                parse_location(c, &w->frames[w->nframes++]);
            r->nwatch++;
        } else if (!strcmp(line, "end")) {
            r->complete = 1;
        }
    }
    fclose(f);
}

static void
read_trace_file(const char *path, struct report *r)
{
    char *text = slurp(path, NULL);
    if (!text)
        return;   /* no session, no trace */
    struct ftfuzz_trace_reader rd;
    struct ftfuzz_trace_record rec;
    ftfuzz_trace_reader_init(&rd, path);
    int got = 0;
    for (char *pos = text; *pos && got >= 0;) {
        if ((got = ftfuzz_trace_read(&rd, &pos, &rec)) <= 0)
            continue;
        if (rec.tag == FTFUZZ_TRACE_STRATEGY) {
            snprintf(r->strategy, sizeof r->strategy, "%s", rec.strategy);
        } else if (rec.tag == FTFUZZ_TRACE_ANCHOR && r->nsw
                   && r->nsw == rd.switches) {   /* its switch was kept */
            r->sw[r->nsw - 1].region = rec.anchor.region;
            r->sw[r->nsw - 1].point = rec.anchor.point;
        } else if (rec.tag == FTFUZZ_TRACE_SWITCH && r->nsw < MAX_SWITCHES) {
            if (r->nsw % 1024 == 0) {
                struct report_switch *p =
                    realloc(r->sw, (r->nsw + 1024) * sizeof *p);
                if (!p) {
                    free(text);
                    return;
                }
                r->sw = p;
            }
            const struct ftfuzz_trace_switch *w = &rec.sw;
            struct report_switch *s = &r->sw[r->nsw++];
            *s = (struct report_switch){
                .step = w->step, .from = w->from, .to = w->to,
                .timeout = !!(w->flags & FTFUZZ_TRACE_TIMEOUT),
                .flags = w->flags,
            };
            snprintf(s->kind, sizeof s->kind, "%s", w->kind);
            /* callers, when recorded, replace the site (it is among
             * them) */
            const struct ftfuzz_trace_site *st = w->ncallers ? w->callers
                                                             : &w->site;
            s->nstack = w->ncallers ? w->ncallers : 1;
            if (s->nstack > MAX_CALLERS)
                s->nstack = MAX_CALLERS;
            for (unsigned k = 0; k < s->nstack; k++) {
                snprintf(s->stack[k].module, sizeof s->stack[k].module, "%s",
                         st[k].module);
                s->stack[k].offset = st[k].offset;
            }
        }
    }
    /* the trace was written by the run just made: a broken one is worth
     * a word, and the report shows what came before the break */
    if (got < 0 || ftfuzz_trace_read_end(&rd) < 0)
        fprintf(stderr, "ftfuzz replay: %s\n", rd.err);
    free(text);
}

/* --- symbolization ----------------------------------------------------------- */

/* A source path as a developer reads it: CPython's relative to its source
 * tree, ftfuzz's relative to the repository. */
static const char *
short_path(const char *path)
{
    const char *p, *root = cli_data_dir();
    size_t n = strlen(root);
    if (!strncmp(path, root, n) && path[n] == '/')
        return path + n + 1;
    if ((p = strstr(path, "/cpython/")) && (p = strstr(p, "/src/")))
        return p + 5;
    return path;
}

/* Is this inlined frame the hook itself or CPython's atomic wrapper? */
static int
is_hook_frame(const char *file)
{
    return strstr(file, "include/ftfuzz/") || strstr(file, "pyatomic")
           || strstr(file, "scheduler/") || strstr(file, "harness_crash");
}

/* The address llvm-symbolizer looks up for a location: return addresses
 * are after the call, so the byte before; `exact` ones as they are. */
static unsigned long
lookup_address(const struct location *loc, int exact)
{
    return loc->offset - (exact ? 0 : 1);
}

/*
 * Symbolizes locations with one llvm-symbolizer run: each gets its
 * inlined frames, innermost first, one "function file:line" line each.
 * exact[i] (exact may be NULL) marks a crash's faulting address.
 */
static void
symbolize(struct location *const *all, size_t n, const int *exact)
{
    const size_t line = sizeof all[0]->module + 24;
    char *query = NULL;
    size_t qlen = 0, qcap = 0;
    for (size_t i = 0; i < n; i++) {
        if (qcap - qlen < line) {
            qcap = 2 * qcap + line;
            char *q = realloc(query, qcap);
            if (!q) {
                free(query);
                return;
            }
            query = q;
        }
        qlen += ftfuzz_sym_query(query + qlen, qcap - qlen, all[i]->module,
                                 lookup_address(all[i], exact && exact[i]));
    }
    char *text = n ? ftfuzz_sym_run(query, qlen, 0, realloc, free) : NULL;
    const char *pos = text;
    struct ftfuzz_sym_frame *fr = malloc(32 * sizeof *fr);
    for (size_t i = 0; text && fr && i < n; i++) {
        struct location *loc = all[i];
        int nf = ftfuzz_sym_next(&pos, lookup_address(loc, exact && exact[i]),
                                 fr, 32);
        if (nf <= 0 || !strcmp(loc->module, "?"))
            continue;
        size_t used = 0;
        loc->where[0] = 0;
        for (int k = 0; k < nf && used < sizeof loc->where; k++)
            used += (size_t)snprintf(loc->where + used,
                                     sizeof loc->where - used, "%s%s %s:%lu",
                                     used ? "\n" : "",
                                     ftfuzz_sym_name(fr[k].function),
                                     fr[k].file[0] ? short_path(fr[k].file)
                                                   : "??",
                                     fr[k].line);
    }
    free(fr);
    free(text);
    free(query);
}

/*
 * A switch's C location, from its symbolized stack (each entry one or more
 * "function file:line" lines, innermost first): the first frame in a .c
 * file outside ftfuzz's runtime, and the innermost frame that is not the
 * hook when that is another function (CPython's debug build calls its
 * static inline helpers, so the point itself is often in a header).
 */
static void
switch_location(struct report_switch *s)
{
    char inner[256] = "", outer[256] = "";
    for (unsigned i = 0; i < s->nstack && !outer[0]; i++) {
        char *save = NULL, buf[512];
        snprintf(buf, sizeof buf, "%s", s->stack[i].where);
        for (char *l = strtok_r(buf, "\n", &save); l;
             l = strtok_r(NULL, "\n", &save)) {
            const char *file = strchr(l, ' ');
            if (!file || is_hook_frame(file) || strstr(file, "??"))
                continue;
            if (!inner[0])
                snprintf(inner, sizeof inner, "%s", l);
            if (strstr(file, ".c:")) {
                snprintf(outer, sizeof outer, "%s", l);
                break;
            }
        }
    }
    if (!outer[0])
        snprintf(s->where, sizeof s->where, "%s", inner[0] ? inner : "?");
    else if (inner[0] && strncmp(inner, outer, strcspn(outer, " ")))
        snprintf(s->where, sizeof s->where, "%s [%.*s]", outer,
                 (int)strcspn(inner, " "), inner);
    else
        snprintf(s->where, sizeof s->where, "%s", outer);
}

static long long
watch_total(const struct watch_entry *w)
{
    /* ob_ref_shared holds the count shifted left by 2, flags below */
    return (long long)(int)w->local + (w->shared >> 2);
}

/* The last entries up to the first that took the count below zero. */
static void
watch_range(const struct report *r, unsigned *from, unsigned *to)
{
    unsigned end = r->nwatch;
    for (unsigned i = 0; i < r->nwatch; i++)
        if (watch_total(&r->watch[i]) < 0) {
            end = i + 1;
            break;
        }
    *to = end;
    *from = end > 12 ? end - 12 : 0;
}

/* --- rendering ----------------------------------------------------------------- */

static void
thread_name(const struct report *r, unsigned sched_id, char *buf, size_t n)
{
    if (sched_id == 0) {
        snprintf(buf, n, "main");
        return;
    }
    for (unsigned t = 0; t < r->nthreads; t++)
        if (r->sched_id[t] == (int)sched_id) {
            snprintf(buf, n, "thread_%u", t);
            return;
        }
    snprintf(buf, n, "T%u", sched_id);
}

/* The run (op) thread sched_id was in at `step`, or NULL. */
static const struct report_run *
run_at(const struct report *r, unsigned sched_id, unsigned long long step)
{
    for (unsigned i = 0; i < r->nruns; i++) {
        const struct report_run *u = &r->runs[i];
        if (u->sched_id == (int)sched_id && u->start <= step
            && (u->end == 0 || step <= u->end))
            return u;
    }
    return NULL;
}

/* Did the oracle find this op's result unexplained ("(differs)")? */
static int
op_differs(const struct report *r, const struct report_run *u)
{
    char pat[64];
    if (!r->finding)
        return 0;
    snprintf(pat, sizeof pat, "\n    T%u op %u -> ", u->thread, u->op);
    const char *p = strstr(r->finding, "closest sequential order");
    p = p ? strstr(p, pat) : NULL;
    if (!p)
        return 0;
    const char *nl = strchr(p + 1, '\n');
    const char *d = strstr(p + 1, "(differs)");
    return d && (!nl || d < nl);
}

/* The op that failed: for a crash, the unfinished op of the thread that
 * ran last; for a linearizability violation, the first op whose result no
 * sequential order explains. */
static const struct report_run *
failing_run(const struct report *r)
{
    if (!strcmp(r->verdict, "passed"))
        return NULL;
    if (!strcmp(r->verdict, "linearizability")) {
        for (unsigned i = 0; i < r->nruns; i++)
            if (op_differs(r, &r->runs[i]))
                return &r->runs[i];
        return NULL;
    }
    unsigned last = r->nsw ? r->sw[r->nsw - 1].to : 1;
    for (unsigned i = 0; i < r->nruns; i++)
        if (r->runs[i].sched_id == (int)last && r->runs[i].end == 0)
            return &r->runs[i];
    for (unsigned i = 0; i < r->nruns; i++)
        if (r->runs[i].end == 0)
            return &r->runs[i];
    return NULL;
}

static void
python_location(const struct report *r, unsigned sched_id,
                unsigned long long step, char *loc, size_t nloc, char *op,
                size_t nop)
{
    const struct report_run *u = run_at(r, sched_id, step);
    if (u) {
        snprintf(loc, nloc, "repro.py:%u thread_%u", r->op_line[u->thread][u->op],
                 u->thread);
        snprintf(op, nop, "%s", r->op_py[u->thread][u->op]);
    } else if (sched_id == 0) {
        snprintf(loc, nloc, "-");
        snprintf(op, nop, "(starting or joining the threads)");
    } else {
        snprintf(loc, nloc, "-");
        snprintf(op, nop, "(thread start or exit)");
    }
}

/* Did the verdict named `name` kill the execution (verdicts.def)? */
static int
verdict_died(const char *name)
{
    return ftfuzz_verdict_died(ftfuzz_verdict_from_name(name));
}

static const char *
verdict_text(const struct report *r, char *buf, size_t n)
{
    if (r->signal && verdict_died(r->verdict))
        snprintf(buf, n, "%s (signal %d, %s)", r->verdict, r->signal,
                 strsignal(r->signal));
    else
        snprintf(buf, n, "%s", r->verdict);
    return buf;
}

/*
 * repro.py: the same operations on real threads, in a loop.  Records the
 * line of each op for the report's Python locations.
 */
static int
write_repro(const char *path, const char *input, struct report *r)
{
    FILE *f = fopen(path, "w");
    if (!f)
        return -1;
    unsigned line = 1;
    char v[128];
#define OUT(...) do { fprintf(f, __VA_ARGS__); line++; } while (0)
    OUT("#!/usr/bin/env python3\n");
    OUT("\"\"\"Reproducer written by `ftfuzz replay` from %s.\n", input);
    OUT("\n");
    OUT("Under ftfuzz's scheduler this program gives: %s\n",
        verdict_text(r, v, sizeof v));
    OUT("(trace hash 0x%016llx); `ftfuzz replay %s` replays it exactly.\n",
        r->hash, input);
    OUT("\n");
    OUT("This script runs the same operations on real threads of a\n");
    OUT("free-threaded CPython (python3.13t), in a loop.  Real threads must\n");
    OUT("hit the same interleaving by chance: it may need many runs, or a\n");
    OUT("debug build (--with-pydebug) to turn the race into a crash.\n");
    OUT("usage: python3.13t repro.py [RUNS]\n");
    OUT("\"\"\"\n");
    OUT("import collections\n");
    OUT("import sys\n");
    OUT("import threading\n");
    /* what the expressions of a spec's types need (imports, prelude) */
    for (const char *l = r->preamble; *l;) {
        const char *nl = strchr(l, '\n');
        int len = nl ? (int)(nl - l) : (int)strlen(l);
        OUT("%.*s\n", len, l);
        l += len + (nl != NULL);
    }
    OUT("\n\n");
    line++;
    OUT("def make_objects():\n");
    for (unsigned i = 0; i < r->nobjects; i++)
        OUT("    o%u = %s\n", i, r->object_py[i][0] ? r->object_py[i] : "None");
    fprintf(f, "    return [");
    for (unsigned i = 0; i < r->nobjects; i++)
        fprintf(f, "%so%u", i ? ", " : "", i);
    OUT("]\n");
    char params[128] = "";
    size_t pl = 0;
    for (unsigned i = 0; i < r->nobjects && pl < sizeof params; i++)
        pl += (size_t)snprintf(params + pl, sizeof params - pl, "%so%u",
                               i ? ", " : "", i);
    for (unsigned t = 0; t < r->nthreads; t++) {
        OUT("\n\n");
        line++;
        OUT("def thread_%u(%s):\n", t, params);
        if (r->nops[t] == 0)
            OUT("    pass\n");
        for (unsigned i = 0; i < r->nops[t]; i++) {
            r->op_line[t][i] = line;
            OUT("    try: %s\n", r->op_py[t][i]);
            OUT("    except Exception: pass\n");
        }
    }
    OUT("\n\n");
    line++;
    fprintf(f, "THREADS = [");
    for (unsigned t = 0; t < r->nthreads; t++)
        fprintf(f, "%sthread_%u", t ? ", " : "", t);
    OUT("]\n");
    fputs("\n\n"
          "def run_once():\n"
          "    objs = make_objects()\n"
          "    barrier = threading.Barrier(len(THREADS))\n"
          "\n"
          "    def start(body):\n"
          "        barrier.wait()\n"
          "        body(*objs)\n"
          "\n"
          "    threads = [threading.Thread(target=start, args=(body,))\n"
          "               for body in THREADS]\n"
          "    for t in threads:\n"
          "        t.start()\n"
          "    for t in threads:\n"
          "        t.join()\n"
          "\n\n"
          "def main():\n"
          "    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 100000\n"
          "    if getattr(sys, \"_is_gil_enabled\", lambda: True)():\n"
          "        print(\"warning: the GIL is enabled: this race needs a \"\n"
          "              \"free-threaded CPython (python3.13t)\", "
          "file=sys.stderr)\n"
          "    sys.setswitchinterval(1e-6)\n"
          "    for i in range(runs):\n"
          "        run_once()\n"
          "        if i % 1000 == 999:\n"
          "            print(f\"{i + 1} runs\", file=sys.stderr)\n"
          "    print(f\"{runs} runs, no crash\")\n"
          "\n\n"
          "if __name__ == \"__main__\":\n"
          "    main()\n", f);
#undef OUT
    return fclose(f);
}

static void
svg_escape(FILE *f, const char *s)
{
    for (; *s; s++)
        switch (*s) {
        case '<': fputs("&lt;", f); break;
        case '>': fputs("&gt;", f); break;
        case '&': fputs("&amp;", f); break;
        case '"': fputs("&quot;", f); break;
        default: fputc(*s, f);
        }
}

static int
cmp_u64(const void *a, const void *b)
{
    unsigned long long x = *(const unsigned long long *)a,
                       y = *(const unsigned long long *)b;
    return x < y ? -1 : x > y;
}

/*
 * timeline.svg: one lane per thread, each op a bar, each switch an arrow
 * from the preempted thread's lane to the next one's, the failing op red.
 * The x axis is ordinal (the order of events, labelled with their steps):
 * an op of 2 steps next to one of 40,000 must still be visible.
 */
static int
write_timeline(const char *path, const char *input, const struct report *r)
{
    size_t nev = 0, cap = 2 * r->nruns + r->nsw + r->nwatch + 2;
    unsigned long long *ev = malloc(cap * sizeof *ev);
    if (!ev)
        return -1;
    for (unsigned i = 0; i < r->nruns; i++) {
        ev[nev++] = r->runs[i].start;
        ev[nev++] = r->runs[i].end ? r->runs[i].end : r->steps;
    }
    for (size_t i = 0; i < r->nsw; i++)
        ev[nev++] = r->sw[i].step;
    unsigned wfrom = 0, wto = 0;
    if (r->nwatch)
        watch_range(r, &wfrom, &wto);
    for (unsigned i = wfrom; i < wto; i++)
        ev[nev++] = r->watch[i].step;
    ev[nev++] = r->steps;
    qsort(ev, nev, sizeof *ev, cmp_u64);
    size_t nuniq = 0;
    for (size_t i = 0; i < nev; i++)
        if (nuniq == 0 || ev[nuniq - 1] != ev[i])
            ev[nuniq++] = ev[i];

    /* lanes: main, then the program's threads by scheduler id */
    unsigned lane_of[FTFUZZ_MAX_LANES] = {0}, nlanes = 1;
    for (unsigned id = 1; id < FTFUZZ_MAX_LANES; id++) {
        int seen = 0;
        for (unsigned i = 0; i < r->nruns; i++)
            seen |= r->runs[i].sched_id == (int)id;
        for (size_t i = 0; i < r->nsw; i++)
            seen |= r->sw[i].from == id || r->sw[i].to == id;
        if (seen)
            lane_of[id] = nlanes++;
    }
    const double unit = 28, left = 110, top = 70, lane_h = 56;
    double width = left + unit * (double)(nuniq + 1) + 40;
    if (width < 900)
        width = 900;
    double height = top + lane_h * nlanes + 190;
#define X(step) (left + unit * (double)((unsigned long long *)bsearch(        \
                     &(unsigned long long){step}, ev, nuniq, sizeof *ev,      \
                     cmp_u64) - ev + 1))
#define Y(id) (top + lane_h * lane_of[(id) < FTFUZZ_MAX_LANES ? (id) : 0])

    FILE *f = fopen(path, "w");
    if (!f) {
        free(ev);
        return -1;
    }
    char v[128];
    fprintf(f, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
               "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%.0f\" "
               "height=\"%.0f\" viewBox=\"0 0 %.0f %.0f\" "
               "font-family=\"monospace\" font-size=\"12\">\n",
            width, height, width, height);
    fprintf(f, "<title>ftfuzz timeline of ");
    svg_escape(f, input);
    fprintf(f, "</title>\n<defs><marker id=\"arrow\" viewBox=\"0 0 10 10\" "
               "refX=\"9\" refY=\"5\" markerWidth=\"7\" markerHeight=\"7\" "
               "orient=\"auto-start-reverse\"><path d=\"M 0 0 L 10 5 L 0 10 "
               "z\" fill=\"#444\"/></marker></defs>\n"
               "<rect width=\"100%%\" height=\"100%%\" fill=\"white\"/>\n");
    fprintf(f, "<text x=\"10\" y=\"22\" font-size=\"15\" "
               "font-weight=\"bold\">");
    svg_escape(f, input);
    fprintf(f, ": %s, trace hash 0x%016llx</text>\n",
            verdict_text(r, v, sizeof v), r->hash);
    fprintf(f, "<text x=\"10\" y=\"42\" fill=\"#555\">%llu scheduling "
               "points, %zu switches; x axis: events in order, labelled "
               "with their step</text>\n", r->steps, r->nsw);
    /* lanes */
    for (unsigned id = 0; id < FTFUZZ_MAX_LANES; id++) {
        if (id && !lane_of[id])
            continue;
        char name[32];
        thread_name(r, id, name, sizeof name);
        fprintf(f, "<line x1=\"%.0f\" y1=\"%.1f\" x2=\"%.0f\" y2=\"%.1f\" "
                   "stroke=\"#ddd\"/>\n<text x=\"10\" y=\"%.1f\">%s</text>\n",
                left, Y(id), width - 20, Y(id), Y(id) + 4, name);
    }
    /* who held the turn: thin bands between switches */
    unsigned long long from_step = 0;
    unsigned holder = 0;
    for (size_t i = 0; i <= r->nsw; i++) {
        unsigned long long to_step = i < r->nsw ? r->sw[i].step : r->steps;
        if (i > 0) {
            double x0 = X(from_step), x1 = X(to_step);
            char name[32];
            thread_name(r, holder, name, sizeof name);
            fprintf(f, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" "
                       "height=\"6\" fill=\"#9ecae1\"><title>%s holds the "
                       "turn, steps %llu-%llu</title></rect>\n",
                    x0, Y(holder) + 12, x1 - x0 > 1 ? x1 - x0 : 1, name,
                    from_step, to_step);
        }
        if (i < r->nsw) {
            holder = r->sw[i].to;
            from_step = r->sw[i].step;
        }
    }
    /* ops */
    const struct report_run *bad = failing_run(r);
    for (unsigned i = 0; i < r->nruns; i++) {
        const struct report_run *u = &r->runs[i];
        unsigned long long end = u->end ? u->end : r->steps;
        double x0 = X(u->start), x1 = X(end);
        const char *fill = u == bad ? "#e6550d" : u->raised ? "#fdd0a2"
                                                            : "#a1d99b";
        fprintf(f, "<g><title>thread_%u op %u: ", u->thread, u->op);
        svg_escape(f, r->op_py[u->thread][u->op]);
        fprintf(f, " (steps %llu-%llu%s%s)</title>\n", u->start, end,
                u->raised ? ", raised" : "", u->end ? "" : ", unfinished");
        fprintf(f, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" "
                   "height=\"18\" rx=\"3\" fill=\"%s\" stroke=\"%s\"/>\n",
                x0, Y((unsigned)u->sched_id) - 20,
                x1 - x0 > 4 ? x1 - x0 : 4, fill,
                u == bad ? "#a63603" : "#31a354");
        fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" font-size=\"11\">",
                x0 + 3, Y((unsigned)u->sched_id) - 7);
        svg_escape(f, r->op_py[u->thread][u->op]);
        fprintf(f, "%s</text></g>\n", u == bad ? "  \xe2\x9c\x97 fails" : "");
    }
    /* switches */
    for (size_t i = 0; i < r->nsw; i++) {
        const struct report_switch *s = &r->sw[i];
        double x = X(s->step), y0 = Y(s->from), y1 = Y(s->to);
        fprintf(f, "<g><title>step %llu: %s at %s, ", s->step, s->kind,
                s->timeout ? "(timeout)" : "");
        svg_escape(f, s->where);
        fprintf(f, "</title><line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" "
                   "y2=\"%.1f\" stroke=\"#444\" stroke-width=\"1.5\" "
                   "marker-end=\"url(#arrow)\"/></g>\n",
                x, y0 + (y1 > y0 ? 4 : -4), x, y1 + (y1 > y0 ? -4 : 4));
    }
    /* the watched object's reference count writes: a diamond each */
    for (unsigned i = wfrom; i < wto; i++) {
        const struct watch_entry *w = &r->watch[i];
        unsigned id = w->sched_id < 0 ? 0 : (unsigned)w->sched_id;
        double x = X(w->step), y = Y(id) + 15;
        fprintf(f, "<g><title>step %llu: reference count %lld at ", w->step,
                watch_total(w));
        svg_escape(f, w->where);
        fprintf(f, "</title><path d=\"M %.1f %.1f l 5 5 l -5 5 l -5 -5 z\" "
                   "fill=\"%s\"/></g>\n", x, y, watch_total(w) < 0
                                                ? "#de2d26" : "#756bb1");
    }
    /* axis: the step of each event, rotated */
    double axis = top + lane_h * nlanes;
    for (size_t i = 0; i < nuniq; i++)
        fprintf(f, "<text transform=\"translate(%.1f,%.1f) rotate(60)\" "
                   "font-size=\"9\" fill=\"#777\">%llu</text>\n",
                left + unit * (double)(i + 1), axis, ev[i]);
    double ly = axis + 80;
    fprintf(f, "<rect x=\"10\" y=\"%.0f\" width=\"14\" height=\"10\" "
               "fill=\"#a1d99b\"/><text x=\"30\" y=\"%.0f\">operation</text>"
               "<rect x=\"120\" y=\"%.0f\" width=\"14\" height=\"10\" "
               "fill=\"#fdd0a2\"/><text x=\"140\" y=\"%.0f\">raised</text>"
               "<rect x=\"210\" y=\"%.0f\" width=\"14\" height=\"10\" "
               "fill=\"#e6550d\"/><text x=\"230\" y=\"%.0f\">failing "
               "operation</text><rect x=\"370\" y=\"%.0f\" width=\"14\" "
               "height=\"4\" fill=\"#9ecae1\"/><text x=\"390\" y=\"%.0f\">"
               "holds the turn</text><text x=\"510\" y=\"%.0f\">\xe2\x86\x95 "
               "switch (hover: point and C location)</text>\n",
            ly, ly + 9, ly, ly + 9, ly, ly + 9, ly + 3, ly + 9, ly + 9);
    fprintf(f, "</svg>\n");
#undef X
#undef Y
    free(ev);
    return fclose(f);
}

/* --- the command ----------------------------------------------------------------- */

/* Runs the input once (in report mode when asked); fills r from its
 * result record (ftfuzz/result.h), and the report and trace files. */
static int
run_once(const char *target, const char *input, const char *dir,
         int report_mode, const char *watch, struct report *r)
{
    char log[4200], env_report[4300], result_path[4200], env_result[4300];
    char report_path[4200], trace_path[4300];
    snprintf(log, sizeof log, "%s/log", dir);
    snprintf(result_path, sizeof result_path, "%s/result", dir);
    snprintf(env_result, sizeof env_result, "FTFUZZ_RESULT=%s", result_path);
    unlink(result_path);
    snprintf(report_path, sizeof report_path, "%s/report", dir);
    snprintf(trace_path, sizeof trace_path, "%s/report.trace", dir);
    snprintf(env_report, sizeof env_report, "FTFUZZ_REPORT=%s", report_path);
    unlink(report_path);
    unlink(trace_path);
    char env_watch[64];
    snprintf(env_watch, sizeof env_watch, "FTFUZZ_WATCH=%s",
             watch ? watch : "");
    const char *env[] = {"FTFUZZ_PRINT_HASH=1", env_result,
                         report_mode ? env_report : NULL,
                         report_mode && watch ? env_watch : NULL, NULL};
    char *argv[] = {(char *)target, (char *)input, NULL};
    struct run_result rr;
    if (run_program(argv, env, log, NULL, &rr) != 0)
        return -1;
    memset(r, 0, sizeof *r);
    for (unsigned t = 0; t < PROG_MAX_THREADS; t++)
        r->sched_id[t] = -1;
    if (rr.exited && rr.status == 127) {
        fprintf(stderr, "ftfuzz replay: cannot run %s\n", target);
        return -1;
    }
    static struct ftfuzz_result rec;
    char err[512];
    int rc = ftfuzz_result_read(result_path, &rec, err, sizeof err);
    if (rc != 0) {
        /* the target died outside an execution (libFuzzer's own error,
         * FTFUZZ_NO_FORK): only its exit is known */
        fprintf(stderr, "ftfuzz replay: %s gave no result record%s%s; its "
                        "output is in %s\n", target, rc < 0 ? ": " : "",
                rc < 0 ? err : "", log);
        rec = (struct ftfuzz_result){
            .verdict = rr.signal ? FTFUZZ_VERDICT_CRASH
                       : rr.exited && rr.status == 0 ? FTFUZZ_VERDICT_PASSED
                                                     : FTFUZZ_VERDICT_EXIT,
            .signal = rr.signal,
        };
    }
    snprintf(r->verdict, sizeof r->verdict, "%s",
             ftfuzz_verdict_text(rec.verdict));
    r->signal = rec.signal;
    r->have_hash = rec.have_hash;
    r->hash = rec.hash;
    r->steps = rec.steps;
    r->switches = rec.switches;
    snprintf(r->diagnosis, sizeof r->diagnosis, "%s", rec.diagnosis);
    if (rec.diagnosis_text[0])
        r->diagnosis_text = strdup(rec.diagnosis_text);
    if (rec.finding[0])
        r->finding = strdup(rec.finding);
    read_report_file(report_path, r);
    read_trace_file(trace_path, r);
    if (!r->have_hash && r->nthreads == 0)
        r->have_hash = 1;   /* the empty program: no session, hash 0 */
    return 0;
}

static void
free_report(struct report *r)
{
    free(r->sw);
    free(r->finding);
    free(r->diagnosis_text);
    free(r->watch);
    r->watch = NULL;
    r->nwatch = 0;
    r->sw = NULL;
    r->finding = NULL;
    r->diagnosis_text = NULL;
}

/* The object CPython's diagnosis names ("object address  : 0x...", or
 * "<object at 0x... is freed>"), as text for FTFUZZ_WATCH, or 0. */
static int
diagnosed_object(const struct report *r, char *addr, size_t n)
{
    const char *t = r->diagnosis_text, *p;
    unsigned long a = 0;
    if (!t)
        return 0;
    if ((p = strstr(t, "object address  : ")))
        a = strtoul(p + 18, NULL, 16);
    else if ((p = strstr(t, "<object at ")))
        a = strtoul(p + 11, NULL, 16);
    if (!a)
        return 0;
    snprintf(addr, n, "0x%lx", a);
    return 1;
}

/* Reference-count helpers and what they call: a write's C location is the
 * first frame outside them. */
static int
is_refcount_helper(const char *func)
{
    static const char *const prefixes[] = {
        "Py_INCREF", "Py_DECREF", "Py_XINCREF", "Py_XDECREF", "Py_NewRef",
        "Py_XNewRef", "_Py_NewRef", "Py_CLEAR", "Py_SETREF", "Py_XSETREF",
        "_Py_IncRef", "_Py_DecRef", "_Py_atomic_", "_Py_MergeZeroLocal",
        "_Py_ExplicitMerge", "_Py_brc_", "_Py_TryIncref", "_Py_Dealloc",
        "_Py_SetImmortal", "_Py_NewReference", "_PyObject_Init",
        "_Py_REF", "merge_refcount", "_PyMem_", "PyMem_", "mi_", "_mi_",
        "memset", "__memset", "_PyObject_GC_", "PyObject_GC_",
        "_PyObject_Free", "PyObject_Free", "_PyObject_Malloc",
        "PyObject_Malloc", "gc_alloc", "_PyType_AllocNoTrack",
        "PyType_GenericAlloc",
    };
    for (size_t i = 0; i < sizeof prefixes / sizeof prefixes[0]; i++)
        if (!strncmp(func, prefixes[i], strlen(prefixes[i])))
            return 1;
    return 0;
}

static void
watch_location(struct watch_entry *w)
{
    char inner[256] = "", outer[256] = "";
    for (unsigned i = 0; i < w->nframes && !outer[0]; i++) {
        char buf[512], *save = NULL;
        snprintf(buf, sizeof buf, "%s", w->frames[i].where);
        for (char *l = strtok_r(buf, "\n", &save); l;
             l = strtok_r(NULL, "\n", &save)) {
            char func[128];
            snprintf(func, sizeof func, "%.*s", (int)strcspn(l, " "), l);
            if (!inner[0])
                snprintf(inner, sizeof inner, "%s", func);
            if (!is_refcount_helper(func) && strstr(l, ".c:")) {
                snprintf(outer, sizeof outer, "%s", l);
                break;
            }
        }
    }
    if (!outer[0])
        snprintf(w->where, sizeof w->where, "%s", inner[0] ? inner : "?");
    else if (inner[0] && strncmp(inner, outer, strcspn(outer, " ")))
        snprintf(w->where, sizeof w->where, "%s [%s]", outer, inner);
    else
        snprintf(w->where, sizeof w->where, "%s", outer);
}

static void
print_watch(const struct report *r)
{
    if (!r->watched_addr)
        return;
    char type[96] = "";
    const char *of = strstr(r->diagnosis, " of ");
    if (strstr(r->diagnosis, " of a freed object"))
        snprintf(type, sizeof type, " (found freed)");
    else if (of)
        snprintf(type, sizeof type, " (%.*s)", (int)strcspn(of + 4, " "),
                 of + 4);
    if (r->watch_failed[0]) {
        printf("\n== reference count of the object at 0x%lx%s: not watched: "
               "%s ==\n", r->watched_addr, type, r->watch_failed);
        return;
    }
    unsigned from, to;
    watch_range(r, &from, &to);
    printf("\n== reference count of the object at 0x%lx%s: %llu writes "
           "seen, ", r->watched_addr, type, r->watched_count);
    if (to < r->nwatch || (to && watch_total(&r->watch[to - 1]) < 0))
        printf("up to the one that took it below zero ==\n");
    else
        printf("the last %u ==\n", to - from);
    printf("%-8s %-10s %6s %6s %7s  %-22s %-36s %s\n", "step", "thread",
           "count", "local", "shared", "Python location", "operation",
           "C location (the write)");
    for (unsigned i = from; i < to; i++) {
        const struct watch_entry *w = &r->watch[i];
        char who[32], loc[64], op[MAX_TEXT];
        if (w->sched_id < 0) {
            snprintf(who, sizeof who, "main");
            snprintf(loc, sizeof loc, "-");
            snprintf(op, sizeof op, "(before the threads start)");
        } else {
            thread_name(r, (unsigned)w->sched_id, who, sizeof who);
            python_location(r, (unsigned)w->sched_id, w->step, loc,
                            sizeof loc, op, sizeof op);
        }
        long long total = watch_total(w);
        int shared_neg = (w->shared >> 2) < 0
                         && (i == 0 || (r->watch[i - 1].shared >> 2) >= 0);
        printf("%-8llu %-10s %6lld %6u %7lld  %-22s %-36.36s %s%s\n",
               w->step, who, total, w->local, w->shared, loc, op, w->where,
               total < 0     ? "   <- below zero"
               : shared_neg ? "   <- shared count below zero (merged "
                              "with the local one later)"
                            : "");
    }
    if (!r->nwatch)
        printf("(no write seen: the object was not at this address in "
               "the watched run)\n");
    /* a use after free: who dropped the last reference, who came after */
    const struct watch_entry *last = to ? &r->watch[to - 1] : NULL;
    const struct report_run *bad = failing_run(r);
    if (last && watch_total(last) == 0 && bad) {
        char who[32];
        if (last->sched_id < 0)
            snprintf(who, sizeof who, "main");
        else
            thread_name(r, (unsigned)last->sched_id, who, sizeof who);
        printf("freed: its count reached zero at step %llu in %s (%s); "
               "used after: thread_%u op %u, %s (the failing operation)\n",
               last->step, who, last->where, bad->thread, bad->op,
               r->op_py[bad->thread][bad->op]);
    }
}

static void
print_report(const char *input, const char *target, struct report *r,
             const char *repro, const char *trace, const char *svg)
{
    char v[128];
    printf("verdict: %s\n", verdict_text(r, v, sizeof v));
    if (r->diagnosis[0])
        printf("diagnosis: %s\n", r->diagnosis);
    printf("trace hash: 0x%016llx (%llu scheduling points, "
           "%llu switches; strategy %s)\ninput: %s (target %s)\n\n",
           r->hash, r->steps, r->switches,
           r->strategy[0] ? r->strategy : "-", input, target);

    printf("== program (%s) ==\n", repro);
    for (unsigned i = 0; i < r->nobjects; i++)
        printf("o%u = %s\n", i, r->object_py[i]);
    for (unsigned t = 0; t < r->nthreads; t++) {
        printf("\ndef thread_%u():\n", t);
        if (r->nops[t] == 0)
            printf("    pass\n");
        for (unsigned i = 0; i < r->nops[t]; i++)
            printf("    %-44s # repro.py:%u\n", r->op_py[t][i],
                   r->op_line[t][i]);
    }

    printf("\n== interleaving: %zu switches ==\n", r->nsw);
    if (r->nsw)
        printf("%-4s %-8s %-20s %-14s %-40s %-22s %s\n", "#", "step",
               "switch", "point", "C location (preempted thread)",
               "Python location", "operation it was in");
    size_t shown = r->nsw > 200 ? 200 : r->nsw;
    for (size_t i = 0; i < shown; i++) {
        const struct report_switch *s = &r->sw[i];
        char from[32], to[32], who[80], loc[64], op[MAX_TEXT];
        thread_name(r, s->from, from, sizeof from);
        thread_name(r, s->to, to, sizeof to);
        snprintf(who, sizeof who, "%s -> %s", from, to);
        python_location(r, s->from, s->step, loc, sizeof loc, op, sizeof op);
        printf("%-4zu %-8llu %-20s %-14s %-40s %-22s %s%s\n", i + 1, s->step,
               who, s->kind, s->where, loc, op,
               s->timeout ? " (timed wait expired)" : "");
    }
    if (shown < r->nsw)
        printf("... %zu more in %s\n", r->nsw - shown, trace);

    if (r->finding) {
        printf("\n== finding ==\n%s", r->finding);
    }
    int crashed = verdict_died(r->verdict) || !strcmp(r->verdict, "exit");
    if (r->diagnosis_text && crashed) {
        printf("\n== CPython's diagnosis ==\n%s", r->diagnosis_text);
        size_t len = strlen(r->diagnosis_text);
        if (len && r->diagnosis_text[len - 1] != '\n')
            printf("\n");
    }
    if (crashed)
        print_watch(r);
    if (r->nframes && crashed) {
        const struct report_run *bad = failing_run(r);
        printf("\n== C stack of the failing thread (signal %d)", r->crash_signal);
        if (bad)
            printf(", in thread_%u op %u: %s", bad->thread, bad->op,
                   r->op_py[bad->thread][bad->op]);
        printf(" ==\n");
        unsigned k = 0;
        for (unsigned i = 0; i < r->nframes; i++) {
            const char *w = r->frames[i].where;
            if (!*w)
                continue;
            if (strstr(w, "harness_run_forked") || strstr(w, "fuzzer::"))
                break;
            /* one line per inlined frame */
            const char *p = w;
            while (*p) {
                const char *nl = strchr(p, '\n');
                int len = nl ? (int)(nl - p) : (int)strlen(p);
                printf("  #%-2u %.*s\n", k++, len, p);
                p += len + (nl != NULL);
            }
        }
    }
    printf("\nwritten: %s, %s, %s\n", repro, trace, svg);
}

/* Drops the crash handler's own frames and the signal trampoline; marks
 * the faulting address, which is not a return address. */
static void
prepare_stack(struct report *r, int *exact)
{
    unsigned start = 0;
    for (unsigned i = 0; i + 1 < r->nframes; i++)
        if (strstr(r->frames[i].where, "harness_crash ")) {
            start = i + 2;   /* and the signal trampoline after it */
            break;
        }
    memmove(r->frames, r->frames + start,
            (r->nframes - start) * sizeof r->frames[0]);
    r->nframes -= start;
    for (unsigned i = 0; i < r->nframes; i++)
        exact[i] = start > 0 && i == 0;
}

/* Symbolizes the failing thread's stack, trims it to the frames that
 * matter (prepare_stack) and symbolizes what that left. */
static void
symbolize_stack(struct report *r)
{
    struct location *fr[MAX_FRAMES];
    int exact[MAX_FRAMES] = {0};
    for (unsigned k = 0; k < r->nframes; k++)
        fr[k] = &r->frames[k];
    symbolize(fr, r->nframes, exact);
    prepare_stack(r, exact);
    for (unsigned k = 0; k < r->nframes; k++)
        fr[k] = &r->frames[k];
    symbolize(fr, r->nframes, exact);
}

/*
 * A stored input with a .meta whose `expected:` failure this replay did
 * not give (the first word: passed, crash (any death, with the signal of
 * "(SIGSEGV"), linearizability or another verdict): say so, and how to
 * look near its anchors, rather than let "passed" read as "fixed".
 */
static void
say_if_not_reproduced(const char *input, const struct report *r)
{
    char meta[4200], line[1024], want[64] = "";
    snprintf(meta, sizeof meta, "%s.meta", input);
    FILE *f = fopen(meta, "r");
    while (f && fgets(line, sizeof line, f))
        if (sscanf(line, "expected: %63[a-zA-Z-]", want) == 1)
            break;
    if (f)
        fclose(f);
    if (!want[0] || !strcmp(want, "passed"))
        return;
    int segv = strstr(line, "(SIGSEGV") != NULL;
    int ok = !strcmp(r->verdict, want);
    if (!strcmp(want, "crash"))
        ok |= verdict_died(r->verdict);
    if (segv)
        ok = ok && r->signal == 11;
    if (ok)
        return;
    printf("replay: this input does NOT reproduce on this build: %s expects "
           "%s%s, the replay gave %s.  The race may be fixed, or the build "
           "moved it: 'ftfuzz search --expect %s%s %s' tries schedules near "
           "its anchors (what 'ftfuzz regress' does before it says fixed)\n",
           meta, want, segv ? " (SIGSEGV)" : "", r->verdict,
           !strcmp(want, "crash") ? "crash,assertion,fatal-error,sanitizer"
                                  : want,
           segv ? ":11" : "", input);
}

int
replay_input(int argc, char **argv, int first)
{
    if (first + 1 != argc) {
        fprintf(stderr, "ftfuzz replay: give one input FILE (or --trace "
                        "FILE -- PROGRAM for a C program)\n");
        return 2;
    }
    const char *input = argv[first];
    struct stat st;
    if (stat(input, &st) != 0 || !S_ISREG(st.st_mode)) {
        fprintf(stderr, "ftfuzz replay: %s: %s\n", input,
                errno ? strerror(errno) : "not a regular file");
        return 2;
    }
    if (access(input, R_OK) != 0) {
        fprintf(stderr, "ftfuzz replay: cannot read %s: %s\n", input,
                strerror(errno));
        return 2;
    }
    int brief = *flag("replay", "--brief") != 0;
    int quiet = *flag("replay", "--quiet") != 0;
    uint64_t times;
    if (parse_u64("replay", "--times", &times))
        return 2;
    if (times == 0)
        times = 1;
    char name[64], target[4300];
    if (resolve_target("replay", input, target, sizeof target, name,
                       sizeof name, brief || quiet))
        return 2;
    char *abs_input = realpath(input, NULL);
    disable_aslr();

    char dir[] = "/tmp/ftfuzz-replay-XXXXXX";
    if (!mkdtemp(dir)) {
        perror("ftfuzz replay: mkdtemp");
        free(abs_input);
        return 2;
    }
    struct report *r = calloc(1, sizeof *r), *again = calloc(1, sizeof *r);
    int rc = 0;
    uint64_t same = 0;
    for (uint64_t i = 0; i < times && rc == 0; i++) {
        struct report *cur = i == 0 ? r : again;
        if (i > 0)
            free_report(again);
        if (run_once(target, abs_input, dir, 1, NULL, cur) != 0) {
            rc = 2;
            break;
        }
        if (brief)
            printf("verdict=%s signal=%d hash=0x%016llx steps=%llu "
                   "switches=%llu%s%s\n", cur->verdict, cur->signal,
                   cur->hash, cur->steps, cur->switches,
                   cur->diagnosis[0] ? " diagnosis=" : "", cur->diagnosis);
        if (i == 0 || (cur->hash == r->hash
                       && !strcmp(cur->verdict, r->verdict)
                       && !strcmp(cur->diagnosis, r->diagnosis)))
            same++;
        else if (!brief)
            printf("replay: run %llu: %s, hash 0x%016llx (run 1: %s, "
                   "0x%016llx)\n", (unsigned long long)i + 1, cur->verdict,
                   cur->hash, r->verdict, r->hash);
        if (i == 0 && !brief && !quiet) {
            /* the report of the first run: outputs, then the text */
            char out_dir[4096], base[4096], repro[4400], trace[4400],
                svg[4400], src[4300];
            const char *o = flag("replay", "--out");
            snprintf(base, sizeof base, "%s", input);
            if (*o) {
                if (make_dir(o)) {
                    rc = 2;
                    break;
                }
                snprintf(out_dir, sizeof out_dir, "%s", o);
                snprintf(repro, sizeof repro, "%s/repro.py", out_dir);
                snprintf(trace, sizeof trace, "%s/trace", out_dir);
                snprintf(svg, sizeof svg, "%s/timeline.svg", out_dir);
            } else {
                snprintf(repro, sizeof repro, "%s.repro.py", input);
                snprintf(trace, sizeof trace, "%s.trace", input);
                snprintf(svg, sizeof svg, "%s.timeline.svg", input);
            }
            /* symbolize switch sites and the crash stack */
            struct location **locs =
                malloc((r->nsw * MAX_CALLERS + 1) * sizeof *locs);
            size_t nlocs = 0;
            for (size_t k = 0; locs && k < r->nsw; k++)
                for (unsigned j = 0; j < r->sw[k].nstack; j++)
                    locs[nlocs++] = &r->sw[k].stack[j];
            if (locs)
                symbolize(locs, nlocs, NULL);
            free(locs);
            for (size_t k = 0; k < r->nsw; k++)
                switch_location(&r->sw[k]);
            symbolize_stack(r);
            /* a second run watching the object CPython's diagnosis names
             * (its reference count writes, harnesses/report.c) */
            char addr[32];
            if (diagnosed_object(r, addr, sizeof addr)) {
                struct report *w = calloc(1, sizeof *w);
                if (w && run_once(target, abs_input, dir, 1, addr, w) == 0
                    && w->hash == r->hash && w->watched_addr) {
                    r->watch = w->watch;
                    r->nwatch = w->nwatch;
                    r->watched_addr = w->watched_addr;
                    r->watched_count = w->watched_count;
                    memcpy(r->watch_failed, w->watch_failed,
                           sizeof r->watch_failed);
                    w->watch = NULL;
                    struct location *wl[WATCH_MAX * WATCH_FRAMES];
                    size_t nwl = 0;
                    for (unsigned k = 0; k < r->nwatch; k++)
                        for (unsigned j = 0; j < r->watch[k].nframes; j++)
                            wl[nwl++] = &r->watch[k].frames[j];
                    symbolize(wl, nwl, NULL);
                    for (unsigned k = 0; k < r->nwatch; k++)
                        watch_location(&r->watch[k]);
                } else if (w) {
                    fprintf(stderr, "ftfuzz replay: the run watching %s "
                                    "did not replay the same execution "
                                    "(hash 0x%016llx): no reference count "
                                    "history\n", addr, w->hash);
                }
                if (w) {
                    free_report(w);
                    free(w);
                }
            }
            snprintf(src, sizeof src, "%s/report.trace", dir);
            if (write_repro(repro, input, r) != 0
                || (access(src, R_OK) == 0 && copy_file(src, trace) != 0)
                || write_timeline(svg, input, r) != 0) {
                fprintf(stderr, "ftfuzz replay: cannot write the report's "
                                "files (%s ...): %s; --out DIR writes them "
                                "elsewhere\n", repro, strerror(errno));
                rc = 2;
                break;
            }
            print_report(input, name, r, repro, trace, svg);
        }
    }
    if (rc == 0 && !brief) {
        printf("replay: %s, trace hash 0x%016llx in %llu of %llu runs\n",
               r->verdict, r->hash, (unsigned long long)same,
               (unsigned long long)times);
        if (same != times)
            rc = 1;
        say_if_not_reproduced(input, r);
    }
    char path[4200];
    static const char *const leftovers[] = {"log", "report", "report.trace",
                                            "sym.in", "sym.out"};
    for (size_t k = 0; k < sizeof leftovers / sizeof leftovers[0]; k++) {
        snprintf(path, sizeof path, "%s/%s", dir, leftovers[k]);
        unlink(path);
    }
    rmdir(dir);
    free_report(r);
    free_report(again);
    free(r);
    free(again);
    free(abs_input);
    return rc;
}

int
replay_run(const char *target, const char *input, const char *dir,
           int with_switches, struct replay_outcome *o)
{
    struct report *r = calloc(1, sizeof *r);
    memset(o, 0, sizeof *o);
    if (!r || run_once(target, input, dir, with_switches, NULL, r) != 0) {
        free(r);
        return -1;
    }
    snprintf(o->verdict, sizeof o->verdict, "%s", r->verdict);
    snprintf(o->diagnosis, sizeof o->diagnosis, "%s", r->diagnosis);
    o->signal = r->signal;
    o->hash = r->hash;
    o->steps = r->steps;
    o->switches = r->switches;
    if (with_switches && r->nsw) {
        o->sw = calloc(r->nsw, sizeof *o->sw);
        for (size_t i = 0; o->sw && i < r->nsw; i++)
            o->sw[i] = (struct replay_switch){
                .step = r->sw[i].step, .from = r->sw[i].from,
                .to = r->sw[i].to, .flags = r->sw[i].flags,
                .region = r->sw[i].region, .point = r->sw[i].point,
            };
        o->nsw = o->sw ? r->nsw : 0;
    }
    char path[4200];
    static const char *const leftovers[] = {"log", "report", "report.trace"};
    for (size_t k = 0; k < sizeof leftovers / sizeof leftovers[0]; k++) {
        snprintf(path, sizeof path, "%s/%s", dir, leftovers[k]);
        unlink(path);
    }
    free_report(r);
    free(r);
    return 0;
}

int
replay_details(const char *target, const char *input, const char *dir,
               struct replay_details *d)
{
    struct report *r = calloc(1, sizeof *r);
    memset(d, 0, sizeof *d);
    if (!r || run_once(target, input, dir, 1, NULL, r) != 0) {
        free(r);
        return -1;
    }
    struct replay_outcome *o = &d->o;
    snprintf(o->verdict, sizeof o->verdict, "%s", r->verdict);
    snprintf(o->diagnosis, sizeof o->diagnosis, "%s", r->diagnosis);
    o->signal = r->signal;
    o->hash = r->hash;
    o->steps = r->steps;
    o->switches = r->switches;
    symbolize_stack(r);
    for (unsigned i = 0; i < r->nframes && d->nfuncs < REPLAY_MAX_FUNCS;
         i++) {
        const char *w = r->frames[i].where;
        if (strstr(w, "harness_run_forked") || strstr(w, "fuzzer::"))
            break;
        while (*w && d->nfuncs < REPLAY_MAX_FUNCS) {
            size_t len = strcspn(w, " \n");
            snprintf(d->funcs[d->nfuncs++], sizeof d->funcs[0], "%.*s",
                     (int)len, w);
            w = strchr(w, '\n');
            w = w ? w + 1 : "";
        }
    }
    d->nobjects = r->nobjects;
    for (unsigned i = 0; i < r->nobjects; i++)
        snprintf(d->object_kind[i], sizeof d->object_kind[i], "%s",
                 r->object_kind[i]);
    d->nthreads = r->nthreads;
    for (unsigned t = 0; t < r->nthreads; t++) {
        d->nops[t] = r->nops[t];
        for (unsigned i = 0; i < r->nops[t]; i++)
            snprintf(d->op_py[t][i], sizeof d->op_py[t][i], "%s",
                     r->op_py[t][i]);
    }
    char path[4200];
    static const char *const leftovers[] = {"log", "report", "report.trace",
                                            "sym.in", "sym.out"};
    for (size_t k = 0; k < sizeof leftovers / sizeof leftovers[0]; k++) {
        snprintf(path, sizeof path, "%s/%s", dir, leftovers[k]);
        unlink(path);
    }
    free_report(r);
    free(r);
    return 0;
}
