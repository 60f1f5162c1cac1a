#!/usr/bin/python3
"""Check that a bpscan result file follows schema 1 (README "Result files"), as h5py sees it.

usage: /usr/bin/python3 tests/py/check_schema.py [--synthetic] FILE.h5

Checks names (exactly the documented set, including the array-job piece additions
slice_index/slice_count, /n{N}/sample_index and samples_total), shapes, dtypes, string types (variable-length
UTF-8, read as str), storage (per-sample datasets chunked + shuffle + gzip 4; small ones
contiguous), that every statistic agrees with the per-sample data it summarises, and that
/summary repeats the per-n attributes. Landscape scans: the root attribute mode
("landscape" iff some /n{N}/landscape group exists) and each such group (attributes
directions/pad/num_cuts/fields, degree and size, one [S, dims...] dataset per listed field,
the four statistics datasets of a field all or none, agreeing with its samples element by
element). The root attribute job_json (job.c's JSON of the job text): its members and
types, and its registers against each /n{N}'s q_in, q_out and diag_qubits. Exact-moments
scans (root mode = "moments", README "Result files" (Moments files)): no per-sample datasets; per /n{N} the exact
values grad_mean, grad_var, grad_var_log2 (finite or -inf, equal to log2 grad_var where that
is a normal double) and grad_var_se = 0, the bounds datasets iff exact = 0 (then grad_var and
grad_var_log2 NaN, lower <= upper), the engine attributes and every *_se = 0, grad_var_mean
and its log2 against the datasets; /summary with exact and the log2 columns, equal to the
per-n attributes; array-job pieces hold the item records (mom_items, mom_records) instead.
--synthetic adds the known values of the synthetic results of tests/t700-synth.h. Exit
status 0 when everything holds, 1 otherwise. check_file(path) returns the list of errors (for
tests that check many files in one process).
Needs Debian's h5py (python3-h5py): run it with /usr/bin/python3.
"""
import json
import math
import re
import sys

import h5py
import numpy as np

DIAG = ["purity", "entropy", "renyi2", "trace_distance"]
ROOT_ATTRS = {
    "schema_version": "i4", "bpscan_version": "str", "git_commit": "str", "hdf5_version": "str",
    "job": "str", "job_hash": "u8", "job_json": "str", "seed": "u8", "model": "str", "grad_method": "str",
    "mpi_ranks": "i4", "omp_threads": "i4", "host": "str", "hosts": "str", "start_time": "str",
    "end_time": "str", "start_unix": "f8", "end_unix": "f8", "wall_plan": "f8",
    "wall_compute": "f8", "wall_reduce": "f8", "wall_write": "f8",
    "slice_index": "i4", "slice_count": "i4", "mode": "str",
}
N_ATTRS = {
    "n": "i4", "num_samples": "i8", "num_params": "i4", "num_tracked": "i4", "q_in": "i4",
    "q_out": "i4", "diag_qubits": "i4", "representation": "str", "cost_mean": "f8",
    "cost_mean_se": "f8", "cost_var": "f8", "cost_var_se": "f8", "grad_var_mean": "f8",
    "grad_var_mean_se": "f8", "page_entropy": "f8", "page_purity": "f8",
}
for _d in DIAG:
    for _s in ("mean", "mean_se", "var"):
        N_ATTRS[f"{_d}_{_s}"] = "f8"
N_SAMPLE_DSETS = {"cost", "grad", "diag", "params", "sample_index"}
# only in array-job pieces (slice_count > 1)
PIECE_N_ATTRS = {"samples_total": "i8"}
N_DSETS = {"cost", "grad", "grad_mean", "grad_var", "grad_var_se", "param_names", "param_index",
           "param_names_all", "diag"}
SUMMARY = {"n": "i4", "num_samples": "i8"}
for _c in ("grad_var_mean", "grad_var_mean_se", "cost_mean", "cost_mean_se", "cost_var",
           "cost_var_se", "page_entropy", "page_purity"):
    SUMMARY[_c] = "f8"
for _d in DIAG:
    SUMMARY[f"{_d}_mean"] = "f8"
    SUMMARY[f"{_d}_mean_se"] = "f8"
LAND_ATTRS = {"directions": "str", "pad": "i4", "num_cuts": "i4", "fields": "str"}
LAND_STATS = ("_mean", "_mean_se", "_var", "_var_se")
SYNTH_FIELDS = ["cut_mean", "cut_var", "aliasing", "slope_fft", "slope_adjoint", "lipschitz",
                "spread", "power", "direction", "image"]
# Exact-moments scans (root mode = "moments"; README "Result files" (Moments files) and the code, h5io.c
# write_n_mom / write_summary_mom). Every /n{N}, complete or piece:
MOM_N_ATTRS = {
    "n": "i4", "num_samples": "i8", "num_params": "i4", "num_tracked": "i4", "q_in": "i4",
    "q_out": "i4", "diag_qubits": "i4", "engine": "str", "precision": "str",
    "page_entropy": "f8", "page_purity": "f8",
}
# a complete file's /n{N} adds the exact values
MOM_VALUE_ATTRS = {
    "exact": "i4", "peak_pairs": "i8", "bond_dim": "i4", "cost_mean": "f8", "cost_mean_se": "f8",
    "cost_var": "f8", "cost_var_se": "f8", "cost_var_log2": "f8", "grad_var_mean": "f8",
    "grad_var_mean_se": "f8", "grad_var_mean_log2": "f8", "purity_mean": "f8",
    "purity_mean_se": "f8",
}
# exact = 0 (a truncated Pauli-pair budget): certified bounds. cost_var_lower/upper are
# written by the code but not listed in README "Result files" (Moments files).
MOM_BOUND_ATTRS = {
    "grad_var_mean_lower": "f8", "grad_var_mean_upper": "f8", "grad_var_mean_lower_log2": "f8",
    "grad_var_mean_upper_log2": "f8", "cost_var_lower": "f8", "cost_var_upper": "f8",
}
MOM_N_DSETS = {"grad_mean", "grad_var", "grad_var_log2", "grad_var_se", "param_names",
               "param_index", "param_names_all"}
