/*
 * The CPython harness: runs one decoded program on the embedded
 * free-threaded interpreter under the scheduler.  Private to harnesses/.
 *
 * Data path, in order: fuzz input -> prog_decode (fuzz/program.c) ->
 * harness_run: shared objects (harness_make_objects, each by its kind's
 * make) -> one real Python thread per thread body, started and joined by
 * _thread inside a scheduler session -> each body runs its operations
 * (its target's kind's exec) -> verdict.
 */
#ifndef FTFUZZ_HARNESS_H
#define FTFUZZ_HARNESS_H

#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include "ftfuzz/anchors.h"
#include "ftfuzz/env.h"
#include "ftfuzz/program.h"
#include "ftfuzz/sched.h"

/* Operation families: which object kinds a target creates
 * (include/ftfuzz/families.def). */
enum harness_family {
#define FTFUZZ_FAMILY_ROW(NAME, name, regress, help, ...) HARNESS_##NAME,
#include "ftfuzz/families.def"
#undef FTFUZZ_FAMILY_ROW
    HARNESS_FAMILY_COUNT
};

/* Initialises the interpreter once per process, with the spec `family`
 * needs; argv0 locates the stdlib when the build-time home is gone. */
void harness_init(const char *argv0, int family);

/* Runs one program (after a warm-up run when asked); returns the
 * scheduler's result. */
ftfuzz_sched_result harness_run(const prog_program *p, int family,
                                int warm_up);

/* Non-zero: sessions record reads-from pairs (FTFUZZ_IL_READS_FROM). */
extern int harness_reads_from;

/* The verdict of the finding that ended the execution (verdicts.def:
 * FTFUZZ_VERDICT_LINEARIZABILITY, _DEADLOCK, ...), 0 when none did: the
 * crash handler hands it to the result record with the signal. */
extern int harness_verdict;

/* --- linearizability.c ---------------------------------------------------------- */

/* Whether the oracle applies to p (small enough, every op atomic). */
int lin_applies(const prog_program *p, const int *kinds);

/* Before a checked execution: decides whether its results are kept. */
void lin_begin(const prog_program *p, const int *kinds);
int lin_recording(void);

/* Keeps what op `op` of thread `thread` returned: takes the reference, or
 * with NULL the exception set (clearing it). */
void lin_keep(unsigned thread, unsigned op, PyObject *result);

/* After a concurrent execution: 1 after printing the finding when no
 * sequential order explains the results and final states, else 0. */
int lin_check(const prog_program *p, int family, PyObject *const *objs,
              const int *kinds);

/* --- object kinds: ops.c (built-in) and spec.c (a spec's types) ------------ */

/*
 * Everything the harness does with an object goes through its kind's
 * entry, found once with harness_kind(): the built-in kinds
 * (PROG_LIST ... PROG_KIND_COUNT - 1) are ops.c's, the kinds a spec
 * declares (PROG_KIND_COUNT and up) spec.c's.  An op belongs to the kind
 * of its target, objs[op->target % nobjs]; nobjs is never 0 where an op
 * exists (the program format drops the ops of a program without objects).
 */
struct harness_kind {
    /* A new object of `kind` with `size` elements; an iterator iterates
     * over `source` (of source_kind) when it fits, and *over_source is
     * then 1. */
    PyObject *(*make)(int kind, uint32_t size, PyObject *source,
                      int source_kind, int *over_source);
    /* Runs op: a new reference, or NULL with the exception set.
     * sources[i] is the object iterator i iterates over, or -1. */
    PyObject *(*exec)(const prog_op *op, PyObject *const *objs, int kind,
                      const int *sources, uint32_t nobjs);
    /* After exec raised (the exception still set): a finding, which
     * aborts, when the kind says op must not raise; NULL: never one. */
    void (*raised)(const prog_op *op, int kind, uint32_t nobjs);
    /* Whether op is documented (or declared) atomic: the oracle's test. */
    int (*is_atomic)(const prog_op *op, int kind);
    /* op as Python, e.g. "o0.append(3)", for reports. */
    void (*describe)(const prog_op *op, int kind, uint32_t nobjs, char *buf,
                     size_t size);
    /* The object's construction as Python, e.g. "list(range(8))"; source
     * is the object an iterator iterates over, or -1. */
    void (*describe_object)(int kind, uint32_t size, int source, char *buf,
                            size_t size_buf);
    /* The object's state as text, which the oracle compares. */
    void (*state)(PyObject *obj, int kind, char *out, size_t size);
    /* The object's Python type name, e.g. "list_iterator", for reports. */
    const char *(*type_name)(int kind);
};

extern const struct harness_kind ops_builtin_kind;
extern const struct harness_kind spec_kind;

static inline const struct harness_kind *
harness_kind(int kind)
{
    return kind >= PROG_KIND_COUNT ? &spec_kind : &ops_builtin_kind;
}

/* Maps a program's object kind into the family. */
int harness_object_kind(int family, uint32_t kind);

/* Creates p's shared objects (new references). */
void harness_make_objects(const prog_program *p, int family, PyObject **objs,
                          int *kinds, int *sources);

/* Stops the process with a message (and the Python error, if any). */
void harness_die(const char *what);

/* repr(obj) into out; "!Type" when repr raised. */
void harness_repr(PyObject *obj, char *out, size_t size);

/* --- spec.c: extension types declared in a spec ---------------------------- */

/* Loads the built-in stdlib spec / the spec at path; exit 2 with a message
 * on any error in it. */
void spec_load_stdlib(void);
void spec_load_file(const char *path);

/* 1 when the spec loaded is a scenario (a .py file, docs/explore.md). */
int spec_is_scenario(void);

/* Types loaded: kinds PROG_KIND_COUNT .. PROG_KIND_COUNT + count - 1. */
int spec_count(void);
const char *spec_type_name(int kind);
int spec_op_count(int kind);

/* Python that recreates the spec's imports and prelude (for repro.py). */
const char *spec_preamble(void);

/* Runs the checks of the spec types among objs after an execution; a
 * failing one is a finding, which aborts. */
void spec_check(PyObject *const *objs, const int *kinds, uint32_t nobjs);

/* Seed inputs for the spec's types (kinds kind_base + type) into dir,
 * with one preemption every `sweep` points (0: none); the number written,
 * or -1 after a message. */
int spec_write_seeds(const char *dir, uint32_t kind_base, unsigned sweep);

/* --- report.c: report mode, for `ftfuzz replay` ----------------------------- */

/* Reads FTFUZZ_REPORT; report mode is off without it. */
void report_init(void);
/* FTFUZZ_WATCH: watch an object's reference count (report.c); in the
 * process that runs the execution, before it starts.  Hidden: with
 * -rdynamic every exported name grows the dynamic symbol table, which
 * moves the whole layout a page when it crosses one, and with it the
 * steps of the regression inputs. */
__attribute__((visibility("hidden"))) void report_watch_start(void);

/* Where the session's trace goes in report mode, or NULL. */
const char *report_trace_path(void);

/* Program thread `thread` starts on this thread. */
void report_thread_start(unsigned thread);

/* Op `op` of program thread `thread` starts / ends on this thread. */
void report_op_begin(unsigned thread, unsigned op);
void report_op_end(int raised);

/* Writes the report (and the trace); sig and frames for a crash. */
void report_write(const prog_program *p, const int *kinds,
                  const int *sources, int sig, void *const *frames,
                  int nframes);

/* From a crash handler: the report of the execution under way. */
void harness_report_crash(int sig, void *const *frames, int nframes);

#endif /* FTFUZZ_HARNESS_H */
