/*
 * Verdict names and classes from verdicts.def, header only: the scheduler
 * (ftfuzz_verdict_name), the result record and the ftfuzz command, which
 * links no scheduler, read the one table.
 */
#ifndef FTFUZZ_VERDICTS_H
#define FTFUZZ_VERDICTS_H

#include <string.h>

#include "ftfuzz/sched.h"

static const char *const ftfuzz_verdict_names[] = {
#define FTFUZZ_VERDICT_ROW(NAME, name, class, help) name,
#include "ftfuzz/verdicts.def"
#undef FTFUZZ_VERDICT_ROW
};

/* The verdict's name ("passed", "deadlock", ...), "unknown" out of range. */
static inline const char *
ftfuzz_verdict_text(int verdict)
{
    if (verdict < 0 || verdict >= FTFUZZ_VERDICT_COUNT)
        return "unknown";
    return ftfuzz_verdict_names[verdict];
}

/* The verdict named `name`, or -1. */
static inline int
ftfuzz_verdict_from_name(const char *name)
{
    for (int i = 0; i < FTFUZZ_VERDICT_COUNT; i++)
        if (!strcmp(name, ftfuzz_verdict_names[i]))
            return i;
    return -1;
}

/* Did the verdict kill the execution (class DIED, what a .meta's
 * `expected: crash` means)? */
static inline int
ftfuzz_verdict_died(int verdict)
{
    enum { PASS, SCHED, ORACLE, DIED, EXIT };
    static const unsigned char cls[] = {
#define FTFUZZ_VERDICT_ROW(NAME, name, class, help) class,
#include "ftfuzz/verdicts.def"
#undef FTFUZZ_VERDICT_ROW
    };
    return verdict >= 0 && verdict < FTFUZZ_VERDICT_COUNT
           && cls[verdict] == DIED;
}

#endif /* FTFUZZ_VERDICTS_H */
