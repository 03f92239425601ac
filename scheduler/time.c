/*
 * Virtual time.  Managed threads never sleep for real and never read the
 * real clocks: time is a function of the execution alone, so that timeouts
 * and anything computed from clocks replay exactly.
 *
 *   now = step * SCHED_NS_PER_STEP + vtime_jump
 *
 * vtime_jump grows when a timed waiter is chosen to time out (time jumps to
 * its deadline) and a little at every clock read, so a loop that polls a
 * clock waiting for time to pass terminates.  The clocks a managed thread
 * reads are fixed bases plus `now`: CLOCK_REALTIME-like clocks start at
 * 2023-11-14 22:13:20 UTC, the others at 2^62 ns, above any real uptime.
 *
 * A sleep is a timed wait on nothing: it ends when the strategy chooses the
 * sleeper to time out, or when no other thread can run.
 */
#include <errno.h>

#include "sched_internal.h"

#define SCHED_REALTIME_BASE 1700000000000000000ull
#define SCHED_MONOTONIC_BASE (1ull << 62)
#define NS_PER_S 1000000000ull

uint64_t
sched_vnow(void)
{
    return ftfuzz_sched_step * SCHED_NS_PER_STEP + sched.vtime_jump;
}

static int
sched_clock_is_realtime(clockid_t clock)
{
    return clock == CLOCK_REALTIME || clock == CLOCK_REALTIME_COARSE
           || clock == CLOCK_TAI;
}

static uint64_t
sched_clock_base(clockid_t clock)
{
    return sched_clock_is_realtime(clock) ? SCHED_REALTIME_BASE
                                          : SCHED_MONOTONIC_BASE;
}

static uint64_t
sched_ts_ns(const struct timespec *ts)
{
    if (ts->tv_sec < 0)
        return 0;
    return (uint64_t)ts->tv_sec * NS_PER_S + (uint64_t)ts->tv_nsec;
}

uint64_t
sched_deadline_from_abs(clockid_t clock, const struct timespec *abs)
{
    uint64_t t = sched_ts_ns(abs), base = sched_clock_base(clock);
    return t > base ? t - base : 0;
}

uint64_t
sched_deadline_from_rel(const struct timespec *rel)
{
    return sched_vnow() + sched_ts_ns(rel);
}

int
__wrap_clock_gettime(clockid_t clock, struct timespec *ts)
{
    if (!sched_self)
        return __real_clock_gettime(clock, ts);
    sched.vtime_jump += SCHED_NS_PER_CLOCK_READ;
    uint64_t t = sched_clock_base(clock) + sched_vnow();
    ts->tv_sec = (time_t)(t / NS_PER_S);
    ts->tv_nsec = (long)(t % NS_PER_S);
    return 0;
}

int
__wrap_gettimeofday(struct timeval *tv, void *tz)
{
    if (!sched_self)
        return __real_gettimeofday(tv, tz);
    struct timespec ts;
    __wrap_clock_gettime(CLOCK_REALTIME, &ts);
    if (tv) {
        tv->tv_sec = ts.tv_sec;
        tv->tv_usec = ts.tv_nsec / 1000;
    }
    return 0;
}

/* Sleeps until the virtual deadline; a zero-length sleep is a yield. */
static void
sched_sleep_until(uint64_t deadline, const void *site)
{
    struct sched_thread *self = sched_self;
    if (deadline <= sched_vnow()) {
        sched_point(self, FTFUZZ_POINT_YIELD, site);
        return;
    }
    while (!sched_block(self, FTFUZZ_POINT_SLEEP, NULL, deadline, site)) {
        /* Nothing wakes a sleeper but its timeout. */
    }
}

int
__wrap_nanosleep(const struct timespec *req, struct timespec *rem)
{
    if (!sched_self)
        return __real_nanosleep(req, rem);
    if (req->tv_nsec < 0 || req->tv_nsec >= (long)NS_PER_S) {
        errno = EINVAL;
        return -1;
    }
    sched_sleep_until(sched_deadline_from_rel(req),
                      __builtin_return_address(0));
    if (rem)
        rem->tv_sec = rem->tv_nsec = 0;
    return 0;
}

int
__wrap_clock_nanosleep(clockid_t clock, int flags, const struct timespec *req,
                       struct timespec *rem)
{
    if (!sched_self)
        return __real_clock_nanosleep(clock, flags, req, rem);
    if (req->tv_nsec < 0 || req->tv_nsec >= (long)NS_PER_S)
        return EINVAL;
    uint64_t deadline = (flags & TIMER_ABSTIME)
                            ? sched_deadline_from_abs(clock, req)
                            : sched_deadline_from_rel(req);
    sched_sleep_until(deadline, __builtin_return_address(0));
    if (rem && !(flags & TIMER_ABSTIME))
        rem->tv_sec = rem->tv_nsec = 0;
    return 0;
}

int
__wrap_usleep(useconds_t usec)
{
    if (!sched_self)
        return __real_usleep(usec);
    sched_sleep_until(sched_vnow() + (uint64_t)usec * 1000,
                      __builtin_return_address(0));
    return 0;
}

unsigned
__wrap_sleep(unsigned sec)
{
    if (!sched_self)
        return __real_sleep(sec);
    sched_sleep_until(sched_vnow() + (uint64_t)sec * NS_PER_S,
                      __builtin_return_address(0));
    return 0;
}

int
__wrap_sched_yield(void)
{
    struct sched_thread *self = sched_self;
    if (!self)
        return __real_sched_yield();
    sched_point(self, FTFUZZ_POINT_YIELD, __builtin_return_address(0));
    return 0;
}
