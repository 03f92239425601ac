/*
 * Plain-access points: loads and stores of shared memory as scheduling
 * points, for code compiled with `ftfuzz-cc --plain-accesses` (clang's
 * SanitizerCoverage `trace-loads,trace-stores`, which calls
 * __sanitizer_cov_loadN / __sanitizer_cov_storeN before each access).
 * Why that mechanism and not TSan's: docs/scheduler.md.
 *
 * Only accesses to shared memory become points.  The filter, in order:
 *  1. outside a session, or in an unmanaged thread: nothing (one load);
 *  2. the calling thread's own stack and static TLS: nothing (a compare);
 *  3. an 8-byte granule's owner, in an open-addressed table reset per
 *     session by a generation count: the first thread to touch a granule
 *     owns it, and its accesses stay free; once a second thread touches
 *     it, the granule is shared and every access to it is a point.
 * A per-run owner filter alone misses the first race of a run: the first
 * thread's accesses happened before anyone knew the granule was shared.
 * So a session can start with a set of granules already known shared
 * (ftfuzz_plain_set_known): the automatic session of a program learns it
 * with one run under a fixed schedule in a forked child
 * (sched_plain_auto_learn), so the set is a function of the program alone
 * and every run, a replay included, learns the same one; the CPython
 * harness does the same per program (harnesses/fuzz_target.c).
 *
 * This file is part of the runtime and, like it, never instrumented; it
 * allocates nothing from the program's heap (its state is one mapping,
 * made before the learning child is forked), so the learning child and
 * the real run see the same malloc results.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include "ftfuzz/env.h"
#include "sched_internal.h"

/* 2^20 slots of 16 bytes: 16 MB, touched only where used. */
#define PA_SLOTS (1u << 20)
#define PA_PROBES 16
#define PA_SHARED UINT32_MAX
/* Granules known shared before a session (learned). */
#define PA_KNOWN_MAX (1u << 16)

struct pa_slot {
    uintptr_t granule;
    uint32_t gen;
    uint32_t owner;     /* thread id + 1, or PA_SHARED */
};

/* Text form of a set: a header line, then one granule address (hex) per
 * line. */
#define PA_MAGIC "ftfuzz-plain-shared 1\n"

/*
 * Everything sizeable lives in one mapping, made only when plain-access
 * points are turned on (pa_enable): every program links this file, and
 * 17 MB more of .bss would move the heap of those that never use it (and
 * so their address-dependent schedules: corpus/regressions).  Until then
 * the callbacks do nothing.
 */
struct pa_state {
    struct pa_slot table[PA_SLOTS];
    uintptr_t known[PA_KNOWN_MAX];
    char text[PA_KNOWN_MAX * 17 + sizeof PA_MAGIC];
};

static struct pa_state *pa;
#define pa_table (pa->table)
#define pa_known (pa->known)
#define pa_text (pa->text)
static uint32_t pa_gen;
/* accesses a full probe run let through as private (for a debugger) */
static uint64_t pa_full;
static size_t pa_nknown;
static int pa_learn_fd = -1;        /* the learning child writes here */

/* The calling thread's stack: [current sp, top).  Computed once per
 * thread: the main thread's top is the stack end ld.so recorded, another
 * thread's is its descriptor, which glibc puts at the top of its stack
 * mapping, above its static TLS. */
extern void *__libc_stack_end;
static __thread uintptr_t pa_stack_top
    __attribute__((tls_model("initial-exec")));

__attribute__((noinline)) static uintptr_t
pa_find_stack_top(void)
{
    if ((pid_t)syscall(SYS_gettid) == getpid())
        pa_stack_top = (uintptr_t)__libc_stack_end;
    else
        pa_stack_top = (uintptr_t)pthread_self();
    return pa_stack_top;
}

/* Makes the mapping (MAP_NORESERVE: pages only where touched); fatal when
 * it cannot be made, since points would silently go missing. */
