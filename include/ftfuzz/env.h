/*
 * The one reader of ftfuzz's environment variables.  envs.def declares
 * each with its type, default and help; every ftfuzz process (the
 * scheduler's automatic session, the fuzz targets, the ftfuzz command)
 * reads them through these functions, so a variable means the same and
 * fails the same everywhere: a malformed value is a message that names
 * the variable and what it takes, and exit status 2.
 *
 * Header-only and libc-only (no allocation), so the scheduler runtime,
 * which links nothing of the project's, can use it too.
 */
#ifndef FTFUZZ_ENV_H
#define FTFUZZ_ENV_H

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifdef __cplusplus
extern "C" {
#endif

enum ftfuzz_env_type {
    FTFUZZ_ENV_STR,    /* any text */
    FTFUZZ_ENV_U64,    /* a whole number: decimal, or 0x hex */
    FTFUZZ_ENV_POS,    /* the same, at least 1 */
    FTFUZZ_ENV_BOOL,   /* empty or 0: off; 1: on */
};

struct ftfuzz_env_var {
    const char *name;
    enum ftfuzz_env_type type;
    const char *dflt, *help;
};

static const struct ftfuzz_env_var ftfuzz_env_vars[] = {
#define FTFUZZ_ENV(name, type, dflt, help) \
    {#name, FTFUZZ_ENV_##type, dflt, help},
#include "ftfuzz/envs.def"
#undef FTFUZZ_ENV
};
#define FTFUZZ_ENV_COUNT (sizeof ftfuzz_env_vars / sizeof ftfuzz_env_vars[0])

static inline const struct ftfuzz_env_var *
ftfuzz_env_lookup(const char *name, size_t len)
{
    for (size_t i = 0; i < FTFUZZ_ENV_COUNT; i++)
        if (strlen(ftfuzz_env_vars[i].name) == len
            && !strncmp(ftfuzz_env_vars[i].name, name, len))
            return &ftfuzz_env_vars[i];
    return NULL;
}

static inline const struct ftfuzz_env_var *
ftfuzz_env_var(const char *name)
{
    const struct ftfuzz_env_var *v = ftfuzz_env_lookup(name, strlen(name));
    if (v == NULL) {
        /* a name missing from envs.def is the program's bug */
        fprintf(stderr, "ftfuzz: internal error: %s is not in envs.def\n",
                name);
        abort();
    }
    return v;
}

/* The value of name, or its default when unset or empty. */
static inline const char *
ftfuzz_env_str(const char *name)
{
    const char *v = getenv(name);
    return v && *v ? v : ftfuzz_env_var(name)->dflt;
}

static inline void
ftfuzz_env_bad(const char *name, const char *value, const char *wants)
{
    fprintf(stderr, "ftfuzz: %s=%s: %s (ftfuzz env describes it)\n", name,
            value, wants);
    exit(2);
}

/* A U64 or POS variable. */
static inline uint64_t
ftfuzz_env_u64(const char *name)
{
    const struct ftfuzz_env_var *var = ftfuzz_env_var(name);
    const char *v = ftfuzz_env_str(name);
    if (!*v)
        return 0;
    char *end;
    errno = 0;
    unsigned long long x = strtoull(v, &end, 0);
    if (errno || *end || *v == '-' || *v == '+' || *v == ' '
        || (var->type == FTFUZZ_ENV_POS && x == 0))
        ftfuzz_env_bad(name, v, var->type == FTFUZZ_ENV_POS
                                    ? "expected a whole number of at least 1"
                                    : "expected a whole number");
    return x;
}

/* A BOOL variable: 0 or 1. */
static inline int
ftfuzz_env_bool(const char *name)
{
    const char *v = ftfuzz_env_str(name);
    if (!*v || !strcmp(v, "0"))
        return 0;
    if (!strcmp(v, "1"))
        return 1;
    ftfuzz_env_bad(name, v, "expected 1 (on) or 0 (off)");
    return 0;
}

/* Edit distance of a[0..la) and b, capped: enough to suggest a name. */
static inline unsigned
ftfuzz_env_distance(const char *a, size_t la, const char *b)
{
    size_t lb = strlen(b);
    unsigned row[64];
    if (la >= 63 || lb >= 63)
        return 99;
    for (size_t j = 0; j <= lb; j++)
        row[j] = (unsigned)j;
    for (size_t i = 1; i <= la; i++) {
        unsigned diag = row[0];
        row[0] = (unsigned)i;
        for (size_t j = 1; j <= lb; j++) {
            unsigned up = row[j];
            unsigned best = diag + (a[i - 1] != b[j - 1]);
            if (up + 1 < best)
                best = up + 1;
            if (row[j - 1] + 1 < best)
                best = row[j - 1] + 1;
            row[j] = best;
            diag = up;
        }
    }
    return row[lb];
}

/*
 * Warns once about every FTFUZZ_* variable in env that ftfuzz does not
 * read, with the known name it most resembles (AFL++ does the same for
 * AFL_*): a misspelled variable otherwise changes nothing, silently.
 * Processes ftfuzz starts itself are told it was done (FTFUZZ_ENV_CHECKED)
 * and stay quiet.
 */
static inline void
ftfuzz_env_check(char **env)
{
    if (ftfuzz_env_bool("FTFUZZ_ENV_CHECKED"))
        return;
    for (; env && *env; env++) {
        const char *eq = strchr(*env, '=');
        size_t len = eq ? (size_t)(eq - *env) : strlen(*env);
        if (strncmp(*env, "FTFUZZ_", 7) || ftfuzz_env_lookup(*env, len))
            continue;
        const char *best = NULL;
        unsigned best_d = 3;   /* suggest only close names */
        for (size_t i = 0; i < FTFUZZ_ENV_COUNT; i++) {
            unsigned d = ftfuzz_env_distance(*env, len,
                                             ftfuzz_env_vars[i].name);
            if (d < best_d) {
                best_d = d;
                best = ftfuzz_env_vars[i].name;
            }
        }
        fprintf(stderr, "ftfuzz: warning: %.*s is not a variable ftfuzz "
                        "reads%s%s%s (ftfuzz env lists them)\n",
                (int)len, *env, best ? "; did you mean " : "",
                best ? best : "", best ? "?" : "");
    }
}

/*
 * At a process's start: every typed variable is parsed once (a malformed
 * one stops the process here, before any work, not in the middle of an
 * execution), and unknown FTFUZZ_* names get their warning.
 */
static inline void
ftfuzz_env_validate(char **env)
{
    for (size_t i = 0; i < FTFUZZ_ENV_COUNT; i++) {
        if (ftfuzz_env_vars[i].type == FTFUZZ_ENV_BOOL)
            (void)ftfuzz_env_bool(ftfuzz_env_vars[i].name);
        else if (ftfuzz_env_vars[i].type != FTFUZZ_ENV_STR)
            (void)ftfuzz_env_u64(ftfuzz_env_vars[i].name);
    }
    ftfuzz_env_check(env);
}

#ifdef __cplusplus
}
#endif

#endif /* FTFUZZ_ENV_H */
