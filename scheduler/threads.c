/*
 * Thread life cycle under the scheduler: pthread_create, join, timedjoin,
 * detach and exit.
 *
 * A thread created by a managed thread is managed: it stays a real OS
 * thread (TLS keeps working) but its first act is to wait for the turn, in
 * sched_thread_start(), before it runs a single instruction of the program.
 * Joining is modelled: the joiner blocks on the thread record until the
 * thread has finished its managed life, and only then calls the real
 * pthread_join, which returns at once (the OS thread is past its last
 * scheduling point and only unwinds).  Its thread-specific data
 * destructors have run by then, still under the scheduler (tls.c).  A
 * thread created by an unmanaged thread is left alone.
 */
#include <errno.h>
#include <stdio.h>
#include <sys/syscall.h>

#include "sched_internal.h"

static void *
sched_thread_start(void *arg)
{
    struct sched_thread *self = arg;
    self->tid = (pid_t)syscall(SYS_gettid);
    sched_set_self(self);
    sched_wait_turn(self);
    void *ret = self->start(self->arg);
    sched_run_key_destructors();
    sched_thread_exit(self);
    return ret;
}

int
__wrap_pthread_create(pthread_t *t, const pthread_attr_t *attr,
                      void *(*fn)(void *), void *arg)
{
    struct sched_thread *self = sched_self;
    if (!self)
        return __real_pthread_create(t, attr, fn, arg);
    struct sched_thread *child = sched_thread_new();
    if (!child) {
        fprintf(stderr, "ftfuzz: more than %d threads in one session; "
                        "pthread_create fails with EAGAIN\n",
                FTFUZZ_SCHED_MAX_THREADS);
        return EAGAIN;
    }
    child->start = fn;
    child->arg = arg;
    int rc = __real_pthread_create(&child->handle, attr, sched_thread_start,
                                   child);
    if (rc != 0) {
        child->state = SCHED_T_FINISHED;
        return rc;
    }
    *t = child->handle;
    sched.strategy->thread_started(sched.strategy, child->id);
    sched_point(self, FTFUZZ_POINT_THREAD_CREATE,
                __builtin_return_address(0));
    return 0;
}

/* Blocks until t finished its managed life; 1 on timeout. */
static int
sched_join_wait(struct sched_thread *self, struct sched_thread *t,
                uint64_t deadline, const void *site)
{
    sched_point(self, FTFUZZ_POINT_THREAD_JOIN, site);
    while (t->state != SCHED_T_FINISHED) {
        if (sched_block(self, FTFUZZ_POINT_THREAD_JOIN, t, deadline, site))
            return 1;
    }
    return 0;
}

int
__wrap_pthread_join(pthread_t t, void **ret)
{
    struct sched_thread *self = sched_self;
    struct sched_thread *target = self ? sched_thread_by_handle(t) : NULL;
    if (!target || target == self)
        return __real_pthread_join(t, ret);
    sched_join_wait(self, target, SCHED_NO_DEADLINE,
                    __builtin_return_address(0));
    return __real_pthread_join(t, ret);
}

int
__wrap_pthread_timedjoin_np(pthread_t t, void **ret,
                            const struct timespec *abstime)
{
    struct sched_thread *self = sched_self;
    struct sched_thread *target = self ? sched_thread_by_handle(t) : NULL;
    if (!target || target == self)
        return __real_pthread_timedjoin_np(t, ret, abstime);
    uint64_t deadline = sched_deadline_from_abs(CLOCK_REALTIME, abstime);
    if (sched_join_wait(self, target, deadline, __builtin_return_address(0)))
        return ETIMEDOUT;
    return __real_pthread_join(t, ret);
}

int
__wrap_pthread_detach(pthread_t t)
{
    struct sched_thread *self = sched_self;
    struct sched_thread *target = self ? sched_thread_by_handle(t) : NULL;
    if (target)
        target->detached = 1;
    return __real_pthread_detach(t);
}

void
__wrap_pthread_exit(void *ret)
{
    struct sched_thread *self = sched_self;
    if (self && self->id != 0) {
        sched_run_key_destructors();
        sched_thread_exit(self);
    }
    __real_pthread_exit(ret);
}
