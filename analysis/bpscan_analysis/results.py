"""Reading bpscan result files (schema 1, README "Result files") and merging them into scans.

A *result file* is what one ``bpscan run`` (or one array-job piece, ``bpscan run --slice``,
or ``bpscan merge``) writes. A *scan* is one job: the files of the same job are merged by
qubit count, concatenating their per-sample rows, and every statistic is recomputed from
the merged ``grad`` / ``cost`` / ``diag`` rows (the stored summary attributes are not used).

What a job is comes from bpscan, never from parsing the job text here: the root attribute
``job_json`` (README "Result files") holds every key's resolved value and *role* and the
registers per qubit count. Two files belong to the same job when (``merge="job"``, the
default) they have the same ``job_hash`` root attribute, or the same values of every key but
those of role ``output`` (``[output] path``, ``checkpoint_seconds``). ``merge="ensemble"``
compares only the keys of role ``result``, leaving out those that choose *which* samples of
the same random ensemble are drawn (role ``ensemble``: qubits, samples, seed) and how they
are stored (role ``layout``: block, store_samples); this pools runs with different seeds or
qubit ranges. ``merge="none"`` keeps every file separate. Files written before bpscan stored
``job_json`` are grouped by ``job_hash`` alone, know only their model (root attribute), and
cannot be pooled with ``merge="ensemble"`` (a clear error).

Every sample is identified by (seed, sample number): the sample number is the row number in
a complete scan and ``sample_index`` in an array-job piece. The same sample met twice with
identical rows (the same file given twice, or a piece next to the merged file) is counted
once, with a warning; with different rows the inputs conflict and are refused.

Landscape scans (root attribute ``mode = "landscape"``; absent = ``"gradient"``) also hold,
per qubit count, the group ``/n{N}/landscape`` (README "Result files" and "Landscape
scans"): the cut settings (``directions``, ``pad``, ``num_cuts``, ``degree``, ``size``) and
one per-sample dataset per field (``lipschitz`` [S] or [S, P], ``power``, ``image``, ...).
They are read into ``QubitData.land`` (a ``LandscapeData``) and merged row by row together
with the gradient rows; their statistics, like all others, are recomputed from the rows.

Moments scans (root attribute ``mode = "moments"``, README "Result files", Moments files) hold exact
second moments instead of samples: per qubit count ``grad_var_log2`` [P] (log2 of the exact
Var dC of each tracked parameter; values reach 2^-4000, far below the double range, so only
the ``*_log2`` fields are used), the attributes ``exact`` (1 exact, 0 certified bounds only:
``grad_var_lower_log2`` / ``grad_var_upper_log2``), ``engine``, ``cost_var_log2``,
``purity_mean``. They are read into ``QubitData.moments`` (a ``MomentsData``) with no
per-sample rows (S = 0). The same qubit count in two files of one job must hold identical
numbers (counted once, with a warning).
"""
import json
import math
import os
import re
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np

from .errors import AnalysisError

SCHEMA_VERSION = 1
DIAG_COLUMNS = ("purity", "entropy", "renyi2", "trace_distance")
MERGE_MODES = ("job", "ensemble", "none")
# the key roles (job_json "roles") that must agree for files to merge, per merge mode
MERGE_ROLES = {"job": ("result", "ensemble", "layout"), "ensemble": ("result",)}
REQUIRED_N_DATASETS = ("grad", "cost", "diag", "param_names")
MODES = ("gradient", "landscape", "moments")
MOMENTS_REQUIRED = ("grad_var_log2", "param_names")
DIRECTIONS = ("random", "axes", "plane")
LANDSCAPE_ATTRS = ("directions", "pad", "num_cuts", "fields")
STAT_SUFFIXES = ("_mean", "_mean_se", "_var", "_var_se")
_GROUP = re.compile(r"^n([0-9]+)$")


def _h5py():
    try:
        import h5py  # noqa: WPS433 (imported lazily so that --help works without h5py)
    except ImportError as e:  # pragma: no cover - depends on the interpreter
        raise AnalysisError("h5py is not available in this Python (%s); run with "
                            "/usr/bin/python3 (Debian's python3-h5py)" % e) from None
    return h5py


# ------------------------------------------------------------------------------------------
# Job texts


def job_settings(job_json: Optional[dict]) -> Dict[str, str]:
    """``{"section.key": "value"}`` of a file's job_json (every key of the job, values spelled
    as strings: booleans ``true``/``false``); ``{}`` when there is none."""
    out: Dict[str, str] = {}
    for sec, keys in ((job_json or {}).get("sections") or {}).items():
        for k, v in keys.items():
            out["%s.%s" % (sec, k)] = ("true" if v else "false") if isinstance(v, bool) else str(v)
    return out


def job_roles(job_json: Optional[dict]) -> Dict[str, str]:
    """``{"section.key": role}`` of a file's job_json; ``{}`` when there is none."""
    return {"%s.%s" % (sec, k): r for sec, keys in ((job_json or {}).get("roles") or {}).items()
            for k, r in keys.items()}


