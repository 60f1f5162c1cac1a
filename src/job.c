/* job: the INI job file (see include/bpscan/job.h).
 *
 * How a job is read:
 *  1. libinih tokenises the text through ini_parse_stream() with our own line reader. The
 *     reader counts physical lines (so the handler knows the line of every key, which this
 *     inih build does not pass), drops comments, strips indentation (so inih never sees a
 *     "continuation line"), and checks each line (section headers, '=', length, control
 *     characters) before inih sees it. inih's return value still reports any line it
 *     rejects by itself.
 *  2. The handler looks the key up in the key table and converts the value (convert(),
 *     one function per type): the canonical spelling goes into a slot per table entry,
 *     with the line it came from.
 *  3. --set overrides go through the same conversion; then defaults, section
 *     applicability, storing into bps_job, the cross-key checks at every scanned n, and the
 *     canonical text.
 * The first error wins; its message names file:line (or the --set, or the file alone for a
 * key never set), the [section] key and the reason.
 *
 * Everything after parsing reads the bps_job fields through the table: key_value() spells
 * a field canonically (the inverse of convert()), and emit_text() writes the canonical text
 * of the keys of some roles, which is the job text (all roles) and what the job hash hashes
 * (all but output); bps_job_diff, bps_job_key/value and bps_job_json use key_value too.
 */
#include "bpscan/job.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <ini.h>

#include "bpscan/error.h"
#include "bpscan/hash.h"

/* ---------------------------------------------------------------------------------------
 * Sections and the key table
 * ------------------------------------------------------------------------------------- */

enum {
  S_SCAN,
  S_DQNN,
  S_VH,
  S_QBM,
  S_HEA,
  S_COST,
  S_GRADIENT,
  S_LANDSCAPE,
  S_MOMENTS,
  S_NOISE,
  S_OUTPUT,
  NSEC
};

#define M_DQNN (1u << BPS_MODEL_DQNN)
#define M_VH (1u << BPS_MODEL_VH)
#define M_QBM (1u << BPS_MODEL_QBM)
#define M_HEA (1u << BPS_MODEL_HEA)
#define M_ALL (M_DQNN | M_VH | M_QBM | M_HEA)
/* Scan modes in the applicability mask: bits 8.. (bit 8 + bps_job_mode). */
#define MODE_BIT(mode) (1u << (8 + (mode)))
#define MODE_ALL                                                                                \
  (MODE_BIT(BPS_JOB_MODE_GRADIENT) | MODE_BIT(BPS_JOB_MODE_LANDSCAPE) |                         \
   MODE_BIT(BPS_JOB_MODE_MOMENTS))

static const struct {
  const char *name;
  unsigned models; /* models the section applies to */
  unsigned modes;  /* scan modes it applies to (0: every mode) */
} sections[NSEC] = {
    [S_SCAN] = {"scan", M_ALL},
    [S_DQNN] = {"dqnn", M_DQNN},
    [S_VH] = {"vh", M_VH},
    [S_QBM] = {"qbm", M_QBM},
    [S_HEA] = {"hea", M_HEA},
    [S_COST] = {"cost", M_DQNN | M_HEA},
    [S_GRADIENT] = {"gradient", M_ALL},
    [S_NOISE] = {"noise", M_DQNN | M_VH | M_HEA},
    [S_OUTPUT] = {"output", M_ALL},
    [S_LANDSCAPE] = {"landscape", M_ALL, MODE_BIT(BPS_JOB_MODE_LANDSCAPE)},
    [S_MOMENTS] = {"moments", M_ALL, MODE_BIT(BPS_JOB_MODE_MOMENTS)},
};

/* Whether section s applies to a job with applicability mask ab = model bit | mode bit. */
static int sec_applies(int s, unsigned ab) {
  unsigned modes = sections[s].modes ? sections[s].modes : MODE_ALL;
  return (sections[s].models & ab) && (modes & ab);
}
static const char *const model_names[] = {"dqnn", "vh", "qbm", "hea"};

/* " with mode = landscape" (lead " with") for a section of one mode; "" for every mode. */
static const char *mode_text(unsigned modes, const char *lead) {
  static char b[64];
  const char *m = modes == MODE_BIT(BPS_JOB_MODE_LANDSCAPE) ? "landscape"
                  : modes == MODE_BIT(BPS_JOB_MODE_MOMENTS) ? "moments"
                                                            : NULL;
  if (!modes || !m) return "";
  snprintf(b, sizeof b, "%s mode = %s", lead, m);
  return b;
}

typedef enum {
  K_INT,     /* decimal integer in [min, max], stored as int or long (by size) */
  K_U64,     /* decimal uint64 */
  K_REAL,    /* finite real in [min, max] (or (min, max] with F_GT) */
  K_BOOL,    /* true/false/yes/no/1/0 */
  K_ENUM,    /* one of values "a|b|c"; the index is the C enum value */
  K_STRING,  /* free text (a path) */
  K_PATTERN, /* width pattern in n (bps_pattern_eval), checked at every scanned n */
  K_QUBITS,  /* qubit-count list: 2:8, 2:10:2, 2,3,5, 2,4:6 */
  K_PAULI,   /* letters I X Y Z */
  K_PARAMS   /* all | first | last | name,name,... */
} key_type;

#define F_GT 1      /* K_REAL: value must be > min (not >=) */
#define F_SINGLE 2  /* K_PATTERN: exactly one entry */
#define F_OPENMAX 4 /* K_INT: max is an implementation limit, shown as ">= min" */
#define F_QUIETDEF                                                                              \
  8 /* the canonical text and job JSON omit the key at its default (a key added
                      * later: jobs that do not use it keep their text, hash and results) */

/* Roles (job.h): what a different value of the key changes. */
#define R_RESULT BPS_ROLE_RESULT
#define R_ENSEMBLE BPS_ROLE_ENSEMBLE
#define R_LAYOUT BPS_ROLE_LAYOUT
#define R_OUTPUT BPS_ROLE_OUTPUT
static const char *const role_names[] = {"result", "ensemble", "layout", "output"};
_Static_assert(BPS_ROLE_OUTPUT == 3, "role_names follows bps_job_role");

typedef struct {
  int sec;
  const char *key;
  bps_job_role role;
  key_type type;
  const char *def;    /* default, canonical spelling; NULL = required */
  const char *values; /* K_ENUM: "a|b|c" */
  int navail;         /* K_ENUM: values from index navail on are reserved (0 = none) */
  double min, max;    /* K_INT, K_REAL */
  int flags;
  size_t off, size; /* the bps_job field */
  const char *help;
} key_def;

#define FIELD(f) .off = offsetof(bps_job, f), .size = sizeof(((bps_job *)0)->f)

/* THE key table. Sections appear in this order in the canonical text and the help; keys of
 * one section are contiguous. [vh] and [qbm] fill the same model fields. The third column
 * is the key's role (job.h): R_RESULT unless it only picks samples (R_ENSEMBLE), groups or
 * stores them (R_LAYOUT), or changes nothing in the results (R_OUTPUT). */
