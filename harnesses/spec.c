/*
 * Extension types declared in a spec (docs/extension-spec.md): object kinds
 * PROG_KIND_COUNT.. of the program format, each with the operations the
 * spec lists.  The built-in spec (harnesses/specs/stdlib.toml) declares the
 * stdlib's C types for fuzz_ext and fuzz_mixed; fuzz_spec reads the user's
 * from FTFUZZ_SPEC.
 *
 * spec_loader.py parses and checks the spec once, before any execution, and
 * compiles every expression into a function; an execution only calls them.
 * Both files are built into the binary (.incbin), so a target moved
 * elsewhere (OSS-Fuzz) still has them.
 */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "ftfuzz/schedule_bytes.h"
#include "harness.h"

#ifndef FTFUZZ_SPEC_LOADER
#error "compile with -DFTFUZZ_SPEC_LOADER='\"harnesses/spec_loader.py\"'"
#endif
#ifndef FTFUZZ_SCENARIO_LOADER
#error "compile with -DFTFUZZ_SCENARIO_LOADER='\"harnesses/scenario_loader.py\"'"
#endif
#ifndef FTFUZZ_STDLIB_SPEC
#error "compile with -DFTFUZZ_STDLIB_SPEC='\"harnesses/specs/stdlib.toml\"'"
#endif

/* Each file as a NUL-terminated string in .rodata. */
#define SPEC_EMBED(sym, path)                                             \
    __asm__(".pushsection .rodata\n"                                      \
            ".globl " #sym "\n"                                           \
            ".type " #sym ", @object\n" #sym ":\n"                        \
            ".incbin \"" path "\"\n"                                      \
            ".byte 0\n"                                                   \
            ".size " #sym ", . - " #sym "\n"                              \
            ".popsection\n")
SPEC_EMBED(ftfuzz_spec_loader, FTFUZZ_SPEC_LOADER);
SPEC_EMBED(ftfuzz_stdlib_spec, FTFUZZ_STDLIB_SPEC);
SPEC_EMBED(ftfuzz_scenario_loader, FTFUZZ_SCENARIO_LOADER);
extern const char ftfuzz_spec_loader[];
extern const char ftfuzz_stdlib_spec[];
extern const char ftfuzz_scenario_loader[];

/* SPEC_MAX_OPS and SPEC_MAX_ARGS are in limits.def */
#define SPEC_MAX_TYPES (PROG_KIND_LIMIT - PROG_KIND_COUNT)
#define SPEC_TEXT 200

/* spec_loader.ARG_KINDS, in order. */
enum spec_arg {
    ARG_INT,     /* 0..15 */
    ARG_INDEX,   /* -2..17: out of range at both ends */
    ARG_BYTE,    /* 0..255 */
    ARG_BOOL,
    ARG_STR,     /* "", "a", ..., "abcdefg" */
    ARG_BYTES,   /* b"", b"a", ... */
    ARG_FLOAT,   /* 0.0, 0.5, ..., 7.5 */
    ARG_NONE,
    ARG_OBJECT,  /* another shared object */
    ARG_KIND_COUNT
};

struct spec_op {
    PyObject *method;   /* interned name: target.method(args) */
    PyObject *fn;       /* or lambda o, a, b, c, other: expr */
    int nargs;
    int arg[SPEC_MAX_ARGS];
    int atomic;
    int may_raise;      /* 0: an exception from it is a finding */
    char text[SPEC_TEXT];
};

struct spec_type {
    char name[48];
    PyObject *new_fn;   /* lambda n, src: ... */
    PyObject *state_fn; /* lambda o: ..., or NULL */
    PyObject *check_fn; /* lambda o: ..., run after each execution, or NULL */
    char new_text[SPEC_TEXT];
    int nops;
    struct spec_op ops[SPEC_MAX_OPS];
};

static struct spec_type types[SPEC_MAX_TYPES];
static int ntypes;
static char *preamble;

int
spec_count(void)
{
    return ntypes;
}

const char *
spec_preamble(void)
{
    return preamble ? preamble : "";
}

