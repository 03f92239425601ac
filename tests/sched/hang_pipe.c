/* Blocks in a call the scheduler does not model: read() on an empty pipe.
 * The watchdog must report it instead of hanging. */
#include <pthread.h>
#include <unistd.h>

static int fds[2];

static void *
reader(void *arg)
{
    (void)arg;
    char c;
    (void)read(fds[0], &c, 1);
    return NULL;
}

int
main(void)
{
    if (pipe(fds) != 0)
        return 1;
    pthread_t t;
    pthread_create(&t, NULL, reader, NULL);
    pthread_join(t, NULL);
    return 0;
}
