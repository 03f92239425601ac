"""Triage: CPython's own diagnosis in replay reports, crash reports that
ClusterFuzz tells apart, and `ftfuzz triage` buckets."""
import os
import re
import subprocess

import pytest

from helpers import died_verdicts

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


def test_replay_shows_the_refcount_history_up_to_below_zero(tmp_path):
    # the set's count, watched in a second replay: both threads' decrefs
    # in setiter_iternext (the race), then the merge that takes it below
    # zero, which the collector finds later
    r = ftfuzz("replay", "--out", str(tmp_path),
               regression("set_iter_exhausted"))
    assert r.returncode == 0, r.stderr
    assert "did not replay the same execution" not in r.stderr
    unwatched = re.search(r"^== reference count of the object at 0x[0-9a-f]+ "
                          r"\(set\): not watched: (.*) ==$", r.stdout, re.M)
    if unwatched and "do not fire on this machine" in unwatched.group(1):
        # the harness's probe write counted nothing: the report says so
        pytest.skip("no history to check: " + unwatched.group(1))
    head = re.search(r"^== reference count of the object at (0x[0-9a-f]+) "
                     r"\(set\): (\d+) writes seen, up to the one that took "
                     r"it below zero ==$", r.stdout, re.M)
    assert head, r.stdout
    # the object CPython dumped
    assert "object address  : " + head.group(1) in r.stdout
    section = r.stdout[head.end():].split("\n\n", 1)[0]
    rows = section.strip().splitlines()[1:]
    decrefs = [l for l in rows if "setiter_iternext Objects/setobject.c"
               in l]
    threads = {l.split()[1] for l in decrefs}
    assert threads == {"thread_0", "thread_1"}, section
    assert any("sorted(o0)" in l for l in decrefs)
    assert any("set(o0)" in l for l in decrefs)
    # ... ending at the write that took the count below zero
    assert rows[-1].endswith("<- below zero"), section
    assert int(rows[-1].split()[2]) < 0
    assert all(int(l.split()[2]) >= 0 for l in rows[:-1]), section
    # and on the timeline, one mark per write shown
    svg = (tmp_path / "timeline.svg").read_text()
    assert svg.count("reference count") == len(rows)


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


# --- 2. crash states the ClusterFuzz way ------------------------------------
#
# A minimal re-implementation of ClusterFuzz's stack parser
# (google/clusterfuzz src/clusterfuzz/stacktraces/__init__.py, StackParser
# .parse, and constants.py), only the rules a fuzz target's output meets:
# - an output containing '.py", line' is a Python stack: only the part after
#   "=== Uncaught Python exception: ===" is read (reverse_python_stacktrace),
#   which our outputs lack, so such an output would give no state at all;
# - assertion lines (ASSERT_REGEX, ASSERT_REGEX_GLIBC,
#   ASSERT_REGEX_GLIBC_SUFFIXED) set the type ASSERT and the state to the
#   assertion text, counting as the first of MAX_CRASH_STATE_FRAMES = 3;
# - a sanitizer's "ERROR: XSanitizer: ... on address" (SAN_ADDR_REGEX) resets
#   the state; "ERROR: libFuzzer: deadly signal" does so only while no crash
#   type is set;
# - once a type is set, each "#N 0x... in FUNC ..." frame (SAN_STACK_FRAME_
#   REGEX) adds FUNC unless an ignore regex (STACK_FRAME_IGNORE_REGEXES,
#   a subset below) matches it, until 3 frames;
# - numbers and addresses in the state are normalized
#   (filter_addresses_and_numbers).
ASSERT_REGEX = re.compile(
    r"(?:\[.*?\]|.*\.(?:c|cc|cpp|cxx|h|hh|hpp|hxx):.*)?"
    r"\s*(?:ASSERT(?:ION)? FAIL(?:URE|ED)|panic): (.*)", re.I)
ASSERT_REGEX_GLIBC = re.compile(
    r".*:\s*assertion [`'\"]?(.*?)[`'\"]? failed\.?$", re.I)
ASSERT_REGEX_GLIBC_SUFFIXED = re.compile(
    r".*\S.*\/.*:\d+:\s*assertion .* failed:\s*(\S.*)", re.I)
SAN_ADDR_REGEX = re.compile(r".*(ERROR: [a-zA-Z]+Sanitizer)[: ]*(.*) on "
                            r"(unknown address |address |)([xX0-9a-fA-F]+)")
