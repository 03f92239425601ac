#!/bin/bash -eu
# ClusterFuzzLite's build script: the OSS-Fuzz one, unchanged (it checks
# its environment, builds CPython and the seven targets into $OUT).
exec bash -eu "$SRC/ftfuzz/scripts/oss-fuzz/build.sh"
