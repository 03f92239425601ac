/* Lost update through the legacy __sync builtins: a read with
 * __sync_add_and_fetch(p, 0), then a write with __sync_lock_test_and_set.
 * CORRECT: __sync_fetch_and_add.  Only when the __sync builtins are
 * scheduling points (include/ftfuzz/sync_hooks.h) can a switch fall
 * between the two halves. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

static int counter;

static void *
worker(void *arg)
{
    (void)arg;
#ifdef CORRECT
    __sync_fetch_and_add(&counter, 1);
#else
    int v = __sync_add_and_fetch(&counter, 0);
    __sync_lock_test_and_set(&counter, v + 1);
#endif
    return NULL;
}

int
main(void)
{
    pthread_t t[2];
    for (int i = 0; i < 2; i++)
        pthread_create(&t[i], NULL, worker, NULL);
    for (int i = 0; i < 2; i++)
        pthread_join(t[i], NULL);
    __sync_synchronize();
    if (__sync_fetch_and_add(&counter, 0) != 2) {
        fprintf(stderr, "lost update: counter is %d, expected 2\n", counter);
        abort();
    }
    return 0;
}
