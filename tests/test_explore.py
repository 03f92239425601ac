"""Scenario mode (#7): `ftfuzz explore test.py` on Python scenarios
(docs/explore.md).  Budgets count schedules, never time."""
import os
import re
import subprocess

import pytest

from helpers import limits

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FTFUZZ = os.path.join(ROOT, "build", "bin", "ftfuzz")
SCENARIOS = os.path.join(ROOT, "harnesses", "examples", "scenarios")


def scenario(name):
    return os.path.join(SCENARIOS, name + ".py")


def explore(path, out, *flags, timeout=900):
    if not os.path.exists(FTFUZZ):
        pytest.fail(f"{FTFUZZ} is missing: run 'make all' first")
    return subprocess.run([FTFUZZ, "explore", str(path), "--out", str(out),
                           *flags], capture_output=True, text=True,
                          timeout=timeout)


def failing(r):
    m = re.search(r"explore: FAILING schedule after (\d+) of \d+ "
                  r"iterations: (\S+) \(strategy (\S+), seed (\d+)\)",
                  r.stdout)
    assert r.returncode == 1 and m, r.stdout[-3000:] + r.stderr[-3000:]
    return m.groups()


def replay_brief(path, times):
    r = subprocess.run([FTFUZZ, "replay", "--brief", "--times", str(times),
                        str(path)], capture_output=True, text=True,
                       timeout=900)
    lines = [l for l in r.stdout.splitlines() if l.startswith("verdict=")]
    assert len(lines) == times, r.stdout + r.stderr
    return lines


def test_real_race_is_found_reported_and_replays_20_of_20(tmp_path):
    """OrderedDict.copy against clear (gh-125996) on CPython 3.13.5."""
    r = explore(scenario("odict_copy_clear"), tmp_path, "--strategy",
                "pct:3", "--iterations", "300")
    n, verdict, strategy, seed = failing(r)
    assert verdict in ("SIGSEGV", "SIGABRT", "exception"), r.stdout
    assert strategy.startswith("pct:3:k=")
    saved = tmp_path / "explore-odict_copy_clear"
    assert saved.exists() and (tmp_path / "explore-odict_copy_clear.meta") \
        .read_text().startswith("target: fuzz_spec\nspec: ")
    # the report of ftfuzz replay follows
    assert "== program" in r.stdout and "== interleaving" in r.stdout
    assert "thread_copy(o0)" in r.stdout and "thread_clear(o0)" in r.stdout
    lines = replay_brief(saved, 20)
    assert len(set(lines)) == 1, lines
    assert not lines[0].startswith("verdict=passed"), lines[0]


PORTFOLIO = ("pctlog:3:k=", "random:0.01", "pct:3:k=", "random:0.002")


def test_same_flags_give_the_same_failing_schedule(tmp_path):
    a = explore(scenario("odict_copy_clear"), tmp_path / "a", "--quiet",
                "--iterations", "300", "--seed", "100")
    b = explore(scenario("odict_copy_clear"), tmp_path / "b", "--quiet",
                "--iterations", "300", "--seed", "100")
    assert failing(a) == failing(b)
    n, _, strategy, _ = failing(a)
    # the default portfolio: iteration i runs its member i mod 4
    assert strategy.startswith(PORTFOLIO[(int(n) - 1) % 4]), (n, strategy)
    assert (tmp_path / "a" / "explore-odict_copy_clear").read_bytes() == \
        (tmp_path / "b" / "explore-odict_copy_clear").read_bytes()


def test_check_finds_a_lost_update(tmp_path):
    r = explore(scenario("counter_check"), tmp_path, "--iterations", "300")
    _, verdict, _, _ = failing(r)
    assert verdict == "check"
    assert "AssertionError: lost update: value 1, expected 2" in r.stdout
    lines = replay_brief(tmp_path / "explore-counter_check", 3)
    assert len(set(lines)) == 1 and lines[0].startswith("verdict=check")


def test_correct_scenario_passes_every_schedule(tmp_path):
    r = explore(scenario("dict_ok"), tmp_path, "--iterations", "200")
    assert r.returncode == 0, r.stdout + r.stderr
    assert "explore: no failing schedule in 200 iterations" in r.stdout
    assert not (tmp_path / "explore-dict_ok").exists()


