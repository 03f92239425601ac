"""The scheduler's reach on pthread C programs (tests/sched/*.c): reader-
writer locks, barriers, pthread_once and the __sync builtins are modelled;
200 threads run; thread-specific data destructors run under the scheduler;
the runtime keeps off the program's heap; and explore's --expect-exit,
calibration, crash stacks and --out.  Budgets count schedules, never time.
"""
import re

import pytest

from test_scheduler import FTFUZZ, explore, prog, run

# Each bug of a newly modelled primitive, and what it looks like when found.
# Budgets as for the classic bugs (test_scheduler.py); first detections
# measured over seed bases 0, 1000, 2000, 3000 were at most 62 schedules
# for pct:3 and 44 for random:0.1.
PRIMITIVE_BUGS = ["barrier", "rwlock", "once", "sync_counter"]
BUDGET = {"pct:3": 200, "random:0.1": 500}


@pytest.mark.parametrize("strategy", sorted(BUDGET))
@pytest.mark.parametrize("name", PRIMITIVE_BUGS)
def test_primitive_bug_found_and_replays(name, strategy, tmp_path):
    r = explore(name, strategy, BUDGET[strategy], tmp_path)
    assert r.returncode == 1, r.stdout + r.stderr
    assert "FAILING schedule" in r.stdout
    assert "crash (signal 6" in r.stdout.splitlines()[0], r.stdout
    found = re.search(r"trace hash (0x[0-9a-f]{16})", r.stdout).group(1)
    rep = run([FTFUZZ, "replay", "--quiet", "--times", "5", "--trace",
               str(tmp_path / "failing.trace"), "--", prog(name)])
    assert rep.returncode == 0, rep.stdout + rep.stderr
    assert f"trace hash {found} in 5 of 5 runs" in rep.stdout


@pytest.mark.parametrize("name", PRIMITIVE_BUGS)
def test_primitive_correct_twin_never_fails_or_hangs(name, tmp_path):
    """1,000 schedules each of pct:3 and random:0.1.  A primitive left to
    the real libc would block in the kernel while holding the turn, which
    the one-second watchdog reports as a hang."""
    for strategy in ("pct:3", "random:0.1"):
        r = run([FTFUZZ, "explore", "--quiet", "--watchdog", "1",
                 "--strategy", strategy, "--iterations", "1000", "--out",
                 str(tmp_path / strategy.replace(":", "_")), "--",
                 prog(name + "_correct")])
        assert r.returncode == 0, r.stdout + r.stderr
        assert "no failing schedule in 1000 iterations" in r.stdout


def test_two_hundred_threads(tmp_path):
    r = run([prog("many_threads")])
    assert r.returncode == 0, r.stdout + r.stderr
    assert "threads 200 counter 200" in r.stdout
    for strategy in ("pct:3", "random:0.05"):
        r = explore("many_threads", strategy, 20,
                    tmp_path / strategy.replace(":", "_"))
        assert r.returncode == 0, r.stdout + r.stderr
        assert "no failing schedule in 20 iterations" in r.stdout


def test_the_thread_cap_is_1024():
    """Thread 0 and 1,023 workers are managed; the next create fails."""
    r = run([prog("many_threads"), "1100"])
    assert r.returncode == 3, r.stdout + r.stderr
    assert "pthread_create 1023 failed: EAGAIN" in r.stdout
    assert "more than 1024 threads in one session" in r.stderr


def test_tls_destructor_that_takes_a_lock_runs_under_the_scheduler(tmp_path):
    """Before, a destructor ran unmanaged after the thread's last point and
    blocked for real on the mutex of a parked worker while the main thread
    held the turn in pthread_join: random:0.2 found that false hang within
    13 schedules.  Now none in 300, and every destructor runs once."""
    r = run([prog("tls_destructor")])
    assert r.returncode == 0, r.stdout + r.stderr
    assert "destroyed 3 work 15" in r.stdout
    r = run([FTFUZZ, "explore", "--quiet", "--watchdog", "1", "--strategy",
             "random:0.2", "--iterations", "300", "--out", str(tmp_path),
             "--", prog("tls_destructor")])
    assert r.returncode == 0, r.stdout + r.stderr
    assert "no failing schedule in 300 iterations" in r.stdout


def heap_line(env):
    r = run([prog("heap_addresses")], env=dict(env, FTFUZZ_QUIET="1"))
    assert r.returncode == 0, r.stdout + r.stderr
    line = re.search(r"^heap( 0x[0-9a-f]+){12}$", r.stdout, re.M)
    assert line, r.stdout
    return line.group(0)


def test_heap_addresses_are_the_same_under_every_strategy(tmp_path):
    """The scheduler's strategies, trace and replayed trace live in its own
    mapping: the program's malloc results do not depend on them."""
    trace = tmp_path / "pct.trace"
    lines = {
        "pct": heap_line({"FTFUZZ_STRATEGY": "pct:3", "FTFUZZ_SEED": "4",
                          "FTFUZZ_TRACE_OUT": str(trace)}),
        "pct-k": heap_line({"FTFUZZ_STRATEGY": "pct:3:k=40",
                            "FTFUZZ_SEED": "9"}),
        "random": heap_line({"FTFUZZ_STRATEGY": "random:0.2",
                             "FTFUZZ_SEED": "4"}),
        "bytes": heap_line({"FTFUZZ_STRATEGY": "bytes:" + "0301" * 40}),
        "replay": heap_line({"FTFUZZ_STRATEGY": f"replay:{trace}"}),
    }
    assert len(set(lines.values())) == 1, lines


