/*
 * Harness runtime: the embedded interpreter and one program's execution.
 *
 * The interpreter (the `fuzz` variant) starts once per process: isolated
 * configuration, no signal handlers, hash seed 0.  Each execution then:
 *
 *   1. clears the type attribute cache and collects garbage, so that it
 *      starts from the same state as the warm-up run before it (in-process
 *      mode; the fuzz targets fork each execution from one parent instead,
 *      see fuzz_target.c);
 *   2. creates the shared objects (before the session: they are the
 *      program's input, not part of the race);
 *   3. opens a scheduler session, starts one real Python thread per thread
 *      body with _thread.start_joinable_thread and joins them all, still
 *      under the scheduler (from C for a scenario, see
 *      harness_start_and_join);
 *   4. closes the session with the main thread detached, so that a thread
 *      still finishing can stop the world;
 *   5. collects garbage again: the debug build's collector checks the
 *      reference count of every object made since start-up (harness_init
 *      freezes the rest), a cheap oracle for broken ones.
 *
 * An exception raised by an operation is its result, not a failure.
 */
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"

#ifndef FTFUZZ_PY_HOME
#error "compile with -DFTFUZZ_PY_HOME='\"<install prefix>\"'"
#endif

static PyObject *run_threads;    /* _ftfuzz_runner.run(bodies) */
static PyObject *start_joinable;  /* _thread.start_joinable_thread */
static PyObject *join_name;       /* "join", a handle's method */
static PyObject *gc_collect;

/* The program being executed; one at a time per process. */
static const prog_program *current;
static PyObject *objects[PROG_MAX_OBJECTS];
static int kinds[PROG_MAX_OBJECTS];
static int sources[PROG_MAX_OBJECTS];
int harness_verdict;

/* A scheduler finding: the scheduler's own report, then a crash. */
static void
harness_on_finding(int verdict, const char *report)
{
    ftfuzz_sched_result r = ftfuzz_sched_snapshot();
    harness_verdict = verdict;
    fprintf(stderr, "==ftfuzz== FINDING: %s\n%s==ftfuzz== trace hash "
                    "0x%016llx, steps %llu, switches %llu\n",
            ftfuzz_verdict_name(verdict), report,
            (unsigned long long)r.trace_hash,
            (unsigned long long)r.steps, (unsigned long long)r.switches);
    abort();
}

int harness_reads_from;

/* The execution report mode describes (not the warm-up run). */
static const prog_program *reported;

static const char runner_code[] =
    "import _thread\n"
    "def run(bodies):\n"
    "    handles = [_thread.start_joinable_thread(b) for b in bodies]\n"
    "    for h in handles:\n"
    "        h.join()\n"
    "def warm_up():\n"
    "    run([lambda: None])\n";

void
harness_die(const char *what)
{
    fprintf(stderr, "ftfuzz harness: %s\n", what);
    if (PyErr_Occurred())
        PyErr_Print();
    abort();
}

static void harness_collect(void);

/* Where a home's stdlib is (CPython's own landmark), e.g.
 * "/lib/python3.13t/os.py". */
#ifdef Py_GIL_DISABLED
#define HARNESS_ABI_THREAD "t"
#else
#define HARNESS_ABI_THREAD ""
#endif
#define HARNESS_STDLIB_LANDMARK                                          \
    "/lib/python" Py_STRINGIFY(PY_MAJOR_VERSION) "."                     \
    Py_STRINGIFY(PY_MINOR_VERSION) HARNESS_ABI_THREAD "/os.py"
/* The home next to the binary: where scripts/oss-fuzz/build.sh installs
 * the stdlib ($OUT/ftfuzz-python). */
#define HARNESS_RELATIVE_HOME "ftfuzz-python"

static int
harness_has_stdlib(const char *home)
{
    char path[PATH_MAX];
    int n = snprintf(path, sizeof path, "%s" HARNESS_STDLIB_LANDMARK, home);
    return n > 0 && (size_t)n < sizeof path && access(path, R_OK) == 0;
}

