/*
 * libFuzzer entry points of the CPython fuzz targets.  One binary per
 * family: compiled with -DFTFUZZ_FAMILY=HARNESS_LIST and so on
 * (harnesses/harness.mk).  The custom mutator comes from fuzz/.
 */
#include <dlfcn.h>
#include <elf.h>
#include <errno.h>
#include <execinfo.h>
#include <link.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "ftfuzz/aslr.h"
#include "ftfuzz/diagnosis.h"
#include "ftfuzz/env.h"
#include "ftfuzz/result.h"
#include "ftfuzz/symbolizer.h"
#include "harness.h"

#ifndef FTFUZZ_FAMILY
#error "compile with -DFTFUZZ_FAMILY=HARNESS_<family>"
#endif

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Address-space layout leaks into CPython's behaviour (DESIGN-NOTES §5):
 * run with randomization off, re-executing once if needed. */
static void
harness_no_aslr(char **argv)
{
    if (!ftfuzz_env_bool("FTFUZZ_NO_REEXEC"))
        ftfuzz_aslr_reexec(argv);
}

/* What a forked execution hands back to the fuzzing process. */
#define CRASH_FRAMES 64
struct shared_result {
    ftfuzz_sched_result result;
    int have_result;           /* result holds the execution's figures */
    int verdict;               /* harness_verdict when a finding ended it */
    char finding[32];          /* what killed the child, for the stats */
    int crash_signal;          /* the child's stack when a signal killed it */
    int nframes;
    void *frames[CRASH_FRAMES];
    uint8_t counters[];
};

static struct shared_result *shared;

/*
 * Interleaving coverage (docs/harness.md): libFuzzer reads this section
 * as extra features and clears it before each input.  Each execution
 * folds its switches into it (ftfuzz_sched_interleaving), so a schedule
 * that reaches known code in a new order still counts as new.
 * FTFUZZ_INTERLEAVING: sites (default), preemptions (sites of the
 * switches the schedule forced only), chains (sites and consecutive pairs
 * of them), readsfrom (pairs of sites of an atomic read and of the other
 * thread's write it saw), all (sites and readsfrom) or off.
 */
#define IL_COUNTERS (1 << 16)
__asm__(".section __libfuzzer_extra_counters,\"aw\",@nobits\n"
        ".balign 64\n"
        "ftfuzz_il_counters:\n"
        ".zero 65536\n"
        ".previous\n");
extern uint8_t ftfuzz_il_counters[IL_COUNTERS];
#define il_counters ftfuzz_il_counters
static unsigned il_features = FTFUZZ_IL_SITES;

static void
harness_interleaving_init(void)
{
    const char *v = ftfuzz_env_str("FTFUZZ_INTERLEAVING");
    if (strcmp(v, "sites") == 0)
        il_features = FTFUZZ_IL_SITES;
    else if (strcmp(v, "chains") == 0)
        il_features = FTFUZZ_IL_SITES | FTFUZZ_IL_CHAINS;
    else if (strcmp(v, "preemptions") == 0)
        il_features = FTFUZZ_IL_SITES | FTFUZZ_IL_PREEMPTIONS;
    else if (strcmp(v, "readsfrom") == 0)
        il_features = FTFUZZ_IL_READS_FROM;
    else if (strcmp(v, "all") == 0)
        il_features = FTFUZZ_IL_SITES | FTFUZZ_IL_READS_FROM;
    else if (strcmp(v, "off") == 0 || strcmp(v, "0") == 0)
        il_features = 0;
    else {
        fprintf(stderr, "ftfuzz: FTFUZZ_INTERLEAVING=%s: expected sites, "
                        "preemptions, chains, readsfrom, all or off\n", v);
        exit(2);
    }
    harness_reads_from = (il_features & FTFUZZ_IL_READS_FROM) != 0;
}
static int harness_dso_counters(struct dl_phdr_info *info, size_t size,
                                void *data);
static void harness_add_region(uint8_t *start, size_t size);
static int harness_explore(const char *out);
static const char *stats_path;     /* FTFUZZ_STATS */
static void stats_flush(void);

static const int crash_signals[] = {SIGABRT, SIGSEGV, SIGBUS, SIGFPE, SIGILL};

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    harness_no_aslr(*argv);
    ftfuzz_env_validate(environ);
    const char *stats = ftfuzz_env_str("FTFUZZ_STATS");
    if (*stats) {
        stats_path = stats;
        atexit(stats_flush);
    }
    harness_interleaving_init();
    harness_init((*argv)[0], FTFUZZ_FAMILY);
    dl_iterate_phdr(harness_dso_counters, NULL);
    /* forked executions hand the interleaving features back like the
     * rest of the coverage */
    harness_add_region(il_counters, IL_COUNTERS);
    /* FTFUZZ_WRITE_SEEDS=DIR [FTFUZZ_SEED_SWEEP=N]: write seeds for the
     * spec's types and stop (ftfuzz fuzz does this for fuzz_ext and
     * fuzz_spec) */
    const char *explore = ftfuzz_env_str("FTFUZZ_EXPLORE");
    if (*explore) {
        fflush(stdout);
        exit(harness_explore(explore));
    }
    const char *seeds = ftfuzz_env_str("FTFUZZ_WRITE_SEEDS");
    if (*seeds) {
        uint64_t sweep = ftfuzz_env_u64("FTFUZZ_SEED_SWEEP");
        int n = spec_write_seeds(seeds,
                                 FTFUZZ_FAMILY == HARNESS_MIXED
                                     ? PROG_KIND_COUNT : 0,
                                 sweep > 256 ? 256 : (unsigned)sweep);
        if (n >= 0)
            fprintf(stderr, "ftfuzz: %d seeds for %d types in %s\n", n,
                    spec_count(), seeds);
        exit(n >= 0 ? 0 : 1);
    }
    return 0;
}