def test_explore_expect_exit(tmp_path):
    r = explore("exit_status", "pct:3", 20, tmp_path / "plain")
    assert r.returncode == 1, r.stdout + r.stderr
    assert "exit status 3" in r.stdout
    r = run([FTFUZZ, "explore", "--quiet", "--expect-exit", "3",
             "--iterations", "20", "--out", str(tmp_path / "three"), "--",
             prog("exit_status")])
    assert r.returncode == 0, r.stdout + r.stderr
    assert "no failing schedule in 20 iterations" in r.stdout
    # a passing status elsewhere is a failure: lost_update_correct exits 0
    r = run([FTFUZZ, "explore", "--quiet", "--expect-exit", "3",
             "--iterations", "20", "--out", str(tmp_path / "zero"), "--",
             prog("lost_update_correct")])
    assert r.returncode == 1, r.stdout + r.stderr
    assert "exit status 0 (expected 3)" in r.stdout
    r = run([FTFUZZ, "explore", "--expect-exit", "300", "--",
             prog("exit_status")])
    assert r.returncode == 2
    assert "--expect-exit takes an exit status (0 to 255)" in r.stderr


def test_a_crash_shows_the_failing_threads_symbolized_stack(tmp_path):
    r = run([FTFUZZ, "explore", "--iterations", "200", "--out",
             str(tmp_path), "--", prog("segv")])
    assert r.returncode == 1, r.stdout + r.stderr
    assert "crash (signal 11" in r.stdout
    log = (tmp_path / "failing.log").read_text()
    assert re.search(r"crash: T1 received signal 11 \(Segmentation fault\) "
                     r"at step \d+", log), log
    stack = log.split("T1's stack:")[1]
    # the faulting line first: no handler or trampoline frames above it
    assert re.match(r"\n    #0 use_pointer tests/sched/segv.c:25:", stack), log
    assert "auto_crash" not in log and "??" not in log
    # explore prints the program's output, the stack with it
    assert "#0 use_pointer tests/sched/segv.c:25" in r.stdout


def test_a_crash_without_a_symbolizer_shows_the_stack_unsymbolized():
    # a symbolizer that cannot run gives module+offset frames, and the
    # crash stays the finding (writing the query to it must not raise
    # SIGPIPE, which killed the program with no report)
    r = run([prog("segv")], env={"FTFUZZ_SYMBOLIZER": "/nonexistent",
                                 "FTFUZZ_STRATEGY": "pct:3",
                                 "FTFUZZ_SEED": "1"})
    assert r.returncode == -11, r.stderr
    stack = r.stderr.split("T1's stack:")[1]
    assert re.match(r"\n    #0 \S*/segv\+0x[0-9a-f]+\n    #1 ", stack), r.stderr


def test_a_hang_in_a_calibration_run_is_reported(tmp_path):
    """hang_pipe blocks in read(): the first run, which measures PCT's k,
    is a failing schedule like any other and says so."""
    r = run([FTFUZZ, "explore", "--quiet", "--watchdog", "1", "--out",
             str(tmp_path), "--", prog("hang_pipe")], timeout=120)
    assert r.returncode == 1, r.stdout + r.stderr
    assert ("FAILING schedule in calibration run 1 of 5 (pct:1, measuring "
            "k): hang") in r.stdout
    assert "FTFUZZ_STRATEGY='pct:1' FTFUZZ_SEED=0" in r.stdout
    assert "FINDING: hang" in (tmp_path / "failing.log").read_text()


def test_pct_k_is_the_longest_of_several_runs(tmp_path):
    """uneven_length runs 9 points under pct:1 seed 0 but 2,009 under
    seed 1: k must come from the long runs, not from the first."""
    first = run([prog("uneven_length")],
                env={"FTFUZZ_STRATEGY": "pct:1", "FTFUZZ_SEED": "0"})
    assert re.search(r"steps \d\b", first.stderr), first.stderr
    r = run([FTFUZZ, "explore", "--iterations", "5", "--out", str(tmp_path),
             "--", prog("uneven_length")])
    assert r.returncode == 0, r.stdout + r.stderr
    assert ("the longest of 5 runs takes 2009 scheduling points; strategy "
            "pct:3:k=2009") in r.stdout


def test_explore_out_creates_parent_directories(tmp_path):
    out = tmp_path / "a" / "b" / "c"
    r = explore("lost_update", "pct:3", 200, out)
    assert r.returncode == 1, r.stdout + r.stderr
    assert (out / "failing.trace").exists()
    blocker = tmp_path / "file"
    blocker.write_text("")
    r = explore("lost_update", "pct:3", 1, blocker / "sub")
    assert r.returncode == 2
    assert "cannot create" in r.stderr
