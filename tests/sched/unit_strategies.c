/* Unit checks of the strategies, driven directly through the strategy
 * interface with made-up decisions (no threads). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ftfuzz/sched.h"

#include "check.h"

static const unsigned two[] = { 0, 1 };
static const unsigned three[] = { 0, 1, 2 };

static ftfuzz_decision
decision(uint64_t step, unsigned current, int can, const unsigned *cand,
         unsigned n, unsigned nrunnable)
{
    ftfuzz_decision d = {
        .step = step, .current = current, .current_can_continue = can,
        .kind = FTFUZZ_POINT_ATOMIC_LOAD, .ncandidates = n,
        .nrunnable = nrunnable, .candidates = cand,
    };
    return d;
}

static void
test_bytes(void)
{
    /* delta 5 -> choice 1; delta 0x81 0x01 (= 129) -> choice 4; then a
     * truncated varint. */
    const uint8_t buf[] = { 5, 1, 0x81, 0x01, 4, 0x80 };
    ftfuzz_strategy *s = ftfuzz_strategy_bytes(buf, sizeof buf);
    uint64_t next = 0;
    ftfuzz_decision d = decision(1, 0, 1, two, 2, 2);
    CHECK(s->choose(s, &d, &next) == 0);    /* not due: stay on T0 */
    CHECK(next == 5);
    d = decision(5, 0, 1, two, 2, 2);
    CHECK(s->choose(s, &d, &next) == 1);    /* 1 % 2 */
    CHECK(next == 5 + 129);
    d = decision(134, 1, 1, three, 3, 3);
    CHECK(s->choose(s, &d, &next) == 1);    /* 4 % 3 */
    CHECK(next == UINT64_MAX);              /* truncated: exhausted */
    /* Exhausted: the current thread keeps running ... */
    d = decision(100000, 2, 1, three, 3, 3);
    CHECK(s->choose(s, &d, &next) == 2);
    /* ... and when it stops the turn goes round-robin by id. */
    const unsigned others[] = { 0, 1 };
    d = decision(100001, 2, 0, others, 2, 2);
    CHECK(s->choose(s, &d, &next) == 0);
    d = decision(100002, 0, 0, (const unsigned[]){ 1, 2 }, 2, 2);
    CHECK(s->choose(s, &d, &next) == 0);    /* T1 is next after T0 */
    /* Nothing runnable: the earliest timed waiter. */
    d = decision(100003, 0, 0, (const unsigned[]){ 2, 1 }, 2, 0);
    CHECK(s->choose(s, &d, &next) == 0);
    s->destroy(s);

    /* An empty buffer never preempts. */
    s = ftfuzz_strategy_bytes(NULL, 0);
    d = decision(1, 0, 1, two, 2, 2);
    CHECK(s->choose(s, &d, &next) == 0 && next == UINT64_MAX);
    char text[64];
    s->describe(s, text, sizeof text);
    CHECK(strcmp(text, "bytes:") == 0);
    s->destroy(s);
}

static void
test_pct(void)
{
    /* Depth 1: no change points; the same thread always wins. */
    ftfuzz_strategy *s = ftfuzz_strategy_pct(1, 100, 42);
    s->thread_started(s, 0);
    s->thread_started(s, 1);
    uint64_t next;
    ftfuzz_decision d = decision(1, 0, 1, two, 2, 2);
    unsigned first = s->choose(s, &d, &next);
    CHECK(next == UINT64_MAX);
    for (uint64_t step = 2; step < 50; step++) {
        d = decision(step, two[first], 1, two, 2, 2);
        CHECK(s->choose(s, &d, &next) == first);
    }
    /* A yield drops the winner below the other thread. */
    s->yielded(s, two[first]);
    d = decision(50, two[first], 1, two, 2, 2);
    CHECK(s->choose(s, &d, &next) == 1 - first);
    s->destroy(s);

    /* Depth 3 has two change points within [1, k]. */
    s = ftfuzz_strategy_pct(3, 10, 7);
    s->thread_started(s, 0);
    d = decision(0, 0, 1, two, 1, 1);
    s->choose(s, &d, &next);
    CHECK(next >= 1 && next <= 10);
    s->destroy(s);
}

