/* Two plain stores another thread may see half done (the "reorder" bug of
 * the classic suites): a setter writes a = 1 then b = -1, a checker reads
 * both and expects (0, 0) or (1, -1).  A switch between the two stores
 * shows it (1, 0).  Nothing but plain accesses in either thread.
 * CORRECT: both sides under one mutex. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

static int a, b;
#ifdef CORRECT
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
#define LOCK() pthread_mutex_lock(&lock)
#define UNLOCK() pthread_mutex_unlock(&lock)
#else
#define LOCK() ((void)0)
#define UNLOCK() ((void)0)
#endif

static void *
setter(void *arg)
{
    (void)arg;
    LOCK();
    a = 1;
    b = -1;
    UNLOCK();
    return NULL;
}

static void *
checker(void *arg)
{
    (void)arg;
    LOCK();
    int ra = a, rb = b;
    UNLOCK();
    if (!((ra == 0 && rb == 0) || (ra == 1 && rb == -1))) {
        fprintf(stderr, "reorder: saw a=%d b=%d\n", ra, rb);
        abort();
    }
    return NULL;
}

int
main(void)
{
    pthread_t s, c;
    pthread_create(&s, NULL, setter, NULL);
    pthread_create(&c, NULL, checker, NULL);
    pthread_join(s, NULL);
    pthread_join(c, NULL);
    return 0;
}
