#!/bin/bash
# OSS-Fuzz build script for ftfuzz (https://github.com/google/oss-fuzz).
#
# OSS-Fuzz copies this file to $SRC/build.sh and runs it in its base-builder
# image with CC, CXX, CFLAGS, CXXFLAGS, LIB_FUZZING_ENGINE, SANITIZER, SRC,
# OUT and WORK set.  What it does and how to run it locally:
# docs/oss-fuzz.md.
set -euo pipefail

usage() {
    cat <<'EOF'
usage: build.sh [-h|--help]

OSS-Fuzz's build script for ftfuzz.  Builds the free-threaded debug CPython
from $SRC/cpython with $CC and $CFLAGS (plus ftfuzz's atomic-point hooks),
the scheduler runtime without any instrumentation, and the fuzz targets
fuzz_list fuzz_dict ... fuzz_mixed fuzz_ext (not fuzz_spec) with $CXX and $LIB_FUZZING_ENGINE, and
installs into $OUT: the targets, <target>_seed_corpus.zip, <target>.dict,
<target>.options and the Python stdlib (ftfuzz-python/, found relative to
the binaries at run time).

required environment (OSS-Fuzz's base-builder sets all of it):
  SRC                 holds ftfuzz/ (this project) and cpython/ (CPython 3.13+)
  OUT                 where the targets go (must exist)
  WORK                scratch space for objects and the CPython build
  CC, CXX             compilers (clang, clang++)
  CFLAGS, CXXFLAGS    sanitizer and coverage flags (may be empty)
  LIB_FUZZING_ENGINE  e.g. -fsanitize=fuzzer
  SANITIZER           address, undefined, coverage or none

optional:
  FTFUZZ_CACHE        cache the CPython build there (scripts/build-cpython.sh
                      keys it by source, compiler, flags and hook header);
                      unset (as on OSS-Fuzz): build it in $WORK
  FTFUZZ_SRC          this project's checkout (default $SRC/ftfuzz)
  JOBS                parallel make jobs for CPython (default: nproc)
EOF
}

die() {
    echo "build.sh: error: $*" >&2
    exit 1
}

note() {
    echo "build.sh: $*"
}

while (($#)); do
    case "$1" in
        -h | --help) usage; exit 0 ;;
        *) die "unknown argument: $1 (see --help)" ;;
    esac
done

# --- environment -----------------------------------------------------------------

for v in SRC OUT WORK CC CXX LIB_FUZZING_ENGINE SANITIZER; do
    [[ -n ${!v:-} ]] ||
        die "\$$v is not set: run this in OSS-Fuzz's base-builder (infra/helper.py build_fuzzers ftfuzz), or set SRC, OUT, WORK, CC, CXX, CFLAGS, CXXFLAGS, LIB_FUZZING_ENGINE and SANITIZER as docs/oss-fuzz.md shows"
done
CFLAGS=${CFLAGS:-}
CXXFLAGS=${CXXFLAGS:-}

[[ -d $SRC ]] || die "SRC=$SRC is not a directory"
[[ -d $OUT ]] || die "OUT=$OUT does not exist (OSS-Fuzz creates it; create it first)"
[[ -w $OUT ]] || die "OUT=$OUT is not writable"
FTFUZZ=${FTFUZZ_SRC:-$SRC/ftfuzz}
[[ -f $FTFUZZ/harnesses/fuzz_target.c && -x $FTFUZZ/scripts/build-cpython.sh ]] ||
    die "$FTFUZZ is not an ftfuzz checkout: the Dockerfile clones ftfuzz into \$SRC/ftfuzz (or set FTFUZZ_SRC)"
FTFUZZ=$(cd "$FTFUZZ" && pwd)
CPYTHON_SRC_DIR=$SRC/cpython
[[ -d $CPYTHON_SRC_DIR ]] ||
    die "$CPYTHON_SRC_DIR is missing: the Dockerfile clones CPython there (git clone --branch v3.13.5 https://github.com/python/cpython.git \$SRC/cpython)"
[[ -f $CPYTHON_SRC_DIR/configure ]] ||
    die "$CPYTHON_SRC_DIR is not a CPython source tree (no configure)"
mkdir -p "$WORK" || die "cannot create WORK=$WORK"
for tool in "$CC" "$CXX" protoc-c make; do
    command -v "$tool" >/dev/null 2>&1 ||
        die "$tool not found (protoc-c: apt-get install protobuf-c-compiler)"
done

case "$SANITIZER" in
    address) CPYTHON_SANITIZER=address ;;  # CPython's --with-address-sanitizer
    undefined | coverage | introspector | none) CPYTHON_SANITIZER=none ;;
    *) die "SANITIZER=$SANITIZER is not supported: ftfuzz builds with address, undefined or coverage (memory would need every library, libc++ included, built with MSan)" ;;
