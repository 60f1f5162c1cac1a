"""Figures of landscape scans (PNG, PDF or SVG by extension; Agg, no pyplot).

* ``plot_spectra``: per scan, E[W_k]/E[cut_var] against the degree k >= 1, one curve per n
  (log y), and beside it the mean cut variance against n with SE error bars (log y).
* ``plot_lipschitz``: per scan, the mean Lipschitz constant +- SE and the mean Bernstein
  bound against n (vh models: against n_h, with the fitted sqrt(D_v/D_h) law and the free
  slope fit).
* ``plot_spread``: the mean spread max f - min f of the cuts +- SE against n, every scan in
  one panel, with sqrt(E[cut_var]) dotted for comparison.
* ``plot_images``: plane scans: the stored image [N1, N2] of one sample per n, Fourier
  (band-limited) upsampled, axes t and u in [0, 2 pi).
"""
import math
from typing import Optional, Sequence

import numpy as np
import matplotlib
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from .errors import AnalysisError
from .landscape import LandscapeSummary, fourier_upsample, plane_images
from .plots import COLORS, save

KINDS = ("spectrum", "lipschitz", "spread", "images")
TWO_PI = 2.0 * math.pi


def _need(summaries):
    if not summaries:
        raise AnalysisError("nothing to plot")


def _positive(y):
    y = np.asarray(y, dtype=float)
    return np.isfinite(y) & (y > 0)


def _legend(ax):
    if ax.get_legend_handles_labels()[0]:
        ax.legend(fontsize="small", loc="upper left", bbox_to_anchor=(0.0, -0.14), frameon=False)


def plot_spectra(summaries: Sequence[LandscapeSummary], paths, title: str = ""):
    """Normalised spectra by degree (one curve per n) and the mean cut variance against n."""
    _need(summaries)
    fig = Figure(figsize=(12.5, 4.6 * len(summaries)), layout="constrained")
    axes = fig.subplots(len(summaries), 2, squeeze=False)
    for (ax, bx), s in zip(axes, summaries):
        ns = s.n
        cmap = matplotlib.colormaps["viridis"]
        for i, p in enumerate(s.points):
            y = np.asarray(p.spectrum, dtype=float)
            k = np.arange(1, y.size + 1)
            ok = _positive(y)
            if not ok.any():
                continue
            c = cmap(i / max(1, len(s.points) - 1))
            ax.plot(k[ok], y[ok], "o-", ms=3, lw=1.2, color=c, label="n=%d" % p.n)
        ax.set_yscale("log")
        ax.set_xlabel("degree k")
        ax.set_ylabel("E[W_k] / E[cut var]")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.grid(True, which="both", alpha=0.25)
        ax.set_title("%s: spectral weight by degree (%s cuts)" % (s.name, s.directions),
                     fontsize="small")
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize="x-small", ncol=2 if len(ns) > 6 else 1)
        cv, se = s.column("cut_var"), s.column("cut_var_se")
        ok = _positive(cv)
        bx.errorbar(ns[ok], cv[ok], yerr=np.where(np.isfinite(se[ok]), se[ok], 0.0), fmt="o-",
                    color="C0", ms=4, capsize=3, lw=1, label="E[cut var] ± SE")
        bx.set_yscale("log")
        bx.set_xlabel("qubits n")
        bx.set_ylabel("mean cut variance")
        bx.xaxis.set_major_locator(MaxNLocator(integer=True))
        bx.grid(True, which="both", alpha=0.25)
        bx.set_title("%s: cost concentration along cuts" % s.name, fontsize="small")
    if title:
        fig.suptitle(title)
    return save(fig, paths)


def _xaxis(s: LandscapeSummary):
    """(x values of every point, label): n_h for the sqrt(D_v/D_h) law, else n."""
    if s.law.law:
        nv = sorted({p.n_v for p in s.points})
        label = "hidden qubits n_h" + (" (n_v = %d)" % nv[0] if len(nv) == 1 else " (n_v varies)")
        return np.array([p.n_h for p in s.points], dtype=float), label
    return s.n.astype(float), "qubits n"


