"""Series: one quantity of one scan against the qubit count n, with standard errors.

Quantities (``QUANTITIES``):

* ``grad``: Var[dC/dtheta], the variance over samples of the gradient. ``by`` chooses the
  parameters: ``mean`` (the mean over all tracked parameters of their variances, bpscan's
  ``grad_var_mean``), ``layer`` (the same mean over the parameters whose names start with
  the same ``l{L}.`` prefix; one series per layer), ``perceptron`` (prefix ``l{L}.p{J}.``)
  or ``param`` (one series per tracked parameter name).
* ``cost``: Var[C], the cost concentration.
* ``purity``, ``entropy``, ``renyi2``, ``trace_distance``: the mean of the state diagnostic.

Every series keeps its per-n sample matrices so that the calibration (calibration.py) can
resample them, and the name of the estimator that made each value from them.

Moments scans (exact second moments, no samples) give *exact* series: ``exact = True``,
``log2`` the exact log2 of each value (down to 2^-4000: ``value`` = 2^log2 then underflows to
0 and only ``log2`` is meaningful), ``se`` = 0, and for bounds-only points (exact = 0) NaN
with the certified bounds in ``log2_lower`` / ``log2_upper``.
"""
import math
import re
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Sequence

import numpy as np

from . import estimators
from .haar import haar_trace_distance
from .errors import AnalysisError
from .results import DIAG_COLUMNS, Scan, _log2_mean

QUANTITIES = ("grad", "cost") + DIAG_COLUMNS
GROUPINGS = ("mean", "layer", "perceptron", "param")
LABELS = {"grad": "Var[dC]", "cost": "Var[C]", "purity": "purity", "entropy": "entropy",
          "renyi2": "Renyi-2 entropy", "trace_distance": "trace distance"}


def _natural(s: str):
    return [int(t) if t.isdigit() else t for t in re.split(r"([0-9]+)", s)]


def group_of(name: str, by: str) -> str:
    """The group of a parameter name: ``l1.p2.g1`` -> ``l1`` (layer), ``l1.p2`` (perceptron)."""
    parts = name.split(".")
    if by == "layer":
        return parts[0]
    if by == "perceptron":
        return ".".join(parts[:2])
    if by == "param":
        return name
    return "mean"


@dataclass
class Series:
    scan: str                     # the scan's name
    quantity: str                 # one of QUANTITIES
    group: str                    # "mean", a layer "l1", a perceptron "l1.p2", a name, or ""
    n: np.ndarray                 # [K] qubit counts
    value: np.ndarray             # [K] the statistic
    se: np.ndarray                # [K] its standard error
    samples: np.ndarray           # [K] samples used
    kind: str                     # "var" or "mean" (for the bootstrap)
    columns: List[np.ndarray] = field(default_factory=list, repr=False)  # per n, [S, P]
    page: Optional[np.ndarray] = None   # [K] Page prediction (entropy, purity), else None
    estimator: str = ""                 # estimators.resample name: column, zmean, mean
    exact: bool = False                 # exact points (moments scans): se = 0, use log2
    log2: Optional[np.ndarray] = None   # [K] log2 of the value (exact series; else derived)
    log2_lower: Optional[np.ndarray] = None   # [K] certified bounds of bounds-only points
    log2_upper: Optional[np.ndarray] = None

    def __post_init__(self):
        if self.log2 is None:
            with np.errstate(divide="ignore", invalid="ignore"):
                self.log2 = np.where(self.value > 0, np.log2(np.abs(self.value)), np.nan)

    @property
    def label(self) -> str:
        q = LABELS.get(self.quantity, self.quantity)
        if self.quantity == "grad":
            return "%s (%s)" % (q, "mean over parameters" if self.group == "mean" else self.group)
        return q

    @property
    def name(self) -> str:
        return "%s: %s" % (self.scan, self.label)

    def subset(self, keep: np.ndarray) -> "Series":
        keep = np.asarray(keep, dtype=bool)

        def sub(a):
            return None if a is None else a[keep]
        return Series(self.scan, self.quantity, self.group, self.n[keep], self.value[keep],
                      self.se[keep], self.samples[keep], self.kind,
                      [c for c, k in zip(self.columns, keep) if k], sub(self.page),
                      self.estimator, self.exact, sub(self.log2), sub(self.log2_lower),
                      sub(self.log2_upper))


