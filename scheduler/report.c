/*
 * Findings: report text, symbolized stacks (llvm-symbolizer), and the
 * watchdog that turns a thread stuck outside the scheduler's reach into a
 * report instead of a silent hang.
 */
#include <dlfcn.h>
#include <errno.h>
#include <execinfo.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "ftfuzz/symbolizer.h"
#include "sched_internal.h"

void
sched_report_append(char **buf, size_t *len, size_t *cap, const char *fmt,
                    ...)
{
    va_list ap;
    for (;;) {
        size_t room = *cap - *len;
        va_start(ap, fmt);
        int n = vsnprintf(*buf ? *buf + *len : NULL, room, fmt, ap);
        va_end(ap);
        if (n < 0)
            return;
        if ((size_t)n < room) {
            *len += (size_t)n;
            return;
        }
        size_t ncap = (*cap ? *cap * 2 : 1024) + (size_t)n;
        *buf = sched_mem_realloc(*buf, ncap);
        *cap = ncap;
    }
}

/* --- symbolization ----------------------------------------------------------- */

/* Frames of the scheduler itself are left out of reports. */
static int
is_runtime_frame(const char *fn)
{
    return !strncmp(fn, "sched_", 6) || !strncmp(fn, "__wrap_", 7)
           || !strncmp(fn, "ftfuzz_", 7) || !strcmp(fn, "__restore_rt");
}

/*
 * Appends one line per frame: "#N function file:line (module+0xoff)".
 * Return addresses point after the call, so all but the innermost frame
 * are looked up one byte earlier, at the call itself.
 */
void
sched_report_stack(char **buf, size_t *len, size_t *cap, void *const *frames,
                   int n)
{
    char modules[SCHED_STACK_DEPTH][256];
    uintptr_t offsets[SCHED_STACK_DEPTH];
    char *query = NULL;
    size_t qlen = 0, qcap = 0;
    if (n > SCHED_STACK_DEPTH)
        n = SCHED_STACK_DEPTH;
    for (int i = 0; i < n; i++) {
        Dl_info info;
        uintptr_t pc = (uintptr_t)frames[i] - (i > 0);
        snprintf(modules[i], sizeof modules[i], "?");
        offsets[i] = pc;
        if (dladdr((void *)pc, &info) && info.dli_fname) {
            snprintf(modules[i], sizeof modules[i], "%s", info.dli_fname);
            offsets[i] = pc - (uintptr_t)info.dli_fbase;
        }
        char line[300];
        ftfuzz_sym_query(line, sizeof line, modules[i],
                         (unsigned long)offsets[i]);
        sched_report_append(&query, &qlen, &qcap, "%s", line);
    }
    char *text = n > 0 ? ftfuzz_sym_run(query, qlen, FTFUZZ_SYM_RELATIVE,
                                        sched_mem_realloc, sched_mem_free)
                       : NULL;
    const char *out = text;
    int shown = 0;
    for (int i = 0; i < n; i++) {
        /* up to 8 inlined frames, innermost first; fr[nf - 1] is always
         * the outermost (the function the stack holds) */
        struct ftfuzz_sym_frame fr[8];
        int nf = ftfuzz_sym_next(&out, offsets[i], fr, 8);
        if (nf <= 0) {
            sched_report_append(buf, len, cap, "    #%d %s+0x%lx\n",
                                shown++, modules[i],
                                (unsigned long)offsets[i]);
            continue;
        }
        if (is_runtime_frame(fr[nf - 1].function))
            continue;
        for (int k = 0; k < nf; k++)
            sched_report_append(buf, len, cap,
                                "    #%d %s %s:%lu:%lu%s (%s+0x%lx)\n",
                                shown++, ftfuzz_sym_name(fr[k].function),
                                ftfuzz_sym_name(fr[k].file), fr[k].line,
                                fr[k].column, k < nf - 1 ? " [inlined]" : "",
                                modules[i], (unsigned long)offsets[i]);
    }
    sched_mem_free(text);
    sched_mem_free(query);
}

static const char *
state_name(int state)
{
    switch (state) {
    case SCHED_T_RUNNABLE: return "runnable";
    case SCHED_T_BLOCKED: return "blocked";
    case SCHED_T_FINISHED: return "finished";
    }
    return "?";
}

