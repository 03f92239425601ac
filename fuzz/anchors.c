/*
 * The anchored schedule's codec (include/ftfuzz/anchors.h): the only
 * reader and writer of PROG_SCHED_ANCHORS bytes.
 */
#include "ftfuzz/anchors.h"

static int
get_varint(const uint8_t *b, size_t n, size_t *pos, uint32_t *v)
{
    uint64_t x = 0;
    for (int i = 0; i < 5; i++) {
        if (*pos >= n)
            return -1;
        uint8_t c = b[(*pos)++];
        x |= (uint64_t)(c & 0x7f) << (7 * i);
        if (!(c & 0x80)) {
            *v = (uint32_t)x;
            return 0;
        }
    }
    return -1;   /* longer than a uint32: the rest is not anchors */
}

static int
put_varint(uint8_t *out, size_t max, size_t *pos, uint32_t v)
{
    do {
        if (*pos >= max)
            return -1;
        uint8_t c = v & 0x7f;
        v >>= 7;
        out[(*pos)++] = (uint8_t)(c | (v ? 0x80 : 0));
    } while (v);
    return 0;
}

size_t
prog_anchors_decode(const uint8_t *bytes, size_t n, prog_anchor *out,
                    size_t max)
{
    size_t pos = 0, k = 0;
    while (k < max) {
        prog_anchor a;
        if (get_varint(bytes, n, &pos, &a.thread)
            || get_varint(bytes, n, &pos, &a.region)
            || get_varint(bytes, n, &pos, &a.point)
            || get_varint(bytes, n, &pos, &a.to))
            break;
        a.blocked = a.to & 1;
        a.to >>= 1;
        out[k++] = a;
    }
    return k;
}

size_t
prog_anchors_encode(const prog_anchor *a, size_t n, uint8_t *out, size_t max)
{
    size_t pos = 0;
    for (size_t i = 0; i < n; i++)
        if (put_varint(out, max, &pos, a[i].thread)
            || put_varint(out, max, &pos, a[i].region)
            || put_varint(out, max, &pos, a[i].point)
            || a[i].to > UINT32_MAX / 2
            || put_varint(out, max, &pos, a[i].to << 1 | (a[i].blocked & 1)))
            return (size_t)-1;
    return pos;
}