static void
spec_fail(const char *origin)
{
    PyObject *exc = PyErr_GetRaisedException();
    PyObject *s = exc ? PyObject_Str(exc) : NULL;
    const char *msg = s ? PyUnicode_AsUTF8(s) : NULL;
    const char *type = exc ? Py_TYPE(exc)->tp_name : "error";
    if (exc && !strcmp(type, "SpecError"))
        fprintf(stderr, "ftfuzz: bad spec: %s\n", msg ? msg : "?");
    else
        fprintf(stderr, "ftfuzz: cannot load the spec %s: %s: %s\n", origin,
                type, msg ? msg : "?");
    exit(2);
}

static void
copy_text(char *dst, size_t size, PyObject *str, const char *origin)
{
    const char *u = PyUnicode_AsUTF8(str);
    if (u == NULL)
        spec_fail(origin);
    if (strlen(u) >= size) {
        fprintf(stderr, "ftfuzz: bad spec: %s: expression too long (at most "
                        "%zu characters): %s\n", origin, size - 1, u);
        exit(2);
    }
    strcpy(dst, u);
}

/* Copies loader.load()'s result (see spec_loader.py) into the tables. */
static void
spec_take(PyObject *result, const char *origin)
{
    PyObject *pre = PyTuple_GetItem(result, 0);
    PyObject *list = PyTuple_GetItem(result, 1);
    const char *u = pre ? PyUnicode_AsUTF8(pre) : NULL;
    if (u == NULL || list == NULL)
        spec_fail(origin);
    preamble = strdup(u);
    ntypes = (int)PyList_GET_SIZE(list);
    for (int i = 0; i < ntypes; i++) {
        PyObject *t = PyList_GET_ITEM(list, i);
        struct spec_type *st = &types[i];
        copy_text(st->name, sizeof st->name, PyTuple_GET_ITEM(t, 0), origin);
        st->new_fn = Py_NewRef(PyTuple_GET_ITEM(t, 1));
        copy_text(st->new_text, sizeof st->new_text, PyTuple_GET_ITEM(t, 2),
                  origin);
        PyObject *state = PyTuple_GET_ITEM(t, 3);
        st->state_fn = state == Py_None ? NULL : Py_NewRef(state);
        PyObject *check = PyTuple_GET_SIZE(t) > 5 ? PyTuple_GET_ITEM(t, 5)
                                                  : Py_None;
        st->check_fn = check == Py_None ? NULL : Py_NewRef(check);
        PyObject *ops = PyTuple_GET_ITEM(t, 4);
        st->nops = (int)PyList_GET_SIZE(ops);
        for (int k = 0; k < st->nops; k++) {
            PyObject *o = PyList_GET_ITEM(ops, k);
            struct spec_op *so = &st->ops[k];
            PyObject *method = PyTuple_GET_ITEM(o, 0);
            PyObject *fn = PyTuple_GET_ITEM(o, 1);
            so->method = method == Py_None ? NULL : Py_NewRef(method);
            so->fn = fn == Py_None ? NULL : Py_NewRef(fn);
            PyObject *args = PyTuple_GET_ITEM(o, 2);
            so->nargs = (int)PyList_GET_SIZE(args);
            for (int a = 0; a < so->nargs; a++)
                so->arg[a] = (int)PyLong_AsLong(PyList_GET_ITEM(args, a));
            so->atomic = PyObject_IsTrue(PyTuple_GET_ITEM(o, 3));
            copy_text(so->text, sizeof so->text, PyTuple_GET_ITEM(o, 4),
                      origin);
            so->may_raise = PyTuple_GET_SIZE(o) <= 5
                            || PyObject_IsTrue(PyTuple_GET_ITEM(o, 5));
        }
    }
}

/* The loaded spec is a scenario (ftfuzz explore test.py). */
static int spec_scenario;

/* include/ftfuzz/limits.def as a dict, with SPEC_MAX_TYPES, for the
 * loaders: they check what they read against these and write none of them
 * again.  NULL with a Python error set on failure. */
static PyObject *
spec_limits(void)
{
    static const struct {
        const char *name;
        long value;
    } table[] = {
#define FTFUZZ_LIMIT(name, value, help) {#name, name},
#include "ftfuzz/limits.def"
#undef FTFUZZ_LIMIT
        {"SPEC_MAX_TYPES", SPEC_MAX_TYPES},
    };
    PyObject *d = PyDict_New();
    for (size_t i = 0; d && i < sizeof table / sizeof table[0]; i++) {
        PyObject *v = PyLong_FromLong(table[i].value);
        if (v == NULL || PyDict_SetItemString(d, table[i].name, v) < 0)
            Py_CLEAR(d);
        Py_XDECREF(v);
    }
    return d;
}

