"""The package installs offline with pip (no index: the build uses the running Python's
setuptools, the dependencies are Debian's) and gives a working ``bpfit`` console script.
A copy of analysis/ is installed into a temporary prefix: nothing is written to the source
tree or the system (PIP_NO_CACHE_DIR; --prefix, allowed by Debian's externally-managed
Python)."""
import json
import os
import shutil
import subprocess
import sys

import synth
from bpscan_analysis import __version__

ANALYSIS = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_pip_install_offline(tmp_path):
    src = tmp_path / "src"
    shutil.copytree(ANALYSIS, src, ignore=shutil.ignore_patterns("tests", "build", "*.egg-info",
                                                                 "__pycache__"))
    env = {k: v for k, v in os.environ.items() if not k.startswith("PIP_")}
    env.update(PIP_NO_INDEX="1", PIP_NO_CACHE_DIR="1", PIP_DISABLE_PIP_VERSION_CHECK="1",
               PYTHONDONTWRITEBYTECODE="1", MPLBACKEND="Agg")
    prefix = tmp_path / "prefix"
    p = subprocess.run([sys.executable, "-m", "pip", "install", "--prefix", str(prefix), str(src)],
                       capture_output=True, text=True, env=env, timeout=300)
    assert p.returncode == 0, "pip install failed (Debian: python3-pip):\n%s\n%s" % (p.stdout, p.stderr)
    (script,) = [x for x in prefix.rglob("bin/bpfit")]
    (init,) = [x for x in prefix.rglob("bpscan_analysis/__init__.py")]
    env["PYTHONPATH"] = str(init.parent.parent)
    run = dict(capture_output=True, text=True, env=env, cwd=str(tmp_path), timeout=300)
    v = subprocess.run([str(script), "--version"], **run)
    assert v.returncode == 0 and v.stdout.startswith("bpfit %s " % __version__), v.stderr
    with open(script) as fh:         # pip writes the interpreter that installed it
        assert fh.readline().startswith("#!")
    imp = subprocess.run([sys.executable, "-c", "import bpscan_analysis; print(bpscan_analysis.__file__)"],
                         **run)
    assert imp.stdout.strip().startswith(str(prefix)), imp.stdout
    data = synth.draw(range(2, 7), lambda n, q: 0.1 * 2.0 ** -n, 300, seed=3)
    h5 = synth.write(tmp_path / "x.h5", data)
    out = tmp_path / "x.json"
    f = subprocess.run([str(script), "fit", h5, "--quiet", "--bootstrap", "50", "--sims", "500",
                        "--json", str(out)], **run)
    assert f.returncode == 0, f.stderr
    assert json.loads(out.read_text())["series"][0]["verdict"] == "exponential"
