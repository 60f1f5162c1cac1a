/* t631-qbm: the quantum Boltzmann machine (src/models/qbm.c; physics.md Secs. 3.1(b), 3.6).
 * - structure: one parameter per term of Eq. (10) on all N qubits, names "h.t<t>", no
 *   circuit, a cost_grad hook, the visible objective in costs[0], BPS_ERR_TOO_BIG for too
 *   many qubits and the BPS_ERR_ARG cases (parameter shift requested, bad specs);
 * - the Gibbs state of the output_state hook (dense and factored, at theta_0 and a second
 *   point) has trace 1, is Hermitian and positive definite, equals e^{-H}/Z computed
 *   independently (Pauli matrices of ref.c, Taylor series with scaling and squaring) and
 *   gives the cost of cost_grad through bps_cost_eval; diagnostics on the visible qubit;
 * - exact gradient = central finite differences (step 1e-5, tolerance 1e-7) for every
 *   parameter (visible-only, hidden-only and visible-hidden terms), all three objectives;
 * - closed form H = theta Z_v: <Z_v> = -tanh(theta), d<Z_v>/d theta = tanh^2 - 1, every other
 *   first derivative 0 (degenerate spectrum at theta = 0 included); projector (1 - tanh)/2;
 * - Thm 4: over random instances (Marrero's couplings onsite N(0, 0.01), offsite N(0, 1), and
 *   the spec defaults N(0, 1), N(0, 1)), the mean squared gradient of terms acting on hidden
 *   qubits relative to visible-only terms for n_v = 1, n_h = 1..4 (printed by class:
 *   visible-only, visible-hidden couplings, hidden-only); asserted: the ratio at n_h = 4 is
 *   below the one at n_h = 1 by a margin of 4 combined standard errors.
 *   Note: with onsite ~ 0 the Hamiltonian is nearly time-reversal symmetric (Y^N K flips
 *   every single-qubit Pauli, two-body terms are invariant), so <Z_v> and the gradients of
 *   the two-body terms are O(onsite sigma): the visible-hidden class is suppressed by
 *   symmetry there, not by Thm 4. */
#include <complex.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bps_test.h"
#include "bpscan/circuit.h"
#include "bpscan/model.h"
#include "bpscan/state.h"
#include "ref.h"

static double now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static bps_model_spec qbm_spec(const char *visible, const char *hidden, bps_vh_objective obj,
                               const char *pauli) {
  bps_model_spec s;
  bps_model_spec_default(&s);
  s.kind = BPS_MODEL_QBM;
  snprintf(s.visible, sizeof s.visible, "%s", visible);
  snprintf(s.hidden, sizeof s.hidden, "%s", hidden);
  s.vh_objective = obj;
  snprintf(s.vh_pauli, sizeof s.vh_pauli, "%s", pauli);
  return s;
}

/* Term t of the documented list as a full N-letter Pauli string. */
static void term_string(int N, int t, char *full) {
  static const char L[] = "XYZ";
  memset(full, 'I', (size_t)N);
  full[N] = 0;
  if (t < 3 * N) {
    full[t / 3] = L[t % 3];
    return;
  }
  int u = t - 3 * N;
  for (int i = 0; i < N; i++)
    for (int j = i + 1; j < N; j++, u -= 9)
      if (u < 9) {
        full[i] = L[u / 3];
        full[j] = L[u % 3];
        return;
      }
}

