"""The bpfit command line: ``bpfit fit`` (variance fits and the calibrated verdict),
``bpfit landscape`` (landscape scans), ``bpfit calibrate`` (the calibration study).

Entry points: the ``bpfit`` console script of the installed package, analysis/bpfit (runs
the package next to it), ``python3 -m bpscan_analysis``. ``bpfit FILES...`` without a
subcommand is ``bpfit fit FILES...``.
"""
import argparse
import os
import platform
import sys

from ._version import __version__
from .calibration import DEFAULT_SIMS
from .errors import AnalysisError, run_cli
from .results import MERGE_MODES
from .series import GROUPINGS, QUANTITIES

SUBCOMMANDS = ("fit", "landscape", "calibrate")

DESCRIPTION = """\
Fit the variance of the gradient (and of the cost, and the state diagnostics) of bpscan
result files against the qubit count n: is it a barren plateau (exponential decay) or not
(polynomial)?

Files of the same job (same job_hash, or the same values of every job key but the output
ones, [output] path and checkpoint_seconds, by the job_json attribute) are merged by qubit
count, e.g. the pieces of an array job; different jobs are separate series. Every statistic is recomputed from the per-sample rows.

Definitions: Var ∝ base^(-n), i.e. ln Var = c - n ln(base), fitted by weighted least squares
on ln Var with weights (Var/SE)^2; log2 rate = log2(base) bits per qubit, positive = decay
(toy global cost: base 8/3, log2 rate 1.415). The polynomial model is Var ∝ n^(-a).

Verdict, calibrated by simulation: T = chi2_poly - chi2_exp is compared with its
distribution under each fitted law, obtained by refitting thousands of simulated scans
(every n's stored gradient rows resampled and rescaled onto the law). The p-value of the
rejected law gives the evidence: < 0.05 positive, < 1e-3 strong, < 1e-4 very strong.
Otherwise the verdict is inconclusive, with the n range or samples per n that would
separate the laws. Moments scans (exact points): the local rate at the largest n.
"""

EPILOG = """\
examples:
  bpfit fit run.h5                               table of Var dC and Var C fits
  bpfit run.h5                                   the same (fit is the default subcommand)
  bpfit piece-*.h5 --plot var.png --plot var.pdf array-job pieces merged, two figures
  bpfit global.h5 local.h5 --json fits.json      two jobs = two series
  bpfit deep.h5 --by layer --layer-plot heat.png per-layer fits and heatmap
  bpfit vh.h5 -q grad,purity,entropy --diag-plot diag.png

exit status: 0 success, 2 bad arguments or unreadable/incompatible result files.
"""


def _csv_list(values, allowed, what):
    out = []
    for v in values or []:
        for x in v.split(","):
            x = x.strip()
            if not x:
                continue
            if x == "all":
                out.extend(allowed)
                continue
            if x not in allowed:
                raise AnalysisError("unknown %s '%s' (use %s)" % (what, x, ", ".join(allowed)))
            out.append(x)
    return list(dict.fromkeys(out))


TOP = """\
bpscan result files -> is it a barren plateau? Var[dC] against the qubit count n: an
exponential decay (log2 rate = log2(base) bits per qubit, Var ∝ base^(-n)) or a polynomial
one (Var ∝ n^(-a)), with a verdict calibrated by simulation.
"""

TOP_EPILOG = """\
bpfit FILES... (no subcommand) is bpfit fit FILES...; bpfit COMMAND -h for each command.
exit status: 0 success, 2 bad arguments or unreadable/incompatible result files.
"""


def version_text() -> str:
    import numpy
    import scipy
    return "bpfit %s (bpscan_analysis, Python %s, numpy %s, scipy %s)" % (
        __version__, platform.python_version(), numpy.__version__, scipy.__version__)


