"""Landscape scans ([scan] mode = landscape): loading, merging, the Lipschitz law, the
self-check, the figures and `bpfit landscape` (synthetic files following README "Result files")."""
import csv
import json
import math
import os
import subprocess
import sys

import h5py
import numpy as np
import pytest

import synth
from bpscan_analysis import (AnalysisError, analyze, analyze_landscape, column_stats,
                             fit_lipschitz, fourier_upsample, load, plot_images,
                             plot_lipschitz, plot_spectra, plot_spread, read_result, summarize,
                             vh_registers)
from bpscan_analysis.cli import main
from bpscan_analysis.landscape import LandscapePoint

BPFIT = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "bpfit")
MAGIC = {".png": b"\x89PNG\r\n\x1a\n", ".pdf": b"%PDF-"}
VH_AMP = 0.7            # lipschitz ∝ VH_AMP sqrt(D_v/D_h) (the cut amplitude scales so)


def vh_amp(n):
    return VH_AMP * 2.0 ** ((1 - n) / 2)        # visible = 1, hidden = n


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    t = tmp_path_factory.mktemp("land")
    out = {}
    for d, ns, S, pad in (("random", range(2, 7), 150, 8), ("axes", range(2, 6), 100, 8),
                          ("plane", range(2, 5), 40, 4)):
        data = synth.draw_landscape(ns, d, S=S, pad=pad, seed=7)
        out[d] = synth.write_landscape(t / ("%s.h5" % d), data,
                                       job=synth.land_job_text(directions=d, pad=pad))
        out[d + "_data"] = data
    vh = synth.draw_landscape(range(2, 10), "random", S=150, P=lambda n: 3, amp=vh_amp,
                              shift=False, seed=11, names=lambda n: ["l1.t1", "l1.t2", "l1.t3"])
    out["vh"] = synth.write_landscape(t / "vh.h5", vh, job=synth.land_job_text(model="vh",
                                                                               qubits="2:9"))
    bad = synth.draw_landscape(range(2, 5), "random", S=30, seed=4, extra_degree=2)
    out["bad"] = synth.write_landscape(t / "bad.h5", bad, job=synth.land_job_text(path="bad.h5"))
    out["gradient"] = synth.write(t / "grad.h5", synth.draw(range(1, 4), lambda n, p: 0.1, 50))
    out["dir"] = t
    return out


def check_figure(path):
    ext = os.path.splitext(str(path))[1]
    with open(path, "rb") as fh:
        head = fh.read(8)
    assert os.path.getsize(path) > 2000 and head.startswith(MAGIC[ext]), path


# ------------------------------------------------------------------------------------------
# Loading


SCALARS = synth.CUT_SCALARS


@pytest.mark.parametrize("d", ["random", "axes", "plane"])
def test_load_variants(files, d):
    rf = read_result(files[d])
    assert rf.mode == "landscape"
    (scan,) = load([files[d]])
    assert scan.mode == "landscape"
    for n, q in scan.data.items():
        L = q.land
        S, P = q.samples, len(q.param_names)
        assert L.directions == d and L.samples == S and L.pad == (4 if d == "plane" else 8)
        assert L.field_names == synth.LAND_FIELDS[d]
        assert set(L.stats_fields) == set(synth.LAND_FIELDS[d]) - set(synth.NO_STATS)
        if d == "random":
            assert L.num_cuts == 1 and L.degree.tolist() == [P] and L.field("power").shape == (S, P + 1)
            assert L.field("lipschitz").shape == (S,) and L.field("direction").shape == (S, P)
        elif d == "axes":
            assert L.num_cuts == P and L.degree.tolist() == [1] * P
            assert L.field("lipschitz").shape == (S, P) and L.field("power").shape == (S, P, 2)
        else:
            K1, K2 = L.degree.tolist()
            N1, N2 = L.size.tolist()
            assert L.field("image").shape == (S, N1, N2) and L.field("slope_fft").shape == (S, 2)
            assert L.field("power").shape == (S, K1 + K2 + 1)
            assert L.field("direction").shape == (S, 2, P)
        assert np.all(L.size >= 2 * L.degree + 1)