static const key_def keys[] = {
    /* [scan] */
    {S_SCAN, "model", R_RESULT, K_ENUM, "dqnn", "dqnn|vh|qbm|hea", 0, 0, 0, 0, FIELD(model.kind),
     "QNN model; its own section is [dqnn], [vh], [qbm] or [hea]"},
    {S_SCAN, "qubits", R_ENSEMBLE, K_QUBITS, NULL, NULL, 0, 1, BPS_MAX_QUBITS, 0, FIELD(qubits),
     "qubit counts n to scan, strictly increasing: 2:8 (inclusive), 2:10:2 (step), 2,3,5, or mixed 2,4:6 (mode = moments: up to 65536)"},
    {S_SCAN, "samples", R_ENSEMBLE, K_INT, "1000", NULL, 0, 2, 4294967295.0, F_OPENMAX,
     FIELD(samples), "random parameter samples per qubit count"},
    {S_SCAN, "seed", R_ENSEMBLE, K_U64, "1", NULL, 0, 0, 0, 0, FIELD(seed),
     "master seed of every random stream (Philox keyed by seed, n, sample)"},
    {S_SCAN, "block", R_LAYOUT, K_INT, "32", NULL, 0, 1, 1e9, F_OPENMAX, FIELD(block),
     "samples per work unit (the unit of load balancing and checkpointing)"},
    {S_SCAN, "representation", R_RESULT, K_ENUM, "auto", "auto|dense|factored", 0, 0, 0, 0,
     FIELD(repr), "density-matrix representation; auto picks the cheaper one"},
    {S_SCAN, "mode", R_RESULT, K_ENUM, "gradient", "gradient|landscape|moments", 0, 0, 0, 0,
     FIELD(mode),
     "what to scan: gradient statistics, also FFT landscape cuts through every sample ([landscape]), or the exact second moments of the ensemble without sampling ([moments])"},
    /* [dqnn] */
    {S_DQNN, "widths", R_RESULT, K_PATTERN, "n,n", NULL, 0, 0, 0, 0, FIELD(model.widths),
     "layer widths m_0,...,m_L in n (at least 2 entries): integers, n, n+k, n-k, k*n"},
    {S_DQNN, "perceptron", R_RESULT, K_ENUM, "haar", "haar|toy|brick|nisq|pauli", 0, 0, 0, 0,
     FIELD(model.perceptron),
     "haar: A exp(-i theta Z/2) B with Haar A, B; toy: SWAP then R_y; brick: HEA bricks; nisq: U3 + CAN; pauli: Pauli rotations + fixed entanglers"},
    {S_DQNN, "depth", R_RESULT, K_INT, "0", NULL, 0, 0, 10000, 0, FIELD(model.depth),
     "brick: HEA layers (0 = ceil(log2 n)); pauli: rotations per perceptron (0 = 1); must be 0 otherwise"},
    /* [vh] */
    {S_VH, "visible", R_RESULT, K_PATTERN, "1", NULL, 0, 0, 0, F_SINGLE, FIELD(model.visible),
     "visible qubits, one pattern entry in n"},
    {S_VH, "hidden", R_RESULT, K_PATTERN, "n", NULL, 0, 0, 0, F_SINGLE, FIELD(model.hidden),
     "hidden qubits, one pattern entry in n"},
    {S_VH, "layers", R_RESULT, K_INT, "1", NULL, 0, 1, 10000, 0, FIELD(model.vh_layers),
     "layers of random two-local terms"},
    {S_VH, "objective", R_RESULT, K_ENUM, "pauli", "pauli|projector|fidelity", 0, 0, 0, 0,
     FIELD(model.vh_objective), "objective on the visible qubits"},
    {S_VH, "pauli", R_RESULT, K_PAULI, "Z", NULL, 0, 0, 0, 0, FIELD(model.vh_pauli),
     "Pauli observable for objective = pauli: one letter I, X, Y or Z per visible qubit"},
    {S_VH, "onsite_sigma", R_RESULT, K_REAL, "1", NULL, 0, 0, 1e6, F_GT,
     FIELD(model.onsite_sigma), "standard deviation of the on-site couplings"},
    {S_VH, "coupling_sigma", R_RESULT, K_REAL, "1", NULL, 0, 0, 1e6, F_GT,
     FIELD(model.coupling_sigma), "standard deviation of the two-qubit couplings"},
    /* [qbm] */
    {S_QBM, "visible", R_RESULT, K_PATTERN, "1", NULL, 0, 0, 0, F_SINGLE, FIELD(model.visible),
     "visible qubits, one pattern entry in n"},
    {S_QBM, "hidden", R_RESULT, K_PATTERN, "n", NULL, 0, 0, 0, F_SINGLE, FIELD(model.hidden),
     "hidden qubits, one pattern entry in n"},
    {S_QBM, "objective", R_RESULT, K_ENUM, "pauli", "pauli|projector|fidelity", 0, 0, 0, 0,
     FIELD(model.vh_objective), "objective on the visible qubits"},
    {S_QBM, "pauli", R_RESULT, K_PAULI, "Z", NULL, 0, 0, 0, 0, FIELD(model.vh_pauli),
     "Pauli observable for objective = pauli: one letter I, X, Y or Z per visible qubit"},
    {S_QBM, "onsite_sigma", R_RESULT, K_REAL, "0.1", NULL, 0, 0, 1e6, F_GT,
     FIELD(model.onsite_sigma), "standard deviation of the on-site terms of H(theta)"},
    {S_QBM, "coupling_sigma", R_RESULT, K_REAL, "1", NULL, 0, 0, 1e6, F_GT,
     FIELD(model.coupling_sigma), "standard deviation of the two-qubit terms of H(theta)"},
    /* [hea] */
    {S_HEA, "ansatz", R_RESULT, K_ENUM, "mcclean", "mcclean|alt", 0, 0, 0, 0, FIELD(model.hea),
     "mcclean: McClean 2018 random rotations + CZ ladder; alt: alternating layered (Cerezo 2021)"},
    {S_HEA, "layers", R_RESULT, K_INT, "0", NULL, 0, 0, 10000, 0, FIELD(model.hea_layers),
     "layers (0 = n)"},
    /* [cost] */
    {S_COST, "type", R_RESULT, K_ENUM, "global", "global|local", 0, 0, 0, 0, FIELD(model.cost),
     "global: 1 - fidelity with the target state; local: 1 - mean single-qubit fidelity with a product target (Sharma Eq. 4)"},
    {S_COST, "inputs", R_RESULT, K_ENUM, "zero", "zero|basis|haar", 0, 0, 0, 0, FIELD(model.inputs),
     "input states: all-zero, random computational basis states, or Haar states"},
    {S_COST, "targets", R_RESULT, K_ENUM, "zero", "zero|product|unitary", 0, 0, 0, 0,
     FIELD(model.targets),
     "target states: all-zero, Haar product states, or V applied to the input with one Haar V per sample"},
    {S_COST, "pairs", R_RESULT, K_INT, "1", NULL, 0, 1, 1000000, 0, FIELD(model.pairs),
     "training pairs N in C = (1/N) sum_x C_x"},
    /* [gradient] */
    {S_GRADIENT, "method", R_RESULT, K_ENUM, "adjoint", "adjoint|shift|fused", 0, 0, 0, 0,
     FIELD(grad_method),
     "adjoint (exact, one backward pass), shift (parameter shift, the independent check) or fused (adjoint with one fused backward step per run of rotations on the same qubits (U3, CAN): about 2x faster for nisq/pauli perceptrons, equal to adjoint up to rounding (~1e-15))"},
    {S_GRADIENT, "params", R_RESULT, K_PARAMS, "all", NULL, 0, 0, 0, 0, FIELD(params),
     "parameters to differentiate: all, first, last, or names such as l1.p1.g1, l1.p2.g1"},
    /* [landscape] */
    {S_LANDSCAPE, "directions", R_RESULT, K_ENUM, "random", "random|axes|plane", 0, 0, 0, 0,
     FIELD(land_directions),
     "cuts per sample: one along a random +-1 direction over the [gradient] params, one along each of their axes, or a 2-D plane"},
    {S_LANDSCAPE, "pad", R_RESULT, K_INT, "16", NULL, 0, 2, 256, 0, FIELD(land_pad),
     "fine-grid factor of the Lipschitz and extremum search (points per FFT sample, then refined)"},
    /* [moments] */
    {S_MOMENTS, "engine", R_RESULT, K_ENUM, "auto", "auto|chain|pauli|mps|dense", 0, 0, 0, 0,
     FIELD(mom_engine),
     "exact-moments engine: auto picks the cheapest per n; chain (Haar DQNNs), pauli (Pauli pairs with light cones), mps (two-copy MPS), dense (two-copy density matrix, small n)"},
    {S_MOMENTS, "truncation", R_RESULT, K_INT, "0", NULL, 0, 0, 1e12, F_OPENMAX,
     FIELD(mom_truncation),
     "0: exact; else a Pauli-pair budget (pauli engine): certified lower and upper bounds instead of exact values"},
    /* [noise] */
    {S_NOISE, "channel", R_RESULT, K_ENUM, "none",
     "none|depolarizing|dephasing|amplitude_damping|global_depolarizing", 0, 0, 0, 0,
     FIELD(model.noise), "noise channel (global_depolarizing acts on the whole layer register)"},
    {S_NOISE, "p", R_RESULT, K_REAL, "0", NULL, 0, 0, 1, 0, FIELD(model.noise_p),
     "noise probability (must be 0 with channel = none)"},
    {S_NOISE, "placement", R_RESULT, K_ENUM, "gate", "gate|layer", 0, 0, 0, 0,
     FIELD(model.noise_placement),
     "apply the channel after every gate (on its qubits) or after every layer"},
    /* [output] */
    {S_OUTPUT, "path", R_OUTPUT, K_STRING, "results.h5", NULL, 0, 0, 0, 0, FIELD(out_path),
     "HDF5 result file"},
    {S_OUTPUT, "store_samples", R_LAYOUT, K_BOOL, "true", NULL, 0, 0, 0, 0, FIELD(store_samples),
     "store every sample's gradient, not only the moments"},
    {S_OUTPUT, "diagnostics", R_RESULT, K_BOOL, "true", NULL, 0, 0, 0, F_QUIETDEF,
     FIELD(diagnostics),
     "state diagnostics per sample (purity, entropies, trace distance of the output of pair 0; about 5-50% of a small sample's time); false: NaN"},
    {S_OUTPUT, "checkpoint_seconds", R_OUTPUT, K_REAL, "300", NULL, 0, 0, 1e9, F_GT,
     FIELD(checkpoint_seconds), "seconds between checkpoints"},
};
enum { NKEYS = sizeof keys / sizeof keys[0] };

_Static_assert(NKEYS <= BPS_JOB_MAX_KEYS, "bps_job.key_line is too small for the key table");
/* Enum fields are written through int; the value order in the table is the C order. */
_Static_assert(
    sizeof(bps_model_kind) == sizeof(int) && sizeof(bps_perceptron) == sizeof(int) &&
        sizeof(bps_cost_type) == sizeof(int) && sizeof(bps_input_kind) == sizeof(int) &&
        sizeof(bps_target_kind) == sizeof(int) && sizeof(bps_noise_kind) == sizeof(int) &&
        sizeof(bps_noise_placement) == sizeof(int) && sizeof(bps_vh_objective) == sizeof(int) &&
        sizeof(bps_hea_kind) == sizeof(int) && sizeof(bps_grad_method) == sizeof(int) &&
        sizeof(bps_job_mode) == sizeof(int) && sizeof(bps_job_repr) == sizeof(int) &&
        sizeof(bps_land_directions) == sizeof(int) && sizeof(bps_job_mom_engine) == sizeof(int),
    "enum fields must be int-sized");
_Static_assert(BPS_MODEL_HEA == 3 && BPS_PERC_PAULI == 4 && BPS_COST_LOCAL == 1 &&
                   BPS_INPUT_HAAR == 2 && BPS_TARGET_UNITARY == 2 &&
                   BPS_NOISE_GLOBAL_DEPOLARIZING == 4 && BPS_NOISE_AFTER_LAYER == 1 &&
                   BPS_VH_OBJ_FIDELITY == 2 && BPS_HEA_ALT == 1 && BPS_GRAD_SHIFT == 1 &&
                   BPS_GRAD_FUSED == 2 && BPS_JOB_MODE_LANDSCAPE == 1 &&
                   BPS_JOB_MODE_MOMENTS == 2 && BPS_JOB_MOM_DENSE == 4 &&
                   BPS_JOB_REPR_FACTORED == 2 && BPS_LAND_PLANE == 2,
               "enum order must match the value lists of the key table");

/* ---------------------------------------------------------------------------------------
 * Small string helpers
 * ------------------------------------------------------------------------------------- */

static int lower(int ch) { return (ch >= 'A' && ch <= 'Z') ? ch - 'A' + 'a' : ch; }

static int eq_nocase(const char *a, const char *b) {
  for (; *a && *b; a++, b++)
    if (lower((unsigned char)*a) != lower((unsigned char)*b)) return 0;
  return *a == *b;
}

static int is_space(int ch) { return ch == ' ' || ch == '\t'; }

/* snprintf at buf + *len that never runs past n (output is truncated instead). */
static void appendf(char *buf, size_t n, size_t *len, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 4, 5)))
#endif
    ;
static void appendf(char *buf, size_t n, size_t *len, const char *fmt, ...) {
  if (*len + 1 >= n) return;
  va_list ap;
  va_start(ap, fmt);
  int w = vsnprintf(buf + *len, n - *len, fmt, ap);
  va_end(ap);
  if (w > 0) *len = (*len + (size_t)w < n) ? *len + (size_t)w : n - 1;
}

/* Case-insensitive Levenshtein distance (large for long words). */
static int edit_distance(const char *a, const char *b) {
  size_t la = strlen(a), lb = strlen(b);
  if (la > 40 || lb > 40) return 1000;
  int row[41];
  for (size_t j = 0; j <= lb; j++) row[j] = (int)j;
  for (size_t i = 1; i <= la; i++) {
    int diag = row[0];
    row[0] = (int)i;
    for (size_t j = 1; j <= lb; j++) {
      int up = row[j];
      int sub = diag + (lower((unsigned char)a[i - 1]) != lower((unsigned char)b[j - 1]));
      int best = up + 1 < row[j - 1] + 1 ? up + 1 : row[j - 1] + 1;
      row[j] = sub < best ? sub : best;
      diag = up;
    }
  }
  return row[lb];
}

/* Is `cand`, at edit distance d from a word, a plausible correction of it? */
static int close_enough(const char *cand, int d) {
  size_t l = strlen(cand);
  int limit = l <= 3 ? 1 : l <= 7 ? 2 : 3;
  return d <= limit && (size_t)d < l;
}

/* Value shown in messages: at most 48 characters. */
static const char *show(const char *v, char *buf, size_t n) {
  if (strlen(v) <= 48) return v;
  snprintf(buf, n, "%.45s...", v);
  return buf;
}

/* ---------------------------------------------------------------------------------------
 * Value conversion: one case per type. Validates raw, writes its canonical spelling to
 * canon and stores the value into *dst. Returns 0, -1 (why = reason), or -2 (why = the
 * whole message after the location).
 * ------------------------------------------------------------------------------------- */

static const char *allowed_text(const key_def *d, char *buf, size_t n);

/* Parse a decimal integer (optional sign) filling the whole string; 0 on success. */
static int parse_ll(const char *s, long long *v) {
  const char *p = s;
  if (*p == '+' || *p == '-') p++;
  if (!isdigit((unsigned char)*p)) return -1;
  for (const char *q = p; *q; q++)
    if (!isdigit((unsigned char)*q)) return -1;
  errno = 0;
  char *end;
  *v = strtoll(s, &end, 10);
  if (errno == ERANGE) return -2;
  return *end ? -1 : 0;
}

