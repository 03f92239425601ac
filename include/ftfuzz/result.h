/*
 * The result record: what one execution gave, written by the process that
 * ran it to the file FTFUZZ_RESULT names, and read by every consumer (the
 * ftfuzz command's replay, minimize, reseed, anchor, search, triage,
 * regress through replay --brief, and explore for C programs).  The verdict
 * travels as its name (verdicts.def), never inferred from a log.
 *
 * Writers: the fuzz targets' fork server, after each forked execution
 * (harnesses/fuzz_target.c); the automatic session of a C program built
 * with ftfuzz-cc, at exit or in its crash handler (scheduler/
 * auto_session.c).  Header only: those and the command share no library.
 * The writer allocates nothing and uses write(2) (it runs in crash
 * handlers, on a heap that may be broken).
 *
 * Format (text, one field per line; `finding` and `diagnosis-text` repeat,
 * one line of the text each; a record without `end` was cut short):
 *   ftfuzz-result 1
 *   verdict NAME
 *   signal N          the signal that ended the execution, or 0
 *   status N          its exit status when it exited non-zero, or 0
 *   hash 0xHEX        hash, steps, switches: when known (not after a
 *   steps N           sanitizer's exit, say)
 *   switches N
 *   strategy TEXT     (C programs)
 *   diagnosis KIND    CPython's diagnosis in a few words (diagnosis.h)
 *   diagnosis-text LINE
 *   finding LINE      the scheduler's or oracle's report
 *   end
 */
#ifndef FTFUZZ_RESULT_H
#define FTFUZZ_RESULT_H

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ftfuzz/verdicts.h"

#define FTFUZZ_RESULT_VERSION 1
#define FTFUZZ_RESULT_TEXT 32768  /* finding, diagnosis text: kept up to this */

struct ftfuzz_result {
    int verdict;                  /* enum ftfuzz_verdict */
    int signal, status;
    int have_hash;                /* hash, steps, switches are known */
    unsigned long long hash, steps, switches;
    char strategy[256];
    char diagnosis[160];
    char diagnosis_text[FTFUZZ_RESULT_TEXT];
    char finding[FTFUZZ_RESULT_TEXT];
};

/* Appends "key TEXT\n" (TEXT: text[0..l)) to buf[*len..n) when the whole
 * line fits; a line that does not is dropped, never cut, so what follows
 * (`end`) stays a line of its own. */
static inline void
ftfuzz_result_put_line(char *buf, size_t n, size_t *len, const char *key,
                       const char *text, size_t l)
{
    size_t need = strlen(key) + 1 + l + 1;
    if (*len + need >= n)
        return;
    *len += (size_t)snprintf(buf + *len, n - *len, "%s %.*s\n", key, (int)l,
                             text);
}

/* Each line of text as "key LINE". */
static inline void
ftfuzz_result_put_lines(char *buf, size_t n, size_t *len, const char *key,
                        const char *text)
{
    while (*text) {
        size_t l = strcspn(text, "\n");
        ftfuzz_result_put_line(buf, n, len, key, text, l);
        text += l + (text[l] == '\n');
    }
}

/*
 * The record as text in buf (n bytes, at least 1 KiB); its length.  Lines
 * of the texts that do not fit are dropped, never the fields before them
 * or `end`.
 */
static inline size_t
ftfuzz_result_format(const struct ftfuzz_result *r, char *buf, size_t n)
{
    size_t len = 0, reserve = 8;   /* "end\n" */
    size_t cap = n - reserve;
    int k = snprintf(buf, cap, "ftfuzz-result %d\nverdict %s\nsignal %d\n"
                               "status %d\n", FTFUZZ_RESULT_VERSION,
                     ftfuzz_verdict_text(r->verdict), r->signal, r->status);
    /* cut like snprintf, so that a small buf cannot overrun `end` */
    len = k > 0 ? ((size_t)k < cap ? (size_t)k : cap - 1) : 0;
    if (r->have_hash) {
        k = snprintf(buf + len, cap - len,
                     "hash 0x%016llx\nsteps %llu\nswitches %llu\n",
                     r->hash, r->steps, r->switches);
        if (k > 0)
            len += (size_t)k < cap - len ? (size_t)k : cap - len - 1;
    }
    if (r->strategy[0])
        ftfuzz_result_put_lines(buf, cap, &len, "strategy", r->strategy);
    if (r->diagnosis[0])
        ftfuzz_result_put_lines(buf, cap, &len, "diagnosis", r->diagnosis);
    ftfuzz_result_put_lines(buf, cap, &len, "diagnosis-text",
                            r->diagnosis_text);
    ftfuzz_result_put_lines(buf, cap, &len, "finding", r->finding);
    memcpy(buf + len, "end\n", 5);
    return len + 4;
}

