/* t701-h5-python: files from bps_h5_write are read without fuss by other tools: Debian's
 * h5dump (-H and a full dump) exits 0, and h5py 3.7 (tests/py/check_schema.py, run with
 * /usr/bin/python3) finds the documented names, shapes, dtypes, UTF-8 strings, storage
 * and statistics consistent with the samples, for S = 100 (the synthetic values checked
 * too) and S = 5000 (more rows than one chunk). The checker must also reject a file with a
 * dataset removed, so it is not vacuous. An array-job piece (sample_index, samples_total,
 * slice_index/slice_count) passes too, and fails without its sample_index. A landscape
 * scan (root mode, /n{N}/landscape with fields of rank 1 to 3 and their statistics) passes
 * (S = 100 with the synthetic values, S = 5000, S = 1), its chunks span whole rows, and
 * the checker rejects it with a statistics dataset or a field removed. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <hdf5.h>

#include "bps_test.h"
#include "bpscan/h5io.h"
#include "t700-synth.h"

#define PYTHON "/usr/bin/python3"

static char dir[256], script[1024];

/* Run a shell command; its exit status (-1 if it did not exit normally). */
static int run(const char *cmd) {
  fflush(stdout);
  fflush(stderr);
  int st = system(cmd);
  if (st == -1 || !WIFEXITED(st)) return -1;
  return WEXITSTATUS(st);
}

static int file_contains(const char *path, const char *needle) {
  FILE *f = fopen(path, "rb");
  if (!f) return 0;
  fseek(f, 0, SEEK_END);
  long n = ftell(f);
  fseek(f, 0, SEEK_SET);
  char *b = calloc((size_t)n + 1, 1);
  int ok = b && fread(b, 1, (size_t)n, f) == (size_t)n && strstr(b, needle) != NULL;
  free(b);
  fclose(f);
  return ok;
}

static void write_synth(const char *path, long S, int land) {
  bps_result res;
  if (land) synth_result_land(&res, S);
  else synth_result(&res, S);
  CHECK_OK(bps_h5_write(path, &res, 0));
  synth_free(&res);
}

