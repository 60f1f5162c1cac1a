/* t020: job files. Every job in jobs/ and jobs/test/ parses and round-trips through its
 * canonical text; defaults are filled; qubit lists, overrides, comments, line endings and
 * every error class behave; every jobs/test/bad/ file fails with BPS_ERR_JOB, its
 * "# expect:" text and the line marked "<--" (or the file name alone when nothing is marked).
 * The job hash has its known value and ignores exactly the output-role keys; roles, job
 * comparison, value access and the job JSON (with its registers per n) behave.
 * The jobs directory is found from this file's path (tests run without arguments). */
#include <dirent.h>
#include <stdint.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bps_test.h"
#include "bpscan/hash.h"
#include "bpscan/job.h"

static char jobs_dir[1024];

static void find_jobs_dir(void) {
  snprintf(jobs_dir, sizeof jobs_dir, "%s", __FILE__);
  char *slash = strrchr(jobs_dir, '/'); /* .../tests/t020-job-parse.c */
  if (slash) *slash = 0;
  slash = strrchr(jobs_dir, '/'); /* .../tests */
  if (slash) *slash = 0;
  else snprintf(jobs_dir, sizeof jobs_dir, "..");
  strncat(jobs_dir, "/jobs", sizeof jobs_dir - strlen(jobs_dir) - 1);
}

static char *read_file(const char *path) {
  FILE *f = fopen(path, "rb");
  if (!f) return NULL;
  fseek(f, 0, SEEK_END);
  long n = ftell(f);
  fseek(f, 0, SEEK_SET);
  char *buf = malloc((size_t)n + 1);
  size_t got = buf ? fread(buf, 1, (size_t)n, f) : 0;
  fclose(f);
  if (buf) buf[got] = 0;
  return buf;
}

static int contains(const char *hay, const char *needle) { return strstr(hay, needle) != NULL; }

/* A parse that must fail with BPS_ERR_JOB and a message containing want. */
#define CHECK_JOB_FAILS(TEXT, SETS, NSETS, WANT)                                                \
  do {                                                                                          \
    bps_job j_;                                                                                 \
    int rc_ = bps_job_parse((TEXT), "t.ini", (SETS), (NSETS), &j_);                             \
    const char *m_ = bps_error_message();                                                       \
    bps_test_checks++;                                                                          \
    if (rc_ != BPS_ERR_JOB || !contains(m_, (WANT)) || j_.text) {                               \
      bps_test_failures++;                                                                      \
      fprintf(stderr, "%s:%d: expected BPS_ERR_JOB with \"%s\", got %d: %s\n", __FILE__,        \
              __LINE__, (WANT), rc_, m_);                                                       \
    }                                                                                           \
    bps_job_free(&j_);                                                                          \
    bps_error_clear();                                                                          \
  } while (0)

/* Canonical text round trip: parse(text) gives the same text, hash and fields. */
static void check_round_trip(const bps_job *job) {
  bps_job again;
  CHECK_OK(bps_job_parse(job->text, "canonical", NULL, 0, &again));
  CHECK(strcmp(again.text, job->text) == 0);
  CHECK(bps_job_hash(&again) == bps_job_hash(job));
  CHECK(again.nq == job->nq &&
        memcmp(again.qubits, job->qubits, sizeof(int) * (size_t)job->nq) == 0);
  CHECK(again.samples == job->samples && again.seed == job->seed && again.block == job->block);
  CHECK(again.model.kind == job->model.kind && again.model.noise_p == job->model.noise_p);
  CHECK(strcmp(again.model.widths, job->model.widths) == 0);
  CHECK(strcmp(again.params, job->params) == 0 && strcmp(again.out_path, job->out_path) == 0);
  CHECK(again.checkpoint_seconds == job->checkpoint_seconds);
  bps_job_free(&again);
}

static int line_has(const char *p, size_t len, const char *needle) {
  size_t m = strlen(needle);
  for (size_t i = 0; i + m <= len; i++)
    if (!memcmp(p + i, needle, m)) return 1;
  return 0;
}

static int has_suffix(const char *s, const char *suf) {
  size_t a = strlen(s), b = strlen(suf);
  return a >= b && !strcmp(s + a - b, suf);
}

/* Every *.ini directly in dir must parse; returns how many. */
static int check_valid_dir(const char *dir) {
  DIR *d = opendir(dir);
  CHECK(d != NULL);
  if (!d) return 0;
  int count = 0;
  struct dirent *e;
  while ((e = readdir(d))) {
    if (!has_suffix(e->d_name, ".ini")) continue;
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
    bps_job job;
    int rc = bps_job_load(path, NULL, 0, &job);
    if (rc) {
      fprintf(stderr, "valid job %s failed:\n", path);
      bps_error_print(stderr);
      bps_error_clear();
    }
    CHECK(rc == BPS_OK);
    if (!rc) {
      CHECK(job.text && job.nq >= 1);
      check_round_trip(&job);
    }
    bps_job_free(&job);
    count++;
  }
  closedir(d);
  return count;
}

/* Every jobs/test/bad file: BPS_ERR_JOB, the "# expect:" text, the "<--" line. */
static int check_bad_dir(const char *dir) {
  DIR *d = opendir(dir);
  CHECK(d != NULL);
  if (!d) return 0;
  int count = 0;
  struct dirent *e;
  while ((e = readdir(d))) {
    if (!has_suffix(e->d_name, ".ini")) continue;
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
    char *text = read_file(path);
    CHECK(text != NULL);
    if (!text) continue;
    char expect[400] = "", where[600];
    int line = 0, mark = 0;
    for (char *p = text; *p;) {
      char *nl = strchr(p, '\n');
      size_t len = nl ? (size_t)(nl - p) : strlen(p);
      line++;
      if (!strncmp(p, "# expect: ", 10))
        snprintf(expect, sizeof expect, "%.*s", (int)(len - 10), p + 10);
      else if (!mark && line_has(p, len, "<--")) mark = line;
      p += len + (nl ? 1 : 0);
    }
    free(text);
    CHECK(expect[0] != 0);
    if (mark) snprintf(where, sizeof where, "%s:%d: ", e->d_name, mark);
    else snprintf(where, sizeof where, "%s: ", e->d_name);
    bps_job job;
    int rc = bps_job_load(path, NULL, 0, &job);
    const char *msg = bps_error_message();
    bps_test_checks++;
    if (rc != BPS_ERR_JOB || !contains(msg, expect) || !contains(msg, where) || job.text) {
      bps_test_failures++;
      fprintf(stderr,
              "bad job %s: rc %d, message:\n  %s\nexpected BPS_ERR_JOB with:\n  %s\n  %s\n",
              e->d_name, rc, msg, where, expect);
    }
    bps_job_free(&job);
    bps_error_clear();
    count++;
  }
  closedir(d);
  return count;
}

