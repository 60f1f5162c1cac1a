"""Exact points (moments scans): the asymptotic law without sampling error.

A moments scan gives log2 V(n) exactly (``*_log2`` fields; V reaches 2^-4000, below the
double range, so nothing here leaves log2). There is no sampling noise, hence no confidence
interval and no p-value: what is uncertain is only how far the largest n is from the
asymptotic regime. So the numbers are *local*:

* local log2 rate between consecutive points, r = -(log2 V(n_b) - log2 V(n_a)) / (n_b - n_a)
  (bits per qubit); the reported rate is the one between the last two points, with the
  least-squares slope over the last three and the change r_last - r_previous;
* local polynomial exponent a = -(ln V(n_b) - ln V(n_a)) / (ln n_b - ln n_a).

Model choice on exact data: under an exponential law the local rate settles while the
local polynomial exponent keeps growing (a ~ r n ln 2); under a polynomial law the
exponent settles while the rate falls like a / (n ln 2). Over the last step each drifts by
|change| / |value|; the law whose local exponent drifts DRIFT_RATIO times less is chosen,
otherwise the verdict is inconclusive (the exponents have not settled: larger n needed).
A variance that does not decrease at the largest n is "polynomial" (no barren plateau).
Exact data up to n_max cannot exclude a change of law beyond n_max; the text says so.
"""
import math
from dataclasses import dataclass, field
from typing import List, Optional, Tuple

import numpy as np

DRIFT_RATIO = 2.0
LN2 = math.log(2.0)


@dataclass
class ExactFit:
    n: np.ndarray                        # qubit counts used (exact, finite log2)
    log2: np.ndarray                     # their log2 V
    local_rates: List[Tuple[int, int, float]] = field(default_factory=list)
    local_poly: List[Tuple[int, int, float]] = field(default_factory=list)
    log2_rate: float = math.nan          # between the last two points
    log2_rate_last3: float = math.nan    # least-squares slope over the last three
    log2_rate_change: float = math.nan   # r_last - r_previous
    poly_exponent: float = math.nan      # between the last two points
    poly_exponent_change: float = math.nan
    drift_exp: float = math.nan          # |r_last - r_prev| / |r_last|
    drift_poly: float = math.nan
    verdict: Optional[str] = None        # "exponential", "polynomial", "inconclusive"
    preferred: Optional[str] = None      # the law with the smaller drift
    reason: str = ""

    def to_dict(self) -> dict:
        def f(v):
            return float(v) if v is not None and math.isfinite(v) else None
        return {"n": [int(v) for v in self.n], "log2_value": [f(v) for v in self.log2],
                "local_log2_rates": [{"n": [a, b], "rate": f(r)} for a, b, r in self.local_rates],
                "local_poly_exponents": [{"n": [a, b], "a": f(r)} for a, b, r in self.local_poly],
                "log2_rate": f(self.log2_rate), "log2_rate_last3": f(self.log2_rate_last3),
                "log2_rate_change": f(self.log2_rate_change),
                "poly_exponent": f(self.poly_exponent),
                "poly_exponent_change": f(self.poly_exponent_change),
                "drift_exponential": f(self.drift_exp), "drift_polynomial": f(self.drift_poly),
                "verdict": self.verdict, "reason": self.reason}


def _drift(a: float, b: float) -> float:
    return abs(b - a) / abs(b) if b != 0 else math.inf


def fit_exact_points(n, log2v) -> ExactFit:
    """The local rates, exponents and the model choice of exact points (sorted by n)."""
    n = np.asarray(n, dtype=float)
    y = np.asarray(log2v, dtype=float)
    res = ExactFit(n=n.astype(int), log2=y)
    K = n.size
    if K < 2:
        res.reason = "%d exact point(s): a rate needs two" % K
        return res
    r = -(np.diff(y) / np.diff(n))
    a = -(np.diff(y) * LN2 / np.diff(np.log(n)))
    pairs = list(zip(n[:-1].astype(int).tolist(), n[1:].astype(int).tolist()))
    res.local_rates = [(p, q, float(v)) for (p, q), v in zip(pairs, r)]
    res.local_poly = [(p, q, float(v)) for (p, q), v in zip(pairs, a)]
    res.log2_rate, res.poly_exponent = float(r[-1]), float(a[-1])
    if K < 3:
        res.verdict = "inconclusive"
        res.reason = "two exact points give one local rate; a third shows which law settles"
        return res
    res.log2_rate_last3 = float(-np.polyfit(n[-3:], y[-3:], 1)[0])
    res.log2_rate_change = float(r[-1] - r[-2])
    res.poly_exponent_change = float(a[-1] - a[-2])
    res.drift_exp, res.drift_poly = _drift(r[-2], r[-1]), _drift(a[-2], a[-1])
    res.preferred = "exponential" if res.drift_exp <= res.drift_poly else "polynomial"
    if r[-1] <= 0:
        res.verdict = res.preferred = "polynomial"
        res.reason = ("the variance does not decrease at the largest n (local log2 rate %.4g): "
                      "no exponential decay" % r[-1])
        return res
    lo, hi = sorted((res.drift_exp, res.drift_poly))
    step = "n = %d..%d..%d" % (n[-3], n[-2], n[-1])
    words = ("the local log2 rate changes by %.3g%% (%.6g -> %.6g) and the local polynomial "
             "exponent by %.3g%% (%.6g -> %.6g) over %s"
             % (100 * res.drift_exp, r[-2], r[-1], 100 * res.drift_poly, a[-2], a[-1], step))
    if hi >= DRIFT_RATIO * lo:
        res.verdict = res.preferred
        res.reason = words
    else:
        res.verdict = "inconclusive"
        res.reason = words + ": neither has settled (larger n needed)"
    return res
