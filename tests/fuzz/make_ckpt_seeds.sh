#!/bin/sh
# Real checkpoint files of jobs/test/resume.ini for the fuzz_ckpt seeds: a run stopped by
# SIGTERM after its first checkpoint (exit 75), twice at different moments.
# usage: tests/fuzz/make_ckpt_seeds.sh build/bpscan
set -e
exe=$(readlink -f "$1")
here=$(cd "$(dirname "$0")/../.." && pwd)
seeds="$here/tests/fuzz/seeds/ckpt"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$seeds"
for wait in 0.5 1.5; do  # -> resume-0.5.bin, resume-1.5.bin
  rm -rf "$work"/*
  (cd "$work" && OMP_NUM_THREADS=1 "$exe" run "$here/jobs/test/resume.ini" -o resume.h5 2>/dev/null & echo $! > "$work/pid"; wait) &
  sleep "$wait"
  kill -TERM "$(cat "$work/pid")"
  wait || true
  for f in "$work"/resume.h5.ckpt/*.bin; do cp "$f" "$seeds/resume-$wait.bin"; done
done
ls -l "$seeds"