/*
 * A crash inside an execution (a CPython assertion, a segfault) is
 * libFuzzer's to report; the handlers below add the scheduler's figures to
 * that report and then hand over to libFuzzer's own handler, which is in
 * place by the first execution.
 */

static struct sigaction previous[NSIG];
static int in_run;
static pid_t parent_pid;

static void
harness_crash(int sig, siginfo_t *info, void *uctx)
{
    if (in_run) {
        ftfuzz_sched_result r = ftfuzz_sched_snapshot();
        if (shared && getpid() != parent_pid) {
            shared->result = r;
            shared->have_result = 1;
        }
        fprintf(stderr,
                "==ftfuzz== crash during an execution: signal %d, step %llu, "
                "switches %llu, trace hash 0x%016llx\n",
                sig, (unsigned long long)r.steps,
                (unsigned long long)r.switches,
                (unsigned long long)r.trace_hash);
    }
    struct sigaction *p = &previous[sig];
    if (getpid() != parent_pid) {
        if (shared) {
            shared->verdict = harness_verdict;
            snprintf(shared->finding, sizeof shared->finding, "%s",
                     harness_verdict ? ftfuzz_verdict_name(harness_verdict)
                     : sig == SIGSEGV ? "SIGSEGV"
                     : sig == SIGABRT ? "SIGABRT"
                     : sig == SIGBUS ? "SIGBUS" : "signal");
        }
        /* A forked execution leaves its stack to the parent, which prints
         * it as a sanitizer would (harness_child_report), and dies of the
         * signal itself.  Not the sanitizer's deadly-signal report, even
         * where one is installed: the verdict is the signal (a sanitizer
         * exits instead), and the same report everywhere. */
        void *frames[CRASH_FRAMES];
        int n = backtrace(frames, CRASH_FRAMES);
        if (shared) {
            memcpy(shared->frames, frames, sizeof(void *) * (size_t)n);
            shared->nframes = n;
            shared->crash_signal = sig;
        }
        harness_report_crash(sig, frames, n);
        signal(sig, SIG_DFL);
        raise(sig);
        return;
    }
    if (p->sa_flags & SA_SIGINFO && p->sa_sigaction) {
        p->sa_sigaction(sig, info, uctx);
    } else if (p->sa_handler != SIG_DFL && p->sa_handler != SIG_IGN) {
        p->sa_handler(sig);
    } else {
        signal(sig, SIG_DFL);
        raise(sig);
    }
}

static void
harness_chain_handlers(void)
{
    const int *sigs = crash_signals;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = harness_crash;
    sa.sa_flags = SA_SIGINFO | SA_NODEFER;
    sigemptyset(&sa.sa_mask);
    parent_pid = getpid();
    for (size_t i = 0; i < sizeof crash_signals / sizeof crash_signals[0];
         i++)
        sigaction(sigs[i], &sa, &previous[sigs[i]]);
}

/* Hands SIGABRT back to libFuzzer's own handler. */
static void
harness_restore_libfuzzer_abort(void)
{
    sigaction(SIGABRT, &previous[SIGABRT], NULL);
}

/*
 * Each input runs in a child forked from the initialised parent, so every
 * execution starts from the identical interpreter state: nothing one input
 * leaves behind (collector counters, delayed frees, freelists, thread
 * descriptors reused by glibc, a corrupted object) can change how the next
 * one runs, and an input replays alone exactly as it ran in the campaign.
 * libFuzzer's coverage counters are filled in the child and copied back
 * through shared memory.  A child that dies makes the parent abort, which
 * is libFuzzer's crash; the child's own report is already on stderr.
 * FTFUZZ_NO_FORK=1 runs in-process instead (with a warm-up run), for
 * debugging.
 */
/*
 * Where the inline 8-bit counters are.  Each instrumented module's
 * constructor registers its counters with libFuzzer; the link wraps that
 * call (-Wl,--wrap=__sanitizer_cov_8bit_counters_init) so the harness
 * learns the regions too.  (Referring to __start___sancov_cntrs directly
 * breaks libFuzzer's own registration.)
 */
#define MAX_COUNTER_REGIONS 64
static struct { uint8_t *start; size_t size; } regions[MAX_COUNTER_REGIONS];
static size_t nregions, ncounters;

static void
harness_add_region(uint8_t *start, size_t size)
{
    for (size_t r = 0; r < nregions; r++)
        if (regions[r].start == start)
            return;
    if (nregions < MAX_COUNTER_REGIONS && size) {
        regions[nregions].start = start;
        regions[nregions].size = size;
        ncounters += size;
        nregions++;
    }
}

void __real___sanitizer_cov_8bit_counters_init(uint8_t *start, uint8_t *stop);
void __wrap___sanitizer_cov_8bit_counters_init(uint8_t *start, uint8_t *stop);

void
__wrap___sanitizer_cov_8bit_counters_init(uint8_t *start, uint8_t *stop)
{
    if (stop > start)
        harness_add_region(start, (size_t)(stop - start));
    __real___sanitizer_cov_8bit_counters_init(start, stop);
}

