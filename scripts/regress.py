#!/usr/bin/python3
"""ftfuzz regress: replay the regression corpus against a CPython build.

Builds the fuzz variant of the given CPython checkout (cached by
scripts/build-cpython.sh) and the fuzz targets against it, replays every
input of corpus/regressions/ a few times with `ftfuzz replay --brief`, and
compares each verdict with the one the input's .meta file expects for that
CPython version.  docs/regress.md describes the statuses and the metadata.

Exit status: 0 every input behaved as expected; 1 a regression, a mismatch
or a divergence; 2 bad usage, a build that failed, or an input that could
not be replayed.  Python 3 standard library only.
"""
import argparse
import concurrent.futures
import fcntl
import glob
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# `ftfuzz regress` says which ftfuzz and targets it is (an installed one
# has them outside ROOT); run directly, the checkout's
FTFUZZ = os.environ.get("FTFUZZ_SELF") or os.path.join(ROOT, "build", "bin",
                                                       "ftfuzz")
BUILD_CPYTHON = os.path.join(ROOT, "scripts", "build-cpython.sh")
DEFAULT_CORPUS = os.path.join(ROOT, "corpus", "regressions")
DEFAULT_TARGETS = os.environ.get("FTFUZZ_TARGETS_DIR") or os.path.join(
    ROOT, "build", "fuzz")
DEFAULT_CPYTHON = os.path.join(ROOT, "build", "cpython-fuzz")
REGRESS_BUILD = os.path.join(ROOT, "build", "regress")

# not fuzz_spec: it needs a user's spec, and no regression input has one
def read_families(path, regress_only=True):
    """The families of include/ftfuzz/families.def, in its order: those
    whose targets regression inputs may name (regress 1), or all."""
    try:
        text = open(path).read()
    except OSError as e:
        sys.exit(f"ftfuzz regress: cannot read {path}: {e.strerror}")
    return tuple(m.group(1) for m in re.finditer(
        r"^FTFUZZ_FAMILY_ROW\(\w+,\s*(\w+),\s*([01]),", text, re.M)
        if m.group(2) == "1" or not regress_only)


FAMILIES = read_families(os.path.join(ROOT, "include", "ftfuzz",
                                      "families.def"))
TARGETS = tuple("fuzz_" + f for f in FAMILIES)

def read_verdicts(path):
    """The verdicts `ftfuzz replay --brief` can say, and those that killed
    the execution (what a .meta's "crash" stands for): the rows of
    include/ftfuzz/verdicts.def, NAME, "name", class."""
    try:
        text = open(path).read()
    except OSError as e:
        sys.exit(f"ftfuzz regress: cannot read {path}: {e.strerror}")
    rows = re.findall(r'^FTFUZZ_VERDICT_ROW\(\w+,\s*"([\w-]+)",\s*(\w+),',
                      text, re.M)
    if not rows:
        sys.exit(f"ftfuzz regress: no verdicts in {path}")
    return (tuple(name for name, _ in rows),
            frozenset(name for name, cls in rows if cls == "DIED"))


VERDICTS, CRASH_VERDICTS = read_verdicts(
    os.path.join(ROOT, "include", "ftfuzz", "verdicts.def"))

REPLAY_TIMEOUT = 600   # seconds; the harness's own watchdog is 10 s

# Statuses, and which of them fail the check.
OK, MOVED, FIXED = "ok", "ok (moved)", "fixed"
REGRESSION, MISMATCH, DIVERGED, ERROR = ("REGRESSION", "MISMATCH",
                                         "DIVERGED", "ERROR")
BAD = (REGRESSION, MISMATCH, DIVERGED)

_HELD = []     # open lock files, held until exit


class Fatal(Exception):
    """Stop with a message and exit status 2."""


def say(msg):
    print(f"regress: {msg}", flush=True)


def rel(path):
    """A path relative to the repository when it is inside it."""
    p = os.path.abspath(path)
    return os.path.relpath(p, ROOT) if p.startswith(ROOT + os.sep) else p


# --- versions ---------------------------------------------------------------

VERSION_RE = re.compile(
    r"(?P<major>\d+)\.(?P<minor>\d+)(?:\.(?P<micro>\d+)"
    r"(?:(?P<level>a|b|rc)(?P<serial>\d+))?(?P<plus>\+)?)?")
