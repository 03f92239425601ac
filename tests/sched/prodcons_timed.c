/* Producer/consumer with semaphores whose timed wait hides an ordering bug:
 * the consumer holds the buffer mutex while it waits for an item, so a
 * producer that comes second cannot fill the buffer; the timeout keeps the
 * program from deadlocking and the consumer goes on with an empty buffer.
 * CORRECT: wait for the item first, then take the mutex. */
#include <errno.h>
#include <pthread.h>
#include <semaphore.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static pthread_mutex_t m = PTHREAD_MUTEX_INITIALIZER;
static sem_t items;
static int buffer;

static void *
producer(void *arg)
{
    (void)arg;
    pthread_mutex_lock(&m);
    buffer = 42;
    pthread_mutex_unlock(&m);
    sem_post(&items);
    return NULL;
}

static void *
consumer(void *arg)
{
    (void)arg;
#ifdef CORRECT
    sem_wait(&items);
    pthread_mutex_lock(&m);
#else
    struct timespec deadline;
    clock_gettime(CLOCK_REALTIME, &deadline);
    deadline.tv_nsec += 10 * 1000 * 1000;   /* 10 ms */
    if (deadline.tv_nsec >= 1000000000) {
        deadline.tv_sec++;
        deadline.tv_nsec -= 1000000000;
    }
    pthread_mutex_lock(&m);
    while (sem_timedwait(&items, &deadline) != 0 && errno == EINTR)
        ;
#endif
    int got = buffer;
    pthread_mutex_unlock(&m);
    if (got != 42) {
        fprintf(stderr, "consumer read %d before the producer wrote\n", got);
        abort();
    }
    return NULL;
}

int
main(void)
{
    sem_init(&items, 0, 0);
    pthread_t t1, t2;
    pthread_create(&t1, NULL, consumer, NULL);
    pthread_create(&t2, NULL, producer, NULL);
    pthread_join(t1, NULL);
    pthread_join(t2, NULL);
    return 0;
}
