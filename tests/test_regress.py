"""`ftfuzz regress`: the regression corpus against a CPython build.

Against the default CPython every known race fails as its .meta expects;
a corpus whose metadata is wrong is flagged (REGRESSION, MISMATCH); bad
usage stops before building anything.  No test builds another CPython (a
cold build takes minutes): --cpython is exercised up to its checks, and the
version and commit rules through scripts/regress.py's functions.
"""
import os
import re
import shutil
import subprocess

import pytest

from helpers import died_verdicts, load_regress, regression_meta

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FTFUZZ = os.path.join(ROOT, "build", "bin", "ftfuzz")
REGRESSIONS = os.path.join(ROOT, "corpus", "regressions")
INPUTS = sorted(f[:-5] for f in os.listdir(REGRESSIONS) if f.endswith(".meta"))
CRASHES = died_verdicts()


def regress(*args, timeout=900):
    return subprocess.run([FTFUZZ, "regress", *args], capture_output=True,
                          text=True, timeout=timeout)


meta = regression_meta


def table(stdout):
    """{input: (expected, got, status)} from the printed table."""
    lines = stdout.splitlines()
    start = next(i for i, l in enumerate(lines)
                 if re.match(r"^input\s+expected\s+got\s+status$", l))
    rows = {}
    for line in lines[start + 2:]:
        if not line.strip():
            break
        cells = re.split(r"\s{2,}", line.strip())
        assert len(cells) == 4, line
        rows[cells[0]] = tuple(cells[1:])
    return rows


def copy_corpus(tmp_path, names=None):
    dst = tmp_path / "corpus"
    dst.mkdir()
    for n in names or INPUTS:
        shutil.copy(os.path.join(REGRESSIONS, n), dst / n)
        shutil.copy(os.path.join(REGRESSIONS, n + ".meta"), dst / (n + ".meta"))
    return dst


def set_fields(corpus, name, **fields):
    """Rewrite fields of corpus/name.meta (fixed_in -> fixed-in)."""
    path = corpus / (name + ".meta")
    lines = path.read_text().splitlines()
    for key, value in fields.items():
        key = key.replace("_", "-")
        lines = [l for l in lines if not l.startswith(key + ":")]
        lines.insert(1, f"{key}: {value}")
    path.write_text("\n".join(lines) + "\n")


def expected_kind(text):
    if text.startswith("passed"):
        return "passed"
    if text.startswith("linearizability"):
        return "linearizability"
    if text.startswith("crash (SIGSEGV)"):
        return "crash (SIGSEGV)"
    assert text.startswith("crash"), text
    return "crash"


def test_default_cpython_every_race_fails_as_expected():
    r = regress()
    assert r.returncode == 0, r.stdout + r.stderr
    assert "checking CPython 3.13.5" in r.stdout
    rows = table(r.stdout)
    assert sorted(rows) == INPUTS
    for name in INPUTS:
        want = expected_kind(meta(os.path.join(REGRESSIONS,
                                               name + ".meta"))["expected"])
        expected, got, status = rows[name]
        assert status == "ok", (name, rows[name])
        assert expected == want, (name, rows[name])
        if want == "crash":
            assert got in CRASHES or got.startswith("crash ("), (name, got)
        else:
            assert got == want, (name, got)
    races = [n for n in INPUTS if rows[n][0] != "passed"]
    assert len(races) >= 6, races
    assert re.search(rf"{len(INPUTS)} inputs: {len(INPUTS)} ok;", r.stdout)
    assert "passed: every input as expected" in r.stdout
    assert "DIVERGED" not in r.stdout and "divergence" not in r.stdout


