/*
 * Which llvm-symbolizer ftfuzz's reports use: FTFUZZ_SYMBOLIZER, else
 * llvm-19's (the Debian package clang-19 depends on), else the one on PATH.
 * Shared by the scheduler's reports and the ftfuzz command.
 */
#ifndef FTFUZZ_SYMBOLIZER_H
#define FTFUZZ_SYMBOLIZER_H

#include <stdlib.h>
#include <unistd.h>

#include "ftfuzz/env.h"

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

#endif /* FTFUZZ_SYMBOLIZER_H */
