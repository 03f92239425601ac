/* A null dereference only some schedules reach: one thread clears a
 * shared pointer that the other loads and then uses.  explore's report of
 * the SIGSEGV must show the failing thread's symbolized stack. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>

static int value = 42;
static int *_Atomic shared = &value;
static int seen;

static void *
clear_pointer(void *arg)
{
    (void)arg;
    atomic_store(&shared, NULL);
    return NULL;
}

__attribute__((noinline)) static void *
use_pointer(void *arg)
{
    (void)arg;
    int *p = atomic_load(&shared);
    seen = *(volatile int *)p;
    return NULL;
}

int
main(void)
{
    pthread_t t[2];
    pthread_create(&t[0], NULL, use_pointer, NULL);
    pthread_create(&t[1], NULL, clear_pointer, NULL);
    for (int i = 0; i < 2; i++)
        pthread_join(t[i], NULL);
    printf("seen %d\n", seen);
    return 0;
}