def job_identity(job_json: dict, roles: Sequence[str]) -> Tuple[Tuple[str, str], ...]:
    """The job as a sorted tuple of (key, value) over the keys whose role is in ``roles``."""
    kinds = job_roles(job_json)
    return tuple(sorted(("%s.%s" % (sec, k), json.dumps(v))
                        for sec, keys in job_json["sections"].items() for k, v in keys.items()
                        if kinds.get("%s.%s" % (sec, k)) in roles))


# ------------------------------------------------------------------------------------------
# Data classes


def column_stats(x: np.ndarray) -> Dict[str, np.ndarray]:
    """Element-wise statistics over the samples (axis 0) of x [S, ...], as bpscan's
    ``bps_stats_compute`` (include/bpscan/stats.h): mean, mean_se = s/sqrt(S), var = s^2
    (unbiased) and var_se = sqrt((m4 - (S-3)/(S-1) s^4)/S). S = 1: SEs and var 0; S = 0: NaN."""
    x = np.asarray(x, dtype=float)
    S = x.shape[0]
    shape = x.shape[1:]
    if S == 0:
        nan = np.full(shape, np.nan)
        return {"mean": nan, "mean_se": nan.copy(), "var": nan.copy(), "var_se": nan.copy()}
    mean = x.mean(axis=0)
    if S < 2:
        zero = np.zeros(shape)
        return {"mean": mean, "mean_se": zero, "var": zero.copy(), "var_se": zero.copy()}
    d = x - mean
    var = np.sum(d * d, axis=0) / (S - 1)
    m4 = np.mean(d ** 4, axis=0)
    v2 = (m4 - (S - 3) / (S - 1) * var * var) / S
    return {"mean": mean, "mean_se": np.sqrt(var / S), "var": var,
            "var_se": np.sqrt(np.maximum(v2, 0.0))}


@dataclass
class LandscapeData:
    """The ``/n{N}/landscape`` group of one qubit count: the cut settings and the per-sample
    fields (rows in the same order as the gradient rows of the QubitData holding it)."""
    directions: str                 # "random" | "axes" | "plane"
    pad: int                        # fine-grid factor of the Lipschitz / extremum search
    num_cuts: int                   # cuts per sample (random 1, axes P, plane 1)
    degree: np.ndarray              # [ndeg] int: declared degree K of each cut (plane K1, K2)
    size: np.ndarray                # [ndeg] int: FFT size N of each cut (plane N1, N2)
    fields: Dict[str, np.ndarray]   # name -> [S, dims...] float, in the file's order
    stats_fields: Tuple[str, ...] = ()   # fields with stored statistics (stats = 1)

    @property
    def samples(self) -> int:
        return int(next(iter(self.fields.values())).shape[0]) if self.fields else 0

    @property
    def field_names(self) -> Tuple[str, ...]:
        return tuple(self.fields)

    def has(self, name: str) -> bool:
        return name in self.fields

    def field(self, name: str) -> np.ndarray:
        if name not in self.fields:
            raise AnalysisError("landscape field '%s' missing (fields: %s)"
                                % (name, ", ".join(self.fields) or "none"))
        return self.fields[name]

    def stats(self, name: str) -> Dict[str, np.ndarray]:
        """Element-wise mean, mean_se, var, var_se of a field, recomputed from its rows."""
        return column_stats(self.field(name))

    def settings(self) -> tuple:
        """What must agree between pieces that are merged."""
        return (self.directions, self.pad, self.num_cuts, tuple(int(k) for k in self.degree),
                tuple(int(k) for k in self.size),
                tuple((k, v.shape[1:]) for k, v in self.fields.items()))

    def rows(self, sel) -> "LandscapeData":
        """The same settings with the rows ``sel`` (an index or boolean array)."""
        return LandscapeData(self.directions, self.pad, self.num_cuts, self.degree, self.size,
                             {k: v[sel] for k, v in self.fields.items()}, self.stats_fields)


@dataclass
class MomentsData:
    """The exact second moments of one qubit count (a ``mode = moments`` file)."""
    exact: bool                           # False: certified bounds only (attribute exact = 0)
    engine: str                           # "chain", "pauli", "mps" or "dense"
    grad_var_log2: np.ndarray             # [P] log2 Var dC per tracked parameter (NaN: bounds only)
    grad_var_lower_log2: Optional[np.ndarray] = None   # [P] bounds (exact = 0)
    grad_var_upper_log2: Optional[np.ndarray] = None
    grad_var_mean_log2: float = math.nan  # log2 of the mean over the tracked parameters
    grad_var_mean_lower_log2: float = math.nan
    grad_var_mean_upper_log2: float = math.nan
    cost_mean: float = math.nan
    cost_var_log2: float = math.nan
    purity_mean: float = math.nan
    engine_stats: Dict[str, object] = field(default_factory=dict)   # peak_pairs, bond_dim, precision

    def key(self) -> tuple:
        """Everything that must agree when the same n is in two files."""
        def num(v):         # NaN == NaN here
            return "nan" if v != v else v

        def arr(a):
            return None if a is None else tuple(num(v) for v in np.asarray(a, dtype=float).tolist())
        return (self.exact, self.engine, arr(self.grad_var_log2), arr(self.grad_var_lower_log2),
                arr(self.grad_var_upper_log2), num(self.cost_var_log2), num(self.purity_mean))


