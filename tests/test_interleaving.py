"""Interleaving coverage (#7): the features the CPython fuzz targets give
libFuzzer besides edge coverage, from the scheduler's switches.

One program (two threads on one list) runs under schedules that differ only
in where one preemption falls after the first operation; the same
interleaving must give the same features, a new one must add features, and
libFuzzer must count them.
"""
import os
import re
import signal
import subprocess
import sys

import pytest

from test_program import op, program, schedule, shared_object, thread

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FUZZ_LIST = os.path.join(ROOT, "build", "fuzz", "fuzz_list")

RANDOM = 2
BYTES_AT_MARK = 3
PCT_AT_MARK = 4


def list_program(schedule_bytes=b"", seed=None, strategy=BYTES_AT_MARK,
                 depth=None, k=None, p_ppm=None):
    """Two threads: append/pop/append against len/index/count on list(8)."""
    return program(
        objects=[shared_object(kind=0, size=8)],
        threads=[thread(op(code=0, arg=1), op(code=4), op(code=0, arg=2)),
                 thread(op(code=3), op(code=10), op(code=1))],
        sched=schedule(strategy=strategy, data=schedule_bytes or None,
                       seed=seed, depth=depth, k=k, p_ppm=p_ppm))


def one_preemption(delta):
    """bytes@mark: switch to the other thread `delta` points in."""
    return list_program(bytes([delta, 1]))


def run_target(files, **env):
    if not os.path.exists(FUZZ_LIST):
        pytest.fail(f"{FUZZ_LIST} is missing: run 'make all' first")
    full = dict(os.environ, FTFUZZ_PRINT_HASH="1", FTFUZZ_PRINT_FEATURES="1")
    full.update(env)
    r = subprocess.run([FUZZ_LIST, *map(str, files)], capture_output=True,
                       text=True, env=full, timeout=600)
    assert r.returncode == 0, r.stderr[-3000:]
    hashes = re.findall(r"trace hash (0x[0-9a-f]+)", r.stderr)
    features = [frozenset(m.split())
                for m in re.findall(r"interleaving features:(.*)", r.stderr)]
    assert len(hashes) == len(features) == len(files), r.stderr[-3000:]
    return hashes, features


def write(tmp_path, name, data):
    path = tmp_path / name
    path.write_bytes(data)
    return path


def switches(tmp_path, programs):
    """(trace hash, switches) of each program's execution."""
    files = [write(tmp_path, f"p{i}", data) for i, data in enumerate(programs)]
    r = subprocess.run([FUZZ_LIST, *map(str, files)], capture_output=True,
                       text=True, timeout=600,
                       env=dict(os.environ, FTFUZZ_PRINT_HASH="1"))
    assert r.returncode == 0, r.stderr[-3000:]
    found = re.findall(r"trace hash (0x[0-9a-f]+) steps \d+ switches (\d+)",
                       r.stderr)
    assert len(found) == len(programs), r.stderr[-3000:]
    return [(h, int(n)) for h, n in found]


def test_random_p_field_sets_the_walk_and_absent_keeps_the_old_meaning(
        tmp_path):
    # Schedule.p_ppm (field 6): absent means 2,000 (p = 0.002), the value
    # every random input had before the field, so those replay unchanged
    runs = switches(tmp_path, [
        list_program(strategy=RANDOM, seed=3),
        list_program(strategy=RANDOM, seed=3, p_ppm=2000),
        list_program(strategy=RANDOM, seed=3, p_ppm=50000),
        list_program(strategy=RANDOM, seed=3, p_ppm=50000),
        list_program(strategy=RANDOM, seed=3, p_ppm=10**6),
        list_program(strategy=RANDOM, seed=3, p_ppm=2**32 - 1),
    ])
    assert runs[0] == runs[1]
    # a larger p preempts more often, the same way every time
    assert runs[2] == runs[3] and runs[2][0] != runs[0][0]
    assert runs[2][1] > 3 * runs[0][1], runs
    # p is at most 1: a larger value is clamped to it
    assert runs[4] == runs[5] and runs[4][1] > runs[2][1], runs


def test_the_same_interleaving_gives_the_same_features(tmp_path):
    # the seed field means nothing to bytes@mark: the same execution
    a = write(tmp_path, "a", one_preemption(5))
    a2 = write(tmp_path, "a2", list_program(bytes([5, 1]), seed=99))
    hashes, features = run_target([a, a2, a])
    assert hashes[0] == hashes[1] == hashes[2]
    assert features[0] == features[1] == features[2]
    assert features[0], "an execution with switches has features"


