#!/usr/bin/env bash
# build-cpython.sh: build a free-threaded debug CPython for ftfuzz, cached.
#
# How it works, the cache key and troubleshooting: docs/cpython-build.md.
set -Eeuo pipefail
# A failure that no check below anticipated still says where it happened.
trap 'rc=$?; if [[ $BASHPID == "$$" ]]; then echo "build-cpython.sh: error: unexpected failure (exit $rc) at line $LINENO: $BASH_COMMAND" >&2; fi' ERR

# The whole script is one compound command, read before it runs: editing this
# file (a git pull) during a 5-minute build cannot change what runs.
{

# Bump when a change to this script changes what a build produces: every
# cached interpreter is then rebuilt.
SCRIPT_VERSION=1

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
HOOK_HEADER=$ROOT/include/ftfuzz/atomic_hooks.h
HOOK_STUB=$ROOT/scripts/cpython-hook-stub.c
PLAIN_STUB=$ROOT/scripts/cpython-plain-stub.c
COVERAGE_IGNORE=$ROOT/scripts/cpython-coverage-ignore.txt

# The default source: Debian trixie's python3.13 source package.
DEBIAN_SUITE=trixie
DEBIAN_PACKAGE=python3.13
DEBIAN_VERSION=${FTFUZZ_DEBIAN_VERSION:-3.13.5-2+deb13u5}
DEBIAN_UPSTREAM_SERIES=3.13

CC_NAME=clang-19
CONFIGURE_FLAGS=(--disable-gil --with-pydebug --without-ensurepip)

usage() {
    cat <<'EOF'
usage: scripts/build-cpython.sh [options]

Build a free-threaded (--disable-gil) debug (--with-pydebug) CPython with
clang-19, install it into a cache directory and point
build/cpython-<variant> at it.  Does nothing when the cached build is up to
date.

options (each also settable by the environment variable in brackets):
  --variant plain|fuzz   plain: no hooks, the baseline for benchmarks;
                         fuzz: atomic-point hooks + libFuzzer coverage
                         (default: fuzz)
  --sanitizer NAME       address: add ASan to the fuzz variant; none
                         [SANITIZER]  (ignored for plain)
  --src DIR              build this CPython checkout or unpacked release
                         (3.13 or newer) instead of Debian's 3.13.5
                         [CPYTHON_SRC]
  --cache DIR            cache directory (default ~/.cache/ftfuzz)
                         [FTFUZZ_CACHE]
  --link-dir DIR         where to create the cpython-<variant> link
                         (default <repo>/build)
  --jobs N               parallel make jobs (default: nproc) [JOBS]
  --cc CC                compiler (default clang-19)
  --extra-cflags FLAGS   added to CPython's CFLAGS (after the variant's)
  --plain-access-files GLOBS
                         fuzz variant: compile the source files matching
                         these blank-separated globs (relative to the
                         source tree, e.g. 'Modules/_io/*.c') with
                         plain-access points (docs/scheduler.md); the
                         build is <variant>-plain, with its own key and link
                         name [FTFUZZ_PLAIN_ACCESS_FILES]
  --extra-ldflags FLAGS  added to CPython's LDFLAGS and to PY_LDFLAGS
                         (any of these three makes the build
                         <variant>-custom: its own key and link name;
                         scripts/oss-fuzz/build.sh passes OSS-Fuzz's
                         $CC and $CFLAGS with them)
  --force                rebuild even if the cached build is up to date
  --print-key            print the cache directory this build uses and exit
                         (downloads the default source if it is not cached)
  --print-src            print the verified source tarball (or the --src
                         directory) and exit, downloading it if it is not
                         cached
  -h, --help             this text

other environment variables:
  FTFUZZ_DEBIAN_MIRROR   Debian mirror URI for the source download (default:
                         the one this machine's apt uses for its release)
  FTFUZZ_KEEP_BUILD=1    keep the temporary build tree after a failure
  FTFUZZ_DEBIAN_VERSION  the python3.13 source version to download (default
                         3.13.5-2+deb13u5; if gone, trixie's current 3.13.x)

Output: <cache>/cpython/<key>/ is an install prefix holding bin/, lib/
(static libpython, stdlib, extension modules), include/ and
ftfuzz-cpython.mk, a make fragment with PY_VERSION, PY_HOME, PY_CFLAGS,
PY_LIBS, PY_LDFLAGS and PY_VARIANT.  Logs: <cache>/cpython/logs/<key>/.
EOF
}

PRINT_KEY=0
PRINT_SRC=0

die() {
    echo "build-cpython.sh: error: $*" >&2
    exit 1
}

note() {
    if ((PRINT_KEY || PRINT_SRC)); then
        # stdout carries the key alone.
        echo "build-cpython.sh: $*" >&2
    else
        echo "build-cpython.sh: $*"
    fi
}

# --- options -------------------------------------------------------------------

VARIANT=fuzz
SANITIZER=${SANITIZER:-}
SRC_DIR=${CPYTHON_SRC:-}
CACHE=${FTFUZZ_CACHE:-${HOME:?HOME is not set}/.cache/ftfuzz}
LINK_DIR=$ROOT/build
JOBS=${JOBS:-}
FORCE=0
CUSTOM=0
EXTRA_CFLAGS=
EXTRA_LDFLAGS=
PLAIN_ACCESS_FILES=${FTFUZZ_PLAIN_ACCESS_FILES:-}

need_arg() {
    if (($# < 2)) || [[ -z $2 ]]; then
        die "option $1 needs a value (see --help)"
    fi
}

while (($#)); do
    case "$1" in
        --variant) need_arg "$@"; VARIANT=$2; shift ;;
        --variant=*) VARIANT=${1#*=} ;;
        --sanitizer) need_arg "$@"; SANITIZER=$2; shift ;;
        --sanitizer=*) SANITIZER=${1#*=} ;;
        --src) need_arg "$@"; SRC_DIR=$2; shift ;;
        --src=*) SRC_DIR=${1#*=} ;;
        --cache) need_arg "$@"; CACHE=$2; shift ;;
        --cache=*) CACHE=${1#*=} ;;
        --link-dir) need_arg "$@"; LINK_DIR=$2; shift ;;
        --link-dir=*) LINK_DIR=${1#*=} ;;
        --jobs) need_arg "$@"; JOBS=$2; shift ;;
        --jobs=*) JOBS=${1#*=} ;;
        --cc) need_arg "$@"; CC_NAME=$2; CUSTOM=1; shift ;;
        --cc=*) CC_NAME=${1#*=}; CUSTOM=1 ;;
        --extra-cflags) (($# >= 2)) || need_arg "$@"; EXTRA_CFLAGS=$2; CUSTOM=1; shift ;;
        --extra-cflags=*) EXTRA_CFLAGS=${1#*=}; CUSTOM=1 ;;
        --extra-ldflags) (($# >= 2)) || need_arg "$@"; EXTRA_LDFLAGS=$2; CUSTOM=1; shift ;;
        --extra-ldflags=*) EXTRA_LDFLAGS=${1#*=}; CUSTOM=1 ;;
        --plain-access-files) need_arg "$@"; PLAIN_ACCESS_FILES=$2; shift ;;
        --plain-access-files=*) PLAIN_ACCESS_FILES=${1#*=} ;;
        --force) FORCE=1 ;;
        --print-key) PRINT_KEY=1 ;;
        --print-src) PRINT_SRC=1 ;;
        -h | --help) usage; exit 0 ;;
        *) die "unknown option: $1 (see --help)" ;;
    esac
    shift
