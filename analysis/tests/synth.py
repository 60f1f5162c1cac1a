"""Synthetic bpscan result files (schema 1, README "Result files"), written with h5py.

Per-sample gradients are drawn from normals of known variance, so the exact Var[dC](n) is
known; the cost and the diagnostics likewise. Used by the tests in place of the C program.
"""
import hashlib
import json
import math

import h5py
import numpy as np

DIAG = ("purity", "entropy", "renyi2", "trace_distance")
STR = h5py.string_dtype("utf-8")


class JobText(str):
    """A synthetic job text that also carries what bpscan stores in job_json for it: the keys
    by section with their values and roles (``json``) and the registers at n
    (``registers(n)``). Pass ``str(job)`` to write a file without job_json (an older bpscan)."""

    def __new__(cls, entries, registers, extra=""):
        text, sec = "", None
        sections, roles = {}, {}
        for section, key, value, role in entries:
            if section != sec:
                text += ("%s\n" % extra if sec == "noise" else "\n" if sec else "") + \
                    "[%s]\n" % section
                sec = section
            spelled = ("true" if value else "false") if isinstance(value, bool) else str(value)
            text += "%s = %s\n" % (key, spelled)
            sections.setdefault(section, {})[key] = value
            roles.setdefault(section, {})[key] = role
        self = super().__new__(cls, text)
        self.json = {"format": 1, "model": sections["scan"]["model"],
                     "mode": sections["scan"]["mode"], "sections": sections, "roles": roles}
        self.registers = registers
        return self


def _scan_keys(model, qubits, samples, seed, mode):
    return [("scan", "model", model, "result"), ("scan", "qubits", qubits, "ensemble"),
            ("scan", "samples", samples, "ensemble"), ("scan", "seed", seed, "ensemble"),
            ("scan", "block", 32, "layout"), ("scan", "representation", "auto", "result"),
            ("scan", "mode", mode, "result")]


def _tail_keys(path, landscape=None):
    keys = [("gradient", "method", "adjoint", "result"), ("gradient", "params", "all", "result")]
    if landscape:
        keys += [("landscape", "directions", landscape[0], "result"),
                 ("landscape", "pad", landscape[1], "result")]
    return keys + [("noise", "channel", "none", "result"), ("noise", "p", 0, "result"),
                   ("noise", "placement", "gate", "result"), ("output", "path", path, "output"),
                   ("output", "store_samples", True, "layout"),
                   ("output", "checkpoint_seconds", 300, "output")]


# the widths patterns the synthetic jobs use, and their number of layers (all of width n)
WIDTHS = {"n,n": 2, "n,n,n": 3}


def job_text(cost="global", perceptron="haar", qubits="1:6", samples=1000, seed=1,
             path="synthetic.h5", widths="n,n", extra=""):
    layers = WIDTHS[widths]
    keys = _scan_keys("dqnn", qubits, samples, seed, "gradient") + [
        ("dqnn", "widths", widths, "result"), ("dqnn", "perceptron", perceptron, "result"),
        ("dqnn", "depth", 0, "result"), ("cost", "type", cost, "result"),
        ("cost", "inputs", "zero", "result"), ("cost", "targets", "zero", "result"),
        ("cost", "pairs", 1, "result")] + _tail_keys(path)
    return JobText(keys, lambda n: {"widths": [n] * layers}, extra)


def default_hash(job):
    """Stands in for bpscan's job_hash: a hash of the job's keys without the output ones (of
    the whole text for a job without job_json)."""
    if hasattr(job, "json"):
        roles = job.json["roles"]
        keep = {s: {k: v for k, v in keys.items() if roles[s][k] != "output"}
                for s, keys in job.json["sections"].items()}
        job = json.dumps(keep, sort_keys=True)
    return int.from_bytes(hashlib.sha256(job.encode()).digest()[:8], "little")


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
        if hasattr(job, "json"):         # what bpscan writes: the job_json of this job
            ns = sorted(data)
            a.create("job_json", json.dumps(dict(job.json, qubits=ns, per_n=[
                dict(n=n, **job.registers(n)) for n in ns])), dtype=STR)
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


