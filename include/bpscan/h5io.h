/* h5io: bpscan result files (HDF5). src/h5io.c is the ONLY file in bpscan that includes
 * <hdf5.h>; this header exposes no HDF5 types. The file layout (schema_version 1) is
 * documented in README "Result files" and checked by tests/t700-h5io.c (C API) and
 * tests/t701-h5-python.c (h5py, h5dump).
 *
 * Not collective: rank 0 alone calls these, with serial HDF5 drivers of the parallel HDF5
 * library (no MPI-IO). The writer streams: per-sample rows are appended to one chunk
 * buffer per dataset and every full chunk is encoded (shuffle + deflate, the bytes HDF5's
 * filters store) and written at once, so it holds one chunk per dataset (at most 1 MiB
 * each) whatever the number of samples. It writes through its own POSIX file driver, which
 * never lets HDF5 see a failed write (HDF5 1.10 cannot close a file after one and then
 * crashes at exit) but remembers it: a full disk or quota is a clean BPS_ERR_IO at close.
 * Every function turns HDF5's automatic error printing off (H5Eset_auto2) and reports
 * failures as BPS_ERR_IO with a message naming the file and the object, followed by the
 * innermost HDF5 error text.
 */
#ifndef BPSCAN_H5IO_H
#define BPSCAN_H5IO_H

#include <stdio.h>

#include "bpscan/result.h"

#define BPS_H5_SCHEMA_VERSION 1

/* The streamed writer (the one write path; bps_h5_write below is a whole result through
 * it). Rank 0 only; the file equals bps_h5_write's of the same result, bitwise in every
 * dataset (chunks and compression included):
 *   bps_h5_stream_open(path, head, force, &s)     head: job_text (must parse: job_json),
 *                                                 slice_count (a piece or not); the checks
 *                                                 of bps_h5_write on path and its temporary
 *   per qubit count, in increasing n:
 *     bps_h5_stream_n_begin(s, shape, with_params) shape: n, samples, nparams, ntracked,
 *                                                 tracked, param_names, samples_total, the
 *                                                 landscape layout (land, no data needed);
 *                                                 with_params: store the params dataset
 *     bps_h5_stream_rows(s, rows, count)  (repeated) the next count rows, in sample order,
 *                                                 from rows->cost, grad, diag, params,
 *                                                 sample_index (pieces) and land fields'
 *                                                 data (each its first count rows)
 *     bps_h5_stream_n_end(s, r)                   r: the shape and its statistics
 *   bps_h5_stream_close(s, res)                   res: root attributes and per_n statistics
 *                                                 (per-sample arrays not needed); frees s
 * After any failure call bps_h5_stream_abort(s) (frees s, removes the temporary file);
 * bps_h5_stream_close frees s whatever it returns. Errors as bps_h5_write's. */
typedef struct bps_h5_stream bps_h5_stream;
int bps_h5_stream_open(const char *path, const bps_result *head, int force, bps_h5_stream **s);
int bps_h5_stream_n_begin(bps_h5_stream *s, const bps_result_n *shape, int with_params);
int bps_h5_stream_rows(bps_h5_stream *s, const bps_result_n *rows, long count);
int bps_h5_stream_n_end(bps_h5_stream *s, const bps_result_n *r);
int bps_h5_stream_close(bps_h5_stream *s, const bps_result *res);
void bps_h5_stream_abort(bps_h5_stream *s);        /* NULL-safe */
double bps_h5_stream_busy(const bps_h5_stream *s); /* seconds spent in the writer so far */

/* Deferred chunk encoding, so that other ranks can encode (driver: assemble.c). After
 * bps_h5_stream_defer(s, 1) every chunk that fills (in bps_h5_stream_rows, or at
 * bps_h5_stream_flush after the last row of a qubit count) joins a pending list instead of
 * being encoded: bps_h5_stream_pending gives their number, bps_h5_stream_pending_raw(s, k,
 * &n) chunk k's n raw bytes (the whole chunk, an edge chunk's tail zero-filled; n a
 * multiple of 8), and bps_h5_stream_put(s, k, z, zlen) stores chunk k encoded (z =
 * bps_h5_chunk_encode of it, made on any rank), for k = 0, 1, ... in order, which does not
 * depend on who encoded what; once all are stored the list is empty again. Whatever is
 * still pending at bps_h5_stream_n_end is encoded there. A host whose memory layout is not
 * the file's (big-endian) never defers: HDF5 filters. */
