/* Missed condition-variable signal: the consumer tests the flag outside the
 * mutex, so the producer's signal can come between its test and its wait,
 * and the consumer then waits for good.  CORRECT: test in a loop under the
 * mutex, set under the mutex. */
#include <pthread.h>
#include <stdatomic.h>

static pthread_mutex_t m = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t c = PTHREAD_COND_INITIALIZER;
static _Atomic int ready;

static void *
consumer(void *arg)
{
    (void)arg;
#ifdef CORRECT
    pthread_mutex_lock(&m);
    while (!atomic_load(&ready))
        pthread_cond_wait(&c, &m);
    pthread_mutex_unlock(&m);
#else
    if (!atomic_load(&ready)) {
        pthread_mutex_lock(&m);
        pthread_cond_wait(&c, &m);
        pthread_mutex_unlock(&m);
    }
#endif
    return NULL;
}

static void *
producer(void *arg)
{
    (void)arg;
    pthread_mutex_lock(&m);
    atomic_store(&ready, 1);
    pthread_cond_signal(&c);
    pthread_mutex_unlock(&m);
    return NULL;
}

int
main(void)
{
    pthread_t t1, t2;
    pthread_create(&t1, NULL, consumer, NULL);
    pthread_create(&t2, NULL, producer, NULL);
    pthread_join(t1, NULL);
    pthread_join(t2, NULL);
    return 0;
}
