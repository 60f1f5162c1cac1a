"""The calibration study (study.py, README "Calibration"): the verdict is never confidently
wrong and the 95% CIs cover the truth about 95% of the time, on synthetic scans drawn from
heavy-tailed gradient laws (DQNN-like products, Student-t) with known exponential and
polynomial laws, several n ranges and sample sizes, 200 replicates each (fixed seeds).

The per-scenario checks are binomial: a row fails only when its count is implausible
(probability < 0.1%) for the stated rate; the pooled rates must meet it outright.
"""
import math
import time

import numpy as np
import pytest
from scipy import stats as sps

from bpscan_analysis import fit_series, from_moments, from_samples, study

RUNS = 200


@pytest.fixture(scope="module")
def table():
    t0 = time.perf_counter()
    rows = study.run_study(runs=RUNS, seed=1, bootstrap=200, sims=10000, jobs=2)
    return rows, time.perf_counter() - t0


def test_calibration_table(table, capsys):
    rows, wall = table
    tot = study.pooled(rows)
    with capsys.disabled():
        print("\ncalibration study (%d runs per scenario, %.1f s wall on 2 processes):\n%s"
              % (RUNS, wall, study.format_rows(rows, markdown=False)))
    # wrong with strong or very strong evidence: under 1% pooled, no row implausibly above
    assert tot.wrong_strong / tot.runs < 0.01, tot.wrong_strong
    for r in rows:
        assert r.wrong_strong <= sps.binom.ppf(0.999, r.runs, 0.01), r.scenario.label
    # wrong with any evidence ("positive" = the other law's p < 0.05): at most about 5%
    assert tot.wrong / tot.runs <= 0.05
    for r in rows:
        assert r.wrong <= sps.binom.ppf(0.999, r.runs, 0.05), r.scenario.label
    # 95% CIs of the true law's parameter cover it in 93-97% of the replicates
    assert 0.93 <= tot.covered / tot.runs <= 0.97, tot.covered / tot.runs
    for r in rows:
        lo, hi = sps.binom.ppf(0.001, r.runs, 0.93), sps.binom.ppf(0.999, r.runs, 0.97)
        assert lo <= r.covered <= hi, (r.scenario.label, r.covered)


def test_verdict_power(table):
    """Separable designs get the right law with strong evidence; the n = 3..5, 300-sample
    designs (which cannot separate the laws) are mostly inconclusive."""
    rows, _ = table
    by = {r.scenario.label: r for r in rows}
    assert by["dqnn n=2..6 S=1000"].right_strong / RUNS >= 0.85     # the ten toy scans of issue 14
    assert by["local n=1..8 S=300"].right_strong / RUNS >= 0.9
    assert by["t-exp n=2..8 S=500"].right_strong / RUNS >= 0.9
    for key in ("dqnn n=3..5 S=300", "local n=3..5 S=300"):
        assert by[key].inconclusive / RUNS >= 0.7, key


def test_what_would_separate():
    """The design suggested for an inconclusive scan separates the laws: strong evidence for
    the true law in most scans at the suggested samples per n (target 80%)."""
    law = study.dqnn_law(1)
    rng = np.random.default_rng(5)
    r = fit_series(from_samples({n: law.draw(n, 300, rng) for n in (3, 4, 5)}),
                   bootstrap=200, sims=4000, seed=5)
    assert r.verdict == "inconclusive" and "to separate them" in r.evidence_text
    S = r.separation.samples
    assert S is not None and 3000 < S < 100000, S
    good = wrong = 0
    runs = 40
    for k in range(runs):
        rng = np.random.default_rng([6, k])
        f = fit_series(from_samples({n: law.draw(n, S, rng) for n in (3, 4, 5)}),
                       bootstrap=100, sims=4000, seed=k)
        good += f.verdict == "exponential" and f.evidence in study.STRONG
        wrong += f.verdict == "polynomial"
    assert good / runs >= 0.6 and wrong <= 2, (good, wrong)


def test_both_laws_rejected():
    """A law between the two (ln V = -2 sqrt(n)) measured precisely: inconclusive, both
    rejected, instead of a confident pick."""
    rng = np.random.default_rng(3)
    X = {n: rng.standard_normal((4000, 1)) * math.exp(-math.sqrt(n)) for n in range(1, 17)}
    r = fit_series(from_samples(X), bootstrap=200, sims=4000)
    assert r.verdict == "inconclusive" and "both laws are rejected" in r.evidence_text
    assert max(r.p_exponential, r.p_polynomial) < 1e-3


def test_moments_model_calibration():
    """Without per-sample rows the verdict is calibrated from a model of the moments."""
    n = np.arange(2, 9)
    V = 0.125 * 0.375 ** (n - 1.0)
    s = from_moments(n, V * (1 + 0.05 * np.sin(n)), 0.08 * V, 1000)
    r = fit_series(s, sims=4000)
    assert r.calibration.method == "moments" and r.bootstrap == 0
    assert r.verdict == "exponential" and r.evidence in study.STRONG
    assert abs(r.log2_rate - math.log2(8 / 3)) < 0.1
