/*
 * The trace file's codec: the one place that writes and parses the text a
 * scheduler session's trace is stored in (ftfuzz_sched_write_trace), read
 * by the replay strategy, `ftfuzz replay` and its report, and the
 * minimizer.  Header-only: the scheduler runtime, the fuzz targets and the
 * CLI share no library.  It allocates nothing (the runtime keeps off the
 * program's heap): of libc it calls vsnprintf and string functions.
 *
 * Format (text, one record per line, each ending in a newline):
 *
 *   ftfuzz-trace 1
 *   strategy pct:3:k=20000:seed=7
 *   steps 1234
 *   hash 0x0123456789abcdef
 *   switch STEP FROM TO KIND FLAGS SITE [CALLER ...]
 *   anchor FROM REGION POINT TO
 *
 * SITE and each CALLER are MODULE+0xOFFSET; CALLERs (the switching
 * thread's stack, innermost first, scheduler frames included) are written
 * when the session was opened with trace_callers.  Each switch line is
 * followed by its anchor line: the same switch as an ftfuzz_anchor, the
 * POINT-th point of FROM in its REGION (see ftfuzz_sched_region).  Traces
 * written before anchors existed have none; a trace has an anchor for
 * every switch or for none.  Lines with another keyword are skipped, so a
 * record can be added without a new version.  docs/scheduler.md describes
 * the fields.
 */
#ifndef FTFUZZ_TRACE_FILE_H
#define FTFUZZ_TRACE_FILE_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "ftfuzz/sched.h"

