/*
 * Address-space randomization off, or a loud warning.
 *
 * Address-derived values (id()-based hashes, allocator layout) reach
 * CPython's control flow, so with randomization on the same input can take
 * another path in another process (docs/replay.md).  Every ftfuzz process
 * that runs executions turns it off; a container's seccomp profile may
 * refuse (Docker's default allows personality() only for a few personas),
 * and then running on silently would turn a replayed crash into a pass.
 * Header-only: the scheduler runtime, the fuzz targets and the CLI share it
 * without linking each other.
 */
#ifndef FTFUZZ_ASLR_H
#define FTFUZZ_ASLR_H

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/personality.h>
#include <unistd.h>

/*
 * Sets ADDR_NO_RANDOMIZE in this process's personality, which takes effect
 * at its next exec and in every child it execs.  Returns 1 when it was
 * newly set (re-exec to apply it to this process), 0 when it was already
 * set, -1 when the kernel refused, after a warning on stderr.
 */
static inline int
ftfuzz_aslr_off(void)
{
    int pers = personality(0xffffffff);
    if (pers != -1 && (pers & ADDR_NO_RANDOMIZE))
        return 0;
    if (pers != -1
        && personality((unsigned long)pers | ADDR_NO_RANDOMIZE) != -1)
        return 1;
    static int warned;   /* once per process (per file that asks) */
    if (warned++)
        return -1;
    fprintf(stderr,
            "ftfuzz: warning: cannot turn address-space randomization off "
            "(personality: %s), so an execution may differ from one process "
            "to the next: a replay can miss its race or give another trace "
            "hash.  In a container, allow it (docker run --security-opt "
            "seccomp=unconfined, or --privileged).\n",
            strerror(errno));
    return -1;
}

/* ftfuzz_aslr_off(), and when that newly took effect, this program again
 * (argv as main got it) from the start, with randomization off; returns
 * when there was nothing to do, or after a warning. */
static inline void
ftfuzz_aslr_reexec(char **argv)
{
    if (ftfuzz_aslr_off() != 1)
        return;
    execv("/proc/self/exe", argv);
    fprintf(stderr, "ftfuzz: warning: cannot re-execute %s with "
                    "address-space randomization off: %s\n",
            argv[0], strerror(errno));
}

#endif
