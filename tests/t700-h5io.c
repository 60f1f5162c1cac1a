/* t700-h5io: bps_h5_write writes the documented schema (read back here with the HDF5 C
 * API and compared exactly), atomically (no temporary left behind, after success or
 * failure), refuses to overwrite without force (BPS_ERR_EXISTS; the old file stays byte for
 * byte), fails cleanly on a missing directory or a directory as the name (BPS_ERR_OUTPUT), and bps_h5_info summarises a file and rejects missing,
 * non-HDF5, non-bpscan and newer-schema files. Array-job pieces carry slice_index/slice_count,
 * sample_index and samples_total (complete scans: slice 0 of 1, neither dataset nor
 * attribute), and bps_h5_read loads a file so completely that writing it again gives the
 * same bytes. Landscape scans: the root attribute mode and the /n{N}/landscape group
 * (attributes, degree/size, per-sample fields [S, dims...] chunked by rows, statistics
 * datasets, scalar for one value per sample) are written as documented, read back equal
 * (write-read-write gives the same bytes), the statistics equal bps_result_n_stats's,
 * inconsistent landscape results are refused, info prints the landscape table, and
 * bps_merge_results merges landscape pieces into the bytes of a single run (and refuses
 * mixed or differently shaped pieces). The root attribute job_json is job.c's JSON of the
 * stored job text; a result whose job text is not a job is refused; info parses the stored
 * job text with job.c and says so when it cannot. (Tests may include <hdf5.h>; src/ may not, except
 * src/h5io.c.) */
#include "bpscan/merge.h"
#include <dirent.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <hdf5.h>

#include "bps_test.h"
#include "bpscan/h5io.h"
#include "bpscan/job.h"
#include "bpscan/version.h"
#include "t700-synth.h"

static char dir[256];

static void path_in(char *buf, size_t n, const char *name) {
  snprintf(buf, n, "%s/%s", dir, name);
}

/* Number of directory entries other than . and .. whose name contains `part` (NULL: all). */
static int count_entries(const char *part) {
  DIR *d = opendir(dir);
  int c = 0;
  struct dirent *e;
  while (d && (e = readdir(d)))
    if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..") && (!part || strstr(e->d_name, part)))
      c++;
  if (d) closedir(d);
  return c;
}

static char *slurp(const char *path, long *len) {
  FILE *f = fopen(path, "rb");
  if (!f) return NULL;
  fseek(f, 0, SEEK_END);
  *len = ftell(f);
  fseek(f, 0, SEEK_SET);
  char *b = malloc((size_t)*len + 1);
  if (b && fread(b, 1, (size_t)*len, f) != (size_t)*len) *len = -1;
  fclose(f);
  return b;
}

static int same_bytes(const char *a, const char *b) {
  long la = 0, lb = 0;
  char *x = slurp(a, &la), *y = slurp(b, &lb);
  int same = x && y && la == lb && la > 0 && !memcmp(x, y, (size_t)la);
  free(x);
  free(y);
  return same;
}

/* ---- reading back with the HDF5 C API ---- */

static double attr_f64(hid_t loc, const char *name) {
  double v = -12345;
  hid_t a = H5Aopen(loc, name, H5P_DEFAULT);
  CHECK(a >= 0);
  if (a < 0) {
    fprintf(stderr, "  attribute %s missing\n", name);
    return v;
  }
  hid_t t = H5Aget_type(a), s = H5Aget_space(a);
  CHECK(H5Tequal(t, H5T_IEEE_F64LE) > 0);
  CHECK(H5Sget_simple_extent_type(s) == H5S_SCALAR);
  CHECK(H5Aread(a, H5T_NATIVE_DOUBLE, &v) >= 0);
  H5Tclose(t), H5Sclose(s), H5Aclose(a);
  return v;
}

/* Integer attribute of file type ftype, read as int64. */
static long long attr_int(hid_t loc, const char *name, hid_t ftype) {
  long long v = -12345;
  hid_t a = H5Aopen(loc, name, H5P_DEFAULT);
  CHECK(a >= 0);
  if (a < 0) {
    fprintf(stderr, "  attribute %s missing\n", name);
    return v;
  }
  hid_t t = H5Aget_type(a);
  CHECK(H5Tequal(t, ftype) > 0);
  CHECK(H5Aread(a, H5T_NATIVE_LLONG, &v) >= 0);
  H5Tclose(t), H5Aclose(a);
  return v;
}

static uint64_t attr_u64(hid_t loc, const char *name) {
  uint64_t v = 0;
  hid_t a = H5Aopen(loc, name, H5P_DEFAULT);
  CHECK(a >= 0);
  if (a < 0) return v;
  hid_t t = H5Aget_type(a);
  CHECK(H5Tequal(t, H5T_STD_U64LE) > 0);
  CHECK(H5Aread(a, H5T_NATIVE_UINT64, &v) >= 0);
  H5Tclose(t), H5Aclose(a);
  return v;
}

/* A scalar variable-length UTF-8 string attribute equals want. */
static void check_attr_str(hid_t loc, const char *name, const char *want) {
  hid_t a = H5Aopen(loc, name, H5P_DEFAULT);
  CHECK(a >= 0);
  if (a < 0) {
    fprintf(stderr, "  attribute %s missing\n", name);
    return;
  }
  hid_t t = H5Aget_type(a), s = H5Aget_space(a);
  CHECK(H5Tget_class(t) == H5T_STRING);
  CHECK(H5Tis_variable_str(t) > 0);
  CHECK(H5Tget_cset(t) == H5T_CSET_UTF8);
  CHECK(H5Sget_simple_extent_type(s) == H5S_SCALAR);
  char *v = NULL;
  CHECK(H5Aread(a, t, &v) >= 0);
  CHECK(v && !strcmp(v, want));
  if (!v || strcmp(v, want))
    fprintf(stderr, "  %s = '%s', want '%s'\n", name, v ? v : "(null)", want);
  H5free_memory(v);
  H5Tclose(t), H5Sclose(s), H5Aclose(a);
}

/* Dataset with the given dims (rank 0 = scalar, up to 3), file type ftype, whose contents
 * equal want (read as mtype, compared bytewise). Returns its creation property list's
 * layout. */
static H5D_layout_t check_dset(hid_t loc, const char *name, int rank, const hsize_t *dims,
                               hid_t ftype, hid_t mtype, const void *want, size_t esz) {
  hid_t d = H5Dopen2(loc, name, H5P_DEFAULT);
  CHECK(d >= 0);
  if (d < 0) {
    fprintf(stderr, "  dataset %s missing\n", name);
    return H5D_LAYOUT_ERROR;
  }
  hid_t s = H5Dget_space(d), t = H5Dget_type(d), p = H5Dget_create_plist(d);
  hsize_t got[3] = {0, 0, 0};
  CHECK(H5Sget_simple_extent_ndims(s) == rank);
  CHECK(H5Sget_simple_extent_type(s) == (rank ? H5S_SIMPLE : H5S_SCALAR));
  H5Sget_simple_extent_dims(s, got, NULL);
  size_t n = 1;
  for (int k = 0; k < rank; k++) {
    CHECK(got[k] == dims[k]);
    n *= dims[k];
  }
  CHECK(H5Tequal(t, ftype) > 0);
  if (want && n) {
    void *buf = malloc(n * esz);
    CHECK(H5Dread(d, mtype, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf) >= 0);
    CHECK(!memcmp(buf, want, n * esz));
    if (memcmp(buf, want, n * esz)) fprintf(stderr, "  dataset %s differs\n", name);
    free(buf);
  }
  H5D_layout_t lay = H5Pget_layout(p);
  if (lay == H5D_CHUNKED) {
    /* shuffle then deflate 4, rows chunked, full width */
    CHECK(H5Pget_nfilters(p) == 2);
    unsigned flags, cd[4];
    size_t ncd = 4;
    CHECK(H5Pget_filter2(p, 0, &flags, &ncd, cd, 0, NULL, NULL) == H5Z_FILTER_SHUFFLE);
    ncd = 4;
    CHECK(H5Pget_filter2(p, 1, &flags, &ncd, cd, 0, NULL, NULL) == H5Z_FILTER_DEFLATE);
    CHECK(ncd >= 1 && cd[0] == 4);
    hsize_t ch[3] = {0, 0, 0};
    CHECK(H5Pget_chunk(p, 3, ch) == rank);
    CHECK(ch[0] == (dims[0] < 4096 ? dims[0] : 4096));
    for (int k = 1; k < rank; k++) CHECK(ch[k] == dims[k]);
  }
  H5Pclose(p), H5Tclose(t), H5Sclose(s), H5Dclose(d);
  return lay;
}

