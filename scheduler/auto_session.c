/*
 * The automatic session for plain C programs built with scripts/ftfuzz-cc.
 * It is linked as its own object (build/lib/ftfuzz_auto.o), never through
 * the library, so embedding programs that open sessions themselves (the
 * CPython harnesses) do not get it.
 *
 * Before main: turn address-space randomization off (re-exec once), read
 * the strategy from the environment (envs.def), open a session on the main
 * thread.  At exit, or on a crash signal: print the verdict line with the
 * trace hash, write FTFUZZ_TRACE_OUT and FTFUZZ_RESULT.  The ftfuzz explore
 * and replay commands read the result file.
 */
#include <errno.h>
#include <execinfo.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ftfuzz/aslr.h"
#include "ftfuzz/env.h"
#include "ftfuzz/result.h"
#include "sched_internal.h"

static ftfuzz_strategy *auto_strategy;
static int auto_done;

/* Defined (as an absolute symbol) by `ftfuzz-cc --plain-accesses` at link
 * time: the program has plain-access points, so learn its shared memory
 * first (plain_access.c). */
extern const char ftfuzz_plain_accesses_linked[] __attribute__((weak));

/* Writes the closing line and the result record (include/ftfuzz/
 * result.h) with the finding's report when there is one; once. */
static void
auto_finish(int verdict, int sig, const char *finding)
{
    if (__atomic_exchange_n(&auto_done, 1, __ATOMIC_SEQ_CST))
        return;
    sched_plain_auto_finish();
    ftfuzz_sched_result r = ftfuzz_sched_snapshot();
    if (sched.trace_out[0])
        ftfuzz_sched_write_trace(sched.trace_out);
    if (!ftfuzz_env_bool("FTFUZZ_QUIET"))
        fprintf(stderr,
                "==ftfuzz== verdict %s%s, trace hash 0x%016llx, steps %llu, "
                "switches %llu, strategy %s\n",
                ftfuzz_verdict_name(verdict), sig ? " (signal)" : "",
                (unsigned long long)r.trace_hash,
                (unsigned long long)r.steps,
                (unsigned long long)r.switches, sched.strategy_text);
    const char *path = ftfuzz_env_str("FTFUZZ_RESULT");
    if (path && *path) {
        /* static: this runs in crash handlers, on a heap that may be
         * broken, and once */
        static struct ftfuzz_result rec;
        static char text[3 * FTFUZZ_RESULT_TEXT];
        rec.verdict = verdict;
        rec.signal = sig;
        rec.have_hash = 1;
        rec.hash = r.trace_hash;
        rec.steps = r.steps;
        rec.switches = r.switches;
        snprintf(rec.strategy, sizeof rec.strategy, "%s", sched.strategy_text);
        if (finding)
            snprintf(rec.finding, sizeof rec.finding, "%s", finding);
        ftfuzz_result_write(path, &rec, text, sizeof text);
    }
}

/* The finding's report for the result record (static: see auto_finish). */
static char finding_text[FTFUZZ_RESULT_TEXT];

/* The crashing thread's symbolized stack, as deadlock reports show each
 * waiter's; runs in the signal handler, on the thread that crashed. */
__attribute__((noinline)) static void
auto_crash_report(int sig)
{
    void *frames[SCHED_STACK_DEPTH + 2];
    int n = backtrace(frames, SCHED_STACK_DEPTH + 2);
    /* less this function, the handler and the signal trampoline (which
     * llvm-symbolizer cannot name) */
    int skip = n > 3 ? 3 : n;
    struct sched_thread *self = sched_self;
    char *buf = NULL;
    size_t len = 0, cap = 0;
    char who[64];
    if (self)
        snprintf(who, sizeof who, "T%u", self->id);
    else
        snprintf(who, sizeof who, "an unmanaged thread");
    sched_report_append(&buf, &len, &cap,
                        "==ftfuzz== FINDING: crash\n"
                        "crash: %s received signal %d (%s) at step %llu\n"
                        "  %s's stack:\n",
                        who, sig,
                        sigdescr_np(sig) ? sigdescr_np(sig) : "?",
                        (unsigned long long)ftfuzz_sched_step, who);
    sched_report_stack(&buf, &len, &cap, frames + skip, n - skip);
    sched_write_all(2, buf, len);
    snprintf(finding_text, sizeof finding_text, "%.*s", (int)len, buf);
    sched_mem_free(buf);
}