done

case "$VARIANT" in
    plain | fuzz) ;;
    *) die "--variant must be plain or fuzz, not '$VARIANT'" ;;
esac
case "$SANITIZER" in
    "" | none) SANITIZER=none ;;
    address | asan) SANITIZER=address ;;
    *) die "SANITIZER must be address or none, not '$SANITIZER'" ;;
esac
if [[ $VARIANT == plain && $SANITIZER != none ]]; then
    note "SANITIZER=$SANITIZER applies to the fuzz variant only; plain is built without it"
    SANITIZER=none
fi
[[ -z $JOBS ]] && JOBS=$(nproc 2>/dev/null || echo 2)
[[ $JOBS =~ ^[1-9][0-9]*$ ]] || die "--jobs must be a positive number, not '$JOBS'"

# Paths end up in make fragments and in CPython's own Makefile: refuse the
# characters that make and sh would split or expand.
case "$CACHE" in
    /*) ;;
    *) CACHE=$PWD/$CACHE ;;
esac
for p in "$CACHE" "$ROOT"; do
    [[ $p =~ ^[A-Za-z0-9_./+@,=-]+$ ]] ||
        die "path '$p' has characters make cannot handle (space, \$, #, ...): choose another FTFUZZ_CACHE or checkout directory"
done

VARIANT_NAME=$VARIANT
[[ $SANITIZER == address ]] && VARIANT_NAME=$VARIANT-asan
# Another compiler or extra flags: a build of its own, never taken for the
# standard one (build/cpython-fuzz stays what the Makefile expects).
if [[ -n $PLAIN_ACCESS_FILES ]]; then
    [[ $VARIANT == fuzz ]] ||
        die "--plain-access-files applies to the fuzz variant only"
    VARIANT_NAME=$VARIANT_NAME-plain
fi
((CUSTOM)) && VARIANT_NAME=$VARIANT_NAME-custom

command -v "$CC_NAME" >/dev/null 2>&1 ||
    die "$CC_NAME not found: run 'make deps' (scripts/deps.sh) first"

sha256_of_stdin() {
    sha256sum | cut -d' ' -f1
}

sha256_of_file() {
    sha256sum "$1" | cut -d' ' -f1
}

# --- source: a user's tree -------------------------------------------------------

SRC_KIND=        # debian | git | dir
SRC_HASH=        # identity of the source, part of the cache key
SRC_VERSION=     # e.g. 3.13.5
SRC_TARBALL=     # debian: the verified orig tarball
SRC_DESC=        # one line for the build info

# Print X.Y.Z from a tree's Include/patchlevel.h.
patchlevel_version() {
    local f=$1/Include/patchlevel.h major minor micro
    major=$(sed -n 's/^#define[[:space:]]*PY_MAJOR_VERSION[[:space:]]*\([0-9]*\).*/\1/p' "$f")
    minor=$(sed -n 's/^#define[[:space:]]*PY_MINOR_VERSION[[:space:]]*\([0-9]*\).*/\1/p' "$f")
    micro=$(sed -n 's/^#define[[:space:]]*PY_MICRO_VERSION[[:space:]]*\([0-9]*\).*/\1/p' "$f")
    [[ -n $major && -n $minor && -n $micro ]] || return 1
    echo "$major.$minor.$micro"
}

