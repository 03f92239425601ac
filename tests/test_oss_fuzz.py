"""The OSS-Fuzz build: scripts/oss-fuzz/build.sh in an emulated OSS-Fuzz.

The module fixture lays out $SRC as OSS-Fuzz's Dockerfile does (ftfuzz/, a
link to this checkout; cpython/, the CPython 3.13.5 source that
scripts/build-cpython.sh caches; build.sh) and runs build.sh with
base-builder's environment for an ASan libFuzzer build (CC, CFLAGS,
LIB_FUZZING_ENGINE, SANITIZER, SRC, OUT, WORK), from $SRC/ftfuzz as its
WORKDIR.  FTFUZZ_CACHE is set, so CPython's ASan build (8-10 minutes on 2
cores) is cached like the Makefile's builds.  FTFUZZ_OSS_FUZZ_SANITIZER=
undefined checks the UBSan build instead.

The checks are those of OSS-Fuzz's check_build (base-runner's
bad_build_check), with base-runner's ASAN_OPTIONS, UBSAN_OPTIONS and
FUZZER_ARGS: each target runs `-seed=1337 -runs=4` and exits 0 with
coverage counters loaded; run as run_fuzzer runs it (from $OUT, with its
.options and .dict) it does 4 runs and its seed corpus runs without a
crash; the binaries call the sanitizer's runtime and not the other's.
Then $OUT is moved elsewhere and run from a read-only directory: the
stdlib is found next to the binaries, and nothing is written outside /tmp.
What is not emulated: Docker and the base images themselves
(docs/oss-fuzz.md).
"""
import os
import re
import shutil
import subprocess
import zipfile
from pathlib import Path

import pytest

from helpers import families, limits

ROOT = Path(__file__).resolve().parents[1]
BUILD_SH = ROOT / "scripts" / "oss-fuzz" / "build.sh"
BUILD_CPYTHON = ROOT / "scripts" / "build-cpython.sh"
# every family but spec, which needs a user's spec (build.sh's list)
TARGETS = ["fuzz_" + f for f in families() if f != "spec"]
CACHE = os.environ.get("FTFUZZ_CACHE",
                       os.path.expanduser("~/.cache/ftfuzz"))

# The sanitizer of the emulated build: address (what `make check` runs), or
# undefined (FTFUZZ_OSS_FUZZ_SANITIZER=undefined: another CPython build).
SANITIZER = os.environ.get("FTFUZZ_OSS_FUZZ_SANITIZER", "address")
# base-builder's SANITIZER_FLAGS_<sanitizer>.
_UBSAN_CHECKS = ("array-bounds,bool,builtin,enum,function,"
                 "integer-divide-by-zero,null,object-size,return,"
                 "returns-nonnull-attribute,shift,signed-integer-overflow,"
                 "unreachable,vla-bound,vptr")
SANITIZER_FLAGS = {
    "address": "-fsanitize=address -fsanitize-address-use-after-scope",
    "undefined": (f"-fsanitize={_UBSAN_CHECKS},unsigned-integer-overflow "
                  f"-fno-sanitize-recover={_UBSAN_CHECKS}"),
}
# base-builder's CFLAGS for that sanitizer and FUZZING_ENGINE=libfuzzer.
OSS_FUZZ_CFLAGS = ("-O1 -fno-omit-frame-pointer -gline-tables-only "
                   f"{SANITIZER_FLAGS[SANITIZER]} -fsanitize=fuzzer-no-link")
# base-runner's environment (infra/base-images/base-runner/Dockerfile).
RUNNER_ASAN_OPTIONS = (
    "alloc_dealloc_mismatch=0:allocator_may_return_null=1:"
    "allocator_release_to_os_interval_ms=500:check_malloc_usable_size=0:"
    "detect_container_overflow=1:detect_odr_violation=0:detect_leaks=1:"
    "detect_stack_use_after_return=1:fast_unwind_on_fatal=0:handle_abort=1:"
    "handle_segv=1:handle_sigill=1:max_uar_stack_size_log=16:"
    "print_scariness=1:quarantine_size_mb=10:strict_memcmp=1:symbolize=1:"
    "use_sigaltstack=1:dedup_token_length=3")
RUNNER_UBSAN_OPTIONS = ("print_stacktrace=1:print_summary=1:"
                        "silence_unsigned_overflow=1:symbolize=1:"
                        "dedup_token_length=3")
FUZZER_ARGS = ["-rss_limit_mb=2560", "-timeout=25"]
# bad_build_check's thresholds: (min, max) calls into each runtime.
MIN_EDGES = 100
CALLS = {
    "address": {"__asan": (1000, None), "__ubsan": (0, 200)},
    "undefined": {"__asan": (0, 0), "__ubsan": (168, None)},
}

RUN_TIMEOUT = 600


