/* t629: the model rows of `bpscan bench` (src/bench_models.c) run and report sane,
 * finite numbers on small n; the JSON is written. Timings are printed, never asserted. */
#include <string.h>

#include "bps_test.h"
#include "bpscan/bench_models.h"

int main(void) {
  bps_bench_model_row *rows = NULL;
  int nrows = 0;
  CHECK_OK(bps_bench_models(2, 4, 3, 2, &rows, &nrows));
  CHECK(nrows == 5); /* factored n = 2, 3, 4; dense n = 2, 3 */
  for (int i = 0; i < nrows; i++) {
    const bps_bench_model_row *r = &rows[i];
    CHECK(!strcmp(r->model, "dqnn-haar n,n"));
    CHECK(r->nparams == r->n && r->qubits == 2 * r->n);
    CHECK(r->cost_eval_s > 0 && isfinite(r->cost_eval_s));
    CHECK(r->adjoint_grad_s > 0 && isfinite(r->adjoint_grad_s));
    CHECK(r->max_abs_grad > 1e-6 && r->max_abs_grad <= 1.0);
    CHECK(r->reps >= 1 && r->reps <= 2);
    if (r->repr == BPS_FACTORED) /* a dense partner only for n <= dense_nmax = 3 */
      CHECK(r->n <= 3 ? isfinite(r->dense_over_factored) : isnan(r->dense_over_factored));
  }
  CHECK(rows[0].repr == BPS_FACTORED && rows[1].repr == BPS_DENSE && rows[1].n == 2);
  CHECK(isfinite(rows[0].dense_over_factored));
  bps_bench_models_print(stdout, rows, nrows);
  FILE *f = tmpfile();
  CHECK(f != NULL);
  if (f) {
    CHECK_OK(bps_bench_models_json(f, rows, nrows));
    long len = ftell(f);
    CHECK(len > 100);
    rewind(f);
    char buf[256] = {0};
    CHECK(fread(buf, 1, sizeof buf - 1, f) > 0);
    CHECK(!strncmp(buf, "{\"rows\": [", 10));
    fclose(f);
  }
  free(rows);
  CHECK_FAILS(bps_bench_models(0, 3, 0, 1, &rows, &nrows), BPS_ERR_ARG);
  CHECK_FAILS(bps_bench_models(2, 3, 0, 0, &rows, &nrows), BPS_ERR_ARG);
  return bps_test_result("t629-bench-models");
}