/*
 * The interpreter's home: the build-time FTFUZZ_PY_HOME when it holds the
 * stdlib (always, in a local build), else ftfuzz-python in the directory of
 * the running binary (/proc/self/exe, or argv0 without /proc): an OSS-Fuzz
 * build is run wherever its $OUT was unpacked.  Once per process, before
 * the interpreter starts.
 */
static const char *
harness_home(const char *argv0, char *buf, size_t size)
{
    if (harness_has_stdlib(FTFUZZ_PY_HOME))
        return FTFUZZ_PY_HOME;
    ssize_t n = readlink("/proc/self/exe", buf, size - 1);
    if (n > 0) {
        buf[n] = '\0';
    } else if (argv0 && strchr(argv0, '/') && strlen(argv0) < size) {
        strcpy(buf, argv0);
    } else {
        buf[0] = '\0';
    }
    char *slash = strrchr(buf, '/');
    if (slash && (size_t)(slash - buf) + sizeof "/" HARNESS_RELATIVE_HOME
                     <= size) {
        strcpy(slash + 1, HARNESS_RELATIVE_HOME);
        if (harness_has_stdlib(buf))
            return buf;
    } else {
        snprintf(buf, size, "<the binary's directory>/" HARNESS_RELATIVE_HOME);
    }
    fprintf(stderr,
            "ftfuzz harness: cannot find the Python stdlib: neither %s (the "
            "build's) nor %s (next to the binary) has %s; rebuild, or put "
            "the stdlib next to the binary as scripts/oss-fuzz/build.sh "
            "does\n",
            FTFUZZ_PY_HOME, buf, &HARNESS_STDLIB_LANDMARK[1]);
    exit(1);
}

/* The spec of the family's extension types, if it has any. */
static void
harness_load_spec(int family)
{
    if (family == HARNESS_EXT || family == HARNESS_MIXED) {
        spec_load_stdlib();
    } else if (family == HARNESS_SPEC) {
        const char *path = ftfuzz_env_str("FTFUZZ_SPEC");
        if (path == NULL || !*path) {
            fprintf(stderr, "ftfuzz: fuzz_spec fuzzes the types of a spec: "
                            "set FTFUZZ_SPEC=FILE.toml (or run 'ftfuzz "
                            "fuzz --spec FILE.toml'); "
                            "docs/extension-spec.md describes the format\n");
            exit(2);
        }
        spec_load_file(path);
    }
}

/*
 * FTFUZZ_TEST_SHIFT_START=N (tests only): N more objects kept alive and
 * one more thread started and joined before the fork, which moves the
 * memory layout and the steps of every execution the way a change to the
 * harness's start-up does.  Anchored schedules must not notice
 * (tests/test_anchors.py).
 */
static void
harness_test_shift_start(PyObject *warm)
{
    long n = (long)ftfuzz_env_u64("FTFUZZ_TEST_SHIFT_START");
    if (n <= 0)
        return;
    static PyObject *kept;
    kept = PyList_New(0);
    for (long i = 0; kept && i < n; i++) {
        PyObject *x = PyLong_FromLong(1000000 + i);
        if (x == NULL || PyList_Append(kept, x) < 0)
            harness_die("FTFUZZ_TEST_SHIFT_START: out of memory");
        Py_DECREF(x);
    }
    PyObject *again = PyObject_CallNoArgs(warm);
    if (again == NULL)
        harness_die("FTFUZZ_TEST_SHIFT_START: cannot start the thread");
    Py_DECREF(again);
}

