"""Decay fits of a series against n, and the exponential-versus-polynomial verdict.

Definitions (README "Definitions"):

* exponential model: ln V = c - n ln(beta), i.e. V ∝ beta^(-n). Reported: the base beta and
  the log2 rate log2(beta) (bits per qubit; positive = decay; the Sharma/Cerezo toy global
  cost has Var dC = (1/8)(3/8)^(n-1), beta = 8/3, log2 rate 1.415).
* polynomial model: ln V = c - a ln n, i.e. V ∝ n^(-a) (toy local cost: a = 2).

Both are fitted by weighted least squares to y_i = ln V_i with sigma_i = SE_i / V_i (the
delta-method standard error of ln V_i, i.e. weights (V_i/SE_i)^2). The analytic confidence
interval is slope ± q * se with se from (X^T W X)^(-1); when chi2/dof > 1 the covariance is
multiplied by chi2/dof (Birge ratio) and q is the Student-t quantile with K-2 degrees of
freedom, otherwise q is the normal quantile. Its coverage is checked by the calibration
study (study.py, README "Calibration"). The bootstrap interval resamples the samples within
each n (B times), recomputes every V_i and SE_i, refits, and takes percentiles: it measures
sampling noise only and undercovers for heavy-tailed gradients (the study shows how much).

Verdict: T = chi2_poly - chi2_exp is compared with its simulated distributions under the
two fitted laws (calibration.py): p_exp, p_poly. The preferred law is the one with the
larger p; the verdict is that law when the other's p < ALPHA_POSITIVE, with the evidence
"positive" (p < 0.05), "strong" (p < 1e-3) or "very strong" (p < 1e-4) for the rejected
law; "inconclusive" when neither law is rejected (with what would separate them) or both
are (p < 1e-3 for both: a crossover or another law). delta AIC and the Akaike weight are
still reported, uncalibrated: with Gaussian errors of known sigma AIC = chi2 + 4 + const.

Exact points (moments scans, se = 0) are not fitted statistically: exact.py.
"""
import math
from dataclasses import dataclass, field
from typing import List, Optional

import numpy as np
from scipy import stats as sps

from . import calibration as cal
from .exact import ExactFit, fit_exact_points
from .series import Series

MODELS = ("exponential", "polynomial")
VERDICTS = ("exponential", "polynomial", "inconclusive")
LN2 = math.log(2.0)
REL_SE_MIN = 1e-9     # below this relative SE a value is deterministic up to rounding


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
        return np.exp(self.predict_ln(n))

    def predict_ln(self, n) -> np.ndarray:
        """The fitted ln V at qubit counts n (no underflow)."""
        n = np.asarray(n, dtype=float)
        x = n if self.model == "exponential" else np.log(n)
        return self.intercept + self.slope * x


def _design(model: str, n: np.ndarray) -> np.ndarray:
    x = n.astype(float) if model == "exponential" else np.log(n.astype(float))
    return np.column_stack([np.ones_like(x), x])


def wls(model: str, n, y, sigma) -> ModelFit:
    n = np.asarray(n)
    X = _design(model, n)
    w = 1.0 / np.asarray(sigma, dtype=float) ** 2
    y = np.asarray(y, dtype=float)
    x = X[:, 1]
    s0, sx, sxx = w.sum(), (w * x).sum(), (w * x * x).sum()
    det = s0 * sxx - sx * sx     # the 2x2 normal equations in closed form (no LAPACK call)
    cov = np.array([[sxx, -sx], [-sx, s0]]) / det
    beta = cov @ np.array([(w * y).sum(), (w * x * y).sum()])
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
    preferred_model: Optional[str] = None   # the law with the larger calibrated p (exact: smaller drift)
    verdict: Optional[str] = None       # "exponential", "polynomial" or "inconclusive"
    p_exponential: float = math.nan     # calibrated p-values of the two laws (calibration.py)
    p_polynomial: float = math.nan
    calibration: Optional[cal.Calibration] = None
    separation: Optional[cal.Separation] = None
    delta_aic: float = math.nan         # uncalibrated: |chi2_exp - chi2_poly|
    akaike_weight: float = math.nan     # uncalibrated, of the lower-AIC model
    evidence: str = "insufficient data"
    evidence_text: str = ""
    exact: Optional[ExactFit] = None    # exact points (moments scans)
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
            "log2_value": [f(v) for v in s.log2[used]],
            "se": [f(v) for v in s.se[used]],
            "excluded": [{"n": n, "reason": why} for n, why in self.excluded],
            "level": self.level,
            "log2_rate": f(self.log2_rate), "log2_rate_ci": pair(self.log2_rate_ci),
            "log2_rate_ci_bootstrap": pair(self.log2_rate_ci_bootstrap),
            "base": f(self.base), "base_ci": pair(self.base_ci),
            "base_ci_bootstrap": pair(self.base_ci_bootstrap),
            "poly_exponent": f(self.poly_exponent), "poly_exponent_ci": pair(self.poly_exponent_ci),
            "poly_exponent_ci_bootstrap": pair(self.poly_exponent_ci_bootstrap),
            "verdict": self.verdict,
            "preferred_model": self.preferred_model,
            "evidence": self.evidence,
            "evidence_text": self.evidence_text,
            "p_exponential": f(self.p_exponential), "p_polynomial": f(self.p_polynomial),
            "calibration": self.calibration.to_dict() if self.calibration else None,
            "separation": self.separation.to_dict() if self.separation else None,
            "exact": self.exact.to_dict() if self.exact else None,
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


