"""Landscape scans ([scan] mode = landscape): spectra, Lipschitz constants, spreads, self-checks.

A landscape scan stores, for every sample theta0 and qubit count n, FFT analyses of cuts
f(t) = C(theta0 + t dir) through the cost landscape (physics.md Sec. 5; file layout in
README "Result files" and "Landscape scans"). Per n this module reduces the per-sample
rows (recomputed, never the stored statistics) to:

* the spectrum by degree normalised by the cut variance, E[W_k] / E[cut_var] for k >= 1
  (it sums to 1: sum_{k>=1} W_k = cut_var for every cut); does the weight move to high
  degree as n grows?
* the mean cut variance E[cut_var] +- SE (cost concentration along cuts);
* the mean Lipschitz constant E[max|f'|] +- SE and the mean Bernstein bound K spread/2
  (axes scans: each sample's mean over its P per-parameter cuts, then mean +- SE over the
  samples, which keeps the correlations between the cuts of one sample);
* the mean spread E[max f - min f] +- SE (Marrero Sec. 3.5: cost differences concentrate,
  so gradient-free optimisers fail too);
* the self-check: max |slope_fft - slope_adjoint| and max aliasing over all cuts, which must
  be at the rounding level (relative tolerance ``tol`` of the cut's scale).

For visible/hidden models (job model = vh) the Lipschitz constants are fitted with the
sqrt(D_v/D_h) law of physics.md Sec. 3.4, D = 2^qubits: log2 L = log2 A + (n_v - n_h)/2.
Two weighted least-squares fits on log2 L (sigma = SE / (L ln 2)):

* the law with one free prefactor A (slope fixed at -1/2): A, its CI, chi2 / p-value;
* a free slope of y = log2 L - n_v/2 against n_h (= log2 L against n_h when the visible
  register is fixed): the law predicts slope -1/2; ``consistent`` says whether -1/2 lies
  in the slope's CI.

As in fitting.py, the covariance is inflated by chi2/dof when that exceeds 1 (Birge ratio),
with Student-t quantiles. Other models get the free slope of log2 L against n.
"""
import math
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np
from scipy import stats as sps

from .errors import AnalysisError
from .results import Scan, load

TOL = 1e-9                  # self-check: relative tolerance ("rounding level")
REL_SE_MIN = 1e-9           # points with a smaller relative SE are deterministic: not fitted

# ------------------------------------------------------------------------------------------
# Registers (bpscan evaluates the visible/hidden patterns; the file's job_json holds them)

def vh_registers(scan: Scan, n: int) -> Optional[Tuple[int, int]]:
    """(n_v, n_h) of a visible/hidden model (vh, qbm) at n, None for other models: from the
    job_json registers, or, for files written before job_json, from the /n{N} attributes
    (diag_qubits = n_v, the visible qubits; q_out = n_v + n_h)."""
    if scan.model not in ("vh", "qbm"):
        return None
    reg = scan.registers(n)
    if reg is not None:
        return int(reg["n_visible"]), int(reg["n_hidden"])
    q = scan.data.get(n)
    if q is None or not 1 <= q.diag_qubits < q.q_out:
        raise AnalysisError("%s: n=%d: no visible/hidden registers (no job_json, and /n%d has "
                            "diag_qubits %d, q_out %d)" % (scan.name, n, n,
                                                           q.diag_qubits if q else 0,
                                                           q.q_out if q else 0))
    return q.diag_qubits, q.q_out - q.diag_qubits


# ------------------------------------------------------------------------------------------
# Per-n reduction

def _per_sample(x: np.ndarray, directions: str) -> np.ndarray:
    """One number per sample: axes scans [S, P] -> the mean over the P cuts."""
    x = np.asarray(x, dtype=float)
    if x.ndim == 1:
        return x
    if directions == "axes" and x.ndim == 2:
        return x.mean(axis=1)
    raise AnalysisError("unexpected per-sample shape %s for %s cuts" % (x.shape[1:], directions))


def _mean_se(x: np.ndarray) -> Tuple[float, float]:
    S = x.size
    if S == 0:
        return math.nan, math.nan
    if S < 2:
        return float(x.mean()), math.nan
    return float(x.mean()), float(x.std(ddof=1) / math.sqrt(S))


