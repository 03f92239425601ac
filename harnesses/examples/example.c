/*
 * example: a C extension module with two races, as extension authors write
 * them, for ftfuzz's tests and docs/extension-spec.md.  Built twice
 * (harnesses/examples/examples.mk): as is, and with -DEXAMPLE_FIXED, the
 * fixed twin, where each method runs in a critical section on its object.
 *
 *   Counter(start).increment(step) adds step and returns the new value.
 *     Race: the old value is read before the step is converted, and that
 *     conversion (an incref of the step object) is a point where another
 *     thread runs: two increments can both return start + step, a lost
 *     update, which ftfuzz's linearizability check reports.
 *
 *   Buffer(iterable).append(x) / .get(i) / len(): a growable array of
 *     references.  Race: get() takes the storage pointer before converting
 *     its index; an append() in between reallocates the storage, and get()
 *     reads the freed block, which the debug allocator has filled with 0xDD
 *     bytes: Py_NewRef() on that address crashes.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#ifdef EXAMPLE_FIXED
#define EXAMPLE_LOCK(o) Py_BEGIN_CRITICAL_SECTION(o)
#define EXAMPLE_UNLOCK() Py_END_CRITICAL_SECTION()
#else
#define EXAMPLE_LOCK(o) {
#define EXAMPLE_UNLOCK() }
#endif

/* --- Counter --------------------------------------------------------------- */

typedef struct {
    PyObject_HEAD
    Py_ssize_t value;
} CounterObject;

static int
Counter_init(CounterObject *self, PyObject *args, PyObject *kwds)
{
    Py_ssize_t start = 0;
    static char *kwlist[] = {"start", NULL};
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "|n", kwlist, &start))
        return -1;
    self->value = start;
    return 0;
}

static PyObject *
Counter_increment(CounterObject *self, PyObject *step_obj)
{
    PyObject *result = NULL;
    EXAMPLE_LOCK(self);
    Py_ssize_t value = self->value;
    Py_ssize_t step = PyNumber_AsSsize_t(step_obj, PyExc_OverflowError);
    if (!(step == -1 && PyErr_Occurred())) {
        self->value = value + step;
        result = PyLong_FromSsize_t(self->value);
    }
    EXAMPLE_UNLOCK();
    return result;
}

static PyObject *
Counter_get_value(CounterObject *self, void *closure)
{
    (void)closure;
    PyObject *result;
    EXAMPLE_LOCK(self);
    result = PyLong_FromSsize_t(self->value);
    EXAMPLE_UNLOCK();
    return result;
}

static PyMethodDef Counter_methods[] = {
    {"increment", (PyCFunction)Counter_increment, METH_O,
     "increment(step): add step; return the new value"},
    {NULL, NULL, 0, NULL},
};

static PyGetSetDef Counter_getset[] = {
    {"value", (getter)Counter_get_value, NULL, "the current value", NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

static PyTypeObject CounterType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "example.Counter",
    .tp_basicsize = sizeof(CounterObject),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "Counter(start=0): a counter",
    .tp_new = PyType_GenericNew,
    .tp_init = (initproc)Counter_init,
    .tp_methods = Counter_methods,
    .tp_getset = Counter_getset,
};

/* --- Buffer ---------------------------------------------------------------- */

typedef struct {
    PyObject_HEAD
    PyObject **items;
    Py_ssize_t len, cap;
} BufferObject;

/* Makes room for one more item; -1 with MemoryError. */
static int
Buffer_grow(BufferObject *self)
{
    if (self->len < self->cap)
        return 0;
    Py_ssize_t cap = self->cap ? self->cap * 2 : 4;
    PyObject **items = PyMem_Realloc(self->items, (size_t)cap * sizeof *items);
    if (items == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    self->items = items;
    self->cap = cap;
    return 0;
}

static int
Buffer_init(BufferObject *self, PyObject *args, PyObject *kwds)
{
    PyObject *iterable = NULL;
    static char *kwlist[] = {"iterable", NULL};
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "|O", kwlist, &iterable))
        return -1;
    if (iterable == NULL)
        return 0;
    PyObject *seq = PySequence_Fast(iterable, "Buffer() needs an iterable");
    if (seq == NULL)
        return -1;
    Py_ssize_t n = PySequence_Fast_GET_SIZE(seq);
    /* exactly the room needed: the first append reallocates */
    self->items = PyMem_Malloc((size_t)(n ? n : 1) * sizeof(PyObject *));
    if (self->items == NULL) {
        Py_DECREF(seq);
        PyErr_NoMemory();
        return -1;
    }
    self->cap = n ? n : 1;
    for (Py_ssize_t i = 0; i < n; i++)
        self->items[i] = Py_NewRef(PySequence_Fast_GET_ITEM(seq, i));
    self->len = n;
    Py_DECREF(seq);
    return 0;
}

