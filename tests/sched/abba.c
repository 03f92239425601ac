/* ABBA deadlock: two threads take two mutexes in opposite orders.
 * CORRECT: both take them in the same order. */
#include <pthread.h>

static pthread_mutex_t a = PTHREAD_MUTEX_INITIALIZER;
static pthread_mutex_t b = PTHREAD_MUTEX_INITIALIZER;
static int shared;

static void *
take_a_then_b(void *arg)
{
    (void)arg;
    pthread_mutex_lock(&a);
    pthread_mutex_lock(&b);
    shared++;
    pthread_mutex_unlock(&b);
    pthread_mutex_unlock(&a);
    return NULL;
}

static void *
take_b_then_a(void *arg)
{
    (void)arg;
#ifdef CORRECT
    pthread_mutex_lock(&a);
    pthread_mutex_lock(&b);
#else
    pthread_mutex_lock(&b);
    pthread_mutex_lock(&a);
#endif
    shared++;
    pthread_mutex_unlock(&a);
    pthread_mutex_unlock(&b);
    return NULL;
}

int
main(void)
{
    pthread_t t1, t2;
    pthread_create(&t1, NULL, take_a_then_b, NULL);
    pthread_create(&t2, NULL, take_b_then_a, NULL);
    pthread_join(t1, NULL);
    pthread_join(t2, NULL);
    return shared == 2 ? 0 : 1;
}