/* The change point of depth 2 after a mark at step 1000, as an offset. */
static uint64_t
first_change(ftfuzz_strategy *s)
{
    uint64_t at = s->marked(s, 1000) - 1000;
    s->destroy(s);
    return at;
}

static void
test_pct_log(void)
{
    /* pctlog@mark: as many change points in each power of two of [1, k];
     * uniform pct@mark puts almost none in the first thousandth. */
    const uint64_t k = 1u << 20;
    int near_log = 0, near_uniform = 0, in_range = 1;
    int buckets[21] = {0};
    for (uint64_t seed = 0; seed < 2100; seed++) {
        uint64_t a = first_change(ftfuzz_strategy_pct_log_from_mark(2, k,
                                                                    seed));
        uint64_t b = first_change(ftfuzz_strategy_pct_from_mark(2, k, seed));
        in_range &= a >= 1 && a <= k && b >= 1 && b <= k;
        near_log += a < 1024;
        near_uniform += b < 1024;
        unsigned bit = 0;
        while ((2ull << bit) <= a)
            bit++;
        buckets[bit]++;
        /* the same seed, the same point */
        CHECK(first_change(ftfuzz_strategy_pct_log_from_mark(2, k, seed))
              == a);
    }
    CHECK(in_range);
    /* 10 of the 21 powers of two lie below 1024: about 1,000 of 2,100 */
    CHECK(near_log > 800 && near_log < 1200);
    CHECK(near_uniform < 10);
    for (int b = 0; b <= 20; b++)
        CHECK(buckets[b] > 40 && buckets[b] < 200);
    char text[96];
    ftfuzz_strategy *s = ftfuzz_strategy_pct_log_from_mark(3, 500, 9);
    s->describe(s, text, sizeof text);
    CHECK(strcmp(text, "pctlog@mark:3:k=500 seed=9") == 0);
    /* k = 1: the only point there is */
    CHECK(first_change(ftfuzz_strategy_pct_log_from_mark(2, 1, 3)) == 1);
    s->destroy(s);

    /* Whole-run pctlog (ftfuzz explore on a program): the same points,
     * counted from step 0 instead of the mark. */
    for (uint64_t seed = 0; seed < 50; seed++) {
        s = ftfuzz_strategy_pct_log(2, k, seed);
        s->thread_started(s, 0);
        uint64_t next;
        ftfuzz_decision d = decision(0, 0, 1, (const unsigned[]){0}, 1, 1);
        s->choose(s, &d, &next);
        CHECK(next == first_change(ftfuzz_strategy_pct_log_from_mark(2, k,
                                                                     seed)));
        s->destroy(s);
    }
    s = ftfuzz_strategy_pct_log(3, 500, 9);
    s->describe(s, text, sizeof text);
    CHECK(strcmp(text, "pctlog:3:k=500 seed=9") == 0);
    s->destroy(s);
}