static void check_dset_f64(hid_t loc, const char *name, hsize_t n, const double *want) {
  hsize_t dims[1] = {n};
  CHECK(check_dset(loc, name, 1, dims, H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, want, 8) ==
        H5D_CONTIGUOUS);
}

static void check_dset_strings(hid_t loc, const char *name, int n, char *const *names,
                               const int *idx) {
  hid_t d = H5Dopen2(loc, name, H5P_DEFAULT);
  CHECK(d >= 0);
  if (d < 0) return;
  hid_t s = H5Dget_space(d), t = H5Dget_type(d);
  hsize_t got = 0;
  CHECK(H5Sget_simple_extent_ndims(s) == 1);
  H5Sget_simple_extent_dims(s, &got, NULL);
  CHECK(got == (hsize_t)n);
  CHECK(H5Tis_variable_str(t) > 0 && H5Tget_cset(t) == H5T_CSET_UTF8);
  char **v = calloc((size_t)n + 1, sizeof *v);
  CHECK(H5Dread(d, t, H5S_ALL, H5S_ALL, H5P_DEFAULT, v) >= 0);
  for (int i = 0; i < n && i < (int)got; i++) {
    const char *want = names[idx ? idx[i] : i];
    CHECK(v[i] && !strcmp(v[i], want));
  }
  H5Dvlen_reclaim(t, s, H5P_DEFAULT, v);
  free(v);
  H5Tclose(t), H5Sclose(s), H5Dclose(d);
}

static herr_t count_attr(hid_t loc, const char *name, const H5A_info_t *ai, void *data) {
  (void)loc, (void)name, (void)ai;
  ++*(int *)data;
  return 0;
}

/* The group /n{N}/landscape of g against r->land (or its absence). */
static void check_land(hid_t g, const bps_result_n *r) {
  const bps_landscape_n *l = r->land;
  if (!l) {
    CHECK(H5Lexists(g, "landscape", H5P_DEFAULT) == 0);
    return;
  }
  hid_t lg = H5Gopen2(g, "landscape", H5P_DEFAULT);
  CHECK(lg >= 0);
  if (lg < 0) return;
  check_attr_str(lg, "directions", l->directions);
  CHECK(attr_int(lg, "pad", H5T_STD_I32LE) == l->pad);
  CHECK(attr_int(lg, "num_cuts", H5T_STD_I32LE) == l->ncut);
  char list[1024] = "";
  for (int i = 0; i < l->nfield; i++) {
    if (i) strcat(list, ",");
    strcat(list, l->field[i].name);
  }
  check_attr_str(lg, "fields", list);
  int nattr = 0;
  CHECK(H5Aiterate2(lg, H5_INDEX_NAME, H5_ITER_INC, NULL, count_attr, &nattr) >= 0);
  CHECK(nattr == 4);
  hsize_t d1[1] = {(hsize_t)l->ndeg};
  CHECK(check_dset(lg, "degree", 1, d1, H5T_STD_I32LE, H5T_NATIVE_INT, l->degree, 4) ==
        H5D_CONTIGUOUS);
  CHECK(check_dset(lg, "size", 1, d1, H5T_STD_I32LE, H5T_NATIVE_INT, l->size, 4) == H5D_CONTIGUOUS);
  hsize_t links = 2;
  for (int i = 0; i < l->nfield; i++) {
    const bps_land_field *fl = &l->field[i];
    hsize_t dims[3] = {(hsize_t)r->samples, (hsize_t)fl->dims[0], (hsize_t)fl->dims[1]};
    H5D_layout_t lay = check_dset(lg, fl->name, fl->ndim + 1, dims, H5T_IEEE_F64LE,
                                  H5T_NATIVE_DOUBLE, fl->data, 8);
    CHECK(lay == (r->samples > 0 ? H5D_CHUNKED : H5D_CONTIGUOUS));
    links++;
    static const char *const suf[4] = {"_mean", "_mean_se", "_var", "_var_se"};
    const double *st[4] = {fl->mean, fl->mean_se, fl->var, fl->var_se};
    for (int k = 0; k < 4; k++) {
      char nm[64];
      snprintf(nm, sizeof nm, "%s%s", fl->name, suf[k]);
      if (!fl->stats) {
        CHECK(H5Lexists(lg, nm, H5P_DEFAULT) == 0);
        continue;
      }
      CHECK(check_dset(lg, nm, fl->ndim, dims + 1, H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, st[k], 8) ==
            H5D_CONTIGUOUS);
      links++;
    }
  }
  H5G_info_t gi;
  CHECK(H5Gget_info(lg, &gi) >= 0 && gi.nlinks == links);
  H5Gclose(lg);
}

