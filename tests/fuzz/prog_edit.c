/*
 * prog_edit: builds test inputs by editing a fuzz input (tests only).
 *
 *   prog_edit IN OUT [--threads N] [--op T:CODE:TARGET:OTHER:ARG]...
 *                    [--object KIND:SIZE]...
 *                    [--explicit TRACE] [--preempt STEP:CHOICE]...
 *                    [--swap-threads A:B] [--no-preemptions]
 *                    [--set-object I:KIND:SIZE]
 *                    [--schedule STRATEGY:DEPTH:K:P_PPM:SEED]
 *                    [--anchor-move I:D] [--print-anchors]
 *
 * --threads sets the number of thread bodies (new ones empty), --op
 * appends an operation to thread T, --object appends a shared object,
 * --explicit replaces the schedule with the preemptions a trace file
 * recorded (`ftfuzz replay --out DIR` writes DIR/trace), --preempt adds a
 * preemption to a bytes schedule (kept in step order), --swap-threads
 * exchanges two thread bodies, --no-preemptions empties the schedule,
 * --set-object changes an object's kind (as the program stores it) and
 * size, --schedule replaces the schedule with a strategy's fields (after
 * any flag that edits preemptions, which would make it bytes again),
 * --anchor-move moves anchor I (from 0) and the later anchors of its
 * thread's region D points (D may be negative) as a point added before
 * it would, --print-anchors prints the anchors, one "THREAD REGION POINT
 * TO BLOCKED" line each (OUT - writes nothing).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ftfuzz/anchors.h"
#include "ftfuzz/program.h"
#include "ftfuzz/trace_file.h"

static int
cmp_pre(const void *a, const void *b)
{
    const prog_preemption *x = a, *y = b;
    return x->step < y->step ? -1 : x->step > y->step;
}

int
main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: prog_edit IN OUT [--op T:CODE:TARGET:OTHER:ARG]"
                        "... [--object KIND:SIZE]... [--explicit TRACE] "
                        "[--preempt STEP:CHOICE]...\n");
        return 2;
    }
    static uint8_t buf[1 << 16];
    FILE *f = fopen(argv[1], "rb");
    if (!f) {
        perror(argv[1]);
        return 2;
    }
    size_t n = fread(buf, 1, sizeof buf, f);
    fclose(f);
    prog_program p;
    prog_decode(buf, n, &p);
    prog_preemption pre[PROG_MAX_SCHEDULE];
    size_t npre = prog_preemptions(&p, pre, PROG_MAX_SCHEDULE);
    int bytes = p.schedule.strategy == PROG_SCHED_BYTES;
    for (int i = 3; i < argc; i += 2) {
        const char *v = i + 1 < argc ? argv[i + 1] : "";
        if (!strcmp(argv[i], "--threads")) {
            unsigned n;
            if (sscanf(v, "%u", &n) != 1 || n > PROG_MAX_THREADS) {
                fprintf(stderr, "prog_edit: bad --threads %s\n", v);
                return 2;
            }
            for (unsigned t = p.nthreads; t < n; t++)
                p.threads[t].nops = 0;
            p.nthreads = n;
        } else if (!strcmp(argv[i], "--op")) {
            unsigned t, code, target, other;
            int arg;
            if (sscanf(v, "%u:%u:%u:%u:%d", &t, &code, &target, &other, &arg)
                    != 5 || t >= p.nthreads
                || p.threads[t].nops >= PROG_MAX_OPS) {
                fprintf(stderr, "prog_edit: bad --op %s\n", v);
                return 2;
            }
            p.threads[t].ops[p.threads[t].nops++] = (prog_op){
                .code = code, .target = target, .other = other, .arg = arg,
            };
        } else if (!strcmp(argv[i], "--object")) {
            unsigned kind, size;
            if (sscanf(v, "%u:%u", &kind, &size) != 2
                || p.nobjects >= PROG_MAX_OBJECTS) {
                fprintf(stderr, "prog_edit: bad --object %s\n", v);
                return 2;
            }
            p.objects[p.nobjects++] = (prog_object){
                .kind = kind, .size = size, .source = p.nobjects,
            };
        } else if (!strcmp(argv[i], "--explicit")) {
            FILE *t = fopen(v, "r");
            if (!t) {
                fprintf(stderr, "prog_edit: cannot open %s\n", v);
                return 2;
            }
            struct ftfuzz_trace_reader rd;
            struct ftfuzz_trace_record rec;
            ftfuzz_trace_reader_init(&rd, v);
            char *line = NULL;
            size_t cap = 0;
            int got = 0;
            npre = 0;
            while (got >= 0 && getline(&line, &cap, t) > 0) {
                char *pos = line;
                got = ftfuzz_trace_read(&rd, &pos, &rec);
                if (got > 0 && rec.tag == FTFUZZ_TRACE_SWITCH
                    && npre < PROG_MAX_SCHEDULE
                    && (npre == 0 || pre[npre - 1].step != rec.sw.step))
                    pre[npre++] = (prog_preemption){
                        .step = rec.sw.step,
                        .choice = (uint8_t)(rec.sw.flags
                                            >> FTFUZZ_TRACE_PICK_SHIFT),
                    };
            }
            free(line);
            fclose(t);
            if (got < 0 || ftfuzz_trace_read_end(&rd) < 0) {
                fprintf(stderr, "prog_edit: %s\n", rd.err);
                return 2;
            }
            bytes = 1;
        } else if (!strcmp(argv[i], "--set-object")) {
            unsigned o, kind, size;
            if (sscanf(v, "%u:%u:%u", &o, &kind, &size) != 3
                || o >= p.nobjects) {
                fprintf(stderr, "prog_edit: bad --set-object %s\n", v);
                return 2;
            }
            p.objects[o].kind = kind;
            p.objects[o].size = size;
        } else if (!strcmp(argv[i], "--swap-threads")) {
            unsigned a, b;
            if (sscanf(v, "%u:%u", &a, &b) != 2 || a >= p.nthreads
                || b >= p.nthreads) {
                fprintf(stderr, "prog_edit: bad --swap-threads %s\n", v);
                return 2;
            }
            prog_thread t = p.threads[a];
            p.threads[a] = p.threads[b];
            p.threads[b] = t;
        } else if (!strcmp(argv[i], "--schedule")) {
            unsigned strategy, depth, k, ppm;
            unsigned long long seed;
            if (sscanf(v, "%u:%u:%u:%u:%llu", &strategy, &depth, &k, &ppm,
                       &seed) != 5) {
                fprintf(stderr, "prog_edit: bad --schedule %s\n", v);
                return 2;
            }
            p.schedule = (prog_schedule){.strategy = strategy, .depth = depth,
                                         .seed = seed, .k = k, .p_ppm = ppm};
            bytes = 0;
        } else if (!strcmp(argv[i], "--anchor-move")) {
            unsigned j;
            int d;
            prog_anchor a[PROG_MAX_SCHEDULE];
            size_t na = prog_anchors_decode(p.schedule.bytes,
                                            p.schedule.nbytes, a,
                                            PROG_MAX_SCHEDULE);
            if (sscanf(v, "%u:%d", &j, &d) != 2 || j >= na) {
                fprintf(stderr, "prog_edit: bad --anchor-move %s\n", v);
                return 2;
            }
            for (size_t k = j; k < na; k++)
                if (a[k].thread == a[j].thread && a[k].region == a[j].region)
                    a[k].point = (uint32_t)((int64_t)a[k].point + d);
            size_t len = prog_anchors_encode(a, na, p.schedule.bytes,
                                             PROG_MAX_SCHEDULE);
            if (len == (size_t)-1) {
                fprintf(stderr, "prog_edit: the anchors do not fit\n");
                return 2;
            }
            p.schedule.nbytes = (uint32_t)len;
        } else if (!strcmp(argv[i], "--print-anchors")) {
            prog_anchor a[PROG_MAX_SCHEDULE];
            size_t na = prog_anchors_decode(p.schedule.bytes,
                                            p.schedule.nbytes, a,
                                            PROG_MAX_SCHEDULE);
            for (size_t k = 0; k < na; k++)
                printf("%u %u %u %u %u\n", a[k].thread, a[k].region,
                       a[k].point, a[k].to, a[k].blocked);
            i--;   /* takes no value */
        } else if (!strcmp(argv[i], "--no-preemptions")) {
            npre = 0;
            bytes = 1;
            i--;   /* takes no value */
        } else if (!strcmp(argv[i], "--preempt")) {
            unsigned long long step;
            unsigned choice;
            if (sscanf(v, "%llu:%u", &step, &choice) != 2
                || npre >= PROG_MAX_SCHEDULE) {
                fprintf(stderr, "prog_edit: bad --preempt %s\n", v);
                return 2;
            }
            pre[npre++] = (prog_preemption){.step = step,
                                            .choice = (uint8_t)choice};
            bytes = 1;
        } else {
            fprintf(stderr, "prog_edit: unknown flag %s\n", argv[i]);
            return 2;
        }
    }
    if (bytes) {
        qsort(pre, npre, sizeof pre[0], cmp_pre);
        if (prog_set_preemptions(&p, pre, npre) != 0) {
            fprintf(stderr, "prog_edit: the schedule does not fit\n");
            return 2;
        }
    }
    if (!strcmp(argv[2], "-"))
        return 0;
    n = prog_encode(&p, buf, sizeof buf);
    f = fopen(argv[2], "wb");
    if (!f || fwrite(buf, 1, n, f) != n || fclose(f) != 0) {
        perror(argv[2]);
        return 2;
    }
    return 0;
}