def test_each_new_interleaving_adds_features(tmp_path):
    files = [write(tmp_path, f"d{d}", one_preemption(d))
             for d in range(1, 120, 6)]
    hashes, features = run_target(files)
    seen = set()
    new = 0
    for h, f in zip(hashes, features):
        assert f, "every execution has features"
        new += not f <= seen
        seen |= f
    # every schedule here interleaves differently (distinct hashes), and
    # all but at most a few of them add a feature the earlier ones lacked
    assert len(set(hashes)) == len(files)
    assert new >= len(files) - 3, (new, len(files))


def test_off_gives_no_features_and_chains_give_more(tmp_path):
    a = write(tmp_path, "a", one_preemption(41))
    _, off = run_target([a], FTFUZZ_INTERLEAVING="off")
    _, sites = run_target([a], FTFUZZ_INTERLEAVING="sites")
    _, chains = run_target([a], FTFUZZ_INTERLEAVING="chains")
    assert off[0] == frozenset()
    indices = {f.split(":")[0] for f in sites[0]}
    assert indices <= {f.split(":")[0] for f in chains[0]}
    assert len(chains[0]) > len(sites[0])


def test_preemptions_count_only_the_switches_the_schedule_forced(tmp_path):
    # without a preemption the threads still hand over (one finishes, the
    # next runs): sites sees those switches, preemptions does not
    none = write(tmp_path, "none", list_program())
    one = write(tmp_path, "one", one_preemption(41))
    _, sites = run_target([none, one], FTFUZZ_INTERLEAVING="sites")
    _, pre = run_target([none, one], FTFUZZ_INTERLEAVING="preemptions")
    assert sites[0], "hand-offs at thread exit are switches"
    assert pre[0] == frozenset()
    assert pre[1], "the forced switch is a feature"
    indices = {f.split(":")[0] for f in sites[1]}
    assert {f.split(":")[0] for f in pre[1]} < indices


def test_reads_from_features_follow_the_interleaving(tmp_path):
    """readsfrom: pairs (atomic read, the other thread's write it saw).
    The same input gives the same pairs, the decisions are those of the
    default mode, and a preemption that changes which write a read sees
    changes the pairs.  They are coarser than call-site pairs: a switch
    that changes no read's writer adds nothing."""
    files = [write(tmp_path, f"d{d}", one_preemption(d))
             for d in range(1, 120, 6)]
    hashes, rf = run_target(files + files[:1],
                            FTFUZZ_INTERLEAVING="readsfrom")
    site_hashes, sites = run_target(files, FTFUZZ_INTERLEAVING="sites")
    _, both = run_target(files[:1], FTFUZZ_INTERLEAVING="all")
    assert hashes[:-1] == site_hashes
    assert hashes[0] == hashes[-1]
    assert rf[0] == rf[-1] and rf[0]
    assert 2 <= len(set(rf[:-1])) < len(set(sites)), \
        (len(set(rf[:-1])), len(set(sites)))

    def indices(f):
        return {x.split(":")[0] for x in f}
    assert indices(both[0]) == indices(rf[0]) | indices(sites[0])


def test_a_bad_mode_is_refused(tmp_path):
    a = write(tmp_path, "a", one_preemption(5))
    r = subprocess.run([FUZZ_LIST, str(a)], capture_output=True, text=True,
                       env=dict(os.environ, FTFUZZ_INTERLEAVING="edges"),
                       timeout=600)
    assert r.returncode == 2
    assert "FTFUZZ_INTERLEAVING=edges: expected sites, preemptions, chains, " \
        "readsfrom, all or off" in r.stderr


def libfuzzer_figures(corpus, mode):
    r = subprocess.run([FUZZ_LIST, "-runs=0", str(corpus)],
                       capture_output=True, text=True, timeout=600,
                       env=dict(os.environ, FTFUZZ_INTERLEAVING=mode))
    m = re.search(r"INITED cov: (\d+) ft: (\d+) corp: (\d+)", r.stderr)
    assert m, r.stderr[-3000:]
    return tuple(int(x) for x in m.groups())