def _amax(x) -> float:
    x = np.abs(np.asarray(x, dtype=float))
    if x.size == 0:
        return math.nan
    if np.any(np.isnan(x)):
        return math.nan         # fails every comparison: reported by the self-check
    return float(x.max())


@dataclass
class LandscapePoint:
    """The reduced numbers of one qubit count."""
    n: int
    samples: int
    directions: str
    degree: List[int]
    size: List[int]
    n_v: Optional[int] = None
    n_h: Optional[int] = None
    lipschitz: float = math.nan
    lipschitz_se: float = math.nan
    bernstein: float = math.nan
    bernstein_se: float = math.nan
    spread: float = math.nan
    spread_se: float = math.nan
    cut_var: float = math.nan
    cut_var_se: float = math.nan
    cut_mean: float = math.nan
    cut_mean_se: float = math.nan
    power: np.ndarray = field(default_factory=lambda: np.zeros(0))       # E[W_k], k = 0..Kmax
    spectrum: np.ndarray = field(default_factory=lambda: np.zeros(0))    # E[W_k]/E[cut_var], k>=1
    max_slope_diff: float = math.nan
    max_aliasing: float = math.nan
    slope_tol: float = math.nan
    alias_tol: float = math.nan

    has_slopes: bool = True       # slope_fft and slope_adjoint stored
    has_aliasing: bool = True     # aliasing stored

    @property
    def slopes_ok(self) -> bool:
        """max |slope_fft - slope_adjoint| within tolerance (NaN fails; missing fields pass)."""
        return not self.has_slopes or bool(self.max_slope_diff <= self.slope_tol)

    @property
    def aliasing_ok(self) -> bool:
        return not self.has_aliasing or bool(self.max_aliasing <= self.alias_tol)

    @property
    def selfcheck_ok(self) -> bool:
        return self.slopes_ok and self.aliasing_ok

    def to_dict(self) -> dict:
        return {"n": self.n, "samples": self.samples, "n_v": self.n_v, "n_h": self.n_h,
                "degree": list(self.degree), "size": list(self.size),
                "lipschitz": self.lipschitz, "lipschitz_se": self.lipschitz_se,
                "bernstein": self.bernstein, "bernstein_se": self.bernstein_se,
                "spread": self.spread, "spread_se": self.spread_se,
                "cut_var": self.cut_var, "cut_var_se": self.cut_var_se,
                "cut_mean": self.cut_mean, "cut_mean_se": self.cut_mean_se,
                "power": [float(v) for v in self.power],
                "spectrum_normalised": [float(v) for v in self.spectrum],
                "max_slope_diff": self.max_slope_diff, "max_aliasing": self.max_aliasing,
                "slope_tolerance": self.slope_tol, "aliasing_tolerance": self.alias_tol,
                "selfcheck_ok": self.selfcheck_ok}


def reduce_n(scan: Scan, n: int, tol: float = TOL) -> LandscapePoint:
    """The LandscapePoint of one qubit count of a landscape scan."""
    q = scan.data[n]
    L = q.land
    if L is None:
        raise AnalysisError("%s: n=%d has no landscape data" % (scan.name, n))
    d = L.directions
    pt = LandscapePoint(n=n, samples=L.samples, directions=d, degree=[int(k) for k in L.degree],
                        size=[int(k) for k in L.size])
    reg = vh_registers(scan, n)
    if reg:
        pt.n_v, pt.n_h = reg
    for name in ("lipschitz", "bernstein", "spread", "cut_var", "cut_mean"):
        if L.has(name):
            m, s = _mean_se(_per_sample(L.field(name), d))
            setattr(pt, name, m)
            setattr(pt, name + "_se", s)
    if L.has("power"):
        P = np.asarray(L.field("power"), dtype=float)
        P = P.reshape(-1, P.shape[-1]) if P.size else np.zeros((0, 1))   # every cut a row
        pt.power = P.mean(axis=0) if P.shape[0] else np.full(P.shape[1], np.nan)
        cv = np.asarray(L.field("cut_var"), dtype=float).reshape(-1) if L.has("cut_var") else None
        norm = float(cv.mean()) if cv is not None and cv.size else float(np.sum(pt.power[1:]))
        with np.errstate(divide="ignore", invalid="ignore"):
            pt.spectrum = pt.power[1:] / norm if norm > 0 else np.full(pt.power.size - 1, np.nan)
    # self-check, against the scale of the cut values
    fs = [np.abs(L.field(k)) for k in ("cut_max", "cut_min", "cut_mean") if L.has(k)]
    fs = [x[np.isfinite(x)] for x in fs]
    fscale = max([float(x.max()) for x in fs if x.size] + [0.0])
    fscale = fscale if fscale > 0 else 1.0
    kmax = max(1, int(np.sum(L.degree)) if d == "plane" else int(np.max(L.degree)))
    pt.alias_tol = tol * fscale
    pt.slope_tol = tol * fscale * kmax
    pt.has_slopes = L.has("slope_fft") and L.has("slope_adjoint")
    pt.has_aliasing = L.has("aliasing")
    if pt.has_slopes:
        pt.max_slope_diff = _amax(L.field("slope_fft") - L.field("slope_adjoint"))
    if pt.has_aliasing:
        pt.max_aliasing = _amax(L.field("aliasing"))
    return pt


