"""Every regression input replays its race: same verdict, same trace hash,
in fresh processes (twice here; tests/test_replay.py replays each 20
times through `ftfuzz replay`)."""
import os
import re
import subprocess

import pytest

from helpers import regression_meta

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
REGRESSIONS = os.path.join(ROOT, "corpus", "regressions")
INPUTS = sorted(f[:-5] for f in os.listdir(REGRESSIONS) if f.endswith(".meta"))


def meta(name):
    return regression_meta(os.path.join(REGRESSIONS, name + ".meta"))


def test_there_are_regression_inputs():
    assert INPUTS


@pytest.mark.parametrize("name", INPUTS)
def test_regression_replays_identically(name):
    m = meta(name)
    target = os.path.join(ROOT, "build", "fuzz", m["target"])
    path = os.path.join(REGRESSIONS, name)
    assert os.path.exists(path), f"{name}: the input itself is missing"
    results = set()
    for _ in range(2):
        r = subprocess.run([target, path], capture_output=True, text=True,
                           timeout=300,
                           env=dict(os.environ, FTFUZZ_PRINT_HASH="1"))
        crash = re.search(r"==ftfuzz== crash during an execution: signal "
                          r"(\d+), step (\d+), switches (\d+), trace hash "
                          r"(0x[0-9a-f]{16})", r.stderr)
        if m["expected"].startswith("linearizability"):
            assert r.returncode != 0, f"{name} no longer fails"
            assert "FINDING: linearizability violation" in r.stderr
            assert crash, r.stderr[-2000:]
            results.add(crash.groups())
        elif m["expected"].startswith("crash"):
            assert r.returncode != 0, f"{name} no longer crashes"
            assert crash, r.stderr[-2000:]
            if "SIGSEGV" in m["expected"]:
                # The forked execution's stack, as a sanitizer prints it,
                # before the parent's abort (docs/oss-fuzz.md).
                assert re.search(r"ERROR: libFuzzer: deadly signal\n"
                                 r"    #0 0x[0-9a-f]+ in \w+ ", r.stderr)
                assert "execution's thread that got signal 11" in r.stderr
            results.add(crash.groups())
        else:
            assert r.returncode == 0, r.stderr[-2000:]
            got = re.search(r"trace hash (0x[0-9a-f]{16})", r.stderr)
            results.add(("0", "", "", got.group(1)))
    assert len(results) <= 1, f"{name} replayed differently: {results}"
    # The .meta trace hash is that of the build that found the input: a
    # rebuilt harness lays memory out differently, which moves CPython's
    # step counts a little, so only the verdict carries across builds.
    if results:
        (sig, _, _, _), = results
        if "SIGSEGV" in m["expected"]:
            assert sig == "11"
