/*
 * libFuzzer's custom mutator entry points.  Kept apart from mutator.c so
 * that the mutator links without libFuzzer (unit tests); a harness links
 * this object to have libFuzzer mutate programs instead of bytes.
 */
#include "mutator.h"

/* Provided by libFuzzer: its own byte mutations, dictionaries included. */
size_t LLVMFuzzerMutate(uint8_t *Data, size_t Size, size_t MaxSize);

size_t LLVMFuzzerCustomMutator(uint8_t *data, size_t size, size_t max_size,
                               unsigned int seed);
size_t LLVMFuzzerCustomCrossOver(const uint8_t *d1, size_t s1,
                                 const uint8_t *d2, size_t s2, uint8_t *out,
                                 size_t max_out, unsigned int seed);

size_t
LLVMFuzzerCustomMutator(uint8_t *data, size_t size, size_t max_size,
                        unsigned int seed)
{
    prog_set_byte_mutator(LLVMFuzzerMutate);
    return prog_mutate(data, size, max_size, seed);
}

size_t
LLVMFuzzerCustomCrossOver(const uint8_t *d1, size_t s1, const uint8_t *d2,
                          size_t s2, uint8_t *out, size_t max_out,
                          unsigned int seed)
{
    return prog_cross_over(d1, s1, d2, s2, out, max_out, seed);
}
