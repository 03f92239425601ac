/*
 * POSIX semaphores under the scheduler (CPython's parking lot and PyThread
 * locks sleep on these on glibc).  As with mutexes the real object keeps
 * the count: the turn holder's sem_trywait() is exact, and a failed one
 * becomes a block in the model that every sem_post() on it ends.
 */
#include <errno.h>

#include "sched_internal.h"

/* 0 when decremented, -1 with errno (ETIMEDOUT, EINVAL) otherwise. */
static int
sched_sem_acquire(sem_t *s, uint64_t deadline, const void *site)
{
    struct sched_thread *self = sched_self;
    sched_point(self, FTFUZZ_POINT_SEM_WAIT, site);
    for (;;) {
        if (__real_sem_trywait(s) == 0)
            return 0;
        if (errno != EAGAIN)
            return -1;
        if (sched_block(self, FTFUZZ_POINT_SEM_WAIT, s, deadline, site)) {
            errno = ETIMEDOUT;
            return -1;
        }
    }
}

int
__wrap_sem_wait(sem_t *s)
{
    if (!sched_self)
        return __real_sem_wait(s);
    return sched_sem_acquire(s, SCHED_NO_DEADLINE,
                             __builtin_return_address(0));
}

int
__wrap_sem_trywait(sem_t *s)
{
    struct sched_thread *self = sched_self;
    if (!self)
        return __real_sem_trywait(s);
    sched_point(self, FTFUZZ_POINT_SEM_WAIT, __builtin_return_address(0));
    return __real_sem_trywait(s);
}

int
__wrap_sem_timedwait(sem_t *s, const struct timespec *abstime)
{
    if (!sched_self)
        return __real_sem_timedwait(s, abstime);
    return sched_sem_acquire(s,
                             sched_deadline_from_abs(CLOCK_REALTIME, abstime),
                             __builtin_return_address(0));
}

int
__wrap_sem_clockwait(sem_t *s, clockid_t clock,
                     const struct timespec *abstime)
{
    if (!sched_self)
        return __real_sem_clockwait(s, clock, abstime);
    return sched_sem_acquire(s, sched_deadline_from_abs(clock, abstime),
                             __builtin_return_address(0));
}

int
__wrap_sem_post(sem_t *s)
{
    struct sched_thread *self = sched_self;
    if (!self)
        return __real_sem_post(s);
    int rc = __real_sem_post(s);
    if (rc == 0)
        sched_wake_all(s);
    sched_point(self, FTFUZZ_POINT_SEM_POST, __builtin_return_address(0));
    return rc;
}
