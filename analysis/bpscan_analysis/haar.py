"""Haar-random-state predictions for the diagnosed state (physics.md Sec. 4.9).

A Haar pure state on d_A * d_B, reduced to the d_A part:
  Page entropy  <S_A> = sum_{k=d_B+1}^{d_A d_B} 1/k - (d_A - 1)/(2 d_B)   (d_A <= d_B, nats)
  purity        E Tr rho_A^2 = (d_A + d_B)/(d_A d_B + 1)
  trace distance for d_A = 2: E T(rho_A, I/2) = (1/2) B(2, d_B - 1) / B(3/2, d_B - 1)
bpscan stores the first two per n (page_entropy, page_purity); d_B follows from the purity:
d_B = (d_A - P)/(P d_A - 1).
"""
import math

from scipy.special import betaln


def d_b_from_purity(d_a: float, purity: float) -> float:
    """The traced-out dimension d_B that gives Page purity ``purity`` (NaN if none)."""
    if not (math.isfinite(purity) and d_a >= 1):
        return math.nan
    den = purity * d_a - 1.0
    if den <= 0:
        return math.nan
    return (d_a - purity) / den


def trace_distance_one_qubit(d_b: float) -> float:
    """E T(rho_A, I/2) for one diagnosed qubit (d_A = 2) of a Haar state; NaN if d_b < 2."""
    if not (math.isfinite(d_b) and d_b >= 2):
        return math.nan
    return 0.5 * math.exp(betaln(2.0, d_b - 1.0) - betaln(1.5, d_b - 1.0))


def haar_trace_distance(diag_qubits: int, page_purity: float) -> float:
    """The Haar trace distance for the diagnosed state of one qubit count, else NaN."""
    if diag_qubits != 1:
        return math.nan
    d_b = d_b_from_purity(2.0, page_purity)
    if not math.isfinite(d_b):
        return math.nan
    return trace_distance_one_qubit(float(round(d_b)))