def test_random_strategy_explores_a_scenario(tmp_path):
    r = explore(scenario("dict_ok"), tmp_path, "--strategy", "random",
                "--iterations", "20")
    assert r.returncode == 0, r.stdout + r.stderr
    assert "strategy random, seeds 0..19" in r.stdout


def test_random_with_p_finds_the_race_and_the_file_keeps_p(tmp_path):
    r = explore(scenario("odict_copy_clear"), tmp_path, "--strategy",
                "random:0.01", "--iterations", "300")
    _, verdict, strategy, seed = failing(r)
    assert strategy == "random:0.01"
    saved = tmp_path / "explore-odict_copy_clear"
    # the saved input is the failing walk's preemptions, anchored to the
    # program (#17), so it replays without the seed's draws
    report = subprocess.run([FTFUZZ, "replay", str(saved)],
                            capture_output=True, text=True, timeout=900)
    assert "; strategy anchors:" in report.stdout, report.stdout[-3000:]
    lines = replay_brief(saved, 5)
    assert len(set(lines)) == 1 and not lines[0].startswith("verdict=passed")


def test_pctlog_finds_the_race_and_the_file_replays_it(tmp_path):
    """pctlog:D: pct@mark with its change points log-uniform over 1..k."""
    r = explore(scenario("odict_copy_clear"), tmp_path, "--strategy",
                "pctlog:3", "--iterations", "300")
    _, _, strategy, seed = failing(r)
    assert strategy.startswith("pctlog:3:k=")
    saved = tmp_path / "explore-odict_copy_clear"
    report = subprocess.run([FTFUZZ, "replay", str(saved)],
                            capture_output=True, text=True, timeout=900)
    assert "; strategy anchors:" in report.stdout, report.stdout[-3000:]
    lines = replay_brief(saved, 5)
    assert len(set(lines)) == 1 and not lines[0].startswith("verdict=passed")
    bad = explore(scenario("dict_ok"), tmp_path / "bad", "--strategy",
                  "pctlog:0", "--iterations", "5")
    assert bad.returncode == 2 \
        and "bad strategy 'pctlog:0': D must be a number" in bad.stderr
    bad = explore(scenario("dict_ok"), tmp_path / "bad", "--strategy",
                  "pctlog:9", "--iterations", "5")
    assert bad.returncode == 2 and "depth must be 1..8" in bad.stderr


@pytest.mark.parametrize("strategy", ["random:0", "random:1.5", "random:x",
                                      "random:0.01x", "random:"])
def test_random_with_a_bad_p_is_refused(tmp_path, strategy):
    r = explore(scenario("dict_ok"), tmp_path, "--strategy", strategy,
                "--iterations", "5")
    assert r.returncode == 2, r.stdout + r.stderr
    assert f"bad strategy '{strategy}': P must be a number in 0..1, " \
        "above 0" in r.stderr + r.stdout


PARENT_STATE = '''
import gc
import sys


def marker():
    pass


def setup():
    # runs in the forked child before any of the program's threads start
    return {"frozen": gc.get_freeze_count(),
            "immortal": sys.getrefcount(marker) > 2**30}


def thread_a(state):
    pass


def thread_b(state):
    pass


def check(state):
    assert state["frozen"] > 1000, state
    assert state["immortal"], state
'''


def test_executions_start_from_a_frozen_parent_that_had_a_thread(tmp_path):
    """docs/harness.md "Costs": the parent starts one thread (which
    immortalizes deferred-refcount objects, such as this module-level
    function) and freezes its heap before forking, so neither is redone,
    nor walked by the collector, in each execution."""
    path = tmp_path / "parent_state.py"
    path.write_text(PARENT_STATE)
    r = explore(path, tmp_path / "out", "--iterations", "3")
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    assert "no failing schedule in 3 iterations" in r.stdout


def test_an_exception_escaping_a_thread_is_a_failure(tmp_path):
    path = tmp_path / "raises.py"
    path.write_text("def thread_a():\n    pass\n\n"
                    "def thread_b():\n    raise ValueError('boom')\n")
    r = explore(path, tmp_path / "out", "--iterations", "5")
    assert r.returncode == 1
    assert "explore: FAILING without any preemption (the first run, which " \
        "measures k): exception" in r.stdout
    assert "ValueError: boom" in r.stdout
    # with k given there is no first run: the first schedule fails
    r = explore(path, tmp_path / "out2", "--iterations", "5", "--strategy",
                "pct:2:k=100")
    n, verdict, _, _ = failing(r)
    assert verdict == "exception" and n == "1", r.stdout