static void
test_parse(void)
{
    char err[512];
    const char *good[] = { "pct:3", "pct:2:k=100", "pctlog:3",
                           "pctlog:2:k=100", "random", "random:0.5",
                           "bytes:0a01", "bytes:" };
    /* what each recreates itself as (seed 1; pct's k defaults to 20000) */
    const char *described[] = { "pct:3:k=20000 seed=1", "pct:2:k=100 seed=1",
                                "pctlog:3:k=20000 seed=1",
                                "pctlog:2:k=100 seed=1", NULL, NULL, NULL,
                                NULL };
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        ftfuzz_strategy *s = ftfuzz_strategy_parse(good[i], 1, err, sizeof err);
        CHECK(s != NULL);
        if (s && described[i]) {
            char text[96];
            s->describe(s, text, sizeof text);
            CHECK(strcmp(text, described[i]) == 0);
        }
        if (s)
            s->destroy(s);
    }
    const char *bad[] = { "", "pct", "pct:0", "pct:x", "pct:3:k=0",
                          "pctlog", "pctlog:0", "pctlog:65", "pctlog:2:k=0",
                          "random:2", "random:x", "bytes:0", "bytes:zz",
                          "replay:", "nonsense" };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        err[0] = 0;
        ftfuzz_strategy *s = ftfuzz_strategy_parse(bad[i], 1, err, sizeof err);
        CHECK(s == NULL && err[0] != 0);
    }
    /* The parsed form, which the harnesses and the CLI map themselves. */
    ftfuzz_strategy_spec spec;
    CHECK(ftfuzz_strategy_spec_parse("pctlog:3:k=70", &spec, err,
                                     sizeof err) == 0
          && spec.kind == FTFUZZ_STRATEGY_PCT_LOG && spec.depth == 3
          && spec.k == 70);
    CHECK(ftfuzz_strategy_spec_parse("pct:2", &spec, err, sizeof err) == 0
          && spec.kind == FTFUZZ_STRATEGY_PCT && spec.depth == 2
          && spec.k == 0);
    CHECK(ftfuzz_strategy_spec_parse("random", &spec, err, sizeof err) == 0
          && spec.kind == FTFUZZ_STRATEGY_RANDOM && spec.p == 0);
    CHECK(ftfuzz_strategy_spec_parse("random:0.25", &spec, err,
                                     sizeof err) == 0
          && spec.p == 0.25);
    CHECK(ftfuzz_strategy_spec_parse("replay:t.trace", &spec, err,
                                     sizeof err) == 0
          && spec.kind == FTFUZZ_STRATEGY_REPLAY
          && !strcmp(spec.arg, "t.trace"));
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        if (!strncmp(bad[i], "bytes:", 6))
            continue;   /* bad hex is the constructor's to find */
        err[0] = 0;
        CHECK(ftfuzz_strategy_spec_parse(bad[i], &spec, err, sizeof err)
                  == -1
              && strstr(err, bad[i]) != NULL);
    }
    /* Malformed and truncated traces are refused with a message. */
    FILE *f = fopen("/tmp/ftfuzz-unit-bad.trace", "w");
    fputs("ftfuzz-trace 1\nsteps 10\nswitch 5 0 9 no_such_kind 0 x\n", f);
    fclose(f);
    CHECK(ftfuzz_strategy_replay("/tmp/ftfuzz-unit-bad.trace", err, sizeof err) == NULL);
    CHECK(strstr(err, "malformed") != NULL);
    f = fopen("/tmp/ftfuzz-unit-bad.trace", "w");
    fputs("ftfuzz-trace 1\nswitch 5 0 1 atomic_load 0 x\n", f);
    fclose(f);
    CHECK(ftfuzz_strategy_replay("/tmp/ftfuzz-unit-bad.trace", err, sizeof err) == NULL);
    CHECK(strstr(err, "truncated") != NULL);
    f = fopen("/tmp/ftfuzz-unit-bad.trace", "w");
    fputs("GIF89a\n", f);
    fclose(f);
    CHECK(ftfuzz_strategy_replay("/tmp/ftfuzz-unit-bad.trace", err, sizeof err) == NULL);
    CHECK(strstr(err, "not an ftfuzz trace") != NULL);
    remove("/tmp/ftfuzz-unit-bad.trace");
    CHECK(ftfuzz_strategy_replay("/nonexistent/t", err, sizeof err) == NULL);
}

int
main(void)
{
    test_bytes();
    test_pct();
    test_pct_log();
    test_parse();
    printf("%d checks, %d failed\n", checks, failures);
    return failures != 0;
}
