"""Simulation-calibrated comparison of the exponential and the polynomial law.

The statistic is the one the fit already computes: T = chi2_poly - chi2_exp of the two
weighted least-squares fits of ln V on n and on ln n (weights (V/SE)^2, fitting.py). Its
distribution is not the one AIC assumes: five points, heavy-tailed gradients, and weights
whose SE moves with the value they weight. So it is *simulated*, the whole pipeline at once:

1. Draws. For every qubit count n, B bootstrap replicates of the sample: the S stored rows
   drawn with replacement, the value V* and its standard error SE* recomputed from them
   (estimators.resample). Without per-sample rows (or with B = 0) a model fitted to the
   moments replaces them: V* = V Gamma(k)/k with k = (V/SE)^2, SE*/V* = SE/V.
   Each draw gives a log deviation d = ln V* - ln V and a relative error s = SE*/V*.
2. Simulated scans under each law. A scan is one draw per n (independent across n: M
   scans are made by pairing the draws of different n at random, so M can exceed B). Under
   the law H (the exponential or polynomial fit to the data), its points are
   y* = ln V_H(n) + d with weights 1/s^2: the sample's own shape, tails and value-SE
   coupling at that n, rescaled to lie on the law (the null-restricted bootstrap).
3. Both models are refitted to every simulated scan, giving T* and chi2* under each law.
   p_exp = P_exp(T* <= T) (how often an exponential scan looks at least this polynomial)
   and p_poly = P_poly(T* >= T); a p-value is (1 + count) / (1 + M), so the smallest
   reportable one is 1/(M + 1). The goodness of fit of each law is calibrated the same way:
   P_H(chi2* >= chi2).

``separation`` answers "what would separate them": for a design (qubit counts, samples
per n) the expected separation D = chi2 of the best polynomial curve through the fitted
exponential one (and vice versa) with the weights the design would have (relative SE
extrapolated in n from the data, scaling as 1/sqrt(S)). Under a law T is about
N(+-D, 4D), so a strong verdict (p < ALPHA_STRONG) in 80% of scans needs
sqrt(D) >= z(ALPHA_STRONG) + z(0.8), D >= 15.4.
"""
import math
from dataclasses import dataclass, field
from typing import Optional, Tuple

import numpy as np
from scipy import stats as sps

from . import estimators

ALPHA_POSITIVE = 0.05      # evidence "positive": the other law's p-value below this
ALPHA_STRONG = 1e-3        # "strong"
ALPHA_VERY_STRONG = 1e-4   # "very strong"
EVIDENCE_LEVELS = ((ALPHA_VERY_STRONG, "very strong"), (ALPHA_STRONG, "strong"),
                   (ALPHA_POSITIVE, "positive"))
POWER = 0.8                # "what would separate them": strong evidence in 80% of scans
DEFAULT_SIMS = 20000
MOMENT_DRAWS = 1000        # draws per n of the moments model when --bootstrap 0


def evidence_label(p_other: float) -> str:
    """The calibrated evidence word for the p-value of the rejected law."""
    for bound, word in EVIDENCE_LEVELS:
        if p_other < bound:
            return word
    return "inconclusive"


def design_x(model: str, n) -> np.ndarray:
    n = np.asarray(n, dtype=float)
    return n if model == "exponential" else np.log(n)


def wls_rows(x: np.ndarray, Y: np.ndarray, W: np.ndarray):
    """Weighted straight-line fits y = a + b x of every row of Y [M, K] with weights W
    [M, K]: (a, b, var b unscaled, chi2), each [M]. Element-wise sums only: thousands of
    tiny fits are faster without BLAS calls (and their threads)."""
    Wx = W * x
    s0 = W.sum(axis=1)
    sx = Wx.sum(axis=1)
    sxx = (Wx * x).sum(axis=1)
    sy = (W * Y).sum(axis=1)
    sxy = (Wx * Y).sum(axis=1)
    det = s0 * sxx - sx * sx
    b = (s0 * sxy - sx * sy) / det
    a = (sy - b * sx) / s0
    r = Y - a[:, None] - b[:, None] * x
    return a, b, s0 / det, (W * r * r).sum(axis=1)


