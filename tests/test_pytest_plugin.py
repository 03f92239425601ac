"""The pytest plugin (scripts/pytest/ftfuzz_pytest.py, docs/explore.md
"From pytest"): pytest, in a subprocess on a temporary directory, runs
scenarios through `ftfuzz explore` and reports them as tests."""
import os
import re
import shlex
import shutil
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FTFUZZ = os.path.join(ROOT, "build", "bin", "ftfuzz")
PLUGIN_DIR = os.path.join(ROOT, "scripts", "pytest")
SCENARIOS = os.path.join(ROOT, "harnesses", "examples", "scenarios")
FREE_THREADING = os.path.join(ROOT, "harnesses", "examples",
                              "free_threading")


def run_pytest(cwd, *args, env=None, ftfuzz=FTFUZZ):
    """pytest with the plugin, as a user runs it; (exit status, output,
    {outcome: count})."""
    if not os.path.exists(FTFUZZ):
        pytest.fail(f"{FTFUZZ} is missing: run 'make all' first")
    environ = {k: v for k, v in os.environ.items()
               if not k.startswith(("PYTEST_", "FTFUZZ_"))}
    environ["PYTHONPATH"] = PLUGIN_DIR
    environ["COLUMNS"] = "1000"   # the short test summary uncut
    environ.update(env or {})
    cmd = [sys.executable, "-m", "pytest", "-p", "ftfuzz_pytest",
           "-p", "no:cacheprovider", "--rootdir", str(cwd), "-rA",
           "--strict-markers"]
    if ftfuzz:
        cmd.append(f"--ftfuzz={ftfuzz}")
    r = subprocess.run(cmd + list(args), cwd=cwd, capture_output=True,
                       text=True, timeout=900, env=environ)
    out = r.stdout + r.stderr
    last = out.strip().splitlines()[-1]
    counts = {word: int(n) for n, word in
              re.findall(r"(\d+) (passed|failed|errors?|skipped)", last)}
    counts["error"] = counts.pop("errors", counts.get("error", 0))
    return r.returncode, out, counts


def test_a_passing_and_a_failing_scenario(tmp_path):
    """odict_copy_clear (gh-125996) fails at the first schedule of
    pctlog:3 seed 0; dict_ok passes every schedule."""
    shutil.copy(os.path.join(SCENARIOS, "dict_ok.py"),
                tmp_path / "ftfuzz_dict_ok.py")
    shutil.copy(os.path.join(SCENARIOS, "odict_copy_clear.py"),
                tmp_path / "ftfuzz_odict.py")
    (tmp_path / "test_plain.py").write_text("def test_plain():\n"
                                            "    assert True\n")
    status, out, counts = run_pytest(
        tmp_path, "--ftfuzz-iterations", "40", "--ftfuzz-seed", "0",
        "--ftfuzz-strategy", "pctlog:3")
    assert status == 1, out
    assert counts == {"failed": 1, "passed": 2, "error": 0}, out
    # the budget and the strategy reached explore
    assert re.search(r"^FAILED ftfuzz_odict.py::explore - FAILING schedule "
                     r"after \d+ of 40 iterations: \S+ \(strategy "
                     r"pctlog:3:k=\d+, seed \d+\); replay: ", out, re.M), out
    assert "PASSED ftfuzz_dict_ok.py::explore" in out, out
    # -rA shows what the passing one tried
    assert "explore: no failing schedule in 40 iterations" in out, out
    # the failure is explore's report, then the command that replays it
    assert "== program" in out and "== interleaving" in out, out
    assert "thread_copy(o0)" in out and "thread_clear(o0)" in out, out
    saved = tmp_path / "ftfuzz-out" / "ftfuzz_odict.explore" / \
        "explore-ftfuzz_odict"
    replay = shlex.join([FTFUZZ, "replay", str(saved)])
    assert f"\nreplay it with:\n  {replay}\n" in out, out
    assert re.search(r"^FAILED ftfuzz_odict.py::explore - .*; replay: "
                     + re.escape(replay) + "$", out, re.M), out
    # and that command replays the failing schedule
    argv = shlex.split(replay)
    r = subprocess.run(argv[:2] + ["--brief", "--times", "3"] + argv[2:],
                       capture_output=True, text=True, timeout=900)
    verdicts = [l for l in r.stdout.splitlines() if l.startswith("verdict=")]
    assert len(verdicts) == 3 and len(set(verdicts)) == 1, r.stdout
    assert not verdicts[0].startswith("verdict=passed"), verdicts

    # the passing scenario alone: pytest's exit status 0
    status, out, counts = run_pytest(tmp_path, "--ftfuzz-iterations", "10",
                                     "ftfuzz_dict_ok.py", "test_plain.py")
    assert status == 0 and counts["passed"] == 2, out


