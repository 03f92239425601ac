/*
 * The runtime's own memory.  The scheduler never calls malloc: everything
 * it keeps (strategies, the trace, a replayed trace file, report text)
 * comes from one mapping reserved at its first use, so the program's heap
 * is the same under every strategy.  A strategy that allocated from the
 * program's heap moved the program's malloc results (a replayed
 * use-after-free then read other garbage), and the size of that mapping
 * is fixed, so the program's own mappings (thread stacks, large blocks)
 * land in the same places whatever the runtime later uses of it.
 *
 * The allocator is deliberately simple: power-of-two size classes, a free
 * list per class, and a bump pointer into the reserved range (pages are
 * only backed once touched: MAP_NORESERVE).  A spin lock guards it: the
 * watchdog thread reports through it while the turn holder may allocate.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>

#include "sched_internal.h"

/* Reserved once; halved until the kernel agrees (strict overcommit). */
#define MEM_RESERVE_MAX (4ull << 30)
#define MEM_RESERVE_MIN (64ull << 20)
/* Blocks carry a 16-byte header (their class), keeping 16-byte alignment. */
#define MEM_HEADER 16
#define MEM_MIN_CLASS 5    /* 32-byte blocks */
#define MEM_CLASSES 40

_Static_assert(MEM_HEADER >= sizeof(uint32_t) && MEM_HEADER % 16 == 0,
               "the header keeps blocks 16-byte aligned");
_Static_assert((1ull << (MEM_CLASSES - 1)) >= MEM_RESERVE_MAX,
               "a class for every block the reservation can hold");

static char *mem_top, *mem_end;
static void *mem_free_list[MEM_CLASSES];
static int mem_lock;

static void
mem_acquire(void)
{
    while (__atomic_exchange_n(&mem_lock, 1, __ATOMIC_ACQUIRE))
        __builtin_ia32_pause();
}

static void
mem_release(void)
{
    __atomic_store_n(&mem_lock, 0, __ATOMIC_RELEASE);
}

/*
 * Where the reservation goes: far below the program's mappings, which
 * Linux places top-down from just under the stack, and above everything
 * else (with address randomization off the executable and its heap sit at
 * 0x555555554000, and AddressSanitizer's shadow ends below 16 TiB).  A
 * reservation among the program's mappings would move every mapping made
 * after it (mimalloc's segments, thread stacks), and with them the
 * addresses, hashes and schedules of the objects in them.
 */
#define MEM_RESERVE_AT ((void *)0x300000000000ull)

static int
mem_reserve(void)
{
    for (uint64_t size = MEM_RESERVE_MAX; size >= MEM_RESERVE_MIN;
         size /= 2) {
        int flags = MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE;
        void *p = mmap(MEM_RESERVE_AT, size, PROT_READ | PROT_WRITE,
                       flags | MAP_FIXED_NOREPLACE, -1, 0);
        if (p == MAP_FAILED)   /* taken, or an older kernel: anywhere */
            p = mmap(NULL, size, PROT_READ | PROT_WRITE, flags, -1, 0);
        if (p != MAP_FAILED) {
            mem_top = p;
            mem_end = mem_top + size;
            return 0;
        }
    }
    return -1;
}

static unsigned
mem_class_of(size_t n)
{
    unsigned c = MEM_MIN_CLASS;
    while (c < MEM_CLASSES - 1 && (1ull << c) < n + MEM_HEADER)
        c++;
    return c;
}

/* Zeroed memory, 16-byte aligned; aborts when the reservation is used up,
 * since a runtime that silently dropped trace records would not replay. */
void *
sched_mem_alloc(size_t n)
{
    unsigned c = mem_class_of(n);
    size_t size = (size_t)1 << c;
    char *block = NULL;
    mem_acquire();
    if (!mem_top && mem_reserve() != 0) {
        mem_release();
        fprintf(stderr, "ftfuzz: cannot reserve the runtime's memory\n");
        abort();
    }
    if (mem_free_list[c]) {
        block = mem_free_list[c];
        mem_free_list[c] = *(void **)(block + MEM_HEADER);
    } else if ((size_t)(mem_end - mem_top) >= size) {
        block = mem_top;
        mem_top += size;
    }
    mem_release();
    if (!block) {
        fprintf(stderr, "ftfuzz: the runtime's memory is used up (%zu more "
                        "bytes wanted)\n", n);
        abort();
    }
    *(uint32_t *)block = c;
    memset(block + MEM_HEADER, 0, size - MEM_HEADER);
    return block + MEM_HEADER;
}

void
sched_mem_free(void *p)
{
    if (!p)
        return;
    char *block = (char *)p - MEM_HEADER;
    unsigned c = *(uint32_t *)block;
    mem_acquire();
    *(void **)p = mem_free_list[c];
    mem_free_list[c] = block;
    mem_release();
}

/* Like realloc; the new tail is zeroed. */
void *
sched_mem_realloc(void *p, size_t n)
{
    if (!p)
        return sched_mem_alloc(n);
    size_t room = ((size_t)1 << *(uint32_t *)((char *)p - MEM_HEADER))
                  - MEM_HEADER;
    if (n <= room)
        return p;
    void *q = sched_mem_alloc(n);
    memcpy(q, p, room);
    sched_mem_free(p);
    return q;
}

/* A whole file, NUL-terminated, read with read(2) (stdio would malloc);
 * NULL with errno set when it cannot be read. */
char *
sched_mem_read_file(const char *path, size_t *len)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return NULL;
    size_t cap = 4096, n = 0;
    char *buf = sched_mem_alloc(cap);
    for (;;) {
        if (n + 1 >= cap)
            buf = sched_mem_realloc(buf, cap *= 2);
        ssize_t got = read(fd, buf + n, cap - n - 1);
        if (got < 0 && errno == EINTR)
            continue;
        if (got < 0) {
            int e = errno;
            close(fd);
            sched_mem_free(buf);
            errno = e;
            return NULL;
        }
        if (got == 0)
            break;
        n += (size_t)got;
    }
    close(fd);
    buf[n] = 0;
    if (len)
        *len = n;
    return buf;
}

/* Writes all of buf to fd; 0 on success. */
int
sched_write_all(int fd, const char *buf, size_t len)
{
    while (len > 0) {
        ssize_t w = write(fd, buf, len);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        buf += w;
        len -= (size_t)w;
    }
    return 0;
}

/* Writes text to path through path.tmp and a rename, so that a reader
 * never sees half a file; 0 on success. */
int
sched_write_file(const char *path, const char *text, size_t len)
{
    char tmp[4200];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0)
        return -1;
    int bad = sched_write_all(fd, text, len);
    if (close(fd) != 0 || bad) {
        unlink(tmp);
        return -1;
    }
    return rename(tmp, path);
}
