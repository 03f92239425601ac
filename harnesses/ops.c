/*
 * The operation vocabulary: one table row per operation, one shape per way
 * of calling it.  Every operation goes through the same C paths as Python
 * code (method calls through the vectorcall protocol, operators through the
 * abstract object API), so what races here races in Python.
 *
 * An op's `code` picks a row among those that apply to its target's kind
 * (modulo their number): a mutation of the target keeps the op meaningful.
 * Arguments are small ints derived from `arg`; `other` names a second
 * shared object for cross-object operations.  Operations that grow an
 * object do nothing once it holds GROW_LIMIT elements, so no program can
 * build an exponentially large list.
 */
#include "harness.h"

#define K(kind) (1u << (kind))
#define K_LIST K(PROG_LIST)
#define K_DICT K(PROG_DICT)
#define K_SET K(PROG_SET)
#define K_BYTEARRAY K(PROG_BYTEARRAY)
#define K_DEQUE K(PROG_DEQUE)
#define K_ITERS                                                            \
    (K(PROG_ITER_LIST) | K(PROG_ITER_DICT) | K(PROG_ITER_SET)               \
     | K(PROG_ITER_STR) | K(PROG_ITER_BYTES) | K(PROG_ITER_RANGE)           \
     | K(PROG_ITER_GENERIC_ALIAS))
#define K_CONTAINERS (K_LIST | K_DICT | K_SET | K_BYTEARRAY | K_DEQUE)
#define K_SEQ (K_LIST | K_BYTEARRAY | K_DEQUE)

#define GROW_LIMIT 64

/* How an operation is called. */
enum op_shape {
    /* target.method() */
    SH_CALL0,
    /* target.method(i) */
    SH_CALL_I,
    /* target.method(i, j) */
    SH_CALL_II,
    /* target.method(other), a growing operation */
    SH_CALL_O,
    /* target[i] */
    SH_GETITEM,
    /* target[i] = j */
    SH_SETITEM,
    /* del target[i] */
    SH_DELITEM,
    /* target[i:j] */
    SH_GETSLICE,
    /* target[i:j] = range(j) */
    SH_SETSLICE,
    /* del target[i:j] */
    SH_DELSLICE,
    /* len(target) */
    SH_LEN,
    /* i in target */
    SH_CONTAINS,
    /* target OP= other, a growing operation */
    SH_INPLACE,
    /* target *= i (0, 1 or 2) */
    SH_IMUL,
    /* list(target.method()) or, with no method, list(target) */
    SH_ITERATE,
    /* next(target) */
    SH_NEXT,
    /* builtin(target): set(), sorted(), list(), bytes(), tuple() */
    SH_BUILTIN,
};

struct op_row {
    const char *name;   /* method or builtin name; NULL where none */
    unsigned kinds;     /* K_* of the targets it applies to */
    enum op_shape shape;
    binaryfunc inplace; /* SH_INPLACE */
};

