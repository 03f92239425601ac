/*
 * The scheduler's state machine: sessions, the turn, scheduling points,
 * blocking and waking.  See sched_internal.h for who may touch what.
 *
 * A point has a fast path and a slow path.  The fast path (atomic points
 * only, inline at each site: atomic_hooks.h) counts the step and compares it
 * with ftfuzz_sched_next, the earliest step at which anything may change: the strategy's next preemption, the
 * fairness quantum or the livelock cap.  Everything else (asking the
 * strategy, recording the switch, the hand-off) is in the slow path, and so
 * is every primitive point, because primitives change who can run.
 */
#include <errno.h>
#include <execinfo.h>
#include <stddef.h>
#include <linux/futex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>

#include "ftfuzz/env.h"
#include "ftfuzz/verdicts.h"
#include "sched_internal.h"

/* Read at every hooked atomic site; see atomic_hooks.h. */
FTFUZZ_EXPORT int ftfuzz_hook_active;
FTFUZZ_EXPORT __thread int ftfuzz_thread_managed
    __attribute__((tls_model("initial-exec")));
FTFUZZ_EXPORT unsigned long long ftfuzz_sched_step;
FTFUZZ_EXPORT unsigned long long ftfuzz_sched_next = UINT64_MAX;

struct sched_session sched;
__thread struct sched_thread *sched_self
    __attribute__((tls_model("initial-exec")));

static const char *const point_kind_names[FTFUZZ_POINT_KIND_COUNT] = {
    [0] = "none",
    [FTFUZZ_POINT_ATOMIC_LOAD] = "atomic_load",
    [FTFUZZ_POINT_ATOMIC_STORE] = "atomic_store",
    [FTFUZZ_POINT_ATOMIC_EXCHANGE] = "atomic_exchange",
    [FTFUZZ_POINT_ATOMIC_CAS] = "atomic_cas",
    [FTFUZZ_POINT_ATOMIC_RMW] = "atomic_rmw",
    [FTFUZZ_POINT_ATOMIC_FENCE] = "atomic_fence",
    [FTFUZZ_POINT_YIELD] = "yield",
    [FTFUZZ_POINT_THREAD_CREATE] = "thread_create",
    [FTFUZZ_POINT_THREAD_JOIN] = "thread_join",
    [FTFUZZ_POINT_THREAD_EXIT] = "thread_exit",
    [FTFUZZ_POINT_MUTEX_LOCK] = "mutex_lock",
    [FTFUZZ_POINT_MUTEX_UNLOCK] = "mutex_unlock",
    [FTFUZZ_POINT_COND_WAIT] = "cond_wait",
    [FTFUZZ_POINT_COND_SIGNAL] = "cond_signal",
    [FTFUZZ_POINT_SEM_WAIT] = "sem_wait",
    [FTFUZZ_POINT_SEM_POST] = "sem_post",
    [FTFUZZ_POINT_SLEEP] = "sleep",
    [FTFUZZ_POINT_SESSION_END] = "session_end",
    [FTFUZZ_POINT_QUANTUM] = "quantum",
    [FTFUZZ_POINT_RWLOCK_READ] = "rwlock_read",
    [FTFUZZ_POINT_RWLOCK_WRITE] = "rwlock_write",
    [FTFUZZ_POINT_RWLOCK_UNLOCK] = "rwlock_unlock",
    [FTFUZZ_POINT_SPIN_LOCK] = "spin_lock",
    [FTFUZZ_POINT_SPIN_UNLOCK] = "spin_unlock",
    [FTFUZZ_POINT_BARRIER_WAIT] = "barrier_wait",
    [FTFUZZ_POINT_ONCE] = "once",
    [FTFUZZ_POINT_PLAIN_LOAD] = "plain_load",
    [FTFUZZ_POINT_PLAIN_STORE] = "plain_store",
};

FTFUZZ_EXPORT const char *
ftfuzz_point_kind_name(int kind)
{
    if (kind <= 0 || kind >= FTFUZZ_POINT_KIND_COUNT)
        return "unknown";
    return point_kind_names[kind];
}

