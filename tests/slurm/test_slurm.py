#!/usr/bin/python3
"""s100-slurm: bpscan under a real Slurm on this machine, through slurm/bpscan.sbatch.

Starts a private one-node cluster (munged as user munge on its own socket, slurmctld and
slurmd on free ports, all state in a fresh temporary directory with a unique ClusterName),
then checks:
  (a) a 2-task scan of jobs/test/tiny.ini submitted with sbatch gives the data of a direct
      run, bitwise (same output file name, in another directory, so the job texts agree);
  (b) jobs/test/resume.ini, preempted with `scancel --signal=USR1 --full` once its checkpoint
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
in their command line).

Exit 77 (ctest SKIP_RETURN_CODE) with a visible SKIP line when the Slurm packages
(slurmctld slurmd slurm-client munge) are missing and cannot be installed, or when not
root. Needs BPSCAN_BIN (ctest sets it). Run with /usr/bin/python3.
"""
import os
import random
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, "tests", "scan"))
from scanlib import JOBS, assert_same_data  # noqa: E402
from scanlib import env as bps_env  # noqa: E402

SKIP = 77
DEADLINE = int(os.environ.get("BPS_SLURM_DEADLINE", "230"))  # seconds
PACKAGES = ["slurmctld", "slurmd", "slurm-client", "munge"]
# one file per run of this test, named by its PID: "<state dir> <daemon PIDs...>"
REGISTRY_DIR = os.path.join(tempfile.gettempdir(), "bpscan-slurm-test.runs")
REGISTRY = os.path.join(REGISTRY_DIR, str(os.getpid()))
FINAL = {"COMPLETED", "FAILED", "CANCELLED", "TIMEOUT", "NODE_FAIL", "OUT_OF_MEMORY",
         "BOOT_FAIL", "DEADLINE", "PREEMPTED"}
T0 = time.time()


class Deadline(Exception):
    pass


def log(msg):
    print("[%6.1fs] %s" % (time.time() - T0, msg), flush=True)


def skip(why):
    print("SKIP: s100-slurm: %s" % why, flush=True)
    sys.exit(SKIP)


def sh(args, timeout=60, check=True, **kw):
    p = subprocess.run(args, capture_output=True, text=True, timeout=timeout, **kw)
    if check and p.returncode != 0:
        raise AssertionError("%s failed (%d):\n%s%s" % (" ".join(args), p.returncode, p.stdout,
                                                       p.stderr))
    return p


# ------------------------------------------------------------------------------- packages

def installed(pkg):
    p = subprocess.run(["dpkg-query", "-W", "-f=${Status}", pkg], capture_output=True,
                       text=True)
    return p.returncode == 0 and "install ok installed" in p.stdout


