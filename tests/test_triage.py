"""Triage: CPython's own diagnosis in replay reports, crash reports that
ClusterFuzz tells apart, and `ftfuzz triage` buckets."""
import os
import re
import subprocess

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FTFUZZ = os.path.join(ROOT, "build", "bin", "ftfuzz")
REGRESSIONS = os.path.join(ROOT, "corpus", "regressions")


def ftfuzz(*args, timeout=600, cwd=None):
    return subprocess.run([FTFUZZ, *args], capture_output=True, text=True,
                          timeout=timeout, cwd=cwd)


def regression(name):
    return os.path.join(REGRESSIONS, name)


# --- 1. CPython's diagnosis -------------------------------------------------

def test_replay_shows_the_collectors_negative_refcount(tmp_path):
    r = ftfuzz("replay", "--out", str(tmp_path),
               regression("set_iter_exhausted"))
    assert r.returncode == 0, r.stderr
    out = r.stdout
    assert ("diagnosis: negative refcount of set (found by the collector)"
            in out), out
    section = out.split("== CPython's diagnosis ==", 1)[1]
    section = section.split("== C stack", 1)[0]
    # what the interpreter printed: the failed assertion and the object dump
    assert ('gc_free_threading.c:407: update_refs: Assertion '
            '"refcount >= 0" failed') in section
    assert re.search(r"^object refcount : -\d+$", section, re.M), section
    assert "object type name: set" in section
    assert "Fatal Python error: _PyObject_AssertFailed" in section


def test_brief_line_carries_the_diagnosis_kind():
    kinds = {
        "dict_iter_exhausted": "negative refcount of dict",
        "set_iter_exhausted":
            "negative refcount of set (found by the collector)",
        "str_iter_exhausted":
            "assertion `PyUnicode_IS_COMPACT_ASCII(seq)` in "
            "unicode_ascii_iter_next",
        "bytesio_truncate_writelines":
            "fatal error _PyMem_DebugRawFree: bad trailing pad byte",
    }
    for name, kind in kinds.items():
        r = ftfuzz("replay", "--brief", "--times", "2", regression(name))
        assert r.returncode == 0, r.stderr
        lines = r.stdout.splitlines()
        assert len(set(lines)) == 1, lines
        assert lines[0].endswith(" diagnosis=" + kind), lines
    # a plain SIGSEGV: the interpreter said nothing, the line has no kind
    r = ftfuzz("replay", "--brief", regression("odict_copy_clear"))
    assert r.stdout.startswith("verdict=crash signal=11"), r.stdout
    assert "diagnosis=" not in r.stdout
