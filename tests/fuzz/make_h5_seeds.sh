#!/bin/sh
# Seeds for fuzz_h5: result files of the small test jobs (a gradient scan, an array-job
# piece, a landscape scan, an exact-moments scan).
# usage: tests/fuzz/make_h5_seeds.sh build/bpscan OUTDIR
set -e
exe=$(readlink -f "$1")
here=$(cd "$(dirname "$0")/../.." && pwd)
mkdir -p "$2"
cd "$2"
export OMP_NUM_THREADS=1
"$exe" run "$here/jobs/test/tiny.ini" -o tiny.h5 --force 2>/dev/null
"$exe" run "$here/jobs/test/tiny.ini" -o piece.h5 --slice 0/2 --force 2>/dev/null
"$exe" run "$here/jobs/test/tiny-landscape.ini" -o land.h5 --force 2>/dev/null
"$exe" run "$here/jobs/test/tiny.ini" -o moments.h5 --set scan.mode=moments --force 2>/dev/null
ls -l
