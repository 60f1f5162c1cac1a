/* gates: fixed gate matrices, Pauli strings and rotations, Haar sampling, and small dense
 * row-major matrix helpers (conventions in include/bpscan/gates.h).
 *
 * - Pauli strings are built directly as signed permutations (one non-zero per row).
 * - CAN(tx,ty,tz) is written in closed form: XX, YY, ZZ commute and act on the two
 *   blocks span{|00>,|11>} and span{|01>,|10>} as c 1 + s X.
 * - Haar unitaries follow Mezzadri (2007): Z = (G1 + i G2)/sqrt(2) filled column-major
 *   from the stream, Z = QR (bps_lin_qr), U = Q diag(R_ii/|R_ii|), transposed in place
 *   to row-major. The same stream always gives the same U.
 * - The matrix helpers accept aliased arguments where that makes sense (mul, adjoint).
 */
#include "bpscan/gates.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "bpscan/error.h"
#include "bpscan/linalg.h"

#define BPS_PAULI_MAX BPS_PAULI_MAX_QUBITS

/* Validate a Pauli string; on success *k = its length. */
static int pauli_check(const char *p, int *k) {
  BPS_CHECK(p, BPS_ERR_ARG, "NULL Pauli string");
  size_t n = strnlen(p, BPS_PAULI_MAX + 1);
  BPS_CHECK(n >= 1, BPS_ERR_ARG, "empty Pauli string");
  BPS_CHECK(n <= BPS_PAULI_MAX, BPS_ERR_ARG, "Pauli string longer than %d letters", BPS_PAULI_MAX);
  for (size_t t = 0; t < n; t++)
    BPS_CHECK(p[t] == 'I' || p[t] == 'X' || p[t] == 'Y' || p[t] == 'Z', BPS_ERR_ARG,
              "bad Pauli letter '%c' at position %zu of \"%s\" (expected I, X, Y or Z)", p[t], t,
              p);
  *k = (int)n;
  return BPS_OK;
}

/* A k-letter Pauli string has one non-zero per row: row r has it in column
 * r ^ pauli_flip(p, k), with value pauli_entry(p, k, r). Letter t acts on bit (k-1-t). */
static bps_cplx pauli_entry(const char *p, int k, unsigned r) {
  bps_cplx v = 1;
  for (int t = 0; t < k; t++) {
    unsigned b = (r >> (k - 1 - t)) & 1u;
    switch (p[t]) {
    case 'Y': v *= b ? I : -I; break; /* Y = [[0,-i],[i,0]]: Y[b][1-b] */
    case 'Z':
      if (b) v = -v;
      break;
    default: break; /* I, X: factor 1 */
    }
  }
  return v;
}

/* The index bits flipped by the X and Y letters. */
static unsigned pauli_flip(const char *p, int k) {
  unsigned m = 0;
  for (int t = 0; t < k; t++)
    if (p[t] == 'X' || p[t] == 'Y') m |= 1u << (k - 1 - t);
  return m;
}

int bps_gate_pauli(const char *p, bps_cplx *P) {
  int k;
  BPS_CALL(pauli_check(p, &k));
  BPS_CHECK(P, BPS_ERR_ARG, "NULL output matrix");
  size_t d = (size_t)1 << k;
  unsigned flip = pauli_flip(p, k);
  memset(P, 0, d * d * sizeof(bps_cplx));
  for (size_t r = 0; r < d; r++) P[r * d + (r ^ flip)] = pauli_entry(p, k, (unsigned)r);
  return BPS_OK;
}

int bps_gate_pauli_rot(const char *p, double theta, bps_cplx *U) {
  int k;
  BPS_CALL(pauli_check(p, &k));
  BPS_CHECK(U, BPS_ERR_ARG, "NULL output matrix");
  size_t d = (size_t)1 << k;
  unsigned flip = pauli_flip(p, k);
  double c = cos(0.5 * theta), s = sin(0.5 * theta);
  memset(U, 0, d * d * sizeof(bps_cplx));
  for (size_t r = 0; r < d; r++) {
    U[r * d + (r ^ flip)] = -I * s * pauli_entry(p, k, (unsigned)r);
    U[r * d + r] += c;
  }
  return BPS_OK;
}

