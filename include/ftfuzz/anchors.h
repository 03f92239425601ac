/*
 * The anchored schedule's codec: the one place that turns the `anchors`
 * strategy's schedule bytes (PROG_SCHED_ANCHORS) into anchors and back.
 *
 * Encoding: per anchor four LEB128 varints (each at most 5 bytes, a
 * uint32): THREAD, REGION, POINT, and TO * 2 + BLOCKED, meaning "at
 * THREAD's POINT-th scheduling point (from 1) in its REGION, the turn goes
 * to thread TO"; with BLOCKED, "at THREAD's next point in REGION where it
 * cannot go on (blocks, yields, exits)", POINT then only says where it was
 * when recorded.
 * Threads are the scheduler session's ids (0 the harness's main thread,
 * program thread k is k + 1, started in order); a harness thread's region
 * i + 1 is its operation i, region 0 its start before the first.  A
 * truncated anchor at the end is ignored.  docs/program-format.md has the
 * measurements behind the form.
 */
#ifndef FTFUZZ_ANCHORS_H
#define FTFUZZ_ANCHORS_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The same fields as the scheduler's ftfuzz_anchor (include/ftfuzz/sched.h),
 * which a program library does not link. */
typedef struct prog_anchor {
    uint32_t thread;
    uint32_t region;
    uint32_t point;
    uint32_t to;
    uint32_t blocked;   /* 0 or 1 */
} prog_anchor;

/* Most bytes one anchor takes. */
#define PROG_ANCHOR_MAX_BYTES 20

/* Decodes bytes[0..n) into out (at most max); returns the count. */
size_t prog_anchors_decode(const uint8_t *bytes, size_t n, prog_anchor *out,
                           size_t max);

/* Encodes a[0..n) into out (at most max bytes); returns the size, or
 * (size_t)-1 when they do not fit. */
size_t prog_anchors_encode(const prog_anchor *a, size_t n, uint8_t *out,
                           size_t max);

#ifdef __cplusplus
}
#endif

#endif /* FTFUZZ_ANCHORS_H */