@pytest.mark.parametrize("text,message", [
    ("def thread_a(s):\n    pass\n", "1 thread function: define 2 to 8"),
    ("def thread_a(:\n", "not valid Python"),
    ("import no_such_module_here\n", "ModuleNotFoundError"),
    ("def setup():\n    return 1 / 0\n"
     "def thread_a(s): pass\ndef thread_b(s): pass\n",
     "setup() fails: ZeroDivisionError"),
    ("def thread_a(s, t): pass\ndef thread_b(s): pass\n",
     "thread_a takes 2 arguments"),
])
def test_bad_scenarios_are_refused_with_the_reason(tmp_path, text, message):
    path = tmp_path / "bad.py"
    path.write_text(text)
    r = explore(path, tmp_path / "out", "--iterations", "5")
    assert r.returncode == 2, r.stdout + r.stderr
    assert "ftfuzz explore: bad scenario: " in r.stderr, r.stderr
    assert message in r.stderr, r.stderr


def test_bad_flags_and_missing_files(tmp_path):
    r = explore(tmp_path / "missing.py", tmp_path / "out")
    assert r.returncode == 2 and "missing.py: No such file" in r.stderr
    r = explore(scenario("dict_ok"), tmp_path / "out", "--strategy",
                "bytes:0102")
    assert r.returncode == 2
    assert "strategy bytes:0102 cannot explore a scenario" in r.stderr
    r = explore(scenario("dict_ok"), tmp_path / "out", "--strategy",
                "pct:0")
    assert r.returncode == 2 \
        and "bad strategy 'pct:0': D must be a number" in r.stderr
    r = explore(scenario("dict_ok"), tmp_path / "out", "--strategy",
                "pctlog:3,nonsense")
    assert r.returncode == 2 and "bad strategy 'nonsense'" in r.stderr
    r = explore(scenario("dict_ok"), tmp_path / "out", "--iterations", "x")
    assert r.returncode == 2
    r = explore(scenario("dict_ok"), tmp_path / "out", "extra")
    assert r.returncode == 2 and "unexpected argument extra" in r.stderr


def test_a_list_of_strategies_takes_turns_and_saves_the_failing_one(tmp_path):
    """pct:1 (no change point) never fails odict_copy_clear; random:0.01
    does: with the two in turn, the failure comes from an odd iteration,
    and the saved input is that iteration's strategy and seed."""
    r = explore(scenario("odict_copy_clear"), tmp_path, "--strategy",
                "pct:1,random:0.01", "--iterations", "300")
    n, _, strategy, seed = failing(r)
    assert strategy == "random:0.01" and int(n) % 2 == 0, (n, strategy)
    assert int(seed) == int(n) - 1
    assert re.search(r"strategy pct:1:k=\d+ and random:0.01 in turn",
                     r.stdout), r.stdout[:2000]
    saved = tmp_path / "explore-odict_copy_clear"
    report = subprocess.run([FTFUZZ, "replay", str(saved)],
                            capture_output=True, text=True, timeout=900)
    assert f"strategy random:0.01 seed={seed}" in report.stdout, \
        report.stdout[-3000:]
    lines = replay_brief(saved, 3)
    assert len(set(lines)) == 1 and not lines[0].startswith("verdict=passed")


def tried(r):
    m = re.search(r"explore: tried (\d+) distinct interleavings in (\d+) "
                  r"schedules \(distinct trace hashes\); (\d+) distinct "
                  r"preemptions", r.stdout)
    assert r.returncode == 0 and m, r.stdout[-3000:] + r.stderr[-3000:]
    return tuple(int(x) for x in m.groups())


