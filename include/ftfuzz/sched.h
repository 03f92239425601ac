/*
 * ftfuzz scheduler: public interface.
 *
 * A session runs the threads of a program one at a time, switching only at
 * scheduling points (atomic accesses reached through atomic_hooks.h, the
 * libc primitives listed in scheduler/wrapped.def, and ftfuzz_sched_yield),
 * and only where a strategy says so.  It knows nothing about Python.
 *
 * Programs under the scheduler are linked with the flags in build/wrap.flags
 * (one -Wl,--wrap=NAME per modelled function), the static runtime
 * build/lib/libftfuzz_sched.a and -rdynamic.  scripts/ftfuzz-cc does that.
 */
#ifndef FTFUZZ_SCHED_H
#define FTFUZZ_SCHED_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define FTFUZZ_EXPORT __attribute__((visibility("default")))

/* Frames of a switch's stack a trace keeps with trace_callers. */
#define FTFUZZ_TRACE_CALLERS 12

/* Most threads one session manages, the opener included (a thread's
 * record is about 400 bytes of the runtime's static data). */
#define FTFUZZ_SCHED_MAX_THREADS 1024

/* What a scheduling point is. */
enum ftfuzz_point_kind {
    /* an atomic access (atomic_hooks.h); the low kinds match
     * enum ftfuzz_atomic_kind */
    FTFUZZ_POINT_ATOMIC_LOAD = 1,
    FTFUZZ_POINT_ATOMIC_STORE,
    FTFUZZ_POINT_ATOMIC_EXCHANGE,
    FTFUZZ_POINT_ATOMIC_CAS,
    FTFUZZ_POINT_ATOMIC_RMW,
    FTFUZZ_POINT_ATOMIC_FENCE,
    /* ftfuzz_sched_yield() or sched_yield(): the thread asks to let others
     * run, and the scheduler switches away if anyone else can run */
    FTFUZZ_POINT_YIELD,
    /* thread life cycle */
    FTFUZZ_POINT_THREAD_CREATE,
    FTFUZZ_POINT_THREAD_JOIN,
    FTFUZZ_POINT_THREAD_EXIT,
    /* pthread mutexes and condition variables */
    FTFUZZ_POINT_MUTEX_LOCK,
    FTFUZZ_POINT_MUTEX_UNLOCK,
    FTFUZZ_POINT_COND_WAIT,
    FTFUZZ_POINT_COND_SIGNAL,
    /* POSIX semaphores */
    FTFUZZ_POINT_SEM_WAIT,
    FTFUZZ_POINT_SEM_POST,
    /* sleeps and clock reads (virtual time) */
    FTFUZZ_POINT_SLEEP,
    /* the session opener waits for the other threads to finish */
    FTFUZZ_POINT_SESSION_END,
    /* the running thread ran a full fairness quantum while others waited */
    FTFUZZ_POINT_QUANTUM,
    /* pthread reader-writer locks: a read lock, a write lock, an unlock
     * (kinds added after QUANTUM keep the numbers, and so the trace
     * hashes, of the older ones) */
    FTFUZZ_POINT_RWLOCK_READ,
    FTFUZZ_POINT_RWLOCK_WRITE,
    FTFUZZ_POINT_RWLOCK_UNLOCK,
    /* pthread spin locks */
    FTFUZZ_POINT_SPIN_LOCK,
    FTFUZZ_POINT_SPIN_UNLOCK,
    /* pthread_barrier_wait */
    FTFUZZ_POINT_BARRIER_WAIT,
    /* pthread_once */
    FTFUZZ_POINT_ONCE,
    /* a plain load or store of shared memory, in code built with
     * --plain-accesses (scheduler/plain_access.c) */
    FTFUZZ_POINT_PLAIN_LOAD,
    FTFUZZ_POINT_PLAIN_STORE,
    FTFUZZ_POINT_KIND_COUNT
};

/* Name of a point kind, e.g. "atomic_load", "mutex_lock". */
FTFUZZ_EXPORT const char *ftfuzz_point_kind_name(int kind);

/*
 * What a strategy sees at a decision.  Candidates are the threads that may
 * run next, in ascending id order: first every runnable thread, then every
 * thread in a timed wait (choosing one of those makes its wait time out).
 */
typedef struct ftfuzz_decision {
    uint64_t step;            /* points executed so far in the session */
    unsigned current;         /* id of the thread at the point */
    int current_can_continue; /* 0 when it blocked, exited or yielded */
    int kind;                 /* enum ftfuzz_point_kind */
    uint32_t region;          /* current's region (ftfuzz_sched_region) */
    uint64_t region_point;    /* ... and this point's number in it, from 1 */
    unsigned ncandidates;
    unsigned nrunnable;       /* candidates[0..nrunnable) are runnable */
    const unsigned *candidates;
} ftfuzz_decision;

