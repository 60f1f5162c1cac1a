"""Tables of fit results: CSV, JSON and a plain-text table for the terminal."""
import csv
import json
import math
from typing import Dict, Optional, Sequence

import numpy as np

from .errors import AnalysisError
from .fitting import FitResult

CSV_COLUMNS = ("name", "scan", "quantity", "group", "n_min", "n_max", "n_points", "samples_min",
               "samples_max", "samples_total", "base", "base_lo", "base_hi", "log2_rate",
               "log2_rate_lo", "log2_rate_hi", "log2_rate_boot_lo", "log2_rate_boot_hi",
               "poly_exponent", "poly_exponent_lo", "poly_exponent_hi", "preferred_model",
               "verdict", "evidence", "p_exponential", "p_polynomial", "gof_p_exponential",
               "gof_p_polynomial", "calibration", "sims", "delta_aic", "akaike_weight",
               "chi2_dof_exp", "chi2_dof_poly", "exact", "log2_rate_last3", "log2_rate_change",
               "separation_n_max", "separation_samples", "level")


def row(r: FitResult) -> Dict[str, object]:
    s = r.series
    used = np.isin(s.n, r.n)
    S = s.samples[used]

    def chi(m):
        return m.chi2 / m.dof if m is not None and m.dof > 0 else math.nan
    c, ex, sep = r.calibration, r.exact, r.separation
    return {
        "name": s.name, "scan": s.scan, "quantity": s.quantity, "group": s.group,
        "n_min": int(r.n.min()) if r.n.size else "", "n_max": int(r.n.max()) if r.n.size else "",
        "n_points": int(r.n.size),
        "samples_min": int(S.min()) if S.size else 0, "samples_max": int(S.max()) if S.size else 0,
        "samples_total": int(S.sum()),
        "base": r.base, "base_lo": r.base_ci[0], "base_hi": r.base_ci[1],
        "log2_rate": r.log2_rate, "log2_rate_lo": r.log2_rate_ci[0], "log2_rate_hi": r.log2_rate_ci[1],
        "log2_rate_boot_lo": r.log2_rate_ci_bootstrap[0], "log2_rate_boot_hi": r.log2_rate_ci_bootstrap[1],
        "poly_exponent": r.poly_exponent, "poly_exponent_lo": r.poly_exponent_ci[0],
        "poly_exponent_hi": r.poly_exponent_ci[1],
        "preferred_model": r.preferred_model or "", "verdict": r.verdict or "",
        "evidence": r.evidence, "p_exponential": r.p_exponential, "p_polynomial": r.p_polynomial,
        "gof_p_exponential": c.gof_exp if c else math.nan,
        "gof_p_polynomial": c.gof_poly if c else math.nan,
        "calibration": c.method if c else ("exact" if ex else ""), "sims": c.sims if c else 0,
        "delta_aic": r.delta_aic, "akaike_weight": r.akaike_weight,
        "chi2_dof_exp": chi(r.exp) if not ex else math.nan,
        "chi2_dof_poly": chi(r.poly) if not ex else math.nan, "exact": int(ex is not None),
        "log2_rate_last3": ex.log2_rate_last3 if ex else math.nan,
        "log2_rate_change": ex.log2_rate_change if ex else math.nan,
        "separation_n_max": sep.n_max if sep and sep.n_max is not None else "",
        "separation_samples": sep.samples if sep and sep.samples is not None else "",
        "level": r.level,
    }


def _fmt_csv(v):
    if isinstance(v, float):
        return "" if not math.isfinite(v) else repr(v)
    return v


def write_csv(fits: Sequence[FitResult], path: str) -> None:
    try:
        with open(path, "w", newline="", encoding="utf-8") as fh:
            w = csv.writer(fh)
            w.writerow(CSV_COLUMNS)
            for r in fits:
                d = row(r)
                w.writerow([_fmt_csv(d[c]) for c in CSV_COLUMNS])
    except OSError as e:
        raise AnalysisError("%s: cannot write table: %s" % (path, e.strerror or e)) from None