@pytest.mark.parametrize("d", ["random", "axes", "plane"])
def test_recomputed_statistics_equal_the_stored_ones(files, d):
    (scan,) = load([files[d]])
    with h5py.File(files[d], "r") as f:
        for n, q in scan.data.items():
            g = f["n%d/landscape" % n]
            for k in q.land.stats_fields:
                st = q.land.stats(k)
                for suf in ("mean", "mean_se", "var", "var_se"):
                    np.testing.assert_allclose(st[suf], g["%s_%s" % (k, suf)][()], rtol=1e-10,
                                               atol=1e-300, err_msg="%s n=%d %s" % (k, n, suf))


def test_column_stats_small_samples():
    st = column_stats(np.array([[2.0, 3.0]]))
    assert st["mean"].tolist() == [2.0, 3.0] and st["var"].tolist() == [0.0, 0.0]
    assert np.all(np.isnan(column_stats(np.zeros((0, 2)))["mean"]))


def test_gradient_files_have_no_landscape(files, capsys):
    rf = read_result(files["gradient"])
    assert rf.mode == "gradient" and all(q.land is None for q in rf.data.values())
    (scan,) = load([files["gradient"]])
    with pytest.raises(AnalysisError, match="not a landscape scan"):
        summarize(scan)
    assert main(["landscape", files["gradient"]]) == 2
    assert "not a landscape scan" in capsys.readouterr().err


def test_landscape_files_still_fit_as_gradient_scans(files):
    rep = analyze([files["random"]], bootstrap=0)
    assert rep.fit(quantity="grad").n.size == 5


def test_bad_landscape_files(files, tmp_path):
    data = synth.draw_landscape(range(2, 4), "random", S=20, seed=1)
    p = synth.write_landscape(tmp_path / "a.h5", data)
    with h5py.File(p, "a") as f:
        del f["n3/landscape"]
    with pytest.raises(AnalysisError, match="n3: group 'landscape' missing"):
        read_result(p)
    p = synth.write_landscape(tmp_path / "b.h5", data, mode="sideways")
    with pytest.raises(AnalysisError, match="unknown mode 'sideways'"):
        read_result(p)
    p = synth.write_landscape(tmp_path / "c.h5", data)
    with h5py.File(p, "a") as f:
        del f["n2/landscape/lipschitz"]
        f["n2/landscape"].create_dataset("lipschitz", data=np.zeros(7))
    with pytest.raises(AnalysisError, match="lipschitz has shape"):
        read_result(p)
    p = synth.write_landscape(tmp_path / "d.h5", data)
    with h5py.File(p, "a") as f:
        f["n2/landscape"].attrs["directions"] = "spiral"
    with pytest.raises(AnalysisError, match="unknown directions 'spiral'"):
        read_result(p)
    # no mode attribute: a gradient file, but a landscape group is still read
    p = synth.write_landscape(tmp_path / "e.h5", data, mode=None)
    assert read_result(p).mode == "gradient" and load([p])[0].mode == "landscape"


# ------------------------------------------------------------------------------------------
# Merging


def land_pieces(tmp_path, data, k, order, d="random", overlap=None):
    paths = []
    for i in order:
        rows = {}
        for n, x in data.items():
            idx = np.arange(x["cost"].size)
            sel = idx % k == i
            if overlap is not None:
                sel |= idx == overlap
            rows[n] = idx[sel]
        paths.append(synth.write_landscape(
            tmp_path / ("piece%d.h5" % i), data, rows=rows, slice_index=i, slice_count=k,
            job=synth.land_job_text(directions=d, path="piece%d.h5" % i)))
    return paths


@pytest.mark.parametrize("d", ["random", "axes"])
def test_two_pieces_merge_to_the_full_scan(files, tmp_path, d):
    data = files[d + "_data"]
    (full,) = load([files[d]])
    (merged,) = load(land_pieces(tmp_path, data, 2, order=[1, 0], d=d))
    assert len(merged.files) == 2 and not merged.warnings
    for n, q in full.data.items():
        m = merged.data[n]
        assert np.array_equal(m.index, np.arange(q.samples))
        for k, v in q.land.fields.items():
            assert np.array_equal(m.land.fields[k], v), k
    a, b = summarize(full), summarize(merged)
    for p, r in zip(a.points, b.points):
        assert p.to_dict() == r.to_dict()
    assert a.law.to_dict() == b.law.to_dict()