void bps_gate_u3(double theta, double phi, double lambda, bps_cplx U[4]) {
  double c = cos(0.5 * theta), s = sin(0.5 * theta);
  U[0] = c;
  U[1] = -cexp(I * lambda) * s;
  U[2] = cexp(I * phi) * s;
  U[3] = cexp(I * (phi + lambda)) * c;
}

void bps_gate_can(double tx, double ty, double tz, bps_cplx U[16]) {
  /* span{|00>,|11>}: tz 1 + (tx - ty) X;  span{|01>,|10>}: -tz 1 + (tx + ty) X. */
  bps_cplx em = cexp(-I * tz), ep = cexp(I * tz);
  double cm = cos(tx - ty), sm = sin(tx - ty), cp = cos(tx + ty), sp = sin(tx + ty);
  memset(U, 0, 16 * sizeof(bps_cplx));
  U[0 * 4 + 0] = U[3 * 4 + 3] = em * cm;
  U[0 * 4 + 3] = U[3 * 4 + 0] = -I * em * sm;
  U[1 * 4 + 1] = U[2 * 4 + 2] = ep * cp;
  U[1 * 4 + 2] = U[2 * 4 + 1] = -I * ep * sp;
}

void bps_gate_swap(bps_cplx U[16]) {
  memset(U, 0, 16 * sizeof(bps_cplx));
  U[0 * 4 + 0] = U[1 * 4 + 2] = U[2 * 4 + 1] = U[3 * 4 + 3] = 1;
}

void bps_gate_cnot(bps_cplx U[16]) {
  memset(U, 0, 16 * sizeof(bps_cplx));
  U[0 * 4 + 0] = U[1 * 4 + 1] = U[2 * 4 + 3] = U[3 * 4 + 2] = 1;
}

void bps_gate_cz(bps_cplx U[16]) {
  memset(U, 0, 16 * sizeof(bps_cplx));
  U[0 * 4 + 0] = U[1 * 4 + 1] = U[2 * 4 + 2] = 1;
  U[3 * 4 + 3] = -1;
}

void bps_gate_kak(const double p[15], bps_cplx U[16]) {
  bps_cplx a0[4], a1[4], b0[4], b1[4], pre[16], can[16], post[16], t[16];
  bps_gate_u3(p[0], p[1], p[2], a0);
  bps_gate_u3(p[3], p[4], p[5], a1);
  bps_gate_can(p[6], p[7], p[8], can);
  bps_gate_u3(p[9], p[10], p[11], b0);
  bps_gate_u3(p[12], p[13], p[14], b1);
  bps_mat_kron(2, a0, 2, a1, pre);
  bps_mat_kron(2, b0, 2, b1, post);
  bps_mat_mul(4, can, pre, t);
  bps_mat_mul(4, post, t, U);
}

int bps_haar_unitary(bps_rng *r, int dim, bps_cplx *U) {
  BPS_CHECK(r && U, BPS_ERR_ARG, "NULL argument");
  BPS_CHECK(dim >= 1 && dim <= (1 << 15), BPS_ERR_ARG, "Haar dimension %d outside [1, 2^15]", dim);
  size_t d = (size_t)dim;
  const double s = sqrt(0.5);
  /* Ginibre Z, column-major: entry (i, j) at U[i + d*j], drawn in storage order. */
  for (size_t n = 0; n < d * d; n++) {
    double g1 = bps_rng_normal(r), g2 = bps_rng_normal(r);
    U[n] = s * (g1 + I * g2);
  }
  int rc = BPS_OK;
  bps_cplx *diag = bps_alloc(d);
  BPS_CHECK_GOTO(diag, BPS_ERR_MEM, "out of memory (Haar %d)", dim);
  rc = bps_lin_qr(dim, dim, U, dim, diag);
  BPS_CHECK_GOTO(!rc, rc, "QR of a %dx%d Ginibre matrix", dim, dim);
  /* Phase fix Lambda_jj = R_jj/|R_jj| (1 if R_jj == 0, a probability-zero event). */
  for (size_t j = 0; j < d; j++) {
    double a = cabs(diag[j]);
    diag[j] = a > 0 ? diag[j] / a : 1.0;
  }
  /* Column-major Q -> row-major U, scaling column j by Lambda_jj. */
  for (size_t i = 0; i < d; i++) {
    U[i * d + i] *= diag[i];
    for (size_t j = i + 1; j < d; j++) {
      bps_cplx qij = U[i + d * j], qji = U[j + d * i];
      U[i * d + j] = qij * diag[j];
      U[j * d + i] = qji * diag[i];
    }
  }
cleanup:
  bps_free(diag);
  return rc;
}