void
sched_report_threads(char **buf, size_t *len, size_t *cap)
{
    for (unsigned i = 0; i < sched.nthreads; i++) {
        struct sched_thread *t = &sched.threads[i];
        sched_report_append(buf, len, cap, "  T%u (tid %d): %s", t->id,
                            (int)t->tid, state_name(t->state));
        if (t->state == SCHED_T_BLOCKED) {
            sched_report_append(buf, len, cap, " in %s on %p",
                                ftfuzz_point_kind_name(t->block_kind),
                                t->block_obj);
            if (t->deadline != SCHED_NO_DEADLINE)
                sched_report_append(buf, len, cap, " until %llu ns",
                                    (unsigned long long)t->deadline);
        }
        if (t == sched.current)
            sched_report_append(buf, len, cap, " (ran last)");
        sched_report_append(buf, len, cap, "\n");
        if (t->state == SCHED_T_BLOCKED && t->nframes > 0)
            sched_report_stack(buf, len, cap, t->frames, t->nframes);
    }
}

void
sched_default_on_finding(int verdict, const char *report)
{
    ftfuzz_sched_result r = ftfuzz_sched_snapshot();
    fprintf(stderr,
            "==ftfuzz== FINDING: %s\n%s"
            "==ftfuzz== strategy %s, trace hash 0x%016llx, steps %llu, "
            "switches %llu\n",
            ftfuzz_verdict_name(verdict), report, sched.strategy_text,
            (unsigned long long)r.trace_hash, (unsigned long long)r.steps,
            (unsigned long long)r.switches);
    abort();
}

/* --- watchdog ---------------------------------------------------------------- */

static void *hang_frames[SCHED_STACK_DEPTH];
static int hang_nframes;
static int hang_ready;
static struct sched_thread *hang_thread;

/* Runs on the stuck thread: its stack, less this handler and the signal
 * trampoline. */
static void
sched_hang_signal(int sig)
{
    (void)sig;
    if (sched_self && sched_self == hang_thread) {
        void *frames[SCHED_STACK_DEPTH + 2];
        int n = backtrace(frames, SCHED_STACK_DEPTH + 2);
        hang_nframes = n > 2 ? n - 2 : 0;
        memcpy(hang_frames, frames + 2, sizeof(void *) * (size_t)hang_nframes);
        __atomic_store_n(&hang_ready, 1, __ATOMIC_RELEASE);
    }
}

static void
watchdog_sleep_ms(long ms)
{
    struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
    __real_clock_nanosleep(CLOCK_MONOTONIC, 0, &ts, NULL);
}

static void *
watchdog_main(void *arg)
{
    (void)arg;
    uint64_t last = UINT64_MAX;
    unsigned idle_ms = 0;
    for (;;) {
        watchdog_sleep_ms(100);
        if (!__atomic_load_n(&sched.active, __ATOMIC_ACQUIRE)) {
            last = UINT64_MAX;
            idle_ms = 0;
            continue;
        }
        uint64_t s = __atomic_load_n(&ftfuzz_sched_step, __ATOMIC_RELAXED);
        if (s != last) {
            last = s;
            idle_ms = 0;
            continue;
        }
        idle_ms += 100;
        if (idle_ms < sched.watchdog_seconds * 1000u)
            continue;

        struct sched_thread *t =
            __atomic_load_n(&sched.current, __ATOMIC_ACQUIRE);
        hang_thread = t;
        if (t && pthread_kill(t->handle, SIGRTMIN + 2) == 0)
            for (int i = 0; i < 40 && !__atomic_load_n(&hang_ready,
                                                       __ATOMIC_ACQUIRE);
                 i++)
                watchdog_sleep_ms(50);
        char *buf = NULL;
        size_t len = 0, cap = 0;
        sched_report_append(
            &buf, &len, &cap,
            "hang: T%u ran for %u s of real time without reaching a "
            "scheduling point (step %llu): it is blocked in a call the "
            "scheduler does not model, or computes without atomics\n",
            t ? t->id : 0, sched.watchdog_seconds, (unsigned long long)s);
        if (hang_ready) {
            sched_report_append(&buf, &len, &cap, "  T%u's stack:\n",
                                t->id);
            sched_report_stack(&buf, &len, &cap, hang_frames, hang_nframes);
        }
        sched_report_append(&buf, &len, &cap, "threads:\n");
        sched_report_threads(&buf, &len, &cap);
        sched_finding(FTFUZZ_VERDICT_HANG, buf);
    }
    return NULL;
}

void
sched_watchdog_start(void)
{
    static int started;
    if (started)
        return;
    started = 1;
    /* backtrace() loads libgcc on first use: do that now, not in the
     * signal handler. */
    void *warm[2];
    backtrace(warm, 2);
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = sched_hang_signal;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_RESTART;
    sigaction(SIGRTMIN + 2, &sa, NULL);
    pthread_t t;
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    if (__real_pthread_create(&t, &attr, watchdog_main, NULL) != 0)
        fprintf(stderr, "ftfuzz: could not start the watchdog thread\n");
    pthread_attr_destroy(&attr);
}
