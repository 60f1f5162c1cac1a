/* result: a finished scan in memory, as the driver hands it to h5io (the HDF5 schema is
 * documented in README "Result files"). Rank 0 owns it; all arrays are in sample order. */
#ifndef BPSCAN_RESULT_H
#define BPSCAN_RESULT_H

#include <stdint.h>

#include "bpscan/stats.h"

/* Most pieces of an array job (--slice K/N, N <= 1e6; a file claiming more is refused). */
#define BPS_MAX_SLICES 1000000

/* State diagnostics of the output state of pair 0 (visible subsystem for vh/qbm). */
enum {
  BPS_DIAG_PURITY = 0,
  BPS_DIAG_ENTROPY,
  BPS_DIAG_RENYI2,
  BPS_DIAG_TRACE_DISTANCE,
  BPS_NDIAG
};
extern const char *const bps_diag_names[BPS_NDIAG]; /* "purity", "entropy", "renyi2",
                                                       "trace_distance" */

/* Landscape scans ([scan] mode = landscape): per qubit count a list of per-sample fields
 * (README "Result files", group /n{N}/landscape/). A field holds one array of per-sample
 * shape dims[0..ndim-1] for every sample; fields with stats = 1 also get their statistics
 * over the samples, element by element (bps_result_n_stats). */
#define BPS_LAND_MAX_FIELDS 24
#define BPS_LAND_NAME_LEN 24
typedef struct {
  char name[BPS_LAND_NAME_LEN]; /* dataset name, e.g. "lipschitz" */
  int ndim;                     /* per-sample rank: 0 (one value), 1 or 2 */
  long dims[2];
  int stats;    /* 1: mean/mean_se/var/var_se below are filled and written */
  double *data; /* [samples * elems], sample-major */
  double *mean, *mean_se, *var, *var_se; /* [elems] each (stats = 1) */
} bps_land_field;

typedef struct {
  char directions[16]; /* "random" | "axes" | "plane" */
  int pad;             /* fine-grid factor of the Lipschitz / extremum search */
  int ncut;            /* cuts per sample: random 1, axes P (tracked), plane 1 (2-D) */
  int ndeg;            /* entries of degree and size: random 1, axes P, plane 2 */
  int *degree;         /* [ndeg] declared degree K of each cut (plane: K1, K2) */
  int *size;           /* [ndeg] samples N of each cut (plane: N1, N2) */
  int nfield;
  bps_land_field field[BPS_LAND_MAX_FIELDS];
} bps_landscape_n;

/* Elements per sample of a field (product of its dims). */
long bps_land_field_elems(const bps_land_field *f);
/* The field called name, or NULL. */
bps_land_field *bps_landscape_field(bps_landscape_n *l, const char *name);
/* Free everything a bps_landscape_n owns (data, statistics, degree, size) and zero it;
 * not the struct itself. NULL-safe. */
void bps_landscape_n_free(bps_landscape_n *l);
/* A new bps_landscape_n with tpl's layout (directions, pad, cuts, degrees, sizes, field
 * names, shapes and stats flags) and room for S samples in every field's data (no
 * statistics); free with bps_landscape_n_free and free(). */
int bps_landscape_n_alloc(const bps_landscape_n *tpl, long S, bps_landscape_n **out);

/* Exact-moments scans ([scan] mode = moments): per qubit count the records of its items
 * (item 0: E[C], Var C and the output purity; item 1 + k: E and Var of the derivative by
 * tracked parameter k), MOM_REC doubles each, values in extended precision as three
 * doubles (bps_mom_encode). h5io derives the public datasets from them; array-job pieces
 * store the records themselves (they hold a subset of the items) for `bpscan merge`. */
enum {
  BPS_MOMREC_MEAN = 0, /* three doubles per extended value from here on */
  BPS_MOMREC_VAR = 3,
  BPS_MOMREC_VAR_LO = 6, /* certified bounds (equal to VAR when exact) */
  BPS_MOMREC_VAR_HI = 9,
  BPS_MOMREC_PURITY = 12, /* item 0 only (NaN otherwise or when unavailable) */
  BPS_MOMREC_EXACT = 15,  /* 1 exact, 0 bounds */
  BPS_MOMREC_PEAK = 16,   /* peak Pauli pairs of the evaluation (pauli engine) */
  BPS_MOMREC_BOND = 17,   /* largest bond dimension (mps engine) */
  BPS_MOMREC_LEN = 18
};
typedef struct {
  char engine[16]; /* "chain" | "pauli" | "mps" | "dense" */
  char precision[96];
  int nitems;  /* items in this file: 1 + ntracked, or a piece's subset */
  long *item;  /* [nitems] item numbers, increasing */
  double *rec; /* [nitems * BPS_MOMREC_LEN] */
} bps_mom_n;