# ------------------------------------------------------------------------------------------
# Lipschitz law

@dataclass
class LipschitzLaw:
    """Fits of log2 L against n_h (vh models: law sqrt(D_v/D_h)) or against n (others)."""
    law: bool                     # True: the sqrt(D_v/D_h) law (vh); False: free slope vs n only
    x: np.ndarray                 # n_h (law) or n, of the points used
    n: np.ndarray                 # the qubit counts used
    n_v: np.ndarray               # visible qubits of the points used (law), else zeros
    value: np.ndarray             # mean Lipschitz constants used
    se: np.ndarray
    level: float
    excluded: List[tuple] = field(default_factory=list)   # (n, reason)
    # the law with one prefactor: L = A sqrt(D_v/D_h)
    prefactor: float = math.nan
    prefactor_ci: tuple = (math.nan, math.nan)
    log2_prefactor: float = math.nan
    log2_prefactor_se: float = math.nan
    chi2: float = math.nan
    dof: int = 0
    p_value: float = math.nan
    # free slope of log2 L - n_v/2 against x
    slope: float = math.nan
    slope_se: float = math.nan
    slope_ci: tuple = (math.nan, math.nan)
    intercept: float = math.nan
    chi2_free: float = math.nan
    dof_free: int = 0
    p_value_free: float = math.nan
    expected_slope: float = -0.5

    @property
    def consistent(self) -> Optional[bool]:
        """Whether the law's slope -1/2 lies in the free slope's CI (None: no slope)."""
        if not self.law or not math.isfinite(self.slope_ci[0]):
            return None
        return bool(self.slope_ci[0] <= self.expected_slope <= self.slope_ci[1])

    def predict(self, x, n_v=0) -> np.ndarray:
        """The fitted law at x = n_h (law; n_v visible qubits) or the free fit at x = n."""
        x = np.asarray(x, dtype=float)
        if self.law:
            return self.prefactor * 2.0 ** ((np.asarray(n_v, dtype=float) - x) / 2)
        return 2.0 ** (self.intercept + self.slope * x)

    def predict_free(self, x, n_v=0) -> np.ndarray:
        x = np.asarray(x, dtype=float)
        return 2.0 ** (self.intercept + self.slope * x + (np.asarray(n_v, dtype=float) / 2
                                                          if self.law else 0.0))

    @property
    def text(self) -> str:
        pct = "%g%%" % (100 * self.level)
        if self.law:
            if not math.isfinite(self.prefactor):
                return "Lipschitz law: no usable points"
            s = ("Lipschitz law L = A sqrt(D_v/D_h): A = %.4g [%.4g, %.4g] (%s), chi2/dof = %s"
                 % (self.prefactor, self.prefactor_ci[0], self.prefactor_ci[1], pct,
                    "%.2f" % (self.chi2 / self.dof) if self.dof else "-"))
            if math.isfinite(self.slope):
                s += ("; free slope of log2 L vs n_h = %.4f [%.4f, %.4f] (law: -1/2): %s"
                      % (self.slope, self.slope_ci[0], self.slope_ci[1],
                         "consistent" if self.consistent else "NOT consistent"))
            return s
        if not math.isfinite(self.slope):
            return "log2 Lipschitz vs n: fewer than 2 usable points"
        return ("log2 Lipschitz vs n: slope %.4f [%.4f, %.4f] (%s) bits per qubit"
                % (self.slope, self.slope_ci[0], self.slope_ci[1], pct))

    def to_dict(self) -> dict:
        return {"law": "sqrt(D_v/D_h)" if self.law else None,
                "x": "n_h" if self.law else "n", "points_x": [int(v) for v in self.x],
                "points_n": [int(v) for v in self.n], "excluded": [list(e) for e in self.excluded],
                "prefactor": self.prefactor, "prefactor_ci": list(self.prefactor_ci),
                "log2_prefactor": self.log2_prefactor, "log2_prefactor_se": self.log2_prefactor_se,
                "chi2": self.chi2, "dof": self.dof, "p_value": self.p_value,
                "slope": self.slope, "slope_se": self.slope_se, "slope_ci": list(self.slope_ci),
                "intercept": self.intercept, "chi2_free": self.chi2_free, "dof_free": self.dof_free,
                "p_value_free": self.p_value_free,
                "expected_slope": self.expected_slope if self.law else None,
                "consistent": self.consistent, "level": self.level, "text": self.text}


