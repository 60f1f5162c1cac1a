#!/usr/bin/python3
"""m230-merge: array-job pieces and `bpscan merge`, without Slurm.

`bpscan run --slice K/3` for K = 0, 1, 2 (at 1 and 2 ranks) writes three pieces that
`bpscan merge` combines, in any order, into the data of a single run, bitwise (also for a
landscape scan of 2-D planes); pieces and
the merged file pass tests/py/check_schema.py, and `bpscan info` calls a piece "piece K of
N" and the merged file complete. merge refuses (exit 2, naming the cause): a missing piece
(which K, which n and samples), a duplicate piece, pieces of another job or of another
slice count, a complete scan given as a piece, overlapping samples, a file that is not a
result, and an output that is also an input; an existing output needs --force (exit 3), an
output in a missing directory or a directory as the output is exit 6.
slurm/bpscan.sbatch and slurm/merge-array.sbatch also run outside Slurm (mpirun) with the
environment of an array job whose task ids start at 4 (--array=4-6): the pieces are
0, 1, 2 of 3 and merge to the same data. Run with /usr/bin/python3 (h5py); needs BPSCAN_BIN.
"""
import os
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, "tests", "scan"))
import h5py  # noqa: E402

from scanlib import JOBS, assert_same_data, bpscan, env, run  # noqa: E402

CHECK_SCHEMA = os.path.join(ROOT, "tests", "py", "check_schema.py")
job = os.path.join(JOBS, "tiny.ini")
passed = 0


def ok(msg):
    global passed
    passed += 1
    print("ok %d: %s" % (passed, msg), flush=True)


def merge(args, cwd, code):
    p = run(["merge"] + args, cwd=cwd, check=False)
    if p.returncode != code:
        raise AssertionError("bpscan merge %s: exit %d, expected %d\n%s%s" % (
            " ".join(args), p.returncode, code, p.stdout, p.stderr))
    return p.stderr


def refused(args, cwd, *parts):
    err = merge(args, cwd, 2)
    for part in parts:
        assert part in err, "message lacks %r:\n%s" % (part, err)
    return err


def schema_ok(path):
    p = subprocess.run([sys.executable, CHECK_SCHEMA, path], capture_output=True, text=True)
    assert p.returncode == 0, p.stderr


