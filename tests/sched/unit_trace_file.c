/* Unit checks of the trace file's codec (include/ftfuzz/trace_file.h):
 * the exact bytes written, records round-tripped, and every way a file
 * can fail to be a whole trace of this version refused with a message. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ftfuzz/trace_file.h"

#include "check.h"

/* The writers' output, byte for byte, as stored traces have it (the
 * first five lines are docs/scheduler.md's example). */
static const char expected[] =
    "ftfuzz-trace 1\n"
    "strategy pct:3:k=12 seed=7\n"
    "steps 12\n"
    "hash 0xcd9f7cb543180acf\n"
    "switch 4 2 0 atomic_store 0 /path/to/prog+0x266f\n"
    "anchor 2 0 3 0\n"
    "switch 9 0 1023 mutex_lock 769 /lib/libstdc++.so.6+0x10"
    " /lib/libstdc++.so.6+0x20 ?+0x0 /path/to/prog+0xabc\n"
    "anchor 0 4294967295 18446744073709551615 1023\n";

static struct ftfuzz_trace_switch sw[2];
static struct ftfuzz_trace_anchor an[2];
static const struct ftfuzz_trace_header header = {
    "pct:3:k=12 seed=7", 12, 0xcd9f7cb543180acfull,
};

static void
make_records(void)
{
    sw[0] = (struct ftfuzz_trace_switch){
        .step = 4, .from = 2, .to = 0, .kind = "atomic_store", .flags = 0,
        .site = {"/path/to/prog", 0x266f},
    };
    an[0] = (struct ftfuzz_trace_anchor){2, 0, 3, 0};
    sw[1] = (struct ftfuzz_trace_switch){
        .step = 9, .from = 0, .to = 1023, .kind = "mutex_lock",
        .flags = FTFUZZ_TRACE_TIMEOUT | 3u << FTFUZZ_TRACE_PICK_SHIFT,
        .site = {"/lib/libstdc++.so.6", 0x10}, .ncallers = 3,
        .callers = {{"/lib/libstdc++.so.6", 0x20}, {NULL, 0},
                    {"/path/to/prog", 0xabc}},
    };
    an[1] = (struct ftfuzz_trace_anchor){0, UINT32_MAX, UINT64_MAX, 1023};
}

/* The records written one after another, into a malloc'd text. */
static char *
write_all(void)
{
    size_t cap = 4096, len = 0;
    char *buf = malloc(cap);
    len += ftfuzz_trace_write_header(buf + len, cap - len, &header);
    for (int i = 0; i < 2; i++) {
        len += ftfuzz_trace_write_switch(buf + len, cap - len, &sw[i]);
        len += ftfuzz_trace_write_anchor(buf + len, cap - len, &an[i]);
    }
    CHECK(len < cap);
    return buf;
}

/* Reads a whole text; 0 when it is a whole trace, else -1 with the
 * message in err.  nrec: the records returned. */
static int
read_all(const char *text, char *err, size_t errsize, int *nrec)
{
    char *copy = strdup(text);
    struct ftfuzz_trace_reader rd;
    struct ftfuzz_trace_record rec;
    ftfuzz_trace_reader_init(&rd, "t.trace");
    int got = 0, rc = 0;
    *nrec = 0;
    for (char *pos = copy; *pos && got >= 0;)
        if ((got = ftfuzz_trace_read(&rd, &pos, &rec)) > 0)
            (*nrec)++;
    if (got < 0 || ftfuzz_trace_read_end(&rd) < 0)
        rc = -1;
    snprintf(err, errsize, "%s", rc ? rd.err : "");
    free(copy);
    return rc;
}

static int
same_site(const struct ftfuzz_trace_site *a, const struct ftfuzz_trace_site *b)
{
    return !strcmp(a->module, b->module ? b->module : "?")
           && a->offset == b->offset;
}

