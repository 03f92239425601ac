/*
 * pthread spin locks under the scheduler.  A real pthread_spin_lock on a
 * lock whose holder is parked spins for ever while holding the turn, so a
 * busy lock blocks the thread in the model instead (the real trylock is
 * exact for the turn holder), and the unlock wakes its waiters.
 */
#include <errno.h>

#include "sched_internal.h"

static int
try_spin(void *l)
{
    return __real_pthread_spin_trylock(l);
}

int
__wrap_pthread_spin_lock(pthread_spinlock_t *l)
{
    struct sched_thread *self = sched_self;
    if (!self)
        return __real_pthread_spin_lock(l);
    /* the pointer is only an identity for the model: trylock takes it
     * back as a pthread_spinlock_t */
    return sched_acquire(self, FTFUZZ_POINT_SPIN_LOCK, (void *)l, try_spin,
                         SCHED_NO_DEADLINE, __builtin_return_address(0));
}

int
__wrap_pthread_spin_trylock(pthread_spinlock_t *l)
{
    struct sched_thread *self = sched_self;
    if (!self)
        return __real_pthread_spin_trylock(l);
    sched_point(self, FTFUZZ_POINT_SPIN_LOCK, __builtin_return_address(0));
    return __real_pthread_spin_trylock(l);
}

int
__wrap_pthread_spin_unlock(pthread_spinlock_t *l)
{
    struct sched_thread *self = sched_self;
    if (!self)
        return __real_pthread_spin_unlock(l);
    int rc = __real_pthread_spin_unlock(l);
    sched_wake_all((void *)l);
    sched_point(self, FTFUZZ_POINT_SPIN_UNLOCK, __builtin_return_address(0));
    return rc;
}
