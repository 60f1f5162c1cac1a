"""bpscan_analysis: variance-versus-n fits, plots and tables from bpscan HDF5 result files.

Quick start::

    from bpscan_analysis import analyze
    rep = analyze(["global.h5", "local.h5"], bootstrap=1000)
    print(rep.table())
    r = rep.fit(quantity="grad", group="mean", scan=rep.scans[0].name)
    r.log2_rate, r.log2_rate_ci, r.verdict, r.evidence, r.evidence_text

Lower level: ``load`` (files -> merged ``Scan`` objects), ``grad_series`` / ``cost_series``
/ ``diag_series`` (a quantity against n, with standard errors), ``fit_series`` (weighted
least squares of ln V on n and on ln n, CIs, the verdict calibrated by simulation
(calibration.py); exact points of moments scans: exact.py), ``compare_page``,
``plot_variance`` / ``plot_diagnostics`` / ``plot_layer_heatmap``, ``write_csv`` /
``write_json`` / ``format_table``. Landscape scans: ``analyze_landscape`` (``bpfit
landscape``), ``plot_spectra`` / ``plot_lipschitz`` / ``plot_spread`` / ``plot_images``.
The calibration study: ``study.run_study`` (``bpfit calibrate``). See analysis/README.md
for the definitions.
"""
from ._version import __version__
from .calibration import Calibration, Separation
from .errors import AnalysisError
from .estimators import mean_se, mean_var_se, resample, var_se
from .exact import ExactFit, fit_exact_points
from .fitting import FitResult, ModelFit, fit_all, fit_series, wls
from .landscape import (LandscapePoint, LandscapeReport, LandscapeSummary, LipschitzLaw,
                        analyze_landscape, fit_lipschitz, fourier_upsample, summarize,
                        vh_registers)
from .landscape_plots import plot_images, plot_lipschitz, plot_spectra, plot_spread
from .page import PageComparison, compare_all, compare_page
from .plots import plot_diagnostics, plot_layer_heatmap, plot_variance
from .report import Report, analyze
from .results import (LandscapeData, MomentsData, QubitData, ResultFile, Scan, column_stats,
                      group_files, job_settings, load, merge_files, read_result)
from .series import (Series, cost_series, diag_series, from_moments, from_samples, grad_series,
                     layer_matrix, series_for)
from .tables import format_page, format_table, report_dict, write_csv, write_json

__all__ = [
    "AnalysisError", "Calibration", "ExactFit", "FitResult", "MomentsData", "Separation",
    "__version__", "fit_exact_points", "from_moments", "resample", "LandscapeData",
    "LandscapePoint", "LandscapeReport",
    "LandscapeSummary", "LipschitzLaw", "analyze_landscape", "column_stats", "fit_lipschitz",
    "fourier_upsample", "plot_images", "plot_lipschitz", "plot_spectra",
    "plot_spread", "summarize", "vh_registers", "ModelFit", "PageComparison", "QubitData", "Report",
    "ResultFile", "Scan", "Series", "analyze", "compare_all", "compare_page", "cost_series",
    "diag_series", "fit_all", "from_samples", "fit_series", "format_page", "format_table", "grad_series",
    "group_files", "job_settings", "layer_matrix", "load", "mean_se", "mean_var_se", "merge_files",
    "plot_diagnostics", "plot_layer_heatmap", "plot_variance", "read_result", "report_dict",
    "series_for", "var_se", "wls", "write_csv", "write_json",
]
