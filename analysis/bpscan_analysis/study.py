"""The calibration study: is the verdict ever confidently wrong, do the CIs cover?

Synthetic scans are drawn from heavy-tailed gradient distributions with a known law, fitted
by ``fit_series`` exactly as bpfit fits a result file, and the verdicts and intervals are
counted against the truth. ``bpfit calibrate`` prints the table (README "Calibration");
analysis/tests/test_calibration.py runs the quick version and asserts its rates. For
comparison the table also counts what the old, uncalibrated rule said on the same fits (the
lower AIC wins when delta AIC >= 2, "strong" from delta AIC >= 6).

Gradient families (each draw is one sample's gradient row, [S, P]):

* ``dqnn``: the toy DQNN global cost (physics.md Sec. 4.7), a product of independent
  factors: dC/dtheta_p = (1/2) sin(theta_p) prod_{i != p, i < n} cos^2(theta_i/2), theta
  uniform. Var = (1/8)(3/8)^(n-1) exactly (log2 rate log2(8/3) = 1.415); the kurtosis grows
  as 1.5 (35/18)^(n-1) (42 at n = 6). P > 1 tracks P parameters sharing the factors (their
  gradients are correlated, as in a real scan).
* ``local``: a polynomial law with product tails, the toy local cost's 1/(8 n^2):
  (1/n) (1/2) sin(theta_0) prod_{i=1..3} cos^2(theta_i/2) / (3/8)^(3/2), kurtosis 11.
* ``t-exp`` / ``t-poly``: Student-t gradients (nu = 5: the sample variance's SE has no
  finite variance) with Var = 2^-(n-1) / 8 (log2 rate 1) or 1/(8 n^2).
"""
import math
import time
from dataclasses import dataclass
from typing import Callable, List, Optional, Sequence

import numpy as np

from .fitting import fit_series
from .series import from_samples

TWO_PI = 2.0 * math.pi


@dataclass
class Law:
    name: str                 # family, for the table
    model: str                # "exponential" or "polynomial"
    truth: float              # log2 rate (exponential) or exponent a (polynomial)
    variance: Callable        # n -> exact Var (per parameter)
    draw: Callable            # (n, S, rng) -> [S, P] gradients
    tails: str                # description of the tails, for the table


def dqnn_law(P: int = 1) -> Law:
    def draw(n, S, rng):
        m = max(n, P)
        th = rng.random((S, m)) * TWO_PI
        c2 = np.cos(0.5 * th[:, :n]) ** 2
        out = np.empty((S, P))
        for p in range(P):
            prod = np.prod(np.delete(c2, p, axis=1), axis=1) if n > 1 else np.ones(S)
            out[:, p] = 0.5 * np.sin(th[:, p]) * prod
        return out
    return Law("dqnn" + ("" if P == 1 else " P=%d" % P), "exponential", math.log2(8 / 3),
               lambda n: 0.125 * 0.375 ** (n - 1), draw, "product, kurtosis 1.5 (35/18)^(n-1)")


def local_law(k: int = 3) -> Law:
    def draw(n, S, rng):
        th = rng.random((S, k + 1)) * TWO_PI
        g = 0.5 * np.sin(th[:, 0]) * np.prod(np.cos(0.5 * th[:, 1:]) ** 2, axis=1)
        return (g / (0.375 ** (k / 2) * n)).reshape(-1, 1)
    kurt = 1.5 * (35 / 18) ** k
    return Law("local", "polynomial", 2.0, lambda n: 1 / (8.0 * n * n), draw,
               "product, kurtosis %.0f" % kurt)


def t_law(model: str, nu: float = 5.0) -> Law:
    if model == "exponential":
        var, truth, name = (lambda n: 0.125 * 2.0 ** -(n - 1)), 1.0, "t-exp"
    else:
        var, truth, name = (lambda n: 1 / (8.0 * n * n)), 2.0, "t-poly"

    def draw(n, S, rng):
        return (rng.standard_t(nu, S) * math.sqrt(var(n) * (nu - 2) / nu)).reshape(-1, 1)
    return Law(name, model, truth, var, draw, "Student-t, nu = %g" % nu)