/*
 * Shared objects loaded at run time (the stdlib's extension modules, a
 * spec's module) register their counters with libFuzzer directly: their
 * call does not go through the link's --wrap.  Their regions are read
 * from each object's section headers instead (section __sancov_cntrs),
 * once the interpreter has imported what it needs, so that a forked
 * execution hands back their coverage too.
 */
static int
harness_dso_counters(struct dl_phdr_info *info, size_t size, void *data)
{
    (void)size;
    (void)data;
    if (!info->dlpi_name || !info->dlpi_name[0])
        return 0;
    int fd = open(info->dlpi_name, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return 0;
    Elf64_Ehdr eh;
    Elf64_Shdr *sh = NULL;
    char *names = NULL;
    if (pread(fd, &eh, sizeof eh, 0) != sizeof eh
        || memcmp(eh.e_ident, ELFMAG, SELFMAG) != 0
        || eh.e_ident[EI_CLASS] != ELFCLASS64
        || eh.e_shentsize != sizeof(Elf64_Shdr) || eh.e_shnum == 0
        || eh.e_shstrndx >= eh.e_shnum)
        goto done;
    sh = malloc(sizeof *sh * eh.e_shnum);
    size_t shsize = sizeof *sh * eh.e_shnum;
    if (!sh || pread(fd, sh, shsize, (off_t)eh.e_shoff) != (ssize_t)shsize)
        goto done;
    const Elf64_Shdr *strs = &sh[eh.e_shstrndx];
    names = malloc(strs->sh_size + 1);
    if (!names
        || pread(fd, names, strs->sh_size, (off_t)strs->sh_offset)
               != (ssize_t)strs->sh_size)
        goto done;
    names[strs->sh_size] = '\0';
    for (unsigned i = 0; i < eh.e_shnum; i++) {
        if (sh[i].sh_name >= strs->sh_size
            || strcmp(names + sh[i].sh_name, "__sancov_cntrs")
            || sh[i].sh_size == 0)
            continue;
        harness_add_region((uint8_t *)(info->dlpi_addr + sh[i].sh_addr),
                           sh[i].sh_size);
    }
done:
    free(names);
    free(sh);
    close(fd);
    return 0;
}

/* Copies every region's counters to (to_shared) or from the shared page. */
static void
harness_copy_counters(uint8_t *shared_counters, int to_shared)
{
    size_t off = 0;
    for (size_t i = 0; i < nregions; i++) {
        if (to_shared)
            memcpy(shared_counters + off, regions[i].start, regions[i].size);
        else
            memcpy(regions[i].start, shared_counters + off, regions[i].size);
        off += regions[i].size;
    }
}


static int
harness_forking(void)
{
    return !ftfuzz_env_bool("FTFUZZ_NO_FORK");
}

/*
 * Campaign figures for `ftfuzz fuzz` (FTFUZZ_STATS=FILE): each fuzzing
 * process appends "stats PID EXECS SWITCHES STEPS" (running totals) every
 * second, and "finding PID KIND" when an execution dies.  Appends of one
 * short line are atomic, so the processes of -fork=N share the file.
 */
static unsigned long long stats_execs, stats_switches, stats_steps;
static time_t stats_last;

static void
stats_line(const char *fmt, ...)
{
    char line[160];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    int fd = open(stats_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (fd < 0)
        return;
    if (n > 0 && write(fd, line, (size_t)n) < 0) {
        /* the figures are best effort */
    }
    close(fd);
}

static void
stats_execution(const ftfuzz_sched_result *r)
{
    if (!stats_path)
        return;
    stats_execs++;
    stats_switches += r->switches;
    stats_steps += r->steps;
    time_t now = time(NULL);
    if (now != stats_last) {
        stats_last = now;
        stats_line("stats %d %llu %llu %llu\n", (int)getpid(), stats_execs,
                   stats_switches, stats_steps);
    }
}

static void
stats_flush(void)
{
    stats_line("stats %d %llu %llu %llu\n", (int)getpid(), stats_execs,
               stats_switches, stats_steps);
}

static void
stats_finding(const char *kind)
{
    if (!stats_path)
        return;
    stats_line("stats %d %llu %llu %llu\nfinding %d %s\n", (int)getpid(),
               stats_execs, stats_switches, stats_steps, (int)getpid(),
               kind);
}

/*
 * Plain-access points (a target built against the fuzz-plain CPython,
 * `make plain-cpython`, or any target with FTFUZZ_PLAIN_LEARN=1, for
 * extension modules built with `ftfuzz-ext-cc --plain-accesses`;
 * docs/scheduler.md).  Before a program runs under a
 * schedule, one run of it without preemption, in a child of its own,
 * learns which memory its threads share, and every later session starts
 * with that set: a per-run filter alone would miss the first race of a
 * run, whose first accesses come before a second thread's touch.  The set
 * depends on the program's operations only, never on its schedule, so a
 * replay learns the same one; it is kept while the operations stay the
 * same (an exploration learns once).
 */
#define PLAIN_MAX (1u << 16)

struct plain_set {
    size_t n;
    uintptr_t granules[PLAIN_MAX];
};

static struct plain_set *plain;

/* Learn or not, decided once per process, the same way in a replay. */
static int
harness_plain_wanted(void)
{
    static int wanted = -1;
    if (wanted < 0) {
        int mode = ftfuzz_plain_learn_mode();
#ifdef FTFUZZ_PLAIN_ACCESSES
        wanted = mode != FTFUZZ_PLAIN_LEARN_NEVER;
#else
        wanted = mode == FTFUZZ_PLAIN_LEARN_ALWAYS;
#endif
    }
    return wanted;
}

static void
harness_plain_learn(const prog_program *p)
{
    static prog_program q;
    static uint8_t enc[1 << 16];
    static uint64_t learned_key;
    static int learned;
    q = *p;
    memset(&q.schedule, 0, sizeof q.schedule);
    q.schedule.strategy = PROG_SCHED_BYTES_OPS;
    size_t n = prog_encode(&q, enc, sizeof enc);
    uint64_t key = 0xcbf29ce484222325ull;
    for (size_t i = 0; i < n; i++)
        key = (key ^ enc[i]) * 0x100000001b3ull;
    if (learned && key == learned_key)
        return;
    if (plain == NULL) {
        plain = mmap(NULL, sizeof *plain, PROT_READ | PROT_WRITE,
                     MAP_SHARED | MAP_ANONYMOUS, -1, 0);
        if (plain == MAP_FAILED) {
            perror("ftfuzz harness: mmap");
            abort();
        }
    }
    plain->n = 0;
    ftfuzz_plain_set_known(NULL, 0);
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    if (pid < 0) {
        perror("ftfuzz harness: fork");
        abort();
    }
    if (pid == 0) {
        /* quiet: a failure here is the real run's to report */
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        int null = open("/dev/null", O_WRONLY);
        if (null >= 0) {
            dup2(null, 1);
            dup2(null, 2);
        }
        in_run = 1;
        harness_run(&q, FTFUZZ_FAMILY, 0);
        plain->n = ftfuzz_plain_shared(plain->granules, PLAIN_MAX);
        _exit(0);
    }
    while (waitpid(pid, NULL, 0) < 0)
        ;
    ftfuzz_plain_set_known(plain->granules,
                           plain->n < PLAIN_MAX ? plain->n : PLAIN_MAX);
    learned_key = key;
    learned = 1;
}

/*
 * The forked execution's stderr goes to a memory file until it ends; the
 * parent then copies it to its own stderr, unchanged and in order, and
 * reads CPython's diagnosis in it (the kind, ftfuzz/diagnosis.h) for the
 * crash report below.
 */
static int child_stderr = -1;

static void
capture_prepare(void)
{
    if (child_stderr < 0)
        child_stderr = memfd_create("ftfuzz-execution-stderr", MFD_CLOEXEC);
    if (child_stderr >= 0
        && (ftruncate(child_stderr, 0) != 0
            || lseek(child_stderr, 0, SEEK_SET) != 0)) {
        close(child_stderr);
        child_stderr = -1;
    }
}

/* Copies what the execution wrote to stderr; returns it (free() it). */
static char *
capture_copy(void)
{
    if (child_stderr < 0)
        return NULL;
    off_t size = lseek(child_stderr, 0, SEEK_END);
    char *text = size >= 0 ? malloc((size_t)size + 1) : NULL;
    if (!text)
        return NULL;
    size_t got = 0;
    while (got < (size_t)size) {
        ssize_t k = pread(child_stderr, text + got, (size_t)size - got,
                          (off_t)got);
        if (k <= 0)
            break;
        got += (size_t)k;
    }
    text[got] = 0;
    for (size_t done = 0; done < got;) {
        ssize_t k = write(2, text + done, got - done);
        if (k <= 0)
            break;
        done += (size_t)k;
    }
    return text;
}

/* CPython's and libc's reporting of an error it found, above the frame
 * that found it: a sanitizer's report starts at the check, so does ours. */
static int
is_reporting_frame(const char *func)
{
    static const char *const names[] = {
        "__pthread_kill_implementation", "__pthread_kill_internal",
        "__pthread_kill", "pthread_kill", "raise", "gsignal", "abort",
        "__assert_fail_base", "__assert_fail", "fatal_error_exit",
        "fatal_error", "_Py_FatalErrorFunc", "_Py_FatalErrorFormat",
        "Py_FatalError", "_PyObject_AssertFailed", "_Py_NegativeRefcount",
    };
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (!strcmp(func, names[i]))
            return 1;
    /* the debug allocator, which finds a corrupted block when it is
     * freed or resized: the report starts at the caller, as ClusterFuzz
     * skips malloc and free (bytearray_resize and
     * bytesio_truncate_writelines differ only there) */
    return !strncmp(func, "_PyMem_", 7) || !strncmp(func, "PyMem_", 6)
           || !strncmp(func, "PyObject_Free", 13)
           || !strncmp(func, "PyObject_Realloc", 16)
           || !strncmp(func, "_PyObject_Free", 14)
           || !strncmp(func, "_PyObject_Realloc", 17);
}

/*
 * The crash report of a forked execution that died of a signal, in the
 * format libFuzzer and the sanitizers use and ClusterFuzz's stack parser
 * reads (docs/oss-fuzz.md): "ERROR: libFuzzer: deadly signal", CPython's
 * diagnosis as an "ASSERTION FAILED:" line when it gave one, and the
 * child's failing thread, "#N 0xPC in FUNCTION FILE:LINE:COLUMN", one line
 * per inlined frame, from the frame that found the error.  Printed before
 * the parent's own abort, whose report (the parent's stack) follows: the
 * parser keeps the first crash type and the first three frames.
 * Unsymbolized frames ("#N 0xPC (MODULE+0xOFFSET)") when llvm-symbolizer
 * cannot run; ClusterFuzz symbolizes those itself.
 */
static void
harness_child_report(const char *kind)
{
    int n = shared->nframes;
    static char module[CRASH_FRAMES][512];
    unsigned long offset[CRASH_FRAMES];
    for (int i = 0; i < n; i++) {
        Dl_info info;
        offset[i] = (unsigned long)(uintptr_t)shared->frames[i];
        snprintf(module[i], sizeof module[i], "?");
        if (dladdr(shared->frames[i], &info) && info.dli_fname) {
            snprintf(module[i], sizeof module[i], "%s", info.dli_fname);
            offset[i] -= (unsigned long)(uintptr_t)info.dli_fbase;
        }
        /* return addresses: the call is the byte before (frame 2, where
         * the signal struck, is exact; the handler and trampoline go) */
        if (i != 2 && offset[i])
            offset[i]--;
    }
    /* one llvm-symbolizer run for all frames */
    static char query[CRASH_FRAMES * (sizeof module[0] + 24)];
    size_t qlen = 0;
    for (int i = 0; i < n; i++)
        qlen += ftfuzz_sym_query(query + qlen, sizeof query - qlen,
                                 module[i], offset[i]);
    char *sym = n > 0 ? ftfuzz_sym_run(query, qlen, 0, realloc, free) : NULL;
    const char *pos = sym;
    fprintf(stderr, "==%d==ERROR: libFuzzer: deadly signal\n",
            (int)getpid());
    if (kind && *kind)
        fprintf(stderr, "[ftfuzz] ASSERTION FAILED: %s\n", kind);
    /* frames 0 and 1: harness_crash and the signal trampoline */
    int k = 0, started = 0;
    static struct ftfuzz_sym_frame fr[32];
    for (int i = 0; i < n; i++) {
        int nf = ftfuzz_sym_next(&pos, offset[i], fr, 32);
        if (i < 2)
            continue;
        if (nf <= 0) {
            fprintf(stderr, "    #%d %p (%s+0x%lx)\n", k++,
                    shared->frames[i], module[i], offset[i]);
            continue;
        }
        for (int j = 0; j < nf; j++) {
            if (!started && is_reporting_frame(fr[j].function))
                continue;
            started = 1;
            fprintf(stderr, "    #%d %p in %s %s:%lu:%lu\n", k++,
                    shared->frames[i], ftfuzz_sym_name(fr[j].function),
                    ftfuzz_sym_name(fr[j].file), fr[j].line, fr[j].column);
        }
    }
    fprintf(stderr, "==ftfuzz== the report above is the forked execution's "
                    "thread that got signal %d\n", shared->crash_signal);
    free(sym);
}

/*
 * FTFUZZ_RESULT: the result record of the execution that just ended
 * (include/ftfuzz/result.h), from what the child handed back and its wait
 * status (0: it exited with 0); text, its stderr, gives CPython's
 * diagnosis and the finding's report.  The verdict is the child's own
 * when a finding ended it; otherwise what killed it says
 * (ftfuzz_diagnosis_verdict).
 */
static void
harness_write_result(const ftfuzz_sched_result *r, int have, int status,
                     int verdict, const char *text)
{
    const char *path = ftfuzz_env_str("FTFUZZ_RESULT");
    if (!*path)
        return;
    static struct ftfuzz_result rec;
    static char buf[3 * FTFUZZ_RESULT_TEXT];
    memset(&rec, 0, sizeof rec);
    rec.have_hash = have;
    rec.hash = r->trace_hash;
    rec.steps = r->steps;
    rec.switches = r->switches;
    rec.verdict = r->verdict;
    if (status) {
        rec.signal = WIFSIGNALED(status) ? WTERMSIG(status) : 0;
        rec.status = WIFEXITED(status) ? WEXITSTATUS(status) : 0;
        rec.verdict = verdict ? verdict
                              : ftfuzz_diagnosis_verdict(text, rec.signal);
    }
    if (status && text) {
        size_t len;
        const char *d = ftfuzz_diagnosis_text(text, &len);
        ftfuzz_diagnosis_kind(text, rec.diagnosis, sizeof rec.diagnosis);
        if (d)
            snprintf(rec.diagnosis_text, sizeof rec.diagnosis_text, "%.*s",
                     (int)len, d);
        /* the finding's report: its heading to the next line of ours */
        const char *f = strstr(text, "==ftfuzz== FINDING: ");
        if (f && verdict) {
            const char *end = strstr(f + 1, "\n==ftfuzz== ");
            size_t n = end ? (size_t)(end - f) + 1 : strlen(f);
            snprintf(rec.finding, sizeof rec.finding, "%.*s", (int)n, f);
        }
    }
    if (ftfuzz_result_write(path, &rec, buf, sizeof buf) != 0)
        fprintf(stderr, "ftfuzz harness: cannot write the result record %s: "
                        "%s\n", path, strerror(errno));
}

/* Runs p in a child forked from this initialised process; *died is the
 * child's wait status when it did not exit with 0. */
static ftfuzz_sched_result
harness_fork_execution(const prog_program *p, int *died)
{
    if (harness_plain_wanted())
        harness_plain_learn(p);
    if (shared == NULL) {
        shared = mmap(NULL, sizeof *shared + ncounters,
                      PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS,
                      -1, 0);
        if (shared == MAP_FAILED) {
            perror("ftfuzz harness: mmap");
            abort();
        }
    }
    fflush(stdout);
    fflush(stderr);
    capture_prepare();
    shared->finding[0] = 0;
    shared->nframes = 0;
    shared->have_result = 0;
    shared->verdict = 0;
    pid_t pid = fork();
    if (pid < 0) {
        perror("ftfuzz harness: fork");
        abort();
    }
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (child_stderr >= 0)
            dup2(child_stderr, 2);
        in_run = 1;
        shared->result = harness_run(p, FTFUZZ_FAMILY, 0);
        shared->have_result = 1;
        ftfuzz_sched_interleaving(il_counters, IL_COUNTERS, il_features);
        harness_copy_counters(shared->counters, 1);
        fflush(stdout);
        fflush(stderr);
        _exit(0);
    }
    int status;
    while (waitpid(pid, &status, 0) < 0)
        ;
    char *text = capture_copy();
    *died = 0;
    harness_write_result(&shared->result, shared->have_result,
                         WIFEXITED(status) && WEXITSTATUS(status) == 0
                             ? 0 : (status ? status : 1),
                         shared->verdict, text);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        *died = status ? status : 1;
        if (WIFSIGNALED(status) && shared->nframes > 2) {
            char kind[160] = "";
            if (text)
                ftfuzz_diagnosis_kind(text, kind, sizeof kind);
            harness_child_report(kind);
        }
        if (WIFSIGNALED(status))
            fprintf(stderr, "==ftfuzz== the execution died of signal %d "
                            "(%s); its report is above\n",
                    WTERMSIG(status), strsignal(WTERMSIG(status)));
        else
            fprintf(stderr, "==ftfuzz== the execution exited with status "
                            "%d; its report is above\n",
                    WEXITSTATUS(status));
        stats_finding(shared->finding[0] ? shared->finding
                      : WIFSIGNALED(status) ? "signal" : "exit");
        free(text);
        return shared->result;
    }
    free(text);
    harness_copy_counters(shared->counters, 0);
    return shared->result;
}

