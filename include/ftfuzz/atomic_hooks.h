/*
 * ftfuzz atomic-point hooks: force-included into every translation unit of
 * code under test (`-include include/ftfuzz/atomic_hooks.h`): CPython's
 * `fuzz` variant and programs built with scripts/ftfuzz-cc.
 *
 * Each GCC `__atomic_*` builtin (and, unless FTFUZZ_HOOK_NO_C11 is defined,
 * clang's `__c11_atomic_*` builtins behind <stdatomic.h>) is redefined as a
 * function-like macro that first reports a scheduling point and then runs the
 * real builtin.  A macro is not re-expanded inside its own body, so the inner
 * name is the builtin itself.  Why this mechanism and not TSan's entry points:
 * see docs/hooks.md.
 *
 * Rules this header must keep (each one broke a build once):
 *  - no #include at all: pulling in system headers before pyconfig.h hides
 *    its feature macros (struct sigaction, SSIZE_MAX go missing);
 *  - nothing for the assembler (CPython compiles a .S file);
 *  - each macro argument is evaluated exactly once (statement expressions),
 *    so `__atomic_load_n(p++, ...)` keeps its meaning.
 *
 * The common case is inline at every site (FTFUZZ__POINT below); the
 * out-of-line ftfuzz_atomic_point() takes its call site from
 * __builtin_return_address(0), which after inlining is the real caller
 * (list_append, _PyMutex_LockTimed, ...).
 */
#ifndef FTFUZZ_ATOMIC_HOOKS_H
#define FTFUZZ_ATOMIC_HOOKS_H
#ifndef __ASSEMBLER__