def test_no_failure_says_what_was_tried(tmp_path):
    """0 failures in N means something: how many distinct interleavings
    (trace hashes) and preemptions (pairs of sites) the N covered."""
    distinct, n, preemptions = tried(explore(scenario("dict_ok"),
                                             tmp_path / "a",
                                             "--iterations", "1"))
    assert (distinct, n) == (1, 1)
    a = tried(explore(scenario("dict_ok"), tmp_path / "b",
                      "--iterations", "40"))
    assert a[1] == 40 and 1 < a[0] <= 40 and a[2] > preemptions, a
    # the same flags cover the same interleavings
    assert tried(explore(scenario("dict_ok"), tmp_path / "c",
                         "--iterations", "40")) == a


PROFILE_ALL = '''
import threading


def setup():
    return {"seen": [], "on": True, "finished": 0, "x": 0,
            "lock": threading.Lock(), "installed": threading.Event()}


def finish(s):
    with s["lock"]:
        s["finished"] += 1
        if s["finished"] == 2:
            s["on"] = False


def thread_profile(s):
    seen = s["seen"]

    def profile(frame, event, arg):
        if s["on"]:
            seen.append(threading.get_ident())

    threading.setprofile_all_threads(profile)
    s["installed"].set()
    finish(s)


def thread_work(s):
    # no thread may exit while a profiler is being installed on all of
    # them: that is a race of its own in CPython 3.13.5
    s["installed"].wait()
    for i in range(20):
        s["x"] += i
    finish(s)


def check(s):
    # runs in the harness's thread, after both threads finished
    assert threading.get_ident() not in s["seen"], "profiled the harness"
'''


def test_the_harness_thread_runs_no_python_in_the_scenario(tmp_path):
    """A profiler installed on every thread sees only the scenario's
    threads: the harness starts and joins them from C.  (With the join in
    Python it profiled the harness's thread, and check failed at once.)"""
    path = tmp_path / "profile_all.py"
    path.write_text(PROFILE_ALL)
    r = explore(path, tmp_path / "out", "--iterations", "40")
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    assert "no failing schedule in 40 iterations" in r.stdout


def many_threads(n, raising=None):
    """A scenario of n threads that each append their number once to a
    shared list; check() sees every number, so a thread that never ran is a
    failure.  Thread `raising` raises after its append."""
    text = "def setup():\n    return []\n\n"
    for i in range(n):
        text += f"def thread_{i}(s):\n    s.append({i})\n"
        if i == raising:
            text += f"    raise ValueError('thread {i} raises')\n"
        text += "\n"
    return text + (f"def check(s):\n"
                   f"    assert sorted(s) == list(range({n})), s\n")


@pytest.mark.parametrize("n", [6, limits()["PROG_MAX_THREADS"]])
def test_scenarios_up_to_the_thread_limit_run_every_thread(tmp_path, n):
    """No false alarm past 4 threads (the program format once held 4)."""
    path = tmp_path / f"threads{n}.py"
    path.write_text(many_threads(n))
    r = explore(path, tmp_path / "out", "--iterations", "40", "--seed", "1")
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    assert f"explore: {n} threads;" in r.stdout, r.stdout
    assert "no failure" in r.stdout, r.stdout


def test_a_failure_in_the_last_of_many_threads_is_reported_and_replays(
        tmp_path):
    n = limits()["PROG_MAX_THREADS"]
    path = tmp_path / "last_raises.py"
    path.write_text(many_threads(n, raising=n - 1))
    r = explore(path, tmp_path / "out", "--iterations", "5", "--strategy",
                "pct:2:k=100")
    _, verdict, _, _ = failing(r)
    assert verdict == "exception", r.stdout
    assert f"thread {n - 1} raises" in r.stdout
    assert f"thread_{n - 1}(o0)" in r.stdout and "thread_0(o0)" in r.stdout
    lines = replay_brief(tmp_path / "out" / "explore-last_raises", 2)
    assert len(set(lines)) == 1 and lines[0].startswith("verdict=exception")


def test_a_scenario_over_the_thread_limit_is_refused(tmp_path):
    n = limits()["PROG_MAX_THREADS"]
    path = tmp_path / "too_many.py"
    path.write_text(many_threads(n + 1))
    r = explore(path, tmp_path / "out", "--iterations", "5")
    assert r.returncode == 2, r.stdout + r.stderr
    assert "ftfuzz explore: bad scenario: " in r.stderr, r.stderr
    assert f"{n + 1} thread functions: define 2 to {n}" in r.stderr
