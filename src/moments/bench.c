/* moments/bench: the exact-moments rows of `bpscan bench` (bench_moments.h).
 *
 * Each row prepares one model ensemble (engine auto, a rank's memory limit) and computes
 * what a moments scan computes at that n: E[C], Var[C] and E/Var of every parameter's
 * derivative, one item per thread as in momtask.c. It reports the engine, the wall time
 * against its goal (the project's targets for exact moments on 2 cores) and the engine statistics. One run per row: every row
 * takes seconds, and the rows are sized to show the scaling, not timer noise.
 */
#include "bpscan/bench_moments.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "bpscan/error.h"
#include "bpscan/moments.h"
#include "bpscan/threads.h"

typedef struct {
  const char *name;
  int hea_layers; /* > 0: hea alt with this many layers, else a DQNN n,n */
  bps_perceptron perc;
  bps_cost_type cost;
  int n, n_quick;
  double goal_s; /* the target on 2 cores (0: none) */
} bmm_case;

static const bmm_case cases[] = {
    {"dqnn haar n,n global", 0, BPS_PERC_HAAR, BPS_COST_GLOBAL, 1024, 256, 60},
    {"dqnn haar n,n local", 0, BPS_PERC_HAAR, BPS_COST_LOCAL, 1024, 256, 60},
    {"dqnn toy n,n global", 0, BPS_PERC_TOY, BPS_COST_GLOBAL, 1024, 1024, 0},
    {"dqnn brick n,n global", 0, BPS_PERC_BRICK, BPS_COST_GLOBAL, 16, 12, 0},
    {"hea alt L4 local", 4, BPS_PERC_HAAR, BPS_COST_LOCAL, 1024, 1024, 60},
    {"hea alt L4 global", 4, BPS_PERC_HAAR, BPS_COST_GLOBAL, 128, 128, 600},
    {"hea alt L4 global", 4, BPS_PERC_HAAR, BPS_COST_GLOBAL, 1024, 256, 0},
};
#define NCASES ((int)(sizeof cases / sizeof cases[0]))

static void spec_of(const bmm_case *c, bps_model_spec *s) {
  bps_model_spec_default(s);
  s->cost = c->cost;
  if (c->hea_layers > 0) {
    s->kind = BPS_MODEL_HEA;
    s->hea = BPS_HEA_ALT;
    s->hea_layers = c->hea_layers;
  } else {
    s->perceptron = c->perc;
    if (c->perc == BPS_PERC_BRICK) s->depth = 0; /* ceil(log2 n) brick layers */
  }
}