def test_libfuzzer_keeps_new_interleavings_of_known_code(tmp_path):
    """libFuzzer counts the interleaving features: twenty schedules of one
    program reach much the same code, and each adds features of its own."""
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    for d in range(1, 120, 6):
        write(corpus, f"d{d:03}", one_preemption(d))
    cov_off, ft_off, _ = libfuzzer_figures(corpus, "off")
    cov_on, ft_on, _ = libfuzzer_figures(corpus, "sites")
    # ft - cov: features beyond one per edge; the interleaving features
    # are at least one per distinct schedule
    assert ft_on - cov_on >= 20 + (ft_off - cov_off), (ft_on, cov_on,
                                                       ft_off, cov_off)


def test_pct_at_mark_preempts_inside_the_operations(tmp_path):
    """pct@mark (program strategy 4) puts its change points within k points
    of the first operation: with depth 2 and k 50 each seed preempts
    somewhere in the operations, so seeds give different interleavings;
    depth 1 has no change point, so the seed only picks priorities."""
    files = [write(tmp_path, f"s{s}", list_program(strategy=PCT_AT_MARK,
                                                   depth=2, k=50, seed=s))
             for s in range(8)]
    hashes, _ = run_target(files)
    assert len(set(hashes)) >= 4, hashes
    again, _ = run_target(files[:2])
    assert again == hashes[:2]


# --- make bench-bugs' script: what does not need a long run ------------------

BENCH_BUGS = os.path.join(ROOT, "scripts", "bench_bugs.py")