static const struct op_row op_table[] = {
    /* lists (and the sequence operations deques and bytearrays share) */
    {"append", K_LIST | K_DEQUE | K_BYTEARRAY, SH_CALL_I, NULL},
    {"extend", K_LIST | K_DEQUE, SH_CALL_O, NULL},
    {"insert", K_LIST | K_DEQUE | K_BYTEARRAY, SH_CALL_II, NULL},
    {"pop", K_LIST | K_DEQUE | K_BYTEARRAY | K_SET | K_DICT, SH_CALL0, NULL},
    {"pop", K_LIST | K_BYTEARRAY | K_DICT, SH_CALL_I, NULL},
    {"remove", K_LIST | K_DEQUE | K_BYTEARRAY | K_SET, SH_CALL_I, NULL},
    {"clear", K_CONTAINERS, SH_CALL0, NULL},
    {"sort", K_LIST, SH_CALL0, NULL},
    {"reverse", K_LIST | K_DEQUE | K_BYTEARRAY, SH_CALL0, NULL},
    {"index", K_LIST | K_DEQUE | K_BYTEARRAY, SH_CALL_I, NULL},
    {"count", K_LIST | K_DEQUE | K_BYTEARRAY, SH_CALL_I, NULL},
    {"copy", K_CONTAINERS, SH_CALL0, NULL},
    {NULL, K_LIST | K_DICT | K_BYTEARRAY | K_DEQUE, SH_GETITEM, NULL},
    {NULL, K_LIST | K_DICT | K_BYTEARRAY | K_DEQUE, SH_SETITEM, NULL},
    {NULL, K_LIST | K_DICT | K_BYTEARRAY | K_DEQUE, SH_DELITEM, NULL},
    {NULL, K_LIST | K_BYTEARRAY, SH_GETSLICE, NULL},
    {NULL, K_LIST | K_BYTEARRAY, SH_SETSLICE, NULL},
    {NULL, K_LIST | K_BYTEARRAY, SH_DELSLICE, NULL},
    {NULL, K_CONTAINERS, SH_LEN, NULL},
    {NULL, K_CONTAINERS, SH_CONTAINS, NULL},
    {"+=", K_LIST | K_DEQUE | K_BYTEARRAY, SH_INPLACE, PyNumber_InPlaceAdd},
    {"*=", K_LIST | K_DEQUE | K_BYTEARRAY, SH_IMUL, NULL},
    /* dicts */
    {"get", K_DICT, SH_CALL_I, NULL},
    {"setdefault", K_DICT, SH_CALL_II, NULL},
    {"popitem", K_DICT, SH_CALL0, NULL},
    {"update", K_DICT | K_SET, SH_CALL_O, NULL},
    {"|=", K_DICT | K_SET, SH_INPLACE, PyNumber_InPlaceOr},
    {"keys", K_DICT, SH_ITERATE, NULL},
    {"values", K_DICT, SH_ITERATE, NULL},
    {"items", K_DICT, SH_ITERATE, NULL},
    /* sets */
    {"add", K_SET, SH_CALL_I, NULL},
    {"discard", K_SET, SH_CALL_I, NULL},
    {"-=", K_SET, SH_INPLACE, PyNumber_InPlaceSubtract},
    {"&=", K_SET, SH_INPLACE, PyNumber_InPlaceAnd},
    {"^=", K_SET, SH_INPLACE, PyNumber_InPlaceXor},
    {NULL, K_SET | K_LIST | K_DEQUE, SH_ITERATE, NULL},
    /* bytearrays */
    {"find", K_BYTEARRAY, SH_CALL_I, NULL},
    {"hex", K_BYTEARRAY, SH_CALL0, NULL},
    {"decode", K_BYTEARRAY, SH_CALL0, NULL},
    /* deques */
    {"appendleft", K_DEQUE, SH_CALL_I, NULL},
    {"popleft", K_DEQUE, SH_CALL0, NULL},
    {"rotate", K_DEQUE, SH_CALL_I, NULL},
    /* shared iterators */
    {NULL, K_ITERS, SH_NEXT, NULL},
    {NULL, K_ITERS, SH_ITERATE, NULL},
    {"__length_hint__", K_ITERS, SH_CALL0, NULL},
    {"__reduce__", K_ITERS, SH_CALL0, NULL},
    /* cross-object: build from, or read, another shared object */
    {"set", K_CONTAINERS | K_ITERS, SH_BUILTIN, NULL},
    {"sorted", K_CONTAINERS | K_ITERS, SH_BUILTIN, NULL},
    {"list", K_CONTAINERS | K_ITERS, SH_BUILTIN, NULL},
    {"bytes", K_BYTEARRAY | K_LIST, SH_BUILTIN, NULL},
    {"tuple", K_CONTAINERS, SH_BUILTIN, NULL},
};

#define OP_ROWS (sizeof op_table / sizeof op_table[0])