static void
pa_enable(void)
{
    if (pa)
        return;
    void *m = mmap(NULL, sizeof *pa, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (m == MAP_FAILED) {
        perror("ftfuzz: plain-access points: mmap");
        abort();
    }
    pa = m;
}

static inline struct pa_slot *
pa_slot_for(uintptr_t granule)
{
    uint32_t h = (uint32_t)((granule * 0x9e3779b97f4a7c15ull) >> 44);
    for (unsigned i = 0; i < PA_PROBES; i++) {
        struct pa_slot *s = &pa_table[(h + i) & (PA_SLOTS - 1)];
        if (s->gen != pa_gen || s->granule == granule)
            return s;
    }
    return NULL;
}

/* Called at session begin (core.c): a fresh table holding the known set. */
void
sched_plain_session_begin(void)
{
    if (++pa_gen == 0)
        pa_gen = 1;
    pa_full = 0;
    if (!pa)
        return;
    for (size_t i = 0; i < pa_nknown; i++) {
        struct pa_slot *s = pa_slot_for(pa_known[i]);
        if (s) {
            s->granule = pa_known[i];
            s->gen = pa_gen;
            s->owner = PA_SHARED;
        }
    }
}

__attribute__((noinline)) static void
pa_point(int kind, const void *site)
{
    struct sched_thread *self = sched_self;
    if (sched.reads_from && ftfuzz_sched_step < sched.consult) {
        /* reads-from mode calls back at every step; only atomic accesses
         * are recorded, so nothing else to do before the deciding step */
        ftfuzz_sched_next = ftfuzz_sched_step + 1;
        return;
    }
    sched_access_point(self, kind, site);
}

/* Past the stack check: the owner table, and the point when shared. */
__attribute__((noinline)) static void
pa_table_access(uintptr_t a, uintptr_t sp, int kind, const void *site)
{
    if (!pa || (pa_stack_top == 0 && a - sp < pa_find_stack_top() - sp))
        return;
    uintptr_t granule = a >> 3;
    struct pa_slot *s = pa_slot_for(granule);
    uint32_t me = sched_self->id + 1;
    if (__builtin_expect(s == NULL, 0)) {
        pa_full++;
        return;
    }
    if (s->gen != pa_gen) {
        s->granule = granule;
        s->gen = pa_gen;
        s->owner = me;
        return;
    }
    if (s->owner == me)
        return;
    s->owner = PA_SHARED;
    if (++ftfuzz_sched_step >= ftfuzz_sched_next)
        pa_point(kind, site);
}

/* The fast path, inline in each callback: outside a session, or on the
 * thread's own stack, a few loads and compares and no frame. */
static inline __attribute__((always_inline)) void
pa_access(const void *addr, int kind, const void *site)
{
    if (__builtin_expect(!*(volatile int *)&ftfuzz_hook_active, 1)
        || !ftfuzz_thread_managed)
        return;
    uintptr_t a = (uintptr_t)addr, sp;
#ifdef __x86_64__
    /* no frame of its own: __builtin_frame_address would make one */
    __asm__("mov %%rsp, %0" : "=r"(sp));
#else
    sp = (uintptr_t)__builtin_frame_address(0);
#endif
    uintptr_t top = pa_stack_top;
    if (__builtin_expect(top != 0, 1) && a - sp < top - sp)
        return;
    pa_table_access(a, sp, kind, site);
}

#define PA_CALLBACKS(n, type)                                             \
    FTFUZZ_EXPORT void __sanitizer_cov_load##n(type *addr)                \
    {                                                                     \
        pa_access(addr, FTFUZZ_POINT_PLAIN_LOAD,                          \
                  __builtin_return_address(0));                           \
    }                                                                     \
    FTFUZZ_EXPORT void __sanitizer_cov_store##n(type *addr)               \
    {                                                                     \
        pa_access(addr, FTFUZZ_POINT_PLAIN_STORE,                         \
                  __builtin_return_address(0));                           \
    }

PA_CALLBACKS(1, uint8_t)
PA_CALLBACKS(2, uint16_t)
PA_CALLBACKS(4, uint32_t)
PA_CALLBACKS(8, uint64_t)
PA_CALLBACKS(16, __int128)

/* --- the known set ---------------------------------------------------------- */


static int
pa_parse(const char *text, size_t len)
{
    size_t m = strlen(PA_MAGIC);
    if (len < m || memcmp(text, PA_MAGIC, m) != 0)
        return -1;
    pa_nknown = 0;
    uintptr_t v = 0;
    int digits = 0;
    for (size_t i = m; i < len; i++) {
        char c = text[i];
        if (c == '\n') {
            if (digits && pa_nknown < PA_KNOWN_MAX)
                pa_known[pa_nknown++] = v;
            v = 0;
            digits = 0;
        } else if (c >= '0' && c <= '9') {
            v = v << 4 | (uintptr_t)(c - '0');
            digits++;
        } else if (c >= 'a' && c <= 'f') {
            v = v << 4 | (uintptr_t)(c - 'a' + 10);
            digits++;
        } else {
            return -1;
        }
    }
    return 0;
}

/* Reads fd to its end into pa_text (no stdio: it would allocate). */
static ssize_t
pa_read_all(int fd)
{
    size_t len = 0;
    for (;;) {
        ssize_t n = read(fd, pa_text + len, sizeof pa_text - 1 - len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return -1;
        if (n == 0 || (len += (size_t)n) == sizeof pa_text - 1)
            return (ssize_t)len;
    }
}

static int
pa_write_all(int fd, const char *p, size_t len)
{
    while (len) {
        ssize_t n = write(fd, p, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return -1;
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

/* The shared granules of the current (or last) session, as text. */
static size_t
pa_format_shared(void)
{
    size_t len = strlen(PA_MAGIC), count = 0;
    memcpy(pa_text, PA_MAGIC, len);
    for (size_t i = 0; i < PA_SLOTS && count < PA_KNOWN_MAX; i++) {
        const struct pa_slot *s = &pa_table[i];
        if (s->gen != pa_gen || s->owner != PA_SHARED)
            continue;
        char digits[17];
        int n = 0;
        uintptr_t v = s->granule;
        do {
            digits[n++] = "0123456789abcdef"[v & 15];
            v >>= 4;
        } while (v);
        while (n)
            pa_text[len++] = digits[--n];
        pa_text[len++] = '\n';
        count++;
    }
    return len;
}

/* The learning child's schedule: run on until blocked, then round-robin
 * (the bytes strategy with no preemption), without an allocation. */
static void
learn_nothing(ftfuzz_strategy *s, unsigned id)
{
    (void)s;
    (void)id;
}

static unsigned
learn_choose(ftfuzz_strategy *s, const ftfuzz_decision *d, uint64_t *next)
{
    (void)s;
    *next = SCHED_NO_DEADLINE;
    return d->current_can_continue ? sched_index_of_current(d)
                                   : sched_round_robin(d);
}

static void
learn_describe(ftfuzz_strategy *s, char *buf, size_t size)
{
    (void)s;
    snprintf(buf, size, "plain-learn");
}

static void
learn_destroy(ftfuzz_strategy *s)
{
    (void)s;
}

static ftfuzz_strategy pa_learn_strategy = {
    .name = "plain-learn",
    .thread_started = learn_nothing,
    .yielded = learn_nothing,
    .choose = learn_choose,
    .describe = learn_describe,
    .destroy = learn_destroy,
};

/* Loads the known set from path; 0, or -1 when there is no such file. */
static int
pa_load_file(const char *path)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    ssize_t len = pa_read_all(fd);
    close(fd);
    if (len < 0 || pa_parse(pa_text, (size_t)len) != 0) {
        fprintf(stderr, "ftfuzz: FTFUZZ_PLAIN_SHARED=%s is not a set of "
                        "shared addresses; remove it\n", path);
        exit(2);
    }
    return 0;
}

static void
pa_save_file(const char *path, size_t len)
{
    char tmp[4200];
    snprintf(tmp, sizeof tmp, "%s.%d.tmp", path, (int)getpid());
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0 || pa_write_all(fd, pa_text, len) != 0 || close(fd) != 0
        || rename(tmp, path) != 0) {
        fprintf(stderr, "ftfuzz: cannot write FTFUZZ_PLAIN_SHARED=%s: %s\n",
                path, strerror(errno));
        unlink(tmp);
    }
}

FTFUZZ_EXPORT int
ftfuzz_plain_learn_mode(void)
{
    const char *v = ftfuzz_env_str("FTFUZZ_PLAIN_LEARN");
    if (!strcmp(v, "0"))
        return FTFUZZ_PLAIN_LEARN_NEVER;
    if (!strcmp(v, "1"))
        return FTFUZZ_PLAIN_LEARN_ALWAYS;
    if (strcmp(v, "auto"))
        ftfuzz_env_bad("FTFUZZ_PLAIN_LEARN", v, "expected auto, 1 or 0");
    return FTFUZZ_PLAIN_LEARN_AUTO;
}

ftfuzz_strategy *
sched_plain_auto_learn(void)
{
    pa_enable();
    const char *path = ftfuzz_env_str("FTFUZZ_PLAIN_SHARED");
    if (*path && pa_load_file(path) == 0)
        return NULL;
    if (ftfuzz_plain_learn_mode() == FTFUZZ_PLAIN_LEARN_NEVER)
        return NULL;
    int fds[2];
    if (pipe2(fds, O_CLOEXEC) != 0) {
        perror("ftfuzz: plain-access learning: pipe");
        return NULL;
    }
    pid_t pid = fork();
    if (pid < 0) {
        perror("ftfuzz: plain-access learning: fork");
        close(fds[0]);
        close(fds[1]);
        return NULL;
    }
    if (pid == 0) {
        /* The child runs the program once, quietly, and reports. */
        close(fds[0]);
        pa_learn_fd = fds[1];
        int null = open("/dev/null", O_RDWR | O_CLOEXEC);
        if (null >= 0) {
            dup2(null, 0);
            dup2(null, 1);
            dup2(null, 2);
        }
        unsetenv("FTFUZZ_RESULT");
        unsetenv("FTFUZZ_TRACE_OUT");
        setenv("FTFUZZ_QUIET", "1", 1);
        return &pa_learn_strategy;
    }
    close(fds[1]);
    ssize_t len = pa_read_all(fds[0]);
    close(fds[0]);
    while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
        ;
    if (len < 0 || pa_parse(pa_text, (size_t)len) != 0) {
        /* the child died before reporting: learn nothing */
        pa_nknown = 0;
        return NULL;
    }
    if (*path)
        pa_save_file(path, (size_t)len);
    return NULL;
}

void
sched_plain_auto_finish(void)
{
    if (pa_learn_fd < 0)
        return;
    size_t len = pa_format_shared();
    pa_write_all(pa_learn_fd, pa_text, len);
    close(pa_learn_fd);
    pa_learn_fd = -1;
}

FTFUZZ_EXPORT size_t
ftfuzz_plain_shared(uintptr_t *out, size_t max)
{
    size_t n = 0;
    if (!pa)
        return 0;
    for (size_t i = 0; i < PA_SLOTS; i++) {
        const struct pa_slot *s = &pa_table[i];
        if (s->gen != pa_gen || s->owner != PA_SHARED)
            continue;
        if (n < max)
            out[n] = s->granule;
        n++;
    }
    return n;
}

FTFUZZ_EXPORT void
ftfuzz_plain_set_known(const uintptr_t *granules, size_t n)
{
    pa_enable();
    pa_nknown = n < PA_KNOWN_MAX ? n : PA_KNOWN_MAX;
    if (pa_nknown)
        memcpy(pa_known, granules, pa_nknown * sizeof *pa_known);
}
