/*
 * Shared by the programs in tests/embed/: a counting definition of the
 * atomic-point hook and interpreter start-up with PyConfig.
 *
 * The fuzz variant's libpython references ftfuzz_hook_active and
 * ftfuzz_atomic_point() (include/ftfuzz/atomic_hooks.h is force-included
 * into all of CPython) but defines neither: the embedding program does.  The
 * scheduler runtime is NOT linked here; these definitions only count.  They
 * are exported (the programs link with -rdynamic) so that the stdlib's
 * shared extension modules, hooked too, resolve them against the program.
 *
 * Include this header from exactly one translation unit per program.
 */
#ifndef FTFUZZ_TESTS_EMBED_COMMON_H
#define FTFUZZ_TESTS_EMBED_COMMON_H

#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <stdio.h>
#include <stdlib.h>

#ifndef FTFUZZ_PY_HOME
#error "compile with -DFTFUZZ_PY_HOME='\"<install prefix>\"' (tests/embed/embed.mk)"
#endif

int ftfuzz_hook_active = 0;
/* Every thread counts as managed, and the step cap is 0, so that the inline
 * fast path calls ftfuzz_atomic_point() at every point once the hook is on. */
__thread int ftfuzz_thread_managed = 1;
unsigned long long ftfuzz_sched_step = 0;
unsigned long long ftfuzz_sched_next = 0;

/* Atomic points reached while ftfuzz_hook_active was set. */
static unsigned long long embed_points;

/*
 * The same, by kind (enum ftfuzz_atomic_kind, 1 to 6).  Slot 0 counts calls
 * with a kind outside that range, which would be a bug in the hook header.
 */
#define EMBED_KINDS 7
static unsigned long long embed_points_by_kind[EMBED_KINDS];

void ftfuzz_atomic_point(const volatile void *addr, int kind);

void
ftfuzz_atomic_point(const volatile void *addr, int kind)
{
    (void)addr;
    if (kind < 1 || kind >= EMBED_KINDS) {
        kind = 0;
    }
    __atomic_fetch_add(&embed_points_by_kind[kind], 1, __ATOMIC_RELAXED);
    __atomic_fetch_add(&embed_points, 1, __ATOMIC_RELAXED);
}

static void
embed_fail(const char *what, PyStatus status)
{
    fprintf(stderr, "embed: %s failed", what);
    if (status.func != NULL) {
        fprintf(stderr, " in %s", status.func);
    }
    if (status.err_msg != NULL) {
        fprintf(stderr, ": %s", status.err_msg);
    }
    fputc('\n', stderr);
    exit(2);
}

/*
 * An isolated interpreter (no environment variables, no user site, no
 * signal handlers) whose stdlib is found from home = the install prefix, so
 * that the user needs no PYTHONHOME.
 */
static void
embed_initialize(void)
{
    PyConfig config;
    PyStatus status;

    PyConfig_InitIsolatedConfig(&config);
    config.install_signal_handlers = 0;
    status = PyConfig_SetBytesString(&config, &config.home, FTFUZZ_PY_HOME);
    if (PyStatus_Exception(status)) {
        PyConfig_Clear(&config);
        embed_fail("PyConfig_SetBytesString(home)", status);
    }
    status = Py_InitializeFromConfig(&config);
    PyConfig_Clear(&config);
    if (PyStatus_Exception(status)) {
        embed_fail("Py_InitializeFromConfig", status);
    }
}

/* Run Python source; exit 1 with its traceback if it raises. */
static void
embed_run(const char *code)
{
    if (PyRun_SimpleString(code) != 0) {
        fprintf(stderr, "embed: the Python code raised (traceback above)\n");
        exit(1);
    }
}

static void
embed_finalize(void)
{
    if (Py_FinalizeEx() != 0) {
        fprintf(stderr, "embed: Py_FinalizeEx failed\n");
        exit(1);
    }
}

#endif /* FTFUZZ_TESTS_EMBED_COMMON_H */