/* The row an op's code selects for a target of `kind`. */
static const struct op_row *
op_select(uint32_t code, int kind)
{
    unsigned n = 0;
    for (unsigned i = 0; i < OP_ROWS; i++)
        n += (op_table[i].kinds & K(kind)) != 0;
    unsigned want = code % n;
    for (unsigned i = 0; i < OP_ROWS; i++)
        if ((op_table[i].kinds & K(kind)) && want-- == 0)
            return &op_table[i];
    return &op_table[0];
}

/* Small values: dict keys and list items 0..15, bytes 0..255. */
static long
op_value(int32_t arg, int kind)
{
    long v = arg < 0 ? -(long)arg : arg;
    return kind == PROG_BYTEARRAY ? v % 256 : v % 16;
}

/* A signed index that may be out of range, so IndexError is reached. */
static long
op_index(int32_t arg)
{
    return (long)(arg % 20) - 2;
}

static int
op_too_big(PyObject *target)
{
    Py_ssize_t n = PyObject_Length(target);
    if (n < 0) {
        PyErr_Clear();
        return 0;
    }
    return n >= GROW_LIMIT;
}

/* list.pop(i) and bytearray.pop(i) take an index, dict.pop(k) a key. */
static int
op_pops_index(const struct op_row *row, int kind)
{
    return strcmp(row->name, "pop") == 0 && kind != PROG_DICT;
}

static PyObject *ops_range(uint32_t size);

static PyObject *
op_call(PyObject *target, const char *name, PyObject *const *args,
        size_t nargs)
{
    PyObject *meth = PyUnicode_InternFromString(name);
    if (meth == NULL)
        return NULL;
    /* stack[0] is scratch space: PY_VECTORCALL_ARGUMENTS_OFFSET lets the
     * callee overwrite the slot before the arguments. */
    PyObject *stack[4] = {NULL, target, nargs > 0 ? args[0] : NULL,
                          nargs > 1 ? args[1] : NULL};
    PyObject *r = PyObject_VectorcallMethod(
        meth, stack + 1, (1 + nargs) | PY_VECTORCALL_ARGUMENTS_OFFSET, NULL);
    Py_DECREF(meth);
    return r;
}

static PyObject *
op_call_ints(PyObject *target, const char *name, long a, long b, int n)
{
    PyObject *args[2] = {PyLong_FromLong(a), PyLong_FromLong(b)};
    PyObject *r = op_call(target, name, args, (size_t)n);
    Py_DECREF(args[0]);
    Py_DECREF(args[1]);
    return r;
}

static PyObject *
op_slice(int32_t arg)
{
    PyObject *lo = PyLong_FromLong(op_index(arg));
    PyObject *hi = PyLong_FromLong(op_index(arg) + (arg >> 8) % 6);
    PyObject *s = PySlice_New(lo, hi, NULL);
    Py_DECREF(lo);
    Py_DECREF(hi);
    return s;
}

static PyObject *
op_builtin(const char *name, PyObject *target)
{
    PyObject *builtins = PyEval_GetBuiltins();   /* borrowed */
    PyObject *fn = PyDict_GetItemString(builtins, name);
    if (fn == NULL) {
        PyErr_Format(PyExc_NameError, "no builtin %s", name);
        return NULL;
    }
    return PyObject_CallOneArg(fn, target);
}

static PyObject *
op_consume(PyObject *iterable)
{
    if (iterable == NULL)
        return NULL;
    PyObject *r = PySequence_List(iterable);
    Py_DECREF(iterable);
    return r;
}

/*
 * Would this op grow `target` from an iterator over `target` itself?  Then
 * it never ends, threads or not (l += iter(l)): the op is skipped.
 */
static int
op_feeds_itself(const prog_op *op, const int *sources, uint32_t nobjs)
{
    int other = (int)(op->other % nobjs);
    return sources[other] == (int)(op->target % nobjs);
}

