"""m210: nothing lost, nothing recomputed. A run killed with SIGKILL at random moments and
resumed several times, and a run stopped by SIGTERM / SIGUSR1 (exit 75, checkpoint written)
and resumed, end with data bitwise identical to an uninterrupted run. Every resume that finds
a checkpoint must restore blocks from it ("resuming: X of Y blocks restored", X > 0), and a
resumed 1-rank run computes only the missing samples (its progress total is the full scan
minus the restored blocks). Resume refuses a checkpoint of another job; --resume without a
checkpoint starts from scratch and says so."""
import configparser
import os
import random
import re
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

def has_checkpoint(out):
    ck = out + ".ckpt"
    return os.path.isdir(ck) and any(f.endswith(".bin") for f in os.listdir(ck))


def restored(err):
    """(X, Y) of "resuming: X of Y blocks restored", or None when the run did not resume."""
    m = re.search(r"resuming: (\d+) of (\d+) blocks restored", err)
    return (int(m.group(1)), int(m.group(2))) if m else None


def computed(err):
    """Samples rank 0 computed: the total of its last progress line "rank 0: D/T samples"."""
    m = re.findall(r"rank 0: (\d+)/(\d+) samples", err)
    assert m, "no progress line:\n" + err
    done, total = map(int, m[-1])
    assert done == total, m[-1]
    return total


from scanlib import JOBS, assert_same_data, cmd, env, run

job = os.path.join(JOBS, "resume-long.ini")
ini = configparser.ConfigParser(inline_comment_prefixes=("#",))
ini.read(job)
BLOCK = int(ini["scan"]["block"])
assert int(ini["scan"]["samples"]) % BLOCK == 0, "resume.ini: every block must be full"
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
    # (the first kill waits for a checkpoint, so at least one resume has blocks to restore)
    sub, out = fresh("killed")
    kills = resumes = 0
    for attempt in range(12):
        args = ["run", job, "-o", "out.h5"]
        had_ckpt = has_checkpoint(out)
        if attempt:
            args.append("--resume")
        p = subprocess.Popen(cmd(args, ranks=2), env=env(1), stdout=subprocess.PIPE, cwd=sub,
                             stderr=subprocess.PIPE, text=True, start_new_session=True)
        if attempt == 0:
            wait_for_checkpoint(p, out)
            time.sleep(random.uniform(0.0, 0.3))
        elif attempt < 4:
            time.sleep(random.uniform(0.4, 1.5))
        if attempt < 4 and p.poll() is None:
            os.killpg(p.pid, signal.SIGKILL)
            kills += 1
        out_s, err_s = p.communicate(timeout=600)
        if attempt and had_ckpt:  # (a run killed before it read the checkpoint says nothing)
            r = restored(err_s)
            if p.returncode == 0 or r or "no checkpoint" in err_s:
                assert r and r[0] > 0, "attempt %d: a checkpoint existed, nothing restored:\n%s" \
                    % (attempt, err_s)
                resumes += 1
        if attempt >= 4 or p.returncode == 0:
            if p.returncode == 0 and os.path.exists(out):
                break
    assert os.path.exists(out), "the killed run never finished"
    assert kills >= 2, "the run finished before it could be killed: make resume.ini bigger"
    assert resumes >= 1, "no resume restored a block"
    assert not os.path.exists(out + ".ckpt"), "checkpoint directory left behind"
    n = assert_same_data(ref, out)
    print("SIGKILL x%d + resume (%d restoring blocks): %d objects bitwise identical"
          % (kills, resumes, n))

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
        # resume at 2 ranks (SIGTERM) and at 1 rank (SIGUSR1: rank 0 computes every missing
        # sample, so its progress total must be the full scan minus the restored blocks)
        ranks = 2 if sig == signal.SIGTERM else 0
        q = run(["run", job, "-o", "out.h5", "--resume"], ranks=ranks, cwd=sub)
        r = restored(q.stderr)
        assert r and 0 < r[0] <= r[1], "signal %d: nothing restored:\n%s" % (sig, q.stderr)
        if not ranks:
            got = computed(q.stderr)
            assert got == (r[1] - r[0]) * BLOCK < r[1] * BLOCK, \
                "signal %d: computed %d samples, expected %d (%d of %d blocks of %d restored)" \
                % (sig, got, (r[1] - r[0]) * BLOCK, r[0], r[1], BLOCK)
        n = assert_same_data(ref, out)
        print("signal %d + resume: exit 75, %d of %d blocks restored, %d objects bitwise identical"
              % (sig, r[0], r[1], n))

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