def test_a_crashing_input_expected_to_pass_is_a_regression(tmp_path):
    corpus = copy_corpus(tmp_path)
    set_fields(corpus, "generic_alias_iter_next", expected="passed",
               fails_on="none known")
    r = regress("--corpus", str(corpus))
    assert r.returncode == 1, r.stdout + r.stderr
    rows = table(r.stdout)
    assert rows["generic_alias_iter_next"] == ("passed", "crash (SIGSEGV)",
                                               "REGRESSION")
    others = {n: row[2] for n, row in rows.items()
              if n != "generic_alias_iter_next"}
    assert set(others.values()) == {"ok"}, others
    assert re.search(r"^REGRESSION generic_alias_iter_next: should pass",
                     r.stdout, re.M)
    assert "FAILED" in r.stdout


def test_a_fixed_race_that_comes_back_is_a_regression(tmp_path):
    corpus = copy_corpus(tmp_path, ["list_sort_len", "odict_copy_clear"])
    # Fixed in an earlier 3.13 release: on 3.13.5 it must pass.
    set_fields(corpus, "list_sort_len", fixed_in="3.13.2")
    r = regress("--corpus", str(corpus))
    assert r.returncode == 1, r.stdout + r.stderr
    rows = table(r.stdout)
    assert rows["list_sort_len"] == ("passed (fixed in 3.13.2)",
                                     "linearizability", "REGRESSION")
    assert rows["odict_copy_clear"][2] == "ok"
    assert "a fixed race came back" in r.stdout


def test_an_expected_failure_that_does_not_happen_is_a_mismatch(tmp_path):
    corpus = copy_corpus(tmp_path, ["list_ops_linearizable",
                                    "itertools_product_shared"])
    set_fields(corpus, "list_ops_linearizable", expected="crash (SIGSEGV)",
               fails_on="CPython 3.13.5 (free-threaded debug)")
    r = regress("--corpus", str(corpus))
    assert r.returncode == 1, r.stdout + r.stderr
    rows = table(r.stdout)
    assert rows["list_ops_linearizable"] == ("crash (SIGSEGV)", "passed",
                                             "MISMATCH")
    assert rows["itertools_product_shared"][2] == "ok"
    assert "expected failure did not happen" in r.stdout


def test_a_race_that_fails_differently_is_a_mismatch(tmp_path):
    corpus = copy_corpus(tmp_path, ["list_sort_len"])
    set_fields(corpus, "list_sort_len", expected="crash (SIGSEGV)")
    r = regress("--corpus", str(corpus), "--runs", "1")
    assert r.returncode == 1, r.stdout + r.stderr
    assert table(r.stdout)["list_sort_len"] == (
        "crash (SIGSEGV)", "linearizability", "MISMATCH")
    assert "fails differently" in r.stdout


def test_a_race_that_passes_on_an_unlisted_version_is_fixed_not_an_error(
        tmp_path):
    corpus = copy_corpus(tmp_path, ["list_ops_linearizable"])
    set_fields(corpus, "list_ops_linearizable", expected="crash",
               fails_on="CPython 3.13.1")
    r = regress("--corpus", str(corpus), "--only", "list_ops_linearizable")
    assert r.returncode == 0, r.stdout + r.stderr
    assert table(r.stdout)["list_ops_linearizable"] == ("crash", "passed",
                                                        "fixed")
    assert "add 'fixed-in:'" in r.stdout


def test_only_and_runs(tmp_path):
    r = regress("--only", "list_sort_len", "--runs", "3", "-v")
    assert r.returncode == 0, r.stdout + r.stderr
    assert list(table(r.stdout)) == ["list_sort_len"]
    runs = re.findall(r"^  list_sort_len run \d: (verdict=\S+ signal=\d+ "
                      r"hash=0x[0-9a-f]{16} steps=\d+ switches=\d+(?: diagnosis=.*)?)$",
                      r.stdout, re.M)
    assert len(runs) == 3 and len(set(runs)) == 1, runs