@dataclass
class QubitData:
    """All samples of one qubit count n (of one file, or merged over files)."""
    n: int
    grad: np.ndarray            # [S, P] gradients of the tracked parameters
    cost: np.ndarray            # [S]
    diag: np.ndarray            # [S, 4] purity, entropy, renyi2, trace_distance
    seed: np.ndarray            # [S] uint64, the seed of each sample's run
    index: np.ndarray           # [S] int64, the sample number within its run
    param_names: Tuple[str, ...]
    page_entropy: float = math.nan
    page_purity: float = math.nan
    diag_qubits: int = 0
    q_in: int = 0
    q_out: int = 0
    representation: str = ""
    samples_total: int = 0      # the samples of the whole scan at this n (pieces: samples_total)
    sources: Tuple[str, ...] = ()
    land: Optional[LandscapeData] = None   # landscape scans: the cut fields; None otherwise
    moments: Optional[MomentsData] = None  # moments scans: the exact moments; None otherwise

    @property
    def samples(self) -> int:
        return int(self.cost.shape[0])

    def diag_column(self, name: str) -> np.ndarray:
        return self.diag[:, DIAG_COLUMNS.index(name)]


@dataclass
class ResultFile:
    """One result file: its root attributes (provenance) and its qubit counts."""
    path: str
    attrs: Dict[str, object]
    job: str
    job_hash: int
    seed: int
    slice_index: int
    slice_count: int
    data: Dict[int, QubitData]
    mode: str = "gradient"      # root attribute mode ("gradient" when absent)
    job_json: Optional[dict] = None   # root attribute job_json; None in files written before it

    @property
    def provenance(self) -> Dict[str, object]:
        """The root attributes except the job text, plus the path (for tables and JSON)."""
        p = {"path": self.path}
        p.update({k: v for k, v in self.attrs.items() if k not in ("job", "job_json")})
        return p


@dataclass
class Scan:
    """One job: the merged samples of every file of that job, by qubit count."""
    name: str
    job: str                      # the job text of the first file
    settings: Dict[str, str]      # job_settings(job_json); {"scan.model": ...} without job_json
    files: List[ResultFile]       # the files merged into this scan (data not kept twice)
    data: Dict[int, QubitData]
    warnings: List[str] = field(default_factory=list)
    job_json: Optional[dict] = None   # the first file's job_json (None: written before it)

    @property
    def roles(self) -> Dict[str, str]:
        """``{"section.key": role}`` (empty for files without job_json)."""
        return job_roles(self.job_json)

    def registers(self, n: int) -> Optional[dict]:
        """The job_json registers at n (dqnn ``widths``; vh/qbm ``n_visible``, ``n_hidden``;
        hea ``layers``), or None (no job_json, or n not in the job)."""
        for r in (self.job_json or {}).get("per_n", ()):
            if r.get("n") == n:
                return r
        return None

    @property
    def n(self) -> np.ndarray:
        return np.array(sorted(self.data), dtype=int)

    @property
    def model(self) -> str:
        return self.settings.get("scan.model", str(self.files[0].attrs.get("model", "")))

    @property
    def mode(self) -> str:
        """"landscape" when the scan holds landscape cuts, "moments" when it holds exact
        moments, else "gradient"."""
        if any(q.moments is not None for q in self.data.values()):
            return "moments"
        return "landscape" if any(q.land is not None for q in self.data.values()) else "gradient"

    def page(self, what: str) -> np.ndarray:
        """Page prediction per n (``what`` = "entropy" or "purity"), NaN where none exists."""
        return np.array([getattr(self.data[n], "page_" + what) for n in sorted(self.data)])

    def provenance(self) -> List[Dict[str, object]]:
        return [f.provenance for f in self.files]


# ------------------------------------------------------------------------------------------
# Reading one file


def _attr(obj, name, path, where="/"):
    if name not in obj.attrs:
        raise AnalysisError("%s: %s: attribute '%s' missing (not a complete bpscan result)"
                            % (path, where, name))
    v = obj.attrs[name]
    if isinstance(v, bytes):
        v = v.decode("utf-8", "replace")
    elif isinstance(v, np.generic):
        v = v.item()
    return v


def _int_attr(obj, name, path, where):
    v = _attr(obj, name, path, where)
    try:
        return int(np.asarray(v).reshape(-1)[0])
    except (TypeError, ValueError, IndexError):
        raise AnalysisError("%s: %s: attribute '%s' is not an integer" % (path, where, name)) from None


