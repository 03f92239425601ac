"""`ftfuzz replay FILE` and `ftfuzz minimize FILE` on fuzz inputs: the
report a CPython developer reads, the files written beside it, exact
replay in fresh processes, and minimisation."""
import json
import os
import re
import subprocess
import xml.etree.ElementTree as ET

import pytest

from helpers import regression_meta

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FTFUZZ = os.path.join(ROOT, "build", "bin", "ftfuzz")
PROG_EDIT = os.path.join(ROOT, "build", "tests", "fuzz", "prog_edit")
REGRESSIONS = os.path.join(ROOT, "corpus", "regressions")
INPUTS = sorted(f[:-5] for f in os.listdir(REGRESSIONS) if f.endswith(".meta"))
SVG = "{http://www.w3.org/2000/svg}"


def meta(name):
    return regression_meta(os.path.join(REGRESSIONS, name + ".meta"))


def ftfuzz(*args, timeout=600):
    return subprocess.run([FTFUZZ, *args], capture_output=True, text=True,
                          timeout=timeout)


def expected_verdict(expected):
    """The brief verdict a .meta `expected:` text stands for."""
    if expected.startswith("linearizability"):
        return "linearizability", None
    if expected.startswith("crash (SIGSEGV)"):
        return "crash", 11
    if expected.startswith("crash"):
        return None, None   # any failure
    return "passed", 0


BRIEF = re.compile(r"^verdict=(\S+) signal=(\d+) hash=(0x[0-9a-f]{16}) "
                   r"steps=(\d+) switches=(\d+)(?: diagnosis=.*)?$")


@pytest.mark.parametrize("name", INPUTS)
def test_regression_replays_20_of_20(name):
    r = ftfuzz("replay", "--brief", "--times", "20",
               os.path.join(REGRESSIONS, name))
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert len(lines) == 20 and all(BRIEF.match(l) for l in lines), r.stdout
    assert len(set(lines)) == 1, f"{name} replayed differently:\n{r.stdout}"
    verdict, signal, *_ = BRIEF.match(lines[0]).groups()
    want, want_signal = expected_verdict(meta(name)["expected"])
    if want is None:
        assert verdict != "passed"
    else:
        assert verdict == want, lines[0]
    if want_signal:
        assert int(signal) == want_signal


def replay_report(tmp_path, name, *extra):
    out = tmp_path / "out"
    r = ftfuzz("replay", "--out", str(out), *extra,
               os.path.join(REGRESSIONS, name))
    assert r.returncode == 0, r.stdout + r.stderr
    return r.stdout, out


def test_crash_report_sections_in_order(tmp_path):
    text, out = replay_report(tmp_path, "generic_alias_iter_next")
    order = ["verdict: crash (signal 11", "trace hash: 0x", "== program",
             "o0 = iter(list[int])", "def thread_0():", "next(o0)",
             "== interleaving:", "C location", "Python location",
             "== C stack of the failing thread (signal 11), in thread_",
             "ga_iternext Objects/genericaliasobject.c:", "written:"]
    pos = [text.find(s) for s in order]
    assert all(p >= 0 for p in pos), list(zip(order, pos))
    assert pos == sorted(pos), list(zip(order, pos))
    # The interleaving table: every switch names its point kind, a C
    # location in CPython's source, and (inside an op) the op and its line
    # in repro.py.
    rows = [l for l in text.splitlines() if re.match(r"^\d+\s+\d+\s+\S+ -> ", l)]
    assert rows, text
    assert any(re.search(r"atomic_\w+\s+\S+ (Objects|Python|Include)/\S+:\d+", l)
               for l in rows), rows
    assert any(re.search(r"repro\.py:\d+ thread_\d\s+next\(o0\)", l)
               for l in rows), rows
    # The report's hash is the brief replay's: report mode changes nothing.
    brief = ftfuzz("replay", "--brief",
                   os.path.join(REGRESSIONS, "generic_alias_iter_next"))
    h = re.search(r"trace hash: (0x[0-9a-f]{16})", text).group(1)
    assert f"hash={h}" in brief.stdout
    # The trace file is the scheduler's, with the same hash.
    trace = (out / "trace").read_text()
    assert trace.startswith("ftfuzz-trace 1\n")
    assert f"hash {h}\n" in trace