static void
test_write(void)
{
    char *text = write_all();
    CHECK(!strcmp(text, expected));
    free(text);
    /* snprintf's contract: the whole length, and as much as fits */
    char small[10];
    size_t n = ftfuzz_trace_write_switch(small, sizeof small, &sw[1]);
    CHECK(n == strlen(strstr(expected, "switch 9")) - strlen(strstr(
                   expected, "anchor 0 4294967295")));
    CHECK(!strcmp(small, "switch 9 "));
    CHECK(ftfuzz_trace_write_anchor(NULL, 0, &an[0])
          == strlen("anchor 2 0 3 0\n"));
    /* no more callers than a trace keeps */
    struct ftfuzz_trace_switch many = sw[0];
    many.ncallers = FTFUZZ_TRACE_CALLERS + 5;
    for (int i = 0; i < FTFUZZ_TRACE_CALLERS; i++)
        many.callers[i] = (struct ftfuzz_trace_site){"m", (unsigned long)i};
    char line[1024];
    ftfuzz_trace_write_switch(line, sizeof line, &many);
    int fields = 0;
    for (char *p = line; *p; p++)
        fields += *p == ' ';
    CHECK(fields == 6 + FTFUZZ_TRACE_CALLERS);
}

static void
test_round_trip(void)
{
    char *text = write_all();
    struct ftfuzz_trace_reader rd;
    struct ftfuzz_trace_record rec;
    ftfuzz_trace_reader_init(&rd, "t.trace");
    int tags[16], n = 0, nsw = 0, nan = 0;
    for (char *pos = text; *pos;) {
        int got = ftfuzz_trace_read(&rd, &pos, &rec);
        CHECK(got >= 0);
        if (got <= 0 || n == 16)
            continue;
        tags[n++] = rec.tag;
        switch (rec.tag) {
        case FTFUZZ_TRACE_STRATEGY:
            CHECK(!strcmp(rec.strategy, header.strategy));
            break;
        case FTFUZZ_TRACE_STEPS:
            CHECK(rec.steps == header.steps);
            break;
        case FTFUZZ_TRACE_HASH:
            CHECK(rec.hash == header.hash);
            break;
        case FTFUZZ_TRACE_SWITCH: {
            const struct ftfuzz_trace_switch *w = &sw[nsw++ & 1], *g = &rec.sw;
            CHECK(g->step == w->step && g->from == w->from && g->to == w->to
                  && !strcmp(g->kind, w->kind) && g->flags == w->flags
                  && same_site(&g->site, &w->site)
                  && g->ncallers == w->ncallers);
            for (unsigned k = 0; k < g->ncallers && k < w->ncallers; k++)
                CHECK(same_site(&g->callers[k], &w->callers[k]));
            break;
        }
        case FTFUZZ_TRACE_ANCHOR: {
            const struct ftfuzz_trace_anchor *w = &an[nan++ & 1];
            CHECK(rec.anchor.from == w->from && rec.anchor.to == w->to
                  && rec.anchor.region == w->region
                  && rec.anchor.point == w->point);
            break;
        }
        }
    }
    CHECK(ftfuzz_trace_read_end(&rd) == 0);
    CHECK(n == 7 && tags[0] == FTFUZZ_TRACE_STRATEGY
          && tags[1] == FTFUZZ_TRACE_STEPS && tags[2] == FTFUZZ_TRACE_HASH
          && tags[3] == FTFUZZ_TRACE_SWITCH && tags[4] == FTFUZZ_TRACE_ANCHOR
          && tags[5] == FTFUZZ_TRACE_SWITCH
          && tags[6] == FTFUZZ_TRACE_ANCHOR);
    CHECK(nsw == 2 && nan == 2);
    free(text);

    /* one line at a time, as getline gives them, reads alike */
    ftfuzz_trace_reader_init(&rd, "t.trace");
    int lines = 0, records = 0;
    for (const char *p = expected; *p; lines++) {
        size_t len = strcspn(p, "\n") + 1;
        char one[512];
        snprintf(one, sizeof one, "%.*s", (int)len, p);
        p += len;
        char *pos = one;
        int got = ftfuzz_trace_read(&rd, &pos, &rec);
        CHECK(got >= 0 && !*pos);
        records += got > 0;
    }
    CHECK(lines == 8 && records == 7 && ftfuzz_trace_read_end(&rd) == 0);
}