def test_merge_refuses_conflicts(files, tmp_path):
    data = synth.draw_landscape(range(2, 4), "random", S=20, seed=2)
    p0, p1 = land_pieces(tmp_path, data, 2, order=[0, 1], overlap=3)   # sample 3 in both
    (s,) = load([p0, p1])                                           # identical: counted once
    assert s.data[2].samples == 20 and any("appear twice" in w for w in s.warnings)
    with h5py.File(p0, "a") as f:                                   # now they differ
        x = f["n2/landscape/lipschitz"][()]
        x[np.nonzero(f["n2/sample_index"][()] == 3)[0][0]] += 1e-3
        f["n2/landscape/lipschitz"][...] = x
    with pytest.raises(AnalysisError, match="conflicting duplicates: n=2 sample 3"):
        load([p0, p1])
    other = synth.draw_landscape(range(2, 4), "random", S=20, seed=2, pad=4)
    q = synth.write_landscape(tmp_path / "pad4.h5", other, rows={n: np.arange(10, 20) for n in other},
                              slice_index=1, slice_count=2, job=synth.land_job_text(path="x.h5"))
    r = synth.write_landscape(tmp_path / "pad8.h5", data, rows={n: np.arange(10) for n in data},
                              slice_index=0, slice_count=2, job=synth.land_job_text(path="y.h5"))
    with pytest.raises(AnalysisError, match="different landscape cuts"):
        load([q, r])


# ------------------------------------------------------------------------------------------
# Reductions and the Lipschitz law


def test_per_n_reductions(files):
    for d in ("random", "axes", "plane"):
        (scan,) = load([files[d]])
        s = summarize(scan)
        assert s.directions == d and list(s.n) == sorted(scan.data)
        for p in s.points:
            L = scan.data[p.n].land
            lip = L.field("lipschitz")
            per = lip.mean(axis=1) if d == "axes" else lip
            assert p.lipschitz == pytest.approx(per.mean(), rel=1e-12)
            assert p.lipschitz_se == pytest.approx(per.std(ddof=1) / math.sqrt(per.size), rel=1e-10)
            assert p.cut_var == pytest.approx(L.field("cut_var").mean(), rel=1e-12)
            assert np.sum(p.spectrum) == pytest.approx(1.0, rel=1e-10)   # Parseval
            assert np.all(p.bernstein >= p.lipschitz * (1 - 1e-9))
            assert p.selfcheck_ok and p.max_aliasing < 1e-14 and p.max_slope_diff < 1e-12
        assert not s.warnings and s.law.law is False and s.model == "dqnn"


def test_vh_registers_from_job_json(files, tmp_path):
    """n_v, n_h come from the job_json registers bpscan writes; older files (no job_json) use
    the /n{N} attributes diag_qubits = n_v and q_out = n_v + n_h."""
    (vh,) = load([files["vh"]])
    assert vh.registers(3) == {"n": 3, "n_visible": 1, "n_hidden": 3}
    assert [vh_registers(vh, n) for n in (2, 5)] == [(1, 2), (1, 5)]
    (dq,) = load([files["random"]])
    assert vh_registers(dq, 3) is None and dq.registers(3) == {"n": 3, "widths": [3, 3]}
    data = synth.draw_landscape(range(2, 5), "random", S=20, P=lambda n: 3, seed=3,
                                names=lambda n: ["l1.t1", "l1.t2", "l1.t3"])
    old = synth.write_landscape(tmp_path / "old.h5", data,
                                job=str(synth.land_job_text(model="vh", qubits="2:4")))
    with h5py.File(old, "a") as f:
        f.attrs.modify("model", "vh")    # what an older bpscan wrote for this job
    (s,) = load([old])
    assert s.job_json is None and s.model == "vh" and s.settings == {"scan.model": "vh"}
    with pytest.raises(AnalysisError, match="no visible/hidden registers"):
        vh_registers(s, 3)             # synth writes diag_qubits = q_out = n: no hidden register
    with h5py.File(old, "a") as f:
        for n in (2, 3, 4):
            f["n%d" % n].attrs["diag_qubits"] = np.int32(1)
            f["n%d" % n].attrs["q_out"] = np.int32(n + 1)
    (s,) = load([old])
    assert [vh_registers(s, n) for n in (2, 3, 4)] == [(1, 2), (1, 3), (1, 4)]