# Refuse versions before 3.13 (no free-threaded build).
check_version() {
    local v=$1 where=$2 major minor
    IFS=. read -r major minor _ <<<"$v"
    if ((major < 3 || (major == 3 && minor < 13))); then
        die "$where is CPython $v: ftfuzz needs 3.13 or newer (the first release with a free-threaded build, --disable-gil)"
    fi
}

# Is $1 the top of a git work tree (and is git there to ask)?
is_git_top() {
    command -v git >/dev/null 2>&1 || return 1
    local top
    top=$(git -C "$1" rev-parse --show-toplevel 2>/dev/null) || return 1
    [[ $(cd "$top" && pwd -P) == $(cd "$1" && pwd -P) ]]
}

# Identity of a git checkout: HEAD, the diff of the work tree against it, and
# the contents of untracked files that are not ignored.  Ignored files are
# build output (CPython's .gitignore lists them) and are not copied either.
git_tree_hash() {
    local d=$1
    {
        git -C "$d" rev-parse HEAD
        git -C "$d" diff HEAD --binary
        git -C "$d" ls-files -z --others --exclude-standard |
            (cd "$d" && xargs -0 -r sha256sum --)
    } | sha256_of_stdin
}

# Identity of a plain directory: the contents of every file, build output
# (objects, archives, shared objects, bytecode) left out.
dir_tree_hash() {
    local d=$1
    (cd "$d" && find . \( -name .git -o -name __pycache__ \) -prune -o \
        -type f ! -name '*.o' ! -name '*.a' ! -name '*.so' ! -name '*.pyc' \
        -print0 | LC_ALL=C sort -z | xargs -0 -r sha256sum --) | sha256_of_stdin
}

resolve_user_source() {
    local d=$SRC_DIR
    [[ -e $d ]] || die "CPYTHON_SRC=$d does not exist"
    [[ -d $d ]] || die "CPYTHON_SRC=$d is not a directory"
    d=$(cd "$d" && pwd -P)
    local f
    for f in configure Makefile.pre.in Include/patchlevel.h Python/ceval.c; do
        [[ -f $d/$f ]] ||
            die "CPYTHON_SRC=$SRC_DIR is not a CPython source tree (no $f): point it at a CPython checkout or an unpacked release"
    done
    SRC_VERSION=$(patchlevel_version "$d") ||
        die "CPYTHON_SRC=$SRC_DIR: cannot read the version from Include/patchlevel.h"
    check_version "$SRC_VERSION" "CPYTHON_SRC=$SRC_DIR"
    SRC_DIR=$d
    if is_git_top "$d"; then
        SRC_KIND=git
        SRC_HASH=$(git_tree_hash "$d")
        SRC_DESC="git checkout $d at $(git -C "$d" rev-parse --short HEAD)"
        git -C "$d" diff --quiet HEAD 2>/dev/null || SRC_DESC+=" (modified)"
    else
        SRC_KIND=dir
        SRC_HASH=$(dir_tree_hash "$d")
        SRC_DESC="directory $d"
    fi
}

# --- source: Debian's python3.13 source package ------------------------------------

DEB_DIR=$CACHE/src/debian

# sha256 recorded for file $2 in the .dsc $1.
dsc_sha256() {
    awk -v name="$2" '
        /^Checksums-Sha256:/ { in_sums = 1; next }
        /^[^ ]/ { in_sums = 0 }
        in_sums && $3 == name { print $1; exit }
    ' "$1"
}

# Name of the orig tarball listed in the .dsc $1.
dsc_orig_tarball() {
    awk '
        /^Checksums-Sha256:/ { in_sums = 1; next }
        /^[^ ]/ { in_sums = 0 }
        in_sums && $3 ~ /\.orig\.tar\.(xz|gz|bz2)$/ { print $3; exit }
    ' "$1"
}

# Verify the orig tarball of the .dsc $1 (both in the same directory);
# print the tarball's path.
verify_dsc() {
    local dsc=$1 dir name want got
    dir=$(dirname "$dsc")
    name=$(dsc_orig_tarball "$dsc")
    [[ -n $name ]] || { echo "no orig tarball listed in $dsc" >&2; return 1; }
    [[ -f $dir/$name ]] || { echo "$dir/$name is missing" >&2; return 1; }
    want=$(dsc_sha256 "$dsc" "$name")
    got=$(sha256_of_file "$dir/$name")
    if [[ -z $want || $want != "$got" ]]; then
        echo "$dir/$name: sha256 $got does not match the .dsc ($want)" >&2
        return 1
    fi
    echo "$dir/$name"
}

