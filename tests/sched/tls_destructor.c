/* Thread-specific data whose destructor takes a mutex (as NSPR's do).
 * Each worker sets its value, then holds the same mutex around some
 * atomic work.  A destructor run after the thread left the scheduler
 * blocked for real on the mutex held by a parked worker, while the main
 * thread held the turn in the real pthread_join: a false hang.  The
 * destructors must run, each exactly once, under the scheduler. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>

#define WORKERS 3

static pthread_key_t key;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static int destroyed;
static _Atomic int work;

static void
destructor(void *value)
{
    pthread_mutex_lock(&lock);
    destroyed += *(int *)value;
    pthread_mutex_unlock(&lock);
}

static void *
worker(void *arg)
{
    static int one = 1;
    (void)arg;
    pthread_setspecific(key, &one);
    pthread_mutex_lock(&lock);
    for (int i = 0; i < 5; i++)
        atomic_fetch_add(&work, 1);
    pthread_mutex_unlock(&lock);
    return NULL;
}

int
main(void)
{
    pthread_key_create(&key, destructor);
    pthread_t t[WORKERS];
    for (int i = 0; i < WORKERS; i++)
        pthread_create(&t[i], NULL, worker, NULL);
    for (int i = 0; i < WORKERS; i++)
        pthread_join(t[i], NULL);
    printf("destroyed %d work %d\n", destroyed, atomic_load(&work));
    if (destroyed != WORKERS)
        abort();
    return 0;
}
