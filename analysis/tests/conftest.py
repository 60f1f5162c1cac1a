"""pytest setup for analysis/tests: import the package from analysis/, write nothing into
the source tree (run with PYTHONDONTWRITEBYTECODE=1 and -p no:cacheprovider, as ctest does)."""
import os
import sys

sys.dont_write_bytecode = True
os.environ.setdefault("MPLBACKEND", "Agg")
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))   # analysis/ -> bpscan_analysis
sys.path.insert(0, HERE)                    # synth.py
