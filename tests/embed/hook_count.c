/*
 * Does the fuzz variant reach the atomic-point hook from Python code?
 *
 * A built-in module, _hookprobe, switches ftfuzz_hook_active on (start) and
 * off (stop, which returns the points counted in between).  The Python side
 * counts the points of a loop of N list.append calls and of a loop of N
 * no-ops; the difference, the appends' own points, must be at least N.  With
 * the hook off, the same loop must count nothing.  Prints the figures and
 * "hook_count: ok" last; exit 0 only when all holds.
 */
#include "embed_common.h"

static PyObject *
probe_start(PyObject *module, PyObject *unused)
{
    (void)module;
    (void)unused;
    __atomic_store_n(&embed_points, 0, __ATOMIC_RELAXED);
    __atomic_store_n(&ftfuzz_hook_active, 1, __ATOMIC_SEQ_CST);
    Py_RETURN_NONE;
}

static PyObject *
probe_stop(PyObject *module, PyObject *unused)
{
    (void)module;
    (void)unused;
    __atomic_store_n(&ftfuzz_hook_active, 0, __ATOMIC_SEQ_CST);
    return PyLong_FromUnsignedLongLong(
        __atomic_load_n(&embed_points, __ATOMIC_RELAXED));
}

/* Points counted so far by kind, as a tuple indexed by kind (0 = invalid). */
static PyObject *
probe_kinds(PyObject *module, PyObject *unused)
{
    PyObject *tuple;

    (void)module;
    (void)unused;
    tuple = PyTuple_New(EMBED_KINDS);
    if (tuple == NULL) {
        return NULL;
    }
    for (int i = 0; i < EMBED_KINDS; i++) {
        PyObject *n = PyLong_FromUnsignedLongLong(
            __atomic_load_n(&embed_points_by_kind[i], __ATOMIC_RELAXED));
        if (n == NULL) {
            Py_DECREF(tuple);
            return NULL;
        }
        PyTuple_SET_ITEM(tuple, i, n);
    }
    return tuple;
}

static PyMethodDef probe_methods[] = {
    {"start", probe_start, METH_NOARGS, "zero the count, hook on"},
    {"stop", probe_stop, METH_NOARGS, "hook off, return the count"},
    {"kinds", probe_kinds, METH_NOARGS, "points by kind since start-up"},
    {NULL, NULL, 0, NULL},
};

/* Declares that it needs no GIL: importing it must not re-enable the GIL. */
static PyModuleDef_Slot probe_slots[] = {
    {Py_mod_gil, Py_MOD_GIL_NOT_USED},
    {0, NULL},
};

static struct PyModuleDef probe_module = {
    PyModuleDef_HEAD_INIT,
    .m_name = "_hookprobe",
    .m_size = 0,
    .m_methods = probe_methods,
    .m_slots = probe_slots,
};

static PyObject *
probe_init(void)
{
    return PyModuleDef_Init(&probe_module);
}

static const char hook_code[] =
    "import sys, _hookprobe\n"
    "assert not sys._is_gil_enabled(), 'the GIL is enabled'\n"
    "N = 10000\n"
    "def appends(n):\n"
    "    lst = []\n"
    "    for _ in range(n):\n"
    "        lst.append(None)\n"
    "    assert len(lst) == n\n"
    "def noops(n):\n"
    "    for _ in range(n):\n"
    "        pass\n"
    "def measure(fn):\n"
    "    _hookprobe.start()\n"
    "    fn(N)\n"
    "    return _hookprobe.stop()\n"
    "appends(N); noops(N)\n"  /* warm up */
    "with_appends = min(measure(appends) for _ in range(3))\n"
    "loop_only = min(measure(noops) for _ in range(3))\n"
    "diff = with_appends - loop_only\n"
    "print(f'hook_count: {N} appends: {with_appends} points, '\n"
    "      f'{N} no-ops: {loop_only} points, '\n"
    "      f'{diff / N:.1f} points per append')\n"
    "assert loop_only > 0, 'the loop itself reached no atomic point'\n"
    "assert diff >= N, f'only {diff} points for {N} appends'\n"
    "before = sum(_hookprobe.kinds())\n"
    "appends(N)\n"
    "after = sum(_hookprobe.kinds())\n"
    "assert after == before, f'{after - before} points with the hook off'\n"
    "kinds = _hookprobe.kinds()\n"
    "print('hook_count: points by kind (invalid, load, store, exchange, '\n"
    "      'cas, rmw, fence):', kinds)\n"
    "assert kinds[0] == 0, 'a point with an invalid kind'\n"
    "assert kinds[1] > 0 and kinds[4] + kinds[5] > 0, kinds\n";

int
main(void)
{
    if (PyImport_AppendInittab("_hookprobe", probe_init) < 0) {
        fprintf(stderr, "hook_count: PyImport_AppendInittab failed\n");
        return 2;
    }
    embed_initialize();
    embed_run(hook_code);
    embed_finalize();
    printf("hook_count: ok\n");
    return 0;
}
