# The CPython fuzz targets: one libFuzzer binary per operation family, all
# from harnesses/fuzz_target.c with -DFTFUZZ_FAMILY.  They embed the fuzz
# variant of CPython (its ftfuzz-cpython.mk, read by tests/embed/embed.mk)
# and link the scheduler, the program format and its custom mutator.

# the second field of each row of include/ftfuzz/families.def (make would
# count a literal parenthesis in the pattern)
families_open := (
FUZZ_FAMILIES := $(shell sed -n \
    's/^FTFUZZ_FAMILY_ROW$(families_open)[A-Z_]*, *\([a-z_]*\),.*/\1/p' \
    include/ftfuzz/families.def)
FUZZ_DIR      := $(BUILD)/fuzz
FUZZ_TARGETS  := $(foreach f,$(FUZZ_FAMILIES),$(FUZZ_DIR)/fuzz_$(f))

ifneq ($(and $(PY_HOME),$(PROG_LIB)),)
HARNESS_SRCS := harnesses/runtime.c harnesses/ops.c harnesses/linearizability.c \
                harnesses/report.c harnesses/spec.c
HARNESS_OBJS := $(patsubst harnesses/%.c,$(BUILD)/harnesses/%.o,$(HARNESS_SRCS))
HARNESS_CFLAGS = $(CFLAGS) $(PY_CFLAGS) $(PROG_CFLAGS) \
                 -DFTFUZZ_PY_HOME='"$(PY_HOME)"'
# Linking with -fsanitize=fuzzer-no-link as well would pull in a runtime
# whose no-op __sanitizer_cov_8bit_counters_init hides libFuzzer's: the
# counters would never be registered.  Targets link with -fsanitize=fuzzer
# (plus the sanitizer of the CPython build) only.
HARNESS_SAN = $(if $(filter address,$(PY_SANITIZER)),-fsanitize=address)

$(BUILD)/harnesses/%.o: harnesses/%.c harnesses/harness.h include/ftfuzz/program.h include/ftfuzz/limits.def include/ftfuzz/families.def include/ftfuzz/schedule_bytes.h include/ftfuzz/env.h include/ftfuzz/sched.h $(CPYTHON_FUZZ_DIR)/ftfuzz-cpython.mk
	@mkdir -p $(@D)
	$(CC) $(HARNESS_CFLAGS) -fsanitize=fuzzer-no-link $(HARNESS_SAN) -c $< -o $@

# spec.c builds the spec and scenario loaders and the stdlib spec into the
# binary.
$(BUILD)/harnesses/spec.o: HARNESS_CFLAGS += \
    -DFTFUZZ_SPEC_LOADER='"$(ROOT)/harnesses/spec_loader.py"' \
    -DFTFUZZ_STDLIB_SPEC='"$(ROOT)/harnesses/specs/stdlib.toml"' \
    -DFTFUZZ_SCENARIO_LOADER='"$(ROOT)/harnesses/scenario_loader.py"'
$(BUILD)/harnesses/spec.o: harnesses/spec_loader.py harnesses/specs/stdlib.toml \
    harnesses/scenario_loader.py

$(FUZZ_DIR)/fuzz_%: harnesses/fuzz_target.c $(HARNESS_OBJS) $(PROG_LIB) $(PROG_GLUE_OBJ) $(SCHED_LIB) $(WRAP_FLAGS_FILE)
	@mkdir -p $(@D)
	$(CC) $(HARNESS_CFLAGS) -DFTFUZZ_FAMILY=HARNESS_$(shell echo $* | tr a-z A-Z) \
	    -fsanitize=fuzzer $(HARNESS_SAN) $< $(HARNESS_OBJS) $(PROG_GLUE_OBJ) $(PROG_LIB) \
	    $(PROG_LDLIBS) $(PY_LIBS) $(SCHED_LIB) $(WRAP_FLAGS) \
	    -Wl,--wrap=__sanitizer_cov_8bit_counters_init -rdynamic -ldl -o $@

# Each target's libFuzzer dictionary and options, next to it (the names
# OSS-Fuzz and `ftfuzz fuzz` look for).
$(FUZZ_DIR)/fuzz_%.dict: harnesses/fuzz.dict
	@mkdir -p $(@D)
	cp $< $@
# max_len is the largest program the mutator makes (include/ftfuzz/limits.def).
$(FUZZ_DIR)/fuzz_%.options: harnesses/fuzz.options include/ftfuzz/limits.def
	@mkdir -p $(@D)
	scripts/fill-limits.sh $< > $@

all: $(FUZZ_TARGETS) $(FUZZ_TARGETS:=.dict) $(FUZZ_TARGETS:=.options)
.SECONDARY: $(HARNESS_OBJS)
endif