void
harness_init(const char *argv0, int family)
{
    char home_buf[PATH_MAX];
    const char *home = harness_home(argv0, home_buf, sizeof home_buf);
    report_init();
    PyConfig config;
    PyConfig_InitIsolatedConfig(&config);
    config.install_signal_handlers = 0;
    config.use_hash_seed = 1;
    config.hash_seed = 0;
    config.write_bytecode = 0;
    PyStatus st = PyConfig_SetBytesString(&config, &config.home, home);
    /*
     * The interpreter starts from one fixed environment, whoever runs the
     * target.  CPython copies the environment into os.environ (and derives
     * sys.executable from PATH): a variable more or less moves every later
     * allocation, which changes lookups keyed by address (the type cache)
     * and with them the steps of each execution, so a trace recorded under
     * pytest would not replay in a shell.  The process keeps its own
     * environment: only the interpreter's start sees this one.
     */
    static char *fixed_environment[] = {
        "PATH=/usr/local/bin:/usr/bin:/bin", "LC_ALL=C.UTF-8", NULL,
    };
    extern char **environ;
    char **process_environment = environ;
    environ = fixed_environment;
    /*
     * Likewise the standard streams: CPython builds sys.stdin, stdout and
     * stderr differently for a terminal, a pipe and a file (line buffering,
     * a seekable raw stream that it asks for its position), and that too
     * moves later allocations: an input found under `ftfuzz fuzz` (a pipe)
     * did not replay into a log file.  The interpreter starts with all
     * three on /dev/null; the descriptors are then put back, so what it
     * writes still goes where the caller wanted.
     */
    int saved_fds[3];
    int devnull = open("/dev/null", O_RDWR | O_CLOEXEC);
    for (int fd = 0; fd < 3; fd++) {
        saved_fds[fd] = fcntl(fd, F_DUPFD_CLOEXEC, 10);
        if (devnull >= 0)
            dup2(devnull, fd);
    }
    if (!PyStatus_Exception(st))
        st = Py_InitializeFromConfig(&config);
    for (int fd = 0; fd < 3; fd++) {
        if (saved_fds[fd] >= 0) {
            dup2(saved_fds[fd], fd);
            close(saved_fds[fd]);
        }
    }
    if (devnull >= 0)
        close(devnull);
    environ = process_environment;
    PyConfig_Clear(&config);
    if (PyStatus_Exception(st)) {
        fprintf(stderr, "ftfuzz harness: cannot start CPython (home %s): "
                        "%s\n", home,
                st.err_msg ? st.err_msg : "unknown error");
        exit(1);
    }
    PyObject *code = Py_CompileString(runner_code, "<ftfuzz-runner>",
                                      Py_file_input);
    PyObject *mod = code ? PyImport_ExecCodeModule("_ftfuzz_runner", code)
                         : NULL;
    Py_XDECREF(code);
    run_threads = mod ? PyObject_GetAttrString(mod, "run") : NULL;
    PyObject *warm = mod ? PyObject_GetAttrString(mod, "warm_up") : NULL;
    Py_XDECREF(mod);
    PyObject *gc = PyImport_ImportModule("gc");
    gc_collect = gc ? PyObject_GetAttrString(gc, "collect") : NULL;
    Py_XDECREF(gc);
    /* collections.deque is imported once here, not inside a session. */
    PyObject *coll = PyImport_ImportModule("collections");
    Py_XDECREF(coll);
    if (!run_threads || !gc_collect || !coll)
        harness_die("cannot set up the runner");
    harness_load_spec(family);
    /* only a scenario's start-up makes these: the other targets' start
     * stays as their stored inputs knew it */
    if (family == HARNESS_SPEC && spec_is_scenario()) {
        PyObject *thread_mod = PyImport_ImportModule("_thread");
        start_joinable = thread_mod ? PyObject_GetAttrString(
                                          thread_mod, "start_joinable_thread")
                                    : NULL;
        Py_XDECREF(thread_mod);
        join_name = PyUnicode_InternFromString("join");
        if (!start_joinable || !join_name)
            harness_die("cannot set up the scenario's runner");
    }
    /*
     * One thread, started and joined here, outside any session: the first
     * thread a free-threaded interpreter creates makes it immortalize every
     * object with deferred reference counts (a walk of the whole heap,
     * about a sixth of an execution when each forked child did it), and
     * warms what starting a thread builds lazily.  Programs then run as in
     * any process that has had threads.
     */
    PyObject *warmed = warm ? PyObject_CallNoArgs(warm) : NULL;
    if (warmed == NULL)
        harness_die("cannot start the warm-up thread");
    Py_DECREF(warmed);
    harness_test_shift_start(warm);
    Py_XDECREF(warm);
    /* Forked executions all start from this state: make it a clean one. */
    harness_collect();
    /*
     * Then freeze it: the collection after each execution checks only the
     * objects created since (the program's objects and everything the
     * operations made), not the interpreter's tens of thousands of start-up
     * objects.  It was half of an execution's time, most of it copying
     * every heap page the collector wrote to in the forked child.
     */
    PyObject *gc_mod = PyImport_ImportModule("gc");
    PyObject *frozen = gc_mod ? PyObject_CallMethod(gc_mod, "freeze", NULL)
                              : NULL;
    Py_XDECREF(gc_mod);
    if (frozen == NULL)
        harness_die("gc.freeze() failed");
    Py_DECREF(frozen);
}