static int conv_int(const key_def *d, const char *raw, void *field, char *canon, size_t nc,
                    char *why, size_t nw) {
  long long v;
  char ab[160];
  int rc = parse_ll(raw, &v);
  if (rc == -1) {
    snprintf(why, nw, "not an integer (allowed: %s)", allowed_text(d, ab, sizeof ab));
    return -1;
  }
  if (rc == -2 || (double)v < d->min || (double)v > d->max) {
    if ((d->flags & F_OPENMAX) && (rc == -2 || (double)v > d->max))
      snprintf(why, nw, "out of range (at most %.0f)", d->max);
    else snprintf(why, nw, "out of range (allowed: %s)", allowed_text(d, ab, sizeof ab));
    return -1;
  }
  snprintf(canon, nc, "%lld", v);
  if (d->size == sizeof(long)) *(long *)field = (long)v;
  else *(int *)field = (int)v;
  return 0;
}

static int conv_u64(const char *raw, void *field, char *canon, size_t nc, char *why, size_t nw) {
  const char *p = raw;
  if (*p == '+') p++;
  int ok = isdigit((unsigned char)*p) != 0;
  for (const char *q = p; *q && ok; q++) ok = isdigit((unsigned char)*q) != 0;
  if (!ok) {
    snprintf(why, nw, "not an unsigned integer (allowed: 0..18446744073709551615)");
    return -1;
  }
  errno = 0;
  unsigned long long v = strtoull(p, NULL, 10);
  if (errno == ERANGE) {
    snprintf(why, nw, "out of range (allowed: 0..18446744073709551615)");
    return -1;
  }
  snprintf(canon, nc, "%" PRIu64, (uint64_t)v);
  *(uint64_t *)field = (uint64_t)v;
  return 0;
}

/* Shortest %g spelling that reads back as the same double, without an exponent for
 * ordinary magnitudes (300, not 3e+02). */
static void real_canon(double v, char *canon, size_t nc) {
  if (v == 0.0) v = 0.0; /* no "-0" */
  double a = fabs(v);
  int plain = a >= 1e-4 && a < 1e15;
  for (int prec = 1; prec <= 17; prec++) {
    snprintf(canon, nc, "%.*g", prec, v);
    if (strtod(canon, NULL) == v && (!plain || !strchr(canon, 'e'))) return;
  }
  snprintf(canon, nc, "%.17g", v);
}

static int conv_real(const key_def *d, const char *raw, void *field, char *canon, size_t nc,
                     char *why, size_t nw) {
  char ab[160];
  int ok = *raw != 0;
  for (const char *q = raw; *q && ok; q++) ok = strchr("0123456789+-.eE", *q) != NULL;
  double v = 0;
  char *end = NULL;
  if (ok) {
    errno = 0;
    v = strtod(raw, &end);
    ok = *end == 0 && end != raw;
  }
  if (!ok) {
    snprintf(why, nw, "not a number (allowed: %s)", allowed_text(d, ab, sizeof ab));
    return -1;
  }
  int below = (d->flags & F_GT) ? !(v > d->min) : !(v >= d->min);
  /* ERANGE on underflow: a subnormal value (1e-320) is taken as it is; one that rounds to
   * zero (1e-400) is said to */
  const int overflow = errno == ERANGE && fabs(v) >= 1.0, zero = errno == ERANGE && v == 0;
  if (overflow || zero || !isfinite(v) || below || v > d->max) {
    snprintf(why, nw, "out of range%s (allowed: %s)", zero ? ": underflows to 0" : "",
             allowed_text(d, ab, sizeof ab));
    return -1;
  }
  real_canon(v, canon, nc);
  *(double *)field = strtod(canon, NULL);
  return 0;
}

static int conv_bool(const char *raw, void *field, char *canon, size_t nc, char *why, size_t nw) {
  static const char *const t[] = {"true", "yes", "1"}, *const f[] = {"false", "no", "0"};
  for (int i = 0; i < 3; i++) {
    if (eq_nocase(raw, t[i]) || eq_nocase(raw, f[i])) {
      int v = eq_nocase(raw, t[i]);
      snprintf(canon, nc, "%s", v ? "true" : "false");
      *(int *)field = v;
      return 0;
    }
  }
  snprintf(why, nw, "not a boolean (allowed: true, false, yes, no, 1, 0)");
  return -1;
}

/* Index of value v in the "a|b|c" list (case-insensitive), or -1; also the closest entry. */
static int enum_find(const char *values, const char *v, char *best, size_t nb) {
  int idx = 0, bestd = 1000;
  if (best) best[0] = 0;
  for (const char *p = values;; idx++) {
    const char *bar = strchr(p, '|');
    size_t len = bar ? (size_t)(bar - p) : strlen(p);
    char item[64];
    snprintf(item, sizeof item, "%.*s", (int)len, p);
    if (eq_nocase(item, v)) return idx;
    int dd = edit_distance(v, item);
    if (best && dd < bestd && close_enough(item, dd)) {
      bestd = dd;
      snprintf(best, nb, "%s", item);
    }
    if (!bar) return -1;
    p = bar + 1;
  }
}

/* The idx-th entry of an "a|b|c" list. */
static const char *enum_name(const char *values, int idx, char *buf, size_t n) {
  const char *p = values;
  for (int i = 0; i < idx && p; i++) {
    p = strchr(p, '|');
    if (p) p++;
  }
  if (!p) return "";
  const char *bar = strchr(p, '|');
  snprintf(buf, n, "%.*s", (int)(bar ? (size_t)(bar - p) : strlen(p)), p);
  return buf;
}

static int conv_enum(const key_def *d, const char *raw, void *field, char *canon, size_t nc,
                     char *why, size_t nw) {
  char best[64], ab[160];
  int idx = enum_find(d->values, raw, best, sizeof best);
  if (idx < 0) {
    if (best[0])
      snprintf(why, nw, "unknown value (did you mean '%s'? allowed: %s)", best,
               allowed_text(d, ab, sizeof ab));
    else snprintf(why, nw, "unknown value (allowed: %s)", allowed_text(d, ab, sizeof ab));
    return -1;
  }
  enum_name(d->values, idx, canon, nc);
  if (d->navail && idx >= d->navail) {
    snprintf(why, nw, "%s = %s is not available yet (allowed: %s)", d->key, canon,
             allowed_text(d, ab, sizeof ab));
    return -2;
  }
  *(int *)field = idx;
  return 0;
}

static int conv_string(const key_def *d, const char *raw, void *field, char *canon, size_t nc,
                       char *why, size_t nw) {
  if (!*raw) {
    snprintf(why, nw, "empty value");
    return -1;
  }
  if (strlen(raw) >= d->size || strlen(raw) >= nc) {
    snprintf(why, nw, "too long (at most %zu characters)", d->size - 1);
    return -1;
  }
  snprintf(canon, nc, "%s", raw);
  snprintf((char *)field, d->size, "%s", raw);
  return 0;
}

/* Width pattern: drop whitespace (refused between two letters/digits, where it would merge
 * tokens); only the characters of the pattern syntax. Validity at each n comes later. */
static int conv_pattern(const key_def *d, const char *raw, void *field, char *canon, size_t nc,
                        char *why, size_t nw) {
  size_t len = 0;
  char prev = 0;
  int gap = 0, digits = 0;
  for (const char *p = raw; *p; p++) {
    if (is_space((unsigned char)*p)) {
      gap = 1;
      continue;
    }
    if (!strchr("0123456789n+-*,", *p)) {
      snprintf(why, nw,
               "'%c' is not allowed in a width pattern (use integers, n, n+k, n-k, k*n "
               "separated by commas)",
               *p);
      return -1;
    }
    if (gap && isalnum((unsigned char)prev) && isalnum((unsigned char)*p)) {
      snprintf(why, nw, "space inside a width entry (separate entries with commas)");
      return -1;
    }
    /* numbers of at most 4 digits (keeps k*n far from overflow in bps_pattern_eval) */
    if (isdigit((unsigned char)*p) && ++digits > 4) {
      snprintf(why, nw, "a number in a width pattern has at most 4 digits");
      return -1;
    }
    if (!isdigit((unsigned char)*p)) digits = 0;
    gap = 0;
    prev = *p;
    if (len + 1 >= nc || len + 1 >= d->size) {
      snprintf(why, nw, "too long (at most %zu characters)", d->size - 1);
      return -1;
    }
    canon[len++] = *p;
  }
  canon[len] = 0;
  if (!len) {
    snprintf(why, nw, "empty value");
    return -1;
  }
  snprintf((char *)field, d->size, "%s", canon);
  return 0;
}

/* One qubit count token (digits only), range-checked. */
static int qubit_number(const char *tok, size_t len, int *v, char *why, size_t nw) {
  if (len == 0) {
    snprintf(why, nw, "empty entry in the qubit list");
    return -1;
  }
  long x = 0;
  for (size_t i = 0; i < len; i++) {
    if (!isdigit((unsigned char)tok[i])) {
      snprintf(why, nw, "'%.*s' is not a qubit count (use a:b, a:b:step or a,b,c)",
               (int)(len > 20 ? 20 : len), tok);
      return -1;
    }
    if (x < 1000000) x = 10 * x + (tok[i] - '0');
  }
  /* the state limit (BPS_MAX_QUBITS) is checked with the mode: mode = moments holds no state */
  if (x < 1 || x > BPS_ENS_MAX_QUBITS) {
    snprintf(why, nw,
             "qubit count %.*s is out of range (allowed: 1..%d); mode = moments allows "
             "up to %d",
             (int)(len > 20 ? 20 : len), tok, BPS_MAX_QUBITS, BPS_ENS_MAX_QUBITS);
    return -1;
  }
  *v = (int)x;
  return 0;
}

/* Parse a qubit list into q[] (strictly increasing). */
static int qubits_parse(const char *raw, int *q, int *nq, char *why, size_t nw) {
  *nq = 0;
  const char *p = raw;
  while (1) {
    const char *comma = strchr(p, ',');
    const char *e = comma ? comma : p + strlen(p);
    while (p < e && is_space((unsigned char)*p)) p++;
    const char *t = e;
    while (t > p && is_space((unsigned char)t[-1])) t--;
    /* up to three numbers separated by ':' */
    int num[3], cnt = 0;
    const char *s = p;
    while (1) {
      const char *colon = memchr(s, ':', (size_t)(t - s));
      const char *ne = colon ? colon : t;
      const char *a = s, *b = ne;
      while (a < b && is_space((unsigned char)*a)) a++;
      while (b > a && is_space((unsigned char)b[-1])) b--;
      if (cnt == 3) {
        snprintf(why, nw, "'%.*s' has more than two ':' (use a:b or a:b:step)",
                 (int)(t - p > 30 ? 30 : t - p), p);
        return -1;
      }
      if (cnt == 2) { /* the step: any positive integer */
        long x = 0;
        int ok = b > a;
        for (const char *c = a; c < b && ok; c++) {
          ok = isdigit((unsigned char)*c) != 0;
          if (ok && x < 100000) x = 10 * x + (*c - '0');
        }
        if (!ok || x < 1) {
          snprintf(why, nw, "step '%.*s' must be a positive integer",
                   (int)(b - a > 20 ? 20 : b - a), a);
          return -1;
        }
        num[cnt++] = (int)(x > 1000 ? 1000 : x);
      } else if (qubit_number(a, (size_t)(b - a), &num[cnt++], why, nw)) {
        return -1;
      }
      if (!colon) break;
      s = colon + 1;
    }
    int lo = num[0], hi = cnt >= 2 ? num[1] : num[0], step = cnt == 3 ? num[2] : 1;
    if (hi < lo) {
      snprintf(why, nw, "range %d:%d is empty (write low:high)", lo, hi);
      return -1;
    }
    for (int v = lo; v <= hi; v += step) {
      if (*nq > 0 && v <= q[*nq - 1]) {
        snprintf(why, nw, "qubit counts must be strictly increasing (%d after %d)", v, q[*nq - 1]);
        return -1;
      }
      if (*nq >= BPS_JOB_MAX_QUBIT_COUNTS) { /* unreachable with counts <= 30 */
        snprintf(why, nw, "more than %d qubit counts", BPS_JOB_MAX_QUBIT_COUNTS);
        return -1;
      }
      q[(*nq)++] = v;
    }
    if (!comma) break;
    p = comma + 1;
  }
  return 0;
}