def test_repro_py_is_valid_python_that_runs(tmp_path):
    _, out = replay_report(tmp_path, "generic_alias_iter_next")
    src = (out / "repro.py").read_text()
    compile(src, "repro.py", "exec")
    assert "def thread_0(" in src and "next(o0)" in src
    assert "many runs" in src
    # The system Python has a GIL: the script warns and runs anyway.
    r = subprocess.run(["/usr/bin/python3", str(out / "repro.py"), "3"],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert "3 runs" in r.stdout


def svg_of(out):
    root = ET.parse(out / "timeline.svg").getroot()
    assert root.tag == SVG + "svg"
    return root


def test_timeline_svg_crash(tmp_path):
    text, out = replay_report(tmp_path, "generic_alias_iter_next")
    root = svg_of(out)
    labels = [t.text for t in root.iter(SVG + "text")]
    for lane in ("main", "thread_0", "thread_1"):
        assert lane in labels
    ops = [r for g in root.iter(SVG + "g") for r in g.findall(SVG + "rect")]
    assert len(ops) == 2   # one bar per op that ran
    failing = [r for r in ops if r.get("fill") == "#e6550d"]
    assert len(failing) == 1
    arrows = [l for l in root.iter(SVG + "line")
              if l.get("marker-end") == "url(#arrow)"]
    nswitches = int(re.search(r"interleaving: (\d+) switches", text).group(1))
    assert len(arrows) == nswitches > 0


def test_timeline_svg_linearizability_marks_the_unexplained_op(tmp_path):
    text, out = replay_report(tmp_path, "list_sort_len")
    assert text.startswith("verdict: linearizability")
    assert "closest sequential order" in text
    root = svg_of(out)
    titles = [g.find(SVG + "title").text for g in root.iter(SVG + "g")
              if any(r.get("fill") == "#e6550d" for r in g.findall(SVG + "rect"))]
    assert len(titles) == 1 and "len(o0)" in titles[0], titles


def test_files_go_beside_the_input_by_default(tmp_path):
    src = os.path.join(REGRESSIONS, "list_ops_linearizable")
    copy = tmp_path / "fuzz_list" / "input"
    copy.parent.mkdir()
    copy.write_bytes(open(src, "rb").read())
    r = ftfuzz("replay", str(copy))   # target from the directory name
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("verdict: passed")
    for suffix in (".repro.py", ".trace", ".timeline.svg"):
        assert (tmp_path / "fuzz_list" / ("input" + suffix)).is_file()


def test_replay_bad_inputs(tmp_path):
    r = ftfuzz("replay", str(tmp_path / "missing"))
    assert r.returncode == 2 and "missing" in r.stderr
    r = ftfuzz("replay", str(tmp_path))
    assert r.returncode == 2
    junk = tmp_path / "junk"
    junk.write_bytes(bytes(range(256)) * 3)
    r = ftfuzz("replay", "--target", "nosuch", str(junk))
    assert r.returncode == 2 and "unknown target" in r.stderr
    # Any bytes are a program: random ones replay (as whatever they decode to).
    r = ftfuzz("replay", "--brief", "--target", "fuzz_mixed", str(junk))
    assert r.returncode == 0 and BRIEF.match(r.stdout.strip()), r.stdout


def test_minimize_drops_extra_ops_and_preemptions(tmp_path):
    """A regression input with its schedule made explicit, plus operations
    and preemptions it does not need, minimizes to an input no larger, with
    the same verdict and no more than the original's operations."""
    src = os.path.join(REGRESSIONS, "generic_alias_iter_next")
    _, out = replay_report(tmp_path, "generic_alias_iter_next")
    explicit = tmp_path / "explicit"
    subprocess.run([PROG_EDIT, src, str(explicit), "--explicit",
                    str(out / "trace")], check=True)
    big = tmp_path / "big"
    subprocess.run([PROG_EDIT, str(explicit), str(big),
                    "--op", "1:3:0:0:5", "--op", "1:7:0:0:2",
                    "--preempt", "60000:1", "--preempt", "60100:0"],
                   check=True)
    before = ftfuzz("replay", "--brief", "--target", "fuzz_mixed", str(big))
    assert before.stdout.startswith("verdict=crash signal=11"), before.stdout
    small = tmp_path / "small"
    r = ftfuzz("minimize", "--time", "5", "--target", "fuzz_mixed",
               "--out", str(small), str(big))
    assert r.returncode == 0, r.stdout + r.stderr
    assert "[2/3]" in r.stdout and "[3/3]" in r.stdout
    assert small.stat().st_size <= big.stat().st_size
    after = ftfuzz("replay", "--brief", "--target", "fuzz_mixed", str(small))
    assert after.stdout.startswith("verdict=crash signal=11"), after.stdout
    m = re.search(r"(\d+) ops \(was (\d+)\)", r.stdout)
    assert m and int(m.group(1)) <= 2 < int(m.group(2)), r.stdout
    # 3 switches were recorded, 2 preemptions added past the crash: those
    # go, whichever pass (libFuzzer's or the schedule's) removes them.
    assert "schedule bytes, 5 preemptions" in r.stdout, r.stdout
    # the schedule pass writes it as anchors (docs/program-format.md)
    m = re.search(r"anchors, (\d+) preemptions, (\d+) preemptions removed",
                  r.stdout)
    assert m and int(m.group(1)) <= 3, r.stdout


def test_minimize_refuses_a_passing_input(tmp_path):
    r = ftfuzz("minimize", "--time", "0", "--out", str(tmp_path / "o"),
               os.path.join(REGRESSIONS, "list_ops_linearizable"))
    assert r.returncode == 1 and "passes" in r.stderr
    assert not (tmp_path / "o").exists()
    r = ftfuzz("minimize", str(tmp_path / "missing"))
    assert r.returncode == 2 and "cannot read" in r.stderr


def test_the_callers_environment_does_not_change_an_execution():
    """The interpreter starts from a fixed environment: a variable more or
    less (pytest's own, or none at all) gives the same steps and hash."""
    path = os.path.join(REGRESSIONS, "generic_alias_iter_next")
    envs = [dict(os.environ),
            dict(os.environ, EXTRA_VARIABLE_OF_SOME_LENGTH="x" * 37),
            {"PATH": "/usr/bin:/bin"},
            {}]
    lines = set()
    for env in envs:
        r = subprocess.run([FTFUZZ, "replay", "--brief", path],
                           capture_output=True, text=True, timeout=300,
                           env=env)
        assert r.returncode == 0, r.stderr
        lines.add(r.stdout.strip())
    assert len(lines) == 1, lines


def test_reseed_finds_a_schedule_that_reaches_the_race_again(tmp_path):
    """A program whose schedule no longer reaches its race (here: the
    schedule removed) gets one again from `ftfuzz reseed`."""
    src = os.path.join(REGRESSIONS, "list_sort_len")
    lost = tmp_path / "lost"
    subprocess.run([PROG_EDIT, src, str(lost), "--no-preemptions"],
                   check=True)
    before = ftfuzz("replay", "--brief", "--target", "fuzz_list", str(lost))
    assert before.stdout.startswith("verdict=passed"), before.stdout
    found = tmp_path / "found"
    r = ftfuzz("reseed", "--expect", "linearizability", "--tries", "200",
               "--target", "fuzz_list", "--out", str(found), str(lost))
    assert r.returncode == 0, r.stdout + r.stderr
    assert re.search(r"(bytes@mark preemptions from|random seed|"
                     r"random p 0.01 seed|pct:3 seed) \d+ gives "
                     r"linearizability", r.stdout), r.stdout
    after = ftfuzz("replay", "--brief", "--target", "fuzz_list", str(found))
    assert after.stdout.startswith("verdict=linearizability"), after.stdout
    # The input itself was left alone.
    assert lost.read_bytes() == subprocess.run(
        [PROG_EDIT, src, "/dev/stdout", "--no-preemptions"],
        capture_output=True, check=True).stdout


def decoded_schedule(path):
    unit = os.path.join(ROOT, "build", "tests", "fuzz", "unit_program")
    with open(path, "rb") as f:
        out = subprocess.run([unit, "decode"], stdin=f, capture_output=True,
                             check=True).stdout
    return json.loads(out)["schedule"]


def test_reseed_writes_only_the_fields_of_the_schedule_it_found(tmp_path):
    """The old schedule's fields (here random, p = 1e-6, k and depth set)
    do not linger in what reseed writes: each kind it tries is exactly
    that kind.  On this build the race is found by `random p 0.01 seed
    5`; another layout may pick another kind, and the fields are checked
    against whichever it names."""
    src = os.path.join(REGRESSIONS, "odict_copy_clear")
    lost = tmp_path / "lost"
    subprocess.run([PROG_EDIT, src, str(lost), "--no-preemptions",
                    "--schedule", "2:7:777:1:5"], check=True)
    assert decoded_schedule(lost) == {"strategy": 2, "depth": 7, "seed": 5,
                                      "k": 777, "p_ppm": 1, "bytes": ""}
    before = ftfuzz("replay", "--brief", "--target", "fuzz_ext", str(lost))
    assert before.stdout.startswith("verdict=passed"), before.stdout
    found = tmp_path / "found"
    r = ftfuzz("reseed", "--expect", "crash", "--tries", "12", "--target",
               "fuzz_ext", "--out", str(found), str(lost))
    assert r.returncode == 0, r.stdout + r.stderr
    m = re.search(r"reseed: (bytes@mark preemptions from|random seed|"
                  r"random p 0.01 seed|pct:3 seed) (\d+) gives crash",
                  r.stdout)
    assert m, r.stdout
    # whatever kind found it, what is written is its execution as anchors
    # (strategy 6; 7 behind pct@mark's start barrier), nothing else
    assert "(as anchors)" in r.stdout, r.stdout
    got = decoded_schedule(found)
    assert got["strategy"] == 6 and got["bytes"], got
    got["bytes"] = ""
    assert got == {"strategy": 6, "depth": 1, "seed": 0, "k": 0,
                   "p_ppm": 0, "bytes": ""}, got
    after = ftfuzz("replay", "--brief", "--target", "fuzz_ext", str(found))
    assert after.stdout.startswith("verdict=crash"), after.stdout


def test_reseed_bad_usage(tmp_path):
    src = os.path.join(REGRESSIONS, "list_sort_len")
    r = ftfuzz("reseed", src)
    assert r.returncode == 2 and "--expect" in r.stderr
    r = ftfuzz("reseed", "--expect", "crash", str(tmp_path / "missing"))
    assert r.returncode == 2 and "cannot read" in r.stderr
    r = ftfuzz("reseed", "--bogus", src)
    assert r.returncode == 2 and "unknown flag" in r.stderr


NO_PERSONALITY = os.path.join(ROOT, "build", "tests", "sched",
                              "no_personality")
ASLR_WARNING = "warning: cannot turn address-space randomization off"


@pytest.mark.parametrize("how", ["cli", "target", "program"])
def test_a_refused_personality_is_a_warning_not_silence(how):
    """Docker's default seccomp profile refuses ADDR_NO_RANDOMIZE.  With
    randomization on, an execution can differ between processes
    (unpickler_shared_load gave another trace hash in 2 of 6 runs), so a
    replayed crash could pass without a word: every ftfuzz process that
    runs executions says so, once, and goes on."""
    src = os.path.join(REGRESSIONS, "list_sort_len")
    cmd = {"cli": [FTFUZZ, "replay", "--brief", src],
           "target": [os.path.join(ROOT, "build", "fuzz", "fuzz_list"), src],
           "program": [os.path.join(ROOT, "build", "tests", "sched",
                                    "lost_update")]}[how]
    verdict = {"cli": "verdict=linearizability",
               "target": "linearizability", "program": "==ftfuzz== verdict"}
    # where this machine already refuses it (a CI container), the plain
    # run must warn as well
    allowed = subprocess.run(["setarch", "-R", "true"],
                             capture_output=True).returncode == 0
    for wrapped in (False, True):
        refused = wrapped or not allowed
        r = subprocess.run(([NO_PERSONALITY] if wrapped else []) + cmd,
                           capture_output=True, text=True, timeout=300)
        out = r.stdout + r.stderr
        assert verdict[how] in out, out[-3000:]   # it still runs
        if refused:
            assert ASLR_WARNING in r.stderr, r.stderr[-3000:]
            assert "seccomp=unconfined" in r.stderr
            # once (replay keeps its target's own stderr in its log)
            assert r.stderr.count(ASLR_WARNING) == 1, r.stderr
        else:
            assert ASLR_WARNING not in out
