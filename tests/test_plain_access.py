"""Plain-access points: `ftfuzz-cc --plain-accesses` (tests/sched/plain_*.c).

Each classic plain-access bug must be found by `ftfuzz explore` (pct:3,
its default) within 1,000 schedules when built with --plain-accesses, and
not in 1,000 without it (no atomic or lock point lies in its window); each
correct twin, built with --plain-accesses, must survive 5,000.  A found
schedule must replay exactly in fresh processes, each of which learns the
shared memory anew.  Budgets count schedules, never time.
"""
import os
import re
import subprocess

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BUILD = os.path.join(ROOT, "build")
FTFUZZ = os.path.join(BUILD, "bin", "ftfuzz")
PROGS = os.path.join(BUILD, "tests", "sched")

BUGS = ["plain_check_act", "plain_wrong_lock", "plain_reorder"]


def prog(name):
    path = os.path.join(PROGS, name)
    if not os.path.exists(path):
        pytest.fail(f"{path} is missing: run 'make all' first")
    return path


def run(args, env=None, timeout=600):
    full_env = dict(os.environ)
    full_env.update(env or {})
    return subprocess.run(args, capture_output=True, text=True,
                          env=full_env, timeout=timeout)


def explore(name, iterations, out, env=None):
    return run([FTFUZZ, "explore", "--quiet", "--iterations", str(iterations),
                "--out", str(out), "--", prog(name)], env=env)


@pytest.mark.parametrize("name", BUGS)
def test_bug_found_with_plain_accesses_and_replays(name, tmp_path):
    r = explore(name, 1000, tmp_path)
    assert r.returncode == 1, r.stdout + r.stderr
    assert re.search(r"FAILING schedule after \d+ of 1000", r.stdout)
    assert "crash (signal 6" in r.stdout
    found = re.search(r"trace hash (0x[0-9a-f]{16})", r.stdout).group(1)
    trace = tmp_path / "failing.trace"
    # the window is between plain accesses: a plain point switched there
    assert re.search(r"^switch \d+ \d+ \d+ plain_(load|store) ",
                     trace.read_text(), re.M), trace.read_text()
    # explore kept the learned set; a replay learns it again by itself
    assert (tmp_path / "last.plain").read_text().startswith(
        "ftfuzz-plain-shared 1\n")
    rep = run([FTFUZZ, "replay", "--quiet", "--times", "20", "--trace",
               str(trace), "--", prog(name)])
    assert rep.returncode == 0, rep.stdout + rep.stderr
    assert f"trace hash {found} in 20 of 20 runs" in rep.stdout


@pytest.mark.parametrize("name", BUGS)
def test_bug_not_found_without_plain_accesses(name, tmp_path):
    r = explore(name + "_noplain", 1000, tmp_path)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "no failing schedule in 1000 iterations" in r.stdout


@pytest.mark.parametrize("name", BUGS)
def test_correct_twin_survives_5000_schedules(name, tmp_path):
    r = explore(name + "_correct", 5000, tmp_path)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "no failing schedule in 5000 iterations" in r.stdout


def test_the_first_race_needs_the_learned_set(tmp_path):
    """Without learning, a granule is shared only once a second thread
    touched it, after the first thread's read and write: check-then-act's
    window never holds a point."""
    r = explore("plain_check_act", 1000, tmp_path,
                env={"FTFUZZ_PLAIN_LEARN": "0"})
    assert r.returncode == 0, r.stdout + r.stderr
    assert "no failing schedule in 1000 iterations" in r.stdout


def test_private_memory_adds_no_point():
    """Stack arrays and a thread's own heap buffer, two rounds of threads
    (the second on the first round's stacks): the same steps and trace hash
    as the program built without --plain-accesses."""
    for seed in ("1", "2", "3"):
        got = []
        for name in ("plain_private", "plain_private_noplain"):
            r = run([prog(name)], env={"FTFUZZ_SEED": seed})
            assert r.returncode == 0, r.stderr
            got.append(re.search(r"trace hash (0x[0-9a-f]+), steps (\d+)",
                                 r.stderr).groups())
        assert got[0] == got[1], got