def build_parser() -> argparse.ArgumentParser:
    """bpfit and its subcommands."""
    from . import landscape_cli
    raw = argparse.RawDescriptionHelpFormatter
    p = argparse.ArgumentParser(prog="bpfit", description=TOP, epilog=TOP_EPILOG, formatter_class=raw)
    p.add_argument("--version", action="version", version=version_text())
    sub = p.add_subparsers(dest="command", metavar="COMMAND", required=True)
    f = sub.add_parser("fit", help="fit Var[dC] (and Var[C], diagnostics) against n: rate, CI, verdict",
                       description=DESCRIPTION, epilog=EPILOG, formatter_class=raw)
    add_fit_arguments(f)
    f.set_defaults(func=run)
    ls = sub.add_parser("landscape", help="landscape scans: spectra, Lipschitz law, spreads, images",
                        description=landscape_cli.DESCRIPTION, epilog=landscape_cli.EPILOG,
                        formatter_class=raw)
    landscape_cli.add_arguments(ls)
    ls.set_defaults(func=landscape_cli.run)
    c = sub.add_parser("calibrate", help="the calibration study behind the verdict (README table)",
                       description=CALIBRATE, formatter_class=raw)
    add_calibrate_arguments(c)
    c.set_defaults(func=run_calibrate)
    return p


CALIBRATE = """\
Run the calibration study (study.py): synthetic scans from heavy-tailed gradient laws with a
known exponential or polynomial law, fitted like result files; prints per scenario how often
the verdict is right, inconclusive, wrong, wrong with strong or very strong evidence, and
how often the 95% CI covers the true rate (or exponent). Without options: the table that
analysis/tests/test_calibration.py asserts (the same for any --jobs); --long adds scenarios
and uses bpfit's default calibration settings (the README table).
"""


def add_calibrate_arguments(c: argparse.ArgumentParser) -> None:
    c.add_argument("--runs", type=int, default=200, help="replicates per scenario (default 200)")
    c.add_argument("--long", action="store_true",
                   help="more scenarios, --bootstrap 1000 --sims %d (bpfit's defaults)" % DEFAULT_SIMS)
    c.add_argument("--bootstrap", type=int, help="resamples per n (default 200; --long 1000)")
    c.add_argument("--sims", type=int, help="simulated scans per law (default 10000; --long %d)"
                   % DEFAULT_SIMS)
    c.add_argument("--seed", type=int, default=1, help="seed of the first scenario (default 1)")
    c.add_argument("--jobs", type=int, default=1, help="worker processes (default 1)")
    c.add_argument("--markdown", action="store_true", help="a Markdown table (the README's)")


def run_calibrate(args) -> int:
    from . import study
    if args.runs < 1:
        raise AnalysisError("--runs must be >= 1")
    B = args.bootstrap if args.bootstrap is not None else (1000 if args.long else 200)
    M = args.sims if args.sims is not None else (DEFAULT_SIMS if args.long else 10000)
    if B < 0 or M < 1 or args.jobs < 1:
        raise AnalysisError("--bootstrap must be >= 0, --sims and --jobs >= 1")

    def progress(r):
        print("bpfit: %s: %d runs in %.1f s" % (r.scenario.label, r.runs, r.seconds), file=sys.stderr)
    rows = study.run_study(runs=args.runs, long=args.long, seed=args.seed, bootstrap=B, sims=M,
                           jobs=args.jobs, progress=progress)
    sys.stdout.write("calibration study: %d runs per scenario, --bootstrap %d --sims %d, seed %d\n"
                     % (args.runs, B, M, args.seed))
    sys.stdout.write(study.format_rows(rows, markdown=args.markdown))
    return 0


