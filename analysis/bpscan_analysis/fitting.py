"""Decay fits of a series against n, and the exponential-versus-polynomial comparison.

Definitions (README "Definitions"):

* exponential model: ln V = c - n ln(beta), i.e. V ∝ beta^(-n). Reported: the base beta and
  the log2 rate log2(beta) (bits per qubit; positive = decay; the Sharma/Cerezo toy global
  cost has Var dC = (1/8)(3/8)^(n-1), beta = 8/3, log2 rate 1.415).
* polynomial model: ln V = c - a ln n, i.e. V ∝ n^(-a) (toy local cost: a = 2).

Both are fitted by weighted least squares to y_i = ln V_i with sigma_i = SE_i / V_i (the
delta-method standard error of ln V_i, i.e. weights (V_i/SE_i)^2). The analytic confidence
interval is slope ± q * se with se from (X^T W X)^(-1); when chi2/dof > 1 the covariance is
multiplied by chi2/dof (Birge ratio) and q is the Student-t quantile with K-2 degrees of
freedom, otherwise q is the normal quantile. The bootstrap interval resamples the samples
within each n (B times), recomputes every V_i, refits with the same weights, and takes
percentiles.

Model comparison: both models have two parameters, so with Gaussian errors of known sigma
the log-likelihoods differ by -chi2/2 and AIC = chi2 + 2k + const; delta AIC = the other
model's AIC minus the preferred one's, the Akaike weight of the preferred model
w = 1/(1 + exp(-delta/2)). Wording: delta < 2 inconclusive, 2-6 positive, 6-10 strong,
>= 10 very strong.
"""
import math
from dataclasses import dataclass, field
from typing import List, Optional

import numpy as np
from scipy import stats as sps

from .series import Series

MODELS = ("exponential", "polynomial")
EVIDENCE = ((2.0, "inconclusive"), (6.0, "positive"), (10.0, "strong"), (math.inf, "very strong"))
LN2 = math.log(2.0)
REL_SE_MIN = 1e-9     # below this relative SE a value is deterministic up to rounding


def evidence_label(delta_aic: float) -> str:
    for bound, word in EVIDENCE:
        if delta_aic < bound:
            return word
    return "very strong"


@dataclass
class ModelFit:
    """Weighted least squares y = intercept + slope * x."""
    model: str
    x: np.ndarray
    y: np.ndarray
    sigma: np.ndarray
    intercept: float
    slope: float
    cov: np.ndarray          # [2, 2], already scaled by max(1, chi2/dof)
    chi2: float
    dof: int
    scaled: bool             # whether the covariance was inflated by chi2/dof
    loglike: float
    aic: float
    p_value: float           # chi2 goodness of fit (NaN when dof = 0)

    @property
    def slope_se(self) -> float:
        return float(math.sqrt(self.cov[1, 1]))

    def quantile(self, level: float) -> float:
        if self.scaled and self.dof > 0:
            return float(sps.t.ppf(0.5 + level / 2, self.dof))
        return float(sps.norm.ppf(0.5 + level / 2))

    def predict(self, n) -> np.ndarray:
        """The fitted V at qubit counts n."""
        n = np.asarray(n, dtype=float)
        x = n if self.model == "exponential" else np.log(n)
        return np.exp(self.intercept + self.slope * x)


def _design(model: str, n: np.ndarray) -> np.ndarray:
    x = n.astype(float) if model == "exponential" else np.log(n.astype(float))
    return np.column_stack([np.ones_like(x), x])


def wls(model: str, n, y, sigma) -> ModelFit:
    n = np.asarray(n)
    X = _design(model, n)
    w = 1.0 / np.asarray(sigma, dtype=float) ** 2
    XtW = X.T * w
    cov = np.linalg.inv(XtW @ X)
    beta = cov @ (XtW @ y)
    r = y - X @ beta
    chi2 = float(np.sum(w * r * r))
    dof = int(len(y) - 2)
    scaled = dof > 0 and chi2 / dof > 1.0
    if scaled:
        cov = cov * (chi2 / dof)
    loglike = float(-0.5 * chi2 - np.sum(np.log(sigma)) - 0.5 * len(y) * math.log(2 * math.pi))
    p = float(sps.chi2.sf(chi2, dof)) if dof > 0 else math.nan
    return ModelFit(model, X[:, 1], np.asarray(y, dtype=float), np.asarray(sigma, dtype=float),
                    float(beta[0]), float(beta[1]), cov, chi2, dof, scaled, loglike,
                    2 * 2 - 2 * loglike, p)