def test_bench_bugs_help_and_bad_usage():
    r = subprocess.run([sys.executable, BENCH_BUGS, "--help"],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0 and "usage: bench_bugs.py" in r.stdout
    r = subprocess.run([sys.executable, BENCH_BUGS, "--races", "nope",
                        "--no-write"], capture_output=True, text=True,
                       timeout=60)
    assert r.returncode != 0 and "unknown races: nope" in r.stderr
    r = subprocess.run([sys.executable, BENCH_BUGS, "--seeds", "0"],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 2 and "must be positive" in r.stderr


def test_bench_bugs_strips_only_the_schedule():
    sys.path.insert(0, os.path.dirname(BENCH_BUGS))
    import bench_bugs
    with_schedule = list_program(bytes([5, 1]), seed=3)
    without = program(
        objects=[shared_object(kind=0, size=8)],
        threads=[thread(op(code=0, arg=1), op(code=4), op(code=0, arg=2)),
                 thread(op(code=3), op(code=10), op(code=1))])
    assert with_schedule.startswith(without) and with_schedule != without
    assert bench_bugs.without_schedule(with_schedule) == without
    assert bench_bugs.without_schedule(without) == without
    # its own encoder writes what the program format reads
    assert bench_bugs.program([(0, 8)], [[(0, 0, 1)], [(3, 0, 0)]]) == \
        program(objects=[shared_object(kind=0, size=8)],
                threads=[thread(op(code=0, target=0, arg=1)),
                         thread(op(code=3, target=0, arg=0))])


def test_bench_bugs_measures_one_race(tmp_path):
    """The explore mode it drives finds a regression race and says after
    how many schedules; the same seed gives the same count."""
    race = os.path.join(ROOT, "corpus", "regressions", "list_sort_len")
    counts = []
    for _ in range(2):
        out = tmp_path / f"found{len(counts)}"
        r = subprocess.run(
            [FUZZ_LIST], capture_output=True, text=True, timeout=600,
            env=dict(os.environ, FTFUZZ_EXPLORE=str(out),
                     FTFUZZ_EXPLORE_INPUT=race,
                     FTFUZZ_EXPLORE_STRATEGY="pct:3",
                     FTFUZZ_EXPLORE_ITERATIONS="300",
                     FTFUZZ_EXPLORE_QUIET="1"))
        m = re.search(r"FAILING schedule after (\d+) of 300 iterations: "
                      r"linearizability", r.stdout)
        assert r.returncode == 1 and m, r.stdout + r.stderr[-2000:]
        assert out.exists()
        counts.append(m.group(1))
    assert counts[0] == counts[1]


FAKE_DRIVER = r"""
import os, sys
fd = os.open(sys.argv[1], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
for runs in range(1, 4):
    os.pwrite(fd, b"%-20d" % runs, 0)
os.abort()   # the fourth run crashes
"""


def test_bench_bugs_counts_real_thread_runs_per_crash(tmp_path):
    """Real threads are measured as a rate: the program runs again after
    each crash, and every crash and completed run is counted."""
    sys.path.insert(0, os.path.dirname(BENCH_BUGS))
    import bench_bugs
    driver = tmp_path / "driver.py"
    driver.write_text(FAKE_DRIVER)
    count = str(tmp_path / "count")
    rt = bench_bugs.run_repeatedly([sys.executable, str(driver), count],
                                   count, 3.0)
    assert rt["crashes"] >= 2, rt
    # the last start may be cut by the deadline after up to 3 runs
    assert 0 <= rt["runs"] - 4 * rt["crashes"] <= 3, rt
    assert rt["first_crash"] == 4
    assert rt["statuses"] == {str(-signal.SIGABRT): rt["crashes"]}
    assert bench_bugs.runs_per_crash(rt) == rt["runs"] / rt["crashes"]
    # results.json of older runs: the runs to the first crash
    assert bench_bugs.runs_per_crash({"crashed": True, "runs": 93}) == 93
    assert bench_bugs.runs_per_crash({"crashed": False, "runs": 9}) is None


def test_bench_bugs_renders_results_of_an_earlier_version(tmp_path):
    """--render of a results.json without a newer strategy column leaves
    that column out instead of failing; the ratio uses the best median."""
    sys.path.insert(0, os.path.dirname(BENCH_BUGS))
    import bench_bugs
    args = type("Args", (), dict(seeds=3, budget=300, fuzz_budget=1000,
                                 real_seconds=120, interleaving="sites"))()

    def race(strategies):
        return {"explore": {s: [10, 20, None] for s in strategies},
                "explore_s": {s: [1.0, 2.0, None] for s in strategies},
                "fuzz": {"off": [100, 200, 300], "sites": [50, None, None]},
                "fuzz_s": {"off": [1.0, 1.0, 1.0], "sites": [1.0, 0, 0]},
                "seconds": 10.0, "what": "crash",
                "real": {"crashed": True, "crashes": 2, "runs": 4000}}
    old = [s for s in bench_bugs.STRATEGIES if s != "random:0.01"]
    text = bench_bugs.table({"a": race(old)}, args)
    header = next(l for l in text.splitlines() if l.startswith("| race"))
    assert "random:0.01" not in header and "| random |" in header
    row = next(l for l in text.splitlines() if l.startswith("| a |"))
    # best median 20 (strategies), 2,000 runs per crash: 100x
    assert row.endswith("| 2 crashes in 4,000 runs: 2,000 per crash | 100x |")
    assert "| > 1000 (1/3) |" in row   # sites missed on 2 of 3 seeds
    text = bench_bugs.table({"a": race(bench_bugs.STRATEGIES)}, args)
    assert "| random:0.01 |" in text


def test_bench_bugs_compares_the_portfolio_with_each_strategy():
    """The lines under the strategies table: the portfolio against each
    single strategy, and against the best one of each race."""
    sys.path.insert(0, os.path.dirname(BENCH_BUGS))
    import bench_bugs
    args = type("Args", (), dict(seeds=3, budget=300, strategies_only=True,
                                 fuzz_budget=1000, real_seconds=120,
                                 interleaving="sites"))()

    def race(figures):
        return {"explore": figures,
                "explore_s": {s: [1.0] * 3 for s in figures},
                "fuzz": {}, "fuzz_s": {}, "seconds": 1.0, "what": "crash",
                "real": None}
    strategies = [s for s in bench_bugs.STRATEGIES if s != "pct:1"]
    late = {s: [None] * 3 for s in strategies}
    late.update({"random:0.01": [200, 210, 220],
                 "portfolio": [None, 800, None]})
    early = {s: [50, 60, 70] for s in strategies}
    early["portfolio"] = [5, 6, 7]
    text = bench_bugs.table({"late": race(late), "early": race(early)},
                            args)
    assert text.startswith("<!-- strategies:begin")
    assert text.rstrip().endswith("<!-- strategies:end -->")
    assert "| early | " in text and "fuzzer" not in text
    assert "- against random:0.01: fewer executions on 1 races, more on 1" \
        in text
    assert "- against pct:3: fewer executions on 1 races, more on 0, the " \
        "same on 1" in text
    assert "as fast and as often on 1 of 2 races; behind on 1: late " \
        "(> budget, 1 found, against random:0.01 210, 3 found)" in text
