/*
 * `ftfuzz replay`: a fuzz input (its report: report.c), or a C program's
 * trace re-executed (--trace FILE -- PROGRAM).
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "ftfuzz/trace_file.h"

/* --- replay ------------------------------------------------------------------ */

static int
read_trace_header(const char *path, unsigned long long *hash)
{
    char *text = slurp(path, NULL);
    if (!text) {
        fprintf(stderr, "ftfuzz replay: cannot open %s: %s\n", path,
                strerror(errno));
        return -1;
    }
    /* the whole file: a broken trace is refused before anything runs */
    struct ftfuzz_trace_reader rd;
    struct ftfuzz_trace_record rec;
    ftfuzz_trace_reader_init(&rd, path);
    int got = 0;
    for (char *pos = text; *pos && got >= 0;)
        if ((got = ftfuzz_trace_read(&rd, &pos, &rec)) > 0
            && rec.tag == FTFUZZ_TRACE_HASH)
            *hash = rec.hash;
    free(text);
    if (got < 0 || ftfuzz_trace_read_end(&rd) < 0) {
        fprintf(stderr, "ftfuzz replay: %s\n", rd.err);
        return -1;
    }
    return 0;
}

int
cmd_replay(int argc, char **argv)
{
    const struct cmd *c = find_cmd("replay");
    int dd;
    int first = parse_flags(c, argc, argv, &dd);
    if (first < 0)
        return 2;
    const char *trace = flag("replay", "--trace");
    if (!*trace && first < argc && !dd)
        return replay_input(argc, argv, first);
    if (!*trace) {
        fprintf(stderr, "ftfuzz replay: give a fuzz input FILE, or --trace "
                        "FILE -- PROGRAM\n");
        command_help(c, stderr);
        return 2;
    }
    if (first >= argc) {
        fprintf(stderr, "ftfuzz replay: no program given (after --)\n");
        return 2;
    }
    uint64_t times;
    if (parse_u64("replay", "--times", &times))
        return 2;
    if (times == 0)
        times = 1;
    int quiet = *flag("replay", "--quiet") != 0;
    unsigned long long want;
    if (read_trace_header(trace, &want))
        return 2;
    disable_aslr();

    char dir[] = "/tmp/ftfuzz-replay-XXXXXX";
    if (!mkdtemp(dir)) {
        perror("ftfuzz replay: mkdtemp");
        return 2;
    }
    char result[256], log[256], env_strategy[4200], env_result[300];
    snprintf(result, sizeof result, "%s/result", dir);
    snprintf(log, sizeof log, "%s/log", dir);
    snprintf(env_strategy, sizeof env_strategy, "FTFUZZ_STRATEGY=replay:%s",
             trace);
    snprintf(env_result, sizeof env_result, "FTFUZZ_RESULT=%s", result);
    const char *env[] = { env_strategy, env_result, "FTFUZZ_QUIET=1", NULL };
    char **prog = argv + first;
    uint64_t same = 0;
    char first_verdict[64] = "";
    int rc = 0;
    for (uint64_t i = 0; i < times; i++) {
        struct run_result r;
        if (run_program(prog, env, log, result, &r) != 0) {
            rc = 2;
            break;
        }
        char why[256];
        const char *verdict = run_failed(&r, 0)
                                  ? describe_failure(&r, 0, why, sizeof why)
                                  : "passed";
        if (i == 0) {
            snprintf(first_verdict, sizeof first_verdict, "%s", verdict);
            if (!quiet) {
                printf("---- program output ----\n");
                fflush(stdout);
                print_file(log, stdout);
                printf("----\n");
            }
        }
        if (r.have_result && !strcmp(r.verdict, "diverged")) {
            printf("replay: run %llu DIVERGED from the trace\n",
                   (unsigned long long)i + 1);
            if (i > 0 || quiet)
                print_file(log, stdout);
            rc = 1;
            break;
        }
        if (r.have_result && r.hash == want)
            same++;
        else if (!quiet)
            printf("replay: run %llu: %s, hash 0x%016llx (trace: "
                   "0x%016llx)\n",
                   (unsigned long long)i + 1, verdict, r.hash, want);
    }
    if (rc == 0) {
        printf("replay: %s, trace hash 0x%016llx in %llu of %llu runs\n",
               first_verdict, want, (unsigned long long)same,
               (unsigned long long)times);
        rc = same == times ? 0 : 1;
    }
    unlink(result);
    unlink(log);
    rmdir(dir);
    return rc;
}
