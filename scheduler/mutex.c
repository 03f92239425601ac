/*
 * pthread mutexes and condition variables under the scheduler.
 *
 * Mutexes keep their real state: since only the turn holder runs, a real
 * pthread_mutex_trylock() tells exactly whether the mutex is free, and the
 * real object stays consistent for any unmanaged thread that uses it after
 * the session.  A managed thread never sleeps in the kernel on it: when
 * trylock says busy it blocks on the mutex in the model, and every unlock
 * wakes the mutex's waiters to try again (and the strategy picks who).
 *
 * Condition variables are modelled entirely; the real pthread_cond_t is not
 * touched.  Unlocking the mutex and blocking on the condition happen while
 * this thread holds the turn, so no signal can slip in between: a signal
 * sent before the wait is lost, exactly the bug class programs have.
 */
#include <errno.h>

#include "sched_internal.h"

/* Acquires m under the model; 1 when the deadline passed first. */
static int
sched_mutex_acquire(struct sched_thread *self, pthread_mutex_t *m,
                    uint64_t deadline, const void *site, int *err)
{
    sched_point(self, FTFUZZ_POINT_MUTEX_LOCK, site);
    for (;;) {
        int rc = __real_pthread_mutex_trylock(m);
        if (rc != EBUSY) {
            *err = rc;
            return 0;
        }
        if (sched_block(self, FTFUZZ_POINT_MUTEX_LOCK, m, deadline, site))
            return 1;
    }
}

int
__wrap_pthread_mutex_lock(pthread_mutex_t *m)
{
    struct sched_thread *self = sched_self;
    if (!self)
        return __real_pthread_mutex_lock(m);
    int err = 0;
    sched_mutex_acquire(self, m, SCHED_NO_DEADLINE,
                        __builtin_return_address(0), &err);
    return err;
}

int
__wrap_pthread_mutex_trylock(pthread_mutex_t *m)
{
    struct sched_thread *self = sched_self;
    if (!self)
        return __real_pthread_mutex_trylock(m);
    sched_point(self, FTFUZZ_POINT_MUTEX_LOCK, __builtin_return_address(0));
    return __real_pthread_mutex_trylock(m);
}

static int
sched_mutex_timed(pthread_mutex_t *m, clockid_t clock,
                  const struct timespec *abstime, const void *site)
{
    struct sched_thread *self = sched_self;
    int err = 0;
    if (sched_mutex_acquire(self, m, sched_deadline_from_abs(clock, abstime),
                            site, &err))
        return ETIMEDOUT;
    return err;
}

int
__wrap_pthread_mutex_timedlock(pthread_mutex_t *m,
                               const struct timespec *abstime)
{
    if (!sched_self)
        return __real_pthread_mutex_timedlock(m, abstime);
    return sched_mutex_timed(m, CLOCK_REALTIME, abstime,
                             __builtin_return_address(0));
}

int
__wrap_pthread_mutex_clocklock(pthread_mutex_t *m, clockid_t clock,
                               const struct timespec *abstime)
{
    if (!sched_self)
        return __real_pthread_mutex_clocklock(m, clock, abstime);
    return sched_mutex_timed(m, clock, abstime, __builtin_return_address(0));
}

int
__wrap_pthread_mutex_unlock(pthread_mutex_t *m)
{
    struct sched_thread *self = sched_self;
    if (!self)
        return __real_pthread_mutex_unlock(m);
    int rc = __real_pthread_mutex_unlock(m);
    if (rc == 0)
        sched_wake_all(m);
    sched_point(self, FTFUZZ_POINT_MUTEX_UNLOCK, __builtin_return_address(0));
    return rc;
}

/* --- condition variables --------------------------------------------------- */

/* The clock a condition variable was initialised with (glibc keeps it in
 * bit 1 of __wrefs; pthread_condattr_setclock sets it). */
static clockid_t
sched_cond_clock(const pthread_cond_t *c)
{
#ifdef __GLIBC__
    return (c->__data.__wrefs & 2) ? CLOCK_MONOTONIC : CLOCK_REALTIME;
#else
    (void)c;
    return CLOCK_REALTIME;
#endif
}

static int
sched_cond_wait(pthread_cond_t *c, pthread_mutex_t *m, uint64_t deadline,
                const void *site)
{
    struct sched_thread *self = sched_self;
    int rc = __real_pthread_mutex_unlock(m);
    if (rc != 0)
        return rc;   /* EPERM: not the owner, as the real call says */
    sched_wake_all(m);
    int timed_out =
        sched_block(self, FTFUZZ_POINT_COND_WAIT, c, deadline, site);
    int err = 0;
    sched_mutex_acquire(self, m, SCHED_NO_DEADLINE, site, &err);
    if (err)
        return err;
    return timed_out ? ETIMEDOUT : 0;
}

int
__wrap_pthread_cond_wait(pthread_cond_t *c, pthread_mutex_t *m)
{
    if (!sched_self)
        return __real_pthread_cond_wait(c, m);
    return sched_cond_wait(c, m, SCHED_NO_DEADLINE,
                           __builtin_return_address(0));
}

int
__wrap_pthread_cond_timedwait(pthread_cond_t *c, pthread_mutex_t *m,
                              const struct timespec *abstime)
{
    if (!sched_self)
        return __real_pthread_cond_timedwait(c, m, abstime);
    return sched_cond_wait(
        c, m, sched_deadline_from_abs(sched_cond_clock(c), abstime),
        __builtin_return_address(0));
}

int
__wrap_pthread_cond_clockwait(pthread_cond_t *c, pthread_mutex_t *m,
                              clockid_t clock, const struct timespec *abstime)
{
    if (!sched_self)
        return __real_pthread_cond_clockwait(c, m, clock, abstime);
    return sched_cond_wait(c, m, sched_deadline_from_abs(clock, abstime),
                           __builtin_return_address(0));
}

int
__wrap_pthread_cond_signal(pthread_cond_t *c)
{
    struct sched_thread *self = sched_self;
    if (!self)
        return __real_pthread_cond_signal(c);
    sched_wake_one(c);
    sched_point(self, FTFUZZ_POINT_COND_SIGNAL, __builtin_return_address(0));
    return 0;
}

int
__wrap_pthread_cond_broadcast(pthread_cond_t *c)
{
    struct sched_thread *self = sched_self;
    if (!self)
        return __real_pthread_cond_broadcast(c);
    sched_wake_all(c);
    sched_point(self, FTFUZZ_POINT_COND_SIGNAL, __builtin_return_address(0));
    return 0;
}