static void check_file(const char *path, const bps_result *res) {
  hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
  CHECK(f >= 0);
  if (f < 0) return;
  /* the earliest formats, at most HDF5 1.8's (superblock version 0) */
  H5F_info2_t fi;
  CHECK(H5Fget_info2(f, &fi) >= 0);
  CHECK(fi.super.version == 0);

  /* root attributes */
  CHECK(attr_int(f, "schema_version", H5T_STD_I32LE) == 1);
  check_attr_str(f, "bpscan_version", BPS_VERSION_STRING);
  check_attr_str(f, "git_commit", BPS_GIT_COMMIT);
  check_attr_str(f, "job", res->job_text);
  CHECK(attr_u64(f, "job_hash") == res->job_hash);
  {
    /* job_json: job.c's JSON of the stored job text */
    bps_job job;
    char *json = NULL;
    CHECK_OK(bps_job_parse(res->job_text, "t700", NULL, 0, &job));
    CHECK_OK(bps_job_json(&job, &json));
    if (json) check_attr_str(f, "job_json", json);
    free(json);
    bps_job_free(&job);
  }
  CHECK(attr_u64(f, "seed") == res->seed);
  check_attr_str(f, "model", "dqnn");
  check_attr_str(f, "grad_method", "adjoint");
  CHECK(attr_int(f, "mpi_ranks", H5T_STD_I32LE) == 4);
  CHECK(attr_int(f, "omp_threads", H5T_STD_I32LE) == 2);
  check_attr_str(f, "host", "node?01"); /* the invalid UTF-8 byte replaced */
  check_attr_str(f, "start_time", "2023-11-14T22:13:20Z");
  check_attr_str(f, "end_time", "2023-11-14T22:15:23Z");
  CHECK(attr_f64(f, "start_unix") == res->start_time);
  CHECK(attr_f64(f, "end_unix") == res->end_time);
  CHECK(attr_f64(f, "wall_plan") == res->wall_plan);
  CHECK(attr_f64(f, "wall_compute") == res->wall_compute);
  CHECK(attr_f64(f, "wall_reduce") == res->wall_reduce);
  CHECK(attr_f64(f, "wall_write") == res->wall_write);
  unsigned maj, min, rel;
  char hv[32];
  H5get_libversion(&maj, &min, &rel);
  snprintf(hv, sizeof hv, "%u.%u.%u", maj, min, rel);
  check_attr_str(f, "hdf5_version", hv);
  int piece = res->slice_count > 1;
  CHECK(attr_int(f, "slice_index", H5T_STD_I32LE) == (piece ? res->slice_index : 0));
  CHECK(attr_int(f, "slice_count", H5T_STD_I32LE) == (piece ? res->slice_count : 1));
  int land = 0;
  for (int i = 0; i < res->nn; i++) land |= res->per_n[i].land != NULL;
  check_attr_str(f, "mode", land ? "landscape" : "gradient");

  for (int i = 0; i < res->nn; i++) {
    const bps_result_n *r = &res->per_n[i];
    char gname[16];
    snprintf(gname, sizeof gname, "n%d", r->n);
    hid_t g = H5Gopen2(f, gname, H5P_DEFAULT);
    CHECK(g >= 0);
    if (g < 0) continue;
    hsize_t S = (hsize_t)r->samples, P = 3, PA = (hsize_t)r->nparams;
    hsize_t d1[1] = {S}, d2[2] = {S, P};
    const hid_t F64 = H5T_IEEE_F64LE, D = H5T_NATIVE_DOUBLE;
    CHECK(check_dset(g, "cost", 1, d1, F64, D, r->cost, 8) == H5D_CHUNKED);
    CHECK(check_dset(g, "grad", 2, d2, F64, D, r->grad, 8) == H5D_CHUNKED);
    d2[1] = BPS_NDIAG;
    CHECK(check_dset(g, "diag", 2, d2, F64, D, r->diag, 8) == H5D_CHUNKED);
    hid_t dd = H5Dopen2(g, "diag", H5P_DEFAULT);
    check_attr_str(dd, "columns", "purity,entropy,renyi2,trace_distance");
    H5Dclose(dd);
    if (r->params) {
      d2[1] = PA;
      CHECK(check_dset(g, "params", 2, d2, H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, r->params, 8) ==
            H5D_CHUNKED);
    } else {
      CHECK(H5Lexists(g, "params", H5P_DEFAULT) == 0);
    }
    if (piece) {
      d1[0] = S;
      CHECK(check_dset(g, "sample_index", 1, d1, H5T_STD_I64LE, H5T_NATIVE_LONG, r->sample_index,
                       sizeof(long)) == H5D_CHUNKED);
      CHECK(attr_int(g, "samples_total", H5T_STD_I64LE) == r->samples_total);
    } else {
      CHECK(H5Lexists(g, "sample_index", H5P_DEFAULT) == 0);
      CHECK(H5Aexists(g, "samples_total") == 0);
    }
    double gm[3], gv[3], gse[3];
    for (int k = 0; k < 3; k++)
      gm[k] = r->grad_stats[k].mean, gv[k] = r->grad_stats[k].var,
      gse[k] = r->grad_stats[k].var_se;
    check_dset_f64(g, "grad_mean", P, gm);
    check_dset_f64(g, "grad_var", P, gv);
    check_dset_f64(g, "grad_var_se", P, gse);
    d1[0] = P;
    CHECK(check_dset(g, "param_index", 1, d1, H5T_STD_I32LE, H5T_NATIVE_INT, r->tracked, 4) ==
          H5D_CONTIGUOUS);
    check_dset_strings(g, "param_names", 3, r->param_names, r->tracked);
    check_dset_strings(g, "param_names_all", r->nparams, r->param_names, NULL);

    CHECK(attr_int(g, "n", H5T_STD_I32LE) == r->n);
    CHECK(attr_int(g, "num_samples", H5T_STD_I64LE) == r->samples);
    CHECK(attr_int(g, "num_params", H5T_STD_I32LE) == r->nparams);
    CHECK(attr_int(g, "num_tracked", H5T_STD_I32LE) == 3);
    CHECK(attr_int(g, "q_in", H5T_STD_I32LE) == r->q_in);
    CHECK(attr_int(g, "q_out", H5T_STD_I32LE) == r->q_out);
    CHECK(attr_int(g, "diag_qubits", H5T_STD_I32LE) == r->diag_qubits);
    check_attr_str(g, "representation", r->representation);
    CHECK(attr_f64(g, "cost_mean") == r->cost_stats.mean);
    CHECK(attr_f64(g, "cost_mean_se") == r->cost_stats.mean_se);
    CHECK(attr_f64(g, "cost_var") == r->cost_stats.var);
    CHECK(attr_f64(g, "cost_var_se") == r->cost_stats.var_se);
    CHECK(attr_f64(g, "grad_var_mean") == r->grad_var_mean);
    CHECK(attr_f64(g, "grad_var_mean_se") == r->grad_var_mean_se);
    for (int k = 0; k < BPS_NDIAG; k++) {
      char nm[64];
      snprintf(nm, sizeof nm, "%s_mean", bps_diag_names[k]);
      CHECK(attr_f64(g, nm) == r->diag_stats[k].mean);
      snprintf(nm, sizeof nm, "%s_mean_se", bps_diag_names[k]);
      CHECK(attr_f64(g, nm) == r->diag_stats[k].mean_se);
      snprintf(nm, sizeof nm, "%s_var", bps_diag_names[k]);
      CHECK(attr_f64(g, nm) == r->diag_stats[k].var);
    }
    double pe = attr_f64(g, "page_entropy"), pp = attr_f64(g, "page_purity");
    if (isnan(r->page_entropy)) CHECK(isnan(pe) && isnan(pp));
    else CHECK(pe == r->page_entropy && pp == r->page_purity);
    check_land(g, r);
    H5Gclose(g);
  }

  /* /summary */
  hid_t s = H5Gopen2(f, "summary", H5P_DEFAULT);
  CHECK(s >= 0);
  int K = res->nn;
  hsize_t dk[1] = {(hsize_t)K};
  int nv[8];
  long long sv[8];
  for (int i = 0; i < K; i++) nv[i] = res->per_n[i].n, sv[i] = res->per_n[i].samples;
  CHECK(check_dset(s, "n", 1, dk, H5T_STD_I32LE, H5T_NATIVE_INT, nv, 4) == H5D_CONTIGUOUS);
  CHECK(check_dset(s, "num_samples", 1, dk, H5T_STD_I64LE, H5T_NATIVE_LLONG, sv, 8) ==
        H5D_CONTIGUOUS);
  double x[8];
#define SUMCOL(name, expr)                                                                      \
  do {                                                                                          \
    for (int i = 0; i < K; i++) {                                                               \
      const bps_result_n *r = &res->per_n[i];                                                   \
      x[i] = (expr);                                                                            \
    }                                                                                           \
    check_dset_f64(s, name, (hsize_t)K, x);                                                     \
  } while (0)
  SUMCOL("grad_var_mean", r->grad_var_mean);
  SUMCOL("grad_var_mean_se", r->grad_var_mean_se);
  SUMCOL("cost_mean", r->cost_stats.mean);
  SUMCOL("cost_mean_se", r->cost_stats.mean_se);
  SUMCOL("cost_var", r->cost_stats.var);
  SUMCOL("cost_var_se", r->cost_stats.var_se);
  for (int k = 0; k < BPS_NDIAG; k++) {
    char nm[64];
    snprintf(nm, sizeof nm, "%s_mean", bps_diag_names[k]);
    SUMCOL(nm, r->diag_stats[k].mean);
    snprintf(nm, sizeof nm, "%s_mean_se", bps_diag_names[k]);
    SUMCOL(nm, r->diag_stats[k].mean_se);
  }
  { /* page_*: NaN for n = 6, so compare bitwise via the reader above (memcmp) */
    SUMCOL("page_entropy", r->page_entropy);
    SUMCOL("page_purity", r->page_purity);
  }
#undef SUMCOL
  H5G_info_t gi;
  CHECK(H5Gget_info(s, &gi) >= 0 && gi.nlinks == 2 + 6 + 2 * BPS_NDIAG + 2);
  (void)piece;
  H5Gclose(s);
  CHECK(H5Gget_info(f, &gi) >= 0 && gi.nlinks == (hsize_t)res->nn + 1);
  H5Fclose(f);
}

