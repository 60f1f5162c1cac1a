/* model: model specifications, instances and their cost/gradient (see model.h); the
 * builders live in src/models/. */
#include "bpscan/model.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bpscan/error.h"
#include "bpscan/linalg.h"
#include "models/models.h"

void bps_model_spec_default(bps_model_spec *s) {
  memset(s, 0, sizeof *s);
  s->kind = BPS_MODEL_DQNN;
  snprintf(s->widths, sizeof s->widths, "n,n");
  s->perceptron = BPS_PERC_HAAR;
  s->depth = 0;
  s->cost = BPS_COST_GLOBAL;
  s->inputs = BPS_INPUT_ZERO;
  s->targets = BPS_TARGET_ZERO;
  s->pairs = 1;
  s->noise = BPS_NOISE_NONE;
  s->noise_p = 0.0;
  s->noise_placement = BPS_NOISE_AFTER_GATE;
  snprintf(s->visible, sizeof s->visible, "1");
  snprintf(s->hidden, sizeof s->hidden, "n");
  s->vh_layers = 1;
  s->vh_objective = BPS_VH_OBJ_PAULI;
  snprintf(s->vh_pauli, sizeof s->vh_pauli, "Z");
  s->onsite_sigma = 1.0;
  s->coupling_sigma = 1.0;
  s->hea = BPS_HEA_MCCLEAN;
  s->hea_layers = 0;
}

/* One pattern entry: integer | n | n+k | n-k | k*n | k*n+j ... (whitespace ignored). */
static int eval_entry(const char *tok, int n, int *out) {
  char buf[64];
  int len = 0;
  for (const char *p = tok; *p && len < 63; p++)
    if (!isspace((unsigned char)*p)) buf[len++] = *p;
  buf[len] = 0;
  BPS_CHECK(len > 0, BPS_ERR_ARG, "empty entry in a width pattern");
  const char *p = buf;
  long val = 0;
  char *end;
  if (isdigit((unsigned char)*p)) {
    errno = 0;
    long k = strtol(p, &end, 10);
    BPS_CHECK(errno != ERANGE && k <= 1000000, BPS_ERR_ARG, "number too large in width entry '%s'", buf);
    p = end;
    if (*p == '*') {
      BPS_CHECK(p[1] == 'n', BPS_ERR_ARG, "bad width entry '%s' (expected k*n)", buf);
      val = k * n;
      p += 2;
    } else if (*p == 'n') {
      val = k * n;
      p++;
    } else {
      val = k;
    }
  } else if (*p == 'n') {
    val = n;
    p++;
  } else {
    BPS_CHECK(0, BPS_ERR_ARG, "bad width entry '%s' (use integers, n, n+k, n-k, k*n)", buf);
  }
  if (*p == '+' || *p == '-') {
    char sign = *p++;
    BPS_CHECK(isdigit((unsigned char)*p), BPS_ERR_ARG, "bad width entry '%s'", buf);
    errno = 0;
    long k = strtol(p, &end, 10);
    BPS_CHECK(errno != ERANGE && k <= 1000000, BPS_ERR_ARG, "number too large in width entry '%s'", buf);
    p = end;
    val = sign == '+' ? val + k : val - k;
  }
  BPS_CHECK(*p == 0, BPS_ERR_ARG, "bad width entry '%s'", buf);
  BPS_CHECK(val >= 1 && val <= BPS_MAX_QUBITS, BPS_ERR_ARG,
            "width entry '%s' gives %ld qubits at n = %d (must be 1..%d)", buf, val, n,
            BPS_MAX_QUBITS);
  *out = (int)val;
  return BPS_OK;
}

int bps_pattern_eval(const char *pattern, int n, int *widths, int max, int *count) {
  BPS_CHECK(pattern && widths && count, BPS_ERR_ARG, "NULL argument");
  *count = 0;
  const char *p = pattern;
  while (1) {
    const char *comma = strchr(p, ',');
    size_t len = comma ? (size_t)(comma - p) : strlen(p);
    char tok[64];
    BPS_CHECK(len < sizeof tok, BPS_ERR_ARG, "width entry too long in '%s'", pattern);
    memcpy(tok, p, len);
    tok[len] = 0;
    BPS_CHECK(*count < max, BPS_ERR_ARG, "more than %d entries in '%s'", max, pattern);
    BPS_CALL(eval_entry(tok, n, &widths[*count]));
    (*count)++;
    if (!comma) break;
    p = comma + 1;
  }
  return BPS_OK;
}

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

