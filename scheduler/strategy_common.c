/*
 * What the strategies share: a seeded generator, and the parser of strategy
 * specs ("pct:3:k=2000", "pctlog:3", "random:0.05", "bytes:0a01",
 * "replay:FILE").
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
    uint8_t *buf = sched_mem_alloc(n / 2 + 1);
    for (size_t i = 0; i < n / 2; i++) {
        unsigned v;
        if (sscanf(s + 2 * i, "%2x", &v) != 1) {
            sched_mem_free(buf);
            return -1;
        }
        buf[i] = (uint8_t)v;
    }
    *out = buf;
    *len = n / 2;
    return 0;
}

FTFUZZ_EXPORT ftfuzz_strategy *
ftfuzz_strategy_parse(const char *spec, uint64_t seed, char *err,
                      size_t errsize)
{
    char name[32];
    const char *colon = strchr(spec, ':');
    size_t nlen = colon ? (size_t)(colon - spec) : strlen(spec);
    const char *rest = colon ? colon + 1 : "";
    if (nlen >= sizeof name)
        nlen = sizeof name - 1;
    memcpy(name, spec, nlen);
    name[nlen] = 0;

    if (!strcmp(name, "pct") || !strcmp(name, "pctlog")) {
        char *end;
        errno = 0;
        unsigned long d = strtoul(rest, &end, 10);
        uint64_t k = 0;
        if (end == rest || errno || d < 1 || d > 64)
            goto bad;
        if (*end == ':' && !strncmp(end + 1, "k=", 2)) {
            const char *ks = end + 3;
            k = strtoull(ks, &end, 10);
            if (end == ks || k == 0)
                goto bad;
        }
        if (*end)
            goto bad;
        return name[3] ? ftfuzz_strategy_pct_log((unsigned)d, k, seed)
                       : ftfuzz_strategy_pct((unsigned)d, k, seed);
    }
    if (!strcmp(name, "random")) {
        double p = 0.02;
        if (*rest) {
            char *end;
            p = strtod(rest, &end);
            if (end == rest || *end || !(p > 0 && p <= 1))
                goto bad;
        }
        return ftfuzz_strategy_random(p, seed);
    }
    if (!strcmp(name, "bytes")) {
        uint8_t *data = NULL;
        size_t len = 0;
        if (rest[0] == '@') {
            data = (uint8_t *)sched_mem_read_file(rest + 1, &len);
            if (!data) {
                snprintf(err, errsize, "cannot read %s: %s", rest + 1,
                         strerror(errno));
                return NULL;
            }
        } else if (parse_hex(rest, &data, &len)) {
            goto bad;
        }
        ftfuzz_strategy *s = ftfuzz_strategy_bytes(data, len);
        sched_mem_free(data);
        return s;
    }
    if (!strcmp(name, "replay")) {
        if (!*rest)
            goto bad;
        return ftfuzz_strategy_replay(rest, err, errsize);
    }
bad:
    snprintf(err, errsize,
             "bad strategy '%s': expected pct:D[:k=K] or pctlog:D[:k=K] "
             "(1 <= D <= 64), "
             "random[:P] (0 < P <= 1), bytes:HEX, bytes:@FILE or "
             "replay:FILE",
             spec);
    return NULL;
}
