"""m240: every seed-paper job file in jobs/papers/ (and its large variant) stays valid as
the code changes: the small ones run at reduced size (their first two qubit counts, a few
samples) and give a complete result file; the large ones are checked (plan printed) at a
reduced qubit range, since their full size is sized for a cluster."""
import glob
import os
import re
import tempfile

from scanlib import ROOT, run


def first_two(path):
    m = re.search(r"^qubits\s*=\s*(\d+)", open(path).read(), re.M)
    a = int(m.group(1))
    return "%d:%d" % (a, a + 1)


small = sorted(glob.glob(os.path.join(ROOT, "jobs", "papers", "*.ini")))
large = sorted(glob.glob(os.path.join(ROOT, "jobs", "papers", "large", "*.ini")))
assert len(small) >= 7 and len(large) == len(small), (small, large)
with tempfile.TemporaryDirectory() as d:
    for path in small:
        text = open(path).read()
        assert "Expected" in text, "%s: state the expected outcome" % path
        out = os.path.join(d, os.path.basename(path) + ".h5")
        sets = ["--set", "scan.qubits=" + first_two(path), "--set", "scan.samples=6",
                "--set", "scan.block=3"]
        run(["run", path, "-o", out] + sets, threads=2)
        p = run(["info", out])
        assert "complete" in p.stdout, p.stdout
        print("%-22s reduced run OK" % os.path.basename(path))
    for path in large:
        p = run(["check", path, "--set", "scan.qubits=" + first_two(path), "--set", "scan.samples=2"])
        assert "plan OK" in p.stdout, p.stdout
        print("large/%-16s plan OK at reduced size" % os.path.basename(path))
print("1 passed, 0 failed")