FTFUZZ_EXPORT const char *
ftfuzz_verdict_name(int verdict)
{
    return ftfuzz_verdict_text(verdict);
}

/* --- the turn -------------------------------------------------------------- */

static long
futex(uint32_t *addr, int op, uint32_t val)
{
    return syscall(SYS_futex, addr, op, val, NULL, NULL, 0);
}

/*
 * A short spin before sleeping: a turn usually comes back within a few
 * microseconds, and a futex sleep plus wake-up costs more than that.
 */
#define SCHED_SPIN 400

void
sched_wait_turn(struct sched_thread *self)
{
    for (int i = 0; i < SCHED_SPIN; i++) {
        if (__atomic_load_n(&self->turn, __ATOMIC_ACQUIRE) == 1)
            goto got;
        __builtin_ia32_pause();
    }
    for (;;) {
        uint32_t v = 0;
        if (__atomic_compare_exchange_n(&self->turn, &v, 2, 0,
                                        __ATOMIC_ACQUIRE, __ATOMIC_ACQUIRE)
            || v == 2) {
            futex(&self->turn, FUTEX_WAIT_PRIVATE, 2);
            continue;
        }
        if (v == 1)
            break;
    }
got:
    __atomic_store_n(&self->turn, 0, __ATOMIC_RELAXED);
    __atomic_thread_fence(__ATOMIC_ACQUIRE);
}

static void
sched_give_turn(struct sched_thread *to)
{
    sched.current = to;
    if (__atomic_exchange_n(&to->turn, 1, __ATOMIC_RELEASE) == 2)
        futex(&to->turn, FUTEX_WAKE_PRIVATE, 1);
}

/* --- decisions ------------------------------------------------------------- */

static void
sched_set_next_consult(void)
{
    uint64_t next = sched.strategy_next;
    uint64_t fair = sched.run_start + sched.quantum;
    if (fair < next)
        next = fair;
    if (sched.max_steps < next)
        next = sched.max_steps;
    if (next <= ftfuzz_sched_step)
        next = ftfuzz_sched_step + 1;
    /* reads-from pairs need every atomic access; the decisions still come
     * at the same steps */
    sched.consult = next;
    ftfuzz_sched_next = sched.reads_from ? ftfuzz_sched_step + 1 : next;
}

static void
sched_livelock(void)
{
    char *buf = NULL;
    size_t len = 0, cap = 0;
    sched_report_append(&buf, &len, &cap,
                        "livelock: the step cap (%llu scheduling points) was "
                        "reached\n",
                        (unsigned long long)sched.max_steps);
    /* The thread that reached the cap is this one: where it was running. */
    void *frames[SCHED_STACK_DEPTH];
    int nframes = backtrace(frames, SCHED_STACK_DEPTH);
    sched_report_append(&buf, &len, &cap, "  T%u's stack at the cap:\n",
                        sched.current->id);
    sched_report_stack(&buf, &len, &cap, frames, nframes);
    sched_report_threads(&buf, &len, &cap);
    size_t n = sched_trace_count();
    size_t first = n > 16 ? n - 16 : 0;
    sched_report_append(&buf, &len, &cap, "last %zu switches:\n", n - first);
    for (size_t i = first; i < n; i++) {
        const struct sched_switch *sw = sched_trace_at(i);
        sched_report_append(&buf, &len, &cap,
                            "  step %llu: T%u -> T%u at %s\n",
                            (unsigned long long)sw->step, sw->from, sw->to,
                            ftfuzz_point_kind_name(sw->kind));
    }
    sched_finding(FTFUZZ_VERDICT_LIVELOCK, buf);
}

static void
sched_deadlock(void)
{
    char *buf = NULL;
    size_t len = 0, cap = 0;
    sched_report_append(&buf, &len, &cap,
                        "deadlock: every thread is blocked and no timeout "
                        "can fire (step %llu)\n",
                        (unsigned long long)ftfuzz_sched_step);
    sched_report_threads(&buf, &len, &cap);
    sched_finding(FTFUZZ_VERDICT_DEADLOCK, buf);
}