def add_fit_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("files", nargs="+", metavar="RESULTS.h5", help="bpscan result files")
    g = p.add_argument_group("what to fit")
    g.add_argument("-q", "--quantity", action="append", metavar="Q",
                   help="comma list of %s, or all (default grad,cost)" % ",".join(QUANTITIES))
    g.add_argument("--by", action="append", metavar="G",
                   help="gradient series: comma list of %s, or all (default mean: the mean over "
                        "the tracked parameters; layer/perceptron group names by their l{L}. / "
                        "l{L}.p{J}. prefix)" % ",".join(GROUPINGS))
    g.add_argument("--params", metavar="NAMES",
                   help="comma list of parameter names (or groups with --by layer/perceptron) to use")
    g.add_argument("--nmin", type=int, help="smallest n in the fits")
    g.add_argument("--nmax", type=int, help="largest n in the fits")
    g.add_argument("--merge", choices=MERGE_MODES, default="job",
                   help="job (default): merge files of the same job; ensemble: compare only "
                        "the keys of role result, ignoring [scan] qubits/samples/seed/block and "
                        "[output] store_samples (pool runs of the same ensemble); "
                        "none: every file its own series")
    g.add_argument("--label", action="append", metavar="NAME",
                   help="name of the next series (job), in order of first appearance; repeatable")
    s = p.add_argument_group("statistics")
    s.add_argument("--level", type=float, default=0.95, help="confidence level (default 0.95)")
    s.add_argument("--bootstrap", type=int, default=1000, metavar="B",
                   help="resamples of each n's gradient rows behind the verdict and the "
                        "bootstrap CI (default 1000; 0 = draw from a model of the moments instead)")
    s.add_argument("--sims", type=int, default=DEFAULT_SIMS, metavar="M",
                   help="simulated scans per law for the verdict's p-values (default %d; the "
                        "smallest p-value is 1/(M+1))" % DEFAULT_SIMS)
    s.add_argument("--seed", type=int, default=12345, help="random seed (default 12345)")
    o = p.add_argument_group("output")
    o.add_argument("--plot", action="append", metavar="FILE",
                   help="variance against n with fits (.png, .pdf or .svg); repeatable")
    o.add_argument("--diag-plot", action="append", metavar="FILE",
                   help="entropy, purity and trace distance against n with Page curves")
    o.add_argument("--layer-plot", action="append", metavar="FILE",
                   help="heatmap of Var dC per layer (rows) and n (columns)")
    o.add_argument("--table", metavar="FILE.csv", help="one CSV row per series")
    o.add_argument("--json", metavar="FILE.json", help="fits, Page comparisons and provenance")
    o.add_argument("--quiet", action="store_true", help="no terminal table")


def run(args) -> int:
    """bpfit fit."""
    from . import plots, tables
    from .report import analyze

    quantities = _csv_list(args.quantity, QUANTITIES, "quantity") or ["grad", "cost"]
    by = _csv_list(args.by, GROUPINGS, "grouping") or ["mean"]
    params = [x.strip() for x in args.params.split(",") if x.strip()] if args.params else None
    if args.bootstrap < 0:
        raise AnalysisError("--bootstrap must be >= 0")
    if args.sims < 1:
        raise AnalysisError("--sims must be >= 1")
    for paths in (args.plot, args.diag_plot, args.layer_plot):
        plots.check_paths(paths or [])          # before the (possibly long) analysis
    for p, what in [(args.table, "table"), (args.json, "JSON")] + \
            [(x, "figure") for x in (args.plot or []) + (args.diag_plot or []) + (args.layer_plot or [])]:
        if p and not os.path.isdir(os.path.dirname(os.path.abspath(p))):
            raise AnalysisError("%s: cannot write %s: no such directory" % (p, what))
    rep = analyze(args.files, quantities=quantities, by=by, params=params, merge=args.merge,
                  labels=args.label, level=args.level, bootstrap=args.bootstrap,
                  seed=args.seed, nmin=args.nmin, nmax=args.nmax, sims=args.sims)
    for w in rep.warnings:
        print("bpfit: warning: %s" % w, file=sys.stderr)
    if not args.quiet:
        sys.stdout.write(rep.table())
        for r in rep.fits:
            if r.evidence_text:
                sys.stdout.write("  %s: %s\n" % (r.name, r.evidence_text))
        if rep.page:
            sys.stdout.write("Page comparison:\n" + tables.format_page(rep.page))
    if args.table:
        tables.write_csv(rep.fits, args.table)
    if args.json:
        tables.write_json(rep.to_dict(), args.json)
    if args.plot:
        plots.plot_variance(rep.fits, args.plot)
    if args.diag_plot:
        plots.plot_diagnostics(rep.scans, args.diag_plot)
    if args.layer_plot:
        plots.plot_layer_heatmap(rep.scans, args.layer_plot)
    return 0


def main(argv=None) -> int:
    """The bpfit console script. A first argument that is not a subcommand or a top-level
    option is a file (or a fit option): ``bpfit fit`` is implied (a result file called
    ``fit``, ``landscape`` or ``calibrate`` is ``./fit``...)."""
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv and argv[0] not in SUBCOMMANDS and argv[0] not in ("-h", "--help", "--version"):
        argv = ["fit"] + argv
    return run_cli(build_parser(), lambda args: args.func(args), argv)