static ftfuzz_sched_result
harness_run_forked(const prog_program *p)
{
    int died;
    ftfuzz_sched_result r = harness_fork_execution(p, &died);
    if (died) {
        /* libFuzzer's handler saves the input as a crash. */
        harness_restore_libfuzzer_abort();
        abort();
    }
    return r;
}

/*
 * explore's default on a scenario: a portfolio, one strategy after the
 * other across iterations, because no single one finds every window in a
 * budget (BENCHMARKS.md): pctlog's change points favour early windows,
 * uniform pct's late ones, and the random walks catch what needs many
 * preemptions (0.01) or few in a long run (0.002).  The strongest on the
 * bench-bugs races comes first.
 */
#define EXPLORE_PORTFOLIO "pctlog:3,random:0.01,pct:3,random:0.002"
#define EXPLORE_MAX_MEMBERS 16

/* One strategy of the list explore takes turns with. */
struct explore_member {
    uint32_t strategy;  /* enum prog_strategy */
    uint32_t depth;
    unsigned long long k;
    uint32_t ppm;
    char text[64];      /* what the output and the saved input say */
};

/* Parses "S1,S2,..." (or "portfolio") into members; 0 or -1 with the
 * reason on stderr. */
static int
explore_members(const char *strategy, struct explore_member *m, int *n)
{
    char list[512];
    snprintf(list, sizeof list, "%s",
             strcmp(strategy, "portfolio") ? strategy : EXPLORE_PORTFOLIO);
    *n = 0;
    char *save = NULL;
    for (char *text = strtok_r(list, ",", &save); text;
         text = strtok_r(NULL, ",", &save)) {
        ftfuzz_strategy_spec spec;
        char err[512];
        if (*n == EXPLORE_MAX_MEMBERS) {
            fprintf(stderr, "ftfuzz explore: at most %d strategies in a "
                            "list\n", EXPLORE_MAX_MEMBERS);
            return -1;
        }
        if (ftfuzz_strategy_spec_parse(text, &spec, err, sizeof err)) {
            fprintf(stderr, "ftfuzz explore: %s\n", err);
            return -1;
        }
        struct explore_member *e = &m[(*n)++];
        memset(e, 0, sizeof *e);
        if (spec.kind == FTFUZZ_STRATEGY_RANDOM) {
            e->strategy = PROG_SCHED_RANDOM;
            e->depth = 1;
            /* 0: the program format's default p */
            e->ppm = (uint32_t)(spec.p * PROG_PPM + 0.5);
            if (spec.p > 0 && e->ppm == 0) {
                fprintf(stderr, "ftfuzz explore: strategy %s: P must be at "
                                "least 0.000001\n", text);
                return -1;
            }
        } else if (spec.kind == FTFUZZ_STRATEGY_PCT
                   || spec.kind == FTFUZZ_STRATEGY_PCT_LOG) {
            e->strategy = spec.kind == FTFUZZ_STRATEGY_PCT
                              ? PROG_SCHED_PCT_OPS : PROG_SCHED_PCT_LOG_OPS;
            e->depth = spec.depth;
            e->k = spec.k;
            if (spec.depth > PROG_MAX_DEPTH || spec.k > UINT32_MAX) {
                fprintf(stderr, "ftfuzz explore: strategy %s: depth must be "
                                "1..%d and k at most %u\n", text,
                        PROG_MAX_DEPTH, UINT32_MAX);
                return -1;
            }
        } else {
            fprintf(stderr, "ftfuzz explore: strategy %s cannot explore a "
                            "scenario: give pct:D[:k=K], pctlog:D[:k=K], "
                            "random[:P], a list of them separated by commas, "
                            "or portfolio (" EXPLORE_PORTFOLIO ")\n", text);
            return -1;
        }
        snprintf(e->text, sizeof e->text, "%s", text);
    }
    if (*n == 0) {
        fprintf(stderr, "ftfuzz explore: strategy '%s': no strategy in it\n",
                strategy);
        return -1;
    }
    return 0;
}