/*
 * Loads a spec: `text` with `origin` (a path, for messages) whose relative
 * `path` entries start at base_dir.  Exits with a message on any error in
 * the spec: a target cannot run without it.
 */
static void
spec_load_text(const char *text, const char *origin, const char *base_dir,
               int scenario)
{
    PyObject *code =
        scenario ? Py_CompileString(ftfuzz_scenario_loader,
                                    "<ftfuzz scenario_loader.py>",
                                    Py_file_input)
                 : Py_CompileString(ftfuzz_spec_loader,
                                    "<ftfuzz spec_loader.py>", Py_file_input);
    PyObject *mod =
        code ? PyImport_ExecCodeModule(scenario ? "_ftfuzz_scenario_loader"
                                                : "_ftfuzz_spec_loader",
                                       code)
             : NULL;
    Py_XDECREF(code);
    PyObject *limits = mod ? spec_limits() : NULL;
    PyObject *r = limits ? PyObject_CallMethod(mod,
                                               scenario ? "load_scenario"
                                                        : "load",
                                               "sssO", text, origin,
                                               base_dir, limits)
                         : NULL;
    Py_XDECREF(limits);
    Py_XDECREF(mod);
    if (r == NULL)
        spec_fail(origin);
    spec_take(r, origin);
    Py_DECREF(r);
}

void
spec_load_stdlib(void)
{
    spec_load_text(ftfuzz_stdlib_spec, "<built-in stdlib.toml>", ".", 0);
}

void
spec_load_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        fprintf(stderr, "ftfuzz: cannot read the spec %s: %s\n", path,
                strerror(errno));
        exit(2);
    }
    size_t cap = 1 << 16, len = 0;
    char *text = malloc(cap + 1);
    size_t n;
    while (text && (n = fread(text + len, 1, cap - len, f)) > 0) {
        len += n;
        if (len == cap) {
            fprintf(stderr, "ftfuzz: the spec %s is larger than %zu bytes\n",
                    path, cap);
            exit(2);
        }
    }
    fclose(f);
    if (text == NULL) {
        fprintf(stderr, "ftfuzz: out of memory\n");
        exit(2);
    }
    text[len] = '\0';
    if (memchr(text, '\0', len)) {
        fprintf(stderr, "ftfuzz: the spec %s is not text\n", path);
        exit(2);
    }
    char dir[PATH_MAX];
    char *real = realpath(path, NULL);
    snprintf(dir, sizeof dir, "%s", real ? real : path);
    free(real);
    char *slash = strrchr(dir, '/');
    if (slash)
        *slash = '\0';
    else
        snprintf(dir, sizeof dir, ".");
    /* a .py file is a scenario (ftfuzz explore), a spec of one type */
    size_t plen = strlen(path);
    int scenario = plen > 3 && !strcmp(path + plen - 3, ".py");
    spec_load_text(text, path, dir, scenario);
    spec_scenario = scenario;
    free(text);
}

int
spec_is_scenario(void)
{
    return spec_scenario;
}

/* --- executions ----------------------------------------------------------- */

static const struct spec_type *
spec_type(int kind)
{
    return &types[(kind - PROG_KIND_COUNT) % (ntypes ? ntypes : 1)];
}

int
spec_op_count(int kind)
{
    return spec_type(kind)->nops;
}

const char *
spec_type_name(int kind)
{
    return spec_type(kind)->name;
}

static const struct spec_op *
spec_op(const prog_op *op, int kind)
{
    const struct spec_type *t = spec_type(kind);
    return &t->ops[op->code % (uint32_t)t->nops];
}

/* Argument i's raw value: four bits of arg each (as ops.c does). */
static long
spec_raw(int32_t arg, int i)
{
    long v = arg >> (4 * i);
    return v < 0 ? -v : v;
}

static const char letters[] = "abcdefghijklmnop";