/* ---- bps_h5_info ---- */

/* Replace the root attribute job of the file at path by text (a file of another version). */
static void set_job_attr(const char *path, const char *text) {
  hid_t f = H5Fopen(path, H5F_ACC_RDWR, H5P_DEFAULT);
  CHECK(f >= 0);
  if (f < 0) return;
  hid_t t = H5Tcopy(H5T_C_S1), sp = H5Screate(H5S_SCALAR);
  H5Tset_size(t, H5T_VARIABLE);
  H5Tset_cset(t, H5T_CSET_UTF8);
  CHECK(H5Adelete(f, "job") >= 0);
  hid_t a = H5Acreate2(f, "job", t, sp, H5P_DEFAULT, H5P_DEFAULT);
  CHECK(a >= 0 && H5Awrite(a, t, &text) >= 0);
  H5Aclose(a), H5Sclose(sp), H5Tclose(t), H5Fclose(f);
}

static char *info_text(const char *path, int *rc) {
  FILE *t = tmpfile();
  *rc = bps_h5_info(path, t);
  long n = ftell(t);
  rewind(t);
  char *b = calloc((size_t)n + 1, 1);
  if (n > 0 && fread(b, 1, (size_t)n, t) != (size_t)n) b[0] = '\0';
  fclose(t);
  return b;
}

static void check_has(const char *text, const char *want) {
  CHECK(strstr(text, want) != NULL);
  if (!strstr(text, want)) fprintf(stderr, "  missing in info output: '%s'\n", want);
}

/* The call fails with BPS_ERR_IO and a message containing part. */
static void check_info_fails(const char *path, const char *part) {
  int rc;
  char *t = info_text(path, &rc);
  CHECK(rc == BPS_ERR_IO);
  CHECK(strstr(bps_error_message(), part) != NULL);
  if (!strstr(bps_error_message(), part))
    fprintf(stderr, "  message '%s' lacks '%s'\n", bps_error_message(), part);
  CHECK(t[0] == '\0'); /* nothing printed */
  free(t);
  bps_error_clear();
}

/* ---- landscape scans ---- */

static int same_f64(const double *a, const double *b, long n) {
  return n == 0 || (a && b && !memcmp(a, b, sizeof(double) * (size_t)n));
}

/* a and b hold the same landscape structure, data and statistics, bit for bit. */
static void check_same_land(const bps_landscape_n *a, const bps_landscape_n *b, long S) {
  CHECK(a && b);
  if (!a || !b) return;
  CHECK(!strcmp(a->directions, b->directions) && a->pad == b->pad && a->ncut == b->ncut);
  CHECK(a->ndeg == b->ndeg && a->ndeg >= 1);
  if (a->ndeg != b->ndeg) return;
  CHECK(!memcmp(a->degree, b->degree, sizeof(int) * (size_t)a->ndeg));
  CHECK(!memcmp(a->size, b->size, sizeof(int) * (size_t)a->ndeg));
  CHECK(a->nfield == b->nfield);
  for (int i = 0; i < a->nfield && i < b->nfield; i++) {
    const bps_land_field *x = &a->field[i], *y = &b->field[i];
    CHECK(!strcmp(x->name, y->name) && x->ndim == y->ndim && x->stats == y->stats);
    for (int d = 0; d < x->ndim; d++) CHECK(x->dims[d] == y->dims[d]);
    long e = bps_land_field_elems(x);
    CHECK(same_f64(x->data, y->data, S * e));
    if (x->stats && y->stats) {
      CHECK(same_f64(x->mean, y->mean, e) && same_f64(x->mean_se, y->mean_se, e));
      CHECK(same_f64(x->var, y->var, e) && same_f64(x->var_se, y->var_se, e));
    }
  }
}

/* Writing res fails with BPS_ERR_ARG, a message containing part, and no file. */
static void check_refused(const bps_result *res, const char *path, const char *part) {
  int rc = bps_h5_write(path, res, 0);
  CHECK(rc == BPS_ERR_ARG && strstr(bps_error_message(), part));
  if (rc != BPS_ERR_ARG || !strstr(bps_error_message(), part))
    fprintf(stderr, "  rc %d, message '%s' lacks '%s'\n", rc, bps_error_message(), part);
  bps_error_clear();
  CHECK(access(path, F_OK) != 0);
}

/* Piece k of N of full (the rows s with s % N == k) with its own statistics, every pointer
 * malloc'ed as bps_h5_read leaves it (release with bps_h5_result_free). */
static void make_piece(const bps_result *full, int k, int N, bps_result *pc) {
  memset(pc, 0, sizeof *pc);
  pc->job_text = strdup(full->job_text);
  pc->model = strdup(full->model);
  pc->grad_method = strdup(full->grad_method);
  pc->host = strdup(full->host);
  pc->job_hash = full->job_hash;
  pc->seed = full->seed;
  pc->mpi_ranks = full->mpi_ranks;
  pc->omp_threads = full->omp_threads;
  pc->start_time = full->start_time;
  pc->end_time = full->end_time;
  pc->wall_plan = full->wall_plan, pc->wall_compute = full->wall_compute;
  pc->wall_reduce = full->wall_reduce, pc->wall_write = full->wall_write;
  pc->slice_index = k;
  pc->slice_count = N;
  pc->nn = full->nn;
  pc->per_n = calloc((size_t)full->nn, sizeof *pc->per_n);
  for (int i = 0; i < full->nn; i++) {
    const bps_result_n *f = &full->per_n[i];
    bps_result_n *r = &pc->per_n[i];
    int P = f->ntracked, PA = f->nparams;
    long S = 0;
    for (long s = k; s < f->samples; s += N) S++;
    r->n = f->n;
    r->samples = S;
    r->samples_total = f->samples;
    r->nparams = PA;
    r->ntracked = P;
    r->q_in = f->q_in, r->q_out = f->q_out, r->diag_qubits = f->diag_qubits;
    r->page_entropy = f->page_entropy, r->page_purity = f->page_purity;
    r->representation = strdup(f->representation);
    r->tracked = malloc(sizeof(int) * (size_t)P);
    memcpy(r->tracked, f->tracked, sizeof(int) * (size_t)P);
    r->param_names = malloc(sizeof(char *) * (size_t)PA);
    for (int q = 0; q < PA; q++) r->param_names[q] = strdup(f->param_names[q]);
    r->grad_stats = calloc((size_t)P, sizeof(bps_stats));
    r->cost = malloc(sizeof(double) * (size_t)S);
    r->grad = malloc(sizeof(double) * (size_t)S * (size_t)P);
    r->diag = malloc(sizeof(double) * (size_t)S * BPS_NDIAG);
    r->params = f->params ? malloc(sizeof(double) * (size_t)S * (size_t)PA) : NULL;
    r->sample_index = malloc(sizeof(long) * (size_t)S);
    const bps_landscape_n *fl = f->land;
    bps_landscape_n *l = NULL;
    if (fl) {
      l = r->land = calloc(1, sizeof *l);
      memcpy(l->directions, fl->directions, sizeof l->directions);
      l->pad = fl->pad, l->ncut = fl->ncut, l->ndeg = fl->ndeg, l->nfield = fl->nfield;
      l->degree = malloc(sizeof(int) * (size_t)l->ndeg);
      l->size = malloc(sizeof(int) * (size_t)l->ndeg);
      memcpy(l->degree, fl->degree, sizeof(int) * (size_t)l->ndeg);
      memcpy(l->size, fl->size, sizeof(int) * (size_t)l->ndeg);
      for (int q = 0; q < l->nfield; q++) {
        bps_land_field *x = &l->field[q];
        memcpy(x->name, fl->field[q].name, sizeof x->name);
        x->ndim = fl->field[q].ndim, x->stats = fl->field[q].stats;
        x->dims[0] = fl->field[q].dims[0], x->dims[1] = fl->field[q].dims[1];
        x->data = malloc(sizeof(double) * (size_t)S * (size_t)bps_land_field_elems(x));
      }
    }
    for (long j = 0, s = k; j < S; j++, s += N) {
      r->sample_index[j] = s;
      r->cost[j] = f->cost[s];
      memcpy(r->grad + j * P, f->grad + s * P, sizeof(double) * (size_t)P);
      memcpy(r->diag + j * BPS_NDIAG, f->diag + s * BPS_NDIAG, sizeof(double) * BPS_NDIAG);
      if (r->params) memcpy(r->params + j * PA, f->params + s * PA, sizeof(double) * (size_t)PA);
      for (int q = 0; l && q < l->nfield; q++) {
        long e = bps_land_field_elems(&l->field[q]);
        memcpy(l->field[q].data + j * e, fl->field[q].data + s * e, sizeof(double) * (size_t)e);
      }
    }
    CHECK_OK(bps_result_n_stats(r));
  }
}