def plot_lipschitz(summaries: Sequence[LandscapeSummary], paths, title: str = ""):
    """Mean Lipschitz constants +- SE and Bernstein bounds, with the Lipschitz fits."""
    _need(summaries)
    fig = Figure(figsize=(6.6 * len(summaries), 5.0), layout="constrained")
    axes = fig.subplots(1, len(summaries), squeeze=False)[0]
    for ax, s in zip(axes, summaries):
        x, xlabel = _xaxis(s)
        L, se, B = s.column("lipschitz"), s.column("lipschitz_se"), s.column("bernstein")
        ok = _positive(L)
        what = "mean over parameters of " if s.directions == "axes" else ""
        ax.errorbar(x[ok], L[ok], yerr=np.where(np.isfinite(se[ok]), se[ok], 0.0), fmt="o",
                    color="C0", ms=4, capsize=3, label="%sLipschitz max|f'| ± SE" % what)
        okb = _positive(B)
        blabel = "sqrt(K1²+K2²) spread/2" if s.directions == "plane" else "K spread/2"
        ax.plot(x[okb], B[okb], "s--", color="C3", ms=3, lw=1, label="Bernstein bound " + blabel)
        f = s.law
        if f.x.size:
            order = np.argsort(x)
            grid = np.linspace(x.min(), x.max(), 100)
            if f.law and math.isfinite(f.prefactor):
                nv = np.interp(grid, x[order], np.array([p.n_v for p in s.points], float)[order])
                ax.plot(grid, f.predict(grid, nv), "-", color="C0", lw=1.5,
                        label="A sqrt(D_v/D_h), A = %.3g [%.3g, %.3g]" % (f.prefactor, *f.prefactor_ci))
                if math.isfinite(f.slope):
                    ax.plot(grid, f.predict_free(grid, nv), ":", color="C2", lw=1.2,
                            label="free: slope %.3f [%.3f, %.3f] (law -1/2)" % (f.slope, *f.slope_ci))
            elif not f.law and math.isfinite(f.slope):
                ax.plot(grid, f.predict(grid), ":", color="C2", lw=1.2,
                        label="log2 L slope %.3f [%.3f, %.3f] per qubit" % (f.slope, *f.slope_ci))
        ax.set_yscale("log")
        ax.set_xlabel(xlabel)
        ax.set_ylabel("Lipschitz constant of the cut")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.grid(True, which="both", alpha=0.25)
        ax.set_title("%s (%s cuts)" % (s.name, s.directions), fontsize="small")
        _legend(ax)
    if title:
        fig.suptitle(title)
    return save(fig, paths)


def plot_spread(summaries: Sequence[LandscapeSummary], paths, title: str = ""):
    """Mean spread (max - min) of the cuts +- SE against n, with sqrt(E[cut var]) dotted."""
    _need(summaries)
    fig = Figure(figsize=(6.6, 5.0), layout="constrained")
    ax = fig.subplots()
    for i, s in enumerate(summaries):
        c = COLORS[i % len(COLORS)]
        n, sp, se = s.n, s.column("spread"), s.column("spread_se")
        ok = _positive(sp)
        ax.errorbar(n[ok], sp[ok], yerr=np.where(np.isfinite(se[ok]), se[ok], 0.0), fmt="o-",
                    color=c, ms=4, capsize=3, lw=1, label="%s: spread max f - min f" % s.name)
        sd = np.sqrt(np.maximum(s.column("cut_var"), 0.0))
        ok = _positive(sd)
        ax.plot(n[ok], sd[ok], ":", color=c, lw=1.2, label="%s: sqrt(E[cut var])" % s.name)
    ax.set_yscale("log")
    ax.set_xlabel("qubits n")
    ax.set_ylabel("cost difference along a cut")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.grid(True, which="both", alpha=0.25)
    ax.set_title("gradient-free view: cost differences concentrate", fontsize="small")
    _legend(ax)
    if title:
        fig.suptitle(title)
    return save(fig, paths)


def plot_images(summaries: Sequence[LandscapeSummary], paths, sample: int = 0,
                points: int = 192, title: str = "", ncols: Optional[int] = None):
    """Plane scans: one panel per (scan, n), the image of sample ``sample`` upsampled to
    at least ``points`` points per axis (never fewer than stored)."""
    _need(summaries)
    panels = []
    for s in summaries:
        if s.directions == "plane":
            panels += [(s, n, img) for n, img in plane_images(s, sample)]
    if not panels:
        raise AnalysisError("no plane landscape scans to draw (images need [landscape] directions "
                            "= plane)")
    nc = ncols or min(4, len(panels))
    nr = (len(panels) + nc - 1) // nc
    fig = Figure(figsize=(4.0 * nc, 3.6 * nr), layout="constrained")
    axes = fig.subplots(nr, nc, squeeze=False).ravel()
    for ax in axes[len(panels):]:
        ax.set_visible(False)
    ticks = [0, math.pi / 2, math.pi, 3 * math.pi / 2]
    names = ["0", "π/2", "π", "3π/2"]
    for ax, (s, n, img) in zip(axes, panels):
        N1, N2 = img.shape
        M1, M2 = max(points, N1), max(points, N2)
        up = fourier_upsample(img, (M1, M2))
        h1, h2 = TWO_PI / M1, TWO_PI / M2
        # row a of the image is t = 2 pi a/N1 (x axis), column b is u (y axis)
        im = ax.imshow(up.T, origin="lower", cmap="viridis", aspect="equal", interpolation="bilinear",
                       extent=(-h1 / 2, TWO_PI - h1 / 2, -h2 / 2, TWO_PI - h2 / 2))
        ax.set_xticks(ticks)
        ax.set_xticklabels(names)
        ax.set_yticks(ticks)
        ax.set_yticklabels(names)
        ax.set_xlabel("t (direction 1)")
        ax.set_ylabel("u (direction 2)")
        ax.set_title("%s: n=%d, sample %d (%dx%d)" % (s.name, n, sample, N1, N2), fontsize="small")
        fig.colorbar(im, ax=ax, shrink=0.85, label="cost")
    if title:
        fig.suptitle(title)
    return save(fig, paths)