#ifdef __cplusplus
extern "C" {
#endif

/* Kinds of atomic point, passed to ftfuzz_atomic_point(). */
enum ftfuzz_atomic_kind {
    /* a plain atomic read */
    FTFUZZ_ATOMIC_LOAD = 1,
    /* a plain atomic write */
    FTFUZZ_ATOMIC_STORE = 2,
    /* exchange, test-and-set: write that returns the old value */
    FTFUZZ_ATOMIC_EXCHANGE = 3,
    /* compare-and-exchange, strong or weak */
    FTFUZZ_ATOMIC_CAS = 4,
    /* fetch-op and op-fetch read-modify-writes */
    FTFUZZ_ATOMIC_RMW = 5,
    /* a thread fence */
    FTFUZZ_ATOMIC_FENCE = 6,
};

/* Non-zero while a scheduler session is open anywhere in the process. */
extern int ftfuzz_hook_active;

/* Non-zero in a thread the open session manages. */
extern __thread int ftfuzz_thread_managed;

/* The session's step counter, and the step at which the scheduler wants
 * control back.  Only the thread holding the turn writes them. */
extern unsigned long long ftfuzz_sched_step;
extern unsigned long long ftfuzz_sched_next;

/* Slow path: a managed thread's point reached ftfuzz_sched_next (the step
 * is already counted). */
void ftfuzz_atomic_point(const volatile void *addr, int kind);

/*
 * The fast path, inline at every site.  Outside a session: one load and a
 * predicted branch.  In a managed thread: a step count and a compare; the
 * call happens only where the strategy, the fairness quantum or the step
 * cap asked for it.  The global flag comes before the thread-local one
 * because thread-locals cost a call in position-independent code
 * (extension modules) and the flag is almost always off there.
 */
#define FTFUZZ__POINT(addr, kind)                                           \
    ((__builtin_expect(*(volatile int *)&ftfuzz_hook_active, 0)             \
      && ftfuzz_thread_managed                                              \
      && ++ftfuzz_sched_step >= ftfuzz_sched_next)                          \
         ? ftfuzz_atomic_point((const volatile void *)(addr), (kind))       \
         : (void)0)

/* Hook for a builtin whose first argument is the atomic object. */
#define FTFUZZ__HOOK1(builtin, kind, p, ...)                                \
    __extension__({                                                         \
        __typeof__(p) ftfuzz__p = (p);                                      \
        FTFUZZ__POINT(ftfuzz__p, kind);                                     \
        builtin(ftfuzz__p, __VA_ARGS__);                                    \
    })

#define __atomic_load_n(p, ...) \
    FTFUZZ__HOOK1(__atomic_load_n, FTFUZZ_ATOMIC_LOAD, p, __VA_ARGS__)
#define __atomic_load(p, ...) \
    FTFUZZ__HOOK1(__atomic_load, FTFUZZ_ATOMIC_LOAD, p, __VA_ARGS__)
#define __atomic_store_n(p, ...) \
    FTFUZZ__HOOK1(__atomic_store_n, FTFUZZ_ATOMIC_STORE, p, __VA_ARGS__)
#define __atomic_store(p, ...) \
    FTFUZZ__HOOK1(__atomic_store, FTFUZZ_ATOMIC_STORE, p, __VA_ARGS__)
#define __atomic_exchange_n(p, ...) \
    FTFUZZ__HOOK1(__atomic_exchange_n, FTFUZZ_ATOMIC_EXCHANGE, p, __VA_ARGS__)
#define __atomic_exchange(p, ...) \
    FTFUZZ__HOOK1(__atomic_exchange, FTFUZZ_ATOMIC_EXCHANGE, p, __VA_ARGS__)
#define __atomic_compare_exchange_n(p, ...) \
    FTFUZZ__HOOK1(__atomic_compare_exchange_n, FTFUZZ_ATOMIC_CAS, p, \
                  __VA_ARGS__)
#define __atomic_compare_exchange(p, ...) \
    FTFUZZ__HOOK1(__atomic_compare_exchange, FTFUZZ_ATOMIC_CAS, p, \
                  __VA_ARGS__)
#define __atomic_test_and_set(p, ...) \
    FTFUZZ__HOOK1(__atomic_test_and_set, FTFUZZ_ATOMIC_EXCHANGE, p, \
                  __VA_ARGS__)
#define __atomic_clear(p, ...) \
    FTFUZZ__HOOK1(__atomic_clear, FTFUZZ_ATOMIC_STORE, p, __VA_ARGS__)

#define __atomic_add_fetch(p, ...) \
    FTFUZZ__HOOK1(__atomic_add_fetch, FTFUZZ_ATOMIC_RMW, p, __VA_ARGS__)
#define __atomic_sub_fetch(p, ...) \
    FTFUZZ__HOOK1(__atomic_sub_fetch, FTFUZZ_ATOMIC_RMW, p, __VA_ARGS__)
#define __atomic_and_fetch(p, ...) \
    FTFUZZ__HOOK1(__atomic_and_fetch, FTFUZZ_ATOMIC_RMW, p, __VA_ARGS__)
#define __atomic_or_fetch(p, ...) \
    FTFUZZ__HOOK1(__atomic_or_fetch, FTFUZZ_ATOMIC_RMW, p, __VA_ARGS__)
#define __atomic_xor_fetch(p, ...) \
    FTFUZZ__HOOK1(__atomic_xor_fetch, FTFUZZ_ATOMIC_RMW, p, __VA_ARGS__)
#define __atomic_nand_fetch(p, ...) \
    FTFUZZ__HOOK1(__atomic_nand_fetch, FTFUZZ_ATOMIC_RMW, p, __VA_ARGS__)
#define __atomic_fetch_add(p, ...) \
    FTFUZZ__HOOK1(__atomic_fetch_add, FTFUZZ_ATOMIC_RMW, p, __VA_ARGS__)
#define __atomic_fetch_sub(p, ...) \
    FTFUZZ__HOOK1(__atomic_fetch_sub, FTFUZZ_ATOMIC_RMW, p, __VA_ARGS__)
#define __atomic_fetch_and(p, ...) \
    FTFUZZ__HOOK1(__atomic_fetch_and, FTFUZZ_ATOMIC_RMW, p, __VA_ARGS__)
#define __atomic_fetch_or(p, ...) \
    FTFUZZ__HOOK1(__atomic_fetch_or, FTFUZZ_ATOMIC_RMW, p, __VA_ARGS__)
#define __atomic_fetch_xor(p, ...) \
    FTFUZZ__HOOK1(__atomic_fetch_xor, FTFUZZ_ATOMIC_RMW, p, __VA_ARGS__)
#define __atomic_fetch_nand(p, ...) \
    FTFUZZ__HOOK1(__atomic_fetch_nand, FTFUZZ_ATOMIC_RMW, p, __VA_ARGS__)

#define __atomic_thread_fence(order)                                        \
    (FTFUZZ__POINT(0, FTFUZZ_ATOMIC_FENCE), __atomic_thread_fence(order))

/*
 * clang's <stdatomic.h> expands atomic_load_explicit() and friends to the
 * __c11_atomic_* builtins rather than __atomic_*; gcc's uses __atomic_*.
 * CPython's fuzz variant sets FTFUZZ_HOOK_NO_C11 so that mimalloc's
 * allocator-internal atomics do not become scheduling points.
 */
#if defined(__clang__) && !defined(FTFUZZ_HOOK_NO_C11)
#define __c11_atomic_load(p, ...) \
    FTFUZZ__HOOK1(__c11_atomic_load, FTFUZZ_ATOMIC_LOAD, p, __VA_ARGS__)
#define __c11_atomic_store(p, ...) \
    FTFUZZ__HOOK1(__c11_atomic_store, FTFUZZ_ATOMIC_STORE, p, __VA_ARGS__)
#define __c11_atomic_exchange(p, ...) \
    FTFUZZ__HOOK1(__c11_atomic_exchange, FTFUZZ_ATOMIC_EXCHANGE, p, \
                  __VA_ARGS__)
#define __c11_atomic_compare_exchange_strong(p, ...) \
    FTFUZZ__HOOK1(__c11_atomic_compare_exchange_strong, FTFUZZ_ATOMIC_CAS, \
                  p, __VA_ARGS__)
#define __c11_atomic_compare_exchange_weak(p, ...) \
    FTFUZZ__HOOK1(__c11_atomic_compare_exchange_weak, FTFUZZ_ATOMIC_CAS, \
                  p, __VA_ARGS__)
#define __c11_atomic_fetch_add(p, ...) \
    FTFUZZ__HOOK1(__c11_atomic_fetch_add, FTFUZZ_ATOMIC_RMW, p, __VA_ARGS__)
#define __c11_atomic_fetch_sub(p, ...) \
    FTFUZZ__HOOK1(__c11_atomic_fetch_sub, FTFUZZ_ATOMIC_RMW, p, __VA_ARGS__)
#define __c11_atomic_fetch_and(p, ...) \
    FTFUZZ__HOOK1(__c11_atomic_fetch_and, FTFUZZ_ATOMIC_RMW, p, __VA_ARGS__)
#define __c11_atomic_fetch_or(p, ...) \
    FTFUZZ__HOOK1(__c11_atomic_fetch_or, FTFUZZ_ATOMIC_RMW, p, __VA_ARGS__)
#define __c11_atomic_fetch_xor(p, ...) \
    FTFUZZ__HOOK1(__c11_atomic_fetch_xor, FTFUZZ_ATOMIC_RMW, p, __VA_ARGS__)
#define __c11_atomic_thread_fence(order)                                    \
    (FTFUZZ__POINT(0, FTFUZZ_ATOMIC_FENCE), __c11_atomic_thread_fence(order))
#endif

#ifdef __cplusplus
}
#endif

#endif /* !__ASSEMBLER__ */
#endif /* FTFUZZ_ATOMIC_HOOKS_H */
