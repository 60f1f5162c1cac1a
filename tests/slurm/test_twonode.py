#!/usr/bin/python3
"""s110-slurm-2node: bpscan on a two-node Slurm cluster emulated on this machine.

The cluster (tests/slurm/slurmlib.py, Cluster(nodes=2)): two nodes node1 and node2, each a
network + UTS + mount namespace with its own address on a private bridge and its own slurmd;
one slurmctld; munge shared. MPI between the nodes goes over TCP (Open MPI btl tcp on the
bridge); every node has a private TmpFS and a node-local directory work/d/local, the rest
of the file system is shared. Checks, each through slurm/bpscan.sbatch with -N 2:
  (a) jobs/test/tiny.ini with 2 ranks per node (srun --mpi=pmix): the ranks land on both
      nodes (root attribute hosts = "node1:0-1;node2:2-3", host = node1), talk over TCP
      (Open MPI's btl log), and the data equal a one-node run (1 rank, on this host),
      bitwise;
  (b) jobs/test/resume-long.ini on 1 rank per node, preempted with `scancel --signal=USR1 --full`
      once both nodes' ranks have written checkpoint files, exits 75, requeues itself,
      resumes on both nodes and ends with the data of an uninterrupted one-node run;
  (c) an array job (--array=0-1, each task on both nodes) merged by merge-array.sbatch
      (afterok) equals a one-node single run, bitwise; the merged hosts list both runs;
  (d) the same preemption with the output (and so the checkpoint directory) in the
      node-local directory: the resume is refused (exit 4, "cannot see the files rank 1
      writes"), nothing is computed again;
  (e) the mpirun launcher (BPSCAN_LAUNCHER=mpirun: mpirun inside the allocation starts its
      daemons on node2 through srun) on both nodes = a one-node run.
Exit 77 with a visible SKIP line where namespaces are not permitted, without root or
without the Slurm packages. Needs BPSCAN_BIN (ctest sets it). Run with /usr/bin/python3.
"""
import os
import re
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, "tests", "scan"))
sys.path.insert(0, HERE)
import h5py  # noqa: E402

from scanlib import JOBS, assert_same_data  # noqa: E402
from slurmlib import (FINAL, direct_run, log, main, requeue_releaser, show_log,  # noqa: E402
                      states, submit, wait_done)

DEADLINE = int(os.environ.get("BPS_SLURM_DEADLINE", "280"))  # seconds
SBATCH = os.path.join(ROOT, "slurm", "bpscan.sbatch")


def attrs(path, *names):
    with h5py.File(path, "r") as f:
        return [f.attrs[k] for k in names]


def finished(cluster, d, jid, rows, want="COMPLETED"):
    logf = os.path.join(d, "slurm-%s.out" % jid)
    if any(r[1] != want for r in rows):
        show_log(logf)
        raise AssertionError("job %s: %s (expected %s)" % (jid, rows, want))
    return open(logf).read() if os.path.exists(logf) else ""


def check_scan(cluster, bpscan, work):
    """(a) 2 nodes x 2 ranks: hosts in the file, data = a one-node run."""
    d = os.path.join(work, "a")
    os.makedirs(d)
    job = os.path.join(JOBS, "tiny.ini")
    out = "results/tiny.h5"
    jid = submit(cluster, bpscan, ["-N", "2", "--ntasks-per-node=2",
                                   "--export=ALL,OMPI_MCA_btl_base_verbose=30", SBATCH, job,
                                   "-o", out], d)
    text = finished(cluster, d, jid, wait_done(cluster, jid, 90))
    assert "4 rank(s) x 1 thread(s), launcher srun" in text, text
    assert "on node[1-2]" in text, text
    # Open MPI's own log: ranks on node1 reach node2's over TCP
    assert re.search(r"\[node1:\d+\] mca: bml: Using tcp btl for send to \S+ on node node2",
                     text), text[-2000:]
    host, hosts, ranks = attrs(os.path.join(d, out), "host", "hosts", "mpi_ranks")
    assert (host, hosts, int(ranks)) == ("node1", "node1:0-1;node2:2-3", 4), (host, hosts, ranks)
    ref = direct_run(bpscan, job, out, os.path.join(work, "a-ref"), ranks=1)
    n = assert_same_data(ref, os.path.join(d, out))
    log("(a) -N 2 x 2 ranks: hosts = %r; %d objects bitwise equal to a one-node run" % (hosts, n))