# ------------------------------------------------------------------------------------------
# Landscape scans ([scan] mode = landscape, README "Result files"): every cut is a random real
# trigonometric polynomial with known coefficients; the stored fields are computed from its
# N equispaced samples the way bpscan does (FFT, declared band, zero-padded fine grid).

CUT_SCALARS = ("cut_mean", "cut_var", "aliasing", "slope_fft", "slope_adjoint", "lipschitz",
               "bernstein", "spread", "cut_max", "cut_min")


def land_job_text(model="dqnn", directions="random", qubits="2:6", samples=200, seed=1,
                  path="land.h5", visible="1", hidden="n", pad=8):
    if model == "vh":
        if (visible, hidden) != ("1", "n"):
            raise ValueError("synthetic vh jobs have visible = 1, hidden = n")
        sec = [("vh", "visible", visible, "result"), ("vh", "hidden", hidden, "result"),
               ("vh", "layers", 1, "result"), ("vh", "objective", "pauli", "result"),
               ("vh", "pauli", "Z", "result")]
        registers = lambda n: {"n_visible": 1, "n_hidden": n}     # noqa: E731
    else:
        sec = [("dqnn", "widths", "n,n", "result"), ("dqnn", "perceptron", "haar", "result"),
               ("dqnn", "depth", 0, "result"), ("cost", "type", "global", "result")]
        registers = lambda n: {"widths": [n, n]}                  # noqa: E731
    return JobText(_scan_keys(model, qubits, samples, seed, "landscape") + sec +
                   _tail_keys(path, (directions, pad)), registers)


def cut_size(K, guard=None):
    """bpscan's bps_landscape_size: smallest odd 3^a 5^b 7^c >= 2(K + guard) + 1 (>= 3)."""
    g = 2 + K // 4 if guard is None else guard
    need = max(3, 2 * (K + g) + 1)
    N = need
    while True:
        m = N
        for p in (3, 5, 7):
            while m % p == 0:
                m //= p
        if m == 1:
            return N
        N += 2 if N % 2 else 1


def _profile(n, K, shift):
    """Relative power of degrees 1..K (sums to 1); shift: the weight moves up with n."""
    k = np.arange(1, K + 1, dtype=float)
    w = np.exp(-(k - 1) / (0.6 * n)) if shift else np.ones(K)
    return w / w.sum()


def _cut_fields(rng, S, K, amp, weights, pad, extra=0, c0=0.5):
    """Fields of S one-dimensional cuts of declared degree K (true degree K + extra)."""
    Kt = K + extra
    w = np.concatenate([weights, np.full(extra, weights.mean())]) if extra else weights
    # W_k = 2|c_k|^2 has mean amp^2 w_k
    c = (rng.standard_normal((S, Kt)) + 1j * rng.standard_normal((S, Kt))) * amp * np.sqrt(w / 4)
    c0s = c0 + 0.05 * rng.standard_normal(S)
    N = cut_size(K)
    k = np.arange(1, Kt + 1)
    t = 2 * np.pi * np.arange(N) / N
    f = c0s[:, None] + 2 * np.real(c @ np.exp(1j * np.outer(k, t)))
    X = np.fft.rfft(f, axis=1) / N                     # c_0 .. c_{floor(N/2)}
    band = X[:, :K + 1]
    W = 2 * np.abs(band) ** 2
    W[:, 0] = np.abs(band[:, 0]) ** 2
    alias = np.abs(X[:, K + 1:]).max(axis=1) if X.shape[1] > K + 1 else np.zeros(S)
    kk = np.arange(K + 1)
    slope_fft = -2 * np.sum(kk * band.imag, axis=1)
    slope_true = -2 * np.sum(k * c.imag, axis=1)
    nf = pad * N
    tf = 2 * np.pi * np.arange(nf) / nf
    E = np.exp(1j * np.outer(kk[1:], tf))
    ff = band[:, :1].real + 2 * np.real(band[:, 1:] @ E)
    fd = 2 * np.real((1j * kk[1:] * band[:, 1:]) @ E)
    fmax, fmin = ff.max(axis=1), ff.min(axis=1)
    out = dict(cut_mean=band[:, 0].real, cut_var=W[:, 1:].sum(axis=1), aliasing=alias,
               slope_fft=slope_fft, slope_adjoint=slope_true * (1 + 1e-15 * rng.standard_normal(S)),
               lipschitz=np.abs(fd).max(axis=1), bernstein=K * (fmax - fmin) / 2,
               spread=fmax - fmin, cut_max=fmax, cut_min=fmin, power=W)
    return out, N


