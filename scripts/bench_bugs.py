#!/usr/bin/env python3
"""bench_bugs.py: how fast ftfuzz finds known races (make bench-bugs).

For each race program (the regression corpus's failing inputs and the
example extension's two races) it measures, on this machine, in one run:

  - executions to the first failing schedule for the strategies random
    (p = 0.002 and 0.01), pct with d = 1, 2, 3 and pctlog with d = 2, 3
    (both counted from the first operation, k measured on a run without
    preemptions), and explore's default portfolio (those strategies in
    turn, docs/explore.md), through the targets' explore
    mode: the program's operations fixed, the schedule from seed b + i;
    the failing example scenarios (harnesses/examples/scenarios) too, as
    `ftfuzz explore` runs them;
  - executions to the first finding for libFuzzer with the custom mutator,
    from the program with its schedule removed, with and without the
    interleaving features (FTFUZZ_INTERLEAVING=sites / off);
  - the same race as a plain Python program (the reproducer `ftfuzz
    replay` writes) on real threads of the plain free-threaded debug
    CPython, fresh threads for every run, for the wall-clock time ftfuzz
    spent on that race (capped), started again after each crash: runs per
    crash, or that it never crashed.

Each ftfuzz figure is the median over --seeds seed bases (0, 1000, ...);
a run that found nothing within its budget counts as infinitely long.
The table goes to BENCHMARKS.md between the "bugs" markers, the raw
figures to build/bench-bugs/results.json.

usage: scripts/bench_bugs.py [--seeds 5] [--budget 300] [--fuzz-budget 1000]
                             [--real-seconds 120] [--jobs 2] [--races A,B]
                             [--strategies S,T] [--strategies-only]
                             [--no-write] [--render | --real-only R.json]

--strategies-only measures the strategy columns alone (no fuzzer, no real
threads) and writes its table between the "strategies" markers instead.
"""
import argparse
import concurrent.futures
import json
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BUILD = os.path.join(ROOT, "build")
FUZZ = os.path.join(BUILD, "fuzz")
FTFUZZ = os.path.join(BUILD, "bin", "ftfuzz")
WORK = os.path.join(BUILD, "bench-bugs")
REGRESSIONS = os.path.join(ROOT, "corpus", "regressions")
EXAMPLE_SPEC = os.path.join(BUILD, "examples", "racy", "example.toml")
PLAIN_PYTHON = os.path.join(BUILD, "cpython-plain", "bin", "python3")
BENCHMARKS = os.path.join(ROOT, "BENCHMARKS.md")
SCENARIOS = os.path.join(ROOT, "harnesses", "examples", "scenarios")

# random is the program format's default p (0.002); random:0.01 won on
# most races in a side run (BENCHMARKS.md), so both are measured; pctlog
# draws pct's change points log-uniformly; portfolio is explore's default,
# some of these in turn.
STRATEGIES = ["random", "random:0.01", "pct:1", "pct:2", "pct:3", "pctlog:2",
              "pctlog:3", "portfolio"]
PORTFOLIO = "portfolio"


def fuzzers(args):
    """(column, FTFUZZ_INTERLEAVING) of the two fuzzer columns."""
    mode = getattr(args, "interleaving", None) or "sites"
    return [("fuzzer, edges", "off"),
            (f"fuzzer, edges + interleavings ({mode})", mode)]

# --- the program format, enough to build and edit inputs ---------------------


def varint(n):
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        out.append(b | (0x80 if n else 0))
        if not n:
            return bytes(out)


def field(number, value):
    if isinstance(value, bytes):
        return varint(number << 3 | 2) + varint(len(value)) + value
    return varint(number << 3) + varint(value)


def zigzag(n):
    return (n << 1) ^ (n >> 31)


def program(objects, threads):
    """objects: [(kind, size)]; threads: [[(code, target, arg)]]."""
    out = b"".join(field(1, field(1, k) + field(2, s)) for k, s in objects)
    for ops in threads:
        body = b"".join(field(1, field(1, c) + field(2, t) + field(4, zigzag(a)))
                        for c, t, a in ops)
        out += field(2, body)
    return out


