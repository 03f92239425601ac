# Programs: the ftfuzz.Program format (fuzz/program.proto, program.c) and
# libFuzzer's structural mutator (mutator.c, libfuzzer_glue.c).
# docs/program-format.md describes both.
#
# protoc-c compiles the .proto into $(BUILD)/gen at build time; the
# generated files are never committed.  The library is built with the
# project's flags only: no coverage, so that the mutator and the decoder
# never count as progress of the fuzzed program.

PROG_GEN_DIR  := $(BUILD)/gen
PROG_GEN_SRC  := $(PROG_GEN_DIR)/program.pb-c.c
PROG_GEN_HDR  := $(PROG_GEN_DIR)/program.pb-c.h
PROG_OBJ_DIR  := $(BUILD)/fuzz
PROG_OBJS     := $(PROG_OBJ_DIR)/program.o $(PROG_OBJ_DIR)/mutator.o \
                 $(PROG_OBJ_DIR)/anchors.o \
                 $(PROG_OBJ_DIR)/program.pb-c.o
PROG_LIB      := $(BUILD)/lib/libftfuzz_prog.a
# LLVMFuzzerCustomMutator and LLVMFuzzerCustomCrossOver: link it into a
# libFuzzer harness, never into a program without libFuzzer.
PROG_GLUE_OBJ := $(PROG_OBJ_DIR)/libfuzzer_glue.o
PROG_CFLAGS   := -I$(PROG_GEN_DIR) -I$(ROOT)/fuzz
PROG_LDLIBS   := -lprotobuf-c
PROG_HDRS     := include/ftfuzz/program.h include/ftfuzz/limits.def \
                 include/ftfuzz/schedule_bytes.h \
                 include/ftfuzz/anchors.h \
                 fuzz/mutator.h $(PROG_GEN_HDR)
# protoc-c's output is not ours to fix: its warnings stay warnings.
PROG_GEN_CFLAGS := $(filter-out -Werror,$(CFLAGS))

$(PROG_GEN_SRC) $(PROG_GEN_HDR) &: fuzz/program.proto
	@mkdir -p $(PROG_GEN_DIR)
	protoc-c --proto_path=fuzz --c_out=$(PROG_GEN_DIR) fuzz/program.proto

$(PROG_OBJ_DIR)/program.pb-c.o: $(PROG_GEN_SRC) $(PROG_GEN_HDR)
	@mkdir -p $(@D)
	$(CC) $(PROG_GEN_CFLAGS) $(PROG_CFLAGS) -c $< -o $@

$(PROG_OBJ_DIR)/program.o $(PROG_OBJ_DIR)/mutator.o $(PROG_OBJ_DIR)/anchors.o \
		$(PROG_GLUE_OBJ): \
		$(PROG_OBJ_DIR)/%.o: fuzz/%.c $(PROG_HDRS)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(PROG_CFLAGS) -c $< -o $@

$(PROG_LIB): $(PROG_OBJS)
	@mkdir -p $(@D)
	rm -f $@ && ar rcs $@ $^

# --- tests (tests/test_program.py) ---------------------------------------------
#
# unit_program links the library as harnesses do; unit_program_asan and the
# libFuzzer smoke target compile the same sources with ASan and UBSan.

PROG_TEST_DIR  := $(BUILD)/tests/fuzz
PROG_ASAN_DIR  := $(PROG_TEST_DIR)/asan
PROG_SANITIZE  := -fsanitize=address,undefined -fno-sanitize-recover=all
PROG_ASAN_OBJS := $(PROG_ASAN_DIR)/program.o $(PROG_ASAN_DIR)/mutator.o \
                  $(PROG_ASAN_DIR)/anchors.o \
                  $(PROG_ASAN_DIR)/program.pb-c.o
PROG_TEST_HDRS := $(PROG_HDRS) include/ftfuzz/result.h include/ftfuzz/verdicts.h \
                  include/ftfuzz/verdicts.def include/ftfuzz/diagnosis.h

$(PROG_ASAN_DIR)/program.pb-c.o: $(PROG_GEN_SRC) $(PROG_GEN_HDR)
	@mkdir -p $(@D)
	$(CC) $(PROG_GEN_CFLAGS) $(PROG_CFLAGS) $(PROG_SANITIZE) -c $< -o $@

$(PROG_ASAN_DIR)/program.o $(PROG_ASAN_DIR)/mutator.o $(PROG_ASAN_DIR)/anchors.o \
		$(PROG_ASAN_DIR)/libfuzzer_glue.o: \
		$(PROG_ASAN_DIR)/%.o: fuzz/%.c $(PROG_HDRS)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(PROG_CFLAGS) $(PROG_SANITIZE) -c $< -o $@

$(PROG_TEST_DIR)/unit_program: tests/fuzz/unit_program.c $(PROG_TEST_HDRS) $(PROG_LIB)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(PROG_CFLAGS) $< -o $@ $(PROG_LIB) $(PROG_LDLIBS)

$(PROG_TEST_DIR)/unit_program_asan: tests/fuzz/unit_program.c $(PROG_TEST_HDRS) $(PROG_ASAN_OBJS)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(PROG_CFLAGS) $(PROG_SANITIZE) $< -o $@ \
		$(PROG_ASAN_OBJS) $(PROG_LDLIBS)

$(PROG_TEST_DIR)/mutator_fuzz: tests/fuzz/mutator_fuzz.c $(PROG_TEST_HDRS) $(PROG_ASAN_OBJS) \
		$(PROG_ASAN_DIR)/libfuzzer_glue.o
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(PROG_CFLAGS) -fsanitize=fuzzer $(PROG_SANITIZE) $< -o $@ \
		$(PROG_ASAN_OBJS) $(PROG_ASAN_DIR)/libfuzzer_glue.o $(PROG_LDLIBS)

$(PROG_TEST_DIR)/prog_edit: tests/fuzz/prog_edit.c $(PROG_TEST_HDRS) include/ftfuzz/trace_file.h $(PROG_LIB)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(PROG_CFLAGS) $< -o $@ $(PROG_LIB) $(PROG_LDLIBS)

PROG_TEST_PROGRAMS := $(PROG_TEST_DIR)/unit_program $(PROG_TEST_DIR)/prog_edit \
                      $(PROG_TEST_DIR)/unit_program_asan $(PROG_TEST_DIR)/mutator_fuzz
TEST_PROGRAMS += $(PROG_TEST_PROGRAMS)
# tests/tests.mk expands TEST_PROGRAMS in its tests-build rule as it reads
# it, and starts by emptying it: naming the prerequisites here as well makes
# `make all` build them wherever this file is included.
tests-build: $(PROG_TEST_PROGRAMS)
