/* The unit programs' CHECK: counts the checks and the failures, and goes
 * on after a failure so that one run reports all of them. */
#ifndef FTFUZZ_TESTS_CHECK_H
#define FTFUZZ_TESTS_CHECK_H

#include <stdio.h>

static int checks, failures;

#define CHECK(cond)                                                        \
    do {                                                                   \
        checks++;                                                          \
        if (!(cond)) {                                                     \
            failures++;                                                    \
            fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__,         \
                    __LINE__, #cond);                                      \
        }                                                                  \
    } while (0)

#endif /* FTFUZZ_TESTS_CHECK_H */
