#!/usr/bin/env bash
# deps.sh: install the Debian packages that ftfuzz needs, if any are missing.
#
# Quiet and quick when everything is installed (one dpkg-query call); only
# then does it run `apt-get update` and `apt-get install`.  Run by `make deps`
# (and so by `make cpython`, `make check`, `make fuzz`).
set -euo pipefail

usage() {
    cat <<'EOF'
usage: scripts/deps.sh [--check] [--list] [--help]

Install from Debian's archive the packages ftfuzz needs that are missing:
the clang-19 toolchain (clang, lld, llvm-symbolizer, libFuzzer runtime),
protobuf-c, CPython's build dependencies, python3-pytest and
python3-pytest-xdist.

Prints nothing and exits 0 when everything is already installed.  When
something is missing it runs `apt-get update` and `apt-get install` (needs
root; as another user it names the missing packages and exits 1).

  --check   only report missing packages (exit 1 if any), install nothing
  --list    print the package list and exit
  --help    this text
EOF
}

# One package a line, with why it is needed.
PACKAGES=(
    clang-19            # compiler for CPython and ftfuzz
    lld-19              # linker
    llvm-19             # llvm-symbolizer, llvm-nm, llvm-ar
    libclang-rt-19-dev  # libFuzzer and sanitizer runtimes
    libprotobuf-c-dev   # structured fuzz inputs
    protobuf-c-compiler # protoc-c, run at build time
    make
    xz-utils            # unpack CPython's .tar.xz
    pkg-config          # CPython's configure finds libs with it
    zlib1g-dev          # CPython: zlib
    libffi-dev          # CPython: ctypes
    libssl-dev          # CPython: ssl, hashlib
    libbz2-dev          # CPython: bz2
    liblzma-dev         # CPython: lzma
    uuid-dev            # CPython: uuid
    python3-pytest      # the test suite (/usr/bin/python3 -m pytest)
    python3-pytest-xdist  # ... on every core (pytest -n)
)

mode=install
while (($#)); do
    case "$1" in
        --check) mode=check ;;
        --list) mode=list ;;
        -h | --help) usage; exit 0 ;;
        *) echo "deps.sh: unknown option: $1 (see --help)" >&2; exit 2 ;;
    esac
    shift
done

if [[ $mode == list ]]; then
    printf '%s\n' "${PACKAGES[@]}"
    exit 0
fi

if ! command -v dpkg-query >/dev/null 2>&1; then
    echo "deps.sh: dpkg-query not found: this script needs Debian (12 or newer)" >&2
    exit 1
fi

# Packages whose status is not "installed".  dpkg-query exits non-zero when
# some package is unknown to dpkg; its output still says what it knows.
missing=()
declare -A installed=()
while read -r name status; do
    [[ $status == installed ]] && installed[$name]=1
done < <(dpkg-query -W -f='${Package} ${db:Status-Status}\n' \
    "${PACKAGES[@]}" 2>/dev/null || true)
for p in "${PACKAGES[@]}"; do
    [[ -n ${installed[$p]:-} ]] || missing+=("$p")
done

((${#missing[@]} == 0)) && exit 0

if [[ $mode == check ]]; then
    echo "deps.sh: missing packages: ${missing[*]}" >&2
    exit 1
fi

if ((EUID != 0)); then
    cat >&2 <<EOF
deps.sh: missing Debian packages: ${missing[*]}
deps.sh: installing them needs root.  Run as root:
    apt-get update && apt-get install -y ${missing[*]}
EOF
    exit 1
fi

echo "deps.sh: installing missing packages: ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
if ! apt-get update -qq; then
    echo "deps.sh: apt-get update failed: is Debian's archive reachable?" >&2
    exit 1
fi
if ! apt-get install -y -qq --no-install-recommends "${missing[@]}"; then
    echo "deps.sh: apt-get install failed for: ${missing[*]}" >&2
    exit 1
fi
echo "deps.sh: done"
