# Test programs.  Each fragment appends its programs to TEST_PROGRAMS.
TEST_PROGRAMS :=
include tests/sched/sched.mk
include tests/embed/embed.mk
include tests/bench/bench.mk
include tests/symbolizer/symbolizer.mk

.PHONY: tests-build
tests-build: $(TEST_PROGRAMS)