/* rho = e^{-H}/Tr e^{-H} with H = sum_t theta_t P_t, row-major, by scaling and squaring. */
static void ref_gibbs(int N, int T, const double *theta, bps_cplx *rho) {
  int d = 1 << N;
  size_t dd = (size_t)d * (size_t)d;
  bps_cplx *H = ref_alloc(dd), *P = ref_alloc(dd), *X = ref_alloc(dd), *term = ref_alloc(dd),
           *tmp = ref_alloc(dd);
  char full[32];
  double norm = 0;
  for (int t = 0; t < T; t++) {
    term_string(N, t, full);
    ref_pauli(full, P);
    for (size_t i = 0; i < dd; i++) H[i] += theta[t] * P[i];
    norm += fabs(theta[t]);
  }
  int s = 0;
  while (norm / ldexp(1.0, s) > 0.25) s++;
  double sc = -1.0 / ldexp(1.0, s);
  for (size_t i = 0; i < dd; i++) H[i] *= sc; /* A = -H / 2^s */
  memset(X, 0, dd * sizeof(bps_cplx));
  memset(term, 0, dd * sizeof(bps_cplx));
  for (int i = 0; i < d; i++) X[(size_t)i * d + i] = term[(size_t)i * d + i] = 1;
  for (int k = 1; k <= 30; k++) {
    ref_matmul(d, term, H, tmp);
    for (size_t i = 0; i < dd; i++) X[i] += (term[i] = tmp[i] / k);
  }
  for (int k = 0; k < s; k++) {
    ref_matmul(d, X, X, tmp);
    memcpy(X, tmp, dd * sizeof(bps_cplx));
  }
  bps_cplx tr = 0;
  for (int i = 0; i < d; i++) tr += X[(size_t)i * d + i];
  for (size_t i = 0; i < dd; i++) rho[i] = X[i] / tr;
  free(H);
  free(P);
  free(X);
  free(term);
  free(tmp);
}