static void
auto_on_finding(int verdict, const char *report)
{
    snprintf(finding_text, sizeof finding_text, "==ftfuzz== FINDING: %s\n%s",
             ftfuzz_verdict_name(verdict), report);
    fputs(finding_text, stderr);
    auto_finish(verdict, 0, finding_text);
    signal(SIGABRT, SIG_DFL);
    abort();
}

static void
auto_crash(int sig)
{
    int verdict = sched.verdict ? sched.verdict : FTFUZZ_VERDICT_CRASH;
    /* a finding's own abort has printed its report already */
    if (!sched.verdict && !auto_done)
        auto_crash_report(sig);
    auto_finish(verdict, sig, finding_text[0] ? finding_text : NULL);
    signal(sig, SIG_DFL);
    raise(sig);
}

static void
auto_exit(void)
{
    /* exit() from any thread ends the program: the others are parked.
     * A replay that ran out early, or past its end, has diverged. */
    if (sched.strategy && sched.strategy->finished
        && sched.strategy->finished(sched.strategy, ftfuzz_sched_step)) {
        sched.verdict = FTFUZZ_VERDICT_DIVERGED;
        snprintf(finding_text, sizeof finding_text,
                 "==ftfuzz== FINDING: diverged\ndivergence: %s\n",
                 sched.strategy->divergence(sched.strategy));
        fputs(finding_text, stderr);
        auto_finish(FTFUZZ_VERDICT_DIVERGED, 0, finding_text);
        _exit(3);
    }
    auto_finish(FTFUZZ_VERDICT_PASSED, 0, NULL);
}

__attribute__((constructor)) static void
auto_session_start(int argc, char **argv)
{
    (void)argc;
    if (ftfuzz_env_bool("FTFUZZ_DISABLE"))
        return;
    if (!ftfuzz_env_bool("FTFUZZ_NO_REEXEC"))
        ftfuzz_aslr_reexec(argv);
    /* after the re-exec, so that a warning is printed once */
    ftfuzz_env_validate(environ);
    const char *spec = ftfuzz_env_str("FTFUZZ_STRATEGY");
    uint64_t seed = ftfuzz_env_u64("FTFUZZ_SEED");
    char err[512];
    auto_strategy = ftfuzz_strategy_parse(spec, seed, err, sizeof err);
    if (!auto_strategy) {
        fprintf(stderr, "ftfuzz: FTFUZZ_STRATEGY: %s\n", err);
        exit(2);
    }
    /* in the learning child: its fixed schedule instead */
    ftfuzz_strategy *learn =
        ftfuzz_plain_accesses_linked ? sched_plain_auto_learn() : NULL;
    static const int sigs[] = { SIGSEGV, SIGABRT, SIGBUS, SIGFPE, SIGILL };
    for (size_t i = 0; i < sizeof sigs / sizeof sigs[0]; i++)
        signal(sigs[i], auto_crash);
    atexit(auto_exit);
    ftfuzz_sched_config cfg = {
        .strategy = learn ? learn : auto_strategy,
        .trace_out = ftfuzz_env_str("FTFUZZ_TRACE_OUT"),
        .on_finding = auto_on_finding,
    };
    if (cfg.trace_out && !*cfg.trace_out)
        cfg.trace_out = NULL;
    if (ftfuzz_sched_begin(&cfg) != 0)
        exit(2);
}