/*
 * pct@mark's and pctlog@mark's start barrier (and that of their anchored
 * rewrite, prog_start_barrier).  The runner starts the
 * threads one after the other, and under PCT the first one started often runs its whole body
 * before the next one exists: no change point could interleave them.  So
 * for that strategy every body first waits until all have started (a
 * pthread mutex and condition, which the scheduler models).  The other
 * strategies keep the start as it was, which stored inputs rely on.
 */
static pthread_mutex_t barrier_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t barrier_all_in = PTHREAD_COND_INITIALIZER;
static uint32_t barrier_expected, barrier_arrived;

static void
harness_start_barrier(void)
{
    if (barrier_expected == 0)
        return;
    Py_BEGIN_ALLOW_THREADS
    pthread_mutex_lock(&barrier_lock);
    if (++barrier_arrived == barrier_expected)
        pthread_cond_broadcast(&barrier_all_in);
    while (barrier_arrived < barrier_expected)
        pthread_cond_wait(&barrier_all_in, &barrier_lock);
    pthread_mutex_unlock(&barrier_lock);
    Py_END_ALLOW_THREADS
}

/* One thread body: its operations in order. */
static PyObject *
thread_body(PyObject *self, PyObject *unused)
{
    (void)unused;
    long idx = PyLong_AsLong(self);
    const prog_thread *t = &current->threads[idx];
    report_thread_start((unsigned)idx);
    harness_start_barrier();
    /* the set-up of threads is over: PROG_SCHED_BYTES_OPS counts from
     * here (only the first thread's call counts) */
    if (t->nops)
        ftfuzz_sched_mark();
    for (uint32_t i = 0; i < t->nops; i++) {
        /* anchors count this operation's points from here */
        ftfuzz_sched_region(i + 1);
        report_op_begin((unsigned)idx, i);
        int k = kinds[t->ops[i].target % current->nobjects];
        const struct harness_kind *hk = harness_kind(k);
        PyObject *r = hk->exec(&t->ops[i], objects, k, sources,
                               current->nobjects);
        if (r == NULL && hk->raised)
            hk->raised(&t->ops[i], k, current->nobjects);
        report_op_end(r == NULL);
        /* The exception, if any, is the op's result. */
        if (lin_recording()) {
            lin_keep((unsigned)idx, i, r);
            continue;
        }
        if (r == NULL)
            PyErr_Clear();
        Py_XDECREF(r);
    }
    Py_RETURN_NONE;
}

static PyMethodDef thread_body_def = {
    "ftfuzz_thread_body", thread_body, METH_NOARGS, NULL,
};

/* Most anchors of an FTFUZZ_ANCHORS_FILE list. */
#define HARNESS_MAX_ANCHORS 4096

