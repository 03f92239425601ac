#!/usr/bin/env bash
# bench.sh: the scheduler's microbenchmarks and the CPython harness's
# figures; writes them, the command and the machine into BENCHMARKS.md
# (between the "scheduler" and "harness" markers).
#
#   scripts/bench.sh [--help]
#   scripts/bench.sh --plain-accesses   only the section of --plain-accesses
#
# Each figure is the median of 5 runs.  Run it on an otherwise idle machine:
# hand-off latency in particular depends on a free core.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
bench=$root/build/tests/bench
out=$root/BENCHMARKS.md

if [[ ${1:-} == --help || ${1:-} == -h ]]; then
    sed -n '2,9s/^# \{0,1\}//p' "${BASH_SOURCE[0]}"
    exit 0
fi
only_plain=0
[[ ${1:-} == --plain-accesses ]] && only_plain=1
for p in sched_bench sched_bench_plain sched_bench_pa; do
    if [[ ! -x $bench/$p ]]; then
        echo "bench.sh: $bench/$p is missing; run 'make all' first" >&2
        exit 2
    fi
done

median() { sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
field() { sed -n "s/.*$1 \([0-9.]*\).*/\1/p"; }
five() { for _ in 1 2 3 4 5; do "$@"; done; }

cpu=$(sed -n 's/^model name\s*: //p' /proc/cpuinfo | head -1)
machine="$(nproc) cores, ${cpu:-unknown CPU}, $(uname -sr), $(date -u +%Y-%m-%d)"

# Replaces the NAME section of BENCHMARKS.md (or appends it).
write_section() {
    local name=$1 body=$2
    local section="<!-- $name:begin (written by scripts/bench.sh) -->
$body
<!-- $name:end -->"
    touch "$out"
    if grep -q "<!-- $name:begin" "$out"; then
        python3 - "$out" "$name" "$section" <<'PY'
import re, sys
path, name, section = sys.argv[1:]
text = open(path).read()
text = re.sub(rf"<!-- {name}:begin.*?<!-- {name}:end -->",
              lambda m: section, text, flags=re.S)
open(path, "w").write(text)
PY
    else
        printf '\n%s\n' "$section" >> "$out"
    fi
    echo "$section"
}

# --- plain-access points (ftfuzz-cc --plain-accesses) ------------------------------

echo "bench: plain loads in a session, without and with plain-access points (5 x 3 x 20M)..."
nopa=$(five "$bench/sched_bench" plain 20000000)
pa=$(five "$bench/sched_bench_pa" plain 20000000)
med() { field "$1" <<< "$2" | median; }
echo "bench: the lock-heavy program as one schedule, without and with (5 runs each)..."
lk=$(five "$bench/sched_bench" locks 20000)
lkpa=$(five "$bench/sched_bench_pa" locks 20000)
per_point() {
    awk '{for (i = 1; i < NF; i++) { if ($i == "steps") st = $(i + 1);
          if ($i == "cpu_seconds") s = $(i + 1) } printf "%.1f\n", s * 1e9 / st}' <<< "$1" | median
}
load=$(cut -d' ' -f1 /proc/loadavg)
write_section plain-accesses "## Plain-access points (\`ftfuzz-cc --plain-accesses\`)

