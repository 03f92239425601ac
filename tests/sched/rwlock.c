/* A reader-writer lock guards a pair that a writer keeps equal.  Bug: the
 * reader reads the two halves under two separate read locks, so a writer
 * can come in between.  CORRECT: one read lock around both.  A reader
 * that finds the lock write-held must block in the model, not in the
 * kernel while holding the turn. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

static pthread_rwlock_t lock = PTHREAD_RWLOCK_INITIALIZER;
static int a, b;

static void *
writer(void *arg)
{
    (void)arg;
    for (int i = 0; i < 2; i++) {
        pthread_rwlock_wrlock(&lock);
        a++;
        b++;
        pthread_rwlock_unlock(&lock);
    }
    return NULL;
}

static void *
reader(void *arg)
{
    (void)arg;
    int x, y;
    pthread_rwlock_rdlock(&lock);
    x = a;
#ifndef CORRECT
    pthread_rwlock_unlock(&lock);
    pthread_rwlock_rdlock(&lock);
#endif
    y = b;
    pthread_rwlock_unlock(&lock);
    if (x != y) {
        fprintf(stderr, "reader saw a torn pair: %d %d\n", x, y);
        abort();
    }
    return NULL;
}

int
main(void)
{
    pthread_t t[3];
    pthread_create(&t[0], NULL, writer, NULL);
    pthread_create(&t[1], NULL, reader, NULL);
    pthread_create(&t[2], NULL, reader, NULL);
    for (int i = 0; i < 3; i++)
        pthread_join(t[i], NULL);
    return 0;
}