/*
 * A strategy: where and to whom the turn goes.  The scheduler asks choose()
 * at every decision: at each primitive point, and at an atomic point only
 * once the step reaches the value choose() last returned in *next_step.
 * That keeps a non-switching atomic point to a counter and a compare;
 * strategies express themselves sparsely ("at step N switch to T").
 *
 * choose() returns an index into d->candidates, or FTFUZZ_DIVERGED (replay
 * only) when the execution left the recorded path.
 */
#define FTFUZZ_DIVERGED (~0u)

typedef struct ftfuzz_strategy ftfuzz_strategy;
struct ftfuzz_strategy {
    const char *name;
    /* a new thread joined the session (id 0 is the opener) */
    void (*thread_started)(ftfuzz_strategy *s, unsigned id);
    /* the thread asked to yield or ran a fairness quantum */
    void (*yielded)(ftfuzz_strategy *s, unsigned id);
    unsigned (*choose)(ftfuzz_strategy *s, const ftfuzz_decision *d,
                       uint64_t *next_step);
    /* a short text that recreates this strategy, e.g. "pct:3:k=2000:seed=7" */
    void (*describe)(ftfuzz_strategy *s, char *buf, size_t size);
    /* replay only: message of the last divergence */
    const char *(*divergence)(ftfuzz_strategy *s);
    /* replay only: non-zero when recorded switches were left unused */
    int (*finished)(ftfuzz_strategy *s, uint64_t steps);
    void (*destroy)(ftfuzz_strategy *s);
    /* optional: the session reached its mark (ftfuzz_sched_mark) at step;
     * returns the step at which the strategy wants its next decision */
    uint64_t (*marked)(ftfuzz_strategy *s, uint64_t step);
    /* optional: thread id entered region (ftfuzz_sched_region) at step;
     * returns the step at which the strategy wants its next decision */
    uint64_t (*region)(ftfuzz_strategy *s, unsigned id, uint32_t region,
                       uint64_t step);
};

/*
 * A preemption named by where it happens in the program rather than by
 * the session's step count: the point-th scheduling point (from 1) that
 * thread `thread` reaches in its region `region`, after which the turn goes
 * to thread `to`.  A harness numbers a thread's regions (its operations)
 * with ftfuzz_sched_region; region 0 is everything before the first call.
 * A change that adds points elsewhere (another thread's start-up, an
 * earlier operation) does not move an anchor; one that adds points earlier
 * in the same region does.  Every trace names its switches this way too
 * (the `anchor` lines, docs/scheduler.md).
 */
typedef struct ftfuzz_anchor {
    uint32_t thread;
    uint32_t region;
    uint32_t point;
    uint32_t to;
    /* the switch was forced (the thread blocked, yielded or exited): it
     * happens at the thread's next such decision in the region, wherever
     * that is (point only records where it was) */
    uint32_t blocked;
} ftfuzz_anchor;

/* Decisions from a byte buffer (the fuzzer input); see docs/scheduler.md. */
FTFUZZ_EXPORT ftfuzz_strategy *ftfuzz_strategy_bytes(const uint8_t *data,
                                                      size_t size);
/* The same, with the first DELTA counted from the session's mark
 * (ftfuzz_sched_mark) instead of its start: no preemption before it. */
FTFUZZ_EXPORT ftfuzz_strategy *ftfuzz_strategy_bytes_from_mark(
    const uint8_t *data, size_t size);
/* Switches at the anchors a[0..n) (copied), each once, in each thread in
 * the order given; an anchor whose region or point its thread passed
 * without reaching it is skipped, one whose `to` cannot run is a no-op.
 * Between anchors it behaves as `bytes` between preemptions. */
FTFUZZ_EXPORT ftfuzz_strategy *ftfuzz_strategy_anchors(
    const ftfuzz_anchor *a, size_t n);
/* PCT with depth d over about k steps (k = 0: a default). */
FTFUZZ_EXPORT ftfuzz_strategy *ftfuzz_strategy_pct(unsigned depth,
                                                    uint64_t k,
                                                    uint64_t seed);
/* The same with its change points log-uniform over [1, k] instead of
 * uniform (each power of two gets the same share): "pctlog". */
FTFUZZ_EXPORT ftfuzz_strategy *ftfuzz_strategy_pct_log(unsigned depth,
                                                        uint64_t k,
                                                        uint64_t seed);
/* pct with the change points counted from the session's mark
 * (ftfuzz_sched_mark): "pct@mark". */
