"""Moments scans ([scan] mode = moments, README "Result files" (Moments files)): exact points are fitted without
sampling error. Synthetic files follow the schema, with values far below the double range
(grad_var underflowed to 0, grad_var_log2 finite), bounds-only points (exact = 0) and a
variance that is exactly 0."""
import json
import math
import os
import subprocess
import sys

import numpy as np
import pytest

import synth
from bpscan_analysis import AnalysisError, analyze, fit_exact_points, grad_series, load
from bpscan_analysis.cli import main

BPFIT = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "bpfit")
TOY = math.log2(8 / 3)


def toy_log2(n):
    """Exact toy DQNN global cost: log2 of (1/8)(3/8)^(n-1)."""
    return -3.0 + (n - 1) * math.log2(3 / 8)


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    t = tmp_path_factory.mktemp("moments")
    big = {n: dict(log2=[toy_log2(n)] * 2, cost_log2=math.log2(0.375) * n, purity=2.0 ** -n)
           for n in range(100, 1001, 100)}
    big[1100] = dict(log2=None, bounds=([toy_log2(1100) - 5] * 2, [toy_log2(1100) + 5] * 2))
    pref = {n: dict(log2=[-2 * math.log2(n) - 4 * n] * 2) for n in (700, 800, 900, 1000)}
    poly = {n: dict(log2=[-3 - 2 * math.log2(n)] * 2) for n in range(2, 41, 2)}
    stretched = {n: dict(log2=[-10 * math.sqrt(n)] * 2) for n in range(10, 200, 20)}
    cross = {n: dict(log2=[toy_log2(n)] * 2,
                     cost_log2=math.log2(0.375 ** n - 0.25 ** n)) for n in range(1, 13)}
    zero = {n: dict(log2=[toy_log2(n), -math.inf] if n == 5 else [toy_log2(n)] * 2)
            for n in range(2, 7)}
    bad_bounds = dict(big)
    bad_bounds[1100] = dict(log2=None, bounds=([toy_log2(1100) + 10] * 2, [toy_log2(1100) + 20] * 2))
    out = {}
    for name, pts, kw in (("big", big, {}), ("pref", pref, {}), ("poly", poly, {}),
                          ("stretched", stretched, {}), ("cross", cross, {}), ("zero", zero, {}),
                          ("bad", bad_bounds, {}),
                          ("layers", {n: dict(log2=[toy_log2(n), toy_log2(n) - 2 * n])
                                      for n in range(10, 60, 10)},
                           dict(names=("l1.p1.g1", "l2.p1.g1")))):
        out[name] = synth.write_moments(t / (name + ".h5"), pts,
                                        job=synth.moments_job_text(path=name + ".h5", qubits=name),
                                        **kw)
    return out


def fit_of(path, quantity="grad", **kw):
    rep = analyze([path], quantities=[quantity], **kw)
    return rep.fit(quantity=quantity, group="mean" if quantity == "grad" else ""), rep


def test_schema_and_underflow(files):
    """grad_var underflowed to 0 but grad_var_log2 is used; exact series, se = 0."""
    import h5py
    with h5py.File(files["big"], "r") as f:
        assert f.attrs["mode"] == "moments" and f["n1000/grad_var"][0] == 0.0
        assert f["n1000/grad_var_log2"][0] == pytest.approx(toy_log2(1000))
        assert f["n1100"].attrs["exact"] == 0 and np.isnan(f["n1100/grad_var_log2"][0])
    (scan,) = load([files["big"]])
    assert scan.mode == "moments" and scan.data[1000].samples == 0
    s = grad_series(scan)[0]
    assert s.exact and np.all(s.se == 0) and s.value[-2] == 0.0
    assert s.log2[-2] == pytest.approx(toy_log2(1000), abs=1e-9)
    assert np.isnan(s.log2[-1]) and s.log2_lower[-1] == pytest.approx(toy_log2(1100) - 5)


def test_exponential_exact_rate(files):
    r, rep = fit_of(files["big"])
    assert r.exact is not None and r.verdict == "exponential" and r.evidence == "exact"
    assert r.log2_rate == pytest.approx(TOY, abs=1e-9)
    assert r.exact.log2_rate_last3 == pytest.approx(TOY, abs=1e-9)
    assert abs(r.exact.log2_rate_change) < 1e-9
    assert math.isnan(r.log2_rate_ci[0]) and math.isnan(r.p_exponential)     # no sampling CI
    assert list(r.n) == list(range(100, 1001, 100))
    assert r.excluded[0][0] == 1100 and "bounds only" in r.excluded[0][1]
    assert not r.notes                                 # the bounds contain the extrapolation
    assert "cannot exclude a change of law" in r.evidence_text
    # the cost variance and the purity, exact as well
    c = rep.fit(quantity="cost", group="") if rep.fits[-1].series.quantity == "cost" else \
        fit_of(files["big"], "cost")[0]
    assert c.log2_rate == pytest.approx(-math.log2(0.375), abs=1e-9)


