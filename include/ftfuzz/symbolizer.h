/*
 * llvm-symbolizer, ftfuzz's one place for it: which one runs, how it runs
 * and how its output is read.  Shared by the scheduler's finding reports
 * (scheduler/report.c), the fuzz targets' libFuzzer-style crash reports
 * (harnesses/fuzz_target.c) and `ftfuzz replay` (fuzz/cli/report.c), which
 * share no library: so everything here is static inline.
 *
 * It runs `llvm-symbolizer --output-style=JSON --inlining` and reads one
 * JSON object a line, one per query line, in the order asked:
 *
 *   {"Address":"0x115c","ModuleName":"/bin/x","Symbol":[
 *     {"Column":74,"Discriminator":0,"FileName":"/src/x.c",
 *      "FunctionName":"inl","Line":3,"StartAddress":"",...}, ...]}
 *   {"Address":"0x10","Error":{"Message":"No such file..."},
 *    "ModuleName":"/nonexistent"}
 *
 * "Symbol" lists the inlined frames innermost first; an unknown function
 * or file is "".  The scheduler runs this inside findings, crash handlers
 * included, where the program's heap may be broken: so no malloc and no
 * FILE streams here (memory comes from the caller's allocator), vfork
 * rather than fork (no fork handlers), and MSG_NOSIGNAL so that a
 * symbolizer that is missing or dies raises no SIGPIPE.
 */
#ifndef FTFUZZ_SYMBOLIZER_H
#define FTFUZZ_SYMBOLIZER_H

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ftfuzz/env.h"

/* Which llvm-symbolizer: FTFUZZ_SYMBOLIZER, else llvm-19's (the Debian
 * package clang-19 depends on), else the one on PATH. */
static inline const char *
ftfuzz_symbolizer_path(void)
{
    const char *env = ftfuzz_env_str("FTFUZZ_SYMBOLIZER");
    if (env && *env)
        return env;
    if (access("/usr/lib/llvm-19/bin/llvm-symbolizer", X_OK) == 0)
        return "/usr/lib/llvm-19/bin/llvm-symbolizer";
    return "llvm-symbolizer";
}

/* --- the query ------------------------------------------------------------ */

/*
 * One query line, for offset in module, into buf (of at least 32 bytes):
 * its length, newline included.  llvm-symbolizer reads a quoted module
 * name up to the next quote, with no escapes, so a name holding one (or
 * too long for buf) is asked as "?", which it answers as unknown.
 */
static inline size_t
ftfuzz_sym_query(char *buf, size_t size, const char *module,
                 unsigned long offset)
{
    int n = -1;
    if (!strchr(module, '"'))
        n = snprintf(buf, size, "\"%s\" 0x%lx\n", module, offset);
    if (n < 0 || (size_t)n >= size)
        n = snprintf(buf, size, "\"?\" 0x%lx\n", offset);
    return n > 0 && (size_t)n < size ? (size_t)n : 0;
}

/* --- running it ----------------------------------------------------------- */

/* The child only redirects and execs, touching none of the parent's
 * variables, so gcc's -Wclobbered warning about vfork does not apply. */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wclobbered"
#endif
/* Starts argv with fd as its stdin and stdout and stderr to /dev/null;
 * mask is the signal mask it gets.  The caller blocks all signals around
 * this, so that no handler runs in the child, which shares its memory. */
__attribute__((noinline)) static pid_t
ftfuzz_sym_spawn(char *const argv[], int fd, const sigset_t *mask)
{
    pid_t pid = vfork();
    if (pid == 0) {
        if (fd < 3)
            fd = fcntl(fd, F_DUPFD, 3);
        if (fd < 0 || dup2(fd, 0) < 0 || dup2(fd, 1) < 0)
            _exit(127);
        int null = open("/dev/null", O_WRONLY);
        if (null >= 0 && null != 2)
            dup2(null, 2);
        sigprocmask(SIG_SETMASK, mask, NULL);
        execvp(argv[0], argv);
        _exit(127);
    }
    return pid;
}
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif

#define FTFUZZ_SYM_RELATIVE 1   /* file names relative to the build dir */

/*
 * Runs llvm-symbolizer on query (ftfuzz_sym_query lines) and returns its
 * output, NUL-terminated, in memory from grow (realloc's contract; release
 * frees it), or NULL when it could not run or did not exit with 0.  Writes
 * and reads at once, so a query of any length cannot deadlock on a full
 * pipe.
 */