def _read_landscape(g, path, where, S):
    """The /n{N}/landscape group (schema: README "Result files" and "Landscape scans")."""
    h5py = _h5py()
    if not isinstance(g, h5py.Group):
        raise AnalysisError("%s: %s is not a group" % (path, where))
    directions = str(_attr(g, "directions", path, where)).strip()
    if directions not in DIRECTIONS:
        raise AnalysisError("%s: %s: unknown directions '%s' (expected %s)"
                            % (path, where, directions, ", ".join(DIRECTIONS)))
    pad = _int_attr(g, "pad", path, where)
    num_cuts = _int_attr(g, "num_cuts", path, where)
    names = [x.strip() for x in str(_attr(g, "fields", path, where)).split(",") if x.strip()]
    if not names:
        raise AnalysisError("%s: %s: attribute 'fields' lists no fields" % (path, where))
    if len(set(names)) != len(names):
        raise AnalysisError("%s: %s: attribute 'fields' lists a field twice" % (path, where))
    arrays = {}
    for ds in ("degree", "size") + tuple(names):
        if ds not in g or not isinstance(g[ds], h5py.Dataset):
            raise AnalysisError("%s: %s: dataset '%s' missing" % (path, where, ds))
        arrays[ds] = np.asarray(g[ds][()])
    degree = arrays.pop("degree").astype(np.int64).reshape(-1)
    size = arrays.pop("size").astype(np.int64).reshape(-1)
    ndeg = {"random": 1, "plane": 2}.get(directions, num_cuts)
    if num_cuts < 1 or degree.shape != (ndeg,) or size.shape != (ndeg,):
        raise AnalysisError("%s: %s: %s cuts with num_cuts = %d need %d entries in degree and size "
                            "(have %d and %d)" % (path, where, directions, num_cuts, ndeg,
                                                  degree.size, size.size))
    if np.any(degree < 0) or np.any(size < 2 * degree + 1):
        raise AnalysisError("%s: %s: FFT sizes %s do not resolve degrees %s (need N >= 2K+1)"
                            % (path, where, size.tolist(), degree.tolist()))
    fields = {}
    for k in names:
        x = np.asarray(arrays[k], dtype=float)
        if x.ndim < 1 or x.shape[0] != S:
            raise AnalysisError("%s: %s/%s has shape %s, expected %d rows (one per sample)"
                                % (path, where, k, x.shape, S))
        fields[k] = x
    stats = tuple(k for k in names if k + "_mean" in g)
    return LandscapeData(directions=directions, pad=pad, num_cuts=num_cuts, degree=degree,
                         size=size, fields=fields, stats_fields=stats)


def _float_attr(a, key, default=math.nan):
    if key not in a:
        return default
    try:
        return float(np.asarray(a[key]).reshape(-1)[0])
    except (TypeError, ValueError, IndexError):
        return default


def _log2_mean(l2: np.ndarray) -> float:
    """log2 of the mean of 2^l2 without leaving the double range (NaN if any is NaN)."""
    l2 = np.asarray(l2, dtype=float)
    if l2.size == 0 or np.any(np.isnan(l2)):
        return math.nan
    m = float(np.max(l2))
    if not math.isfinite(m):
        return m
    return m + math.log2(float(np.mean(np.exp2(l2 - m))))


def _read_moments(g, path, where, n, names):
    """The /n{N} group of a moments file (README "Result files", Moments files)."""
    P = len(names)

    def vec(name, required):
        if name not in g:
            if required:
                raise AnalysisError("%s: %s: dataset '%s' missing (moments file)" % (path, where, name))
            return None
        x = np.asarray(g[name][()], dtype=float).reshape(-1)
        if x.shape != (P,):
            raise AnalysisError("%s: %s/%s has %d entries for %d parameters"
                                % (path, where, name, x.size, P))
        return x
    a = g.attrs
    exact = bool(int(_float_attr(a, "exact", 1)))
    l2 = vec("grad_var_log2", True)
    lo, hi = vec("grad_var_lower_log2", False), vec("grad_var_upper_log2", False)
    if not exact and (lo is None or hi is None):
        raise AnalysisError("%s: %s: exact = 0 without grad_var_lower_log2/grad_var_upper_log2"
                            % (path, where))
    if exact and np.any(np.isnan(l2)):
        raise AnalysisError("%s: %s: exact = 1 but grad_var_log2 holds NaN" % (path, where))
    mean_l2 = _float_attr(a, "grad_var_mean_log2")
    if exact and math.isnan(mean_l2):
        mean_l2 = _log2_mean(l2)
    stats = {}
    for k in ("peak_pairs", "bond_dim", "precision"):
        if k in a:
            v = a[k]
            stats[k] = v.decode() if isinstance(v, bytes) else (v.item() if isinstance(v, np.generic) else v)
    return MomentsData(
        exact=exact, engine=str(_attr(g, "engine", path, where)) if "engine" in a else "",
        grad_var_log2=l2, grad_var_lower_log2=lo, grad_var_upper_log2=hi,
        grad_var_mean_log2=mean_l2,
        grad_var_mean_lower_log2=_float_attr(a, "grad_var_mean_lower_log2",
                                             _log2_mean(lo) if lo is not None else math.nan),
        grad_var_mean_upper_log2=_float_attr(a, "grad_var_mean_upper_log2",
                                             _log2_mean(hi) if hi is not None else math.nan),
        cost_mean=_float_attr(a, "cost_mean"), cost_var_log2=_float_attr(a, "cost_var_log2"),
        purity_mean=_float_attr(a, "purity_mean"), engine_stats=stats)


