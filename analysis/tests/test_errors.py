"""Malformed inputs give one clear error: AnalysisError from the API, one line and exit 2
from the command line."""
import os
import subprocess
import sys

import h5py
import pytest

import synth
from bpscan_analysis import AnalysisError, load, read_result
from bpscan_analysis.cli import main

BPFIT = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "bpfit")


def good(tmp_path, **kw):
    return synth.write(tmp_path / "good.h5", synth.draw([1, 2, 3], lambda n, p: 0.1 * 2.0 ** -n, 50), **kw)


def cases(tmp_path):
    text = tmp_path / "notes.txt"
    text.write_text("not an HDF5 file\n")
    bare = tmp_path / "bare.h5"
    with h5py.File(bare, "w") as f:
        f.create_dataset("x", data=[1, 2, 3])
    d = synth.draw([1, 2, 3], lambda n, p: 0.1 * 2.0 ** -n, 50)
    return {
        "no such file": str(tmp_path / "missing.h5"),
        "not an HDF5 file": str(text),
        "no schema_version attribute": str(bare),
        "schema_version 2 is newer than this reader supports":
            synth.write(tmp_path / "v2.h5", d, schema_version=2),
        "/n1: dataset 'grad' missing": synth.write(tmp_path / "nograd.h5", d, drop=("grad",)),
        "/n1: dataset 'param_names' missing": synth.write(tmp_path / "nonames.h5", d, drop=("param_names",)),
        "is a directory": str(tmp_path),
    }


def test_api_errors(tmp_path):
    for why, path in cases(tmp_path).items():
        with pytest.raises(AnalysisError) as e:
            read_result(path)
        msg = str(e.value)
        assert why in msg and "\n" not in msg, (why, msg)
        assert path in msg


def test_no_groups_and_bad_shapes(tmp_path):
    p = good(tmp_path)
    with h5py.File(p, "a") as f:
        for k in ("n1", "n2", "n3"):
            del f[k]
    with pytest.raises(AnalysisError, match="no /n{N} groups"):
        read_result(p)
    p = synth.write(tmp_path / "shape.h5", synth.draw([1, 2], lambda n, p: 0.1, 20))
    with h5py.File(p, "a") as f:
        del f["n2/cost"]
        f["n2/cost"] = [1.0, 2.0]
    with pytest.raises(AnalysisError, match="inconsistent shapes"):
        read_result(p)


def run_main(capsys, *args):
    rc = main([str(a) for a in args])
    out, err = capsys.readouterr()
    return rc, out, err


def test_cli_errors_one_line_exit_2(tmp_path, capsys):
    """In process (fast): every malformed input -> one line on stderr, exit status 2."""
    for why, path in cases(tmp_path).items():
        rc, out, err = run_main(capsys, path)
        lines = err.strip().splitlines()
        assert rc == 2 and len(lines) == 1 and lines[0].startswith("bpfit: error: "), (why, err)
        assert why in lines[0] and out == ""
    rc, out, err = run_main(capsys, good(tmp_path), tmp_path / "missing.h5")
    assert rc == 2 and "missing.h5: no such file" in err
    rc, out, err = run_main(capsys, good(tmp_path), "--quantity", "nonsense")
    assert rc == 2 and "unknown quantity 'nonsense'" in err
    rc, out, err = run_main(capsys, good(tmp_path), "--plot", tmp_path / "x.gif")
    assert rc == 2 and "unknown figure format" in err and out == ""
    rc, out, err = run_main(capsys, good(tmp_path), "--json", tmp_path / "no" / "dir" / "x.json")
    assert rc == 2 and "cannot write JSON" in err
    with pytest.raises(SystemExit) as e:          # argparse: usage error, status 2
        main([str(good(tmp_path)), "--by"])
    assert e.value.code == 2


def test_cli_errors_subprocess(tmp_path):
    """The real script: no traceback, one line, exit 2."""
    env = dict(os.environ, PYTHONDONTWRITEBYTECODE="1", MPLBACKEND="Agg")
    c = cases(tmp_path)
    for why in ("not an HDF5 file",):
        p = subprocess.run([sys.executable, BPFIT, c[[k for k in c if k.startswith(why)][0]]],
                           capture_output=True,
                           text=True, cwd=str(tmp_path), env=env, timeout=120)
        lines = p.stderr.strip().splitlines()
        assert p.returncode == 2 and len(lines) == 1 and why in lines[0], p.stderr
        assert "Traceback" not in p.stderr and p.stdout == ""


def test_load_nothing():
    with pytest.raises(AnalysisError, match="no result files"):
        load([])
