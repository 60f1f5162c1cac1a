"""Figures (PNG and PDF, non-empty), tables and the bpfit command line."""
import csv
import json
import os
import subprocess
import sys

import pytest

import synth
from bpscan_analysis import (__version__, analyze, load, plot_diagnostics, plot_layer_heatmap,
                             plot_variance, write_csv, write_json)
from bpscan_analysis.cli import main

BPFIT = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "bpfit")
MAGIC = {".png": b"\x89PNG\r\n\x1a\n", ".pdf": b"%PDF-"}


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    t = tmp_path_factory.mktemp("plots")
    names = ["l1.p1.g1", "l1.p2.g1", "l2.p1.g1"]
    g = synth.write(t / "global.h5", synth.draw(range(1, 7), lambda n, p: 0.125 * 0.375 ** (n - 1), 1500,
                                                names=names, page=synth.page_values, seed=1),
                    job=synth.job_text(cost="global", widths="n,n,n"))
    loc = synth.write(t / "local.h5", synth.draw(range(1, 7), lambda n, p: 1 / (8.0 * n * n), 1500,
                                                 names=names, page=synth.page_values, seed=2),
                      job=synth.job_text(cost="local", widths="n,n,n"))
    return g, loc


def check_figure(path):
    ext = os.path.splitext(path)[1]
    with open(path, "rb") as fh:
        head = fh.read(8)
    assert os.path.getsize(path) > 2000 and head.startswith(MAGIC[ext]), path


def test_plots(files, tmp_path):
    rep = analyze(list(files), bootstrap=100)
    out = [str(tmp_path / "var.png"), str(tmp_path / "var.pdf")]
    assert plot_variance(rep.fits, out) == out
    for p in out:
        check_figure(p)
    for p in plot_diagnostics(rep.scans, [tmp_path / "diag.png"]):     # PDF: in test_cli
        check_figure(p)
    for p in plot_layer_heatmap(rep.scans, [tmp_path / "layers.png"]):
        check_figure(p)


def test_tables(files, tmp_path):
    rep = analyze(list(files), bootstrap=100)
    write_csv(rep.fits, str(tmp_path / "t.csv"))
    rows = list(csv.DictReader(open(tmp_path / "t.csv")))
    assert len(rows) == 4 and rows[0]["preferred_model"] == "exponential"
    assert rows[2]["name"] == "cost.type=local: Var[dC] (mean over parameters)"
    assert rows[2]["preferred_model"] == "polynomial"
    write_json(rep.to_dict(), str(tmp_path / "t.json"))
    doc = json.load(open(tmp_path / "t.json"))
    got = {(p["scan"], p["diagnostic"]) for p in doc["page"]}
    assert {("cost.type=local", "entropy"), ("cost.type=global", "purity")} <= got
    assert doc["scans"][0]["files"][0]["git_commit"] == "synthetic"
    text = rep.table()
    assert "log2 rate" in text and "cost.type=global" in text and len(text.splitlines()) == 6


def test_cli(files, tmp_path):
    env = dict(os.environ, PYTHONDONTWRITEBYTECODE="1", MPLBACKEND="Agg")
    out = {k: str(tmp_path / v) for k, v in (("png", "v.png"), ("pdf", "v.pdf"), ("csv", "t.csv"),
                                             ("json", "f.json"), ("diag", "d.pdf"), ("heat", "h.pdf"))}
    p = subprocess.run([sys.executable, BPFIT, *files, "--plot", out["png"], "--plot", out["pdf"], "--table", out["csv"],
                        "--json", out["json"], "--diag-plot", out["diag"], "--layer-plot", out["heat"],
                        "--by", "mean,layer", "--bootstrap", "200"],
                       capture_output=True, text=True, cwd=str(tmp_path), env=env, timeout=300)
    assert p.returncode == 0, p.stderr
    assert "Traceback" not in p.stderr
    assert "exponential (very strong): the polynomial law is rejected" in p.stdout
    assert "Page comparison" in p.stdout
    for k in ("png", "pdf", "diag", "heat"):
        check_figure(out[k])
    doc = json.load(open(out["json"]))
    names = [s["name"] for s in doc["series"]]
    assert "cost.type=global: Var[dC] (mean over parameters)" in names
    assert "cost.type=global: Var[dC] (l2)" in names
    for s in doc["series"]:
        for key in ("name", "n", "log2_rate", "log2_rate_ci", "base", "preferred_model", "evidence"):
            assert key in s
        assert s["preferred_model"] in ("exponential", "polynomial")
        assert s["verdict"] in ("exponential", "polynomial", "inconclusive")
        assert 0 < s["p_exponential"] <= 1 and s["calibration"]["sims"] > 0
        assert len(s["log2_rate_ci"]) == 2
    g = doc["series"][names.index("cost.type=global: Var[dC] (mean over parameters)")]
    assert g["n"] == [1, 2, 3, 4, 5, 6] and g["preferred_model"] == "exponential"
    assert g["log2_rate_ci"][0] < g["log2_rate"] < g["log2_rate_ci"][1]


def test_cli_help(tmp_path):
    env = dict(os.environ, PYTHONDONTWRITEBYTECODE="1")
    p = subprocess.run([sys.executable, BPFIT, "--help"], capture_output=True, text=True, env=env,
                       cwd=str(tmp_path), timeout=120)
    assert p.returncode == 0 and "log2 rate = log2(base)" in p.stdout
    assert all(c in p.stdout for c in ("fit", "landscape", "calibrate"))
    p = subprocess.run([sys.executable, BPFIT, "fit", "--help"], capture_output=True, text=True,
                       env=env, cwd=str(tmp_path), timeout=120)
    assert p.returncode == 0 and "--plot" in p.stdout and "--sims" in p.stdout
    p = subprocess.run([sys.executable, BPFIT, "--version"], capture_output=True, text=True, env=env,
                       timeout=120)
    assert p.returncode == 0 and p.stdout.startswith("bpfit %s " % __version__)
    with open(BPFIT) as fh:       # no interpreter path: the first python3 on PATH
        assert fh.readline() == "#!/usr/bin/env python3\n"
    assert os.access(BPFIT, os.X_OK)


def test_subcommands_and_short_form(files, tmp_path, capsys):
    """bpfit FILES... is bpfit fit FILES...; the same numbers either way."""
    a, b = tmp_path / "a.json", tmp_path / "b.json"
    assert main(["fit", files[0], "--quiet", "--bootstrap", "50", "--sims", "500", "--json", str(a)]) == 0
    assert main([files[0], "--quiet", "--bootstrap", "50", "--sims", "500", "--json", str(b)]) == 0
    assert json.loads(a.read_text())["series"] == json.loads(b.read_text())["series"]
    with pytest.raises(SystemExit) as e:
        main(["--version"])
    assert e.value.code == 0 and capsys.readouterr().out.startswith("bpfit %s" % __version__)
    assert main(["calibrate", "--runs", "0"]) == 2


def test_labels(files):
    scans = load(list(files), labels=["global cost", "local cost"])
    assert [s.name for s in scans] == ["global cost", "local cost"]