/* An argument's value as a new reference. */
static PyObject *
spec_arg(const prog_op *op, int i, int kind, PyObject *const *objs,
         uint32_t nobjs)
{
    long v = spec_raw(op->arg, i);
    switch (kind) {
    case ARG_INT: return PyLong_FromLong(v % 16);
    case ARG_INDEX: return PyLong_FromLong((long)(op->arg >> (4 * i)) % 20 - 2);
    case ARG_BYTE: return PyLong_FromLong(v % 256);
    case ARG_BOOL: return PyBool_FromLong(v & 1);
    case ARG_STR: return PyUnicode_FromStringAndSize(letters, v % 8);
    case ARG_BYTES: return PyBytes_FromStringAndSize(letters, v % 8);
    case ARG_FLOAT: return PyFloat_FromDouble((double)(v % 16) / 2);
    case ARG_OBJECT: return Py_NewRef(objs[(op->other + (uint32_t)i) % nobjs]);
    }
    Py_RETURN_NONE;
}

/* The same, as Python. */
static void
spec_arg_text(const prog_op *op, int i, int kind, uint32_t nobjs, char *buf,
              size_t size)
{
    long v = spec_raw(op->arg, i);
    switch (kind) {
    case ARG_INT: snprintf(buf, size, "%ld", v % 16); return;
    case ARG_INDEX:
        snprintf(buf, size, "%ld", (long)(op->arg >> (4 * i)) % 20 - 2);
        return;
    case ARG_BYTE: snprintf(buf, size, "%ld", v % 256); return;
    case ARG_BOOL: snprintf(buf, size, "%s", v & 1 ? "True" : "False"); return;
    case ARG_STR: snprintf(buf, size, "'%.*s'", (int)(v % 8), letters); return;
    case ARG_BYTES: snprintf(buf, size, "b'%.*s'", (int)(v % 8), letters); return;
    case ARG_FLOAT: snprintf(buf, size, "%.1f", (double)(v % 16) / 2); return;
    case ARG_OBJECT:
        snprintf(buf, size, "o%u", (op->other + (uint32_t)i) % nobjs);
        return;
    }
    snprintf(buf, size, "None");
}

static void spec_describe(const prog_op *op, int kind, uint32_t nobjs,
                          char *buf, size_t size);

static PyObject *
spec_exec(const prog_op *op, PyObject *const *objs, int kind,
          const int *sources, uint32_t nobjs)
{
    (void)sources;   /* a spec's constructor gets the source itself */
    const struct spec_op *so = spec_op(op, kind);
    PyObject *t = objs[op->target % nobjs];
    /* stack[0] is scratch space for PY_VECTORCALL_ARGUMENTS_OFFSET */
    PyObject *stack[1 + 5] = {NULL, t, NULL, NULL, NULL, NULL};
    int nargs = so->method ? so->nargs : SPEC_MAX_ARGS;
    for (int i = 0; i < nargs; i++)
        stack[2 + i] = i < so->nargs
                           ? spec_arg(op, i, so->arg[i], objs, nobjs)
                           : Py_NewRef(Py_None);
    PyObject *r;
    if (so->method) {
        r = PyObject_VectorcallMethod(
            so->method, stack + 1,
            (size_t)(1 + nargs) | PY_VECTORCALL_ARGUMENTS_OFFSET, NULL);
    } else {
        stack[2 + SPEC_MAX_ARGS] = objs[op->other % nobjs];
        r = PyObject_Vectorcall(so->fn, stack + 1,
                                (size_t)(2 + SPEC_MAX_ARGS)
                                    | PY_VECTORCALL_ARGUMENTS_OFFSET,
                                NULL);
    }
    for (int i = 0; i < nargs; i++)
        Py_XDECREF(stack[2 + i]);
    return r;
}

/* A finding of the spec's own oracles: the report's heading, then the
 * Python exception, then a crash (libFuzzer's, or the replay's verdict). */
static void
spec_finding(int verdict, const char *heading, const char *what)
{
    fprintf(stderr, "==ftfuzz== FINDING: %s\n  in %s\n", heading, what);
    if (PyErr_Occurred()) {
        PyErr_Print();
    }
    PyObject *err = PySys_GetObject("stderr");
    if (err) {
        PyObject *r = PyObject_CallMethod(err, "flush", NULL);
        Py_XDECREF(r);
        PyErr_Clear();
    }
    harness_verdict = verdict;
    abort();
}