def read_varint(data, i):
    """The varint at data[i]: (value, index after it)."""
    n, shift = 0, 0
    while True:
        b = data[i]
        i += 1
        n |= (b & 0x7F) << shift
        shift += 7
        if not b & 0x80:
            return n, i


def without_schedule(data):
    """data with its top-level field 3 (the schedule) left out."""
    out, i = bytearray(), 0
    while i < len(data):
        start = i
        key, i = read_varint(data, i)
        wire = key & 7
        if wire == 0:
            _, i = read_varint(data, i)
        elif wire == 2:
            n, i = read_varint(data, i)
            i += n
        elif wire == 1:
            i += 8
        elif wire == 5:
            i += 4
        else:
            raise ValueError("not a fuzz input")
        if key >> 3 != 3:
            out += data[start:i]
    return bytes(out)


# --- the races ------------------------------------------------------------------


def meta(path):
    fields = {}
    for line in open(path):
        m = re.match(r"^([a-z-]+): (.*)$", line)
        if m:
            fields[m.group(1)] = m.group(2).strip()
    return fields


def races():
    """(name, target, input, spec, what) for every race program."""
    out = []
    for name in sorted(os.listdir(REGRESSIONS)):
        path = os.path.join(REGRESSIONS, name)
        if not os.path.exists(path + ".meta") or not os.path.isfile(path):
            continue
        m = meta(path + ".meta")
        if m.get("expected", "passed").startswith("passed"):
            continue
        out.append((name, m["target"], path, None, m["expected"]))
    inputs = os.path.join(WORK, "inputs")
    os.makedirs(inputs, exist_ok=True)
    # example.toml: kind 12 is Counter (increment), 13 Buffer (append, get)
    counter = os.path.join(inputs, "example_counter_increment")
    with open(counter, "wb") as f:
        f.write(program([(12, 0)], [[(0, 0, 1)], [(0, 0, 1)]]))
    buffer = os.path.join(inputs, "example_buffer_get_append")
    with open(buffer, "wb") as f:
        f.write(program([(13, 4)], [[(0, 0, 1), (0, 0, 2), (0, 0, 3)],
                                    [(1, 0, 2), (1, 0, 3)]]))
    out.append(("example_counter_increment", "fuzz_spec", counter,
                EXAMPLE_SPEC, "linearizability violation (lost update)"))
    out.append(("example_buffer_get_append", "fuzz_spec", buffer,
                EXAMPLE_SPEC, "crash (SIGSEGV: get reads freed storage)"))
    # the example scenarios that fail, as `ftfuzz explore` runs them (no
    # input: the target builds the scenario's program)
    for name, what in (("odict_copy_clear", "crash or exception"),
                       ("counter_check", "check (lost update)"),
                       ("setprofile_all_threads_exit",
                        "crash (a freed thread state)")):
        out.append((f"scenario_{name}", "fuzz_spec", None,
                    os.path.join(SCENARIOS, name + ".py"), what))
    return out


def target_env(spec, **extra):
    env = dict(os.environ)
    env.pop("FTFUZZ_SPEC", None)
    if spec:
        env["FTFUZZ_SPEC"] = spec
    env.update({k: str(v) for k, v in extra.items()})
    return env


# --- measurements ---------------------------------------------------------------


def explore_run(race, strategy, base, budget, tmp):
    """Executions to the first failing schedule (None: none in budget)."""
    name, target, path, spec, _ = race
    out = os.path.join(tmp, f"explore-{name}-{strategy}-{base}")
    inputs = {"FTFUZZ_EXPLORE_INPUT": path} if path else {}
    t0 = time.monotonic()
    r = subprocess.run(
        [os.path.join(FUZZ, target)], capture_output=True, text=True,
        timeout=3600,
        env=target_env(spec, FTFUZZ_EXPLORE=out,
                       FTFUZZ_EXPLORE_STRATEGY=strategy,
                       FTFUZZ_EXPLORE_ITERATIONS=budget,
                       FTFUZZ_EXPLORE_SEED=base, FTFUZZ_EXPLORE_QUIET=1,
                       **inputs))
    seconds = time.monotonic() - t0
    m = re.search(r"FAILING schedule after (\d+) of", r.stdout)
    if r.returncode == 1 and m:
        return int(m.group(1)), seconds
    if r.returncode == 1 and "FAILING without any preemption" in r.stdout:
        return 1, seconds
    if r.returncode != 0:
        raise RuntimeError(f"{name} {strategy}: exit {r.returncode}: "
                           f"{r.stdout[-500:]}{r.stderr[-1500:]}")
    return None, seconds


