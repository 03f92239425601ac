# Programs that embed the fuzz variant of CPython; tests/test_embed.py runs
# them.  They need the make fragment that `make cpython` writes into the
# install prefix (PY_HOME, PY_CFLAGS, PY_LIBS, PY_LDFLAGS).  Without it they
# are simply not built, and test_embed.py fails saying to run `make cpython`.
#
# They define the atomic-point hook themselves (embed_common.h) and must not
# link the scheduler library.  -fsanitize=fuzzer-no-link in PY_LDFLAGS
# brings the coverage callbacks that libpython's instrumentation calls.

ifneq ($(wildcard $(CPYTHON_FUZZ_DIR)/ftfuzz-cpython.mk),)
include $(CPYTHON_FUZZ_DIR)/ftfuzz-cpython.mk

EMBED_DIR   := $(BUILD)/tests/embed
EMBED_PROGS := $(EMBED_DIR)/smoke $(EMBED_DIR)/hook_count
# Holds PY_HOME; rewritten only when it changes, so that the programs are
# relinked when they would otherwise point at another cached interpreter.
EMBED_HOME_STAMP := $(EMBED_DIR)/py-home.txt

TEST_PROGRAMS += $(EMBED_PROGS)

.PHONY: embed-home-stamp-check
$(EMBED_HOME_STAMP): embed-home-stamp-check
	@mkdir -p $(@D)
	@echo '$(PY_HOME)' | cmp -s - $@ || echo '$(PY_HOME)' > $@

$(EMBED_PROGS): $(EMBED_DIR)/%: tests/embed/%.c tests/embed/embed_common.h \
		$(CPYTHON_FUZZ_DIR)/ftfuzz-cpython.mk $(EMBED_HOME_STAMP)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(PY_CFLAGS) \
		-DFTFUZZ_PY_HOME='"$(PY_HOME)"' $< -o $@ $(PY_LDFLAGS) $(PY_LIBS)

endif
