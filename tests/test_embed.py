"""Programs that embed the fuzz variant of CPython (tests/embed/).

They are built by `make all` once `make cpython` has run; `make check` does
both.
"""

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from helpers import read_cpython_fragment

ROOT = Path(__file__).resolve().parents[1]
EMBED_DIR = ROOT / "build" / "tests" / "embed"


def fuzz_dir():
    name = "cpython-fuzz"
    if os.environ.get("SANITIZER") in ("address", "asan"):
        name += "-asan"
    return ROOT / "build" / name


def read_fragment(link):
    return read_cpython_fragment(link)


def program(name):
    read_fragment(fuzz_dir())
    path = EMBED_DIR / name
    if not path.is_file():
        pytest.fail(f"{path} is missing: run `make cpython` and then "
                    "`make all` (or `make check`)")
    return path


def run_program(name):
    env = dict(os.environ)
    # The programs use an isolated config with home set: whatever the
    # environment says about Python must not matter.
    env["PYTHONHOME"] = "/nonexistent/python-home"
    env["PYTHONPATH"] = "/nonexistent/python-path"
    return subprocess.run([str(program(name))], capture_output=True,
                          text=True, env=env, timeout=300)


def test_programs_match_the_current_build():
    v = read_fragment(fuzz_dir())
    program("smoke")
    stamp = EMBED_DIR / "py-home.txt"
    assert stamp.read_text().strip() == v["PY_HOME"], (
        "tests/embed programs were linked against another CPython build: "
        "run `make all`")


def test_smoke():
    r = run_program("smoke")
    assert r.returncode == 0, r.stdout + r.stderr
    lines = r.stdout.splitlines()
    assert lines[-1] == "smoke: ok"
    assert "free-threaded debug, threads joined" in r.stdout


def test_hook_count():
    r = run_program("hook_count")
    assert r.returncode == 0, r.stdout + r.stderr
    assert r.stdout.splitlines()[-1] == "hook_count: ok"
    m = re.search(r"(\d+) appends: (\d+) points, \d+ no-ops: (\d+) points",
                  r.stdout)
    assert m, r.stdout
    n, with_appends, loop_only = map(int, m.groups())
    assert with_appends - loop_only >= n


def nm_symbols(path):
    nm = shutil.which("llvm-nm-19") or shutil.which("nm")
    assert nm, "llvm-nm-19 not found: run `make deps`"
    r = subprocess.run([nm, str(path)], capture_output=True, text=True,
                       timeout=120)
    assert r.returncode == 0, r.stderr
    kinds = {}
    for line in r.stdout.splitlines():
        parts = line.split()
        if len(parts) >= 2 and parts[-1].startswith("ftfuzz_"):
            kinds.setdefault(parts[-1], set()).add(parts[-2])
    return kinds


def test_libpython_hook_references():
    plain = read_fragment(ROOT / "build" / "cpython-plain")
    fuzz = read_fragment(fuzz_dir())
    # plain: no hook at all.
    assert nm_symbols(plain["PY_STATIC_LIB"]) == {}
    # fuzz: libpython calls the hook but defines neither symbol (the stub
    # that CPython's own programs link is not in the archive).
    syms = nm_symbols(fuzz["PY_STATIC_LIB"])
    assert syms.get("ftfuzz_atomic_point") == {"U"}
    assert syms.get("ftfuzz_hook_active") == {"U"}
    # The build's own interpreter got the stub's definitions.
    exe = nm_symbols(fuzz["PY_PYTHON"])
    assert "T" in exe.get("ftfuzz_atomic_point", set())
    # The embedding program defines them itself.
    smoke = nm_symbols(program("smoke"))
    assert "T" in smoke.get("ftfuzz_atomic_point", set())
    assert smoke.get("ftfuzz_stub_atomic_points") is None