def _build(scan, quantity, group, items, kind, page=None, per_column=None):
    """per_column (kind "var"): True = the column's own variance SE (stats.h var_se, as
    grad_var_se / cost_var_se), False = the SE of the mean over columns via z_s (as
    grad_var_mean_se, also for one column), None = True only for one column."""
    ns, vals, ses, counts, cols = [], [], [], [], []
    est = "mean"
    for n, x in items:
        x = estimators.as_matrix(x)
        if kind == "var":
            single = x.shape[1] == 1 if per_column is None else per_column
            if single:
                v, s = estimators.var_se(x)
                v, s = float(v[0]), float(s[0])
                est = "column"
            else:
                v, s = estimators.mean_var_se(x)
                est = "zmean"
        else:
            v, s = estimators.mean_se(x)
        ns.append(n)
        vals.append(v)
        ses.append(s)
        counts.append(x.shape[0])
        cols.append(x)
    return Series(scan.name, quantity, group, np.array(ns, dtype=int), np.array(vals, dtype=float),
                  np.array(ses, dtype=float), np.array(counts, dtype=int), kind, cols,
                  None if page is None else np.asarray(page, dtype=float), est)


def _build_exact(scan, quantity, group, items, page=None):
    """An exact series from (n, log2 value, log2 lower, log2 upper) of a moments scan."""
    items = list(items)
    ns = np.array([it[0] for it in items], dtype=int)
    l2 = np.array([it[1] for it in items], dtype=float)
    lo = np.array([it[2] for it in items], dtype=float)
    hi = np.array([it[3] for it in items], dtype=float)
    with np.errstate(over="ignore", under="ignore"):
        val = np.exp2(l2)
    return Series(scan.name, quantity, group, ns, val, np.zeros(ns.size), np.zeros(ns.size, dtype=int),
                  "var", [], None if page is None else np.asarray(page, dtype=float), "", True, l2,
                  lo, hi)


def _moments_grad(scan: Scan, by: str, params) -> List[Series]:
    """grad_series of a moments scan: log2 of the group means of the exact variances."""
    groups: Dict[str, list] = {}
    for n in sorted(scan.data):
        q = scan.data[n]
        m = q.moments
        if m is None or not q.param_names:
            continue
        g = np.array([group_of(p, by) for p in q.param_names])
        for key in sorted(set(g), key=_natural):
            if params and by != "mean" and key not in params:
                continue
            sel = g == key
            if by == "mean" and params:
                sel = np.isin(np.array(q.param_names), list(params))
                if not sel.any():
                    continue
            if by == "mean" and not params:       # the stored mean (the reader fills it in)
                l2 = m.grad_var_mean_log2
                lo, hi = m.grad_var_mean_lower_log2, m.grad_var_mean_upper_log2
            else:
                l2 = _log2_mean(m.grad_var_log2[sel]) if m.exact else math.nan
                lo = _log2_mean(m.grad_var_lower_log2[sel]) if m.grad_var_lower_log2 is not None else math.nan
                hi = _log2_mean(m.grad_var_upper_log2[sel]) if m.grad_var_upper_log2 is not None else math.nan
            if not m.exact:
                l2 = math.nan
            groups.setdefault(key, []).append((n, l2, lo, hi))
    if params and not groups:
        raise AnalysisError("%s: none of the parameters %s is tracked" % (scan.name, ", ".join(params)))
    return [_build_exact(scan, "grad", k, groups[k]) for k in sorted(groups, key=_natural)]


def grad_series(scan: Scan, by: str = "mean", params: Optional[Sequence[str]] = None) -> List[Series]:
    """Var[dC] against n, by ``mean``, ``layer``, ``perceptron`` or ``param``. ``params``
    restricts the parameters (names, or groups with by=layer/perceptron)."""
    if by not in GROUPINGS:
        raise AnalysisError("unknown grouping '%s' (use %s)" % (by, ", ".join(GROUPINGS)))
    if scan.mode == "moments":
        return _moments_grad(scan, by, params)
    groups: Dict[str, list] = {}
    for n in sorted(scan.data):
        q = scan.data[n]
        if q.grad.shape[1] == 0:
            continue
        g = np.array([group_of(p, by) for p in q.param_names])
        for key in sorted(set(g), key=_natural):
            if params and by != "mean" and key not in params:
                continue
            sel = g == key
            if by == "mean" and params:
                sel = np.isin(np.array(q.param_names), list(params))
                if not sel.any():
                    continue
            groups.setdefault(key, []).append((n, q.grad[:, sel]))
    if params and not groups:
        raise AnalysisError("%s: none of the parameters %s is tracked" % (scan.name, ", ".join(params)))
    return [_build(scan, "grad", k, groups[k], "var", per_column=(by == "param"))
            for k in sorted(groups, key=_natural)]


