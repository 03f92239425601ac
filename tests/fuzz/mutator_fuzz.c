/*
 * libFuzzer smoke target for the structural mutator (tests/test_program.py).
 *
 * Every input libFuzzer runs here comes from the custom mutator or the
 * custom cross-over (or is one of libFuzzer's initial inputs: the empty
 * one, and "\n" when there is no corpus), so every one must be a valid,
 * decodable program whose encoding decodes to itself.
 *
 * With FTFUZZ_SMOKE_BUG=1 the target also crashes on a program that needs
 * structure to reach: three threads each with op code 42 on a deque, under
 * the pct strategy.  Finding it proves that the mutations work inside
 * libFuzzer, steered by coverage.
 */
#include <stdio.h>
#include <stdlib.h>

#include "ftfuzz/program.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
fail(const char *what)
{
    fprintf(stderr, "mutator_fuzz: %s\n", what);
    abort();
}

/* Threads with an op of code 42 on a deque (a kind that a target with the
 * built-in kinds maps to one: modulo PROG_KIND_COUNT). */
static int
threads_with_deque_op(const prog_program *p)
{
    int n = 0;
    for (uint32_t t = 0; t < p->nthreads; t++) {
        for (uint32_t i = 0; i < p->threads[t].nops; i++) {
            const prog_op *op = &p->threads[t].ops[i];
            if (op->code == 42 && p->objects[op->target].kind % PROG_KIND_COUNT == PROG_DEQUE) {
                n++;
                break;
            }
        }
    }
    return n;
}

/* Written at each step of structured_bug(), so that the compiler keeps one
 * branch per step and coverage rewards each. */
static volatile int bug_step;

static void
structured_bug(const prog_program *p)
{
    int n = threads_with_deque_op(p);
    if (n >= 1) {
        bug_step = 1;
        if (n >= 2) {
            bug_step = 2;
            if (n >= 3) {
                bug_step = 3;
                if (p->schedule.strategy == PROG_SCHED_PCT)
                    fail("FOUND the structured bug");
            }
        }
    }
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int bug_mode = -1;
    uint8_t buf[PROG_MAX_ENCODED];
    prog_program p, q;

    if (bug_mode < 0) {
        const char *e = getenv("FTFUZZ_SMOKE_BUG");
        bug_mode = e != NULL && e[0] == '1';
    }
    /* "\n" is libFuzzer's own first input when it has no corpus */
    int placeholder = size == 1 && data[0] == '\n';
    if (prog_decode(data, size, &p) != 0 && !placeholder)
        fail("an input that is not a program reached the target");
    if (!prog_valid(&p))
        fail("decoded an invalid program");
    size_t n = prog_encode(&p, buf, sizeof buf);
    if (prog_decode(buf, n, &q) != 0 || !prog_equal(&p, &q))
        fail("decode(encode(p)) != p");
    if (bug_mode)
        structured_bug(&p);
    return 0;
}