static void test_defaults(void) {
  bps_job job;
  CHECK_OK(bps_job_parse("[scan]\nqubits = 2\n", "min.ini", NULL, 0, &job));
  bps_model_spec def;
  bps_model_spec_default(&def);
  const bps_model_spec *m = &job.model;
  CHECK(m->kind == BPS_MODEL_DQNN && job.nq == 1 && job.qubits[0] == 2);
  CHECK(job.samples == 1000 && job.seed == 1 && job.block == 32);
  CHECK(job.repr == BPS_JOB_REPR_AUTO && job.mode == BPS_JOB_MODE_GRADIENT);
  CHECK(!strcmp(m->widths, "n,n") && m->perceptron == BPS_PERC_HAAR && m->depth == 0);
  CHECK(m->cost == BPS_COST_GLOBAL && m->inputs == BPS_INPUT_ZERO && m->targets == BPS_TARGET_ZERO);
  CHECK(m->pairs == 1 && m->noise == BPS_NOISE_NONE && m->noise_p == 0.0);
  CHECK(m->noise_placement == BPS_NOISE_AFTER_GATE);
  CHECK(job.grad_method == BPS_GRAD_ADJOINT && job.params_kind == BPS_PARAMS_ALL);
  CHECK(!strcmp(job.params, "all") && job.nparam_names == 0);
  CHECK(!strcmp(job.out_path, "results.h5") && job.store_samples == 1);
  CHECK(job.checkpoint_seconds == 300.0);
  /* fields of other models keep the model defaults */
  CHECK(!strcmp(m->visible, def.visible) && !strcmp(m->hidden, def.hidden));
  CHECK(m->vh_layers == def.vh_layers && m->onsite_sigma == def.onsite_sigma);
  CHECK(m->hea == def.hea && m->hea_layers == def.hea_layers);
  /* the canonical text, exactly */
  const char *want = "[scan]\nmodel = dqnn\nqubits = 2\nsamples = 1000\nseed = 1\nblock = 32\n"
                     "representation = auto\nmode = gradient\n\n"
                     "[dqnn]\nwidths = n,n\nperceptron = haar\ndepth = 0\n\n"
                     "[cost]\ntype = global\ninputs = zero\ntargets = zero\npairs = 1\n\n"
                     "[gradient]\nmethod = adjoint\nparams = all\n\n"
                     "[noise]\nchannel = none\np = 0\nplacement = gate\n\n"
                     "[output]\npath = results.h5\nstore_samples = true\ncheckpoint_seconds = 300\n";
  CHECK(!strcmp(job.text, want));
  if (strcmp(job.text, want)) fprintf(stderr, "canonical text:\n%s", job.text);
  char buf[256];
  CHECK(!strcmp(bps_job_where(&job, "scan", "qubits", buf, sizeof buf), "min.ini:2"));
  CHECK(!strcmp(bps_job_where(&job, "scan", "seed", buf, sizeof buf), "min.ini (default)"));
  CHECK(!strcmp(bps_job_where(&job, "scan", "nope", buf, sizeof buf), ""));
  bps_job_free(&job);
  bps_job_free(&job); /* idempotent */

  /* per-model defaults: onsite_sigma is 1 for vh, 0.1 for qbm; sections per model */
  CHECK_OK(bps_job_parse("[scan]\nmodel = vh\nqubits = 2\n", NULL, NULL, 0, &job));
  CHECK(job.model.kind == BPS_MODEL_VH && job.model.onsite_sigma == 1.0);
  CHECK(job.model.vh_layers == 1 && !strcmp(job.model.vh_pauli, "Z"));
  CHECK(contains(job.text, "[vh]\nvisible = 1\nhidden = n\nlayers = 1\n"));
  CHECK(!contains(job.text, "[cost]") && contains(job.text, "[noise]") &&
        !contains(job.text, "[dqnn]"));
  bps_job_free(&job);
  CHECK_OK(bps_job_parse("[scan]\nmodel = qbm\nqubits = 2\n", NULL, NULL, 0, &job));
  CHECK(job.model.kind == BPS_MODEL_QBM && job.model.onsite_sigma == 0.1);
  CHECK(!contains(job.text, "[noise]") && !contains(job.text, "[cost]") &&
        !contains(job.text, "layers"));
  bps_job_free(&job);
  CHECK_OK(bps_job_parse("[scan]\nmodel = hea\nqubits = 2\n", NULL, NULL, 0, &job));
  CHECK(contains(job.text, "[hea]\nansatz = mcclean\nlayers = 0\n") &&
        contains(job.text, "[cost]"));
  bps_job_free(&job);

  /* the opt-in fused gradient: its own enum value, canonical text and hash */
  bps_job adj;
  CHECK_OK(bps_job_parse("[scan]\nqubits = 2\n", NULL, NULL, 0, &adj));
  CHECK_OK(bps_job_parse("[scan]\nqubits = 2\n[gradient]\nmethod = fused\n", NULL, NULL, 0, &job));
  CHECK(job.grad_method == BPS_GRAD_FUSED && contains(job.text, "[gradient]\nmethod = fused\n"));
  CHECK(bps_job_hash(&job) != bps_job_hash(&adj));
  bps_job_free(&job);
  bps_job_free(&adj);
}