def _read_group(f, gname, path, root_seed, piece, mode="gradient"):
    h5py = _h5py()
    g = f[gname]
    where = "/" + gname
    if not isinstance(g, h5py.Group):
        raise AnalysisError("%s: %s is not a group" % (path, where))
    if mode == "moments":
        return _read_moments_group(g, gname, path, where)
    for ds in REQUIRED_N_DATASETS:
        if ds not in g:
            raise AnalysisError("%s: %s: dataset '%s' missing" % (path, where, ds))
        if not isinstance(g[ds], h5py.Dataset):
            raise AnalysisError("%s: %s/%s is not a dataset" % (path, where, ds))
    n = int(gname[1:])
    if "n" in g.attrs and int(g.attrs["n"]) != n:
        raise AnalysisError("%s: %s has attribute n = %d" % (path, where, int(g.attrs["n"])))
    grad = np.asarray(g["grad"][()], dtype=float)
    cost = np.asarray(g["cost"][()], dtype=float)
    diag = np.asarray(g["diag"][()], dtype=float)
    names = g["param_names"]
    if h5py.check_string_dtype(names.dtype) is None:
        raise AnalysisError("%s: %s/param_names is not a string dataset" % (path, where))
    names = tuple(str(s) for s in names.asstr()[()].reshape(-1))
    if grad.ndim == 1 and len(names) == 1:
        grad = grad.reshape(-1, 1)
    S = cost.shape[0] if cost.ndim == 1 else -1
    if cost.ndim != 1 or grad.ndim != 2 or grad.shape != (S, len(names)) or diag.shape != (S, 4):
        raise AnalysisError("%s: %s: inconsistent shapes cost %s, grad %s, diag %s, %d parameter "
                            "names" % (path, where, cost.shape, grad.shape, diag.shape, len(names)))
    if "columns" in g["diag"].attrs:
        cols = _attr(g["diag"], "columns", path, where + "/diag")
        if tuple(c.strip() for c in str(cols).split(",")) != DIAG_COLUMNS:
            raise AnalysisError("%s: %s/diag has columns '%s', expected '%s'"
                                % (path, where, cols, ",".join(DIAG_COLUMNS)))
    if "sample_index" in g:
        index = np.asarray(g["sample_index"][()], dtype=np.int64).reshape(-1)
        if index.shape != (S,):
            raise AnalysisError("%s: %s/sample_index has %d entries for %d samples"
                                % (path, where, index.size, S))
        if S and (np.any(np.diff(index) <= 0) or index[0] < 0):
            raise AnalysisError("%s: %s/sample_index is not increasing" % (path, where))
    elif piece:
        raise AnalysisError("%s: %s: array-job piece without dataset 'sample_index'" % (path, where))
    else:
        index = np.arange(S, dtype=np.int64)
    a = g.attrs

    def num(key, default, cast):
        return cast(a[key]) if key in a else default
    total = num("samples_total", S, int)
    land = None
    if "landscape" in g:
        land = _read_landscape(g["landscape"], path, where + "/landscape", S)
    elif mode == "landscape":
        raise AnalysisError("%s: %s: group 'landscape' missing in a mode = landscape file"
                            % (path, where))
    return QubitData(
        n=n, grad=grad, cost=cost, diag=diag,
        seed=np.full(S, root_seed, dtype=np.uint64), index=index, param_names=names,
        page_entropy=num("page_entropy", math.nan, float),
        page_purity=num("page_purity", math.nan, float),
        diag_qubits=num("diag_qubits", 0, int), q_in=num("q_in", 0, int),
        q_out=num("q_out", 0, int),
        representation=str(_attr(g, "representation", path, where)) if "representation" in a else "",
        samples_total=total, sources=(path,), land=land)


def _read_moments_group(g, gname, path, where) -> QubitData:
    h5py = _h5py()
    for ds in MOMENTS_REQUIRED:
        if ds not in g:
            raise AnalysisError("%s: %s: dataset '%s' missing" % (path, where, ds))
        if not isinstance(g[ds], h5py.Dataset):
            raise AnalysisError("%s: %s/%s is not a dataset" % (path, where, ds))
    n = int(gname[1:])
    if "n" in g.attrs and int(g.attrs["n"]) != n:
        raise AnalysisError("%s: %s has attribute n = %d" % (path, where, int(g.attrs["n"])))
    names = g["param_names"]
    if h5py.check_string_dtype(names.dtype) is None:
        raise AnalysisError("%s: %s/param_names is not a string dataset" % (path, where))
    names = tuple(str(s) for s in names.asstr()[()].reshape(-1))
    mom = _read_moments(g, path, where, n, names)
    P = len(names)
    return QubitData(n=n, grad=np.zeros((0, P)), cost=np.zeros(0), diag=np.zeros((0, 4)),
                     seed=np.zeros(0, dtype=np.uint64), index=np.zeros(0, dtype=np.int64),
                     param_names=names, diag_qubits=int(_float_attr(g.attrs, "diag_qubits", 0)),
                     q_in=int(_float_attr(g.attrs, "q_in", 0)),
                     q_out=int(_float_attr(g.attrs, "q_out", 0)),
                     samples_total=0, sources=(path,), moments=mom)


