/*
 * Private to fuzz/cli/: what the ftfuzz command's files share, by module,
 * the lowest first (docs/architecture.md, the CLI's layers): each file
 * calls only the modules below its own.  One file per command (explore.c,
 * replay.c, fuzz.c, ...) above these, and main.c's dispatch above them.
 */
#ifndef FTFUZZ_CLI_H
#define FTFUZZ_CLI_H

#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#include "ftfuzz/anchors.h"
#include "ftfuzz/program.h"

/* --- flags.c: the command table, flag parsing --------------------------- */

/* The commands of commands.def (flags.c); main.c runs them. */
struct cmd {
    const char *name, *args, *summary;
};
extern const struct cmd commands[];
extern const size_t ncommands;

const struct cmd *find_cmd(const char *name);
void command_help(const struct cmd *c, FILE *f);
/* The value of a flag of `cmd` (its default when not given). */
const char *flag(const char *cmd, const char *name);
/* Index of the first argument after the flags, or -1 after an error. */
int parse_flags(const struct cmd *c, int argc, char **argv,
                int *saw_dashdash);
int parse_u64(const char *cmd, const char *name, uint64_t *out);

/* --- paths.c ------------------------------------------------------------ */

/* Where this ftfuzz finds its fuzz targets and its data (corpus/,
 * scripts/), from its own executable (paths.c), so that a copied or
 * installed ftfuzz works; and that executable's path. */
const char *cli_targets_dir(void);
const char *cli_data_dir(void);
const char *cli_self(void);
/* The path of fuzz target `name` (fuzz_list, ...): in --targets-dir of
 * `cmd` when given, else cli_targets_dir().  -1 after a message when it is
 * not built. */
int cli_target_path(const char *cmd, const char *name, char *path, size_t n);

/* --- util.c: what several commands use ---------------------------------- */

struct run_result {
    int exited, status, signal;    /* from waitpid */
    int have_result;               /* the result file was written */
    char verdict[32];
    unsigned long long hash, steps, switches;
};

/* Runs argv with extra "NAME=VALUE" entries (NULL-ended), output to log
 * (inherited when NULL); reads the result file result_path if given. */
int run_program(char **argv, const char *const *env, const char *log,
                const char *result_path, struct run_result *r);

/* The two halves of run_program, for callers that read the output. */
pid_t spawn(char **argv, const char *const *env, int out_fd);
int wait_program(pid_t pid, struct run_result *r);

/* Did r fail (expect_exit: a passing run's exit status), and how. */
int run_failed(const struct run_result *r, int expect_exit);
const char *describe_failure(const struct run_result *r, int expect_exit,
                             char *buf, size_t size);

double now_s(void);
int copy_file(const char *from, const char *to);
void print_file(const char *path, FILE *to);
/* path's contents, NUL-terminated; NULL when unreadable. */
char *slurp(const char *path, size_t *len);
void disable_aslr(void);
int make_dir(const char *dir);
int count_files(const char *dir, const char *prefix);

/* The fuzz targets' families: fuzz_<family> (include/ftfuzz/families.def). */
enum {
#define FTFUZZ_FAMILY_ROW(NAME, name, regress, help, ...) FTFUZZ_FAMILY_##NAME,
#include "ftfuzz/families.def"
#undef FTFUZZ_FAMILY_ROW
    FTFUZZ_NFAMILIES
};
extern const char *const families[FTFUZZ_NFAMILIES];

/* --spec FILE of `cmd`, else a `spec:` line of meta_file (relative to its
 * directory): puts the spec's absolute path in FTFUZZ_SPEC, for fuzz_spec
 * and the runs it starts.  1 when a spec was set, 0 when none was given,
 * -1 after a message when it cannot be read. */
int use_spec(const char *cmd, const char *meta_file);

/* The fuzz target binary for input: --target and --targets-dir of `cmd`,
 * else FILE.meta, FILE's fuzz_<family> directory, else fuzz_mixed.  -1
 * after a message when it is unknown or not built. */
int resolve_target(const char *cmd, const char *input, char *path,
                   size_t n, char *name, size_t nname, int quiet);

/* --- report.c: the replay report of a fuzz input ------------------------ */

/* `ftfuzz replay FILE`: a fuzz input (report.c). */
int replay_input(int argc, char **argv, int first);