def cost_series(scan: Scan) -> Series:
    """Var[C] against n (cost concentration)."""
    if scan.mode == "moments":
        return _build_exact(scan, "cost", "", [(n, scan.data[n].moments.cost_var_log2, math.nan, math.nan)
                                               for n in sorted(scan.data)])
    return _build(scan, "cost", "", [(n, scan.data[n].cost) for n in sorted(scan.data)], "var",
                  per_column=True)


def diag_series(scan: Scan, column: str) -> Series:
    """The mean of a state diagnostic against n, with the Haar prediction where there is one:
    Page entropy and purity as stored by bpscan; the trace distance to I/2 for one diagnosed
    qubit (physics.md Sec. 4.9, Beta-function formula)."""
    if column not in DIAG_COLUMNS:
        raise AnalysisError("unknown diagnostic '%s' (use %s)" % (column, ", ".join(DIAG_COLUMNS)))
    if scan.mode == "moments":      # exact purity where the engine gives it; nothing else
        vals = [scan.data[n].moments.purity_mean if column == "purity" else math.nan
                for n in sorted(scan.data)]
        with np.errstate(divide="ignore", invalid="ignore"):
            l2 = [math.log2(v) if v > 0 else math.nan for v in vals]
        s = _build_exact(scan, column, "", [(n, x, math.nan, math.nan)
                                            for n, x in zip(sorted(scan.data), l2)])
        s.kind = "mean"
        return s
    page = None
    if column in ("entropy", "purity"):
        page = scan.page(column)
    elif column == "trace_distance":
        page = np.array([haar_trace_distance(scan.data[n].diag_qubits, scan.data[n].page_purity)
                         for n in sorted(scan.data)])
    return _build(scan, column, "", [(n, scan.data[n].diag_column(column)) for n in sorted(scan.data)],
                  "mean", page)


def series_for(scan: Scan, quantity: str, by: str = "mean",
               params: Optional[Sequence[str]] = None) -> List[Series]:
    if quantity == "grad":
        return grad_series(scan, by, params)
    if quantity == "cost":
        return [cost_series(scan)]
    if quantity in DIAG_COLUMNS:
        return [diag_series(scan, quantity)]
    raise AnalysisError("unknown quantity '%s' (use %s)" % (quantity, ", ".join(QUANTITIES)))


def layer_matrix(scan: Scan, log2: bool = False):
    """(layers, n, [L, K] matrix of the layer-mean Var[dC], NaN where a layer has no
    tracked parameter at that n) for the per-layer heatmap; ``log2``: the matrix holds
    log2 of the values (exact moments scans go below the double range)."""
    ss = grad_series(scan, "layer")
    ns = np.array(sorted(scan.data), dtype=int)
    M = np.full((len(ss), ns.size), np.nan)
    for i, s in enumerate(ss):
        for n, v, l2 in zip(s.n, s.value, s.log2):
            M[i, np.searchsorted(ns, n)] = l2 if log2 else v
    return [s.group for s in ss], ns, M


def from_samples(samples_by_n, quantity: str = "grad", kind: str = "var", scan: str = "data",
                 group: str = "mean") -> Series:
    """A series from your own samples: ``{n: x}`` with x [S] or [S, P]; kind "var" (the mean
    over columns of the column variances) or "mean". For fitting data not from bpscan."""
    class _Named:
        name = scan
    if kind not in estimators.KINDS:
        raise AnalysisError("kind must be one of %s" % (estimators.KINDS,))
    return _build(_Named, quantity, group, [(int(n), samples_by_n[n]) for n in sorted(samples_by_n)], kind)


def from_moments(n, value, se, samples, quantity: str = "grad", scan: str = "data",
                 group: str = "mean") -> Series:
    """A series from values and standard errors only (no per-sample rows): the calibration
    then draws from a model fitted to these moments (calibration.py) instead of resampling."""
    n = np.asarray(n, dtype=int)
    return Series(scan, quantity, group, n, np.asarray(value, dtype=float),
                  np.asarray(se, dtype=float), np.broadcast_to(np.asarray(samples, dtype=int),
                                                               n.shape).copy(), "var")