@dataclass
class Scenario:
    law: Law
    n: Sequence[int]
    samples: int

    @property
    def label(self) -> str:
        return "%s n=%d..%d S=%d" % (self.law.name, min(self.n), max(self.n), self.samples)


def scenarios(long: bool = False) -> List[Scenario]:
    """The quick set (test suite) or the long one (README table, bpfit calibrate --long)."""
    d1, d3, loc, te, tp = dqnn_law(1), dqnn_law(3), local_law(), t_law("exponential"), \
        t_law("polynomial")
    out = [Scenario(d1, range(2, 7), 1000),      # the ten toy scans of issue 14
           Scenario(d1, range(2, 7), 300),
           Scenario(d1, range(3, 6), 300),       # cannot separate: inconclusive expected
           Scenario(d3, range(3, 8), 500),       # mean over 3 correlated parameters
           Scenario(te, range(2, 9), 500),
           Scenario(loc, range(2, 7), 1000),
           Scenario(loc, range(3, 6), 300),
           Scenario(loc, range(1, 9), 300),
           Scenario(tp, range(2, 9), 500)]
    if long:
        out += [Scenario(d1, range(2, 8), 3000), Scenario(d1, range(1, 7), 2000),
                Scenario(loc, range(1, 6), 600), Scenario(tp, range(2, 7), 2000)]
    return out


@dataclass
class Row:
    scenario: Scenario
    runs: int
    right: int = 0            # the true law, any evidence
    right_strong: int = 0     # the true law, strong or very strong
    inconclusive: int = 0
    wrong: int = 0            # the other law, any evidence
    wrong_strong: int = 0     # the other law, strong or very strong
    covered: int = 0          # the analytic CI of the true law's parameter covers the truth
    covered_boot: int = 0     # the bootstrap percentile CI does
    aic_wrong: int = 0        # the old rule (lower AIC, uncalibrated): the other law
    aic_wrong_strong: int = 0  # ... with delta AIC >= 6 (its "strong" or "very strong")
    seconds: float = 0.0      # CPU-side wall time summed over the worker processes

    def rate(self, k: int) -> float:
        return k / self.runs if self.runs else math.nan


STRONG = ("strong", "very strong")


COUNTS = ("right", "right_strong", "inconclusive", "wrong", "wrong_strong", "covered",
          "covered_boot", "aic_wrong", "aic_wrong_strong")
AIC_STRONG = 6.0      # the uncalibrated rule bpfit used before: delta AIC >= 6 "strong"


def _runs(sc: Scenario, index: int, k0: int, k1: int, seed: int, bootstrap: int, sims: int,
          level: float) -> dict:
    """Replicates k0..k1-1 of scenario ``index``: each has its own random stream
    (seed, index, k), so the counts do not depend on how the replicates are split."""
    law = sc.law
    out = dict.fromkeys(COUNTS, 0)
    for k in range(k0, k1):
        rng = np.random.default_rng([seed, index, k])
        X = {n: law.draw(n, sc.samples, rng) for n in sc.n}
        r = fit_series(from_samples(X), level=level, bootstrap=bootstrap, sims=sims,
                       seed=int(rng.integers(2 ** 31)))
        if r.verdict == "inconclusive" or r.verdict is None:
            out["inconclusive"] += 1
        elif r.verdict == law.model:
            out["right"] += 1
            out["right_strong"] += r.evidence in STRONG
        else:
            out["wrong"] += 1
            out["wrong_strong"] += r.evidence in STRONG
        if law.model == "exponential":
            ci, cb = r.log2_rate_ci, r.log2_rate_ci_bootstrap
        else:
            ci, cb = r.poly_exponent_ci, r.poly_exponent_ci_bootstrap
        out["covered"] += bool(ci[0] <= law.truth <= ci[1])
        out["covered_boot"] += bool(cb[0] <= law.truth <= cb[1])
        if r.exp is not None:       # the old rule on the same fit: lower AIC, delta AIC >= 2
            aic = "exponential" if r.exp.chi2 <= r.poly.chi2 else "polynomial"
            if aic != law.model and r.delta_aic >= 2.0:
                out["aic_wrong"] += 1
                out["aic_wrong_strong"] += r.delta_aic >= AIC_STRONG
    return out


