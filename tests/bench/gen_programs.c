/* Writes COUNT random programs of THREADS threads x OPS operations on two
 * shared objects into DIR (benchmark inputs for the fuzz targets).
 *   gen_programs THREADS OPS COUNT DIR */
#include <stdio.h>
#include <stdlib.h>

#include "ftfuzz/program.h"

int
main(int argc, char **argv)
{
    if (argc != 5) {
        fprintf(stderr, "usage: %s THREADS OPS COUNT DIR\n", argv[0]);
        return 2;
    }
    unsigned nt = (unsigned)atoi(argv[1]), nops = (unsigned)atoi(argv[2]);
    unsigned count = (unsigned)atoi(argv[3]);
    if (nt < 1 || nt > PROG_MAX_THREADS || nops > PROG_MAX_OPS) {
        fprintf(stderr, "gen_programs: at most %d threads of %d ops\n",
                PROG_MAX_THREADS, PROG_MAX_OPS);
        return 2;
    }
    srand(1);
    for (unsigned i = 0; i < count; i++) {
        prog_program p;
        prog_init(&p);
        p.nobjects = 2;
        for (unsigned o = 0; o < 2; o++) {
            p.objects[o].kind = (uint32_t)rand();
            p.objects[o].size = (uint32_t)rand() % PROG_MAX_SIZE;
        }
        p.nthreads = nt;
        for (unsigned t = 0; t < nt; t++) {
            p.threads[t].nops = nops;
            for (unsigned k = 0; k < nops; k++) {
                prog_op *op = &p.threads[t].ops[k];
                op->code = (uint32_t)rand();
                op->target = (uint32_t)rand() % 2;
                op->other = (uint32_t)rand() % 2;
                op->arg = rand() % 1000;
            }
        }
        p.schedule.strategy = PROG_SCHED_RANDOM;
        p.schedule.seed = i;
        uint8_t buf[PROG_MAX_ENCODED];
        size_t n = prog_encode(&p, buf, sizeof buf);
        char path[4096];
        snprintf(path, sizeof path, "%s/p%05u", argv[4], i);
        FILE *f = fopen(path, "wb");
        if (!f || fwrite(buf, 1, n, f) != n || fclose(f) != 0) {
            perror(path);
            return 1;
        }
    }
    return 0;
}
