/*
 * Stand-in plain-access callbacks for the programs that CPython's own
 * build links, when scripts/build-cpython.sh compiles some files with
 * plain-access points (--plain-access-files): those objects call
 * __sanitizer_cov_loadN/storeN, which the scheduler runtime defines in a
 * program that embeds the interpreter (scheduler/plain_access.c).  Like
 * cpython-hook-stub.c, this object is passed in LIBS only and never
 * archived into libpython.  The callbacks do nothing.
 */
#include <stdint.h>

#define FTFUZZ_PLAIN_STUB(n, type)                 \
    void __sanitizer_cov_load##n(type *addr);      \
    void __sanitizer_cov_store##n(type *addr);     \
    void __sanitizer_cov_load##n(type *addr)       \
    {                                              \
        (void)addr;                                \
    }                                              \
    void __sanitizer_cov_store##n(type *addr)      \
    {                                              \
        (void)addr;                                \
    }

FTFUZZ_PLAIN_STUB(1, uint8_t)
FTFUZZ_PLAIN_STUB(2, uint16_t)
FTFUZZ_PLAIN_STUB(4, uint32_t)
FTFUZZ_PLAIN_STUB(8, uint64_t)
FTFUZZ_PLAIN_STUB(16, __int128)