static ftfuzz_strategy *
harness_strategy(const prog_schedule *s)
{
    switch (s->strategy) {
    case PROG_SCHED_PCT:
        return ftfuzz_strategy_pct(s->depth, 0, s->seed);
    case PROG_SCHED_RANDOM:
        return ftfuzz_strategy_random(
            (s->p_ppm ? s->p_ppm : PROG_RANDOM_DEFAULT_PPM) / (double)PROG_PPM,
            s->seed);
    case PROG_SCHED_PCT_OPS:
        return ftfuzz_strategy_pct_from_mark(
            s->depth, s->k ? s->k : PROG_PCT_DEFAULT_K, s->seed);
    case PROG_SCHED_PCT_LOG_OPS:
        return ftfuzz_strategy_pct_log_from_mark(
            s->depth, s->k ? s->k : PROG_PCT_DEFAULT_K, s->seed);
    case PROG_SCHED_BYTES_OPS:
        return ftfuzz_strategy_bytes_from_mark(s->bytes, s->nbytes);
    case PROG_SCHED_ANCHORS:
    case PROG_SCHED_ANCHORS_BARRIER: {
        /* FTFUZZ_ANCHORS_FILE: longer lists than an input holds, which
         * `ftfuzz anchor` shrinks until they fit */
        static uint8_t file_bytes[HARNESS_MAX_ANCHORS * PROG_ANCHOR_MAX_BYTES];
        const uint8_t *bytes = s->bytes;
        size_t nbytes = s->nbytes;
        const char *path = ftfuzz_env_str("FTFUZZ_ANCHORS_FILE");
        FILE *f = path && *path ? fopen(path, "rb") : NULL;
        if (f) {
            nbytes = fread(file_bytes, 1, sizeof file_bytes, f);
            bytes = file_bytes;
            fclose(f);
        }
        static prog_anchor pa[HARNESS_MAX_ANCHORS];
        static ftfuzz_anchor fa[HARNESS_MAX_ANCHORS];
        size_t n = prog_anchors_decode(bytes, nbytes, pa,
                                       HARNESS_MAX_ANCHORS);
        for (size_t i = 0; i < n; i++)
            fa[i] = (ftfuzz_anchor){pa[i].thread, pa[i].region, pa[i].point,
                                    pa[i].to, pa[i].blocked};
        return ftfuzz_strategy_anchors(fa, n);
    }
    }
    return ftfuzz_strategy_bytes(s->bytes, s->nbytes);
}

static void
harness_collect(void)
{
    PyObject *r = PyObject_CallNoArgs(gc_collect);
    if (r == NULL)
        harness_die("gc.collect() failed");
    Py_DECREF(r);
}

/*
 * A scenario's threads are started and joined from C: the main thread
 * then runs no Python inside the session, so a profiler or tracer that the
 * scenario installs on every thread (threading.setprofile_all_threads)
 * runs only in the scenario's own threads, and a failure is never the
 * harness's.  The other targets keep the Python runner: dropping its
 * frames moves the steps of every execution, which the stored inputs of
 * corpus/regressions rely on.  0, or -1 with the exception set.
 */
static int
harness_start_and_join(PyObject *bodies)
{
    Py_ssize_t n = PyList_GET_SIZE(bodies);
    PyObject *handles = PyList_New(n);
    if (handles == NULL)
        return -1;
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *h = PyObject_CallOneArg(start_joinable,
                                          PyList_GET_ITEM(bodies, i));
        if (h == NULL) {
            Py_DECREF(handles);
            return -1;
        }
        PyList_SET_ITEM(handles, i, h);
    }
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *r = PyObject_CallMethodNoArgs(PyList_GET_ITEM(handles, i),
                                                join_name);
        if (r == NULL) {
            Py_DECREF(handles);
            return -1;
        }
        Py_DECREF(r);
    }
    Py_DECREF(handles);
    return 0;
}

