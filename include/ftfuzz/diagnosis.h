/*
 * CPython's own diagnosis of a failed execution, read from what the
 * interpreter printed: the kind of failure in a few words that survive a
 * rebuild (no addresses, no line numbers), e.g. "negative refcount of set"
 * or "assertion `node != NULL` in _odict_clear_node", and the block of text
 * it came from (the failed assertion, the object dump, the fatal error).
 *
 * One parser for the fuzz targets (the crash report ClusterFuzz reads,
 * harnesses/fuzz_target.c) and the ftfuzz command (replay, triage).  Header
 * only: the targets and the command share no library.  Uses no allocation.
 */
#ifndef FTFUZZ_DIAGNOSIS_H
#define FTFUZZ_DIAGNOSIS_H

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ftfuzz/sched.h"

/* The line of text that starts at p, copied to out (at most n - 1 bytes). */
static inline void
ftfuzz_diag_line(const char *p, char *out, size_t n)
{
    size_t len = strcspn(p, "\n");
    if (len >= n)
        len = n - 1;
    memcpy(out, p, len);
    out[len] = 0;
}

/* Addresses become 0x?, other numbers N: kinds must not depend on the
 * build's layout or line numbers. */
static inline void
ftfuzz_diag_normalize(char *s)
{
    char *w = s;
    for (const char *r = s; *r;) {
        if (r[0] == '0' && r[1] == 'x' && isxdigit((unsigned char)r[2])) {
            r += 2;
            while (isxdigit((unsigned char)*r))
                r++;
            *w++ = '0';
            *w++ = 'x';
            *w++ = '?';
        } else if (isdigit((unsigned char)*r)
                   && (w == s || !isalnum((unsigned char)w[-1]))) {
            while (isdigit((unsigned char)*r))
                r++;
            *w++ = 'N';
        } else {
            *w++ = *r++;
        }
    }
    *w = 0;
}

/* The value after "key" on its line (spaces and a colon skipped). */
static inline int
ftfuzz_diag_field(const char *log, const char *key, char *out, size_t n)
{
    const char *p = strstr(log, key);
    if (!p)
        return 0;
    p += strlen(key);
    while (*p == ' ' || *p == ':')
        p++;
    ftfuzz_diag_line(p, out, n);
    return 1;
}

/*
 * The kind of failure, from the target's output (kind: at least 160
 * bytes; "" when the interpreter said nothing, e.g. a plain SIGSEGV).
 * First match wins: a sanitizer's report; a negative reference count
 * (_Py_NegativeRefcount, or the collector's "refcount >= 0" assertions,
 * found late, in update_refs); CPython's object assertions
 * (_PyObject_ASSERT: 'FILE:LINE: FUNC: Assertion "EXPR" failed: MSG');
 * C assert() (glibc: "FILE:LINE: FUNC: Assertion `EXPR' failed."); a
 * fatal error ("Fatal Python error: FUNC: MSG").  The object's type is
 * added when CPython dumped the object.
 */
