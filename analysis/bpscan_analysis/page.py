"""State diagnostics against the Haar (Page) prediction (physics.md Sec. 4.9).

bpscan stores, per n, ``page_entropy`` = <S_A> and ``page_purity`` = E Tr rho_A^2 of a Haar
pure state on the diagnosed qubits and the rest (NaN where the model has no such
prediction). For one diagnosed qubit the Haar trace distance to I/2 follows from the same
d_B (haar.py). For each n with a prediction this compares the sample mean with it:
z = (mean - page) / SE, and over all n chi2 = sum z^2 with K degrees of freedom.
"""
import math
from dataclasses import dataclass
from typing import List, Optional

import numpy as np
from scipy import stats as sps

from .results import Scan
from .series import diag_series

PAGE_COLUMNS = ("entropy", "purity", "trace_distance")


@dataclass
class PageComparison:
    scan: str
    column: str                 # "entropy" or "purity"
    n: np.ndarray
    mean: np.ndarray
    se: np.ndarray
    page: np.ndarray
    z: np.ndarray
    chi2: float
    dof: int
    p_value: float
    level: float = 0.01         # consistent with Page when p_value >= level

    @property
    def consistent(self) -> bool:
        return bool(self.p_value >= self.level)

    @property
    def max_rel_dev(self) -> float:
        return float(np.max(np.abs(self.mean - self.page) / np.abs(self.page)))

    @property
    def verdict(self) -> str:
        if self.consistent:
            return "consistent with the Haar (Page) prediction: chi2 = %.1f for %d n, p = %.2g" % (
                self.chi2, self.dof, self.p_value)
        side = "below" if np.sum(self.z) < 0 else "above"
        return ("differs from the Haar (Page) prediction: chi2 = %.1f for %d n, p = %.2g; "
                "mean %s the prediction, largest relative deviation %.1f%%"
                % (self.chi2, self.dof, self.p_value, side, 100 * self.max_rel_dev))

    def to_dict(self) -> dict:
        def fl(a):
            return [float(v) if math.isfinite(v) else None for v in a]
        return {"scan": self.scan, "diagnostic": self.column, "n": [int(v) for v in self.n],
                "mean": fl(self.mean), "se": fl(self.se), "page": fl(self.page), "z": fl(self.z),
                "chi2": self.chi2, "dof": self.dof, "p_value": self.p_value,
                "consistent": self.consistent, "verdict": self.verdict}


def compare_page(scan: Scan, column: str, level: float = 0.01) -> Optional[PageComparison]:
    """The comparison for one diagnostic, or None when no n has a Page prediction."""
    s = diag_series(scan, column)
    if s.page is None or s.exact:       # moments scans: no sampled diagnostics
        return None
    ok = np.isfinite(s.page) & np.isfinite(s.value) & np.isfinite(s.se) & (s.se > 0)
    if not ok.any():
        return None
    mean, se, page = s.value[ok], s.se[ok], s.page[ok]
    z = (mean - page) / se
    chi2 = float(np.sum(z * z))
    dof = int(ok.sum())
    return PageComparison(scan.name, column, s.n[ok], mean, se, page, z, chi2, dof,
                          float(sps.chi2.sf(chi2, dof)), level)


def compare_all(scans: List[Scan], level: float = 0.01) -> List[PageComparison]:
    out = []
    for sc in scans:
        for c in PAGE_COLUMNS:
            r = compare_page(sc, c, level)
            if r is not None:
                out.append(r)
    return out