FTFUZZ_EXPORT ftfuzz_strategy *ftfuzz_strategy_pct_from_mark(unsigned depth,
                                                              uint64_t k,
                                                              uint64_t seed);
/* pct@mark with its change points log-uniform over [1, k] instead of
 * uniform: "pctlog@mark". */
FTFUZZ_EXPORT ftfuzz_strategy *ftfuzz_strategy_pct_log_from_mark(
    unsigned depth, uint64_t k, uint64_t seed);
/* A random walk switching with probability p at each point. */
FTFUZZ_EXPORT ftfuzz_strategy *ftfuzz_strategy_random(double p,
                                                       uint64_t seed);
/* Re-executes the trace in path (written by a session's trace_out). */
FTFUZZ_EXPORT ftfuzz_strategy *ftfuzz_strategy_replay(const char *path,
                                                       char *err,
                                                       size_t errsize);
/*
 * A strategy spec, parsed but not built: the one reading of the grammar
 * "pct:D[:k=K]", "pctlog:D[:k=K]", "random[:P]", "bytes:HEX",
 * "bytes:@FILE", "replay:FILE" (scheduler/strategy_parse.c), for the
 * scheduler's own constructor below and for callers that map a spec
 * elsewhere (a harness's program format, the CLI deciding whether pct's k
 * must be measured).
 */
enum ftfuzz_strategy_kind {
    FTFUZZ_STRATEGY_PCT,
    FTFUZZ_STRATEGY_PCT_LOG,
    FTFUZZ_STRATEGY_RANDOM,
    FTFUZZ_STRATEGY_BYTES,
    FTFUZZ_STRATEGY_REPLAY,
};
typedef struct ftfuzz_strategy_spec {
    int kind;           /* enum ftfuzz_strategy_kind */
    unsigned depth;     /* pct, pctlog: 1..64 */
    uint64_t k;         /* pct, pctlog: 0 when not given */
    double p;           /* random: 0 when not given */
    const char *arg;    /* bytes, replay: the text after the colon */
} ftfuzz_strategy_spec;

/* 0, or -1 and a message in err that names the spec. */
FTFUZZ_EXPORT int ftfuzz_strategy_spec_parse(const char *text,
                                             ftfuzz_strategy_spec *out,
                                             char *err, size_t errsize);

/*
 * Builds the strategy a spec names; seed is used by pct and random (whose
 * P defaults to 0.02 here).  NULL and a message in err on a bad spec.
 */
FTFUZZ_EXPORT ftfuzz_strategy *ftfuzz_strategy_parse(const char *spec,
                                                      uint64_t seed,
                                                      char *err,
                                                      size_t errsize);

/* Verdicts of a session and of an execution (include/ftfuzz/verdicts.def):
 * FTFUZZ_VERDICT_PASSED, _DEADLOCK, ... */
enum ftfuzz_verdict {
#define FTFUZZ_VERDICT_ROW(NAME, name, class, help) FTFUZZ_VERDICT_##NAME,
#include "ftfuzz/verdicts.def"
#undef FTFUZZ_VERDICT_ROW
    FTFUZZ_VERDICT_COUNT
};

/* The verdict's name ("passed", "deadlock", ...), "unknown" out of range. */
FTFUZZ_EXPORT const char *ftfuzz_verdict_name(int verdict);

typedef struct ftfuzz_sched_result {
    int verdict;
    uint64_t steps;
    uint64_t switches;
    uint64_t trace_hash;
    uint64_t mark_step;  /* step of ftfuzz_sched_mark, 0 without one */
} ftfuzz_sched_result;

typedef struct ftfuzz_sched_config {
    ftfuzz_strategy *strategy;  /* required; owned by the caller */
    uint64_t max_steps;         /* livelock cap; 0: FTFUZZ_MAX_STEPS */
    uint64_t quantum;           /* fairness quantum; 0: FTFUZZ_QUANTUM */
    unsigned watchdog_seconds;  /* 0: FTFUZZ_WATCHDOG_SECONDS */
    const char *trace_out;      /* write the trace here at the end, or NULL */
    /* record each switch's call stack too (up to FTFUZZ_TRACE_CALLERS
     * frames) for reports; costs an unwind per switch */
    int trace_callers;
    /* record which thread's write each atomic read saw, for
     * FTFUZZ_IL_READS_FROM; costs a call at every atomic point */
    int reads_from;
    /*
     * Called with the verdict and the report text when a finding ends the
     * session (deadlock, livelock, hang, divergence); the default prints
     * the report to stderr and aborts, which is a crash to libFuzzer.
     */
    void (*on_finding)(int verdict, const char *report);
} ftfuzz_sched_config;