def test_learned_set_is_reused_and_checked(tmp_path):
    shared = tmp_path / "shared"
    env = {"FTFUZZ_PLAIN_SHARED": str(shared), "FTFUZZ_SEED": "3"}
    first = run([prog("plain_reorder_correct")], env=env)
    assert first.returncode == 0, first.stderr
    lines = shared.read_text().splitlines()
    assert lines[0] == "ftfuzz-plain-shared 1" and len(lines) >= 2
    again = run([prog("plain_reorder_correct")], env=env)
    learned = run([prog("plain_reorder_correct")], env={"FTFUZZ_SEED": "3"})
    h = [re.search(r"trace hash (0x[0-9a-f]+)", x.stderr).group(1)
         for x in (first, again, learned)]
    assert h[0] == h[1] == h[2], h
    shared.write_text("not a set\n")
    bad = run([prog("plain_reorder_correct")], env=env)
    assert bad.returncode == 2
    assert "FTFUZZ_PLAIN_SHARED" in bad.stderr and "remove it" in bad.stderr


def test_plain_accesses_needs_clang(tmp_path):
    r = run([os.path.join(ROOT, "scripts", "ftfuzz-cc"), "--plain-accesses",
             "-c", os.path.join(ROOT, "tests", "sched", "plain_reorder.c"),
             "-o", str(tmp_path / "x.o")], env={"FTFUZZ_CC": "gcc"})
    assert r.returncode == 2
    assert "--plain-accesses needs clang" in r.stderr


def test_plain_accesses_beside_asan(tmp_path):
    """SanitizerCoverage's callbacks work with ASan, whose runtime's weak
    definitions of them ours replace."""
    exe = tmp_path / "check_act_asan"
    b = run([os.path.join(ROOT, "scripts", "ftfuzz-cc"), "--plain-accesses",
             "-fsanitize=address", "-O1", "-g",
             os.path.join(ROOT, "tests", "sched", "plain_check_act.c"),
             "-o", str(exe)])
    assert b.returncode == 0, b.stderr
    r = run([FTFUZZ, "explore", "--quiet", "--iterations", "1000", "--out",
             str(tmp_path / "out"), "--", str(exe)])
    assert r.returncode == 1, r.stdout + r.stderr
    assert "FAILING schedule" in r.stdout


def test_explore_plain_accesses_flag_is_for_scenarios(tmp_path):
    r = run([FTFUZZ, "explore", "--plain-accesses", "--out", str(tmp_path),
             "--", prog("plain_check_act")])
    assert r.returncode == 2
    assert "ftfuzz-cc --plain-accesses" in r.stderr


# --- CPython: plain-access points in Modules/_io (make plain-cpython) ---------

PLAIN_TARGET = os.path.join(BUILD, "plain", "fuzz", "fuzz_spec")
STRINGIO = os.path.join(ROOT, "harnesses", "examples", "scenarios",
                        "stringio_init_truncate.py")
needs_plain_cpython = pytest.mark.skipif(
    not os.path.exists(PLAIN_TARGET),
    reason="needs 'make plain-cpython' (not part of make check: one more "
           "CPython build); 'make check-plain-cpython' builds and runs it")


@needs_plain_cpython
def test_stringio_init_against_truncate_found_with_io_plain_points(tmp_path):
    """gh-150695: __init__ and truncate() reallocate one StringIO buffer at
    once; the window lies between plain accesses of self->buf."""
    # pct:3: on this build it found the race at schedule 226; pctlog:3 and
    # the default portfolio did not within 1,000 (docs/scheduler.md)
    r = run([FTFUZZ, "explore", "--plain-accesses", "--quiet", "--strategy",
             "pct:3", "--iterations", "1000", "--out", str(tmp_path),
             STRINGIO])
    assert r.returncode == 1, r.stdout + r.stderr
    assert "FAILING schedule" in r.stdout
    saved = tmp_path / "explore-stringio_init_truncate"
    assert "targets-dir:" in (tmp_path / (saved.name + ".meta")).read_text()
    rep = run([FTFUZZ, "replay", "--brief", "--times", "3", str(saved)])
    lines = [l for l in rep.stdout.splitlines() if l.startswith("verdict=")]
    assert len(lines) == 3 and len(set(lines)) == 1, rep.stdout + rep.stderr
    assert not lines[0].startswith("verdict=passed"), lines


@needs_plain_cpython
def test_stringio_init_against_truncate_not_found_without(tmp_path):
    r = run([FTFUZZ, "explore", "--quiet", "--strategy", "pct:3",
             "--iterations", "1000", "--out", str(tmp_path), STRINGIO])
    assert r.returncode == 0, r.stdout + r.stderr
    assert "no failing schedule in 1000 iterations" in r.stdout