def test_law_fit_exact_points():
    pts = []
    for n in range(2, 8):
        nv, nh = 2, 2 * n - 1
        L = 3.0 * math.sqrt(2.0 ** nv / 2.0 ** nh)
        pts.append(LandscapePoint(n=n, samples=100, directions="random", degree=[4], size=[11],
                                  n_v=nv, n_h=nh, lipschitz=L, lipschitz_se=0.01 * L))
    f = fit_lipschitz(pts)
    assert f.law and f.prefactor == pytest.approx(3.0, rel=1e-12)
    assert f.slope == pytest.approx(-0.5, abs=1e-12) and f.consistent
    assert f.chi2 == pytest.approx(0.0, abs=1e-18)
    assert f.predict(9, 2) == pytest.approx(3.0 * 2.0 ** ((2 - 9) / 2))
    f = fit_lipschitz(pts, nmin=4)
    assert list(f.n) == [4, 5, 6, 7] and (2, "outside the fit range") in f.excluded
    for p in pts:                       # L ∝ 1/D_h: slope -1, the law is rejected
        p.lipschitz, p.lipschitz_se = 2.0 ** -p.n_h, 0.01 * 2.0 ** -p.n_h
    f = fit_lipschitz(pts)
    assert f.slope == pytest.approx(-1.0) and f.consistent is False and "NOT consistent" in f.text
    assert f.p_value < 1e-10            # one prefactor cannot describe it


def test_selfcheck_without_slope_fields(files, tmp_path):
    """Fields the self-check needs may be absent (not NaN): the check is skipped, not failed."""
    data = synth.draw_landscape(range(2, 4), "random", S=20, seed=1)
    for d in data.values():
        for k in ("slope_fft", "slope_adjoint"):
            del d["land"]["fields"][k]
    (scan,) = load([synth.write_landscape(tmp_path / "noslope.h5", data)])
    s = summarize(scan)
    assert all(p.selfcheck_ok and not p.has_slopes for p in s.points) and not s.warnings


def test_vh_lipschitz_law_recovers_minus_one_half(files):
    rep = analyze_landscape([files["vh"]])
    s = rep.summary()
    assert [p.n_h for p in s.points] == list(range(2, 10)) and {p.n_v for p in s.points} == {1}
    f = s.law
    assert f.law and f.x.size == 8
    assert f.slope_ci[0] <= -0.5 <= f.slope_ci[1] and f.consistent
    assert f.slope_ci[1] - f.slope_ci[0] < 0.1                   # a real test of the exponent
    assert f.prefactor_ci[0] < f.prefactor < f.prefactor_ci[1]
    # the prefactor reproduces the points: each within 4 SE of A sqrt(D_v/D_h)
    for p in s.points:
        assert abs(p.lipschitz - f.predict(p.n_h, p.n_v)) < 4 * p.lipschitz_se
    assert "consistent" in f.text and not rep.warnings


def test_selfcheck_warns_on_aliasing(files, capsys):
    rep = analyze_landscape([files["bad"]])
    s = rep.summary()
    assert all(not p.selfcheck_ok for p in s.points)
    assert all(p.max_aliasing > 1e-3 for p in s.points)
    assert sum("self-check FAILED" in w for w in rep.warnings) == len(s.points)
    assert main(["landscape", files["bad"]]) == 0
    cap = capsys.readouterr()
    assert "bpfit: warning:" in cap.err and "self-check FAILED" in cap.err and "max aliasing" in cap.err
    assert "FAIL" in cap.out
    assert main(["landscape", files["random"], "--quiet"]) == 0
    cap = capsys.readouterr()
    assert cap.err == "" and cap.out == ""
    # a tiny tolerance makes even rounding-level numbers fail; a large one passes the bad file
    assert main(["landscape", files["bad"], "--tol", "10", "--quiet"]) == 0
    assert "self-check" not in capsys.readouterr().err


# ------------------------------------------------------------------------------------------
# Images, figures, command line