static inline char *
ftfuzz_sym_run(const char *query, size_t qlen, int flags,
               void *(*grow)(void *, size_t), void (*release)(void *))
{
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0)
        return NULL;
    char *argv[] = {(char *)ftfuzz_symbolizer_path(),
                    (char *)"--output-style=JSON", (char *)"--inlining",
                    flags & FTFUZZ_SYM_RELATIVE ? (char *)"--relativenames"
                                                : NULL,
                    NULL};
    sigset_t all, old;
    sigfillset(&all);
    sigprocmask(SIG_SETMASK, &all, &old);
    pid_t pid = ftfuzz_sym_spawn(argv, sv[1], &old);
    sigprocmask(SIG_SETMASK, &old, NULL);
    close(sv[1]);
    if (pid < 0) {
        close(sv[0]);
        return NULL;
    }
    char *text = NULL;
    size_t len = 0, cap = 0, sent = 0;
    int ok = fcntl(sv[0], F_SETFL, O_NONBLOCK) == 0;
    if (ok && qlen == 0)
        shutdown(sv[0], SHUT_WR);
    while (ok) {
        struct pollfd p = {sv[0], POLLIN | (sent < qlen ? POLLOUT : 0), 0};
        if (poll(&p, 1, -1) < 0) {
            ok = errno == EINTR;
            continue;
        }
        if (sent < qlen && (p.revents & (POLLOUT | POLLERR | POLLHUP))) {
            ssize_t w = send(sv[0], query + sent, qlen - sent, MSG_NOSIGNAL);
            if (w < 0 && errno != EINTR && errno != EAGAIN)
                break;   /* it is gone: EPIPE, no signal */
            if (w > 0 && (sent += (size_t)w) == qlen)
                shutdown(sv[0], SHUT_WR);
        }
        if (!(p.revents & (POLLIN | POLLERR | POLLHUP)))
            continue;
        if (len + 1 >= cap) {
            size_t ncap = cap ? 2 * cap : 4096;
            char *t = grow(text, ncap);
            if (!t)
                break;
            text = t;
            cap = ncap;
        }
        ssize_t r = read(sv[0], text + len, cap - len - 1);
        if (r > 0)
            len += (size_t)r;
        else if (r == 0)
            break;   /* its output ended */
        else if (errno != EINTR && errno != EAGAIN)
            ok = 0;
    }
    close(sv[0]);
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    if (!ok || sent < qlen || !text || !WIFEXITED(status)
        || WEXITSTATUS(status) != 0) {
        if (text)
            release(text);
        return NULL;
    }
    text[len] = 0;
    return text;
}

/* --- reading its output --------------------------------------------------- */

/* One frame, the function's and the source file's names truncated. */
struct ftfuzz_sym_frame {
    char function[256];   /* "" when unknown */
    char file[512];       /* "" when unknown */
    unsigned long line, column;   /* 0 when unknown */
};

/* How the text output named what is unknown: reports keep that. */
static inline const char *
ftfuzz_sym_name(const char *s)
{
    return *s ? s : "??";
}

static inline const char *
ftfuzz_json_ws(const char *p)
{
    while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')
        p++;
    return p;
}

/* Four hex digits at p into *c: the text after them, or NULL. */
static inline const char *
ftfuzz_json_hex4(const char *p, unsigned long *c)
{
    *c = 0;
    for (int i = 0; i < 4; i++, p++) {
        int d = *p >= '0' && *p <= '9'   ? *p - '0'
                : *p >= 'a' && *p <= 'f' ? *p - 'a' + 10
                : *p >= 'A' && *p <= 'F' ? *p - 'A' + 10
                                         : -1;
        if (d < 0)
            return NULL;
        *c = *c * 16 + (unsigned long)d;
    }
    return p;
}

/* A JSON string at p into out (truncated to size - 1 bytes; out NULL
 * skips it): the text after it, or NULL if malformed.  Bytes outside
 * escapes pass as they are; \u escapes become UTF-8. */