/* What was tried: each execution's trace hash, for the distinct ones. */
static unsigned long long *tried_hashes;
static size_t ntried, tried_cap;

static void
explore_tried(uint64_t hash)
{
    if (ntried == tried_cap) {
        tried_cap = tried_cap ? 2 * tried_cap : 1024;
        tried_hashes = realloc(tried_hashes, tried_cap * sizeof *tried_hashes);
        if (!tried_hashes) {
            perror("ftfuzz explore");
            exit(2);
        }
    }
    tried_hashes[ntried++] = hash;
}

static int
explore_cmp_hash(const void *a, const void *b)
{
    unsigned long long x = *(const unsigned long long *)a,
                       y = *(const unsigned long long *)b;
    return (x > y) - (x < y);
}

/* Distinct trace hashes among the executions, and distinct preemption
 * pairs in the interleaving counters, which the forked executions have
 * accumulated (explore_counters_reset cleared them first). */
static void
explore_print_tried(unsigned long long iterations)
{
    qsort(tried_hashes, ntried, sizeof *tried_hashes, explore_cmp_hash);
    size_t distinct = 0;
    for (size_t i = 0; i < ntried; i++)
        distinct += i == 0 || tried_hashes[i] != tried_hashes[i - 1];
    size_t pairs = 0;
    for (size_t i = 0; i < IL_COUNTERS; i++)
        pairs += il_counters[i] != 0;
    printf("explore: tried %zu distinct interleavings in %llu schedules "
           "(distinct trace hashes); %zu distinct preemptions (the site "
           "where a thread lost the turn, with the site where the next "
           "resumed) from the first operation on\n", distinct, iterations,
           pairs);
}