#ifdef __cplusplus
extern "C" {
#endif

#define FTFUZZ_TRACE_VERSION 1

/* A switch's FLAGS.  The chosen thread was a timed waiter: its wait timed
 * out.  The trace hash covers this bit only. */
#define FTFUZZ_TRACE_TIMEOUT 1u
/* The switching thread could have gone on: a preemption.  This bit and the
 * pick describe the decision for tools (ftfuzz minimize rewrites a
 * schedule as preemptions from them). */
#define FTFUZZ_TRACE_PREEMPT 2u
/* Bits 8-23: the index of the chosen thread among the candidates. */
#define FTFUZZ_TRACE_PICK_SHIFT 8
#define FTFUZZ_TRACE_PICK_MASK 0xffffu

/* MODULE+0xOFFSET.  A site read without "+0x" (say, a module path with a
 * space in it, split into two fields) has module "?" and offset 0. */
struct ftfuzz_trace_site {
    const char *module;
    unsigned long offset;
};

/* The four header lines. */
struct ftfuzz_trace_header {
    const char *strategy;      /* the session's strategy, as described */
    uint64_t steps;            /* scheduling points the session ran */
    uint64_t hash;             /* the trace hash */
};

struct ftfuzz_trace_switch {
    uint64_t step;
    unsigned from, to;         /* below FTFUZZ_SCHED_MAX_THREADS */
    const char *kind;          /* ftfuzz_point_kind_name's name */
    unsigned flags;            /* FTFUZZ_TRACE_* */
    struct ftfuzz_trace_site site;   /* the point's call site in `from` */
    unsigned ncallers;         /* a reader keeps the first
                                * FTFUZZ_TRACE_CALLERS */
    struct ftfuzz_trace_site callers[FTFUZZ_TRACE_CALLERS];
};

struct ftfuzz_trace_anchor {
    unsigned from;
    uint32_t region;
    uint64_t point;
    unsigned to;
};

/* --- writing ----------------------------------------------------------------- */

/* Each writer formats its lines as snprintf does: at most `size` bytes,
 * the terminating NUL included, into buf (NULL when size is 0), and
 * returns the length of the whole text, so a return of `size` or more
 * means it did not fit. */

static inline void
ftfuzz_trace_put_(char *buf, size_t size, size_t *len, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static inline void
ftfuzz_trace_put_(char *buf, size_t size, size_t *len, const char *fmt, ...)
{
    size_t at = *len < size ? *len : size;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf ? buf + at : NULL, size - at, fmt, ap);
    va_end(ap);
    if (n > 0)
        *len += (size_t)n;
}

static inline size_t
ftfuzz_trace_write_header(char *buf, size_t size,
                          const struct ftfuzz_trace_header *h)
{
    size_t len = 0;
    ftfuzz_trace_put_(buf, size, &len,
                      "ftfuzz-trace %d\nstrategy %s\nsteps %llu\n"
                      "hash 0x%016llx\n",
                      FTFUZZ_TRACE_VERSION, h->strategy,
                      (unsigned long long)h->steps,
                      (unsigned long long)h->hash);
    return len;
}

static inline size_t
ftfuzz_trace_write_switch(char *buf, size_t size,
                          const struct ftfuzz_trace_switch *sw)
{
    size_t len = 0;
    ftfuzz_trace_put_(buf, size, &len, "switch %llu %u %u %s %u",
                      (unsigned long long)sw->step, sw->from, sw->to,
                      sw->kind, sw->flags);
    unsigned n = sw->ncallers < FTFUZZ_TRACE_CALLERS ? sw->ncallers
                                                     : FTFUZZ_TRACE_CALLERS;
    for (unsigned k = 0; k <= n; k++) {
        const struct ftfuzz_trace_site *s = k ? &sw->callers[k - 1]
                                              : &sw->site;
        ftfuzz_trace_put_(buf, size, &len, " %s+0x%lx",
                          s->module ? s->module : "?", s->offset);
    }
    ftfuzz_trace_put_(buf, size, &len, "\n");
    return len;
}

static inline size_t
ftfuzz_trace_write_anchor(char *buf, size_t size,
                          const struct ftfuzz_trace_anchor *a)
{
    size_t len = 0;
    ftfuzz_trace_put_(buf, size, &len, "anchor %u %u %llu %u\n", a->from,
                      (unsigned)a->region, (unsigned long long)a->point,
                      a->to);
    return len;
}

/* --- reading ----------------------------------------------------------------- */

enum ftfuzz_trace_tag {
    FTFUZZ_TRACE_STRATEGY = 1,
    FTFUZZ_TRACE_STEPS,
    FTFUZZ_TRACE_HASH,
    FTFUZZ_TRACE_SWITCH,
    FTFUZZ_TRACE_ANCHOR,
};

/* One line read.  Its strings point into the line that was read. */
struct ftfuzz_trace_record {
    enum ftfuzz_trace_tag tag;
    union {
        const char *strategy;
        uint64_t steps;
        uint64_t hash;
        struct ftfuzz_trace_switch sw;
        struct ftfuzz_trace_anchor anchor;
    };
};

/* What a reader has seen so far, to check the file as a whole. */
struct ftfuzz_trace_reader {
    const char *path;          /* named in messages */
    unsigned long lineno;
    unsigned header;           /* 1 << tag of each header line seen */
    uint64_t switches, anchors;
    struct ftfuzz_trace_switch last;   /* the last switch (no strings) */
    int cut;                   /* the last line had no newline */
    char err[1024];            /* why the last call failed */
};

static inline void
ftfuzz_trace_reader_init(struct ftfuzz_trace_reader *r, const char *path)
{
    memset(r, 0, sizeof *r);
    r->path = path;
}

static inline int
ftfuzz_trace_fail_(struct ftfuzz_trace_reader *r, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static inline int
ftfuzz_trace_fail_(struct ftfuzz_trace_reader *r, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r->err, sizeof r->err, fmt, ap);
    va_end(ap);
    return -1;
}

/* The next space-separated field of *s, NUL-terminated in place; NULL
 * when there is none. */
static inline char *
ftfuzz_trace_field_(char **s)
{
    char *p = *s;
    while (*p == ' ')
        p++;
    if (!*p) {
        *s = p;
        return NULL;
    }
    char *start = p;
    while (*p && *p != ' ')
        p++;
    if (*p)
        *p++ = 0;
    *s = p;
    return start;
}

/* A whole field as a number in base 10 or 16 (digits only: no sign, no
 * spaces, no prefix), at most max; 0 when it is not one. */
static inline int
ftfuzz_trace_number_(const char *f, unsigned base, uint64_t max,
                     uint64_t *out)
{
    uint64_t v = 0;
    if (!f || !*f)
        return 0;
    for (; *f; f++) {
        unsigned d;
        if (*f >= '0' && *f <= '9')
            d = (unsigned)(*f - '0');
        else if (base == 16 && *f >= 'a' && *f <= 'f')
            d = (unsigned)(*f - 'a' + 10);
        else if (base == 16 && *f >= 'A' && *f <= 'F')
            d = (unsigned)(*f - 'A' + 10);
        else
            return 0;
        if (d > max || v > (max - d) / base)
            return 0;
        v = v * base + d;
    }
    *out = v;
    return 1;
}

static inline void
ftfuzz_trace_site_(char *f, struct ftfuzz_trace_site *s)
{
    char *plus = strrchr(f, '+');
    uint64_t off;
    if (plus && plus[1] == '0' && plus[2] == 'x'
        && ftfuzz_trace_number_(plus + 3, 16, (unsigned long)-1, &off)) {
        *plus = 0;
        s->module = f;
        s->offset = (unsigned long)off;
    } else {
        s->module = "?";
        s->offset = 0;
    }
}

#define FTFUZZ_TRACE_SWITCH_SYNTAX \
    "switch STEP FROM TO KIND FLAGS MODULE+0xOFFSET [CALLER ...]"
#define FTFUZZ_TRACE_ANCHOR_SYNTAX "anchor FROM REGION POINT TO"

/*
 * Reads the line at *text (up to its newline or the NUL that ends the
 * text) into rec, NUL-terminating it in place (rec's strings point into
 * it), and moves *text past it.  Returns 1 for a record, 0 for a line with
 * nothing to return (the version line, a blank line, a keyword this
 * version does not know), -1 with r->err set when the file is not a trace
 * of this version or the line is malformed.  A text holding one line (from
 * getline) and a whole file are read alike.  After the last line,
 * ftfuzz_trace_read_end says whether the file was complete.
 */
static inline int
ftfuzz_trace_read(struct ftfuzz_trace_reader *r, char **text,
                  struct ftfuzz_trace_record *rec)
{
    char *line = *text, *end = line + strcspn(line, "\n");
    r->cut = !*end;
    if (*end)
        *end++ = 0;
    *text = end;
    r->lineno++;
    if (r->lineno == 1) {
        /* the version, checked before anything else is believed */
        uint64_t v = 0;
        if (strncmp(line, "ftfuzz-trace ", 13)
            || !ftfuzz_trace_number_(line + 13, 10, 1000000, &v))
            return ftfuzz_trace_fail_(r, "%s is not an ftfuzz trace (its "
                                      "first line is not 'ftfuzz-trace %d')",
                                      r->path, FTFUZZ_TRACE_VERSION);
        if (v != FTFUZZ_TRACE_VERSION)
            return ftfuzz_trace_fail_(r, "%s is an ftfuzz trace of version "
                                      "%llu; this ftfuzz reads version %d",
                                      r->path, (unsigned long long)v,
                                      FTFUZZ_TRACE_VERSION);
        return 0;
    }
    char *s = line;
    const char *key = ftfuzz_trace_field_(&s);
    if (!key)
        return 0;
    memset(rec, 0, sizeof *rec);
    if (!strcmp(key, "strategy") || !strcmp(key, "steps")
        || !strcmp(key, "hash")) {
        rec->tag = !strcmp(key, "strategy") ? FTFUZZ_TRACE_STRATEGY
                   : !strcmp(key, "steps")  ? FTFUZZ_TRACE_STEPS
                                            : FTFUZZ_TRACE_HASH;
        if (r->header & 1u << rec->tag)
            return ftfuzz_trace_fail_(r, "%s:%lu: a second %s line",
                                      r->path, r->lineno, key);
        r->header |= 1u << rec->tag;
        const char *f;
        if (rec->tag == FTFUZZ_TRACE_STRATEGY) {
            while (*s == ' ')
                s++;
            rec->strategy = s;   /* the rest of the line */
            return 1;
        }
        f = ftfuzz_trace_field_(&s);
        int ok = rec->tag == FTFUZZ_TRACE_STEPS
                     ? ftfuzz_trace_number_(f, 10, UINT64_MAX, &rec->steps)
                     : f && !strncmp(f, "0x", 2) && strlen(f) == 18
                           && ftfuzz_trace_number_(f + 2, 16, UINT64_MAX,
                                                   &rec->hash);
        if (!ok || ftfuzz_trace_field_(&s))
            return ftfuzz_trace_fail_(r, "%s:%lu: malformed %s line "
                                      "(expected: %s)", r->path, r->lineno,
                                      key, rec->tag == FTFUZZ_TRACE_STEPS
                                               ? "steps N"
                                               : "hash 0x and 16 hex digits");
        return 1;
    }
    if (!strcmp(key, "switch")) {
        struct ftfuzz_trace_switch *sw = &rec->sw;
        uint64_t v[4];
        char *f[6];
        for (int i = 0; i < 6; i++)
            f[i] = ftfuzz_trace_field_(&s);
        if (!f[5] || !ftfuzz_trace_number_(f[0], 10, UINT64_MAX, &v[0])
            || !ftfuzz_trace_number_(f[1], 10, FTFUZZ_SCHED_MAX_THREADS - 1,
                                     &v[1])
            || !ftfuzz_trace_number_(f[2], 10, FTFUZZ_SCHED_MAX_THREADS - 1,
                                     &v[2])
            || !ftfuzz_trace_number_(f[4], 10, UINT32_MAX, &v[3]))
            return ftfuzz_trace_fail_(r, "%s:%lu: malformed switch record "
                                      "(expected: %s; threads below %d)",
                                      r->path, r->lineno,
                                      FTFUZZ_TRACE_SWITCH_SYNTAX,
                                      FTFUZZ_SCHED_MAX_THREADS);
        *sw = (struct ftfuzz_trace_switch){
            .step = v[0], .from = (unsigned)v[1], .to = (unsigned)v[2],
            .kind = f[3], .flags = (unsigned)v[3],
        };
        ftfuzz_trace_site_(f[5], &sw->site);
        for (char *c; (c = ftfuzz_trace_field_(&s));)
            if (sw->ncallers < FTFUZZ_TRACE_CALLERS)
                ftfuzz_trace_site_(c, &sw->callers[sw->ncallers++]);
        if (r->switches && sw->step < r->last.step)
            return ftfuzz_trace_fail_(r, "%s:%lu: malformed switch record "
                                      "(step %llu after a switch at step "
                                      "%llu)", r->path, r->lineno,
                                      (unsigned long long)sw->step,
                                      (unsigned long long)r->last.step);
        if (r->anchors && r->anchors != r->switches)
            return ftfuzz_trace_fail_(r, "%s:%lu: the switch above has no "
                                      "anchor line", r->path, r->lineno);
        r->switches++;
        r->last = (struct ftfuzz_trace_switch){
            .step = sw->step, .from = sw->from, .to = sw->to,
        };
        rec->tag = FTFUZZ_TRACE_SWITCH;
        return 1;
    }
    if (!strcmp(key, "anchor")) {
        struct ftfuzz_trace_anchor *a = &rec->anchor;
        uint64_t v[4];
        int ok = 1;
        for (int i = 0; i < 4; i++)
            ok &= ftfuzz_trace_number_(ftfuzz_trace_field_(&s), 10,
                                       i == 2 ? UINT64_MAX : UINT32_MAX,
                                       &v[i]);
        if (!ok || ftfuzz_trace_field_(&s))
            return ftfuzz_trace_fail_(r, "%s:%lu: malformed anchor record "
                                      "(expected: %s)", r->path, r->lineno,
                                      FTFUZZ_TRACE_ANCHOR_SYNTAX);
        *a = (struct ftfuzz_trace_anchor){
            .from = (unsigned)v[0], .region = (uint32_t)v[1],
            .point = v[2], .to = (unsigned)v[3],
        };
        if (r->anchors + 1 != r->switches)
            return ftfuzz_trace_fail_(r, "%s:%lu: an anchor line that does "
                                      "not follow a switch line", r->path,
                                      r->lineno);
        if (a->from != r->last.from || a->to != r->last.to)
            return ftfuzz_trace_fail_(r, "%s:%lu: the anchor's threads "
                                      "(%u to %u) are not its switch's "
                                      "(%u to %u)", r->path, r->lineno,
                                      a->from, a->to, r->last.from,
                                      r->last.to);
        r->anchors++;
        rec->tag = FTFUZZ_TRACE_ANCHOR;
        return 1;
    }
    return 0;
}

/* After the last line: 0 when the file was a whole trace, else -1 with
 * r->err set (empty; the last line cut short; a header line or the last
 * switch's anchor missing). */
static inline int
ftfuzz_trace_read_end(struct ftfuzz_trace_reader *r)
{
    static const char *const names[] = {
        [FTFUZZ_TRACE_STRATEGY] = "strategy",
        [FTFUZZ_TRACE_STEPS] = "steps",
        [FTFUZZ_TRACE_HASH] = "hash",
    };
    if (!r->lineno)
        return ftfuzz_trace_fail_(r, "%s is empty, not an ftfuzz trace",
                                  r->path);
    if (r->cut)
        return ftfuzz_trace_fail_(r, "%s: truncated trace (its last line "
                                  "is cut short)", r->path);
    for (int t = FTFUZZ_TRACE_STRATEGY; t <= FTFUZZ_TRACE_HASH; t++)
        if (!(r->header & 1u << t))
            return ftfuzz_trace_fail_(r, "%s: truncated trace (no %s line)",
                                      r->path, names[t]);
    if (r->anchors && r->anchors != r->switches)
        return ftfuzz_trace_fail_(r, "%s: truncated trace (the last switch "
                                  "has no anchor line)", r->path);
    return 0;
}

#ifdef __cplusplus
}
#endif

#endif