static inline const char *
ftfuzz_json_string(const char *p, char *out, size_t size)
{
    size_t n = 0;
    if (*p++ != '"')
        return NULL;
    for (;;) {
        unsigned char u[4];
        size_t k = 0;
        unsigned long c = (unsigned char)*p++;
        if (c == '"')
            break;
        if (c < 0x20)
            return NULL;   /* a control character, or the text's end */
        if (c != '\\') {
            u[k++] = (unsigned char)c;
        } else {
            char e = *p++;
            const char *plain = strchr("\"\\/bfnrt", e);
            if (e && plain) {
                u[k++] = (unsigned char)"\"\\/\b\f\n\r\t"[plain - "\"\\/bfnrt"];
            } else if (e == 'u') {
                unsigned long lo;
                if (!(p = ftfuzz_json_hex4(p, &c)) || (c >= 0xdc00 && c < 0xe000))
                    return NULL;   /* malformed, or a low surrogate alone */
                if (c >= 0xd800 && c < 0xdc00) {
                    /* a high surrogate: its low half must follow */
                    if (p[0] != '\\' || p[1] != 'u'
                        || !(p = ftfuzz_json_hex4(p + 2, &lo))
                        || lo < 0xdc00 || lo >= 0xe000)
                        return NULL;
                    c = 0x10000 + ((c - 0xd800) << 10) + (lo - 0xdc00);
                }
                if (c < 0x80) {
                    u[k++] = (unsigned char)c;
                } else if (c < 0x800) {
                    u[k++] = (unsigned char)(0xc0 | c >> 6);
                    u[k++] = (unsigned char)(0x80 | (c & 0x3f));
                } else if (c < 0x10000) {
                    u[k++] = (unsigned char)(0xe0 | c >> 12);
                    u[k++] = (unsigned char)(0x80 | (c >> 6 & 0x3f));
                    u[k++] = (unsigned char)(0x80 | (c & 0x3f));
                } else {
                    u[k++] = (unsigned char)(0xf0 | c >> 18);
                    u[k++] = (unsigned char)(0x80 | (c >> 12 & 0x3f));
                    u[k++] = (unsigned char)(0x80 | (c >> 6 & 0x3f));
                    u[k++] = (unsigned char)(0x80 | (c & 0x3f));
                }
            } else {
                return NULL;
            }
        }
        for (size_t i = 0; i < k; i++)
            if (out && n + 1 < size)
                out[n++] = (char)u[i];
    }
    if (out && size)
        out[n] = 0;
    return p;
}

/* A JSON number at p: the text after it, or NULL if malformed.  *value
 * is its value when it is a whole number that fits, else *whole is 0. */
static inline const char *
ftfuzz_json_number(const char *p, unsigned long *value, int *whole)
{
    *value = 0;
    *whole = 1;
    if (*p == '-') {
        *whole = 0;
        p++;
    }
    if (*p < '0' || *p > '9')
        return NULL;
    if (*p == '0' && p[1] >= '0' && p[1] <= '9')
        return NULL;   /* no leading zeros */
    for (; *p >= '0' && *p <= '9'; p++) {
        unsigned long d = (unsigned long)(*p - '0');
        if (*value > (~0UL - d) / 10)
            *whole = 0;
        *value = *value * 10 + d;
    }
    if (*p == '.') {
        *whole = 0;
        if (*++p < '0' || *p > '9')
            return NULL;
        while (*p >= '0' && *p <= '9')
            p++;
    }
    if (*p == 'e' || *p == 'E') {
        *whole = 0;
        p++;
        if (*p == '+' || *p == '-')
            p++;
        if (*p < '0' || *p > '9')
            return NULL;
        while (*p >= '0' && *p <= '9')
            p++;
    }
    return p;
}

/* Any JSON value at p, skipped: the text after it, or NULL if malformed
 * (or nested deeper than llvm-symbolizer ever nests). */
static inline const char *
ftfuzz_json_skip(const char *p, int depth)
{
    unsigned long v;
    int whole;
    p = ftfuzz_json_ws(p);
    if (*p == '"')
        return ftfuzz_json_string(p, NULL, 0);
    if (!strncmp(p, "true", 4) || !strncmp(p, "null", 4))
        return p + 4;
    if (!strncmp(p, "false", 5))
        return p + 5;
    if (*p != '{' && *p != '[')
        return ftfuzz_json_number(p, &v, &whole);
    if (depth >= 8)
        return NULL;
    char close = *p == '{' ? '}' : ']';
    p = ftfuzz_json_ws(p + 1);
    if (*p == close)
        return p + 1;
    for (;;) {
        if (close == '}') {
            if (!(p = ftfuzz_json_string(p, NULL, 0)))
                return NULL;
            p = ftfuzz_json_ws(p);
            if (*p++ != ':')
                return NULL;
        }
        if (!(p = ftfuzz_json_skip(p, depth + 1)))
            return NULL;
        p = ftfuzz_json_ws(p);
        if (*p == close)
            return p + 1;
        if (*p++ != ',')
            return NULL;
        p = ftfuzz_json_ws(p);
    }
}

/*
 * The members of the object at p, one call each: *key gets the next
 * member's name and the return value points at its value, which the
 * caller reads and then passes the text after it back as p.  Returns
 * NULL when malformed, and sets *done (returning the text after the
 * object) when the object ends.
 */
