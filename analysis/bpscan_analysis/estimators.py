"""Sample statistics, as in include/bpscan/stats.h, and their bootstrap replicates.

* ``var_se``: unbiased variance s^2 of each column and its standard error
  sqrt((m4 - (S-3)/(S-1) s^4) / S), m4 the (biased) fourth central moment.
* ``mean_var_se``: the mean over columns of the unbiased variances, with the standard error
  of the mean over samples of z_s = (1/P) sum_p (x_sp - xbar_p)^2 S/(S-1) (this is how
  bpscan computes ``grad_var_mean_se``; it accounts for correlations between columns).
* ``mean_se``: mean and s/sqrt(S).
* ``resample``: B bootstrap replicates of one of these statistics *and its standard error*,
  each from S rows drawn with replacement (the calibration of fitting.py / calibration.py
  needs both: a heavy tail moves them together).
"""
import numpy as np

KINDS = ("var", "mean")
ESTIMATORS = ("column", "zmean", "mean")


def as_matrix(x) -> np.ndarray:
    x = np.asarray(x, dtype=float)
    return x.reshape(-1, 1) if x.ndim == 1 else x


def var_se(x):
    """(var, se) per column of x ([S] or [S, P]); NaN when S < 2."""
    X = as_matrix(x)
    S = X.shape[0]
    if S < 2:
        nan = np.full(X.shape[1], np.nan)
        return nan, nan
    d = X - X.mean(axis=0)
    s2 = np.einsum("ij,ij->j", d, d) / (S - 1)
    m4 = np.mean(d ** 4, axis=0)
    v = (m4 - (S - 3) / (S - 1) * s2 * s2) / S
    return s2, np.sqrt(np.maximum(v, 0.0))


def mean_var_se(x):
    """(mean over columns of the unbiased variances, its standard error) of x [S, P]."""
    X = as_matrix(x)
    S = X.shape[0]
    if S < 2:
        return np.nan, np.nan
    d = X - X.mean(axis=0)
    z = np.mean(d * d, axis=1) * S / (S - 1)
    return float(z.mean()), float(z.std(ddof=1) / np.sqrt(S))


def mean_se(x):
    x = np.asarray(x, dtype=float).reshape(-1)
    S = x.size
    if S < 2:
        return (float(x.mean()) if S else np.nan), np.nan
    return float(x.mean()), float(x.std(ddof=1) / np.sqrt(S))


def _resampled_means(A: np.ndarray, B: int, rng, chunk_bytes: int = 32 << 20) -> np.ndarray:
    """[B, m]: the column means of A [S, m] over B resamples of its S rows with replacement.
    Few columns: gather the drawn rows column by column; many: multinomial counts times A."""
    S, m = A.shape
    out = np.empty((B, m))
    b = max(1, min(B, chunk_bytes // (8 * S * (1 if m <= 8 else 2))))
    for lo in range(0, B, b):
        hi = min(B, lo + b)
        idx = rng.integers(0, S, size=(hi - lo, S))
        if m <= 8:
            for j in range(m):
                out[lo:hi, j] = A[:, j][idx].mean(axis=1)
        else:
            flat = (np.arange(hi - lo)[:, None] * S + idx).ravel()
            c = np.bincount(flat, minlength=(hi - lo) * S).reshape(hi - lo, S).astype(float)
            out[lo:hi] = c @ A / S
    return out


def resample(x, estimator: str, B: int, rng):
    """B bootstrap replicates (value*, se*) of one of the estimators above, each from the S
    rows of x [S, P] drawn with replacement (whole rows: correlations between columns kept).

    estimator: "column" = var_se of one column, "zmean" = mean_var_se, "mean" = mean_se over
    all entries. Every replicate is the statistic and its standard error recomputed from the
    resampled rows, so the correlation between a value and its SE is reproduced. For
    "zmean" the SE of a replicate uses the original column means (a difference of relative
    order 1/S); the value is exact."""
    X = as_matrix(x)
    S, P = X.shape
    if S < 2:
        nan = np.full(B, np.nan)
        return nan, nan.copy()
    d = X - X.mean(axis=0)
    if estimator == "column":
        if P != 1:
            raise ValueError("estimator 'column' needs one column")
        v = d[:, 0]
        M = _resampled_means(np.column_stack([v, v * v, v ** 3, v ** 4]), B, rng)
        m1, m2, m3, m4 = M.T
        c2 = m2 - m1 * m1
        c4 = m4 - 4 * m1 * m3 + 6 * m1 * m1 * m2 - 3 * m1 ** 4
        s2 = c2 * S / (S - 1)
        se = np.sqrt(np.maximum(c4 - (S - 3) / (S - 1) * s2 * s2, 0.0) / S)
        return s2, se
    if estimator == "zmean":
        z = np.mean(d * d, axis=1)
        M = _resampled_means(np.column_stack([z, z * z, d]), B, rng)
        mz, mz2, m1 = M[:, 0], M[:, 1], M[:, 2:]
        val = (mz - np.mean(m1 * m1, axis=1)) * S / (S - 1)
        sd = np.sqrt(np.maximum(mz2 - mz * mz, 0.0) * S / (S - 1)) * S / (S - 1)
        return val, sd / np.sqrt(S)
    if estimator == "mean":         # as mean_se: every entry one observation
        v = X.reshape(-1)
        N = v.size
        c = v - v.mean()
        M = _resampled_means(c.reshape(-1, 1) ** np.arange(1, 3), B, rng)
        m1, m2 = M.T
        sd = np.sqrt(np.maximum(m2 - m1 * m1, 0.0) * N / (N - 1))
        return m1 + v.mean(), sd / np.sqrt(N)
    raise ValueError("unknown estimator %r (use column, zmean, mean)" % estimator)