def _quantile(level: float, scaled: bool, dof: int) -> float:
    if scaled and dof > 0:
        return float(sps.t.ppf(0.5 + level / 2, dof))
    return float(sps.norm.ppf(0.5 + level / 2))


def fit_lipschitz(points: Sequence[LandscapePoint], level: float = 0.95,
                  nmin: Optional[int] = None, nmax: Optional[int] = None) -> LipschitzLaw:
    """Fit the mean Lipschitz constants of a scan (see the module docstring)."""
    law = bool(points) and all(p.n_h is not None for p in points)
    use, excluded = [], []
    for p in points:
        if (nmin is not None and p.n < nmin) or (nmax is not None and p.n > nmax):
            excluded.append((p.n, "outside the fit range"))
        elif not (math.isfinite(p.lipschitz) and p.lipschitz > 0):
            excluded.append((p.n, "mean Lipschitz constant not > 0"))
        elif not (math.isfinite(p.lipschitz_se) and p.lipschitz_se > REL_SE_MIN * p.lipschitz):
            excluded.append((p.n, "no standard error (fewer than 2 samples or deterministic)"))
        else:
            use.append(p)
    x = np.array([p.n_h if law else p.n for p in use], dtype=float)
    nv = np.array([p.n_v if law else 0 for p in use], dtype=float)
    L = np.array([p.lipschitz for p in use], dtype=float)
    se = np.array([p.lipschitz_se for p in use], dtype=float)
    r = LipschitzLaw(law=law, x=x.astype(int), n=np.array([p.n for p in use], dtype=int),
                     n_v=nv.astype(int), value=L, se=se, level=level, excluded=excluded)
    if not use:
        return r
    y = np.log2(L) - (nv / 2 if law else 0.0)       # law: y = log2 A - n_h/2
    sig = se / (L * math.log(2.0))
    w = 1.0 / sig ** 2
    if law:                                         # one prefactor: weighted mean of y + n_h/2
        z = y + x / 2
        m = float(np.sum(w * z) / np.sum(w))
        var = 1.0 / float(np.sum(w))
        chi2 = float(np.sum(w * (z - m) ** 2))
        dof = len(z) - 1
        scaled = dof > 0 and chi2 / dof > 1
        if scaled:
            var *= chi2 / dof
        q = _quantile(level, scaled, dof)
        h = q * math.sqrt(var)
        r.log2_prefactor, r.log2_prefactor_se = m, math.sqrt(var)
        r.prefactor, r.prefactor_ci = 2.0 ** m, (2.0 ** (m - h), 2.0 ** (m + h))
        r.chi2, r.dof = chi2, dof
        r.p_value = float(sps.chi2.sf(chi2, dof)) if dof > 0 else math.nan
    if np.unique(x).size >= 2:                      # free slope
        X = np.column_stack([np.ones_like(x), x])
        XtW = X.T * w
        cov = np.linalg.inv(XtW @ X)
        beta = cov @ (XtW @ y)
        res = y - X @ beta
        chi2 = float(np.sum(w * res * res))
        dof = len(y) - 2
        scaled = dof > 0 and chi2 / dof > 1
        if scaled:
            cov = cov * (chi2 / dof)
        q = _quantile(level, scaled, dof)
        r.intercept, r.slope = float(beta[0]), float(beta[1])
        r.slope_se = float(math.sqrt(cov[1, 1]))
        r.slope_ci = (r.slope - q * r.slope_se, r.slope + q * r.slope_se)
        r.chi2_free, r.dof_free = chi2, dof
        r.p_value_free = float(sps.chi2.sf(chi2, dof)) if dof > 0 else math.nan
    return r


