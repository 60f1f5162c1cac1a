/* model: model instances and their cost/gradient (see model.h); the builders live in
 * src/models/, the specification they read in spec.c. */
#include "bpscan/model.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bpscan/error.h"
#include "bpscan/linalg.h"
#include "models/models.h"

int bps_model_alloc_params(bps_model_instance *m, int nparams) {
  BPS_CHECK(nparams >= 0, BPS_ERR_ARG, "negative parameter count");
  m->nparams = nparams;
  m->theta = calloc((size_t)(nparams ? nparams : 1), sizeof(double));
  m->param_names = calloc((size_t)(nparams ? nparams : 1), sizeof(char *));
  BPS_CHECK(m->theta && m->param_names, BPS_ERR_MEM, "out of memory");
  return BPS_OK;
}

int bps_model_name_param(bps_model_instance *m, int p, const char *fmt, ...) {
  BPS_CHECK(p >= 0 && p < m->nparams, BPS_ERR_ARG, "parameter %d of %d", p, m->nparams);
  char buf[64];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(buf, sizeof buf, fmt, ap);
  va_end(ap);
  free(m->param_names[p]);
  m->param_names[p] = strdup(buf);
  BPS_CHECK(m->param_names[p], BPS_ERR_MEM, "out of memory");
  return BPS_OK;
}

int bps_model_instance_destroy(bps_model_instance **pm) {
  if (!pm || !*pm) return BPS_OK;
  bps_model_instance *m = *pm;
  if (m->param_names)
    for (int p = 0; p < m->nparams; p++) free(m->param_names[p]);
  free(m->param_names);
  free(m->theta);
  for (int x = 0; x < m->npairs; x++) {
    if (m->inputs) bps_state_destroy(&m->inputs[x]);
    if (m->costs) bps_cost_destroy(&m->costs[x]);
  }
  free(m->inputs);
  free(m->costs);
  bps_circuit_destroy(&m->circuit);
  if (m->impl && m->impl_free) m->impl_free(m->impl);
  free(m);
  *pm = NULL;
  return BPS_OK;
}

static int create(const bps_model_spec *spec, int n, uint64_t seed, uint32_t sample,
                  bps_repr repr, int ensemble, bps_model_instance **out) {
  BPS_CHECK(spec && out, BPS_ERR_ARG, "NULL argument");
  BPS_CHECK(n >= 1 && n <= (ensemble ? BPS_ENS_MAX_QUBITS : BPS_MAX_QUBITS), BPS_ERR_ARG,
            "qubit count n = %d", n);
  int rc = BPS_OK;
  bps_model_instance *m = calloc(1, sizeof *m);
  BPS_CHECK_GOTO(m, BPS_ERR_MEM, "out of memory");
  m->kind = spec->kind;
  m->n = n;
  m->ensemble = ensemble;
  switch (spec->kind) {
  case BPS_MODEL_DQNN: rc = bps_dqnn_build(spec, n, seed, sample, repr, m); break;
  case BPS_MODEL_VH: rc = bps_vh_build(spec, n, seed, sample, repr, m); break;
  case BPS_MODEL_QBM:
    if (ensemble) BPS_FAIL_GOTO(BPS_ERR_JOB, "the QBM has no circuit ensemble (a Gibbs state)");
    rc = bps_qbm_build(spec, n, seed, sample, repr, m);
    break;
  case BPS_MODEL_HEA: rc = bps_hea_build(spec, n, seed, sample, repr, m); break;
  default: BPS_FAIL_GOTO(BPS_ERR_ARG, "unknown model kind %d", (int)spec->kind);
  }
  BPS_CHECK_GOTO(!rc, rc, "building the model at n = %d, sample %u", n, sample);
  *out = m;
  m = NULL;
cleanup:
  bps_model_instance_destroy(&m);
  return rc;
}

int bps_model_instance_create(const bps_model_spec *spec, int n, uint64_t seed, uint32_t sample,
                              bps_repr repr, bps_model_instance **out) {
  return create(spec, n, seed, sample, repr, 0, out);
}

int bps_model_instance_create_ensemble(const bps_model_spec *spec, int n,
                                       bps_model_instance **out) {
  return create(spec, n, 0, 0, BPS_DENSE, 1, out);
}

