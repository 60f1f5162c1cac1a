"""A private Slurm cluster on this machine for the batch-script tests (s100, s110).

Cluster(nodes=0): one node, this host itself (munged, slurmctld, slurmd on 127.0.0.1).
Cluster(nodes=N): N emulated nodes. Each node is a network namespace (ip netns) with its
own address on a private bridge (10.213.X.0/24, a veth pair per node), its own UTS
namespace (host name node1, node2, ...) and its own mount namespace, where the node has a
private tmpfs as Slurm's TmpFS and one at each path of `local` (node-local directories, as
/tmp or /scratch on a real cluster), and an /etc/hosts naming all nodes; there it runs its
own slurmd (slurmd -N nodeI). slurmctld runs on the bridge address in a UTS namespace named
bpsctl; munged is shared through its socket (a file). The file system is otherwise shared,
as a cluster file system is. MPI between the nodes goes over TCP on the bridge
(OMPI_MCA_btl=self,vader,tcp limited to the bridge subnet: job_env).

Everything lives in a fresh temporary directory with a unique ClusterName. The daemons are
stopped by PID in reverse order, the namespaces, veths and bridge deleted, whatever happens:
also on SIGTERM/SIGINT (the tests turn them into exceptions) and, through a watchdog shell,
when the test process is killed; leftovers of an earlier killed run are cleaned up at the
next start (a registry file per run names its state directory, daemons and network
objects).

Skips (exit 77 = ctest SKIP_RETURN_CODE, with a visible "SKIP:" line) when not root, when
the Slurm packages (slurmctld slurmd slurm-client munge) are missing and cannot be
installed, or (nodes >= 1) when network namespaces are not permitted here.
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
from scanlib import env as bps_env  # noqa: E402

SKIP = 77
PACKAGES = ["slurmctld", "slurmd", "slurm-client", "munge"]
# one file per run of a test, named by its PID: "<state dir> <daemon PIDs...>" and, for
# emulated nodes, a second line "net <bridge> <namespaces...>"
REGISTRY_DIR = os.path.join(tempfile.gettempdir(), "bpscan-slurm-test.runs")
REGISTRY = os.path.join(REGISTRY_DIR, str(os.getpid()))
FINAL = {"COMPLETED", "FAILED", "CANCELLED", "TIMEOUT", "NODE_FAIL", "OUT_OF_MEMORY",
         "BOOT_FAIL", "DEADLINE", "PREEMPTED"}
T0 = time.time()
NAME = "slurm-test"


class Deadline(Exception):
    pass


def log(msg):
    print("[%6.1fs] %s" % (time.time() - T0, msg), flush=True)


def skip(why):
    print("SKIP: %s: %s" % (NAME, why), flush=True)
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


def ensure_namespaces():
    """Skip unless network, UTS and mount namespaces and veth/bridge links can be made."""
    for exe in ("ip", "nsenter", "unshare", "mount"):
        if not shutil.which(exe):
            skip("%s not found (iproute2 / util-linux): cannot emulate nodes" % exe)
    probe = "bpsprobe%d" % os.getpid()
    p = subprocess.run(["ip", "netns", "add", probe], capture_output=True, text=True)
    if p.returncode != 0:
        skip("network namespaces are not permitted here (ip netns add: %s)" % p.stderr.strip())
    try:
        p = subprocess.run(["nsenter", "--net=/run/netns/" + probe, "unshare", "--uts",
                            "--mount", "--propagation", "slave", "sh", "-c",
                            "hostname bpsprobe && mount -t tmpfs tmpfs /mnt && hostname"],
                           capture_output=True, text=True, timeout=20)
        if p.returncode != 0 or p.stdout.strip() != "bpsprobe":
            skip("UTS/mount namespaces are not permitted here: %s" % p.stderr.strip())
        veth = "bpv%dp" % (os.getpid() % 100000)
        p = subprocess.run(["ip", "link", "add", veth, "type", "veth", "peer", "name",
                            veth + "q"], capture_output=True, text=True)
        if p.returncode != 0:
            skip("veth links are not permitted here: %s" % p.stderr.strip())
        subprocess.run(["ip", "link", "del", veth], capture_output=True)
    finally:
        subprocess.run(["ip", "netns", "del", probe], capture_output=True)


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


def delete_net(bridge, namespaces):
    for ns in namespaces:
        subprocess.run(["ip", "netns", "del", ns], capture_output=True)
    if bridge:
        subprocess.run(["ip", "link", "del", bridge], capture_output=True)


def stop_leftovers():
    """Stop the daemons (and delete the network objects) of earlier runs of these tests
    that were killed before their cleanup (their harness process is gone): each run's
    registry file names its state directory, which appears in its daemons' command lines.
    Runs still alive are left alone."""
    try:
        runs = os.listdir(REGISTRY_DIR)
    except OSError:
        return
    for run in runs:
        if not run.isdigit() or "test_" in cmdline(run):
            continue
        path = os.path.join(REGISTRY_DIR, run)
        try:
            lines = open(path).read().splitlines()
        except OSError:
            continue
        old = lines[0].split() if lines else []
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
        for line in lines[1:]:
            f = line.split()
            if f and f[0] == "net":
                log("deleting leftover bridge and namespaces %s" % " ".join(f[1:]))
                delete_net(f[1], f[2:])
        if tdir.startswith(os.path.join(tempfile.gettempdir(), "bpscan-slurm-")):
            shutil.rmtree(tdir, ignore_errors=True)
        try:
            os.unlink(path)
        except OSError:
            pass


CONF = """# generated by tests/slurm/slurmlib.py
ClusterName=bps{pid}x{rnd}
SlurmctldHost={ctl}({ctladdr})
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
DefMemPerCPU={mempercpu}
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
JobAcctGatherType=jobacct_gather/none
MailProg=/bin/true
FirstJobId={first}
StateSaveLocation={d}/state
SlurmdSpoolDir={d}/spool/%n
TmpFS={d}/tmp
SlurmctldPidFile={d}/slurmctld.pid
SlurmdPidFile={d}/slurmd-%n.pid
SlurmctldLogFile={d}/log/slurmctld.log
SlurmdLogFile={d}/log/slurmd-%n.log
ReturnToService=2
SchedulerType=sched/backfill
{nodes}
PartitionName=test Nodes={nodelist} Default=YES MaxTime=INFINITE State=UP
"""


class Cluster:
    def __init__(self, nodes=0):
        self.procs = []  # (name, Popen), in start order
        self.dir = tempfile.mkdtemp(prefix="bpscan-slurm-")
        os.chmod(self.dir, 0o755)
        self.nnodes = nodes
        self.local = []  # node-local directories (emulated nodes only; set before start)
        self.host = socket.gethostname().split(".")[0]
        self.conf = os.path.join(self.dir, "slurm.conf")
        self.logs = os.path.join(self.dir, "log")
        self.bridge, self.netns, self.subnet = "", [], ""
        self.names = [self.host] if nodes == 0 else ["node%d" % (i + 1) for i in range(nodes)]

    def register(self):
        os.makedirs(REGISTRY_DIR, exist_ok=True)
        with open(REGISTRY, "w") as f:
            f.write(" ".join([self.dir] + [str(p.pid) for _, p in self.procs]) + "\n")
            if self.bridge:
                f.write(" ".join(["net", self.bridge] + self.netns) + "\n")

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

    # -------------------------------------------------------------------- emulated nodes
    def make_net(self):
        """A bridge with 10.213.X.1 and, per node, a namespace holding one end of a veth pair
        (renamed eth0) with 10.213.X.(10 + i)."""
        used = sh(["ip", "-o", "addr"]).stdout
        cands = [x for x in range(1, 250) if "10.213.%d." % x not in used]
        x = random.choice(cands)
        self.subnet = "10.213.%d" % x
        self.bridge = "bpsbr%d" % x
        self.netns = ["bps%dn%d" % (x, i + 1) for i in range(self.nnodes)]
        self.register()
        sh(["ip", "link", "add", self.bridge, "type", "bridge"])
        sh(["ip", "addr", "add", self.subnet + ".1/24", "dev", self.bridge])
        sh(["ip", "link", "set", self.bridge, "up"])
        for i, ns in enumerate(self.netns):
            veth = "bpv%dn%d" % (x, i + 1)
            sh(["ip", "netns", "add", ns])
            sh(["ip", "link", "add", veth, "type", "veth", "peer", "name", veth + "p"])
            sh(["ip", "link", "set", veth + "p", "netns", ns])
            sh(["ip", "link", "set", veth, "master", self.bridge])
            sh(["ip", "link", "set", veth, "up"])
            inns = ["ip", "netns", "exec", ns]
            sh(inns + ["ip", "link", "set", "lo", "up"])
            sh(inns + ["ip", "link", "set", veth + "p", "name", "eth0"])
            sh(inns + ["ip", "addr", "add", "%s.%d/24" % (self.subnet, 11 + i), "dev", "eth0"])
            sh(inns + ["ip", "link", "set", "eth0", "up"])
        with open(os.path.join(self.dir, "hosts"), "w") as f:
            f.write("127.0.0.1 localhost\n%s.1 bpsctl\n" % self.subnet)
            for i, name in enumerate(self.names):
                f.write("%s.%d %s\n" % (self.subnet, 11 + i, name))
        log("bridge %s %s.1/24, nodes %s" % (self.bridge, self.subnet, ", ".join(
            "%s=%s.%d" % (n, self.subnet, 11 + i) for i, n in enumerate(self.names))))

    def node_cmd(self, i):
        """slurmd of node i in its namespaces, with its node-local mounts."""
        d, name = self.dir, self.names[i]
        mounts = ["mount --bind %s/hosts /etc/hosts" % d,
                  "mount -t tmpfs -o size=256m tmpfs %s/tmp" % d]
        mounts += ["mount -t tmpfs -o size=256m tmpfs '%s'" % p for p in self.local]
        script = "hostname %s && %s && exec slurmd -D -N %s -f %s" % (
            name, " && ".join(mounts), name, self.conf)
        return ["nsenter", "--net=/run/netns/" + self.netns[i], "unshare", "--uts", "--mount",
                "--propagation", "slave", "sh", "-c", script]

    # -------------------------------------------------------------------- start / stop
    def start(self):
        d = self.dir
        for sub in ("state", "spool", "log", "tmp", "work"):
            os.makedirs(os.path.join(d, sub))
        for p in self.local:
            os.makedirs(p, exist_ok=True)
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
        if self.nnodes:
            self.make_net()
            ctl, ctladdr = "bpsctl", self.subnet + ".1"
            nodes = "\n".join("NodeName=%s NodeAddr=%s.%d CPUs=%d RealMemory=4000 State=UNKNOWN"
                              % (n, self.subnet, 11 + i, ncpu) for i, n in enumerate(self.names))
        else:
            ctl, ctladdr = self.host, "127.0.0.1"
            nodes = "NodeName=%s NodeAddr=127.0.0.1 CPUs=%d RealMemory=8000 State=UNKNOWN" % (
                self.host, ncpu)
        conf = CONF.format(pid=os.getpid(), rnd=random.randint(0, 9999), ctl=ctl,
                           ctladdr=ctladdr, cport=free_port(), dport=free_port(), sock=sock,
                           mempercpu=1000 if self.nnodes else 2000,
                           first=random.randint(1000, 90000), d=d, nodes=nodes,
                           nodelist=",".join(self.names))
        with open(self.conf, "w") as f:
            f.write(conf)
        log("state directory %s (%d node(s) of %d CPUs)" % (d, max(1, self.nnodes), ncpu))
        self.spawn("munged", ["setpriv", "--reuid=munge", "--regid=munge", "--init-groups",
                              "munged", "-F", "--socket=" + sock,
                              "--pid-file=" + os.path.join(mdir, "munged.pid"),
                              "--seed-file=" + os.path.join(mdir, "munged.seed"),
                              "--log-file=" + os.path.join(mdir, "munged.log")])
        self.wait_for(lambda: os.path.exists(sock), "munged socket", 15)
        ctld = ["slurmctld", "-D", "-c", "-f", self.conf]
        if self.nnodes:  # slurmctld accepts only the host named in SlurmctldHost
            ctld = ["unshare", "--uts", "sh", "-c", "hostname bpsctl && exec " + " ".join(ctld)]
        self.spawn("slurmctld", ctld)
        self.wait_for(lambda: self.run(["scontrol", "ping"], check=False).returncode == 0,
                      "slurmctld", 30)
        if self.nnodes:
            for i, name in enumerate(self.names):
                self.spawn("slurmd-" + name, self.node_cmd(i))
        else:
            self.spawn("slurmd", ["slurmd", "-D", "-f", self.conf])
        want = max(1, self.nnodes)
        self.wait_for(lambda: self.run(["sinfo", "-h", "-o", "%T %D"], check=False).stdout.split()
                      == ["idle", str(want)], "%d idle node(s)" % want, 30)
        log("cluster up: %s idle" % ", ".join(self.names))
        self.start_watchdog()

    def start_watchdog(self):
        """A shell that stops the daemons (by PID, in reverse order) and deletes the network
        objects if this process dies without cleaning up (SIGKILL, e.g. a ctest timeout)."""
        pids = " ".join(str(p.pid) for _, p in reversed(self.procs))
        net = "".join("ip netns del %s 2>/dev/null; " % ns for ns in self.netns)
        if self.bridge:
            net += "ip link del %s 2>/dev/null; " % self.bridge
        script = ("while kill -0 %d 2>/dev/null; do sleep 1; done; "
                  "SLURM_CONF=%s timeout 10 scancel --full --user=root; sleep 2; "
                  "for p in %s; do case $(tr '\\0' ' ' </proc/$p/cmdline 2>/dev/null) in "
                  "*%s*) kill $p; sleep 1;; esac; done; %s" % (
                      os.getpid(), self.conf, pids, self.dir, net))
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
        if self.bridge:
            delete_net(self.bridge, self.netns)
            log("deleted bridge %s and namespaces %s" % (self.bridge, " ".join(self.netns)))
            self.bridge, self.netns = "", []
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
    if cluster.nnodes:  # MPI between the emulated nodes: TCP on the bridge
        net = cluster.subnet + ".0/24"
        e.update(OMPI_MCA_btl="self,vader,tcp", OMPI_MCA_btl_tcp_if_include=net,
                 OMPI_MCA_oob_tcp_if_include=net)
    return e


def submit(cluster, bpscan, args, cwd):
    p = sh(["sbatch", "--parsable"] + args, env=job_env(cluster, bpscan), cwd=cwd)
    jid = p.stdout.strip().split(";")[0]
    log("sbatch %s -> job %s" % (" ".join(args), jid))
    return jid


def states(cluster, jid):
    """[(JobId, JobState, Restarts, ExitCode, NodeList)] of a job (all tasks of an array)."""
    p = cluster.run(["scontrol", "-o", "show", "job", jid], check=False)
    rows = []
    for line in p.stdout.splitlines():
        f = dict(re.findall(r"(\w+)=(\S*)", line))
        rows.append((f.get("JobId"), f.get("JobState"), int(f.get("Restarts", "0") or 0),
                     f.get("ExitCode"), f.get("NodeList")))
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


def requeue_releaser(cluster, jid):
    """An on_poll for wait_done: releases a requeued (held) job with StartTime=now, 2 s
    after it is seen pending again (slurmd refuses, "Job credential revoked", a relaunch in
    the same second as the kill of the previous run)."""
    requeued = []

    def release(rows):
        if rows and rows[0][1] == "PENDING" and rows[0][2] >= 1 and len(requeued) < 2:
            if not requeued:
                requeued.append(time.time())
            elif time.time() - requeued[0] >= 2:
                cluster.run(["scontrol", "update", "JobId=%s" % jid, "StartTime=now"])
                requeued.append(time.time())
                log("job %s requeued (held): released with scontrol update StartTime=now" % jid)
    return release


def show_log(path):
    if os.path.exists(path):
        print("---- %s" % path)
        print(open(path, errors="replace").read().rstrip())
        print("----")


def direct_run(bpscan, job, out, cwd, ranks=2, extra=()):
    """The reference: the same job run directly (mpirun on this host), writing `out`
    relative to cwd."""
    os.makedirs(os.path.join(cwd, os.path.dirname(out)), exist_ok=True)
    cmd = ["mpirun", "-n", str(ranks), "--oversubscribe", "--bind-to", "none", bpscan, "run",
           job, "-o", out] + list(extra)
    p = subprocess.run(cmd, cwd=cwd, env=bps_env(1), capture_output=True, text=True, timeout=300)
    if p.returncode != 0:
        raise AssertionError("direct run failed (%d):\n%s" % (p.returncode, p.stderr))
    return os.path.join(cwd, out)


def main(name, checks, deadline, nodes=0, local=()):
    """Start a cluster, run every check(cluster, bpscan, work), stop it; the exit status."""
    global NAME
    NAME = name
    ensure_packages()
    if nodes:
        ensure_namespaces()
    bpscan = os.environ.get("BPSCAN_BIN") or os.path.join(ROOT, "build", "bpscan")
    if not os.access(bpscan, os.X_OK):
        print("%s: BPSCAN_BIN (%s) is not an executable" % (name, bpscan))
        return 1
    bpscan = os.path.abspath(bpscan)

    def on_deadline(signum, frame):
        raise Deadline("internal deadline of %d s reached" % deadline)

    def on_term(signum, frame):
        raise KeyboardInterrupt("signal %d" % signum)

    signal.signal(signal.SIGALRM, on_deadline)
    signal.signal(signal.SIGTERM, on_term)
    signal.alarm(deadline)
    stop_leftovers()
    cluster = Cluster(nodes)
    cluster.local = [os.path.join(cluster.dir, "work", p) for p in local]
    passed = failed = 0
    try:
        try:
            cluster.start()
        except AssertionError as ex:
            print("FAIL: cannot start the cluster: %s" % ex, flush=True)
            return 1
        work = os.path.join(cluster.dir, "work")
        for check in checks:
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