def fuzz_run(race, mode, seed, budget, tmp):
    """libFuzzer executions to the first finding (None: none in budget)."""
    name, target, path, spec, _ = race
    work = tempfile.mkdtemp(prefix=f"fuzz-{name}-{mode}-{seed}-", dir=tmp)
    corpus = os.path.join(work, "corpus")
    os.makedirs(corpus)
    with open(path, "rb") as f:
        data = without_schedule(f.read())
    with open(os.path.join(corpus, "seed"), "wb") as f:
        f.write(data)
    t0 = time.monotonic()
    r = subprocess.run(
        [os.path.join(FUZZ, target), f"-runs={budget}", f"-seed={seed + 1}",
         "-print_final_stats=1", f"-artifact_prefix={work}/", corpus],
        capture_output=True, text=True, timeout=3600,
        env=target_env(spec, FTFUZZ_INTERLEAVING=mode))
    seconds = time.monotonic() - t0
    units = re.search(r"stat::number_of_executed_units: (\d+)", r.stderr)
    shutil.rmtree(work, ignore_errors=True)
    if r.returncode == 0:
        return None, seconds
    if not units:
        raise RuntimeError(f"{name} fuzz {mode}: exit {r.returncode} "
                           f"without stats: {r.stderr[-1500:]}")
    return int(units.group(1)), seconds


DRIVER = r"""
import os, runpy, sys
mod = runpy.run_path(sys.argv[1], run_name="ftfuzz_repro")
fd = os.open(sys.argv[2], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
sys.setswitchinterval(1e-6)
runs = 0
while True:
    mod["run_once"]()
    runs += 1
    os.pwrite(fd, b"%-20d" % runs, 0)
"""


def real_threads(race, seconds, tmp):
    """Runs and crashes of the race on real threads in `seconds`: the
    program runs again after each crash, so that the figure is a rate
    (runs per crash), not the luck of one first crash."""
    name, target, path, spec, expected = race
    if spec or not expected.startswith("crash"):
        return None
    out = os.path.join(tmp, f"replay-{name}")
    r = subprocess.run([FTFUZZ, "replay", "--target", target,
                        "--targets-dir", FUZZ,
                        "--out", out, path], capture_output=True, text=True,
                       timeout=900)
    repro = os.path.join(out, "repro.py")
    if not os.path.exists(repro):
        raise RuntimeError(f"{name}: no repro.py: {r.stdout}{r.stderr}")
    driver = os.path.join(tmp, "driver.py")
    with open(driver, "w") as f:
        f.write(DRIVER)
    count = os.path.join(tmp, f"runs-{name}")
    return run_repeatedly([PLAIN_PYTHON, driver, repro, count], count,
                          seconds)


def run_repeatedly(argv, count, seconds):
    """Runs argv again after each crash until `seconds` have passed; argv
    writes its completed runs into the file `count` (DRIVER)."""
    runs = crashes = 0
    first = None
    err = b""
    statuses = {}
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if os.path.exists(count):
            os.remove(count)
        p = subprocess.Popen(argv, stdout=subprocess.DEVNULL,
                             stderr=subprocess.PIPE)
        try:
            _, err = p.communicate(
                timeout=max(0.1, deadline - time.monotonic()))
            crashed = True
        except subprocess.TimeoutExpired:
            p.kill()
            p.communicate()
            crashed = False
        try:
            n = int(open(count).read().strip() or 0)
        except (OSError, ValueError):
            n = 0
        runs += n + crashed
        if crashed:
            crashes += 1
            statuses[str(p.returncode)] = statuses.get(str(p.returncode),
                                                       0) + 1
            if first is None:
                first = runs
    return {"crashed": crashes > 0, "crashes": crashes, "runs": runs,
            "first_crash": first, "seconds": seconds,
            "statuses": statuses,
            "stderr": err.decode(errors="replace")[-300:] if crashes else ""}