/* Writes the record to path (replacing it); 0, or -1 with errno. */
static inline int
ftfuzz_result_write(const char *path, const struct ftfuzz_result *r,
                    char *buf, size_t n)
{
    size_t len = ftfuzz_result_format(r, buf, n);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0)
        return -1;
    size_t done = 0;
    while (done < len) {
        ssize_t k = write(fd, buf + done, len - done);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0) {
            close(fd);
            return -1;
        }
        done += (size_t)k;
    }
    return close(fd);
}

/* Appends one line of a repeated text field. */
static inline void
ftfuzz_result_append(char *field, const char *line, size_t l)
{
    size_t len = strlen(field);
    if (len + l + 2 > FTFUZZ_RESULT_TEXT)
        return;
    memcpy(field + len, line, l);
    field[len + l] = '\n';
    field[len + l + 1] = 0;
}

/*
 * Parses a record's text into r.  0; or -1 with the reason in err: not a
 * record, another version, an unknown verdict, or cut short (no `end`).
 */
static inline int
ftfuzz_result_parse(const char *text, struct ftfuzz_result *r, char *err,
                    size_t nerr)
{
    memset(r, 0, sizeof *r);
    r->verdict = -1;
    int version = 0, ended = 0;
    if (sscanf(text, "ftfuzz-result %d", &version) != 1) {
        snprintf(err, nerr, "not an ftfuzz result record");
        return -1;
    }
    if (version != FTFUZZ_RESULT_VERSION) {
        snprintf(err, nerr, "a result record of version %d; this ftfuzz "
                            "reads version %d", version,
                 FTFUZZ_RESULT_VERSION);
        return -1;
    }
    for (const char *p = text; *p;) {
        size_t l = strcspn(p, "\n");
        const char *sp = memchr(p, ' ', l);
        size_t klen = sp ? (size_t)(sp - p) : l;
        const char *v = sp ? sp + 1 : p + l;
        size_t vlen = (size_t)(p + l - v);
        char val[512];
        snprintf(val, sizeof val, "%.*s", (int)vlen, v);
#define FTFUZZ_KEY(k) (klen == sizeof(k) - 1 && !strncmp(p, k, klen))
        if (FTFUZZ_KEY("verdict")) {
            r->verdict = ftfuzz_verdict_from_name(val);
            if (r->verdict < 0) {
                snprintf(err, nerr, "unknown verdict '%s'", val);
                return -1;
            }
        } else if (FTFUZZ_KEY("signal")) {
            r->signal = atoi(val);
        } else if (FTFUZZ_KEY("status")) {
            r->status = atoi(val);
        } else if (FTFUZZ_KEY("hash")) {
            r->hash = strtoull(val, NULL, 16);
            r->have_hash = 1;
        } else if (FTFUZZ_KEY("steps")) {
            r->steps = strtoull(val, NULL, 10);
        } else if (FTFUZZ_KEY("switches")) {
            r->switches = strtoull(val, NULL, 10);
        } else if (FTFUZZ_KEY("strategy")) {
            snprintf(r->strategy, sizeof r->strategy, "%s", val);
        } else if (FTFUZZ_KEY("diagnosis")) {
            snprintf(r->diagnosis, sizeof r->diagnosis, "%s", val);
        } else if (FTFUZZ_KEY("diagnosis-text")) {
            ftfuzz_result_append(r->diagnosis_text, v, vlen);
        } else if (FTFUZZ_KEY("finding")) {
            ftfuzz_result_append(r->finding, v, vlen);
        } else if (FTFUZZ_KEY("end")) {
            ended = 1;
        }
#undef FTFUZZ_KEY
        p += l + (p[l] == '\n');
    }
    if (!ended || r->verdict < 0) {
        snprintf(err, nerr, "the result record was cut short");
        return -1;
    }
    return 0;
}

/* Reads the record at path: 0; 1 when there is none; -1 with the reason
 * in err when it is unreadable or malformed. */
static inline int
ftfuzz_result_read(const char *path, struct ftfuzz_result *r, char *err,
                   size_t nerr)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        if (errno == ENOENT)
            return 1;
        snprintf(err, nerr, "%s: %s", path, strerror(errno));
        return -1;
    }
    static char text[8 * FTFUZZ_RESULT_TEXT];
    size_t n = fread(text, 1, sizeof text - 1, f);
    text[n] = 0;
    fclose(f);
    if (ftfuzz_result_parse(text, r, err, nerr) < 0) {
        char why[256];
        snprintf(why, sizeof why, "%s", err);
        snprintf(err, nerr, "%s: %s", path, why);
        return -1;
    }
    return 0;
}

#endif /* FTFUZZ_RESULT_H */
