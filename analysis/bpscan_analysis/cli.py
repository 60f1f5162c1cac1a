"""The bpfit command line (analysis/bpfit, or /usr/bin/python3 -m bpscan_analysis)."""
import argparse
import os
import sys

from .errors import AnalysisError, run_cli
from .results import MERGE_MODES
from .series import GROUPINGS, QUANTITIES

DESCRIPTION = """\
Fit the variance of the gradient (and of the cost, and the state diagnostics) of bpscan
result files against the qubit count n: is it a barren plateau (exponential decay) or not
(polynomial)?

Files of the same job (same job_hash, or the same values of every job key but the output
ones, [output] path and checkpoint_seconds, by the job_json attribute) are merged by qubit
count, e.g. the pieces of an array job; different jobs are separate series. Every statistic is recomputed from the per-sample rows.

Definitions: Var ∝ base^(-n), i.e. ln Var = c - n ln(base), fitted by weighted least squares
on ln Var with weights (Var/SE)^2; log2 rate = log2(base) bits per qubit, positive = decay
(toy global cost: base 8/3, log2 rate 1.415). The polynomial model is Var ∝ n^(-a). The two
are compared by AIC (equal parameter counts: delta AIC = delta chi2); evidence: delta AIC < 2
inconclusive, 2-6 positive, 6-10 strong, >= 10 very strong.
"""

EPILOG = """\
examples:
  bpfit run.h5                                   table of Var dC and Var C fits
  bpfit piece-*.h5 --plot var.png --plot var.pdf array-job pieces merged, two figures
  bpfit global.h5 local.h5 --json fits.json      two jobs = two series
  bpfit deep.h5 --by layer --layer-plot heat.png per-layer fits and heatmap
  bpfit vh.h5 -q grad,purity,entropy --diag-plot diag.png

landscape scans ([scan] mode = landscape): spectra, Lipschitz constants, spreads, images:
  bpfit landscape FILES... [--plot OUT.png ...] [--table] [--json OUT]   (see bpfit landscape -h)

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


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="bpfit", description=DESCRIPTION, epilog=EPILOG,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
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
                   help="bootstrap replicates (default 1000; 0 = analytic CIs only)")
    s.add_argument("--seed", type=int, default=12345, help="bootstrap seed (default 12345)")
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
    return p


def run(args) -> int:
    from . import plots, tables
    from .report import analyze

    quantities = _csv_list(args.quantity, QUANTITIES, "quantity") or ["grad", "cost"]
    by = _csv_list(args.by, GROUPINGS, "grouping") or ["mean"]
    params = [x.strip() for x in args.params.split(",") if x.strip()] if args.params else None
    if args.bootstrap < 0:
        raise AnalysisError("--bootstrap must be >= 0")
    for paths in (args.plot, args.diag_plot, args.layer_plot):
        plots.check_paths(paths or [])          # before the (possibly long) analysis
    for p, what in [(args.table, "table"), (args.json, "JSON")] + \
            [(x, "figure") for x in (args.plot or []) + (args.diag_plot or []) + (args.layer_plot or [])]:
        if p and not os.path.isdir(os.path.dirname(os.path.abspath(p))):
            raise AnalysisError("%s: cannot write %s: no such directory" % (p, what))
    rep = analyze(args.files, quantities=quantities, by=by, params=params, merge=args.merge,
                  labels=args.label, level=args.level, bootstrap=args.bootstrap,
                  seed=args.seed, nmin=args.nmin, nmax=args.nmax)
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
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv and argv[0] == "landscape":      # subcommand (a file named landscape: ./landscape)
        from .landscape_cli import main as landscape_main
        return landscape_main(argv[1:])
    return run_cli(build_parser(), run, argv)
