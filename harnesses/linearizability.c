/*
 * The linearizability oracle (the idea of Lincheck).  After a concurrent
 * execution, every operation's result and the final state of every shared
 * object must equal those of some sequential execution of the same
 * operations that keeps each thread's program order.  The check runs in
 * the forked child after the scheduler session, on fresh objects built the
 * same way, so it costs the campaign nothing when it passes.
 *
 * It applies only to programs small enough to enumerate (at most
 * LIN_MAX_OPS operations and LIN_MAX_ORDERS orders) whose every operation
 * free-threaded CPython documents as atomic (the kinds' is_atomic, table in
 * docs/atomic-operations.md).  Results are compared as repr() text, or as
 * the exception type's name.
 */
#include "harness.h"

#define LIN_MAX_OPS 10
#define LIN_MAX_ORDERS 5000
#define LIN_TEXT 96

/* What each op returned in the concurrent execution: kept as objects
 * during the session (turning them into text there would add scheduling
 * points), as text afterwards. */
static int lin_active;
static PyObject *kept[PROG_MAX_THREADS][PROG_MAX_OPS];
static char observed[PROG_MAX_THREADS][PROG_MAX_OPS][LIN_TEXT];
static char observed_state[PROG_MAX_OBJECTS][LIN_TEXT * 2];

/* One sequential order being tried, and the best one so far. */
static char seq_result[PROG_MAX_THREADS][PROG_MAX_OPS][LIN_TEXT];
static char seq_state[PROG_MAX_OBJECTS][LIN_TEXT * 2];
static unsigned order[LIN_MAX_OPS], best_order[LIN_MAX_OPS];
static int best_matches = -1;
static char best_text[4096];

static void
lin_text(PyObject *r, char *out, size_t size)
{
    if (r == NULL) {
        PyObject *exc = PyErr_GetRaisedException();
        snprintf(out, size, "!%s",
                 exc ? Py_TYPE(exc)->tp_name : "no exception");
        Py_XDECREF(exc);
        return;
    }
    harness_repr(r, out, size);
}

/* An object's final state as text, as its kind sees it. */
static void
lin_state_text(PyObject *obj, int kind, char *out)
{
    harness_kind(kind)->state(obj, kind, out, LIN_TEXT * 2);
}

/* op's kind, the kind of its target. */
static int
lin_op_kind(const prog_op *op, const int *kinds, uint32_t nobjs)
{
    return kinds[op->target % nobjs];
}

void
lin_keep(unsigned thread, unsigned op, PyObject *result)
{
    kept[thread][op] = result ? result : PyErr_GetRaisedException();
}

/* Turns what lin_keep kept into text, and lets go of it. */
static void
lin_observed_text(const prog_program *p)
{
    for (uint32_t t = 0; t < p->nthreads; t++)
        for (uint32_t i = 0; i < p->threads[t].nops; i++) {
            PyObject *r = kept[t][i];
            if (r && PyExceptionInstance_Check(r))
                snprintf(observed[t][i], LIN_TEXT, "!%s",
                         Py_TYPE(r)->tp_name);
            else
                lin_text(r ? r : Py_None, observed[t][i], LIN_TEXT);
            Py_CLEAR(kept[t][i]);
        }
}

/* Number of distinct orders of the threads' ops; LIN_MAX_ORDERS + 1 when
 * there are more. */
static uint64_t
lin_count_orders(const prog_program *p)
{
    uint64_t n = 1, total = 0;
    for (uint32_t t = 0; t < p->nthreads; t++) {
        for (uint32_t k = 1; k <= p->threads[t].nops; k++) {
            total++;
            n = n * total / k;   /* multinomial, exact at each step */
            if (n > LIN_MAX_ORDERS)
                return LIN_MAX_ORDERS + 1;
        }
    }
    return n;
}

int
lin_applies(const prog_program *p, const int *kinds)
{
    uint32_t total = 0;
    for (uint32_t t = 0; t < p->nthreads; t++) {
        for (uint32_t i = 0; i < p->threads[t].nops; i++) {
            const prog_op *op = &p->threads[t].ops[i];
            int k = lin_op_kind(op, kinds, p->nobjects);
            if (!harness_kind(k)->is_atomic(op, k))
                return 0;
        }
        total += p->threads[t].nops;
    }
    return total > 0 && total <= LIN_MAX_OPS
           && lin_count_orders(p) <= LIN_MAX_ORDERS;
}

/* Runs the ops in `order` on fresh objects; returns how many results and
 * states match the observed ones (all of them: linearizable). */
