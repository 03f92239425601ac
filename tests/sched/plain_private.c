/* Only private memory: each thread fills an array on its own stack and a
 * buffer it allocated itself, and hands back a sum; two rounds of two
 * threads, so that the second round runs on the first one's stacks.  Built with
 * --plain-accesses it must run exactly the points it runs without: the
 * stack and single-owner filters keep every one of these accesses free. */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#define N 512

static void *
worker(void *arg)
{
    volatile int local[N];
    int *heap = malloc(N * sizeof *heap);
    if (!heap)
        abort();
    for (int i = 0; i < N; i++) {
        local[i] = i;
        heap[i] = local[i] * 2;
    }
    long sum = 0;
    for (int i = 0; i < N; i++)
        sum += heap[i] + local[i];
    *(int **)arg = heap;    /* freed by main: free() is not instrumented */
    return (void *)sum;
}

int
main(void)
{
    pthread_t t[4];
    int *bufs[4];
    long total = 0;
    for (int round = 0; round < 2; round++) {
        for (int i = 2 * round; i < 2 * round + 2; i++)
            pthread_create(&t[i], NULL, worker, &bufs[i]);
        for (int i = 2 * round; i < 2 * round + 2; i++) {
            void *r;
            pthread_join(t[i], &r);
            total += (long)(intptr_t)r;
        }
    }
    for (int i = 0; i < 4; i++)
        free(bufs[i]);
    return total == 4L * 3 * (N * (N - 1) / 2) ? 0 : 1;
}