MOM_BOUND_DSETS = {"grad_var_lower", "grad_var_upper", "grad_var_lower_log2",
                   "grad_var_upper_log2"}
MOM_PIECE_DSETS = {"param_names", "param_index", "param_names_all", "mom_items", "mom_records"}
MOM_REC_LEN = 18  # result.h BPS_MOMREC_LEN
MOM_REC_EXACT = 15
MOM_ENGINES = {"chain", "pauli", "mps", "dense"}
MOM_SUMMARY = {"n": "i4", "num_samples": "i8", "exact": "i4"}
for _c in ("grad_var_mean", "grad_var_mean_log2", "grad_var_mean_se", "cost_mean",
           "cost_mean_se", "cost_var", "cost_var_se", "cost_var_log2", "purity_mean",
           "purity_mean_se", "page_entropy", "page_purity"):
    MOM_SUMMARY[_c] = "f8"
MOM_PIECE_SUMMARY = {"n": "i4", "num_samples": "i8"}
TINY = 2.0 ** -1022  # smallest normal double
ISO = re.compile(r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ)?$")

errors = []


def err(msg):
    errors.append(msg)


def dtype_ok(value, kind, where):
    """kind: 'str' (a Python str from a variable-length UTF-8 string), or a numpy kind+size."""
    if kind == "str":
        if not isinstance(value, str):
            err(f"{where}: expected str, got {type(value).__name__}")
        return
    dt = np.asarray(value).dtype
    if dt.str[1:] != kind or dt.byteorder not in "<=|":
        err(f"{where}: dtype {dt.str}, expected <{kind}")


def attr_types(obj, spec, where):
    names = set(obj.attrs.keys())
    for missing in sorted(set(spec) - names):
        err(f"{where}: attribute {missing} missing")
    for extra in sorted(names - set(spec)):
        err(f"{where}: unexpected attribute {extra}")
    for name, kind in spec.items():
        if name in names:
            dtype_ok(obj.attrs[name], kind, f"{where}@{name}")
            if kind == "str":
                tid = obj.attrs.get_id(name).get_type()
                if not tid.is_variable_str() or tid.get_cset() != h5py.h5t.CSET_UTF8:
                    err(f"{where}@{name}: not a variable-length UTF-8 string")


def close(a, b, what, scale):
    """a == b up to summation order: relative 1e-10, absolute 1e-12 * scale, where scale is
    the size of the data behind the statistic (max |x| for means, max |x|^2 for variances),
    so statistics that are zero up to rounding compare equal."""
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    ok = np.allclose(a, b, rtol=1e-10, atol=1e-12 * scale, equal_nan=True)
    if not ok:
        err(f"{what}: {a} != {b}")


def var_se(x):
    """Standard error of the unbiased variance (stats.h)."""
    S = len(x)
    if S < 2:
        return 0.0
    d = x - x.mean()
    s2 = float(np.sum(d * d)) / (S - 1)
    m4 = float(np.mean(d ** 4))
    v = (m4 - (S - 3) / (S - 1) * s2 * s2) / S
    return math.sqrt(v) if v > 0 else 0.0