def read_result(path: str) -> ResultFile:
    """Read and check one result file. Raises AnalysisError with a one-line reason."""
    path = os.fspath(path)
    if not os.path.exists(path):
        raise AnalysisError("%s: no such file" % path)
    if os.path.isdir(path):
        raise AnalysisError("%s: is a directory, not a result file" % path)
    h5py = _h5py()
    try:
        ok = h5py.is_hdf5(path)
    except OSError as e:
        raise AnalysisError("%s: cannot read: %s" % (path, e.strerror or e)) from None
    if not ok:
        raise AnalysisError("%s: not an HDF5 file (expected a bpscan result .h5)" % path)
    try:
        with h5py.File(path, "r") as f:
            if "schema_version" not in f.attrs:
                raise AnalysisError("%s: not a bpscan result file (no schema_version attribute)"
                                    % path)
            try:
                version = int(np.asarray(f.attrs["schema_version"]).reshape(-1)[0])
            except (TypeError, ValueError, IndexError):
                raise AnalysisError("%s: schema_version is not an integer" % path) from None
            if version > SCHEMA_VERSION:
                raise AnalysisError("%s: schema_version %d is newer than this reader supports (%d);"
                                    " update analysis/" % (path, version, SCHEMA_VERSION))
            if version < 1:
                raise AnalysisError("%s: invalid schema_version %d" % (path, version))
            attrs = {}
            for k in f.attrs:
                v = f.attrs[k]
                if isinstance(v, bytes):
                    v = v.decode("utf-8", "replace")
                elif isinstance(v, np.generic):
                    v = v.item()
                elif isinstance(v, np.ndarray):
                    v = v.tolist()
                attrs[k] = v
            job = _attr(f, "job", path)
            if not isinstance(job, str):
                raise AnalysisError("%s: root attribute 'job' is not a string" % path)
            job_json = None
            if "job_json" in attrs:
                try:
                    job_json = json.loads(attrs["job_json"])
                except (TypeError, ValueError) as e:
                    raise AnalysisError("%s: root attribute 'job_json' is not JSON (%s)"
                                        % (path, e)) from None
                if not isinstance(job_json, dict) or \
                        not all(k in job_json for k in ("sections", "roles", "per_n")):
                    raise AnalysisError("%s: root attribute 'job_json' lacks sections, roles or "
                                        "per_n" % path)
            job_hash = int(attrs.get("job_hash", 0))
            seed = int(attrs.get("seed", job_settings(job_json).get("scan.seed", 0)))
            slice_count = int(attrs.get("slice_count", 1))
            slice_index = int(attrs.get("slice_index", 0))
            mode = str(attrs.get("mode", "gradient")).strip()
            if mode not in MODES:
                raise AnalysisError("%s: unknown mode '%s' (this reader knows %s); update analysis/"
                                    % (path, mode, ", ".join(MODES)))
            groups = sorted((k for k in f.keys() if _GROUP.match(k)), key=lambda k: int(k[1:]))
            if not groups:
                raise AnalysisError("%s: no /n{N} groups (no qubit counts in the file)" % path)
            data = {}
            for k in groups:
                q = _read_group(f, k, path, seed, slice_count > 1, mode)
                data[q.n] = q
    except AnalysisError:
        raise
    except (OSError, KeyError, ValueError, TypeError, RuntimeError) as e:
        msg = str(e).splitlines()[0] if str(e) else type(e).__name__
        raise AnalysisError("%s: unreadable result file: %s" % (path, msg)) from None
    return ResultFile(path=path, attrs=attrs, job=job, job_hash=job_hash, seed=seed,
                      slice_index=slice_index, slice_count=slice_count, data=data, mode=mode,
                      job_json=job_json)


# ------------------------------------------------------------------------------------------
# Merging


def _same_float(a: float, b: float) -> bool:
    return (math.isnan(a) and math.isnan(b)) or a == b


def _merge_moments(parts: List[QubitData], warnings: List[str]) -> QubitData:
    """The same n of a moments scan in several files: identical numbers, counted once."""
    ref = parts[0]
    for q in parts[1:]:
        if q.moments is None or q.param_names != ref.param_names or q.moments.key() != ref.moments.key():
            raise AnalysisError("conflicting moments: n=%d is in both %s and %s with different "
                                "values or parameters" % (ref.n, ref.sources[0], q.sources[0]))
    warnings.append("n=%d: in %d files with identical moments (%s); counted once"
                    % (ref.n, len(parts), ", ".join(q.sources[0] for q in parts)))
    return ref