def runs_per_crash(rt):
    """Real-thread runs per crash (results.json of older runs kept only
    the runs to the first crash)."""
    crashes = rt.get("crashes", 1 if rt["crashed"] else 0)
    return rt["runs"] / crashes if crashes else None


# --- the table ------------------------------------------------------------------


def median_or_none(found, n):
    """Median executions, misses as infinity; None when most missed."""
    vals = sorted(x if x is not None else float("inf") for x in found)
    if len(vals) < n:
        return None
    m = statistics.median(vals)
    return None if m == float("inf") else m


def cell(found, seconds, budget):
    """'median executions / median seconds (found/tried)'."""
    hits = [x for x in found if x is not None]
    m = median_or_none(found, len(found))
    if m is None:
        return f"> {budget} ({len(hits)}/{len(found)})"
    secs = median_or_none([s if x is not None else None
                           for x, s in zip(found, seconds)], len(found))
    return f"{m:g} / {secs:.1f} s ({len(hits)}/{len(found)})"


def times(x):
    """A ratio, with two significant digits below 10."""
    return f"{x:,.0f}x" if x >= 10 else f"{x:.2g}x"


def machine():
    cpu = "unknown CPU"
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return (f"{os.cpu_count()} cores, {cpu}, {platform.system()} "
            f"{platform.release()}, {time.strftime('%Y-%m-%d', time.gmtime())}")


def portfolio_summary(results, strategies, budget):
    """How the portfolio compares with each single strategy, and with the
    best single strategy of each race (median executions, hits)."""
    singles = [x for x in strategies if x != PORTFOLIO]
    if PORTFOLIO not in strategies or not singles:
        return []
    inf = float("inf")

    def med(found):
        m = median_or_none(found, len(found))
        return inf if m is None else m

    def hits(found):
        return sum(x is not None for x in found)

    lines = ["", f"Portfolio (explore's default) against each single "
             f"strategy, same budget of {budget} schedules, race by race "
             f"(median executions; found: seeds that found the race):"]
    for x in singles:
        fewer = more = same = more_found = fewer_found = 0
        for r in results.values():
            a, b = med(r["explore"][PORTFOLIO]), med(r["explore"][x])
            fewer += a < b
            more += a > b
            same += a == b
            ha, hb = hits(r["explore"][PORTFOLIO]), hits(r["explore"][x])
            more_found += ha > hb
            fewer_found += ha < hb
        lines.append(f"- against {x}: fewer executions on {fewer} races, "
                     f"more on {more}, the same on {same}; found in more "
                     f"seeds on {more_found}, in fewer on {fewer_found}.")
    worse = []
    at_least = 0
    for name, r in results.items():
        best = min(singles, key=lambda x: (med(r["explore"][x]),
                                           -hits(r["explore"][x])))
        a, b = med(r["explore"][PORTFOLIO]), med(r["explore"][best])
        ha, hb = hits(r["explore"][PORTFOLIO]), hits(r["explore"][best])
        if a <= b and ha >= hb:
            at_least += 1
        else:
            pa = "> budget" if a == inf else f"{a:g}"
            pb = "> budget" if b == inf else f"{b:g}"
            worse.append(f"{name} ({pa}, {ha} found, against {best} {pb}, "
                         f"{hb} found)")
    lines.append(f"- against the best single strategy of each race: as "
                 f"fast and as often on {at_least} of {len(results)} "
                 f"races" + (f"; behind on {len(worse)}: "
                             + "; ".join(worse) if worse else "") + ".")
    return lines


