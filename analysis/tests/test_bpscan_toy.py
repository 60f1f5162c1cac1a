"""A real scan with the bpscan executable (BPSCAN_BIN): the Sharma Fig. 3a toy model (DQNN
n,n with toy perceptrons, zero inputs and targets), physics.md Sec. 4.7:
Var dC_G = (1/8)(3/8)^(n-1)  -> exponential, base 8/3, log2 rate log2(8/3) = 1.415;
Var dC_L = 1/(8 n^2)          -> polynomial, exponent 2.

Run time: the global scan (n = 1..6, 3000 samples) and the local one (n = 1..5, 600 samples;
the local cost is about 10x dearer per sample at n = 5) run side by side, one thread each:
about 6 s on an idle 2-core machine.
"""
import json
import math
import os
import subprocess

import numpy as np
import pytest

from bpscan_analysis import analyze, grad_series, load
from bpscan_analysis.cli import main

BIN = os.environ.get("BPSCAN_BIN")
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TINY = os.path.join(ROOT, "jobs", "test", "tiny.ini")
LOG2_8_3 = math.log2(8 / 3)

pytestmark = pytest.mark.skipif(not BIN, reason="BPSCAN_BIN is not set (ctest sets it to the built "
                                "bpscan; run e.g. BPSCAN_BIN=build/bpscan pytest analysis/tests)")


def env():
    e = dict(os.environ, OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", OMP_PROC_BIND="false")
    e.pop("SLURM_RESTART_COUNT", None)
    return e


def start(out, *sets, cwd):
    args = [BIN, "run", TINY, "-o", str(out), "--set", "dqnn.perceptron=toy"]
    for s in sets:
        args += ["--set", s]
    return subprocess.Popen(args, cwd=str(cwd), env=env(), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def finish(p):
    out, err = p.communicate(timeout=600)
    assert p.returncode == 0, "bpscan failed (%d): %s %s" % (p.returncode, out, err)


@pytest.fixture(scope="module")
def toy(tmp_path_factory):
    t = tmp_path_factory.mktemp("toy")
    g, loc = t / "toy-global.h5", t / "toy-local.h5"
    pg = start(g, "cost.type=global", "scan.qubits=1:6", "scan.samples=3000", "scan.block=250", cwd=t)
    pl = start(loc, "cost.type=local", "scan.qubits=1:5", "scan.samples=600", "scan.block=100", cwd=t)
    finish(pg)
    finish(pl)
    return str(g), str(loc)


def test_global_cost_rate(toy):
    rep = analyze([toy[0]], quantities=["grad"], bootstrap=1000)
    r = rep.fit(quantity="grad", group="mean")
    print("toy global: log2 rate %.4f, CI [%.4f, %.4f], bootstrap [%.4f, %.4f], base %.4f, %s"
          % (r.log2_rate, *r.log2_rate_ci, *r.log2_rate_ci_bootstrap, r.base, r.evidence_text))
    assert r.log2_rate_ci[0] <= LOG2_8_3 <= r.log2_rate_ci[1]
    assert r.log2_rate_ci_bootstrap[0] <= LOG2_8_3 <= r.log2_rate_ci_bootstrap[1]
    assert r.base_ci[0] <= 8 / 3 <= r.base_ci[1]
    assert r.log2_rate_ci[1] - r.log2_rate_ci[0] < 0.1
    assert r.verdict == "exponential" and r.evidence == "very strong"
    # every point agrees with the closed form within 4 standard errors
    s = r.series
    exact = 0.125 * 0.375 ** (s.n - 1.0)
    assert np.all(np.abs(s.value - exact) < 4 * s.se), (s.value, exact, s.se)


def test_local_cost_polynomial(toy):
    rep = analyze([toy[1]], quantities=["grad"], bootstrap=1000)
    r = rep.fit(quantity="grad", group="mean")
    print("toy local: poly exponent %.3f, CI [%.3f, %.3f]; %s"
          % (r.poly_exponent, *r.poly_exponent_ci, r.evidence_text))
    assert r.verdict == "polynomial" and r.evidence in ("strong", "very strong")
    assert r.poly_exponent_ci[0] <= 2.0 <= r.poly_exponent_ci[1]
    s = r.series
    assert np.all(np.abs(s.value - 1 / (8.0 * s.n ** 2)) < 4 * s.se)


def test_statistics_equal_bpscan(toy):
    """The package's estimators reproduce the statistics bpscan stored."""
    import h5py
    for path in toy:
        (scan,) = load([path])
        s = grad_series(scan)[0]
        with h5py.File(path, "r") as f:
            assert np.allclose(s.value, f["summary/grad_var_mean"][()], rtol=1e-10, atol=0)
            assert np.allclose(s.se, f["summary/grad_var_mean_se"][()], rtol=1e-8, atol=0)
            for n in scan.data:
                assert np.allclose(grad_series(scan, "param")[0].value[n - 1],
                                   f["n%d/grad_var" % n][0], rtol=1e-10)


def test_bpfit_on_both(toy, tmp_path, capsys):
    """bpfit (in process; the script itself is run in test_plots_cli) on the two jobs."""
    out = tmp_path / "toy.json"
    rc = main([*toy, "--json", str(out), "--plot", str(tmp_path / "toy.png"), "--bootstrap", "300"])
    stdout, stderr = capsys.readouterr()
    assert rc == 0, stderr
    with capsys.disabled():
        print("\n" + stdout)
    doc = json.load(open(out))
    by = {s["name"]: s for s in doc["series"]}
    g = by["cost.type=global: Var[dC] (mean over parameters)"]
    loc = by["cost.type=local: Var[dC] (mean over parameters)"]
    assert g["verdict"] == "exponential" and loc["verdict"] == "polynomial"
    assert g["log2_rate_ci"][0] <= LOG2_8_3 <= g["log2_rate_ci"][1]
    assert os.path.getsize(tmp_path / "toy.png") > 2000


def test_array_job_pieces(tmp_path):
    """bpscan run --slice K/N pieces merge to the statistics of the complete scan."""
    full = tmp_path / "full.h5"
    p = subprocess.run([BIN, "run", TINY, "-o", str(full)], cwd=str(tmp_path), env=env(),
                       capture_output=True, text=True, timeout=600)
    assert p.returncode == 0, p.stderr
    outs = []
    for k in range(2):
        o = tmp_path / ("piece%d.h5" % k)
        p = subprocess.run([BIN, "run", TINY, "--slice", "%d/2" % k, "-o", str(o)], cwd=str(tmp_path),
                           env=env(), capture_output=True, text=True, timeout=600)
        assert p.returncode == 0, "bpscan run --slice %d/2 failed (%d): %s" % (k, p.returncode,
                                                                               p.stderr)
        outs.append(str(o))
    (a,) = load([str(full)])
    (b,) = load(outs[::-1])
    assert not b.warnings
    sa, sb = grad_series(a)[0], grad_series(b)[0]
    assert np.array_equal(sa.n, sb.n) and np.allclose(sa.value, sb.value, rtol=1e-12)