static int
sched_is_timed_waiter(const struct sched_thread *t)
{
    return t->state == SCHED_T_BLOCKED && t->deadline != SCHED_NO_DEADLINE;
}

/*
 * Chooses who runs after `self` reached a point of `kind`, and hands the
 * turn over if that is someone else.  Returns once `self` holds the turn
 * again (at once when it keeps it); never returns the turn to a finished
 * thread.
 */
static void
sched_decide(struct sched_thread *self, int kind, const void *site)
{
    unsigned cand[FTFUZZ_SCHED_MAX_THREADS];
    _Static_assert(sizeof cand <= 16384,
                   "the candidates fit on any managed thread's stack");
    unsigned n = 0, nrunnable = 0;
    int yielding = kind == FTFUZZ_POINT_YIELD || kind == FTFUZZ_POINT_QUANTUM;
    int self_can = self->state == SCHED_T_RUNNABLE;

    if (ftfuzz_sched_step >= sched.max_steps)
        sched_livelock();
    /* every point since the last decision was self's */
    self->region_points += ftfuzz_sched_step - sched.acct_step;
    sched.acct_step = ftfuzz_sched_step;

    for (unsigned i = 0; i < sched.nthreads; i++) {
        struct sched_thread *t = &sched.threads[i];
        if (t->state != SCHED_T_RUNNABLE)
            continue;
        if (t == self && yielding)
            continue;
        cand[n++] = i;
    }
    nrunnable = n;
    /* Timed waiters, earliest deadline first (insertion sort: timed
     * waiters are few, however many threads there are). */
    for (unsigned i = 0; i < sched.nthreads; i++) {
        struct sched_thread *t = &sched.threads[i];
        if (!sched_is_timed_waiter(t))
            continue;
        unsigned j = n++;
        while (j > nrunnable
               && sched.threads[cand[j - 1]].deadline > t->deadline) {
            cand[j] = cand[j - 1];
            j--;
        }
        cand[j] = i;
    }

    if (yielding) {
        sched.strategy->yielded(sched.strategy, self->id);
        if (n == 0) {
            /* Nobody else can run: keep going, and restart the quantum so
             * that a lone spinner does not come back here every step. */
            sched.run_start = ftfuzz_sched_step;
            sched_set_next_consult();
            return;
        }
        self_can = 0;
    }
    if (n == 0)
        sched_deadlock();

    ftfuzz_decision d = {
        .step = ftfuzz_sched_step,
        .current = self->id,
        .current_can_continue = self_can,
        .kind = kind,
        .region = self->region,
        .region_point = self->region_points,
        .ncandidates = n,
        .nrunnable = nrunnable,
        .candidates = cand,
    };
    uint64_t next = SCHED_NO_DEADLINE;
    unsigned pick = sched.strategy->choose(sched.strategy, &d, &next);
    if (pick == FTFUZZ_DIVERGED) {
        char *buf = NULL;
        size_t len = 0, cap = 0;
        const char *why = sched.strategy->divergence
                              ? sched.strategy->divergence(sched.strategy)
                              : "the strategy gave up";
        sched_report_append(&buf, &len, &cap,
                            "divergence: the execution left the recorded "
                            "trace at step %llu (T%u at %s): %s\n",
                            (unsigned long long)ftfuzz_sched_step, self->id,
                            ftfuzz_point_kind_name(kind), why);
        sched_report_threads(&buf, &len, &cap);
        sched_finding(FTFUZZ_VERDICT_DIVERGED, buf);
    }
    if (pick >= n) {
        /* A strategy bug; fail loudly rather than guess. */
        fprintf(stderr, "ftfuzz: strategy %s chose %u of %u candidates\n",
                sched.strategy->name, pick, n);
        abort();
    }
    struct sched_thread *to = &sched.threads[cand[pick]];
    sched.strategy_next = next;
    if (to == self && self_can) {
        sched_set_next_consult();
        return;
    }

    int flags = 0;
    if (sched_is_timed_waiter(to)) {
        uint64_t now = sched_vnow();
        if (to->deadline > now)
            sched.vtime_jump += to->deadline - now;
        to->timed_out = 1;
        to->state = SCHED_T_RUNNABLE;
        flags |= FTFUZZ_TRACE_TIMEOUT;
    }
    if (self_can)
        flags |= FTFUZZ_TRACE_PREEMPT;
    flags |= (int)(pick & FTFUZZ_TRACE_PICK_MASK) << FTFUZZ_TRACE_PICK_SHIFT;
    sched.switches++;
    sched_trace_record(self, ftfuzz_sched_step, to->id, kind, flags, site,
                       sched.trace_callers);
    sched.run_start = ftfuzz_sched_step;
    sched_set_next_consult();
    if (to == self)
        return;   /* self was the timed waiter chosen to time out */
    sched_give_turn(to);
    if (self->state != SCHED_T_FINISHED)
        sched_wait_turn(self);
}

