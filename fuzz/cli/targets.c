/* `ftfuzz targets`: the fuzz targets and whether they are built. */
#include <stdio.h>
#include <unistd.h>

#include "cli.h"

int
cmd_targets(int argc, char **argv)
{
    int dd;
    if (parse_flags(find_cmd("targets"), argc, argv, &dd) < 0)
        return 2;
    for (size_t i = 0; i < FTFUZZ_NFAMILIES; i++) {
        char path[4096];
        snprintf(path, sizeof path, "%s/fuzz_%s", cli_targets_dir(),
                 families[i]);
        printf("  fuzz_%-10s %s\n", families[i],
               access(path, X_OK) == 0 ? path : "(not built: make cpython all)");
    }
    return 0;
}
