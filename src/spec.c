/* spec: model specifications, their defaults and the width-pattern grammar (see spec.h). */
#include "bpscan/spec.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bpscan/error.h"

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
static int eval_entry(const char *tok, int n, int qmax, int *out) {
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
    BPS_CHECK(errno != ERANGE && k <= 1000000, BPS_ERR_ARG,
              "number too large in width entry '%s'", buf);
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
    BPS_FAIL(BPS_ERR_ARG, "bad width entry '%s' (use integers, n, n+k, n-k, k*n)", buf);
  }
  if (*p == '+' || *p == '-') {
    char sign = *p++;
    BPS_CHECK(isdigit((unsigned char)*p), BPS_ERR_ARG, "bad width entry '%s'", buf);
    errno = 0;
    long k = strtol(p, &end, 10);
    BPS_CHECK(errno != ERANGE && k <= 1000000, BPS_ERR_ARG,
              "number too large in width entry '%s'", buf);
    p = end;
    val = sign == '+' ? val + k : val - k;
  }
  BPS_CHECK(*p == 0, BPS_ERR_ARG, "bad width entry '%s'", buf);
  BPS_CHECK(val >= 1 && val <= qmax, BPS_ERR_ARG,
            "width entry '%s' gives %ld qubits at n = %d (must be 1..%d)", buf, val, n, qmax);
  *out = (int)val;
  return BPS_OK;
}

int bps_pattern_eval_max(const char *pattern, int n, int qmax, int *widths, int max, int *count) {
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
    BPS_CALL(eval_entry(tok, n, qmax, &widths[*count]));
    (*count)++;
    if (!comma) break;
    p = comma + 1;
  }
  return BPS_OK;
}

int bps_spec_hea_layers(const bps_model_spec *spec, int n) {
  return spec->hea_layers ? spec->hea_layers : n;
}

int bps_pattern_eval(const char *pattern, int n, int *widths, int max, int *count) {
  return bps_pattern_eval_max(pattern, n, BPS_MAX_QUBITS, widths, max, count);
}
