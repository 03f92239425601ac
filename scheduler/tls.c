/*
 * Thread-specific data destructors of managed threads.  glibc runs them
 * after the start routine returns, when the scheduler has already let the
 * thread go: a destructor that takes a mutex then ran unmodelled beside
 * the turn holder, and blocked for real on a mutex held by a parked
 * thread while the turn holder sat in the real pthread_join (a false
 * hang, and the program's real bug never reached).
 *
 * So pthread_key_create is wrapped to learn each key's destructor, and an
 * exiting managed thread runs POSIX's destructor rounds itself, still
 * under the scheduler: every key with a destructor and a non-NULL value
 * has its value cleared and its destructor called, for up to
 * PTHREAD_DESTRUCTOR_ITERATIONS rounds while destructors set new values.
 * glibc's own pass then finds nothing left.  The destructors' locks and
 * atomics are ordinary points; running them adds none of its own.
 *
 * Keys created inside libc or by objects linked without the --wrap flags,
 * C11 tss_create and C++ thread_local destructors are not seen: they
 * still run after the thread left the session.
 */
#include <limits.h>

#include "sched_internal.h"

/* Indexed by key: glibc's keys are 0 .. PTHREAD_KEYS_MAX - 1. */
static void (*key_destructor[PTHREAD_KEYS_MAX])(void *);
static unsigned key_limit;   /* one past the largest key seen */

int
__wrap_pthread_key_create(pthread_key_t *key, void (*destructor)(void *))
{
    int rc = __real_pthread_key_create(key, destructor);
    if (rc != 0 || *key >= PTHREAD_KEYS_MAX)
        return rc;
    __atomic_store_n(&key_destructor[*key], destructor, __ATOMIC_RELEASE);
    unsigned limit = __atomic_load_n(&key_limit, __ATOMIC_RELAXED);
    while (limit < *key + 1
           && !__atomic_compare_exchange_n(&key_limit, &limit, *key + 1, 0,
                                           __ATOMIC_RELEASE,
                                           __ATOMIC_RELAXED)) {
    }
    return rc;
}

int
__wrap_pthread_key_delete(pthread_key_t key)
{
    if (key < PTHREAD_KEYS_MAX)
        __atomic_store_n(&key_destructor[key], NULL, __ATOMIC_RELEASE);
    return __real_pthread_key_delete(key);
}

/* The calling (managed, exiting) thread's destructor rounds. */
void
sched_run_key_destructors(void)
{
    for (int round = 0; round < PTHREAD_DESTRUCTOR_ITERATIONS; round++) {
        int called = 0;
        unsigned limit = __atomic_load_n(&key_limit, __ATOMIC_ACQUIRE);
        for (unsigned k = 0; k < limit; k++) {
            void (*d)(void *) =
                __atomic_load_n(&key_destructor[k], __ATOMIC_ACQUIRE);
            if (!d)
                continue;
            void *value = pthread_getspecific(k);
            if (!value)
                continue;
            pthread_setspecific(k, NULL);
            d(value);
            called = 1;
        }
        if (!called)
            break;
    }
}
