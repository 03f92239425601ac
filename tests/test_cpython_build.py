"""Tests of scripts/build-cpython.sh and scripts/deps.sh.

The error paths run against small fake trees and a throw-away cache, so they
need no CPython build.  The tests of the built interpreters need `make
cpython` to have run (`make check` does it first).
"""

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from helpers import read_cpython_fragment

ROOT = Path(__file__).resolve().parents[1]
BUILD_SCRIPT = ROOT / "scripts" / "build-cpython.sh"
DEPS_SCRIPT = ROOT / "scripts" / "deps.sh"
# The builds that `make cpython` made: with SANITIZER=address the fuzz
# variant is the ASan one, linked as build/cpython-fuzz-asan.
ASAN = os.environ.get("SANITIZER") in ("address", "asan")
BUILT = ("plain", "fuzz-asan" if ASAN else "fuzz")


def run(args, env=None, timeout=120):
    full_env = dict(os.environ)
    # Tests choose their own source: a CPYTHON_SRC from the caller's
    # environment must not leak into the error-path tests.
    full_env.pop("CPYTHON_SRC", None)
    full_env.pop("SANITIZER", None)
    full_env.update(env or {})
    return subprocess.run(
        [str(a) for a in args],
        cwd=ROOT,
        env=full_env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def build(tmp_path, *args, env=None):
    """Run build-cpython.sh with a private cache and link directory."""
    cache = tmp_path / "cache"
    return run(
        [BUILD_SCRIPT, "--cache", cache, "--link-dir", tmp_path / "links",
         *args],
        env=env,
    )


def fake_tree(path, major=3, minor=13, micro=0, configure=None):
    """A minimal tree that passes the 'is this CPython' checks."""
    (path / "Include").mkdir(parents=True)
    (path / "Python").mkdir()
    (path / "Include" / "patchlevel.h").write_text(
        f"#define PY_MAJOR_VERSION        {major}\n"
        f"#define PY_MINOR_VERSION        {minor}\n"
        f"#define PY_MICRO_VERSION        {micro}\n"
        f'#define PY_VERSION              "{major}.{minor}.{micro}"\n'
    )
    (path / "Python" / "ceval.c").write_text("/* not really */\n")
    (path / "Makefile.pre.in").write_text("# not really\n")
    script = path / "configure"
    script.write_text(configure or "#!/bin/sh\nexit 1\n")
    script.chmod(0o755)
    return path


def assert_failed_with(result, *patterns):
    assert result.returncode != 0, result.stdout + result.stderr
    # A handled error, not the catch-all ERR trap.
    assert "unexpected failure" not in result.stderr, result.stderr
    for pattern in patterns:
        assert re.search(pattern, result.stderr), (
            f"{pattern!r} not in stderr:\n{result.stderr}")


def cache_builds(tmp_path):
    """Install prefixes in the private cache (none after a failure)."""
    d = tmp_path / "cache" / "cpython"
    if not d.is_dir():
        return []
    return [p for p in d.iterdir()
            if p.is_dir() and not p.name.startswith(".") and p.name != "logs"]


# --- options and errors -------------------------------------------------------


def test_help():
    r = run([BUILD_SCRIPT, "--help"])
    assert r.returncode == 0
    for word in ("--variant", "plain", "fuzz", "SANITIZER", "CPYTHON_SRC",
                 "FTFUZZ_CACHE", "ftfuzz-cpython.mk"):
        assert word in r.stdout


@pytest.mark.parametrize("args, message", [
    (["--variant", "turbo"], r"--variant must be plain or fuzz"),
    (["--sanitizer", "thread"], r"SANITIZER must be address or none"),
    (["--jobs", "0"], r"--jobs must be a positive number"),
    (["--frobnicate"], r"unknown option: --frobnicate"),
    (["--variant"], r"option --variant needs a value"),
])
def test_bad_options(tmp_path, args, message):
    assert_failed_with(build(tmp_path, *args), message)


def test_src_missing(tmp_path):
    r = build(tmp_path, "--variant", "plain",
              env={"CPYTHON_SRC": str(tmp_path / "no-such-dir")})
    assert_failed_with(r, r"CPYTHON_SRC=.*no-such-dir does not exist")
    assert cache_builds(tmp_path) == []


def test_src_is_a_file(tmp_path):
    f = tmp_path / "file"
    f.write_text("x")
    r = build(tmp_path, "--variant", "plain", "--src", f)
    assert_failed_with(r, r"is not a directory")


def test_src_not_cpython(tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    (src / "README").write_text("some other project\n")
    (src / "configure").write_text("#!/bin/sh\n")
    r = build(tmp_path, "--variant", "plain", env={"CPYTHON_SRC": str(src)})
    assert_failed_with(r, r"is not a CPython source tree",
                       r"Makefile\.pre\.in|patchlevel\.h")
    assert cache_builds(tmp_path) == []


@pytest.mark.parametrize("version", [(3, 12, 9), (2, 7, 18)])
def test_src_too_old(tmp_path, version):
    src = fake_tree(tmp_path / "src", *version)
    r = build(tmp_path, "--variant", "fuzz", env={"CPYTHON_SRC": str(src)})
    v = ".".join(map(str, version))
    assert_failed_with(r, rf"CPython {re.escape(v)}", r"3\.13 or newer")
    assert cache_builds(tmp_path) == []


def test_src_configure_fails(tmp_path):
    src = fake_tree(tmp_path / "src", configure=(
        "#!/bin/sh\n"
        "echo 'checking for --disable-gil... no'\n"
        "echo 'configure: error: --disable-gil is not supported here' >&2\n"
        "exit 1\n"))
    r = build(tmp_path, "--variant", "plain", env={"CPYTHON_SRC": str(src)})
    # The tail of the configure log is shown, and where the log is.
    assert_failed_with(r, r"configure failed", r"configure\.log",
                       r"--disable-gil is not supported here")
    assert cache_builds(tmp_path) == []
    # The temporary build tree is gone; the log stays.
    cpython = tmp_path / "cache" / "cpython"
    assert not [p for p in cpython.iterdir() if p.name.startswith(".tmp")]
    assert list((cpython / "logs").glob("*/configure.log"))
    # The user's tree was not written to.
    assert sorted(p.name for p in src.iterdir()) == [
        "Include", "Makefile.pre.in", "Python", "configure"]


def test_src_configure_ignores_disable_gil(tmp_path):
    src = fake_tree(tmp_path / "src", configure=(
        "#!/bin/sh\n"
        "echo '#define Py_DEBUG 1' > pyconfig.h\n"
        "echo 'all install:' > Makefile\n"
        "exit 0\n"))
    r = build(tmp_path, "--variant", "plain", env={"CPYTHON_SRC": str(src)})
    assert_failed_with(r, r"free-threaded build \(--disable-gil\)",
                       r"Py_GIL_DISABLED")
    assert cache_builds(tmp_path) == []


@pytest.mark.skipif(
    shutil.which("apt-get") is None
    or not Path("/usr/share/keyrings/debian-archive-keyring.gpg").is_file(),
    reason="needs apt and Debian's archive keyring")
def test_debian_archive_unreachable(tmp_path):
    # An empty cache and a mirror on a closed loopback port: apt-get fails.
    r = build(tmp_path, "--variant", "plain", env={
        "FTFUZZ_DEBIAN_MIRROR": "http://127.0.0.1:9/debian"})
    assert_failed_with(r, r"apt-get update failed: Debian's archive "
                       r"\(http://127\.0\.0\.1:9/debian\) is unreachable",
                       r"CPYTHON_SRC=")
    assert "unexpected failure" not in r.stderr
    assert cache_builds(tmp_path) == []


# What the copy that configure runs in holds; then fail, to stop the build.
REPORT_CONFIGURE = """#!/bin/sh
for f in Python/tracked.c Python/untracked.c Python/ignored.o stale-output; do
    if [ -e "$f" ]; then echo "HAS $f"; else echo "LACKS $f"; fi
done
echo "SRCDIR $(pwd)"
exit 1
"""


@pytest.mark.skipif(shutil.which("git") is None, reason="git not installed")
def test_git_checkout_copy(tmp_path):
    src = fake_tree(tmp_path / "src", configure=REPORT_CONFIGURE)
    (src / ".gitignore").write_text("*.o\n")
    (src / "Python" / "tracked.c").write_text("int t;\n")
    for args in (["init", "-q"], ["add", "-A"],
                 ["-c", "user.name=t", "-c", "user.email=t@t", "commit",
                  "-qm", "x"]):
        subprocess.run(["git", "-C", str(src), *args], check=True,
                       capture_output=True)
    (src / "Python" / "untracked.c").write_text("int u;\n")
    (src / "Python" / "ignored.o").write_bytes(b"\0")
    r = build(tmp_path, "--variant", "plain", "--src", src)
    assert_failed_with(r, r"configure failed")
    # Built from a copy of exactly the tracked and untracked files.
    assert "HAS Python/tracked.c" in r.stderr
    assert "HAS Python/untracked.c" in r.stderr
    assert "LACKS Python/ignored.o" in r.stderr
    assert f"SRCDIR {tmp_path}/cache/cpython/.tmp." in r.stderr


def test_configured_directory_is_cleaned_in_the_copy(tmp_path):
    src = fake_tree(tmp_path / "src", configure=REPORT_CONFIGURE)
    (src / "Python" / "tracked.c").write_text("int t;\n")
    (src / "stale-output").write_text("from an in-place build\n")
    (src / "Makefile").write_text("distclean:\n\trm -f stale-output\n")
    r = build(tmp_path, "--variant", "plain", "--src", src)
    assert_failed_with(r, r"configure failed")
    assert "HAS Python/tracked.c" in r.stdout + r.stderr
    assert "LACKS stale-output" in r.stderr
    assert "make distclean" in r.stdout
    assert (src / "stale-output").exists(), "the user's tree was changed"


# --- the cache key --------------------------------------------------------------


def print_key(tmp_path, src, *args):
    r = build(tmp_path, "--print-key", "--src", src, *args)
    assert r.returncode == 0, r.stderr
    return r.stdout.strip()


def test_key_of_a_directory(tmp_path):
    src = fake_tree(tmp_path / "src")
    k_plain = print_key(tmp_path, src, "--variant", "plain")
    k_fuzz = print_key(tmp_path, src, "--variant", "fuzz")
    k_asan = print_key(tmp_path, src, "--variant", "fuzz",
                       "--sanitizer", "address")
    assert len({k_plain, k_fuzz, k_asan}) == 3
    assert re.search(r"/cpython/3\.13\.0-plain-[0-9a-f]{16}$", k_plain)
    assert re.search(r"/cpython/3\.13\.0-fuzz-asan-[0-9a-f]{16}$", k_asan)
    # SANITIZER applies to the fuzz variant only.
    assert print_key(tmp_path, src, "--variant", "plain",
                     "--sanitizer", "address") == k_plain
    # Stable; build output does not count; a source edit does.
    assert print_key(tmp_path, src, "--variant", "plain") == k_plain
    (src / "Python" / "ceval.o").write_bytes(b"\0")
    assert print_key(tmp_path, src, "--variant", "plain") == k_plain
    (src / "Python" / "ceval.c").write_text("/* edited */\n")
    assert print_key(tmp_path, src, "--variant", "plain") != k_plain


@pytest.mark.skipif(shutil.which("git") is None, reason="git not installed")
def test_key_of_a_git_checkout(tmp_path):
    src = fake_tree(tmp_path / "src")
    (src / ".gitignore").write_text("*.o\n")

    def git(*args):
        subprocess.run(["git", "-C", str(src), *args], check=True,
                       capture_output=True)

    git("init", "-q")
    git("add", "-A")
    git("-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "x")
    key = print_key(tmp_path, src, "--variant", "plain")
    (src / "Python" / "ceval.o").write_bytes(b"\0")   # ignored
    assert print_key(tmp_path, src, "--variant", "plain") == key
    (src / "Python" / "new.c").write_text("int x;\n")  # untracked
    key2 = print_key(tmp_path, src, "--variant", "plain")
    assert key2 != key
    (src / "Python" / "new.c").write_text("int y;\n")  # its content counts
    key3 = print_key(tmp_path, src, "--variant", "plain")
    assert key3 != key2
    (src / "Python" / "new.c").unlink()
    assert print_key(tmp_path, src, "--variant", "plain") == key
    (src / "Python" / "ceval.c").write_text("/* edited */\n")  # modified
    assert print_key(tmp_path, src, "--variant", "plain") != key


# --- the built interpreters (after `make cpython`) -------------------------------


def read_fragment(variant):
    return read_cpython_fragment(ROOT / "build" / f"cpython-{variant}")


@pytest.mark.parametrize("variant", BUILT)
def test_second_run_is_up_to_date(variant):
    link = ROOT / "build" / f"cpython-{variant}"
    read_fragment(variant)
    # Same environment as `make cpython` (CPYTHON_SRC, FTFUZZ_CACHE,
    # SANITIZER), so the same key; check it before running, so that a
    # mismatch fails fast instead of starting a build.
    env = {k: os.environ[k] for k in ("CPYTHON_SRC", "FTFUZZ_CACHE",
                                      "SANITIZER") if k in os.environ}
    args = [BUILD_SCRIPT, "--variant", variant.split("-")[0]]
    r = run(args + ["--print-key"], env=env)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == os.path.realpath(link), (
        "build/cpython-%s points at another build than this environment "
        "selects: run `make cpython`" % variant)
    r = run(args, env=env, timeout=60)
    assert r.returncode == 0, r.stderr
    assert re.search(rf"^build-cpython\.sh: up to date: {variant} CPython "
                     r"3\.\d+\.\d+ in /", r.stdout, re.M), r.stdout
    # Nothing heavy happened: no step was started.
    assert "[1/5]" not in r.stdout and "configure" not in r.stdout
    assert os.path.realpath(link) == r.stdout.split(" in ")[-1].strip()


@pytest.mark.parametrize("variant", BUILT)
def test_fragment(variant):
    v = read_fragment(variant)
    link = ROOT / "build" / f"cpython-{variant}"
    assert v["PY_VARIANT"] == variant.split("-")[0]
    assert v["PY_HOME"] == os.path.realpath(link)
    assert re.fullmatch(r"3\.\d+", v["PY_VERSION"])
    # -I<dir> holding Python.h
    inc = v["PY_CFLAGS"].split()[0]
    assert inc.startswith("-I") and (Path(inc[2:]) / "Python.h").is_file()
    # The full path of the static library first, then system libraries.
    libs = v["PY_LIBS"].split()
    assert libs[0] == v["PY_STATIC_LIB"]
    assert re.search(r"/lib/libpython3\.\d+t?d\.a$", libs[0])
    assert Path(libs[0]).is_file()
    for lib in ("-lm", "-ldl", "-lpthread", "-lutil"):
        assert lib in libs
    assert not any(w.endswith(".o") for w in libs), "hook stub leaked"
    ldflags = v["PY_LDFLAGS"].split()
    assert "-rdynamic" in ldflags
    fuzz = variant.startswith("fuzz")
    assert ("-fsanitize=fuzzer-no-link" in ldflags) == fuzz
    assert ("-fsanitize=address" in ldflags) == variant.endswith("-asan")
    info = (Path(v["PY_HOME"]) / "ftfuzz-build-info.txt").read_text()
    assert f"variant: {variant.split('-')[0]}\n" in info
    assert ("hook-header:" in info) == fuzz
    assert ("coverage-ignorelist:" in info) == fuzz


def archive_member_has_coverage(lib, member, tmp_path):
    out = tmp_path / member
    out.write_bytes(subprocess.run(["llvm-ar-19", "p", lib, member],
                                   check=True, capture_output=True).stdout)
    r = subprocess.run(["llvm-objdump-19", "-h", str(out)], check=True,
                       capture_output=True, text=True)
    return "__sancov_cntrs" in r.stdout


@pytest.mark.skipif("fuzz" not in BUILT, reason="the fuzz variant is ASan")
def test_the_collector_has_no_coverage(tmp_path):
    # scripts/cpython-coverage-ignore.txt: the collector walks the whole
    # heap after every execution; its edges would only measure the heap
    lib = read_fragment("fuzz")["PY_STATIC_LIB"]
    assert not archive_member_has_coverage(lib, "gc_free_threading.o",
                                           tmp_path)
    assert archive_member_has_coverage(lib, "listobject.o", tmp_path)


@pytest.mark.parametrize("variant", BUILT)
def test_installed_interpreter(variant):
    v = read_fragment(variant)
    env = {k: val for k, val in os.environ.items()
           if not k.startswith("PYTHON")}
    r = subprocess.run(
        [v["PY_PYTHON"], "-c",
         "import sys; print(sys._is_gil_enabled(),"
         " hasattr(sys, 'gettotalrefcount'), sys.prefix)"],
        capture_output=True, text=True, env=env, timeout=60)
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == ["False", "True", v["PY_HOME"]]


# --- deps.sh ------------------------------------------------------------------------


def test_deps_help():
    r = run([DEPS_SCRIPT, "--help"])
    assert r.returncode == 0
    assert "usage: scripts/deps.sh" in r.stdout


def test_deps_list():
    r = run([DEPS_SCRIPT, "--list"])
    assert r.returncode == 0
    pkgs = r.stdout.split()
    for p in ("clang-19", "lld-19", "llvm-19", "libclang-rt-19-dev",
              "libprotobuf-c-dev", "protobuf-c-compiler", "python3-pytest",
              "python3-pytest-xdist",
              "zlib1g-dev", "libffi-dev", "libssl-dev", "uuid-dev"):
        assert p in pkgs


def test_deps_quiet_when_installed():
    # `make check` ran `make deps` first, so everything is installed.
    r = run([DEPS_SCRIPT])
    assert r.returncode == 0
    assert r.stdout == "" and r.stderr == ""
    r = run([DEPS_SCRIPT, "--check"])
    assert (r.returncode, r.stdout, r.stderr) == (0, "", "")


def test_deps_reports_missing_package(tmp_path):
    # A package that cannot be installed: --check names it and fails, without
    # touching apt.
    script = tmp_path / "deps.sh"
    text = DEPS_SCRIPT.read_text().replace(
        "    python3-pytest ", "    ftfuzz-no-such-package\n    python3-pytest ")
    assert "ftfuzz-no-such-package" in text
    script.write_text(text)
    r = subprocess.run(["bash", str(script), "--check"], capture_output=True,
                       text=True, timeout=60)
    assert r.returncode == 1
    assert "missing packages: ftfuzz-no-such-package" in r.stderr


@pytest.mark.skipif(os.geteuid() != 0 or shutil.which("setpriv") is None,
                    reason="needs root and setpriv to run as another user")
def test_deps_needs_root_to_install(tmp_path):
    text = DEPS_SCRIPT.read_text().replace(
        "    python3-pytest ", "    ftfuzz-no-such-package\n    python3-pytest ")
    # The script on standard input: nobody may not read tmp_path.
    r = subprocess.run(
        ["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups",
         "bash", "-s"],
        input=text, capture_output=True, text=True, timeout=60, cwd="/")
    assert r.returncode == 1
    assert "missing Debian packages: ftfuzz-no-such-package" in r.stderr
    assert "needs root" in r.stderr