def table(results, args):
    # results.json of an earlier version may lack a newer strategy
    strategies = [s for s in STRATEGIES
                  if all(s in r["explore"] for r in results.values())]
    only = getattr(args, "strategies_only", False)
    fuzz_cols = [] if only else fuzzers(args)
    cols = strategies + [label for label, _ in fuzz_cols]
    marker = "strategies" if only else "bugs"
    if only:
        lines = [
            f"<!-- {marker}:begin (written by scripts/bench_bugs.py "
            f"--strategies-only) -->",
            "## Finding known races: explore's strategies and its default "
            "portfolio",
            "",
            f"Command: `scripts/bench_bugs.py --strategies-only --seeds "
            f"{args.seeds} --budget {args.budget} --strategies "
            f"{','.join(strategies)}`. Machine: {machine()}.",
            "",
            "Executions and seconds to the first failing schedule, medians "
            f"over {args.seeds} seeds (found/tried; a miss counts as "
            f"infinite, `> N`: the median missed within the budget of N; "
            f"seconds include the process's start and pct's run that "
            f"measures k).  The bench-bugs races (their operations fixed, "
            f"the schedule varied) and the example scenarios that fail "
            f"(`scenario_*`, as `ftfuzz explore` runs them).  portfolio: "
            f"explore's default, iteration i runs strategy i mod 4 of "
            f"pctlog:3, random:0.01, pct:3, random:0.002 (random is "
            f"random:0.002).",
            "",
            "| race | " + " | ".join(cols) + " |",
            "|---" * (len(cols) + 1) + "|",
        ]
    else:
        lines = [
            "<!-- bugs:begin (written by scripts/bench_bugs.py) -->",
            "## Finding known races: strategies, fuzzer, real threads",
            "",
            f"Command: `make bench-bugs` (scripts/bench_bugs.py --seeds "
            f"{args.seeds} --budget {args.budget} --fuzz-budget "
            f"{args.fuzz_budget} --real-seconds {args.real_seconds}). "
            f"Machine: {machine()}.",
            "",
            "Executions and seconds to the first detection, medians over "
            f"{args.seeds} seeds (found/tried; a miss counts as infinite, "
            f"`> N`: the median missed within the budget of N; seconds "
            f"include the process's start, about 1 s, and pct's run that "
            f"measures k).  Strategies "
            f"vary only the schedule of the race's operations (pct counted "
            f"from the first operation, k measured; portfolio: explore's "
            f"default, some of them in turn); the fuzzer starts from "
            f"the operations without a schedule and mutates everything, and "
            f"any finding counts (not run on the scenarios).  Real threads: "
            f"the race as a plain Python "
            f"program on the plain free-threaded debug CPython, fresh "
            f"threads every run, for as long as ftfuzz spent on that race "
            f"in this run (at most {args.real_seconds} s), started again "
            f"after each crash.",
            "",
            "| race | " + " | ".join(cols) + " | real threads | ratio |",
            "|---" * (len(cols) + 3) + "|",
        ]
    notes = []
    for name, r in results.items():
        row = [cell(r["explore"][s], r["explore_s"][s], args.budget)
               for s in strategies]
        row += [cell(r["fuzz"][mode], r["fuzz_s"][mode], args.fuzz_budget)
                if mode in r["fuzz"] else "n/a" for _, mode in fuzz_cols]
        if only:
            lines.append(f"| {name} | " + " | ".join(row) + " |")
            continue
        best = [m for m in (median_or_none(v, len(v))
                            for v in list(r["explore"].values())
                            + list(r["fuzz"].values())) if m is not None]
        rt = r["real"]
        if rt is None:
            real, ratio = "n/a", "n/a"
            notes.append(name)
        elif rt["crashed"]:
            rate = runs_per_crash(rt)
            crashes = rt.get("crashes", 1)
            real = (f"{crashes:,} crash{'es' if crashes > 1 else ''} in "
                    f"{rt['runs']:,} runs: {rate:,.0f} per crash")
            ratio = times(rate / min(best)) if best else "n/a"
        else:
            real = f"no crash in {rt['runs']:,} runs ({rt['seconds']:.0f} s)"
            ratio = "> " + times(rt['runs'] / min(best)) if best else "n/a"
        lines.append(f"| {name} | " + " | ".join(row)
                     + f" | {real} | {ratio} |")
    lines += portfolio_summary(results, strategies, args.budget)
    if only:
        lines.append(f"<!-- {marker}:end -->")
        return "\n".join(lines) + "\n"
    lines += [
        "",
        "Ratio: real-thread runs per crash divided by the executions of "
        "ftfuzz's best median for that race (`>`: real threads never "
        "crashed, so the ratio is at least that).",
    ]
    if notes:
        lines.append("n/a: no real-thread figure for "
                     + ", ".join(notes) + " (a linearizability violation "
                     "needs the oracle, the example extension is built "
                     "for the fuzz CPython only, and a scenario's failure "
                     "may be its check).")
    cov = []
    mode = fuzzers(args)[1][1]
    for name, r in results.items():
        if "off" not in r["fuzz"] or mode not in r["fuzz"]:
            continue
        off = median_or_none(r["fuzz"]["off"], len(r["fuzz"]["off"]))
        on = median_or_none(r["fuzz"][mode], len(r["fuzz"][mode]))
        cov.append((name, off, on))
    better = sum(1 for _, off, on in cov
                 if on is not None and (off is None or on < off))
    worse = sum(1 for _, off, on in cov
                if off is not None and (on is None or off < on))
    lines += [
        "",
        f"Interleaving features against edges alone (median executions): "
        f"fewer on {better} races, more on {worse}, the same on "
        f"{len(cov) - better - worse}.",
        f"<!-- {marker}:end -->",
    ]
    return "\n".join(lines) + "\n"