def _task(args):
    long, index, k0, k1, seed, bootstrap, sims, level = args
    t0 = time.perf_counter()
    out = _runs(scenarios(long)[index], index, k0, k1, seed, bootstrap, sims, level)
    out["seconds"] = time.perf_counter() - t0
    return index, out


def run_study(runs: int = 200, long: bool = False, seed: int = 1, bootstrap: int = 200,
              sims: int = 10000, level: float = 0.95, jobs: int = 1,
              progress: Optional[Callable] = None) -> List[Row]:
    """Every scenario ``runs`` times; ``jobs`` worker processes share the replicates (the
    result is the same for any number of jobs)."""
    scs = scenarios(long)
    rows = [Row(sc, runs) for sc in scs]
    chunk = max(1, min(50, runs // max(1, 2 * jobs)))
    tasks = [(long, i, k, min(runs, k + chunk), seed, bootstrap, sims, level)
             for i in range(len(scs)) for k in range(0, runs, chunk)]
    left = [sum(1 for t in tasks if t[1] == i) for i in range(len(scs))]

    def collect(results):
        for i, out in results:
            for f, v in out.items():
                setattr(rows[i], f, getattr(rows[i], f) + v)
            left[i] -= 1
            if left[i] == 0 and progress:
                progress(rows[i])
    if jobs > 1:
        import multiprocessing
        with multiprocessing.get_context("fork").Pool(jobs) as pool:
            collect(pool.imap_unordered(_task, tasks))
    else:
        collect(map(_task, tasks))
    return rows


def pooled(rows: Sequence[Row]) -> Row:
    tot = Row(None, sum(r.runs for r in rows))
    for f in COUNTS + ("seconds",):
        setattr(tot, f, sum(getattr(r, f) for r in rows))
    return tot


def format_rows(rows: Sequence[Row], markdown: bool = True) -> str:
    head = ["law", "tails", "n", "S", "runs", "right", "right, strong+", "inconclusive",
            "wrong", "wrong, strong+", "CI covers", "bootstrap CI covers", "old dAIC: wrong",
            "old dAIC: wrong, strong+"]

    def pct(r, k):
        return "%.1f%%" % (100 * r.rate(k))
    body = []
    for r in list(rows) + [pooled(rows)]:
        sc = r.scenario
        if sc is None:
            cells = ["all", "", "", "", str(r.runs)]
        else:
            cells = ["%s (%s)" % (sc.law.name, sc.law.model[:3]), sc.law.tails,
                     "%d..%d" % (min(sc.n), max(sc.n)), str(sc.samples), str(r.runs)]
        cells += [pct(r, r.right), pct(r, r.right_strong), pct(r, r.inconclusive), pct(r, r.wrong),
                  pct(r, r.wrong_strong), pct(r, r.covered), pct(r, r.covered_boot),
                  pct(r, r.aic_wrong), pct(r, r.aic_wrong_strong)]
        body.append(cells)
    if markdown:
        lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
        lines += ["| " + " | ".join(c) + " |" for c in body]
        return "\n".join(lines) + "\n"
    widths = [max(len(x) for x in col) for col in zip(head, *body)]
    lines = ["  ".join(c.ljust(w) for c, w in zip(cells, widths)).rstrip()
             for cells in [head] + body]
    return "\n".join(lines) + "\n"