def _plane_fields(rng, S, K1, K2, amp, pad, extra=0, c0=0.5):
    """Fields of S 2-D cuts of declared degrees K1, K2 (true degrees + extra)."""
    A, B = K1 + extra, K2 + extra
    a = np.arange(-A, A + 1)
    b = np.arange(-B, B + 1)
    tot = np.abs(a)[:, None] + np.abs(b)[None, :]
    sd = np.where(tot > 0, amp / np.sqrt(np.maximum(1, (2 * A + 1) * (2 * B + 1) - 1)), 0.0)
    C = (rng.standard_normal((S, a.size, b.size)) + 1j * rng.standard_normal((S, a.size, b.size))) * sd
    C = (C + np.conj(C[:, ::-1, ::-1])) / 2             # Hermitian: real f
    C[:, A, B] = c0 + 0.05 * rng.standard_normal(S)
    N1, N2 = cut_size(K1), cut_size(K2)
    t = 2 * np.pi * np.arange(N1) / N1
    u = 2 * np.pi * np.arange(N2) / N2
    img = np.real(np.einsum("ia,sij,jb->sab", np.exp(1j * np.outer(a, t)), C,
                            np.exp(1j * np.outer(b, u))))
    X = np.fft.fft2(img) / (N1 * N2)
    fa = np.rint(np.fft.fftfreq(N1) * N1).astype(int)
    fb = np.rint(np.fft.fftfreq(N2) * N2).astype(int)
    inband = (np.abs(fa)[:, None] <= K1) & (np.abs(fb)[None, :] <= K2)
    deg = np.abs(fa)[:, None] + np.abs(fb)[None, :]
    P2 = np.abs(X) ** 2
    W = np.stack([np.sum(P2[:, inband & (deg == k)], axis=1) for k in range(K1 + K2 + 1)], axis=1)
    alias = np.abs(X[:, ~inband]).max(axis=1) if (~inband).any() else np.zeros(S)
    Xb = np.where(inband, X, 0)
    slope_fft = np.stack([-np.sum(fa[:, None] * Xb.imag, axis=(1, 2)),
                          -np.sum(fb[None, :] * Xb.imag, axis=(1, 2))], axis=1)
    slope_true = np.stack([-np.sum(a[:, None] * C.imag, axis=(1, 2)),
                           -np.sum(b[None, :] * C.imag, axis=(1, 2))], axis=1)
    M1, M2 = pad * N1, pad * N2
    G = np.zeros((S, M1, M2), dtype=complex)
    ia, ib = np.nonzero(inband)
    G[:, fa[ia] % M1, fb[ib] % M2] = Xb[:, ia, ib]
    ff = np.real(np.fft.ifft2(G)) * M1 * M2
    gt = np.real(np.fft.ifft2(G * 1j * (np.fft.fftfreq(M1) * M1)[:, None])) * M1 * M2
    gu = np.real(np.fft.ifft2(G * 1j * (np.fft.fftfreq(M2) * M2)[None, :])) * M1 * M2
    fmax, fmin = ff.max(axis=(1, 2)), ff.min(axis=(1, 2))
    spread = fmax - fmin
    out = dict(cut_mean=X[:, 0, 0].real, cut_var=W[:, 1:].sum(axis=1), aliasing=alias,
               lipschitz=np.sqrt(gt ** 2 + gu ** 2).max(axis=(1, 2)),
               bernstein=math.hypot(K1, K2) * spread / 2, spread=spread, cut_max=fmax,
               cut_min=fmin, slope_fft=slope_fft,
               slope_adjoint=slope_true * (1 + 1e-15 * rng.standard_normal((S, 2))),
               power=W, image=img)
    return out, (N1, N2)