/* Extended values as three doubles: mantissa high and low parts and the binary exponent,
 * exact for a 64-bit mantissa and any exponent (values reach 2^-4000). */
void bps_mom_encode(long double v, double out[3]);
long double bps_mom_decode(const double in[3]);
/* log2 of a non-negative extended value (-inf for 0, NaN otherwise), for result files. */
double bps_mom_log2(long double v);

typedef struct {
  int n;                      /* scanned qubit count */
  long samples;               /* S */
  int nparams;                /* P_all: parameters of the model */
  int ntracked;               /* P: tracked parameters */
  int *tracked;               /* [P] indices into the parameter vector */
  char **param_names;         /* [P_all] */
  int q_in, q_out;            /* register widths */
  int diag_qubits;            /* qubits of the diagnosed state */
  const char *representation; /* "dense" | "factored" */
  double *cost;               /* [S] */
  double *grad;               /* [S * P] row-major */
  double *diag;               /* [S * BPS_NDIAG] row-major */
  double *params;             /* [S * P_all] row-major, or NULL (store_samples = false) */
  /* statistics (stats.h) */
  bps_stats cost_stats;
  bps_stats *grad_stats; /* [P] */
  bps_stats diag_stats[BPS_NDIAG];
  double grad_var_mean, grad_var_mean_se; /* mean over tracked parameters of Var dC */
  double page_entropy, page_purity;       /* Haar prediction for the diagnosed state, or NaN */
  /* Array-job piece (bps_result.slice_count > 1): the sample indices (increasing) of the
   * rows above, stored as dataset sample_index [S]; NULL for a complete scan. The
   * statistics of a piece cover its own samples only. */
  long *sample_index;
  long samples_total;    /* the job's samples per n (= samples for a complete scan) */
  bps_landscape_n *land; /* landscape scans: the cut fields; NULL for gradient scans */
  bps_mom_n *mom;        /* moments scans: the exact moments; NULL otherwise (no samples) */
} bps_result_n;

typedef struct {
  const char *job_text; /* canonical job text after overrides */
  uint64_t job_hash;
  uint64_t seed;
  const char *model; /* "dqnn", ... */
  const char *grad_method;
  int mpi_ranks, omp_threads;
  const char *host; /* host name of rank 0 */
  /* every rank's host (README "Result files", root attribute hosts): "name:ranks" per
   * distinct host in order of its lowest rank, joined by ';', ranks as ranges ("0-3,8");
   * a merged file: the pieces' values in piece order joined by " | "; NULL: unknown */
  const char *hosts;
  double start_time, end_time; /* seconds since the epoch */
  double wall_plan, wall_compute, wall_reduce, wall_write;
  int slice_index, slice_count; /* array-job piece K of N (slice_count <= 1: whole scan) */
  int nn;                       /* number of qubit counts */
  bps_result_n *per_n;          /* [nn], increasing n */
} bps_result;

/* Allocate the per-sample arrays of r for r->samples rows of its shape (r->ntracked,
 * r->nparams): cost, grad, diag, grad_stats, and params (with_params), sample_index
 * (with_index) and land (a layout copy of land_tpl) when asked for. On failure the arrays
 * allocated so far stay in r for its owner to free. */
int bps_result_n_alloc(bps_result_n *r, int with_params, int with_index,
                       const bps_landscape_n *land_tpl);

/* Fill the statistics of r (cost_stats, grad_stats (allocated by the caller, [P]),
 * diag_stats, grad_var_mean and its SE, and for landscape scans the statistics of every
 * field with stats = 1, allocated here) from its per-sample arrays, in sample order. The
 * driver and `bpscan merge` both use this, so a merged file equals a single run. */
int bps_result_n_stats(bps_result_n *r);

#endif