@pytest.mark.parametrize("make_dir", ["missing", "empty", "file", "old"])
def test_bad_cpython_dir_is_refused_before_building(tmp_path, make_dir):
    d = tmp_path / "cpython"
    if make_dir == "empty":
        d.mkdir()
        (d / "README.rst").write_text("not CPython\n")
    elif make_dir == "file":
        d.write_text("")
    elif make_dir == "old":
        for f in ("configure", "Makefile.pre.in", "Python/ceval.c"):
            (d / f).parent.mkdir(parents=True, exist_ok=True)
            (d / f).write_text("")
        (d / "Include").mkdir()
        (d / "Include" / "patchlevel.h").write_text(
            '#define PY_VERSION "3.12.4"\n')
    before = set(os.listdir(os.path.join(ROOT, "build", "regress"))) \
        if os.path.isdir(os.path.join(ROOT, "build", "regress")) else set()
    r = regress("--cpython", str(d), timeout=60)
    assert r.returncode == 2, r.stdout + r.stderr
    msg = {"missing": "no such directory", "empty": "not a CPython source tree",
           "file": "not a directory", "old": "needs 3.13 or newer"}[make_dir]
    assert msg in r.stderr
    assert r.stderr.startswith("ftfuzz regress: error: --cpython")
    after = set(os.listdir(os.path.join(ROOT, "build", "regress"))) \
        if os.path.isdir(os.path.join(ROOT, "build", "regress")) else set()
    assert after == before


def test_nonexistent_cpython_is_refused():
    r = regress("--cpython", "/nonexistent", timeout=60)
    assert r.returncode == 2
    assert "--cpython /nonexistent: no such directory" in r.stderr


@pytest.mark.parametrize("args,msg", [
    (["--runs", "0"], "--runs must be at least 1"),
    (["--no-such-flag"], "unrecognized arguments"),
    (["--only", "no_such_input"], "no no_such_input in"),
    (["--corpus", "/nonexistent"], "no such directory"),
])
def test_bad_usage(args, msg):
    r = regress(*args, timeout=60)
    assert r.returncode == 2
    assert msg in r.stderr


def test_bad_metadata_is_refused(tmp_path):
    corpus = copy_corpus(tmp_path, ["list_sort_len", "odict_copy_clear"])
    set_fields(corpus, "list_sort_len", expected="exploded")
    set_fields(corpus, "odict_copy_clear", target="fuzz_nothing")
    r = regress("--corpus", str(corpus), timeout=60)
    assert r.returncode == 2
    assert "bad regression metadata" in r.stderr
    assert "'exploded' is not a verdict" in r.stderr
    assert "target 'fuzz_nothing'" in r.stderr


def test_help():
    r = regress("--help", timeout=60)
    assert r.returncode == 0
    assert r.stdout.startswith("usage: ftfuzz regress")
    for flag in ("--cpython DIR", "--corpus DIR", "--runs N", "--only",
                 "--jobs N"):
        assert flag in r.stdout, flag
    assert "exit status" in r.stdout


# --- the rules, through scripts/regress.py's own functions --------------------

@pytest.fixture(scope="module")
def rg():
    return load_regress()


def fake_input(rg, tmp_path, **fields):
    fields.setdefault("target", "fuzz_mixed")
    (tmp_path / "x").write_bytes(b"")
    (tmp_path / "x.meta").write_text(
        "".join(f"{k.replace('_', '-')}: {v}\n" for k, v in fields.items()))
    return rg.Input(str(tmp_path), "x")


def run(rg, verdict, sig=0, h="0x0123456789abcdef"):
    return rg.Run(verdict, sig, h, 100, 3, f"verdict={verdict} signal={sig} "
                  f"hash={h} steps=100 switches=3")


def test_rules_versions(rg):
    t = rg.Tested("3.13.5", "test")
    assert t.fails_on("CPython 3.13.5 free-threaded debug (Debian python3.13 "
                      "3.13.5-2+deb13u5 source)")
    assert t.fails_on("3.13")
    assert not t.fails_on("none known")
    assert not t.fails_on("3.13.4, 3.14.0a1")
    assert not rg.Tested("3.13.5+", "t").fails_on("3.13.5")
    assert t.fixed_by("3.13.5") == "3.13.5"
    assert t.fixed_by("3.13.6, 3.14.0b3") is None
    assert rg.Tested("3.14.0b3", "t").fixed_by("3.13.6, 3.14.0b3") == "3.14.0b3"
    assert rg.Tested("3.14.0a7", "t").fixed_by("3.13.6, 3.14.0b3") is None
    assert rg.Tested("3.15.0a1", "t").fixed_by("3.13.6, 3.14.0b3") == "3.14.0b3"
    assert rg.Tested("3.13.6rc1", "t").fixed_by("3.13.6") is None
    assert rg.Tested("3.13.6+", "t").fixed_by("3.13.6") == "3.13.6"
    assert rg.Tested("3.14.0", "t").fixed_by("3.13") == "3.13"