static PyObject *
ops_exec(const prog_op *op, PyObject *const *objs, int kind,
         const int *sources, uint32_t nobjs)
{
    PyObject *t = objs[op->target % nobjs];
    PyObject *other = objs[op->other % nobjs];
    const struct op_row *row = op_select(op->code, kind);
    long v = op_value(op->arg, kind);
    long i = op_index(op->arg);
    PyObject *x, *y, *r;

    switch (row->shape) {
    case SH_CALL0:
        return op_call(t, row->name, NULL, 0);
    case SH_CALL_I:
        return op_call_ints(t, row->name, op_pops_index(row, kind) ? i : v,
                            0, 1);
    case SH_CALL_II:
        return op_call_ints(t, row->name, i, op_value(op->arg >> 4, kind),
                            2);
    case SH_CALL_O:
        if (op_too_big(t) || op_feeds_itself(op, sources, nobjs))
            Py_RETURN_NONE;
        return op_call(t, row->name, &other, 1);
    case SH_GETITEM:
        x = PyLong_FromLong(kind == PROG_DICT ? v : i);
        r = PyObject_GetItem(t, x);
        Py_DECREF(x);
        return r;
    case SH_SETITEM:
        x = PyLong_FromLong(kind == PROG_DICT ? v : i);
        y = PyLong_FromLong(op_value(op->arg >> 4, kind));
        r = PyObject_SetItem(t, x, y) < 0 ? NULL : Py_NewRef(Py_None);
        Py_DECREF(x);
        Py_DECREF(y);
        return r;
    case SH_DELITEM:
        x = PyLong_FromLong(kind == PROG_DICT ? v : i);
        r = PyObject_DelItem(t, x) < 0 ? NULL : Py_NewRef(Py_None);
        Py_DECREF(x);
        return r;
    case SH_GETSLICE:
        x = op_slice(op->arg);
        r = PyObject_GetItem(t, x);
        Py_DECREF(x);
        return r;
    case SH_SETSLICE:
        if (op_too_big(t))
            Py_RETURN_NONE;
        x = op_slice(op->arg);
        y = ops_range((uint32_t)(v % 4));
        r = y && PyObject_SetItem(t, x, y) == 0 ? Py_NewRef(Py_None) : NULL;
        Py_DECREF(x);
        Py_XDECREF(y);
        return r;
    case SH_DELSLICE:
        x = op_slice(op->arg);
        r = PyObject_DelItem(t, x) < 0 ? NULL : Py_NewRef(Py_None);
        Py_DECREF(x);
        return r;
    case SH_LEN: {
        Py_ssize_t n = PyObject_Length(t);
        return n < 0 ? NULL : PyLong_FromSsize_t(n);
    }
    case SH_CONTAINS: {
        x = PyLong_FromLong(v);
        int c = PySequence_Contains(t, x);
        Py_DECREF(x);
        return c < 0 ? NULL : PyBool_FromLong(c);
    }
    case SH_INPLACE:
        if (op_too_big(t) || op_feeds_itself(op, sources, nobjs))
            Py_RETURN_NONE;
        return row->inplace(t, other);
    case SH_IMUL:
        if (op_too_big(t))
            Py_RETURN_NONE;
        x = PyLong_FromLong(v % 3);
        r = PyNumber_InPlaceMultiply(t, x);
        Py_DECREF(x);
        return r;
    case SH_ITERATE:
        if (row->name)
            return op_consume(op_call(t, row->name, NULL, 0));
        return op_consume(PyObject_GetIter(t));
    case SH_NEXT:
        r = PyIter_Next(t);
        if (r == NULL && !PyErr_Occurred())
            PyErr_SetNone(PyExc_StopIteration);
        return r;
    case SH_BUILTIN:
        return op_builtin(row->name, other == t ? t : other);
    }
    Py_RETURN_NONE;
}

/*
 * Operations free-threaded CPython documents as atomic for these types
 * (docs/atomic-operations.md): single-object operations of lists, dicts,
 * sets and deques on int items.  Not included: iteration (a series of
 * steps), cross-object operations, iterators, bytearrays, and `*=`, whose
 * size guard (op_too_big) reads the length apart from the operation.
 */
