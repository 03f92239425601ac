/*
 * Private to scheduler/: the session state shared by the .c files.
 *
 * Protocol.  Exactly one managed thread holds the turn.  Every field of
 * `sched` below, and ftfuzz_sched_step and ftfuzz_sched_next, are read and
 * written only by the thread holding the turn, except the step counter,
 * which the watchdog thread reads (relaxed) to see progress,
 * and each thread's `turn` word, which is the hand-off itself.  So none of
 * this needs a lock: the hand-off's release/acquire pair orders everything.
 *
 * This file must never include atomic_hooks.h: the runtime is not
 * instrumented, and its own __atomic_* calls must stay builtins.
 */
#ifndef FTFUZZ_SCHED_INTERNAL_H
#define FTFUZZ_SCHED_INTERNAL_H

#include <pthread.h>
#include <semaphore.h>
#include <stdint.h>
#include <sys/time.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#include "ftfuzz/sched.h"
#include "ftfuzz/trace_file.h"

/* Entry points of the real libc functions (the linker's --wrap), and the
 * models, exported so that shared objects linked with the same --wrap
 * flags reach them too. */
#define FTFUZZ_WRAP(name, ret, params, args) \
    ret __real_##name params;                 \
    FTFUZZ_EXPORT ret __wrap_##name params;
#define FTFUZZ_WRAP_NORETURN(name, params, args)           \
    __attribute__((noreturn)) void __real_##name params; \
    FTFUZZ_EXPORT void __wrap_##name params;
#include "wrapped.def"
#undef FTFUZZ_WRAP
#undef FTFUZZ_WRAP_NORETURN

#define SCHED_NO_DEADLINE UINT64_MAX
#define SCHED_STACK_DEPTH 32

/* Virtual time advances this much per scheduling point. */
#define SCHED_NS_PER_STEP 10
/* ... and this much per clock read, so that polling a clock terminates. */
#define SCHED_NS_PER_CLOCK_READ 1000

enum sched_thread_state {
    /* slot unused */
    SCHED_T_FREE = 0,
    /* may be given the turn */
    SCHED_T_RUNNABLE,
    /* waits on block_obj; with a deadline it is also a timed waiter */
    SCHED_T_BLOCKED,
    /* its start routine returned or it called pthread_exit */
    SCHED_T_FINISHED,
};

struct sched_thread {
    /* futex word: 0 no turn, 1 turn given, 2 no turn and asleep */
    uint32_t turn;
    unsigned id;
    int state;
    int block_kind;            /* point kind it blocked at */
    const void *block_obj;     /* what it waits on */
    uint64_t deadline;         /* session-local virtual ns */
    uint64_t block_seq;        /* FIFO order among waiters */
    int timed_out;             /* set when a timed wait was chosen to expire */
    int detached;
    pthread_t handle;
    pid_t tid;
    void *(*start)(void *);
    void *arg;
    void *frames[SCHED_STACK_DEPTH];  /* stack when it blocked */
    int nframes;
    /* ftfuzz_sched_region: the region it is in (0 until its first call)
     * and its points in that region, counted up to sched.acct_step while
     * it holds the turn, exactly when it loses it */
    uint32_t region;
    uint64_t region_points;
};

/* One recorded switch. */
struct sched_switch {
    uint64_t step;
    uint16_t from;
    uint16_t to;
    uint8_t kind;
    uint32_t flags;            /* FTFUZZ_TRACE_* */
    const void *site;          /* call site of the point in `from` */
    uint32_t region;           /* `from`'s region and its point there: */
    uint64_t region_point;     /* the switch as an anchor (ftfuzz_anchor) */
    uint8_t ncallers;
    const void *callers[FTFUZZ_TRACE_CALLERS];  /* with trace_callers */
};

/* A switch's flags are the trace file's: FTFUZZ_TRACE_TIMEOUT,
 * FTFUZZ_TRACE_PREEMPT and the pick (include/ftfuzz/trace_file.h). */

/* Thread ids and candidate indexes must fit where they are packed: the
 * switch record's from/to, the hash word (16 bits each), the pick. */
_Static_assert(FTFUZZ_SCHED_MAX_THREADS <= 1 << 16,
               "thread ids fit struct sched_switch's uint16_t from/to");
_Static_assert(FTFUZZ_SCHED_MAX_THREADS <= FTFUZZ_TRACE_PICK_MASK + 1,
               "a candidate index fits the pick bits of the flags");
_Static_assert(FTFUZZ_POINT_KIND_COUNT <= 256,
               "point kinds fit struct sched_switch's uint8_t kind");