void bps_h5_stream_defer(bps_h5_stream *s, int on);
int bps_h5_stream_pending(const bps_h5_stream *s);
size_t bps_h5_stream_pending_bytes(const bps_h5_stream *s);
const void *bps_h5_stream_pending_raw(const bps_h5_stream *s, int k, size_t *n);
int bps_h5_stream_put(bps_h5_stream *s, int k, const void *z, size_t zlen);
int bps_h5_stream_flush(bps_h5_stream *s);
/* The bytes a chunk of n raw bytes (8-byte elements) is stored as in a per-sample dataset:
 * shuffle + deflate (what HDF5's filters make), or the raw bytes where this HDF5 has no
 * deflate filter. *out is malloc'ed. Not collective; any rank. */
int bps_h5_chunk_encode(const void *raw, size_t n, void **out, size_t *outlen);
/* Rows per chunk of a per-sample dataset of rows x cols 8-byte values (README "Result
 * files": at most 4096 rows and 1 MiB, whole rows). */
long bps_h5_chunk_rows(long rows, long cols);

/* Write res to path atomically: the whole file goes to "<path>.tmp.<pid>" in the same
 * directory (created O_EXCL, written, fsync'ed, closed), which is then moved onto path.
 * Without force an existing path is refused up front ("... exists; use --force to
 * overwrite") and the move is link()+unlink(), which fails rather than clobbers a file
 * created meanwhile (on file systems without hard links: check, then rename()). With force
 * the move is rename(), which replaces path atomically. On any failure the temporary file
 * is removed and path is left as it was.
 * res->wall_write < 0 (or NaN) means "not measured": the file then records the time spent
 * in the writer's calls until its last attribute (all but closing the file and the move).
 * Strings that are not valid UTF-8 are stored with each invalid byte replaced by '?'.
 * The root attribute job_json is job.c's bps_job_json of res->job_text, which must be a job
 * this bpscan parses (else BPS_ERR_ARG, nothing written); res->job_hash is stored as given.
 * Array-job pieces (res->slice_count > 1) get the root attributes slice_index/slice_count
 * and, per qubit count, the dataset sample_index [S] (i8, the rows' sample numbers,
 * increasing; required) and the attribute samples_total (i8); a complete scan
 * (slice_count <= 1) is written with slice_index = 0, slice_count = 1 and neither.
 * Landscape scans (some per_n[i].land != NULL) get the root attribute mode = "landscape"
 * (else "gradient") and, per such qubit count, the group /n{N}/landscape: attributes
 * directions, pad, num_cuts, fields (comma list), datasets degree/size (i4 [ndeg]), each
 * field as f8 [S, dims...] (chunked like the other per-sample data) and, for fields with
 * stats = 1, <field>_mean, _mean_se, _var, _var_se (f8 [dims...], scalar for ndim 0).
 * Field names are 1..BPS_LAND_NAME_LEN-1 characters of [A-Za-z0-9_], unique, and may not
 * clash with degree, size or another field's statistics datasets.
 * Returns BPS_OK, BPS_ERR_ARG (inconsistent res), BPS_ERR_MEM, BPS_ERR_EXISTS or
 * BPS_ERR_OUTPUT (as bps_h5_check_writable; a file that appeared while writing is
 * BPS_ERR_EXISTS) or BPS_ERR_IO. */
int bps_h5_write(const char *path, const bps_result *res, int force);

/* The driver's up-front check, before any computing: path is not a directory, does not
 * exist unless force, and its directory exists and lets us create a file there (tested by
 * creating and removing "<path>.tmp.<pid>"). BPS_OK, BPS_ERR_EXISTS (a file exists and not
 * force), BPS_ERR_OUTPUT (the path is unusable: no name, a directory, a directory that does
 * not exist, is not one or is not writable, a leftover temporary file) or BPS_ERR_MEM, with
 * a clear message. */
int bps_h5_check_writable(const char *path, int force);

