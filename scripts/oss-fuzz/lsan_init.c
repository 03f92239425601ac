/*
 * The OSS-Fuzz targets' interpreter initialisation, out of LeakSanitizer's
 * sight.  scripts/oss-fuzz/build.sh links this file with
 * -Wl,--wrap=harness_init (docs/oss-fuzz.md).
 *
 * A target initialises the interpreter once (harness_init) and never
 * finalises it: every input runs in a forked child that leaves with
 * _exit(), so LeakSanitizer only ever checks the parent, when libFuzzer
 * exits.  What the initialisation allocated is still in use then, but much
 * of it is referenced only from objects in mimalloc's heap, which
 * LeakSanitizer does not scan: it reports those blocks as leaked, libFuzzer
 * saves the last input as a crash, and ClusterFuzz would file it.
 *
 * So the allocations of the initialisation are made with LeakSanitizer
 * disabled on this thread.  Unlike a suppression, this needs no symbolizer
 * and ASAN_OPTIONS cannot undo it; everything after the initialisation (the
 * parent's decoding and custom mutator) is still checked.  Builds without
 * LeakSanitizer (UBSan, coverage) do not have the two functions: weak.
 */
void __lsan_disable(void) __attribute__((weak));
void __lsan_enable(void) __attribute__((weak));

void __real_harness_init(const char *argv0, int family);
void __wrap_harness_init(const char *argv0, int family);

void
__wrap_harness_init(const char *argv0, int family)
{
    if (__lsan_disable)
        __lsan_disable();
    __real_harness_init(argv0, family);
    if (__lsan_enable)
        __lsan_enable();
}