# ------------------------------------------------------------------------------------------
# Whole scans

@dataclass
class LandscapeSummary:
    scan: Scan
    points: List[LandscapePoint]
    law: LipschitzLaw
    warnings: List[str] = field(default_factory=list)

    @property
    def name(self) -> str:
        return self.scan.name

    @property
    def model(self) -> str:
        return self.scan.model

    @property
    def directions(self) -> str:
        return self.points[0].directions if self.points else ""

    @property
    def n(self) -> np.ndarray:
        return np.array([p.n for p in self.points], dtype=int)

    def column(self, name: str) -> np.ndarray:
        return np.array([getattr(p, name) for p in self.points], dtype=float)

    def fitted(self, p: LandscapePoint) -> float:
        """The fitted Lipschitz constant at point p: the sqrt(D_v/D_h) law with its
        prefactor (vh), else the free log2-linear fit in n; NaN without a fit."""
        if self.law.law and math.isfinite(self.law.prefactor):
            return float(self.law.predict(p.n_h, p.n_v))
        if not self.law.law and math.isfinite(self.law.slope):
            return float(self.law.predict(p.n))
        return math.nan

    def to_dict(self) -> dict:
        pts = [dict(p.to_dict(), lipschitz_fit=self.fitted(p)) for p in self.points]
        return {"name": self.name, "model": self.model, "directions": self.directions,
                "job": self.scan.job, "points": pts,
                "lipschitz_fit": self.law.to_dict(), "warnings": list(self.warnings),
                "files": self.scan.provenance()}


def summarize(scan: Scan, level: float = 0.95, nmin: Optional[int] = None,
              nmax: Optional[int] = None, tol: float = TOL) -> LandscapeSummary:
    """Reduce every qubit count of a landscape scan, run the self-check and fit the law."""
    if scan.mode != "landscape":
        raise AnalysisError("%s: not a landscape scan (%s): no /n{N}/landscape groups; use bpfit "
                            "without 'landscape'" % (scan.name, ", ".join(
                                dict.fromkeys(f.path for f in scan.files))))
    pts = [reduce_n(scan, n, tol) for n in sorted(scan.data) if scan.data[n].land is not None]
    dirs = sorted({p.directions for p in pts})
    if len(dirs) > 1:
        raise AnalysisError("%s: mixes %s cuts across qubit counts" % (scan.name, " and ".join(dirs)))
    warnings = []
    for p in pts:
        if not p.selfcheck_ok:
            bad = []
            if not p.slopes_ok:
                bad.append("max |slope_fft - slope_adjoint| = %.3g (tolerance %.2g)"
                           % (p.max_slope_diff, p.slope_tol))
            if not p.aliasing_ok:
                bad.append("max aliasing = %.3g (tolerance %.2g)" % (p.max_aliasing, p.alias_tol))
            warnings.append("%s: n=%d: self-check FAILED: %s; the declared degree (spectrum) or "
                            "the gradient is wrong" % (scan.name, p.n, ", ".join(bad)))
    law = fit_lipschitz(pts, level, nmin, nmax)
    if law.law and law.consistent is False:
        warnings.append("%s: the Lipschitz slope %.4f [%.4f, %.4f] against n_h does not contain "
                        "-1/2 (sqrt(D_v/D_h) law)" % (scan.name, law.slope, *law.slope_ci))
    return LandscapeSummary(scan, pts, law, warnings)


@dataclass
class LandscapeReport:
    summaries: List[LandscapeSummary]
    warnings: List[str] = field(default_factory=list)
    level: float = 0.95
    tol: float = TOL

    def table(self) -> str:
        return format_landscape_table(self.summaries)

    def summary(self, scan: Optional[str] = None) -> LandscapeSummary:
        hits = [s for s in self.summaries if scan is None or s.name == scan]
        if len(hits) != 1:
            raise KeyError("%d landscape scans match %r" % (len(hits), scan))
        return hits[0]

    def to_dict(self) -> dict:
        return {"definitions": DEFINITIONS, "level": self.level, "tolerance": self.tol,
                "scans": [s.to_dict() for s in self.summaries], "warnings": list(self.warnings)}