esac

# --- flags ---------------------------------------------------------------------------

read -r -a cflag_words <<<"$CFLAGS"
read -r -a cxxflag_words <<<"$CXXFLAGS"

# Uninstrumented code (the scheduler, the program format and its mutator):
# CFLAGS without any sanitizer or coverage flag.  The scheduler is never
# instrumented; the decoder and mutator must not count as coverage.
plain_flags=()
# Link flags CPython's own programs need for the runtimes CFLAGS asks for.
cpython_ldflags=()
# CPython's CFLAGS: -pthread trips up its configure (it then believes
# threads need no flag).
cpython_cflags=()
for w in "${cflag_words[@]}"; do
    case "$w" in
        -fsanitize* | -fno-sanitize* | -fprofile-instr-generate | -fcoverage-mapping) ;;
        *) plain_flags+=("$w") ;;
    esac
    case "$w" in
        -fsanitize=fuzzer-no-link) ;;  # the fuzz variant links with it already
        -fsanitize=* | -fprofile-instr-generate) cpython_ldflags+=("$w") ;;
    esac
    [[ $w == -pthread ]] || cpython_cflags+=("$w")
done

if [[ $SANITIZER == undefined ]]; then
    # CPython 3.13 calls functions through pointers of other types (long_hash
    # as a hashfunc, ...): -fsanitize=function stops its build at the first
    # run of _freeze_module.  The project's code keeps the check.
    cpython_cflags+=(-fno-sanitize=function)
fi

# libFuzzer is linked by LIB_FUZZING_ENGINE.  -fsanitize=fuzzer-no-link at
# link time as well would add a runtime whose no-op
# __sanitizer_cov_8bit_counters_init could hide libFuzzer's
# (harnesses/harness.mk): the coverage counters would never be registered.
link_flags=()
for w in "${cxxflag_words[@]}"; do
    [[ $w == -fsanitize=fuzzer-no-link ]] || link_flags+=("$w")
done
read -r -a engine_words <<<"$LIB_FUZZING_ENGINE"

# Project code: C11, warnings are errors (as in the Makefile).
project_flags=(-std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror "-I$FTFUZZ/include")

B=$WORK/ftfuzz-build
rm -rf "$B"
mkdir -p "$B/sched" "$B/gen" "$B/prog" "$B/harness" "$B/cpython-link"
START=$SECONDS

# Sources shared with the Makefile: the harness sources and the families,
# read from harnesses/harness.mk itself so that the two never drift apart.
# (make's $(...), not the shell's)
# shellcheck disable=SC2016
mk_vars=$(make -s --no-print-directory -C "$FTFUZZ" -f harnesses/harness.mk \
    PY_HOME=x PROG_LIB=x BUILD=/nonexistent-ftfuzz-build \
    --eval 'ftfuzz-oss-fuzz-print: ; @echo "$(HARNESS_SRCS)"; echo "$(FUZZ_FAMILIES)"' \
    ftfuzz-oss-fuzz-print) || die "cannot read HARNESS_SRCS and FUZZ_FAMILIES from harnesses/harness.mk"