int bps_model_instance_create(const bps_model_spec *spec, int n, uint64_t seed, uint32_t sample,
                              bps_repr repr, bps_model_instance **out) {
  BPS_CHECK(spec && out, BPS_ERR_ARG, "NULL argument");
  BPS_CHECK(n >= 1 && n <= BPS_MAX_QUBITS, BPS_ERR_ARG, "qubit count n = %d", n);
  bps_model_instance *m = calloc(1, sizeof *m);
  BPS_CHECK(m, BPS_ERR_MEM, "out of memory");
  m->kind = spec->kind;
  m->n = n;
  int rc;
  switch (spec->kind) {
  case BPS_MODEL_DQNN: rc = bps_dqnn_build(spec, n, seed, sample, repr, m); break;
  case BPS_MODEL_VH: rc = bps_vh_build(spec, n, seed, sample, repr, m); break;
  case BPS_MODEL_QBM: rc = bps_qbm_build(spec, n, seed, sample, repr, m); break;
  case BPS_MODEL_HEA: rc = bps_hea_build(spec, n, seed, sample, repr, m); break;
  default: rc = bps_error_push(BPS_ERR_ARG, __FILE__, __LINE__, __func__, "unknown model kind %d", (int)spec->kind);
  }
  if (rc) {
    bps_model_instance_destroy(&m);
    return bps_error_push(rc, __FILE__, __LINE__, __func__, "building the model at n = %d, sample %u", n, sample);
  }
  *out = m;
  return BPS_OK;
}

int bps_model_cost_grad(const bps_model_instance *m, const double *theta, bps_grad_method method,
                        double *cost, double *grad) {
  BPS_CHECK(m && theta && cost, BPS_ERR_ARG, "NULL argument");
  if (m->cost_grad) {
    BPS_CALL(m->cost_grad(m, theta, (int)method, cost, grad));
    return BPS_OK;
  }
  BPS_CHECK(m->circuit && m->npairs >= 1, BPS_ERR_INTERNAL, "instance has no circuit or pairs");
  BPS_CHECK(m->circuit->nparams <= m->nparams, BPS_ERR_INTERNAL,
            "circuit uses %d parameters, the instance has %d", m->circuit->nparams, m->nparams);
  double *gx = NULL;
  if (grad) {
    gx = calloc((size_t)(m->nparams ? m->nparams : 1), sizeof(double));
    BPS_CHECK(gx, BPS_ERR_MEM, "out of memory");
    for (int p = 0; p < m->nparams; p++) grad[p] = 0.0;
  }
  double acc = 0.0;
  int rc = BPS_OK;
  bps_state *s = NULL;
  for (int x = 0; x < m->npairs && !rc; x++) {
    double cx = 0.0;
    if (!grad) {
      if (!s) rc = bps_state_create(m->inputs[x]->repr, 0, &s);
      if (!rc) rc = bps_state_copy(s, m->inputs[x]);
      if (!rc) rc = bps_circuit_run(m->circuit, theta, s);
      if (!rc) rc = bps_cost_eval(m->costs[x], s, &cx);
    } else if (method == BPS_GRAD_SHIFT) {
      rc = bps_grad_shift(m->circuit, m->costs[x], theta, m->inputs[x], &cx, gx);
    } else {
      rc = bps_grad_adjoint(m->circuit, m->costs[x], theta, m->inputs[x], &cx, gx);
    }
    acc += cx;
    if (grad && !rc)
      for (int p = 0; p < m->nparams; p++) grad[p] += gx[p];
  }
  bps_state_destroy(&s);
  free(gx);
  BPS_CALL(rc);
  double inv = 1.0 / m->npairs;
  *cost = acc * inv;
  if (grad)
    for (int p = 0; p < m->nparams; p++) grad[p] *= inv;
  return BPS_OK;
}
