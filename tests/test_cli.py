"""The ftfuzz command: help, bad usage, and a short real campaign."""
import os
import re
import subprocess

import pytest

from helpers import families

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FTFUZZ = os.path.join(ROOT, "build", "bin", "ftfuzz")
COMMANDS = ["fuzz", "replay", "minimize", "regress", "explore", "triage",
            "anchor", "search", "targets", "env"]


def run(*args, timeout=600):
    return subprocess.run([FTFUZZ, *args], capture_output=True, text=True,
                          timeout=timeout)


def test_help_lists_every_command():
    r = run("--help")
    assert r.returncode == 0
    for c in COMMANDS:
        assert re.search(rf"^  {c} ", r.stdout, re.M), c


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_has_help(command):
    r = run(command, "--help")
    assert r.returncode == 0
    assert r.stdout.startswith(f"usage: ftfuzz {command}")


@pytest.mark.parametrize("args", [
    ["frobnicate"],
    ["explore", "--no-such-flag"],
    ["explore", "--iterations", "many", "--", "/bin/true"],
    ["explore"],
    ["replay", "--", "/bin/true"],
    ["fuzz", "no_such_target"],
    ["fuzz", "--time", "-5"],
])
def test_bad_usage_is_refused_with_a_message(args):
    r = run(*args)
    assert r.returncode == 2
    assert r.stderr.strip(), "no message"


def test_no_arguments_prints_usage():
    r = subprocess.run([FTFUZZ], capture_output=True, text=True)
    assert r.returncode == 2 and "usage: ftfuzz" in r.stderr


def test_replay_refuses_a_file_that_is_not_a_trace(tmp_path):
    bad = tmp_path / "t"
    bad.write_text("hello\n")
    r = run("replay", "--trace", str(bad), "--", "/bin/true")
    assert r.returncode == 2
    assert "is not an ftfuzz trace" in r.stderr
    r = run("replay", "--trace", str(tmp_path / "missing"), "--", "/bin/true")
    assert r.returncode == 2 and "cannot open" in r.stderr


def test_explore_reports_a_program_not_built_with_ftfuzz_cc(tmp_path):
    r = run("explore", "--iterations", "3", "--out", str(tmp_path), "--",
            "/bin/true")
    assert r.returncode == 2
    assert "was the program built with scripts/ftfuzz-cc?" in r.stderr
    r = run("explore", "--strategy", "random", "--iterations", "3", "--out",
            str(tmp_path), "--", "/bin/true")
    assert r.returncode == 1
    assert "was the program built with scripts/ftfuzz-cc?" in r.stdout


@pytest.mark.parametrize("strategy,message", [
    ("pct:0", "bad strategy 'pct:0': D must be a number in 1..64"),
    ("random:2", "bad strategy 'random:2': P must be a number in 0..1"),
    ("nonsense", "bad strategy 'nonsense'"),
])
def test_explore_refuses_a_bad_strategy_before_running(tmp_path, strategy,
                                                      message):
    """The CLI reads the strategy with the scheduler's own parser: a bad
    one is the user's error, not a failed calibration run."""
    r = run("explore", "--strategy", strategy, "--iterations", "3", "--out",
            str(tmp_path), "--", "/bin/true")
    assert r.returncode == 2, r.stdout + r.stderr
    assert message in r.stderr, r.stderr
    assert "calibration" not in r.stderr


def test_env_lists_the_variables():
    r = run("env")
    assert r.returncode == 0
    for name in ("FTFUZZ_STRATEGY", "FTFUZZ_SEED", "FTFUZZ_WATCHDOG_SECONDS",
                 "FTFUZZ_PRINT_HASH"):
        assert name in r.stdout


def test_targets_lists_the_built_fuzz_targets():
    r = run("targets")
    assert r.returncode == 0
    for family in families():
        assert os.path.join(ROOT, "build", "fuzz", f"fuzz_{family}") \
            in r.stdout


def test_a_short_campaign_runs_and_summarizes(tmp_path):
    r = run("fuzz", "--time", "15", "--jobs", "1", "--out", str(tmp_path),
            "list", timeout=300)
    assert r.returncode == 0, r.stdout + r.stderr
    m = re.search(r"fuzz: done: (\d+) corpus inputs, findings: (\d+) crash",
                  r.stdout)
    assert m and int(m.group(1)) > 0, r.stdout
    assert len(os.listdir(tmp_path / "fuzz_list" / "corpus")) == \
        int(m.group(1))
    assert "exec/s" in r.stderr   # libFuzzer's progress lines
    # ... each followed by ftfuzz's own figures, which count executions the
    # campaign really ran, and the same line closes the run on stdout.
    figures = re.findall(r"^ftfuzz: (\d+) executions \(([\d.]+)/s\), "
                         r"([\d.]+) switches per execution, findings: (.*)$",
                         r.stderr, re.M)
    assert figures, r.stderr[-3000:]
    final = re.search(r"^ftfuzz: (\d+) executions .*findings: (.*)$", r.stdout,
                      re.M)
    assert final and int(final.group(1)) >= int(m.group(1)) > 0, r.stdout
    assert float(figures[-1][2]) > 0   # the programs do switch threads
    # It once removed /dev/null, taking it for a result file.
    assert os.path.exists("/dev/null") and not os.path.isfile("/dev/null")