def _fmt_p(p: float, p_min: float) -> str:
    """A Monte-Carlo p-value: (1 + count)/(1 + M) is at least p_min = 1/(1 + M)."""
    return ("p <= %.1e" % p_min if p <= p_min * (1 + 1e-9) else "p = %.2g" % p)


def _select(s: Series, nmin, nmax):
    keep = np.ones(s.n.size, dtype=bool)
    excluded = []
    for i, (n, v, e) in enumerate(zip(s.n, s.value, s.se)):
        why = None
        if (nmin is not None and n < nmin) or (nmax is not None and n > nmax):
            why = "outside the fit range"
        elif s.exact:
            l2 = s.log2[i]
            if np.isnan(l2):
                lo, hi = s.log2_lower[i], s.log2_upper[i]
                why = ("bounds only (exact = 0): log2 value in [%.6g, %.6g]" % (lo, hi)
                       if np.isfinite(lo) or np.isfinite(hi) else "no value")
            elif l2 == -math.inf:
                why = "exactly 0"
        elif not (np.isfinite(v) and v > 0):
            why = "value %r is not positive" % float(v)
        elif not (np.isfinite(e) and e > 0):
            why = "no standard error (too few samples?)"
        elif e < REL_SE_MIN * v:
            why = "no sampling spread (SE/value < %g): a deterministic value, not fitted" % REL_SE_MIN
        if why is None and n < 1:
            why = "n < 1"
        if why:
            keep[i] = False
            excluded.append((int(n), why))
    return keep, excluded


def _fit_exact(s: Series, level: float, nmin, nmax) -> FitResult:
    """Exact points: local rates and the exact model choice (exact.py), no sampling CI."""
    keep, excluded = _select(s, nmin, nmax)
    sub = s.subset(keep)
    res = FitResult(series=s, level=level, n=sub.n.copy(), excluded=excluded)
    ex = res.exact = fit_exact_points(sub.n, sub.log2)
    res.evidence = "exact"
    if sub.n.size < 2:
        res.evidence = "insufficient data"
        res.evidence_text = "insufficient data: %s" % ex.reason
        return res
    res.log2_rate = ex.log2_rate
    res.base = 2.0 ** ex.log2_rate
    res.ln_beta = ex.log2_rate * LN2
    res.poly_exponent = ex.poly_exponent
    last = slice(-3, None)
    y = sub.log2[last] * LN2
    ones = np.ones(y.size)
    if y.size >= 2:
        with np.errstate(divide="ignore", invalid="ignore"):
            res.exp = wls("exponential", sub.n[last], y, ones)
            res.poly = wls("polynomial", sub.n[last], y, ones)
    res.verdict, res.preferred_model = ex.verdict, ex.preferred
    text = "exact points, log2 rate %.6g between n = %d and %d" % (
        ex.log2_rate, sub.n[-2], sub.n[-1])
    if sub.n.size >= 3:
        text += " (last three: %.6g; change over the last step %+.3g)" % (
            ex.log2_rate_last3, ex.log2_rate_change)
    text += "; %s: %s" % (ex.verdict, ex.reason)
    if ex.verdict in ("exponential", "polynomial"):
        text += "; exact points up to n = %d cannot exclude a change of law beyond it" % sub.n[-1]
    res.evidence_text = text
    # bounds-only points: is the asymptotic exponential law inside the certified bounds?
    if s.log2_lower is not None and ex.log2_rate == ex.log2_rate:
        for i in np.nonzero(~keep)[0]:
            lo, hi = s.log2_lower[i], s.log2_upper[i]
            if not (np.isfinite(lo) or np.isfinite(hi)) or s.n[i] <= sub.n[-1]:
                continue
            pred = sub.log2[-1] - ex.log2_rate * (s.n[i] - sub.n[-1])
            if not (lo - 1e-9 <= pred <= hi + 1e-9):
                res.notes.append("n=%d: the exact rate from n <= %d extrapolates to log2 %.6g, "
                                 "outside the certified bounds [%.6g, %.6g]"
                                 % (s.n[i], sub.n[-1], pred, lo, hi))
    return res