def _merge_n(parts: List[QubitData], warnings: List[str]) -> QubitData:
    """Merge the samples of one n from several files of the same job."""
    ref = parts[0]
    if any(q.moments is not None for q in parts):
        return _merge_moments(parts, warnings)
    for q in parts[1:]:
        what = None
        if q.param_names != ref.param_names:
            what = "track different parameters"
        elif q.diag_qubits != ref.diag_qubits:
            what = "diagnose different qubits"
        elif not (_same_float(q.page_entropy, ref.page_entropy)
                  and _same_float(q.page_purity, ref.page_purity)):
            what = "have different Page predictions"
        elif (q.land is None) != (ref.land is None):
            what = "are not both landscape scans"
        elif q.land is not None and q.land.settings() != ref.land.settings():
            what = "have different landscape cuts (directions, pad, degrees, sizes or fields)"
        if what:
            raise AnalysisError("cannot merge n=%d: %s and %s %s" % (ref.n, ref.sources[0],
                                                                  q.sources[0], what))
    seed = np.concatenate([q.seed for q in parts])
    index = np.concatenate([q.index for q in parts])
    grad = np.concatenate([q.grad for q in parts])
    cost = np.concatenate([q.cost for q in parts])
    diag = np.concatenate([q.diag for q in parts])
    origin = np.concatenate([np.full(q.samples, i) for i, q in enumerate(parts)])
    order = np.lexsort((origin, index, seed))
    seed, index, grad, cost, diag, origin = (x[order] for x in (seed, index, grad, cost, diag, origin))
    land = None
    if ref.land is not None:    # the landscape rows follow the gradient rows
        land = LandscapeData(ref.land.directions, ref.land.pad, ref.land.num_cuts,
                             ref.land.degree, ref.land.size,
                             {k: np.concatenate([q.land.fields[k] for q in parts])[order]
                              for k in ref.land.fields}, ref.land.stats_fields)

    def same_land(i, j):
        return land is None or all(np.array_equal(v[i], v[j], equal_nan=True)
                                   for v in land.fields.values())
    dup = np.nonzero((seed[1:] == seed[:-1]) & (index[1:] == index[:-1]))[0] + 1
    if dup.size:
        for j in dup:
            same = (np.array_equal(grad[j], grad[j - 1]) and cost[j] == cost[j - 1]
                    and np.array_equal(diag[j], diag[j - 1], equal_nan=True)
                    and same_land(j, j - 1))
            if not same:
                a, b = parts[origin[j - 1]].sources[0], parts[origin[j]].sources[0]
                raise AnalysisError(
                    "conflicting duplicates: n=%d sample %d (seed %d) is in both %s and %s with "
                    "different values; they cannot be merged (written by different bpscan builds, "
                    "or not pieces of the same scan?)"
                    % (ref.n, index[j], seed[j], a, b))
        pairs = sorted({(parts[origin[j - 1]].sources[0], parts[origin[j]].sources[0]) for j in dup})
        warnings.append("n=%d: %d sample(s) appear twice with identical values (%s); counted once"
                        % (ref.n, dup.size, "; ".join("%s and %s" % p for p in pairs)))
        keep = np.ones(seed.size, dtype=bool)
        keep[dup] = False
        seed, index, grad, cost, diag = (x[keep] for x in (seed, index, grad, cost, diag))
        if land is not None:
            land = land.rows(keep)
    sources = tuple(dict.fromkeys(s for q in parts for s in q.sources))
    # samples_total: per seed, the whole scan's sample count (pieces of one run share it)
    totals = {}
    for q in parts:
        for s in np.unique(q.seed):
            totals[int(s)] = max(totals.get(int(s), 0), q.samples_total)
    total = int(sum(totals.values()))
    return QubitData(n=ref.n, grad=grad, cost=cost, diag=diag, seed=seed, index=index,
                     param_names=ref.param_names, page_entropy=ref.page_entropy,
                     page_purity=ref.page_purity, diag_qubits=ref.diag_qubits, q_in=ref.q_in,
                     q_out=ref.q_out, representation=ref.representation,
                     samples_total=total, sources=sources, land=land)


def merge_files(files: List[ResultFile], name: str = "") -> Scan:
    """Merge result files of one job into a Scan (no identity check: see group_files)."""
    warnings: List[str] = []
    ns = sorted({n for f in files for n in f.data})
    data = {}
    for n in ns:
        parts = [f.data[n] for f in files if n in f.data]
        data[n] = parts[0] if len(parts) == 1 else _merge_n(parts, warnings)
        q = data[n]
        if q.moments is not None:
            continue
        if q.samples < q.samples_total:
            warnings.append("n=%d: %d of %d samples present (array-job pieces missing?)"
                            % (n, q.samples, q.samples_total))
        if q.samples < 3:
            warnings.append("n=%d: only %d sample(s); variances need at least 3" % (n, q.samples))
    pieces = [f for f in files if f.slice_count > 1]
    if pieces:
        have = {(f.seed, f.slice_index) for f in pieces}
        for seed in sorted({f.seed for f in pieces}):
            count = max(f.slice_count for f in pieces if f.seed == seed)
            missing = [k for k in range(count) if (seed, k) not in have]
            full = any(f.slice_count == 1 and f.seed == seed for f in files)
            if missing and not full:
                warnings.append("array job (seed %d): piece(s) %s of %d missing"
                                % (seed, ",".join(str(k) for k in missing), count))
    f0 = files[0]
    settings = job_settings(f0.job_json) if f0.job_json is not None else \
        {"scan.model": str(f0.attrs.get("model", ""))}
    return Scan(name=name, job=f0.job, settings=settings, files=list(files), data=data,
                warnings=warnings, job_json=f0.job_json)


