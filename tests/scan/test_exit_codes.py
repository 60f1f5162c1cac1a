"""m260: exit codes of `bpscan run` for output-path problems, each with its message and
without leaving a file behind (README "Exit codes"; error.h bps_exit_code):
  3 the output exists (and is left byte for byte; --force replaces it),
  6 the output path is unusable: its directory is missing, its "directory" is a file, its
    directory is read-only, or the output is a directory,
  4 a checkpoint directory of an earlier run without --resume,
and the same code from every rank under mpirun with exactly one error message."""
import os
import stat
import subprocess
import tempfile

from scanlib import JOBS, cmd, env, run

JOB = os.path.join(JOBS, "tiny.ini")


def expect(args, code, words, ranks=0, **kw):
    p = run(["run", JOB] + args, ranks=ranks, check=False, **kw)
    assert p.returncode == code, "%s: exit %d, expected %d\n%s" % (args, p.returncode, code,
                                                                     p.stderr)
    for w in words:
        assert w.lower() in p.stderr.lower(), "%s: '%s' not in:\n%s" % (args, w, p.stderr)
    print("%-44s exit %d: %s" % (" ".join(args)[-44:], code,
                                 p.stderr.strip().splitlines()[0][:90]))
    return p


def run_unprivileged(args):
    """bpscan as user nobody (root writes into read-only directories)."""
    return subprocess.run(cmd(["run", JOB] + args), env=env(), capture_output=True, text=True,
                          timeout=300, user=65534, group=65534, extra_groups=[])


with tempfile.TemporaryDirectory() as d:
    os.chmod(d, 0o755)
    entries = lambda: sorted(os.listdir(d))

    # missing directory
    out = os.path.join(d, "no", "such", "dir", "out.h5")
    expect(["-o", out], 6, ["BPS_ERR_OUTPUT", "does not exist"])
    assert entries() == [], entries()

    # a regular file where the directory should be
    plain = os.path.join(d, "plain")
    open(plain, "w").close()
    expect(["-o", os.path.join(plain, "out.h5")], 6, ["not a directory"])
    os.unlink(plain)

    # a directory as the output, with and without --force
    sub = os.path.join(d, "adir")
    os.mkdir(sub)
    expect(["-o", sub], 6, ["is a directory"])
    expect(["-o", sub, "--force"], 6, ["is a directory"])
    assert os.listdir(sub) == []
    os.rmdir(sub)

    # read-only directory
    ro = os.path.join(d, "readonly")
    os.mkdir(ro)
    os.chmod(ro, stat.S_IRUSR | stat.S_IXUSR | stat.S_IRGRP | stat.S_IXGRP | stat.S_IROTH |
             stat.S_IXOTH)
    target = os.path.join(ro, "out.h5")
    if os.geteuid() == 0:
        p = run_unprivileged(["-o", target])
        who = "as nobody"
    else:
        p = run(["run", JOB, "-o", target], check=False)
        who = "as %d" % os.geteuid()
    assert p.returncode == 6 and "not writable" in p.stderr, (p.returncode, p.stderr)
    assert os.listdir(ro) == []
    print("read-only directory (%s)%s exit 6: %s" % (who, " " * 12,
                                                      p.stderr.strip().splitlines()[0][:90]))
    os.chmod(ro, 0o755)
    os.rmdir(ro)

    # an existing result: exit 3 and untouched; --force replaces it
    out = os.path.join(d, "tiny.h5")
    run(["run", JOB, "-o", out])
    before = open(out, "rb").read()
    expect(["-o", out], 3, ["BPS_ERR_EXISTS", "--force"])
    assert open(out, "rb").read() == before
    run(["run", JOB, "-o", out, "--force", "--set", "scan.seed=2"])
    assert open(out, "rb").read() != before
    os.unlink(out)

    # a checkpoint directory of an earlier run, without --resume
    os.mkdir(out + ".ckpt")
    expect(["-o", out], 4, ["BPS_ERR_CHECKPOINT", "--resume"])
    assert not os.path.exists(out)
    os.rmdir(out + ".ckpt")

    # two ranks: the same code from both (mpirun passes it on), one message
    missing = os.path.join(d, "missing", "out.h5")
    p = expect(["-o", missing], 6, ["does not exist"], ranks=2)
    assert p.stderr.count("bpscan: error") == 1, p.stderr
    os.mkdir(out + ".ckpt")
    p = expect(["-o", out], 4, ["--resume"], ranks=2)
    assert p.stderr.count("bpscan: error") == 1, p.stderr
    os.rmdir(out + ".ckpt")
    assert entries() == [], entries()
print("1 passed, 0 failed")