static int
ops_is_atomic(const prog_op *op, int kind)
{
    if (!(K(kind) & (K_LIST | K_DICT | K_SET | K_DEQUE)))
        return 0;
    switch (op_select(op->code, kind)->shape) {
    case SH_CALL_O:
    case SH_INPLACE:
    case SH_IMUL:
    case SH_ITERATE:
    case SH_NEXT:
    case SH_BUILTIN:
        return 0;
    default:
        return 1;
    }
}

static void
ops_describe(const prog_op *op, int kind, uint32_t nobjs, char *buf,
             size_t size)
{
    unsigned ti = op->target % nobjs, oi = op->other % nobjs;
    const struct op_row *row = op_select(op->code, kind);
    long v = op_value(op->arg, kind), i = op_index(op->arg);
    long key = kind == PROG_DICT ? v : i;
    long v2 = op_value(op->arg >> 4, kind);
    switch (row->shape) {
    case SH_CALL0: snprintf(buf, size, "o%u.%s()", ti, row->name); break;
    case SH_CALL_I:
        snprintf(buf, size, "o%u.%s(%ld)", ti, row->name,
                 op_pops_index(row, kind) ? i : v);
        break;
    case SH_CALL_II:
        snprintf(buf, size, "o%u.%s(%ld, %ld)", ti, row->name, i, v2);
        break;
    case SH_CALL_O: snprintf(buf, size, "o%u.%s(o%u)", ti, row->name, oi); break;
    case SH_GETITEM: snprintf(buf, size, "o%u[%ld]", ti, key); break;
    case SH_SETITEM: snprintf(buf, size, "o%u[%ld] = %ld", ti, key, v2); break;
    case SH_DELITEM: snprintf(buf, size, "del o%u[%ld]", ti, key); break;
    case SH_GETSLICE:
    case SH_SETSLICE:
    case SH_DELSLICE: {
        long lo = op_index(op->arg), hi = lo + (op->arg >> 8) % 6;
        const char *fmt = row->shape == SH_GETSLICE ? "o%u[%ld:%ld]"
                          : row->shape == SH_SETSLICE
                              ? "o%u[%ld:%ld] = range(%ld)"
                              : "del o%u[%ld:%ld]";
        snprintf(buf, size, fmt, ti, lo, hi, v % 4);
        break;
    }
    case SH_LEN: snprintf(buf, size, "len(o%u)", ti); break;
    case SH_CONTAINS: snprintf(buf, size, "%ld in o%u", v, ti); break;
    case SH_INPLACE: snprintf(buf, size, "o%u %s o%u", ti, row->name, oi); break;
    case SH_IMUL: snprintf(buf, size, "o%u *= %ld", ti, v % 3); break;
    case SH_ITERATE:
        if (row->name)
            snprintf(buf, size, "list(o%u.%s())", ti, row->name);
        else
            snprintf(buf, size, "list(o%u)", ti);
        break;
    case SH_NEXT: snprintf(buf, size, "next(o%u)", ti); break;
    case SH_BUILTIN: snprintf(buf, size, "%s(o%u)", row->name, oi); break;
    }
}

/* --- shared objects ---------------------------------------------------------- */

static PyObject *
ops_range(uint32_t size)
{
    PyObject *n = PyLong_FromUnsignedLong(size);
    PyObject *r = PyObject_CallOneArg((PyObject *)&PyRange_Type, n);
    Py_DECREF(n);
    return r;
}

static PyObject *
ops_import(const char *module, const char *name)
{
    PyObject *m = PyImport_ImportModule(module);
    if (m == NULL)
        return NULL;
    PyObject *attr = PyObject_GetAttrString(m, name);
    Py_DECREF(m);
    return attr;
}

/* The container kind an iterator kind iterates over. */
static int
ops_iter_source_kind(int kind)
{
    switch (kind) {
    case PROG_ITER_LIST: return PROG_LIST;
    case PROG_ITER_DICT: return PROG_DICT;
    case PROG_ITER_SET: return PROG_SET;
    }
    return -1;
}