/* --- points ---------------------------------------------------------------- */

/* Counts a point and decides; the caller holds the turn. */
void
sched_point(struct sched_thread *self, int kind, const void *site)
{
    uint64_t s = ftfuzz_sched_step + 1;
    __atomic_store_n(&ftfuzz_sched_step, s, __ATOMIC_RELAXED);
    sched_decide(self, kind, site);
}

/* An access point (atomic or plain) whose step reached ftfuzz_sched_next. */
__attribute__((noinline)) void
sched_access_point(struct sched_thread *self, int kind, const void *site)
{
    if (ftfuzz_sched_step >= sched.run_start + sched.quantum && kind != 0)
        kind = FTFUZZ_POINT_QUANTUM;
    sched_decide(self, kind, site);
}

/* The inline fast path (atomic_hooks.h) counted the step already. */
FTFUZZ_EXPORT void
ftfuzz_atomic_point(const volatile void *addr, int kind)
{
    struct sched_thread *self = sched_self;
    if (__builtin_expect(self == NULL, 0))
        return;
    if (sched.reads_from) {
        /* the access happens right after this returns, with the turn:
         * record it then, in the order the accesses take effect */
        if (ftfuzz_sched_step >= sched.consult)
            sched_access_point(self, kind, __builtin_return_address(0));
        else
            ftfuzz_sched_next = ftfuzz_sched_step + 1;
        sched_rf_access(self->id, addr, kind, __builtin_return_address(0));
        return;
    }
    sched_access_point(self, kind, __builtin_return_address(0));
}

FTFUZZ_EXPORT void
ftfuzz_sched_yield(void)
{
    struct sched_thread *self = sched_self;
    if (self)
        sched_point(self, FTFUZZ_POINT_YIELD, __builtin_return_address(0));
}

FTFUZZ_EXPORT void
ftfuzz_sched_mark(void)
{
    /* Only the thread holding the turn runs: no race on sched. */
    if (!sched.active || sched_self == NULL || sched.marked)
        return;
    sched.marked = 1;
    sched.mark_step = ftfuzz_sched_step;
    if (sched.strategy->marked) {
        sched.strategy_next =
            sched.strategy->marked(sched.strategy, ftfuzz_sched_step);
        sched_set_next_consult();
    }
}

FTFUZZ_EXPORT void
ftfuzz_sched_region(uint32_t region)
{
    /* Only the thread holding the turn runs: no race on sched.  Not a
     * point: the steps, and every other strategy, are unchanged. */
    struct sched_thread *self = sched_self;
    if (!sched.active || self == NULL)
        return;
    sched.acct_step = ftfuzz_sched_step;
    self->region = region;
    self->region_points = 0;
    if (sched.strategy->region) {
        sched.strategy_next = sched.strategy->region(
            sched.strategy, self->id, region, ftfuzz_sched_step);
        sched_set_next_consult();
    }
}

FTFUZZ_EXPORT int
ftfuzz_sched_self(void)
{
    return sched_self ? (int)sched_self->id : -1;
}

/* --- blocking -------------------------------------------------------------- */

/*
 * Marks self blocked on obj and gives the turn away.  Returns 1 when the
 * wait timed out (a timed waiter chosen to run), 0 when woken.
 */
