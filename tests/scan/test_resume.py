"""m210: nothing lost. A run killed with SIGKILL at random moments and resumed several
times, and a run stopped by SIGTERM / SIGUSR1 (exit 75, checkpoint written) and resumed,
end with data bitwise identical to an uninterrupted run. Resume refuses a checkpoint of
another job; --resume without a checkpoint starts from scratch and says so."""
import os
import random
import signal
import subprocess
import tempfile
import time


def wait_for_checkpoint(proc, out, limit=120):
    """Block until the run has written its first checkpoint (or ended)."""
    t0 = time.time()
    while time.time() - t0 < limit and proc.poll() is None:
        ck = out + ".ckpt"
        if os.path.isdir(ck) and any(f.endswith(".bin") for f in os.listdir(ck)):
            return
        time.sleep(0.05)
    raise AssertionError("no checkpoint appeared")

from scanlib import JOBS, assert_same_data, cmd, env, run

job = os.path.join(JOBS, "resume.ini")
random.seed(210)
with tempfile.TemporaryDirectory() as d:
    # every run writes "out.h5" in its own directory, so the stored job texts are equal
    def fresh(name):
        sub = os.path.join(d, name)
        os.mkdir(sub)
        return sub, os.path.join(sub, "out.h5")

    refdir, ref = fresh("ref")
    run(["run", job, "-o", "out.h5"], ranks=2, cwd=refdir)

    # 1. SIGKILL at random moments, then resume until done
    sub, out = fresh("killed")
    kills = 0
    for attempt in range(12):
        args = ["run", job, "-o", "out.h5"]
        if attempt:
            args.append("--resume")
        p = subprocess.Popen(cmd(args, ranks=2), env=env(1), stdout=subprocess.PIPE, cwd=sub,
                             stderr=subprocess.PIPE, text=True, start_new_session=True)
        if attempt < 4:
            time.sleep(random.uniform(0.4, 1.5))
            if p.poll() is None:
                os.killpg(p.pid, signal.SIGKILL)
                kills += 1
        out_s, err_s = p.communicate(timeout=600)
        if attempt >= 4 or p.returncode == 0:
            if p.returncode == 0 and os.path.exists(out):
                break
    assert os.path.exists(out), "the killed run never finished"
    assert kills >= 2, "the run finished before it could be killed: make resume.ini bigger"
    assert not os.path.exists(out + ".ckpt"), "checkpoint directory left behind"
    n = assert_same_data(ref, out)
    print("SIGKILL x%d + resume: %d objects bitwise identical" % (kills, n))

    # 2. SIGTERM and SIGUSR1 (Slurm preemption): exit 75 with a checkpoint, then resume
    for sig in (signal.SIGTERM, signal.SIGUSR1):
        sub, out = fresh("sig%d" % sig)
        p = subprocess.Popen(cmd(["run", job, "-o", "out.h5"], ranks=0), env=env(2), cwd=sub,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        wait_for_checkpoint(p, out)
        p.send_signal(sig)
        _, err_s = p.communicate(timeout=600)
        assert p.returncode == 75, "signal %d: exit %d\n%s" % (sig, p.returncode, err_s)
        assert "checkpoint" in err_s, err_s
        assert os.path.isdir(out + ".ckpt") and not os.path.exists(out)
        # a plain rerun refuses to ignore the checkpoint
        q = run(["run", job, "-o", "out.h5"], check=False, cwd=sub)
        assert q.returncode != 0 and "--resume" in q.stderr, q.stderr
        run(["run", job, "-o", "out.h5", "--resume"], ranks=2, cwd=sub)
        n = assert_same_data(ref, out)
        print("signal %d + resume: exit 75, %d objects bitwise identical" % (sig, n))

    # 3. a checkpoint of another job is refused
    out = os.path.join(d, "other.h5")
    p = subprocess.Popen(cmd(["run", job, "-o", out], ranks=0), env=env(1),
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    wait_for_checkpoint(p, out)
    p.send_signal(signal.SIGTERM)
    p.communicate(timeout=600)
    assert p.returncode == 75
    q = run(["run", job, "-o", out, "--resume", "--set", "scan.seed=99"], check=False)
    assert q.returncode == 4 and "different job" in q.stderr, (q.returncode, q.stderr)
    assert not os.path.exists(out)
    print("checkpoint of another job refused (exit 4)")

    # 4. --resume without a checkpoint starts from the beginning and says so
    sub, out = fresh("fresh")
    q = run(["run", job, "-o", "out.h5", "--resume"], cwd=sub)
    assert "no checkpoint" in q.stderr, q.stderr
    assert_same_data(ref, out)
    print("--resume without checkpoint: starts from scratch")
print("1 passed, 0 failed")