void bps_haar_state(bps_rng *r, bps_idx dim, bps_cplx *psi) {
  if (dim <= 0) return;
  double nrm = 0;
  for (bps_idx i = 0; i < dim; i++) {
    double g1 = bps_rng_normal(r), g2 = bps_rng_normal(r);
    psi[i] = g1 + I * g2;
    nrm += g1 * g1 + g2 * g2;
  }
  if (nrm == 0) { /* probability zero */
    psi[0] = 1.0;
    return;
  }
  double s = 1.0 / sqrt(nrm);
  for (bps_idx i = 0; i < dim; i++) psi[i] *= s;
}

/* C = A B with no aliasing (C distinct from A and B). */
static void mul_noalias(size_t d, const bps_cplx *A, const bps_cplx *B, bps_cplx *C) {
  memset(C, 0, d * d * sizeof(bps_cplx));
  for (size_t i = 0; i < d; i++)
    for (size_t k = 0; k < d; k++) {
      bps_cplx a = A[i * d + k];
      if (a == 0) continue;
      const bps_cplx *b = B + k * d;
      bps_cplx *c = C + i * d;
      for (size_t j = 0; j < d; j++) c[j] += a * b[j];
    }
}

void bps_mat_mul(int d, const bps_cplx *A, const bps_cplx *B, bps_cplx *C) {
  if (d <= 0) return;
  size_t n = (size_t)d;
  if (C != A && C != B) {
    mul_noalias(n, A, B, C);
    return;
  }
  bps_cplx stackbuf[256];
  bps_cplx *T = n * n <= 256 ? stackbuf : malloc(n * n * sizeof(bps_cplx));
  if (!T) { /* cannot happen for gate sizes; make the failure visible */
    for (size_t i = 0; i < n * n; i++) C[i] = NAN;
    return;
  }
  mul_noalias(n, A, B, T);
  memcpy(C, T, n * n * sizeof(bps_cplx));
  if (T != stackbuf) free(T);
}

void bps_mat_adjoint(int d, const bps_cplx *A, bps_cplx *Ah) {
  if (d <= 0) return;
  size_t n = (size_t)d;
  if (A == Ah) {
    for (size_t i = 0; i < n; i++) {
      Ah[i * n + i] = conj(Ah[i * n + i]);
      for (size_t j = i + 1; j < n; j++) {
        bps_cplx t = Ah[i * n + j];
        Ah[i * n + j] = conj(Ah[j * n + i]);
        Ah[j * n + i] = conj(t);
      }
    }
    return;
  }
  for (size_t i = 0; i < n; i++)
    for (size_t j = 0; j < n; j++) Ah[j * n + i] = conj(A[i * n + j]);
}

void bps_mat_kron(int da, const bps_cplx *A, int db, const bps_cplx *B, bps_cplx *C) {
  if (da <= 0 || db <= 0) return;
  size_t na = (size_t)da, nb = (size_t)db, n = na * nb;
  for (size_t i = 0; i < na; i++)
    for (size_t j = 0; j < na; j++) {
      bps_cplx a = A[i * na + j];
      for (size_t k = 0; k < nb; k++)
        for (size_t l = 0; l < nb; l++) C[(i * nb + k) * n + (j * nb + l)] = a * B[k * nb + l];
    }
}

double bps_mat_unitarity_error(int d, const bps_cplx *U) {
  if (d <= 0) return 0.0;
  size_t n = (size_t)d;
  double err = 0.0;
  for (size_t i = 0; i < n; i++)
    for (size_t j = i; j < n; j++) {
      bps_cplx v = 0;
      for (size_t k = 0; k < n; k++) v += U[i * n + k] * conj(U[j * n + k]);
      double e = cabs(v - (i == j ? 1.0 : 0.0));
      if (!(e <= err)) err = e; /* propagates NaN */
    }
  return err;
}