# The Debian mirror this machine's apt uses for its own release.
debian_mirror() {
    if [[ -n ${FTFUZZ_DEBIAN_MIRROR:-} ]]; then
        echo "$FTFUZZ_DEBIAN_MIRROR"
        return
    fi
    local codename="" site
    # apt's own format fields, not shell expansions.
    # shellcheck disable=SC2016
    local fmt='$(TARGET_OF) $(RELEASE) $(SITE)'
    if [[ -r /etc/os-release ]]; then
        # shellcheck disable=SC1091
        codename=$(. /etc/os-release && echo "${VERSION_CODENAME:-}")
    fi
    site=$(apt-get indextargets --no-release-info \
        --format "$fmt" 2>/dev/null |
        awk -v c="$codename" '$1 == "deb" && $2 == c { print $3; exit }')
    if [[ -z $site ]]; then
        # Not a Debian release we know: any main-archive entry will do.
        site=$(apt-get indextargets --no-release-info \
            --format "$fmt" 2>/dev/null |
            awk '$1 == "deb" && $2 !~ /security/ { print $3; exit }')
    fi
    [[ -n $site ]] || return 1
    echo "$site"
}

# Download the source package into $DEB_DIR with a private apt state under
# $CACHE/apt (a deb-src entry for trixie that leaves the machine's own apt
# configuration alone).  Sets SRC_TARBALL.
download_debian_source() {
    command -v apt-get >/dev/null 2>&1 ||
        die "apt-get not found and no cached CPython source: set CPYTHON_SRC to a CPython 3.13+ tree"
    local mirror keyring=/usr/share/keyrings/debian-archive-keyring.gpg
    mirror=$(debian_mirror) ||
        die "cannot find a Debian mirror in this machine's apt configuration: set FTFUZZ_DEBIAN_MIRROR=<URI> or CPYTHON_SRC"
    [[ -f $keyring ]] ||
        die "$keyring is missing: apt-get install debian-archive-keyring"

    local apt=$CACHE/apt log=$CACHE/apt/apt.log
    mkdir -p "$apt/lists/partial" "$apt/cache/archives/partial" \
        "$apt/sources.list.d" "$apt/preferences.d"
    cat >"$apt/sources.list.d/ftfuzz-$DEBIAN_SUITE-src.sources" <<EOF
# Written by ftfuzz scripts/build-cpython.sh (private apt state).
Types: deb-src
URIs: $mirror
Suites: $DEBIAN_SUITE
Components: main
Signed-By: $keyring
EOF
    local opts=(
        -o "Dir::Etc::SourceList=/dev/null"
        -o "Dir::Etc::SourceParts=$apt/sources.list.d"
        -o "Dir::Etc::Preferences=/dev/null"
        -o "Dir::Etc::PreferencesParts=$apt/preferences.d"
        -o "Dir::State::Lists=$apt/lists"
        -o "Dir::Cache=$apt/cache"
        -o "APT::Sandbox::User=$(id -un)"
        -q
    )
    note "[source] fetching the $DEBIAN_SUITE source index from $mirror (log: $log)"
    # apt-get update exits 0 when a source cannot be reached (it only warns),
    # so look at what it says and at what it left too.
    rm -f "$apt"/lists/*_dists_"${DEBIAN_SUITE}"_*
    if ! apt-get "${opts[@]}" update >"$log" 2>&1 ||
        grep -qE '^(W|E): (Failed to fetch|Some index files failed)' "$log" ||
        ! compgen -G "$apt/lists/*_dists_${DEBIAN_SUITE}_main_source_Sources*" >/dev/null; then
        tail -n 15 "$log" >&2
        die "apt-get update failed: Debian's archive ($mirror) is unreachable.  Build from a local tree instead: CPYTHON_SRC=<CPython 3.13+ checkout> make cpython"
    fi

    local dl
    dl=$(mktemp -d "$CACHE/src/.download.XXXXXX")
    local want=$DEBIAN_PACKAGE=$DEBIAN_VERSION
    note "[source] downloading $want"
    if ! (cd "$dl" && apt-get "${opts[@]}" source --download-only "$want") >>"$log" 2>&1; then
        # That exact version left the archive: take trixie's current one if it
        # is still a 3.13.x.
        local current
        current=$( (apt-cache "${opts[@]}" showsrc --only-source "$DEBIAN_PACKAGE" 2>>"$log" || true) |
            awk '/^Version:/ { print $2 }' | sort -V | tail -n 1)
        if [[ -z $current ]]; then
            rm -rf "$dl"
            tail -n 15 "$log" >&2
            die "$DEBIAN_PACKAGE is not in $DEBIAN_SUITE's source index: set CPYTHON_SRC to a CPython 3.13+ tree"
        fi
        case "$current" in
            "$DEBIAN_UPSTREAM_SERIES".*) ;;
            *)
                rm -rf "$dl"
                die "$want is gone from Debian's archive and $DEBIAN_SUITE now has $DEBIAN_PACKAGE $current, not $DEBIAN_UPSTREAM_SERIES.x: set CPYTHON_SRC to a CPython 3.13+ tree"
                ;;
        esac
        note "[source] $want is no longer in Debian's archive: falling back to $DEBIAN_SUITE's current $DEBIAN_PACKAGE $current"
        want=$DEBIAN_PACKAGE=$current
        if ! (cd "$dl" && apt-get "${opts[@]}" source --download-only "$want") >>"$log" 2>&1; then
            rm -rf "$dl"
            tail -n 15 "$log" >&2
            die "apt-get source --download-only $want failed (log: $log)"
        fi
    fi

    local dsc tarball
    dsc=$(find "$dl" -maxdepth 1 -name '*.dsc' | head -n 1)
    [[ -n $dsc ]] || { rm -rf "$dl"; die "apt-get source left no .dsc in $dl"; }
    if ! tarball=$(verify_dsc "$dsc"); then
        rm -rf "$dl"
        die "the downloaded CPython source failed verification against its .dsc"
    fi
    note "[source] verified $(basename "$tarball") against $(basename "$dsc") (sha256)"
    # Keep the .dsc and the orig tarball; the Debian patches are not used.
    mv -f "$tarball" "$DEB_DIR/"
    mv -f "$dsc" "$DEB_DIR/"
    rm -rf "$dl"
    # The index is only needed again for another download: 20 MB less.
    rm -rf "$apt/lists" "$apt/cache"
    basename "$dsc" >"$DEB_DIR/current"
    SRC_TARBALL=$DEB_DIR/$(basename "$tarball")
}

resolve_debian_source() {
    mkdir -p "$DEB_DIR"
    local dsc="" name
    # The pinned version if it is cached, else the one a fallback recorded.
    if [[ -f $DEB_DIR/${DEBIAN_PACKAGE}_$DEBIAN_VERSION.dsc ]]; then
        dsc=$DEB_DIR/${DEBIAN_PACKAGE}_$DEBIAN_VERSION.dsc
    elif [[ -f $DEB_DIR/current ]]; then
        name=$(<"$DEB_DIR/current")
        [[ -f $DEB_DIR/$name ]] && dsc=$DEB_DIR/$name
    fi
    if [[ -n $dsc ]] && SRC_TARBALL=$(verify_dsc "$dsc" 2>/dev/null); then
        :
    else
        [[ -n $dsc ]] && note "[source] cached source failed verification: downloading it again"
        download_debian_source
        dsc=$DEB_DIR/$(<"$DEB_DIR/current")
    fi
    SRC_KIND=debian
    SRC_HASH=$(sha256_of_file "$SRC_TARBALL")
    # python3.13_3.13.5.orig.tar.xz -> 3.13.5
    SRC_VERSION=$(basename "$SRC_TARBALL" | sed -n 's/^[^_]*_\([0-9][0-9.]*[0-9]\).*\.orig\.tar\..*/\1/p')
    [[ -n $SRC_VERSION ]] || die "cannot tell the version of $SRC_TARBALL"
    SRC_DESC="Debian source package $(basename "$dsc" .dsc) ($(basename "$SRC_TARBALL"))"
}