with tempfile.TemporaryDirectory() as d:
    ref_dir, pd = os.path.join(d, "ref"), os.path.join(d, "pieces")
    os.mkdir(ref_dir)
    os.mkdir(pd)
    # the single run writes out.h5, and so does the merge (in another directory): the job
    # texts, which record the output path, are then equal
    run(["run", job, "-o", "out.h5"], cwd=ref_dir)
    ref = os.path.join(ref_dir, "out.h5")
    for k, ranks in ((0, 0), (1, 2), (2, 0)):
        run(["run", job, "-o", "p%d.h5" % k, "--slice", "%d/3" % k], ranks=ranks, cwd=pd)
    pieces = ["p%d.h5" % k for k in range(3)]
    with h5py.File(os.path.join(pd, "p1.h5"), "r") as f:
        assert (int(f.attrs["slice_index"]), int(f.attrs["slice_count"])) == (1, 3)
        assert int(f["n2"].attrs["samples_total"]) == 64
        si = f["n2/sample_index"][()]
        assert si.dtype.str == "<i8" and len(si) == int(f["n2"].attrs["num_samples"]) < 64
    for p in pieces:
        schema_ok(os.path.join(pd, p))
    info = run(["info", os.path.join(pd, "p1.h5")]).stdout
    assert "piece 1 of 3" in info, info
    ok("3 pieces written (1 and 2 ranks), schema OK, info says 'piece 1 of 3'")

    merge(["out.h5", "p2.h5", "p0.h5", "p1.h5"], pd, 0)
    merged = os.path.join(pd, "out.h5")
    n = assert_same_data(ref, merged)
    schema_ok(merged)
    with h5py.File(merged, "r") as f:
        assert int(f.attrs["slice_count"]) == 1 and "sample_index" not in f["n1"]
        assert int(f.attrs["mpi_ranks"]) == 4, f.attrs["mpi_ranks"]  # 1 + 2 + 1
    info = run(["info", merged]).stdout
    assert "completeness: complete" in info, info
    ok("merged (pieces in any order): %d objects bitwise equal to a single run" % n)

    # the output: exists -> exit 3, --force replaces it, never one of the inputs
    err = merge(["out.h5"] + pieces, pd, 3)
    assert "use --force" in err, err
    merge(["--force", "out.h5"] + pieces, pd, 0)
    assert_same_data(ref, merged)
    err = merge(["--force", "p0.h5"] + pieces, pd, 2)
    assert "also an input" in err, err
    err = merge(["no/such/dir/out.h5"] + pieces, pd, 6)
    assert "does not exist" in err, err
    os.mkdir(os.path.join(pd, "adir"))
    err = merge(["--force", "adir"] + pieces, pd, 6)
    assert "is a directory" in err, err
    ok("existing output: exit 3 without --force, replaced with --force; output = input refused; "
       "missing directory or a directory as the output: exit 6")

    # refusals
    refused(["x.h5", "p0.h5", "p2.h5"], pd, "piece 1 of 3 missing", "n = 1:", "samples missing")
    shutil.copy(os.path.join(pd, "p1.h5"), os.path.join(pd, "copy1.h5"))
    refused(["x.h5"] + pieces + ["copy1.h5"], pd, "both piece 1 of 3")
    refused(["x.h5", "p0.h5", "p0.h5", "p1.h5", "p2.h5"], pd, "both piece 0 of 3")
    run(["run", job, "-o", "seed7.h5", "--slice", "1/3", "--set", "scan.seed=7"], cwd=pd)
    refused(["x.h5", "p0.h5", "seed7.h5", "p2.h5"], pd, "different jobs", "seed = 7")
    run(["run", job, "-o", "four1.h5", "--slice", "1/4"], cwd=pd)
    refused(["x.h5", "p0.h5", "four1.h5", "p2.h5"], pd, "different slice counts")
    shutil.copy(ref, os.path.join(pd, "whole.h5"))
    refused(["x.h5", "p0.h5", "whole.h5"], pd, "not an array-job piece")
    # a piece relabelled as piece 2 overlaps piece 1
    shutil.copy(os.path.join(pd, "p1.h5"), os.path.join(pd, "fake2.h5"))
    with h5py.File(os.path.join(pd, "fake2.h5"), "r+") as f:
        f.attrs.modify("slice_index", 2)
    refused(["x.h5", "p0.h5", "p1.h5", "fake2.h5"], pd, "is in both", "overlap")
    with open(os.path.join(pd, "notes.txt"), "w") as f:
        f.write("not a result\n")
    refused(["x.h5", "p0.h5", "notes.txt"], pd, "not an HDF5 file")
    refused(["x.h5"], pd, "usage")
    assert not os.path.exists(os.path.join(pd, "x.h5"))
    ok("refused (exit 2): missing piece, duplicate piece, other job, other slice count, "
       "complete scan, overlapping samples, non-result, no pieces")

    # landscape scans (2-D planes: fields of every rank) merge the same way; a gradient
    # piece among landscape pieces is refused
    lj = os.path.join(JOBS, "tiny-landscape-plane.ini")
    ld = os.path.join(d, "land")
    os.mkdir(ld)
    lref_dir = os.path.join(d, "land-ref")
    os.mkdir(lref_dir)
    run(["run", lj, "-o", "out.h5"], cwd=lref_dir)
    for k, ranks in ((0, 2), (1, 0), (2, 0)):
        run(["run", lj, "-o", "l%d.h5" % k, "--slice", "%d/3" % k], ranks=ranks, cwd=ld)
    for k in range(3):
        schema_ok(os.path.join(ld, "l%d.h5" % k))
    merge(["out.h5", "l1.h5", "l2.h5", "l0.h5"], ld, 0)
    n = assert_same_data(os.path.join(lref_dir, "out.h5"), os.path.join(ld, "out.h5"))
    schema_ok(os.path.join(ld, "out.h5"))
    shutil.copy(os.path.join(pd, "p1.h5"), os.path.join(ld, "grad1.h5"))
    refused(["x.h5", "l0.h5", "grad1.h5", "l2.h5"], ld, "different jobs")
    ok("landscape pieces merged: %d objects bitwise equal to a single run; a gradient piece "
       "among them refused" % n)

    # the batch scripts outside Slurm: an array job with task ids 4..6 (mpirun launcher)
    sd = os.path.join(d, "scripts")
    os.mkdir(sd)
    e = {k: v for k, v in env(1).items() if not k.startswith("SLURM_")}
    e.update(BPSCAN_BIN=bpscan(), SLURM_ARRAY_JOB_ID="77", SLURM_ARRAY_TASK_MIN="4",
             SLURM_ARRAY_TASK_MAX="6", SLURM_ARRAY_TASK_COUNT="3", SLURM_ARRAY_TASK_STEP="1")
    for tid in (4, 5, 6):
        e["SLURM_ARRAY_TASK_ID"] = str(tid)
        p = subprocess.run(["bash", os.path.join(ROOT, "slurm", "bpscan.sbatch"), job], cwd=sd,
                           env=e, capture_output=True, text=True, timeout=300)
        assert p.returncode == 0, p.stdout + p.stderr
        assert "piece %d/3" % (tid - 4) in p.stdout and "launcher mpirun" in p.stdout, p.stdout
    p = subprocess.run(["bash", os.path.join(ROOT, "slurm", "merge-array.sbatch"),
                        "results/tiny-77"], cwd=sd, env=e, capture_output=True, text=True,
                       timeout=300)
    assert p.returncode == 0 and "merging 3 piece(s)" in p.stdout, p.stdout + p.stderr
    ref2_dir = os.path.join(d, "ref2")
    os.makedirs(os.path.join(ref2_dir, "results"))
    run(["run", job, "-o", "results/tiny-77.h5"], cwd=ref2_dir)
    n = assert_same_data(os.path.join(ref2_dir, "results", "tiny-77.h5"),
                         os.path.join(sd, "results", "tiny-77.h5"))
    ok("bpscan.sbatch + merge-array.sbatch outside Slurm, array ids 4-6 -> pieces 0-2: "
       "%d objects bitwise equal" % n)

print("%d passed, 0 failed" % passed)