static int run_case(const bmm_case *c, int n, long max_bytes, bps_bench_moments_row *r) {
  int rc = BPS_OK;
  bps_model_instance *m = NULL;
  bps_mom *M = NULL;
  long double *gv = NULL;
  int *rcs = NULL;
  memset(r, 0, sizeof *r);
  snprintf(r->model, sizeof r->model, "%s", c->name);
  r->n = n;
  r->threads = bps_threads_max();
  r->goal_s = c->goal_s;
  bps_model_spec s;
  spec_of(c, &s);
  const double t0 = bps_wtime();
  BPS_CALL_GOTO(bps_model_instance_create_ensemble(&s, n, &m));
  const bps_mom_opts o = {0, max_bytes};
  BPS_CALL_GOTO(bps_mom_create(m, BPS_MOM_AUTO, &o, &M));
  snprintf(r->engine, sizeof r->engine, "%s", bps_mom_engine_name(bps_mom_engine_of(M)));
  const int np = m->nparams;
  r->nparams = np;
  gv = calloc((size_t)np + 1, sizeof(long double));
  rcs = calloc((size_t)np + 1, sizeof(int));
  long *peak = calloc((size_t)np + 1, sizeof(long));
  int *bond = calloc((size_t)np + 1, sizeof(int));
  BPS_CHECK_GOTO(gv && rcs && peak && bond, BPS_ERR_MEM, "out of memory");
  /* item 0: the cost; item k >= 1: parameter k - 1 (one item per thread, as a scan) */
#pragma omp parallel for schedule(dynamic, 1) if (bps_threads_max() > 1)
  for (int k = 0; k <= np; k++) {
    bps_mom_value mean, var;
    bps_mom_stats st = {0, 0, 0};
    rcs[k] = k == 0 ? bps_mom_cost(M, &mean, &var, &st) : bps_mom_grad(M, k - 1, &mean, &var, &st);
    gv[k] = rcs[k] ? 0 : var.v;
    peak[k] = st.peak_pairs;
    bond[k] = st.bond_dim;
  }
  r->seconds = bps_wtime() - t0;
  long double sum = 0;
  for (int k = 0; k <= np && !rc; k++) {
    rc = rcs[k];
    if (k > 0) sum += gv[k];
    if (peak[k] > r->peak_pairs) r->peak_pairs = peak[k];
    if (bond[k] > r->bond_dim) r->bond_dim = bond[k];
  }
  free(peak);
  free(bond);
  BPS_CHECK_GOTO(!rc, rc, "bench: exact moments of %s at n = %d failed", c->name, n);
  r->var_mean_log2 = np > 0 && sum > 0 ? (double)log2l(sum / np) : -INFINITY;
cleanup:
  free(gv);
  free(rcs);
  bps_mom_destroy(&M);
  bps_model_instance_destroy(&m);
  return rc;
}

int bps_bench_moments(int quick, long max_bytes, bps_bench_moments_row **rows, int *nrows) {
  *rows = calloc(NCASES, sizeof **rows);
  *nrows = 0;
  BPS_CHECK(*rows, BPS_ERR_MEM, "out of memory");
  for (int i = 0; i < NCASES; i++) {
    BPS_CALL(run_case(&cases[i], quick ? cases[i].n_quick : cases[i].n, max_bytes, &(*rows)[i]));
    (*nrows)++;
    bps_bench_moments_print_row(stdout, &(*rows)[i]);
    fflush(stdout);
  }
  return BPS_OK;
}

void bps_bench_moments_print_head(FILE *out) {
  fprintf(out, "%-22s %5s %7s %7s %4s %10s %8s %9s %9s %6s %12s\n", "model", "n", "engine",
          "params", "thr", "seconds", "goal s", "goal", "peak pair", "bond", "log2 Var dC");
}

void bps_bench_moments_print_row(FILE *out, const bps_bench_moments_row *r) {
  const char *met = r->goal_s <= 0 ? "-" : r->seconds <= r->goal_s ? "MET" : "NOT MET";
  fprintf(out, "%-22s %5d %7s %7d %4d %10.3f %8.0f %9s %9ld %6d %12.3f\n", r->model, r->n,
          r->engine, r->nparams, r->threads, r->seconds, r->goal_s, met, r->peak_pairs,
          r->bond_dim, r->var_mean_log2);
}

int bps_bench_moments_json(FILE *out, const bps_bench_moments_row *rows, int nrows) {
  fprintf(out, "  \"moments_rows\": [");
  for (int i = 0; i < nrows; i++) {
    const bps_bench_moments_row *r = &rows[i];
    fprintf(out,
            "%s\n    {\"model\": \"%s\", \"n\": %d, \"engine\": \"%s\", \"params\": %d, "
            "\"threads\": %d, \"seconds\": %.6g, \"goal_s\": %.6g, \"peak_pairs\": %ld, "
            "\"bond_dim\": %d, \"var_mean_log2\": %.10g}",
            i ? "," : "", r->model, r->n, r->engine, r->nparams, r->threads, r->seconds,
            r->goal_s, r->peak_pairs, r->bond_dim, r->var_mean_log2);
  }
  fprintf(out, "\n  ]");
  BPS_CHECK(!ferror(out), BPS_ERR_IO, "error writing the exact-moments bench JSON");
  return BPS_OK;
}