mkdir -p "$CACHE/cpython" || die "cannot create $CACHE/cpython"
if [[ -n $SRC_DIR ]]; then
    resolve_user_source
else
    resolve_debian_source
fi

if ((PRINT_SRC)); then
    if [[ $SRC_KIND == debian ]]; then
        echo "$SRC_TARBALL"
    else
        echo "$SRC_DIR"
    fi
    exit 0
fi

# --- flags and cache key --------------------------------------------------------

CC_VERSION=$("$CC_NAME" --version | head -n 1)
CFLAGS_EXTRA=()
LDFLAGS_EXTRA=()
CONFIGURE_EXTRA=()
PY_LDFLAGS_EXTRA=()
if [[ $VARIANT == fuzz ]]; then
    CFLAGS_EXTRA=(-include "$HOOK_HEADER" -DFTFUZZ_HOOK_NO_C11 -fsanitize=fuzzer-no-link
                  "-fsanitize-coverage-ignorelist=$COVERAGE_IGNORE")
    LDFLAGS_EXTRA=(-fsanitize=fuzzer-no-link)
    PY_LDFLAGS_EXTRA=(-fsanitize=fuzzer-no-link)
    if [[ $SANITIZER == address ]]; then
        # CPython's own switch: -fsanitize=address (and
        # -fno-omit-frame-pointer) in CFLAGS and LDFLAGS.
        CONFIGURE_EXTRA=(--with-address-sanitizer)
        PY_LDFLAGS_EXTRA+=(-fsanitize=address)
    fi
fi
# Extra flags, split on blanks (a custom build only: empty otherwise, which
# leaves the manifest, and so the key, of the standard builds unchanged).
read -r -a words <<<"$EXTRA_CFLAGS"
CFLAGS_EXTRA+=("${words[@]}")
read -r -a words <<<"$EXTRA_LDFLAGS"
LDFLAGS_EXTRA+=("${words[@]}")
PY_LDFLAGS_EXTRA+=("${words[@]}")

# Plain-access points on the selected files only: a target-specific
# CFLAGS_NODIST for each of their objects, appended to the Makefile after
# configure (CPython compiles every file with $(CFLAGS_NODIST)).  The
# fuzz variant's libFuzzer coverage gives trace-loads/stores its level.
PLAIN_ACCESS_FLAGS=-fsanitize-coverage=trace-loads,trace-stores

