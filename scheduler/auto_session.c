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
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ftfuzz/aslr.h"
#include "ftfuzz/env.h"
#include "sched_internal.h"

static ftfuzz_strategy *auto_strategy;
static int auto_done;


/* Writes the closing line and the result file; once. */
static void
auto_finish(int verdict, int sig)
{
    if (__atomic_exchange_n(&auto_done, 1, __ATOMIC_SEQ_CST))
        return;
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
        FILE *f = fopen(path, "w");
        if (f) {
            fprintf(f,
                    "verdict %s\nsignal %d\nhash 0x%016llx\nsteps %llu\n"
                    "switches %llu\nstrategy %s\n",
                    ftfuzz_verdict_name(verdict), sig,
                    (unsigned long long)r.trace_hash,
                    (unsigned long long)r.steps,
                    (unsigned long long)r.switches, sched.strategy_text);
            fclose(f);
        }
    }
}

static void
auto_on_finding(int verdict, const char *report)
{
    fprintf(stderr, "==ftfuzz== FINDING: %s\n%s", ftfuzz_verdict_name(verdict),
            report);
    auto_finish(verdict, 0);
    signal(SIGABRT, SIG_DFL);
    abort();
}

static void
auto_crash(int sig)
{
    int verdict = sched.verdict ? sched.verdict : FTFUZZ_VERDICT_CRASH;
    auto_finish(verdict, sig);
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
        fprintf(stderr, "==ftfuzz== FINDING: diverged\ndivergence: %s\n",
                sched.strategy->divergence(sched.strategy));
        auto_finish(FTFUZZ_VERDICT_DIVERGED, 0);
        _exit(3);
    }
    auto_finish(FTFUZZ_VERDICT_PASSED, 0);
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
    static const int sigs[] = { SIGSEGV, SIGABRT, SIGBUS, SIGFPE, SIGILL };
    for (size_t i = 0; i < sizeof sigs / sizeof sigs[0]; i++)
        signal(sigs[i], auto_crash);
    atexit(auto_exit);
    ftfuzz_sched_config cfg = {
        .strategy = auto_strategy,
        .trace_out = ftfuzz_env_str("FTFUZZ_TRACE_OUT"),
        .on_finding = auto_on_finding,
    };
    if (cfg.trace_out && !*cfg.trace_out)
        cfg.trace_out = NULL;
    if (ftfuzz_sched_begin(&cfg) != 0)
        exit(2);
}