/* Expects text refused with a message holding `what`. */
#define REFUSED(text, what)                                                \
    do {                                                                   \
        char err_[1024];                                                   \
        int n_;                                                            \
        CHECK(read_all(text, err_, sizeof err_, &n_) == -1                 \
              && strstr(err_, what));                                      \
        if (!strstr(err_, what))                                           \
            fprintf(stderr, "  message: %s\n", err_);                      \
    } while (0)

#define HEAD "ftfuzz-trace 1\nstrategy random\nsteps 9\nhash 0x0000000000000001\n"

static void
test_refused(void)
{
    char err[1024];
    int n;
    /* not a trace, or another version's */
    REFUSED("GIF89a\n", "t.trace is not an ftfuzz trace");
    REFUSED("ftfuzz-trace one\n", "not an ftfuzz trace");
    REFUSED("ftfuzz-trace 2\nstrategy x\n",
            "t.trace is an ftfuzz trace of version 2; this ftfuzz reads "
            "version 1");
    REFUSED("", "t.trace is empty");
    /* cut short */
    REFUSED("ftfuzz-trace 1\nstrategy random\nsteps 9\n",
            "t.trace: truncated trace (no hash line)");
    REFUSED(HEAD "switch 1 0 1 atomic_load 0 p+0x1\nanchor 0 1 1 1\n"
                 "switch 2 1 0 atomic_load 0 p+0x1\n",
            "t.trace: truncated trace (the last switch has no anchor "
            "line)");
    REFUSED(HEAD "switch 1 0 1 atomic_load 0 p+0x1",
            "t.trace: truncated trace (its last line is cut short)");
    REFUSED(HEAD "switch 1 0 1 atomic_load 0 p+0x1\nanchor 0 1 1",
            "t.trace:6: malformed anchor record (expected: anchor FROM "
            "REGION POINT TO)");
    /* malformed lines, each named by its line */
    REFUSED(HEAD "switch 1 0 1 atomic_load 0\nanchor 0 1 1 1\n",
            "t.trace:5: malformed switch record (expected: switch STEP");
    REFUSED(HEAD "switch 1 0 1024 atomic_load 0 p+0x1\nanchor 0 1 1 1024\n",
            "t.trace:5: malformed switch record");
    REFUSED(HEAD "switch -1 0 1 atomic_load 0 p+0x1\n", ":5: malformed");
    REFUSED(HEAD "switch 1 0 1 atomic_load 0x1 p+0x1\n", ":5: malformed");
    REFUSED(HEAD "switch 99999999999999999999 0 1 atomic_load 0 p+0x1\n",
            ":5: malformed");
    REFUSED(HEAD "switch 5 0 1 atomic_load 0 p+0x1\nanchor 0 1 1 1\n"
                 "switch 4 1 0 atomic_load 0 p+0x1\nanchor 1 1 1 0\n",
            "t.trace:7: malformed switch record (step 4 after a switch at "
            "step 5)");
    REFUSED(HEAD "switch 5 0 1 atomic_load 0 p+0x1\nanchor 1 1 1 0\n",
            "t.trace:6: the anchor's threads (1 to 0) are not its "
            "switch's (0 to 1)");
    REFUSED(HEAD "anchor 0 1 1 1\n",
            "t.trace:5: an anchor line that does not follow a switch");
    REFUSED(HEAD "switch 5 0 1 atomic_load 0 p+0x1\nanchor 0 1 1 1\n"
                 "anchor 0 1 1 1\n", "t.trace:7: an anchor line");
    REFUSED(HEAD "switch 5 0 1 atomic_load 0 p+0x1\nanchor 0 1 1 1 7\n",
            ":6: malformed anchor");
    REFUSED(HEAD "switch 5 0 1 atomic_load 0 p+0x1\nanchor 0 1 1 1\n"
                 "switch 6 0 1 atomic_load 0 p+0x1\n"
                 "switch 7 0 1 atomic_load 0 p+0x1\n",
            "t.trace:8: the switch above has no anchor line");
    REFUSED(HEAD "steps 10\n", "t.trace:5: a second steps line");
    REFUSED("ftfuzz-trace 1\nstrategy r\nsteps 9\nhash 0x01\n",
            "t.trace:4: malformed hash line");
    REFUSED("ftfuzz-trace 1\nstrategy r\nsteps +9\nhash 0x01\n",
            "t.trace:3: malformed steps line");

    /* Every prefix of a whole trace is refused, except those that end
     * where a line pair ends: after the header, after an anchor line, or
     * after the first switch (a trace from before anchors).  A cut there
     * cannot be seen, the format has no end marker; replay then diverges
     * at the end. */
    for (size_t len = 0; len < sizeof expected - 1; len++) {
        char prefix[sizeof expected];
        snprintf(prefix, sizeof prefix, "%.*s", (int)len, expected);
        int whole = 0;
        if (len > 0 && prefix[len - 1] == '\n') {
            const char *last = prefix + len - 1;
            while (last > prefix && last[-1] != '\n')
                last--;
            whole = !strncmp(last, "anchor ", 7) || !strncmp(last, "hash ", 5)
                    || (!strncmp(last, "switch ", 7)
                        && !strstr(prefix, "anchor "));
        }
        int rc = read_all(prefix, err, sizeof err, &n);
        CHECK(rc == (whole ? 0 : -1));
        if (rc != (whole ? 0 : -1))
            fprintf(stderr, "  prefix of %zu bytes: %s\n", len, err);
    }

    /* still read: a trace from before anchors, a module with a space in
     * its path (split, the halves taken as sites), lines of a later
     * record kind, blank lines; the reader keeps FTFUZZ_TRACE_CALLERS
     * callers */
    CHECK(read_all(HEAD "switch 1 0 1 atomic_load 0 p+0x1\n"
                        "switch 1 1 0 atomic_load 0 p+0x1\n",
                   err, sizeof err, &n) == 0 && n == 5);
    CHECK(read_all(HEAD "later 1 2 3\n\nswitch 1 0 1 atomic_load 0 x\n"
                        "anchor 0 0 1 1\n",
                   err, sizeof err, &n) == 0 && n == 5);
    char line[] = "switch 1 0 1 k 2 /my dir/prog+0x10 a+0x1 b+0x2 c+0x3 "
                  "d+0x4 e+0x5 f+0x6 g+0x7 h+0x8 i+0x9 j+0xa k+0xb l+0xc "
                  "m+0xd\n";
    struct ftfuzz_trace_reader rd;
    struct ftfuzz_trace_record rec;
    ftfuzz_trace_reader_init(&rd, "t.trace");
    rd.lineno = 4;   /* past the version line */
    char *pos = line;
    CHECK(ftfuzz_trace_read(&rd, &pos, &rec) == 1
          && rec.tag == FTFUZZ_TRACE_SWITCH);
    CHECK(!strcmp(rec.sw.site.module, "?") && rec.sw.site.offset == 0);
    CHECK(rec.sw.ncallers == FTFUZZ_TRACE_CALLERS
          && !strcmp(rec.sw.callers[0].module, "dir/prog")
          && rec.sw.callers[0].offset == 0x10
          && rec.sw.callers[FTFUZZ_TRACE_CALLERS - 1].offset == 0xb);
}

int
main(void)
{
    make_records();
    test_write();
    test_round_trip();
    test_refused();
    printf("%d checks, %d failed\n", checks, failures);
    return failures != 0;
}