def write_section(text, marker="bugs"):
    old = open(BENCHMARKS).read() if os.path.exists(BENCHMARKS) else ""
    begin = old.find(f"<!-- {marker}:begin")
    end = old.find(f"<!-- {marker}:end -->")
    if begin >= 0 and end >= 0:
        new = (old[:begin] + text
               + old[end + len(f"<!-- {marker}:end -->\n"):])
    else:
        new = old.rstrip("\n") + "\n\n" + text
    with open(BENCHMARKS, "w") as f:
        f.write(new)


def fuzzed(race, args):
    """The fuzzer columns run on the races with an input (not on the
    scenarios) and not with --strategies-only."""
    return race[2] is not None and not args.strategies_only


def section(args):
    """The markers of BENCHMARKS.md the table goes between."""
    return "strategies" if getattr(args, "strategies_only", False) \
        else "bugs"


def measure_real_threads(all_races, results, args, tmp):
    with concurrent.futures.ThreadPoolExecutor(args.jobs) as pool:
        futures = {
            pool.submit(real_threads, race,
                        min(args.real_seconds,
                            max(10.0, results[race[0]]["seconds"])), tmp):
                race[0] for race in all_races}
        for f in concurrent.futures.as_completed(futures):
            name = futures[f]
            results[name]["real"] = f.result()
            print(f"bench-bugs: real threads, {name}: "
                  f"{results[name]['real']}", flush=True)


def save_results(results, args):
    with open(os.path.join(WORK, "results.json"), "w") as f:
        json.dump({"args": vars(args), "results": results}, f, indent=1)