/* The diagnosed state out (the output register) reduced to the diagnosed qubits. */
static int diag_reduce(const bps_model_instance *m, bps_state *out) {
  int rc = BPS_OK;
  bps_state *red = NULL;
  if (m->ndiag > 0 && m->ndiag < out->q) {
    BPS_CALL_GOTO(bps_state_create(out->repr, 0, &red));
    BPS_CALL_GOTO(bps_reduced_state(out, m->ndiag, m->diag_qubits, red));
    BPS_CALL_GOTO(bps_state_copy(out, red));
  }
cleanup:
  bps_state_destroy(&red);
  return rc;
}

int bps_model_cost_grad(const bps_model_instance *m, const double *theta, bps_grad_method method,
                        double *cost, double *grad) {
  return bps_model_cost_grad_diag(m, theta, method, cost, grad, NULL);
}

int bps_model_cost_grad_diag(const bps_model_instance *m, const double *theta,
                             bps_grad_method method, double *cost, double *grad, bps_state *diag) {
  BPS_CHECK(m && theta && cost, BPS_ERR_ARG, "NULL argument");
  if (m->cost_grad) {
    BPS_CALL(m->cost_grad(m, theta, (int)method, cost, grad));
    if (diag) BPS_CALL(bps_model_diag_state(m, theta, diag));
    return BPS_OK;
  }
  BPS_CHECK(m->circuit && m->npairs >= 1, BPS_ERR_INTERNAL, "instance has no circuit or pairs");
  BPS_CHECK(m->circuit->nparams <= m->nparams, BPS_ERR_INTERNAL,
            "circuit uses %d parameters, the instance has %d", m->circuit->nparams, m->nparams);
  int rc = BPS_OK;
  double *gx = NULL;
  bps_state *s = NULL;
  if (grad) {
    gx = calloc((size_t)(m->nparams ? m->nparams : 1), sizeof(double));
    BPS_CHECK_GOTO(gx, BPS_ERR_MEM, "out of memory");
    for (int p = 0; p < m->nparams; p++) grad[p] = 0.0;
  }
  double acc = 0.0;
  for (int x = 0; x < m->npairs; x++) {
    double cx = 0.0;
    if (!grad) {
      if (!s) BPS_CALL_GOTO(bps_state_create(m->inputs[x]->repr, 0, &s));
      BPS_CALL_GOTO(bps_state_copy(s, m->inputs[x]));
      BPS_CALL_GOTO(bps_circuit_run(m->circuit, theta, s));
      BPS_CALL_GOTO(bps_cost_eval(m->costs[x], s, &cx));
      if (x == 0 && diag) BPS_CALL_GOTO(bps_state_copy(diag, s));
    } else if (method == BPS_GRAD_SHIFT) {
      BPS_CALL_GOTO(bps_grad_shift_out(m->circuit, m->costs[x], theta, m->inputs[x], &cx, gx,
                                       x == 0 ? diag : NULL));
    } else if (method == BPS_GRAD_FUSED) {
      BPS_CALL_GOTO(bps_grad_fused_out(m->circuit, m->costs[x], theta, m->inputs[x], &cx, gx,
                                       x == 0 ? diag : NULL));
    } else {
      BPS_CALL_GOTO(bps_grad_adjoint_out(m->circuit, m->costs[x], theta, m->inputs[x], &cx, gx,
                                         x == 0 ? diag : NULL));
    }
    acc += cx;
    if (grad)
      for (int p = 0; p < m->nparams; p++) grad[p] += gx[p];
  }
  double inv = 1.0 / m->npairs;
  *cost = acc * inv;
  if (grad)
    for (int p = 0; p < m->nparams; p++) grad[p] *= inv;
  if (diag) BPS_CALL_GOTO(diag_reduce(m, diag));
cleanup:
  bps_state_destroy(&s);
  free(gx);
  return rc;
}

int bps_model_diag_state(const bps_model_instance *m, const double *theta, bps_state *out) {
  BPS_CHECK(m && theta && out, BPS_ERR_ARG, "NULL argument");
  if (m->output_state) {
    BPS_CALL(m->output_state(m, theta, out));
  } else {
    BPS_CHECK(m->circuit && m->npairs >= 1, BPS_ERR_INTERNAL,
              "instance has no circuit and no output state");
    BPS_CALL(bps_state_copy(out, m->inputs[0]));
    BPS_CALL(bps_circuit_run(m->circuit, theta, out));
  }
  BPS_CALL(diag_reduce(m, out));
  return BPS_OK;
}