struct sched_session {
    int active;
    struct sched_thread *current;
    unsigned nthreads;
    ftfuzz_strategy *strategy;
    uint64_t max_steps;
    uint64_t quantum;
    uint64_t strategy_next;    /* step the strategy last asked to be back */
    int marked;                /* ftfuzz_sched_mark was called */
    uint64_t mark_step;        /* ... at this step */
    uint64_t run_start;        /* step at which `current` got the turn */
    uint64_t acct_step;        /* points up to here are in region_points */
    uint64_t vtime_jump;       /* virtual ns added by timeouts and clocks */
    uint64_t block_seq;
    uint64_t switches;
    uint64_t hash;
    int verdict;
    void (*on_finding)(int verdict, const char *report);
    char trace_out[4096];
    int trace_callers;
    int reads_from;            /* record reads-from pairs (reads_from.c) */
    uint64_t consult;          /* with reads_from: the step that decides */
    unsigned watchdog_seconds;
    char strategy_text[256];
    /* Last, so that opening a session clears only the fields above
     * (sched_thread_new clears a record when it is taken). */
    struct sched_thread threads[FTFUZZ_SCHED_MAX_THREADS];
};

/* Static data, but not unbounded: the thread records dominate. */
_Static_assert(sizeof(struct sched_session) <= (1 << 20),
               "FTFUZZ_SCHED_MAX_THREADS thread records stay under 1 MiB");

extern struct sched_session sched;
extern __thread struct sched_thread *sched_self;

/* The hot state, read inline at every hooked site (atomic_hooks.h). */
extern int ftfuzz_hook_active;
extern __thread int ftfuzz_thread_managed;
extern unsigned long long ftfuzz_sched_step;
extern unsigned long long ftfuzz_sched_next;

/* Makes t the calling thread's record (NULL: unmanaged). */
static inline void
sched_set_self(struct sched_thread *t)
{
    sched_self = t;
    ftfuzz_thread_managed = t != NULL;
}

/* core.c */
void sched_point(struct sched_thread *self, int kind, const void *site);
void sched_access_point(struct sched_thread *self, int kind,
                        const void *site);
int sched_block(struct sched_thread *self, int kind, const void *obj,
                uint64_t deadline, const void *site);
int sched_acquire(struct sched_thread *self, int kind, void *obj,
                  int (*trylock)(void *obj), uint64_t deadline,
                  const void *site);
void sched_wake_all(const void *obj);
void sched_wake_one(const void *obj);
void sched_thread_exit(struct sched_thread *self);
struct sched_thread *sched_thread_new(void);
struct sched_thread *sched_thread_by_handle(pthread_t handle);
void sched_wait_turn(struct sched_thread *self);
__attribute__((noreturn)) void sched_finding(int verdict, const char *report);

/* tls.c */
void sched_run_key_destructors(void);

/* time.c */
uint64_t sched_vnow(void);
uint64_t sched_deadline_from_abs(clockid_t clock, const struct timespec *abs);
uint64_t sched_deadline_from_rel(const struct timespec *rel);

/* memory.c: the runtime's own memory, never the program's heap */
void *sched_mem_alloc(size_t n);
void *sched_mem_realloc(void *p, size_t n);
void sched_mem_free(void *p);
char *sched_mem_read_file(const char *path, size_t *len);
int sched_write_all(int fd, const char *buf, size_t len);
int sched_write_file(const char *path, const char *text, size_t len);

/* trace.c */
void sched_trace_reset(void);
void sched_trace_record(const struct sched_thread *from, uint64_t step,
                        unsigned to, int kind,
                        int flags, const void *site, int want_callers);
uint64_t sched_trace_final_hash(void);
size_t sched_trace_count(void);
const struct sched_switch *sched_trace_at(size_t i);

/* splitmix64's finalizer: hashes for the trace and the features. */
static inline uint64_t
sched_mix64(uint64_t x)
{
    x ^= x >> 30;
    x *= 0xbf58476d1ce4e5b9ull;
    x ^= x >> 27;
    x *= 0x94d049bb133111ebull;
    x ^= x >> 31;
    return x;
}

/* A feature from two call sites, ordered. */
static inline uint64_t
sched_site_pair(uintptr_t a, uintptr_t b)
{
    return sched_mix64((uint64_t)a * 0x9e3779b97f4a7c15ull ^ (uint64_t)b);
}

/* reads_from.c */
void sched_rf_reset(void);
void sched_rf_access(unsigned tid, const volatile void *addr, int kind,
                     const void *site);
void sched_rf_fold(uint8_t *counters, size_t n);

/* plain_access.c */
void sched_plain_session_begin(void);
/* Before the automatic session opens: loads FTFUZZ_PLAIN_SHARED, or learns
 * the shared set in a forked child; returns the learning strategy in that
 * child, NULL in the program itself. */
ftfuzz_strategy *sched_plain_auto_learn(void);
/* In the learning child: report the shared set to the parent. */
void sched_plain_auto_finish(void);

/* report.c */
void sched_report_threads(char **buf, size_t *len, size_t *cap);
void sched_report_append(char **buf, size_t *len, size_t *cap,
                         const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
void sched_report_stack(char **buf, size_t *len, size_t *cap,
                        void *const *frames, int n);
void sched_watchdog_start(void);
void sched_default_on_finding(int verdict, const char *report);

/* strategy_common.c */
uint64_t sched_rng_next(uint64_t *state);
double sched_rng_unit(uint64_t *state);

/* strategy_bytes.c: choices the strategies share */
unsigned sched_round_robin(const ftfuzz_decision *d);
unsigned sched_index_of_current(const ftfuzz_decision *d);

#endif /* FTFUZZ_SCHED_INTERNAL_H */
