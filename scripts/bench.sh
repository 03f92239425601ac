#!/usr/bin/env bash
# bench.sh: the scheduler's microbenchmarks; writes the figures, the command
# and the machine into BENCHMARKS.md (between the "scheduler" markers).
#
#   scripts/bench.sh [--help]
#
# Each figure is the median of 5 runs.  Run it on an otherwise idle machine:
# hand-off latency in particular depends on a free core.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
bench=$root/build/tests/bench
out=$root/BENCHMARKS.md

if [[ ${1:-} == --help || ${1:-} == -h ]]; then
    sed -n '2,8s/^# \{0,1\}//p' "${BASH_SOURCE[0]}"
    exit 0
fi
for p in sched_bench sched_bench_plain; do
    if [[ ! -x $bench/$p ]]; then
        echo "bench.sh: $bench/$p is missing; run 'make all' first" >&2
        exit 2
    fi
done

median() { sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
field() { sed -n "s/.*$1 \([0-9.]*\).*/\1/p"; }
five() { for _ in 1 2 3 4 5; do "$@"; done; }

echo "bench: cost of a scheduling point (5 x 200M atomic loads)..."
plain_point=$(five "$bench/sched_bench_plain" point 200000000 | field idle_ns_per_point | median)
points=$(five "$bench/sched_bench" point 200000000)
idle_point=$(field idle_ns_per_point <<< "$points" | median)
session_point=$(field session_ns_per_point <<< "$points" | median)
echo "bench: hand-off latency (5 x 2 threads, a switch at about every other point)..."
handoff=$(five "$bench/sched_bench" handoff 100000 | field ns_per_switch | median)
echo "bench: lock-heavy program (4 threads x 20,000 mutex round trips)..."
locks_native=$(five "$bench/sched_bench_plain" locks 20000 | field seconds | median)
locks_sched=$(five "$bench/sched_bench" locks 20000 | field seconds | median)
ratio=$(awk -v a="$locks_sched" -v b="$locks_native" 'BEGIN {printf "%.1f", a / b}')

cpu=$(sed -n 's/^model name\s*: //p' /proc/cpuinfo | head -1)
section=$(cat <<TXT
<!-- scheduler:begin (written by scripts/bench.sh) -->
## Scheduler microbenchmarks

Command: \`make bench\` (scripts/bench.sh; program tests/bench/sched_bench.c).
Machine: $(nproc) cores, ${cpu:-unknown CPU}, $(uname -sr), $(date -u +%Y-%m-%d).
Medians of 5 runs.

| figure | value | target |
|---|---|---|
| atomic load, no hooks (plain build) | ${plain_point} ns | |
| atomic load, hooks compiled in, no session (idle) | ${idle_point} ns | |
| scheduling point that does not switch (in a session) | ${session_point} ns | <= 2 ns |
| hand-off between two threads (per switch) | ${handoff} ns | <= 3,000 ns |
| 4 threads x 20,000 mutex round trips, native threads | ${locks_native} s | |
| the same under the scheduler (pct:3) | ${locks_sched} s (${ratio}x) | |
<!-- scheduler:end -->
TXT
)
touch "$out"
if grep -q '<!-- scheduler:begin' "$out"; then
    python3 - "$out" "$section" <<'PY'
import re, sys
path, section = sys.argv[1], sys.argv[2]
text = open(path).read()
text = re.sub(r"<!-- scheduler:begin.*?<!-- scheduler:end -->", lambda m: section,
              text, flags=re.S)
open(path, "w").write(text)
PY
else
    printf '\n%s\n' "$section" >> "$out"
fi
echo "$section"
