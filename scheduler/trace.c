/*
 * The trace: every switch of a session, its 64-bit hash, and the trace file
 * that the replay strategy executes.
 *
 * The hash covers each switch's step, threads, point kind and flags, then
 * the session's final step count; it leaves out call-site addresses, which
 * depend on where the program was loaded.  Two runs with the same hash took
 * the same switches at the same points and ran equally long.
 *
 * The trace file's format is include/ftfuzz/trace_file.h's, the one codec
 * (docs/scheduler.md describes the fields).
 */
#include <dlfcn.h>
#include <execinfo.h>
#include <stdio.h>
#include <string.h>

#include "sched_internal.h"

static struct sched_switch *trace;
static size_t trace_len, trace_cap;
static uint64_t trace_hash;

#define TRACE_HASH_SEED 0xcbf29ce484222325ull

void
sched_trace_reset(void)
{
    trace_len = 0;
    trace_hash = TRACE_HASH_SEED;
}

void
sched_trace_record(const struct sched_thread *self, uint64_t step,
                   unsigned to, int kind, int flags, const void *site,
                   int want_callers)
{
    /* from and to take 16 bits each (static asserts in sched_internal.h) */
    unsigned from = self->id;
    trace_hash = sched_mix64(trace_hash ^ step);
    uint64_t what = (uint64_t)from | (uint64_t)to << 16
                    | (uint64_t)kind << 32
                    | (uint64_t)(flags & FTFUZZ_TRACE_TIMEOUT) << 40;
    trace_hash = sched_mix64(trace_hash ^ what);
    if (trace_len == trace_cap) {
        size_t cap = trace_cap ? trace_cap * 2 : 1024;
        trace = sched_mem_realloc(trace, cap * sizeof *trace);
        trace_cap = cap;
    }
    struct sched_switch *sw = &trace[trace_len++];
    *sw = (struct sched_switch){
        .step = step, .from = (uint16_t)from, .to = (uint16_t)to,
        .kind = (uint8_t)kind, .flags = (uint32_t)flags, .site = site,
        .region = self->region, .region_point = self->region_points,
    };
    if (want_callers) {
        /* The scheduler's own frames are included; readers skip them. */
        int n = backtrace((void **)sw->callers, FTFUZZ_TRACE_CALLERS);
        sw->ncallers = (uint8_t)(n > 0 ? n : 0);
    }
}

uint64_t
sched_trace_final_hash(void)
{
    return sched_mix64(trace_hash ^ sched_mix64(ftfuzz_sched_step));
}

size_t
sched_trace_count(void)
{
    return trace_len;
}

const struct sched_switch *
sched_trace_at(size_t i)
{
    return i < trace_len ? &trace[i] : NULL;
}

/* A code address as MODULE+0xOFFSET. */
static struct ftfuzz_trace_site
trace_site(const void *pc)
{
    Dl_info info;
    struct ftfuzz_trace_site s = {"?", (unsigned long)(uintptr_t)pc};
    if (pc && dladdr(pc, &info) && info.dli_fname) {
        s.module = info.dli_fname;
        s.offset -= (unsigned long)(uintptr_t)info.dli_fbase;
    }
    return s;
}

/* Appends what the codec's writer `fn` makes of *rec, growing the buffer
 * until it fits. */
#define TRACE_APPEND(fn, rec)                                               \
    for (;;) {                                                              \
        size_t room_ = cap - len;                                           \
        size_t n_ = fn(buf ? buf + len : NULL, room_, rec);                 \
        if (n_ < room_) {                                                   \
            len += n_;                                                      \
            break;                                                          \
        }                                                                   \
        cap = (cap ? cap * 2 : 4096) + n_;                                  \
        buf = sched_mem_realloc(buf, cap);                                  \
    }

/* Built in the runtime's memory and written with write(2): this runs in
 * crash handlers too, where the program's heap may be broken. */
FTFUZZ_EXPORT int
ftfuzz_sched_write_trace(const char *path)
{
    char *buf = NULL;
    size_t len = 0, cap = 0;
    struct ftfuzz_trace_header h = {
        .strategy = sched.strategy_text,
        .steps = ftfuzz_sched_step,
        .hash = sched_trace_final_hash(),
    };
    TRACE_APPEND(ftfuzz_trace_write_header, &h);
    for (size_t i = 0; i < trace_len; i++) {
        const struct sched_switch *sw = &trace[i];
        struct ftfuzz_trace_switch line = {
            .step = sw->step, .from = sw->from, .to = sw->to,
            .kind = ftfuzz_point_kind_name(sw->kind), .flags = sw->flags,
            .site = trace_site(sw->site), .ncallers = sw->ncallers,
        };
        for (unsigned k = 0; k < sw->ncallers; k++)
            line.callers[k] = trace_site(sw->callers[k]);
        TRACE_APPEND(ftfuzz_trace_write_switch, &line);
        /* the same switch named by where it is in `from`'s program */
        struct ftfuzz_trace_anchor a = {
            .from = sw->from, .region = sw->region,
            .point = sw->region_point, .to = sw->to,
        };
        TRACE_APPEND(ftfuzz_trace_write_anchor, &a);
    }
    int rc = sched_write_file(path, buf, len);
    sched_mem_free(buf);
    return rc;
}

static void
il_bump(uint8_t *counters, size_t n, uint64_t h)
{
    uint8_t *c = &counters[sched_mix64(h) % n];
    if (*c != UINT8_MAX)
        (*c)++;
}

FTFUZZ_EXPORT void
ftfuzz_sched_interleaving(uint8_t *counters, size_t n, unsigned features)
{
    if (!counters || n == 0 || !features)
        return;
    if (features & FTFUZZ_IL_READS_FROM)
        sched_rf_fold(counters, n);
    /* where each thread stopped last; a thread that never ran resumes at
     * its start, the same token for all */
    uintptr_t stopped[FTFUZZ_SCHED_MAX_THREADS] = {0};
    uint64_t from = sched.marked ? sched.mark_step : 0;
    uint64_t prev = 0;
    for (size_t i = 0; i < trace_len; i++) {
        const struct sched_switch *sw = &trace[i];
        uintptr_t site = (uintptr_t)sw->site;
        uintptr_t resumed = sw->to < FTFUZZ_SCHED_MAX_THREADS
                                ? stopped[sw->to] : 0;
        if (sw->from < FTFUZZ_SCHED_MAX_THREADS)
            stopped[sw->from] = site;
        if (sw->step < from)
            continue;
        if (!(features & (FTFUZZ_IL_SITES | FTFUZZ_IL_CHAINS)))
            break;
        if ((features & FTFUZZ_IL_PREEMPTIONS)
            && !(sw->flags & FTFUZZ_TRACE_PREEMPT))
            continue;
        uint64_t pair = sched_site_pair(site, resumed);
        if (features & FTFUZZ_IL_SITES)
            il_bump(counters, n, pair);
        if ((features & FTFUZZ_IL_CHAINS) && prev)
            il_bump(counters, n, prev * 31 + pair);
        prev = pair;
    }
}
