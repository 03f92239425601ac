/*
 * Unit tests of include/ftfuzz/symbolizer.h, driven by
 * tests/test_symbolizer.py.
 *
 *   parse MAX OFFSET...       stdin is llvm-symbolizer's JSON output: the
 *                             answer for each offset, asked in turn with
 *                             room for MAX frames
 *   run MODULE OFFSET...      runs the symbolizer (FTFUZZ_SYMBOLIZER) on
 *                             (MODULE, OFFSET) pairs, reads its answers
 *   run-many MODULE OFFSET N  one offset asked N times in one run: how
 *                             many answers are for it
 *   prefixes OFFSET           the answer for each prefix of stdin, each
 *                             in a buffer of its own size (ASan sees any
 *                             read past its end): one number a line
 *   query MODULE OFFSET       the query line
 *
 * Prints, for each offset, "N" (the answer: frames, 0 at the end, -1
 * malformed) then a line "FUNCTION|FILE|LINE|COLUMN" per frame, bytes
 * outside printable ASCII (and '|', '\') as \xHH; "unsymbolized" when
 * the run gave nothing.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ftfuzz/symbolizer.h"

static void
put(const char *s)
{
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c < 0x20 || c > 0x7e || c == '|' || c == '\\')
            printf("\\x%02x", c);
        else
            putchar(c);
    }
}

static void
answers(const char *text, const unsigned long *offsets, int n, int max)
{
    struct ftfuzz_sym_frame *fr = malloc((size_t)max * sizeof *fr);
    const char *pos = text;
    for (int i = 0; i < n; i++) {
        int nf = ftfuzz_sym_next(&pos, offsets[i], fr, max);
        printf("%d\n", nf);
        for (int k = 0; k < nf; k++) {
            put(fr[k].function);
            putchar('|');
            put(fr[k].file);
            printf("|%lu|%lu\n", fr[k].line, fr[k].column);
        }
    }
    free(fr);
}

static char *
read_stdin(void)
{
    size_t len = 0, cap = 4096;
    char *text = malloc(cap);
    size_t got;
    while (text && (got = fread(text + len, 1, cap - len - 1, stdin)) > 0) {
        len += got;
        if (len + 1 == cap)
            text = realloc(text, cap *= 2);
    }
    if (text)
        text[len] = 0;
    return text;
}

int
main(int argc, char **argv)
{
    if (argc >= 3 && !strcmp(argv[1], "parse")) {
        int n = argc - 3;
        unsigned long *offsets = calloc((size_t)n + 1, sizeof *offsets);
        for (int i = 0; i < n; i++)
            offsets[i] = strtoul(argv[i + 3], NULL, 0);
        char *text = read_stdin();
        answers(text, offsets, n, atoi(argv[2]));
        free(text);
        free(offsets);
        return 0;
    }
    if (argc >= 4 && argc % 2 == 0 && !strcmp(argv[1], "run")) {
        /* MODULE OFFSET pairs */
        int n = (argc - 2) / 2;
        unsigned long *offsets = calloc((size_t)n, sizeof *offsets);
        char *query = malloc((size_t)n * 600);
        size_t qlen = 0;
        for (int i = 0; i < n; i++) {
            offsets[i] = strtoul(argv[3 + 2 * i], NULL, 0);
            qlen += ftfuzz_sym_query(query + qlen, 600, argv[2 + 2 * i],
                                     offsets[i]);
        }
        char *text = ftfuzz_sym_run(query, qlen, 0, realloc, free);
        if (!text)
            printf("unsymbolized\n");
        else
            answers(text, offsets, n, 8);
        free(text);
        free(query);
        free(offsets);
        return 0;
    }
    if (argc == 5 && !strcmp(argv[1], "run-many")) {
        /* one offset asked N times: how many answers are for it */
        int n = atoi(argv[4]);
        unsigned long offset = strtoul(argv[3], NULL, 0);
        char *query = malloc((size_t)n * 600);
        size_t qlen = 0;
        for (int i = 0; i < n; i++)
            qlen += ftfuzz_sym_query(query + qlen, 600, argv[2], offset);
        char *text = ftfuzz_sym_run(query, qlen, 0, realloc, free);
        struct ftfuzz_sym_frame fr[8];
        const char *pos = text;
        int good = 0;
        for (int i = 0; text && i < n; i++)
            good += ftfuzz_sym_next(&pos, offset, fr, 8) > 0;
        if (!text)
            printf("unsymbolized\n");
        else
            printf("answered %d of %d, then %d\n", good, n,
                   ftfuzz_sym_next(&pos, offset, fr, 8));
        free(text);
        free(query);
        return 0;
    }
    if (argc == 3 && !strcmp(argv[1], "prefixes")) {
        char *text = read_stdin();
        size_t len = strlen(text);
        struct ftfuzz_sym_frame fr[8];
        for (size_t k = 0; k <= len; k++) {
            char *prefix = malloc(k + 1);
            memcpy(prefix, text, k);
            prefix[k] = 0;
            const char *pos = prefix;
            printf("%d\n", ftfuzz_sym_next(&pos, strtoul(argv[2], NULL, 0),
                                           fr, 8));
            free(prefix);
        }
        free(text);
        return 0;
    }
    if (argc == 4 && !strcmp(argv[1], "query")) {
        char buf[64];
        size_t n = ftfuzz_sym_query(buf, sizeof buf, argv[2],
                                    strtoul(argv[3], NULL, 0));
        printf("%zu ", n);
        put(buf);
        putchar('\n');
        return 0;
    }
    fprintf(stderr, "usage: unit_symbolizer parse MAX OFFSET... | run "
                    "[MODULE OFFSET]... | run-many MODULE OFFSET N | query "
                    "MODULE OFFSET | prefixes OFFSET\n");
    return 2;
}
