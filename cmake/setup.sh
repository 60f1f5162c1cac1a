#!/usr/bin/env bash
# cmake/setup.sh: one-command setup for bpscan on Debian 12 (the README's two commands).
#
#   bash cmake/setup.sh main    install missing packages, build, run the quickstart scan,
#                               summarise it and fit Var[dC] against n (writes results/)
#   bash cmake/setup.sh test    install missing packages, build from clean, run all tests
#   bash cmake/setup.sh deps    only install missing Debian packages (needs root)
#   bash cmake/setup.sh build   only configure and build into build/
#
# Idempotent: packages already installed are not touched; apt-get runs only when something
# is missing. Environment: BPSCAN_BUILD (build directory, default build/), BPSCAN_JOBS.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=${BPSCAN_BUILD:-$here/build}
jobs=${BPSCAN_JOBS:-$(nproc --all)}

# Debian packages bpscan needs (platform facts: ../shared/platform.md); the test command
# also needs clang for the job-file fuzzer and a Slurm for the batch-script tests.
test_packages=(clang libclang-rt-14-dev slurmctld slurmd slurm-client munge)
packages=(
  build-essential cmake pkg-config git
  libopenmpi-dev openmpi-bin
  libhdf5-openmpi-dev hdf5-tools
  libfftw3-dev librandom123-dev
  libopenblas-openmp-dev liblapacke-dev
  libinih-dev
  python3-h5py python3-numpy python3-scipy python3-matplotlib python3-pytest
  python3-pip   # pip install ./analysis (offline: brings Debian's setuptools and wheel)
)

# mpirun as root and more ranks than cores (tests use 4 ranks on 2 cores).
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
export OMPI_MCA_rmaps_base_oversubscribe=1
# Debian's python3 sees h5py/numpy; a pyenv python3 on PATH does not.
export PYENV_VERSION=system

say() { printf '[setup] %s\n' "$*"; }

deps() {
  local missing=() want=("${packages[@]}")
  [ "${1:-}" = test ] && want+=("${test_packages[@]}")
  for p in "${want[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  if [ ${#missing[@]} -eq 0 ]; then
    say "all ${#want[@]} Debian packages present"
    return 0
  fi
  if [ "$(id -u)" -ne 0 ]; then
    say "missing packages: ${missing[*]}"
    say "run as root, or: sudo apt-get install ${missing[*]}"
    exit 1
  fi
  say "installing: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}"
}

configure_build() {
  local extra=("$@")
  cmake -S "$here" -B "$build" -DCMAKE_BUILD_TYPE=Release "${extra[@]}"
  cmake --build "$build" -j "$jobs"
}

cmd=${1:-}
case "$cmd" in
  deps) deps ;;
  build) deps; configure_build ;;
  main)
    deps
    configure_build
    mkdir -p "$here/results"
    out="$here/results/quickstart-$(date +%Y%m%d-%H%M%S).h5"
    say "main job: bpscan run jobs/quickstart.ini -> $out"
    "$build/bpscan" run "$here/jobs/quickstart.ini" -o "$out"
    "$build/bpscan" info "$out"
    say "fit and plot: analysis/bpfit fit"
    /usr/bin/python3 "$here/analysis/bpfit" fit "$out" --plot "${out%.h5}.png" \
      --table "${out%.h5}.csv" --json "${out%.h5}.json"
    say "results: $out, ${out%.h5}.png, ${out%.h5}.csv"
    ;;
  test)
    deps test
    say "clean build in $build"
    rm -rf "$build"
    configure_build -DBPSCAN_WERROR=ON
    say "building the job-file fuzzer (clang, libFuzzer + ASan/UBSan)"
    CC=clang cmake -S "$here" -B "$build/fuzz" -DCMAKE_BUILD_TYPE=Release -DBPSCAN_FUZZ=ON >/dev/null
    cmake --build "$build/fuzz" -j "$jobs" --target fuzz_job fuzz_ckpt
    say "running the test suite"
    (cd "$build" && ctest --output-on-failure -j "$jobs" --timeout 900)
    say "fuzzing the job-file parser and the checkpoint reader for a bounded time"
    (cd "$build/fuzz" && ctest --output-on-failure -L fuzz)
    ;;
  *)
    sed -n '2,/^set /p' "${BASH_SOURCE[0]}" | grep '^#' | sed 's/^# \{0,1\}//'
    exit 2
    ;;
esac