/* The landscape table row bps_h5_info prints for r (a synth_land result). */
static void land_row(const bps_result_n *r, char *row, size_t n) {
  const bps_landscape_n *l = r->land;
  const bps_land_field *lip = &l->field[5], *al = &l->field[2], *sf = &l->field[3],
                       *sa = &l->field[4], *cv = &l->field[1];
  long S = r->samples;
  bps_stats st;
  bps_stats_compute(lip->data, S, 1, &st);
  double amax = 0, sd = 0, cm = 0;
  for (long s = 0; s < S; s++) {
    if (fabs(al->data[s]) > amax) amax = fabs(al->data[s]);
    sd += fabs(sf->data[s] - sa->data[s]);
    cm += cv->data[s];
  }
  int dmin = l->degree[0], dmax = l->degree[0];
  for (int j = 1; j < l->ndeg; j++) {
    if (l->degree[j] < dmin) dmin = l->degree[j];
    if (l->degree[j] > dmax) dmax = l->degree[j];
  }
  char deg[16];
  if (dmin == dmax) snprintf(deg, sizeof deg, "%d", dmin);
  else snprintf(deg, sizeof deg, "%d-%d", dmin, dmax);
  char a[5][32];
  snprintf(a[0], 32, "%.4e", st.mean);
  snprintf(a[1], 32, "%.2e", st.mean_se);
  snprintf(a[2], 32, "%.2e", amax);
  snprintf(a[3], 32, "%.2e", sd / (double)S);
  snprintf(a[4], 32, "%.4e", cm / (double)S);
  snprintf(row, n, "  %4d %-10s %5d %-7s  %-11s %-9s  %-12s %-12s %s\n", r->n, l->directions,
           l->ncut, deg, a[0], a[1], a[2], a[3], a[4]);
}

/* Delete object obj of a copy of src and check that bps_h5_read names part. */
static void check_damaged(const char *src, const char *copy, const char *obj, const char *part) {
  char cmd[2048];
  snprintf(cmd, sizeof cmd, "cp '%s' '%s'", src, copy);
  CHECK(system(cmd) == 0);
  hid_t f = H5Fopen(copy, H5F_ACC_RDWR, H5P_DEFAULT);
  CHECK(f >= 0 && H5Ldelete(f, obj, H5P_DEFAULT) >= 0);
  H5Fclose(f);
  bps_result back;
  int rc = bps_h5_read(copy, &back, NULL);
  CHECK(rc == BPS_ERR_IO && strstr(bps_error_message(), part));
  if (rc != BPS_ERR_IO || !strstr(bps_error_message(), part))
    fprintf(stderr, "  rc %d, message '%s' lacks '%s'\n", rc, bps_error_message(), part);
  bps_error_clear();
  CHECK(back.per_n == NULL);
  unlink(copy);
}

static void test_landscape(void) {
  char lout[512], lout2[512], tmp[512];
  path_in(lout, sizeof lout, "land.h5");
  path_in(lout2, sizeof lout2, "land-again.h5");
  path_in(tmp, sizeof tmp, "land-tmp.h5");
  bps_result lr;
  synth_result_land(&lr, 100);
  CHECK_OK(bps_h5_write(lout, &lr, 0));
  check_file(lout, &lr);

  /* info: the mode and one landscape row per qubit count */
  int rc;
  char *t = info_text(lout, &rc);
  CHECK(rc == BPS_OK);
  check_has(t, "  mode          landscape\n");
  check_has(t, "landscape\n     n directions  cuts degree   Lipschitz   +- SE      aliasing max "
               "|fft - adj|  cut_var mean\n");
  for (int i = 0; i < lr.nn; i++) {
    char row[256];
    land_row(&lr.per_n[i], row, sizeof row);
    check_has(t, row);
  }
  free(t);

  /* read back: the same landscape; written again, the same bytes */
  bps_result back;
  CHECK_OK(bps_h5_read(lout, &back, NULL));
  CHECK(back.nn == 2);
  for (int i = 0; i < back.nn; i++) check_same_land(back.per_n[i].land, lr.per_n[i].land, 100);
  CHECK(!strcmp(back.per_n[1].land->directions, "axes"));
  CHECK_OK(bps_h5_write(lout2, &back, 0));
  CHECK(same_bytes(lout, lout2));
  unlink(lout2);
  /* the statistics in the file are bps_result_n_stats's */
  for (int i = 0; i < back.nn; i++) {
    CHECK_OK(bps_result_n_stats(&back.per_n[i]));
    check_same_land(back.per_n[i].land, lr.per_n[i].land, 100);
  }
  bps_h5_result_free(&back);

  /* damaged landscape groups */
  check_damaged(lout, tmp, "/n4/landscape/power_var", "has 3 of its 4 statistics datasets");
  check_damaged(lout, tmp, "/n6/landscape/image", "/n6/landscape/image missing");
  check_damaged(lout, tmp, "/n4/landscape/size", "/n4/landscape/size missing");

  /* inconsistent landscape results are refused before any file is made */
  bps_landscape_n *l = lr.per_n[0].land;
  char keep[BPS_LAND_NAME_LEN];
  memcpy(keep, l->field[1].name, sizeof keep);
  memcpy(l->field[1].name, l->field[0].name, sizeof keep);
  check_refused(&lr, tmp, "landscape field name 'cut_mean' appears twice");
  memcpy(l->field[1].name, "cut_mean_var", 13); /* cut_mean's variance */
  check_refused(&lr, tmp, "'cut_mean_var' would be written twice");
  memcpy(l->field[1].name, "size", 5);
  check_refused(&lr, tmp, "'size' would be written twice");
  memcpy(l->field[1].name, "a,b", 4);
  check_refused(&lr, tmp, "not [A-Za-z0-9_]");
  l->field[1].name[0] = '\0';
  check_refused(&lr, tmp, "is empty");
  memcpy(l->field[1].name, keep, sizeof keep);
  l->field[9].ndim = 3;
  check_refused(&lr, tmp, "per-sample rank 3");
  l->field[9].ndim = 2;
  l->field[9].dims[1] = 0;
  check_refused(&lr, tmp, "field image: dimension 1 is 0");
  l->field[9].dims[1] = 4;
  double *dk = l->field[3].data;
  l->field[3].data = NULL;
  check_refused(&lr, tmp, "field slope_fft: no data");
  l->field[3].data = dk;
  dk = l->field[7].var_se;
  l->field[7].var_se = NULL;
  check_refused(&lr, tmp, "field power: statistics missing");
  l->field[7].var_se = dk;
  l->ndeg = 0;
  check_refused(&lr, tmp, "degree/size missing");
  l->ndeg = 1;
  l->nfield = BPS_LAND_MAX_FIELDS + 1;
  check_refused(&lr, tmp, "landscape fields (at most");
  l->nfield = SYNTH_LAND_NFIELD;
  CHECK_OK(bps_h5_write(tmp, &lr, 0)); /* all restored */
  unlink(tmp);
  unlink(lout);
  synth_free(&lr);
}

