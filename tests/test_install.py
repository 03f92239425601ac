"""An installed ftfuzz works outside the checkout (fuzz/cli/paths.c).

`make install PREFIX=...` into a temporary prefix, the prefix then moved
elsewhere (nothing may point back at where it was installed), and the
checkout hidden behind an empty tmpfs in a private mount namespace (what a
moved or deleted checkout looks like to the installed tool): `replay` of a
regression input, `explore` of a scenario and of a C program, `targets`
and `regress` must all still work."""
import os
import shutil
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("install")
    first, prefix = tmp / "first", tmp / "moved"
    r = subprocess.run(["make", "-C", ROOT, "--no-print-directory",
                        "install", f"PREFIX={first}"],
                       capture_output=True, text=True, timeout=1200)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    os.rename(first, prefix)
    # what the hidden checkout would otherwise provide
    shutil.copy(os.path.join(ROOT, "build", "tests", "sched", "lost_update"),
                tmp / "lost_update")
    shutil.copy(os.path.join(ROOT, "harnesses", "examples", "scenarios",
                             "odict_copy_clear.py"), tmp / "scenario.py")
    return tmp, prefix


def hidden_checkout(tmp, script):
    """Runs a shell script with the checkout replaced by an empty tmpfs."""
    return subprocess.run(
        ["unshare", "--mount", "sh", "-euc",
         f"mount -t tmpfs none '{ROOT}'\n"
         f"test ! -e '{ROOT}/Makefile'\ncd '{tmp}'\n{script}"],
        capture_output=True, text=True, timeout=900)


def test_layout(installed):
    _, prefix = installed
    assert os.access(prefix / "bin" / "ftfuzz", os.X_OK)
    assert os.access(prefix / "lib" / "ftfuzz" / "fuzz" / "fuzz_mixed",
                     os.X_OK)
    assert (prefix / "share" / "ftfuzz" / "corpus" / "regressions").is_dir()


def test_replay_and_regress_of_a_regression_input(installed):
    tmp, prefix = installed
    ftfuzz = prefix / "bin" / "ftfuzz"
    inp = prefix / "share/ftfuzz/corpus/regressions/odict_copy_clear"
    r = hidden_checkout(tmp, f"'{ftfuzz}' targets\n"
                             f"'{ftfuzz}' replay --brief '{inp}'\n"
                             f"'{ftfuzz}' regress --only odict_copy_clear")
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    assert f"{prefix}/lib/ftfuzz/fuzz/fuzz_mixed" in r.stdout
    assert "verdict=crash signal=11" in r.stdout, r.stdout
    assert "1 input: 1 ok" in r.stdout + r.stderr


def test_explore_of_a_scenario_and_of_a_c_program(installed):
    tmp, prefix = installed
    ftfuzz = prefix / "bin" / "ftfuzz"
    r = hidden_checkout(tmp, f"'{ftfuzz}' explore --quiet --iterations 300 "
                             f"--strategy pct:3 --out out1 scenario.py "
                             f"|| test $? = 1")
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    assert "explore: FAILING schedule" in r.stdout, r.stdout[-3000:]
    assert (tmp / "out1" / "explore-scenario").is_file()
    r = hidden_checkout(tmp, f"'{ftfuzz}' explore --strategy pct:3 "
                             f"--iterations 200 --out out2 -- ./lost_update "
                             f"|| test $? = 1")
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    assert "FAILING" in r.stdout and f"{ftfuzz} replay --trace" in r.stdout


def test_the_pytest_plugin_finds_the_installed_ftfuzz(installed):
    """PREFIX/share/ftfuzz/scripts/pytest/ftfuzz_pytest.py, with no
    --ftfuzz, $FTFUZZ_BIN or ftfuzz on PATH: the binary beside it."""
    tmp, prefix = installed
    plugin = prefix / "share" / "ftfuzz" / "scripts" / "pytest"
    r = hidden_checkout(tmp, f"env -u FTFUZZ_BIN PYTHONPATH='{plugin}' "
                             f"{sys.executable} -m pytest -p ftfuzz_pytest "
                             f"-p no:cacheprovider --rootdir . "
                             f"--ftfuzz-iterations 300 --ftfuzz-out out3 "
                             f"scenario.py || echo status=$?")
    assert "status=1" in r.stdout, r.stdout[-3000:] + r.stderr[-3000:]
    assert "1 failed" in r.stdout, r.stdout[-3000:]
    assert f"replay it with:\n  {prefix}/bin/ftfuzz replay {tmp}/out3/" \
        in r.stdout, r.stdout[-3000:]


def test_an_installed_copy_refuses_to_rebuild_for_another_cpython(installed):
    tmp, prefix = installed
    r = hidden_checkout(tmp, f"'{prefix}/bin/ftfuzz' regress --cpython "
                             f"'{tmp}' || echo status=$?")
    assert "status=2" in r.stdout, r.stdout + r.stderr
    assert "needs the ftfuzz checkout" in r.stderr, r.stderr