static ftfuzz_sched_result
harness_execute(const prog_program *p, int family, ftfuzz_strategy *strategy,
                int reset, int check)
{
    ftfuzz_sched_result res = {0};
    PyObject *r;
    if (reset) {
        PyType_ClearCache();
        harness_collect();
    }

    current = p;
    barrier_arrived = 0;
    /* not in the warm-up run, which has no schedule (`bytes`) */
    barrier_expected = prog_start_barrier(p->schedule.strategy)
                           && strategy != NULL
                           && strcmp(strategy->name, "bytes") != 0
                       ? p->nthreads : 0;
    harness_make_objects(p, family, objects, kinds, sources);
    if (check)
        lin_begin(p, kinds);
    PyObject *bodies = PyList_New(0);
    for (uint32_t t = 0; bodies && t < p->nthreads; t++) {
        PyObject *idx = PyLong_FromUnsignedLong(t);
        PyObject *fn = PyCFunction_New(&thread_body_def, idx);
        Py_DECREF(idx);
        if (fn == NULL || PyList_Append(bodies, fn) < 0)
            harness_die("cannot create a thread body");
        Py_DECREF(fn);
    }
    if (bodies == NULL)
        harness_die("out of memory");

    ftfuzz_sched_config cfg = {.strategy = strategy,
                               .reads_from = harness_reads_from,
                               .on_finding = harness_on_finding};
    if (check) {
        reported = p;
        cfg.trace_out = report_trace_path();
        cfg.trace_callers = cfg.trace_out != NULL;
    }
    if (ftfuzz_sched_begin(&cfg) != 0)
        harness_die("cannot open a scheduler session");
    if (start_joinable) {
        if (harness_start_and_join(bodies) < 0)
            harness_die("starting or joining the program's threads failed");
    } else {
        r = PyObject_CallOneArg(run_threads, bodies);
        if (r == NULL)
            harness_die("starting or joining the program's threads failed");
        Py_DECREF(r);
    }
    PyThreadState *ts = PyEval_SaveThread();
    res = ftfuzz_sched_end();
    PyEval_RestoreThread(ts);
    if (check) {
        if (lin_check(p, family, objects, kinds)) {
            harness_verdict = FTFUZZ_VERDICT_LINEARIZABILITY;
            abort();
        }
        spec_check(objects, kinds, p->nobjects);
    }

    Py_DECREF(bodies);
    for (uint32_t i = 0; i < p->nobjects; i++)
        Py_CLEAR(objects[i]);
    current = NULL;
    return res;
}

/*
 * Runs p; with `warm_up`, first once more with no preemption at all, to
 * warm up whatever the operations touch for the first time in this process
 * (interned names, lazily built type slots).  The fuzz targets run each
 * input in a child forked from the same initialised parent, where no
 * warm-up is needed: every execution starts from the identical state.
 */
ftfuzz_sched_result
harness_run(const prog_program *p, int family, int warm_up)
{
    ftfuzz_sched_result res = {0};
    if (p->nthreads == 0)
        return res;   /* nothing runs: no session, and a zero trace */
    if (warm_up) {
        ftfuzz_strategy *quiet = ftfuzz_strategy_bytes(NULL, 0);
        harness_execute(p, family, quiet, 1, 0);
        quiet->destroy(quiet);
    }
    ftfuzz_strategy *strategy = harness_strategy(&p->schedule);
    report_watch_start();
    res = harness_execute(p, family, strategy, warm_up, 1);
    strategy->destroy(strategy);
    /* The collector visits every object: a reference count the execution
     * broke fails its debug assertion here, in this input's execution. */
    harness_collect();
    report_write(reported, kinds, sources, 0, NULL, 0);
    reported = NULL;
    return res;
}

void
harness_report_crash(int sig, void *const *frames, int nframes)
{
    report_write(reported, kinds, sources, sig, frames, nframes);
}