def build_env(src, out, work, **extra):
    env = {k: v for k, v in os.environ.items()
           if k not in ("CFLAGS", "CXXFLAGS", "CPPFLAGS", "LDFLAGS",
                        "CPYTHON_SRC", "SANITIZER", "ASAN_OPTIONS",
                        "FTFUZZ_SRC", "JOBS")}
    env.update(CC="clang-19", CXX="clang++-19", CFLAGS=OSS_FUZZ_CFLAGS,
               CXXFLAGS=OSS_FUZZ_CFLAGS, LIB_FUZZING_ENGINE="-fsanitize=fuzzer",
               SANITIZER=SANITIZER, FUZZING_ENGINE="libfuzzer",
               ARCHITECTURE="x86_64", SRC=str(src), OUT=str(out),
               WORK=str(work), FTFUZZ_CACHE=CACHE)
    env.update(extra)
    return env


def runner_env():
    """A fuzzer's environment on a runner: nothing of the build's."""
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"),
           "HOME": os.environ.get("HOME", "/root"),
           "LANG": "C.UTF-8",
           "ASAN_OPTIONS": RUNNER_ASAN_OPTIONS,
           "UBSAN_OPTIONS": RUNNER_UBSAN_OPTIONS}
    # ASan symbolizes with llvm-symbolizer from PATH; Debian names it -19.
    symbolizer = shutil.which("llvm-symbolizer-19")
    if symbolizer:
        env["ASAN_SYMBOLIZER_PATH"] = symbolizer
    return env


def run(args, cwd, env, timeout=RUN_TIMEOUT, stdin=subprocess.DEVNULL):
    return subprocess.run([str(a) for a in args], cwd=cwd, env=env,
                          stdin=stdin, capture_output=True, text=True,
                          timeout=timeout)


# What says why a target failed, wherever it is in a long report: the
# child's own report comes before libFuzzer's stack of the parent.
KEY_LINE = re.compile(r"==ftfuzz==|ERROR:|runtime error|FINDING|Assertion|"
                      r"Fatal Python error|cannot find|cannot start")


def tail(result, n=3000):
    output = result.stdout + result.stderr
    key = [line for line in output.splitlines() if KEY_LINE.search(line)]
    return (f"exit {result.returncode}\n--- key lines ---\n"
            + "\n".join(key[:40])
            + f"\n--- end of stdout ---\n{result.stdout[-n:]}"
            f"\n--- end of stderr ---\n{result.stderr[-n:]}")


def options_args(options_file):
    """The [libfuzzer] section of a .options file as flags (parse_options.py)."""
    args, section = [], None
    for line in Path(options_file).read_text().splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("["):
            section = line.strip("[]")
        elif section == "libfuzzer" and "=" in line:
            key, value = (s.strip() for s in line.split("=", 1))
            args.append(f"-{key}={value}")
    return args


def check_target(out, name, workdir, cwd=None):
    """OSS-Fuzz's check_build for one libFuzzer target; returns the list of
    problems (empty: the target passes).  cwd: where the binary is run from
    (default: $OUT, as run_fuzzer does)."""
    problems = []
    binary = Path(out) / name
    cwd = cwd or out
    env = runner_env()

    # check_engine: the bare binary.
    r = run([binary, "-seed=1337", "-runs=4"], cwd, env)
    output = r.stdout + r.stderr
    if r.returncode != 0:
        problems.append(f"{name} -seed=1337 -runs=4 failed: {tail(r)}")
    if "ERROR: no interesting inputs were found" in output:
        problems.append(f"{name} has no coverage instrumentation")
    m = re.search(r"INFO: Loaded \d+ module.*\(.*(?:counters|guards)\):\s+(\d+)",
                  output)
    if not m:
        problems.append(f"{name}: libFuzzer loaded no coverage counters: "
                        f"{tail(r)}")
    elif int(m.group(1)) < MIN_EDGES:
        problems.append(f"{name}: only {m.group(1)} coverage counters")

    # check_startup_crash: run_fuzzer without the seed corpus.
    base = [binary] + FUZZER_ARGS
    options = Path(out) / f"{name}.options"
    extra = options_args(options) if options.exists() else []
    if (Path(out) / f"{name}.dict").exists():
        extra.append(f"-dict={Path(out) / name}.dict")
    r = run(base + ["-seed=1337", "-runs=4"] + extra, cwd, env)
    if r.returncode != 0 or "Done 4 runs" not in r.stdout + r.stderr:
        problems.append(f"{name} (as run_fuzzer runs it) did not do 4 runs: "
                        f"{tail(r)}")

    # check_seed_corpus: every seed runs without a crash.
    corpus = Path(workdir) / f"{name}_corpus"
    shutil.rmtree(corpus, ignore_errors=True)
    corpus.mkdir(parents=True)
    with zipfile.ZipFile(Path(out) / f"{name}_seed_corpus.zip") as z:
        z.extractall(corpus)
    r = run(base + ["-runs=0", corpus] + extra, cwd, env)
    if r.returncode != 0:
        problems.append(f"{name} crashes on its seed corpus: {tail(r)}")
    shutil.rmtree(corpus, ignore_errors=True)
    return problems


