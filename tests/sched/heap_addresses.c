/* Prints where the program's own mallocs land, before and after its
 * threads run.  The threads allocate nothing, so the addresses depend on
 * the scheduler's own allocations only, which must never be on this heap:
 * they must be the same under every strategy. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>

static _Atomic int counter;

static void *
worker(void *arg)
{
    (void)arg;
    for (int i = 0; i < 20; i++)
        atomic_fetch_add(&counter, 1);
    return NULL;
}

int
main(void)
{
    static const size_t sizes[] = {16, 100, 472, 4096, 40000, 200000};
    void *before[6], *after[6];
    for (int i = 0; i < 6; i++)
        before[i] = malloc(sizes[i]);
    free(before[1]);
    free(before[3]);
    pthread_t t[2];
    for (int i = 0; i < 2; i++)
        pthread_create(&t[i], NULL, worker, NULL);
    for (int i = 0; i < 2; i++)
        pthread_join(t[i], NULL);
    for (int i = 0; i < 6; i++)
        after[i] = malloc(sizes[i]);
    printf("heap");
    for (int i = 0; i < 6; i++)
        printf(" %p %p", before[i], after[i]);
    printf("\n");
    return 0;
}
