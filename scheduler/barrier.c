/*
 * pthread barriers under the scheduler, modelled entirely: the real
 * pthread_barrier_wait sleeps in the kernel until the last thread
 * arrives, which under one-thread-at-a-time never happens (every schedule
 * of a PARSEC program ended in a hang report).  The model keeps, per
 * barrier, its count, how many threads have arrived and which round it
 * is in; a thread that is not the last blocks on the barrier until the
 * round changes.  The last one opens the round, wakes the others and gets
 * PTHREAD_BARRIER_SERIAL_THREAD, then a point lets the strategy choose who
 * runs first.  The real object is initialised and destroyed as usual and
 * never waited on, so it stays valid for threads outside the session.
 */
#include <errno.h>

#include "sched_internal.h"

struct sched_barrier {
    const void *obj;
    unsigned count;
    unsigned arrived;
    uint64_t round;
    struct sched_barrier *next;
};

/* Barriers are few; init may come from unmanaged threads, hence the lock. */
static struct sched_barrier *barriers;
static int barriers_lock;

static void
lock_barriers(void)
{
    while (__atomic_exchange_n(&barriers_lock, 1, __ATOMIC_ACQUIRE))
        __builtin_ia32_pause();
}

static void
unlock_barriers(void)
{
    __atomic_store_n(&barriers_lock, 0, __ATOMIC_RELEASE);
}

/* The record of b (created when create is set); call with the lock. */
static struct sched_barrier *
find_barrier(const void *b, int create)
{
    for (struct sched_barrier *e = barriers; e; e = e->next)
        if (e->obj == b)
            return e;
    if (!create)
        return NULL;
    struct sched_barrier *e = sched_mem_alloc(sizeof *e);
    e->obj = b;
    e->next = barriers;
    barriers = e;
    return e;
}

int
__wrap_pthread_barrier_init(pthread_barrier_t *b,
                            const pthread_barrierattr_t *attr, unsigned count)
{
    int rc = __real_pthread_barrier_init(b, attr, count);
    if (rc == 0) {
        lock_barriers();
        struct sched_barrier *e = find_barrier(b, 1);
        e->count = count;
        e->arrived = 0;
        e->round = 0;
        unlock_barriers();
    }
    return rc;
}

int
__wrap_pthread_barrier_destroy(pthread_barrier_t *b)
{
    lock_barriers();
    struct sched_barrier **pp = &barriers;
    while (*pp && (*pp)->obj != b)
        pp = &(*pp)->next;
    if (*pp) {
        struct sched_barrier *e = *pp;
        *pp = e->next;
        sched_mem_free(e);
    }
    unlock_barriers();
    return __real_pthread_barrier_destroy(b);
}

int
__wrap_pthread_barrier_wait(pthread_barrier_t *b)
{
    struct sched_thread *self = sched_self;
    if (!self)
        return __real_pthread_barrier_wait(b);
    const void *site = __builtin_return_address(0);
    sched_point(self, FTFUZZ_POINT_BARRIER_WAIT, site);
    lock_barriers();
    struct sched_barrier *e = find_barrier(b, 0);
#ifdef __GLIBC__
    if (!e) {
        /* initialised where --wrap did not reach (a library linked
         * without it): glibc keeps the count in the third word of its
         * struct pthread_barrier (nptl's internaltypes.h) */
        e = find_barrier(b, 1);
        e->count = ((const unsigned *)(const void *)b)[2];
    }
#endif
    unlock_barriers();
    if (!e)
        return EINVAL;
    if (++e->arrived >= e->count) {
        e->arrived = 0;
        e->round++;
        sched_wake_all(b);
        sched_point(self, FTFUZZ_POINT_BARRIER_WAIT, site);
        return PTHREAD_BARRIER_SERIAL_THREAD;
    }
    uint64_t round = e->round;
    while (e->round == round)
        sched_block(self, FTFUZZ_POINT_BARRIER_WAIT, b, SCHED_NO_DEADLINE,
                    site);
    return 0;
}