struct replay_switch {
    unsigned long long step;
    unsigned from, to, flags;   /* flags as in the trace file */
    unsigned region;            /* the trace's anchor line: `from`'s */
    unsigned long long point;   /* region and point there */
};

/* What one execution of a fuzz input gave. */
struct replay_outcome {
    char verdict[32];            /* passed, crash, assertion, ... */
    char diagnosis[160];         /* CPython's, ftfuzz/diagnosis.h */
    int signal;
    unsigned long long hash, steps, switches;
    struct replay_switch *sw;    /* with_switches only; free() it */
    size_t nsw;
};

/* Runs input alone in a fresh process (dir: a scratch directory). */
int replay_run(const char *target, const char *input, const char *dir,
               int with_switches, struct replay_outcome *o);

/* What triage needs of one execution (report.c): the outcome with
 * CPython's diagnosis, the failing thread's C stack as function names
 * (innermost first, inlined frames included, the crash handler's own
 * frames dropped), and the program's objects and operations. */
#define REPLAY_MAX_FUNCS 64
struct replay_details {
    struct replay_outcome o;
    char funcs[REPLAY_MAX_FUNCS][128];
    unsigned nfuncs;
    unsigned nobjects;
    char object_kind[PROG_MAX_OBJECTS][32];
    unsigned nthreads;
    unsigned nops[PROG_MAX_THREADS];
    char op_py[PROG_MAX_THREADS][PROG_MAX_OPS][256];
};

int replay_details(const char *target, const char *input, const char *dir,
                   struct replay_details *d);

/* --- outcome.c: what minimize, reseed, anchor and search share ---------- */

/* Is every name of --expect's "V[,V...][:SIG]" a verdict?  0 after a
 * message that lists them. */
int known_verdicts(const char *cmd, const char *expect);

/* Most anchors a schedule holds: 4 bytes each at least. */
#define PROG_MAX_ANCHORS (PROG_MAX_SCHEDULE / 4)

struct minimizer {
    const char *target;
    char dir[64];            /* scratch directory */
    char cand[128];          /* candidate input path */
    struct replay_outcome want;
    unsigned runs;           /* executions so far */
};

int write_bytes(const char *path, const uint8_t *data, size_t size);
/* Does p still give m's verdict?  (*out: the outcome, when asked.) */
int still_fails(struct minimizer *m, const prog_program *p,
                int with_switches, struct replay_outcome *out);
const char *schedule_text(const prog_program *p, char *buf, size_t n);
/* p's schedule as the anchors a[0..n); -1 when they do not fit. */
int set_anchors(prog_program *p, const prog_anchor *a, size_t n);
/* Drops the anchors the verdict does not need; how many. */
unsigned drop_anchors(struct minimizer *m, prog_program *p);
/* p's schedule as the anchors of its own execution: 2 the same
 * execution, 1 the same verdict, 0 neither, -1 p lost the verdict. */
int anchor_schedule(struct minimizer *m, prog_program *p);
uint8_t *read_input(const char *path, size_t *size);
/* The candidates c[0..n) in one target process; *failed: the first that
 * died, or -1. */
int run_batch(struct minimizer *m, const prog_program *c, size_t n,
              int *failed);
/* anchor's and search's set-up (flags, target, scratch directory, the
 * decoded input; NULL after a message) and tear-down. */
prog_program *open_input(const char *cmd, int argc, char **argv,
                         struct minimizer *m, char *target, size_t ntarget,
                         const char **input);
void close_input(struct minimizer *m, prog_program *p);
int write_program(const char *cmd, const char *out, const prog_program *p);

/* A finding rewritten as anchors when that replays it identically
 * (explore, fuzz): 1 written to out, 0 not, -1 the target did not run. */
int anchor_finding(const char *target, const char *path, const char *out);

/* --- buckets.c: triage's buckets ---------------------------------------- */

/* `ftfuzz triage DIR`, also the end of `ftfuzz fuzz`: prints the bucket
 * table, writes DIR/triage.tsv.  0, or -1 after a message. */
int triage_dir(const char *dir, const char *target_name, int minimize);
/* The fuzz target binary for name (fuzz_mixed ...), or -1. */
int target_path(const char *name, char *path, size_t n);
/* The regression corpus: triage's --regressions, else the data
 * directory's. */
void regressions_dir(char *dir, size_t n);

#endif /* FTFUZZ_CLI_H */