@dataclass
class FitResult:
    series: Series
    level: float
    n: np.ndarray                       # qubit counts used
    excluded: List[tuple]               # (n, reason) of the qubit counts left out
    exp: Optional[ModelFit] = None
    poly: Optional[ModelFit] = None
    ln_beta: float = math.nan
    ln_beta_se: float = math.nan
    base: float = math.nan
    base_ci: tuple = (math.nan, math.nan)
    log2_rate: float = math.nan
    log2_rate_ci: tuple = (math.nan, math.nan)
    poly_exponent: float = math.nan
    poly_exponent_ci: tuple = (math.nan, math.nan)
    bootstrap: int = 0
    log2_rate_ci_bootstrap: tuple = (math.nan, math.nan)
    base_ci_bootstrap: tuple = (math.nan, math.nan)
    poly_exponent_ci_bootstrap: tuple = (math.nan, math.nan)
    bootstrap_exp_fraction: float = math.nan
    preferred_model: Optional[str] = None
    delta_aic: float = math.nan
    akaike_weight: float = math.nan     # of the preferred model
    evidence: str = "insufficient data"
    evidence_text: str = ""
    notes: List[str] = field(default_factory=list)

    @property
    def name(self) -> str:
        return self.series.name

    @property
    def preferred(self) -> Optional[ModelFit]:
        return {"exponential": self.exp, "polynomial": self.poly}.get(self.preferred_model)

    def to_dict(self) -> dict:
        s = self.series
        used = np.isin(s.n, self.n)

        def f(v):
            v = float(v)
            return v if math.isfinite(v) else None

        def pair(t):
            return [f(t[0]), f(t[1])]
        d = {
            "name": s.name, "scan": s.scan, "quantity": s.quantity, "group": s.group,
            "n": [int(v) for v in self.n],
            "n_min": int(self.n.min()) if self.n.size else None,
            "n_max": int(self.n.max()) if self.n.size else None,
            "samples": [int(v) for v in s.samples[used]],
            "value": [f(v) for v in s.value[used]],
            "se": [f(v) for v in s.se[used]],
            "excluded": [{"n": n, "reason": why} for n, why in self.excluded],
            "level": self.level,
            "log2_rate": f(self.log2_rate), "log2_rate_ci": pair(self.log2_rate_ci),
            "log2_rate_ci_bootstrap": pair(self.log2_rate_ci_bootstrap),
            "base": f(self.base), "base_ci": pair(self.base_ci),
            "base_ci_bootstrap": pair(self.base_ci_bootstrap),
            "poly_exponent": f(self.poly_exponent), "poly_exponent_ci": pair(self.poly_exponent_ci),
            "poly_exponent_ci_bootstrap": pair(self.poly_exponent_ci_bootstrap),
            "preferred_model": self.preferred_model,
            "evidence": self.evidence,
            "evidence_text": self.evidence_text,
            "delta_aic": f(self.delta_aic), "akaike_weight": f(self.akaike_weight),
            "bootstrap": self.bootstrap,
            "bootstrap_exp_fraction": f(self.bootstrap_exp_fraction),
            "notes": list(self.notes),
        }
        for key, m in (("exponential", self.exp), ("polynomial", self.poly)):
            if m is not None:
                d[key] = {"intercept": m.intercept, "slope": m.slope, "slope_se": m.slope_se,
                          "chi2": m.chi2, "dof": m.dof, "p_value": f(m.p_value),
                          "loglike": m.loglike, "aic": m.aic, "scaled": m.scaled}
        return d


def _percentile_ci(x: np.ndarray, level: float):
    x = x[np.isfinite(x)]
    if x.size < 10:
        return (math.nan, math.nan)
    lo, hi = np.percentile(x, [50 * (1 - level), 50 * (1 + level)])
    return (float(lo), float(hi))