# What the key hashes, one item a line; kept in the prefix as
# ftfuzz-build-info.txt.  The repository path is replaced by <ROOT> so that two
# checkouts of ftfuzz share a cache.
key_manifest() {
    echo "script-version: $SCRIPT_VERSION"
    echo "source-kind: $SRC_KIND"
    echo "source-hash: $SRC_HASH"
    echo "source-version: $SRC_VERSION"
    echo "variant: $VARIANT"
    echo "sanitizer: $SANITIZER"
    echo "compiler: $CC_NAME: $CC_VERSION"
    echo "configure: ${CONFIGURE_FLAGS[*]} ${CONFIGURE_EXTRA[*]}"
    echo "cflags: ${CFLAGS_EXTRA[*]//$ROOT/<ROOT>}"
    echo "ldflags: ${LDFLAGS_EXTRA[*]}"
    # only when set: the standard builds keep their key
    [[ -z $PLAIN_ACCESS_FILES ]] ||
        echo "plain-access-files: $PLAIN_ACCESS_FILES ($PLAIN_ACCESS_FLAGS)" \
             "$(sha256_of_file "$PLAIN_STUB")"
    if [[ $VARIANT == fuzz ]]; then
        # The plain variant uses none of these, so editing them does not
        # rebuild it.
        echo "hook-header: $(sha256_of_file "$HOOK_HEADER")"
        echo "hook-stub: $(sha256_of_file "$HOOK_STUB")"
        echo "coverage-ignorelist: $(sha256_of_file "$COVERAGE_IGNORE")"
    fi
}

MANIFEST=$(key_manifest)
KEY=$SRC_VERSION-$VARIANT_NAME-$(printf '%s\n' "$MANIFEST" | sha256_of_stdin | cut -c1-16)
PREFIX=$CACHE/cpython/$KEY
LOG_DIR=$CACHE/cpython/logs/$KEY
LINK=$LINK_DIR/cpython-$VARIANT_NAME

if ((PRINT_KEY)); then
    echo "$PREFIX"
    exit 0
fi

refresh_link() {
    mkdir -p "$LINK_DIR"
    ln -sfn "$PREFIX" "$LINK"
}

is_complete() {
    [[ -f $PREFIX/ftfuzz-cpython.mk ]]
}

if ((!FORCE)) && is_complete; then
    refresh_link
    note "up to date: $VARIANT_NAME CPython $SRC_VERSION in $PREFIX"
    exit 0
fi

# One build per key at a time; a second caller waits, then finds it done.
exec 9>"$CACHE/cpython/.lock-$KEY"
if ! flock -n 9; then
    note "another build of $KEY is running: waiting for it"
    flock 9
fi
if ((!FORCE)) && is_complete; then
    refresh_link
    note "up to date: $VARIANT_NAME CPython $SRC_VERSION in $PREFIX"
    exit 0
fi

# Remove temporary trees left by builds that were killed.
for stale in "$CACHE"/cpython/.tmp."$KEY".*; do
    [[ -d $stale ]] && rm -rf "$stale"
done

# --- build ---------------------------------------------------------------------------

note "building $VARIANT_NAME CPython $SRC_VERSION from $SRC_DESC"
note "cache: $PREFIX"
note "logs:  $LOG_DIR"
rm -rf "$LOG_DIR"
mkdir -p "$LOG_DIR"
printf '%s\n' "$MANIFEST" >"$LOG_DIR/key.txt"

TMP=$(mktemp -d "$CACHE/cpython/.tmp.$KEY.XXXXXX")
# Called by the EXIT trap.
# shellcheck disable=SC2317
cleanup() {
    local rc=$?
    if ((rc != 0)) && [[ ${FTFUZZ_KEEP_BUILD:-0} == 1 ]]; then
        echo "build-cpython.sh: build tree kept in $TMP" >&2
    else
        rm -rf "$TMP"
    fi
}
trap cleanup EXIT

START=$SECONDS
step_start=$SECONDS

step() {
    step_start=$SECONDS
    note "$*"
}

step_done() {
    note "    done in $((SECONDS - step_start)) s"
}

# Run a command with its output in log $1; on failure print the log's tail.
run_logged() {
    local log=$1 what=$2
    shift 2
    if ! "$@" >"$log" 2>&1; then
        echo "----- last lines of $log -----" >&2
        tail -n 40 "$log" >&2
        echo "-----" >&2
        die "$what failed (full log: $log)"
    fi
}

BUILD_DIR=$TMP/src
step "[1/5] preparing the source tree in $BUILD_DIR"
case "$SRC_KIND" in
    debian)
        mkdir -p "$TMP/unpack"
        tar -xf "$SRC_TARBALL" -C "$TMP/unpack" ||
            die "cannot unpack $SRC_TARBALL (is xz-utils installed? run make deps)"
        top=$(find "$TMP/unpack" -mindepth 1 -maxdepth 1 -type d)
        [[ -n $top && $(wc -l <<<"$top") -eq 1 ]] ||
            die "$SRC_TARBALL does not unpack to a single directory"
        mv "$top" "$BUILD_DIR"
        rmdir "$TMP/unpack"
        ;;
    git)
        # Exactly the files the key hashes: tracked and untracked, not ignored.
        mkdir -p "$BUILD_DIR"
        (cd "$SRC_DIR" && git ls-files -z --cached --others --exclude-standard |
            while IFS= read -r -d '' f; do
                [[ -e $f || -L $f ]] && printf '%s\0' "$f"
            done | tar --null -T - -cf -) | tar -xf - -C "$BUILD_DIR"
        ;;
    dir)
        cp -a "$SRC_DIR" "$BUILD_DIR"
        if [[ -f $BUILD_DIR/Makefile ]]; then
            # Configured in place: start from a clean copy.
            note "    $SRC_DIR was configured in place: running 'make distclean' in the copy"
            make -C "$BUILD_DIR" distclean >"$LOG_DIR/distclean.log" 2>&1 || true
        fi
        ;;