def draw_landscape(ns, directions="random", S=200, P=None, R=None, amp=None, seed=0, pad=8,
                   extra_degree=0, shift=True, names=None):
    """{n: draw()-like dict + "land"}: P(n) tracked parameters with frequencies R(n, j)
    (default 1), cut power amp(n)^2; extra_degree > 0 makes the true spectrum wider than
    the declared one (aliasing, wrong FFT slopes)."""
    P = P or (lambda n: 2 * n)
    R = R or (lambda n, j: 1)
    amp = amp or (lambda n: 0.5 * 2.0 ** (-n / 2))
    nm = names or (lambda n: ["l1.p%d.g1" % (j + 1) for j in range(P(n))])
    base = draw(ns, lambda n, p: 0.1 * 2.0 ** -n, S, names=nm, seed=seed + 1000)
    rng = np.random.default_rng(seed)
    for n in ns:
        p = P(n)
        r = np.array([R(n, j) for j in range(p)], dtype=int)
        if directions == "random":
            K = int(r.sum())
            fields, N = _cut_fields(rng, S, K, amp(n), _profile(n, K, shift), pad, extra_degree)
            degree, size, ncut = [K], [N], 1
            fields["direction"] = rng.choice([-1.0, 1.0], size=(S, p))
            fields["nu"] = np.ones((S, p))
        elif directions == "axes":
            K = int(r.max())
            per = []
            size = []
            for j in range(p):
                fj, Nj = _cut_fields(rng, S, int(r[j]), amp(n), _profile(n, int(r[j]), shift),
                                     pad, extra_degree)
                per.append(fj)
                size.append(Nj)
            fields = {k: np.stack([fj[k] for fj in per], axis=1) for k in CUT_SCALARS}
            pw = np.zeros((S, p, K + 1))
            for j, fj in enumerate(per):
                pw[:, j, :r[j] + 1] = fj["power"]
            fields["power"] = pw
            fields["nu"] = np.ones((S, p))
            degree, ncut = [int(x) for x in r], p
        elif directions == "plane":
            h = p // 2
            K1, K2 = int(r[:h].sum()), int(r[h:].sum())
            fields, (N1, N2) = _plane_fields(rng, S, K1, K2, amp(n), pad, extra_degree)
            d = np.zeros((S, 2, p))
            d[:, 0, :h] = rng.choice([-1.0, 1.0], size=(S, h))
            d[:, 1, h:] = rng.choice([-1.0, 1.0], size=(S, p - h))
            fields["direction"] = d
            fields["nu"] = np.ones((S, p))
            degree, size, ncut = [K1, K2], [N1, N2], 1
        else:
            raise ValueError(directions)
        order = LAND_FIELDS[directions]
        base[n]["land"] = dict(directions=directions, pad=pad, num_cuts=ncut, degree=degree,
                               size=size, fields={k: fields[k] for k in order})
    return base


LAND_FIELDS = {
    "random": CUT_SCALARS + ("power", "direction", "nu"),
    "axes": CUT_SCALARS + ("power", "nu"),
    "plane": ("cut_mean", "cut_var", "aliasing", "lipschitz", "bernstein", "spread", "cut_max",
              "cut_min", "slope_fft", "slope_adjoint", "power", "direction", "nu", "image"),
}
NO_STATS = ("direction", "nu", "image")