Command: \`scripts/bench.sh --plain-accesses\` (also part of \`make bench\`;
tests/bench/sched_bench.c built without plain-access points, sched_bench,
and with \`-fsanitize-coverage=edge,trace-loads,trace-stores\`,
sched_bench_pa).  Machine: $machine; load average $load when run.
Medians of 5 runs.  The plain loads are timed in the thread's CPU time and
the schedule also in the process's, so a busy machine shows less in them
than in the wall-clock figure.

| figure | without | with --plain-accesses |
|---|---|---|
| volatile load of the thread's own stack (stack filter) | $(med stack_ns "$nopa") ns | $(med stack_ns "$pa") ns |
| volatile load of memory only this thread touched (owner filter) | $(med own_ns "$nopa") ns | $(med own_ns "$pa") ns |
| volatile load of memory two threads touched (a point that does not switch) | $(med shared_ns "$nopa") ns | $(med shared_ns "$pa") ns |
| lock-heavy program (4 threads x 20,000 mutex round trips, pct:3), points per schedule | $(med steps "$lk") | $(med steps "$lkpa") |
| the same, switches per schedule | $(med switches "$lk") | $(med switches "$lkpa") |
| the same, wall seconds per schedule | $(med ' seconds' "$lk") s | $(med ' seconds' "$lkpa") s |
| the same, CPU seconds per schedule (all threads) | $(med cpu_seconds "$lk") s | $(med cpu_seconds "$lkpa") s |
| the same, CPU ns per point | $(per_point "$lk") ns | $(per_point "$lkpa") ns |"
if ((only_plain)); then
    exit 0
fi

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

write_section scheduler "## Scheduler microbenchmarks

Command: \`make bench\` (scripts/bench.sh; program tests/bench/sched_bench.c).
Machine: $machine.
Medians of 5 runs.

| figure | value | target |
|---|---|---|
| atomic load, no hooks (plain build) | ${plain_point} ns | |
| atomic load, hooks compiled in, no session (idle) | ${idle_point} ns | |
| scheduling point that does not switch (in a session) | ${session_point} ns | <= 2 ns |
| hand-off between two threads (per switch) | ${handoff} ns | <= 3,000 ns |
| 4 threads x 20,000 mutex round trips, native threads | ${locks_native} s | |
| the same under the scheduler (pct:3) | ${locks_sched} s (${ratio}x) | |"

# --- the CPython harness --------------------------------------------------------

fuzz_list=$root/build/fuzz/fuzz_list
plain_py=$root/build/cpython-plain/bin/python3.13
fuzz_py=$root/build/cpython-fuzz/bin/python3.13
if [[ ! -x $fuzz_list || ! -x $plain_py || ! -x $fuzz_py ]]; then
    echo "bench.sh: the fuzz targets or a CPython variant are missing; run 'make cpython all' for the harness figures" >&2
    exit 2
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir "$work/programs"
"$bench/gen_programs" 2 8 300 "$work/programs"
echo "bench: fuzz_list on 300 programs of 2 threads x 8 operations (5 runs)..."
# libFuzzer stops at the first crashing input: count the executions that
# ran (one trace-hash line each), not the files given.
execs=$(for _ in 1 2 3 4 5; do
    start=$(date +%s.%N)
    FTFUZZ_PRINT_HASH=1 "$fuzz_list" -runs=1 "$work"/programs/* > "$work/log" 2>&1 || true
    end=$(date +%s.%N)
    ran=$(grep -c '^==ftfuzz== trace hash' "$work/log" || true)
    awk -v s="$start" -v e="$end" -v n="$ran" 'BEGIN {printf "%.1f\n", n / (e - s)}'
done | median)
ran=$(grep -c '^==ftfuzz== trace hash' "$work/log" || true)
steps=$(awk '/^==ftfuzz== trace hash/ {s += $6; n++} END {if (n) printf "%.0f", s / n}' "$work/log")
loop='import time
t = time.perf_counter()
for _ in range(3):
    l = []; d = {}; s = set()
    for i in range(200000):
        l.append(i); d[i] = i; s.add(i)
    for i in range(200000):
        l.pop(); del d[i]; s.discard(i)
print(time.perf_counter() - t)'
# A third interpreter for one figure: the plain variant plus the fuzz
# variant's atomic-point hooks (idle: no session), without libFuzzer's
# coverage.  Built once into the cache (5 to 10 minutes), then reused.
echo "bench: the hooks-only CPython variant (built once, cached)..."
mkdir -p "$root/build/bench"
clang-19 -O2 -fPIC -c "$root/scripts/cpython-hook-stub.c" -o "$root/build/bench/hook-stub.o"
"$root/scripts/build-cpython.sh" --variant plain \
    --extra-cflags "-include $root/include/ftfuzz/atomic_hooks.h -DFTFUZZ_HOOK_NO_C11" \
    --extra-ldflags "$root/build/bench/hook-stub.o" \
    --link-dir "$root/build/bench" >&2
hooks_py=$root/build/bench/cpython-plain-custom/bin/python3.13

echo "bench: the same Python loop on the plain, hooks-only and fuzz variants (7 runs each)..."
# This machine's speed drifts by tens of percent from one second to the
# next: the variants take turns, and each figure is its fastest of 7 runs.
for _ in 1 2 3 4 5 6 7; do
    "$plain_py" -c "$loop" >> "$work/plain"
    "$hooks_py" -c "$loop" >> "$work/hooks"
    "$fuzz_py" -c "$loop" >> "$work/fuzz"
done
fastest() { sort -g "$1" | head -n 1 | xargs printf "%.3f"; }
plain_s=$(fastest "$work/plain")
hooks_s=$(fastest "$work/hooks")
fuzz_s=$(fastest "$work/fuzz")
slow=$(awk -v a="$fuzz_s" -v b="$plain_s" 'BEGIN {printf "%.2f", a / b}')
hooks_slow=$(awk -v a="$hooks_s" -v b="$plain_s" 'BEGIN {printf "%.2f", a / b}')

write_section harness "## CPython harness

Command: \`make bench\` (scripts/bench.sh). Machine: $machine. Executions/s: median of 5 runs; the loop: fastest of 7 runs, the variants taking turns.

| figure | value | target |
|---|---|---|
| fuzz_list executions/s, programs of 2 threads x 8 operations, one process ($ran of 300 ran; $steps scheduling points each on average) | ${execs} | >= 2,000 |
| list/dict/set loop (1.2M operations), plain variant | ${plain_s} s | |
| the same with the atomic-point hooks alone (idle scheduler, no coverage) | ${hooks_s} s (${hooks_slow}x) | <= 1.15x |
| the same on the fuzz variant (hooks idle, libFuzzer coverage on) | ${fuzz_s} s (${slow}x) | |

Each execution forks a child from the initialised interpreter, starts and
joins real Python threads under the scheduler and then collects the
garbage made since start-up, the refcount oracle. The fork and its
copy-on-write faults are about 40% of an execution (docs/harness.md,
\"Costs\")."
