/*
 * The ftfuzz command's table of subcommands and flags (commands.def),
 * flag parsing and each command's --help.  The bottom of fuzz/cli/: it
 * calls nothing else of it (main.c maps the names to the cmd_* functions).
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

struct flag {
    const char *cmd, *name, *value, *dflt, *help;
    const char *set;   /* the value given, or NULL */
};

const struct cmd commands[] = {
#define FTFUZZ_CMD(name, args, summary) {#name, args, summary},
#define FTFUZZ_FLAG(cmd, flag, value, dflt, help)
#include "commands.def"
#undef FTFUZZ_CMD
#undef FTFUZZ_FLAG
};

const size_t ncommands = sizeof commands / sizeof commands[0];

static struct flag flags[] = {
#define FTFUZZ_CMD(name, args, summary)
#define FTFUZZ_FLAG(cmd, flag, value, dflt, help) \
    {#cmd, flag, value, dflt, help, NULL},
#include "commands.def"
#undef FTFUZZ_CMD
#undef FTFUZZ_FLAG
};

#define NFLAGS (sizeof flags / sizeof flags[0])

const struct cmd *
find_cmd(const char *name)
{
    for (size_t i = 0; i < ncommands; i++)
        if (!strcmp(commands[i].name, name))
            return &commands[i];
    abort();
}

void
command_help(const struct cmd *c, FILE *f)
{
    fprintf(f, "usage: ftfuzz %s %s\n\n%s\n", c->name, c->args, c->summary);
    int any = 0;
    for (size_t i = 0; i < NFLAGS; i++) {
        if (strcmp(flags[i].cmd, c->name))
            continue;
        if (!any++)
            fprintf(f, "\nflags:\n");
        char left[64];
        snprintf(left, sizeof left, "%s%s%s", flags[i].name,
                 flags[i].value ? " " : "",
                 flags[i].value ? flags[i].value : "");
        fprintf(f, "  %-22s %s", left, flags[i].help);
        if (flags[i].dflt && *flags[i].dflt)
            fprintf(f, " (default %s)", flags[i].dflt);
        fprintf(f, "\n");
    }
}

const char *
flag(const char *cmd, const char *name)
{
    for (size_t i = 0; i < NFLAGS; i++)
        if (!strcmp(flags[i].cmd, cmd) && !strcmp(flags[i].name, name))
            return flags[i].set ? flags[i].set : flags[i].dflt;
    return "";
}

/*
 * Parses the flags of `cmd` from argv; returns the index of the first
 * argument that is not a flag (after "--" if there is one), or -1 after
 * printing an error.  --help prints help and exits.
 */
int
parse_flags(const struct cmd *c, int argc, char **argv, int *saw_dashdash)
{
    *saw_dashdash = 0;
    int i = 1;
    for (; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--")) {
            *saw_dashdash = 1;
            return i + 1;
        }
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            command_help(c, stdout);
            exit(0);
        }
        if (strncmp(a, "--", 2))
            return i;
        const char *eq = strchr(a, '=');
        size_t nlen = eq ? (size_t)(eq - a) : strlen(a);
        struct flag *f = NULL;
        for (size_t k = 0; k < NFLAGS; k++)
            if (!strcmp(flags[k].cmd, c->name)
                && strlen(flags[k].name) == nlen
                && !strncmp(flags[k].name, a, nlen))
                f = &flags[k];
        if (!f) {
            fprintf(stderr, "ftfuzz %s: unknown flag %s\n", c->name, a);
            command_help(c, stderr);
            return -1;
        }
        if (!f->value) {
            if (eq) {
                fprintf(stderr, "ftfuzz %s: %s takes no value\n", c->name,
                        f->name);
                return -1;
            }
            f->set = "1";
        } else if (eq) {
            f->set = eq + 1;
        } else if (i + 1 < argc) {
            f->set = argv[++i];
        } else {
            fprintf(stderr, "ftfuzz %s: %s needs a value (%s)\n", c->name,
                    f->name, f->value);
            return -1;
        }
    }
    return i;
}

int
parse_u64(const char *cmd, const char *name, uint64_t *out)
{
    const char *v = flag(cmd, name);
    char *end;
    errno = 0;
    unsigned long long x = strtoull(v, &end, 0);
    if (!*v || *end || errno || v[0] == '-') {
        fprintf(stderr, "ftfuzz %s: %s wants a whole number, not '%s'\n", cmd,
                name, v);
        return -1;
    }
    *out = x;
    return 0;
}

