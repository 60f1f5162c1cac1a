"""``analyze``: load, build series, fit, compare with Page, in one call (what ``bpfit fit`` runs)."""
from dataclasses import dataclass, field
from typing import List, Optional, Sequence

from . import tables
from .errors import AnalysisError
from .calibration import DEFAULT_SIMS
from .fitting import FitResult, fit_all
from .page import PageComparison, compare_all
from .results import Scan, load
from .series import GROUPINGS, QUANTITIES, Series, series_for


@dataclass
class Report:
    scans: List[Scan]
    series: List[Series]
    fits: List[FitResult]
    page: List[PageComparison]
    warnings: List[str] = field(default_factory=list)

    def table(self) -> str:
        return tables.format_table(self.fits)

    def to_dict(self) -> dict:
        return tables.report_dict(self.fits, self.page, self.scans, self.warnings)

    def fit(self, scan: Optional[str] = None, quantity: str = "grad", group: str = "mean") -> FitResult:
        """The fit of one series (scan name, quantity, group); scan may be omitted if unique."""
        hits = [r for r in self.fits if r.series.quantity == quantity and r.series.group == group
                and (scan is None or r.series.scan == scan)]
        if len(hits) != 1:
            raise KeyError("%d fits match scan=%r quantity=%r group=%r" % (len(hits), scan, quantity, group))
        return hits[0]


def analyze(paths: Sequence[str], quantities: Sequence[str] = ("grad", "cost"),
            by: Sequence[str] = ("mean",), params: Optional[Sequence[str]] = None,
            merge: str = "job", labels: Optional[Sequence[str]] = None, level: float = 0.95,
            bootstrap: int = 1000, seed: int = 12345, nmin: Optional[int] = None,
            nmax: Optional[int] = None, page_level: float = 0.01,
            sims: int = DEFAULT_SIMS) -> Report:
    """Load result files, fit every requested series, compare the diagnostics with Page.
    ``bootstrap``: resamples per n behind the calibrated verdict (0: draws from the moments),
    ``sims``: simulated scans per law (calibration.py)."""
    if isinstance(by, str):
        by = [by]
    if isinstance(quantities, str):
        quantities = [quantities]
    for q in quantities:
        if q not in QUANTITIES:
            raise AnalysisError("unknown quantity '%s' (use %s)" % (q, ", ".join(QUANTITIES)))
    for b in by:
        if b not in GROUPINGS:
            raise AnalysisError("unknown grouping '%s' (use %s)" % (b, ", ".join(GROUPINGS)))
    if not 0 < level < 1:
        raise AnalysisError("confidence level %g not in (0, 1)" % level)
    scans = load(paths, merge=merge, labels=labels)
    series: List[Series] = []
    for sc in scans:
        for q in quantities:
            if q == "grad":
                for b in by:
                    series.extend(series_for(sc, q, b, params))
            else:
                series.extend(series_for(sc, q))
    if bootstrap < 0 or sims < 1:
        raise AnalysisError("bootstrap must be >= 0 and sims >= 1")
    fits = fit_all(series, level=level, bootstrap=bootstrap, seed=seed, nmin=nmin, nmax=nmax,
                   sims=sims)
    warnings = ["%s: %s" % (sc.name, w) for sc in scans for w in sc.warnings]
    for r in fits:
        warnings.extend("%s: %s" % (r.name, x) for x in r.notes)
        reasons = {}
        for n, why in r.excluded:
            if "fit range" not in why:
                reasons.setdefault(why, []).append(str(n))
        warnings.extend("%s: left out n=%s: %s" % (r.name, ",".join(ns), why)
                        for why, ns in reasons.items())
        if r.preferred_model is None:
            warnings.append("%s: %s" % (r.name, r.evidence_text))
    return Report(scans, series, fits, compare_all(scans, page_level), warnings)