COMMIT_RE = re.compile(r"[0-9a-f]{7,40}")
LEVELS = {"a": 0, "b": 1, "rc": 2, None: 3}


class Version:
    """A CPython version as PY_VERSION writes it: 3.13.5, 3.14.0b2,
    3.13.5+ (a development tree after 3.13.5); or a series, 3.13."""

    def __init__(self, text):
        m = VERSION_RE.fullmatch(text)
        if not m:
            raise ValueError(text)
        self.text = text
        self.series = (int(m["major"]), int(m["minor"]))
        self.is_series = m["micro"] is None
        if self.is_series:
            self.key = self.series + (0, 0, 0, 0)
        else:
            self.key = self.series + (int(m["micro"]), LEVELS[m["level"]],
                                      int(m["serial"] or 0),
                                      1 if m["plus"] else 0)

    def __repr__(self):
        return self.text


def spec_tokens(text):
    """The versions and commits named in a fails-on or fixed-in value.
    Parenthesised text is commentary; other words are ignored."""
    text = text or ""
    while True:
        stripped = re.sub(r"\([^()]*\)", " ", text)
        if stripped == text:
            break
        text = stripped
    versions, commits = [], []
    for tok in re.split(r"[\s,;]+", text):
        tok = tok.strip(".:")
        if VERSION_RE.fullmatch(tok):
            versions.append(Version(tok))
        elif COMMIT_RE.fullmatch(tok) and re.search(r"\d", tok):
            commits.append(tok)
    return versions, commits


class Tested:
    """The CPython under test: its version and, for a git checkout, its
    commit."""

    def __init__(self, version, description, commit=None, git_dir=None,
                 modified=False):
        self.version = Version(version)
        self.description = description
        self.commit = commit          # full hash, or None
        self.git_dir = git_dir
        self.modified = modified

    @property
    def name(self):
        s = f"CPython {self.version.text}"
        if self.commit:
            s += f" at {self.commit[:10]}"
            if self.modified:
                s += " (modified)"
        return s

    def is_ancestor(self, commit):
        """Is `commit` in this checkout's history (None: unknown here)?"""
        if not (self.git_dir and self.commit):
            return None
        r = subprocess.run(["git", "-C", self.git_dir, "merge-base",
                            "--is-ancestor", commit, self.commit],
                           capture_output=True)
        if r.returncode in (0, 1):
            return r.returncode == 0
        return None

    def fails_on(self, spec):
        """Does a fails-on value name this version or commit?"""
        versions, commits = spec_tokens(spec)
        for v in versions:
            if v.is_series and v.series == self.version.series:
                return True
            if not v.is_series and v.key == self.version.key:
                return True
        return bool(self.commit) and any(self.commit.startswith(c)
                                         for c in commits)

    def fixed_by(self, spec):
        """The fixed-in entry that covers this version or commit, or None.
        A version covers later versions of its series, and every later
        series unless that series is listed too; a commit covers the
        checkouts that contain it."""
        versions, commits = spec_tokens(spec)
        for c in commits:
            if self.is_ancestor(c):
                return c
        mine = self.version
        listed = {v.series for v in versions}
        for v in versions:
            if v.series == mine.series and mine.key >= v.key:
                return v.text
        if listed and mine.series > max(listed):
            return max(versions, key=lambda v: v.key).text
        return None


def patchlevel_version(path):
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            m = re.search(r'^#define\s+PY_VERSION\s+"([^"]+)"', f.read(),
                          re.M)
    except OSError:
        return None
    return m.group(1) if m else None


def default_cpython():
    """The project's default fuzz CPython (build/cpython-fuzz)."""
    prefix = os.path.realpath(DEFAULT_CPYTHON)
    mk = os.path.join(prefix, "ftfuzz-cpython.mk")
    if not os.path.isfile(mk):
        raise Fatal(f"{rel(DEFAULT_CPYTHON)} is not built: run 'make cpython "
                    f"all' in {ROOT} (or 'make regress', which does)")
    found = glob.glob(os.path.join(prefix, "include", "python3*",
                                   "patchlevel.h"))
    version = patchlevel_version(found[0]) if found else None
    source = "the default CPython"
    with open(mk, encoding="utf-8") as f:
        for line in f:
            m = re.match(r"^# Source: (.*)$", line)
            if m:
                source = m.group(1).strip()
            m = re.match(r"^PY_FULL_VERSION\s*:=\s*(\S+)", line)
            if m and not version:
                version = m.group(1)
    if not version:
        raise Fatal(f"cannot tell the version of {prefix}")
    return Tested(version, f"{source}; {rel(DEFAULT_CPYTHON)} -> {prefix}")


