/*
 * pthread reader-writer locks under the scheduler.  As with mutexes the
 * real object keeps the state: only the turn holder runs, so the real
 * tryrdlock/trywrlock are exact, a busy result blocks the thread on the
 * lock in the model, and every unlock wakes the lock's waiters (readers
 * and writers alike) to try again, the strategy choosing who goes first.
 * Without this a reader waiting for a parked writer slept in the kernel
 * while holding the turn: a hang report and no exploration.
 */
#include <errno.h>

#include "sched_internal.h"

static int
try_read(void *l)
{
    return __real_pthread_rwlock_tryrdlock(l);
}

static int
try_write(void *l)
{
    return __real_pthread_rwlock_trywrlock(l);
}

int
__wrap_pthread_rwlock_rdlock(pthread_rwlock_t *l)
{
    struct sched_thread *self = sched_self;
    if (!self)
        return __real_pthread_rwlock_rdlock(l);
    return sched_acquire(self, FTFUZZ_POINT_RWLOCK_READ, l, try_read,
                         SCHED_NO_DEADLINE, __builtin_return_address(0));
}

int
__wrap_pthread_rwlock_tryrdlock(pthread_rwlock_t *l)
{
    struct sched_thread *self = sched_self;
    if (!self)
        return __real_pthread_rwlock_tryrdlock(l);
    sched_point(self, FTFUZZ_POINT_RWLOCK_READ, __builtin_return_address(0));
    return __real_pthread_rwlock_tryrdlock(l);
}

int
__wrap_pthread_rwlock_timedrdlock(pthread_rwlock_t *l,
                                  const struct timespec *abstime)
{
    struct sched_thread *self = sched_self;
    if (!self)
        return __real_pthread_rwlock_timedrdlock(l, abstime);
    return sched_acquire(self, FTFUZZ_POINT_RWLOCK_READ, l, try_read,
                         sched_deadline_from_abs(CLOCK_REALTIME, abstime),
                         __builtin_return_address(0));
}

int
__wrap_pthread_rwlock_clockrdlock(pthread_rwlock_t *l, clockid_t clock,
                                  const struct timespec *abstime)
{
    struct sched_thread *self = sched_self;
    if (!self)
        return __real_pthread_rwlock_clockrdlock(l, clock, abstime);
    return sched_acquire(self, FTFUZZ_POINT_RWLOCK_READ, l, try_read,
                         sched_deadline_from_abs(clock, abstime),
                         __builtin_return_address(0));
}

int
__wrap_pthread_rwlock_wrlock(pthread_rwlock_t *l)
{
    struct sched_thread *self = sched_self;
    if (!self)
        return __real_pthread_rwlock_wrlock(l);
    return sched_acquire(self, FTFUZZ_POINT_RWLOCK_WRITE, l, try_write,
                         SCHED_NO_DEADLINE, __builtin_return_address(0));
}

int
__wrap_pthread_rwlock_trywrlock(pthread_rwlock_t *l)
{
    struct sched_thread *self = sched_self;
    if (!self)
        return __real_pthread_rwlock_trywrlock(l);
    sched_point(self, FTFUZZ_POINT_RWLOCK_WRITE,
                __builtin_return_address(0));
    return __real_pthread_rwlock_trywrlock(l);
}

int
__wrap_pthread_rwlock_timedwrlock(pthread_rwlock_t *l,
                                  const struct timespec *abstime)
{
    struct sched_thread *self = sched_self;
    if (!self)
        return __real_pthread_rwlock_timedwrlock(l, abstime);
    return sched_acquire(self, FTFUZZ_POINT_RWLOCK_WRITE, l, try_write,
                         sched_deadline_from_abs(CLOCK_REALTIME, abstime),
                         __builtin_return_address(0));
}

int
__wrap_pthread_rwlock_clockwrlock(pthread_rwlock_t *l, clockid_t clock,
                                  const struct timespec *abstime)
{
    struct sched_thread *self = sched_self;
    if (!self)
        return __real_pthread_rwlock_clockwrlock(l, clock, abstime);
    return sched_acquire(self, FTFUZZ_POINT_RWLOCK_WRITE, l, try_write,
                         sched_deadline_from_abs(clock, abstime),
                         __builtin_return_address(0));
}

int
__wrap_pthread_rwlock_unlock(pthread_rwlock_t *l)
{
    struct sched_thread *self = sched_self;
    if (!self)
        return __real_pthread_rwlock_unlock(l);
    int rc = __real_pthread_rwlock_unlock(l);
    if (rc == 0)
        sched_wake_all(l);
    sched_point(self, FTFUZZ_POINT_RWLOCK_UNLOCK,
                __builtin_return_address(0));
    return rc;
}
