/* Lazy initialisation.  Bug: a hand-made check-then-act on a flag, so two
 * threads can both run the initialiser.  CORRECT: pthread_once, whose
 * initialiser reaches scheduling points (a yield) while the other threads
 * call pthread_once too: they must wait in the model, not sleep on
 * glibc's futex while holding the turn. */
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>

static _Atomic int inits, ready;
#ifdef CORRECT
static pthread_once_t once = PTHREAD_ONCE_INIT;
#else
static _Atomic int started;
#endif

static void
init(void)
{
    atomic_fetch_add(&inits, 1);
    sched_yield();
    atomic_store(&ready, 1);
}

static void *
worker(void *arg)
{
    (void)arg;
#ifdef CORRECT
    pthread_once(&once, init);
#else
    if (!atomic_load(&started)) {
        atomic_store(&started, 1);
        init();
    }
    while (!atomic_load(&ready))
        sched_yield();
#endif
    if (!atomic_load(&ready) || atomic_load(&inits) != 1) {
        fprintf(stderr, "initialised %d times\n", atomic_load(&inits));
        abort();
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