DEFINITIONS = {
    "lipschitz": "mean over samples of max_t |f'(t)| (plane: max |grad f|); axes: each "
                 "sample's mean over its per-parameter cuts first; se = SE of that mean",
    "bernstein": "mean of K (max f - min f)/2 (plane: sqrt(K1^2+K2^2) spread/2)",
    "spread": "mean of max f - min f along the cut",
    "cut_var": "mean of the cut variance sum_{k>=1} W_k",
    "spectrum_normalised": "E[W_k]/E[cut_var] for k = 1..Kmax (sums to 1)",
    "lipschitz_fit": "weighted least squares on log2 L, sigma = SE/(L ln 2); law: "
                     "L = A sqrt(D_v/D_h) = A 2^((n_v - n_h)/2); free: log2 L - n_v/2 = c + slope n_h "
                     "(non-vh models: log2 L = c + slope n)",
    "selfcheck": "max |slope_fft - slope_adjoint| <= tol * max|f| * Kmax and max aliasing "
                 "<= tol * max|f|",
}


def analyze_landscape(paths: Sequence[str], merge: str = "job",
                      labels: Optional[Sequence[str]] = None, level: float = 0.95,
                      nmin: Optional[int] = None, nmax: Optional[int] = None,
                      tol: float = TOL) -> LandscapeReport:
    """Load, merge and summarise landscape result files (what ``bpfit landscape`` runs)."""
    if not 0 < level < 1:
        raise AnalysisError("--level must be in (0, 1)")
    if not tol > 0:
        raise AnalysisError("--tol must be > 0")
    scans = load(paths, merge=merge, labels=labels)
    summaries = [summarize(s, level, nmin, nmax, tol) for s in scans]
    warnings = []
    for s in scans:
        warnings += ["%s: %s" % (s.name, w) for w in s.warnings]
    for s in summaries:
        warnings += s.warnings
        if s.law.excluded:
            warnings += ["%s: n=%d left out of the Lipschitz fit: %s" % (s.name, n, why)
                         for n, why in s.law.excluded if why != "outside the fit range"]
    return LandscapeReport(summaries, warnings, level, tol)


# ------------------------------------------------------------------------------------------
# Tables

def _g(v, spec="%.4g"):
    return "-" if v is None or not isinstance(v, (int, float)) or not math.isfinite(v) else spec % v


TABLE_COLUMNS = ("scan", "n", "n_v", "n_h", "samples", "directions", "degree", "lipschitz",
                 "lipschitz_se", "bernstein", "spread", "spread_se", "cut_var", "cut_var_se",
                 "lipschitz_fit", "max_slope_diff", "max_aliasing", "selfcheck")


def table_rows(summaries: Sequence[LandscapeSummary]) -> List[Dict[str, object]]:
    """One dict per (scan, n): the numbers of the table, CSV and JSON."""
    rows = []
    for s in summaries:
        for p in s.points:
            fit = s.fitted(p)
            rows.append({"scan": s.name, "n": p.n, "n_v": p.n_v, "n_h": p.n_h, "samples": p.samples,
                         "directions": p.directions, "degree": "/".join(str(k) for k in p.degree),
                         "lipschitz": p.lipschitz, "lipschitz_se": p.lipschitz_se,
                         "bernstein": p.bernstein, "spread": p.spread, "spread_se": p.spread_se,
                         "cut_var": p.cut_var, "cut_var_se": p.cut_var_se, "lipschitz_fit": fit,
                         "max_slope_diff": p.max_slope_diff, "max_aliasing": p.max_aliasing,
                         "selfcheck": "ok" if p.selfcheck_ok else "FAIL"})
    return rows


def _degree_text(directions: str, degree: str) -> str:
    """Compact degrees: axes "1 x6" (all equal) or "1-3 x6"; others as stored (K, K1/K2)."""
    ks = [int(k) for k in degree.split("/")]
    if directions != "axes":
        return degree
    lo, hi = min(ks), max(ks)
    return "%d x%d" % (lo, len(ks)) if lo == hi else "%d-%d x%d" % (lo, hi, len(ks))


