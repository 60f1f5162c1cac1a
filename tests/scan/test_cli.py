"""m220: command-line contract: every bad job file fails with exit 2, a message naming the
file, line and key, and no result file; an existing result is never overwritten without
--force; check prints the plan; info reads the result."""
import glob
import os
import re
import tempfile

from scanlib import JOBS, run

with tempfile.TemporaryDirectory() as d:
    bad = sorted(glob.glob(os.path.join(JOBS, "bad", "*.ini")))
    assert len(bad) >= 8, bad
    for path in bad:
        expect = None
        with open(path) as f:
            for line in f:
                m = re.match(r"#\s*expect:\s*(.*\S)", line)
                if m:
                    expect = m.group(1)
        out = os.path.join(d, "bad.h5")
        p = run(["run", path, "-o", out], cwd=d, check=False)
        assert p.returncode == 2, "%s: exit %d\n%s" % (path, p.returncode, p.stderr)
        assert os.path.basename(path) in p.stderr, p.stderr
        if expect:
            assert expect in p.stderr, "%s: expected '%s' in:\n%s" % (path, expect, p.stderr)
        assert not os.path.exists(out) and not os.path.exists(out + ".ckpt")
        print("%-32s exit 2: %s" % (os.path.basename(path), p.stderr.strip().splitlines()[0][:100]))

    job = os.path.join(JOBS, "tiny.ini")
    out = os.path.join(d, "tiny.h5")
    run(["run", job, "-o", out])
    before = open(out, "rb").read()
    p = run(["run", job, "-o", out], check=False)
    assert p.returncode == 3 and "--force" in p.stderr, (p.returncode, p.stderr)
    assert open(out, "rb").read() == before, "existing result modified"
    run(["run", job, "-o", out, "--force", "--set", "scan.seed=2"])
    assert open(out, "rb").read() != before
    print("overwrite protection: exit 3 without --force, replaced with --force")

    p = run(["check", job])
    assert "plan OK" in p.stdout and "est. time" in p.stdout, p.stdout
    big = ["--set", "scan.qubits=14", "--set", "dqnn.perceptron=toy"]
    p = run(["check", job] + big, check=False)
    assert p.returncode == 5 and "refused" in p.stdout, (p.returncode, p.stdout)
    p = run(["run", job, "-o", os.path.join(d, "big.h5")] + big, check=False)
    assert p.returncode == 5 and "more than" in p.stderr, (p.returncode, p.stderr)
    assert not os.path.exists(os.path.join(d, "big.h5"))
    print("check and run refuse a 28-qubit task that cannot fit (exit 5)")
    p = run(["check", os.path.join(JOBS, "tiny-qbm.ini"), "--set", "scan.qubits=13"], check=False)
    assert p.returncode == 5 and "exceeds 12" in p.stderr, (p.returncode, p.stderr)
    print("check refuses a QBM beyond its 12 qubits (exit 5)")

    p = run(["info", out])
    assert "complete" in p.stdout and "Var" in p.stdout, p.stdout
    p = run(["info", job], check=False)
    assert p.returncode != 0
    p = run(["run"], check=False)
    assert p.returncode == 2
    p = run(["run", job, "--bogus"], check=False)
    assert p.returncode == 2 and "--bogus" in p.stderr
    print("info and usage errors OK")
print("1 passed, 0 failed")