def test_campaign_counts_findings_by_kind(tmp_path):
    """Seeds after -- that crash and that violate linearizability show up
    in ftfuzz's figures by kind, and the user's directory stays as it was."""
    seeds = tmp_path / "seeds"
    seeds.mkdir()
    for name in ("generic_alias_iter_next", "list_sort_len"):
        data = open(os.path.join(ROOT, "corpus", "regressions", name),
                    "rb").read()
        (seeds / name).write_bytes(data)
    r = run("fuzz", "--time", "10", "--jobs", "1", "--out",
            str(tmp_path / "out"), "mixed", "--", str(seeds), timeout=300)
    assert r.returncode == 0, r.stdout + r.stderr
    final = re.search(r"^ftfuzz: \d+ executions .*findings: (.*)$", r.stdout,
                      re.M)
    assert final, r.stdout
    kinds = dict((k, int(n)) for n, k in
                 re.findall(r"(\d+) (\S+?)(?:,|$)", final.group(1)))
    assert kinds.get("SIGSEGV", 0) >= 1 and \
        kinds.get("linearizability", 0) >= 1, final.group(0)
    assert sorted(os.listdir(seeds)) == ["generic_alias_iter_next",
                                         "list_sort_len"]



# --- environment variables (include/ftfuzz/envs.def, env.h) -------------------

def run_env(argv, **env):
    return subprocess.run(argv, capture_output=True, text=True, timeout=300,
                          env={**os.environ, **env})


def test_a_misspelled_variable_gets_one_warning_with_a_suggestion():
    r = run_env([FTFUZZ, "targets"], FTFUZZ_INTERLEAVNG="sites")
    assert r.returncode == 0, r.stderr
    assert r.stderr.count("ftfuzz: warning: FTFUZZ_INTERLEAVNG is not a "
                          "variable ftfuzz reads; did you mean "
                          "FTFUZZ_INTERLEAVING?") == 1, r.stderr
    # a program built with ftfuzz-cc re-executes itself (ASLR): still once
    prog = os.path.join(ROOT, "build", "tests", "sched", "lost_update_correct")
    r = run_env([prog], FTFUZZ_SEEED="3")
    assert r.returncode == 0, r.stderr
    assert r.stderr.count("FTFUZZ_SEEED is not a variable ftfuzz reads; "
                          "did you mean FTFUZZ_SEED?") == 1, r.stderr
    # a name like none gets no suggestion; a known one no warning
    r = run_env([FTFUZZ, "targets"], FTFUZZ_SOMETHING_ELSE="1",
                FTFUZZ_SEED="2")
    assert "FTFUZZ_SOMETHING_ELSE is not a variable ftfuzz reads (ftfuzz " \
        "env lists them)" in r.stderr and "FTFUZZ_SEED " not in r.stderr


@pytest.mark.parametrize("name,value,wants", [
    ("FTFUZZ_MAX_STEPS", "abc", "expected a whole number of at least 1"),
    ("FTFUZZ_MAX_STEPS", "0", "expected a whole number of at least 1"),
    ("FTFUZZ_SEED", "-1", "expected a whole number"),
    ("FTFUZZ_NO_FORK", "yes", "expected 1 (on) or 0 (off)"),
])
def test_a_malformed_value_stops_every_ftfuzz_process(name, value, wants):
    message = f"ftfuzz: {name}={value}: {wants}"
    prog = os.path.join(ROOT, "build", "tests", "sched", "lost_update_correct")
    target = os.path.join(ROOT, "build", "fuzz", "fuzz_list")
    for argv in ([FTFUZZ, "targets"], [prog], [target, "-runs=1"]):
        r = run_env(argv, **{name: value})
        assert r.returncode == 2, (argv, r.stderr[-2000:])
        assert message in r.stderr, (argv, r.stderr[-2000:])


def test_env_lists_every_variable_with_its_type_and_default():
    r = run("env")
    text = open(os.path.join(ROOT, "include", "ftfuzz", "envs.def")).read()
    names = re.findall(r"^FTFUZZ_ENV\((FTFUZZ_\w+),", text, re.M)
    assert len(names) > 30
    for name in names:
        assert f"  {name}  (" in r.stdout, name
    assert "  FTFUZZ_MAX_STEPS  (number >= 1, default 10000000)" in r.stdout


def test_help_of_a_command():
    r = run("help", "replay")
    assert r.returncode == 0 and "--targets-dir" in r.stdout, r.stdout
    r = run("help", "nosuch")
    assert r.returncode == 2 and "unknown command 'nosuch'" in r.stderr