def ensure_packages():
    if os.geteuid() != 0:
        skip("needs root (to run munged as user munge and the Slurm daemons)")
    if not shutil.which("dpkg-query"):
        skip("not a Debian system (no dpkg-query)")
    missing = [p for p in PACKAGES if not installed(p)]
    if missing:
        log("installing %s with apt-get" % " ".join(missing))
        e = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
        try:
            subprocess.run(["apt-get", "update", "-qq"], env=e, timeout=150,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            p = subprocess.run(["apt-get", "install", "-y", "-qq"] + missing, env=e,
                               timeout=240, capture_output=True, text=True)
        except (OSError, subprocess.TimeoutExpired) as ex:
            skip("cannot install %s: %s" % (" ".join(missing), ex))
        if p.returncode != 0 or not all(installed(q) for q in missing):
            skip("cannot install %s: %s" % (" ".join(missing), (p.stderr or p.stdout)[-300:]))
    for exe in ("munged", "slurmctld", "slurmd", "sbatch", "scontrol", "setpriv"):
        if not shutil.which(exe) and not os.path.exists("/usr/sbin/" + exe):
            skip("%s not found after installing %s" % (exe, " ".join(PACKAGES)))
    if not os.path.exists("/etc/munge/munge.key"):
        subprocess.run(["setpriv", "--reuid=munge", "--regid=munge", "--init-groups",
                        "mungekey", "--create"], capture_output=True)
        if not os.path.exists("/etc/munge/munge.key"):
            skip("no /etc/munge/munge.key and mungekey could not create one")


# ------------------------------------------------------------------------------- cluster

def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def cmdline(pid):
    try:
        return open("/proc/%s/cmdline" % pid, "rb").read().decode(errors="replace")
    except OSError:
        return ""


def stop_leftovers():
    """Stop the daemons of earlier runs of this test that were killed before their cleanup
    (their harness process is gone): each run's registry file names its state directory,
    which appears in its daemons' command lines. Runs still alive are left alone."""
    try:
        runs = os.listdir(REGISTRY_DIR)
    except OSError:
        return
    for run in runs:
        if not run.isdigit() or "test_slurm" in cmdline(run):
            continue
        path = os.path.join(REGISTRY_DIR, run)
        try:
            old = open(path).read().split()
        except OSError:
            continue
        tdir, pids = (old[0], old[1:]) if old else ("", [])
        stopped = 0
        for pid in reversed(pids):
            cmd = cmdline(pid)
            if tdir and tdir in cmd:
                log("stopping leftover daemon %s of an earlier run (%s)" % (pid, cmd.split("\0")[0]))
                try:
                    os.kill(int(pid), signal.SIGTERM)
                    stopped += 1
                except OSError:
                    pass
        if stopped:
            time.sleep(1)
        if tdir.startswith(os.path.join(tempfile.gettempdir(), "bpscan-slurm-")):
            shutil.rmtree(tdir, ignore_errors=True)
        try:
            os.unlink(path)
        except OSError:
            pass


class Cluster:
    def __init__(self):
        self.procs = []  # (name, Popen), in start order
        self.dir = tempfile.mkdtemp(prefix="bpscan-slurm-")
        os.chmod(self.dir, 0o755)
        self.host = socket.gethostname().split(".")[0]
        self.conf = os.path.join(self.dir, "slurm.conf")
        self.logs = os.path.join(self.dir, "log")

    def register(self):
        os.makedirs(REGISTRY_DIR, exist_ok=True)
        with open(REGISTRY, "w") as f:
            f.write(" ".join([self.dir] + [str(p.pid) for _, p in self.procs]) + "\n")

    def spawn(self, name, args):
        out = open(os.path.join(self.logs, name + ".out"), "w")
        p = subprocess.Popen(args, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                             env=self.env(), start_new_session=True)
        out.close()
        self.procs.append((name, p))
        self.register()
        log("started %s (pid %d)" % (name, p.pid))
        return p

    def env(self):
        e = {k: v for k, v in os.environ.items() if not k.startswith("SLURM_")}
        e["SLURM_CONF"] = self.conf
        return e

    def start(self):
        d = self.dir
        for sub in ("state", "spool", "log", "tmp", "work"):
            os.makedirs(os.path.join(d, sub))
        mdir = os.path.join(d, "munge")
        os.makedirs(mdir)
        shutil.chown(mdir, "munge", "munge")
        os.chmod(mdir, 0o755)  # munged: the socket directory must be executable for all
        sock = os.path.join(mdir, "munge.socket")
        ncpu = os.cpu_count() or 1
        try:  # GNU nproc honours OMP_NUM_THREADS; --all does not
            ncpu = int(sh(["nproc", "--all"]).stdout.strip())
        except (AssertionError, ValueError):
            pass
        conf = """# generated by tests/slurm/test_slurm.py
ClusterName=bps{pid}x{rnd}
SlurmctldHost={host}(127.0.0.1)
SlurmctldPort={cport}
SlurmdPort={dport}
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket={sock}
ProctrackType=proctrack/linuxproc
TaskPlugin=task/affinity
MpiDefault=pmix
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
DefMemPerCPU=2000
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
JobAcctGatherType=jobacct_gather/none
MailProg=/bin/true
FirstJobId={first}
StateSaveLocation={d}/state
SlurmdSpoolDir={d}/spool
TmpFS={d}/tmp
SlurmctldPidFile={d}/slurmctld.pid
SlurmdPidFile={d}/slurmd.pid
SlurmctldLogFile={d}/log/slurmctld.log
SlurmdLogFile={d}/log/slurmd.log
ReturnToService=2
SchedulerType=sched/backfill
NodeName={host} NodeAddr=127.0.0.1 CPUs={ncpu} RealMemory=8000 State=UNKNOWN
PartitionName=test Nodes={host} Default=YES MaxTime=INFINITE State=UP
""".format(pid=os.getpid(), rnd=random.randint(0, 9999), host=self.host, cport=free_port(),
           dport=free_port(), sock=sock, first=random.randint(1000, 90000), d=d, ncpu=ncpu)
        with open(self.conf, "w") as f:
            f.write(conf)
        log("state directory %s (%d CPUs)" % (d, ncpu))
        self.spawn("munged", ["setpriv", "--reuid=munge", "--regid=munge", "--init-groups",
                              "munged", "-F", "--socket=" + sock,
                              "--pid-file=" + os.path.join(mdir, "munged.pid"),
                              "--seed-file=" + os.path.join(mdir, "munged.seed"),
                              "--log-file=" + os.path.join(mdir, "munged.log")])
        self.wait_for(lambda: os.path.exists(sock), "munged socket", 15)
        self.spawn("slurmctld", ["slurmctld", "-D", "-c", "-f", self.conf])
        self.wait_for(lambda: self.run(["scontrol", "ping"], check=False).returncode == 0,
                      "slurmctld", 30)
        self.spawn("slurmd", ["slurmd", "-D", "-f", self.conf])
        self.wait_for(lambda: "idle" in self.run(["sinfo", "-h", "-o", "%T"], check=False).stdout,
                      "the node to be idle", 30)
        log("cluster up: node %s idle" % self.host)
        self.start_watchdog()

    def start_watchdog(self):
        """A shell that stops the daemons (by PID, in reverse order) if this process dies
        without cleaning up (SIGKILL, e.g. a ctest timeout)."""
        pids = " ".join(str(p.pid) for _, p in reversed(self.procs))
        script = ("while kill -0 %d 2>/dev/null; do sleep 1; done; "
                  "SLURM_CONF=%s timeout 10 scancel --full --user=root; sleep 2; "
                  "for p in %s; do case $(tr '\\0' ' ' </proc/$p/cmdline 2>/dev/null) in "
                  "*%s*) kill $p; sleep 1;; esac; done" % (os.getpid(), self.conf, pids, self.dir))
        self.watchdog = subprocess.Popen(["sh", "-c", script], start_new_session=True,
                                         stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                         stderr=subprocess.DEVNULL)

    def wait_for(self, cond, what, limit):
        t = time.time()
        while time.time() - t < limit:
            for name, p in self.procs:
                if p.poll() is not None:
                    raise AssertionError("%s exited (%d) while waiting for %s:\n%s" % (
                        name, p.returncode, what, self.tail(name)))
            if cond():
                return
            time.sleep(0.1)
        raise AssertionError("timed out waiting for %s\n%s" % (what, self.tail_all()))

    def tail(self, name, n=15):
        out = []
        for f in (name + ".out", name + ".log"):
            path = os.path.join(self.logs, f)
            if os.path.exists(path):
                out += open(path, errors="replace").read().splitlines()[-n:]
        return "\n".join("    " + x for x in out)

    def tail_all(self):
        return "\n".join("  %s:\n%s" % (n, self.tail(n)) for n, _ in self.procs)

    def stop(self):
        if getattr(self, "watchdog", None) and self.watchdog.poll() is None:
            self.watchdog.kill()
            self.watchdog.wait()
        if self.procs and all(p.poll() is None for _, p in self.procs):
            # no job of ours may outlive slurmd (its slurmstepd would keep running)
            self.run(["scancel", "--full", "--user=root"], check=False, timeout=15)
            t = time.time()
            while time.time() - t < 15:
                q = self.run(["squeue", "-h", "-o", "%i"], check=False, timeout=15)
                if q.returncode != 0 or not q.stdout.strip():
                    break
                time.sleep(0.2)
        for name, p in reversed(self.procs):
            if p.poll() is None:
                p.terminate()
                try:
                    p.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    p.kill()
                    p.wait(timeout=5)
                log("stopped %s (pid %d)" % (name, p.pid))
        self.procs = []
        try:
            os.unlink(REGISTRY)
            os.rmdir(REGISTRY_DIR)  # when no other run is registered
        except OSError:
            pass

    def run(self, args, check=True, timeout=60, **kw):
        return sh(args, timeout=timeout, check=check, env=self.env(), **kw)


# ------------------------------------------------------------------------------- jobs

def job_env(cluster, bpscan):
    e = bps_env(1)
    e = {k: v for k, v in e.items() if not k.startswith("SLURM_")}
    e.update(SLURM_CONF=cluster.conf, BPSCAN_BIN=bpscan, PYTHONDONTWRITEBYTECODE="1")
    return e


def submit(cluster, bpscan, args, cwd):
    p = sh(["sbatch", "--parsable"] + args, env=job_env(cluster, bpscan), cwd=cwd)
    jid = p.stdout.strip().split(";")[0]
    log("sbatch %s -> job %s" % (" ".join(args), jid))
    return jid


def states(cluster, jid):
    """[(JobId, JobState, Restarts, ExitCode)] of a job (all tasks of an array job)."""
    p = cluster.run(["scontrol", "-o", "show", "job", jid], check=False)
    rows = []
    for line in p.stdout.splitlines():
        f = dict(re.findall(r"(\w+)=(\S*)", line))
        rows.append((f.get("JobId"), f.get("JobState"), int(f.get("Restarts", "0") or 0),
                     f.get("ExitCode")))
    return rows


def wait_done(cluster, jid, limit, on_poll=None):
    t = time.time()
    last = None
    while time.time() - t < limit:
        rows = states(cluster, jid)
        now = [(r[1], r[2]) for r in rows]
        if now != last:
            log("job %s: %s" % (jid, ", ".join("%s%s" % (s, " (restart %d)" % n if n else "")
                                               for s, n in now)))
            last = now
        if rows and all(r[1] in FINAL for r in rows):
            return rows
        if on_poll:
            on_poll(rows)
        time.sleep(0.25)
    raise AssertionError("job %s not finished after %d s: %s" % (jid, limit, states(cluster, jid)))


def show_log(path):
    if os.path.exists(path):
        print("---- %s" % path)
        print(open(path, errors="replace").read().rstrip())
        print("----")


def direct_run(bpscan, job, out, cwd, ranks=2):
    """The reference: the same job run directly (mpirun), writing `out` relative to cwd."""
    os.makedirs(os.path.join(cwd, os.path.dirname(out)), exist_ok=True)
    cmd = ["mpirun", "-n", str(ranks), "--oversubscribe", "--bind-to", "none", bpscan, "run",
           job, "-o", out]
    p = subprocess.run(cmd, cwd=cwd, env=bps_env(1), capture_output=True, text=True, timeout=300)
    if p.returncode != 0:
        raise AssertionError("direct run failed (%d):\n%s" % (p.returncode, p.stderr))
    return os.path.join(cwd, out)


# ------------------------------------------------------------------------------- checks

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
    job = os.path.join(JOBS, "resume.ini")
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
    requeued = []

    def release(rows):
        # Wait 2 s after the requeue: slurmd refuses ("Job credential revoked") a relaunch in
        # the same second as the kill of the previous run.
        if rows and rows[0][1] == "PENDING" and rows[0][2] >= 1 and len(requeued) < 2:
            if not requeued:
                requeued.append(time.time())
            elif time.time() - requeued[0] >= 2:
                cluster.run(["scontrol", "update", "JobId=%s" % jid, "StartTime=now"])
                requeued.append(time.time())
                log("job %s requeued (held): released with scontrol update StartTime=now" % jid)

    rows = wait_done(cluster, jid, 150, release)
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


def main():
    ensure_packages()
    bpscan = os.environ.get("BPSCAN_BIN") or os.path.join(ROOT, "build", "bpscan")
    if not os.access(bpscan, os.X_OK):
        print("s100-slurm: BPSCAN_BIN (%s) is not an executable" % bpscan)
        return 1
    bpscan = os.path.abspath(bpscan)

    def on_deadline(signum, frame):
        raise Deadline("internal deadline of %d s reached" % DEADLINE)

    def on_term(signum, frame):
        raise KeyboardInterrupt("signal %d" % signum)

    signal.signal(signal.SIGALRM, on_deadline)
    signal.signal(signal.SIGTERM, on_term)
    signal.alarm(DEADLINE)
    stop_leftovers()
    cluster = Cluster()
    passed = failed = 0
    try:
        try:
            cluster.start()
        except AssertionError as ex:
            print("FAIL: cannot start the cluster: %s" % ex, flush=True)
            return 1
        work = os.path.join(cluster.dir, "work")
        for check in (check_tiny, check_preempt, check_array, check_preempt_mpirun):
            try:
                check(cluster, bpscan, work)
                passed += 1
            except (AssertionError, subprocess.SubprocessError) as ex:
                failed += 1
                print("FAIL: %s: %s" % (check.__doc__.strip().split("\n")[0], ex), flush=True)
    except (Deadline, KeyboardInterrupt) as ex:
        failed += 1
        print("FAIL: stopped: %s" % ex, flush=True)
    finally:
        signal.alarm(0)
        cluster.stop()
        if failed == 0:
            shutil.rmtree(cluster.dir, ignore_errors=True)
        else:
            print("logs and state kept in %s" % cluster.dir)
    print("%d passed, %d failed" % (passed, failed), flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