int main(void) {
  /* the checker lives next to this file */
  snprintf(script, sizeof script, "%s", __FILE__);
  char *slash = strrchr(script, '/');
  snprintf(slash ? slash + 1 : script, sizeof script - (size_t)(slash ? slash + 1 - script : 0),
           "py/check_schema.py");
  if (access(script, R_OK) != 0) {
    fprintf(stderr, "t701: cannot find %s\n", script);
    return 1;
  }
  if (access(PYTHON, X_OK) != 0 || run(PYTHON " -c 'import h5py, numpy' 2>/dev/null") != 0) {
    fprintf(stderr, "t701: %s with h5py and numpy is required (apt-get install python3-h5py)\n",
            PYTHON);
    return 1;
  }
  if (run("command -v h5dump >/dev/null 2>&1") != 0) {
    fprintf(stderr, "t701: h5dump is required (apt-get install hdf5-tools)\n");
    return 1;
  }
  snprintf(dir, sizeof dir, "%s/bps-t701-XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
  if (!mkdtemp(dir)) {
    perror("mkdtemp");
    return 1;
  }
  char small[512], big[512], broken[512], dump[512], cmd[4096];
  snprintf(small, sizeof small, "%s/synthetic.h5", dir);
  snprintf(big, sizeof big, "%s/big.h5", dir);
  snprintf(broken, sizeof broken, "%s/broken.h5", dir);
  snprintf(dump, sizeof dump, "%s/dump.txt", dir);
  write_synth(small, 100, 0);
  write_synth(big, 5000, 0);

  /* h5dump: header and full contents */
  snprintf(cmd, sizeof cmd, "h5dump -H '%s' > '%s' 2>&1", small, dump);
  CHECK(run(cmd) == 0);
  CHECK(file_contains(dump, "H5T_CSET_UTF8"));
  CHECK(file_contains(dump, "GROUP \"n4\""));
  snprintf(cmd, sizeof cmd, "h5dump '%s' > '%s' 2>&1", small, dump);
  CHECK(run(cmd) == 0);
  CHECK(file_contains(dump, "\"l2.p2\""));
  CHECK(file_contains(dump, "\"purity,entropy,renyi2,trace_distance\""));
  snprintf(cmd, sizeof cmd, "h5dump -p -H -d /n4/grad '%s' > '%s' 2>&1", big, dump);
  CHECK(run(cmd) == 0);
  CHECK(file_contains(dump, "CHUNKED ( 4096, 3 )"));
  CHECK(file_contains(dump, "COMPRESSION DEFLATE { LEVEL 4 }"));

  /* h5py */
  snprintf(cmd, sizeof cmd, PYTHON " '%s' --synthetic '%s'", script, small);
  CHECK(run(cmd) == 0);
  snprintf(cmd, sizeof cmd, PYTHON " '%s' '%s'", script, big);
  CHECK(run(cmd) == 0);

  /* edge cases: one sample (zero variances), no tracked parameters (empty datasets) */
  char edge[512];
  snprintf(edge, sizeof edge, "%s/edge.h5", dir);
  {
    bps_result res;
    synth_result(&res, 1);
    res.per_n[0].ntracked = 0;
    CHECK_OK(bps_h5_write(edge, &res, 0));
    synth_free(&res);
  }
  snprintf(cmd, sizeof cmd, PYTHON " '%s' '%s'", script, edge);
  CHECK(run(cmd) == 0);
  snprintf(cmd, sizeof cmd, "h5dump '%s' > '%s' 2>&1", edge, dump);
  CHECK(run(cmd) == 0);
  unlink(edge);

  /* an array-job piece: piece 2 of 4 with every fourth sample */
  char piece[512];
  snprintf(piece, sizeof piece, "%s/piece.h5", dir);
  {
    bps_result res;
    synth_result(&res, 25);
    res.slice_index = 2;
    res.slice_count = 4;
    for (int i = 0; i < res.nn; i++) {
      res.per_n[i].samples_total = 100;
      res.per_n[i].sample_index = malloc(25 * sizeof(long));
      for (long k = 0; k < 25; k++) res.per_n[i].sample_index[k] = 4 * k + 2;
    }
    CHECK_OK(bps_h5_write(piece, &res, 0));
    for (int i = 0; i < res.nn; i++) free(res.per_n[i].sample_index);
    synth_free(&res);
  }
  snprintf(cmd, sizeof cmd, PYTHON " '%s' '%s'", script, piece);
  CHECK(run(cmd) == 0);
  H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
  {
    hid_t fp = H5Fopen(piece, H5F_ACC_RDWR, H5P_DEFAULT);
    CHECK(fp >= 0);
    CHECK(H5Ldelete(fp, "/n6/sample_index", H5P_DEFAULT) >= 0);
    CHECK(H5Fclose(fp) >= 0);
  }
  snprintf(cmd, sizeof cmd, PYTHON " '%s' '%s' 2>'%s'", script, piece, dump);
  CHECK(run(cmd) == 1);
  CHECK(file_contains(dump, "/n6: dataset sample_index missing"));
  unlink(piece);

  /* a landscape scan */
  {
    char land[512], lbig[512], ledge[512];
    snprintf(land, sizeof land, "%s/land.h5", dir);
    snprintf(lbig, sizeof lbig, "%s/land-big.h5", dir);
    snprintf(ledge, sizeof ledge, "%s/land-edge.h5", dir);
    write_synth(land, 100, 1);
    write_synth(lbig, 5000, 1);
    write_synth(ledge, 1, 1);
    snprintf(cmd, sizeof cmd, PYTHON " '%s' --synthetic '%s'", script, land);
    CHECK(run(cmd) == 0);
    snprintf(cmd, sizeof cmd, PYTHON " '%s' '%s'", script, lbig);
    CHECK(run(cmd) == 0);
    snprintf(cmd, sizeof cmd, PYTHON " '%s' '%s'", script, ledge);
    CHECK(run(cmd) == 0);
    snprintf(cmd, sizeof cmd, "h5dump '%s' > '%s' 2>&1", land, dump);
    CHECK(run(cmd) == 0);
    CHECK(file_contains(dump, "GROUP \"landscape\""));
    CHECK(file_contains(dump, "\"cut_mean,cut_var,aliasing,slope_fft,slope_adjoint,lipschitz,"
                              "spread,power,direction,image\""));
    snprintf(cmd, sizeof cmd, "h5dump -p -H -d /n4/landscape/power '%s' > '%s' 2>&1", lbig, dump);
    CHECK(run(cmd) == 0);
    CHECK(file_contains(dump, "CHUNKED ( 4096, 3, 5 )"));
    CHECK(file_contains(dump, "COMPRESSION DEFLATE { LEVEL 4 }"));
    snprintf(cmd, sizeof cmd, "h5dump -H -d /n4/landscape/lipschitz_mean '%s' > '%s' 2>&1", land,
             dump);
    CHECK(run(cmd) == 0);
    CHECK(file_contains(dump, "DATASPACE  SCALAR"));
    /* the checker is not vacuous for landscape groups */
    static const char *const del[2] = {"/n6/landscape/power_mean_se", "/n4/landscape/image"};
    static const char *const why[2] = {"/n6/landscape: power has 3 of the 4 statistics",
                                       "/n4/landscape: dataset image missing"};
    for (int k = 0; k < 2; k++) {
      snprintf(cmd, sizeof cmd, "cp '%s' '%s'", land, broken);
      CHECK(run(cmd) == 0);
      H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
      hid_t fl = H5Fopen(broken, H5F_ACC_RDWR, H5P_DEFAULT);
      CHECK(fl >= 0);
      CHECK(H5Ldelete(fl, del[k], H5P_DEFAULT) >= 0);
      CHECK(H5Fclose(fl) >= 0);
      snprintf(cmd, sizeof cmd, PYTHON " '%s' '%s' 2>'%s'", script, broken, dump);
      CHECK(run(cmd) == 1);
      CHECK(file_contains(dump, why[k]));
      if (!file_contains(dump, why[k])) fprintf(stderr, "  checker output lacks '%s'\n", why[k]);
    }
    unlink(land);
    unlink(lbig);
    unlink(ledge);
  }

  /* a damaged copy is rejected */
  snprintf(cmd, sizeof cmd, "cp '%s' '%s'", small, broken);
  CHECK(run(cmd) == 0);
  H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
  hid_t f = H5Fopen(broken, H5F_ACC_RDWR, H5P_DEFAULT);
  CHECK(f >= 0);
  CHECK(H5Ldelete(f, "/summary/cost_var", H5P_DEFAULT) >= 0);
  CHECK(H5Fclose(f) >= 0);
  snprintf(cmd, sizeof cmd, PYTHON " '%s' '%s' 2>'%s'", script, broken, dump);
  CHECK(run(cmd) == 1);
  CHECK(file_contains(dump, "/summary/cost_var missing"));

  unlink(small);
  unlink(big);
  unlink(broken);
  unlink(dump);
  rmdir(dir);
  return bps_test_result("t701-h5-python");
}
