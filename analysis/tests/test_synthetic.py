"""Synthetic result files with known decay: the fits recover the parameters within their
confidence intervals and the model comparison picks the right model."""
import math

import numpy as np
import pytest

import synth
from bpscan_analysis import (analyze, cost_series, diag_series, fit_series, from_samples,
                             grad_series, load, read_result)
from bpscan_analysis.page import compare_page


def inside(x, ci):
    return ci[0] <= x <= ci[1]


@pytest.fixture(scope="module")
def exp_file(tmp_path_factory):
    # Var dC = 0.2 * 2.5^-n for every parameter; Var C = 0.05 * 3^-n
    d = synth.draw(range(2, 11), lambda n, p: 0.2 * 2.5 ** -n, 4000,
                   cost_var=lambda n: 0.05 * 3.0 ** -n, seed=11)
    return synth.write(tmp_path_factory.mktemp("exp") / "exp.h5", d)


@pytest.fixture(scope="module")
def poly_file(tmp_path_factory):
    # Var dC = 0.1 n^-3, Var C = 0.02 / n
    d = synth.draw(range(2, 13), lambda n, p: 0.1 * float(n) ** -3, 4000,
                   cost_var=lambda n: 0.02 / n, seed=12)
    return synth.write(tmp_path_factory.mktemp("poly") / "poly.h5", d,
                       job=synth.job_text(cost="local", qubits="2:12"))


def test_exponential_recovered(exp_file):
    (scan,) = load([exp_file])
    s = grad_series(scan)[0]
    r = fit_series(s, bootstrap=400, seed=3)
    truth = math.log2(2.5)
    assert inside(truth, r.log2_rate_ci), (r.log2_rate, r.log2_rate_ci)
    assert inside(truth, r.log2_rate_ci_bootstrap), (r.log2_rate, r.log2_rate_ci_bootstrap)
    assert inside(2.5, r.base_ci)
    assert abs(r.base - 2.5) < 0.05
    assert r.log2_rate_ci[1] - r.log2_rate_ci[0] < 0.05
    assert r.verdict == r.preferred_model == "exponential"
    assert r.evidence == "very strong" and r.akaike_weight > 0.999
    assert r.p_polynomial < 1e-4 and r.p_exponential > 1e-3
    assert r.bootstrap_exp_fraction > 0.99
    assert "exponential (very strong): the polynomial law is rejected" in r.evidence_text
    # the analytic and bootstrap intervals agree roughly in width
    wa = r.log2_rate_ci[1] - r.log2_rate_ci[0]
    wb = r.log2_rate_ci_bootstrap[1] - r.log2_rate_ci_bootstrap[0]
    assert 0.6 < wb / wa < 1.6


def test_cost_concentration(exp_file):
    (scan,) = load([exp_file])
    r = fit_series(cost_series(scan), bootstrap=200)
    assert inside(math.log2(3.0), r.log2_rate_ci), (r.log2_rate, r.log2_rate_ci)
    assert r.verdict == "exponential"


def test_polynomial_recovered(poly_file):
    (scan,) = load([poly_file])
    r = fit_series(grad_series(scan)[0], bootstrap=400)
    assert r.verdict == "polynomial"
    assert r.evidence in ("strong", "very strong")
    assert inside(3.0, r.poly_exponent_ci), (r.poly_exponent, r.poly_exponent_ci)
    assert inside(3.0, r.poly_exponent_ci_bootstrap), (r.poly_exponent, r.poly_exponent_ci_bootstrap)
    rc = fit_series(cost_series(scan), bootstrap=0)         # calibrated from the moments
    assert rc.calibration.method == "moments" and rc.bootstrap == 0
    assert rc.calibration.draws == 1000 and rc.calibration.t_exp[1] < rc.calibration.t_exp[2]
    assert rc.verdict == "polynomial" and inside(1.0, rc.poly_exponent_ci)


def test_statistics_match_stored_attributes(exp_file):
    """Recomputed from the per-sample rows, the statistics equal what the file stores."""
    import h5py
    (scan,) = load([exp_file])
    s = grad_series(scan)[0]
    with h5py.File(exp_file, "r") as f:
        assert np.allclose(s.value, f["summary/grad_var_mean"][()], rtol=1e-12)
        assert np.allclose(s.se, f["summary/grad_var_mean_se"][()], rtol=1e-10)
        c = cost_series(scan)
        assert np.allclose(c.value, f["summary/cost_var"][()], rtol=1e-12)
        assert np.allclose(c.se, f["summary/cost_var_se"][()], rtol=1e-10)
        p = grad_series(scan, by="param")
        assert [x.group for x in p] == ["l1.p1.g1", "l1.p2.g1"]
        assert np.allclose(p[0].value, [f["n%d/grad_var" % n][0] for n in p[0].n], rtol=1e-12)
        assert np.allclose(p[0].se, [f["n%d/grad_var_se" % n][0] for n in p[0].n], rtol=1e-10)