static void check_qubits(const char *spec, const int *want, int nwant, const char *canon) {
  char text[256];
  snprintf(text, sizeof text, "[scan]\nmodel = hea\nqubits = %s\n", spec);
  bps_job job;
  int rc = bps_job_parse(text, "q.ini", NULL, 0, &job);
  CHECK(rc == BPS_OK);
  if (rc) {
    fprintf(stderr, "qubits = %s: %s\n", spec, bps_error_message());
    bps_error_clear();
    return;
  }
  CHECK(job.nq == nwant && memcmp(job.qubits, want, sizeof(int) * (size_t)nwant) == 0);
  char line[128];
  snprintf(line, sizeof line, "\nqubits = %s\n", canon);
  CHECK(contains(job.text, line));
  if (!contains(job.text, line))
    fprintf(stderr, "qubits = %s: canonical text\n%s", spec, job.text);
  check_round_trip(&job);
  bps_job_free(&job);
}

static void test_qubits(void) {
  static const int r28[] = {2, 3, 4, 5, 6, 7, 8}, s2[] = {2, 4, 6, 8, 10}, l235[] = {2, 3, 5},
                   mix[] = {2, 4, 5, 6}, one[] = {7}, s3[] = {1, 4, 7}, two[] = {3, 9},
                   all[] = {1,  2,  3,  4,  5,  6,  7,  8,  9,  10, 11, 12, 13, 14, 15,
                            16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30};
  check_qubits("2:8", r28, 7, "2:8");
  check_qubits("2:10:2", s2, 5, "2:10:2");
  check_qubits("2:11:2", s2, 5, "2:10:2"); /* the end need not be reached */
  check_qubits("2,3,5", l235, 3, "2,3,5");
  check_qubits("2, 4:6", mix, 4, "2,4:6");
  check_qubits(" 2 : 8 ", r28, 7, "2:8");
  check_qubits("2,3,4,5,6,7,8", r28, 7, "2:8");
  check_qubits("2:5,6:8", r28, 7, "2:8");
  check_qubits("7", one, 1, "7");
  check_qubits("7:7", one, 1, "7");
  check_qubits("1:7:3", s3, 3, "1:7:3");
  check_qubits("3,9", two, 2, "3,9");
  check_qubits("1:30", all, 30, "1:30");
  CHECK_JOB_FAILS("[scan]\nqubits = 5,4\n", NULL, 0, "strictly increasing (4 after 5)");
  CHECK_JOB_FAILS("[scan]\nqubits = 2:5,5:6\n", NULL, 0, "strictly increasing (5 after 5)");
  CHECK_JOB_FAILS("[scan]\nqubits = 8:2\n", NULL, 0, "range 8:2 is empty");
  CHECK_JOB_FAILS("[scan]\nqubits = 0:3\n", NULL, 0,
                  "qubit count 0 is out of range (allowed: 1..30)");
  CHECK_JOB_FAILS("[scan]\nqubits = 29:31\n", NULL, 0, "qubit count 31 is out of range");
  CHECK_JOB_FAILS("[scan]\nqubits = 99999999999999999999\n", NULL, 0, "is out of range");
  CHECK_JOB_FAILS("[scan]\nqubits = 2:8:0\n", NULL, 0, "step '0' must be a positive integer");
  CHECK_JOB_FAILS("[scan]\nqubits = 2:8:-1\n", NULL, 0, "step '-1' must be a positive integer");
  CHECK_JOB_FAILS("[scan]\nqubits = 2:4:1:1\n", NULL, 0, "has more than two ':'");
  CHECK_JOB_FAILS("[scan]\nqubits = 2,,3\n", NULL, 0, "empty entry");
  CHECK_JOB_FAILS("[scan]\nqubits = 2,\n", NULL, 0, "empty entry");
  CHECK_JOB_FAILS("[scan]\nqubits = :3\n", NULL, 0, "empty entry");
  CHECK_JOB_FAILS("[scan]\nqubits = two\n", NULL, 0, "'two' is not a qubit count");
  CHECK_JOB_FAILS("[scan]\nqubits = 2.5\n", NULL, 0, "'2.5' is not a qubit count");
  CHECK_JOB_FAILS("[scan]\nqubits = -3\n", NULL, 0, "'-3' is not a qubit count");
}

