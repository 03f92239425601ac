/*
 * The CPython harness: runs one decoded program on the embedded
 * free-threaded interpreter under the scheduler.  Private to harnesses/.
 *
 * Data path, in order: fuzz input -> prog_decode (fuzz/program.c) ->
 * harness_run: shared objects (ops_make_object) -> one real Python thread
 * per thread body, started and joined by _thread inside a scheduler
 * session -> each body runs its operations (ops_exec) -> verdict.
 */
#ifndef FTFUZZ_HARNESS_H
#define FTFUZZ_HARNESS_H

#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include "ftfuzz/program.h"
#include "ftfuzz/sched.h"

/* Operation families: which object kinds a target creates. */
enum harness_family {
    HARNESS_LIST,
    HARNESS_DICT,
    HARNESS_SET,
    HARNESS_BYTEARRAY,
    HARNESS_DEQUE,
    HARNESS_ITER,
    HARNESS_MIXED,
    /* the stdlib's extension types (harnesses/specs/stdlib.toml) */
    HARNESS_EXT,
    /* the types of the user's spec, FTFUZZ_SPEC */
    HARNESS_SPEC,
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

/* Maps a program's object kind into the family. */
int harness_object_kind(int family, uint32_t kind);

/* Creates p's shared objects (new references). */
void harness_make_objects(const prog_program *p, int family, PyObject **objs,
                          int *kinds, int *sources);

/* What ended the execution, when a finding did ("linearizability",
 * "deadlock", ...): the crash handler reports it with the signal. */
extern const char *harness_finding;

/* --- linearizability.c ---------------------------------------------------------- */

/* Whether the oracle applies to p (small enough, every op atomic). */
int lin_applies(const prog_program *p, const int *kinds);

/* Before a checked execution: decides whether its results are kept. */
void lin_begin(const prog_program *p, const int *kinds);
int lin_recording(void);

/* Keeps what op `op` of thread `thread` returned: takes the reference, or
 * with NULL the exception set (clearing it). */
void lin_keep(unsigned thread, unsigned op, PyObject *result);

/* After a concurrent execution: aborts with a report when no sequential
 * order explains the results and final states. */
void lin_check(const prog_program *p, int family, PyObject *const *objs,
               const int *kinds);

/* --- ops.c ------------------------------------------------------------------- */

/* A new shared object of `kind` with `size` elements; iterators iterate
 * over `source` when it has the right type (*over_source is then 1). */
PyObject *ops_make_object(int kind, uint32_t size, PyObject *source,
                          int source_kind, int *over_source);

/* Runs op on objs; a new reference, or NULL with an exception set.
 * sources[i] is the object iterator i iterates over, or -1. */
PyObject *ops_exec(const prog_op *op, PyObject *const *objs,
                   const int *kinds, const int *sources, uint32_t nobjs);

/* Whether free-threaded CPython documents op as atomic. */
int ops_is_atomic(const prog_op *op, const int *kinds, uint32_t nobjs);

/* A shared object's construction, as Python, e.g. "list(range(8))";
 * source is the object an iterator iterates over, or -1. */
void ops_describe_object(int kind, uint32_t size, int source, char *buf,
                         size_t size_buf);

/* The operation an op runs, as Python, e.g. "o0.append(3)" (for reports). */
void ops_describe(const prog_op *op, const int *kinds, uint32_t nobjs,
                  char *buf, size_t size);

/* --- spec.c: extension types declared in a spec ---------------------------- */

/* Loads the built-in stdlib spec / the spec at path; exit 2 with a message
 * on any error in it. */
void spec_load_stdlib(void);
void spec_load_file(const char *path);

/* Types loaded: kinds PROG_KIND_COUNT .. PROG_KIND_COUNT + count - 1. */
int spec_count(void);
const char *spec_type_name(int kind);
int spec_op_count(int kind);

/* Python that recreates the spec's imports and prelude (for repro.py). */
const char *spec_preamble(void);

/* The ops.c entry points for spec kinds. */
PyObject *spec_exec(const prog_op *op, PyObject *const *objs, int kind,
                    uint32_t nobjs);
int spec_is_atomic(const prog_op *op, int kind);
/* An op raised (its exception is set): a finding, which aborts, when the
 * spec says it must not. */
void spec_raised(const prog_op *op, int kind, uint32_t nobjs);
/* Runs the checks of the spec types among objs after an execution; a
 * failing one is a finding, which aborts. */
void spec_check(PyObject *const *objs, const int *kinds, uint32_t nobjs);
PyObject *spec_make_object(int kind, uint32_t size, PyObject *source,
                           int *over_source);
void spec_describe(const prog_op *op, int kind, uint32_t nobjs, char *buf,
                   size_t size);
void spec_describe_object(int kind, uint32_t size, int source, char *buf,
                          size_t size_buf);

/* Seed inputs for the spec's types (kinds kind_base + type) into dir,
 * with one preemption every `sweep` points (0: none); the number written,
 * or -1 after a message. */
int spec_write_seeds(const char *dir, uint32_t kind_base, unsigned sweep);

/* A spec object's declared state, as text, for the linearizability
 * check. */
void spec_state_text(PyObject *obj, int kind, char *out, size_t size);

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
