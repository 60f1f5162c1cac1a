"""Sample statistics, as in include/bpscan/stats.h, and their bootstrap replicates.

* ``var_se``: unbiased variance s^2 of each column and its standard error
  sqrt((m4 - (S-3)/(S-1) s^4) / S), m4 the (biased) fourth central moment.
* ``mean_var_se``: the mean over columns of the unbiased variances, with the standard error
  of the mean over samples of z_s = (1/P) sum_p (x_sp - xbar_p)^2 S/(S-1) (this is how
  bpscan computes ``grad_var_mean_se``; it accounts for correlations between columns).
* ``mean_se``: mean and s/sqrt(S).
* ``bootstrap``: B replicates of one of these statistics, each from S rows drawn with
  replacement (done with multinomial counts, so an [B, S] x [S, P] product per chunk).
"""
import numpy as np

KINDS = ("var", "mean")


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


def _counts(rng, S, b):
    """[b, S] multinomial counts of S draws with replacement from S rows."""
    idx = rng.integers(0, S, size=(b, S))
    flat = (np.arange(b)[:, None] * S + idx).ravel()
    return np.bincount(flat, minlength=b * S).reshape(b, S).astype(float)


def bootstrap(x, kind: str, B: int, rng, chunk_bytes: int = 32 << 20) -> np.ndarray:
    """B bootstrap replicates of the statistic ``kind`` of x [S, P]:
    "var" = mean over columns of the unbiased variance, "mean" = mean over all entries."""
    X = as_matrix(x)
    S, P = X.shape
    out = np.empty(B)
    if S < 2:
        out[:] = np.nan
        return out
    Xc = X - X.mean(axis=0)          # centring keeps the one-pass moments accurate
    X2 = Xc * Xc
    b = max(1, min(B, chunk_bytes // (8 * S)))
    for lo in range(0, B, b):
        hi = min(B, lo + b)
        c = _counts(rng, S, hi - lo)
        m1 = c @ Xc / S                  # [b, P]
        if kind == "mean":
            out[lo:hi] = np.mean(m1, axis=1) + X.mean(axis=0).mean()
        elif kind == "var":
            m2 = c @ X2 / S
            out[lo:hi] = np.mean((m2 - m1 * m1) * (S / (S - 1)), axis=1)
        else:
            raise ValueError("kind must be one of %s" % (KINDS,))
    return out
