/*
 * The bytes schedule: the one codec of this part of the corpus format
 * (docs/program-format.md), used by the scheduler's bytes strategy, the
 * program library, the mutator, the minimizer and the spec's seeds.
 *
 * A schedule is a series of preemptions, each a DELTA and a CHOICE byte.
 * DELTA is a LEB128 varint of at most FTFUZZ_BYTES_DELTA_BYTES bytes: the
 * scheduling points after the previous preemption (0 counts as 1).  At
 * that point the turn goes to candidates[CHOICE % ncandidates].  Whatever
 * follows the last complete preemption is ignored, so every byte string
 * is a schedule.
 */
#ifndef FTFUZZ_SCHEDULE_BYTES_H
#define FTFUZZ_SCHEDULE_BYTES_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#ifdef __cplusplus
extern "C" {
#endif

#define FTFUZZ_BYTES_DELTA_BYTES 4
/* Every DELTA below this fits in FTFUZZ_BYTES_DELTA_BYTES bytes. */
#define FTFUZZ_BYTES_DELTA_LIMIT (1ull << (7 * FTFUZZ_BYTES_DELTA_BYTES))

/* Reads the preemption that starts at *pos: its DELTA as written (0 stays
 * 0) and CHOICE, and moves *pos past it.  0 (and *pos unchanged) when no
 * complete preemption starts there. */
static inline int
ftfuzz_bytes_read(const uint8_t *data, size_t size, size_t *pos,
                  uint64_t *delta, uint8_t *choice)
{
    uint64_t d = 0;
    size_t p = *pos;
    for (int i = 0;; i++) {
        if (p >= size || i == FTFUZZ_BYTES_DELTA_BYTES)
            return 0;
        uint8_t c = data[p++];
        d |= (uint64_t)(c & 0x7f) << (7 * i);
        if (!(c & 0x80))
            break;
    }
    if (p >= size)
        return 0;
    *choice = data[p++];
    *delta = d;
    *pos = p;
    return 1;
}

/* Appends one preemption at out[*pos] (the buffer holds cap bytes) and
 * moves *pos past it; 0 (and nothing written) when DELTA is at least
 * FTFUZZ_BYTES_DELTA_LIMIT or it does not fit. */
static inline int
ftfuzz_bytes_write(uint8_t *out, size_t cap, size_t *pos, uint64_t delta,
                   uint8_t choice)
{
    uint8_t tmp[FTFUZZ_BYTES_DELTA_BYTES + 1];
    size_t n = 0;
    if (delta >= FTFUZZ_BYTES_DELTA_LIMIT)
        return 0;
    do {
        uint8_t b = delta & 0x7f;
        delta >>= 7;
        tmp[n++] = (uint8_t)(b | (delta ? 0x80 : 0));
    } while (delta);
    tmp[n++] = choice;
    if (*pos > cap || cap - *pos < n)
        return 0;
    memcpy(out + *pos, tmp, n);
    *pos += n;
    return 1;
}

#ifdef __cplusplus
}
#endif

#endif /* FTFUZZ_SCHEDULE_BYTES_H */