def wait_ckpt(cluster, d, jid, ckpt, files):
    """Wait until ckpt (a directory this process sees) holds `files` checkpoint files."""
    t = time.time()
    while not (os.path.isdir(ckpt) and
               sum(f.endswith(".bin") for f in os.listdir(ckpt)) >= files):
        rows = states(cluster, jid)
        if time.time() - t > 90 or (rows and rows[0][1] in FINAL):
            show_log(os.path.join(d, "slurm-%s.out" % jid))
            raise AssertionError("no %d checkpoint files in %s: %s" % (files, ckpt, rows))
        time.sleep(0.05)


def wait_running(cluster, d, jid, seconds):
    """Wait until the job's bpscan has been running for `seconds` (its log says so)."""
    logf = os.path.join(d, "slurm-%s.out" % jid)
    t = time.time()
    while not (os.path.exists(logf) and "[bpscan] rank 0:" in open(logf).read()):
        rows = states(cluster, jid)
        if time.time() - t > 90 or (rows and rows[0][1] in FINAL):
            show_log(logf)
            raise AssertionError("job %s did not start computing: %s" % (jid, rows))
        time.sleep(0.05)
    time.sleep(seconds)


def check_preempt(cluster, bpscan, work):
    """(b) preempted on both nodes, requeued, resumed = an uninterrupted run."""
    d = os.path.join(work, "b")
    os.makedirs(d)
    job = os.path.join(JOBS, "resume-long.ini")
    out = "results/resume.h5"
    jid = submit(cluster, bpscan, ["-N", "2", "--ntasks-per-node=1", SBATCH, job, "-o", out], d)
    wait_ckpt(cluster, d, jid, os.path.join(d, out + ".ckpt"), 2)  # one file per rank
    log("both ranks have checkpoint files: scancel --signal=USR1 --full %s" % jid)
    cluster.run(["scancel", "--signal=USR1", "--full", jid])
    rows = wait_done(cluster, jid, 150, requeue_releaser(cluster, jid))
    text = finished(cluster, d, jid, rows)
    assert rows[0][2] >= 1, rows
    for want in ("bpscan exited with status 75", "requeueing job %s" % jid, "restart 1",
                 "[bpscan] resuming:"):
        if want not in text:
            show_log(os.path.join(d, "slurm-%s.out" % jid))
            raise AssertionError("job log lacks %r" % want)
    assert not os.path.exists(os.path.join(d, out + ".ckpt")), "checkpoint directory left"
    hosts, = attrs(os.path.join(d, out), "hosts")
    assert hosts == "node1:0;node2:1", hosts
    ref = direct_run(bpscan, job, out, os.path.join(work, "b-ref"), ranks=1)
    n = assert_same_data(ref, os.path.join(d, out))
    log("(b) preempted on node1+node2 (exit 75), requeued, resumed: %d objects bitwise equal "
        "to an uninterrupted one-node run" % n)