static void test_structure_and_state(void) {
  bps_model_spec s = qbm_spec("1", "n", BPS_VH_OBJ_PAULI, "Z");
  s.onsite_sigma = 0.1;
  s.coupling_sigma = 1.0;
  double worst_rho = 0;
  for (int rep = 0; rep < 2; rep++) {
    bps_repr repr = rep ? BPS_FACTORED : BPS_DENSE;
    bps_model_instance *m = NULL;
    CHECK_OK(bps_model_instance_create(&s, 2, 631, 3, repr, &m)); /* N = 3 */
    const int N = 3, T = 3 * N + 9 * N * (N - 1) / 2, d = 1 << N;
    CHECK(m->kind == BPS_MODEL_QBM && m->circuit == NULL && m->cost_grad != NULL);
    CHECK(m->nparams == T && m->q_in == N && m->q_out == N && m->npairs == 1);
    CHECK(strcmp(m->param_names[0], "h.t0") == 0 && strcmp(m->param_names[7], "h.t7") == 0 &&
          strcmp(m->param_names[T - 1], "h.t35") == 0);
    CHECK(m->inputs && m->inputs[0] == NULL && m->costs[0]->q == N && m->output_state);
    CHECK(m->ndiag == 1 && m->diag_qubits[0] == N - 1 && m->page_db == 0);
    /* the state hook at theta_0 and at a second point */
    double *th2 = malloc(sizeof(double) * (size_t)T);
    for (int t = 0; t < T; t++) th2[t] = m->theta[t] + 0.3 * sin(1.0 + t);
    for (int pt = 0; pt < 2; pt++) {
      const double *th = pt ? th2 : m->theta;
      bps_state *st = NULL;
      CHECK_OK(bps_state_create(repr, 0, &st));
      CHECK_OK(m->output_state(m, th, st));
      CHECK(st->repr == repr && st->q == N);
      CHECK_OK(bps_state_check(st, 1e-12));
      double *w = malloc(sizeof(double) * (size_t)d);
      CHECK_OK(bps_eigenvalues(st, w));
      CHECK(w[0] > 0); /* a Gibbs state is positive definite */
      free(w);
      /* against the independent e^{-H}/Z */
      bps_cplx *rho = ref_alloc((size_t)d * d), *rr = ref_alloc((size_t)d * d);
      CHECK_OK(bps_state_to_dense(st, rho));
      ref_gibbs(N, T, th, rr);
      double e = ref_maxdiff((size_t)d * d, rho, rr);
      worst_rho = fmax(worst_rho, e);
      CHECK(e < 1e-11);
      free(rho);
      free(rr);
      /* the cost of the hook = the objective evaluated on the state */
      double c1, c2;
      CHECK_OK(bps_model_cost_grad(m, th, BPS_GRAD_ADJOINT, &c1, NULL));
      CHECK_OK(bps_cost_eval(m->costs[0], st, &c2));
      CHECK_CLOSE(c1, c2, 0, 1e-12);
      bps_state_destroy(&st);
    }
    free(th2);
    double c1;
    double *g = malloc(sizeof(double) * (size_t)T);
    CHECK_FAILS(bps_model_cost_grad(m, m->theta, BPS_GRAD_SHIFT, &c1, g), BPS_ERR_ARG);
    CHECK_OK(bps_model_cost_grad(m, m->theta, BPS_GRAD_SHIFT, &c1, NULL)); /* cost only */
    free(g);
    /* theta_0: onsite terms N(0, 0.01), offsite N(0, 1) (loose sanity on 9 + 27 draws) */
    double so = 0, sc = 0;
    for (int t = 0; t < 3 * N; t++) so = fmax(so, fabs(m->theta[t]));
    for (int t = 3 * N; t < T; t++) sc = fmax(sc, fabs(m->theta[t]));
    CHECK(so < 0.5 && sc > 0.5);
    bps_model_instance_destroy(&m);
  }
  printf("Gibbs state vs independent exp(-H)/Z: max |diff| %.2e\n", worst_rho);
  bps_model_instance *m = NULL;
  bps_model_spec b = qbm_spec("1", "n", BPS_VH_OBJ_PAULI, "Z");
  CHECK_FAILS(bps_model_instance_create(&b, 12, 1, 0, BPS_DENSE, &m), BPS_ERR_TOO_BIG); /* N = 13 */
  b = qbm_spec("1", "n", BPS_VH_OBJ_PAULI, "XX");
  CHECK_FAILS(bps_model_instance_create(&b, 2, 1, 0, BPS_DENSE, &m), BPS_ERR_ARG);
  b = qbm_spec("1", "n", BPS_VH_OBJ_PAULI, "Z");
  b.coupling_sigma = -1;
  CHECK_FAILS(bps_model_instance_create(&b, 2, 1, 0, BPS_DENSE, &m), BPS_ERR_ARG);
  b.coupling_sigma = 1;
  b.noise = BPS_NOISE_DEPHASING;
  b.noise_p = 0.1;
  CHECK_FAILS(bps_model_instance_create(&b, 2, 1, 0, BPS_DENSE, &m), BPS_ERR_ARG);
  CHECK(m == NULL);
}

