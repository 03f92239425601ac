"""The result record (include/ftfuzz/result.h) and the verdict table
(include/ftfuzz/verdicts.def): the codec round-trips, refuses what is not a
whole record of its version, and every consumer reads the one table."""
import json
import os
import re
import subprocess

import pytest

from helpers import load_regress

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
UNIT = os.path.join(ROOT, "build", "tests", "fuzz", "unit_program")
FTFUZZ = os.path.join(ROOT, "build", "bin", "ftfuzz")
VERDICTS_DEF = os.path.join(ROOT, "include", "ftfuzz", "verdicts.def")


def unit(*args, data=b""):
    r = subprocess.run([UNIT] + [str(a) for a in args], input=data,
                       capture_output=True, timeout=60)
    assert r.returncode == 0, r.stderr.decode(errors="replace")
    return r.stdout


def fmt(verdict, sig=0, status=0, hash_="0x00000000deadbeef",
        diagnosis="", finding="", buf=None):
    return unit("result-format", verdict, sig, status, hash_,
                diagnosis, *([buf] if buf else []), data=finding.encode())


def parse(text):
    return json.loads(unit("result-parse", data=text))


def table():
    rows = re.findall(r'^FTFUZZ_VERDICT_ROW\((\w+),\s*"([\w-]+)",\s*(\w+),',
                      open(VERDICTS_DEF).read(), re.M)
    assert len(rows) >= 13, rows
    return rows


@pytest.mark.parametrize("name", [r[1] for r in table()])
def test_every_verdict_round_trips_by_name(name):
    got = parse(fmt(name, sig=6, status=0))
    assert got["rc"] == 0, got
    assert got["verdict"] == name
    assert got["signal"] == 6
    assert got["hash"] == 0xdeadbeef and got["have_hash"] == 1
    assert got["steps"] == 1234 and got["switches"] == 56


def test_the_died_class_is_what_regress_calls_a_crash():
    died = {name for _, name, cls in table() if cls == "DIED"}
    assert died == {"crash", "assertion", "fatal-error", "sanitizer"}
    for _, name, _ in table():
        assert parse(fmt(name))["died"] == (name in died), name
    assert load_regress().CRASH_VERDICTS == died
    assert load_regress().VERDICTS == tuple(n for _, n, _ in table())


def test_finding_and_diagnosis_keep_their_lines():
    finding = ("==ftfuzz== FINDING: linearizability violation\n"
               "  T0: list.append(1) -> None\n\n  closest order: ...\n")
    got = parse(fmt("linearizability", sig=6, finding=finding,
                    diagnosis="negative refcount of list"))
    assert got["finding"] == finding
    assert got["diagnosis"] == "negative refcount of list"


def test_a_sanitizer_exit_has_no_hash():
    got = parse(fmt("sanitizer", status=1, hash_="-"))
    assert got["rc"] == 0 and got["have_hash"] == 0 and got["status"] == 1
    assert b"hash" not in fmt("sanitizer", status=1, hash_="-")


def test_a_huge_finding_is_cut_but_the_record_stays_whole():
    finding = "x" * 200 + "\n"
    got = parse(fmt("check", finding=finding * 2000))
    assert got["rc"] == 0, got["error"]
    assert got["verdict"] == "check"
    assert 0 < len(got["finding"]) < len(finding) * 2000
    assert set(got["finding"].splitlines()) == {"x" * 200}


@pytest.mark.parametrize("buf", [1024, 1500, 4096])
def test_a_small_buffer_drops_whole_lines_and_keeps_end(buf):
    # lines of odd lengths, so that one straddles the end of the buffer
    finding = "".join("y" * (37 * i % 301) + "\n" for i in range(1, 80))
    text = fmt("exception", sig=6, finding=finding, buf=buf)
    assert len(text) < buf and text.endswith(b"\nend\n")
    got = parse(text)
    assert got["rc"] == 0, got["error"]
    assert got["verdict"] == "exception" and got["signal"] == 6
    kept = got["finding"].splitlines()
    assert kept and all(l in finding.splitlines() for l in kept)


@pytest.mark.parametrize("text,error", [
    (b"", "not an ftfuzz result record"),
    (b"verdict passed\nend\n", "not an ftfuzz result record"),
    (b"\x00\xff garbage", "not an ftfuzz result record"),
    (b"ftfuzz-result 2\nverdict passed\nend\n",
     "a result record of version 2; this ftfuzz reads version 1"),
    (b"ftfuzz-result 1\nverdict frobbed\nend\n", "unknown verdict 'frobbed'"),
    (b"ftfuzz-result 1\nverdict crash\nsignal 11\n", "cut short"),
    (b"ftfuzz-result 1\nsignal 11\nend\n", "cut short"),
])
def test_what_is_not_a_whole_record_is_refused(text, error):
    got = parse(text)
    assert got["rc"] == -1 and got["verdict"] is None
    assert error in got["error"], got


def test_every_prefix_of_a_record_is_refused_or_whole():
    whole = fmt("assertion", sig=6, diagnosis="assertion `x` in f",
                finding="a\nb\n")
    for n in range(len(whole)):
        got = parse(whole[:n])
        # only a prefix that keeps the `end` line is the whole record
        assert got["rc"] == -1 or whole[:n].endswith(b"\nend"), (n, got)
    assert parse(whole)["rc"] == 0


@pytest.mark.parametrize("log,sig,verdict", [
    ("==1==ERROR: AddressSanitizer: heap-use-after-free", 0, "sanitizer"),
    ("runtime: ERROR: UndefinedBehaviorSanitizer: x", 0, "sanitizer"),
    ("Fatal Python error: _Py_Dealloc: x\nf.c:1: g: Assertion `a' failed.",
     6, "fatal-error"),
    ("python: Objects/x.c:1: f: Assertion `a' failed.", 6, "assertion"),
    # _PyObject_ASSERT ends in Py_FatalError
    ('Objects/x.c:1: f: Assertion "a" failed: m\nFatal Python error: '
     '_PyObject_AssertFailed: _PyObject_AssertFailed', 6, "fatal-error"),
    ("nothing said", 11, "crash"),
    ("nothing said", 0, "exit"),
])
def test_a_death_is_named_from_what_the_interpreter_said(log, sig, verdict):
    got = json.loads(unit("diagnosis-verdict", sig, data=log.encode()))
    assert got["verdict"] == verdict


@pytest.mark.parametrize("cmd", ["reseed", "search"])
def test_an_unknown_expected_verdict_is_refused_with_the_list(cmd, tmp_path):
    f = tmp_path / "in"
    f.write_bytes(b"")
    r = subprocess.run([FTFUZZ, cmd, "--expect", "crash,segfault:11", str(f)],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 2
    assert f"ftfuzz {cmd}: unknown verdict 'segfault'" in r.stderr
    for _, name, _ in table():
        assert name in r.stderr