static PyObject *
ops_make_object(int kind, uint32_t size, PyObject *source, int source_kind,
                int *over_source)
{
    PyObject *range = ops_range(size), *r = NULL, *tmp;
    *over_source = 0;
    if (range == NULL)
        return NULL;
    switch (kind) {
    case PROG_LIST:
        r = PySequence_List(range);
        break;
    case PROG_DICT:
        r = PyDict_New();
        for (uint32_t i = 0; r && i < size; i++) {
            PyObject *k = PyLong_FromUnsignedLong(i);
            PyDict_SetItem(r, k, k);
            Py_DECREF(k);
        }
        break;
    case PROG_SET:
        r = PySet_New(range);
        break;
    case PROG_BYTEARRAY:
        r = PyObject_CallOneArg((PyObject *)&PyByteArray_Type, range);
        break;
    case PROG_DEQUE:
        tmp = ops_import("collections", "deque");
        r = tmp ? PyObject_CallOneArg(tmp, range) : NULL;
        Py_XDECREF(tmp);
        break;
    case PROG_ITER_LIST:
    case PROG_ITER_DICT:
    case PROG_ITER_SET:
        if (source && source_kind == ops_iter_source_kind(kind)) {
            r = PyObject_GetIter(source);
            *over_source = 1;
        } else {
            int unused;
            tmp = ops_make_object(ops_iter_source_kind(kind), size, NULL, -1,
                                  &unused);
            r = tmp ? PyObject_GetIter(tmp) : NULL;
            Py_XDECREF(tmp);
        }
        break;
    case PROG_ITER_STR:
        tmp = PyUnicode_FromStringAndSize("abcdefghijklmnop", size);
        r = tmp ? PyObject_GetIter(tmp) : NULL;
        Py_XDECREF(tmp);
        break;
    case PROG_ITER_BYTES:
        tmp = PyBytes_FromStringAndSize("abcdefghijklmnop", size);
        r = tmp ? PyObject_GetIter(tmp) : NULL;
        Py_XDECREF(tmp);
        break;
    case PROG_ITER_RANGE:
        r = PyObject_GetIter(range);
        break;
    case PROG_ITER_GENERIC_ALIAS:
        /* iter(list[int]): the iterator behind *list[int] */
        tmp = Py_GenericAlias((PyObject *)&PyList_Type,
                              (PyObject *)&PyLong_Type);
        r = tmp ? PyObject_GetIter(tmp) : NULL;
        Py_XDECREF(tmp);
        break;
    }
    Py_DECREF(range);
    return r;
}

static void
ops_describe_object(int kind, uint32_t size, int source, char *buf,
                    size_t size_buf)
{
    static const char letters[] = "abcdefghijklmnop";
    switch (kind) {
    case PROG_LIST:
        snprintf(buf, size_buf, "list(range(%u))", size);
        return;
    case PROG_DICT:
        snprintf(buf, size_buf, "{i: i for i in range(%u)}", size);
        return;
    case PROG_SET:
        snprintf(buf, size_buf, "set(range(%u))", size);
        return;
    case PROG_BYTEARRAY:
        snprintf(buf, size_buf, "bytearray(range(%u))", size);
        return;
    case PROG_DEQUE:
        snprintf(buf, size_buf, "collections.deque(range(%u))", size);
        return;
    case PROG_ITER_LIST:
    case PROG_ITER_DICT:
    case PROG_ITER_SET:
        if (source >= 0) {
            snprintf(buf, size_buf, "iter(o%d)", source);
        } else {
            char inner[64];
            ops_describe_object(ops_iter_source_kind(kind), size, -1, inner,
                                sizeof inner);
            snprintf(buf, size_buf, "iter(%s)", inner);
        }
        return;
    case PROG_ITER_STR:
        snprintf(buf, size_buf, "iter(\"%.*s\")", (int)size, letters);
        return;
    case PROG_ITER_BYTES:
        snprintf(buf, size_buf, "iter(b\"%.*s\")", (int)size, letters);
        return;
    case PROG_ITER_RANGE:
        snprintf(buf, size_buf, "iter(range(%u))", size);
        return;
    case PROG_ITER_GENERIC_ALIAS:
        snprintf(buf, size_buf, "iter(list[int])");
        return;
    }
    snprintf(buf, size_buf, "None");
}