static inline const char *
ftfuzz_json_member(const char *p, int first, char *key, size_t size,
                   int *done)
{
    *done = 0;
    p = ftfuzz_json_ws(p);
    if (first) {
        if (*p++ != '{')
            return NULL;
        p = ftfuzz_json_ws(p);
        if (*p == '}') {
            *done = 1;
            return p + 1;
        }
    } else if (*p == '}') {
        *done = 1;
        return p + 1;
    } else if (*p++ != ',') {
        return NULL;
    }
    p = ftfuzz_json_string(ftfuzz_json_ws(p), key, size);
    if (!p)
        return NULL;
    p = ftfuzz_json_ws(p);
    return *p == ':' ? ftfuzz_json_ws(p + 1) : NULL;
}

/* One frame object of "Symbol"; NULL if malformed. */
static inline const char *
ftfuzz_sym_frame_parse(const char *p, struct ftfuzz_sym_frame *f)
{
    char key[32];
    int done, whole;
    memset(f, 0, sizeof *f);
    for (int first = 1;; first = 0) {
        if (!(p = ftfuzz_json_member(p, first, key, sizeof key, &done)))
            return NULL;
        if (done)
            return p;
        if (!strcmp(key, "FunctionName"))
            p = ftfuzz_json_string(p, f->function, sizeof f->function);
        else if (!strcmp(key, "FileName"))
            p = ftfuzz_json_string(p, f->file, sizeof f->file);
        else if (!strcmp(key, "Line") || !strcmp(key, "Column")) {
            unsigned long *v = key[0] == 'L' ? &f->line : &f->column;
            if ((p = ftfuzz_json_number(p, v, &whole)) && !whole)
                return NULL;
        } else
            p = ftfuzz_json_skip(p, 2);
        if (!p)
            return NULL;
    }
}

/*
 * The answer for the next query line, which asked for offset: its frames,
 * innermost first, into frames[0..max) (beyond max, frames[max - 1] is
 * the outermost), and their number, at least 1 (an address it could not
 * look up, its module unreadable, is one frame with nothing known, as
 * llvm-symbolizer's text output showed it).  Advances *pos past it.
 * Returns 0 at the end of the output and -1, setting *pos to NULL, when
 * the output is malformed or answers another address: the caller leaves
 * the rest unsymbolized (and a NULL *pos gives -1 again).
 */
static inline int
ftfuzz_sym_next(const char **pos, unsigned long offset,
                struct ftfuzz_sym_frame *frames, int max)
{
    const char *p = *pos;
    char key[32], addr[32];
    int done, nf = 0, have_addr = 0, answered = 0;
    if (!p || max < 1)
        return -1;
    p = ftfuzz_json_ws(p);
    if (!*p)
        return 0;
    for (int first = 1;; first = 0) {
        if (!(p = ftfuzz_json_member(p, first, key, sizeof key, &done)))
            goto bad;
        if (done)
            break;
        if (!strcmp(key, "Address")) {
            /* "0x" and the hex digits of offset, as it was asked */
            char want[32];
            snprintf(want, sizeof want, "0x%lx", offset);
            if (!(p = ftfuzz_json_string(p, addr, sizeof addr)))
                goto bad;
            have_addr = !strcmp(addr, want);
        } else if (!strcmp(key, "Symbol")) {
            if (*p++ != '[')
                goto bad;
            p = ftfuzz_json_ws(p);
            nf = 0;
            if (*p == ']')
                p++;
            else
                for (;;) {
                    struct ftfuzz_sym_frame *f = &frames[nf < max ? nf : max - 1];
                    if (!(p = ftfuzz_sym_frame_parse(p, f)))
                        goto bad;
                    nf++;
                    p = ftfuzz_json_ws(p);
                    if (*p == ']') {
                        p++;
                        break;
                    }
                    if (*p++ != ',')
                        goto bad;
                    p = ftfuzz_json_ws(p);
                }
            answered = 1;
        } else {
            if (!(p = ftfuzz_json_skip(p, 1)))
                goto bad;
            answered |= !strcmp(key, "Error");
        }
    }
    if (!have_addr || !answered)
        goto bad;
    if (nf == 0) {
        memset(&frames[0], 0, sizeof frames[0]);
        nf = 1;
    }
    *pos = p;
    return nf < max ? nf : max;
bad:
    *pos = NULL;
    return -1;
}

#endif /* FTFUZZ_SYMBOLIZER_H */