DEADLY_SIGNAL = re.compile(r".*ERROR:\s*libFuzzer:\s*deadly signal")
FRAME = re.compile(r"\s*#(\d+)\s+([xX0-9a-fA-F]+)\s+in\s+(.*)")
IGNORE = re.compile("(" + "|".join([
    r"^abort$", r"^exit$", r"^pthread_kill$", r"^raise$", r"^tgkill$",
    r"^__GI_", r"^__asan::", r"^__asan_", r"^__assert_", r"^__libc_",
    r"^__pthread_kill", r"^__sanitizer::", r"^__sanitizer_", r"^_start",
    r"^abort", r"^calloc", r"^free", r"^fuzzer::", r"^gsignal", r"^main",
    r"^malloc", r"^realloc", r"^LLVMFuzzerTestOneInput", r".*assert",
    r".*libpthread", r".*/glibc\-", r".*/libc/",
]) + ")")


def clusterfuzz_state(output):
    if '.py", line' in output:
        return "", ""
    ctype, state, frames = "", [], 0
    for line in output.splitlines():
        for rx in (ASSERT_REGEX, ASSERT_REGEX_GLIBC,
                   ASSERT_REGEX_GLIBC_SUFFIXED):
            m = rx.match(line)
            if m:
                ctype, state, frames = "ASSERT", [m.group(1)], 1
        m = SAN_ADDR_REGEX.match(line)
        if m:
            ctype, state, frames = m.group(2), [], 0
            continue
        if not ctype and DEADLY_SIGNAL.match(line):
            ctype, state, frames = "Fatal-signal", [], 0
            continue
        m = FRAME.match(line)
        if ctype and m and frames < 3:
            # the ignore regexes see "FUNC FILE:LINE:COL", as there
            frame = m.group(3).strip()
            if IGNORE.match(frame):
                continue
            # _filter_stack_frame: the function, before '(' or ' '
            state.append(re.split(r"[ (\[]", frame, 1)[0])
            frames += 1
    text = "\n".join(state)
    text = re.sub(r"0x[0-9a-fA-F]+", "NUMBER", text)
    return ctype, re.sub(r"\b\d+\b", "NUMBER", text)


def regression_inputs():
    for name in sorted(os.listdir(REGRESSIONS)):
        if not name.endswith(".meta"):
            continue
        fields = dict(l.split(": ", 1) for l in
                      open(os.path.join(REGRESSIONS, name)).read().splitlines()
                      if re.match(r"^[a-z-]+: ", l))
        if fields["expected"].startswith("crash") or \
                fields["expected"] in died_verdicts():
            yield name[:-5], fields["target"]


def test_regressions_get_distinct_clusterfuzz_crash_states():
    states = {}
    for name, target in regression_inputs():
        # the target run as ClusterFuzz runs it on a testcase
        r = subprocess.run([os.path.join(ROOT, "build", "fuzz", target),
                            regression(name)], capture_output=True,
                           text=True, errors="replace", timeout=300)
        if r.returncode == 0:
            # lost its interleaving on this build (ftfuzz regress says
            # so; a rebuild can move the steps): nothing to parse
            print(f"{name}: no crash on this build")
            continue
        # the child's own stack, not the parent's abort, comes first
        assert "ERROR: libFuzzer: deadly signal\n" in r.stderr, name
        ctype, state = clusterfuzz_state(r.stderr)
        print(f"{name}: {ctype}: {state!r}")
        assert ctype and state.count("\n") == 2, (name, ctype, state)
        assert "harness_run_forked" not in state, (name, state)
        states.setdefault((ctype, state), []).append(name)
    # every regression input here is a different race
    assert all(len(v) == 1 for v in states.values()), states
    assert len(states) >= 10


def test_a_crash_report_without_a_symbolizer_has_unsymbolized_frames():
    # the fork-server parent cannot run FTFUZZ_SYMBOLIZER: the report is
    # still there, its frames "#N 0xPC (MODULE+0xOFFSET)" for ClusterFuzz
    # to symbolize
    for name, target in regression_inputs():
        r = subprocess.run([os.path.join(ROOT, "build", "fuzz", target),
                            regression(name)], capture_output=True,
                           text=True, errors="replace", timeout=300,
                           env=dict(os.environ,
                                    FTFUZZ_SYMBOLIZER="/nonexistent"))
        if r.returncode != 0:
            break
    else:
        pytest.fail("no regression input crashes on this build")
    child = r.stderr.split("ERROR: libFuzzer: deadly signal\n", 1)[1]
    child = child.split("==ftfuzz== the report above", 1)[0]
    frames = [l for l in child.splitlines() if l.startswith("    #")]
    assert len(frames) >= 3, r.stderr[-3000:]
    for k, line in enumerate(frames):
        assert re.fullmatch(rf"    #{k} 0x[0-9a-f]+ \(\S+\+0x[0-9a-f]+\)",
                            line), (name, line)


