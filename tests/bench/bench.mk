# Benchmark programs (make bench).
BENCH_DIR := $(BUILD)/tests/bench

$(BENCH_DIR)/sched_bench: tests/bench/sched_bench.c $(SCHED_LIB) $(WRAP_FLAGS_FILE)
	@mkdir -p $(@D)
	$(CC) -std=c11 -D_GNU_SOURCE -O2 -g $(WARN) -I$(ROOT)/include -DSCHED \
	    -include include/ftfuzz/atomic_hooks.h -pthread $< -o $@ \
	    $(SCHED_LIB) $(WRAP_FLAGS) -lpthread -ldl -rdynamic

# The same with plain-access points (ftfuzz-cc --plain-accesses' flag).
$(BENCH_DIR)/sched_bench_pa: tests/bench/sched_bench.c $(SCHED_LIB) $(WRAP_FLAGS_FILE)
	@mkdir -p $(@D)
	$(CC) -std=c11 -D_GNU_SOURCE -O2 -g $(WARN) -I$(ROOT)/include -DSCHED \
	    -DPLAIN_ACCESSES -fsanitize-coverage=edge,trace-loads,trace-stores \
	    -include include/ftfuzz/atomic_hooks.h -pthread $< -o $@ \
	    $(SCHED_LIB) $(WRAP_FLAGS) -lpthread -ldl -rdynamic

$(BENCH_DIR)/sched_bench_plain: tests/bench/sched_bench.c
	@mkdir -p $(@D)
	$(CC) -std=c11 -D_GNU_SOURCE -O2 -g $(WARN) -pthread $< -o $@

TEST_PROGRAMS += $(BENCH_DIR)/sched_bench $(BENCH_DIR)/sched_bench_plain $(BENCH_DIR)/sched_bench_pa

$(BENCH_DIR)/gen_programs: tests/bench/gen_programs.c $(PROG_LIB)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $< -o $@ $(PROG_LIB) $(PROG_LDLIBS)

TEST_PROGRAMS += $(BENCH_DIR)/gen_programs
