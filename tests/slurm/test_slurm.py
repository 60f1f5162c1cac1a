#!/usr/bin/python3
"""s100-slurm: bpscan under a real Slurm on this machine, through slurm/bpscan.sbatch.

Starts a private one-node cluster (munged as user munge on its own socket, slurmctld and
slurmd on free ports, all state in a fresh temporary directory with a unique ClusterName),
then checks:
  (a) a 2-task scan of jobs/test/tiny.ini submitted with sbatch gives the data of a direct
      run, bitwise (same output file name, in another directory, so the job texts agree);
  (b) jobs/test/resume-long.ini, preempted with `scancel --signal=USR1 --full` once its checkpoint
      exists, exits 75, requeues itself, resumes (SLURM_RESTART_COUNT) and ends with the data
      of an uninterrupted run;
  (c) a 3-task array job (--array=0-2) writes three pieces that slurm/merge-array.sbatch
      (submitted with --dependency=afterok) merges into the data of a single run, bitwise;
      `bpscan merge` refuses a missing piece and a duplicate one;
  (d) (b) again with the mpirun launcher (BPSCAN_LAUNCHER=mpirun), where only the batch
      script can forward the preemption signal.
The daemons are stopped by PID in reverse order whatever happens (also on SIGTERM/SIGINT
and at the internal deadline, which stays below ctest's TIMEOUT); daemons left behind by
a killed earlier run of this test are stopped at the start (found by their state directory
in their command line). The cluster harness is tests/slurm/slurmlib.py.

Exit 77 (ctest SKIP_RETURN_CODE) with a visible SKIP line when the Slurm packages
(slurmctld slurmd slurm-client munge) are missing and cannot be installed, or when not
root. Needs BPSCAN_BIN (ctest sets it). Run with /usr/bin/python3.
"""
import os
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, "tests", "scan"))
sys.path.insert(0, HERE)
from scanlib import JOBS, assert_same_data  # noqa: E402
from scanlib import env as bps_env  # noqa: E402
from slurmlib import (FINAL, direct_run, log, main, requeue_releaser, show_log,  # noqa: E402
                      states, submit, wait_done)


DEADLINE = int(os.environ.get("BPS_SLURM_DEADLINE", "230"))  # seconds


def check_tiny(cluster, bpscan, work):
    """(a) 2 tasks through the batch script = a direct run."""
    d = os.path.join(work, "a")
    os.makedirs(d)
    job = os.path.join(JOBS, "tiny.ini")
    jid = submit(cluster, bpscan, ["-n", "2", os.path.join(ROOT, "slurm", "bpscan.sbatch"), job],
                 cwd=d)
    rows = wait_done(cluster, jid, 90)
    logf = os.path.join(d, "slurm-%s.out" % jid)
    if rows[0][1] != "COMPLETED":
        show_log(logf)
        raise AssertionError("job %s ended %s" % (jid, rows))
    text = open(logf).read()
    assert "2 rank(s) x 1 thread(s), launcher srun" in text, text
    out = "results/tiny-%s.h5" % jid  # the script's default output name
    assert os.path.exists(os.path.join(d, out)), "no %s" % out
    ref = direct_run(bpscan, job, out, os.path.join(work, "a-ref"))
    n = assert_same_data(ref, os.path.join(d, out))
    import h5py
    with h5py.File(os.path.join(d, out), "r") as f:
        assert int(f.attrs["mpi_ranks"]) == 2, f.attrs["mpi_ranks"]
    log("(a) sbatch -n 2 tiny.ini: %s, %d objects bitwise equal to a direct run" % (out, n))