static inline void
ftfuzz_diagnosis_kind(const char *log, char *kind, size_t n)
{
    char type[96] = "", line[512], buf[512];
    const char *p;
    kind[0] = 0;
    if ((p = strstr(log, "ERROR: ")) && (p = strstr(p, "Sanitizer: "))
        && p - log > 0) {
        /* "ERROR: AddressSanitizer: heap-use-after-free on address ..." */
        const char *name = p;
        while (name > log && isalpha((unsigned char)name[-1]))
            name--;
        ftfuzz_diag_line(name, line, sizeof line);
        line[strcspn(line, "(")] = 0;
        char *on = strstr(line, " on ");
        if (on)
            *on = 0;
        snprintf(kind, n, "%s", line);
        ftfuzz_diag_normalize(kind);
        return;
    }
    if (ftfuzz_diag_field(log, "object type name", type, sizeof type))
        type[strcspn(type, " ")] = 0;
    else if (strstr(log, "> is freed>") || strstr(log, " is freed>"))
        snprintf(type, sizeof type, "a freed object");
    if (strstr(log, "object has negative ref count")
        || strstr(log, "Assertion \"refcount >= 0\" failed")
        || strstr(log, "refcount is too small")) {
        /* who found it: the collector finds it late, a decref at once */
        const char *where = strstr(log, ": update_refs: ") ? " (found by the "
                            "collector)" : "";
        snprintf(kind, n, "negative refcount%s%s%s", type[0] ? " of " : "",
                 type, where);
        return;
    }
    if ((p = strstr(log, ": Assertion \""))
        || (p = strstr(log, ": Assertion failed: "))) {
        /* back to the function name: "FILE:LINE: FUNC: Assertion ..." */
        const char *start = p;
        while (start > log && start[-1] != '\n')
            start--;
        ftfuzz_diag_line(start, line, sizeof line);
        char *func = strstr(line, ": ");
        const char *rest = func ? func + 2 : line;
        snprintf(buf, sizeof buf, "%s", rest);
        char *a = strstr(buf, ": Assertion");
        char fn[128] = "";
        if (a) {
            snprintf(fn, sizeof fn, "%.*s", (int)(a - buf), buf);
            memmove(buf, a + 2, strlen(a + 2) + 1);
        }
        /* buf: 'Assertion "EXPR" failed: MSG' */
        snprintf(kind, n, "%s%s%s%s%s", buf, fn[0] ? " in " : "", fn,
                 type[0] ? ", object: " : "", type);
        ftfuzz_diag_normalize(kind);
        return;
    }
    if ((p = strstr(log, ": Assertion `"))) {
        const char *start = p;
        while (start > log && start[-1] != '\n')
            start--;
        ftfuzz_diag_line(start, line, sizeof line);
        /* "PROG: FILE:LINE: FUNC: Assertion `EXPR' failed.", FUNC
         * possibly a whole prototype: the name before its '(' */
        char *a = strstr(line, ": Assertion `");
        *a = 0;
        char *paren = strchr(line, '(');
        char *fn_end = paren ? paren : a;
        char *fn = fn_end;
        while (fn > line && (isalnum((unsigned char)fn[-1]) || fn[-1] == '_'))
            fn--;
        *fn_end = 0;
        char *expr = a + strlen(": Assertion `");
        char *q = strstr(expr, "' failed");
        if (q)
            *q = 0;
        snprintf(kind, n, "assertion `%s` in %s", expr, fn);
        ftfuzz_diag_normalize(kind);
        return;
    }
    if (ftfuzz_diag_field(log, "Fatal Python error", line, sizeof line)) {
        snprintf(kind, n, "fatal error %s", line);
        ftfuzz_diag_normalize(kind);
        return;
    }
}

/*
 * Where the interpreter's diagnosis starts in the output (the first
 * failed assertion, object dump, fatal error or sanitizer report), or
 * NULL.  It runs to the crash handler's "==ftfuzz== " line.
 */
static inline const char *
ftfuzz_diagnosis_text(const char *log, size_t *len)
{
    static const char *const starts[] = {
        ": Assertion", "<object at ", "object address  :",
        "Debug memory block at address", "Fatal Python error",
        "ERROR: AddressSanitizer", "ERROR: UndefinedBehaviorSanitizer",
        "ERROR: LeakSanitizer", "runtime error: ",
    };
    const char *first = NULL;
    for (size_t i = 0; i < sizeof starts / sizeof starts[0]; i++) {
        const char *p = strstr(log, starts[i]);
        if (p && (!first || p < first))
            first = p;
    }
    if (!first)
        return NULL;
    while (first > log && first[-1] != '\n')
        first--;
    const char *end = strstr(first, "\n==ftfuzz== ");
    if (end)
        end++;
    *len = end ? (size_t)(end - first) : strlen(first);
    return first;
}

/*
 * The verdict of an execution that died (signal sig, or 0: it exited
 * non-zero) without a finding of ftfuzz's own (verdicts.def): a
 * sanitizer's report, CPython's fatal error or failed assertion, else a
 * crash (a signal) or an exit.  The first match wins: a fatal error's
 * text may quote an assertion, not the other way round.
 */
static inline int
ftfuzz_diagnosis_verdict(const char *log, int sig)
{
    static const struct { const char *text; int verdict; } said[] = {
        {"ERROR: AddressSanitizer", FTFUZZ_VERDICT_SANITIZER},
        {"ERROR: UndefinedBehaviorSanitizer", FTFUZZ_VERDICT_SANITIZER},
        {"ERROR: LeakSanitizer", FTFUZZ_VERDICT_SANITIZER},
        {"Fatal Python error", FTFUZZ_VERDICT_FATAL_ERROR},
        {"Assertion `", FTFUZZ_VERDICT_ASSERTION},
        {"Assertion failed", FTFUZZ_VERDICT_ASSERTION},
    };
    for (size_t i = 0; log && i < sizeof said / sizeof said[0]; i++)
        if (strstr(log, said[i].text))
            return said[i].verdict;
    return sig ? FTFUZZ_VERDICT_CRASH : FTFUZZ_VERDICT_EXIT;
}

#endif /* FTFUZZ_DIAGNOSIS_H */
