/* t100-gates: the gate library against closed forms and the naive reference (ref.c).
 * - every gate is unitary to 1e-14;
 * - Pauli strings equal the Kronecker products of ref_pauli; bad strings are rejected;
 * - R_P(t) = cos(t/2) 1 - i sin(t/2) P (P from ref_pauli), R_P(2pi) = -1, group law;
 * - U3 special cases (R_x, R_y, phase), CAN closed forms and the product of exp(-i t PP),
 *   CAN(pi/4,pi/4,pi/4) = e^{-i pi/4} SWAP; CNOT/CZ/SWAP matrices and conventions;
 * - KAK = (U3 (x) U3) CAN (U3 (x) U3) in the documented parameter order;
 * - the matrix helpers (mul with aliasing, adjoint in place, kron, unitarity error). */
#include <complex.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "bps_test.h"
#include "bpscan/gates.h"
#include "ref.h"

#define TOL 1e-14

static const char LET[4] = {'I', 'X', 'Y', 'Z'};

/* The k-letter string number idx (base 4). */
static void pauli_string(int k, int idx, char *p) {
  for (int t = k - 1; t >= 0; t--) {
    p[t] = LET[idx % 4];
    idx /= 4;
  }
  p[k] = 0;
}

/* exp(-i a P) = cos a 1 - i sin a P for a Pauli string P (reference, via ref_pauli). */
static void ref_exp_pauli(const char *p, double a, bps_cplx *U) {
  int d = 1 << strlen(p);
  ref_pauli(p, U);
  for (int i = 0; i < d * d; i++) U[i] *= -I * sin(a);
  for (int i = 0; i < d; i++) U[i * d + i] += cos(a);
}

static void u3_ref(double t, double f, double l, bps_cplx U[4]) {
  /* U3 = R_z(f) R_y(t) R_z(l) e^{i(f+l)/2} */
  bps_cplx rzf[4] = {cexp(-I * f / 2), 0, 0, cexp(I * f / 2)};
  bps_cplx rzl[4] = {cexp(-I * l / 2), 0, 0, cexp(I * l / 2)};
  bps_cplx ry[4] = {cos(t / 2), -sin(t / 2), sin(t / 2), cos(t / 2)};
  bps_cplx tmp[4];
  ref_matmul(2, ry, rzl, tmp);
  ref_matmul(2, rzf, tmp, U);
  for (int i = 0; i < 4; i++) U[i] *= cexp(I * (f + l) / 2);
}

static double ang(bps_rng *r) { return 4 * M_PI * bps_rng_uniform(r) - 2 * M_PI; }

