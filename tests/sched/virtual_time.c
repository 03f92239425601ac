/* Sleeps and timed waits run on virtual time: an hour of sleep() ends at
 * once, the clocks say an hour has passed, and a timed wait that nothing
 * ends times out.  Prints the elapsed virtual seconds. */
#include <errno.h>
#include <pthread.h>
#include <semaphore.h>
#include <stdio.h>
#include <time.h>
#include <unistd.h>

static sem_t never;

static void *
sleeper(void *arg)
{
    (void)arg;
    sleep(3600);
    return NULL;
}

int
main(void)
{
    struct timespec t0, t1, dl;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    pthread_t t;
    pthread_create(&t, NULL, sleeper, NULL);
    pthread_join(t, NULL);
    sem_init(&never, 0, 0);
    clock_gettime(CLOCK_REALTIME, &dl);
    dl.tv_sec += 5;
    int rc = sem_timedwait(&never, &dl);
    int timed_out = rc == -1 && errno == ETIMEDOUT;
    clock_gettime(CLOCK_MONOTONIC, &t1);
    printf("elapsed %ld timed_out %d\n", (long)(t1.tv_sec - t0.tv_sec),
           timed_out);
    return timed_out ? 0 : 1;
}
