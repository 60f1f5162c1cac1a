"""Helpers for the scanner system tests: run bpscan (alone or under mpirun) and compare
result files. Run with Debian's /usr/bin/python3 (h5py, numpy)."""
import os
import subprocess
import sys

import h5py
import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
JOBS = os.path.join(ROOT, "jobs", "test")

# Attributes that legitimately differ between runs (provenance).
PROVENANCE = {"mpi_ranks", "omp_threads", "host", "hosts", "start_time", "end_time", "start_unix",
              "end_unix", "wall_plan", "wall_compute", "wall_reduce", "wall_write",
              "git_commit", "bpscan_version"}


def bpscan():
    exe = os.environ.get("BPSCAN_BIN")
    if not exe:
        sys.exit("BPSCAN_BIN is not set")
    return exe


def env(threads=1):
    e = dict(os.environ)
    e.update(OMP_NUM_THREADS=str(threads), OPENBLAS_NUM_THREADS="1",
             OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1",
             OMPI_MCA_rmaps_base_oversubscribe="1", OMPI_MCA_pml="ob1",
             OMPI_MCA_btl="self,vader")
    e.pop("SLURM_RESTART_COUNT", None)
    return e


def cmd(args, ranks=0):
    """bpscan args, under mpirun when ranks >= 1."""
    if ranks:
        return ["mpirun", "-n", str(ranks), "--oversubscribe", "--bind-to", "none", bpscan()] + args
    return [bpscan()] + args


def run(args, ranks=0, threads=1, cwd=None, check=True, timeout=600):
    p = subprocess.run(cmd(args, ranks), cwd=cwd, env=env(threads), capture_output=True,
                       text=True, timeout=timeout)
    if check and p.returncode != 0:
        raise AssertionError("bpscan %s failed (%d):\n%s\n%s" % (" ".join(args), p.returncode,
                                                                 p.stdout, p.stderr))
    return p


def walk(f):
    """{path: (kind, value)} for every dataset and attribute except provenance."""
    out = {}

    def visit(name, obj):
        for k, v in obj.attrs.items():
            if obj.name == "/" and k in PROVENANCE:
                continue
            out["%s@%s" % (obj.name, k)] = np.asarray(v)
        if isinstance(obj, h5py.Dataset):
            out[obj.name] = obj[()]
    visit("/", f)
    f.visititems(visit)
    return out


def run_in_subdir(d, job, ranks, threads, sets=(), tag=""):
    """Run job with `-o out.h5` (and `--set` each of sets) in its own new directory below d
    (named after the job, tag and the configuration, so every run stores the same job
    text); returns the result path."""
    sub = os.path.join(d, "%s%s-r%dt%d" % (os.path.basename(job), tag, ranks, threads))
    os.mkdir(sub)
    extra = [a for s in sets for a in ("--set", s)]
    run(["run", job, "-o", "out.h5"] + extra, ranks=ranks, threads=threads, cwd=sub)
    return os.path.join(sub, "out.h5")


def assert_same_data(a, b):
    """Bitwise equality of every dataset and non-provenance attribute."""
    with h5py.File(a, "r") as fa, h5py.File(b, "r") as fb:
        da, db = walk(fa), walk(fb)
    if set(da) != set(db):
        raise AssertionError("different objects: %s" % sorted(set(da) ^ set(db)))
    for k in sorted(da):
        x, y = np.asarray(da[k]), np.asarray(db[k])
        if x.dtype != y.dtype or x.shape != y.shape:
            raise AssertionError("%s: dtype/shape %s%s vs %s%s" % (k, x.dtype, x.shape, y.dtype, y.shape))
        if x.dtype.kind in "fc":
            same = x.tobytes() == y.tobytes()
        else:
            same = np.array_equal(x, y)
        if not same:
            raise AssertionError("%s differs between %s and %s" % (k, a, b))
    return len(da)