static void test_fd(void) {
  static const struct {
    const char *vis, *hid, *pauli;
    bps_vh_objective obj;
    double so, sc;
  } cases[] = {
      {"1", "1", "Z", BPS_VH_OBJ_PAULI, 0.1, 1.0},
      {"1", "2", "X", BPS_VH_OBJ_PAULI, 1.0, 1.0},
      {"1", "2", "Z", BPS_VH_OBJ_PROJECTOR, 0.1, 1.0},
      {"1", "3", "Z", BPS_VH_OBJ_FIDELITY, 0.1, 1.0},
      {"2", "1", "YZ", BPS_VH_OBJ_PAULI, 0.5, 0.7},
      {"2", "2", "Z", BPS_VH_OBJ_FIDELITY, 1.0, 0.3},
  };
  const double h = 1e-5;
  double worst = 0;
  for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
    bps_model_spec s = qbm_spec(cases[c].vis, cases[c].hid, cases[c].obj, cases[c].pauli);
    s.onsite_sigma = cases[c].so;
    s.coupling_sigma = cases[c].sc;
    bps_model_instance *m = NULL;
    CHECK_OK(bps_model_instance_create(&s, 1, 6310, (uint32_t)c, BPS_DENSE, &m));
    int np = m->nparams, N = m->q_out, nh = atoi(cases[c].hid);
    double *g = malloc(sizeof(double) * (size_t)np), *th = malloc(sizeof(double) * (size_t)np);
    double c0, cp, cm, wv = 0, wh = 0, gv = 0, gh = 0;
    CHECK_OK(bps_model_cost_grad(m, m->theta, BPS_GRAD_ADJOINT, &c0, g));
    for (int p = 0; p < np; p++) {
      memcpy(th, m->theta, sizeof(double) * (size_t)np);
      th[p] += h;
      CHECK_OK(bps_model_cost_grad(m, th, BPS_GRAD_ADJOINT, &cp, NULL));
      th[p] -= 2 * h;
      CHECK_OK(bps_model_cost_grad(m, th, BPS_GRAD_ADJOINT, &cm, NULL));
      double fd = (cp - cm) / (2 * h), e = fabs(fd - g[p]);
      char full[32];
      term_string(N, p, full);
      int hidden = 0;
      for (int q = 0; q < nh; q++) hidden |= full[q] != 'I';
      if (hidden) wh = fmax(wh, e), gh = fmax(gh, fabs(g[p]));
      else wv = fmax(wv, e), gv = fmax(gv, fabs(g[p]));
      CHECK(e < 1e-7);
    }
    worst = fmax(worst, fmax(wv, wh));
    printf("  n_v %s n_h %s obj %d (%s): %3d params, cost %+.6f, |exact - FD| visible-only "
           "%.1e (max |g| %.3f), hidden-acting %.1e (max |g| %.3f)\n",
           cases[c].vis, cases[c].hid, (int)cases[c].obj, cases[c].pauli, np, c0, wv, gv, wh, gh);
    free(g);
    free(th);
    bps_model_instance_destroy(&m);
  }
  printf("exact gradient vs central FD (h = 1e-5): worst %.2e\n", worst);
}

static void test_closed_form(void) {
  const double thetas[] = {0.0, 0.3, -1.1, 4.0, 25.0};
  for (int obj = 0; obj < 2; obj++) {
    bps_model_spec s = qbm_spec("1", "1", obj ? BPS_VH_OBJ_PROJECTOR : BPS_VH_OBJ_PAULI, "Z");
    bps_model_instance *m = NULL;
    CHECK_OK(bps_model_instance_create(&s, 1, 631, 0, BPS_DENSE, &m)); /* N = 2 */
    const int np = m->nparams, tz = 3 * 1 + 2;                         /* Z on qubit 1 */
    CHECK(np == 15);
    double *th = calloc((size_t)np, sizeof(double)), *g = malloc(sizeof(double) * (size_t)np);
    for (size_t k = 0; k < sizeof thetas / sizeof thetas[0]; k++) {
      double t = thetas[k], c, th2 = tanh(t) * tanh(t);
      th[tz] = t;
      CHECK_OK(bps_model_cost_grad(m, th, BPS_GRAD_ADJOINT, &c, g));
      double c_ex = obj ? 0.5 * (1 - tanh(t)) : -tanh(t), g_ex = obj ? -0.5 * (1 - th2) : th2 - 1;
      CHECK_CLOSE(c, c_ex, 0, 1e-13);
      CHECK_CLOSE(g[tz], g_ex, 0, 1e-13);
      double other = 0;
      for (int p = 0; p < np; p++)
        if (p != tz) other = fmax(other, fabs(g[p]));
      CHECK(other < 1e-13);
      if (obj == 0)
        printf("  H = %5.1f Z_v: <Z_v> %+.15f (-tanh %+.15f), d/dtheta %+.15f (exact %+.15f), "
               "max other |g| %.1e\n",
               t, c, -tanh(t), g[tz], g_ex, other);
    }
    free(th);
    free(g);
    bps_model_instance_destroy(&m);
  }
}

