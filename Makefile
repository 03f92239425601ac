# ftfuzz: top-level build.  `make help` lists the targets.
#
# Two commands do all set-up on a fresh machine:
#   make fuzz    install what is missing, build, run the default campaign
#   make check   the whole test suite

SHELL := /bin/bash
.DEFAULT_GOAL := all

ROOT        := $(abspath .)
BUILD       := $(ROOT)/build
CC          := clang-19
PYTEST      ?= /usr/bin/python3 -m pytest
PYTEST_ARGS ?=
# Test files run in parallel, one worker per core (pytest-xdist); each
# file stays on one worker, so its module fixtures run once.
TEST_JOBS   ?= $(shell nproc)
FTFUZZ_CACHE ?= $(HOME)/.cache/ftfuzz
export FTFUZZ_CACHE

# Project code: C11, warnings are errors.  The scheduler runtime is never
# instrumented (no coverage, no hooks): it gets exactly these flags.
WARN     := -Wall -Wextra -Werror
CFLAGS   := -std=c11 -D_GNU_SOURCE -O2 -g $(WARN) -I$(ROOT)/include

# --- scheduler runtime --------------------------------------------------------

SCHED_SRCS := $(filter-out scheduler/auto_session.c,$(wildcard scheduler/*.c))
SCHED_OBJS := $(patsubst scheduler/%.c,$(BUILD)/scheduler/%.o,$(SCHED_SRCS))
SCHED_LIB  := $(BUILD)/lib/libftfuzz_sched.a
# The automatic session of programs built with scripts/ftfuzz-cc.
SCHED_AUTO := $(BUILD)/lib/ftfuzz_auto.o
# One -Wl,--wrap=NAME per modelled libc function, from scheduler/wrapped.def.
WRAP_FLAGS_FILE := $(BUILD)/wrap.flags

$(BUILD)/scheduler/%.o: scheduler/%.c $(wildcard scheduler/*.h include/ftfuzz/*.h) scheduler/wrapped.def
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -fno-sanitize=all -fvisibility=hidden -c $< -o $@

$(SCHED_LIB): $(SCHED_OBJS)
	@mkdir -p $(@D)
	rm -f $@ && ar rcs $@ $^

$(SCHED_AUTO): $(BUILD)/scheduler/auto_session.o
	@mkdir -p $(@D)
	cp $< $@

$(WRAP_FLAGS_FILE): scheduler/wrapped.def
	@mkdir -p $(@D)
	sed -n 's/^FTFUZZ_WRAP[A-Z_]*(\([a-z_0-9]*\),.*/-Wl,--wrap=\1/p' $< | tr '\n' ' ' > $@

WRAP_FLAGS = $(shell cat $(WRAP_FLAGS_FILE) 2>/dev/null)

# Link flags for any program run under the scheduler.
SCHED_LDFLAGS = $(SCHED_LIB) $(WRAP_FLAGS) -lpthread -ldl -rdynamic

# --- CPython (built by scripts/build-cpython.sh, cached in FTFUZZ_CACHE) -------
#
# scripts/build-cpython.sh leaves build/cpython-<variant> as a link to the
# cached install prefix, and in it `ftfuzz-cpython.mk` with PY_CFLAGS,
# PY_LIBS and PY_HOME for programs that embed that interpreter.

CPYTHON_VARIANTS ?= plain fuzz

# The fuzz variant that test and harness programs embed (SANITIZER=address
# selects the ASan build of it).
CPYTHON_FUZZ_DIR := $(BUILD)/cpython-fuzz$(if $(filter address asan,$(SANITIZER)),-asan)

.PHONY: deps cpython
deps:
	scripts/deps.sh

cpython: deps
	@for v in $(CPYTHON_VARIANTS); do scripts/build-cpython.sh --variant $$v || exit 1; done

# Fragments such as tests/embed/embed.mk include the fuzz variant's
# ftfuzz-cpython.mk while make reads the makefiles.  So goals that build
# CPython build (or find up to date) the fuzz variant right then, before that
# include: a cold `make check` builds the embedding programs as well, and after
# a rebuild (another CPYTHON_SRC, an edited hook header) they link the new
# interpreter, not the one the link pointed at before.  Other goals
# (`make all`, `make help`) never start a CPython build; without the fragment
# they skip the embedding programs.  Not done under `make -n`.
# `make regress` without CPYTHON_SRC checks the default CPython, so it builds
# it too; with CPYTHON_SRC, scripts/regress.py builds that tree on the side
# (build/regress/) and leaves build/cpython-fuzz alone.
CPYTHON_FIRST_GOALS := check fuzz bench bench-bugs cpython install $(if $(CPYTHON_SRC),,regress)
ifneq ($(filter $(CPYTHON_FIRST_GOALS),$(MAKECMDGOALS)),)
ifeq ($(findstring n,$(firstword -$(MAKEFLAGS))),)
CPYTHON_FIRST_STATUS := $(shell scripts/deps.sh >&2 && \
	SANITIZER='$(SANITIZER)' CPYTHON_SRC='$(CPYTHON_SRC)' \
	FTFUZZ_CACHE='$(FTFUZZ_CACHE)' scripts/build-cpython.sh --variant fuzz >&2; \
	echo $$?)
ifneq ($(CPYTHON_FIRST_STATUS),0)
$(error building the fuzz variant of CPython failed (output above))
endif
endif
endif

# --- CLI ----------------------------------------------------------------------

FTFUZZ_BIN := $(BUILD)/bin/ftfuzz
CLI_SRCS   := $(wildcard fuzz/cli/*.c)

# (its rule follows the fragments: it links the program format)

# --- everything else is in these fragments ------------------------------------

include fuzz/fuzz.mk
include tests/tests.mk
include harnesses/harness.mk
include harnesses/examples/examples.mk

# The CLI decodes and edits fuzz inputs (minimize), so it links the program
# format, and it reads strategy specs with the scheduler's one parser (a
# file that needs nothing else of the scheduler).
CLI_SCHED_OBJS := $(BUILD)/scheduler/strategy_parse.o
$(FTFUZZ_BIN): $(CLI_SRCS) $(wildcard fuzz/cli/*.h fuzz/cli/*.def include/ftfuzz/*.h include/ftfuzz/*.def) $(SCHED_LIB) $(WRAP_FLAGS_FILE) $(PROG_LIB) $(CLI_SCHED_OBJS)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(PROG_CFLAGS) $(CLI_SRCS) $(CLI_SCHED_OBJS) $(PROG_LIB) $(PROG_LDLIBS) -o $@

.PHONY: all fuzz check bench bench-bugs clean distclean help
all: $(SCHED_LIB) $(SCHED_AUTO) $(WRAP_FLAGS_FILE) $(FTFUZZ_BIN) tests-build

fuzz: cpython all
	$(FTFUZZ_BIN) fuzz

check: cpython all
	$(PYTEST) -q -n $(TEST_JOBS) --dist loadfile tests $(PYTEST_ARGS)

bench: cpython all
	scripts/bench.sh

# How fast known races are found, by strategy, by the fuzzer with and
# without interleaving features, and on real threads (tens of minutes).
bench-bugs: cpython all
	/usr/bin/python3 scripts/bench_bugs.py $(BENCH_BUGS_ARGS)

# Replays corpus/regressions/ against the default CPython, or with
# CPYTHON_SRC=DIR against that checkout (docs/regress.md).  More flags for
# `ftfuzz regress` in REGRESS_ARGS.  The build runs after deps (a sub-make),
# so that -j cannot compile before the compiler is installed.
.PHONY: regress
regress: deps
	@$(MAKE) --no-print-directory $(FTFUZZ_BIN) $(if $(CPYTHON_SRC),,all)
	$(FTFUZZ_BIN) regress $(if $(CPYTHON_SRC),--cpython '$(CPYTHON_SRC)') $(REGRESS_ARGS)

# `ftfuzz regress --cpython` on CPython 3.13.5 with tests/regress-proof-*.patch:
# points added in thread start-up and in the racing operations' helpers
# must leave every input ok or ok (moved), and the patch that fixes the
# dict and generic-alias iterator races must make exactly those two
# `fixed`.  Three CPython builds (about 4 minutes each on 2 idle cores, then
# cached): not part of `make check` (docs/regress.md).
.PHONY: regress-proof
regress-proof: deps
	@$(MAKE) --no-print-directory $(FTFUZZ_BIN)
	/usr/bin/python3 scripts/regress_proof.py

# A working ftfuzz outside the checkout (fuzz/cli/paths.c finds the rest
# from the executable): PREFIX/bin/ftfuzz, the fuzz targets in
# PREFIX/lib/ftfuzz/fuzz, the corpus and scripts (regress, the pytest
# plugin) in PREFIX/share/ftfuzz.
# The targets embed the cached CPython (FTFUZZ_CACHE), which stays where it
# is; share/ftfuzz/build/cpython-fuzz names it for `ftfuzz regress`.
PREFIX ?= /usr/local
.PHONY: install
install: all
	install -d $(PREFIX)/bin $(PREFIX)/lib/ftfuzz/fuzz \
	    $(PREFIX)/share/ftfuzz/scripts $(PREFIX)/share/ftfuzz/build
	install -m 755 $(FTFUZZ_BIN) $(PREFIX)/bin/ftfuzz
	cp $(FUZZ_TARGETS) $(FUZZ_TARGETS:=.dict) $(FUZZ_TARGETS:=.options) \
	    $(PREFIX)/lib/ftfuzz/fuzz/
	cp -R corpus $(PREFIX)/share/ftfuzz/
	install -m 755 scripts/regress.py $(PREFIX)/share/ftfuzz/scripts/
	install -d $(PREFIX)/share/ftfuzz/include/ftfuzz
	install -m 644 include/ftfuzz/families.def include/ftfuzz/verdicts.def \
	    $(PREFIX)/share/ftfuzz/include/ftfuzz/
	install -D -m 644 scripts/pytest/ftfuzz_pytest.py \
	    $(PREFIX)/share/ftfuzz/scripts/pytest/ftfuzz_pytest.py
	ln -sfn $(realpath $(CPYTHON_FUZZ_DIR)) \
	    $(PREFIX)/share/ftfuzz/build/cpython-fuzz

clean:
	rm -rf $(BUILD)

distclean: clean
	rm -rf $(FTFUZZ_CACHE)

help:
	@echo "ftfuzz make targets:"
	@echo "  make fuzz       install what is missing, build, run the default campaign"
	@echo "  make check      build everything and run the whole test suite"
	@echo "  make deps       install missing Debian packages (scripts/deps.sh)"
	@echo "  make cpython    build free-threaded debug CPython (variants: $(CPYTHON_VARIANTS))"
	@echo "                  CPYTHON_SRC=DIR builds a checkout instead of Debian's 3.13.5"
	@echo "                  SANITIZER=address adds ASan to the fuzz variant"
	@echo "  make all        build the scheduler, the ftfuzz command and test programs"
	@echo "  make install    PREFIX=DIR (default /usr/local): ftfuzz, its targets and corpus"
	@echo "  make bench      benchmarks; figures go to BENCHMARKS.md"
	@echo "  make bench-bugs races found per strategy, fuzzer and real threads (BENCHMARKS.md)"
	@echo "  make plain-cpython  a fuzz CPython with plain-access points in"
	@echo "                  PLAIN_ACCESS_FILES (default Modules/_io/*.c) and its fuzz_spec"
	@echo "                  (ftfuzz explore --plain-accesses; docs/scheduler.md)"
	@echo "  make check-plain-cpython  the same, then its CPython scenario test"
	@echo "  make regress    replay corpus/regressions/ against the default CPython;"
	@echo "                  CPYTHON_SRC=DIR: against that checkout (docs/regress.md)"
	@echo "  make clean      remove build/ (the CPython cache stays)"
	@echo "  make distclean  also remove the CPython cache ($(FTFUZZ_CACHE))"
	@echo "  make help       this text"