def tree_state(path):
    """Every file and directory under path, for 'nothing was written'."""
    state = set()
    for dirpath, dirnames, filenames in os.walk(path):
        for n in dirnames + filenames:
            p = os.path.join(dirpath, n)
            state.add((p, os.lstat(p).st_mtime_ns))
    return state


# --- build.sh's own checks (no build needed) ---------------------------------------


def test_build_sh_help():
    r = run([BUILD_SH, "--help"], ROOT, dict(os.environ))
    assert r.returncode == 0
    assert "LIB_FUZZING_ENGINE" in r.stdout


@pytest.mark.parametrize("unset", ["SRC", "OUT", "WORK", "LIB_FUZZING_ENGINE"])
def test_build_sh_refuses_missing_environment(tmp_path, unset):
    env = build_env(tmp_path, tmp_path, tmp_path)
    del env[unset]
    r = run([BUILD_SH], ROOT, env)
    assert r.returncode != 0
    assert f"${unset} is not set" in r.stderr, r.stderr


def test_build_sh_refuses_missing_directories(tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    (src / "ftfuzz").symlink_to(ROOT)
    out = tmp_path / "out"
    r = run([BUILD_SH], ROOT, build_env(src, out, tmp_path / "work"))
    assert r.returncode != 0
    assert "does not exist" in r.stderr and str(out) in r.stderr, r.stderr
    out.mkdir()
    r = run([BUILD_SH], ROOT, build_env(src, out, tmp_path / "work"))
    assert r.returncode != 0
    assert f"{src}/cpython is missing" in r.stderr, r.stderr
    (src / "cpython").mkdir()
    (src / "cpython" / "configure").write_text("#!/bin/sh\nexit 1\n")
    r = run([BUILD_SH], ROOT, build_env(src, out, tmp_path / "work",
                                        SANITIZER="memory"))
    assert r.returncode != 0
    assert "SANITIZER=memory is not supported" in r.stderr, r.stderr


def test_check_build_emulation_catches_a_crashing_target(tmp_path):
    """The checks below fail for a target that crashes on -runs=4."""
    out = tmp_path / "out"
    out.mkdir()
    src = tmp_path / "crash.c"
    src.write_text(
        "#include <stddef.h>\n#include <stdint.h>\n#include <stdlib.h>\n"
        "int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n) {\n"
        "    (void)d; (void)n; abort();\n}\n")
    cc = run(["clang-19", *OSS_FUZZ_CFLAGS.split(), "-fsanitize=fuzzer", src,
              "-o", out / "fuzz_crash"], tmp_path, dict(os.environ))
    assert cc.returncode == 0, tail(cc)
    with zipfile.ZipFile(out / "fuzz_crash_seed_corpus.zip", "w") as z:
        z.writestr("seed", b"x")
    problems = check_target(out, "fuzz_crash", tmp_path)
    assert any("-runs=4 failed" in p for p in problems), problems
    assert any("seed corpus" in p for p in problems), problems


# --- the build ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def oss_fuzz(tmp_path_factory):
    """Runs build.sh as OSS-Fuzz's `compile` would; returns (src, out, work)."""
    base = tmp_path_factory.mktemp("oss-fuzz")
    src, out, work = base / "src", base / "out", base / "work"
    for d in (src, out, work):
        d.mkdir()
    (src / "ftfuzz").symlink_to(ROOT)
    # The CPython source the Makefile builds (downloaded once, verified and
    # cached by build-cpython.sh), unpacked as the Dockerfile's clone.
    r = run([BUILD_CPYTHON, "--print-src"], ROOT,
            dict(os.environ, FTFUZZ_CACHE=CACHE), timeout=900)
    assert r.returncode == 0, tail(r)
    tarball = r.stdout.strip().splitlines()[-1]
    unpack = base / "unpack"
    unpack.mkdir()
    r = run(["tar", "-xf", tarball, "-C", unpack], ROOT, dict(os.environ))
    assert r.returncode == 0, tail(r)
    (top,) = list(unpack.iterdir())
    top.rename(src / "cpython")
    shutil.copy(BUILD_SH, src / "build.sh")
    # `compile` runs `bash -eu $SRC/build.sh` in the Dockerfile's WORKDIR.
    r = run(["bash", "-eu", src / "build.sh"], src / "ftfuzz",
            build_env(src, out, work), timeout=3 * 3600)
    (base / "build.log").write_text(r.stdout + r.stderr)
    assert r.returncode == 0, tail(r, 8000)
    # The build tree's copy of CPython's source is only needed by build.sh.
    shutil.rmtree(src / "cpython", ignore_errors=True)
    return src, out, work


def test_out_has_targets_corpora_dictionaries_options(oss_fuzz):
    _, out, _ = oss_fuzz
    for t in TARGETS:
        binary = out / t
        assert binary.is_file() and os.access(binary, os.X_OK), binary
        with zipfile.ZipFile(out / f"{t}_seed_corpus.zip") as z:
            names = sorted(z.namelist())
        seeds = sorted(p.name for p in (ROOT / "corpus" / t).iterdir())
        assert names == seeds, f"{t}_seed_corpus.zip != corpus/{t}"
        assert (out / f"{t}.dict").read_bytes() == \
            (ROOT / "harnesses" / "fuzz.dict").read_bytes()
        # fuzz.options with max_len filled in from limits.def
        assert (out / f"{t}.options").read_text() == \
            (ROOT / "harnesses" / "fuzz.options").read_text().replace(
                "@PROG_FUZZ_MAX_ENCODED@",
                str(limits()["PROG_FUZZ_MAX_ENCODED"]))
        assert "max_len = 2048\n" in (out / f"{t}.options").read_text()
    stdlib = list((out / "ftfuzz-python" / "lib").glob("python3.*t"))
    assert len(stdlib) == 1 and (stdlib[0] / "os.py").is_file(), stdlib
    assert (stdlib[0] / "lib-dynload").is_dir()
    # Not needed at run time: the static library and the test suite.
    assert not list(stdlib[0].glob("config-*"))
    assert not (stdlib[0] / "test").exists()


def test_targets_need_no_libprotobuf_c(oss_fuzz):
    """OSS-Fuzz's runners do not have libprotobuf-c: linked statically."""
    _, out, _ = oss_fuzz
    r = run(["readelf", "-d", out / "fuzz_list"], out, dict(os.environ))
    assert r.returncode == 0, tail(r)
    needed = re.findall(r"\(NEEDED\).*\[(.*)\]", r.stdout)
    assert needed and not any("protobuf" in n for n in needed), needed


@pytest.mark.parametrize("target", TARGETS)
def test_check_build(oss_fuzz, target, tmp_path):
    _, out, _ = oss_fuzz
    problems = check_target(out, target, tmp_path)
    assert not problems, "\n\n".join(problems)


def test_mixed_sanitizers(oss_fuzz):
    """check_mixed_sanitizers: an ASan build calls ASan, and UBSan no more
    than ASan's runtime itself does; a UBSan build calls UBSan only."""
    _, out, _ = oss_fuzz
    objdump = shutil.which("objdump") or shutil.which("llvm-objdump-19")
    if not objdump:
        pytest.skip("no objdump")
    proc = subprocess.Popen([objdump, "-d", str(out / "fuzz_list")],
                            stdout=subprocess.PIPE, text=True)
    call = re.compile(r"call[q]?\s+[0-9a-f]+\s+<(__asan|__ubsan)")
    counts = {"__asan": 0, "__ubsan": 0}
    for line in proc.stdout:
        m = call.search(line)
        if m:
            counts[m.group(1)] += 1
    assert proc.wait() == 0
    for runtime, (low, high) in CALLS[SANITIZER].items():
        assert counts[runtime] >= low, counts
        assert high is None or counts[runtime] <= high, counts


def test_moved_out_and_read_only_cwd(oss_fuzz, tmp_path):
    """ClusterFuzz unpacks a build anywhere: the stdlib is found next to the
    binaries, from a read-only working directory, and nothing is written
    but to /tmp."""
    _, out, _ = oss_fuzz
    moved = tmp_path / "elsewhere" / "build"
    moved.parent.mkdir()
    cwd = tmp_path / "read-only"
    cwd.mkdir()
    os.rename(out, moved)
    try:
        # The home compiled into the binaries is gone with the old $OUT.
        assert not (out / "ftfuzz-python").exists()
        before = tree_state(moved)
        cwd.chmod(0o555)
        for t in TARGETS:
            problems = check_target(moved, t, tmp_path / "work", cwd=cwd)
            assert not problems, "\n\n".join(problems)
        assert not list(cwd.iterdir()), "a target wrote into its cwd"
        assert tree_state(moved) == before, "a target wrote into $OUT"

        # Without the stdlib next to them, they say so.
        (moved / "ftfuzz-python").rename(moved / "python-gone")
        r = run([moved / "fuzz_list", "-runs=1"], cwd, runner_env())
        assert r.returncode != 0
        assert "cannot find the Python stdlib" in r.stderr, tail(r)
        assert f"{moved}/ftfuzz-python" in r.stderr, tail(r)
        (moved / "python-gone").rename(moved / "ftfuzz-python")
    finally:
        cwd.chmod(0o755)
        os.rename(moved, out)