static void
spec_raised(const prog_op *op, int kind, uint32_t nobjs)
{
    if (spec_op(op, kind)->may_raise)
        return;
    char text[SPEC_TEXT + 64];
    spec_describe(op, kind, nobjs, text, sizeof text);
    spec_finding(FTFUZZ_VERDICT_EXCEPTION, "exception in an operation that must not "
                 "raise", text);
}

void
spec_check(PyObject *const *objs, const int *kinds, uint32_t nobjs)
{
    for (uint32_t i = 0; i < nobjs; i++) {
        if (kinds[i] < PROG_KIND_COUNT)
            continue;
        const struct spec_type *t = spec_type(kinds[i]);
        if (!t->check_fn)
            continue;
        PyObject *r = PyObject_CallOneArg(t->check_fn, objs[i]);
        int ok = r ? PyObject_IsTrue(r) : -1;
        Py_XDECREF(r);
        if (ok == 1 || (ok == 0 && r == Py_None))
            continue;
        char what[96];
        snprintf(what, sizeof what, "the check of o%u (type %s)", i,
                 t->name);
        spec_finding(FTFUZZ_VERDICT_CHECK, ok == 0 ? "check failed: it returned a false "
                     "value" : "check failed: it raised", what);
    }
}

static int
spec_is_atomic(const prog_op *op, int kind)
{
    return spec_op(op, kind)->atomic;
}

static PyObject *
spec_make_object(int kind, uint32_t size, PyObject *source,
                 int source_kind, int *over_source)
{
    (void)source_kind;   /* new(n, source) decides what fits itself */
    const struct spec_type *t = spec_type(kind);
    PyObject *n = PyLong_FromUnsignedLong(size);
    PyObject *args[2] = {n, source ? source : Py_None};
    PyObject *r = PyObject_Vectorcall(t->new_fn, args, 2, NULL);
    *over_source = source != NULL;
    if (r == NULL && source != NULL) {
        /* this source does not suit the constructor: build it alone */
        PyErr_Clear();
        args[1] = Py_None;
        r = PyObject_Vectorcall(t->new_fn, args, 2, NULL);
        *over_source = 0;
    }
    Py_DECREF(n);
    if (r == NULL) {
        fprintf(stderr, "ftfuzz: spec type %s: new = %s failed with n=%u:\n",
                t->name, t->new_text, size);
        PyErr_Print();
        exit(2);
    }
    return r;
}

/*
 * Expands a template of spec_loader.py: "\x01" and a digit stand for the
 * value vals[digit].  No allocation: report mode calls this from a crash
 * handler.
 */
static void
spec_expand(const char *tmpl, char vals[][48], int nvals, char *buf,
            size_t size)
{
    size_t len = 0;
    for (const char *s = tmpl; *s && len + 1 < size; s++) {
        if (s[0] == '\x01' && s[1] >= '0' && s[1] - '0' < nvals) {
            const char *v = vals[s[1] - '0'];
            size_t vl = strlen(v);
            if (len + vl >= size)
                break;
            memcpy(buf + len, v, vl);
            len += vl;
            s++;
        } else {
            buf[len++] = *s;
        }
    }
    buf[len] = '\0';
}

static void
spec_describe(const prog_op *op, int kind, uint32_t nobjs, char *buf,
              size_t size)
{
    const struct spec_op *so = spec_op(op, kind);
    char vals[5][48];
    snprintf(vals[0], sizeof vals[0], "o%u", op->target % nobjs);
    for (int i = 0; i < SPEC_MAX_ARGS; i++) {
        if (i < so->nargs)
            spec_arg_text(op, i, so->arg[i], nobjs, vals[1 + i],
                          sizeof vals[0]);
        else
            snprintf(vals[1 + i], sizeof vals[0], "None");
    }
    snprintf(vals[4], sizeof vals[0], "o%u", op->other % nobjs);
    spec_expand(so->text, vals, 5, buf, size);
}

static void
spec_describe_object(int kind, uint32_t size, int source, char *buf,
                     size_t size_buf)
{
    char vals[2][48];
    snprintf(vals[0], sizeof vals[0], "%u", size);
    if (source >= 0)
        snprintf(vals[1], sizeof vals[1], "o%d", source);
    else
        snprintf(vals[1], sizeof vals[1], "None");
    spec_expand(spec_type(kind)->new_text, vals, 2, buf, size_buf);
}

