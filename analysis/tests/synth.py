"""Synthetic bpscan result files (schema 1, README "Result files"), written with h5py.

Per-sample gradients are drawn from normals of known variance, so the exact Var[dC](n) is
known; the cost and the diagnostics likewise. Used by the tests in place of the C program.
"""
import hashlib
import math

import h5py
import numpy as np

DIAG = ("purity", "entropy", "renyi2", "trace_distance")
STR = h5py.string_dtype("utf-8")


def job_text(cost="global", perceptron="haar", qubits="1:6", samples=1000, seed=1,
             path="synthetic.h5", widths="n,n", extra=""):
    return ("[scan]\nmodel = dqnn\nqubits = %s\nsamples = %d\nseed = %d\nblock = 32\n"
            "representation = auto\nmode = gradient\n\n[dqnn]\nwidths = %s\nperceptron = %s\n"
            "depth = 0\n\n[cost]\ntype = %s\ninputs = zero\ntargets = zero\npairs = 1\n\n"
            "[gradient]\nmethod = adjoint\nparams = all\n\n[noise]\nchannel = none\np = 0\n"
            "placement = gate\n%s\n[output]\npath = %s\nstore_samples = true\n"
            "checkpoint_seconds = 300\n" % (qubits, samples, seed, widths, perceptron, cost,
                                             extra, path))


def default_hash(job):
    """Like bpscan's job_hash: a hash of the job text without [output] path/checkpoint_seconds."""
    keep = [ln for ln in job.splitlines()
            if not ln.replace(" ", "").startswith(("path=", "checkpoint_seconds="))]
    return int.from_bytes(hashlib.sha256("\n".join(keep).encode()).digest()[:8], "little")


def _var_se(x):
    S = len(x)
    d = x - x.mean()
    s2 = float(d @ d) / (S - 1)
    m4 = float(np.mean(d ** 4))
    return s2, math.sqrt(max(0.0, (m4 - (S - 3) / (S - 1) * s2 * s2) / S))


def draw(ns, var, S, names=None, cost_var=None, seed=0, page=None, diag_shift=0.0):
    """{n: dict(grad, cost, diag, names, page_entropy, page_purity)} with
    grad[:, p] ~ N(0, var(n, name_p)), cost ~ N(0.5, cost_var(n)), entropy ~ page +- noise."""
    rng = np.random.default_rng(seed)
    out = {}
    for n in ns:
        nm = list(names(n)) if callable(names) else (names or ["l1.p%d.g1" % (j + 1) for j in range(2)])
        sd = np.array([math.sqrt(var(n, p)) for p in nm])
        grad = rng.standard_normal((S, len(nm))) * sd
        cv = cost_var(n) if cost_var else 0.01
        cost = 0.5 + math.sqrt(cv) * rng.standard_normal(S)
        pe, pp = (page(n) if page else (math.nan, math.nan))
        ent_c = (pe if math.isfinite(pe) else 0.3 * n) + diag_shift
        pur_c = (pp if math.isfinite(pp) else 2.0 ** -n)
        diag = np.column_stack([pur_c + 0.01 * rng.standard_normal(S),
                                ent_c + 0.01 * rng.standard_normal(S),
                                -np.log(pur_c) + 0.01 * rng.standard_normal(S),
                                0.5 * 2.0 ** (-n / 2) * (1 + 0.05 * rng.standard_normal(S))])
        td = 0.5 * 2.0 ** (-n / 2)
        if page:
            from bpscan_analysis.haar import trace_distance_one_qubit
            td = trace_distance_one_qubit(2.0 ** n) if n >= 1 else td
        diag[:, 3] = td * (1 + 0.05 * rng.standard_normal(S)) + diag_shift
        out[n] = dict(grad=grad, cost=cost, diag=diag, names=nm, page_entropy=pe, page_purity=pp)
    return out