def format_landscape_table(summaries: Sequence[LandscapeSummary]) -> str:
    """The terminal table (one line per scan and n), then each scan's Lipschitz fit."""
    head = ["scan", "n", "n_v", "n_h", "S", "cuts", "K", "Lipschitz", "± SE", "Bernstein",
            "spread", "± SE", "cut var", "± SE", "L fit", "max|dslope|", "max alias", "check"]
    body = []
    for d in table_rows(summaries):
        body.append([d["scan"], str(d["n"]), "-" if d["n_v"] is None else str(d["n_v"]),
                     "-" if d["n_h"] is None else str(d["n_h"]), str(d["samples"]), d["directions"],
                     _degree_text(d["directions"], d["degree"]),
                     _g(d["lipschitz"]), _g(d["lipschitz_se"], "%.2g"), _g(d["bernstein"]),
                     _g(d["spread"]), _g(d["spread_se"], "%.2g"), _g(d["cut_var"]),
                     _g(d["cut_var_se"], "%.2g"), _g(d["lipschitz_fit"]),
                     _g(d["max_slope_diff"], "%.2g"), _g(d["max_aliasing"], "%.2g"), d["selfcheck"]])
    if not body:
        return "(no landscape data)\n"
    widths = [max(len(str(x)) for x in col) for col in zip(head, *body)]
    left = {0, 5, 6, 17}

    def line(cells):
        return "  ".join(str(c).ljust(w) if i in left else str(c).rjust(w)
                         for i, (c, w) in enumerate(zip(cells, widths))).rstrip()
    out = [line(head), "  ".join("-" * w for w in widths)] + [line(c) for c in body]
    for s in summaries:
        out.append("  %s: %s" % (s.name, s.law.text))
    return "\n".join(out) + "\n"


def write_landscape_csv(summaries: Sequence[LandscapeSummary], path: str) -> None:
    import csv
    try:
        with open(path, "w", newline="", encoding="utf-8") as fh:
            w = csv.writer(fh)
            w.writerow(TABLE_COLUMNS)
            for d in table_rows(summaries):
                w.writerow(["" if v is None or (isinstance(v, float) and not math.isfinite(v))
                            else repr(v) if isinstance(v, float) else v
                            for v in (d[c] for c in TABLE_COLUMNS)])
    except OSError as e:
        raise AnalysisError("%s: cannot write table: %s" % (path, e.strerror or e)) from None


# ------------------------------------------------------------------------------------------
# Images

def fourier_upsample(img: np.ndarray, shape: Tuple[int, int]) -> np.ndarray:
    """Band-limited interpolation of a periodic image [N1, N2] sampled at (2 pi a/N1,
    2 pi b/N2) onto an [M1, M2] grid (M >= N) by zero-padding its 2-D spectrum. Even N: the
    Nyquist bin is split between +N/2 and -N/2. Exact for trigonometric polynomials of
    degree < N/2 per axis."""
    img = np.asarray(img, dtype=float)
    F = np.fft.fft2(img)
    for axis, M in enumerate(shape):
        N = F.shape[axis]
        if M < N:
            raise ValueError("upsampled size %d < %d" % (M, N))
        if M == N:
            continue
        F = np.moveaxis(F, axis, 0)
        G = np.zeros((M,) + F.shape[1:], dtype=complex)
        h = (N - 1) // 2
        G[:h + 1] = F[:h + 1]
        if h:
            G[M - h:] = F[N - h:]
        if N % 2 == 0:
            G[N // 2] += F[N // 2] / 2
            G[M - N // 2] += F[N // 2] / 2
        F = np.moveaxis(G, 0, axis)
    scale = (shape[0] * shape[1]) / float(img.shape[0] * img.shape[1])
    return np.real(np.fft.ifft2(F)) * scale


def plane_images(summary: LandscapeSummary, sample: int = 0) -> List[Tuple[int, np.ndarray]]:
    """[(n, image [N1, N2])] of one sample (row number in the merged, sorted rows)."""
    out = []
    for n in sorted(summary.scan.data):
        L = summary.scan.data[n].land
        if L is None or L.directions != "plane" or not L.has("image"):
            continue
        img = L.field("image")
        if img.ndim != 3:
            raise AnalysisError("%s: n=%d: image has per-sample shape %s, expected [N1, N2]"
                                % (summary.name, n, img.shape[1:]))
        if not 0 <= sample < img.shape[0]:
            raise AnalysisError("%s: n=%d: --sample %d out of range (%d samples)"
                                % (summary.name, n, sample, img.shape[0]))
        out.append((n, img[sample]))
    return out