/*
 * Opens a session on the calling thread (thread 0).  Returns 0, or -1 and a
 * message on stderr when a session is already open.
 */
FTFUZZ_EXPORT int ftfuzz_sched_begin(const ftfuzz_sched_config *cfg);

/*
 * Waits, under the scheduler, until every other managed thread has
 * finished, then closes the session and returns what happened.
 */
FTFUZZ_EXPORT ftfuzz_sched_result ftfuzz_sched_end(void);

/* A scheduling point on request; a no-op outside a session. */
FTFUZZ_EXPORT void ftfuzz_sched_yield(void);

/*
 * Marks the current step as where the interesting part of the session
 * begins (for a harness: its program's first operation, after the set-up
 * of threads, which takes thousands of points).  Only the first call of a
 * session counts; a no-op outside one.  Strategies that count from the
 * mark (ftfuzz_strategy_bytes_from_mark) start there.
 */
FTFUZZ_EXPORT void ftfuzz_sched_mark(void);

/*
 * The calling thread enters its region `region` (a harness: region i + 1
 * is its operation i), where ftfuzz_anchor counts its points from.  Not a
 * scheduling point, and costs nothing per point: the scheduler counts a
 * thread's points only when it loses the turn.  A no-op outside a session.
 */
FTFUZZ_EXPORT void ftfuzz_sched_region(uint32_t region);

/*
 * Plain-access points (code built with --plain-accesses; docs/scheduler.md).
 * A granule (8 bytes) is shared once two threads of a session touched it;
 * from then on every access to it is a point.  ftfuzz_plain_shared copies
 * up to max shared granule addresses (address >> 3) of the current or
 * last session into out and returns how many there were;
 * ftfuzz_plain_set_known makes granules shared from the start of every
 * later session (a learned set: the first race of a run needs it, since
 * the first thread's accesses came before a second thread's touch).
 * Until ftfuzz_plain_set_known is first called (or a --plain-accesses
 * program's automatic session starts), plain accesses are no points at
 * all: the table is mapped then, so programs without them keep their
 * memory layout.
 */
FTFUZZ_EXPORT size_t ftfuzz_plain_shared(uintptr_t *out, size_t max);
FTFUZZ_EXPORT void ftfuzz_plain_set_known(const uintptr_t *granules,
                                          size_t n);
/* FTFUZZ_PLAIN_LEARN: whether to learn the set with one run first. */
enum {
    FTFUZZ_PLAIN_LEARN_NEVER,   /* 0 */
    FTFUZZ_PLAIN_LEARN_ALWAYS,  /* 1 */
    FTFUZZ_PLAIN_LEARN_AUTO,    /* auto: where plain-access points are
                                   known to be compiled in */
};
FTFUZZ_EXPORT int ftfuzz_plain_learn_mode(void);

/* Id of the calling thread in the session, or -1. */
FTFUZZ_EXPORT int ftfuzz_sched_self(void);

/* The result so far (for crash handlers). */
FTFUZZ_EXPORT ftfuzz_sched_result ftfuzz_sched_snapshot(void);

/*
 * Interleaving coverage: folds the switches of the last session (from its
 * mark on, when it has one) into n 8-bit counters with saturating
 * increments, for libFuzzer's extra counters.  Edge coverage cannot tell
 * two schedules through the same code apart; these features can.  Each
 * switch's pair (the call site where a thread lost the turn, the call site
 * where the thread that got it had stopped, or its start) is one feature
 * with FTFUZZ_IL_SITES; FTFUZZ_IL_CHAINS adds each two consecutive pairs,
 * which tells orders apart.  FTFUZZ_IL_PREEMPTIONS keeps only the switches
 * the strategy chose while the running thread could have gone on: hand-offs
 * at blocking points follow from the operations, which edge coverage
 * already sees.  Costs nothing at scheduling points: it reads the trace,
 * once per session.  FTFUZZ_IL_READS_FROM adds, for each atomic read
 * (from the mark on) whose location another thread wrote last, the pair
 * (site of the read, site of that write); the session must have been
 * opened with reads_from.
 */
enum ftfuzz_interleaving_features {
    FTFUZZ_IL_SITES = 1,
    FTFUZZ_IL_CHAINS = 2,
    FTFUZZ_IL_PREEMPTIONS = 4,
    FTFUZZ_IL_READS_FROM = 8,
};
FTFUZZ_EXPORT void ftfuzz_sched_interleaving(uint8_t *counters, size_t n,
                                             unsigned features);

/* Writes the trace recorded so far to path; 0 on success. */
FTFUZZ_EXPORT int ftfuzz_sched_write_trace(const char *path);

#ifdef __cplusplus
}
#endif

#endif /* FTFUZZ_SCHED_H */