def _dset(g, name, x, per_sample):
    """Per-sample datasets: row chunks (<= 4096 rows, <= 1 MiB), shuffle + deflate 4."""
    if per_sample and x.size:
        cols = x.shape[1] if x.ndim == 2 else 1
        rows = min(x.shape[0], 4096, max(1, 2 ** 20 // (8 * cols)))
        g.create_dataset(name, data=x, chunks=(rows,) + x.shape[1:], shuffle=True,
                         compression="gzip", compression_opts=4)
    else:
        g.create_dataset(name, data=x)


def write(path, data, job=None, seed=1, job_hash=None, schema_version=1, rows=None,
          slice_index=None, slice_count=None, drop=(), no_schema=False, diag_qubits=None):
    """Write data (from draw) as a result file. rows: {n: sample numbers} makes an
    array-job piece (sample_index, samples_total, slice_index/slice_count)."""
    job = job if job is not None else job_text(seed=seed, path=str(path))
    with h5py.File(path, "w") as f:
        a = f.attrs
        if not no_schema:
            a.create("schema_version", schema_version, dtype="<i4")
        for k, v in (("bpscan_version", "0.1.0"), ("git_commit", "synthetic"), ("hdf5_version", "1.10"),
                     ("job", job), ("model", "dqnn"), ("grad_method", "adjoint"), ("host", "test"),
                     ("start_time", ""), ("end_time", "")):
            a.create(k, v, dtype=STR)
        a.create("job_hash", job_hash if job_hash is not None else default_hash(job), dtype="<u8")
        a.create("seed", seed, dtype="<u8")
        for k in ("mpi_ranks", "omp_threads"):
            a.create(k, 1, dtype="<i4")
        for k in ("start_unix", "end_unix", "wall_plan", "wall_compute", "wall_reduce", "wall_write"):
            a.create(k, 0.0, dtype="<f8")
        a.create("slice_index", slice_index or 0, dtype="<i4")
        a.create("slice_count", slice_count or 1, dtype="<i4")
        summary = {k: [] for k in ("n", "num_samples", "grad_var_mean", "grad_var_mean_se",
                                   "cost_mean", "cost_mean_se", "cost_var", "cost_var_se",
                                   "page_entropy", "page_purity")}
        for name in DIAG:
            summary[name + "_mean"] = []
            summary[name + "_mean_se"] = []
        for n, d in sorted(data.items()):
            sel = rows[n] if rows is not None else np.arange(d["cost"].size)
            grad, cost, diag = d["grad"][sel], d["cost"][sel], d["diag"][sel]
            S, P = grad.shape
            g = f.create_group("n%d" % n)
            ds = {"cost": cost, "grad": grad, "diag": diag}
            gv = [_var_se(grad[:, p]) for p in range(P)]
            ds["grad_mean"] = grad.mean(axis=0)
            ds["grad_var"] = np.array([v for v, _ in gv])
            ds["grad_var_se"] = np.array([s for _, s in gv])
            for k, v in ds.items():
                if k not in drop:
                    _dset(g, k, np.asarray(v, dtype="<f8"), k in ("cost", "grad", "diag"))
            if "diag" not in drop:
                g["diag"].attrs.create("columns", ",".join(DIAG), dtype=STR)
            if "param_names" not in drop:
                g.create_dataset("param_names", data=np.array(d["names"], dtype=object), dtype=STR)
            g.create_dataset("param_names_all", data=np.array(d["names"], dtype=object), dtype=STR)
            g.create_dataset("param_index", data=np.arange(P, dtype="<i4"))
            if rows is not None:
                _dset(g, "sample_index", np.asarray(sel, dtype="<i8"), True)
                g.attrs.create("samples_total", d["cost"].size, dtype="<i8")
            c = grad - grad.mean(axis=0)
            z = np.mean(c * c, axis=1) * S / (S - 1)
            cv, cse = _var_se(cost)
            dq = n if diag_qubits is None else diag_qubits
            zse = z.std(ddof=1) / math.sqrt(S)
            at = dict(n=("<i4", n), num_samples=("<i8", S), num_params=("<i4", P),
                      num_tracked=("<i4", P), q_in=("<i4", n), q_out=("<i4", n),
                      diag_qubits=("<i4", dq), cost_mean=("<f8", cost.mean()),
                      cost_mean_se=("<f8", cost.std(ddof=1) / math.sqrt(S)),
                      cost_var=("<f8", cv), cost_var_se=("<f8", cse),
                      grad_var_mean=("<f8", z.mean()), grad_var_mean_se=("<f8", zse),
                      page_entropy=("<f8", d["page_entropy"]), page_purity=("<f8", d["page_purity"]))
            for j, name in enumerate(DIAG):
                col = diag[:, j]
                at[name + "_mean"] = ("<f8", col.mean())
                at[name + "_mean_se"] = ("<f8", col.std(ddof=1) / math.sqrt(S))
                at[name + "_var"] = ("<f8", col.var(ddof=1))
            for k, (t, v) in at.items():
                g.attrs.create(k, v, dtype=t)
            g.attrs.create("representation", "dense", dtype=STR)
            for k in summary:
                summary[k].append(at[k][1])
        s = f.create_group("summary")
        for k, v in summary.items():
            t = "<i4" if k == "n" else "<i8" if k == "num_samples" else "<f8"
            s.create_dataset(k, data=np.array(v, dtype=t))
    return str(path)


def page_values(n):
    """Page entropy and purity for n_A = 1 qubit against n_B = n (physics.md Sec. 4.9)."""
    da, db = 2.0, 2.0 ** n
    ent = sum(1.0 / k for k in range(int(db) + 1, int(da * db) + 1)) - (da - 1) / (2 * db)
    return ent, (da + db) / (da * db + 1)
