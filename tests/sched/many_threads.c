/* Many managed threads (argv[1], default 200), each adding to a counter
 * under a mutex.  With more threads than the session can manage,
 * pthread_create fails and the program exits 3. */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static int counter;

static void *
worker(void *arg)
{
    (void)arg;
    pthread_mutex_lock(&lock);
    counter++;
    pthread_mutex_unlock(&lock);
    return NULL;
}

int
main(int argc, char **argv)
{
    int n = argc > 1 ? atoi(argv[1]) : 200;
    pthread_t *t = calloc((size_t)n, sizeof *t);
    for (int i = 0; i < n; i++) {
        int rc = pthread_create(&t[i], NULL, worker, NULL);
        if (rc != 0) {
            printf("pthread_create %d failed: %s\n", i,
                   rc == EAGAIN ? "EAGAIN" : "other");
            return 3;
        }
    }
    for (int i = 0; i < n; i++)
        pthread_join(t[i], NULL);
    printf("threads %d counter %d\n", n, counter);
    if (counter != n)
        abort();
    free(t);
    return 0;
}
