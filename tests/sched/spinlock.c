/* Broken spinlock: wait until the lock word reads 0, then set it with an
 * atomic exchange whose result is ignored, so two threads can both get in.
 * CORRECT: spin on the exchange itself.  Each thread checks that it is
 * alone in the critical section. */
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>

static atomic_int lock_word;
static atomic_int inside;

static void
spin_lock(void)
{
#ifdef CORRECT
    while (atomic_exchange(&lock_word, 1))
        ;
#else
    while (atomic_load(&lock_word))
        ;
    atomic_exchange(&lock_word, 1);
#endif
}

static void
spin_unlock(void)
{
    atomic_store(&lock_word, 0);
}

static void *
worker(void *arg)
{
    (void)arg;
    for (int i = 0; i < 2; i++) {
        spin_lock();
        if (atomic_fetch_add(&inside, 1) != 0) {
            fprintf(stderr, "two threads inside the critical section\n");
            abort();
        }
        atomic_fetch_sub(&inside, 1);
        spin_unlock();
    }
    return NULL;
}

int
main(void)
{
    pthread_t t[3];
    for (int i = 0; i < 3; i++)
        pthread_create(&t[i], NULL, worker, NULL);
    for (int i = 0; i < 3; i++)
        pthread_join(t[i], NULL);
    return 0;
}