def user_cpython(src):
    """Check that `src` is a CPython source tree; describe it."""
    if not os.path.exists(src):
        raise Fatal(f"--cpython {src}: no such directory")
    if not os.path.isdir(src):
        raise Fatal(f"--cpython {src}: not a directory")
    missing = [f for f in ("configure", "Makefile.pre.in",
                           os.path.join("Include", "patchlevel.h"),
                           os.path.join("Python", "ceval.c"))
               if not os.path.isfile(os.path.join(src, f))]
    if missing:
        raise Fatal(f"--cpython {src} is not a CPython source tree (no "
                    f"{', '.join(missing)}): point it at a CPython checkout "
                    "or an unpacked release")
    version = patchlevel_version(os.path.join(src, "Include", "patchlevel.h"))
    if not version or not VERSION_RE.fullmatch(version):
        raise Fatal(f"--cpython {src}: cannot read PY_VERSION from "
                    "Include/patchlevel.h")
    if Version(version).series < (3, 13):
        raise Fatal(f"--cpython {src} is CPython {version}: ftfuzz needs 3.13 "
                    "or newer (the first release with a free-threaded build)")
    src = os.path.realpath(src)
    commit, modified, git_dir = None, False, None
    r = subprocess.run(["git", "-C", src, "rev-parse", "--show-toplevel",
                        "HEAD"], capture_output=True, text=True)
    lines = r.stdout.split()
    if r.returncode == 0 and len(lines) == 2 \
            and os.path.realpath(lines[0]) == src:
        git_dir, commit = src, lines[1]
        modified = subprocess.run(["git", "-C", src, "diff", "--quiet",
                                   "HEAD"], capture_output=True).returncode != 0
        desc = f"git checkout {src}"
    else:
        desc = f"directory {src}"
    return Tested(version, desc, commit, git_dir, modified)


# --- building ----------------------------------------------------------------

def clean_env():
    """The environment for builds: no make state from a calling make, no
    variables that would make build-cpython.sh build something else."""
    env = dict(os.environ)
    for name in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL", "MAKEOVERRIDES",
                 "SANITIZER", "CPYTHON_SRC", "JOBS"):
        env.pop(name, None)
    return env


def build(src, jobs):
    """Build the fuzz CPython of `src` and the fuzz targets against it.
    Returns the directory holding the targets."""
    env = clean_env()
    base = [BUILD_CPYTHON, "--variant", "fuzz", "--src", src]
    r = subprocess.run(base + ["--print-key"], capture_output=True, text=True,
                       env=env)
    if r.returncode != 0 or not r.stdout.strip():
        sys.stderr.write(r.stderr)
        raise Fatal("scripts/build-cpython.sh --print-key failed (above)")
    key = os.path.basename(r.stdout.strip())
    out = os.path.join(REGRESS_BUILD, key)
    os.makedirs(out, exist_ok=True)
    # Two regress runs on one tree share the directory: one at a time.
    lock = open(os.path.join(out, ".lock"), "w")
    _HELD.append(lock)
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        say(f"another regress run is building in {rel(out)}: waiting")
        fcntl.flock(lock, fcntl.LOCK_EX)

    t0 = time.monotonic()
    say(f"[1/3] CPython: scripts/build-cpython.sh --variant fuzz --src {src} "
        f"(cached by source hash; a cold build takes about 6 minutes on 2 "
        f"idle cores)")
    r = subprocess.run(base + ["--link-dir", out, "--jobs", str(jobs)],
                       env=env, stdout=sys.stdout, stderr=sys.stderr)
    if r.returncode != 0:
        raise Fatal(f"building CPython from {src} failed (output above)")
    say(f"      done in {time.monotonic() - t0:.0f} s")

    # The project's own Makefile with another build directory: the
    # scheduler, the program library and the harness are built again there
    # and linked against that interpreter; build/ itself is not touched.
    t0 = time.monotonic()
    targets_dir = os.path.join(out, "fuzz")
    log = os.path.join(out, "make.log")
    cmd = ["make", "-C", ROOT, "--no-print-directory", f"-j{jobs}",
           f"BUILD={out}", f"CPYTHON_FUZZ_DIR={os.path.join(out, 'cpython-fuzz')}"]
    cmd += [os.path.join(targets_dir, t) for t in TARGETS]
    say(f"[2/3] fuzz targets: the {len(TARGETS)} harnesses against it into "
        f"{rel(targets_dir)}/ (log: {rel(log)})")
    with open(log, "w") as f:
        f.write("$ " + " ".join(shlex.quote(c) for c in cmd) + "\n")
        f.flush()
        r = subprocess.run(cmd, env=env, stdout=f, stderr=subprocess.STDOUT)
    if r.returncode != 0:
        with open(log, errors="replace") as f:
            tail = f.readlines()[-30:]
        sys.stderr.write("----- last lines of %s -----\n%s-----\n"
                         % (log, "".join(tail)))
        raise Fatal(f"building the fuzz targets failed (log: {log})")
    missing = [t for t in TARGETS
               if not os.access(os.path.join(targets_dir, t), os.X_OK)]
    if missing:
        raise Fatal(f"make left no {', '.join(missing)} in {targets_dir} "
                    f"(log: {log})")
    say(f"      done in {time.monotonic() - t0:.0f} s")
    return targets_dir


