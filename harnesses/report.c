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
 *   watched ADDRESS N                    FTFUZZ_WATCH: N writes seen to the
 *                                        object's reference count fields
 *   watch-failed ADDRESS REASON          or why none could be watched
 *   watch STEP SCHED_ID LOCAL SHARED MODULE+0xOFFSET...
 *                                        one of the last of them: the
 *                                        fields after the write, and the
 *                                        writing thread's stack
 *   end
 */
#include <dlfcn.h>
#include <errno.h>
#include <execinfo.h>
#include <fcntl.h>
#include <linux/hw_breakpoint.h>
#include <linux/perf_event.h>
#include <signal.h>
#include <stddef.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ftfuzz/env.h"
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

/*
 * FTFUZZ_WATCH=ADDRESS (with FTFUZZ_REPORT; `ftfuzz replay` sets it for a
 * second run when CPython's diagnosis names an object): hardware
 * watchpoints (perf_event_open, PERF_TYPE_BREAKPOINT) on the object's
 * ob_ref_local and ob_ref_shared.  A watchpoint sees every write, the
 * owner thread's plain ones included, which instrumenting the refcount
 * helpers would too but only by rebuilding CPython; and it takes no
 * scheduling point and allocates nothing, so the run keeps its steps.
 * The events are inherited by the threads the execution starts, and each
 * write delivers SIGTRAP to the writing thread (sigtrap), whose handler
 * records the step, the thread, the fields and its stack.  Replays are
 * exact and addresses stable (no ASLR), so the object is at the same
 * address as in the first run; writes to that address before the object
 * was allocated are recorded too (the report shows the last ones).
 * Some virtual machines accept breakpoint events that never fire (no
 * debug registers): a probe write first tells, and the report says so
 * rather than show an empty history.
 */
#define WATCH_RING 64
#define WATCH_FRAMES 10

/* Mapped only when watching: static storage would move the data of
 * everything linked after the harness, CPython's included, and with it
 * the execution's steps (the regression inputs' schedules are that
 * fragile). */
static struct watch {
    uintptr_t addr;
    unsigned long long count;
    char failed[200];          /* why nothing is watched, or "" */
    volatile long probe;
    struct watch_hit {
        unsigned long long step;
        int sched_id;
        uint32_t local;
        Py_ssize_t shared;
        void *frames[WATCH_FRAMES];
        int nframes;
    } hits[WATCH_RING];
} *watch;

static void
watch_trap(int sig, siginfo_t *info, void *uctx)
{
    (void)sig;
    (void)info;
    (void)uctx;
    struct watch_hit *h = &watch->hits[watch->count++ % WATCH_RING];
    PyObject *o = (PyObject *)watch->addr;
    h->step = ftfuzz_sched_snapshot().steps;
    h->sched_id = ftfuzz_sched_self();
    h->local = __atomic_load_n(&o->ob_ref_local, __ATOMIC_RELAXED);
    h->shared = __atomic_load_n(&o->ob_ref_shared, __ATOMIC_RELAXED);
    /* [0] this handler, [1] the signal trampoline, [2] the instruction
     * after the write (a data watchpoint traps after it) */
    void *frames[WATCH_FRAMES + 2];
    int n = backtrace(frames, WATCH_FRAMES + 2);
    h->nframes = n > 2 ? n - 2 : 0;
    memcpy(h->frames, frames + 2, sizeof(void *) * (size_t)h->nframes);
}

static int
watch_field(uintptr_t addr, int len)
{
    struct perf_event_attr a;
    memset(&a, 0, sizeof a);
    a.type = PERF_TYPE_BREAKPOINT;
    a.size = sizeof a;
    a.bp_type = HW_BREAKPOINT_W;
    a.bp_addr = addr;
    a.bp_len = (uint64_t)len;
    a.sample_period = 1;
    a.inherit = 1;          /* the threads the execution starts */
    a.sigtrap = 1;          /* SIGTRAP to the thread that wrote */
    a.remove_on_exec = 1;   /* which sigtrap requires */
    a.exclude_kernel = 1;
    a.exclude_hv = 1;
    return (int)syscall(SYS_perf_event_open, &a, 0, -1, -1,
                        PERF_FLAG_FD_CLOEXEC);
}

