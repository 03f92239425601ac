/*
 * pthread_once under the scheduler.  glibc's pthread_once sleeps on a
 * futex while another thread runs the init routine; if that thread is
 * parked, the sleeper holds the turn for ever.  The model runs on the
 * once-control word itself with glibc's encoding (bit 0: in progress,
 * bit 1: done), so a pthread_once after the session sees what happened
 * in it: the turn holder reads it exactly, a thread that finds the
 * routine in progress blocks on the word until the runner marks it done.
 */
#include "sched_internal.h"

#define ONCE_IN_PROGRESS 1
#define ONCE_DONE 2

int
__wrap_pthread_once(pthread_once_t *o, void (*fn)(void))
{
    struct sched_thread *self = sched_self;
    if (!self)
        return __real_pthread_once(o, fn);
    const void *site = __builtin_return_address(0);
    sched_point(self, FTFUZZ_POINT_ONCE, site);
    for (;;) {
        int v = __atomic_load_n(o, __ATOMIC_ACQUIRE);
        if (v & ONCE_DONE)
            return 0;
        if (!(v & ONCE_IN_PROGRESS))
            break;
        sched_block(self, FTFUZZ_POINT_ONCE, o, SCHED_NO_DEADLINE, site);
    }
    __atomic_store_n(o, ONCE_IN_PROGRESS, __ATOMIC_RELAXED);
    fn();
    __atomic_store_n(o, ONCE_DONE, __ATOMIC_RELEASE);
    sched_wake_all(o);
    sched_point(self, FTFUZZ_POINT_ONCE, site);
    return 0;
}
