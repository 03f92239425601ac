"""include/ftfuzz/symbolizer.h: running llvm-symbolizer --output-style=JSON
and reading its answers, the one place the scheduler's reports, the fuzz
targets' crash reports and `ftfuzz replay` symbolize through.

build/tests/symbolizer/unit_symbolizer (ASan and UBSan) drives the header;
see its comment for the commands and the output format.
"""
import json
import os
import stat
import subprocess

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
UNIT = os.path.join(ROOT, "build", "tests", "symbolizer", "unit_symbolizer")
LLVM = "/usr/lib/llvm-19/bin/llvm-symbolizer"


def unit(*args, data="", env=None):
    if not os.path.exists(UNIT):
        pytest.fail(f"{UNIT} is missing: run 'make all' first")
    r = subprocess.run([UNIT] + [str(a) for a in args], input=data,
                       capture_output=True, text=True, timeout=120,
                       env=dict(os.environ, **(env or {})))
    assert r.returncode == 0, r.stderr
    return r.stdout


def answers(out):
    """unit_symbolizer's output: one (n, [frame, ...]) per offset."""
    lines, res = out.splitlines(), []
    while lines:
        n = int(lines.pop(0))
        frames = [tuple(lines.pop(0).split("|")) for _ in range(max(n, 0))]
        res.append((n, [(f, p, int(l), int(c)) for f, p, l, c in frames]))
    return res


def parse(text, *offsets, max_frames=8):
    return answers(unit("parse", max_frames, *offsets, data=text))


def frame(fn, file, line, col, **extra):
    d = {"Column": col, "Discriminator": 0, "FileName": file,
         "FunctionName": fn, "Line": line, "StartAddress": "",
         "StartFileName": file, "StartLine": line}
    d.update(extra)
    return d


def record(addr, *frames, module="/bin/x"):
    return json.dumps({"Address": addr, "ModuleName": module,
                       "Symbol": list(frames)}) + "\n"


GOOD = record("0x115c", frame("inl", "/src/x.c", 3, 74),
              frame("foo", "/src/x.c", 4, 51))


# --- the parser -------------------------------------------------------------

def test_inlined_frames_innermost_first_then_the_end():
    assert parse(GOOD, 0x115C, 0x115C) == [
        (2, [("inl", "/src/x.c", 3, 74), ("foo", "/src/x.c", 4, 51)]),
        (0, [])]


def test_unknown_and_error_answers_are_one_frame_with_nothing_known():
    text = (record("0x0", frame("", "", 0, 0))
            + '{"Address":"0x10","Error":{"Message":"No such file or '
              'directory"},"ModuleName":"/nonexistent"}\n'
            + record("0x20"))   # an empty "Symbol"
    assert parse(text, 0, 0x10, 0x20) == [(1, [("", "", 0, 0)])] * 3


def test_strings_escapes_and_values_it_skips():
    text = ('{"Extra":[true,false,null,-1.5e+3,{"a":[[]]},{}],'
            '"Address":"0x1","ModuleName":"/a\\"b","Symbol":[{'
            '"FunctionName":"f\\"\\\\\\/\\b\\f\\n\\r\\t\\u00e9\\ud83d\\ude00",'
            '"FileName":"/s/\u00fc.c","Line":12,"Column":0,"X":1E2}]}')
    (n, [(fn, file, line, col)]), = parse(text, 1)
    assert n == 1 and line == 12 and col == 0
    assert fn == ("f\"\\x5c/\\x08\\x0c\\x0a\\x0d\\x09"
                  "\\xc3\\xa9\\xf0\\x9f\\x98\\x80")
    assert file == "/s/\\xc3\\xbc.c"


def test_more_frames_than_room_keeps_the_outermost_last():
    text = record("0x1", *[frame(f"f{i}", "a.c", i, 1) for i in range(12)])
    (n, frames), = parse(text, 1, max_frames=4)
    assert n == 4
    assert [f[0] for f in frames] == ["f0", "f1", "f2", "f11"]


def test_long_names_are_truncated():
    text = record("0x1", frame("f" * 1000, "/" + "d" * 2000, 1, 2))
    (n, [(fn, file, _, _)]), = parse(text, 1)
    assert n == 1 and fn == "f" * 255 and file == "/" + "d" * 510


def test_an_answer_for_another_address_is_refused():
    # the answers come in the order asked: one out of step ends the reading
    assert parse(GOOD + GOOD, 0x115D, 0x115C) == [(-1, []), (-1, [])]
    assert parse(record("0x0115c", frame("f", "a", 1, 1)), 0x115C) \
        == [(-1, [])]