void
harness_repr(PyObject *obj, char *out, size_t size)
{
    PyObject *s = PyObject_Repr(obj);
    const char *u = s ? PyUnicode_AsUTF8(s) : NULL;
    if (u == NULL) {
        PyObject *exc = PyErr_GetRaisedException();
        snprintf(out, size, "!%s", exc ? Py_TYPE(exc)->tp_name : "?");
        Py_XDECREF(exc);
    } else {
        snprintf(out, size, "%s", u);
    }
    Py_XDECREF(s);
}

/* Only containers have a state to compare: no atomic op touches an
 * iterator, and an iterator's repr is its address, which differs between
 * the concurrent and every sequential run. */
static void
ops_state(PyObject *obj, int kind, char *out, size_t size)
{
    if (kind >= PROG_ITER_LIST)
        snprintf(out, size, "(iterator, not compared)");
    else
        harness_repr(obj, out, size);
}

static const char *
ops_type_name(int kind)
{
    static const char *const names[PROG_KIND_COUNT] = {
        [PROG_LIST] = "list", [PROG_DICT] = "dict", [PROG_SET] = "set",
        [PROG_BYTEARRAY] = "bytearray", [PROG_DEQUE] = "deque",
        [PROG_ITER_LIST] = "list_iterator",
        [PROG_ITER_DICT] = "dict_iterator",
        [PROG_ITER_SET] = "set_iterator", [PROG_ITER_STR] = "str_iterator",
        [PROG_ITER_BYTES] = "bytes_iterator",
        [PROG_ITER_RANGE] = "range_iterator",
        [PROG_ITER_GENERIC_ALIAS] = "generic_alias_iterator",
    };
    return kind >= 0 && kind < PROG_KIND_COUNT && names[kind] ? names[kind]
                                                              : "?";
}

const struct harness_kind ops_builtin_kind = {
    .make = ops_make_object,
    .exec = ops_exec,
    .raised = NULL,
    .is_atomic = ops_is_atomic,
    .describe = ops_describe,
    .describe_object = ops_describe_object,
    .state = ops_state,
    .type_name = ops_type_name,
};

/* --- a program's objects ------------------------------------------------------ */

/* The built-in kinds each family fuzzes (families.def); mixed takes
 * every kind, ext and spec the spec's types. */
static const int family_kinds[HARNESS_FAMILY_COUNT][PROG_KIND_COUNT + 1] = {
#define FTFUZZ_FAMILY_ROW(NAME, name, regress, help, ...) \
    [HARNESS_##NAME] = {__VA_ARGS__},
#include "ftfuzz/families.def"
#undef FTFUZZ_FAMILY_ROW
};

int
harness_object_kind(int family, uint32_t kind)
{
    /* Extension types follow the built-in kinds: a stored input whose
     * kinds are all built-in keeps its meaning when types are added. */
    int nspec = spec_count();
    if (family == HARNESS_MIXED)
        return (int)(kind % (uint32_t)(PROG_KIND_COUNT + nspec));
    if (family == HARNESS_EXT || family == HARNESS_SPEC)
        return PROG_KIND_COUNT + (int)(kind % (uint32_t)nspec);
    const int *allowed = family_kinds[family];
    unsigned n = 0;
    while (allowed[n] >= 0)
        n++;
    return allowed[kind % n];
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
        objs[i] = harness_kind(kinds_out[i])->make(
            kinds_out[i], o->size, src < i ? objs[src] : NULL,
            src < i ? kinds_out[src] : -1, &over_source);
        sources_out[i] = over_source ? (int)src : -1;
        if (objs[i] == NULL)
            harness_die("cannot create a shared object");
    }
}
