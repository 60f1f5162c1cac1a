"""Figures (PNG, PDF or SVG, chosen by the file extension), drawn without pyplot (Agg).

* ``plot_variance``: V against n on a log axis with error bars and the fitted lines (solid:
  the preferred model, dashed: the other one), one panel per quantity (Var dC, Var C, ...),
  every series of that quantity in the same panel. Exact series (moments scans) are points
  without error bars, bounds-only points a bar over their certified range; a panel with
  values below 2^-1000 shows log2 V on a linear axis instead.
* ``plot_diagnostics``: entropy, purity and trace distance against n, with the Page curves.
* ``plot_layer_heatmap``: layer x n of Var dC (log10 colour), one panel per scan.
"""
import math
import os
from typing import List, Sequence

import numpy as np
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from .errors import AnalysisError
from .fitting import LN2, FitResult
from .results import Scan
from .series import LABELS, diag_series, layer_matrix

FORMATS = (".png", ".pdf", ".svg")
COLORS = ["C%d" % i for i in range(10)]


def check_paths(paths) -> List[str]:
    """The figure paths as strings; AnalysisError for an unknown extension."""
    if isinstance(paths, (str, os.PathLike)):
        paths = [paths]
    out = []
    for p in paths:
        p = os.fspath(p)
        ext = os.path.splitext(p)[1].lower()
        if ext not in FORMATS:
            raise AnalysisError("%s: unknown figure format '%s' (use %s)" % (p, ext, ", ".join(FORMATS)))
        out.append(p)
    return out


def save(fig: Figure, paths) -> List[str]:
    written = []
    for p in check_paths(paths):
        try:
            fig.savefig(p, dpi=150, bbox_inches="tight")
        except OSError as e:
            raise AnalysisError("%s: cannot write figure: %s" % (p, e.strerror or e)) from None
        written.append(p)
    return written


LOG2_PANEL = -1000.0    # a panel with values below 2^-1000 is drawn as log2 V on a linear axis


def _fit_label(r: FitResult, scan_only: bool) -> str:
    label = _model_label(r, scan_only)
    if r.exact is not None:
        return label + " (exact: %s)" % (r.verdict or "-")
    if r.verdict == "inconclusive":
        return label + " (verdict: inconclusive)"
    return label + " (%s)" % r.evidence if r.verdict else label


def _model_label(r: FitResult, scan_only: bool) -> str:
    s = r.series
    name = s.scan if scan_only else s.name
    if s.quantity == "grad" and s.group != "mean":
        name = "%s [%s]" % (s.scan, s.group)
    if r.exact is not None and r.preferred_model:
        return "%s: local log2 rate %.4g, poly a %.3g" % (name, r.log2_rate, r.poly_exponent)
    if r.preferred_model == "exponential":
        lo, hi = r.log2_rate_ci
        return "%s: exp, log2 rate %.3f [%.3f, %.3f]" % (name, r.log2_rate, lo, hi)
    if r.preferred_model == "polynomial":
        lo, hi = r.poly_exponent_ci
        return "%s: poly, n^-a, a = %.2f [%.2f, %.2f]" % (name, r.poly_exponent, lo, hi)
    return "%s: no fit" % name


def plot_variance(fits: Sequence[FitResult], paths, title: str = "", other_model: bool = True):
    """Values with error bars and fitted lines; returns the files written."""
    if not fits:
        raise AnalysisError("nothing to plot")
    quantities = list(dict.fromkeys(r.series.quantity for r in fits))
    fig = Figure(figsize=(6.4 * len(quantities), 4.8), layout="constrained")
    axes = fig.subplots(1, len(quantities), squeeze=False)[0]
    for ax, qty in zip(axes, quantities):
        mine = [r for r in fits if r.series.quantity == qty]
        in_log2 = any(r.series.exact and np.nanmin(np.where(np.isfinite(r.series.log2), r.series.log2,
                                                            np.inf)) < LOG2_PANEL for r in mine)
        for i, r in enumerate(mine):
            s, c = r.series, COLORS[i % len(COLORS)]
            used = np.isin(s.n, r.n)
            if in_log2:        # log2 V on a linear axis; errors in log2 units
                ok = np.isfinite(s.log2)
                y = s.log2
                with np.errstate(divide="ignore", invalid="ignore"):
                    err = np.where(s.value > 0, s.se / (s.value * LN2), 0.0)
            else:
                ok = np.isfinite(s.value) & (s.value > 0)
                y, err = s.value, s.se
            ax.errorbar(s.n[used & ok], y[used & ok], yerr=err[used & ok], fmt="o", color=c,
                        ms=4, capsize=3, label=_fit_label(r, True))
            if np.any(~used & ok):
                ax.errorbar(s.n[~used & ok], y[~used & ok], yerr=err[~used & ok], fmt="o",
                            mfc="none", color=c, ms=4, capsize=3)
            if s.exact and s.log2_lower is not None:      # bounds-only points: the certified range
                b = np.isnan(s.log2) & np.isfinite(s.log2_lower) & np.isfinite(s.log2_upper)
                for n, lo, hi in zip(s.n[b], s.log2_lower[b], s.log2_upper[b]):
                    lo, hi = (lo, hi) if in_log2 else (2.0 ** lo, 2.0 ** hi)
                    ax.plot([n, n], [lo, hi], "-", color=c, lw=3, alpha=0.4)
            if r.preferred is not None:
                # exact points: the laws through the last three points, drawn over them
                grid = np.linspace(r.n[-3:].min() if r.exact is not None else r.n.min(),
                                   r.n.max(), 200)
                models = [(r.preferred, "-", 1.5, 1.0)]
                if other_model:
                    models.append((r.poly if r.preferred is r.exp else r.exp, ":", 1, 0.7))
                for m, style, lw, alpha in models:
                    ln = m.predict_ln(grid)
                    with np.errstate(over="ignore", under="ignore"):
                        ax.plot(grid, ln / LN2 if in_log2 else np.exp(ln), style, color=c, lw=lw,
                                alpha=alpha)
        if in_log2:
            ax.set_ylabel("log2 " + LABELS.get(qty, qty))
        else:
            ax.set_yscale("log")
            ax.set_ylabel(LABELS.get(qty, qty))
        ax.set_xlabel("qubits n")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.grid(True, which="both", alpha=0.25)
        ax.legend(fontsize="small", loc="upper left", bbox_to_anchor=(0.0, -0.13),
                  title=("solid: preferred model, dotted: the other (exact: laws through the last "
                         "three points)") if other_model else None,
                  title_fontsize="x-small", frameon=False)
        if title:
            ax.set_title(title)
    return save(fig, paths)


