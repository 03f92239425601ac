/*
 * Report mode (FTFUZZ_REPORT=PATH, set by `ftfuzz replay`): what the
 * replay report needs from inside the execution, written to PATH when it
 * ends or crashes, with the session's trace beside it in PATH.trace.
 *
 * Everything is kept in static memory and written with plain system calls
 * only at the end: an execution in report mode allocates nothing more than
 * one without, so it takes the same steps and has the same trace hash.
 * The scheduler's trace gives each switch's step, threads, kind and call
 * site; the op boundaries recorded here (in steps) say which operation each
 * thread was in at each switch.
 *
 * Format, one record per line (read by fuzz/cli/report.c):
 *   ftfuzz-report 1
 *   preamble PYTHON                      a line of the spec's imports and
 *                                        prelude (extension types only)
 *   object I KIND SOURCE PYTHON          SOURCE: iterated object or -1
 *   thread T SCHED_ID NOPS               program thread T ran as the
 *                                        scheduler's thread SCHED_ID (-1: it
 *                                        never started)
 *   op T I PYTHON                        thread T's op I, as Python
 *   run T I SCHED_ID START END RAISED    op I of thread T ran from step
 *                                        START to END (END 0: unfinished)
 *   crash SIGNAL
 *   frame MODULE+0xOFFSET                the crashing thread's stack, raw
 *                                        from backtrace() in the handler
 *   end
 */
#include <dlfcn.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"

#define REPORT_MAX_RUNS (PROG_MAX_THREADS * PROG_MAX_OPS)

static char report_path[4096];

static struct report_run {
    unsigned thread, op;
    int sched_id, raised;
    unsigned long long start, end;
} runs[REPORT_MAX_RUNS];
static unsigned nruns;

/* The scheduler id of each program thread, plus one: 0 is unknown, so
 * the zeroed array is right for any PROG_MAX_THREADS. */
static int thread_ids[PROG_MAX_THREADS];

/* Each thread's open run. */
static __thread int my_run = -1;

void
report_init(void)
{
    const char *p = ftfuzz_env_str("FTFUZZ_REPORT");
    if (p && *p)
        snprintf(report_path, sizeof report_path, "%s", p);
}

const char *
report_trace_path(void)
{
    static char path[4200];
    if (!report_path[0])
        return NULL;
    snprintf(path, sizeof path, "%s.trace", report_path);
    return path;
}

void
report_thread_start(unsigned thread)
{
    if (report_path[0] && thread < PROG_MAX_THREADS)
        thread_ids[thread] = ftfuzz_sched_self() + 1;
}

void
report_op_begin(unsigned thread, unsigned op)
{
    if (!report_path[0])
        return;
    /* Threads run one at a time: the counter needs no atomics. */
    if (nruns >= REPORT_MAX_RUNS) {
        my_run = -1;
        return;
    }
    my_run = (int)nruns++;
    runs[my_run] = (struct report_run){
        .thread = thread, .op = op, .sched_id = ftfuzz_sched_self(),
        .start = ftfuzz_sched_snapshot().steps,
    };
}

void
report_op_end(int raised)
{
    if (!report_path[0] || my_run < 0)
        return;
    runs[my_run].end = ftfuzz_sched_snapshot().steps;
    runs[my_run].raised = raised;
    my_run = -1;
}

static const char *const kind_names[] = {
    [PROG_LIST] = "list", [PROG_DICT] = "dict", [PROG_SET] = "set",
    [PROG_BYTEARRAY] = "bytearray", [PROG_DEQUE] = "deque",
    [PROG_ITER_LIST] = "list_iterator", [PROG_ITER_DICT] = "dict_iterator",
    [PROG_ITER_SET] = "set_iterator", [PROG_ITER_STR] = "str_iterator",
    [PROG_ITER_BYTES] = "bytes_iterator",
    [PROG_ITER_RANGE] = "range_iterator",
    [PROG_ITER_GENERIC_ALIAS] = "generic_alias_iterator",
};

void
report_write(const prog_program *p, const int *kinds, const int *sources,
             int sig, void *const *frames, int nframes)
{
    if (!report_path[0] || p == NULL)
        return;
    int fd = open(report_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
                  0644);
    if (fd < 0)
        return;
    char text[256];
    dprintf(fd, "ftfuzz-report 1\n");
    /* What the spec's expressions need, one line at a time */
    for (const char *l = spec_count() ? spec_preamble() : ""; *l;) {
        const char *nl = strchr(l, '\n');
        int len = nl ? (int)(nl - l) : (int)strlen(l);
        dprintf(fd, "preamble %.*s\n", len, l);
        l += len + (nl != NULL);
    }
    for (uint32_t i = 0; i < p->nobjects; i++) {
        harness_kind(kinds[i])->describe_object(kinds[i], p->objects[i].size,
                                                sources[i], text,
                            sizeof text);
        dprintf(fd, "object %u %s %d %s\n", i,
                kinds[i] >= PROG_KIND_COUNT ? spec_type_name(kinds[i])
                                            : kind_names[kinds[i]],
                sources[i], text);
    }
    for (uint32_t t = 0; t < p->nthreads; t++)
        dprintf(fd, "thread %u %d %u\n", t, thread_ids[t] - 1,
                p->threads[t].nops);
    for (uint32_t t = 0; t < p->nthreads; t++)
        for (uint32_t i = 0; i < p->threads[t].nops; i++) {
            const prog_op *op = &p->threads[t].ops[i];
            int k = kinds[op->target % p->nobjects];
            harness_kind(k)->describe(op, k, p->nobjects, text, sizeof text);
            dprintf(fd, "op %u %u %s\n", t, i, text);
        }
    for (unsigned i = 0; i < nruns; i++)
        dprintf(fd, "run %u %u %d %llu %llu %d\n", runs[i].thread,
                runs[i].op, runs[i].sched_id, runs[i].start, runs[i].end,
                runs[i].raised);
    if (sig) {
        dprintf(fd, "crash %d\n", sig);
        for (int i = 0; i < nframes; i++) {
            Dl_info info;
            uintptr_t off = (uintptr_t)frames[i];
            const char *module = "?";
            if (dladdr(frames[i], &info) && info.dli_fname) {
                module = info.dli_fname;
                off -= (uintptr_t)info.dli_fbase;
            }
            dprintf(fd, "frame %s+0x%lx\n", module, (unsigned long)off);
        }
    }
    dprintf(fd, "end\n");
    close(fd);
    const char *trace = report_trace_path();
    ftfuzz_sched_write_trace(trace);
}
