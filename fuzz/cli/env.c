/* `ftfuzz env`: the environment variables ftfuzz reads (envs.def). */
#include <stdio.h>

#include "ftfuzz/env.h"
#include "cli.h"

int
cmd_env(int argc, char **argv)
{
    int dd;
    if (parse_flags(find_cmd("env"), argc, argv, &dd) < 0)
        return 2;
    static const char *const types[] = {
        [FTFUZZ_ENV_STR] = "text", [FTFUZZ_ENV_U64] = "number",
        [FTFUZZ_ENV_POS] = "number >= 1", [FTFUZZ_ENV_BOOL] = "0 or 1",
    };
    for (size_t i = 0; i < FTFUZZ_ENV_COUNT; i++) {
        const struct ftfuzz_env_var *v = &ftfuzz_env_vars[i];
        printf("  %s  (%s%s%s)\n      %s\n", v->name, types[v->type],
               *v->dflt ? ", default " : "", v->dflt, v->help);
    }
    return 0;
}