def plot_diagnostics(scans: Sequence[Scan], paths, title: str = ""):
    """Entropy, purity and trace distance (means with SE) against n, with Page curves."""
    if not scans:
        raise AnalysisError("nothing to plot")
    cols = ("entropy", "purity", "trace_distance")
    fig = Figure(figsize=(15, 4.5), layout="constrained")
    axes = fig.subplots(1, 3)
    for ax, col in zip(axes, cols):
        for i, sc in enumerate(scans):
            c = COLORS[i % len(COLORS)]
            s = diag_series(sc, col)
            ax.errorbar(s.n, s.value, yerr=s.se, fmt="o-", color=c, ms=4, capsize=3, lw=1,
                        label=sc.name)
            if s.page is not None and np.any(np.isfinite(s.page)):
                ok = np.isfinite(s.page)
                ax.plot(s.n[ok], s.page[ok], "--", color=c, lw=1.2, alpha=0.8,
                        label="%s: %s" % (sc.name, "Haar" if col == "trace_distance" else "Page"))
        ax.set_xlabel("qubits n")
        ax.set_ylabel({"entropy": "entropy (nats)", "purity": "purity Tr rho^2",
                       "trace_distance": "trace distance to I/d"}[col])
        if col != "entropy":
            ax.set_yscale("log")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.grid(True, which="both", alpha=0.25)
        ax.legend(fontsize="small", loc="upper left", bbox_to_anchor=(0.0, -0.13), frameon=False)
    if title:
        fig.suptitle(title)
    return save(fig, paths)


def plot_layer_heatmap(scans: Sequence[Scan], paths, title: str = "", annotate: bool = True):
    """log10 of the per-layer mean Var dC, layer (rows) x n (columns), one panel per scan
    (at most three panels a row); cells carry the value when the matrix is small."""
    mats = [(sc, *layer_matrix(sc, log2=True)) for sc in scans]
    mats = [m for m in mats if m[1]]
    if not mats:
        raise AnalysisError("no per-layer gradient data to plot")
    ncol = min(3, len(mats))
    nrow = (len(mats) + ncol - 1) // ncol
    kmax = max(m[2].size for m in mats)
    lmax = max(len(m[1]) for m in mats)
    fig = Figure(figsize=(ncol * max(4.5, 0.75 * kmax + 2.0), nrow * max(3.0, 0.45 * lmax + 2.0)),
                 layout="constrained")
    axes = fig.subplots(nrow, ncol, squeeze=False).ravel()
    for ax in axes[len(mats):]:
        ax.set_visible(False)
    for ax, (sc, layers, ns, M) in zip(axes, mats):
        L = np.where(np.isfinite(M), M * math.log10(2.0), np.nan)     # M holds log2
        im = ax.imshow(np.ma.masked_invalid(L), aspect="auto", origin="lower", cmap="viridis")
        ax.set_xticks(range(ns.size))
        ax.set_xticklabels([str(n) for n in ns])
        ax.set_yticks(range(len(layers)))
        ax.set_yticklabels(layers)
        if annotate and M.size <= 80:
            lo, hi = np.nanmin(L), np.nanmax(L)
            for i in range(M.shape[0]):
                for j in range(M.shape[1]):
                    if np.isfinite(L[i, j]):
                        dark = hi > lo and (L[i, j] - lo) / (hi - lo) < 0.5
                        txt = "%.2g" % 2.0 ** M[i, j] if M[i, j] > -1000 else "2^%.0f" % M[i, j]
                        ax.text(j, i, txt, ha="center", va="center", fontsize="x-small",
                                color="white" if dark else "black")
        ax.set_xlabel("qubits n")
        ax.set_ylabel("layer")
        ax.set_title(sc.name, fontsize="small")
        fig.colorbar(im, ax=ax, label="log10 Var[dC] (layer mean)")
    if title:
        fig.suptitle(title)
    return save(fig, paths)