/* 1 when a write to *probe counts on a breakpoint event; 0 when it does
 * not; -1 (errno set) when the event cannot be opened. */
static int
watch_fires(volatile long *probe)
{
    struct perf_event_attr a;
    memset(&a, 0, sizeof a);
    a.type = PERF_TYPE_BREAKPOINT;
    a.size = sizeof a;
    a.bp_type = HW_BREAKPOINT_W;
    a.bp_addr = (uintptr_t)probe;
    a.bp_len = sizeof *probe;
    a.sample_period = 1;
    a.exclude_kernel = 1;
    a.exclude_hv = 1;
    int fd = (int)syscall(SYS_perf_event_open, &a, 0, -1, -1,
                          PERF_FLAG_FD_CLOEXEC);
    if (fd < 0)
        return -1;
    *probe = 1;
    *probe = 2;
    long long n = 0;
    if (read(fd, &n, sizeof n) != (ssize_t)sizeof n)
        n = 0;
    close(fd);
    return n > 0;
}

void
report_watch_start(void)
{
    uintptr_t addr = (uintptr_t)ftfuzz_env_u64("FTFUZZ_WATCH");
    if (!report_path[0] || !addr)
        return;
    watch = mmap(NULL, sizeof *watch, PROT_READ | PROT_WRITE,
                 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (watch == MAP_FAILED) {
        watch = NULL;
        return;
    }
    watch->addr = addr;
    int fires = watch_fires(&watch->probe);
    if (fires <= 0) {
        snprintf(watch->failed, sizeof watch->failed, "%s%s",
                 fires < 0 ? "perf_event_open: " : "hardware watchpoints "
                 "do not fire on this machine (a virtual machine without "
                 "debug registers?)", fires < 0 ? strerror(errno) : "");
        dprintf(2, "==ftfuzz== cannot watch 0x%lx: %s\n",
                (unsigned long)addr, watch->failed);
        return;
    }
    /* backtrace() loads its unwinder on first use: not inside the run */
    void *warm[2];
    backtrace(warm, 2);
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = watch_trap;
    sa.sa_flags = SA_SIGINFO | SA_RESTART;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTRAP, &sa, NULL);
    if (watch_field(addr + offsetof(PyObject, ob_ref_local), 4) < 0
        || watch_field(addr + offsetof(PyObject, ob_ref_shared), 8) < 0) {
        snprintf(watch->failed, sizeof watch->failed, "perf_event_open: %s",
                 strerror(errno));
        dprintf(2, "==ftfuzz== cannot watch 0x%lx: %s\n",
                (unsigned long)addr, watch->failed);
    }
}

static void
write_frame(int fd, void *pc)
{
    Dl_info info;
    uintptr_t off = (uintptr_t)pc;
    const char *module = "?";
    if (dladdr(pc, &info) && info.dli_fname) {
        module = info.dli_fname;
        off -= (uintptr_t)info.dli_fbase;
    }
    dprintf(fd, " %s+0x%lx", module, (unsigned long)off);
}

static void
write_watch(int fd)
{
    if (!watch)
        return;
    if (watch->failed[0]) {
        dprintf(fd, "watch-failed 0x%lx %s\n", (unsigned long)watch->addr,
                watch->failed);
        return;
    }
    dprintf(fd, "watched 0x%lx %llu\n", (unsigned long)watch->addr,
            watch->count);
    unsigned long long first = watch->count > WATCH_RING
                               ? watch->count - WATCH_RING : 0;
    for (unsigned long long i = first; i < watch->count; i++) {
        const struct watch_hit *h = &watch->hits[i % WATCH_RING];
        dprintf(fd, "watch %llu %d %u %lld", h->step, h->sched_id, h->local,
                (long long)h->shared);
        for (int k = 0; k < h->nframes; k++)
            write_frame(fd, h->frames[k]);
        dprintf(fd, "\n");
    }
}

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
                harness_kind(kinds[i])->type_name(kinds[i]), sources[i],
                text);
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
    write_watch(fd);
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