@pytest.mark.parametrize("N1,N2", [(7, 9), (8, 6)])
def test_fourier_upsample_is_exact_for_band_limited_images(N1, N2):
    """Degrees below N/2 per axis; for even N1 a cos at the Nyquist frequency N1/2 (the
    split bin) is reproduced too."""
    def f(t, u):
        v = 0.3 + np.cos(t) * np.sin(2 * u) - 0.5 * np.sin(2 * t + u) + 0.2 * np.cos(2 * u)
        return v + (0.1 * np.cos(N1 // 2 * t) if N1 % 2 == 0 else 0.0)
    ta = 2 * np.pi * np.arange(N1) / N1
    ub = 2 * np.pi * np.arange(N2) / N2
    img = f(ta[:, None], ub[None, :])
    up = fourier_upsample(img, (5 * N1, 4 * N2))
    T = 2 * np.pi * np.arange(5 * N1) / (5 * N1)
    U = 2 * np.pi * np.arange(4 * N2) / (4 * N2)
    np.testing.assert_allclose(up, f(T[:, None], U[None, :]), atol=1e-12)
    np.testing.assert_allclose(up[::5, ::4], img, atol=1e-12)   # the stored points stay
    np.testing.assert_allclose(fourier_upsample(img, img.shape), img, atol=1e-14)


def test_every_plot_kind_writes_png_and_pdf(files, tmp_path):
    rep = analyze_landscape([files["axes"], files["plane"]], labels=["axes", "plane"])
    for fn, kw in ((plot_spectra, {}), (plot_lipschitz, {}), (plot_spread, {}),
                   (plot_images, {"sample": 1, "points": 64})):
        out = [tmp_path / ("%s.png" % fn.__name__), tmp_path / ("%s.pdf" % fn.__name__)]
        assert fn(rep.summaries, out, **kw) == [str(p) for p in out]
        for p in out:
            check_figure(p)
    random_only = analyze_landscape([files["random"]]).summaries
    with pytest.raises(AnalysisError, match="no plane landscape scans"):
        plot_images(random_only, [tmp_path / "x.png"])
    with pytest.raises(AnalysisError, match="--sample 40 out of range"):
        plot_images(rep.summaries, [tmp_path / "x.png"], sample=40)


def test_cli_outputs(files, tmp_path, capsys):
    out = tmp_path / "fig.png"
    js, cs = tmp_path / "land.json", tmp_path / "land.csv"
    assert main(["landscape", files["vh"], files["plane"], "--label", "vh", "--label", "plane",
                 "--plot", str(out), "--json", str(js),
                 "--csv", str(cs), "--upsample", "48"]) == 0
    cap = capsys.readouterr()
    for kind in ("spectrum", "lipschitz", "spread", "images"):
        check_figure(tmp_path / ("fig-%s.png" % kind))
    assert "Lipschitz law L = A sqrt(D_v/D_h)" in cap.out and "figures:" in cap.out
    doc = json.loads(js.read_text())
    assert [s["name"] for s in doc["scans"]] == ["vh", "plane"]
    vh = doc["scans"][0]
    assert vh["lipschitz_fit"]["consistent"] is True and vh["lipschitz_fit"]["x"] == "n_h"
    p = vh["points"][0]
    for key in ("lipschitz", "lipschitz_se", "bernstein", "spread", "cut_var", "cut_var_se",
                "max_slope_diff", "max_aliasing", "spectrum_normalised", "n_v", "n_h",
                "lipschitz_fit", "selfcheck_ok"):
        assert key in p
    assert doc["scans"][1]["directions"] == "plane" and doc["scans"][1]["files"]
    rows = list(csv.DictReader(open(cs)))
    assert len(rows) == 8 + 3 and rows[0]["scan"] == "vh" and rows[0]["selfcheck"] == "ok"
    assert float(rows[0]["lipschitz_fit"]) == pytest.approx(p["lipschitz_fit"])
    # --plot without a plane scan: no images file; --image-plot then is an error
    assert main(["landscape", files["random"], "--quiet", "--plot", str(tmp_path / "r.png")]) == 0
    assert os.path.exists(tmp_path / "r-spread.png") and not os.path.exists(tmp_path / "r-images.png")
    assert main(["landscape", files["random"], "--image-plot", str(tmp_path / "i.png")]) == 2
    assert "needs plane scans" in capsys.readouterr().err
    assert main(["landscape", files["random"], "--plot", str(tmp_path / "x.gif")]) == 2
    assert main(["landscape", str(tmp_path / "missing.h5")]) == 2


def test_bpfit_script_landscape(files, tmp_path):
    r = subprocess.run([sys.executable, BPFIT, "landscape", files["axes"], "--table", "--quiet"],
                       capture_output=True, text=True, cwd=str(tmp_path),
                       env=dict(os.environ, PYTHONDONTWRITEBYTECODE="1"))
    assert r.returncode == 0, r.stderr
    assert "axes" in r.stdout and "log2 Lipschitz vs n" in r.stdout
    r = subprocess.run([sys.executable, BPFIT, "landscape", "--help"], capture_output=True, text=True)
    assert r.returncode == 0 and "--lipschitz-plot" in r.stdout