/* Canonical spelling: arithmetic runs of 3 or more as a:b or a:b:step. */
static void qubits_canon(const int *q, int nq, char *canon, size_t nc) {
  size_t len = 0;
  canon[0] = 0;
  for (int i = 0; i < nq;) {
    int j = i;
    if (i + 2 < nq && q[i + 1] - q[i] == q[i + 2] - q[i + 1]) {
      int step = q[i + 1] - q[i];
      j = i + 2;
      while (j + 1 < nq && q[j + 1] - q[j] == step) j++;
      if (step == 1) appendf(canon, nc, &len, "%s%d:%d", i ? "," : "", q[i], q[j]);
      else appendf(canon, nc, &len, "%s%d:%d:%d", i ? "," : "", q[i], q[j], step);
    } else {
      appendf(canon, nc, &len, "%s%d", i ? "," : "", q[i]);
    }
    if (len >= nc) return;
    i = j + 1;
  }
}

static int conv_qubits(const char *raw, bps_job *dst, char *canon, size_t nc, char *why,
                       size_t nw) {
  int q[BPS_JOB_MAX_QUBIT_COUNTS], nq;
  if (qubits_parse(raw, q, &nq, why, nw)) return -1;
  qubits_canon(q, nq, canon, nc);
  dst->nq = nq;
  memcpy(dst->qubits, q, sizeof(int) * (size_t)nq);
  return 0;
}

static int conv_pauli(const key_def *d, const char *raw, void *field, char *canon, size_t nc,
                      char *why, size_t nw) {
  size_t len = strlen(raw);
  if (!len) {
    snprintf(why, nw, "empty value");
    return -1;
  }
  if (len >= d->size || len >= nc) {
    snprintf(why, nw, "too long (at most %zu letters)", d->size - 1);
    return -1;
  }
  for (size_t i = 0; i < len; i++) {
    char ch = (char)toupper((unsigned char)raw[i]);
    if (!strchr("IXYZ", ch) || !ch) {
      snprintf(why, nw, "'%c' is not a Pauli letter (use I, X, Y, Z)", raw[i]);
      return -1;
    }
    canon[i] = ch;
  }
  canon[len] = 0;
  snprintf((char *)field, d->size, "%s", canon);
  return 0;
}

static int param_name_ok(int ch) { return isalnum(ch) || ch == '.' || ch == '_' || ch == '-'; }

static int conv_params(const key_def *d, const char *raw, bps_job *dst, char *canon, size_t nc,
                       char *why, size_t nw) {
  static const char *const words[] = {"all", "first", "last"};
  for (int i = 0; i < 3; i++)
    if (eq_nocase(raw, words[i])) {
      snprintf(canon, nc, "%s", words[i]);
      snprintf(dst->params, sizeof dst->params, "%s", words[i]);
      dst->params_kind = (bps_param_select)i;
      dst->nparam_names = 0;
      return 0;
    }
  size_t len = 0;
  int count = 0;
  canon[0] = 0;
  for (const char *p = raw;;) {
    const char *comma = strchr(p, ',');
    const char *e = comma ? comma : p + strlen(p);
    while (p < e && is_space((unsigned char)*p)) p++;
    const char *t = e;
    while (t > p && is_space((unsigned char)t[-1])) t--;
    size_t l = (size_t)(t - p);
    if (!l) {
      snprintf(why, nw, "empty parameter name (use all, first, last, or names like l1.p1.g1)");
      return -1;
    }
    for (const char *c = p; c < t; c++)
      if (!param_name_ok((unsigned char)*c)) {
        snprintf(why, nw,
                 "'%c' is not allowed in a parameter name (letters, digits, '.', '_', "
                 "'-')",
                 *c);
        return -1;
      }
    for (int i = 0; i < 3; i++)
      if (l == strlen(words[i]) && !strncmp(p, words[i], l)) {
        snprintf(why, nw, "'%s' cannot be mixed with parameter names", words[i]);
        return -1;
      }
    /* duplicates: look for ",name," in ",canon," */
    for (const char *c = canon; *c;) {
      const char *ce = strchr(c, ',');
      size_t cl = ce ? (size_t)(ce - c) : strlen(c);
      if (cl == l && !strncmp(c, p, l)) {
        snprintf(why, nw, "parameter '%.*s' is listed twice", (int)(l > 40 ? 40 : l), p);
        return -1;
      }
      c += cl + (ce ? 1 : 0);
    }
    if (len + l + 2 > nc || len + l + 2 > d->size) {
      snprintf(why, nw, "too long (at most %zu characters)", d->size - 1);
      return -1;
    }
    if (count) canon[len++] = ',';
    memcpy(canon + len, p, l);
    len += l;
    canon[len] = 0;
    count++;
    if (!comma) break;
    p = comma + 1;
  }
  snprintf(dst->params, sizeof dst->params, "%s", canon);
  dst->params_kind = BPS_PARAMS_LIST;
  dst->nparam_names = count;
  return 0;
}

static int convert(const key_def *d, const char *raw, bps_job *dst, char *canon, size_t nc,
                   char *why, size_t nw) {
  void *field = (char *)dst + d->off;
  canon[0] = 0;
  if (!*raw && d->type != K_STRING) {
    snprintf(why, nw, "empty value");
    return -1;
  }
  switch (d->type) {
  case K_INT: return conv_int(d, raw, field, canon, nc, why, nw);
  case K_U64: return conv_u64(raw, field, canon, nc, why, nw);
  case K_REAL: return conv_real(d, raw, field, canon, nc, why, nw);
  case K_BOOL: return conv_bool(raw, field, canon, nc, why, nw);
  case K_ENUM: return conv_enum(d, raw, field, canon, nc, why, nw);
  case K_STRING: return conv_string(d, raw, field, canon, nc, why, nw);
  case K_PATTERN: return conv_pattern(d, raw, field, canon, nc, why, nw);
  case K_QUBITS: return conv_qubits(raw, dst, canon, nc, why, nw);
  case K_PAULI: return conv_pauli(d, raw, field, canon, nc, why, nw);
  case K_PARAMS: return conv_params(d, raw, dst, canon, nc, why, nw);
  }
  snprintf(why, nw, "internal error: unknown key type");
  return -1;
}

/* Allowed values of a key, as shown in messages and the key reference. */
static const char *allowed_text(const key_def *d, char *buf, size_t n) {
  switch (d->type) {
  case K_INT:
    if (d->flags & F_OPENMAX) snprintf(buf, n, "integer >= %.0f", d->min);
    else snprintf(buf, n, "integer %.0f..%.0f", d->min, d->max);
    break;
  case K_U64: snprintf(buf, n, "integer 0..2^64-1"); break;
  case K_REAL:
    if (d->flags & F_GT) snprintf(buf, n, "real > %g", d->min);
    else snprintf(buf, n, "real in [%g, %g]", d->min, d->max);
    break;
  case K_BOOL: snprintf(buf, n, "true, false (or yes, no, 1, 0)"); break;
  case K_ENUM: {
    size_t len = 0;
    buf[0] = 0;
    int idx = 0;
    for (const char *p = d->values; p && len < n; idx++) {
      const char *bar = strchr(p, '|');
      int l = (int)(bar ? (size_t)(bar - p) : strlen(p));
      if (!d->navail || idx < d->navail) appendf(buf, n, &len, "%s%.*s", idx ? ", " : "", l, p);
      else appendf(buf, n, &len, " (%.*s reserved)", l, p);
      p = bar ? bar + 1 : NULL;
    }
    break;
  }
  case K_STRING: snprintf(buf, n, "file path"); break;
  case K_PATTERN:
    snprintf(buf, n,
             (d->flags & F_SINGLE) ? "k, n, n+k, n-k, k*n" : "comma list of k, n, n+k, n-k, k*n");
    break;
  case K_QUBITS:
    snprintf(buf, n, "a:b, a:b:step, a,b,c (each 1..%d; mode = moments: 1..%d)", BPS_MAX_QUBITS,
             BPS_ENS_MAX_QUBITS);
    break;
  case K_PAULI: snprintf(buf, n, "letters I, X, Y, Z"); break;
  case K_PARAMS: snprintf(buf, n, "all, first, last, or a comma list of names"); break;
  }
  return buf;
}

/* ---------------------------------------------------------------------------------------
 * Parse context, messages
 * ------------------------------------------------------------------------------------- */

typedef struct {
  char *val; /* canonical value (owned), NULL = not set */
  int line;  /* > 0: job-file line */
  int set;   /* >= 0: index of the --set override; -1 otherwise */
} slot;

typedef struct {
  const char *src;
  const char *const *sets;
  /* reader */
  const char *p;
  int line;
  /* state */
  int failed, rc;
  char msg[1024];
  int sec_line[NSEC]; /* first header line of each section */
  int sec_set[NSEC];  /* first --set that names the section, or -1 */
  slot slots[NKEYS];
  bps_job scratch; /* conversion target while checking single values */
} ctx;

