# The llvm-symbolizer module's unit test (tests/test_symbolizer.py), with
# ASan and UBSan: it feeds the JSON parser malformed and truncated input.
SYMBOLIZER_TEST := $(BUILD)/tests/symbolizer/unit_symbolizer

$(SYMBOLIZER_TEST): tests/symbolizer/unit_symbolizer.c include/ftfuzz/symbolizer.h include/ftfuzz/env.h include/ftfuzz/envs.def
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -fsanitize=address,undefined -fno-sanitize-recover=all $< -o $@

TEST_PROGRAMS += $(SYMBOLIZER_TEST)