static void test_overrides(void) {
  char path[4096];
  snprintf(path, sizeof path, "%s/test/tiny.ini", jobs_dir);
  bps_job base, job;
  CHECK_OK(bps_job_load(path, NULL, 0, &base));
  CHECK(base.samples == 64 && base.nq == 3 && base.block == 8);
  const char *sets[] = {"scan.samples=200",
                        " cost.type = local ",
                        "noise.channel=dephasing",
                        "noise.p=0.05",
                        "gradient.params=l1.p1.g1, l1.p2.g1",
                        "output.store_samples=no",
                        "scan.samples=300"};
  CHECK_OK(bps_job_load(path, sets, 7, &job));
  CHECK(job.samples == 300); /* the later override wins */
  CHECK(job.model.cost == BPS_COST_LOCAL && job.model.noise == BPS_NOISE_DEPHASING);
  CHECK(job.model.noise_p == 0.05 && job.store_samples == 0);
  CHECK(job.params_kind == BPS_PARAMS_LIST && job.nparam_names == 2);
  CHECK(!strcmp(job.params, "l1.p1.g1,l1.p2.g1"));
  CHECK(contains(job.text, "samples = 300\n") &&
        contains(job.text, "params = l1.p1.g1,l1.p2.g1\n"));
  CHECK(bps_job_hash(&job) != bps_job_hash(&base));
  char buf[256];
  CHECK(!strcmp(bps_job_where(&job, "scan", "samples", buf, sizeof buf), "--set scan.samples"));
  CHECK(contains(bps_job_where(&job, "scan", "block", buf, sizeof buf), "tiny.ini:6"));
  check_round_trip(&job);
  bps_job_free(&job);
  /* an override equal to the file value changes nothing */
  const char *same[] = {"scan.samples=64"};
  CHECK_OK(bps_job_load(path, same, 1, &job));
  CHECK(!strcmp(job.text, base.text) && bps_job_hash(&job) == bps_job_hash(&base));
  bps_job_free(&job);
  bps_job_free(&base);

  /* overrides are validated like file keys, and the message names the override */
  const char *t = "[scan]\nqubits = 1:3\n";
  const char *bad1[] = {"scan.samples=abc"};
  CHECK_JOB_FAILS(t, bad1, 1, "--set scan.samples=abc: [scan] samples = abc: not an integer");
  const char *bad2[] = {"scan.samlpes=10"};
  CHECK_JOB_FAILS(t, bad2, 1,
                  "--set scan.samlpes=10: [scan] samlpes: unknown key (did you mean 'samples'?)");
  const char *bad3[] = {"scna.samples=10"};
  CHECK_JOB_FAILS(t, bad3, 1,
                  "--set scna.samples=10: unknown section [scna] (did you mean [scan]?)");
  const char *bad4[] = {"samples=10"};
  CHECK_JOB_FAILS(t, bad4, 1, "--set samples=10: expected section.key=value");
  const char *bad5[] = {"scan.samples"};
  CHECK_JOB_FAILS(t, bad5, 1, "expected section.key=value");
  const char *bad6[] = {"vh.layers=3"};
  CHECK_JOB_FAILS(t, bad6, 1, "--set vh.layers=3: section [vh] does not apply to model = dqnn");
  const char *bad7[] = {"scan.model=vh"}; /* the file's [dqnn] no longer applies */
  CHECK_JOB_FAILS(
      "[scan]\nqubits = 1:3\n[dqnn]\nwidths = n,n\n", bad7, 1,
      "t.ini:3: section [dqnn] does not apply to model = vh (model from --set scan.model=vh)");
  const char *bad8[] = {"output.path=a #b"};
  CHECK_JOB_FAILS(t, bad8, 1, "would start a comment");
  const char *bad9[] = {"output.path="};
  CHECK_JOB_FAILS(t, bad9, 1, "[output] path = : empty value");
  const char *bad10[] = {"landscape.pad=8"}; /* [landscape] needs mode = landscape */
  CHECK_JOB_FAILS(
      t, bad10, 1,
      "--set landscape.pad=8: section [landscape] applies only to mode = landscape (mode = gradient from t.ini, the default)");
  const char *bad11[] = {"cost.targets=unitary", "cost.type=local"};
  CHECK_JOB_FAILS(
      t, bad11, 2,
      "--set cost.targets=unitary: [cost] targets = unitary: the local cost needs product targets");
  /* values must fit one job-file line of the canonical text ("key = value") */
  char longset[300], longfile[300];
  snprintf(longset, sizeof longset, "output.path=/%0250d", 0);
  const char *bad12[] = {longset};
  CHECK_JOB_FAILS(t, bad12, 1,
                  "[output] path: value too long (a job line has at most 196 characters)");
  snprintf(longfile, sizeof longfile, "[scan]\nqubits=2\n[output]\npath=/%0190d\n", 0);
  CHECK_JOB_FAILS(longfile, NULL, 0, "t.ini:4: [output] path: value too long");
  snprintf(longfile, sizeof longfile, "[scan]\nqubits=2\n[output]\npath=/%0187d\n", 0);
  CHECK_OK(bps_job_parse(longfile, NULL, NULL, 0, &job)); /* "path = /0...0" is 196 characters */
  check_round_trip(&job);
  bps_job_free(&job);
  /* a required key can come from an override alone */
  const char *q[] = {"scan.qubits=4:6"};
  CHECK_OK(bps_job_parse("", "empty.ini", q, 1, &job));
  CHECK(job.nq == 3 && job.qubits[0] == 4 && job.qubits[2] == 6);
  bps_job_free(&job);
  /* a model switch with only overrides */
  const char *vh[] = {"scan.qubits=2", "scan.model=vh", "vh.hidden=n+1"};
  CHECK_OK(bps_job_parse("", NULL, vh, 3, &job));
  CHECK(job.model.kind == BPS_MODEL_VH && !strcmp(job.model.hidden, "n+1"));
  bps_job_free(&job);
}