static void
spec_state_text(PyObject *obj, int kind, char *out, size_t size)
{
    const struct spec_type *t = spec_type(kind);
    if (t->state_fn == NULL) {
        snprintf(out, size, "(%s: no state declared)", t->name);
        return;
    }
    PyObject *s = PyObject_CallOneArg(t->state_fn, obj);
    PyObject *r = s ? PyObject_Repr(s) : NULL;
    const char *u = r ? PyUnicode_AsUTF8(r) : NULL;
    if (u == NULL) {
        PyObject *exc = PyErr_GetRaisedException();
        snprintf(out, size, "!%s", exc ? Py_TYPE(exc)->tp_name : "?");
        Py_XDECREF(exc);
    } else {
        snprintf(out, size, "%s", u);
    }
    Py_XDECREF(r);
    Py_XDECREF(s);
}

/* A spec's types behind the harness's one kind interface (harness.h). */
const struct harness_kind spec_kind = {
    .make = spec_make_object,
    .exec = spec_exec,
    .raised = spec_raised,
    .is_atomic = spec_is_atomic,
    .describe = spec_describe,
    .describe_object = spec_describe_object,
    .state = spec_state_text,
    .type_name = spec_type_name,
};

/* --- seeds ------------------------------------------------------------------ */

/*
 * Writes seed inputs for each pair of operations of each type: two
 * threads, one operation each, on one shared object, with a schedule
 * counted from the first operation: once with no preemption, then with one
 * preemption (to the other thread) every `sweep` points up to
 * SPEC_SWEEP_END.  Most races need one preemption in the right place
 * (preemption bounding); this finds those between two operations of one
 * object in the campaign's first executions, and gives the fuzzer schedules
 * to start from for the rest.  Types with many operations get the pairs of
 * neighbours only.  Returns the number written, -1 after a message.
 */
#define SPEC_SWEEP_END 256

static int
spec_write_seed(const char *dir, const prog_program *p, const char *type,
                int i, int j, unsigned delta)
{
    uint8_t buf[PROG_MAX_ENCODED];
    size_t n = prog_encode(p, buf, sizeof buf);
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/seed-%s-%d-%d-%u", dir, type, i, j,
             delta);
    FILE *f = fopen(path, "wb");
    if (f == NULL || fwrite(buf, 1, n, f) != n) {
        fprintf(stderr, "ftfuzz: cannot write %s: %s\n", path,
                strerror(errno));
        if (f)
            fclose(f);
        return -1;
    }
    fclose(f);
    return 0;
}

int
spec_write_seeds(const char *dir, uint32_t kind_base, unsigned sweep)
{
    int written = 0;
    for (int t = 0; t < ntypes; t++) {
        int nops = types[t].nops;
        for (int i = 0; i < nops; i++)
            for (int j = 0; j < nops; j++) {
                int apart = (j - i + nops) % nops;
                if (nops > 6 && apart > 2 && apart < nops - 2)
                    continue;
                prog_program p;
                prog_init(&p);
                p.nobjects = 1;
                p.objects[0] = (prog_object){kind_base + (uint32_t)t, 3, 0};
                p.nthreads = 2;
                p.threads[0].nops = p.threads[1].nops = 1;
                p.threads[0].ops[0] = (prog_op){(uint32_t)i, 0, 0, 1};
                p.threads[1].ops[0] = (prog_op){(uint32_t)j, 0, 0, 2};
                p.schedule.strategy = PROG_SCHED_BYTES_OPS;
                for (unsigned d = 0; d <= SPEC_SWEEP_END;
                     d += sweep ? sweep : SPEC_SWEEP_END + 1) {
                    /* one preemption d points in, to the other thread */
                    size_t len = 0;
                    if (d)
                        ftfuzz_bytes_write(p.schedule.bytes,
                                           sizeof p.schedule.bytes, &len, d,
                                           1);
                    p.schedule.nbytes = (uint32_t)len;
                    if (spec_write_seed(dir, &p, types[t].name, i, j, d))
                        return -1;
                    written++;
                }
            }
    }
    return written;
}