def test_layers_and_params(tmp_path):
    names = ["l1.p1.g1", "l1.p2.g1", "l2.p1.g1", "l2.p2.g1"]
    d = synth.draw(range(2, 10), lambda n, p: 0.1 * (2.0 if p.startswith("l1") else 4.0) ** -n, 3000,
                   names=names, seed=5)
    path = synth.write(tmp_path / "layers.h5", d, job=synth.job_text(widths="n,n,n"))
    rep = analyze([path], quantities=["grad"], by=["layer", "param", "perceptron"], bootstrap=200)
    l1 = rep.fit(quantity="grad", group="l1")
    l2 = rep.fit(quantity="grad", group="l2")
    assert inside(1.0, l1.log2_rate_ci) and inside(2.0, l2.log2_rate_ci)
    assert l1.verdict == l2.verdict == "exponential"
    p = rep.fit(quantity="grad", group="l2.p2.g1")
    assert inside(2.0, p.log2_rate_ci)
    assert {r.series.group for r in rep.fits} == {"l1", "l2", "l1.p1", "l1.p2", "l2.p1", "l2.p2"} | set(names)


def test_ci_coverage():
    """Over repeated synthetic data sets the 95% analytic CI covers the truth ~95% of the time."""
    rng = np.random.default_rng(2024)
    beta, hits, reps = 3.0, 0, 120
    for _ in range(reps):
        X = {n: rng.standard_normal((800, 1)) * math.sqrt(beta ** -n) for n in range(1, 8)}
        r = fit_series(from_samples(X), bootstrap=0)
        hits += inside(math.log2(beta), r.log2_rate_ci)
    assert 0.85 <= hits / reps <= 1.0, hits / reps


def test_page_comparison(tmp_path):
    d = synth.draw(range(1, 6), lambda n, p: 0.1 * 2.0 ** -n, 2000, page=synth.page_values, seed=7)
    good = synth.write(tmp_path / "page.h5", d, diag_qubits=1)
    (scan,) = load([good])
    c = compare_page(scan, "entropy")
    assert c is not None and c.consistent and c.dof == 5
    assert compare_page(scan, "purity").consistent
    t = compare_page(scan, "trace_distance")        # one diagnosed qubit: Beta-function formula
    assert t is not None and t.consistent and abs(t.page[0] - 0.375) < 1e-12   # n=1: d_B = 2 -> 3/8
    s = diag_series(scan, "entropy")
    assert np.allclose(s.page, [synth.page_values(n)[0] for n in range(1, 6)])
    # physics.md Table C: (n_A, n_B) = (1, 1) -> 1/3 nats, (1, 2) -> 0.509524
    assert abs(s.page[0] - 1 / 3) < 1e-12 and abs(s.page[1] - 0.509524) < 1e-6
    d2 = synth.draw(range(1, 6), lambda n, p: 0.1 * 2.0 ** -n, 2000, page=synth.page_values, seed=7,
                    diag_shift=0.01)
    bad = synth.write(tmp_path / "page-off.h5", d2, diag_qubits=1)
    (scan2,) = load([bad])
    c2 = compare_page(scan2, "entropy")
    assert not c2.consistent and "differs from the Haar (Page) prediction" in c2.verdict
    assert not compare_page(scan2, "trace_distance").consistent
    # no Page prediction -> None
    (scan3,) = load([synth.write(tmp_path / "nopage.h5", synth.draw([1, 2, 3], lambda n, p: 0.1, 100))])
    assert compare_page(scan3, "entropy") is None


def test_insufficient_points(tmp_path):
    d = synth.draw([2, 3], lambda n, p: 0.1 * 2.0 ** -n, 200)
    (scan,) = load([synth.write(tmp_path / "two.h5", d)])
    r = fit_series(grad_series(scan)[0])
    assert r.preferred_model is None and r.verdict is None and "insufficient" in r.evidence_text
    assert r.to_dict()["log2_rate"] is None


def test_fit_range(exp_file):
    (scan,) = load([exp_file])
    r = fit_series(grad_series(scan)[0], nmin=4, nmax=8, bootstrap=0)
    assert list(r.n) == [4, 5, 6, 7, 8]
    assert len(r.excluded) == 4


def test_read_result_provenance(exp_file):
    f = read_result(exp_file)
    assert f.seed == 1 and f.slice_count == 1 and sorted(f.data) == list(range(2, 11))
    assert f.provenance["git_commit"] == "synthetic" and "job" not in f.provenance


def test_deterministic_values_not_fitted():
    """A quantity without sampling spread (e.g. the trace distance of a pure state) is left out
    with a reason instead of producing absurd chi2 values."""
    X = {n: 2.0 ** -n * (1 + 4e-16 * (np.arange(50) % 3)).reshape(-1, 1) for n in range(1, 6)}
    r = fit_series(from_samples(X, quantity="trace_distance", kind="mean"), bootstrap=0)
    assert r.preferred_model is None and len(r.excluded) == 5
    assert "deterministic" in r.excluded[0][1]
