/* ref: naive dense reference mathematics for tests (see ref.h). */
#include "ref.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

bps_cplx *ref_alloc(size_t n) {
  bps_cplx *p = calloc(n ? n : 1, sizeof(bps_cplx));
  if (!p) abort();
  return p;
}

void ref_matmul(int d, const bps_cplx *A, const bps_cplx *B, bps_cplx *C) {
  bps_cplx *T = ref_alloc((size_t)d * d);
  for (int i = 0; i < d; i++)
    for (int k = 0; k < d; k++) {
      bps_cplx a = A[(size_t)i * d + k];
      for (int j = 0; j < d; j++) T[(size_t)i * d + j] += a * B[(size_t)k * d + j];
    }
  memcpy(C, T, sizeof(bps_cplx) * d * d);
  free(T);
}

void ref_adjoint(int d, const bps_cplx *A, bps_cplx *Ah) {
  bps_cplx *T = ref_alloc((size_t)d * d);
  for (int i = 0; i < d; i++)
    for (int j = 0; j < d; j++) T[(size_t)j * d + i] = conj(A[(size_t)i * d + j]);
  memcpy(Ah, T, sizeof(bps_cplx) * d * d);
  free(T);
}

void ref_kron(int da, const bps_cplx *A, int db, const bps_cplx *B, bps_cplx *C) {
  int d = da * db;
  for (int i = 0; i < da; i++)
    for (int j = 0; j < da; j++)
      for (int k = 0; k < db; k++)
        for (int l = 0; l < db; l++)
          C[(size_t)(i * db + k) * d + (j * db + l)] = A[i * da + j] * B[k * db + l];
}

/* The bit of qubit t in a q-qubit index. */
static int qbit(int q, size_t idx, int t) { return (int)((idx >> (q - 1 - t)) & 1u); }

void ref_embed(int q, int k, const int *qubits, const bps_cplx *U, bps_cplx *Ufull) {
  size_t d = (size_t)1 << q;
  size_t mask = 0;
  for (int t = 0; t < k; t++) mask |= (size_t)1 << (q - 1 - qubits[t]);
  for (size_t i = 0; i < d; i++)
    for (size_t j = 0; j < d; j++) {
      if ((i & ~mask) != (j & ~mask)) {
        Ufull[i * d + j] = 0;
        continue;
      }
      int gi = 0, gj = 0;
      for (int t = 0; t < k; t++) {
        gi = 2 * gi + qbit(q, i, qubits[t]);
        gj = 2 * gj + qbit(q, j, qubits[t]);
      }
      Ufull[i * d + j] = U[gi * (1 << k) + gj];
    }
}

void ref_conjugate(int d, const bps_cplx *U, const bps_cplx *rho, bps_cplx *out) {
  bps_cplx *T = ref_alloc((size_t)d * d), *Uh = ref_alloc((size_t)d * d);
  ref_matmul(d, U, rho, T);
  ref_adjoint(d, U, Uh);
  ref_matmul(d, T, Uh, out);
  free(T);
  free(Uh);
}

void ref_kraus(int d, int nk, const bps_cplx *K, const bps_cplx *rho, bps_cplx *out) {
  size_t dd = (size_t)d * d;
  bps_cplx *acc = ref_alloc(dd), *T = ref_alloc(dd);
  for (int m = 0; m < nk; m++) {
    ref_conjugate(d, K + m * dd, rho, T);
    for (size_t i = 0; i < dd; i++) acc[i] += T[i];
  }
  memcpy(out, acc, dd * sizeof(bps_cplx));
  free(acc);
  free(T);
}

void ref_append_zero(int q, const bps_cplx *rho, int a, bps_cplx *out) {
  int da = 1 << a;
  bps_cplx *Z = ref_alloc((size_t)da * da);
  Z[0] = 1;
  ref_kron(1 << q, rho, da, Z, out);
  free(Z);
}

void ref_ptrace(int q, const bps_cplx *rho, int ntr, const int *traced, bps_cplx *out) {
  int keep[64], nk = 0;
  for (int t = 0; t < q; t++) {
    int tr = 0;
    for (int u = 0; u < ntr; u++) tr |= traced[u] == t;
    if (!tr) keep[nk++] = t;
  }
  size_t d = (size_t)1 << q, dk = (size_t)1 << nk;
  memset(out, 0, dk * dk * sizeof(bps_cplx));
  for (size_t i = 0; i < d; i++)
    for (size_t j = 0; j < d; j++) {
      int same = 1;
      for (int u = 0; u < ntr; u++) same &= qbit(q, i, traced[u]) == qbit(q, j, traced[u]);
      if (!same) continue;
      size_t ki = 0, kj = 0;
      for (int u = 0; u < nk; u++) {
        ki = 2 * ki + (size_t)qbit(q, i, keep[u]);
        kj = 2 * kj + (size_t)qbit(q, j, keep[u]);
      }
      out[ki * dk + kj] += rho[i * d + j];
    }
}