static void test_values(void) {
  bps_job job;
  /* spellings: case-insensitive enums and booleans, canonical reals, seeds, patterns */
  CHECK_OK(
      bps_job_parse("[scan]\nqubits=2:3\nmodel=DQNN\nseed=18446744073709551615\n"
                    "representation = Factored\n[dqnn]\nwidths = 2, n + 1 ,2*n, 2n, n-1\n"
                    "perceptron = Pauli\ndepth = 4\n[noise]\nchannel=amplitude_damping\n"
                    "p=1e-3\nplacement=layer\n[output]\nstore_samples=YES\n"
                    "checkpoint_seconds=0.5\npath = /tmp/a b;c#d.h5\n[gradient]\nparams = LAST\n",
                    "v.ini", NULL, 0, &job));
  CHECK(job.seed == UINT64_MAX && job.repr == BPS_JOB_REPR_FACTORED);
  CHECK(!strcmp(job.model.widths, "2,n+1,2*n,2n,n-1") && job.model.perceptron == BPS_PERC_PAULI);
  CHECK(job.model.depth == 4 && job.model.noise == BPS_NOISE_AMPLITUDE_DAMPING);
  CHECK(job.model.noise_p == 1e-3 && job.model.noise_placement == BPS_NOISE_AFTER_LAYER);
  CHECK(job.store_samples == 1 && job.checkpoint_seconds == 0.5);
  CHECK(!strcmp(job.out_path, "/tmp/a b;c#d.h5") && job.params_kind == BPS_PARAMS_LAST);
  CHECK(contains(job.text, "model = dqnn\n") && contains(job.text, "p = 0.001\n"));
  CHECK(contains(job.text, "representation = factored\n") && contains(job.text, "params = last\n"));
  CHECK(contains(job.text, "perceptron = pauli\n") && contains(job.text, "store_samples = true\n"));
  check_round_trip(&job);
  bps_job_free(&job);
  /* reals: shortest spelling that reads back the same */
  CHECK_OK(bps_job_parse("[scan]\nqubits=2\n[noise]\nchannel=dephasing\np=0.1\n", NULL, NULL, 0,
                         &job));
  CHECK(contains(job.text, "p = 0.1\n") && job.model.noise_p == 0.1);
  bps_job_free(&job);
  CHECK_OK(bps_job_parse("[scan]\nqubits=2\n[noise]\nchannel=dephasing\np=0.30000000000000004\n",
                         NULL, NULL, 0, &job));
  CHECK(contains(job.text, "p = 0.30000000000000004\n"));
  check_round_trip(&job);
  bps_job_free(&job);

  /* comments, indentation, CRLF, BOM, blank lines, repeated sections, tabs */
  CHECK_OK(bps_job_parse("\xEF\xBB\xBF# bom first\r\n\r\n  [scan]  ; section\r\n\tqubits = 2:4\t# c\r\n"
                         "   samples = 10 ; c\r\n[output]\r\npath = x.h5\r\n[scan]\r\nseed = 5",
                         "crlf.ini", NULL, 0, &job));
  CHECK(job.nq == 3 && job.samples == 10 && job.seed == 5 && !strcmp(job.out_path, "x.h5"));
  char buf[256];
  CHECK(!strcmp(bps_job_where(&job, "scan", "samples", buf, sizeof buf), "crlf.ini:5"));
  CHECK(!strcmp(bps_job_where(&job, "scan", "seed", buf, sizeof buf), "crlf.ini:9"));
  bps_job_free(&job);
  CHECK_OK(
      bps_job_parse("[scan]\nqubits = 2\n# a comment longer than any line limit: "
                    "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
                    "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
                    "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\n",
                    NULL, NULL, 0, &job));
  bps_job_free(&job);

  /* value errors */
  const char *q = "[scan]\nqubits = 2\n";
  char t[512];
#define VALUE_FAILS(extra, want)                                                                \
  do {                                                                                          \
    snprintf(t, sizeof t, "%s%s", q, extra);                                                    \
    CHECK_JOB_FAILS(t, NULL, 0, want);                                                          \
  } while (0)
  VALUE_FAILS("samples = 10x\n", "t.ini:3: [scan] samples = 10x: not an integer");
  VALUE_FAILS("samples = 99999999999999999999999\n", "out of range (at most 4294967295)");
  VALUE_FAILS("samples = 4294967296\n", "out of range (at most 4294967295)");
  VALUE_FAILS("block = 0\n", "[scan] block = 0: out of range (allowed: integer >= 1)");
  VALUE_FAILS("seed = -1\n", "[scan] seed = -1: not an unsigned integer");
  VALUE_FAILS("seed = 18446744073709551616\n", "[scan] seed = 18446744073709551616: out of range");
  VALUE_FAILS("model = dqn\n",
              "[scan] model = dqn: unknown value (did you mean 'dqnn'? allowed: dqnn, vh, qbm, hea)");
  VALUE_FAILS("model = zzzzzz\n", "unknown value (allowed: dqnn, vh, qbm, hea)");
  VALUE_FAILS("representation = sparse\n", "allowed: auto, dense, factored");
  VALUE_FAILS("model = qbm\nmode = landscape\n",
              "t.ini:4: [scan] mode = landscape: mode = landscape needs a circuit model");
  VALUE_FAILS("mode = landscape\n[landscape]\npad = 1\n",
              "t.ini:5: [landscape] pad = 1: out of range");
  VALUE_FAILS("mode = landscape\n[landscape]\ndirections = diagonal\n",
              "allowed: random, axes, plane");
  VALUE_FAILS("[dqnn]\nwidths = n,x\n",
              "t.ini:4: [dqnn] widths = n,x: 'x' is not allowed in a width pattern");
  VALUE_FAILS("[dqnn]\nwidths = 2 3\n", "space inside a width entry");
  VALUE_FAILS("[dqnn]\nwidths = n,99999999999999999999n\n", "at most 4 digits");
  VALUE_FAILS("[dqnn]\nwidths = n,9999*n\n", "width entry '9999*n' gives 19998 qubits at n = 2");
  VALUE_FAILS("[dqnn]\nwidths = n,,n\n", "[dqnn] widths = n,,n: invalid at n = 2: empty entry");
  VALUE_FAILS("[dqnn]\nwidths = 31,n\n", "invalid at n = 2: width entry '31' gives 31 qubits");
  VALUE_FAILS("[dqnn]\nwidths = 20,n+10\n",
              "layers 0 and 1 hold 20 + 12 qubits at n = 2, more than 30");
  VALUE_FAILS("[dqnn]\ndepth = -1\n",
              "[dqnn] depth = -1: out of range (allowed: integer 0..10000)");
  VALUE_FAILS("[dqnn]\nperceptron = brick\nwidths = n,n,3\n",
              "perceptron = brick needs equal widths, but widths = n,n,3 gives 2 and 3 at n = 2");
  VALUE_FAILS(
      "[cost]\ntargets = unitary\n[dqnn]\nwidths = n,3\n",
      "t.ini:4: [cost] targets = unitary: targets = unitary needs equal input and output widths, but widths = n,3 gives 2 and 3 at n = 2");
  VALUE_FAILS("[cost]\npairs = 0\n",
              "[cost] pairs = 0: out of range (allowed: integer 1..1000000)");
  VALUE_FAILS("[noise]\np = -0.1\n", "out of range (allowed: real in [0, 1])");
  VALUE_FAILS("[noise]\np = nan\n", "[noise] p = nan: not a number");
  VALUE_FAILS("[noise]\np = 0x1p-3\n", "not a number");
  VALUE_FAILS("[noise]\np = 1e-400\n", "out of range");
  VALUE_FAILS("[noise]\np = .\n", "not a number");
  VALUE_FAILS("[output]\npath =#x.h5\n",
              "[output] path: '#' at the start of a value would start a comment");
  VALUE_FAILS("[output]\npath =;x.h5\n", "';' at the start of a value would start a comment");
  VALUE_FAILS("[output]\ncheckpoint_seconds = 0\n", "out of range (allowed: real > 0)");
  VALUE_FAILS("[output]\nstore_samples = 2\n",
              "not a boolean (allowed: true, false, yes, no, 1, 0)");
  VALUE_FAILS("[gradient]\nmethod = backprop\n", "allowed: adjoint, shift, fused");
  VALUE_FAILS("[gradient]\nparams = l1.p1, l1.p1\n", "parameter 'l1.p1' is listed twice");
  VALUE_FAILS("[gradient]\nparams = l1 p1\n", "' ' is not allowed in a parameter name");
  VALUE_FAILS("[gradient]\nparams = a,,b\n", "empty parameter name");
  VALUE_FAILS("[gradient]\nparams = first,last\n", "'first' cannot be mixed");
  VALUE_FAILS("[gradient]\nmethod = shift\nmethod = adjoint\n",
              "t.ini:5: [gradient] method: duplicate key (first set at line 4)");
  VALUE_FAILS("[output]\nhpath = x\n", "[output] hpath: unknown key (did you mean 'path'?)");
  VALUE_FAILS("[output]\nzzzzzzzz = x\n",
              "unknown key; keys of [output]: path, store_samples, diagnostics, checkpoint_seconds");
  VALUE_FAILS("[Scan]\nseed = 2\n", "unknown section [Scan] (did you mean [scan]?)");
  VALUE_FAILS("[]\n", "unknown section []");
  VALUE_FAILS("[ scan ] x\n", "text after the section header");
  VALUE_FAILS("[scan]]\n", "text after the section header");
  VALUE_FAILS("= 3\n", "t.ini:3: missing key name before '='");
  VALUE_FAILS("seed = 1\x01\n", "t.ini:3: control character 0x01");
  VALUE_FAILS("seed = 1\r2\n", "control character 0x0d");
  VALUE_FAILS("[hea]\nlayers = 2\n",
              "t.ini:3: section [hea] does not apply to model = dqnn (model from t.ini, the default)");
  VALUE_FAILS("model = vh\n[vh]\nvisible = 1,2\n", "[vh] visible = 1,2: must be a single entry");
  VALUE_FAILS("model = vh\n[vh]\nvisible = 2\n",
              "[vh] visible = 2: 1 Pauli letters but visible = 2 is 2 qubits at n = 2");
  VALUE_FAILS("model = vh\n[vh]\nobjective = fidelity\npauli = X\n",
              "[vh] pauli = X: pauli applies only to objective = pauli (objective = fidelity)");
  VALUE_FAILS("model = vh\n[vh]\nlayers = 0\n",
              "[vh] layers = 0: out of range (allowed: integer 1..10000)");
  VALUE_FAILS("model = vh\n[vh]\nonsite_sigma = 0\n", "out of range (allowed: real > 0)");
  VALUE_FAILS("model = qbm\n[qbm]\nlayers = 2\n",
              "[qbm] layers: unknown key (it belongs in [vh], [hea])");
  VALUE_FAILS("model = qbm\n[noise]\nchannel = dephasing\n",
              "section [noise] does not apply to model = qbm");
  /* widths at every n: fine at n = 4 and 5, not at n = 3 */
  CHECK_JOB_FAILS("[scan]\nqubits = 3:5\n[dqnn]\nwidths = n-3,n\n", NULL, 0, "invalid at n = 3");
#undef VALUE_FAILS
  /* no error for good combinations */
  CHECK_OK(bps_job_parse("[scan]\nqubits = 3:5\n[dqnn]\nwidths = n,n,n\nperceptron = toy\n"
                         "[cost]\ntype = local\ntargets = product\n[noise]\nchannel = "
                         "global_depolarizing\nplacement = layer\np = 0.1\n",
                         NULL, NULL, 0, &job));
  bps_job_free(&job);
  CHECK_OK(bps_job_parse("[scan]\nmodel = vh\nqubits = 2:3\n[vh]\nvisible = n\nhidden = 2\n"
                         "objective = projector\n",
                         NULL, NULL, 0, &job));
  CHECK(!strcmp(job.model.visible, "n") && job.model.vh_objective == BPS_VH_OBJ_PROJECTOR);
  /* the canonical text (which lists pauli = Z, the default) must parse again: the result
   * writer re-parses it for job_json (it once refused a run's own text at the very end) */
  check_round_trip(&job);
  bps_job_free(&job);
  CHECK_OK(bps_job_parse("[scan]\nmodel = qbm\nqubits = 2\n[qbm]\nobjective = fidelity\n", NULL,
                         NULL, 0, &job));
  check_round_trip(&job);
  bps_job_free(&job);
  CHECK_OK(bps_job_parse("[scan]\nmodel = vh\nqubits = 2\n[vh]\nvisible = n\npauli = xz\n", NULL,
                         NULL, 0, &job));
  CHECK(!strcmp(job.model.vh_pauli, "XZ"));
  bps_job_free(&job);
}

