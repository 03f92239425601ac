"""Helpers shared by the test modules (pytest puts tests/ on sys.path)."""
import os
import re

import pytest


def read_cpython_fragment(prefix):
    """The PY_* variables of the ftfuzz-cpython.mk in a CPython install."""
    mk = prefix / "ftfuzz-cpython.mk"
    if not mk.is_file():
        pytest.fail(f"{mk} is missing: CPython is not built; run "
                    "`make cpython` and then `make all` (or `make check`)")
    values = {}
    for line in mk.read_text().splitlines():
        m = re.match(r"^(PY_[A-Z_]+)\s*:=\s*(.*)$", line)
        if m:
            values[m.group(1)] = m.group(2).strip()
    return values


def regression_meta(path):
    """The `key: value` fields of a corpus/regressions .meta file."""
    fields = {}
    for line in open(path):
        m = re.match(r"^([a-z-]+): (.*)$", line)
        if m:
            fields[m.group(1)] = m.group(2).strip()
    return fields


LIMITS_DEF = os.path.join(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))), "include", "ftfuzz", "limits.def")


def limits():
    """include/ftfuzz/limits.def, the one place limits are defined, as a
    dict: name -> value."""
    found = dict((m.group(1), int(m.group(2))) for m in re.finditer(
        r"^FTFUZZ_LIMIT\((\w+),\s*(\d+),", open(LIMITS_DEF).read(), re.M))
    assert "PROG_MAX_THREADS" in found, f"cannot read {LIMITS_DEF}"
    return found


def load_regress():
    """scripts/regress.py as a module, for its rules and tables."""
    import importlib.util
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    spec = importlib.util.spec_from_file_location(
        "regress", os.path.join(root, "scripts", "regress.py"))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def families(regress_only=False):
    """The families of include/ftfuzz/families.def (every row, or those
    regression inputs may name), read by regress.py's own parser."""
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    return load_regress().read_families(
        os.path.join(root, "include", "ftfuzz", "families.def"),
        regress_only)


def died_verdicts():
    """The verdicts that killed the execution (class DIED of
    include/ftfuzz/verdicts.def), read by regress.py's own parser."""
    return load_regress().CRASH_VERDICTS
