"""Extension types from a spec (docs/extension-spec.md): the example
extension's two races found within a budget of executions and replayed,
its fixed twin clean under the same budget, the stdlib's types (fuzz_ext),
clear errors for bad specs, and the interpreter's start independent of
where its output goes."""
import os
import pty
import re
import subprocess

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FTFUZZ = os.path.join(ROOT, "build", "bin", "ftfuzz")
FUZZ = os.path.join(ROOT, "build", "fuzz")
EXAMPLES = os.path.join(ROOT, "build", "examples")
RACY = os.path.join(EXAMPLES, "racy", "example.toml")
FIXED = os.path.join(EXAMPLES, "fixed", "example.toml")
PROG_EDIT = os.path.join(ROOT, "build", "tests", "fuzz", "prog_edit")
REGRESSIONS = os.path.join(ROOT, "corpus", "regressions")
BUDGET = "2000"    # executions of each campaign below
BRIEF = re.compile(r"^verdict=(\S+) signal=(\d+) hash=(0x[0-9a-f]{16}) "
                   r"steps=(\d+) switches=(\d+)(?: diagnosis=.*)?$")


def ftfuzz(*args, timeout=900, env=None):
    return subprocess.run([FTFUZZ, *args], capture_output=True, text=True,
                          timeout=timeout, env=env)


def findings(out_dir):
    d = os.path.join(out_dir, "fuzz_spec-example")
    # not the .meta, nor what `ftfuzz replay` wrote beside a finding
    return sorted(os.path.join(d, f) for f in os.listdir(d)
                  if re.fullmatch(r"crash-[0-9a-f]{40}", f))


def brief(path, times=1):
    r = ftfuzz("replay", "--brief", "--times", str(times), path)
    lines = [BRIEF.match(l) for l in r.stdout.splitlines()
             if l.startswith("verdict=")]
    assert len(lines) == times and all(lines), r.stdout + r.stderr
    return [m.groups() for m in lines]


def brief_target(path, target, times=1):
    r = ftfuzz("replay", "--brief", "--target", target, "--times",
               str(times), path)
    lines = [BRIEF.match(l) for l in r.stdout.splitlines()
             if l.startswith("verdict=")]
    assert len(lines) == times and all(lines), r.stdout + r.stderr
    return [m.groups() for m in lines]


@pytest.fixture(scope="module")
def racy_campaign(tmp_path_factory):
    out = str(tmp_path_factory.mktemp("racy"))
    r = ftfuzz("fuzz", "--spec", RACY, "--runs", BUDGET, "--seed", "1",
               "--out", out)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    return out, r


def test_racy_example_both_races_found_within_the_budget(racy_campaign):
    """The lost update of Counter.increment is a linearizability violation;
    the reallocation under Buffer.get is a crash (SIGSEGV) whose stack
    runs through Buffer_get."""
    out, run = racy_campaign
    files = findings(out)
    assert files, run.stdout[-2000:]
    verdicts = {}
    for f in files:
        (verdict, signal, *_), = brief(f)
        verdicts.setdefault((verdict, signal), f)
    assert ("linearizability", "6") in verdicts, verdicts
    assert ("crash", "11") in verdicts, verdicts
    lin = ftfuzz("replay", verdicts[("linearizability", "6")]).stdout
    assert ".increment(" in lin, lin
    crash = ftfuzz("replay", verdicts[("crash", "11")]).stdout
    assert "Buffer_get" in crash and "example.c" in crash, crash


def test_each_finding_replays_the_same_every_time(racy_campaign):
    out, _ = racy_campaign
    for f in findings(out):
        # the .meta ftfuzz fuzz wrote names the target and the spec
        meta = open(f + ".meta").read()
        assert "target: fuzz_spec" in meta and f"spec: {RACY}" in meta
        runs = brief(f, times=3)
        assert len(set(runs)) == 1, runs
        assert runs[0][0] != "passed", runs


def test_replay_report_of_a_spec_finding(racy_campaign, tmp_path):
    out, _ = racy_campaign
    f = findings(out)[0]
    r = ftfuzz("replay", "--out", str(tmp_path), f)
    assert "example.Counter(" in r.stdout or "example.Buffer(" in r.stdout
    repro = (tmp_path / "repro.py").read_text()
    # the reproducer imports the module the way the spec does
    assert "sys.path[:0] = ['" + os.path.dirname(RACY) + "']" in repro
    assert "import example" in repro
    compile(repro, "repro.py", "exec")