def _stats(x):
    """Element-wise mean, mean_se, var, var_se (stats.h), written independently of the package."""
    S = x.shape[0]
    out = {"_mean": np.empty(x.shape[1:]), "_mean_se": np.empty(x.shape[1:]),
           "_var": np.empty(x.shape[1:]), "_var_se": np.empty(x.shape[1:])}
    for idx in np.ndindex(*x.shape[1:]):
        col = x[(slice(None),) + idx]
        m = float(np.sum(col)) / S
        v = float(np.sum((col - m) ** 2)) / (S - 1)
        m4 = float(np.sum((col - m) ** 4)) / S
        out["_mean"][idx] = m
        out["_mean_se"][idx] = math.sqrt(v / S)
        out["_var"][idx] = v
        out["_var_se"][idx] = math.sqrt(max(0.0, (m4 - (S - 3) / (S - 1) * v * v) / S))
    return out


def write_landscape(path, data, job=None, rows=None, mode="landscape", stats=True, **kw):
    """write() plus the /n{N}/landscape groups and the root attribute mode."""
    job = job if job is not None else land_job_text(path=str(path))
    write(path, data, job=job, rows=rows, **kw)
    with h5py.File(path, "a") as f:
        if mode is not None:
            f.attrs.create("mode", mode, dtype=STR)
        for n, d in sorted(data.items()):
            L = d["land"]
            sel = rows[n] if rows is not None else np.arange(d["cost"].size)
            g = f["n%d" % n].create_group("landscape")
            g.attrs.create("directions", L["directions"], dtype=STR)
            g.attrs.create("pad", L["pad"], dtype="<i4")
            g.attrs.create("num_cuts", L["num_cuts"], dtype="<i4")
            g.attrs.create("fields", ",".join(L["fields"]), dtype=STR)
            g.create_dataset("degree", data=np.array(L["degree"], dtype="<i4"))
            g.create_dataset("size", data=np.array(L["size"], dtype="<i4"))
            for k, x in L["fields"].items():
                x = np.asarray(x, dtype="<f8")[sel]
                _dset(g, k, x, True)
                if stats and k not in NO_STATS:
                    for suf, v in _stats(x).items():
                        g.create_dataset(k + suf, data=np.asarray(v, dtype="<f8"))
    return str(path)


# ------------------------------------------------------------------------------------------
# Moments scans ([scan] mode = moments, README "Result files", Moments files): exact second moments,
# no per-sample rows; every *_se is 0 and values go below the double range (use *_log2).

def moments_job_text(qubits="2:6", path="moments.h5", cost="global", engine="auto"):
    keys = _scan_keys("dqnn", qubits, 0, 1, "moments") + [
        ("dqnn", "widths", "n,n", "result"), ("dqnn", "perceptron", "toy", "result"),
        ("dqnn", "depth", 0, "result"), ("cost", "type", cost, "result"),
        ("cost", "inputs", "zero", "result"), ("cost", "targets", "zero", "result"),
        ("cost", "pairs", 1, "result"), ("moments", "engine", engine, "result")] + _tail_keys(path)
    return JobText(keys, lambda n: {"widths": [n, n]})


def _exp2(x):
    with np.errstate(over="ignore", under="ignore"):
        return np.exp2(np.asarray(x, dtype=float))


def _log2_mean(l2):
    l2 = np.asarray(l2, dtype=float)
    if np.any(np.isnan(l2)):
        return math.nan
    m = float(np.max(l2))
    return m if not math.isfinite(m) else m + math.log2(float(np.mean(np.exp2(l2 - m))))