def check_array(cluster, bpscan, work):
    """(c) a 2-task array job on both nodes, merged = a one-node single run."""
    d = os.path.join(work, "c")
    os.makedirs(d)
    job = os.path.join(JOBS, "tiny.ini")
    aid = submit(cluster, bpscan, ["--array=0-1", "-N", "2", "--ntasks-per-node=1", SBATCH,
                                   job], d)
    prefix = "results/tiny-%s" % aid
    mid = submit(cluster, bpscan, ["--dependency=afterok:%s" % aid,
                                   os.path.join(ROOT, "slurm", "merge-array.sbatch"), prefix], d)
    rows = wait_done(cluster, aid, 120)
    if any(r[1] != "COMPLETED" for r in rows):
        for t in range(2):
            show_log(os.path.join(d, "slurm-%s_%d.out" % (aid, t)))
        raise AssertionError("array job %s: %s" % (aid, rows))
    finished(cluster, d, mid, wait_done(cluster, mid, 90))
    for t in range(2):
        hosts, = attrs(os.path.join(d, "%s_%d.h5" % (prefix, t)), "hosts")
        assert hosts == "node1:0;node2:1", hosts
    merged = os.path.join(d, prefix + ".h5")
    hosts, = attrs(merged, "hosts")
    assert hosts == "node1:0;node2:1 | node1:0;node2:1", hosts
    ref = direct_run(bpscan, job, prefix + ".h5", os.path.join(work, "c-ref"), ranks=1)
    n = assert_same_data(ref, merged)
    log("(c) array 0-1 on node1+node2, merged: hosts %r; %d objects bitwise equal to a "
        "one-node single run" % (hosts, n))


def check_local(cluster, bpscan, work):
    """(d) a checkpoint directory on node-local storage: the resume is refused (exit 4)."""
    d = os.path.join(work, "d")  # d/local is a node-local tmpfs on each node
    job = os.path.join(JOBS, "resume.ini")
    out = "local/resume.h5"
    jid = submit(cluster, bpscan, ["-N", "2", "--ntasks-per-node=1", SBATCH, job, "-o", out,
                                   "--set", "scan.samples=3000"], d)
    wait_running(cluster, d, jid, 1.5)
    log("job %s computing: scancel --signal=USR1 --full (checkpoints go to node-local "
        "directories)" % jid)
    cluster.run(["scancel", "--signal=USR1", "--full", jid])
    rows = wait_done(cluster, jid, 150, requeue_releaser(cluster, jid))
    text = finished(cluster, d, jid, rows, want="FAILED")
    for want in ("bpscan exited with status 75", "restart 1", "--resume",
                 "rank 0 on host node1 cannot see the files rank 1 writes in the checkpoint "
                 "directory local/resume.h5.ckpt", "resume refused",
                 "bpscan exited with status 4"):
        if want not in text:
            show_log(os.path.join(d, "slurm-%s.out" % jid))
            raise AssertionError("job log lacks %r" % want)
    assert rows[0][3] == "4:0", rows
    assert "[bpscan] resuming:" not in text, "resumed from a node-local checkpoint"
    log("(d) node-local checkpoint directory: resume refused with exit 4 (%s)" % rows[0][3])


def check_mpirun(cluster, bpscan, work):
    """(e) the mpirun launcher on both nodes = a one-node run."""
    d = os.path.join(work, "e")
    os.makedirs(d)
    job = os.path.join(JOBS, "tiny.ini")
    out = "results/tiny.h5"
    jid = submit(cluster, bpscan, ["-N", "2", "--ntasks-per-node=1",
                                   "--export=ALL,BPSCAN_LAUNCHER=mpirun", SBATCH, job,
                                   "-o", out], d)
    text = finished(cluster, d, jid, wait_done(cluster, jid, 90))
    assert "2 rank(s) x 1 thread(s), launcher mpirun" in text, text
    hosts, = attrs(os.path.join(d, out), "hosts")
    assert hosts == "node1:0;node2:1", hosts
    ref = direct_run(bpscan, job, out, os.path.join(work, "e-ref"), ranks=1)
    n = assert_same_data(ref, os.path.join(d, out))
    log("(e) mpirun launcher on node1+node2: hosts %r; %d objects bitwise equal" % (hosts, n))


if __name__ == "__main__":
    sys.exit(main("s110-slurm-2node",
                  (check_scan, check_preempt, check_array, check_local, check_mpirun),
                  DEADLINE, nodes=2, local=["d/local"]))