int main(void) {
  setvbuf(stdout, NULL, _IOLBF, 0); /* keep stdout and stderr in order in logs */
  bps_rng r;
  bps_rng_init(&r, 100, 0, 0, BPS_STREAM_TEST, 0);
  bps_cplx *A = ref_alloc(1 << 20), *B = ref_alloc(1 << 20), *C = ref_alloc(1 << 20);
  char p[16];

  /* --- Pauli strings ------------------------------------------------------------- */
  {
    double worst = 0, worst_u = 0;
    for (int k = 1; k <= 4; k++)
      for (int idx = 0; idx < (1 << (2 * k)); idx++) {
        pauli_string(k, idx, p);
        int d = 1 << k;
        CHECK_OK(bps_gate_pauli(p, A));
        ref_pauli(p, B);
        worst = fmax(worst, ref_maxdiff((size_t)d * d, A, B));
        worst_u = fmax(worst_u, bps_mat_unitarity_error(d, A));
      }
    printf("Pauli strings k <= 4: max |P - ref| = %.2e, unitarity %.2e\n", worst, worst_u);
    CHECK(worst == 0.0);
    CHECK(worst_u < TOL);
    /* the first letter acts on the most significant bit: "XI" maps |00> to |10> */
    CHECK_OK(bps_gate_pauli("XI", A));
    CHECK(A[2 * 4 + 0] == 1 && A[0 * 4 + 2] == 1 && A[1 * 4 + 3] == 1);
    CHECK_OK(bps_gate_pauli("Y", A));
    CHECK(A[0] == 0 && A[1] == -I && A[2] == I && A[3] == 0);
    /* 10 letters (the maximum): a long random string */
    strcpy(p, "XYZIZYXXZY");
    CHECK_OK(bps_gate_pauli(p, A));
    ref_pauli(p, B);
    CHECK(ref_maxdiff((size_t)1 << 20, A, B) == 0.0);
    /* rejected */
    CHECK_FAILS(bps_gate_pauli("XYZIZYXXZYX", A), BPS_ERR_ARG); /* 11 letters */
    CHECK_FAILS(bps_gate_pauli("", A), BPS_ERR_ARG);
    CHECK_FAILS(bps_gate_pauli(NULL, A), BPS_ERR_ARG);
    CHECK_FAILS(bps_gate_pauli("XA", A), BPS_ERR_ARG);
    CHECK_FAILS(bps_gate_pauli("x", A), BPS_ERR_ARG);
    CHECK_FAILS(bps_gate_pauli("X Z", A), BPS_ERR_ARG);
    CHECK_FAILS(bps_gate_pauli("Z", NULL), BPS_ERR_ARG);
    CHECK_FAILS(bps_gate_pauli_rot("XQ", 0.3, A), BPS_ERR_ARG);
    CHECK_FAILS(bps_gate_pauli_rot("", 0.3, A), BPS_ERR_ARG);
    CHECK_FAILS(bps_gate_pauli_rot("ZZZZZZZZZZZ", 0.3, A), BPS_ERR_ARG);
    CHECK_FAILS(bps_gate_pauli_rot(NULL, 0.3, A), BPS_ERR_ARG);
    /* the error message names the letter */
    int rc = bps_gate_pauli("XW", A);
    CHECK(rc == BPS_ERR_ARG && strstr(bps_error_message(), "'W'") != NULL);
    printf("bad letter message: %s\n", bps_error_message());
    bps_error_clear();
  }

  /* --- Pauli rotations ------------------------------------------------------------ */
  {
    double worst = 0, worst_u = 0;
    for (int k = 1; k <= 3; k++)
      for (int idx = 0; idx < (1 << (2 * k)); idx++) {
        pauli_string(k, idx, p);
        int d = 1 << k;
        for (int rep = 0; rep < 3; rep++) {
          double t = ang(&r);
          CHECK_OK(bps_gate_pauli_rot(p, t, A));
          ref_exp_pauli(p, t / 2, B);
          worst = fmax(worst, ref_maxdiff((size_t)d * d, A, B));
          worst_u = fmax(worst_u, bps_mat_unitarity_error(d, A));
        }
      }
    printf("R_P k <= 3: max |R_P - (cos 1 - i sin P)| = %.2e, unitarity %.2e\n", worst, worst_u);
    CHECK(worst < TOL);
    CHECK(worst_u < TOL);

    /* single letters against the explicit 2x2 matrices */
    double t = 0.7, c = cos(t / 2), s = sin(t / 2);
    bps_cplx rx[4] = {c, -I * s, -I * s, c}, ry[4] = {c, -s, s, c},
             rz[4] = {cexp(-I * t / 2), 0, 0, cexp(I * t / 2)};
    CHECK_OK(bps_gate_pauli_rot("X", t, A));
    CHECK(ref_maxdiff(4, A, rx) < TOL);
    CHECK_OK(bps_gate_pauli_rot("Y", t, A));
    CHECK(ref_maxdiff(4, A, ry) < TOL);
    CHECK_OK(bps_gate_pauli_rot("Z", t, A));
    CHECK(ref_maxdiff(4, A, rz) < TOL);
    CHECK_OK(bps_gate_pauli_rot("I", t, A));
    CHECK(ref_maxdiff(4, A, (bps_cplx[4]){cexp(-I * t / 2), 0, 0, cexp(-I * t / 2)}) < TOL);

    /* R_P is NOT a Kronecker product of single-letter rotations */
    CHECK_OK(bps_gate_pauli_rot("XZ", t, A));
    bps_cplx k2[16];
    ref_kron(2, rx, 2, rz, k2);
    CHECK(ref_maxdiff(16, A, k2) > 0.1);

    /* R_P(2 pi) = -1, R_P(4 pi) = 1, R_P(0) = 1 */
    const char *strs[] = {"X", "Y", "Z", "XY", "ZZZ", "YIXZ", "XYZIZYXXZY"};
    for (int i = 0; i < 7; i++) {
      int d = 1 << strlen(strs[i]);
      CHECK_OK(bps_gate_pauli_rot(strs[i], 2 * M_PI, A));
      double e = 0;
      for (int a = 0; a < d; a++)
        for (int b = 0; b < d; b++) e = fmax(e, cabs(A[(size_t)a * d + b] + (a == b)));
      CHECK(e < 1e-15 * 4);
      CHECK_OK(bps_gate_pauli_rot(strs[i], 0.0, A));
      e = 0;
      for (int a = 0; a < d; a++)
        for (int b = 0; b < d; b++) e = fmax(e, cabs(A[(size_t)a * d + b] - (a == b)));
      CHECK(e == 0);
    }
    /* group law R(a) R(b) = R(a+b), and R(t)^dag = R(-t) */
    CHECK_OK(bps_gate_pauli_rot("YXZ", 0.4, A));
    CHECK_OK(bps_gate_pauli_rot("YXZ", -1.3, B));
    bps_mat_mul(8, A, B, C);
    CHECK_OK(bps_gate_pauli_rot("YXZ", -0.9, B));
    CHECK(ref_maxdiff(64, C, B) < TOL);
    CHECK_OK(bps_gate_pauli_rot("YXZ", 0.9, A));
    bps_mat_adjoint(8, A, C);
    CHECK(ref_maxdiff(64, C, B) < TOL);
    /* generator: i dR/dt at 0 = P/2 (central difference) */
    double h = 1e-5;
    CHECK_OK(bps_gate_pauli_rot("ZY", h, A));
    CHECK_OK(bps_gate_pauli_rot("ZY", -h, B));
    ref_pauli("ZY", C);
    double e = 0;
    for (int i = 0; i < 16; i++) e = fmax(e, cabs(I * (A[i] - B[i]) / (2 * h) - 0.5 * C[i]));
    CHECK(e < 1e-9);
  }

  /* --- U3 ------------------------------------------------------------------------- */
  {
    double worst = 0, worst_u = 0;
    bps_cplx u[4], v[4];
    for (int rep = 0; rep < 50; rep++) {
      double t = ang(&r), f = ang(&r), l = ang(&r);
      bps_gate_u3(t, f, l, u);
      u3_ref(t, f, l, v);
      worst = fmax(worst, ref_maxdiff(4, u, v));
      worst_u = fmax(worst_u, bps_mat_unitarity_error(2, u));
      /* U3(t,-pi/2,pi/2) = R_x(t), U3(t,0,0) = R_y(t) */
      bps_gate_u3(t, -M_PI / 2, M_PI / 2, u);
      CHECK_OK(bps_gate_pauli_rot("X", t, A));
      worst = fmax(worst, ref_maxdiff(4, u, A));
      bps_gate_u3(t, 0, 0, u);
      CHECK_OK(bps_gate_pauli_rot("Y", t, A));
      worst = fmax(worst, ref_maxdiff(4, u, A));
      /* U3(0,0,l) = e^{i l/2} R_z(l) */
      bps_gate_u3(0, 0, l, u);
      CHECK_OK(bps_gate_pauli_rot("Z", l, A));
      for (int i = 0; i < 4; i++) A[i] *= cexp(I * l / 2);
      worst = fmax(worst, ref_maxdiff(4, u, A));
    }
    printf("U3: max deviation %.2e, unitarity %.2e\n", worst, worst_u);
    CHECK(worst < TOL);
    CHECK(worst_u < TOL);
    bps_gate_u3(0, 0, 0, u);
    CHECK(ref_maxdiff(4, u, (bps_cplx[4]){1, 0, 0, 1}) == 0);
    /* the documented matrix entry by entry */
    double t = 1.1, f = 0.3, l = -2.0;
    bps_gate_u3(t, f, l, u);
    CHECK(cabs(u[0] - cos(t / 2)) < TOL);
    CHECK(cabs(u[1] + cexp(I * l) * sin(t / 2)) < TOL);
    CHECK(cabs(u[2] - cexp(I * f) * sin(t / 2)) < TOL);
    CHECK(cabs(u[3] - cexp(I * (f + l)) * cos(t / 2)) < TOL);
  }

  /* --- CAN ------------------------------------------------------------------------ */
  {
    bps_cplx U[16], V[16], W[16], T[16];
    double worst = 0, worst_u = 0;
    for (int rep = 0; rep < 50; rep++) {
      double tx = ang(&r), ty = ang(&r), tz = ang(&r);
      bps_gate_can(tx, ty, tz, U);
      worst_u = fmax(worst_u, bps_mat_unitarity_error(4, U));
      /* exp(-i tx XX) exp(-i ty YY) exp(-i tz ZZ), factors commute */
      ref_exp_pauli("XX", tx, V);
      ref_exp_pauli("YY", ty, W);
      ref_matmul(4, V, W, T);
      ref_exp_pauli("ZZ", tz, V);
      ref_matmul(4, T, V, W);
      worst = fmax(worst, ref_maxdiff(16, U, W));
      /* = R_XX(2tx) R_YY(2ty) R_ZZ(2tz) with the library's rotations, other order */
      CHECK_OK(bps_gate_pauli_rot("ZZ", 2 * tz, V));
      CHECK_OK(bps_gate_pauli_rot("XX", 2 * tx, W));
      ref_matmul(4, V, W, T);
      CHECK_OK(bps_gate_pauli_rot("YY", 2 * ty, V));
      ref_matmul(4, T, V, W);
      worst = fmax(worst, ref_maxdiff(16, U, W));
      /* CAN(tx,0,0) = R_XX(2tx), CAN(0,ty,0) = R_YY(2ty), CAN(0,0,tz) = R_ZZ(2tz) */
      bps_gate_can(tx, 0, 0, U);
      CHECK_OK(bps_gate_pauli_rot("XX", 2 * tx, V));
      worst = fmax(worst, ref_maxdiff(16, U, V));
      bps_gate_can(0, ty, 0, U);
      CHECK_OK(bps_gate_pauli_rot("YY", 2 * ty, V));
      worst = fmax(worst, ref_maxdiff(16, U, V));
      bps_gate_can(0, 0, tz, U);
      CHECK_OK(bps_gate_pauli_rot("ZZ", 2 * tz, V));
      worst = fmax(worst, ref_maxdiff(16, U, V));
    }
    printf("CAN: max deviation %.2e, unitarity %.2e\n", worst, worst_u);
    CHECK(worst < 4 * TOL);
    CHECK(worst_u < TOL);
    bps_gate_can(0, 0, 0, U);
    double e = 0;
    for (int i = 0; i < 4; i++)
      for (int j = 0; j < 4; j++) e = fmax(e, cabs(U[i * 4 + j] - (i == j)));
    CHECK(e == 0);
    bps_gate_can(M_PI / 4, M_PI / 4, M_PI / 4, U);
    bps_gate_swap(V);
    for (int i = 0; i < 16; i++) V[i] *= cexp(-I * M_PI / 4);
    CHECK(ref_maxdiff(16, U, V) < TOL);
    /* the frequency-2 property: CAN(tx + pi, ...) = -CAN(tx, ...) */
    bps_gate_can(0.3, -0.8, 1.9, U);
    bps_gate_can(0.3 + M_PI, -0.8, 1.9, V);
    for (int i = 0; i < 16; i++) V[i] = -V[i];
    CHECK(ref_maxdiff(16, U, V) < TOL);
  }

  /* --- fixed two-qubit gates ----------------------------------------------------- */
  {
    bps_cplx U[16], V[16], T[16];
    const bps_cplx swap[16] = {1, 0, 0, 0, 0, 0, 1, 0, 0, 1, 0, 0, 0, 0, 0, 1};
    const bps_cplx cnot[16] = {1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 1, 0, 0, 1, 0};
    const bps_cplx cz[16] = {1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0, -1};
    bps_gate_swap(U);
    CHECK(ref_maxdiff(16, U, swap) == 0);
    CHECK(bps_mat_unitarity_error(4, U) < TOL);
    bps_gate_cnot(U);
    CHECK(ref_maxdiff(16, U, cnot) == 0);
    CHECK(bps_mat_unitarity_error(4, U) < TOL);
    bps_gate_cz(U);
    CHECK(ref_maxdiff(16, U, cz) == 0);
    CHECK(bps_mat_unitarity_error(4, U) < TOL);
    /* control = first qubit: CNOT = |0><0| (x) 1 + |1><1| (x) X */
    bps_cplx p0[4] = {1, 0, 0, 0}, p1[4] = {0, 0, 0, 1}, id[4] = {1, 0, 0, 1}, x[4] = {0, 1, 1, 0};
    ref_kron(2, p0, 2, id, T);
    ref_kron(2, p1, 2, x, V);
    for (int i = 0; i < 16; i++) V[i] += T[i];
    bps_gate_cnot(U);
    CHECK(ref_maxdiff(16, U, V) == 0);
    /* CNOT = (1 (x) H) CZ (1 (x) H) */
    double h = 1 / sqrt(2.0);
    bps_cplx hh[4] = {h, h, h, -h}, ih[16];
    ref_kron(2, id, 2, hh, ih);
    bps_gate_cz(V);
    ref_matmul(4, ih, V, T);
    ref_matmul(4, T, ih, V);
    CHECK(ref_maxdiff(16, U, V) < TOL);
    /* SWAP = CNOT_01 CNOT_10 CNOT_01 */
    bps_cplx c10[16];
    int q10[2] = {1, 0};
    ref_embed(2, 2, q10, cnot, c10);
    ref_matmul(4, cnot, c10, T);
    ref_matmul(4, T, cnot, V);
    CHECK(ref_maxdiff(16, V, swap) == 0);
  }

  /* --- KAK ------------------------------------------------------------------------ */
  {
    double pz[15] = {0};
    bps_cplx U[16], V[16], T[16], a[4], b[4], k1[16], k2[16], can[16];
    bps_gate_kak(pz, U);
    double e = 0;
    for (int i = 0; i < 4; i++)
      for (int j = 0; j < 4; j++) e = fmax(e, cabs(U[i * 4 + j] - (i == j)));
    CHECK(e == 0);
    double worst = 0, worst_u = 0;
    for (int rep = 0; rep < 50; rep++) {
      double pr[15];
      for (int i = 0; i < 15; i++) pr[i] = ang(&r);
      bps_gate_kak(pr, U);
      worst_u = fmax(worst_u, bps_mat_unitarity_error(4, U));
      /* documented order: (U3(p9..11) (x) U3(p12..14)) CAN(p6..8) (U3(p0..2) (x) U3(p3..5)) */
      u3_ref(pr[0], pr[1], pr[2], a);
      u3_ref(pr[3], pr[4], pr[5], b);
      ref_kron(2, a, 2, b, k1);
      ref_exp_pauli("XX", pr[6], T);
      ref_exp_pauli("YY", pr[7], V);
      ref_matmul(4, T, V, can);
      ref_exp_pauli("ZZ", pr[8], T);
      ref_matmul(4, can, T, V);
      memcpy(can, V, sizeof can);
      u3_ref(pr[9], pr[10], pr[11], a);
      u3_ref(pr[12], pr[13], pr[14], b);
      ref_kron(2, a, 2, b, k2);
      ref_matmul(4, can, k1, T);
      ref_matmul(4, k2, T, V);
      worst = fmax(worst, ref_maxdiff(16, U, V));
    }
    printf("KAK: max deviation from the explicit product %.2e, unitarity %.2e\n", worst, worst_u);
    CHECK(worst < 4 * TOL);
    CHECK(worst_u < TOL);
    /* parameter roles: only p0 set -> U3(p0,0,0) = R_y on gate qubit 0 */
    double p1[15] = {0};
    p1[0] = 0.9;
    bps_gate_kak(p1, U);
    CHECK_OK(bps_gate_pauli_rot("YI", 0.9, V));
    CHECK(ref_maxdiff(16, U, V) < TOL);
    /* only p3 -> R_y on gate qubit 1; only p12 likewise (after CAN = 1) */
    memset(p1, 0, sizeof p1);
    p1[3] = 0.9;
    bps_gate_kak(p1, U);
    CHECK_OK(bps_gate_pauli_rot("IY", 0.9, V));
    CHECK(ref_maxdiff(16, U, V) < TOL);
    /* CAN in the middle: pre X-flip on qubit 0 (U3(pi,0,pi) = X), CAN, then nothing */
    memset(p1, 0, sizeof p1);
    p1[0] = M_PI;
    p1[2] = M_PI;
    p1[8] = 0.4; /* tz: R_ZZ(0.8) */
    bps_gate_kak(p1, U);
    bps_gate_u3(M_PI, 0, M_PI, a);
    bps_cplx id[4] = {1, 0, 0, 1};
    ref_kron(2, a, 2, id, k1);
    CHECK_OK(bps_gate_pauli_rot("ZZ", 0.8, T));
    ref_matmul(4, T, k1, V);
    CHECK(ref_maxdiff(16, U, V) < TOL);
    /* and with the X-flip after CAN instead (p9, p11) the order shows: Z(x)Z anticommutes
     * with X(x)1, so the two products differ */
    memset(p1, 0, sizeof p1);
    p1[9] = M_PI;
    p1[11] = M_PI;
    p1[8] = 0.4;
    bps_gate_kak(p1, U);
    ref_matmul(4, k1, T, B);
    CHECK(ref_maxdiff(16, U, B) < TOL);
    CHECK(ref_maxdiff(16, U, V) > 0.1);
  }

  /* --- matrix helpers ------------------------------------------------------------- */
  {
    int d = 8;
    size_t n = (size_t)d * d;
    bps_cplx *X = ref_alloc(n), *Y = ref_alloc(n), *Z = ref_alloc(n), *R = ref_alloc(n);
    for (size_t i = 0; i < n; i++) {
      X[i] = bps_rng_normal(&r) + I * bps_rng_normal(&r);
      Y[i] = bps_rng_normal(&r) + I * bps_rng_normal(&r);
    }
    ref_matmul(d, X, Y, R);
    bps_mat_mul(d, X, Y, Z);
    CHECK(ref_maxdiff(n, Z, R) < 1e-13);
    memcpy(Z, X, n * sizeof(bps_cplx));
    bps_mat_mul(d, Z, Y, Z); /* C aliases A */
    CHECK(ref_maxdiff(n, Z, R) < 1e-13);
    memcpy(Z, Y, n * sizeof(bps_cplx));
    bps_mat_mul(d, X, Z, Z); /* C aliases B */
    CHECK(ref_maxdiff(n, Z, R) < 1e-13);
    ref_matmul(d, X, X, R);
    memcpy(Z, X, n * sizeof(bps_cplx));
    bps_mat_mul(d, Z, Z, Z); /* all three */
    CHECK(ref_maxdiff(n, Z, R) < 1e-13);
    /* large aliased product (heap scratch) */
    {
      int D = 40;
      size_t N = (size_t)D * D;
      bps_cplx *P = ref_alloc(N), *Q = ref_alloc(N), *S = ref_alloc(N);
      for (size_t i = 0; i < N; i++) {
        P[i] = bps_rng_normal(&r) + I * bps_rng_normal(&r);
        Q[i] = bps_rng_normal(&r);
      }
      ref_matmul(D, P, Q, S);
      bps_mat_mul(D, P, Q, P);
      CHECK(ref_maxdiff(N, P, S) < 1e-12);
      free(P);
      free(Q);
      free(S);
    }
    ref_adjoint(d, X, R);
    bps_mat_adjoint(d, X, Z);
    CHECK(ref_maxdiff(n, Z, R) == 0);
    memcpy(Z, X, n * sizeof(bps_cplx));
    bps_mat_adjoint(d, Z, Z);
    CHECK(ref_maxdiff(n, Z, R) == 0);
    /* kron of unequal sizes */
    bps_cplx *K1 = ref_alloc(4 * 4 * 4 * 4), *K2 = ref_alloc(4 * 4 * 4 * 4);
    ref_kron(2, X, 8, Y, K1);
    bps_mat_kron(2, X, 8, Y, K2);
    CHECK(ref_maxdiff(256, K1, K2) == 0);
    ref_kron(8, X, 2, Y, K1);
    bps_mat_kron(8, X, 2, Y, K2);
    CHECK(ref_maxdiff(256, K1, K2) == 0);
    free(K1);
    free(K2);
    /* unitarity error of non-unitary matrices */
    bps_cplx s15[4] = {1.5, 0, 0, 1.5};
    CHECK_CLOSE(bps_mat_unitarity_error(2, s15), 1.25, 1e-15, 0);
    bps_cplx sh[4] = {1, 0.1, 0, 1}; /* U U^dag = [[1.01, 0.1], [0.1, 1]] */
    CHECK_CLOSE(bps_mat_unitarity_error(2, sh), 0.1, 1e-14, 0);
    bps_cplx nanm[4] = {1, 0, 0, NAN};
    CHECK(!(bps_mat_unitarity_error(2, nanm) < 1));
    free(X);
    free(Y);
    free(Z);
    free(R);
  }

  free(A);
  free(B);
  free(C);
  return bps_test_result("t100-gates");
}