static int
lin_run_order(const prog_program *p, int family, unsigned nops, int *all)
{
    PyObject *objs[PROG_MAX_OBJECTS];
    int kinds[PROG_MAX_OBJECTS], sources[PROG_MAX_OBJECTS];
    harness_make_objects(p, family, objs, kinds, sources);
    unsigned next[PROG_MAX_THREADS] = {0};
    int matches = 0;
    for (unsigned k = 0; k < nops; k++) {
        unsigned t = order[k], i = next[t]++;
        const prog_op *op = &p->threads[t].ops[i];
        int kind = lin_op_kind(op, kinds, p->nobjects);
        PyObject *r = harness_kind(kind)->exec(op, objs, kind, sources,
                                               p->nobjects);
        lin_text(r, seq_result[t][i], LIN_TEXT);
        Py_XDECREF(r);
        matches += strcmp(seq_result[t][i], observed[t][i]) == 0;
    }
    for (uint32_t o = 0; o < p->nobjects; o++) {
        lin_state_text(objs[o], kinds[o], seq_state[o]);
        matches += strcmp(seq_state[o], observed_state[o]) == 0;
        Py_DECREF(objs[o]);
    }
    *all = matches == (int)(nops + p->nobjects);
    return matches;
}

static void
lin_remember_best(const prog_program *p, unsigned nops, int matches)
{
    if (matches <= best_matches)
        return;
    best_matches = matches;
    memcpy(best_order, order, sizeof order);
    size_t len = 0;
    unsigned next[PROG_MAX_THREADS] = {0};
    for (unsigned k = 0; k < nops && len < sizeof best_text; k++) {
        unsigned t = order[k], i = next[t]++;
        len += (size_t)snprintf(best_text + len, sizeof best_text - len,
                                "    T%u op %u -> %s%s\n", t, i,
                                seq_result[t][i],
                                strcmp(seq_result[t][i], observed[t][i])
                                    ? "   (differs)" : "");
    }
    for (uint32_t o = 0; o < p->nobjects && len < sizeof best_text; o++)
        len += (size_t)snprintf(best_text + len, sizeof best_text - len,
                                "    o%u = %s\n", o, seq_state[o]);
}

/* Depth-first over the merges of the threads' op lists. */
static int
lin_search(const prog_program *p, int family, unsigned depth, unsigned nops,
           unsigned *used)
{
    if (depth == nops) {
        int all;
        int matches = lin_run_order(p, family, nops, &all);
        lin_remember_best(p, nops, matches);
        return all;
    }
    for (uint32_t t = 0; t < p->nthreads; t++) {
        if (used[t] == p->threads[t].nops)
            continue;
        order[depth] = t;
        used[t]++;
        int found = lin_search(p, family, depth + 1, nops, used);
        used[t]--;
        if (found)
            return 1;
    }
    return 0;
}

void
lin_begin(const prog_program *p, const int *kinds)
{
    lin_active = lin_applies(p, kinds);
}

int
lin_recording(void)
{
    return lin_active;
}

int
lin_check(const prog_program *p, int family, PyObject *const *objs,
          const int *kinds)
{
    if (!lin_active)
        return 0;
    lin_active = 0;
    lin_observed_text(p);
    for (uint32_t o = 0; o < p->nobjects; o++)
        lin_state_text(objs[o], kinds[o], observed_state[o]);
    unsigned nops = prog_count_ops(p), used[PROG_MAX_THREADS] = {0};
    best_matches = -1;
    if (lin_search(p, family, 0, nops, used))
        return 0;

    char text[LIN_TEXT + 64];
    fprintf(stderr, "==ftfuzz== FINDING: linearizability violation\n"
                    "no sequential order of the threads' operations gives "
                    "what the concurrent execution gave.\n  observed:\n");
    for (uint32_t t = 0; t < p->nthreads; t++)
        for (uint32_t i = 0; i < p->threads[t].nops; i++) {
            const prog_op *op = &p->threads[t].ops[i];
            int k = lin_op_kind(op, kinds, p->nobjects);
            harness_kind(k)->describe(op, k, p->nobjects, text, sizeof text);
            fprintf(stderr, "    T%u op %u: %s -> %s\n", t, i, text,
                    observed[t][i]);
        }
    for (uint32_t o = 0; o < p->nobjects; o++)
        fprintf(stderr, "    o%u = %s\n", o, observed_state[o]);
    fprintf(stderr, "  closest sequential order (%d of %u results and "
                    "states agree):\n%s",
            best_matches, nops + p->nobjects, best_text);
    return 1;
}