def main():
    ap = argparse.ArgumentParser(
        description="How fast ftfuzz finds known races, against real "
                    "threads; writes the table into BENCHMARKS.md.")
    ap.add_argument("--seeds", type=int, default=5,
                    help="seed bases per figure (default 5)")
    ap.add_argument("--budget", type=int, default=300,
                    help="schedules per strategy run (default 300)")
    ap.add_argument("--fuzz-budget", type=int, default=1000,
                    help="libFuzzer executions per run (default 1000)")
    ap.add_argument("--real-seconds", type=int, default=120,
                    help="most seconds of real threads per race "
                         "(default 120)")
    ap.add_argument("--jobs", type=int, default=os.cpu_count() or 1,
                    help="runs at once (default: the number of cores)")
    ap.add_argument("--interleaving", default="sites",
                    choices=["sites", "preemptions", "chains", "readsfrom",
                             "all"],
                    help="FTFUZZ_INTERLEAVING of the second fuzzer column "
                         "(default sites)")
    ap.add_argument("--races", default="",
                    help="comma-separated race names (default: all)")
    ap.add_argument("--strategies", default="",
                    help="comma-separated strategy columns (default: "
                         + ",".join(STRATEGIES) + ")")
    ap.add_argument("--strategies-only", action="store_true",
                    help="no fuzzer and no real threads; the table goes "
                         "between the strategies markers")
    ap.add_argument("--no-write", action="store_true",
                    help="print the table, leave BENCHMARKS.md alone")
    ap.add_argument("--render", metavar="RESULTS.json",
                    help="measure nothing: write the table of an earlier "
                         "run's results.json (with that run's settings)")
    ap.add_argument("--real-only", metavar="RESULTS.json",
                    help="measure the real threads again and keep the "
                         "ftfuzz figures of an earlier run's results.json")
    args = ap.parse_args()
    saved_from = args.render or args.real_only
    if saved_from:
        try:
            saved = json.load(open(saved_from))
            for k, v in saved["args"].items():
                if k not in ("render", "real_only", "no_write"):
                    setattr(args, k, v)
            results = saved["results"]
        except (OSError, ValueError, KeyError) as e:
            sys.exit(f"bench_bugs: cannot read {saved_from}: {e}")
        if args.strategies:
            STRATEGIES[:] = args.strategies.split(",")
        if args.real_only:
            os.makedirs(WORK, exist_ok=True)
            tmp = tempfile.mkdtemp(prefix="run-", dir=WORK)
            measure_real_threads([r for r in races() if r[0] in results],
                                 results, args, tmp)
            save_results(results, args)
            shutil.rmtree(tmp, ignore_errors=True)
        text = table(results, args)
        print(text)
        if not args.no_write:
            write_section(text, section(args))
            print(f"bench-bugs: written to {BENCHMARKS}")
        return
    if args.seeds < 1 or args.budget < 1 or args.fuzz_budget < 1:
        ap.error("--seeds, --budget and --fuzz-budget must be positive")
    if args.strategies:
        STRATEGIES[:] = args.strategies.split(",")
    for path in [FTFUZZ, os.path.join(FUZZ, "fuzz_spec"), EXAMPLE_SPEC,
                 PLAIN_PYTHON]:
        if not os.path.exists(path):
            sys.exit(f"bench_bugs: {path} is missing: run 'make cpython "
                     f"all' first")
    all_races = races()
    if args.races:
        wanted = set(args.races.split(","))
        unknown = wanted - {r[0] for r in all_races}
        if unknown:
            sys.exit(f"bench_bugs: unknown races: {', '.join(sorted(unknown))}"
                     f" (known: {', '.join(r[0] for r in all_races)})")
        all_races = [r for r in all_races if r[0] in wanted]
    os.makedirs(WORK, exist_ok=True)
    tmp = tempfile.mkdtemp(prefix="run-", dir=WORK)
    bases = [1000 * i for i in range(args.seeds)]
    results = {r[0]: {"explore": {s: [None] * args.seeds
                                  for s in STRATEGIES},
                      "explore_s": {s: [None] * args.seeds
                                    for s in STRATEGIES},
                      "fuzz": {m: [None] * args.seeds
                               for _, m in fuzzers(args)
                               if fuzzed(r, args)},
                      "fuzz_s": {m: [None] * args.seeds
                                 for _, m in fuzzers(args)
                                 if fuzzed(r, args)},
                      "seconds": 0.0, "real": None, "what": r[4]}
               for r in all_races}
    tasks = []
    for race in all_races:
        for s in STRATEGIES:
            for i, b in enumerate(bases):
                tasks.append(("explore", race, s, i, b))
        for _, m in fuzzers(args) if fuzzed(race, args) else []:
            for i in range(args.seeds):
                tasks.append(("fuzz", race, m, i, bases[i]))
    done = 0
    t0 = time.monotonic()
    with concurrent.futures.ThreadPoolExecutor(args.jobs) as pool:
        futures = {}
        for kind, race, what, i, b in tasks:
            if kind == "explore":
                f = pool.submit(explore_run, race, what, b, args.budget, tmp)
            else:
                f = pool.submit(fuzz_run, race, what, b, args.fuzz_budget,
                                tmp)
            futures[f] = (kind, race[0], what, i)
        for f in concurrent.futures.as_completed(futures):
            kind, name, what, i = futures[f]
            n, seconds = f.result()
            results[name][kind][what][i] = n
            results[name][kind + "_s"][what][i] = seconds
            results[name]["seconds"] += seconds
            done += 1
            print(f"bench-bugs: {done}/{len(tasks)} {name} {what} seed "
                  f"{i}: {n if n is not None else 'not found'} "
                  f"({seconds:.1f} s; {time.monotonic() - t0:.0f} s in all)",
                  flush=True)
    if not args.strategies_only:
        measure_real_threads(all_races, results, args, tmp)
    save_results(results, args)
    text = table(results, args)
    print(text)
    if not args.no_write:
        write_section(text, section(args))
        print(f"bench-bugs: written to {BENCHMARKS}")
    shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
