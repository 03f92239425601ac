/* Check-then-act on a plain int: each thread initialises a resource once,
 * guarded by a plain flag it tests and then sets.  A switch between the
 * test and the set lets both threads in.  No atomic or lock point lies
 * between them, so only plain-access points can find it.  CORRECT: the
 * test and the set under one mutex. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

static int initialized;
static int inits;
#ifdef CORRECT
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
#endif

static void *
worker(void *arg)
{
    (void)arg;
#ifdef CORRECT
    pthread_mutex_lock(&lock);
#endif
    if (!initialized) {
        initialized = 1;
        inits++;
    }
#ifdef CORRECT
    pthread_mutex_unlock(&lock);
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
    if (inits != 1) {
        fprintf(stderr, "check-then-act: initialised %d times\n", inits);
        abort();
    }
    return 0;
}