@pytest.mark.parametrize("text", [
    "garbage\n",
    '{"Address":"0x1"}',                               # no answer
    '{"ModuleName":"m","Symbol":[]}',                  # no address
    '{"Address":0,"Symbol":[]}',                       # address not a string
    '{"Address":"0x1","Symbol":{}}',
    '{"Address":"0x1","Symbol":[{"Line":"3"}]}',       # line not a number
    '{"Address":"0x1","Symbol":[{"Line":-3}]}',
    '{"Address":"0x1","Symbol":[{"Line":3.5}]}',
    '{"Address":"0x1","Symbol":[{"Line":03}]}',        # leading zero
    '{"Address":"0x1","Symbol":[{"Line":99999999999999999999999}]}',
    '{"Address":"0x1","Symbol":[{"Line":}]}',
    '{"Address":"0x1","Symbol":[{"FunctionName":"a\\x"}]}',   # bad escape
    '{"Address":"0x1","Symbol":[{"FunctionName":"\\u12"}]}',
    '{"Address":"0x1","Symbol":[{"FunctionName":"\\udc00"}]}',  # lone low
    '{"Address":"0x1","Symbol":[{"FunctionName":"\\ud800x"}]}',  # lone high
    '{"Address":"0x1","Symbol":[{"FunctionName":"a\tb"}]}',   # raw control
    '{"Address":"0x1","Symbol":[{"FunctionName":"a\\',
    '{"Address":"0x1","Symbol":[{},]}',                # trailing comma
    '{"Address":"0x1","Symbol":[],}',
    '{"Address":"0x1",Symbol:[]}',                     # unquoted key
    '{"Address":"0x1" "Symbol":[]}',
    '{"Address":"0x1","Symbol":[]',
    '{"Address":"0x1","Symbol":[],"X":tru}',
    '{"Address":"0x1","Symbol":[],"X":' + "[" * 20 + "]" * 20 + "}",
    '["Address","0x1"]',
])
def test_malformed_answers_are_refused(text):
    # -1, and -1 again: the caller leaves the rest unsymbolized
    assert parse(text + "\n" + GOOD, 1, 0x115C) == [(-1, []), (-1, [])]


def test_every_truncation_is_refused():
    line = GOOD.rstrip("\n")
    got = [int(n) for n in unit("prefixes", 0x115C, data=line).split()]
    # nothing yet, then malformed until the record is whole
    assert got == [0] + [-1] * (len(line) - 1) + [2]


def test_query_lines():
    assert unit("query", "/usr/lib/x.so", 16) == '21 "/usr/lib/x.so" 0x10\\x0a\n'
    # llvm-symbolizer cannot read a quote in a quoted name, nor does a
    # name too long for the buffer fit: both are asked as "?"
    assert unit("query", '/a"b', 16) == '9 "?" 0x10\\x0a\n'
    assert unit("query", "/" + "a" * 100, 16) == '9 "?" 0x10\\x0a\n'


# --- running llvm-symbolizer ------------------------------------------------

PROGRAM = r"""
#include <stdlib.h>
static inline __attribute__((always_inline)) int inl(int x)
{
    if (x > 5)
        abort();
    return x * 3;
}
__attribute__((noinline)) int foo(int x) { return inl(x) + 1; }
int main(int c, char **v) { (void)v; return foo(c); }
"""


@pytest.fixture(scope="module")
def program(tmp_path_factory):
    d = tmp_path_factory.mktemp("symbolizer")
    src = d / "p.c"
    src.write_text(PROGRAM)
    subprocess.run(["clang-19", "-g", "-O2", str(src), "-o", str(d / "p")],
                   check=True)
    nm = subprocess.run(["nm", "-S", str(d / "p")], capture_output=True,
                        text=True, check=True).stdout
    start, size = next((int(a, 16), int(s, 16)) for a, s, _, name in
                       (l.split() for l in nm.splitlines() if len(l.split()) == 4)
                       if name == "foo")
    return str(d / "p"), range(start, start + size)


def text_output(queries):
    """llvm-symbolizer's text output, which the reports parsed before:
    per address, "function" and "file:line:column" lines per frame."""
    r = subprocess.run([LLVM, "--inlining"], capture_output=True, text=True,
                       input="".join(f'"{m}" 0x{o:x}\n' for m, o in queries))
    blocks = r.stdout.split("\n\n")[:len(queries)]
    return [list(zip(b.split("\n")[0::2], b.split("\n")[1::2]))
            for b in blocks]


def test_answers_are_what_the_text_output_said(program):
    path, foo = program
    queries = [(path, o) for o in foo] + [(path, 0), (path, 0x999999),
                                          ("/nonexistent", 0x10)]
    args = [a for m, o in queries for a in (m, o)]
    got = answers(unit("run", *args))
    assert len(got) == len(queries)
    rendered = [[(f or "??", f"{p or '??'}:{l}:{c}") for f, p, l, c in frames]
                for _, frames in got]
    assert rendered == text_output(queries)
    # the inlined abort() call: inl inside foo
    assert any([f[0] for f in frames] == ["inl", "foo"] for _, frames in got)
    assert all(frames[-1][0] == "foo" for _, frames in got[:len(foo)])


def test_a_query_larger_than_a_pipe_does_not_deadlock(program):
    path, foo = program
    # ~40 bytes a line: 20000 lines are far more than a pipe holds, and
    # so are the answers
    assert unit("run-many", path, foo.start, 20000) \
        == "answered 20000 of 20000, then 0\n"


def test_without_a_symbolizer_nothing_is_symbolized(program, tmp_path):
    path, foo = program
    garbage = tmp_path / "garbage"
    garbage.write_text("#!/bin/sh\ncat >/dev/null; echo hello\n")
    garbage.chmod(garbage.stat().st_mode | stat.S_IXUSR)
    # missing, failing, exiting without reading its input (whose writes
    # would raise SIGPIPE), or answering nonsense
    for sym in ("/nonexistent", "no-such-symbolizer-on-path", "/bin/false",
                "/bin/true"):
        assert unit("run-many", path, foo.start, 20000,
                    env={"FTFUZZ_SYMBOLIZER": sym}) == "unsymbolized\n", sym
    assert answers(unit("run", path, foo.start, path, foo.start,
                        env={"FTFUZZ_SYMBOLIZER": str(garbage)})) \
        == [(-1, []), (-1, [])]
