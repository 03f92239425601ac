/* A lock that protects the wrong variable: both threads add to one plain
 * balance, but the second takes the lock meant for another variable, so
 * the two read-modify-writes are not mutually excluded.  The lock points
 * lie outside the window (between the load and the store), so only
 * plain-access points can find the lost update.  CORRECT: both take the
 * balance's lock. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

static pthread_mutex_t balance_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;
static int balance;
static int log_entries;

static void *
deposit(void *arg)
{
    (void)arg;
    pthread_mutex_lock(&balance_lock);
    balance += 10;
    pthread_mutex_unlock(&balance_lock);
    return NULL;
}

static void *
deposit_and_log(void *arg)
{
    (void)arg;
#ifdef CORRECT
    pthread_mutex_t *m = &balance_lock;
#else
    pthread_mutex_t *m = &log_lock;
#endif
    pthread_mutex_lock(m);
    balance += 10;
    pthread_mutex_unlock(m);
    pthread_mutex_lock(&log_lock);
    log_entries++;
    pthread_mutex_unlock(&log_lock);
    return NULL;
}

int
main(void)
{
    pthread_t a, b;
    pthread_create(&a, NULL, deposit, NULL);
    pthread_create(&b, NULL, deposit_and_log, NULL);
    pthread_join(a, NULL);
    pthread_join(b, NULL);
    if (balance != 20) {
        fprintf(stderr, "wrong lock: balance %d, expected 20\n", balance);
        abort();
    }
    return 0;
}
