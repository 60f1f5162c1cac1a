"""m240: every seed-paper job file in jobs/papers/ (and its large variant) stays valid as
the code changes: the small sampling ones run at reduced size (their first two qubit counts,
a few samples) and give a complete result file; the large ones are checked (plan printed) at
a reduced qubit range, since their full size is sized for a cluster.

The exact-moments jobs (*-exact.ini, mode = moments) run for both costs (thm1 up to n = 256,
the others at full size) and must reproduce the exact values their headers state: the
closed forms of physics.md Sec. 4.7 for the toy (to 1e-12 in log2), the stated
grad_var_mean_log2 values for the others (to the 0.01 the header prints), and bpfit's verdict
(exp / poly) on the exact points."""
import glob
import math
import os
import re
import subprocess
import sys
import tempfile
import time

import h5py

from scanlib import ROOT, run


def first_two(path):
    m = re.search(r"^qubits\s*=\s*(\d+)", open(path).read(), re.M)
    a = int(m.group(1))
    return "%d:%d" % (a, a + 1)


allsmall = sorted(glob.glob(os.path.join(ROOT, "jobs", "papers", "*.ini")))
exact = [p for p in allsmall if p.endswith("-exact.ini")]
small = [p for p in allsmall if p not in exact]
large = sorted(glob.glob(os.path.join(ROOT, "jobs", "papers", "large", "*.ini")))
assert len(small) >= 7 and len(large) == len(small), (small, large)
assert len(exact) >= 4, exact
for p in exact:
    assert re.search(r"^mode\s*=\s*moments", open(p).read(), re.M), p

L83 = math.log2(3 / 8)
# per job and cost: qubit override (None: the job's own), the verdict, {n: log2 Var dC}
EXPECT = {
    "sharma-thm1-exact.ini": {
        "global": ("2,4,8,16,32,64,128,256", "exp", {8: -23.83, 128: -380.0}),
        "local": ("2,4,8,16,32,64,128,256", "exp", {8: -19.02, 128: -151.0})},
    "sharma-fig3a-exact.ini": {
        "global": (None, "exp", {n: -3 + (n - 1) * L83 for n in (1, 2, 64, 1024)}),
        "local": (None, "poly", {n: -3 - 2 * math.log2(n) for n in (1, 2, 64, 1024)})},
    "sharma-fig3b-exact.ini": {
        "global": (None, "exp", {8: math.log2(4.07e-5), 16: math.log2(2.56e-9)}),
        "local": (None, "poly", {8: math.log2(9.0e-4), 16: math.log2(1.49e-4)})},
    "cerezo-alt-exact.ini": {
        "global": (None, "exp", {8: -13.94, 128: -203.52, 1024: -1619.07}),
        "local": (None, "poly", {8: -9.63, 128: -17.74, 1024: -23.75})},
}
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
    for path in exact:
        name = os.path.basename(path)
        assert name in EXPECT, "%s: add its expected values to this test" % name
        for cost, (qubits, verdict, want) in EXPECT[name].items():
            out = os.path.join(d, name + "." + cost + ".h5")
            sets = ["--set", "cost.type=" + cost] + (["--set", "scan.qubits=" + qubits] if qubits else [])
            t0 = time.time()
            run(["run", path, "-o", out] + sets, threads=2)
            dt = time.time() - t0
            with h5py.File(out, "r") as f:
                assert f.attrs["mode"] in ("moments", b"moments"), name
                s_ = f["summary"]
                got = dict(zip((int(n) for n in s_["n"][()]), s_["grad_var_mean_log2"][()]))
                assert all(int(e) == 1 for e in s_["exact"][()]), (name, cost)
            tol = 1e-9 if "fig3a" in name else (0.012 if "fig3b" not in name else 0.02)
            for n, v in want.items():
                assert abs(got[n] - v) <= tol, (name, cost, n, got[n], v)
            p = subprocess.run([sys.executable, os.path.join(ROOT, "analysis", "bpfit"), out],
                               capture_output=True, text=True)
            assert p.returncode == 0, p.stderr
            row = [ln for ln in p.stdout.splitlines() if "Var[dC]" in ln and "exact" in ln][0]
            assert (" %s " % verdict) in row, (name, cost, row)
            print("%-24s %-6s exact values and verdict '%s' as stated (%.1f s)"
                  % (name, cost, verdict, dt))
print("1 passed, 0 failed")
