/*
 * ftfuzz: the command.  One entry point: --help and the dispatch to each
 * command's cmd_NAME (one file per command, from commands.def; flags.c
 * parses the flags).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ftfuzz/env.h"
#include "cli.h"

#define FTFUZZ_CMD(name, args, summary) int cmd_##name(int, char **);
#define FTFUZZ_FLAG(cmd, flag, value, dflt, help)
#include "commands.def"
#undef FTFUZZ_CMD
#undef FTFUZZ_FLAG

/* Each command's function, by name (in its own file). */
static const struct {
    const char *name;
    int (*run)(int argc, char **argv);
} runs[] = {
#define FTFUZZ_CMD(name, args, summary) {#name, cmd_##name},
#define FTFUZZ_FLAG(cmd, flag, value, dflt, help)
#include "commands.def"
#undef FTFUZZ_CMD
#undef FTFUZZ_FLAG
};

static void
usage(FILE *f)
{
    fprintf(f, "usage: ftfuzz COMMAND [flags] [arguments]\n\n"
               "ftfuzz finds free-threading races and replays them exactly.\n"
               "\ncommands:\n");
    for (size_t i = 0; i < ncommands; i++)
        fprintf(f, "  %-9s %s\n", commands[i].name, commands[i].summary);
    fprintf(f, "\n'ftfuzz COMMAND --help' describes a command and its flags.\n");
}

int
main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    /* a malformed FTFUZZ_* value stops here; the processes this one
     * starts need not warn again about unknown names */
    ftfuzz_env_validate(environ);
    setenv("FTFUZZ_ENV_CHECKED", "1", 1);
    if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")
        || !strcmp(argv[1], "help")) {
        const struct cmd *c = NULL;
        for (size_t i = 0; argc > 2 && i < ncommands; i++)
            if (!strcmp(argv[2], commands[i].name))
                c = &commands[i];
        if (argc > 2 && !c) {
            fprintf(stderr, "ftfuzz: unknown command '%s'\n\n", argv[2]);
            usage(stderr);
            return 2;
        }
        if (c)
            command_help(c, stdout);
        else
            usage(stdout);
        return 0;
    }
    for (size_t i = 0; i < sizeof runs / sizeof runs[0]; i++)
        if (!strcmp(argv[1], runs[i].name))
            return runs[i].run(argc - 1, argv + 1);
    fprintf(stderr, "ftfuzz: unknown command '%s'\n\n", argv[1]);
    usage(stderr);
    return 2;
}