def check_preempt(cluster, bpscan, work, launcher="srun"):
    """(b) preempted with USR1 -> exit 75 -> requeue -> resume = uninterrupted run."""
    tag = "b" if launcher == "srun" else "d"
    d = os.path.join(work, tag)
    os.makedirs(d)
    job = os.path.join(JOBS, "resume-long.ini")
    out = "results/resume.h5"  # -o: the same name for (b) and (d), one reference run
    os.makedirs(os.path.join(d, "results"))
    extra = ["--export=ALL,BPSCAN_LAUNCHER=mpirun"] if launcher == "mpirun" else []
    jid = submit(cluster, bpscan, ["-n", "2", "--requeue"] + extra +
                 [os.path.join(ROOT, "slurm", "bpscan.sbatch"), job, "-o", out], cwd=d)
    ckpt = os.path.join(d, out + ".ckpt")
    t = time.time()
    while not (os.path.isdir(ckpt) and any(f.endswith(".bin") for f in os.listdir(ckpt))):
        if time.time() - t > 90:
            show_log(os.path.join(d, "slurm-%s.out" % jid))
            raise AssertionError("no checkpoint in %s after 90 s: %s" % (ckpt, states(cluster, jid)))
        rows = states(cluster, jid)
        if rows and rows[0][1] in FINAL:
            show_log(os.path.join(d, "slurm-%s.out" % jid))
            raise AssertionError("job %s ended before its first checkpoint: %s" % (jid, rows))
        time.sleep(0.05)
    log("checkpoint %s exists: scancel --signal=USR1 --full %s" % (os.path.basename(ckpt), jid))
    cluster.run(["scancel", "--signal=USR1", "--full", jid])
    rows = wait_done(cluster, jid, 150, requeue_releaser(cluster, jid))
    logf = os.path.join(d, "slurm-%s.out" % jid)
    text = open(logf).read() if os.path.exists(logf) else ""
    if rows[0][1] != "COMPLETED" or rows[0][2] < 1:
        show_log(logf)
        raise AssertionError("job %s: %s (expected COMPLETED after a restart)" % (jid, rows))
    for want in ("launcher %s;" % launcher, "SIGUSR1: forwarding to bpscan",
                 "bpscan exited with status 75",
                 "requeueing job %s" % jid, "restart 1", "--resume", "[bpscan] resuming:"):
        if want not in text:
            show_log(logf)
            raise AssertionError("job log lacks %r" % want)
    assert not os.path.exists(ckpt), "checkpoint directory left behind"
    ref = os.path.join(work, "b-ref", out)
    if not os.path.exists(ref):
        direct_run(bpscan, job, out, os.path.join(work, "b-ref"))
    n = assert_same_data(ref, os.path.join(d, out))
    log("(%s) %s: preempted (exit 75), requeued, resumed: %d objects bitwise equal to an "
        "uninterrupted run" % (tag, launcher, n))


def check_preempt_mpirun(cluster, bpscan, work):
    """(d) the same with the mpirun launcher (the script forwards SIGUSR1 to mpirun)."""
    check_preempt(cluster, bpscan, work, "mpirun")


def check_array(cluster, bpscan, work):
    """(c) --array=0-2 pieces merged (merge-array.sbatch, afterok) = a single run."""
    d = os.path.join(work, "c")
    os.makedirs(d)
    job = os.path.join(JOBS, "tiny.ini")
    p = subprocess.run([bpscan, "merge", "--help"], capture_output=True, text=True)
    assert p.returncode == 0, ("this bpscan has no merge command (register bps_merge_main in "
                               "src/main.c):\n" + p.stderr)
    aid = submit(cluster, bpscan, ["--array=0-2", "-n", "1",
                                   os.path.join(ROOT, "slurm", "bpscan.sbatch"), job], cwd=d)
    prefix = "results/tiny-%s" % aid
    mid = submit(cluster, bpscan, ["--dependency=afterok:%s" % aid,
                                   os.path.join(ROOT, "slurm", "merge-array.sbatch"), prefix],
                 cwd=d)
    rows = wait_done(cluster, aid, 120)
    if any(r[1] != "COMPLETED" for r in rows):
        for t in range(3):
            show_log(os.path.join(d, "slurm-%s_%d.out" % (aid, t)))
        raise AssertionError("array job %s: %s" % (aid, rows))
    rows = wait_done(cluster, mid, 90)
    if rows[0][1] != "COMPLETED":
        show_log(os.path.join(d, "slurm-%s.out" % mid))
        raise AssertionError("merge job %s: %s" % (mid, rows))
    pieces = [os.path.join(d, "%s_%d.h5" % (prefix, t)) for t in range(3)]
    import h5py
    for t, piece in enumerate(pieces):
        with h5py.File(piece, "r") as f:
            assert (int(f.attrs["slice_index"]), int(f.attrs["slice_count"])) == (t, 3), piece
    ref = direct_run(bpscan, job, prefix + ".h5", os.path.join(work, "c-ref"))
    n = assert_same_data(ref, os.path.join(d, prefix + ".h5"))
    log("(c) array 0-2: 3 pieces merged by merge-array.sbatch: %d objects bitwise equal to a "
        "single run" % n)
    # refusals
    e = bps_env(1)
    q = subprocess.run([bpscan, "merge", "x.h5", pieces[0], pieces[2]], cwd=d, env=e,
                       capture_output=True, text=True)
    assert q.returncode == 2 and "piece 1 of 3 missing" in q.stderr, (q.returncode, q.stderr)
    q = subprocess.run([bpscan, "merge", "x.h5", pieces[0], pieces[1], pieces[2], pieces[1]],
                       cwd=d, env=e, capture_output=True, text=True)
    assert q.returncode == 2 and "both piece 1 of 3" in q.stderr, (q.returncode, q.stderr)
    assert not os.path.exists(os.path.join(d, "x.h5"))
    log("(c) bpscan merge refuses a missing piece and a duplicate (exit 2)")


if __name__ == "__main__":
    sys.exit(main("s100-slurm", (check_tiny, check_preempt, check_array, check_preempt_mpirun),
                  DEADLINE))