def draws(series, B: int, rng) -> Tuple[np.ndarray, np.ndarray, str]:
    """(d [B, K], s [B, K], method): log deviations ln V* - ln V and relative errors
    SE*/V* of B draws per qubit count of ``series`` (module docstring, step 1)."""
    K = series.n.size
    d = np.empty((B if B > 0 else MOMENT_DRAWS, K))
    s = np.empty_like(d)
    methods = set()
    for i in range(K):
        V, SE = float(series.value[i]), float(series.se[i])
        cols = series.columns[i] if i < len(series.columns) else None
        if B > 0 and cols is not None and cols.shape[0] >= 3 and series.estimator:
            v, e = estimators.resample(cols, series.estimator, B, rng)
            with np.errstate(divide="ignore", invalid="ignore"):
                di, si = np.log(v / V), e / v
            ok = np.isfinite(di) & np.isfinite(si) & (si > 0)
            if ok.sum() >= max(10, B // 2):
                # the few failed draws (V* <= 0) are replaced by valid ones
                good = np.nonzero(ok)[0]
                pick = np.where(ok, np.arange(B), good[rng.integers(0, good.size, B)])
                d[:, i], s[:, i] = di[pick], si[pick]
                methods.add("bootstrap")
                continue
        r = SE / V
        k = 1.0 / (r * r)
        n_draw = d.shape[0]
        d[:, i] = np.log(rng.gamma(k, 1.0 / k, n_draw))
        s[:, i] = r
        methods.add("moments")
    method = "bootstrap" if methods == {"bootstrap"} else (
        "moments" if methods == {"moments"} else "bootstrap+moments")
    return d, s, method


@dataclass
class Calibration:
    """The simulated null distributions of T and what they say about the observed scan."""
    method: str                  # "bootstrap", "moments" or "bootstrap+moments"
    draws: int                   # B per qubit count
    sims: int                    # M simulated scans per law
    t_obs: float                 # chi2_poly - chi2_exp of the data
    p_exp: float                 # P_exp(T* <= t_obs)
    p_poly: float                # P_poly(T* >= t_obs)
    gof_exp: float               # P_exp(chi2_exp* >= chi2_exp)
    gof_poly: float
    t_exp: Tuple[float, float, float]   # median and 2.5/97.5% of T* under the exponential law
    t_poly: Tuple[float, float, float]
    exp_fraction: float          # fraction of unrestricted bootstrap refits preferring exp
    boot_exp_slope: np.ndarray = field(repr=False, default=None)    # [B] unrestricted refits
    boot_poly_slope: np.ndarray = field(repr=False, default=None)

    @property
    def p_min(self) -> float:
        return 1.0 / (self.sims + 1)

    def to_dict(self) -> dict:
        return {"method": self.method, "draws_per_n": self.draws, "sims": self.sims,
                "statistic": "chi2_poly - chi2_exp", "t_obs": self.t_obs,
                "p_exponential": self.p_exp, "p_polynomial": self.p_poly,
                "gof_p_exponential": self.gof_exp, "gof_p_polynomial": self.gof_poly,
                "t_exponential_median_95": list(self.t_exp),
                "t_polynomial_median_95": list(self.t_poly), "p_min": self.p_min}


def _pair(d, s, M, rng):
    """M simulated scans from B draws per n: the draws themselves when M <= B, else one
    draw per n picked at random (the n are independent)."""
    B, K = d.shape
    if M <= B:
        return d[:M], s[:M]
    idx = rng.integers(0, B, size=(M, K))
    cols = np.arange(K)
    return d[idx, cols], s[idx, cols]


def calibrate(n, y, sigma, fit_exp, fit_poly, d, s, method, sims, rng) -> Calibration:
    """Steps 2 and 3 of the module docstring for the observed points (n, y = ln V, sigma)
    and their two fits (ModelFit)."""
    n = np.asarray(n, dtype=float)
    xe, xp = design_x("exponential", n), design_x("polynomial", n)
    t_obs = fit_poly.chi2 - fit_exp.chi2
    D, S = _pair(d, s, int(sims), rng)
    W = 1.0 / (S * S)
    out = {}
    for law, f, x in (("exponential", fit_exp, xe), ("polynomial", fit_poly, xp)):
        Y = f.intercept + f.slope * x + D
        ce = wls_rows(xe, Y, W)[3]
        cp = wls_rows(xp, Y, W)[3]
        out[law] = (cp - ce, ce if law == "exponential" else cp)
    M = D.shape[0]
    te, tp = out["exponential"][0], out["polynomial"][0]
    p_exp = (1.0 + np.sum(te <= t_obs)) / (M + 1.0)
    p_poly = (1.0 + np.sum(tp >= t_obs)) / (M + 1.0)
    gof_exp = (1.0 + np.sum(out["exponential"][1] >= fit_exp.chi2)) / (M + 1.0)
    gof_poly = (1.0 + np.sum(out["polynomial"][1] >= fit_poly.chi2)) / (M + 1.0)
    # unrestricted bootstrap refits (the data plus one draw per n, natural pairing)
    Yb = y + d
    Wb = 1.0 / (s * s)
    be = wls_rows(xe, Yb, Wb)
    bp = wls_rows(xp, Yb, Wb)

    def q3(t):
        return tuple(float(v) for v in np.percentile(t, [50, 2.5, 97.5]))
    return Calibration(method, d.shape[0], M, float(t_obs), float(p_exp), float(p_poly),
                       float(gof_exp), float(gof_poly), q3(te), q3(tp),
                       float(np.mean(be[3] <= bp[3])), be[1], bp[1])


# ------------------------------------------------------------------------------------------
# What would separate the laws


def _chi2_to_family(model: str, n, target, w) -> float:
    """chi2 of the best curve of ``model`` through the exact points ``target`` (weights w)."""
    x = design_x(model, n)
    return float(wls_rows(x, np.asarray(target)[None, :], np.asarray(w)[None, :])[3][0])


def expected_separation(n, w, fit_exp, fit_poly) -> Tuple[float, float]:
    """(D_exp, D_poly): chi2 of the polynomial family through the fitted exponential law,
    and of the exponential family through the fitted polynomial law, at qubit counts n
    with weights w."""
    n = np.asarray(n, dtype=float)
    ye = fit_exp.intercept + fit_exp.slope * design_x("exponential", n)
    yp = fit_poly.intercept + fit_poly.slope * design_x("polynomial", n)
    return _chi2_to_family("polynomial", n, ye, w), _chi2_to_family("exponential", n, yp, w)


def power(d_true: float, d_other: float, alpha: float) -> float:
    """Probability that the other law is rejected at level alpha when the true law's
    separation is d_true (T ~ N(d_true, 4 d_true)) and the other law's null is
    N(-d_other, 4 d_other)."""
    if d_true <= 0 or d_other <= 0:
        return 0.0
    z = sps.norm.isf(alpha)
    return float(sps.norm.cdf((d_true + d_other - 2 * math.sqrt(d_other) * z)
                              / (2 * math.sqrt(d_true))))


def needed_separation(alpha: float = ALPHA_STRONG, target: float = POWER) -> float:
    """D with power ``target`` at level alpha for symmetric laws: (z_alpha + z_power)^2."""
    return float((sps.norm.isf(alpha) + sps.norm.ppf(target)) ** 2)


def _sigma_model(n, sigma, samples):
    """ln(sigma sqrt(S)) linear in n (least squares; constant with < 3 points or a
    decreasing trend is kept as fitted). Returns a function (n, S) -> sigma."""
    n = np.asarray(n, dtype=float)
    t = np.log(np.asarray(sigma) * np.sqrt(np.asarray(samples, dtype=float)))
    if n.size >= 3:
        c1 = float(np.sum((n - n.mean()) * (t - t.mean())) / np.sum((n - n.mean()) ** 2))
        c0 = float(t.mean() - c1 * n.mean())
    else:
        c1, c0 = 0.0, float(np.mean(t))

    def f(nn, S):
        return np.exp(c0 + c1 * np.asarray(nn, dtype=float)) / np.sqrt(S)
    return f


@dataclass
class Separation:
    """How well the design separates the laws, and what design would (80% power for a
    strong verdict, by the normal approximation of the module docstring)."""
    d_exp: float                 # expected T if the exponential fit is the truth
    d_poly: float                # expected -T if the polynomial fit is the truth
    needed: float                # D for 80% power at ALPHA_STRONG (symmetric laws)
    power_exp: float             # P(strong exponential verdict | exponential law), this design
    power_poly: float
    n_max: Optional[int]         # the largest n needed with the same samples per n
    samples: Optional[int]       # samples per n needed over the same qubit counts
    n_limit: int
    samples_limit: int

    @property
    def ok(self) -> bool:
        return min(self.power_exp, self.power_poly) >= POWER

    def text(self, nmin: int, nmax: int, S: int) -> str:
        if self.ok:
            return ("this design should separate them (expected separation %.3g; strong evidence "
                    "in about %d%% of scans under either fitted law)"
                    % (min(self.d_exp, self.d_poly), 100 * min(self.power_exp, self.power_poly)))
        parts = []
        if self.n_max is not None:
            parts.append("n = %d..%d at %d samples per n" % (nmin, self.n_max, S))
        if self.samples is not None:
            parts.append("%d samples per n (%.3gx) over n = %d..%d"
                         % (self.samples, self.samples / S, nmin, nmax))
        if not parts:
            return ("even n up to %d or %d samples per n would not separate them "
                    "(the two fitted laws are too close)" % (self.n_limit, self.samples_limit))
        return ("to separate them (strong evidence in %d%% of scans, either law): %s"
                % (round(100 * POWER), " or ".join(parts)))

    def to_dict(self) -> dict:
        return {"d_exponential": self.d_exp, "d_polynomial": self.d_poly,
                "needed": self.needed, "power_exponential": self.power_exp,
                "power_polynomial": self.power_poly, "n_max": self.n_max,
                "samples": self.samples, "alpha": ALPHA_STRONG, "target_power": POWER}


def separation(n, sigma, samples, fit_exp, fit_poly, n_extra: int = 60,
               max_factor: float = 1000.0) -> Separation:
    """Expected separation of this design and the smallest extension that separates the
    laws: more qubit counts (n_max + 1, + 2, ... up to n_max + n_extra, same samples per n,
    consecutive n), or more samples over the same n (up to max_factor times)."""
    n = np.asarray(n, dtype=float)
    samples = np.asarray(samples, dtype=float)
    sig = _sigma_model(n, sigma, samples)
    S0 = float(np.median(samples))

    def powers(nn, S):
        w = 1.0 / sig(nn, S) ** 2
        de, dp = expected_separation(nn, w, fit_exp, fit_poly)
        return de, dp, power(de, dp, ALPHA_STRONG), power(dp, de, ALPHA_STRONG)
    de, dp, pe, pp = powers(n, samples)
    res = Separation(de, dp, needed_separation(), pe, pp, None, None,
                     int(n.max()) + n_extra, int(S0 * max_factor))
    if min(pe, pp) >= POWER:
        return res
    step = int(np.min(np.diff(n))) if n.size > 1 else 1
    for extra in range(1, n_extra + 1):
        nn = np.concatenate([n, n.max() + step * np.arange(1, extra + 1)])
        Ss = np.concatenate([samples, np.full(extra, S0)])
        _, _, a, b = powers(nn, Ss)
        if min(a, b) >= POWER:
            res.n_max = int(nn.max())
            break
    f = 1.0
    while f < max_factor:
        f *= 1.1
        _, _, a, b = powers(n, samples * f)
        if min(a, b) >= POWER:
            res.samples = int(math.ceil(S0 * f / 10.0) * 10)
            break
    return res