static void test_load_errors(void) {
  bps_job job;
  char dir[] = "/tmp/bps-t020-XXXXXX";
  CHECK(mkdtemp(dir) != NULL);
  char path[256];
  CHECK_FAILS(bps_job_load("/nonexistent/job.ini", NULL, 0, &job), BPS_ERR_IO);
  CHECK(job.text == NULL);
  int rc = bps_job_load(dir, NULL, 0, &job);
  CHECK(rc == BPS_ERR_IO && contains(bps_error_message(), "not a regular file (a directory)"));
  bps_error_clear();
  /* NUL bytes */
  snprintf(path, sizeof path, "%s/nul.ini", dir);
  FILE *f = fopen(path, "wb");
  CHECK(f != NULL);
  if (f) {
    fwrite("[scan]\nqubits = 2\n\0\n", 1, 20, f);
    fclose(f);
  }
  rc = bps_job_load(path, NULL, 0, &job);
  CHECK(rc == BPS_ERR_JOB && contains(bps_error_message(), "nul.ini:3: NUL byte"));
  bps_error_clear();
  /* too large */
  snprintf(path, sizeof path, "%s/big.ini", dir);
  f = fopen(path, "wb");
  CHECK(f != NULL);
  if (f) {
    fputs("[scan]\nqubits = 2\n", f);
    while (ftell(f) <= BPS_JOB_MAX_FILE) fputs("# padding padding padding padding padding\n", f);
    fclose(f);
  }
  rc = bps_job_load(path, NULL, 0, &job);
  CHECK(rc == BPS_ERR_IO && contains(bps_error_message(), "too large"));
  if (rc != BPS_ERR_IO) fprintf(stderr, "big file: rc %d: %s\n", rc, bps_error_message());
  bps_error_clear();
  remove(path);
  snprintf(path, sizeof path, "%s/nul.ini", dir);
  remove(path);
  rmdir(dir);
  /* argument errors */
  CHECK_FAILS(bps_job_parse(NULL, NULL, NULL, 0, &job), BPS_ERR_ARG);
  CHECK_FAILS(bps_job_parse("", NULL, NULL, 1, &job), BPS_ERR_ARG);
  CHECK(bps_job_hash(NULL) == 0);
  bps_job_free(NULL);
}