read -r -a harness_srcs <<<"$(sed -n 1p <<<"$mk_vars")"
read -r -a families <<<"$(sed -n 2p <<<"$mk_vars")"
((${#harness_srcs[@]} && ${#families[@]})) ||
    die "harnesses/harness.mk names no HARNESS_SRCS or FUZZ_FAMILIES"

# --- 1. the scheduler runtime: no instrumentation ------------------------------------

note "[1/6] scheduler runtime (uninstrumented)"
sched_objs=()
for src in "$FTFUZZ"/scheduler/*.c; do
    name=$(basename "$src" .c)
    # The automatic session is for scripts/ftfuzz-cc programs only.
    [[ $name == auto_session ]] && continue
    "$CC" "${project_flags[@]}" "${plain_flags[@]}" -fno-sanitize=all \
        -fvisibility=hidden -c "$src" -o "$B/sched/$name.o"
    sched_objs+=("$B/sched/$name.o")
done
rm -f "$B/libftfuzz_sched.a"
ar rcs "$B/libftfuzz_sched.a" "${sched_objs[@]}"
# One -Wl,--wrap=NAME per modelled libc function.
read -r -a wrap_flags <<<"$(sed -n 's/^FTFUZZ_WRAP[A-Z_]*(\([a-z_0-9]*\),.*/-Wl,--wrap=\1/p' \
    "$FTFUZZ/scheduler/wrapped.def" | tr '\n' ' ')"
((${#wrap_flags[@]})) || die "no FTFUZZ_WRAP lines in scheduler/wrapped.def"

# --- 2. the program format (protoc-c at build time) and its mutator -----------------

note "[2/6] program format: protoc-c and the custom mutator (uninstrumented)"
protoc-c --proto_path="$FTFUZZ/fuzz" --c_out="$B/gen" "$FTFUZZ/fuzz/program.proto"
prog_flags=("-I$B/gen" "-I$FTFUZZ/fuzz")
# protoc-c's output is not ours to fix: its warnings stay warnings.
gen_flags=()
for w in "${project_flags[@]}"; do
    [[ $w == -Werror ]] || gen_flags+=("$w")
done
"$CC" "${gen_flags[@]}" "${plain_flags[@]}" "${prog_flags[@]}" \
    -c "$B/gen/program.pb-c.c" -o "$B/prog/program.pb-c.o"
for name in program mutator libfuzzer_glue; do
    "$CC" "${project_flags[@]}" "${plain_flags[@]}" "${prog_flags[@]}" \
        -c "$FTFUZZ/fuzz/$name.c" -o "$B/prog/$name.o"
done
rm -f "$B/libftfuzz_prog.a"
ar rcs "$B/libftfuzz_prog.a" "$B/prog/program.o" "$B/prog/mutator.o" \
    "$B/prog/program.pb-c.o"
# The interpreter's initialisation, never freed, out of LeakSanitizer's
# sight (see the file; linked with --wrap=harness_init).
"$CC" "${project_flags[@]}" "${plain_flags[@]}" -fno-sanitize=all \
    -c "$FTFUZZ/scripts/oss-fuzz/lsan_init.c" -o "$B/prog/lsan_init.o"

# libprotobuf-c: statically (OSS-Fuzz's runners do not have it installed);
# failing that, the shared library next to the targets, found by rpath.
protobuf_libs=()
protobuf_a=$("$CC" -print-file-name=libprotobuf-c.a)
if [[ $protobuf_a == /* && -f $protobuf_a ]]; then
    protobuf_libs=("$protobuf_a")
    note "    libprotobuf-c: static, $protobuf_a"
else
    protobuf_so=$("$CC" -print-file-name=libprotobuf-c.so)
    [[ $protobuf_so == /* && -f $protobuf_so ]] ||
        die "libprotobuf-c not found: apt-get install libprotobuf-c-dev"
    soname=$(objdump -p "$protobuf_so" 2>/dev/null | awk '$1 == "SONAME" { print $2 }')
    mkdir -p "$OUT/lib"
    cp -L "$protobuf_so" "$OUT/lib/${soname:-libprotobuf-c.so.1}"
    protobuf_libs=("-L$(dirname "$protobuf_so")" -lprotobuf-c "-Wl,-rpath,\$ORIGIN/lib")
    note "    libprotobuf-c: no static library; shared, copied to $OUT/lib"
fi

# --- 3. CPython: the fuzz variant, with OSS-Fuzz's compiler and flags --------------

note "[3/6] CPython from $CPYTHON_SRC_DIR (scripts/build-cpython.sh, variant fuzz, $CC)"
CPYTHON_CACHE=${FTFUZZ_CACHE:-$WORK/ftfuzz-cache}
# CFLAGS and friends reach CPython through the options only (which the
# cache key covers), never through the environment of its make.  Python
# programs run during the build: their leaks at exit are not findings, and
# UBSan's unsigned-overflow reports (OSS-Fuzz uses that check as coverage
# only) must not mix into the output build-cpython.sh reads.
env -u CFLAGS -u CXXFLAGS -u CPPFLAGS -u LDFLAGS -u CPYTHON_SRC \
    ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0" \
    UBSAN_OPTIONS="${UBSAN_OPTIONS:+$UBSAN_OPTIONS:}silence_unsigned_overflow=1" \
    "$FTFUZZ/scripts/build-cpython.sh" --variant fuzz \
    --sanitizer "$CPYTHON_SANITIZER" --src "$CPYTHON_SRC_DIR" \
    --cache "$CPYTHON_CACHE" --link-dir "$B/cpython-link" \
    --jobs "${JOBS:-$(nproc)}" --cc "$CC" \
    --extra-cflags "${cpython_cflags[*]}" \
    --extra-ldflags "${cpython_ldflags[*]}" ||
    die "building CPython failed (output above)"
links=("$B"/cpython-link/cpython-*)
[[ ${#links[@]} -eq 1 && -L ${links[0]} ]] ||
    die "scripts/build-cpython.sh left no cpython-* link in $B/cpython-link"
PREFIX=$(readlink -f "${links[0]}")
fragment=$PREFIX/ftfuzz-cpython.mk
[[ -f $fragment ]] || die "$fragment is missing"
py_var() {
    sed -n "s/^$1[[:space:]]*:=[[:space:]]*//p" "$fragment"
}
read -r -a py_cflags <<<"$(py_var PY_CFLAGS)"
read -r -a py_libs <<<"$(py_var PY_LIBS)"
PY_VERSION=$(py_var PY_VERSION)
STDLIB=lib/python${PY_VERSION}t
[[ -f $PREFIX/$STDLIB/os.py ]] || die "$PREFIX/$STDLIB/os.py is missing"

# --- 4. harness objects: instrumented like CPython -------------------------------------

note "[4/6] harness: ${harness_srcs[*]}"
# The build-time home is where the stdlib is installed; the binaries fall
# back to ftfuzz-python next to themselves once $OUT has moved.
harness_flags=("${project_flags[@]}" "${cflag_words[@]}" "${py_cflags[@]}"
    "${prog_flags[@]}" "-DFTFUZZ_PY_HOME=\"$OUT/ftfuzz-python\"")
harness_objs=()
for src in "${harness_srcs[@]}"; do
    name=$(basename "$src" .c)
    # spec.c builds the spec loader and the stdlib spec into the binary
    extra=()
    [[ $name == spec ]] && extra=(
        "-DFTFUZZ_SPEC_LOADER=\"$FTFUZZ/harnesses/spec_loader.py\""
        "-DFTFUZZ_STDLIB_SPEC=\"$FTFUZZ/harnesses/specs/stdlib.toml\""
        "-DFTFUZZ_SCENARIO_LOADER=\"$FTFUZZ/harnesses/scenario_loader.py\"")
    "$CC" "${harness_flags[@]}" "${extra[@]}" -c "$FTFUZZ/$src" -o "$B/harness/$name.o"
    harness_objs+=("$B/harness/$name.o")
done

# --- 5. the fuzz targets ------------------------------------------------------------------

note "[5/6] targets: ${families[*]}"
targets=()
for f in "${families[@]}"; do
    # fuzz_spec fuzzes a user's spec (FTFUZZ_SPEC): nothing to run here
    [[ $f == spec ]] && continue
    t=fuzz_$f
    family=HARNESS_$(tr '[:lower:]' '[:upper:]' <<<"$f")
    "$CC" "${harness_flags[@]}" "-DFTFUZZ_FAMILY=$family" \
        -c "$FTFUZZ/harnesses/fuzz_target.c" -o "$B/harness/$t.o"
    # As harnesses/harness.mk links them: the counters' registration is
    # wrapped (the forked executions copy the counters back), -rdynamic for
    # the stdlib's extension modules.
    "$CXX" "${link_flags[@]}" "$B/harness/$t.o" "${harness_objs[@]}" \
        "$B/prog/libfuzzer_glue.o" "$B/prog/lsan_init.o" \
        "$B/libftfuzz_prog.a" "${protobuf_libs[@]}" \
        "${py_libs[@]}" "$B/libftfuzz_sched.a" "${wrap_flags[@]}" \
        -Wl,--wrap=__sanitizer_cov_8bit_counters_init \
        -Wl,--wrap=harness_init -rdynamic -ldl \
        "${engine_words[@]}" -o "$OUT/$t"
    targets+=("$t")
done

# --- 6. install: stdlib, seed corpora, dictionaries, options ------------------------------

note "[6/6] installing into $OUT"
# The stdlib without what an embedded interpreter never loads: the static
# library and Makefile (config-*), the test suite, IDLE and Tk.
rm -rf "$OUT/ftfuzz-python"
mkdir -p "$OUT/ftfuzz-python"
tar -C "$PREFIX" \
    --exclude="$STDLIB/config-*" --exclude="$STDLIB/test" \
    --exclude="$STDLIB/idlelib" --exclude="$STDLIB/tkinter" \
    --exclude="$STDLIB/turtledemo" --exclude="$STDLIB/ensurepip" \
    -cf - "$STDLIB" | tar -C "$OUT/ftfuzz-python" -xf -
[[ -f $OUT/ftfuzz-python/$STDLIB/os.py ]] || die "copying the stdlib to $OUT/ftfuzz-python failed"

make_zip() {  # zip FILES... into $1, flat
    local zip=$1
    shift
    rm -f "$zip"
    if command -v zip >/dev/null 2>&1; then
        zip -q -j "$zip" "$@"
    else
        python3 -m zipfile -c "$zip" "$@"
    fi
}

for t in "${targets[@]}"; do
    seeds=()
    if [[ -d $FTFUZZ/corpus/$t ]]; then
        for s in "$FTFUZZ/corpus/$t"/*; do
            [[ -f $s ]] && seeds+=("$s")
        done
    fi
    if ((${#seeds[@]})); then
        make_zip "$OUT/${t}_seed_corpus.zip" "${seeds[@]}"
    else
        note "    $t: no seed corpus in corpus/$t"
    fi
    cp "$FTFUZZ/harnesses/fuzz.dict" "$OUT/$t.dict"
    "$FTFUZZ/scripts/fill-limits.sh" "$FTFUZZ/harnesses/fuzz.options" \
        > "$OUT/$t.options"
done

note "built ${#targets[@]} targets in $((SECONDS - START)) s: ${targets[*]}"
note "CPython: $PREFIX"