/*
 * Scenario mode (ftfuzz explore test.py, docs/explore.md): the spec's
 * first type is the scenario, one object of it is shared, and thread i
 * runs its operation i.  Iteration i runs that program under the strategy
 * with seed SEED + i, each in a forked child, until one fails; its input
 * goes to the file FTFUZZ_EXPLORE names, so `ftfuzz replay` replays it.
 * With FTFUZZ_EXPLORE_INPUT=FILE, the program is that fuzz input's
 * instead, its own schedule replaced (make bench-bugs measures strategies
 * so).  Exit status: 0 no failure, 1 a failing schedule saved, 2 bad
 * settings.
 */
static int
harness_explore(const char *out)
{
    const char *strategy = ftfuzz_env_str("FTFUZZ_EXPLORE_STRATEGY");
    unsigned long long iterations =
        ftfuzz_env_u64("FTFUZZ_EXPLORE_ITERATIONS");
    unsigned long long seed = ftfuzz_env_u64("FTFUZZ_EXPLORE_SEED");
    int quiet = ftfuzz_env_bool("FTFUZZ_EXPLORE_QUIET");
    struct explore_member members[EXPLORE_MAX_MEMBERS];
    int nmembers;
    if (explore_members(strategy, members, &nmembers))
        return 2;
    prog_program *p = malloc(sizeof *p);
    prog_init(p);
    const char *input = ftfuzz_env_str("FTFUZZ_EXPLORE_INPUT");
    if (*input) {
        static uint8_t data[1 << 20];
        FILE *in = fopen(input, "rb");
        size_t n = in ? fread(data, 1, sizeof data, in) : 0;
        if (!in || ferror(in)) {
            fprintf(stderr, "ftfuzz explore: cannot read %s: %s\n", input,
                    strerror(errno));
            return 2;
        }
        fclose(in);
        prog_decode(data, n, p);
        prog_schedule none;
        memset(&none, 0, sizeof none);
        p->schedule = none;
    } else {
        /* scenario_loader.py refuses more; this guards the arrays */
        int nthreads = spec_op_count(PROG_KIND_COUNT);
        if (nthreads < 1 || nthreads > PROG_MAX_THREADS) {
            fprintf(stderr, "ftfuzz explore: %d thread functions: at most "
                            "%d (PROG_MAX_THREADS)\n", nthreads,
                    PROG_MAX_THREADS);
            return 2;
        }
        p->nobjects = 1;
        p->objects[0].kind = PROG_KIND_COUNT;
        p->nthreads = (uint32_t)nthreads;
        for (uint32_t t = 0; t < p->nthreads; t++) {
            p->threads[t].nops = 1;
            p->threads[t].ops[0].code = t;
        }
    }
    int nthreads = (int)p->nthreads;
    harness_chain_handlers();
    /* the executions fold only the preemptions the strategy chose into the
     * interleaving counters, which add up over the iterations */
    il_features = FTFUZZ_IL_SITES | FTFUZZ_IL_PREEMPTIONS;
    memset(il_counters, 0, IL_COUNTERS);
    int died = 0;
    int need_k = 0;
    for (int m = 0; m < nmembers; m++)
        need_k |= prog_pct_at_mark(members[m].strategy) && !members[m].k;
    unsigned long long k = 0;
    if (need_k) {
        /* pct's k: the points from the first operation to the end, from
         * one run without preemptions */
        p->schedule.strategy = PROG_SCHED_BYTES_OPS;
        ftfuzz_sched_result r = harness_fork_execution(p, &died);
        if (!died) {
            k = r.steps > r.mark_step ? r.steps - r.mark_step : 1;
            if (k > UINT32_MAX)
                k = UINT32_MAX;
        }
    }
    /* the concrete strategies, k measured: what the output and the saved
     * input say */
    char describe[512] = "";
    for (int m = 0; m < nmembers; m++) {
        struct explore_member *e = &members[m];
        if (prog_pct_at_mark(e->strategy) && !e->k) {
            e->k = k;
            size_t len = strlen(e->text);
            snprintf(e->text + len, sizeof e->text - len, ":k=%llu", k);
        }
        size_t len = strlen(describe);
        snprintf(describe + len, sizeof describe - len, "%s%s",
                 m ? (m + 1 < nmembers ? ", " : " and ") : "", e->text);
    }
    if (nmembers > 1) {
        size_t len = strlen(describe);
        snprintf(describe + len, sizeof describe - len, " in turn");
    }
    if (!died && !quiet && need_k)
        printf("explore: %d threads; a run takes %llu scheduling points "
               "from the first operation; strategy %s\n", nthreads, k,
               describe);
    else if (!died && !quiet && nmembers > 1)
        printf("explore: %d threads; strategy %s\n", nthreads, describe);
    fflush(stdout);
    struct timespec t0, now;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    double last = 0;
    unsigned long long i = 0;
    const struct explore_member *e = &members[0];
    for (; !died && i < iterations; i++) {
        e = &members[i % (unsigned)nmembers];
        p->schedule.strategy = e->strategy;
        p->schedule.depth = e->depth;
        p->schedule.k = (uint32_t)e->k;
        p->schedule.p_ppm = e->ppm;
        p->schedule.seed = seed + i;
        ftfuzz_sched_result r = harness_fork_execution(p, &died);
        if (!died)
            explore_tried(r.trace_hash);
        clock_gettime(CLOCK_MONOTONIC, &now);
        double t = (double)(now.tv_sec - t0.tv_sec)
                   + (double)(now.tv_nsec - t0.tv_nsec) / 1e9;
        if (!died && !quiet && (t - last >= 2.0 || i + 1 == iterations)) {
            printf("explore: %llu/%llu schedules, no failure (%.0f runs/s)\n",
                   i + 1, iterations, (double)(i + 1) / (t > 0 ? t : 1e-9));
            fflush(stdout);
            last = t;
        }
    }
    if (!died) {
        printf("explore: no failing schedule in %llu iterations (strategy "
               "%s, seeds %llu..%llu)\n", iterations, describe, seed,
               seed + iterations - 1);
        explore_print_tried(iterations);
        free(p);
        return 0;
    }
    uint8_t buf[1 << 16];
    size_t n = prog_encode(p, buf, sizeof buf);
    FILE *f = fopen(out, "wb");
    if (!f || fwrite(buf, 1, n, f) != n || fclose(f) != 0) {
        fprintf(stderr, "ftfuzz explore: cannot write %s: %s\n", out,
                strerror(errno));
        free(p);
        return 2;
    }
    const char *what = shared && shared->finding[0] ? shared->finding
                       : WIFSIGNALED(died) ? strsignal(WTERMSIG(died))
                                           : "exit";
    if (p->schedule.strategy == PROG_SCHED_BYTES_OPS)
        printf("explore: FAILING without any preemption (the first run, "
               "which measures k): %s\n", what);
    else
        printf("explore: FAILING schedule after %llu of %llu iterations: %s "
               "(strategy %s, seed %llu)\n", i, iterations, what, e->text,
               (unsigned long long)p->schedule.seed);
    free(p);
    return 1;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int chained;
    if (!chained) {
        harness_chain_handlers();
        chained = 1;
    }
    prog_program *p = malloc(sizeof *p);
    prog_decode(data, size, p);
    ftfuzz_sched_result r;
    if (harness_forking()) {
        r = harness_run_forked(p);
    } else {
        if (harness_plain_wanted())
            harness_plain_learn(p);   /* in a child: it may crash */
        in_run = 1;
        r = harness_run(p, FTFUZZ_FAMILY, 1);
        harness_write_result(&r, 1, 0, 0, NULL);
        if (p->nthreads)
            ftfuzz_sched_interleaving(il_counters, IL_COUNTERS,
                                      il_features);
        in_run = 0;
    }
    stats_execution(&r);
    if (ftfuzz_env_bool("FTFUZZ_PRINT_HASH"))
        fprintf(stderr, "==ftfuzz== trace hash 0x%016llx steps %llu "
                        "switches %llu\n",
                (unsigned long long)r.trace_hash,
                (unsigned long long)r.steps,
                (unsigned long long)r.switches);
    if (ftfuzz_env_bool("FTFUZZ_PRINT_FEATURES")) {
        /* this execution's interleaving features, as libFuzzer reads them */
        fprintf(stderr, "==ftfuzz== interleaving features:");
        for (size_t i = 0; i < IL_COUNTERS; i++)
            if (il_counters[i])
                fprintf(stderr, " %zu:%u", i, il_counters[i]);
        fputc('\n', stderr);
    }
    free(p);
    return 0;
}