# --- the corpus ---------------------------------------------------------------

def read_meta(path):
    """`key: value` lines; an indented line continues the previous value."""
    fields, last = {}, None
    with open(path, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            line = line.rstrip("\n")
            if not line.strip():
                continue
            if line[0] in " \t" and last:
                fields[last] += " " + line.strip()
                continue
            m = re.match(r"^([a-z][a-z0-9-]*):(?:\s+(.*))?$", line)
            if not m:
                raise ValueError(f"{path}:{n}: not a 'key: value' line")
            last = m.group(1)
            fields[last] = (m.group(2) or "").strip()
    return fields


class Expected:
    """An expected verdict from a .meta `expected:` value:
    passed, crash [(SIGNAME ...)], linearizability [violation], or any
    verdict name of `ftfuzz replay --brief`."""

    def __init__(self, text):
        self.text = text
        t = text.strip()
        m = re.match(r"^([A-Za-z-]+)(?:\s+violation)?\s*(?:\((.*)\))?\s*$",
                     t, re.S)
        if not m:
            raise ValueError(f"expected: '{text}' is not a verdict")
        word, detail = m.group(1).lower(), m.group(2) or ""
        self.signal = None
        if word in ("passed", "pass", "passes"):
            self.verdicts, self.label = frozenset({"passed"}), "passed"
        elif word == "crash":
            self.verdicts, self.label = CRASH_VERDICTS, "crash"
            sig = re.search(r"\bSIG[A-Z]+\b", detail)
            if sig:
                try:
                    self.signal = int(signal.Signals[sig.group(0)])
                except KeyError:
                    raise ValueError(f"expected: unknown signal "
                                     f"{sig.group(0)}") from None
                self.label = f"crash ({sig.group(0)})"
        elif word in VERDICTS:
            self.verdicts, self.label = frozenset({word}), word
        else:
            raise ValueError(f"expected: '{text}' is not a verdict (passed, "
                             f"crash, crash (SIGSEGV), linearizability "
                             f"violation, "
                             f"{', '.join(v for v in VERDICTS if v not in ('passed', 'crash'))})")

    @property
    def passes(self):
        return self.verdicts == {"passed"}

    def matches(self, run):
        if run.verdict not in self.verdicts:
            return False
        return self.signal is None or run.signal == self.signal


class Input:
    def __init__(self, corpus, name):
        self.name = name
        self.path = os.path.join(corpus, name)
        self.meta_path = self.path + ".meta"
        self.meta = read_meta(self.meta_path)
        for field in ("target", "expected"):
            if not self.meta.get(field):
                raise ValueError(f"{self.meta_path}: no '{field}:' line")
        self.target = self.meta["target"]
        if self.target not in TARGETS:
            raise ValueError(f"{self.meta_path}: target '{self.target}' is "
                             f"not one of {', '.join(TARGETS)}")
        self.expected = Expected(self.meta["expected"])
        if not os.path.isfile(self.path):
            raise ValueError(f"{self.meta_path}: the input {self.path} is "
                             "missing")


def load_corpus(corpus, only):
    if not os.path.isdir(corpus):
        raise Fatal(f"--corpus {corpus}: no such directory")
    names = sorted(f[:-5] for f in os.listdir(corpus) if f.endswith(".meta"))
    if only:
        unknown = [n for n in only if n not in names]
        if unknown:
            raise Fatal(f"--only: no {', '.join(unknown)} in {corpus} "
                        f"(inputs: {', '.join(names)})")
        names = [n for n in names if n in only]
    problems, inputs = [], []
    for n in names:
        try:
            inputs.append(Input(corpus, n))
        except (ValueError, OSError) as e:
            problems.append(str(e))
    if problems:
        raise Fatal("bad regression metadata:\n  " + "\n  ".join(problems))
    if not inputs:
        raise Fatal(f"no regression inputs (*.meta) in {corpus}")
    return inputs


# --- replaying -----------------------------------------------------------------

class Run:
    def __init__(self, verdict, signal_, hash_, steps, switches, line):
        self.verdict, self.signal, self.hash = verdict, signal_, hash_
        self.steps, self.switches, self.line = steps, switches, line

    @property
    def identity(self):
        return (self.verdict, self.signal, self.hash)


class ReplayError(Exception):
    pass


BRIEF_RE = re.compile(
    r"^verdict=(?P<verdict>[a-z-]+) signal=(?P<signal>\d+) "
    r"hash=(?P<hash>0x[0-9a-f]{16}) steps=(?P<steps>\d+) "
    r"switches=(?P<switches>\d+)(?: diagnosis=(?P<diagnosis>.*))?$")


def replay(inp, targets_dir):
    """One replay of an input with `ftfuzz replay --brief`."""
    cmd = [FTFUZZ, "replay", "--brief", "--targets-dir", targets_dir,
           "--target", inp.target, inp.path]
    try:
        r = subprocess.run(cmd, capture_output=True, text=True,
                           errors="replace", timeout=REPLAY_TIMEOUT)
    except subprocess.TimeoutExpired:
        raise ReplayError(f"no result after {REPLAY_TIMEOUT} s") from None
    lines = [l for l in r.stdout.splitlines() if l.strip()]
    if r.returncode != 0 or len(lines) != 1:
        tail = (r.stderr.strip().splitlines() or ["(no output)"])[-1]
        raise ReplayError(f"ftfuzz replay exited {r.returncode}: {tail}")
    m = BRIEF_RE.match(lines[0].strip())
    if not m or m["verdict"] not in VERDICTS:
        raise ReplayError(f"ftfuzz replay printed '{lines[0].strip()}'")
    return Run(m["verdict"], int(m["signal"]), m["hash"], int(m["steps"]),
               int(m["switches"]), lines[0].strip())


# --- judging --------------------------------------------------------------------

class Result:
    def __init__(self, inp, expected_label, runs, status, detail, error=None,
                 note=False):
        self.input, self.expected_label = inp, expected_label
        self.runs, self.status, self.detail = runs, status, detail
        self.error = error
        self.note = note      # an ok worth a line under the table
        self.found = None     # the verdict a search near the anchors got
        self.searchable = False
        self.tested_name = ""

    @property
    def got(self):
        if self.error:
            return "-"
        labels = []
        for r in self.runs:
            label = describe(r)
            if label not in labels:
                labels.append(label)
        if self.found:
            labels.append(f"-> {self.found}")
        return " ".join(labels) if self.found else " / ".join(labels)


def describe(run):
    if run.verdict == "crash" and run.signal:
        try:
            return f"crash ({signal.Signals(run.signal).name})"
        except ValueError:
            return f"crash (signal {run.signal})"
    return run.verdict


def judge(inp, tested, runs, error):
    """The status of one input on the CPython under test."""
    exp = inp.expected
    fixed = None if exp.passes else tested.fixed_by(inp.meta.get("fixed-in"))
    known = not exp.passes and tested.fails_on(inp.meta.get("fails-on"))
    if exp.passes:
        label = "passed"
    elif fixed:
        label = f"passed (fixed in {fixed})"
    else:
        label = exp.label
    if error:
        return Result(inp, label, runs, ERROR, error, error)
    if len({r.identity for r in runs}) > 1:
        return Result(inp, label, runs, DIVERGED,
                      f"{len(runs)} runs gave different results")
    run = runs[0]
    got = describe(run)
    if exp.passes:
        if run.verdict == "passed":
            return Result(inp, label, runs, OK, "passes")
        return Result(inp, label, runs, REGRESSION,
                      f"should pass on every CPython, but got {got}")
    if fixed:
        if run.verdict == "passed":
            return Result(inp, label, runs, OK, f"passes: fixed in {fixed}")
        return Result(inp, label, runs, REGRESSION,
                      f"a fixed race came back: fixed in {fixed}, but got "
                      f"{got}")
    if exp.matches(run):
        if known:
            return Result(inp, label, runs, OK, "fails as expected")
        return Result(inp, label, runs, OK,
                      f"still fails on {tested.name} (not in its fails-on "
                      f"list, which is fine)", note=True)
    if run.verdict == "passed":
        if known:
            r = Result(inp, label, runs, MISMATCH,
                       f"expected failure did not happen: fails-on names "
                       f"{tested.version.text}")
        else:
            r = Result(inp, label, runs, FIXED,
                       f"no longer fails on {tested.name}: the race may be "
                       f"fixed (or this schedule no longer reaches it); once "
                       f"confirmed, add 'fixed-in:' to {inp.name}.meta")
    else:
        r = Result(inp, label, runs, MISMATCH,
                   f"fails differently: expected {exp.label}, got {got}")
    # a schedule near the anchors may give the expected failure back
    r.searchable, r.tested_name = True, tested.name
    return r


SEARCH_FOUND_RE = re.compile(r"^search: (?P<verdict>[a-z-]+) after "
                             r"(?P<tries>\d+) tries: (?P<how>.*)$", re.M)
SEARCH_NONE_RE = re.compile(r"^search: no schedule among (?P<tries>\d+) ",
                            re.M)


def expect_arg(exp):
    """An Expected as `ftfuzz search --expect`: V[,V...][:SIG]."""
    arg = ",".join(sorted(exp.verdicts))
    return f"{arg}:{exp.signal}" if exp.signal is not None else arg


def search_near(result, targets_dir, budget, update):
    """An expected failure that did not come: try schedules near the
    input's anchors (`ftfuzz search`).  Found: `ok (moved)` (with
    `update`, the schedule goes back into the input).  Not found: a
    `fixed` says how many were tried; a MISMATCH stays one."""
    inp = result.input
    with tempfile.TemporaryDirectory(prefix="ftfuzz-regress-") as tmp:
        out = os.path.join(tmp, inp.name)
        cmd = [FTFUZZ, "search", "--expect", expect_arg(inp.expected),
               "--budget", str(budget), "--targets-dir", targets_dir,
               "--target", inp.target, "--out", out, inp.path]
        try:
            r = subprocess.run(cmd, capture_output=True, text=True,
                               errors="replace",
                               timeout=REPLAY_TIMEOUT + 60 * budget)
        except subprocess.TimeoutExpired:
            result.detail += "; the search near its anchors timed out"
            return result
        found = SEARCH_FOUND_RE.search(r.stdout)
        if r.returncode == 0 and found and os.path.isfile(out):
            detail = (f"the expected failure came back from a schedule "
                      f"near its anchors after {found['tries']} tries "
                      f"({found['how']})")
            if update:
                shutil.copyfile(out, inp.path)
                detail += f"; written back to {rel(inp.path)}"
            else:
                detail += "; --update writes it back"
            moved = Result(inp, result.expected_label, result.runs, MOVED,
                           detail)
            moved.found = found["verdict"]
            return moved
        none = SEARCH_NONE_RE.search(r.stdout)
        if r.returncode == 1 and none:
            tried = (f"no schedule among {none['tries']} near its anchors "
                     "reproduces it")
        else:
            tail = (r.stderr.strip().splitlines() or ["(no output)"])[-1]
            tried = f"no search near its anchors: {tail}"
    if result.status == FIXED:
        result.detail = (f"no longer fails on {result.tested_name}: {tried}; "
                         f"once confirmed, add 'fixed-in:' to "
                         f"{inp.name}.meta")
    else:
        result.detail += f" ({tried})"
    return result


def search_all(results, targets_dir, budget, update, jobs):
    """search_near for each result whose expected failure did not come."""
    todo = [i for i, r in enumerate(results)
            if r.status in (FIXED, MISMATCH) and not r.error
            and not r.input.expected.passes and r.searchable]
    if not todo or budget <= 0:
        return results
    say(f"searching near the anchors of {len(todo)} input"
        f"{'s' if len(todo) > 1 else ''} (at most {budget} schedules each)")
    out = list(results)
    with concurrent.futures.ThreadPoolExecutor(max_workers=jobs) as pool:
        futures = {pool.submit(search_near, results[i], targets_dir, budget,
                               update): i for i in todo}
        for fut in concurrent.futures.as_completed(futures):
            out[futures[fut]] = fut.result()
    return out


def replay_all(inputs, targets_dir, runs, jobs):
    """{input name: (runs, error)}, `runs` replays of each, `jobs` at a
    time."""
    work = [(inp, i) for inp in inputs for i in range(runs)]
    done = {inp.name: [None] * runs for inp in inputs}
    errors = {}
    with concurrent.futures.ThreadPoolExecutor(max_workers=jobs) as pool:
        futures = {pool.submit(replay, inp, targets_dir): (inp, i)
                   for inp, i in work}
        for fut in concurrent.futures.as_completed(futures):
            inp, i = futures[fut]
            try:
                done[inp.name][i] = fut.result()
            except ReplayError as e:
                errors.setdefault(inp.name, f"run {i + 1}: {e}")
    return {inp.name: ([r for r in done[inp.name] if r], errors.get(inp.name))
            for inp in inputs}


# --- output ---------------------------------------------------------------------

def print_table(results):
    rows = [("input", "expected", "got", "status")]
    rows += [(r.input.name, r.expected_label, r.got, r.status)
             for r in results]
    widths = [max(len(row[i]) for row in rows) for i in range(3)]
    print()
    for n, row in enumerate(rows):
        print("  ".join(c.ljust(w) for c, w in zip(row, widths)) + "  "
              + row[3])
        if n == 0:
            print("  ".join("-" * w for w in widths) + "  " + "-" * 10)
    print(flush=True)


def main(argv=None):
    ap = argparse.ArgumentParser(
        prog="ftfuzz regress",
        description="Replay every input of the regression corpus against a "
        "CPython build and compare each verdict with the expected one "
        "(docs/regress.md).  With --cpython, builds that checkout's fuzz "
        "variant (cached by source hash) and the fuzz targets against it "
        "first.",
        epilog="exit status: 0 every input as expected; 1 a REGRESSION, "
        "MISMATCH or DIVERGED input; 2 bad usage, a failed build, or an "
        "input that could not be replayed (ERROR)")
    ap.add_argument("--cpython", metavar="DIR",
                    help="a CPython 3.13+ checkout or unpacked release to "
                    "build and check (default: the project's default CPython, "
                    "build/cpython-fuzz with the targets in build/fuzz)")
    ap.add_argument("--corpus", metavar="DIR", default=DEFAULT_CORPUS,
                    help="the regression inputs and their .meta files "
                    "(default: corpus/regressions)")
    ap.add_argument("--runs", metavar="N", type=int, default=2,
                    help="replays of each input; results that differ are "
                    "reported as DIVERGED (default: 2)")
    ap.add_argument("--only", metavar="NAME", nargs="+",
                    help="replay only these inputs")
    ap.add_argument("--jobs", metavar="N", type=int,
                    default=os.cpu_count() or 1,
                    help="parallel build jobs and replays (default: the "
                    "number of cores)")
    ap.add_argument("--search", metavar="N", type=int, default=200,
                    help="when an expected failure does not come, try up to "
                    "N schedules near the input's anchors before calling it "
                    "fixed or a MISMATCH (0: no search; default: 200)")
    ap.add_argument("--update", action="store_true",
                    help="write the schedule a search found back into each "
                    "'ok (moved)' input")
    ap.add_argument("-v", "--verbose", action="store_true",
                    help="print every run's result line")
    args = ap.parse_args(argv)
    if args.runs < 1:
        ap.error("--runs must be at least 1")
    if args.jobs < 1:
        ap.error("--jobs must be at least 1")
    if args.search < 0:
        ap.error("--search must be at least 0")

    try:
        return regress(args)
    except Fatal as e:
        print(f"ftfuzz regress: error: {e}", file=sys.stderr, flush=True)
        return 2


def regress(args):
    t_start = time.monotonic()
    corpus = os.path.abspath(args.corpus)
    inputs = load_corpus(corpus, args.only)
    if not os.access(FTFUZZ, os.X_OK):
        raise Fatal(f"{FTFUZZ} is not built: run 'make all' in {ROOT}")
    helptext = subprocess.run([FTFUZZ, "replay", "--help"],
                              capture_output=True, text=True).stdout
    if "--brief" not in helptext or "--targets-dir" not in helptext:
        raise Fatal(f"{FTFUZZ} has no 'replay --brief --targets-dir': it is "
                    f"out of date; run 'make all' in {ROOT}")
    if args.cpython:
        if not os.path.isfile(os.path.join(ROOT, "Makefile")):
            raise Fatal(f"--cpython builds the targets anew, which needs the "
                        f"ftfuzz checkout; this is an installed copy "
                        f"({ROOT}): run it from a checkout")
        tested = user_cpython(args.cpython)
        say(f"checking {tested.name}: {tested.description}")
        targets_dir = build(os.path.realpath(args.cpython), args.jobs)
        step = "[3/3] "
    else:
        tested = default_cpython()
        say(f"checking {tested.name}: {tested.description}")
        targets_dir = DEFAULT_TARGETS
        missing = [t for t in sorted({i.target for i in inputs})
                   if not os.access(os.path.join(targets_dir, t), os.X_OK)]
        if missing:
            raise Fatal(f"{', '.join(missing)} not built in "
                        f"{rel(targets_dir)}: run 'make cpython all' in "
                        f"{ROOT} (or 'make regress', which does)")
        step = ""
    t0 = time.monotonic()
    say(f"{step}replaying {len(inputs)} input{'s' if len(inputs) > 1 else ''}"
        f" from {rel(corpus)}, "
        f"{args.runs} run{'s' if args.runs > 1 else ''} each, targets in "
        f"{rel(targets_dir)}/")
    replays = replay_all(inputs, targets_dir, args.runs, args.jobs)
    results = [judge(inp, tested, *replays[inp.name]) for inp in inputs]
    results = search_all(results, targets_dir, args.search, args.update,
                         args.jobs)
    t_replay = time.monotonic() - t0

    print_table(results)
    if args.verbose:
        for r in results:
            for n, run in enumerate(r.runs, 1):
                print(f"  {r.input.name} run {n}: {run.line}")
        print()
    notable = [r for r in results
               if r.status not in (OK, DIVERGED) or r.note]
    for r in notable:
        print(f"{r.status} {r.input.name}: {r.detail}")
    if notable:
        print()
    diverged = [r for r in results if r.status == DIVERGED]
    if diverged:
        print("divergence (the same input replayed differently):")
        for r in diverged:
            print(f"  {r.input.name}:")
            for n, run in enumerate(r.runs, 1):
                print(f"    run {n}: {run.line}")
        print()

    counts = {}
    for r in results:
        counts[r.status] = counts.get(r.status, 0) + 1
    order = (OK, MOVED, FIXED, REGRESSION, MISMATCH, DIVERGED, ERROR)
    summary = ", ".join(f"{counts[s]} {s}" for s in order if counts.get(s))
    if counts.get(ERROR):
        rc, verdict = 2, "INCOMPLETE (inputs that could not be replayed)"
    elif any(counts.get(s) for s in BAD):
        rc, verdict = 1, "FAILED"
    else:
        rc, verdict = 0, "passed: every input as expected"
    say(f"{tested.name}: {len(results)} input"
        f"{'s' if len(results) > 1 else ''}: {summary}; replays took "
        f"{t_replay:.1f} s, {time.monotonic() - t_start:.0f} s in all")
    say(verdict)
    return rc


if __name__ == "__main__":
    sys.exit(main())