def fit_series(series: Series, level: float = 0.95, bootstrap: int = 1000, seed: int = 12345,
               nmin: Optional[int] = None, nmax: Optional[int] = None) -> FitResult:
    """Fit V(n) = series.value with both models; see the module docstring."""
    if not 0 < level < 1:
        raise ValueError("level must be in (0, 1)")
    s = series
    keep = np.ones(s.n.size, dtype=bool)
    excluded = []
    for i, (n, v, e) in enumerate(zip(s.n, s.value, s.se)):
        why = None
        if (nmin is not None and n < nmin) or (nmax is not None and n > nmax):
            why = "outside the fit range"
        elif not (np.isfinite(v) and v > 0):
            why = "value %r is not positive" % float(v)
        elif not (np.isfinite(e) and e > 0):
            why = "no standard error (too few samples?)"
        elif e < REL_SE_MIN * v:
            why = "no sampling spread (SE/value < %g): a deterministic value, not fitted" % REL_SE_MIN
        elif n < 1:
            why = "n < 1"
        if why:
            keep[i] = False
            excluded.append((int(n), why))
    sub = s.subset(keep)
    res = FitResult(series=s, level=level, n=sub.n.copy(), excluded=excluded)
    K = sub.n.size
    if K < 3:
        res.evidence_text = "insufficient data: %d usable qubit count(s), need 3" % K
        return res
    y = np.log(sub.value)
    sigma = sub.se / sub.value
    if np.any(sigma > 0.5):
        bad = ", ".join(str(n) for n in sub.n[sigma > 0.5])
        res.notes.append("relative standard error > 50%% at n = %s: ln Var is poorly "
                         "determined there (more samples, or --nmax)" % bad)
    res.exp = e = wls("exponential", sub.n, y, sigma)
    res.poly = p = wls("polynomial", sub.n, y, sigma)
    res.ln_beta, res.ln_beta_se = -e.slope, e.slope_se
    q = e.quantile(level)
    lo, hi = res.ln_beta - q * res.ln_beta_se, res.ln_beta + q * res.ln_beta_se
    res.base, res.base_ci = math.exp(res.ln_beta), (math.exp(lo), math.exp(hi))
    res.log2_rate, res.log2_rate_ci = res.ln_beta / LN2, (lo / LN2, hi / LN2)
    qp = p.quantile(level)
    res.poly_exponent = -p.slope
    res.poly_exponent_ci = (res.poly_exponent - qp * p.slope_se, res.poly_exponent + qp * p.slope_se)

    if e.aic <= p.aic:
        res.preferred_model, other = "exponential", "polynomial"
    else:
        res.preferred_model, other = "polynomial", "exponential"
    res.delta_aic = abs(e.aic - p.aic)
    res.akaike_weight = 1.0 / (1.0 + math.exp(-res.delta_aic / 2))
    res.evidence = evidence_label(res.delta_aic)

    if bootstrap and bootstrap > 0:
        rng = np.random.default_rng(seed)
        vals = sub.bootstrap(int(bootstrap), rng)
        ok = np.all(np.isfinite(vals) & (vals > 0), axis=1)
        if ok.sum() >= 10:
            Y = np.log(vals[ok])
            res.bootstrap = int(ok.sum())
            w = 1.0 / sigma ** 2
            fits = {}
            for m in MODELS:
                X = _design(m, sub.n)
                A = np.linalg.solve((X.T * w) @ X, X.T * w)   # [2, K]
                coef = Y @ A.T                                 # [b, 2]
                r = Y - coef @ X.T
                fits[m] = (coef[:, 1], np.sum(w * r * r, axis=1))
            lnb = -fits["exponential"][0]
            res.log2_rate_ci_bootstrap = tuple(v / LN2 for v in _percentile_ci(lnb, level))
            res.base_ci_bootstrap = tuple(math.exp(v) for v in _percentile_ci(lnb, level))
            res.poly_exponent_ci_bootstrap = _percentile_ci(-fits["polynomial"][0], level)
            res.bootstrap_exp_fraction = float(np.mean(fits["exponential"][1] <= fits["polynomial"][1]))
        else:
            res.notes.append("bootstrap skipped: too few replicates with positive values")

    text = "%s preferred over %s: delta AIC = %.1f, Akaike weight %.3f (%s)" % (
        res.preferred_model, other, res.delta_aic, res.akaike_weight, res.evidence)
    if res.bootstrap:
        frac = res.bootstrap_exp_fraction
        if res.preferred_model == "polynomial":
            frac = 1 - frac
        text += "; preferred in %.0f%% of %d bootstrap refits" % (100 * frac, res.bootstrap)
    best = res.preferred
    if best.dof > 0 and best.p_value < 1e-3:
        text += "; but neither model fits well (chi2/dof = %.1f for the %s model)" % (
            best.chi2 / best.dof, best.model)
        res.notes.append("the preferred model fits poorly (chi2/dof = %.2f, p = %.1e): its rate is "
                         "an effective one over n = %d..%d and its CI is inflated by the Birge ratio"
                         % (best.chi2 / best.dof, best.p_value, sub.n.min(), sub.n.max()))
    res.evidence_text = text
    return res


def fit_all(series_list, **kw) -> List[FitResult]:
    """fit_series over a list, each with its own bootstrap stream (seed + index)."""
    seed = kw.pop("seed", 12345)
    return [fit_series(s, seed=seed + i, **kw) for i, s in enumerate(series_list)]