int
sched_block(struct sched_thread *self, int kind, const void *obj,
            uint64_t deadline, const void *site)
{
    self->state = SCHED_T_BLOCKED;
    self->block_kind = kind;
    self->block_obj = obj;
    self->deadline = deadline;
    self->timed_out = 0;
    self->block_seq = ++sched.block_seq;
    /* Kept for a deadlock report; a blocking point is rare enough to pay
     * for an unwind here rather than stop every thread at report time. */
    self->nframes = backtrace(self->frames, SCHED_STACK_DEPTH);
    sched_point(self, kind, site);
    self->state = SCHED_T_RUNNABLE;
    self->block_obj = NULL;
    self->deadline = SCHED_NO_DEADLINE;
    return self->timed_out;
}

/*
 * Acquires a lock whose real trylock is exact for the turn holder (nobody
 * else runs): a point, then trylock; while it says EBUSY the thread blocks
 * on obj in the model, and the lock's unlock wakes it to try again.
 * Returns trylock's result, or ETIMEDOUT when the deadline passed first.
 */
int
sched_acquire(struct sched_thread *self, int kind, void *obj,
              int (*trylock)(void *obj), uint64_t deadline, const void *site)
{
    sched_point(self, kind, site);
    for (;;) {
        int rc = trylock(obj);
        if (rc != EBUSY)
            return rc;
        if (sched_block(self, kind, obj, deadline, site))
            return ETIMEDOUT;
    }
}

void
sched_wake_all(const void *obj)
{
    for (unsigned i = 0; i < sched.nthreads; i++) {
        struct sched_thread *t = &sched.threads[i];
        if (t->state == SCHED_T_BLOCKED && t->block_obj == obj)
            t->state = SCHED_T_RUNNABLE;
    }
}

/* Wakes the longest waiter on obj (condition variables' signal). */
void
sched_wake_one(const void *obj)
{
    struct sched_thread *best = NULL;
    for (unsigned i = 0; i < sched.nthreads; i++) {
        struct sched_thread *t = &sched.threads[i];
        if (t->state == SCHED_T_BLOCKED && t->block_obj == obj
            && (!best || t->block_seq < best->block_seq))
            best = t;
    }
    if (best)
        best->state = SCHED_T_RUNNABLE;
}

/* --- threads --------------------------------------------------------------- */

struct sched_thread *
sched_thread_new(void)
{
    if (sched.nthreads >= FTFUZZ_SCHED_MAX_THREADS)
        return NULL;
    struct sched_thread *t = &sched.threads[sched.nthreads];
    memset(t, 0, sizeof *t);
    t->id = sched.nthreads++;
    t->state = SCHED_T_RUNNABLE;
    t->deadline = SCHED_NO_DEADLINE;
    return t;
}

struct sched_thread *
sched_thread_by_handle(pthread_t handle)
{
    /* Newest first: glibc reuses a joined thread's descriptor. */
    for (unsigned i = sched.nthreads; i-- > 0;)
        if (pthread_equal(sched.threads[i].handle, handle))
            return &sched.threads[i];
    return NULL;
}

/* The thread leaves the session for good: the turn goes on without it. */
void
sched_thread_exit(struct sched_thread *self)
{
    self->state = SCHED_T_FINISHED;
    sched_wake_all(self);
    sched_wake_all(&sched);
    sched_point(self, FTFUZZ_POINT_THREAD_EXIT, __builtin_return_address(0));
    sched_set_self(NULL);
}

/* --- findings -------------------------------------------------------------- */

void
sched_finding(int verdict, const char *report)
{
    sched.verdict = verdict;
    if (sched.trace_out[0])
        ftfuzz_sched_write_trace(sched.trace_out);
    sched.on_finding(verdict, report);
    /* on_finding must not return: a finding ends the execution. */
    abort();
}

/* --- sessions -------------------------------------------------------------- */

