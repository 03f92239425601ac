"""Anchored schedules (docs/program-format.md): a preemption named by its
thread, its operation and its point inside the operation replays the
same execution, survives a change to the harness's start-up, and
`ftfuzz search` finds one again when it moved inside its operation."""
import os
import re
import subprocess

import pytest

from helpers import regression_meta

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FTFUZZ = os.path.join(ROOT, "build", "bin", "ftfuzz")
PROG_EDIT = os.path.join(ROOT, "build", "tests", "fuzz", "prog_edit")
REGRESSIONS = os.path.join(ROOT, "corpus", "regressions")
INPUTS = sorted(f[:-5] for f in os.listdir(REGRESSIONS) if f.endswith(".meta"))
BRIEF = re.compile(r"^verdict=(\S+) signal=(\d+) hash=(0x[0-9a-f]{16}) "
                   r"steps=(\d+) switches=(\d+)(?: diagnosis=.*)?$", re.M)


def ftfuzz(*args, env=None, timeout=600):
    return subprocess.run([FTFUZZ, *args], capture_output=True, text=True,
                          timeout=timeout,
                          env=None if env is None else {**os.environ, **env})


def brief(path, target, env=None):
    r = ftfuzz("replay", "--brief", "--target", target, str(path), env=env)
    assert r.returncode == 0, r.stderr
    m = BRIEF.search(r.stdout)
    assert m, r.stdout
    return m.groups()


def anchors(path):
    out = subprocess.run([PROG_EDIT, str(path), "-", "--print-anchors"],
                         capture_output=True, text=True, check=True).stdout
    return [tuple(map(int, l.split())) for l in out.splitlines()]


def test_every_regression_input_is_anchored():
    for name in INPUTS:
        assert anchors(os.path.join(REGRESSIONS, name)), name


def test_anchor_rewrites_a_seed_as_the_same_execution(tmp_path):
    """A random walk's input, rewritten by `ftfuzz anchor`, runs the
    identical execution: same verdict, same trace hash."""
    walk = tmp_path / "walk"
    subprocess.run([PROG_EDIT, os.path.join(REGRESSIONS, "list_sort_len"),
                    str(walk), "--schedule", "2:1:0:2000:11"], check=True)
    before = brief(walk, "fuzz_list")
    out = tmp_path / "anchored"
    r = ftfuzz("anchor", "--target", "fuzz_list", "--out", str(out),
               str(walk))
    assert r.returncode == 0, r.stdout + r.stderr
    assert "the same execution" in r.stdout, r.stdout
    assert brief(out, "fuzz_list") == before
    assert anchors(out)
    # an anchored input is left as it is
    r = ftfuzz("anchor", "--target", "fuzz_list", str(out))
    assert r.returncode == 0 and "anchored already" in r.stdout, r.stdout


@pytest.mark.parametrize("name", INPUTS)
def test_a_shifted_start_up_keeps_every_verdict(name):
    """FTFUZZ_TEST_SHIFT_START keeps more objects and starts one more
    thread before the fork, as a change to the harness's start-up does:
    every execution's steps move (other trace hashes), and each input
    still gives its verdict."""
    target = regression_meta(os.path.join(REGRESSIONS, name + ".meta"))[
        "target"]
    path = os.path.join(REGRESSIONS, name)
    plain = brief(path, target)
    shifted = brief(path, target, env={"FTFUZZ_TEST_SHIFT_START": "100"})
    assert shifted[:2] == plain[:2], (plain, shifted)
    assert shifted[2] != plain[2] or shifted[3] != plain[3], \
        "the knob did not move this execution's steps"