esac
step_done

STUB_OBJ=
if [[ $VARIANT == fuzz ]]; then
    STUB_OBJ=$TMP/ftfuzz-hook-stub.o
    "$CC_NAME" -O2 -c "$HOOK_STUB" -o "$STUB_OBJ" ||
        die "cannot compile $HOOK_STUB"
    if [[ -n $PLAIN_ACCESS_FILES ]]; then
        "$CC_NAME" -O2 -c "$PLAIN_STUB" -o "$TMP/ftfuzz-plain-stub.o" ||
            die "cannot compile $PLAIN_STUB"
        STUB_OBJ="$STUB_OBJ $TMP/ftfuzz-plain-stub.o"
    fi
fi

step "[2/5] configure ${CONFIGURE_FLAGS[*]} ${CONFIGURE_EXTRA[*]} (log: $LOG_DIR/configure.log)"
configure_env=(CC="$CC_NAME")
if [[ $VARIANT == fuzz ]]; then
    # The stub is in LIBS only: linked into the build's programs, never
    # compiled into libpython.
    configure_env+=(
        CFLAGS="${CFLAGS_EXTRA[*]}"
        LDFLAGS="${LDFLAGS_EXTRA[*]}"
        LIBS="$STUB_OBJ"
    )
elif ((CUSTOM)); then
    configure_env+=(
        CFLAGS="${CFLAGS_EXTRA[*]}"
        LDFLAGS="${LDFLAGS_EXTRA[*]}"
    )
fi
run_logged "$LOG_DIR/configure.log" "configure" \
    env -C "$BUILD_DIR" "${configure_env[@]}" ./configure --prefix="$PREFIX" \
    "${CONFIGURE_FLAGS[@]}" "${CONFIGURE_EXTRA[@]}"
grep -q '^#define Py_GIL_DISABLED 1' "$BUILD_DIR/pyconfig.h" ||
    die "configure did not enable the free-threaded build (--disable-gil): Py_GIL_DISABLED is not set in pyconfig.h (log: $LOG_DIR/configure.log)"
grep -q '^#define Py_DEBUG 1' "$BUILD_DIR/pyconfig.h" ||
    die "configure did not enable the debug build (--with-pydebug) (log: $LOG_DIR/configure.log)"
# `make install` byte-compiles the stdlib at optimisation levels 0, 1 and 2;
# an embedded debug interpreter only ever loads level 0.
if grep -q -- '-o 0 -o 1 -o 2 ' "$BUILD_DIR/Makefile"; then
    sed -i 's/-o 0 -o 1 -o 2 /-o 0 /' "$BUILD_DIR/Makefile"
fi
step_done

