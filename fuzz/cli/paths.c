/*
 * Where the ftfuzz command finds what it runs, from its own executable
 * (/proc/self/exe), never from a path compiled in: a copied, moved or
 * installed ftfuzz keeps working.
 *
 *   in a checkout   ROOT/build/bin/ftfuzz    targets ROOT/build/fuzz,
 *                                            data (corpus/, scripts/) ROOT
 *   installed       PREFIX/bin/ftfuzz        targets PREFIX/lib/ftfuzz/fuzz,
 *                                            data PREFIX/share/ftfuzz
 *
 * `make install PREFIX=...` lays out the second form.  FTFUZZ_HOME, when
 * set, is the data directory, and the targets are FTFUZZ_HOME/build/fuzz
 * (a checkout) or FTFUZZ_HOME/../../lib/ftfuzz/fuzz (an installed share).
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"

static char self[PATH_MAX], data[PATH_MAX], targets[PATH_MAX + 32];

static int
is_dir(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

/* Fills self, data and targets once. */
static void
paths_init(void)
{
    if (self[0])
        return;
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    if (n <= 0)
        snprintf(self, sizeof self, "ftfuzz");
    else
        self[n] = '\0';
    char bin[PATH_MAX];
    snprintf(bin, sizeof bin, "%s", self);
    char *slash = strrchr(bin, '/');
    if (slash)
        *slash = '\0';
    else
        snprintf(bin, sizeof bin, ".");
    /* bin is ROOT/build/bin or PREFIX/bin */
    char share[PATH_MAX + 32];
    snprintf(share, sizeof share, "%s/../share/ftfuzz", bin);
    const char *home = getenv("FTFUZZ_HOME");
    if (home && *home) {
        snprintf(data, sizeof data, "%s", home);
        snprintf(share, sizeof share, "%s/build/fuzz", home);
        if (is_dir(share))
            snprintf(targets, sizeof targets, "%s", share);
        else
            snprintf(targets, sizeof targets, "%s/../../lib/ftfuzz/fuzz",
                     home);
    } else if (is_dir(share)) {
        snprintf(data, sizeof data, "%s", share);
        snprintf(targets, sizeof targets, "%s/../lib/ftfuzz/fuzz", bin);
    } else {
        snprintf(data, sizeof data, "%s/../..", bin);
        snprintf(targets, sizeof targets, "%s/../fuzz", bin);
    }
    /* canonical forms for messages, where they exist */
    char buf[PATH_MAX];
    if (realpath(data, buf))
        snprintf(data, sizeof data, "%s", buf);
    if (realpath(targets, buf))
        snprintf(targets, sizeof targets, "%s", buf);
}

const char *
cli_self(void)
{
    paths_init();
    return self;
}

const char *
cli_data_dir(void)
{
    paths_init();
    return data;
}

const char *
cli_targets_dir(void)
{
    paths_init();
    return targets;
}

int
cli_target_path(const char *cmd, const char *name, char *path, size_t n)
{
    const char *dir = flag(cmd, "--targets-dir");   /* "" if cmd has none */
    if (snprintf(path, n, "%s/%s", *dir ? dir : cli_targets_dir(), name)
        >= (int)n) {
        fprintf(stderr, "ftfuzz %s: the path of %s is too long\n", cmd,
                name);
        return -1;
    }
    if (access(path, X_OK) != 0) {
        fprintf(stderr, "ftfuzz %s: %s is not built: run 'make cpython "
                        "all' in the ftfuzz checkout%s%s\n", cmd, path,
                *dir ? "" : " ", *dir ? "" : cli_data_dir());
        return -1;
    }
    return 0;
}