/* The job hash, the roles, job comparison, value access and the job JSON. */
static void test_hash_roles_json(void) {
  /* known value: the job_hash that bpscan stored for this job before the hash came from
   * the key table (reference file quickstart.h5: jobs/quickstart.ini with qubits 1:5,
   * samples 64) */
  const char *qs = "[scan]\nqubits = 1:5\nsamples = 64\nblock = 50\n[dqnn]\nperceptron = toy\n"
                   "[output]\npath = quickstart.h5\n";
  bps_job job, other;
  CHECK_OK(bps_job_parse(qs, "t", NULL, 0, &job));
  CHECK(bps_job_hash(&job) == UINT64_C(0x6042f57a726e9fe0));
  /* the rule: FNV-1a of the canonical text without the output-role lines */
  const char *cut = strstr(job.text, "path = quickstart.h5\n");
  const char *tail = strstr(job.text, "checkpoint_seconds = 300\n");
  CHECK(cut && tail && !strcmp(tail, "checkpoint_seconds = 300\n"));
  if (cut && tail) {
    uint64_t h = bps_fnv1a(job.text, (size_t)(cut - job.text), BPS_FNV_OFFSET);
    const char *mid = cut + strlen("path = quickstart.h5\n");
    h = bps_fnv1a(mid, (size_t)(tail - mid), h);
    CHECK(h == bps_job_hash(&job));
  }
  /* output keys do not change the hash or the comparison; every other role does */
  const char *out[] = {"output.path=elsewhere.h5", "output.checkpoint_seconds=1"};
  CHECK_OK(bps_job_parse(qs, "t", out, 2, &other));
  char d[300];
  CHECK(bps_job_hash(&other) == bps_job_hash(&job) && strcmp(other.text, job.text));
  CHECK(bps_job_diff(&job, &other, BPS_ROLES_NOT_OUTPUT, d, sizeof d) == 0 && !d[0]);
  CHECK(bps_job_diff(&job, &other, BPS_ROLES_ALL, d, sizeof d) == 1);
  CHECK(!strcmp(d, "in [output]: 'path = quickstart.h5' vs 'path = elsewhere.h5'"));
  bps_job_free(&other);
  static const char *const changes[] = {"scan.seed=2", "scan.block=7", "output.store_samples=no",
                                        "noise.p=0.5", "noise.channel=dephasing"};
  static const int role[] = {BPS_ROLE_ENSEMBLE, BPS_ROLE_LAYOUT, BPS_ROLE_LAYOUT,
                             BPS_ROLE_RESULT, BPS_ROLE_RESULT};
  for (int i = 0; i < 5; i++) {
    const char *set[2] = {changes[i], "noise.channel=depolarizing"};
    CHECK_OK(bps_job_parse(qs, "t", set, i == 3 ? 2 : 1, &other));
    CHECK(bps_job_hash(&other) != bps_job_hash(&job));
    CHECK(bps_job_diff(&job, &other, BPS_ROLES_NOT_OUTPUT, d, sizeof d) == 1);
    unsigned only_result = BPS_ROLE_BIT(BPS_ROLE_RESULT);
    CHECK(bps_job_diff(&job, &other, only_result, d, sizeof d) == (role[i] == BPS_ROLE_RESULT));
    CHECK(bps_job_diff(&job, &other, BPS_ROLES_ALL & ~BPS_ROLE_BIT(role[i]), d, sizeof d) == 0);
    bps_job_free(&other);
  }
  CHECK_OK(bps_job_parse("[scan]\nmodel = vh\nqubits = 2\n", "t", NULL, 0, &other));
  CHECK(bps_job_diff(&job, &other, BPS_ROLES_ALL, d, sizeof d) == 1);
  CHECK(!strcmp(d, "in [scan]: 'model = dqnn' vs 'model = vh'"));
  bps_job_free(&other);

  /* roles of the table */
  CHECK(bps_job_key_role("scan", "qubits") == BPS_ROLE_ENSEMBLE);
  CHECK(bps_job_key_role("scan", "samples") == BPS_ROLE_ENSEMBLE);
  CHECK(bps_job_key_role("scan", "seed") == BPS_ROLE_ENSEMBLE);
  CHECK(bps_job_key_role("scan", "block") == BPS_ROLE_LAYOUT);
  CHECK(bps_job_key_role("output", "store_samples") == BPS_ROLE_LAYOUT);
  CHECK(bps_job_key_role("output", "path") == BPS_ROLE_OUTPUT);
  CHECK(bps_job_key_role("output", "checkpoint_seconds") == BPS_ROLE_OUTPUT);
  CHECK(bps_job_key_role("scan", "mode") == BPS_ROLE_RESULT);
  CHECK(bps_job_key_role("dqnn", "widths") == BPS_ROLE_RESULT);
  CHECK(bps_job_key_role("scan", "nope") == -1 && bps_job_key_role(NULL, "seed") == -1);

  /* values: every key of the canonical text, in order, through bps_job_key */
  char v[300], line[400];
  const char *sec, *key;
  bps_job_role r;
  int i = 0;
  size_t pos = 0;
  for (; bps_job_key(&job, i, &sec, &key, &r, v, sizeof v); i++) {
    snprintf(line, sizeof line, "%s = %s\n", key, v);
    const char *at = strstr(job.text + pos, line);
    CHECK(at != NULL && (at == job.text + pos || at[-1] == '\n'));
    if (at) pos = (size_t)(at - job.text) + strlen(line);
    CHECK(bps_job_key_role(sec, key) == (int)r);
  }
  CHECK(i == 22 &&
        pos == strlen(job.text)); /* scan 7, dqnn 3, cost 4, gradient 2, noise 3, output 3 */
  CHECK(bps_job_value(&job, "scan", "qubits", v, sizeof v) == 1 && !strcmp(v, "1:5"));
  CHECK(bps_job_value(&job, "noise", "p", v, sizeof v) == 1 && !strcmp(v, "0"));
  CHECK(bps_job_value(&job, "vh", "visible", v, sizeof v) == 0 && !v[0]); /* not a vh job */
  CHECK(bps_job_value(&job, "scan", "bogus", v, sizeof v) == 0);

  /* JSON: the whole object of a small hea job (the README layout) */
  char *json = NULL;
  const char *hea_sets[] = {"output.path=a \"b\"\\c.h5"};
  CHECK_OK(bps_job_parse("[scan]\nmodel = hea\nqubits = 2,4\nsamples = 10\n", "t", hea_sets, 1,
                         &other));
  CHECK_OK(bps_job_json(&other, &json));
  const char *want =
      "{\"format\": 1, \"model\": \"hea\", \"mode\": \"gradient\", \"sections\": "
      "{\"scan\": {\"model\": \"hea\", \"qubits\": \"2,4\", \"samples\": 10, \"seed\": 1, "
      "\"block\": 32, \"representation\": \"auto\", \"mode\": \"gradient\"}, "
      "\"hea\": {\"ansatz\": \"mcclean\", \"layers\": 0}, "
      "\"cost\": {\"type\": \"global\", \"inputs\": \"zero\", \"targets\": \"zero\", \"pairs\": 1}, "
      "\"gradient\": {\"method\": \"adjoint\", \"params\": \"all\"}, "
      "\"noise\": {\"channel\": \"none\", \"p\": 0, \"placement\": \"gate\"}, "
      "\"output\": {\"path\": \"a \\\"b\\\"\\\\c.h5\", \"store_samples\": true, "
      "\"checkpoint_seconds\": 300}}, "
      "\"roles\": {\"scan\": {\"model\": \"result\", \"qubits\": \"ensemble\", \"samples\": "
      "\"ensemble\", \"seed\": \"ensemble\", \"block\": \"layout\", \"representation\": "
      "\"result\", \"mode\": \"result\"}, \"hea\": {\"ansatz\": \"result\", \"layers\": "
      "\"result\"}, \"cost\": {\"type\": \"result\", \"inputs\": \"result\", \"targets\": "
      "\"result\", \"pairs\": \"result\"}, \"gradient\": {\"method\": \"result\", \"params\": "
      "\"result\"}, \"noise\": {\"channel\": \"result\", \"p\": \"result\", \"placement\": "
      "\"result\"}, \"output\": {\"path\": \"output\", \"store_samples\": \"layout\", "
      "\"checkpoint_seconds\": \"output\"}}, "
      "\"qubits\": [2, 4], \"per_n\": [{\"n\": 2, \"layers\": 2}, {\"n\": 4, \"layers\": 4}]}";
  CHECK(json && !strcmp(json, want));
  if (json && strcmp(json, want)) fprintf(stderr, "job_json:\n%s\nwant:\n%s\n", json, want);
  free(json);
  bps_job_free(&other);
  /* registers of the other models */
  CHECK_OK(bps_job_parse("[scan]\nqubits = 2:3\n[dqnn]\nwidths = 2, n ,2n-1\n", "t", NULL, 0,
                         &other));
  CHECK_OK(bps_job_json(&other, &json));
  CHECK(json && contains(json, "\"per_n\": [{\"n\": 2, \"widths\": [2, 2, 3]}, "
                               "{\"n\": 3, \"widths\": [2, 3, 5]}]}"));
  CHECK(json && contains(json, "\"widths\": \"2,n,2n-1\""));
  free(json);
  bps_job_free(&other);
  CHECK_OK(bps_job_parse("[scan]\nmodel = qbm\nqubits = 3\n[qbm]\nvisible = 2\nhidden = 2n\n"
                         "pauli = ZX\n",
                         "t", NULL, 0, &other));
  CHECK_OK(bps_job_json(&other, &json));
  CHECK(json && contains(json, "\"per_n\": [{\"n\": 3, \"n_visible\": 2, \"n_hidden\": 6}]}"));
  CHECK(json && contains(json, "\"onsite_sigma\": 0.1"));
  free(json);
  bps_job_free(&other);
  bps_job empty;
  memset(&empty, 0, sizeof empty);
  CHECK_FAILS(bps_job_json(&empty, &json), BPS_ERR_ARG);
  CHECK(json == NULL);
  bps_job_free(&job);
}

int main(void) {
  find_jobs_dir();
  char dir[2048];
  int n = check_valid_dir(jobs_dir);
  CHECK(n >= 1); /* quickstart.ini */
  snprintf(dir, sizeof dir, "%s/test", jobs_dir);
  n = check_valid_dir(dir);
  CHECK(n >= 4); /* tiny, tiny-vh, tiny-hea, tiny-qbm */
  snprintf(dir, sizeof dir, "%s/test/bad", jobs_dir);
  n = check_bad_dir(dir);
  CHECK(n >= 9);
  printf("bad job files checked: %d\n", n);
  test_defaults();
  test_qubits();
  test_overrides();
  test_hash_roles_json();
  test_values();
  test_load_errors();
  return bps_test_result("t020-job-parse");
}