def fit_series(series: Series, level: float = 0.95, bootstrap: int = 1000, seed: int = 12345,
               nmin: Optional[int] = None, nmax: Optional[int] = None,
               sims: int = cal.DEFAULT_SIMS) -> FitResult:
    """Fit V(n) = series.value with both models and decide between them; see the module
    docstring. ``bootstrap``: resamples per n for the calibration (0: draw from a model of
    the moments instead); ``sims``: simulated scans per law."""
    if not 0 < level < 1:
        raise ValueError("level must be in (0, 1)")
    s = series
    if s.exact:
        return _fit_exact(s, level, nmin, nmax)
    keep, excluded = _select(s, nmin, nmax)
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
    res.delta_aic = abs(e.aic - p.aic)
    res.akaike_weight = 1.0 / (1.0 + math.exp(-res.delta_aic / 2))

    rng = np.random.default_rng(seed)
    d, sd, method = cal.draws(sub, int(bootstrap), rng)
    c = res.calibration = cal.calibrate(sub.n, y, sigma, e, p, d, sd, method, sims, rng)
    res.p_exponential, res.p_polynomial = c.p_exp, c.p_poly
    if method != "moments" and c.draws >= 10:
        res.bootstrap = c.draws
        lnb = -c.boot_exp_slope
        res.log2_rate_ci_bootstrap = tuple(v / LN2 for v in _percentile_ci(lnb, level))
        res.base_ci_bootstrap = tuple(math.exp(v) for v in _percentile_ci(lnb, level))
        res.poly_exponent_ci_bootstrap = _percentile_ci(-c.boot_poly_slope, level)
        res.bootstrap_exp_fraction = c.exp_fraction
    res.separation = cal.separation(sub.n, sigma, sub.samples, e, p)
    _verdict(res, sub)
    return res


def _verdict(res: FitResult, sub: Series) -> None:
    """Verdict, evidence and the evidence text from the calibrated p-values."""
    c = res.calibration
    pe, pp = c.p_exp, c.p_poly
    if pe != pp:
        pref = "exponential" if pe > pp else "polynomial"
    else:
        pref = "exponential" if res.exp.chi2 <= res.poly.chi2 else "polynomial"
    other = "polynomial" if pref == "exponential" else "exponential"
    p_pref, p_other = (pe, pp) if pref == "exponential" else (pp, pe)
    res.preferred_model = pref
    how = "%d simulated scans per law, %s" % (
        c.sims, {"bootstrap": "per-sample bootstrap of %d draws per n" % c.draws,
                 "moments": "drawn from the moments (no per-sample rows)",
                 "bootstrap+moments": "per-sample bootstrap, moments where rows are missing"
                 }[c.method])
    ps = "%s for exponential, %s for polynomial" % (_fmt_p(pe, c.p_min), _fmt_p(pp, c.p_min))
    aic = "uncalibrated delta AIC %.1f" % res.delta_aic
    S = int(np.median(sub.samples))
    if p_pref < cal.ALPHA_STRONG:
        res.verdict, res.evidence = "inconclusive", "inconclusive"
        res.evidence_text = ("inconclusive: both laws are rejected (%s; %s): the points lie "
                             "between the two laws (a crossover, or another law); try --nmin/--nmax"
                             % (ps, how))
    elif p_other >= cal.ALPHA_POSITIVE:
        res.verdict, res.evidence = "inconclusive", "inconclusive"
        flat = (res.log2_rate_ci[0] <= 0 <= res.log2_rate_ci[1]
                and res.poly_exponent_ci[0] <= 0 <= res.poly_exponent_ci[1])
        res.evidence_text = ("inconclusive: n = %d..%d with %d samples per n cannot separate the "
                             "laws (%s; %s); %s" % (sub.n.min(), sub.n.max(), S, ps, how,
                                                    "the values do not decrease with n (both "
                                                    "rates are consistent with 0)" if flat else
                                                    res.separation.text(int(sub.n.min()),
                                                                        int(sub.n.max()), S)))
    else:
        res.verdict = pref
        res.evidence = cal.evidence_label(p_other)
        res.evidence_text = ("%s (%s): the %s law is rejected, %s; the %s law is consistent, %s "
                             "(%s; %s)" % (pref, res.evidence, other, _fmt_p(p_other, c.p_min),
                                           pref, _fmt_p(p_pref, c.p_min), how, aic))
        if res.evidence == "positive":
            res.evidence_text += "; " + res.separation.text(int(sub.n.min()), int(sub.n.max()), S)
    best = res.preferred
    gof = c.gof_exp if pref == "exponential" else c.gof_poly
    if gof < cal.ALPHA_STRONG and best.dof > 0:
        res.evidence_text += "; but the %s law fits poorly (chi2/dof = %.1f, calibrated %s)" % (
            pref, best.chi2 / best.dof, _fmt_p(gof, c.p_min))
        res.notes.append("the preferred model fits poorly (chi2/dof = %.2f, calibrated %s): its "
                         "rate is an effective one over n = %d..%d and its CI is inflated by the "
                         "Birge ratio" % (best.chi2 / best.dof, _fmt_p(gof, c.p_min),
                                          sub.n.min(), sub.n.max()))


def fit_all(series_list, **kw) -> List[FitResult]:
    """fit_series over a list, each with its own random stream (seed + index)."""
    seed = kw.pop("seed", 12345)
    return [fit_series(s, seed=seed + i, **kw) for i, s in enumerate(series_list)]