void ref_pauli(const char *p, bps_cplx *P) {
  static const bps_cplx I2[4] = {1, 0, 0, 1}, X2[4] = {0, 1, 1, 0}, Y2[4] = {0, -I, I, 0},
                        Z2[4] = {1, 0, 0, -1};
  int q = (int)strlen(p);
  bps_cplx *acc = ref_alloc((size_t)1 << (2 * q)), *tmp = ref_alloc((size_t)1 << (2 * q));
  acc[0] = 1;
  int d = 1;
  for (int t = 0; t < q; t++) {
    const bps_cplx *s = p[t] == 'X' ? X2 : p[t] == 'Y' ? Y2 : p[t] == 'Z' ? Z2 : I2;
    ref_kron(d, acc, 2, s, tmp);
    d *= 2;
    memcpy(acc, tmp, sizeof(bps_cplx) * d * d);
  }
  memcpy(P, acc, sizeof(bps_cplx) * d * d);
  free(acc);
  free(tmp);
}

bps_cplx ref_trace_prod(int d, const bps_cplx *A, const bps_cplx *B) {
  bps_cplx t = 0;
  for (int i = 0; i < d; i++)
    for (int k = 0; k < d; k++) t += A[(size_t)i * d + k] * B[(size_t)k * d + i];
  return t;
}

double ref_maxdiff(size_t n, const bps_cplx *a, const bps_cplx *b) {
  double m = 0;
  for (size_t i = 0; i < n; i++) m = fmax(m, cabs(a[i] - b[i]));
  return m;
}

static bps_cplx gauss(bps_rng *r) { return bps_rng_normal(r) + I * bps_rng_normal(r); }

void ref_random_unitary(bps_rng *r, int d, bps_cplx *U) {
  /* rows by modified Gram-Schmidt */
  for (size_t i = 0; i < (size_t)d * d; i++) U[i] = gauss(r);
  for (int i = 0; i < d; i++) {
    bps_cplx *ui = U + (size_t)i * d;
    for (int j = 0; j < i; j++) {
      bps_cplx *uj = U + (size_t)j * d, ov = 0;
      for (int k = 0; k < d; k++) ov += conj(uj[k]) * ui[k];
      for (int k = 0; k < d; k++) ui[k] -= ov * uj[k];
    }
    double nrm = 0;
    for (int k = 0; k < d; k++) nrm += creal(ui[k] * conj(ui[k]));
    nrm = sqrt(nrm);
    for (int k = 0; k < d; k++) ui[k] /= nrm;
  }
}

void ref_random_density(bps_rng *r, int q, int rank, bps_cplx *rho, bps_cplx *Aout) {
  int d = 1 << q;
  bps_cplx *A = ref_alloc((size_t)d * rank);
  for (size_t i = 0; i < (size_t)d * rank; i++) A[i] = gauss(r);
  double tr = 0;
  for (size_t i = 0; i < (size_t)d * rank; i++) tr += creal(A[i] * conj(A[i]));
  double s = 1.0 / sqrt(tr);
  for (size_t i = 0; i < (size_t)d * rank; i++) A[i] *= s;
  for (int i = 0; i < d; i++)
    for (int j = 0; j < d; j++) {
      bps_cplx v = 0;
      for (int c = 0; c < rank; c++) v += A[i + (size_t)d * c] * conj(A[j + (size_t)d * c]);
      rho[(size_t)i * d + j] = v;
    }
  if (Aout) memcpy(Aout, A, sizeof(bps_cplx) * d * rank);
  free(A);
}

void ref_random_kraus(bps_rng *r, int d, int nk, bps_cplx *K) {
  /* An isometry V (nk*d x d): take d columns of a random unitary of size nk*d. */
  int D = nk * d;
  bps_cplx *U = ref_alloc((size_t)D * D);
  ref_random_unitary(r, D, U);
  for (int m = 0; m < nk; m++)
    for (int i = 0; i < d; i++)
      for (int j = 0; j < d; j++)
        K[(size_t)m * d * d + (size_t)i * d + j] = U[(size_t)(m * d + i) * D + j];
  free(U);
}
