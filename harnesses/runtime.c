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
 *      under the scheduler;
 *   4. closes the session with the main thread detached, so that a thread
 *      still finishing can stop the world;
 *   5. collects garbage again: the debug build's collector checks every
 *      object's reference count, a cheap oracle for broken ones.
 *
 * An exception raised by an operation is its result, not a failure.
 */
#include <string.h>

#include "harness.h"

#ifndef FTFUZZ_PY_HOME
#error "compile with -DFTFUZZ_PY_HOME='\"<install prefix>\"'"
#endif

static PyObject *run_threads;    /* _ftfuzz_runner.run(bodies) */
static PyObject *gc_collect;

/* The program being executed; one at a time per process. */
static const prog_program *current;
static PyObject *objects[PROG_MAX_OBJECTS];
static int kinds[PROG_MAX_OBJECTS];
static int sources[PROG_MAX_OBJECTS];

static const char runner_code[] =
    "import _thread\n"
    "def run(bodies):\n"
    "    handles = [_thread.start_joinable_thread(b) for b in bodies]\n"
    "    for h in handles:\n"
    "        h.join()\n";

static void
harness_die(const char *what)
{
    fprintf(stderr, "ftfuzz harness: %s\n", what);
    if (PyErr_Occurred())
        PyErr_Print();
    abort();
}

static void harness_collect(void);

void
harness_init(const char *argv0)
{
    (void)argv0;
    PyConfig config;
    PyConfig_InitIsolatedConfig(&config);
    config.install_signal_handlers = 0;
    config.use_hash_seed = 1;
    config.hash_seed = 0;
    config.write_bytecode = 0;
    PyStatus st = PyConfig_SetBytesString(&config, &config.home,
                                          FTFUZZ_PY_HOME);
    if (!PyStatus_Exception(st))
        st = Py_InitializeFromConfig(&config);
    PyConfig_Clear(&config);
    if (PyStatus_Exception(st)) {
        fprintf(stderr, "ftfuzz harness: cannot start CPython (home %s): "
                        "%s\n", FTFUZZ_PY_HOME,
                st.err_msg ? st.err_msg : "unknown error");
        exit(1);
    }
    PyObject *code = Py_CompileString(runner_code, "<ftfuzz-runner>",
                                      Py_file_input);
    PyObject *mod = code ? PyImport_ExecCodeModule("_ftfuzz_runner", code)
                         : NULL;
    Py_XDECREF(code);
    run_threads = mod ? PyObject_GetAttrString(mod, "run") : NULL;
    Py_XDECREF(mod);
    PyObject *gc = PyImport_ImportModule("gc");
    gc_collect = gc ? PyObject_GetAttrString(gc, "collect") : NULL;
    Py_XDECREF(gc);
    /* collections.deque is imported once here, not inside a session. */
    PyObject *coll = PyImport_ImportModule("collections");
    Py_XDECREF(coll);
    if (!run_threads || !gc_collect || !coll)
        harness_die("cannot set up the runner");
    /* Forked executions all start from this state: make it a clean one. */
    harness_collect();
}

static const int family_kinds[HARNESS_FAMILY_COUNT][PROG_KIND_COUNT + 1] = {
    [HARNESS_LIST] = {PROG_LIST, PROG_ITER_LIST, -1},
    [HARNESS_DICT] = {PROG_DICT, PROG_ITER_DICT, -1},
    [HARNESS_SET] = {PROG_SET, PROG_ITER_SET, -1},
    [HARNESS_BYTEARRAY] = {PROG_BYTEARRAY, -1},
    [HARNESS_DEQUE] = {PROG_DEQUE, -1},
    [HARNESS_ITER] = {PROG_LIST, PROG_DICT, PROG_SET, PROG_ITER_LIST,
                      PROG_ITER_DICT, PROG_ITER_SET, PROG_ITER_STR,
                      PROG_ITER_BYTES, PROG_ITER_RANGE,
                      PROG_ITER_GENERIC_ALIAS, -1},
    [HARNESS_MIXED] = {PROG_LIST, PROG_DICT, PROG_SET, PROG_BYTEARRAY,
                       PROG_DEQUE, PROG_ITER_LIST, PROG_ITER_DICT,
                       PROG_ITER_SET, PROG_ITER_STR, PROG_ITER_BYTES,
                       PROG_ITER_RANGE, PROG_ITER_GENERIC_ALIAS, -1},
};

int
harness_object_kind(int family, uint32_t kind)
{
    const int *allowed = family_kinds[family];
    unsigned n = 0;
    while (allowed[n] >= 0)
        n++;
    return allowed[kind % n];
}

/* One thread body: its operations in order. */
static PyObject *
thread_body(PyObject *self, PyObject *unused)
{
    (void)unused;
    long idx = PyLong_AsLong(self);
    const prog_thread *t = &current->threads[idx];
    for (uint32_t i = 0; i < t->nops; i++) {
        PyObject *r = ops_exec(&t->ops[i], objects, kinds, sources,
                               current->nobjects);
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

static ftfuzz_strategy *
harness_strategy(const prog_schedule *s)
{
    switch (s->strategy) {
    case PROG_SCHED_PCT:
        return ftfuzz_strategy_pct(s->depth, 0, s->seed);
    case PROG_SCHED_RANDOM:
        return ftfuzz_strategy_random(0.002, s->seed);
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

void
harness_make_objects(const prog_program *p, int family, PyObject **objs,
                     int *kinds_out, int *sources_out)
{
    for (uint32_t i = 0; i < p->nobjects; i++) {
        const prog_object *o = &p->objects[i];
        kinds_out[i] = harness_object_kind(family, o->kind);
        uint32_t src = o->source % p->nobjects;
        int over_source;
        objs[i] = ops_make_object(kinds_out[i], o->size,
                                  src < i ? objs[src] : NULL,
                                  src < i ? kinds_out[src] : -1,
                                  &over_source);
        sources_out[i] = over_source ? (int)src : -1;
        if (objs[i] == NULL)
            harness_die("cannot create a shared object");
    }
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

    ftfuzz_sched_config cfg = {.strategy = strategy};
    if (ftfuzz_sched_begin(&cfg) != 0)
        harness_die("cannot open a scheduler session");
    r = PyObject_CallOneArg(run_threads, bodies);
    if (r == NULL)
        harness_die("starting or joining the program's threads failed");
    Py_DECREF(r);
    PyThreadState *ts = PyEval_SaveThread();
    res = ftfuzz_sched_end();
    PyEval_RestoreThread(ts);
    if (check)
        lin_check(p, family, objects, kinds);

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
    res = harness_execute(p, family, strategy, warm_up, 1);
    strategy->destroy(strategy);
    /* The collector visits every object: a reference count the execution
     * broke fails its debug assertion here, in this input's execution. */
    harness_collect();
    return res;
}