def write_moments(path, points, job=None, names=("l1.p1.g1", "l1.p2.g1"), engine="chain"):
    """points: {n: dict(log2=[P] log2 Var dC, or None with bounds=([P] lo, [P] hi) for an
    exact = 0 point; cost_log2=..., purity=...)}. Writes the README "Result files" (Moments files) layout."""
    job = job if job is not None else moments_job_text(path=str(path))
    P = len(names)
    with h5py.File(path, "w") as f:
        a = f.attrs
        a.create("schema_version", 1, dtype="<i4")
        for k, v in (("bpscan_version", "0.1.0"), ("git_commit", "synthetic"), ("hdf5_version", "1.10"),
                     ("job", job), ("model", "dqnn"), ("grad_method", "adjoint"), ("host", "test"),
                     ("start_time", ""), ("end_time", ""), ("mode", "moments")):
            a.create(k, v, dtype=STR)
        a.create("job_hash", default_hash(job), dtype="<u8")
        if hasattr(job, "json"):
            ns = sorted(points)
            a.create("job_json", json.dumps(dict(job.json, qubits=ns, per_n=[
                dict(n=n, **job.registers(n)) for n in ns])), dtype=STR)
        a.create("seed", 1, dtype="<u8")
        for k in ("mpi_ranks", "omp_threads"):
            a.create(k, 1, dtype="<i4")
        a.create("slice_index", 0, dtype="<i4")
        a.create("slice_count", 1, dtype="<i4")
        summary = {k: [] for k in ("n", "grad_var_mean", "grad_var_mean_log2", "grad_var_mean_se",
                                   "cost_mean", "cost_var", "cost_var_log2", "purity_mean", "exact")}
        for n, pt in sorted(points.items()):
            g = f.create_group("n%d" % n)
            exact = pt.get("log2") is not None
            nan = np.full(P, np.nan)
            l2 = np.asarray(pt["log2"], dtype=float) if exact else nan
            g.create_dataset("grad_mean", data=np.zeros(P))
            g.create_dataset("grad_var", data=_exp2(l2))
            g.create_dataset("grad_var_log2", data=l2)
            g.create_dataset("grad_var_se", data=np.zeros(P))
            g.create_dataset("param_names", data=np.array(names, dtype=object), dtype=STR)
            g.create_dataset("param_names_all", data=np.array(names, dtype=object), dtype=STR)
            g.create_dataset("param_index", data=np.arange(P, dtype="<i4"))
            at = g.attrs
            at.create("n", n, dtype="<i4")
            at.create("exact", int(exact), dtype="<i4")
            at.create("engine", engine, dtype=STR)
            at.create("precision", "double", dtype=STR)
            at.create("peak_pairs", 64, dtype="<i8")
            at.create("bond_dim", 1, dtype="<i4")
            at.create("num_samples", 0, dtype="<i8")
            cl2 = pt.get("cost_log2", math.nan)
            mean_l2 = _log2_mean(l2) if exact else math.nan
            for k, v in (("cost_mean", 0.5), ("cost_var", float(_exp2(cl2))), ("cost_var_log2", cl2),
                         ("grad_var_mean", float(_exp2(mean_l2))), ("grad_var_mean_log2", mean_l2),
                         ("purity_mean", pt.get("purity", math.nan)), ("grad_var_mean_se", 0.0),
                         ("cost_var_se", 0.0), ("cost_mean_se", 0.0)):
                at.create(k, v, dtype="<f8")
            if not exact:
                lo, hi = (np.asarray(b, dtype=float) for b in pt["bounds"])
                for k, v in (("grad_var_lower", _exp2(lo)), ("grad_var_upper", _exp2(hi)),
                             ("grad_var_lower_log2", lo), ("grad_var_upper_log2", hi)):
                    g.create_dataset(k, data=v)
                for k, v in (("lower", _log2_mean(lo)), ("upper", _log2_mean(hi))):
                    at.create("grad_var_mean_%s_log2" % k, v, dtype="<f8")
                    at.create("grad_var_mean_%s" % k, float(_exp2(v)), dtype="<f8")
            for k, v in (("n", n), ("grad_var_mean", float(_exp2(mean_l2))),
                         ("grad_var_mean_log2", mean_l2), ("grad_var_mean_se", 0.0),
                         ("cost_mean", 0.5), ("cost_var", float(_exp2(cl2))), ("cost_var_log2", cl2),
                         ("purity_mean", pt.get("purity", math.nan)), ("exact", int(exact))):
                summary[k].append(v)
        s = f.create_group("summary")
        for k, v in summary.items():
            t = "<i4" if k in ("n", "exact") else "<f8"
            s.create_dataset(k, data=np.array(v, dtype=t))
    return str(path)