typedef struct {
  double mean, se;
} mstat;
static mstat mean_se(const double *x, int S) {
  double m = 0, v = 0;
  for (int i = 0; i < S; i++) m += x[i];
  m /= S;
  for (int i = 0; i < S; i++) v += (x[i] - m) * (x[i] - m);
  mstat r = {m, sqrt(v / (S - 1) / S)};
  return r;
}

static void test_hidden_shrink(double so, double sc) {
  enum { S = 300, NHMAX = 4 };
  double *gv = malloc(sizeof(double) * S), *gc = malloc(sizeof(double) * S),
         *gh = malloc(sizeof(double) * S), *ratio = malloc(sizeof(double) * S);
  double R[NHMAX + 1], Rse[NHMAX + 1];
  printf("Thm 4: mean squared gradient per term (per instance, then averaged) by class, n_v = "
         "1, objective <Z_v>, onsite sigma %.2g, offsite sigma %.2g, S = %d:\n",
         so, sc, S);
  for (int nh = 1; nh <= NHMAX; nh++) {
    char hid[8];
    snprintf(hid, sizeof hid, "%d", nh);
    bps_model_spec s = qbm_spec("1", hid, BPS_VH_OBJ_PAULI, "Z");
    s.onsite_sigma = so;
    s.coupling_sigma = sc;
    const int N = nh + 1;
    for (int x = 0; x < S; x++) {
      bps_model_instance *m = NULL;
      CHECK_OK(bps_model_instance_create(&s, 1, 6311, (uint32_t)x, BPS_DENSE, &m));
      double c, *g = malloc(sizeof(double) * (size_t)m->nparams);
      CHECK_OK(bps_model_cost_grad(m, m->theta, BPS_GRAD_ADJOINT, &c, g));
      double sv = 0, sc2 = 0, sh = 0;
      int nv = 0, nc = 0, nhd = 0;
      for (int p = 0; p < m->nparams; p++) {
        char full[32];
        term_string(N, p, full);
        int hid_on = 0;
        for (int q = 0; q < nh; q++) hid_on |= full[q] != 'I';
        int vis_on = full[N - 1] != 'I';
        double g2 = g[p] * g[p];
        if (!hid_on) sv += g2, nv++;
        else if (vis_on) sc2 += g2, nc++;
        else sh += g2, nhd++;
      }
      gv[x] = sv / nv;
      gc[x] = sc2 / nc;
      gh[x] = sh / nhd;
      ratio[x] = (sc2 + sh) / (nc + nhd);
      free(g);
      bps_model_instance_destroy(&m);
    }
    mstat V = mean_se(gv, S), C = mean_se(gc, S), H = mean_se(gh, S), A = mean_se(ratio, S);
    /* ratio of the means; SE by the delta method treating the two means as independent (a
     * one-sided margin check below, so no need for the covariance) */
    R[nh] = A.mean / V.mean;
    Rse[nh] = R[nh] * sqrt(pow(A.se / A.mean, 2) + pow(V.se / V.mean, 2));
    printf("  n_h %d: visible-only %.3e +- %.1e | visible-hidden %.3e +- %.1e | hidden-only "
           "%.3e +- %.1e | hidden-acting/visible-only %.4f +- %.4f\n",
           nh, V.mean, V.se, C.mean, C.se, H.mean, H.se, R[nh], Rse[nh]);
  }
  CHECK(R[NHMAX] + 4 * sqrt(Rse[NHMAX] * Rse[NHMAX] + Rse[1] * Rse[1]) < R[1]);
  free(gv);
  free(gc);
  free(gh);
  free(ratio);
}

int main(void) {
  double t0 = now();
  test_structure_and_state();
  test_fd();
  test_closed_form();
  double t1 = now();
  test_hidden_shrink(0.1, 1.0); /* Marrero's couplings */
  test_hidden_shrink(1.0, 1.0); /* the model.c defaults */
  double t2 = now();
  printf("times: deterministic %.2f s, statistics %.2f s\n", t1 - t0, t2 - t1);
  return bps_test_result("t631-qbm");
}