def test_search_finds_a_preemption_that_moved_in_its_operation(tmp_path):
    """The preemption of generic_alias_iter_next moved 20 points later in
    its operation (as 20 points added before it would) no longer crashes;
    `ftfuzz search` finds the crash again near the anchors and says how
    many schedules it tried."""
    src = os.path.join(REGRESSIONS, "generic_alias_iter_next")
    pre = [i for i, a in enumerate(anchors(src)) if not a[4]]
    assert pre
    moved = tmp_path / "moved"
    subprocess.run([PROG_EDIT, src, str(moved), "--anchor-move",
                    f"{pre[-1]}:20"], check=True)
    assert brief(moved, "fuzz_mixed")[0] == "passed"
    found = tmp_path / "found"
    r = ftfuzz("search", "--expect", "crash:11", "--budget", "100",
               "--target", "fuzz_mixed", "--out", str(found), str(moved))
    assert r.returncode == 0, r.stdout + r.stderr
    assert re.search(r"search: crash after \d+ tries", r.stdout), r.stdout
    assert brief(found, "fuzz_mixed")[:2] == ("crash", "11")
    # a budget that cannot reach it says so
    r = ftfuzz("search", "--expect", "crash:11", "--budget", "2",
               "--target", "fuzz_mixed", str(moved))
    assert r.returncode == 1, r.stdout + r.stderr
    assert "no schedule among 2" in r.stdout, r.stdout


def test_search_and_anchor_bad_usage(tmp_path):
    r = ftfuzz("search", os.path.join(REGRESSIONS, "generic_alias_iter_next"))
    assert r.returncode == 2 and "--expect" in r.stderr
    r = ftfuzz("anchor", str(tmp_path / "missing"))
    assert r.returncode == 2 and "cannot read" in r.stderr


def test_regress_tells_moved_from_fixed(tmp_path):
    """`ftfuzz regress` on an input whose preemption moved 20 points in
    its operation: `ok (moved)` (the search finds it again), `--update`
    writes it back and the next run is plain `ok`; with a budget too
    small, on a version its fails-on does not name: `fixed`, saying how
    many schedules were tried; on one it names: MISMATCH."""
    name = "generic_alias_iter_next"
    src = os.path.join(REGRESSIONS, name)
    subprocess.run([PROG_EDIT, src, str(tmp_path / name), "--anchor-move",
                    f"{[i for i, a in enumerate(anchors(src)) if not a[4]][-1]}:20"],
                   check=True)
    meta = open(src + ".meta").read()
    (tmp_path / (name + ".meta")).write_text(meta)

    def regress(*args):
        return ftfuzz("regress", "--corpus", str(tmp_path), "--runs", "1",
                      *args)

    r = regress("--search", "3")
    assert r.returncode == 1, r.stdout + r.stderr
    assert re.search(rf"^{name} .* MISMATCH$", r.stdout, re.M), r.stdout
    assert re.search(r"no schedule among [1-3] near its anchors", r.stdout), \
        r.stdout
    (tmp_path / (name + ".meta")).write_text(
        meta.replace("fails-on: CPython 3.13.5", "fails-on: CPython 3.12.0"))
    r = regress("--search", "3")
    assert r.returncode == 0, r.stdout + r.stderr
    assert re.search(rf"^{name} .* fixed$", r.stdout, re.M), r.stdout
    assert re.search(r"no schedule among [1-3] near its anchors", r.stdout), \
        r.stdout
    (tmp_path / (name + ".meta")).write_text(meta)
    before = (tmp_path / name).read_bytes()
    r = regress("--update")
    assert r.returncode == 0, r.stdout + r.stderr
    assert re.search(rf"^{name} .*passed -> crash .*ok \(moved\)$", r.stdout,
                     re.M), r.stdout
    assert "written back" in r.stdout
    assert (tmp_path / name).read_bytes() != before
    r = regress()
    assert r.returncode == 0 and re.search(rf"^{name} .* ok$", r.stdout,
                                           re.M), r.stdout


def test_replay_says_when_a_stored_input_does_not_reproduce(tmp_path):
    name = "generic_alias_iter_next"
    src = os.path.join(REGRESSIONS, name)
    pre = [i for i, a in enumerate(anchors(src)) if not a[4]][-1]
    subprocess.run([PROG_EDIT, src, str(tmp_path / name), "--anchor-move",
                    f"{pre}:20"], check=True)
    (tmp_path / (name + ".meta")).write_text(open(src + ".meta").read())
    r = ftfuzz("replay", "--quiet", str(tmp_path / name))
    assert r.returncode == 0, r.stderr
    assert "does NOT reproduce on this build" in r.stdout, r.stdout
    assert "ftfuzz search --expect" in r.stdout
    r = ftfuzz("replay", "--quiet", src)
    assert "does NOT reproduce" not in r.stdout, r.stdout
