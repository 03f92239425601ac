/*
 * The trace: every switch of a session, its 64-bit hash, and the trace file
 * that the replay strategy executes.
 *
 * The hash covers each switch's step, threads, point kind and flags, then
 * the session's final step count; it leaves out call-site addresses, which
 * depend on where the program was loaded.  Two runs with the same hash took
 * the same switches at the same points and ran equally long.
 *
 * File format (text, one record per line, see docs/scheduler.md):
 *   ftfuzz-trace 1
 *   strategy pct:3:k=20000:seed=7
 *   steps 1234
 *   hash 0x0123456789abcdef
 *   switch STEP FROM TO KIND FLAGS SITE [CALLER ...]
 *   anchor FROM REGION POINT TO
 * (anchor: the switch just above as an ftfuzz_anchor, the POINT-th point
 * of FROM in its REGION, see ftfuzz_sched_region; CALLER: the switching thread's stack, innermost first, scheduler frames
 * included, when the session was opened with trace_callers.)
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
                    | (uint64_t)(flags & SCHED_SWITCH_TIMEOUT) << 40;
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

/* Appends " MODULE+0xOFFSET" for a code address. */
static void
trace_append_site(char **buf, size_t *len, size_t *cap, const void *pc)
{
    Dl_info info;
    const char *module = "?";
    uintptr_t off = (uintptr_t)pc;
    if (pc && dladdr(pc, &info) && info.dli_fname) {
        module = info.dli_fname;
        off -= (uintptr_t)info.dli_fbase;
    }
    sched_report_append(buf, len, cap, " %s+0x%lx", module,
                        (unsigned long)off);
}

/* Built in the runtime's memory and written with write(2): this runs in
 * crash handlers too, where the program's heap may be broken. */
FTFUZZ_EXPORT int
ftfuzz_sched_write_trace(const char *path)
{
    char *buf = NULL;
    size_t len = 0, cap = 0;
    sched_report_append(&buf, &len, &cap,
                        "ftfuzz-trace 1\nstrategy %s\nsteps %llu\n"
                        "hash 0x%016llx\n",
                        sched.strategy_text,
                        (unsigned long long)ftfuzz_sched_step,
                        (unsigned long long)sched_trace_final_hash());
    for (size_t i = 0; i < trace_len; i++) {
        const struct sched_switch *sw = &trace[i];
        sched_report_append(&buf, &len, &cap, "switch %llu %u %u %s %u",
                            (unsigned long long)sw->step, sw->from, sw->to,
                            ftfuzz_point_kind_name(sw->kind), sw->flags);
        trace_append_site(&buf, &len, &cap, sw->site);
        for (unsigned k = 0; k < sw->ncallers; k++)
            trace_append_site(&buf, &len, &cap, sw->callers[k]);
        /* the same switch named by where it is in `from`'s program */
        sched_report_append(&buf, &len, &cap, "\nanchor %u %u %llu %u\n",
                            sw->from, sw->region,
                            (unsigned long long)sw->region_point, sw->to);
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
            && !(sw->flags & SCHED_SWITCH_PREEMPT))
            continue;
        uint64_t pair = sched_site_pair(site, resumed);
        if (features & FTFUZZ_IL_SITES)
            il_bump(counters, n, pair);
        if ((features & FTFUZZ_IL_CHAINS) && prev)
            il_bump(counters, n, prev * 31 + pair);
        prev = pair;
    }
}