/* bps_merge_results: three landscape pieces give the single run's file bit for bit. */
static void test_merge_landscape(void) {
  enum { N = 3 };
  const long S = 31;
  char single[512], merged_p[512], piece[N][512], msg[1024];
  const char *names[N];
  path_in(single, sizeof single, "single.h5");
  path_in(merged_p, sizeof merged_p, "merged.h5");
  bps_result full, rd[N], merged;
  synth_result_land(&full, S);
  for (int i = 0; i < full.nn; i++) CHECK_OK(bps_result_n_stats(&full.per_n[i]));
  CHECK_OK(bps_h5_write(single, &full, 0));
  static const int order[N] = {2, 0, 1}; /* any order */
  for (int j = 0; j < N; j++) {
    bps_result pc;
    make_piece(&full, order[j], N, &pc);
    snprintf(piece[j], sizeof piece[j], "%s/piece%d.h5", dir, order[j]);
    CHECK_OK(bps_h5_write(piece[j], &pc, 0));
    check_file(piece[j], &pc);
    bps_h5_result_free(&pc);
    CHECK_OK(bps_h5_read(piece[j], &rd[j], NULL));
    names[j] = piece[j];
  }
  CHECK_OK(bps_merge_results(rd, names, N, merged_p, &merged, msg, sizeof msg));
  CHECK(merged.nn == full.nn);
  {
    /* the merged job: job.c's canonical text with [output] path = merged_p, as
     * `bpscan run -o merged_p` would store it */
    char set[600];
    const char *sets[1] = {set};
    bps_job want;
    snprintf(set, sizeof set, "output.path=%s", merged_p);
    CHECK_OK(bps_job_parse(full.job_text, "t700", sets, 1, &want));
    CHECK(merged.job_text && want.text && !strcmp(merged.job_text, want.text));
    bps_job_free(&want);
  }
  for (int i = 0; i < merged.nn && i < full.nn; i++)
    check_same_land(merged.per_n[i].land, full.per_n[i].land, S);
  /* the provenance of a merge differs by design: take the single run's, then compare bytes */
  free((void *)merged.job_text);
  free((void *)merged.host);
  merged.job_text = strdup(full.job_text);
  merged.host = strdup(full.host);
  free((void *)merged.hosts);
  merged.hosts = full.hosts ? strdup(full.hosts) : NULL;
  merged.mpi_ranks = full.mpi_ranks, merged.omp_threads = full.omp_threads;
  merged.start_time = full.start_time, merged.end_time = full.end_time;
  merged.wall_plan = full.wall_plan, merged.wall_compute = full.wall_compute;
  merged.wall_reduce = full.wall_reduce, merged.wall_write = full.wall_write;
  CHECK_OK(bps_h5_write(merged_p, &merged, 0));
  CHECK(same_bytes(single, merged_p));
  bps_h5_result_free(&merged);
  unlink(merged_p);

  /* refusals: a gradient piece among landscape pieces, different structures */
  int rc;
#define REFUSED(part)                                                                           \
  do {                                                                                          \
    rc = bps_merge_results(rd, names, N, merged_p, &merged, msg, sizeof msg);                   \
    CHECK(rc == BPS_ERR_USAGE && strstr(msg, part) && merged.per_n == NULL);                    \
    if (rc != BPS_ERR_USAGE || !strstr(msg, part))                                              \
      fprintf(stderr, "  merge: rc %d, message '%s' lacks '%s'\n", rc, msg, part);              \
    bps_error_clear();                                                                          \
  } while (0)
  bps_landscape_n *kept = rd[1].per_n[1].land;
  rd[1].per_n[1].land = NULL;
  REFUSED("piece2.h5' is a landscape scan but '");
  REFUSED("piece0.h5' is a gradient scan (at n = 6): not pieces of one scan");
  rd[1].per_n[1].land = kept;
  bps_landscape_n *l2 = rd[2].per_n[1].land;
  l2->field[9].dims[0]++;
  REFUSED("differ in the landscape fields (their shapes) at n = 6");
  l2->field[9].dims[0]--;
  l2->field[3].stats = 0;
  REFUSED("differ in the landscape fields (their shapes) at n = 6");
  l2->field[3].stats = 1;
  memcpy(l2->field[2].name, "alias", 6);
  REFUSED("differ in the landscape fields (their names) at n = 6");
  memcpy(l2->field[2].name, "aliasing", 9);
  l2->degree[0]++;
  REFUSED("differ in the landscape degrees at n = 6");
  l2->degree[0]--;
  l2->size[0]++;
  REFUSED("differ in the landscape FFT sizes");
  l2->size[0]--;
  l2->pad = 2;
  REFUSED("differ in the landscape pad");
  l2->pad = 8;
  char dirs[sizeof l2->directions];
  memcpy(dirs, l2->directions, sizeof dirs);
  memcpy(l2->directions, "plane", 6);
  REFUSED("differ in the landscape directions");
  memcpy(l2->directions, dirs, sizeof dirs);
  /* jobs are compared by job.c on every key but the output ones */
  const char *text1 = rd[1].job_text;
  rd[1].job_text = SYNTH_JOB_LAND "\n[output]\npath = elsewhere.h5\ncheckpoint_seconds = 7\n";
  CHECK_OK(bps_merge_results(rd, names, N, merged_p, &merged, msg, sizeof msg));
  bps_h5_result_free(&merged);
  rd[1].job_text = SYNTH_JOB_LAND "\n[output]\nstore_samples = false\n";
  REFUSED("are pieces of different jobs (job hash fedcba9876543210 vs fedcba9876543210) (first "
          "difference, in [output]: 'store_samples = true' vs 'store_samples = false')");
  rd[1].job_text = "[scan]\nmodel = vh\nqubits = 4,6\n";
  REFUSED("(first difference, in [scan]: 'model = dqnn' vs 'model = vh')");
  rd[1].job_text = "[scan]\nqubits = 4,6\nbogus = 1\n";
  REFUSED("piece0.h5': its job text is not a job this bpscan reads (the stored job text:3: "
          "[scan] bogus: unknown key");
  rd[1].job_text = text1;
#undef REFUSED
  CHECK_OK(bps_merge_results(rd, names, N, merged_p, &merged, msg, sizeof msg)); /* restored */
  bps_h5_result_free(&merged);
  for (int j = 0; j < N; j++) {
    bps_h5_result_free(&rd[j]);
    unlink(piece[j]);
  }
  unlink(single);
  synth_free(&full);
}