def test_rules_commits(rg, tmp_path):
    repo = tmp_path / "repo"
    repo.mkdir()
    git = ["git", "-C", str(repo), "-c", "user.name=t", "-c", "user.email=t@t"]
    subprocess.run(git + ["init", "-q"], check=True)
    shas = []
    for i in range(2):
        (repo / "f").write_text(str(i))
        subprocess.run(git + ["add", "f"], check=True)
        subprocess.run(git + ["commit", "-qm", str(i)], check=True)
        shas.append(subprocess.run(git + ["rev-parse", "HEAD"], check=True,
                                   capture_output=True,
                                   text=True).stdout.strip())
    t = rg.Tested("3.14.0a1+", "t", commit=shas[1], git_dir=str(repo))
    assert t.fails_on(f"main at {shas[1][:9]}")
    assert not t.fails_on(f"main at {shas[0][:9]}")
    assert t.fixed_by(f"main ({shas[0][:12]})") is None   # parenthesised
    assert t.fixed_by(f"{shas[0][:12]}") == shas[0][:12]
    assert t.fixed_by("deadbeef123") is None             # not in this repo
    old = rg.Tested("3.14.0a1+", "t", commit=shas[0], git_dir=str(repo))
    assert old.fixed_by(shas[1][:10]) is None


def test_rules_statuses(rg, tmp_path):
    t = rg.Tested("3.13.5", "t")
    race = fake_input(rg, tmp_path, expected="crash (SIGSEGV)",
                      fails_on="3.13.5")
    segv, abrt = run(rg, "crash", 11), run(rg, "assertion", 6)
    passed = run(rg, "passed")
    assert rg.judge(race, t, [segv, segv], None).status == "ok"
    assert rg.judge(race, t, [abrt, abrt], None).status == "MISMATCH"
    assert rg.judge(race, t, [passed, passed], None).status == "MISMATCH"
    other = run(rg, "crash", 11, "0xfedcba9876543210")
    r = rg.judge(race, t, [segv, other], None)
    assert r.status == "DIVERGED"
    assert rg.judge(race, t, [segv, passed], None).status == "DIVERGED"
    assert rg.judge(race, t, [], "run 1: no result").status == "ERROR"

    newer = rg.Tested("3.14.0a1", "t")
    assert rg.judge(race, newer, [passed], None).status == "fixed"
    r = rg.judge(race, newer, [segv], None)
    assert r.status == "ok" and r.note and "still fails" in r.detail

    fixed = fake_input(rg, tmp_path, expected="crash", fails_on="3.13.5",
                       fixed_in="3.13.6")
    later = rg.Tested("3.13.6", "t")
    r = rg.judge(fixed, later, [passed], None)
    assert (r.status, r.expected_label) == ("ok", "passed (fixed in 3.13.6)")
    assert rg.judge(fixed, later, [abrt], None).status == "REGRESSION"
    assert rg.judge(fixed, t, [abrt], None).status == "ok"

    good = fake_input(rg, tmp_path, expected="passed", fails_on="none known")
    assert rg.judge(good, t, [passed], None).status == "ok"
    assert rg.judge(good, t, [run(rg, "hang")], None).status == "REGRESSION"

    lin = fake_input(rg, tmp_path, expected="linearizability violation")
    assert rg.judge(lin, t, [run(rg, "linearizability", 6)],
                    None).status == "ok"
