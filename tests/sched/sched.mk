# Scheduler test programs: classic concurrency bugs and their correct
# twins (-DCORRECT), built with scripts/ftfuzz-cc.
SCHED_TEST_DIR := $(BUILD)/tests/sched
SCHED_TWINS    := lost_update abba missed_signal spinlock prodcons_timed \
                  barrier rwlock once sync_counter
SCHED_SINGLES  := livelock hang_pipe virtual_time many_threads \
                  tls_destructor heap_addresses segv exit_status \
                  uneven_length
SCHED_TEST_DEPS := $(SCHED_LIB) $(SCHED_AUTO) $(WRAP_FLAGS_FILE) scripts/ftfuzz-cc include/ftfuzz/atomic_hooks.h include/ftfuzz/sync_hooks.h
SCHED_TEST_CFLAGS := -std=c11 -D_GNU_SOURCE -O1 -g $(WARN)

$(SCHED_TEST_DIR)/%: tests/sched/%.c $(SCHED_TEST_DEPS)
	@mkdir -p $(@D)
	scripts/ftfuzz-cc $(SCHED_TEST_CFLAGS) $< -o $@

$(SCHED_TEST_DIR)/%_correct: tests/sched/%.c $(SCHED_TEST_DEPS)
	@mkdir -p $(@D)
	scripts/ftfuzz-cc $(SCHED_TEST_CFLAGS) -DCORRECT $< -o $@

$(SCHED_TEST_DIR)/lost_update_modified: tests/sched/lost_update.c $(SCHED_TEST_DEPS)
	@mkdir -p $(@D)
	scripts/ftfuzz-cc $(SCHED_TEST_CFLAGS) -DEXTRA_POINT $< -o $@

# The library API without the automatic session.
SCHED_API_TESTS := unmanaged reads_from
$(foreach p,$(SCHED_API_TESTS),$(SCHED_TEST_DIR)/$(p)): $(SCHED_TEST_DIR)/%: tests/sched/%.c $(SCHED_LIB) $(WRAP_FLAGS_FILE) include/ftfuzz/atomic_hooks.h
	@mkdir -p $(@D)
	$(CC) $(SCHED_TEST_CFLAGS) -I$(ROOT)/include -include include/ftfuzz/atomic_hooks.h -pthread $< -o $@ $(SCHED_LDFLAGS)

TEST_PROGRAMS += $(foreach p,$(SCHED_TWINS),$(SCHED_TEST_DIR)/$(p) $(SCHED_TEST_DIR)/$(p)_correct) \
                 $(foreach p,$(SCHED_SINGLES),$(SCHED_TEST_DIR)/$(p)) \
                 $(SCHED_TEST_DIR)/lost_update_modified \
                 $(foreach p,$(SCHED_API_TESTS),$(SCHED_TEST_DIR)/$(p))

$(SCHED_TEST_DIR)/unit_strategies: tests/sched/unit_strategies.c tests/sched/check.h $(SCHED_LIB) $(WRAP_FLAGS_FILE)
	@mkdir -p $(@D)
	$(CC) $(SCHED_TEST_CFLAGS) -I$(ROOT)/include -pthread $< -o $@ $(SCHED_LDFLAGS)

TEST_PROGRAMS += $(SCHED_TEST_DIR)/unit_strategies

# The trace file's codec alone (header-only), with the sanitizers.
$(SCHED_TEST_DIR)/unit_trace_file: tests/sched/unit_trace_file.c tests/sched/check.h include/ftfuzz/trace_file.h include/ftfuzz/sched.h
	@mkdir -p $(@D)
	$(CC) $(SCHED_TEST_CFLAGS) $(PROG_SANITIZE) -I$(ROOT)/include $< -o $@

TEST_PROGRAMS += $(SCHED_TEST_DIR)/unit_trace_file

# Runs a command with personality() refused, as Docker's default seccomp
# profile does (the tests of the address-randomization warning).
$(SCHED_TEST_DIR)/no_personality: tests/sched/no_personality.c
	@mkdir -p $(@D)
	$(CC) $(SCHED_TEST_CFLAGS) $< -o $@

TEST_PROGRAMS += $(SCHED_TEST_DIR)/no_personality

# Plain-access bugs (tests/test_plain_access.py): built with
# --plain-accesses, their correct twins likewise, and each bug without it.
PLAIN_TESTS := plain_check_act plain_wrong_lock plain_reorder
PLAIN_SINGLES := plain_private

$(foreach p,$(PLAIN_TESTS) $(PLAIN_SINGLES),$(SCHED_TEST_DIR)/$(p)): $(SCHED_TEST_DIR)/%: tests/sched/%.c $(SCHED_TEST_DEPS)
	@mkdir -p $(@D)
	scripts/ftfuzz-cc --plain-accesses $(SCHED_TEST_CFLAGS) $< -o $@

$(foreach p,$(PLAIN_TESTS),$(SCHED_TEST_DIR)/$(p)_correct): $(SCHED_TEST_DIR)/%_correct: tests/sched/%.c $(SCHED_TEST_DEPS)
	@mkdir -p $(@D)
	scripts/ftfuzz-cc --plain-accesses $(SCHED_TEST_CFLAGS) -DCORRECT $< -o $@

$(foreach p,$(PLAIN_TESTS) $(PLAIN_SINGLES),$(SCHED_TEST_DIR)/$(p)_noplain): $(SCHED_TEST_DIR)/%_noplain: tests/sched/%.c $(SCHED_TEST_DEPS)
	@mkdir -p $(@D)
	scripts/ftfuzz-cc $(SCHED_TEST_CFLAGS) $< -o $@

TEST_PROGRAMS += $(foreach p,$(PLAIN_TESTS),$(SCHED_TEST_DIR)/$(p) $(SCHED_TEST_DIR)/$(p)_correct $(SCHED_TEST_DIR)/$(p)_noplain) \
                 $(foreach p,$(PLAIN_SINGLES),$(SCHED_TEST_DIR)/$(p) $(SCHED_TEST_DIR)/$(p)_noplain)