def test_fixed_twin_survives_the_same_budget(tmp_path):
    r = ftfuzz("fuzz", "--spec", FIXED, "--runs", BUDGET, "--seed", "1",
               "--out", str(tmp_path))
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    assert findings(str(tmp_path)) == []
    assert "findings: 0 crash, 0 timeout, 0 out-of-memory" in r.stdout


def test_seeds_cover_each_ordered_pair_with_a_sweep(tmp_path):
    """fuzz_spec writes, per ordered pair of a type's operations, one
    program without a preemption and one per 4 points up to 256."""
    env = dict(os.environ, FTFUZZ_SPEC=RACY,
               FTFUZZ_WRITE_SEEDS=str(tmp_path), FTFUZZ_SEED_SWEEP="4")
    r = subprocess.run([os.path.join(FUZZ, "fuzz_spec")], env=env,
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    names = os.listdir(tmp_path)
    # Counter has 2 operations, Buffer 3: 4 + 9 ordered pairs, 65 each
    assert len(names) == (4 + 9) * 65
    assert "seed-Buffer-1-0-0" in names and "seed-Buffer-1-0-256" in names


BAD_SPECS = [
    ("not toml [", "not valid TOML"),
    ("version = 1\n", "no [[type]]"),
    ("version = 2\n[[type]]\nname='A'\nnew='1'\nop=[{expr='o'}]\n",
     "version 2 is not supported"),
    ("colour = 1\n[[type]]\nname='A'\nnew='1'\nop=[{expr='o'}]\n",
     "unknown key colour"),
    ("[[type]]\nname='A'\nop=[{expr='o'}]\n", "missing 'new'"),
    ("[[type]]\nname='A'\nnew='1'\n", "no [[type.op]]"),
    ("[[type]]\nname='A'\nnew='1'\nop=[{expr='o', args=['widget']}]\n",
     "'args' must be a list"),
    ("[[type]]\nname='A'\nnew='1'\nop=[{expr='o', method='m'}]\n",
     "exactly one of 'method' and 'expr'"),
    ("[[type]]\nname='A'\nnew='1 +'\nop=[{expr='o'}]\n",
     "not a Python expression"),
    ("[[type]]\nname='A'\nnew='undefined_name(n)'\nop=[{expr='o'}]\n",
     "NameError"),
    ("imports = ['no_such_module_here']\n[[type]]\nname='A'\nnew='1'\n"
     "op=[{expr='o'}]\n", "cannot import no_such_module_here"),
    ("path = ['no/such/dir']\n[[type]]\nname='A'\nnew='1'\n"
     "op=[{expr='o'}]\n", "is not a directory"),
]


@pytest.mark.parametrize("text,message", BAD_SPECS)
def test_bad_spec_is_a_clear_error(tmp_path, text, message):
    spec = tmp_path / "bad.toml"
    spec.write_text(text)
    r = ftfuzz("fuzz", "--spec", str(spec), "--runs", "5", "--out",
               str(tmp_path / "out"), timeout=120)
    assert r.returncode == 2, r.stdout + r.stderr
    assert message in r.stderr, r.stderr
    assert "Traceback" not in r.stderr


def test_spec_usage_errors(tmp_path):
    r = ftfuzz("fuzz", "--spec", str(tmp_path / "missing.toml"))
    assert r.returncode == 2 and "cannot read the spec" in r.stderr
    r = ftfuzz("fuzz", "spec", "--runs", "1")
    assert r.returncode == 2 and "needs --spec" in r.stderr
    r = ftfuzz("fuzz", "--spec", RACY, "list")
    assert r.returncode == 2 and "not fuzz_list" in r.stderr
    env = {k: v for k, v in os.environ.items() if k != "FTFUZZ_SPEC"}
    r = subprocess.run([os.path.join(FUZZ, "fuzz_spec"), "-runs=1"],
                       env=env, capture_output=True, text=True, timeout=60)
    assert r.returncode == 2 and "FTFUZZ_SPEC" in r.stderr
    inp = tmp_path / "input"
    inp.write_bytes(b"")
    r = ftfuzz("replay", "--target", "fuzz_spec", str(inp), env=env)
    assert r.returncode != 0 and "--spec" in r.stderr


def test_fuzz_ext_runs_the_stdlib_types(tmp_path):
    """A short fuzz_ext run from nothing: every execution survives the
    harness, and the report of a program of stdlib types reads as Python."""
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    artifacts = tmp_path / "artifacts"
    artifacts.mkdir()
    r = subprocess.run([os.path.join(FUZZ, "fuzz_ext"), "-runs=300",
                        "-seed=7", f"-artifact_prefix={artifacts}/",
                        str(corpus)], capture_output=True, text=True,
                       timeout=600)
    if r.returncode == 0:
        assert "Done 300 runs" in r.stderr
    else:
        # fuzz_ext finds real races quickly, and coverage that varies by a
        # few edges from run to run (threads finishing after the session)
        # can steer a run to one: then it must be a finding inside an
        # execution that replays the same way twice, not a harness crash
        assert r.returncode == 77, r.stderr[-3000:]
        assert "==ftfuzz== the execution died" in r.stderr, r.stderr[-3000:]
        crash, = [str(p) for p in artifacts.iterdir()]
        runs = brief_target(crash, "fuzz_ext", times=2)
        assert len(set(runs)) == 1 and runs[0][0] != "passed", runs
    # one object of each kind value 0..3: OrderedDict, defaultdict,
    # Counter, BytesIO; each thread runs an operation on each
    inp = tmp_path / "four"
    subprocess.run([PROG_EDIT, os.devnull, str(inp), "--threads", "2",
                    "--object", "0:3", "--object", "1:3", "--object", "2:3",
                    "--object", "3:3", "--op", "0:0:0:0:1",
                    "--op", "0:1:1:0:2", "--op", "1:2:2:0:3",
                    "--op", "1:3:3:0:4"], check=True)
    rep = ftfuzz("replay", "--target", "fuzz_ext", "--out",
                 str(tmp_path / "rep"), str(inp))
    assert rep.returncode == 0, rep.stderr
    for text in ("collections.OrderedDict((i, i) for i in range(3))",
                 "collections.defaultdict(list,", "collections.Counter(",
                 "io.BytesIO(bytes(range(3)))", "o0.__setitem__(1, 0)"):
        assert text in rep.stdout, rep.stdout


def hash_with_output(path, how):
    """The trace hash of one run of fuzz_mixed on path with its standard
    streams on a file, a pipe or a terminal."""
    cmd = [os.path.join(FUZZ, "fuzz_mixed"), path]
    env = dict(os.environ, FTFUZZ_PRINT_HASH="1")
    if how == "file":
        with open(os.devnull + "", "rb") as stdin, \
                open(os.path.join(os.environ.get("TMPDIR", "/tmp"),
                                  f"ftfuzz-out-{os.getpid()}"), "w+") as out:
            subprocess.run(cmd, stdin=stdin, stdout=out, stderr=out, env=env,
                           timeout=120)
            out.seek(0)
            text = out.read()
    elif how == "pipe":
        text = subprocess.run(cmd, capture_output=True, text=True, env=env,
                              timeout=120).stderr
    else:
        pid, fd = pty.fork()
        if pid == 0:
            os.execve(cmd[0], cmd, env)
        chunks = []
        while True:
            try:
                data = os.read(fd, 65536)
            except OSError:
                break
            if not data:
                break
            chunks.append(data)
        os.waitpid(pid, 0)
        text = b"".join(chunks).decode(errors="replace")
    m = re.search(r"trace hash (0x[0-9a-f]{16})", text)
    assert m, text[-2000:]
    return m.group(1)


def test_where_the_output_goes_does_not_change_an_execution():
    """CPython sets up its standard streams differently for a file, a pipe
    and a terminal; the harness starts it with them on /dev/null, so a
    finding saved under `ftfuzz fuzz` (a pipe) replays into a log file."""
    path = os.path.join(REGRESSIONS, "list_sort_len")
    hashes = {how: hash_with_output(path, how)
              for how in ("file", "pipe", "terminal")}
    assert len(set(hashes.values())) == 1, hashes


def test_bytes_at_mark_counts_from_the_first_operation(tmp_path):
    """The same preemption byte pair lands in the thread set-up with the
    bytes strategy and in the operations with bytes@mark."""
    base = tmp_path / "base"
    subprocess.run([PROG_EDIT, os.devnull, str(base), "--threads", "2",
                    "--object", "0:3", "--op", "0:0:0:0:1",
                    "--op", "1:0:0:0:2"], check=True)

    def with_schedule(strategy):
        # Program.schedule (field 3): strategy (1), bytes (4) = DELTA 20,
        # CHOICE 1
        inner = bytes([0x08, strategy, 0x22, 2, 20, 1])
        path = tmp_path / f"s{strategy}"
        path.write_bytes(base.read_bytes() + bytes([0x1a, len(inner)])
                         + inner)
        return str(path)

    def switches(path, out):
        """(step, from, to, point) of each switch of one replay."""
        r = ftfuzz("replay", "--target", "fuzz_list", "--out", out, path)
        assert r.returncode == 0, r.stderr
        rows = re.findall(r"^\d+\s+(\d+)\s+(\S+) -> (\S+)\s+(\S+)",
                          r.stdout, re.M)
        return [(int(a), b, c, d) for a, b, c, d in rows], r.stdout

    def preempted_ops(rows):
        return [r for r in rows if r[1] == "thread_0" and r[3] != "thread_exit"]

    absolute, _ = switches(with_schedule(0), str(tmp_path / "a"))
    marked, text = switches(with_schedule(3), str(tmp_path / "m"))
    assert "strategy bytes@mark:1401" in text
    # absolute: step 20 is in the main thread's set-up, which has nothing
    # to switch to; thread 0's operation runs to its end
    assert preempted_ops(absolute) == [], absolute
    # from the mark: thread 0 is preempted 20 points after it called
    # ftfuzz_sched_mark, which it does a few dozen points after it got the
    # turn (its Python frame is set up first)
    start = next(r[0] for r in marked if r[2] == "thread_0")
    (step, _, to, _), = preempted_ops(marked)
    assert to == "thread_1" and 20 <= step - start < 100, marked


def test_minimize_and_reseed_find_the_spec_in_the_meta(racy_campaign,
                                                       tmp_path):
    """A fuzz_spec finding needs its spec: minimize and reseed read it from
    the .meta `ftfuzz fuzz` wrote, as replay does."""
    out, _ = racy_campaign
    crash = next(f for f in findings(out) if brief(f)[0][:2] == ("crash",
                                                                 "11"))
    small = tmp_path / "small"
    r = ftfuzz("minimize", "--time", "0", "--out", str(small), crash)
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-2000:]
    assert small.exists()
    (small.parent / (small.name + ".meta")).write_text(
        open(crash + ".meta").read())
    assert brief(str(small))[0][:2] == ("crash", "11")
    # reseed runs the same target with the same spec: asked for a schedule
    # under which the program passes, it finds one among the first few
    again = tmp_path / "again"
    r = ftfuzz("reseed", "--expect", "passed", "--tries", "20", "--out",
               str(again), crash)
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-2000:]
    (again.parent / (again.name + ".meta")).write_text(
        open(crash + ".meta").read())
    assert brief(str(again))[0][0] == "passed"
    assert open(again, "rb").read() != open(crash, "rb").read()


def coverage(args, **env):
    r = subprocess.run(args, capture_output=True, text=True, timeout=900,
                       env=dict(os.environ, **env))
    m = re.search(r"INITED cov: (\d+)", r.stderr)
    assert r.returncode == 0 and m, r.stderr[-3000:]
    return int(m.group(1))


def test_forked_executions_keep_the_coverage_of_extension_modules(tmp_path):
    """The stdlib's extension modules register their counters past the
    link's --wrap; forked executions must hand those back too, so a forked
    run sees about the coverage of the same inputs run in-process (which
    adds warm-up runs: measured 6,666 against 7,027 edges; without the
    section scan a forked run saw about 30% fewer)."""
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    seeds = sorted(os.listdir(os.path.join(ROOT, "corpus", "fuzz_ext")))
    for name in seeds[:40]:
        data = open(os.path.join(ROOT, "corpus", "fuzz_ext", name), "rb").read()
        (corpus / name).write_bytes(data)
    target = os.path.join(FUZZ, "fuzz_ext")
    forked = coverage([target, "-runs=0", str(corpus)])
    in_process = coverage([target, "-runs=0", str(corpus)],
                          FTFUZZ_NO_FORK="1")
    assert forked >= 0.85 * in_process, (forked, in_process)