FTFUZZ_EXPORT int
ftfuzz_sched_begin(const ftfuzz_sched_config *cfg)
{
    if (sched.active) {
        fprintf(stderr, "ftfuzz: a scheduler session is already open\n");
        return -1;
    }
    if (!cfg || !cfg->strategy) {
        fprintf(stderr, "ftfuzz: ftfuzz_sched_begin needs a strategy\n");
        return -1;
    }
    /* not the thread records: a few hundred kilobytes, each cleared when
     * it is taken */
    memset(&sched, 0, offsetof(struct sched_session, threads));
    ftfuzz_sched_step = 0;
    sched.strategy = cfg->strategy;
    sched.max_steps = cfg->max_steps ? cfg->max_steps
                                     : ftfuzz_env_u64("FTFUZZ_MAX_STEPS");
    sched.quantum = cfg->quantum ? cfg->quantum
                                 : ftfuzz_env_u64("FTFUZZ_QUANTUM");
    sched.watchdog_seconds =
        cfg->watchdog_seconds
            ? cfg->watchdog_seconds
            : (unsigned)ftfuzz_env_u64("FTFUZZ_WATCHDOG_SECONDS");
    sched.on_finding =
        cfg->on_finding ? cfg->on_finding : sched_default_on_finding;
    sched.trace_callers = cfg->trace_callers;
    sched.reads_from = cfg->reads_from;
    /* also without reads_from: no pairs of an earlier session survive */
    sched_rf_reset();
    sched_plain_session_begin();
    if (cfg->trace_out)
        snprintf(sched.trace_out, sizeof sched.trace_out, "%s",
                 cfg->trace_out);
    cfg->strategy->describe(cfg->strategy, sched.strategy_text,
                            sizeof sched.strategy_text);
    sched_trace_reset();

    struct sched_thread *t = sched_thread_new();
    t->handle = pthread_self();
    t->tid = (pid_t)syscall(SYS_gettid);
    sched.current = t;
    sched.strategy->thread_started(sched.strategy, t->id);
    /* The first atomic point asks the strategy where its first preemption
     * is; from then on it is asked only where it said. */
    sched.strategy_next = 1;
    sched.marked = 0;
    sched.run_start = 0;
    sched_set_next_consult();
    sched.active = 1;
    sched_watchdog_start();
    sched_set_self(t);
    __atomic_store_n(&ftfuzz_hook_active, 1, __ATOMIC_SEQ_CST);
    return 0;
}

FTFUZZ_EXPORT ftfuzz_sched_result
ftfuzz_sched_snapshot(void)
{
    ftfuzz_sched_result r = {
        .verdict = sched.verdict,
        .steps = ftfuzz_sched_step,
        .switches = sched.switches,
        .trace_hash = sched_trace_final_hash(),
        .mark_step = sched.marked ? sched.mark_step : 0,
    };
    return r;
}

FTFUZZ_EXPORT ftfuzz_sched_result
ftfuzz_sched_end(void)
{
    struct sched_thread *self = sched_self;
    if (!sched.active || !self || self->id != 0) {
        fprintf(stderr, "ftfuzz: ftfuzz_sched_end outside its session's "
                        "opening thread\n");
        abort();
    }
    for (;;) {
        int alive = 0;
        for (unsigned i = 1; i < sched.nthreads; i++)
            alive |= sched.threads[i].state != SCHED_T_FINISHED;
        if (!alive)
            break;
        sched_block(self, FTFUZZ_POINT_SESSION_END, &sched,
                    SCHED_NO_DEADLINE, __builtin_return_address(0));
    }
    if (sched.strategy->finished
        && sched.strategy->finished(sched.strategy, ftfuzz_sched_step)) {
        char *buf = NULL;
        size_t len = 0, cap = 0;
        sched_report_append(&buf, &len, &cap,
                            "divergence: the execution ended at step %llu "
                            "but the recorded trace goes on: %s\n",
                            (unsigned long long)ftfuzz_sched_step,
                            sched.strategy->divergence
                                ? sched.strategy->divergence(sched.strategy)
                                : "");
        sched_finding(FTFUZZ_VERDICT_DIVERGED, buf);
    }
    __atomic_store_n(&ftfuzz_hook_active, 0, __ATOMIC_SEQ_CST);
    sched_set_self(NULL);
    sched.active = 0;
    if (sched.trace_out[0])
        ftfuzz_sched_write_trace(sched.trace_out);
    return ftfuzz_sched_snapshot();
}