def check_storage(ds, where, sample):
    if sample and ds.size > 0:
        if ds.chunks is None:
            err(f"{where}: per-sample dataset not chunked")
            return
        if ds.compression != "gzip" or ds.compression_opts != 4 or not ds.shuffle:
            err(f"{where}: filters {ds.compression} {ds.compression_opts} shuffle={ds.shuffle}, "
                "expected gzip 4 + shuffle")
        cols = int(np.prod(ds.shape[1:]))
        rows = min(ds.shape[0], 4096, max(1, 2**20 // (8 * cols)))
        if ds.chunks[0] != rows:
            err(f"{where}: chunk rows {ds.chunks[0]}, expected {rows}")
        if ds.chunks[1:] != ds.shape[1:]:
            err(f"{where}: chunks {ds.chunks} do not span the rows")
    elif not sample and ds.chunks is not None:
        err(f"{where}: small dataset is chunked {ds.chunks}")


def stats_close(x, mean, mean_se, var, var_se_, name):
    """Statistics of the samples x (S >= 2) along axis 0: element by element."""
    S = x.shape[0]
    m = float(np.max(np.abs(x))) if x.size else 0.0
    close(mean, x.mean(axis=0), f"{name}_mean", m)
    if mean_se is not None:
        close(mean_se, x.std(axis=0, ddof=1) / math.sqrt(S), f"{name}_mean_se", m)
    close(var, x.var(axis=0, ddof=1), f"{name}_var", m * m)
    if var_se_ is not None:
        flat = x.reshape(S, -1)
        vse = np.array([var_se(flat[:, k]) for k in range(flat.shape[1])])
        close(var_se_, vse.reshape(x.shape[1:]), f"{name}_var_se", m * m)


def check_land(lg, where, S, P):
    """The group /n{N}/landscape of a landscape scan."""
    if not isinstance(lg, h5py.Group):
        err(f"{where}: not a group")
        return
    attr_types(lg, LAND_ATTRS, where)
    if set(LAND_ATTRS) - set(lg.attrs.keys()):
        return
    a = lg.attrs
    dirs, pad, ncut = a["directions"], int(a["pad"]), int(a["num_cuts"])
    fields = a["fields"].split(",") if a["fields"] else []
    if dirs not in ("random", "axes", "plane"):
        err(f"{where}@directions = {dirs!r}")
    if pad < 1 or ncut < 1:
        err(f"{where}: pad {pad}, num_cuts {ncut}")
    if len(fields) != len(set(fields)) or any(not re.fullmatch(r"[A-Za-z0-9_]{1,23}", x)
                                              for x in fields):
        err(f"{where}@fields = {a['fields']!r}: names not unique or not [A-Za-z0-9_]")
    keys = set(lg.keys())
    want = {"degree", "size"} | set(fields)
    for missing in sorted(want - keys):
        err(f"{where}: dataset {missing} missing")
    ndeg = None
    for k in ("degree", "size"):
        if k not in keys:
            continue
        ds = lg[k]
        if ds.ndim != 1 or ds.shape[0] < 1:
            err(f"{where}/{k}: shape {ds.shape}, expected (ndeg,) with ndeg >= 1")
        dtype_ok(ds[()], "i4", f"{where}/{k}")
        check_storage(ds, f"{where}/{k}", False)
        if ndeg is not None and ds.shape != (ndeg,):
            err(f"{where}: degree and size differ in length")
        ndeg = ds.shape[0] if ds.ndim == 1 else ndeg
    # the contract: random 1 cut and 1 degree; axes one per tracked parameter; plane 1 and 2
    expect = {"random": (1, 1), "axes": (P, P), "plane": (1, 2)}.get(dirs)
    if expect and ndeg is not None and (ncut, ndeg) != expect:
        err(f"{where}: directions {dirs} with num_cuts {ncut} and {ndeg} degrees, expected "
            f"{expect}")
    if "degree" in keys and "size" in keys and ndeg is not None:
        deg, size = lg["degree"][()], lg["size"][()]
        if np.any(deg < 0) or np.any(size < 1):
            err(f"{where}: degree {deg} / size {size} out of range")
    for fname in fields:
        if fname not in keys:
            continue
        ds = lg[fname]
        fw = f"{where}/{fname}"
        if not isinstance(ds, h5py.Dataset) or not 1 <= ds.ndim <= 3 or ds.shape[0] != S:
            err(f"{fw}: shape {getattr(ds, 'shape', None)}, expected ({S}, dims...) of rank 1..3")
            continue
        if any(d < 1 for d in ds.shape[1:]):
            err(f"{fw}: empty per-sample dimension {ds.shape}")
        dtype_ok(ds[()], "f8", fw)
        check_storage(ds, fw, True)
        have = [fname + x in keys for x in LAND_STATS]
        if any(have) and not all(have):
            err(f"{where}: {fname} has {sum(have)} of the 4 statistics datasets")
            continue
        if not all(have):
            continue
        st = []
        for x in LAND_STATS:
            sd = lg[fname + x]
            if sd.shape != ds.shape[1:]:
                err(f"{where}/{fname}{x}: shape {sd.shape}, expected {ds.shape[1:]}")
            dtype_ok(sd[()], "f8", f"{where}/{fname}{x}")
            check_storage(sd, f"{where}/{fname}{x}", False)
            st.append(sd[()])
        if S >= 2 and all(np.shape(v) == ds.shape[1:] for v in st):
            stats_close(ds[()], *st, fw)
    named = want | {f + x for f in fields for x in LAND_STATS}
    for extra in sorted(keys - named):
        err(f"{where}: unexpected member {extra}")


def check_group(g, name, piece):
    where = f"/{name}"
    attr_types(g, dict(N_ATTRS, **PIECE_N_ATTRS) if piece else N_ATTRS, where)
    keys = set(g.keys())
    if "landscape" in keys:
        keys.discard("landscape")
    want = N_DSETS | {"sample_index"} if piece else N_DSETS
    for missing in sorted(want - keys):
        err(f"{where}: dataset {missing} missing")
    for extra in sorted(keys - want - {"params"}):
        err(f"{where}: unexpected member {extra}")
    if want - keys:
        return None
    a = g.attrs
    S, P, PA = int(a["num_samples"]), int(a["num_tracked"]), int(a["num_params"])
    if int(a["n"]) != int(name[1:]):
        err(f"{where}@n = {a['n']}")
    if "landscape" in g:
        check_land(g["landscape"], f"{where}/landscape", S, P)
    shapes = {"cost": (S,), "grad": (S, P), "diag": (S, 4), "grad_mean": (P,), "grad_var": (P,),
              "grad_var_se": (P,), "param_names": (P,), "param_index": (P,),
              "param_names_all": (PA,), "params": (S, PA), "sample_index": (S,)}
    for k in keys:
        ds = g[k]
        if not isinstance(ds, h5py.Dataset):
            err(f"{where}/{k}: not a dataset")
            continue
        if ds.shape != shapes[k]:
            err(f"{where}/{k}: shape {ds.shape}, expected {shapes[k]}")
        if k in ("param_names", "param_names_all"):
            info = h5py.check_string_dtype(ds.dtype)
            if info is None or info.encoding != "utf-8" or info.length is not None:
                err(f"{where}/{k}: not variable-length UTF-8 strings ({ds.dtype})")
        elif k == "param_index":
            dtype_ok(ds[()], "i4", f"{where}/{k}")
        elif k == "sample_index":
            dtype_ok(ds[()], "i8", f"{where}/{k}")
        else:
            dtype_ok(ds[()], "f8", f"{where}/{k}")
        check_storage(ds, f"{where}/{k}", k in N_SAMPLE_DSETS)
    if g["diag"].attrs.get("columns") != ",".join(DIAG):
        err(f"{where}/diag@columns = {g['diag'].attrs.get('columns')!r}")

    names = list(g["param_names"].asstr()[()])
    names_all = list(g["param_names_all"].asstr()[()])
    idx = g["param_index"][()]
    if any(not isinstance(s, str) for s in names + names_all):
        err(f"{where}: parameter names do not read as str")
    if np.any(idx < 0) or np.any(idx >= PA):
        err(f"{where}/param_index out of range: {idx}")
    elif names != [names_all[i] for i in idx]:
        err(f"{where}: param_names != param_names_all[param_index]")

    if piece and "sample_index" in keys and "samples_total" in a:
        si, tot = g["sample_index"][()], int(a["samples_total"])
        if si.size and (np.any(np.diff(si) <= 0) or si[0] < 0 or si[-1] >= tot):
            err(f"{where}/sample_index is not increasing within [0, {tot})")
        if S > tot:
            err(f"{where}: num_samples {S} > samples_total {tot}")

    # statistics against the samples
    cost, grad, diag = g["cost"][()], g["grad"][()], g["diag"][()]
    if S >= 2 and grad.shape == (S, P):
        stats_close(cost, a["cost_mean"], a["cost_mean_se"], a["cost_var"], a["cost_var_se"],
                    f"{where}@cost")
        gv = g["grad_var"][()]
        for k in range(P):
            stats_close(grad[:, k], g["grad_mean"][k], None, gv[k], g["grad_var_se"][k],
                        f"{where}/grad[:, {k}]")
        if P:
            close(a["grad_var_mean"], gv.mean(), f"{where}@grad_var_mean", float(np.max(gv)))
        for k, d in enumerate(DIAG):
            stats_close(diag[:, k], a[f"{d}_mean"], a[f"{d}_mean_se"], a[f"{d}_var"], None,
                        f"{where}@{d}")
    return a


def log2_matches(v, l2, where):
    """l2 = log2 of the exact value whose double is v: equal where v is a normal double; -inf
    or below -1022 where v is 0 (an exact zero, or underflow); below -1021 for subnormals."""
    v, l2 = np.atleast_1d(np.asarray(v, dtype=float)), np.atleast_1d(np.asarray(l2, dtype=float))
    for k, (x, y) in enumerate(zip(v, l2)):
        if math.isnan(y) or y == math.inf:
            err(f"{where}[{k}]: log2 {y} (finite or -inf expected)")
        elif x < 0 or math.isnan(x):
            err(f"{where}[{k}]: value {x} is negative or NaN")
        elif x >= TINY:
            if abs(math.log2(x) - y) > 1e-9 * max(1.0, abs(y)):
                err(f"{where}[{k}]: log2 {y} but log2 of the value {x} is {math.log2(x)}")
        elif x > 0:
            if y > -1021.0 or (x > 2.0 ** -1060 and abs(math.log2(x) - y) > 1e-3):
                err(f"{where}[{k}]: subnormal value {x} with log2 {y}")
        elif y != -math.inf and y > -1022.0:
            err(f"{where}[{k}]: value 0 but log2 {y} (-inf, or below -1022 on underflow)")


def log2_mean(l2):
    """log2 of the mean of 2^l2 (-inf entries allowed), without overflow or underflow."""
    l2 = np.asarray(l2, dtype=float)
    if l2.size == 0 or np.all(l2 == -np.inf):
        return -math.inf
    m = float(np.max(l2))
    return m + math.log2(float(np.sum(np.exp2(l2 - m)))) - math.log2(l2.size)


def check_params(g, where, P, PA):
    """param_names, param_index, param_names_all of a moments /n{N}."""
    for k, shape in (("param_names", (P,)), ("param_index", (P,)), ("param_names_all", (PA,))):
        ds = g[k]
        if ds.shape != shape:
            err(f"{where}/{k}: shape {ds.shape}, expected {shape}")
        check_storage(ds, f"{where}/{k}", False)
        if k == "param_index":
            dtype_ok(ds[()], "i4", f"{where}/{k}")
        else:
            info = h5py.check_string_dtype(ds.dtype)
            if info is None or info.encoding != "utf-8" or info.length is not None:
                err(f"{where}/{k}: not variable-length UTF-8 strings ({ds.dtype})")
    names = list(g["param_names"].asstr()[()])
    names_all = list(g["param_names_all"].asstr()[()])
    idx = g["param_index"][()]
    if np.any(idx < 0) or np.any(idx >= PA):
        err(f"{where}/param_index out of range: {idx}")
    elif names != [names_all[i] for i in idx]:
        err(f"{where}: param_names != param_names_all[param_index]")


def check_mom_piece(g, where, P):
    """The item records of a moments piece: mom_items [m] i8 increasing in [0, P] (item 0:
    the cost, 1 + k: tracked parameter k), mom_records [m, 18] f8 with exact flags 0 or 1."""
    items, recs = g["mom_items"], g["mom_records"]
    dtype_ok(items[()], "i8", f"{where}/mom_items")
    dtype_ok(recs[()], "f8", f"{where}/mom_records")
    check_storage(items, f"{where}/mom_items", False)
    check_storage(recs, f"{where}/mom_records", False)
    it, m = items[()], items.shape[0] if items.ndim == 1 else -1
    if items.ndim != 1 or m > P + 1 or recs.shape != (m, MOM_REC_LEN):
        err(f"{where}: mom_items {items.shape}, mom_records {recs.shape} for {P + 1} items")
    elif m and (np.any(np.diff(it) <= 0) or it[0] < 0 or it[-1] > P):
        err(f"{where}/mom_items {it} is not increasing within [0, {P}]")
    elif m and not set(np.unique(recs[()][:, MOM_REC_EXACT])) <= {0.0, 1.0}:
        err(f"{where}/mom_records: exact flags {np.unique(recs[()][:, MOM_REC_EXACT])}")


def check_mom_exact(g, where, a, ds):
    """exact = 1: finite values, log2 datasets and attributes consistent with the doubles,
    grad_var_mean the mean over the tracked parameters (in log2 too)."""
    if not np.all(np.isfinite(ds["grad_mean"])) or not math.isfinite(float(a["cost_mean"])):
        err(f"{where}: grad_mean or cost_mean not finite in an exact file")
    log2_matches(ds["grad_var"], ds["grad_var_log2"], f"{where}/grad_var_log2")
    log2_matches(a["cost_var"], a["cost_var_log2"], f"{where}@cost_var_log2")
    log2_matches(a["grad_var_mean"], a["grad_var_mean_log2"], f"{where}@grad_var_mean_log2")
    gv, l2 = ds["grad_var"], ds["grad_var_log2"]
    if not np.all(np.isfinite(l2) | (l2 == -np.inf)):
        return
    lm, got = log2_mean(l2), float(a["grad_var_mean_log2"])
    if not (lm == got == -math.inf) and abs(lm - got) > 1e-9 * max(1.0, abs(lm)):
        err(f"{where}@grad_var_mean_log2 = {got}, but the log2 of the mean of 2^grad_var_log2 "
            f"is {lm}")
    if lm > -1000.0:  # no underflow: the mean of the doubles
        close(a["grad_var_mean"], float(np.mean(gv)), f"{where}@grad_var_mean",
              float(np.max(gv)) if gv.size else 1.0)


def check_mom_bounds(g, where, a, ds):
    """exact = 0: NaN for the values, certified bounds 0 <= lower <= upper (log2 consistent,
    grad_var_mean_{lower,upper} their means)."""
    for k in ("grad_var", "grad_var_log2"):
        if not np.all(np.isnan(ds[k])):
            err(f"{where}/{k}: exact = 0 but not NaN")
    for k in ("cost_var", "cost_var_log2", "grad_var_mean", "grad_var_mean_log2"):
        if not math.isnan(float(a[k])):
            err(f"{where}@{k} = {a[k]}: exact = 0 but not NaN")
    lo, hi = ds["grad_var_lower"], ds["grad_var_upper"]
    if np.any(lo < 0) or np.any(lo > hi * (1 + 1e-12)) or not np.all(np.isfinite(hi)):
        err(f"{where}: certified bounds not 0 <= lower <= upper < inf: {lo} {hi}")
    log2_matches(lo, ds["grad_var_lower_log2"], f"{where}/grad_var_lower_log2")
    log2_matches(hi, ds["grad_var_upper_log2"], f"{where}/grad_var_upper_log2")
    for side in ("lower", "upper"):
        log2_matches(a[f"grad_var_mean_{side}"], a[f"grad_var_mean_{side}_log2"],
                     f"{where}@grad_var_mean_{side}_log2")
        lm, got = log2_mean(ds[f"grad_var_{side}_log2"]), float(a[f"grad_var_mean_{side}_log2"])
        if not (lm == got == -math.inf) and abs(lm - got) > 1e-9 * max(1.0, abs(lm)):
            err(f"{where}@grad_var_mean_{side}_log2 = {got}, the mean of the bounds gives {lm}")
    if not 0 <= float(a["cost_var_lower"]) <= float(a["cost_var_upper"]) * (1 + 1e-12):
        err(f"{where}: cost_var bounds {a['cost_var_lower']} > {a['cost_var_upper']}")


def check_group_mom(g, name, piece):
    """/n{N} of an exact-moments scan (README "Result files" (Moments files)): a complete file's exact values (or
    certified bounds), or a piece's item records. Returns the attributes."""
    where = f"/{name}"
    a = g.attrs
    exact = int(a["exact"]) if "exact" in a and not piece else 1
    spec = dict(MOM_N_ATTRS)
    if not piece:
        spec.update(MOM_VALUE_ATTRS)
        if exact == 0:
            spec.update(MOM_BOUND_ATTRS)
    attr_types(g, spec, where)
    keys = set(g.keys())
    want = MOM_PIECE_DSETS if piece else MOM_N_DSETS | (MOM_BOUND_DSETS if exact == 0 else set())
    for missing in sorted(want - keys):
        err(f"{where}: dataset {missing} missing")
    for extra in sorted(keys - want):
        err(f"{where}: unexpected member {extra}" +
            (" (no per-sample datasets in a moments file)" if extra in N_SAMPLE_DSETS else ""))
    if set(spec) - set(a.keys()) or want - keys:
        return None
    P, PA = int(a["num_tracked"]), int(a["num_params"])
    if int(a["n"]) != int(name[1:]):
        err(f"{where}@n = {a['n']}")
    if int(a["num_samples"]) != 0:
        err(f"{where}@num_samples = {a['num_samples']}, expected 0 (no samples)")
    if a["engine"] not in MOM_ENGINES:
        err(f"{where}@engine = {a['engine']!r}, expected one of {sorted(MOM_ENGINES)}")
    if not a["precision"]:
        err(f"{where}@precision is empty")
    if not 1 <= P <= PA or min(int(a["q_in"]), int(a["q_out"]), int(a["diag_qubits"])) < 1:
        err(f"{where}: {P} tracked of {PA} parameters, q_in {a['q_in']}, q_out {a['q_out']}, "
            f"diag_qubits {a['diag_qubits']}")
    check_params(g, where, P, PA)
    if piece:
        check_mom_piece(g, where, P)
        return a
    ds = {k: g[k][()] for k in ("grad_mean", "grad_var", "grad_var_log2", "grad_var_se")}
    if exact == 0:
        ds.update({k: g[k][()] for k in MOM_BOUND_DSETS})
    for k, v in ds.items():
        if g[k].shape != (P,):
            err(f"{where}/{k}: shape {g[k].shape}, expected ({P},)")
        dtype_ok(v, "f8", f"{where}/{k}")
        check_storage(g[k], f"{where}/{k}", False)
    if any(np.shape(v) != (P,) for v in ds.values()):
        return a
    for k in spec:
        if k.endswith("_se") and float(a[k]) != 0.0:
            err(f"{where}@{k} = {a[k]}, expected 0 (exact values)")
    if np.any(ds["grad_var_se"] != 0):
        err(f"{where}/grad_var_se is not 0")
    if exact not in (0, 1) or int(a["peak_pairs"]) < 0 or int(a["bond_dim"]) < 0:
        err(f"{where}: exact {a['exact']}, peak_pairs {a['peak_pairs']}, bond_dim {a['bond_dim']}")
    pur, dq = float(a["purity_mean"]), int(a["diag_qubits"])
    if not math.isnan(pur) and not 2.0 ** -dq * (1 - 1e-9) <= pur <= 1 + 1e-12:
        err(f"{where}@purity_mean = {pur} is outside [2^-{dq}, 1]")
    if exact == 1:
        check_mom_exact(g, where, a, ds)
    else:
        check_mom_bounds(g, where, a, ds)
    return a


def check_summary(s, groups, per_n, spec):
    """/summary: one entry per /n{N} in increasing n, each equal to that group's attribute of
    the same name (n: the qubit count)."""
    keys = set(s.keys())
    for missing in sorted(set(spec) - keys):
        err(f"/summary/{missing} missing")
    for extra in sorted(keys - set(spec)):
        err(f"unexpected member /summary/{extra}")
    K = len(groups)
    for k in sorted(keys & set(spec)):
        ds = s[k]
        if ds.shape != (K,):
            err(f"/summary/{k}: shape {ds.shape}, expected ({K},)")
            continue
        dtype_ok(ds[()], spec[k], f"/summary/{k}")
        check_storage(ds, f"/summary/{k}", False)
        for i, gname in enumerate(groups):
            a = per_n[gname]
            if a is None:
                continue
            want = int(gname[1:]) if k == "n" else a[k]
            got = ds[i]
            both_nan = bool(np.isnan(float(got)) and np.isnan(float(want)))
            if not (got == want or both_nan):
                err(f"/summary/{k}[{i}] = {got} but /{gname}@{k} = {want}")


JSON_ROLES = {"result", "ensemble", "layout", "output"}
JSON_REGISTERS = {"dqnn": {"widths"}, "vh": {"n_visible", "n_hidden"},
                  "qbm": {"n_visible", "n_hidden"}, "hea": {"layers"}}


def check_job_json(f, per_n):
    """The root attribute job_json (README "Result files"): members, types, roles, and the
    registers per qubit count against the /n{N} attributes."""
    try:
        j = json.loads(f.attrs["job_json"])
    except (KeyError, ValueError) as e:
        err(f"/@job_json does not parse as JSON: {e}")
        return
    if not isinstance(j, dict) or set(j) != {"format", "model", "mode", "sections", "roles",
                                             "qubits", "per_n"}:
        err(f"/@job_json: members {sorted(j) if isinstance(j, dict) else type(j).__name__}")
        return
    if j["format"] != 1 or j["model"] != f.attrs.get("model") or \
            j["mode"] not in ("gradient", "landscape", "moments") or \
            j["mode"] != f.attrs.get("mode", "gradient"):
        err(f"/@job_json: format {j['format']!r}, model {j['model']!r}, mode {j['mode']!r}")
    sec, roles = j["sections"], j["roles"]
    if {s: set(k) for s, k in sec.items()} != {s: set(k) for s, k in roles.items()}:
        err("/@job_json: sections and roles list different keys")
    for s, keys in sec.items():
        for k, v in keys.items():
            if not isinstance(v, (str, int, float, bool)):
                err(f"/@job_json: [{s}] {k} = {v!r} is not a scalar")
            if roles.get(s, {}).get(k) not in JSON_ROLES:
                err(f"/@job_json: [{s}] {k} has role {roles.get(s, {}).get(k)!r}")
    if sec.get("scan", {}).get("model") != j["model"] or \
            roles.get("output", {}).get("path") != "output" or \
            roles.get("scan", {}).get("seed") != "ensemble":
        err("/@job_json: [scan] model, or the roles of [output] path / [scan] seed")
    q = j["qubits"]
    if not (isinstance(q, list) and all(isinstance(n, int) for n in q) and q == sorted(set(q))):
        err(f"/@job_json: qubits {q!r} is not an increasing list of integers")
        return
    if [r.get("n") for r in j["per_n"]] != q:
        err("/@job_json: per_n does not follow qubits")
        return
    want = JSON_REGISTERS.get(j["model"], set())
    for r in j["per_n"]:
        n = r["n"]
        if set(r) - {"n"} != want:
            err(f"/@job_json: per_n n = {n} has {sorted(r)}, expected n and {sorted(want)}")
            continue
        a = per_n.get("n%d" % n)
        if a is None:
            continue
        if "widths" in r and (len(r["widths"]) < 2 or
                              [r["widths"][0], r["widths"][-1]] != [a["q_in"], a["q_out"]]):
            err(f"/@job_json: n = {n}: widths {r['widths']} vs q_in {a['q_in']}, q_out {a['q_out']}")
        if "n_visible" in r and (r["n_visible"] + r["n_hidden"] != a["q_out"] or
                                 r["n_visible"] != a["diag_qubits"]):
            err(f"/@job_json: n = {n}: visible/hidden {r['n_visible']}/{r['n_hidden']} vs "
                f"q_out {a['q_out']}, diag_qubits {a['diag_qubits']}")
        if "layers" in r and not (isinstance(r["layers"], int) and r["layers"] >= 1):
            err(f"/@job_json: n = {n}: layers {r['layers']!r}")


def check_hosts(f):
    """/@hosts: "name:ranks;..." covering ranks 0..mpi_ranks-1 once, the first entry's name
    = /@host (rank 0); a merged file: the pieces' values joined by " | "; "" = unknown."""
    hosts, ranks = f.attrs.get("hosts"), f.attrs.get("mpi_ranks")
    if not isinstance(hosts, str) or not hosts or ranks is None:
        return
    runs = hosts.split(" | ")
    if len(runs) > 1 and int(f.attrs.get("slice_count", 1)) > 1:
        err(f"/@hosts = {hosts!r}: several runs in an array-job piece")
    seen = []
    for run in runs:
        got, names = [], []
        for entry in run.split(";") if run else []:
            name, sep, rl = entry.rpartition(":")
            if not sep or not name or name in names:
                err(f"/@hosts: bad or repeated entry {entry!r}")
                return
            names.append(name)
            for part in rl.split(","):
                a, _, b = part.partition("-")
                if not a.isdigit() or (b and not b.isdigit()) or (b and int(b) < int(a)):
                    err(f"/@hosts: bad rank range {part!r} in {entry!r}")
                    return
                got += range(int(a), int(b or a) + 1)
        if run and sorted(got) != list(range(len(got))):
            err(f"/@hosts: the ranks of {run!r} are not 0..{len(got) - 1} once each")
        seen.append(len(got))
        if len(runs) == 1 and names and names[0] != f.attrs.get("host"):
            err(f"/@hosts: rank 0 on {names[0]!r} but /@host = {f.attrs.get('host')!r}")
    if all(seen) and sum(seen) != int(ranks):
        err(f"/@hosts: {sum(seen)} ranks listed, mpi_ranks = {int(ranks)}")


def check(path, synthetic):
    with h5py.File(path, "r") as f:
        attr_types(f, ROOT_ATTRS, "/")
        check_hosts(f)
        if f.attrs.get("schema_version") != 1:
            err(f"schema_version = {f.attrs.get('schema_version')}")
        for k in ("start_time", "end_time"):
            if not ISO.match(str(f.attrs.get(k, ""))):
                err(f"/@{k} = {f.attrs.get(k)!r} is not ISO 8601 UTC")
        groups = sorted((k for k in f.keys() if re.fullmatch(r"n[1-9]\d*", k)),
                        key=lambda k: int(k[1:]))
        for extra in sorted(set(f.keys()) - set(groups) - {"summary"}):
            err(f"unexpected member /{extra}")
        piece = int(f.attrs.get("slice_count", 1)) > 1
        if not 0 <= int(f.attrs.get("slice_index", 0)) < max(1, int(f.attrs.get("slice_count", 1))):
            err(f"/@slice_index {f.attrs.get('slice_index')} not in [0, slice_count)")
        if not piece and int(f.attrs.get("slice_index", 0)) != 0:
            err("a complete scan (slice_count 1) must have slice_index 0")
        mode = f.attrs.get("mode")
        moments = mode == "moments"
        if moments:
            per_n = {k: check_group_mom(f[k], k, piece) for k in groups}
            if not groups:
                err("a moments file without /n{N} groups")
        else:
            per_n = {k: check_group(f[k], k, piece) for k in groups}
        check_job_json(f, {k: a for k, a in per_n.items() if a is not None})
        land = any("landscape" in f[k] for k in groups)
        if mode not in ("gradient", "landscape", "moments"):
            err(f"/@mode = {mode!r}, expected 'gradient', 'landscape' or 'moments'")
        elif (mode == "landscape") != land:
            err(f"/@mode = {mode!r} but {'some' if land else 'no'} /n{{N}} has a landscape group")

        s = f.get("summary")
        if s is None:
            err("/summary missing")
        else:
            spec = (MOM_PIECE_SUMMARY if piece else MOM_SUMMARY) if moments else SUMMARY
            check_summary(s, groups, per_n, spec)

        if synthetic:
            r = f.attrs
            expect = {"model": "dqnn", "grad_method": "adjoint", "host": "node?01",
                      "start_time": "2023-11-14T22:13:20Z", "end_time": "2023-11-14T22:15:23Z"}
            for k, v in expect.items():
                if r.get(k) != v:
                    err(f"synthetic: /@{k} = {r.get(k)!r}, expected {v!r}")
            if int(r["seed"]) != 18446744073709551557 or int(r["job_hash"]) != 0xFEDCBA9876543210:
                err(f"synthetic: seed/job_hash {r['seed']} {r['job_hash']}")
            if int(r.get("slice_count", -1)) != 1 or int(r.get("slice_index", -1)) != 0:
                err("synthetic: a complete scan has slice_count 1, slice_index 0")
            if "qubits = 4:6:2\n" not in r["job"]:
                err("synthetic: job text")
            if groups != ["n4", "n6"]:
                err(f"synthetic: groups {groups}")
            else:
                if "params" not in f["n4"] or "params" in f["n6"]:
                    err("synthetic: params should be in /n4 only")
                if f["n4"]["param_names_all"].asstr()[1] != "\u03b8.l1.p1":
                    err("synthetic: UTF-8 parameter name")
                if list(f["n4"]["param_index"][()]) != [0, 2, 4]:
                    err("synthetic: param_index")
                if not math.isnan(f["n6"].attrs["page_entropy"]) or f["n4"].attrs["page_purity"] != 0.2:
                    err("synthetic: page_*")
                if f["n4"].attrs["representation"] != "dense":
                    err("synthetic: representation")
                if f["n4"]["cost"].shape != (100,):
                    err("synthetic: S")
                if "landscape" in f["n4"]:
                    check_synth_land(f)


def check_synth_land(f):
    """The landscape fields of synth_result_land (tests/t700-synth.h)."""
    for gname, dirs, K, ndeg in (("n4", "random", 4, 1), ("n6", "axes", 6, 3)):
        lg = f[gname]["landscape"]
        if lg.attrs["fields"].split(",") != SYNTH_FIELDS:
            err(f"synthetic: /{gname}/landscape@fields = {lg.attrs['fields']!r}")
        if lg.attrs["directions"] != dirs or int(lg.attrs["pad"]) != 8:
            err(f"synthetic: /{gname}/landscape directions/pad")
        deg = list(lg["degree"][()])
        if deg != ([K] if ndeg == 1 else [K, K, K - 1]) or list(lg["size"][()]) != [4 * K] * ndeg:
            err(f"synthetic: /{gname}/landscape degree {deg}")
        shapes = {"lipschitz": (100,), "spread": (100, 3), "power": (100, 3, K + 1),
                  "direction": (100, 3), "image": (100, 5, 4)}
        for k, shape in shapes.items():
            if lg[k].shape != shape:
                err(f"synthetic: /{gname}/landscape/{k} shape {lg[k].shape}, expected {shape}")
        if lg["lipschitz_mean"].shape != () or "direction_mean" in lg or "image_var" in lg:
            err(f"synthetic: /{gname}/landscape statistics datasets")
        if not set(np.unique(lg["direction"][()])) <= {-1.0, 1.0}:
            err(f"synthetic: /{gname}/landscape/direction is not +-1")


def check_file(path, synthetic=False):
    """The errors of one file (an empty list when it follows the schema)."""
    del errors[:]
    try:
        check(path, synthetic)
    except Exception as e:  # a broken file is a failed check, with the reason
        err(f"{type(e).__name__}: {e}")
    return list(errors)


def main():
    args = sys.argv[1:]
    synthetic = "--synthetic" in args
    files = [a for a in args if a != "--synthetic"]
    if len(files) != 1:
        print(__doc__, file=sys.stderr)
        return 2
    try:
        check(files[0], synthetic)
    except Exception as e:  # a broken file is a failed check, with the reason
        err(f"{type(e).__name__}: {e}")
    if errors:
        for e in errors:
            print(f"check_schema: {files[0]}: {e}", file=sys.stderr)
        return 1
    print(f"check_schema: {files[0]}: OK (h5py {h5py.__version__}, HDF5 {h5py.version.hdf5_version})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
