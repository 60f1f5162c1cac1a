"""``bpfit landscape``: the landscape-scan subcommand (a subparser of cli.build_parser)."""
import argparse
import os
import sys

from .errors import AnalysisError, run_cli
from .results import MERGE_MODES

DESCRIPTION = """\
Analyse bpscan landscape scans ([scan] mode = landscape): FFT cuts f(t) = C(theta0 + t dir)
through every sample (physics.md Sec. 5). Per qubit count n, recomputed from the per-sample
rows of the merged files (array-job pieces merge as for gradient scans):

  spectrum   E[W_k]/E[cut var] by degree k >= 1 (sums to 1) and E[cut var] +- SE
  Lipschitz  mean max|f'| +- SE (axes cuts: mean over the parameters' cuts first) and the
             mean Bernstein bound K spread/2; for vh models fitted with the sqrt(D_v/D_h)
             law of physics.md Sec. 3.4 against n_h (one prefactor; plus the free slope of
             log2 L against n_h, to compare with -1/2)
  spread     mean max f - min f +- SE (gradient-free view, Marrero Sec. 3.5)
  self-check max |slope_fft - slope_adjoint| and max aliasing: must be at rounding level
             (relative tolerance --tol); a warning line otherwise
"""

EPILOG = """\
figures (--plot OUT.png writes OUT-spectrum.png, OUT-lipschitz.png, OUT-spread.png and, for
plane scans, OUT-images.png; or choose them one by one):
  --spectrum-plot   normalised spectra, one curve per n, and E[cut var] against n
  --lipschitz-plot  Lipschitz +- SE and Bernstein against n (vh: n_h, with the law)
  --spread-plot     spread max - min of the cuts against n
  --image-plot      plane scans: upsampled 2-D landscape of one sample per n

examples:
  bpfit landscape land.h5                          per-n table, Lipschitz fit, self-check
  bpfit landscape piece-*.h5 --plot land.png --json land.json
  bpfit landscape plane.h5 --image-plot img.pdf --sample 3

exit status: 0 success (also when the self-check warns), 2 bad arguments or unreadable,
incompatible or non-landscape result files.
"""


def build_parser() -> argparse.ArgumentParser:
    """The subcommand's parser on its own (``bpfit landscape`` is cli.build_parser's)."""
    p = argparse.ArgumentParser(prog="bpfit landscape", description=DESCRIPTION, epilog=EPILOG,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    add_arguments(p)
    return p


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("files", nargs="+", metavar="RESULTS.h5", help="bpscan landscape result files")
    g = p.add_argument_group("data")
    g.add_argument("--merge", choices=MERGE_MODES, default="job",
                   help="job (default), ensemble or none, as for bpfit")
    g.add_argument("--label", action="append", metavar="NAME",
                   help="name of the next series (job), in order of first appearance; repeatable")
    g.add_argument("--nmin", type=int, help="smallest n in the Lipschitz fit")
    g.add_argument("--nmax", type=int, help="largest n in the Lipschitz fit")
    g.add_argument("--level", type=float, default=0.95, help="confidence level (default 0.95)")
    g.add_argument("--tol", type=float, default=1e-9,
                   help="self-check tolerance relative to max|f| (slopes: times the degree; "
                        "default 1e-9)")
    o = p.add_argument_group("output")
    o.add_argument("--plot", action="append", metavar="OUT",
                   help="all figures: OUT-spectrum.EXT, OUT-lipschitz.EXT, OUT-spread.EXT, "
                        "OUT-images.EXT (plane scans); EXT = png, pdf or svg; repeatable")
    o.add_argument("--spectrum-plot", action="append", metavar="FILE", help="spectra and cut variance")
    o.add_argument("--lipschitz-plot", action="append", metavar="FILE",
                   help="Lipschitz constants, Bernstein bounds, law fit")
    o.add_argument("--spread-plot", action="append", metavar="FILE", help="spread of the cuts")
    o.add_argument("--image-plot", action="append", metavar="FILE", help="plane scans: 2-D images")
    o.add_argument("--sample", type=int, default=0, metavar="K",
                   help="sample (row of the merged scan, from 0) drawn by the image plot (default 0)")
    o.add_argument("--upsample", type=int, default=192, metavar="M",
                   help="image points per axis after Fourier upsampling (default 192)")
    o.add_argument("--table", action="store_true",
                   help="print the per-n table (the default; also with --quiet)")
    o.add_argument("--csv", metavar="FILE.csv", help="write the per-n table as CSV")
    o.add_argument("--json", metavar="FILE.json", help="per-n numbers, fits, self-check, provenance")
    o.add_argument("--quiet", action="store_true", help="no terminal table")


def _figures(args, has_plane):
    """{kind: [paths]} requested, --plot expanded by kind."""
    from .landscape_plots import KINDS
    out = {k: list(getattr(args, k.replace("images", "image") + "_plot") or []) for k in KINDS}
    for base in args.plot or []:
        stem, ext = os.path.splitext(base)
        for k in KINDS:
            if k != "images" or has_plane:
                out[k].append("%s-%s%s" % (stem, k, ext))
    return out


def run(args) -> int:
    from . import plots, tables
    from .landscape import analyze_landscape, write_landscape_csv
    from . import landscape_plots as lp

    if args.upsample < 1:
        raise AnalysisError("--upsample must be >= 1")
    if args.sample < 0:
        raise AnalysisError("--sample must be >= 0")
    requested = _figures(args, True)
    for k, paths in requested.items():
        plots.check_paths(paths)
    outs = [(p, "figure") for ps in requested.values() for p in ps]
    outs += [(args.csv, "table"), (args.json, "JSON")]
    for p, what in outs:
        if p and not os.path.isdir(os.path.dirname(os.path.abspath(p))):
            raise AnalysisError("%s: cannot write %s: no such directory" % (p, what))
    rep = analyze_landscape(args.files, merge=args.merge, labels=args.label, level=args.level,
                            nmin=args.nmin, nmax=args.nmax, tol=args.tol)
    has_plane = any(s.directions == "plane" for s in rep.summaries)
    figs = _figures(args, has_plane)
    if figs["images"] and not has_plane:
        raise AnalysisError("--image-plot needs plane scans ([landscape] directions = plane)")
    for w in rep.warnings:
        print("bpfit: warning: %s" % w, file=sys.stderr)
    if not args.quiet or args.table:
        sys.stdout.write(rep.table())
    if args.csv:
        write_landscape_csv(rep.summaries, args.csv)
    if args.json:
        tables.write_json(rep.to_dict(), args.json)
    writers = {"spectrum": lambda p: lp.plot_spectra(rep.summaries, p),
               "lipschitz": lambda p: lp.plot_lipschitz(rep.summaries, p),
               "spread": lambda p: lp.plot_spread(rep.summaries, p),
               "images": lambda p: lp.plot_images(rep.summaries, p, sample=args.sample,
                                                  points=args.upsample)}
    written = []
    for k in lp.KINDS:
        if figs[k]:
            written += writers[k](figs[k])
    if written and not args.quiet:
        sys.stdout.write("figures: %s\n" % ", ".join(written))
    return 0


def main(argv=None) -> int:
    """``bpfit landscape ARGS`` (the same as cli.main(["landscape", *ARGS]))."""
    return run_cli(build_parser(), run, argv)
