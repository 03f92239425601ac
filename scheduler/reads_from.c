/*
 * Reads-from pairs of atomic accesses, an interleaving feature after RFF
 * (Wolff et al., ASPLOS 2024): when a thread reads a location whose last
 * write was another thread's, the pair (site of the read, site of that
 * write) is one feature.  Two schedules through the same code that let a
 * load see different writers differ here, even when their switches fall on
 * the same sites.
 *
 * Only with ftfuzz_sched_config.reads_from: it needs a call at every atomic
 * point (core.c keeps ftfuzz_sched_next one step ahead), which the default
 * fast path avoids.  The last writer of each address is kept in a fixed
 * open-addressed table, entries tagged with the session's generation so that
 * a session starts empty without clearing it; when a probe run is full the
 * first slot is overwritten, the same way in every run.
 */
#include <string.h>

#include "sched_internal.h"

#define RF_SLOTS (1u << 14)
#define RF_PROBES 8
#define RF_PAIRS (1u << 16)

struct rf_slot {
    uintptr_t addr;
    uintptr_t site;
    uint32_t gen;
    uint32_t tid;
};

static struct rf_slot rf_table[RF_SLOTS];
static uint32_t rf_gen;
static uint8_t rf_pairs[RF_PAIRS];
static int rf_any;

void
sched_rf_reset(void)
{
    if (++rf_gen == 0)
        rf_gen = 1;
    if (rf_any)
        memset(rf_pairs, 0, sizeof rf_pairs);
    rf_any = 0;
}

static struct rf_slot *
rf_find(uintptr_t addr, int insert)
{
    uint32_t h = (uint32_t)sched_mix64(addr) & (RF_SLOTS - 1);
    for (unsigned i = 0; i < RF_PROBES; i++) {
        struct rf_slot *s = &rf_table[(h + i) & (RF_SLOTS - 1)];
        if (s->gen != rf_gen)
            return insert ? s : NULL;
        if (s->addr == addr)
            return s;
    }
    return insert ? &rf_table[h] : NULL;
}

void
sched_rf_access(unsigned tid, const volatile void *addr, int kind,
                const void *site)
{
    uintptr_t a = (uintptr_t)addr;
    int reads = kind == FTFUZZ_POINT_ATOMIC_LOAD
                || kind == FTFUZZ_POINT_ATOMIC_EXCHANGE
                || kind == FTFUZZ_POINT_ATOMIC_CAS
                || kind == FTFUZZ_POINT_ATOMIC_RMW;
    int writes = kind != FTFUZZ_POINT_ATOMIC_LOAD
                 && kind != FTFUZZ_POINT_ATOMIC_FENCE;
    if (reads && sched.marked) {
        struct rf_slot *s = rf_find(a, 0);
        if (s && s->tid != tid) {
            uint8_t *c = &rf_pairs[sched_site_pair((uintptr_t)site, s->site)
                                   & (RF_PAIRS - 1)];
            if (*c != UINT8_MAX)
                (*c)++;
            rf_any = 1;
        }
    }
    if (writes) {
        struct rf_slot *s = rf_find(a, 1);
        s->addr = a;
        s->site = (uintptr_t)site;
        s->gen = rf_gen;
        s->tid = tid;
    }
}

void
sched_rf_fold(uint8_t *counters, size_t n)
{
    if (!rf_any)
        return;
    for (size_t i = 0; i < RF_PAIRS; i++) {
        if (!rf_pairs[i])
            continue;
        uint8_t *c = &counters[i % n];
        unsigned v = (unsigned)*c + rf_pairs[i];
        *c = v > UINT8_MAX ? UINT8_MAX : (uint8_t)v;
    }
}