int main(void) {
  H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
  snprintf(dir, sizeof dir, "%s/bps-t700-XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
  if (!mkdtemp(dir)) {
    perror("mkdtemp");
    return 1;
  }
  char out[512], out2[512], missing[512];
  path_in(out, sizeof out, "out.h5");
  path_in(out2, sizeof out2, "again.h5");
  bps_result res;
  synth_result(&res, 100);

  /* write, read back everything */
  CHECK_OK(bps_h5_check_writable(out, 0));
  CHECK(count_entries(NULL) == 0); /* the probe left nothing */
  CHECK_OK(bps_h5_write(out, &res, 0));
  CHECK(count_entries(NULL) == 1 && count_entries(".tmp.") == 0);
  check_file(out, &res);

  /* the same result gives the same bytes (no time stamps in the file) */
  CHECK_OK(bps_h5_write(out2, &res, 0));
  CHECK(same_bytes(out, out2));
  unlink(out2);

  /* overwrite protection: the first file stays byte for byte */
  long len0 = 0;
  char *before = slurp(out, &len0);
  bps_result other;
  synth_result(&other, 100);
  other.seed = 7;
  CHECK_FAILS(bps_h5_check_writable(out, 0), BPS_ERR_EXISTS);
  CHECK_OK(bps_h5_check_writable(out, 1));
  int rc = bps_h5_write(out, &other, 0);
  CHECK(rc == BPS_ERR_EXISTS);
  CHECK(strstr(bps_error_message(), "exists; use --force to overwrite") != NULL);
  bps_error_clear();
  long len1 = 0;
  char *after = slurp(out, &len1);
  CHECK(before && after && len0 == len1 && !memcmp(before, after, (size_t)len0));
  free(before);
  free(after);
  CHECK(count_entries(NULL) == 1);
  /* with force it is replaced */
  CHECK_OK(bps_h5_write(out, &other, 1));
  CHECK(count_entries(NULL) == 1);
  check_file(out, &other);
  synth_free(&other);

  /* a directory that does not exist; a directory as the output name */
  path_in(missing, sizeof missing, "no/such/dir/out.h5");
  rc = bps_h5_write(missing, &res, 0);
  CHECK(rc == BPS_ERR_OUTPUT && strstr(bps_error_message(), "does not exist"));
  bps_error_clear();
  CHECK_FAILS(bps_h5_check_writable(missing, 1), BPS_ERR_OUTPUT);
  CHECK_FAILS(bps_h5_check_writable(missing, 0), BPS_ERR_OUTPUT);
  CHECK_FAILS(bps_h5_check_writable(dir, 1), BPS_ERR_OUTPUT);
  CHECK_FAILS(bps_h5_check_writable(dir, 0), BPS_ERR_OUTPUT);
  CHECK_FAILS(bps_h5_write(dir, &res, 1), BPS_ERR_OUTPUT);
  CHECK_FAILS(bps_h5_check_writable("", 0), BPS_ERR_OUTPUT);
  if (geteuid() != 0) { /* root ignores permissions */
    char ro[512], rof[600];
    path_in(ro, sizeof ro, "readonly");
    mkdir(ro, 0500);
    snprintf(rof, sizeof rof, "%s/x.h5", ro);
    rc = bps_h5_check_writable(rof, 0);
    CHECK(rc == BPS_ERR_OUTPUT && strstr(bps_error_message(), "not writable"));
    bps_error_clear();
    rmdir(ro);
  }
  /* an inconsistent result is refused before any file is made */
  res.per_n[1].n = 3; /* not increasing */
  CHECK_FAILS(bps_h5_write(out2, &res, 0), BPS_ERR_ARG);
  res.per_n[1].n = 6;
  CHECK(count_entries(NULL) == 1);

  /* a failure while writing (the file size limit is hit) removes the temporary file */
  {
    struct rlimit old, lim;
    getrlimit(RLIMIT_FSIZE, &old);
    lim = old;
    lim.rlim_cur = 4096;
    signal(SIGXFSZ, SIG_IGN);
    setrlimit(RLIMIT_FSIZE, &lim);
    rc = bps_h5_write(out2, &res, 0);
    setrlimit(RLIMIT_FSIZE, &old);
    CHECK(rc == BPS_ERR_IO);
    if (rc != BPS_ERR_IO) bps_error_print(stderr);
    bps_error_clear();
    CHECK(count_entries(NULL) == 1 && count_entries(".tmp.") == 0);
    /* and the next write works */
    CHECK_OK(bps_h5_write(out2, &res, 0));
    CHECK(same_bytes(out, out2) == 0); /* out now holds `other` */
    check_file(out2, &res);
    unlink(out2);
  }

  /* wall_write < 0: h5io measures its own time */
  res.wall_write = -1;
  CHECK_OK(bps_h5_write(out2, &res, 0));
  {
    hid_t f = H5Fopen(out2, H5F_ACC_RDONLY, H5P_DEFAULT);
    double ww = attr_f64(f, "wall_write");
    CHECK(ww >= 0 && ww < 60);
    H5Fclose(f);
  }
  unlink(out2);
  res.wall_write = 0.125;

  /* info: a complete scan */
  CHECK_OK(bps_h5_write(out, &res, 1));
  char *t = info_text(out, &rc);
  CHECK(rc == BPS_OK);
  if (rc) bps_error_print(stderr);
  check_has(t, "bpscan result (schema 1)");
  check_has(t, "  model         dqnn\n");
  check_has(t, "  widths        n,n\n");
  check_has(t, "  perceptron    haar\n  depth         0\n  cost          global\n"
               "  noise         depolarizing, p = 0.01\n  representation auto\n");
  check_has(t, "  qubits        4,6\n"); /* canonical spelling of the stored 4:6:2 */
  check_has(t, "  samples       100\n");
  check_has(t, "  seed          18446744073709551557\n");
  check_has(t, "  grad method   adjoint\n");
  check_has(t, "  job hash      fedcba9876543210\n");
  check_has(t, "  bpscan        " BPS_VERSION_STRING " (git " BPS_GIT_COMMIT ")\n");
  check_has(t, "  host          node?01, 4 MPI ranks x 2 OpenMP threads\n");
  check_has(t, "  started       2023-11-14T22:13:20Z\n");
  check_has(t, "  finished      2023-11-14T22:15:23Z (123.5 s)\n");
  check_has(t, "  wall time     plan 0.5 s, compute 120 s, reduce 1.25 s, write 0.125 s\n");
  check_has(t, "Var dC mean");
  for (int i = 0; i < 2; i++) {
    const bps_result_n *r = &res.per_n[i];
    char row[256];
    snprintf(row, sizeof row, "  %4d %8d %7d %7d  %.4e  %.2e   %.4e  %.4e  %.2e   %.4f    %.4f\n",
             r->n, 100, r->nparams, 3, r->grad_var_mean, r->grad_var_mean_se, r->cost_stats.mean,
             r->cost_stats.var, r->cost_stats.var_se, r->diag_stats[0].mean,
             r->diag_stats[1].mean);
    check_has(t, row);
  }
  check_has(t, "completeness: complete (2 qubit counts x 100 samples)\n");
  CHECK(!strstr(t, "landscape")); /* a gradient scan */
  free(t);

  /* info: an incomplete scan (n = 8 never written, n = 6 cut short) */
  res.job_text = "[scan]\nmodel = dqnn\nqubits = 4 : 8 : 2  # a comment\nsamples = 100\n"
                 "[dqnn]\nwidths = n,n\n";
  res.per_n[1].samples = 50;
  CHECK_OK(bps_h5_write(out2, &res, 0));
  t = info_text(out2, &rc);
  CHECK(rc == BPS_OK);
  check_has(t, "completeness: INCOMPLETE: n = 8 missing; n = 6 has 50 of 100 samples\n");
  free(t);
  unlink(out2);
  /* the writer refuses a job text that is not a job (it stores job.c's JSON of it) */
  res.job_text = "model = dqnn\n";
  rc = bps_h5_write(out2, &res, 0);
  CHECK(rc == BPS_ERR_ARG && strstr(bps_error_message(), "outside any section"));
  bps_error_clear();
  CHECK(access(out2, F_OK) != 0);
  /* info: a stored job text this bpscan does not read (another version's keys) */
  res.job_text = SYNTH_JOB;
  CHECK_OK(bps_h5_write(out2, &res, 0));
  set_job_attr(out2, "[scan]\nmodel = dqnn\nqubits = 4,6\nsamples = 100\nfuture_key = 1\n");
  t = info_text(out2, &rc);
  CHECK(rc == BPS_OK);
  check_has(t, "  job text      not a job this bpscan reads (");
  check_has(t, "future_key: unknown key");
  check_has(t, "  qubits        ?\n");
  check_has(t, "completeness: unknown (no job this bpscan reads: see 'job text' above)");
  free(t);
  unlink(out2);
  res.job_text = SYNTH_JOB;
  res.per_n[1].samples = 100;

  /* no qubit counts at all: a valid (empty) file */
  {
    bps_result empty = res;
    empty.nn = 0;
    empty.per_n = NULL;
    CHECK_OK(bps_h5_write(out2, &empty, 0));
    t = info_text(out2, &rc);
    CHECK(rc == BPS_OK);
    check_has(t, "  (no qubit counts in the file)\n");
    check_has(t, "completeness: INCOMPLETE: n = 4 missing; n = 6 missing\n");
    free(t);
    unlink(out2);
  }
  /* a stale temporary file of this process blocks the write, and is not removed */
  {
    char stale[600];
    snprintf(stale, sizeof stale, "%s.tmp.%ld", out2, (long)getpid());
    FILE *fs = fopen(stale, "w");
    fclose(fs);
    rc = bps_h5_write(out2, &res, 0);
    CHECK(rc == BPS_ERR_IO && strstr(bps_error_message(), "temporary file"));
    bps_error_clear();
    CHECK_FAILS(bps_h5_check_writable(out2, 0), BPS_ERR_OUTPUT);
    CHECK(access(stale, F_OK) == 0 && access(out2, F_OK) != 0);
    unlink(stale);
  }

  /* an array-job piece: slice 1 of 3 with every third sample */
  {
    bps_result pc;
    synth_result(&pc, 40);
    pc.slice_index = 1;
    pc.slice_count = 3;
    for (int i = 0; i < pc.nn; i++) {
      bps_result_n *r = &pc.per_n[i];
      r->samples_total = 120;
      r->sample_index = malloc(sizeof(long) * (size_t)r->samples);
      for (long k = 0; k < r->samples; k++) r->sample_index[k] = 3 * k + 1;
    }
    CHECK_OK(bps_h5_write(out2, &pc, 0));
    check_file(out2, &pc);
    t = info_text(out2, &rc);
    CHECK(rc == BPS_OK);
    check_has(t, "  array job     piece 1 of 3 (bpscan run --slice 1/3)");
    check_has(t, "completeness: piece 1 of 3 of the scan (80 of 200 samples); merge all 3");
    free(t);
    /* read it back: the same result, written again, gives the same bytes */
    bps_result back;
    bps_h5_meta meta;
    CHECK_OK(bps_h5_read(out2, &back, &meta));
    CHECK(meta.schema_version == 1 && !strcmp(meta.git_commit, BPS_GIT_COMMIT) &&
          !strcmp(meta.bpscan_version, BPS_VERSION_STRING));
    CHECK(back.slice_index == 1 && back.slice_count == 3 && back.nn == 2);
    for (int i = 0; i < back.nn && i < pc.nn; i++) {
      const bps_result_n *a = &back.per_n[i], *b = &pc.per_n[i];
      CHECK(a->n == b->n && a->samples == 40 && a->samples_total == 120);
      CHECK(a->sample_index && !memcmp(a->sample_index, b->sample_index, 40 * sizeof(long)));
      CHECK(!memcmp(a->grad, b->grad, 40 * 3 * sizeof(double)));
      CHECK(!b->params == !a->params);
      CHECK(!strcmp(a->param_names[1], b->param_names[1]));
    }
    char again[600];
    snprintf(again, sizeof again, "%s/piece-again.h5", dir);
    CHECK_OK(bps_h5_write(again, &back, 0));
    CHECK(same_bytes(out2, again));
    unlink(again);
    bps_h5_result_free(&back);
    CHECK(back.per_n == NULL && back.nn == 0);
    bps_h5_result_free(&back); /* idempotent */
    /* inconsistent pieces are refused by the writer */
    pc.per_n[0].sample_index[5] = pc.per_n[0].sample_index[4];
    CHECK_FAILS(bps_h5_write(again, &pc, 0), BPS_ERR_ARG);
    pc.per_n[0].sample_index[5] = 3 * 5 + 1;
    pc.per_n[1].sample_index[39] = 120;
    CHECK_FAILS(bps_h5_write(again, &pc, 0), BPS_ERR_ARG);
    free(pc.per_n[1].sample_index);
    pc.per_n[1].sample_index = NULL;
    CHECK_FAILS(bps_h5_write(again, &pc, 0), BPS_ERR_ARG);
    pc.slice_index = 3;
    CHECK_FAILS(bps_h5_write(again, &pc, 0), BPS_ERR_ARG);
    CHECK(access(again, F_OK) != 0);
    free(pc.per_n[0].sample_index);
    synth_free(&pc);
    unlink(out2);
  }
  /* bps_h5_read of a complete scan: slice 0 of 1, no sample_index; same bytes again */
  {
    CHECK_OK(bps_h5_write(out2, &res, 0));
    bps_result back;
    CHECK_OK(bps_h5_read(out2, &back, NULL));
    CHECK(back.slice_index == 0 && back.slice_count == 1 && back.nn == 2);
    CHECK(!strcmp(back.job_text, SYNTH_JOB) && !strcmp(back.host, "node?01"));
    CHECK(back.seed == res.seed && back.job_hash == res.job_hash && back.mpi_ranks == 4);
    CHECK(back.per_n[0].sample_index == NULL && back.per_n[0].samples_total == 100);
    CHECK(back.per_n[0].params && !back.per_n[1].params);
    CHECK(isnan(back.per_n[1].page_entropy));
    CHECK(back.per_n[1].cost_stats.var_se == res.per_n[1].cost_stats.var_se);
    char again[600];
    snprintf(again, sizeof again, "%s/again2.h5", dir);
    CHECK_OK(bps_h5_write(again, &back, 0));
    CHECK(same_bytes(out2, again));
    unlink(again);
    bps_h5_result_free(&back);
    /* a damaged file: the message names the missing object; nothing to free after */
    hid_t f = H5Fopen(out2, H5F_ACC_RDWR, H5P_DEFAULT);
    CHECK(H5Ldelete(f, "/n6/grad", H5P_DEFAULT) >= 0);
    H5Fclose(f);
    rc = bps_h5_read(out2, &back, NULL);
    CHECK(rc == BPS_ERR_IO && strstr(bps_error_message(), "/n6/grad missing"));
    if (!strstr(bps_error_message(), "/n6/grad missing"))
      fprintf(stderr, "  message: %s\n", bps_error_message());
    bps_error_clear();
    CHECK(back.per_n == NULL && back.job_text == NULL);
    unlink(out2);
  }

  test_landscape();
  test_merge_landscape();

  /* info: files that are not results */
  char txt[512], bare[512], newer[512];
  path_in(missing, sizeof missing, "missing.h5");
  check_info_fails(missing, "No such file or directory");
  path_in(txt, sizeof txt, "notes.txt");
  FILE *ft = fopen(txt, "w");
  fputs("this is not HDF5\n", ft);
  fclose(ft);
  check_info_fails(txt, "not an HDF5 file");
  path_in(bare, sizeof bare, "bare.h5");
  hid_t fb = H5Fcreate(bare, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
  H5Fclose(fb);
  check_info_fails(bare, "not a bpscan result file");
  check_info_fails(dir, "is a directory");
  path_in(newer, sizeof newer, "newer.h5");
  CHECK_OK(bps_h5_write(newer, &res, 0));
  {
    hid_t f = H5Fopen(newer, H5F_ACC_RDWR, H5P_DEFAULT);
    hid_t a = H5Aopen(f, "schema_version", H5P_DEFAULT);
    int two = 2;
    H5Awrite(a, H5T_NATIVE_INT, &two);
    H5Aclose(a);
    H5Fclose(f);
  }
  check_info_fails(newer, "newer than this bpscan");
  {
    bps_result back;
    const char *bad[4] = {missing, txt, bare, newer};
    const char *why[4] = {"No such file", "not an HDF5 file", "not a bpscan result file",
                          "newer than this bpscan"};
    for (int k = 0; k < 4; k++) {
      rc = bps_h5_read(bad[k], &back, NULL);
      CHECK(rc == BPS_ERR_IO && strstr(bps_error_message(), why[k]));
      bps_error_clear();
    }
  }
  CHECK(count_entries(".tmp.") == 0);

  unlink(txt);
  unlink(bare);
  unlink(newer);
  unlink(out);
  CHECK(count_entries(NULL) == 0);
  rmdir(dir);
  synth_free(&res);
  return bps_test_result("t700-h5io");
}
