/*
 * Stand-in definitions of the atomic-point hook for the programs that
 * CPython's own build links (python, _freeze_module, _bootstrap_python,
 * _testembed, configure's test programs).
 *
 * Every object of CPython's `fuzz` variant is compiled with
 * include/ftfuzz/atomic_hooks.h force-included, so libpython references
 * ftfuzz_hook_active and ftfuzz_atomic_point() but does not define them:
 * (and the other symbols of the hook's fast path); the program that
 * embeds the interpreter does (the scheduler runtime, or a
 * test's own counting version).  scripts/build-cpython.sh compiles this file
 * to an object that is passed to configure in LIBS only, so it is linked into
 * the build's executables and never archived into libpython.
 *
 * The hook stays off (ftfuzz_hook_active == 0): CPython's build programs run
 * at full speed.  The counter exists so that a debugger can tell whether the
 * slow path was ever taken.
 */

int ftfuzz_hook_active = 0;
__thread int ftfuzz_thread_managed = 0;
unsigned long long ftfuzz_sched_step = 0;
unsigned long long ftfuzz_sched_next = ~0ull;

unsigned long long ftfuzz_stub_atomic_points = 0;

void ftfuzz_atomic_point(const volatile void *addr, int kind);

void
ftfuzz_atomic_point(const volatile void *addr, int kind)
{
    (void)addr;
    (void)kind;
    __atomic_fetch_add(&ftfuzz_stub_atomic_points, 1, __ATOMIC_RELAXED);
}
