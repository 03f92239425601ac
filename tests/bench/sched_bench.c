/* Scheduler microbenchmarks (make bench).  Built twice: with the hooks and
 * the scheduler runtime (SCHED defined), and plain, for the baselines.
 *
 *   sched_bench point N     ns per atomic load: outside a session (idle
 *                           hooks) and inside one that never switches
 *   sched_bench handoff N   ns per switch between two threads
 *   sched_bench locks N     seconds for 4 threads x N mutex round trips
 *   sched_bench plain N     CPU ns per plain load in a session: of the thread's
 *                           stack, of memory only it touched, of memory
 *                           two threads touched (a point that does not
 *                           switch); built a third time with
 *                           --plain-accesses' flags (sched_bench_pa)
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#ifdef SCHED
#include "ftfuzz/sched.h"
#endif

static volatile long shared_word;
static long counter;
static pthread_mutex_t m = PTHREAD_MUTEX_INITIALIZER;
static long iterations;

#ifdef SCHED
/* Inside a session clock_gettime() is virtual; the benchmark wants the real
 * one, which --wrap leaves reachable under this name. */
int __real_clock_gettime(clockid_t clock, struct timespec *ts);
#define clock_gettime __real_clock_gettime
#endif

static double
now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* CPU time of the calling thread: on a busy machine wall time would count
 * the time it waited for a core. */
static double
cpu_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

static __attribute__((noinline)) long
load_loop(long n)
{
    long sum = 0;
    for (long i = 0; i < n; i++)
        sum += __atomic_load_n(&shared_word, __ATOMIC_ACQUIRE);
    return sum;
}

static __attribute__((unused)) void *
load_worker(void *arg)
{
    (void)arg;
    load_loop(iterations);
    return NULL;
}

static void *
lock_worker(void *arg)
{
    (void)arg;
    for (long i = 0; i < iterations; i++) {
        pthread_mutex_lock(&m);
        counter++;
        pthread_mutex_unlock(&m);
    }
    return NULL;
}

static volatile int shared_plain[8];

static __attribute__((noinline)) long
plain_loop(volatile int *p, long n)
{
    long sum = 0;
    for (long i = 0; i < n; i++)
        sum += p[i & 7];
    return sum;
}

static __attribute__((unused)) void *
touch_shared(void *arg)
{
    (void)arg;
    return (void *)plain_loop(shared_plain, 8);
}

#ifdef SCHED
static ftfuzz_strategy *strategy;
static ftfuzz_sched_result end(void);

static void
begin_with(ftfuzz_strategy *s)
{
#ifdef PLAIN_ACCESSES
    /* turns the plain-access points on (nothing known shared yet) */
    ftfuzz_plain_set_known(NULL, 0);
#endif
    strategy = s;
    ftfuzz_sched_config cfg = { .strategy = strategy,
                                .max_steps = UINT64_MAX / 2,
                                .quantum = UINT64_MAX / 4 };
    if (!strategy || ftfuzz_sched_begin(&cfg) != 0)
        exit(2);
}
static void
begin(const char *spec)
{
    char err[256];
    begin_with(ftfuzz_strategy_parse(spec, 1, err, sizeof err));
}

/* ANCHOR_REGION points per region (a Python operation takes 70 to a few
 * thousand), each region with an anchor at its middle that picks the
 * running thread itself: one decision per region, no switch. */
#define ANCHOR_REGION 100
static double
anchored_loop(long n)
{
    size_t nr = (size_t)(n / ANCHOR_REGION) + 1;
    ftfuzz_anchor *a = calloc(nr, sizeof *a);
    for (size_t r = 0; r < nr; r++)
        a[r] = (ftfuzz_anchor){.thread = 0, .region = (uint32_t)r + 1,
                               .point = ANCHOR_REGION / 2, .to = 0};
    begin_with(ftfuzz_strategy_anchors(a, nr));
    free(a);
    long sum = 0;
    double t0 = now();
    for (long r = 0; r < n / ANCHOR_REGION; r++) {
        ftfuzz_sched_region((uint32_t)r + 1);
        sum += load_loop(ANCHOR_REGION);
    }
    double t = now() - t0;
    end();
    return sum >= 0 ? t : 0;
}
static ftfuzz_sched_result
end(void)
{
    ftfuzz_sched_result r = ftfuzz_sched_end();
    strategy->destroy(strategy);
    return r;
}
#endif

static void
run_threads(int n, void *(*fn)(void *))
{
    pthread_t t[8];
    for (int i = 0; i < n; i++)
        pthread_create(&t[i], NULL, fn, NULL);
    for (int i = 0; i < n; i++)
        pthread_join(t[i], NULL);
}

int
main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: %s point|handoff|locks N\n", argv[0]);
        return 2;
    }
    iterations = atol(argv[2]);
    const char *mode = argv[1];
    if (!strcmp(mode, "point")) {
        double t0 = now();
        load_loop(iterations);
        double idle = now() - t0;
        printf("idle_ns_per_point %.3f\n", idle * 1e9 / iterations);
#ifdef SCHED
        begin("pct:1");
        t0 = now();
        load_loop(iterations);
        double in = now() - t0;
        end();
        printf("session_ns_per_point %.3f\n", in * 1e9 / iterations);
        double anchored = anchored_loop(iterations);
        printf("anchored_ns_per_point %.3f\n", anchored * 1e9 / iterations);
#endif
    } else if (!strcmp(mode, "handoff")) {
#ifdef SCHED
        begin("random:1");
        double t0 = now();
        run_threads(2, load_worker);
        double t = now() - t0;
        ftfuzz_sched_result r = end();
        printf("switches %llu ns_per_switch %.1f\n",
               (unsigned long long)r.switches, t * 1e9 / r.switches);
#else
        printf("handoff needs the scheduler\n");
#endif
    } else if (!strcmp(mode, "plain")) {
#ifdef SCHED
        begin("pct:1");
#endif
        volatile int local[8] = {0};
        volatile int *own = calloc(8, sizeof *own);
        /* another thread touches shared_plain first: shared from then on */
        run_threads(1, touch_shared);
        double t0 = cpu_now();
        plain_loop(local, iterations);
        double t1 = cpu_now();
        plain_loop(own, iterations);
        double t2 = cpu_now();
        plain_loop(shared_plain, iterations);
        double t3 = cpu_now();
#ifdef SCHED
        ftfuzz_sched_result r = end();
        printf("steps %llu ", (unsigned long long)r.steps);
#endif
        printf("stack_ns %.3f own_ns %.3f shared_ns %.3f\n",
               (t1 - t0) * 1e9 / iterations, (t2 - t1) * 1e9 / iterations,
               (t3 - t2) * 1e9 / iterations);
        free((void *)own);
    } else if (!strcmp(mode, "locks")) {
#ifdef SCHED
        begin("pct:3");
#endif
        struct timespec c0, c1;
        clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &c0);
        double t0 = now();
        run_threads(4, lock_worker);
        double t = now() - t0;
        clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &c1);
        double cpu = (c1.tv_sec - c0.tv_sec) + (c1.tv_nsec - c0.tv_nsec) / 1e9;
#ifdef SCHED
        ftfuzz_sched_result r = end();
        printf("steps %llu switches %llu ", (unsigned long long)r.steps,
               (unsigned long long)r.switches);
#endif
        /* cpu_seconds first: bench.sh's field() takes the last match */
        printf("cpu_seconds %.4f seconds %.4f counter %ld\n", cpu, t,
               counter);
    } else {
        fprintf(stderr, "unknown mode %s\n", mode);
        return 2;
    }
    return 0;
}