def test_prefactor_rate_and_extrapolation(files):
    """V = n^-2 2^-4n (below 2^-4000): the local rate is 4 + 2 log2(1000/900)/100, falling
    towards 4 as n grows, and the verdict is exponential."""
    r = fit_of(files["pref"])[0]
    assert r.log2_rate == pytest.approx(4 + 2 * math.log2(1000 / 900) / 100, abs=1e-9)
    assert r.exact.log2_rate_change < 0 and r.verdict == "exponential"
    assert r.series.log2[-1] < -4000


def test_polynomial_exact(files):
    r = fit_of(files["poly"])[0]
    assert r.verdict == "polynomial" and r.poly_exponent == pytest.approx(2.0, abs=1e-9)
    assert r.exact.drift_poly < 1e-9 < r.exact.drift_exp
    assert r.log2_rate == pytest.approx(2 * math.log2(40 / 38) / 2, abs=1e-9)


def test_crossover_cost(files):
    """Var C = (3/8)^n - (1/4)^n: not a pure exponential at small n, exact at the largest."""
    r = fit_of(files["cross"], "cost")[0]
    assert r.verdict == "exponential"
    want = -(math.log2(0.375 ** 12 - 0.25 ** 12) - math.log2(0.375 ** 11 - 0.25 ** 11))
    assert r.log2_rate == pytest.approx(want, abs=1e-12) and abs(r.log2_rate - TOY) < 0.02


def test_stretched_is_inconclusive(files):
    r = fit_of(files["stretched"])[0]
    assert r.verdict == "inconclusive" and "neither has settled" in r.evidence_text


def test_zero_variance_and_bad_bounds(files):
    (scan,) = load([files["zero"]])
    p = grad_series(scan, "param")
    rep = analyze([files["zero"]], quantities=["grad"], by=["param"])
    r = rep.fit(quantity="grad", group=p[1].group)
    assert (5, "exactly 0") in r.excluded
    r = fit_of(files["bad"])[0]
    assert any("outside the certified bounds" in x for x in r.notes)


def test_two_points_and_unit():
    ex = fit_exact_points([4, 5], [-10.0, -12.0])
    assert ex.log2_rate == 2.0 and ex.verdict == "inconclusive"
    ex = fit_exact_points([2, 3, 4], [-2.0, -4.0, -6.0])
    assert ex.verdict == "exponential" and ex.drift_exp == 0.0
    ex = fit_exact_points([2, 3, 4], [-2.0, -2.0, -1.0])      # growing: no exponential decay
    assert ex.verdict == "polynomial" and "does not decrease" in ex.reason


def test_merge_and_conflict(files, tmp_path):
    pts = {n: dict(log2=[toy_log2(n)] * 2) for n in range(2, 8)}
    job = synth.moments_job_text(path="x.h5", qubits="2:7")
    a = synth.write_moments(tmp_path / "a.h5", {n: pts[n] for n in (2, 3, 4, 5)}, job=job)
    b = synth.write_moments(tmp_path / "b.h5", {n: pts[n] for n in (5, 6, 7)}, job=job)
    (scan,) = load([a, b])
    assert list(scan.n) == [2, 3, 4, 5, 6, 7]
    assert any("identical moments" in w for w in scan.warnings)
    c = synth.write_moments(tmp_path / "c.h5", {5: dict(log2=[-1.0, -1.0])}, job=job)
    with pytest.raises(AnalysisError, match="conflicting moments: n=5"):
        load([a, c])


@pytest.mark.filterwarnings("error")
def test_cli_table_json_plots(files, tmp_path, capsys):
    out = tmp_path / "m.json"
    rc = main(["fit", files["big"], files["poly"], "-q", "grad,cost,purity", "--by", "mean,layer",
               "--json", str(out), "--table", str(tmp_path / "m.csv"), "--plot", str(tmp_path / "m.png"),
               "--layer-plot", str(tmp_path / "h.png")])
    cap = capsys.readouterr()
    assert rc == 0, cap.err
    assert "exact" in cap.out and "bounds only" in cap.err
    doc = json.loads(out.read_text())
    g = [s for s in doc["series"] if s["quantity"] == "grad" and s["group"] == "mean"]
    assert g[0]["exact"]["log2_rate"] == pytest.approx(TOY, abs=1e-9)
    assert g[0]["value"][-1] == 0.0 and g[0]["log2_value"][-1] == pytest.approx(toy_log2(1000))
    assert g[0]["verdict"] == "exponential" and g[0]["log2_rate_ci"] == [None, None]
    for f in ("m.png", "h.png"):
        assert os.path.getsize(tmp_path / f) > 2000
    rows = (tmp_path / "m.csv").read_text().splitlines()
    assert rows[0].split(",").count("exact") == 1 and ",exact," in rows[1]


def test_layers_heatmap_and_script(files, tmp_path):
    r = subprocess.run([sys.executable, BPFIT, files["layers"], "--by", "layer", "--quiet",
                        "--layer-plot", str(tmp_path / "l.pdf"), "--json", str(tmp_path / "l.json")],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    doc = json.loads((tmp_path / "l.json").read_text())
    by = {s["group"]: s for s in doc["series"] if s["quantity"] == "grad"}
    assert by["l1"]["log2_rate"] == pytest.approx(TOY, abs=1e-9)
    assert by["l2"]["log2_rate"] == pytest.approx(TOY + 2, abs=1e-9)