if [[ -n $PLAIN_ACCESS_FILES ]]; then
    nplain=0
    read -r -a globs <<<"$PLAIN_ACCESS_FILES"
    for g in "${globs[@]}"; do
        matched=0
        for f in "$BUILD_DIR"/$g; do
            [[ -f $f && $f == *.c ]] || continue
            rel=${f#"$BUILD_DIR"/}
            printf '%s: CFLAGS_NODIST += %s\n' "${rel%.c}.o" \
                "$PLAIN_ACCESS_FLAGS" >>"$BUILD_DIR/Makefile"
            matched=1
            nplain=$((nplain + 1))
        done
        ((matched)) || die "--plain-access-files: '$g' matches no .c file in the source tree"
    done
    note "    plain-access points in $nplain source files ($PLAIN_ACCESS_FILES)"
fi

step "[3/5] make -j$JOBS (log: $LOG_DIR/make.log)"
run_logged "$LOG_DIR/make.log" "make" make -C "$BUILD_DIR" -j"$JOBS"
step_done

DEST=$TMP/dest
step "[4/5] make install (log: $LOG_DIR/install.log)"
run_logged "$LOG_DIR/install.log" "make install" \
    make -C "$BUILD_DIR" -j"$JOBS" install DESTDIR="$DEST"
step_done

step "[5/5] checking the interpreter and writing ftfuzz-cpython.mk"
STAGE=$DEST$PREFIX
[[ -d $STAGE ]] || die "make install left nothing in $STAGE"
# The staged interpreter finds its stdlib relative to its own location.
PYEXE=$(find "$STAGE/bin" -maxdepth 1 -name 'python3.*' ! -name '*-config' -type f | head -n 1)
[[ -n $PYEXE ]] || die "make install did not install bin/python3.X"
check_log=$LOG_DIR/check.log
run_logged "$check_log" "the installed interpreter's self-check" env -u PYTHONHOME -u PYTHONPATH "$PYEXE" -c '
import sys, sysconfig
assert not sys._is_gil_enabled(), "the GIL is enabled"
assert sysconfig.get_config_var("Py_GIL_DISABLED") == 1, "not free-threaded"
assert hasattr(sys, "gettotalrefcount"), "not a debug build"
import threading, _ctypes, zlib, _ssl, _hashlib, bz2, lzma, _uuid
print("ok", sys.version)
'
# Values for the make fragment, from the installed sysconfig.
run_logged "$LOG_DIR/sysconfig.log" "reading sysconfig" env -u PYTHONHOME -u PYTHONPATH "$PYEXE" -c '
import sysconfig
v = sysconfig.get_config_var
for name in ("VERSION", "LDVERSION", "LIBRARY", "LIBS", "SYSLIBS", "MODLIBS"):
    print(name + "=" + (v(name) or "").strip())
'
sysvar() {
    sed -n "s/^$1=//p" "$LOG_DIR/sysconfig.log"
}
PY_VERSION=$(sysvar VERSION)
PY_LDVERSION=$(sysvar LDVERSION)
LIBRARY=$(sysvar LIBRARY)
[[ -f $STAGE/lib/$LIBRARY ]] || die "static library $STAGE/lib/$LIBRARY not installed"
INCLUDE_DIR=$PREFIX/include/python$PY_LDVERSION
[[ -f $STAGE/include/python$PY_LDVERSION/Python.h ]] ||
    die "Python.h not installed in $STAGE/include/python$PY_LDVERSION"

# Link libraries: what python-config --libs --embed gives (LIBS, SYSLIBS)
# plus MODLIBS, less the hook stub, plus the usual four; each once.
libs=()
declare -A seen=()
for w in $(sysvar LIBS) $(sysvar MODLIBS) $(sysvar SYSLIBS) -lm -ldl -lpthread -lutil; do
    [[ -n $STUB_OBJ && " $STUB_OBJ " == *" $w "* ]] && continue
    [[ -n ${seen[$w]:-} ]] && continue
    seen[$w]=1
    libs+=("$w")
done

# The static library must reference the hooks (fuzz) or not (plain), and
# never define them: the stub is only in LIBS.
NM=llvm-nm-19
command -v "$NM" >/dev/null 2>&1 || NM="nm"
hook_syms=$("$NM" "$STAGE/lib/$LIBRARY" 2>/dev/null | grep -E ' ftfuzz_(atomic_point|hook_active)$' || true)
if grep -qE ' [A-TV-Z] ftfuzz_' <<<"$hook_syms"; then
    die "$LIBRARY defines an ftfuzz hook symbol: the stub must not be part of libpython"
fi
if [[ -n $PLAIN_ACCESS_FILES ]]; then
    # grep -c reads to the end: grep -q would leave nm a broken pipe,
    # which pipefail turns into a failure
    plain_calls=$("$NM" "$STAGE/lib/$LIBRARY" 2>/dev/null |
                  grep -cE ' U __sanitizer_cov_(load|store)[1248]$' || true)
    ((plain_calls > 0)) ||
        die "$LIBRARY has no plain-access callback: --plain-access-files was not applied"
fi
if [[ $VARIANT == fuzz ]]; then
    grep -q ' U ftfuzz_atomic_point$' <<<"$hook_syms" ||
        die "$LIBRARY does not call ftfuzz_atomic_point: the hook header was not applied"
elif ((!CUSTOM)); then
    # (a custom plain build may add the hooks on purpose: make bench's
    # hooks-only variant)
    [[ -z $hook_syms ]] || die "plain $LIBRARY references ftfuzz hooks"
fi

PYEXE_NAME=python$PY_VERSION
[[ -x $STAGE/bin/$PYEXE_NAME ]] || PYEXE_NAME=$(basename "$PYEXE")
py_ldflags=(-rdynamic "${PY_LDFLAGS_EXTRA[@]}")
cat >"$STAGE/ftfuzz-cpython.mk" <<EOF
# Written by scripts/build-cpython.sh (version $SCRIPT_VERSION): the
# $VARIANT_NAME CPython $SRC_VERSION for programs that embed it.
# Source: $SRC_DESC
# Set PyConfig.home to PY_HOME: the stdlib is found relative to it.
PY_VARIANT  := $VARIANT
PY_SANITIZER := $SANITIZER
PY_VERSION  := $PY_VERSION
PY_FULL_VERSION := $SRC_VERSION
PY_LDVERSION := $PY_LDVERSION
PY_HOME     := $PREFIX
PY_PYTHON   := $PREFIX/bin/$PYEXE_NAME
PY_CFLAGS   := -I$INCLUDE_DIR
PY_STATIC_LIB := $PREFIX/lib/$LIBRARY
PY_LIBS     := $PREFIX/lib/$LIBRARY ${libs[*]}
PY_LDFLAGS  := ${py_ldflags[*]}
EOF
printf '%s\n' "$MANIFEST" >"$STAGE/ftfuzz-build-info.txt"
step_done

# Publish: one rename, so a half-built prefix is never seen under $PREFIX.
rm -rf "$PREFIX"
mv -T "$STAGE" "$PREFIX"
refresh_link
note "built $VARIANT_NAME CPython $SRC_VERSION in $((SECONDS - START)) s: $PREFIX"
note "link: $LINK -> $PREFIX"
exit 0
}