static void fail(ctx *c, int code, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;
static void fail(ctx *c, int code, const char *fmt, ...) {
  if (c->failed) return;
  c->failed = 1;
  c->rc = code;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(c->msg, sizeof c->msg, fmt, ap);
  va_end(ap);
}

/* "file:line", "--set sec.key=value" or "file". */
static const char *where(const ctx *c, int line, int set, char *buf, size_t n) {
  if (line > 0) snprintf(buf, n, "%s:%d", c->src, line);
  else if (set >= 0) snprintf(buf, n, "--set %.80s", c->sets[set]);
  else snprintf(buf, n, "%s", c->src);
  return buf;
}

static const char *key_where(const ctx *c, int k, char *buf, size_t n) {
  return where(c, c->slots[k].line, c->slots[k].set, buf, n);
}

static int find_section(const char *name) {
  for (int s = 0; s < NSEC; s++)
    if (!strcmp(name, sections[s].name)) return s;
  return -1;
}

static int find_key(int sec, const char *key) {
  for (int k = 0; k < NKEYS; k++)
    if (keys[k].sec == sec && !strcmp(keys[k].key, key)) return k;
  return -1;
}

static void unknown_section(ctx *c, const char *loc, const char *name) {
  char best[32] = "", list[160] = "", sb[64];
  int bestd = 1000;
  size_t len = 0;
  for (int s = 0; s < NSEC; s++) {
    int dd = edit_distance(name, sections[s].name);
    if (dd < bestd && close_enough(sections[s].name, dd)) {
      bestd = dd;
      snprintf(best, sizeof best, "%s", sections[s].name);
    }
    appendf(list, sizeof list, &len, "%s[%s]", s ? " " : "", sections[s].name);
  }
  if (best[0])
    fail(c, BPS_ERR_JOB, "%s: unknown section [%s] (did you mean [%s]?); valid sections: %s",
         loc, show(name, sb, sizeof sb), best, list);
  else
    fail(c, BPS_ERR_JOB, "%s: unknown section [%s]; valid sections: %s", loc,
         show(name, sb, sizeof sb), list);
}

static void unknown_key(ctx *c, const char *loc, int sec, const char *key) {
  char best[40] = "", list[300] = "", other[120] = "", kb[64];
  int bestd = 1000;
  size_t len = 0, olen = 0;
  for (int k = 0; k < NKEYS; k++) {
    if (keys[k].sec == sec) {
      int dd = edit_distance(key, keys[k].key);
      if (dd < bestd && close_enough(keys[k].key, dd)) {
        bestd = dd;
        snprintf(best, sizeof best, "%s", keys[k].key);
      }
      appendf(list, sizeof list, &len, "%s%s", len ? ", " : "", keys[k].key);
    } else if (!strcmp(keys[k].key, key) && olen < sizeof other) {
      appendf(other, sizeof other, &olen, "%s[%s]", olen ? ", " : "", sections[keys[k].sec].name);
    }
  }
  const char *ks = show(key, kb, sizeof kb);
  const char *sn = sections[sec].name;
  if (best[0])
    fail(c, BPS_ERR_JOB, "%s: [%s] %s: unknown key (did you mean '%s'?)", loc, sn, ks, best);
  else if (other[0])
    fail(c, BPS_ERR_JOB, "%s: [%s] %s: unknown key (it belongs in %s); keys of [%s]: %s", loc,
         sn, ks, other, sn, list);
  else fail(c, BPS_ERR_JOB, "%s: [%s] %s: unknown key; keys of [%s]: %s", loc, sn, ks, sn, list);
}

/* Validate and record one value for table key k. */
static void set_key(ctx *c, int k, const char *raw, int line, int set) {
  const key_def *d = &keys[k];
  slot *s = &c->slots[k];
  char lb[200], vb[64], canon[BPS_JOB_STR_LEN * 2], why[400];
  const char *loc = where(c, line, set, lb, sizeof lb);
  if (line > 0 && s->line > 0) {
    fail(c, BPS_ERR_JOB, "%s: [%s] %s: duplicate key (first set at line %d)", loc,
         sections[d->sec].name, d->key, s->line);
    return;
  }
  /* the value must read back the same from a job file (canonical text, --set values) */
  for (const char *q = raw; *q; q++) {
    if (((unsigned char)*q < 0x20 && *q != '\t') || *q == 0x7f) {
      fail(c, BPS_ERR_JOB, "%s: [%s] %s: control character 0x%02x in the value", loc,
           sections[d->sec].name, d->key, (unsigned char)*q);
      return;
    }
    if ((*q == '#' || *q == ';') && (q == raw || is_space((unsigned char)q[-1]))) {
      fail(c, BPS_ERR_JOB, "%s: [%s] %s: '%c' %s would start a comment in a job file", loc,
           sections[d->sec].name, d->key, *q,
           q == raw ? "at the start of a value" : "after a space");
      return;
    }
  }
  int rc = convert(d, raw, &c->scratch, canon, sizeof canon, why, sizeof why);
  if (rc == -2) {
    fail(c, BPS_ERR_JOB, "%s: [%s] %s", loc, sections[d->sec].name, why);
    return;
  }
  if (rc) {
    fail(c, BPS_ERR_JOB, "%s: [%s] %s = %s: %s", loc, sections[d->sec].name, d->key,
         show(raw, vb, sizeof vb), why);
    return;
  }
  if (strlen(d->key) + 3 + strlen(canon) > BPS_JOB_MAX_LINE) {
    fail(c, BPS_ERR_JOB, "%s: [%s] %s: value too long (a job line has at most %d characters)",
         loc, sections[d->sec].name, d->key, BPS_JOB_MAX_LINE);
    return;
  }
  char *copy = malloc(strlen(canon) + 1);
  if (!copy) {
    fail(c, BPS_ERR_MEM, "out of memory");
    return;
  }
  strcpy(copy, canon);
  free(s->val);
  s->val = copy;
  s->line = line;
  s->set = set;
}

/* ---------------------------------------------------------------------------------------
 * libinih glue: the line reader and the key handler
 * ------------------------------------------------------------------------------------- */

/* fgets-like reader over the text: hands inih one physical line at a time, cleaned. */
static char *job_reader(char *str, int num, void *stream) {
  ctx *c = stream;
  if (c->failed || !*c->p) return NULL;
  const char *b = c->p, *e = strchr(b, '\n');
  if (!e) e = b + strlen(b);
  c->p = *e ? e + 1 : e;
  c->line++;
  char lb[200];
  const char *loc = where(c, c->line, -1, lb, sizeof lb);
  if (c->line == 1 && (unsigned char)b[0] == 0xEF && (unsigned char)b[1] == 0xBB &&
      (unsigned char)b[2] == 0xBF)
    b += 3; /* UTF-8 byte order mark */
  if (e > b && e[-1] == '\r') e--;
  for (const char *q = b; q < e; q++)
    if (((unsigned char)*q < 0x20 && *q != '\t') || *q == 0x7f) {
      fail(c, BPS_ERR_JOB, "%s: control character 0x%02x in the line", loc, (unsigned char)*q);
      return NULL;
    }
  while (b < e && is_space((unsigned char)*b)) b++;
  /* comments: a line starting with # or ;, or # / ; after whitespace */
  if (b < e && (*b == '#' || *b == ';')) e = b;
  for (const char *q = b + 1; q < e; q++)
    if ((*q == '#' || *q == ';') && is_space((unsigned char)q[-1])) {
      e = q;
      break;
    }
  while (e > b && is_space((unsigned char)e[-1])) e--;
  size_t len = (size_t)(e - b);
  size_t limit = num > 2 ? (size_t)num - 2 : 0;
  if (limit > BPS_JOB_MAX_LINE) limit = BPS_JOB_MAX_LINE;
  if (len > limit) {
    fail(c, BPS_ERR_JOB, "%s: line too long (%zu characters; at most %zu, comments excepted)",
         loc, len, limit);
    return NULL;
  }
  if (len == 0) {
    snprintf(str, (size_t)num, "\n");
    return str;
  }
  if (*b == '[') {
    const char *close = memchr(b, ']', len);
    if (!close) {
      fail(c, BPS_ERR_JOB, "%s: section header without ']'", loc);
      return NULL;
    }
    if (close != e - 1) {
      fail(c, BPS_ERR_JOB, "%s: text after the section header ']'", loc);
      return NULL;
    }
    const char *nb = b + 1, *ne = close;
    while (nb < ne && is_space((unsigned char)*nb)) nb++;
    while (ne > nb && is_space((unsigned char)ne[-1])) ne--;
    char name[64];
    snprintf(name, sizeof name, "%.*s", (int)(ne - nb), nb);
    int s = (size_t)(ne - nb) < sizeof name ? find_section(name) : -1;
    if (s < 0) {
      unknown_section(c, loc, name);
      return NULL;
    }
    if (!c->sec_line[s]) c->sec_line[s] = c->line;
    snprintf(str, (size_t)num, "[%s]\n", name);
    return str;
  }
  /* key = value: '=' must come before any ':' (inih splits at the first of them) */
  size_t eq = 0;
  while (eq < len && b[eq] != '=' && b[eq] != ':') eq++;
  if (eq >= len || b[eq] != '=') {
    fail(c, BPS_ERR_JOB, "%s: '%.*s%s': expected 'key = value', '[section]' or a comment", loc,
         (int)(len > 40 ? 40 : len), b, len > 40 ? "..." : "");
    return NULL;
  }
  if (eq == 0) {
    fail(c, BPS_ERR_JOB, "%s: missing key name before '='", loc);
    return NULL;
  }
  memcpy(str, b, len);
  str[len] = '\n';
  str[len + 1] = 0;
  return str;
}

static int job_handler(void *user, const char *section, const char *name, const char *value) {
  ctx *c = user;
  if (c->failed) return 0;
  char lb[200];
  const char *loc = where(c, c->line, -1, lb, sizeof lb);
  if (!value) { /* only with ini_allow_no_value */
    fail(c, BPS_ERR_JOB, "%s: expected 'key = value'", loc);
    return 0;
  }
  if (!section[0]) {
    fail(c, BPS_ERR_JOB, "%s: key '%.40s' outside any section (start with a header like [scan])",
         loc, name);
    return 0;
  }
  int s = find_section(section);
  if (s < 0) {
    unknown_section(c, loc, section);
    return 0;
  }
  int k = find_key(s, name);
  if (k < 0) {
    unknown_key(c, loc, s, name);
    return 0;
  }
  set_key(c, k, value, c->line, -1);
  return !c->failed;
}

/* ---------------------------------------------------------------------------------------
 * --set overrides
 * ------------------------------------------------------------------------------------- */

static void apply_set(ctx *c, int i) {
  const char *arg = c->sets[i];
  char lb[200];
  const char *loc = where(c, 0, i, lb, sizeof lb);
  if (!arg) {
    fail(c, BPS_ERR_JOB, "--set #%d: NULL override", i + 1);
    return;
  }
  const char *eq = strchr(arg, '=');
  const char *dot = strchr(arg, '.');
  if (!eq || !dot || dot > eq) {
    fail(c, BPS_ERR_JOB, "%s: expected section.key=value (e.g. --set scan.samples=200)", loc);
    return;
  }
  char sec[64], key[64];
  const char *a = arg, *ae = dot;
  while (a < ae && is_space((unsigned char)*a)) a++;
  while (ae > a && is_space((unsigned char)ae[-1])) ae--;
  const char *k0 = dot + 1, *ke = eq;
  while (k0 < ke && is_space((unsigned char)*k0)) k0++;
  while (ke > k0 && is_space((unsigned char)ke[-1])) ke--;
  if ((size_t)(ae - a) >= sizeof sec || (size_t)(ke - k0) >= sizeof key) {
    fail(c, BPS_ERR_JOB, "%s: section or key name too long", loc);
    return;
  }
  snprintf(sec, sizeof sec, "%.*s", (int)(ae - a), a);
  snprintf(key, sizeof key, "%.*s", (int)(ke - k0), k0);
  int s = find_section(sec);
  if (s < 0) {
    unknown_section(c, loc, sec);
    return;
  }
  int k = find_key(s, key);
  if (k < 0) {
    unknown_key(c, loc, s, key);
    return;
  }
  /* the value, trimmed; it must read back the same from a job file */
  const char *v = eq + 1, *ve = v + strlen(v);
  while (v < ve && is_space((unsigned char)*v)) v++;
  while (ve > v && is_space((unsigned char)ve[-1])) ve--;
  size_t vl = (size_t)(ve - v);
  char *val = malloc(vl + 1);
  if (!val) {
    fail(c, BPS_ERR_MEM, "out of memory");
    return;
  }
  memcpy(val, v, vl);
  val[vl] = 0;
  set_key(c, k, val, 0, i);
  free(val);
  if (c->sec_set[s] < 0) c->sec_set[s] = i;
}

/* ---------------------------------------------------------------------------------------
 * Cross-key validation at every scanned n
 * ------------------------------------------------------------------------------------- */

/* Fail at key k with "[sec] key = value: reason". */
static void fail_key(ctx *c, int k, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;
static void fail_key(ctx *c, int k, const char *fmt, ...) {
  if (c->failed) return;
  char lb[200], vb[64], why[600];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(why, sizeof why, fmt, ap);
  va_end(ap);
  fail(c, BPS_ERR_JOB, "%s: [%s] %s = %s: %s", key_where(c, k, lb, sizeof lb),
       sections[keys[k].sec].name, keys[k].key, show(c->slots[k].val, vb, sizeof vb), why);
}

/* The key of a pair that was set explicitly (prefer a, then b, else a). */
static int blame(const ctx *c, int a, int b) {
  if (c->slots[a].line > 0 || c->slots[a].set >= 0) return a;
  if (c->slots[b].line > 0 || c->slots[b].set >= 0) return b;
  return a;
}

static int is_set(const ctx *c, int k) { return c->slots[k].line > 0 || c->slots[k].set >= 0; }

/* Evaluate pattern key k at n; on failure fail_key with the evaluator's reason. */
static int eval_at(ctx *c, int k, const char *pattern, int n, int *w, int max, int *count,
                   int qmax) {
  bps_error_clear();
  if (bps_pattern_eval_max(pattern, n, qmax, w, max, count)) {
    char reason[400];
    snprintf(reason, sizeof reason, "%s", bps_error_message());
    bps_error_clear();
    fail_key(c, k, "invalid at n = %d: %s", n, reason);
    return -1;
  }
  return 0;
}

static void check_dqnn(ctx *c, const bps_job *job) {
  const bps_model_spec *m = &job->model;
  const int mom = job->mode == BPS_JOB_MODE_MOMENTS,
            qmax = mom ? BPS_ENS_MAX_QUBITS : BPS_MAX_QUBITS;
  int kw = find_key(S_DQNN, "widths"), kp = find_key(S_DQNN, "perceptron"),
      kd = find_key(S_DQNN, "depth"), kt = find_key(S_COST, "targets");
  char pb[32];
  if (m->depth != 0 && m->perceptron != BPS_PERC_BRICK && m->perceptron != BPS_PERC_PAULI) {
    fail_key(c, kd, "depth applies only to perceptron = brick or pauli (perceptron = %s)",
             enum_name(keys[kp].values, (int)m->perceptron, pb, sizeof pb));
    return;
  }
  for (int i = 0; i < job->nq && !c->failed; i++) {
    int n = job->qubits[i], w[BPS_MAX_LAYERS], cnt;
    if (eval_at(c, kw, m->widths, n, w, BPS_MAX_LAYERS, &cnt, qmax)) return;
    if (cnt < 2) {
      fail_key(c, kw, "needs at least 2 layers (input and output widths)");
      return;
    }
    for (int l = 1; l < cnt && !mom; l++)
      if (w[l - 1] + w[l] > BPS_MAX_QUBITS) {
        fail_key(c, kw,
                 "layers %d and %d hold %d + %d qubits at n = %d, more than %d in one state",
                 l - 1, l, w[l - 1], w[l], n, BPS_MAX_QUBITS);
        return;
      }
    /* the drawn perceptrons' own limits (sampling modes; dqnn.c refuses the same later,
     * after planning, with exit 1) */
    const int pmax = m->perceptron == BPS_PERC_HAAR    ? BPS_HAAR_MAX_QUBITS
                     : m->perceptron == BPS_PERC_PAULI ? BPS_PAULI_MAX_QUBITS
                                                       : 0;
    for (int l = 1; l < cnt && !mom && pmax; l++)
      if (w[l - 1] + 1 > pmax) {
        fail_key(c, blame(c, kw, kp),
                 "perceptron = %s acts on %d + 1 qubits between layers %d and %d at n = %d, "
                 "more than %d (%s); mode = moments has no such limit",
                 enum_name(keys[kp].values, (int)m->perceptron, pb, sizeof pb), w[l - 1], l - 1,
                 l, n, pmax,
                 pmax == BPS_HAAR_MAX_QUBITS ? "a drawn Haar unitary of dimension 2^15"
                                             : "a Pauli rotation applied as a dense gate");
        return;
      }
    if (m->perceptron == BPS_PERC_TOY || m->perceptron == BPS_PERC_BRICK)
      for (int l = 1; l < cnt; l++)
        if (w[l] != w[0]) {
          int k = blame(c, kp, kw);
          fail_key(c, k,
                   "perceptron = %s needs equal widths, but widths = %s gives %d and %d at n = %d",
                   enum_name(keys[kp].values, (int)m->perceptron, pb, sizeof pb), m->widths,
                   w[0], w[l], n);
          return;
        }
    /* dqnn.c builds the 2*depth layers of a brick DQNN itself, from two-qubit bricks (the
     * builder's own checks come too late: after the whole plan, with exit 1) */
    if (m->perceptron == BPS_PERC_BRICK && (cnt != 2 || w[0] < 2)) {
      fail_key(c, blame(c, kp, kw),
               "perceptron = brick builds 2*depth layers of one width "
               "itself, from two-qubit bricks: widths must be two equal "
               "entries of at least 2 such as n,n (widths = %s gives %d "
               "entries of %d at n = %d)",
               m->widths, cnt, w[0], n);
      return;
    }
    if (m->targets == BPS_TARGET_UNITARY && w[0] != w[cnt - 1]) {
      int k = blame(c, kt, kw);
      fail_key(c, k,
               "targets = unitary needs equal input and output widths, but widths = %s "
               "gives %d and %d at n = %d",
               m->widths, w[0], w[cnt - 1], n);
      return;
    }
  }
}

static void check_vh_qbm(ctx *c, const bps_job *job, int sec) {
  const bps_model_spec *m = &job->model;
  int kv = find_key(sec, "visible"), kh = find_key(sec, "hidden"),
      ko = find_key(sec, "objective"), kpa = find_key(sec, "pauli");
  char ob[32];
  /* by value, like depth: the canonical text lists the default pauli = Z with every
   * objective and must parse again (the result writer re-parses it) */
  if (m->vh_objective != BPS_VH_OBJ_PAULI && strcmp(m->vh_pauli, keys[kpa].def)) {
    fail_key(c, kpa, "pauli applies only to objective = pauli (objective = %s)",
             enum_name(keys[ko].values, (int)m->vh_objective, ob, sizeof ob));
    return;
  }
  for (int i = 0; i < job->nq && !c->failed; i++) {
    int n = job->qubits[i], w[BPS_MAX_LAYERS], cnt, v, h;
    if (eval_at(c, kv, m->visible, n, w, BPS_MAX_LAYERS, &cnt, BPS_MAX_QUBITS)) return;
    if (cnt != 1) {
      fail_key(c, kv, "must be a single entry, not a list");
      return;
    }
    v = w[0];
    if (eval_at(c, kh, m->hidden, n, w, BPS_MAX_LAYERS, &cnt, BPS_MAX_QUBITS)) return;
    if (cnt != 1) {
      fail_key(c, kh, "must be a single entry, not a list");
      return;
    }
    h = w[0];
    if (v + h > BPS_MAX_QUBITS) {
      fail_key(c, blame(c, kh, kv), "visible + hidden = %d + %d qubits at n = %d, more than %d",
               v, h, n, BPS_MAX_QUBITS);
      return;
    }
    if (m->vh_objective == BPS_VH_OBJ_PAULI && (int)strlen(m->vh_pauli) != v) {
      fail_key(c, blame(c, kpa, kv), "%d Pauli letters but visible = %s is %d qubit%s at n = %d",
               (int)strlen(m->vh_pauli), m->visible, v, v == 1 ? "" : "s", n);
      return;
    }
  }
}

/* mode = moments: the ensembles no exact engine can average, refused with the reason (the
 * engines refuse the same; here the job names the key). Qubit counts beyond a state's size
 * are allowed only in this mode. */
static void check_moments(ctx *c, const bps_job *job) {
  const bps_model_spec *m = &job->model;
  const int kq = find_key(S_SCAN, "qubits"), kmode = find_key(S_SCAN, "mode");
  if (job->mode != BPS_JOB_MODE_MOMENTS) {
    for (int i = 0; i < job->nq; i++)
      if (job->qubits[i] > BPS_MAX_QUBITS) {
        fail_key(c, kq,
                 "qubit count %d is out of range (allowed: 1..%d); larger n only with "
                 "mode = moments, which holds no state",
                 job->qubits[i], BPS_MAX_QUBITS);
        return;
      }
    return;
  }
  if (m->kind == BPS_MODEL_QBM) {
    fail_key(c, kmode,
             "mode = moments needs a circuit model (dqnn, vh or hea): the QBM's Gibbs "
             "state e^{-H(theta)}/Z is not a product of independently averaged gates");
    return;
  }
  if (m->kind == BPS_MODEL_VH && m->vh_layers > 1) {
    fail_key(c, blame(c, find_key(S_VH, "layers"), kmode),
             "mode = moments: vh with %d layers repeats the same couplings J_t in every layer, "
             "so its layers are not independent random elements (use layers = 1)",
             m->vh_layers);
    return;
  }
  if (m->kind == BPS_MODEL_DQNN && m->perceptron == BPS_PERC_PAULI && m->noise != BPS_NOISE_NONE &&
      m->noise != BPS_NOISE_GLOBAL_DEPOLARIZING && m->noise_placement == BPS_NOISE_AFTER_GATE) {
    fail_key(c, blame(c, find_key(S_NOISE, "placement"), kmode),
             "mode = moments: noise after a random Pauli rotation acts on the drawn string's "
             "support, which is correlated with the rotation; use placement = layer");
    return;
  }
  if ((m->kind == BPS_MODEL_DQNN || m->kind == BPS_MODEL_HEA) &&
      m->targets == BPS_TARGET_UNITARY && m->inputs != BPS_INPUT_ZERO && m->pairs > 1) {
    fail_key(c, blame(c, find_key(S_COST, "pairs"), find_key(S_COST, "targets")),
             "mode = moments: targets = unitary with random inputs and pairs > 1 couples the "
             "inputs and targets of different pairs through the shared V (a fourth moment); "
             "use inputs = zero or pairs = 1");
    return;
  }
}

static void check_job(ctx *c, const bps_job *job) {
  const bps_model_spec *m = &job->model;
  unsigned mbit = (1u << m->kind) | MODE_BIT(job->mode);
  check_moments(c, job);
  if (c->failed) return;
  if (job->mode == BPS_JOB_MODE_LANDSCAPE && m->kind == BPS_MODEL_QBM) {
    fail_key(c, find_key(S_SCAN, "mode"),
             "mode = landscape needs a circuit model (dqnn, vh or hea): the QBM state "
             "e^{-H(theta)}/Z is not a trigonometric polynomial in theta, so FFT cuts do not apply");
    return;
  }
  if (sec_applies(S_COST, mbit)) {
    int kt = find_key(S_COST, "type"), kg = find_key(S_COST, "targets");
    if (m->cost == BPS_COST_LOCAL && m->targets == BPS_TARGET_UNITARY) {
      char lb[200];
      int k = blame(c, kg, kt), other = k == kg ? kt : kg;
      fail_key(c, k,
               "the local cost needs product targets (targets = zero or product), "
               "not targets = unitary with type = local (%s)",
               key_where(c, other, lb, sizeof lb));
      return;
    }
  }
  if (sec_applies(S_NOISE, mbit)) {
    int kc = find_key(S_NOISE, "channel"), kp = find_key(S_NOISE, "p"),
        kl = find_key(S_NOISE, "placement");
    if (m->noise == BPS_NOISE_GLOBAL_DEPOLARIZING && m->noise_placement == BPS_NOISE_AFTER_GATE) {
      fail_key(c, blame(c, kl, kc),
               "channel = global_depolarizing acts on the whole layer "
               "register: it needs placement = layer, not gate");
      return;
    }
    if (m->noise == BPS_NOISE_NONE && m->noise_p != 0.0) {
      fail_key(c, blame(c, kp, kc),
               "p has no effect with channel = none (choose a channel or "
               "set p = 0)");
      return;
    }
  }
  switch (m->kind) {
  case BPS_MODEL_DQNN: check_dqnn(c, job); break;
  case BPS_MODEL_VH: check_vh_qbm(c, job, S_VH); break;
  case BPS_MODEL_QBM: check_vh_qbm(c, job, S_QBM); break;
  case BPS_MODEL_HEA: break;
  }
}

/* ---------------------------------------------------------------------------------------
 * Canonical values and text, from the job's fields (one source for the text, the hash, the
 * comparison of jobs and the JSON)
 * ------------------------------------------------------------------------------------- */

enum { VAL_LEN = BPS_JOB_STR_LEN * 2 }; /* longest canonical value, with room */

/* Sections and modes of job (the applicability mask of sec_applies). */
static unsigned job_mbit(const bps_job *job) {
  return (1u << job->model.kind) | MODE_BIT(job->mode);
}

/* The canonical spelling of key k's value in job (the inverse of convert()). */
static const char *key_value(const bps_job *job, int k, char *buf, size_t n) {
  const key_def *d = &keys[k];
  const void *field = (const char *)job + d->off;
  switch (d->type) {
  case K_INT:
    if (d->size == sizeof(long)) snprintf(buf, n, "%ld", *(const long *)field);
    else snprintf(buf, n, "%d", *(const int *)field);
    break;
  case K_U64: snprintf(buf, n, "%" PRIu64, *(const uint64_t *)field); break;
  case K_REAL: real_canon(*(const double *)field, buf, n); break;
  case K_BOOL: snprintf(buf, n, "%s", *(const int *)field ? "true" : "false"); break;
  case K_ENUM: enum_name(d->values, *(const int *)field, buf, n); break;
  case K_QUBITS: qubits_canon(job->qubits, job->nq, buf, n); break;
  case K_PARAMS: snprintf(buf, n, "%s", job->params); break;
  case K_STRING:
  case K_PATTERN:
  case K_PAULI: snprintf(buf, n, "%s", (const char *)field); break;
  }
  return buf;
}

/* A growing string (oom set, and further output dropped, when memory runs out). */
typedef struct {
  char *p;
  size_t len, cap;
  int oom;
} sbuf;

static void sb_put(sbuf *b, const char *s, size_t n) {
  if (b->oom) return;
  if (b->len + n + 1 > b->cap) {
    size_t cap = b->cap ? b->cap : 1024;
    while (cap < b->len + n + 1) cap *= 2;
    char *q = realloc(b->p, cap);
    if (!q) {
      b->oom = 1;
      return;
    }
    b->p = q;
    b->cap = cap;
  }
  memcpy(b->p + b->len, s, n);
  b->len += n;
  b->p[b->len] = 0;
}

static void sb_str(sbuf *b, const char *s) { sb_put(b, s, strlen(s)); }

/* Where text goes: into a string, or through the job hash. */
typedef struct {
  sbuf *out;
  uint64_t hash;
} sink;

static void sink_put(sink *o, const char *s) {
  if (o->out) sb_str(o->out, s);
  else o->hash = bps_fnv1a(s, strlen(s), o->hash);
}

/* The canonical text of job restricted to the keys whose role is in roles: a "[section]"
 * header for every applicable section (a blank line before each but the first), then
 * "key = value" lines in table order. */
/* A F_QUIETDEF key at its default: left out of the canonical text and the job JSON. */
static int quiet_default(const bps_job *job, int k) {
  char v[VAL_LEN];
  return (keys[k].flags & F_QUIETDEF) && !strcmp(key_value(job, k, v, sizeof v), keys[k].def);
}

static void emit_text(const bps_job *job, unsigned roles, sink *o) {
  unsigned mbit = job_mbit(job);
  char v[VAL_LEN];
  int prev = -1;
  for (int k = 0; k < NKEYS; k++) {
    int s = keys[k].sec;
    if (!sec_applies(s, mbit) || quiet_default(job, k)) continue;
    if (s != prev) {
      if (prev >= 0) sink_put(o, "\n");
      sink_put(o, "[");
      sink_put(o, sections[s].name);
      sink_put(o, "]\n");
      prev = s;
    }
    if (!(roles & BPS_ROLE_BIT(keys[k].role))) continue;
    sink_put(o, keys[k].key);
    sink_put(o, " = ");
    sink_put(o, key_value(job, k, v, sizeof v));
    sink_put(o, "\n");
  }
}

static char *build_text(const bps_job *job) {
  sbuf b = {0};
  sink o = {&b, 0};
  emit_text(job, BPS_ROLES_ALL, &o);
  if (b.oom || !b.p) {
    free(b.p);
    return NULL;
  }
  return b.p;
}

/* ---------------------------------------------------------------------------------------
 * Public API
 * ------------------------------------------------------------------------------------- */

int bps_job_parse(const char *text, const char *source_name, const char *const *sets, int nsets,
                  bps_job *job) {
  bps_error_clear();
  BPS_CHECK(text && job && nsets >= 0 && (sets || nsets == 0), BPS_ERR_ARG, "NULL argument");
  int rc = BPS_OK;
  memset(job, 0, sizeof *job);
  ctx *c = calloc(1, sizeof *c);
  BPS_CHECK_GOTO(c, BPS_ERR_MEM, "out of memory");
  c->src = source_name ? source_name : "<job>";
  c->sets = sets;
  c->p = text;
  for (int s = 0; s < NSEC; s++) c->sec_set[s] = -1;
  for (int k = 0; k < NKEYS; k++) c->slots[k].set = -1;
  bps_model_spec_default(&c->scratch.model);

  /* 1. the file */
  int irc = ini_parse_stream(job_reader, c, job_handler, c);
  if (!c->failed && irc > 0) {
    char lb[200];
    fail(c, BPS_ERR_JOB, "%s: syntax error", where(c, irc, -1, lb, sizeof lb));
  } else if (!c->failed && irc < 0) {
    fail(c, BPS_ERR_MEM, "%s: the INI parser failed (code %d)", c->src, irc);
  }
  /* 2. overrides */
  for (int i = 0; i < nsets && !c->failed; i++) apply_set(c, i);
  /* 3. required keys and defaults */
  for (int k = 0; k < NKEYS && !c->failed; k++) {
    if (c->slots[k].val) continue;
    if (!keys[k].def) {
      fail(c, BPS_ERR_JOB, "%s: [%s] %s: missing required key (e.g. %s = %s)", c->src,
           sections[keys[k].sec].name, keys[k].key, keys[k].key,
           keys[k].type == K_QUBITS ? "2:8" : "...");
      break;
    }
    set_key(c, k, keys[k].def, 0, -1);
  }
  /* 4. which sections apply */
  unsigned mbit = 0;
  if (!c->failed) {
    int km = find_key(S_SCAN, "model"), kmo = find_key(S_SCAN, "mode");
    int model = enum_find(keys[km].values, c->slots[km].val, NULL, 0);
    int mode = enum_find(keys[kmo].values, c->slots[kmo].val, NULL, 0);
    mbit = (1u << model) | MODE_BIT(mode);
    for (int s = 0; s < NSEC && !c->failed; s++) {
      if (sec_applies(s, mbit)) continue;
      if (!c->sec_line[s] && c->sec_set[s] < 0) continue;
      char lb[200], mb[200], ok[160];
      size_t ol = 0;
      for (int t = 0; t < NSEC; t++)
        if (sec_applies(t, mbit))
          appendf(ok, sizeof ok, &ol, "%s[%s]", ol ? " " : "", sections[t].name);
      if (sections[s].models & mbit) { /* the mode, not the model, excludes it */
        fail(c, BPS_ERR_JOB,
             "%s: section [%s] applies only to mode = landscape (mode = %s from "
             "%s%s)",
             where(c, c->sec_line[s], c->sec_line[s] ? -1 : c->sec_set[s], lb, sizeof lb),
             sections[s].name, c->slots[kmo].val, key_where(c, kmo, mb, sizeof mb),
             is_set(c, kmo) ? "" : ", the default");
        break;
      }
      fail(c, BPS_ERR_JOB,
           "%s: section [%s] does not apply to model = %s (model from %s%s); "
           "sections for %s: %s",
           where(c, c->sec_line[s], c->sec_line[s] ? -1 : c->sec_set[s], lb, sizeof lb),
           sections[s].name, model_names[model], key_where(c, km, mb, sizeof mb),
           is_set(c, km) ? "" : ", the default", model_names[model], ok);
    }
  }
  /* 5. store the applicable keys into the job */
  if (!c->failed) {
    bps_model_spec_default(&job->model);
    for (int k = 0; k < NKEYS && !c->failed; k++) {
      if (!sec_applies(keys[k].sec, mbit)) continue;
      char canon[BPS_JOB_STR_LEN * 2], why[400];
      if (convert(&keys[k], c->slots[k].val, job, canon, sizeof canon, why, sizeof why) ||
          strcmp(canon, c->slots[k].val))
        fail(c, BPS_ERR_INTERNAL, "[%s] %s = %s: canonical value does not convert back (%s)",
             sections[keys[k].sec].name, keys[k].key, c->slots[k].val, why);
    }
    snprintf(job->source, sizeof job->source, "%s", c->src);
    for (int k = 0; k < NKEYS; k++)
      job->key_line[k] = c->slots[k].line > 0   ? c->slots[k].line
                         : c->slots[k].set >= 0 ? -(1 + c->slots[k].set)
                                                : 0;
  }
  /* 6. combinations at every n */
  if (!c->failed) check_job(c, job);
  /* 7. canonical text */
  if (!c->failed) {
    job->text = build_text(job);
    if (!job->text) fail(c, BPS_ERR_MEM, "out of memory");
  }

  /* fail() kept the first failure in c (the INI callbacks cannot return one) */
  BPS_CHECK_GOTO(!c->failed, c->rc, "%s", c->msg);
cleanup:
  if (c)
    for (int k = 0; k < NKEYS; k++) free(c->slots[k].val);
  free(c);
  if (rc) bps_job_free(job);
  return rc;
}

int bps_job_load(const char *path, const char *const *sets, int nsets, bps_job *job) {
  bps_error_clear();
  BPS_CHECK(path && job, BPS_ERR_ARG, "NULL argument");
  memset(job, 0, sizeof *job);
  struct stat st;
  BPS_CHECK(stat(path, &st) == 0, BPS_ERR_IO, "%s: cannot open job file: %s", path,
            strerror(errno));
  BPS_CHECK(S_ISREG(st.st_mode), BPS_ERR_IO, "%s: not a regular file%s", path,
            S_ISDIR(st.st_mode) ? " (a directory)" : "");
  BPS_CHECK(st.st_size <= BPS_JOB_MAX_FILE, BPS_ERR_IO,
            "%s: job file too large (%lld bytes; at most %d)", path, (long long)st.st_size,
            BPS_JOB_MAX_FILE);
  int rc = BPS_OK;
  char *buf = NULL;
  FILE *f = fopen(path, "rb");
  BPS_CHECK_GOTO(f, BPS_ERR_IO, "%s: cannot open job file: %s", path, strerror(errno));
  buf = malloc((size_t)BPS_JOB_MAX_FILE + 2);
  BPS_CHECK_GOTO(buf, BPS_ERR_MEM, "out of memory");
  size_t n = fread(buf, 1, (size_t)BPS_JOB_MAX_FILE + 1, f);
  int err = ferror(f);
  fclose(f);
  f = NULL;
  BPS_CHECK_GOTO(!err, BPS_ERR_IO, "%s: read error", path);
  BPS_CHECK_GOTO(n <= BPS_JOB_MAX_FILE, BPS_ERR_IO,
                 "%s: job file too large (more than %d bytes)", path, BPS_JOB_MAX_FILE);
  buf[n] = 0;
  const char *nul = memchr(buf, 0, n);
  if (nul) {
    int line = 1;
    for (const char *q = buf; q < nul; q++) line += *q == '\n';
    BPS_FAIL_GOTO(BPS_ERR_JOB, "%s:%d: NUL byte in the job file (is it a text file?)", path, line);
  }
  BPS_CALL_GOTO(bps_job_parse(buf, path, sets, nsets, job));
cleanup:
  if (f) fclose(f);
  free(buf);
  return rc;
}

void bps_job_free(bps_job *job) {
  if (!job) return;
  free(job->text);
  job->text = NULL;
}

uint64_t bps_job_hash(const bps_job *job) {
  if (!job || !job->text) return 0;
  sink o = {NULL, BPS_FNV_OFFSET};
  emit_text(job, BPS_ROLES_NOT_OUTPUT, &o);
  return o.hash;
}

int bps_job_key_role(const char *section, const char *key) {
  int s = section && key ? find_section(section) : -1, k = s >= 0 ? find_key(s, key) : -1;
  return k >= 0 ? (int)keys[k].role : -1;
}

int bps_job_key(const bps_job *job, int i, const char **section, const char **key,
                bps_job_role *role, char *value, size_t n) {
  if (!job || i < 0) return 0;
  unsigned mbit = job_mbit(job);
  for (int k = 0; k < NKEYS; k++) {
    if (!sec_applies(keys[k].sec, mbit) || quiet_default(job, k) || i-- > 0) continue;
    if (section) *section = sections[keys[k].sec].name;
    if (key) *key = keys[k].key;
    if (role) *role = keys[k].role;
    if (value && n) key_value(job, k, value, n);
    return 1;
  }
  return 0;
}

int bps_job_value(const bps_job *job, const char *section, const char *key, char *buf, size_t n) {
  if (!buf || !n) return 0;
  buf[0] = 0;
  if (!job || !section || !key) return 0;
  int s = find_section(section), k = s >= 0 ? find_key(s, key) : -1;
  if (k < 0 || !sec_applies(s, job_mbit(job))) return 0;
  key_value(job, k, buf, n);
  return 1;
}

int bps_job_diff(const bps_job *a, const bps_job *b, unsigned roles, char *buf, size_t n) {
  if (buf && n) buf[0] = 0;
  if (!a || !b) return a != b;
  unsigned ma = job_mbit(a), mb = job_mbit(b);
  char va[VAL_LEN], vb[VAL_LEN], la[VAL_LEN + 64], lb[VAL_LEN + 64];
  for (int k = 0; k < NKEYS; k++) {
    int s = keys[k].sec, ina = sec_applies(s, ma), inb = sec_applies(s, mb);
    if (!(roles & BPS_ROLE_BIT(keys[k].role)) || (!ina && !inb)) continue;
    if (ina) key_value(a, k, va, sizeof va);
    if (inb) key_value(b, k, vb, sizeof vb);
    if (ina && inb && !strcmp(va, vb)) continue;
    snprintf(la, sizeof la, "%s = %s", keys[k].key, va);
    snprintf(lb, sizeof lb, "%s = %s", keys[k].key, vb);
    if (buf && n)
      snprintf(buf, n, "in [%s]: '%.80s' vs '%.80s'", sections[s].name, ina ? la : "(absent)",
               inb ? lb : "(absent)");
    return 1;
  }
  return 0;
}

/* s as a JSON string: quotes, backslashes and control characters escaped; other bytes
 * (UTF-8 included) as they are. */
static void json_str(sbuf *b, const char *s) {
  sb_str(b, "\"");
  for (; *s; s++) {
    unsigned char ch = (unsigned char)*s;
    char esc[8];
    if (ch == '"' || ch == '\\') {
      esc[0] = '\\', esc[1] = (char)ch, esc[2] = 0;
      sb_str(b, esc);
    } else if (ch < 0x20) {
      snprintf(esc, sizeof esc, "\\u%04x", ch);
      sb_str(b, esc);
    } else {
      sb_put(b, s, 1);
    }
  }
  sb_str(b, "\"");
}

/* "sections" (values = 1) or "roles" (values = 0): {"scan": {"model": ..., ...}, ...}. */
static void json_keys(sbuf *b, const bps_job *job, int values) {
  unsigned mbit = job_mbit(job);
  char v[VAL_LEN];
  int prev = -1;
  sb_str(b, "{");
  for (int k = 0; k < NKEYS; k++) {
    int s = keys[k].sec;
    if (!sec_applies(s, mbit) || quiet_default(job, k)) continue;
    if (s != prev) {
      sb_str(b, prev >= 0 ? "}, " : "");
      json_str(b, sections[s].name);
      sb_str(b, ": {");
      prev = s;
    } else {
      sb_str(b, ", ");
    }
    json_str(b, keys[k].key);
    sb_str(b, ": ");
    key_type t = keys[k].type;
    if (!values) json_str(b, role_names[keys[k].role]);
    else if (t == K_INT || t == K_U64 || t == K_REAL || t == K_BOOL)
      sb_str(b, key_value(job, k, v, sizeof v)); /* canonical spellings are JSON literals */
    else json_str(b, key_value(job, k, v, sizeof v));
  }
  sb_str(b, prev >= 0 ? "}}" : "}");
}

/* The registers of the model at n as JSON members (after "n"). */
static int json_registers(sbuf *b, const bps_model_spec *m, int n) {
  char num[32];
  int w[BPS_MAX_LAYERS + 1], cnt = 0, v = 0;
  switch (m->kind) {
  case BPS_MODEL_DQNN:
    BPS_CALL(bps_pattern_eval_max(m->widths, n, BPS_ENS_MAX_QUBITS, w, BPS_MAX_LAYERS + 1, &cnt));
    sb_str(b, ", \"widths\": [");
    for (int i = 0; i < cnt; i++) {
      snprintf(num, sizeof num, "%s%d", i ? ", " : "", w[i]);
      sb_str(b, num);
    }
    sb_str(b, "]");
    break;
  case BPS_MODEL_VH:
  case BPS_MODEL_QBM:
    BPS_CALL(bps_pattern_eval(m->visible, n, w, 1, &cnt));
    v = w[0];
    BPS_CALL(bps_pattern_eval(m->hidden, n, w, 1, &cnt));
    snprintf(num, sizeof num, "%d", v);
    sb_str(b, ", \"n_visible\": ");
    sb_str(b, num);
    snprintf(num, sizeof num, "%d", w[0]);
    sb_str(b, ", \"n_hidden\": ");
    sb_str(b, num);
    break;
  case BPS_MODEL_HEA:
    snprintf(num, sizeof num, "%d", bps_spec_hea_layers(m, n));
    sb_str(b, ", \"layers\": ");
    sb_str(b, num);
    break;
  }
  return BPS_OK;
}

int bps_job_json(const bps_job *job, char **json) {
  BPS_CHECK(job && json, BPS_ERR_ARG, "NULL argument");
  *json = NULL;
  BPS_CHECK(job->text, BPS_ERR_ARG, "the job was not parsed (no job text)");
  int rc = BPS_OK;
  sbuf b = {0};
  char v[VAL_LEN];
  sb_str(&b, "{\"format\": 1, \"model\": ");
  json_str(&b, key_value(job, find_key(S_SCAN, "model"), v, sizeof v));
  sb_str(&b, ", \"mode\": ");
  json_str(&b, key_value(job, find_key(S_SCAN, "mode"), v, sizeof v));
  sb_str(&b, ", \"sections\": ");
  json_keys(&b, job, 1);
  sb_str(&b, ", \"roles\": ");
  json_keys(&b, job, 0);
  sb_str(&b, ", \"qubits\": [");
  for (int i = 0; i < job->nq; i++) {
    snprintf(v, sizeof v, "%s%d", i ? ", " : "", job->qubits[i]);
    sb_str(&b, v);
  }
  sb_str(&b, "], \"per_n\": [");
  for (int i = 0; i < job->nq; i++) {
    snprintf(v, sizeof v, "%s{\"n\": %d", i ? ", " : "", job->qubits[i]);
    sb_str(&b, v);
    rc = json_registers(&b, &job->model, job->qubits[i]);
    BPS_CHECK_GOTO(!rc, rc, "registers at n = %d", job->qubits[i]);
    sb_str(&b, "}");
  }
  sb_str(&b, "]}");
  BPS_CHECK_GOTO(!b.oom, BPS_ERR_MEM, "out of memory");
  *json = b.p;
  b.p = NULL;
cleanup:
  free(b.p);
  return rc;
}

const char *bps_job_where(const bps_job *job, const char *section, const char *key, char *buf,
                          size_t n) {
  if (!buf || !n) return "";
  buf[0] = 0;
  if (!job || !section || !key) return buf;
  int s = find_section(section), k = s >= 0 ? find_key(s, key) : -1;
  if (k < 0) return buf;
  int l = job->key_line[k];
  if (l > 0) snprintf(buf, n, "%s:%d", job->source, l);
  else if (l < 0) snprintf(buf, n, "--set %s.%s", section, key);
  else snprintf(buf, n, "%s (default)", job->source);
  return buf;
}

/* Sections a model reads, e.g. "[cost]: models dqnn, hea". */
static const char *models_text(unsigned models, char *buf, size_t n) {
  size_t len = 0;
  buf[0] = 0;
  if (models == M_ALL) {
    snprintf(buf, n, "every model");
    return buf;
  }
  for (int m = 0; m < 4; m++)
    if (models & (1u << m))
      appendf(buf, n, &len, "%s%s", len ? ", " : "model = ", model_names[m]);
  return buf;
}

/* A Markdown table cell: characters with a Markdown meaning are backslash-escaped. */
static void md_cell(FILE *out, const char *s) {
  for (; *s; s++) {
    if (strchr("|*_<>`[]\\", *s)) fputc('\\', out);
    fputc(*s, out);
  }
}

/* What the roles mean (the key reference ends with it). */
static const char roles_text[] =
    "Roles say what a different value changes: result = the numbers; ensemble = which samples "
    "of the same random ensemble are drawn (files that differ only there can be pooled); "
    "layout = how the same numbers are grouped and stored; output = nothing in the results "
    "(the job hash, checkpoints and bpscan merge ignore these keys).";

void bps_job_print_keys(FILE *out, int markdown) {
  char ab[200], mb[80];
  if (markdown) {
    fprintf(out, "| section | key | default | allowed values | role | meaning |\n");
    fprintf(out, "|---|---|---|---|---|---|\n");
    for (int k = 0; k < NKEYS; k++) {
      const key_def *d = &keys[k];
      fprintf(out, "| `[%s]` | `%s` | ", sections[d->sec].name, d->key);
      if (d->def) fprintf(out, "`%s`", d->def);
      else fprintf(out, "(required)");
      fprintf(out, " | ");
      md_cell(out, allowed_text(d, ab, sizeof ab));
      fprintf(out, " | %s | ", role_names[d->role]);
      md_cell(out, d->help);
      fprintf(out, " |\n");
    }
    fprintf(out, "\nSections apply by model:");
    for (int s = 0; s < NSEC; s++)
      fprintf(out, " `[%s]` %s%s%s", sections[s].name,
              models_text(sections[s].models, mb, sizeof mb),
              mode_text(sections[s].modes, " with"), s + 1 < NSEC ? ";" : ".\n");
    fprintf(out, "\n%s\n", roles_text);
    return;
  }
  fprintf(out, "Job file keys (INI). Override any key with --set section.key=value.\n");
  int prev = -1;
  for (int k = 0; k < NKEYS; k++) {
    const key_def *d = &keys[k];
    if (d->sec != prev)
      fprintf(out, "\n[%s]  (%s%s)\n", sections[d->sec].name,
              models_text(sections[d->sec].models, mb, sizeof mb),
              mode_text(sections[d->sec].modes, ","));
    prev = d->sec;
    char kv[80];
    snprintf(kv, sizeof kv, "%s = %s", d->key, d->def ? d->def : "(required)");
    fprintf(out, "  %-28s %s\n      %s (role: %s)\n", kv, allowed_text(d, ab, sizeof ab),
            d->help, role_names[d->role]);
  }
  fprintf(out, "\n%s\n", roles_text);
}
