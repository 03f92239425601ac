/* `ftfuzz regress`: scripts/regress.py (docs/regress.md). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"

int
cmd_regress(int argc, char **argv)
{
    /* scripts/regress.py does the work (docs/regress.md).  Its arguments
     * are passed through unchanged: it parses them and has the --help. */
    char script[4096];
    snprintf(script, sizeof script, "%s/scripts/regress.py", cli_data_dir());
    /* regress.py finds this ftfuzz and its targets through these, so that
     * an installed ftfuzz checks its own */
    setenv("FTFUZZ_SELF", cli_self(), 1);
    setenv("FTFUZZ_TARGETS_DIR", cli_targets_dir(), 1);
    char **args = calloc((size_t)argc + 2, sizeof *args);
    if (!args) {
        perror("ftfuzz regress");
        return 2;
    }
    int n = 0;
    args[n++] = "python3";
    args[n++] = script;
    for (int i = 1; i < argc; i++)
        args[n++] = argv[i];
    args[n] = NULL;
    fflush(stdout);
    execv("/usr/bin/python3", args);
    execvp("python3", args);
    fprintf(stderr, "ftfuzz regress: cannot run python3 %s: %s\n", script,
            strerror(errno));
    free(args);
    return 2;
}