# --- 3. ftfuzz triage -------------------------------------------------------

def read_tsv(path):
    lines = open(path).read().splitlines()
    head = lines[0].split("\t")
    return [dict(zip(head, l.split("\t"))) for l in lines[1:]]


def test_short_campaign_then_triage(tmp_path):
    # two known races among the findings, as a campaign saves them: the
    # set's count broken through a set iterator (found late, by the
    # collector) and the generic-alias iterator's use-after-free.  Which
    # races the short campaign itself finds varies (it did between two runs
    # of one build here), so the assertions hold for any.
    out = tmp_path / "fuzz_mixed"
    out.mkdir()
    for name in ("set_iter_exhausted", "generic_alias_iter_next"):
        data = open(regression(name), "rb").read()
        (out / ("crash-known-" + name)).write_bytes(data)
    r = ftfuzz("fuzz", "--runs", "400", "--seed", "1", "--out",
               str(tmp_path), "mixed", timeout=900)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    found = [p.name for p in out.glob("crash-*")
             if "." not in p.name and "known" not in p.name]
    # the summary at the end of the campaign is the triage table
    assert re.search(r"^triage: \d+ findings in \d+ buckets", r.stdout,
                     re.M), r.stdout[-3000:]
    assert re.search(r"^bucket +count +verdict +signature +representative "
                     r"+known-as$", r.stdout, re.M)
    r = ftfuzz("triage", str(out))
    assert r.returncode == 0, r.stderr
    crashes = found + ["crash-known-set_iter_exhausted",
                       "crash-known-generic_alias_iter_next"]
    rows = read_tsv(out / "triage.tsv")
    # each bucket has one signature, each finding one bucket
    assert len({b["signature"] for b in rows}) == len(rows)
    assert sum(int(b["count"]) for b in rows) == len(crashes)
    for b in rows:
        assert os.path.basename(b["representative"]) in crashes
        assert b["signature"].startswith(b["verdict"] + " | ")
        assert re.search(r"^%s +%s +" % (b["bucket"], b["count"]),
                         r.stdout, re.M), r.stdout
    by_sig = {b["signature"]: b for b in rows}
    gc = by_sig.get("fatal-error:6 | negative refcount of set (found by "
                    "the collector) | via set_iterator")
    assert gc and gc["known-as"] == "set_iter_exhausted", by_sig
    ga = by_sig.get("crash:11 | - | ga_iternext")
    assert ga and ga["known-as"] == "generic_alias_iter_next", by_sig
    # --promote: the bucket's representative and a .meta, in a corpus of
    # our own (corpus/regressions stays as it is)
    reg = tmp_path / "regressions"
    reg.mkdir()
    bucket = gc["bucket"]
    r = ftfuzz("triage", "--promote", bucket, "--regressions", str(reg),
               "set_iter_again", str(out))
    assert r.returncode == 0, r.stderr
    assert "already in the corpus as set_iter_exhausted" in r.stderr
    meta = (reg / "set_iter_again.meta").read_text()
    assert "target: fuzz_mixed\n" in meta
    assert "expected: fatal-error\n" in meta
    assert ("diagnosis: negative refcount of set (found by the collector)\n"
            in meta)
    assert "signature: " + gc["signature"] + "\n" in meta
    r = ftfuzz("replay", "--brief", str(reg / "set_iter_again"))
    assert r.stdout.startswith("verdict=fatal-error"), r.stdout
    # and `ftfuzz regress` takes the new input as it is
    r = ftfuzz("regress", "--corpus", str(reg))
    assert r.returncode == 0, r.stdout + r.stderr
    assert re.search(r"^set_iter_again .* ok", r.stdout, re.M), r.stdout
    # the same name twice, or an unknown bucket: refused
    r = ftfuzz("triage", "--promote", bucket, "--regressions", str(reg),
               "set_iter_again", str(out))
    assert r.returncode == 2 and "already exists" in r.stderr
    r = ftfuzz("triage", "--promote", "99", "--regressions", str(reg),
               "x", str(out))
    assert r.returncode == 2 and "no bucket 99" in r.stderr


def test_triage_usage_errors(tmp_path):
    r = ftfuzz("triage")
    assert r.returncode == 2 and "give one findings DIR" in r.stderr
    r = ftfuzz("triage", str(tmp_path))
    assert r.returncode == 2 and "give --target" in r.stderr
    r = ftfuzz("triage", "--promote", "1", "x", str(tmp_path))
    assert r.returncode == 2 and "triage.tsv" in r.stderr