def group_files(files: List[ResultFile], merge: str = "job") -> List[List[ResultFile]]:
    """Partition files into jobs (see the module docstring), in order of first appearance."""
    if merge not in MERGE_MODES:
        raise AnalysisError("unknown merge mode '%s' (use %s)" % (merge, ", ".join(MERGE_MODES)))
    if merge == "none":
        return [[f] for f in files]
    groups: List[List[ResultFile]] = []
    keys: List[Tuple[set, set]] = []      # per group: job hashes, identities
    for f in files:
        if f.job_json is None and merge == "ensemble":
            raise AnalysisError("%s: written by a bpscan without the job_json attribute (the "
                                "roles of the job keys), which merge='ensemble' needs; use "
                                "merge='job' (same job_hash)" % f.path)
        ident = job_identity(f.job_json, MERGE_ROLES[merge]) if f.job_json is not None else None
        hit = None
        for i, (hashes, idents) in enumerate(keys):
            if (ident is not None and ident in idents) or \
                    (merge == "job" and f.job_hash and f.job_hash in hashes):
                hit = i
                break
        if hit is None:
            groups.append([f])
            keys.append(({f.job_hash}, {ident}))
        else:
            groups[hit].append(f)
            keys[hit][0].add(f.job_hash)
            keys[hit][1].add(ident)
    return groups


def _short(key: str) -> str:
    return key.split(".", 1)[1] if key.startswith(("scan.", "dqnn.", "vh.", "qbm.", "hea.")) else key


def describe(settings: Dict[str, str]) -> str:
    """A compact name for one job, e.g. ``dqnn[n,n] toy global``."""
    model = settings.get("scan.model", "?")
    parts = [model]
    if model == "dqnn":
        parts = ["dqnn[%s]" % settings.get("dqnn.widths", "?"), settings.get("dqnn.perceptron", "")]
        d = settings.get("dqnn.depth", "0")
        if d not in ("", "0"):
            parts.append("depth=%s" % d)
    elif model == "hea":
        parts.append(settings.get("hea.ansatz", ""))
        parts.append("L=%s" % settings.get("hea.layers", "0"))
    elif model in ("vh", "qbm"):
        parts.append("v=%s h=%s" % (settings.get(model + ".visible", "?"),
                                    settings.get(model + ".hidden", "?")))
        parts.append(settings.get(model + ".objective", ""))
    if model in ("dqnn", "hea") and "cost.type" in settings:
        parts.append(settings["cost.type"])
    ch = settings.get("noise.channel", "none")
    if ch not in ("", "none"):
        parts.append("%s p=%s" % (ch, settings.get("noise.p", "?")))
    return " ".join(p for p in parts if p)


def name_scans(scans: List[Scan], labels: Optional[Sequence[str]] = None) -> None:
    """Give each scan a name: the given label, else the job settings in which the scans
    differ (``cost.type=local``), else a compact description of the job."""
    labels = list(labels or [])
    if len(labels) > len(scans):
        raise AnalysisError("%d labels given for %d series (jobs)" % (len(labels), len(scans)))
    roles = {k: r for s in scans for k, r in s.roles.items()}   # empty without job_json
    keys = sorted(k for k in {k for s in scans for k in s.settings}
                  if roles.get(k) in ("result", "ensemble"))    # not layout or output keys
    differ = [k for k in keys if len({s.settings.get(k, "") for s in scans}) > 1]
    physics = [k for k in differ if roles.get(k) == "result"]
    if physics and len({tuple(s.settings.get(k, "") for k in physics) for s in scans}) == len(scans):
        differ = physics   # name by what changes the physics when that tells the jobs apart
    used = set()
    for i, s in enumerate(scans):
        if i < len(labels):
            s.name = labels[i]
        elif len(scans) > 1 and differ and len(differ) <= 4:
            s.name = ", ".join("%s=%s" % (_short(k), s.settings.get(k, "")) for k in differ)
        else:
            s.name = describe(s.settings)
        base, k = s.name, 2
        while s.name in used:
            s.name = "%s #%d" % (base, k)
            k += 1
        used.add(s.name)


def load(paths: Sequence[str], merge: str = "job",
         labels: Optional[Sequence[str]] = None) -> List[Scan]:
    """Read result files and merge them into scans (one per job), named for display."""
    if isinstance(paths, (str, os.PathLike)):
        paths = [paths]
    if not paths:
        raise AnalysisError("no result files given")
    files = [read_result(p) for p in paths]
    scans = [merge_files(g) for g in group_files(files, merge)]
    name_scans(scans, labels)
    return scans
