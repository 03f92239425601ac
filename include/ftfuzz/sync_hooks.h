/*
 * ftfuzz atomic-point hooks for the legacy `__sync_*` builtins, the same
 * way atomic_hooks.h hooks `__atomic_*`: each becomes a function-like
 * macro that reports a scheduling point and then runs the builtin (a
 * macro is not re-expanded inside its own body).  Older C programs and
 * libraries use these for their counters and spin locks.
 *
 * Force-included by scripts/ftfuzz-cc only, in place of atomic_hooks.h,
 * which it includes; CPython's fuzz build does not get it, so its points,
 * and the schedules in corpus/regressions/, stay as they are.  The rules
 * of atomic_hooks.h hold here too: no system header, nothing for the
 * assembler, each argument evaluated once.
 */
#ifndef FTFUZZ_SYNC_HOOKS_H
#define FTFUZZ_SYNC_HOOKS_H

#include "atomic_hooks.h"

#ifndef __ASSEMBLER__

/* Hook for a builtin whose only argument is the atomic object. */
#define FTFUZZ__HOOK0(builtin, kind, p)                                     \
    __extension__({                                                         \
        __typeof__(p) ftfuzz__p = (p);                                      \
        FTFUZZ__POINT(ftfuzz__p, kind);                                     \
        builtin(ftfuzz__p);                                                 \
    })

#define __sync_fetch_and_add(p, ...) \
    FTFUZZ__HOOK1(__sync_fetch_and_add, FTFUZZ_ATOMIC_RMW, p, __VA_ARGS__)
#define __sync_fetch_and_sub(p, ...) \
    FTFUZZ__HOOK1(__sync_fetch_and_sub, FTFUZZ_ATOMIC_RMW, p, __VA_ARGS__)
#define __sync_fetch_and_or(p, ...) \
    FTFUZZ__HOOK1(__sync_fetch_and_or, FTFUZZ_ATOMIC_RMW, p, __VA_ARGS__)
#define __sync_fetch_and_and(p, ...) \
    FTFUZZ__HOOK1(__sync_fetch_and_and, FTFUZZ_ATOMIC_RMW, p, __VA_ARGS__)
#define __sync_fetch_and_xor(p, ...) \
    FTFUZZ__HOOK1(__sync_fetch_and_xor, FTFUZZ_ATOMIC_RMW, p, __VA_ARGS__)
#define __sync_fetch_and_nand(p, ...) \
    FTFUZZ__HOOK1(__sync_fetch_and_nand, FTFUZZ_ATOMIC_RMW, p, __VA_ARGS__)
#define __sync_add_and_fetch(p, ...) \
    FTFUZZ__HOOK1(__sync_add_and_fetch, FTFUZZ_ATOMIC_RMW, p, __VA_ARGS__)
#define __sync_sub_and_fetch(p, ...) \
    FTFUZZ__HOOK1(__sync_sub_and_fetch, FTFUZZ_ATOMIC_RMW, p, __VA_ARGS__)
#define __sync_or_and_fetch(p, ...) \
    FTFUZZ__HOOK1(__sync_or_and_fetch, FTFUZZ_ATOMIC_RMW, p, __VA_ARGS__)
#define __sync_and_and_fetch(p, ...) \
    FTFUZZ__HOOK1(__sync_and_and_fetch, FTFUZZ_ATOMIC_RMW, p, __VA_ARGS__)
#define __sync_xor_and_fetch(p, ...) \
    FTFUZZ__HOOK1(__sync_xor_and_fetch, FTFUZZ_ATOMIC_RMW, p, __VA_ARGS__)
#define __sync_nand_and_fetch(p, ...) \
    FTFUZZ__HOOK1(__sync_nand_and_fetch, FTFUZZ_ATOMIC_RMW, p, __VA_ARGS__)
#define __sync_bool_compare_and_swap(p, ...) \
    FTFUZZ__HOOK1(__sync_bool_compare_and_swap, FTFUZZ_ATOMIC_CAS, p, \
                  __VA_ARGS__)
#define __sync_val_compare_and_swap(p, ...) \
    FTFUZZ__HOOK1(__sync_val_compare_and_swap, FTFUZZ_ATOMIC_CAS, p, \
                  __VA_ARGS__)
#define __sync_lock_test_and_set(p, ...) \
    FTFUZZ__HOOK1(__sync_lock_test_and_set, FTFUZZ_ATOMIC_EXCHANGE, p, \
                  __VA_ARGS__)
#define __sync_lock_release(p) \
    FTFUZZ__HOOK0(__sync_lock_release, FTFUZZ_ATOMIC_STORE, p)
#define __sync_synchronize()                                                \
    (FTFUZZ__POINT(0, FTFUZZ_ATOMIC_FENCE), __sync_synchronize())

#endif /* !__ASSEMBLER__ */
#endif /* FTFUZZ_SYNC_HOOKS_H */
