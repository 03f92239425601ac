/*
 * The structural mutator: libFuzzer's custom mutator and cross-over on
 * decoded programs.  fuzz/libfuzzer_glue.c exports them to libFuzzer; unit
 * tests call them directly.  docs/program-format.md lists the mutations.
 */
#ifndef FTFUZZ_MUTATOR_H
#define FTFUZZ_MUTATOR_H

#include <stddef.h>
#include <stdint.h>

/* Same contract as LLVMFuzzerMutate: mutates data[0..size) in place, never
 * past max_size (> 0), and returns the new size. */
typedef size_t (*prog_byte_mutator)(uint8_t *data, size_t size,
                                    size_t max_size);

/*
 * The byte mutator used for schedule bytes and for scalar tweaks of numbers.
 * NULL (the default) selects a built-in one driven by the mutation's own
 * seed; the libFuzzer glue installs LLVMFuzzerMutate.  Output is a function
 * of (data, seed) only when the byte mutator is deterministic.
 */
void prog_set_byte_mutator(prog_byte_mutator fn);

/*
 * Decodes data (undecodable data counts as the empty program), applies one
 * or a few structural mutations chosen by a PRNG seeded with seed, and
 * writes the encoding back into data.  Never writes past max_size; returns
 * the new size.  When no mutation fits, returns size with data untouched if
 * it was a program that fits, else 0 (the empty program).
 */
size_t prog_mutate(uint8_t *data, size_t size, size_t max_size,
                   unsigned int seed);

/*
 * Writes into out (at most max_out bytes) a program that combines the
 * objects, threads and schedules of the two parents.  Returns its size, 0
 * when nothing non-empty fits.
 */
size_t prog_cross_over(const uint8_t *d1, size_t s1, const uint8_t *d2,
                       size_t s2, uint8_t *out, size_t max_out,
                       unsigned int seed);

#endif /* FTFUZZ_MUTATOR_H */