/* *same = 1 if path is a result file of the job with job_hash and of the same slice
 * (slice_count <= 1: a complete scan): the restart of a run killed after its final rename
 * finds its result there. BPS_ERR_IO (as bps_h5_info) if it is not a readable result. */
int bps_h5_same_job(const char *path, uint64_t job_hash, int slice_index, int slice_count,
                    int *same);

/* `bpscan info FILE`: print a human summary of a result file to out: the job (the stored
 * job text parsed by job.c: model, the keys of the model's section, cost, noise,
 * representation, qubits, samples; "job text: not a job this bpscan reads (why)" when it
 * does not parse, and completeness "unknown"), provenance (version, commit, host, ranks, threads,
 * times, wall time per phase), one table row per qubit count (samples, parameters,
 * Var dC mean +- SE, cost mean, Var C +- SE, purity, entropy), and completeness: every
 * qubit count of the job's `qubits` key present with num_samples equal to its `samples`
 * key ("complete", or what is missing). An array-job piece (slice_count > 1) is reported as
 * "piece K of N" (in provenance and completeness, with its share of the samples); its
 * qubit counts may hold fewer samples than the job's without being incomplete. A landscape
 * scan (root mode = "landscape" or a /n{N}/landscape group) adds "mode landscape" to the job
 * and a table with one row per qubit count: directions, cuts per sample, degree (or its
 * min-max), the Lipschitz constant (mean over samples of the per-sample mean over cuts) +- SE,
 * the largest |aliasing|, the mean |slope_fft - slope_adjoint| and the mean cut_var.
 * Errors (BPS_ERR_IO): a missing or unreadable file, a file that is not HDF5, an HDF5 file
 * without schema_version ("not a bpscan result file"), a newer schema_version than this
 * build reads, or a damaged layout. An incomplete scan is not an error. */
int bps_h5_info(const char *path, FILE *out);

/* bps_h5_read of path in a child process, the result discarded: BPS_OK if the file reads,
 * its error (code and message) if not, BPS_ERR_IO naming the signal if reading it crashed
 * inside the HDF5 library (a damaged file). bps_h5_info reads in a child process too.
 * Only for processes without MPI (info, merge). */
int bps_h5_check_readable(const char *path);
/* bps_h5_info in this process (no child): for the HDF5 reader's fuzz target. */
int bps_h5_info_here(const char *path, FILE *out);

/* Metadata of a file read by bps_h5_read that bps_result does not hold (the writer stores
 * its own version strings, so these are only for messages). */
typedef struct {
  int schema_version;
  char bpscan_version[64];
  char git_commit[64];
  char hdf5_version[32];
} bps_h5_meta;

/* Load a result file written by bps_h5_write into *res (everything needed to write it again:
 * bps_h5_write(other, res, 0) gives a file with the same datasets and attributes; the
 * per-parameter statistics come from grad_mean/grad_var/grad_var_se, the other statistics
 * from the attributes; bps_stats fields the file does not store (min, max, m4, the var_se
 * of the diagnostics) are 0). Array-job pieces get slice_index/slice_count and, per qubit
 * count, sample_index and samples_total; a complete scan gets slice_index 0, slice_count 1,
 * sample_index NULL and samples_total = samples (also for files written before pieces
 * existed, which have no slice attributes). A /n{N}/landscape group is loaded into land
 * (fields in the order of the `fields` attribute, shapes from the datasets, statistics read
 * back from the <field>_mean... datasets; stats = 1 when all four exist); otherwise land is
 * NULL. meta may be NULL.
 * Every pointer in *res is malloc'ed; release them with bps_h5_result_free. On failure
 * *res is left empty (nothing to free). Errors (BPS_ERR_IO): the cases of bps_h5_info, and
 * a layout that does not match schema 1 (a missing or mis-shaped dataset or attribute,
 * named in the message). BPS_ERR_MEM when out of memory. */
int bps_h5_read(const char *path, bps_result *res, bps_h5_meta *meta);

/* Free every pointer of a result from bps_h5_read (or one built the same way, with every
 * string, array and name malloc'ed, as `bpscan merge` and the driver's assemble.c build
 * theirs) and zero *res. NULL-safe; a zeroed result is fine. */
void bps_h5_result_free(bps_result *res);

#endif