static void
Buffer_dealloc(BufferObject *self)
{
    for (Py_ssize_t i = 0; i < self->len; i++)
        Py_DECREF(self->items[i]);
    PyMem_Free(self->items);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static PyObject *
Buffer_append(BufferObject *self, PyObject *item)
{
    PyObject *result = NULL;
    EXAMPLE_LOCK(self);
    if (Buffer_grow(self) == 0) {
        self->items[self->len++] = Py_NewRef(item);
        result = Py_NewRef(Py_None);
    }
    EXAMPLE_UNLOCK();
    return result;
}

static PyObject *
Buffer_get(BufferObject *self, PyObject *index)
{
    PyObject *result = NULL;
    EXAMPLE_LOCK(self);
    PyObject **items = self->items;
    Py_ssize_t len = self->len;
    Py_ssize_t i = PyNumber_AsSsize_t(index, PyExc_IndexError);
    if (!(i == -1 && PyErr_Occurred())) {
        if (i < 0)
            i += len;
        if (i < 0 || i >= len)
            PyErr_SetString(PyExc_IndexError, "Buffer index out of range");
        else
            result = Py_NewRef(items[i]);
    }
    EXAMPLE_UNLOCK();
    return result;
}

static Py_ssize_t
Buffer_length(BufferObject *self)
{
    Py_ssize_t len;
    EXAMPLE_LOCK(self);
    len = self->len;
    EXAMPLE_UNLOCK();
    return len;
}

static PyObject *
Buffer_tolist(BufferObject *self, PyObject *unused)
{
    (void)unused;
    PyObject *list;
    EXAMPLE_LOCK(self);
    list = PyList_New(self->len);
    for (Py_ssize_t i = 0; list && i < self->len; i++)
        PyList_SET_ITEM(list, i, Py_NewRef(self->items[i]));
    EXAMPLE_UNLOCK();
    return list;
}

static PyMethodDef Buffer_methods[] = {
    {"append", (PyCFunction)Buffer_append, METH_O, "append(x)"},
    {"get", (PyCFunction)Buffer_get, METH_O, "get(i): the item at i"},
    {"tolist", (PyCFunction)Buffer_tolist, METH_NOARGS, "the items"},
    {NULL, NULL, 0, NULL},
};

static PySequenceMethods Buffer_as_sequence = {
    .sq_length = (lenfunc)Buffer_length,
};

static PyTypeObject BufferType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "example.Buffer",
    .tp_basicsize = sizeof(BufferObject),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "Buffer(iterable=()): a growable array of references",
    .tp_new = PyType_GenericNew,
    .tp_init = (initproc)Buffer_init,
    .tp_dealloc = (destructor)Buffer_dealloc,
    .tp_methods = Buffer_methods,
    .tp_as_sequence = &Buffer_as_sequence,
};

/* --- the module ------------------------------------------------------------- */

static int
example_exec(PyObject *m)
{
    if (PyType_Ready(&CounterType) < 0 || PyType_Ready(&BufferType) < 0)
        return -1;
    if (PyModule_AddObjectRef(m, "Counter", (PyObject *)&CounterType) < 0
        || PyModule_AddObjectRef(m, "Buffer", (PyObject *)&BufferType) < 0)
        return -1;
#ifdef EXAMPLE_FIXED
    return PyModule_AddIntConstant(m, "FIXED", 1);
#else
    return PyModule_AddIntConstant(m, "FIXED", 0);
#endif
}

static PyModuleDef_Slot example_slots[] = {
    {Py_mod_exec, example_exec},
    /* the module declares itself free-threading ready: no GIL re-enabled */
    {Py_mod_gil, Py_MOD_GIL_NOT_USED},
    {0, NULL},
};

static struct PyModuleDef example_module = {
    PyModuleDef_HEAD_INIT,
    .m_name = "example",
    .m_doc = "ftfuzz's example extension: a Counter and a Buffer",
    .m_slots = example_slots,
};

PyMODINIT_FUNC
PyInit_example(void)
{
    return PyModuleDef_Init(&example_module);
}