def test_a_file_named_on_the_command_line_is_a_scenario(tmp_path):
    """Not named ftfuzz_*.py, but it defines thread functions: it is
    explored, never imported into pytest's interpreter (where this one
    would fail to import)."""
    with open(os.path.join(SCENARIOS, "counter_check.py")) as f:
        text = f.read()
    (tmp_path / "race.py").write_text(
        "import sys\n"
        "if getattr(sys, '_is_gil_enabled', lambda: True)():\n"
        "    raise ImportError('a scenario imported by pytest')\n" + text)
    status, out, counts = run_pytest(tmp_path, "--ftfuzz-iterations", "300",
                                     "race.py")
    assert status == 1 and counts["failed"] == 1, out
    assert "FAILED race.py::explore" in out, out
    assert "AssertionError: lost update: value 1, expected 2" in out, out


MARKED = '''\
import sys

import pytest


def helper():
    pass


@pytest.mark.ftfuzz
def test_lost_update():
    class Counter:
        value = 0

    def setup():
        return Counter()

    def thread_a(c):
        v = c.value
        c.value = v + 1

    def thread_b(c):
        v = c.value
        c.value = v + 1

    def check(c):
        assert c.value == 2, f"lost update: {c.value}"   # line 27


@pytest.mark.ftfuzz
def test_runs_in_ftfuzz_interpreter():
    def thread_a():
        pass

    def thread_b():
        pass

    def check():
        # pytest's own interpreter has no sys._is_gil_enabled (3.11) or
        # has the GIL; the scenario runs free-threaded
        assert sys._is_gil_enabled() is False


@pytest.mark.ftfuzz
def test_uses_a_module_function():
    def thread_a():
        helper()

    def thread_b():
        pass


@pytest.mark.ftfuzz
def test_with_a_fixture(tmp_path):
    pass
'''


def test_functions_marked_ftfuzz(tmp_path):
    """A marked function's body is the scenario, run by ftfuzz with the
    module's imports it uses, at its own line numbers; what cannot run
    there is an error that says why."""
    (tmp_path / "test_marked.py").write_text(MARKED)
    status, out, counts = run_pytest(tmp_path, "--ftfuzz-iterations", "100")
    assert status == 1, out
    assert counts == {"failed": 1, "passed": 1, "error": 2}, out
    assert "FAILED test_marked.py::test_lost_update - FAILING" in out, out
    assert "PASSED test_marked.py::test_runs_in_ftfuzz_interpreter" in out
    # the traceback points at the line of the test file
    assert re.search(r'test_lost_update\.py", line 27, in check\n'
                     r"(.*\n){1,3}AssertionError: lost update: 1", out), out
    assert "test_uses_a_module_function uses helper, which its body does " \
        "not define" in out, out
    assert "test_with_a_fixture takes tmp_path" in out, out
    assert re.search(r"^ERROR test_marked.py::test_with_a_fixture - ", out,
                     re.M), out


def test_a_bad_scenario_is_an_error_and_the_binary_is_found(tmp_path):
    (tmp_path / "ftfuzz_bad.py").write_text("def thread_a(:\n")
    shutil.copy(os.path.join(SCENARIOS, "dict_ok.py"),
                tmp_path / "ftfuzz_ok.py")
    # found through $FTFUZZ_BIN
    status, out, counts = run_pytest(tmp_path, "--ftfuzz-iterations", "5",
                                     env={"FTFUZZ_BIN": FTFUZZ}, ftfuzz=None)
    assert status == 1, out
    assert counts == {"passed": 1, "error": 1}, out
    assert "ftfuzz explore: bad scenario: " in out, out
    assert "not valid Python" in out, out
    assert re.search(r"^ERROR ftfuzz_bad.py::explore - ftfuzz explore: bad "
                     r"scenario", out, re.M), out
    # not found: every scenario is an error that says what to do
    status, out, counts = run_pytest(
        tmp_path, env={"FTFUZZ_BIN": str(tmp_path / "nowhere")}, ftfuzz=None)
    assert status == 1 and counts == {"error": 2}, out
    assert "nowhere (from $FTFUZZ_BIN) is not an executable file" in out


def test_the_free_threading_example_finds_gh_126559(tmp_path):
    """harnesses/examples/free_threading: the stress test's race, as a
    scenario file and as a marked function, both found."""
    status, out, counts = run_pytest(
        tmp_path, "--ftfuzz-iterations", "300", "--ftfuzz-seed", "0",
        "--ftfuzz-strategy", "pctlog:3",
        os.path.join(FREE_THREADING, "ftfuzz_list_sort_len.py"),
        os.path.join(FREE_THREADING, "test_list_sort_marked.py"))
    assert status == 1 and counts["failed"] == 2, out
    assert out.count("AssertionError: len() saw 0 items while the list "
                     "was sorted") == 2, out
