/*
 * What the strategies share: a seeded generator, and the constructor of a
 * strategy from its spec ("pct:3:k=2000", "pctlog:3", "random:0.05",
 * "bytes:0a01", "replay:FILE"; the grammar is strategy_parse.c's).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sched_internal.h"

/* splitmix64: small, fast, and the same on every machine. */
uint64_t
sched_rng_next(uint64_t *state)
{
    return sched_mix64(*state += 0x9e3779b97f4a7c15ull);
}

/* Uniform in [0, 1). */
double
sched_rng_unit(uint64_t *state)
{
    return (double)(sched_rng_next(state) >> 11) * 0x1.0p-53;
}

static int
parse_hex(const char *s, uint8_t **out, size_t *len)
{
    size_t n = strlen(s);
    if (n % 2)
        return -1;
    uint8_t *buf = malloc(n / 2 + 1);
    for (size_t i = 0; i < n / 2; i++) {
        unsigned v;
        if (sscanf(s + 2 * i, "%2x", &v) != 1) {
            free(buf);
            return -1;
        }
        buf[i] = (uint8_t)v;
    }
    *out = buf;
    *len = n / 2;
    return 0;
}

static int
read_file(const char *path, uint8_t **out, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return -1;
    size_t cap = 4096, n = 0;
    uint8_t *buf = malloc(cap);
    size_t got;
    while ((got = fread(buf + n, 1, cap - n, f)) > 0) {
        n += got;
        if (n == cap)
            buf = realloc(buf, cap *= 2);
    }
    fclose(f);
    *out = buf;
    *len = n;
    return 0;
}

FTFUZZ_EXPORT ftfuzz_strategy *
ftfuzz_strategy_parse(const char *text, uint64_t seed, char *err,
                      size_t errsize)
{
    ftfuzz_strategy_spec spec;
    if (ftfuzz_strategy_spec_parse(text, &spec, err, errsize))
        return NULL;
    switch (spec.kind) {
    case FTFUZZ_STRATEGY_PCT:
        return ftfuzz_strategy_pct(spec.depth, spec.k, seed);
    case FTFUZZ_STRATEGY_PCT_LOG:
        return ftfuzz_strategy_pct_log(spec.depth, spec.k, seed);
    case FTFUZZ_STRATEGY_RANDOM:
        return ftfuzz_strategy_random(spec.p > 0 ? spec.p : 0.02, seed);
    case FTFUZZ_STRATEGY_BYTES: {
        uint8_t *data = NULL;
        size_t len = 0;
        if (spec.arg[0] == '@') {
            if (read_file(spec.arg + 1, &data, &len)) {
                snprintf(err, errsize, "cannot read %s: %s", spec.arg + 1,
                         strerror(errno));
                return NULL;
            }
        } else if (parse_hex(spec.arg, &data, &len)) {
            snprintf(err, errsize, "bad strategy '%s': not an even number "
                     "of hex digits (bytes:HEX)", text);
            return NULL;
        }
        ftfuzz_strategy *s = ftfuzz_strategy_bytes(data, len);
        free(data);
        return s;
    }
    case FTFUZZ_STRATEGY_REPLAY:
        return ftfuzz_strategy_replay(spec.arg, err, errsize);
    }
    return NULL;
}
