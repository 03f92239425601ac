# The example extension (harnesses/examples/example.c), built with
# scripts/ftfuzz-ext-cc for the fuzz CPython: racy as written, and its fixed
# twin (-DEXAMPLE_FIXED).  Each build gets a copy of the spec beside it,
# whose path = ["."] then finds the module.

EXAMPLES_DIR := $(BUILD)/examples
EXAMPLE_BUILDS := $(EXAMPLES_DIR)/racy/example.so $(EXAMPLES_DIR)/fixed/example.so \
                  $(EXAMPLES_DIR)/racy/example.toml $(EXAMPLES_DIR)/fixed/example.toml

ifneq ($(PY_HOME),)
$(EXAMPLES_DIR)/racy/example.so: harnesses/examples/example.c scripts/ftfuzz-ext-cc include/ftfuzz/atomic_hooks.h $(CPYTHON_FUZZ_DIR)/ftfuzz-cpython.mk
	@mkdir -p $(@D)
	FTFUZZ_PY=$(CPYTHON_FUZZ_DIR) scripts/ftfuzz-ext-cc -O1 -g $(WARN) $< -o $@
$(EXAMPLES_DIR)/fixed/example.so: harnesses/examples/example.c scripts/ftfuzz-ext-cc include/ftfuzz/atomic_hooks.h $(CPYTHON_FUZZ_DIR)/ftfuzz-cpython.mk
	@mkdir -p $(@D)
	FTFUZZ_PY=$(CPYTHON_FUZZ_DIR) scripts/ftfuzz-ext-cc -O1 -g $(WARN) -DEXAMPLE_FIXED $< -o $@
$(EXAMPLES_DIR)/%/example.toml: harnesses/examples/example.toml
	@mkdir -p $(@D)
	cp $< $@

all: $(EXAMPLE_BUILDS)
endif
