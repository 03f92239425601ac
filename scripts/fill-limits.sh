#!/usr/bin/env bash
# fill-limits.sh FILE: FILE with every @NAME@ replaced by the value of the
# limit NAME in include/ftfuzz/limits.def (the one place limits are
# defined), on standard output.  An unknown name is an error.
set -euo pipefail
if [[ $# -ne 1 || $1 == -h || $1 == --help ]]; then
    echo "usage: scripts/fill-limits.sh FILE   (writes FILE with @LIMIT@ filled in)" >&2
    [[ $# -eq 1 ]] && exit 0 || exit 2
fi
def="$(dirname "$0")/../include/ftfuzz/limits.def"
script=$(sed -n 's/^FTFUZZ_LIMIT(\([A-Z_0-9]*\), *\([0-9]*\),.*/s|@\1@|\2|g;/p' "$def")
out=$(sed -e "$script" "$1")
if grep -q '@[A-Z_0-9]*@' <<<"$out"; then
    echo "fill-limits.sh: $1: no such limit in $def:" \
         "$(grep -o '@[A-Z_0-9]*@' <<<"$out" | head -1)" >&2
    exit 1
fi
printf '%s\n' "$out"