def report_dict(fits: Sequence[FitResult], page=(), scans=(), warnings=()) -> dict:
    """The JSON document: {"series": [...], "page": [...], "scans": [...], "warnings": [...]}."""
    return {
        "definitions": {
            "exponential": "Var ∝ base^(-n): ln Var = c - n ln(base); log2_rate = log2(base) "
                           "(positive = decay)",
            "polynomial": "Var ∝ n^(-poly_exponent)",
            "fit": "weighted least squares on ln Var, weights (Var/SE)^2",
            "verdict": "calibrated by simulating the whole fit under each fitted law: "
                       "p_exponential = P_exp(T* <= T), p_polynomial = P_poly(T* >= T), "
                       "T = chi2_poly - chi2_exp; evidence for the rejected law's p: < 0.05 "
                       "positive, < 1e-3 strong, < 1e-4 very strong; otherwise inconclusive",
            "exact": "moments scans: local log2 rate between the last points, no sampling CI",
        },
        "series": [r.to_dict() for r in fits],
        "page": [p.to_dict() for p in page],
        "scans": [{"name": s.name, "job": s.job, "n": [int(n) for n in s.n],
                   "samples": [int(s.data[n].samples) for n in sorted(s.data)],
                   "files": _jsonable(s.provenance()), "warnings": list(s.warnings)}
                  for s in scans],
        "warnings": list(warnings),
    }


def _jsonable(x):
    if isinstance(x, dict):
        return {k: _jsonable(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_jsonable(v) for v in x]
    if isinstance(x, (np.integer,)):
        return int(x)
    if isinstance(x, (float, np.floating)):
        return float(x) if math.isfinite(x) else None
    return x


def write_json(doc: dict, path: str) -> None:
    try:
        with open(path, "w", encoding="utf-8") as fh:
            json.dump(_jsonable(doc), fh, indent=1, ensure_ascii=False, allow_nan=False)
            fh.write("\n")
    except OSError as e:
        raise AnalysisError("%s: cannot write JSON: %s" % (path, e.strerror or e)) from None


def _g(v, spec="%.3f"):
    return "-" if v is None or not math.isfinite(v) else spec % v


def _p(v, p_min=0.0):
    """A calibrated p-value; "<=" at the smallest one the simulations can give."""
    if v is None or not math.isfinite(v):
        return "-"
    text = "%.2g" % v if v >= 1e-3 else "%.0e" % v
    return "<=" + text if v <= p_min * (1 + 1e-9) else text


def format_table(fits: Sequence[FitResult], level: Optional[float] = None) -> str:
    """One line per series: name, n range, samples, base, log2 rate with CI, poly exponent,
    the verdict with its calibrated evidence and the two laws' p-values. Exact series (moments
    scans) show "exact" for the samples and the CI."""
    if not fits:
        return "(no series)\n"
    pct = "%g%%" % (100 * (level or fits[0].level))
    head = ["series", "n", "S/n", "base", "log2 rate", pct + " CI", "poly a [CI]", "verdict",
            "evidence", "p(exp)", "p(poly)"]
    rows = []
    for r in fits:
        d = row(r)
        ex = r.exact is not None
        pmin = r.calibration.p_min if r.calibration else 0.0
        S = "exact" if ex else (str(d["samples_min"]) if d["samples_min"] == d["samples_max"]
                                else "%d-%d" % (d["samples_min"], d["samples_max"]))
        if ex:
            ci, poly = "exact", _g(r.poly_exponent, "%.3g")
        else:
            ci = "[%s, %s]" % (_g(r.log2_rate_ci[0]), _g(r.log2_rate_ci[1]))
            poly = ("%s [%s, %s]" % (_g(r.poly_exponent, "%.2f"), _g(r.poly_exponent_ci[0], "%.2f"),
                                     _g(r.poly_exponent_ci[1], "%.2f")) if r.verdict else "-")
        rows.append([
            r.series.name, "%s-%s" % (d["n_min"], d["n_max"]) if r.n.size else "-", S,
            _g(r.base, "%.4g"), _g(r.log2_rate, "%.4f"), ci, poly,
            {"exponential": "exp", "polynomial": "poly"}.get(r.verdict, r.verdict or "-"),
            r.evidence, _p(r.p_exponential, pmin), _p(r.p_polynomial, pmin),
        ])
    widths = [max(len(str(x)) for x in col) for col in zip(head, *rows)]
    right = {1, 2, 3, 4, 9, 10}

    def line(cells):
        return "  ".join((str(c).rjust(w) if i in right else str(c).ljust(w))
                         for i, (c, w) in enumerate(zip(cells, widths))).rstrip()
    out = [line(head), "  ".join("-" * w for w in widths)]
    out += [line(c) for c in rows]
    return "\n".join(out) + "\n"


def format_page(comparisons) -> str:
    lines = []
    for c in comparisons:
        lines.append("%s: %s %s" % (c.scan, c.column, c.verdict))
        for n, m, s, p, z in zip(c.n, c.mean, c.se, c.page, c.z):
            lines.append("    n=%-3d mean %.6g ± %.2g   Page %.6g   z = %+.2f" % (n, m, s, p, z))
    return "\n".join(lines) + ("\n" if lines else "")
