/*
 * The strategy grammar, parsed in this one place: "pct:D[:k=K]",
 * "pctlog:D[:k=K]", "random[:P]", "bytes:HEX", "bytes:@FILE",
 * "replay:FILE".  It only reads text, so the CLI links it on its own (it
 * runs no session) and the harnesses map its result onto their program
 * format; ftfuzz_strategy_parse (strategy_common.c) builds a strategy from
 * it.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ftfuzz/sched.h"

#define PCT_MAX_DEPTH 64

FTFUZZ_EXPORT int
ftfuzz_strategy_spec_parse(const char *text, ftfuzz_strategy_spec *out,
                           char *err, size_t errsize)
{
    const char *colon = strchr(text, ':');
    size_t nlen = colon ? (size_t)(colon - text) : strlen(text);
    const char *rest = colon ? colon + 1 : "";
    memset(out, 0, sizeof *out);
    out->arg = rest;

    if ((nlen == 3 && !strncmp(text, "pct", 3))
        || (nlen == 6 && !strncmp(text, "pctlog", 6))) {
        char *end;
        errno = 0;
        unsigned long d = rest[0] >= '0' && rest[0] <= '9'
                              ? strtoul(rest, &end, 10) : 0;
        if (d < 1 || d > PCT_MAX_DEPTH || errno) {
            snprintf(err, errsize, "bad strategy '%s': D must be a number "
                     "in 1..%d (pct:D[:k=K])", text, PCT_MAX_DEPTH);
            return -1;
        }
        out->kind = nlen == 3 ? FTFUZZ_STRATEGY_PCT : FTFUZZ_STRATEGY_PCT_LOG;
        out->depth = (unsigned)d;
        if (*end == ':' && !strncmp(end + 1, "k=", 2)) {
            const char *ks = end + 3;
            errno = 0;
            out->k = ks[0] >= '0' && ks[0] <= '9' ? strtoull(ks, &end, 10)
                                                  : 0;
            if (out->k == 0 || errno) {
                snprintf(err, errsize, "bad strategy '%s': k must be a "
                         "number, at least 1", text);
                return -1;
            }
        }
        if (*end) {
            snprintf(err, errsize, "bad strategy '%s': unexpected '%s' "
                     "(pct:D[:k=K])", text, end);
            return -1;
        }
        return 0;
    }
    if (nlen == 6 && !strncmp(text, "random", 6)) {
        out->kind = FTFUZZ_STRATEGY_RANDOM;
        if (colon) {
            char *end;
            out->p = strtod(rest, &end);
            if (end == rest || *end || !(out->p > 0 && out->p <= 1)) {
                snprintf(err, errsize, "bad strategy '%s': P must be a "
                         "number in 0..1, above 0 (random[:P])", text);
                return -1;
            }
        }
        return 0;
    }
    if (nlen == 5 && !strncmp(text, "bytes", 5) && colon) {
        out->kind = FTFUZZ_STRATEGY_BYTES;
        return 0;
    }
    if (nlen == 6 && !strncmp(text, "replay", 6) && *rest) {
        out->kind = FTFUZZ_STRATEGY_REPLAY;
        return 0;
    }
    snprintf(err, errsize,
             "bad strategy '%s': expected pct:D[:k=K] or pctlog:D[:k=K] "
             "(1 <= D <= %d), random[:P] (0 < P <= 1), bytes:HEX, "
             "bytes:@FILE or replay:FILE", text, PCT_MAX_DEPTH);
    return -1;
}
