/* h5io: bpscan result files (HDF5). src/h5io.c is the ONLY file in bpscan that includes
 * <hdf5.h>; this header exposes no HDF5 types. The file layout (schema_version 1) is
 * documented in README "Result files" and checked by tests/t700-h5io.c (C API) and
 * tests/t701-h5-python.c (h5py, h5dump).
 *
 * Not collective: rank 0 alone calls these, with serial HDF5 drivers of the parallel HDF5
 * library (no MPI-IO); the result is small (statistics plus per-sample rows). The writer
 * builds the file in memory (core driver) and writes the bytes itself, so a full disk or
 * quota is a clean BPS_ERR_IO (HDF5 1.10 cannot close a file after a failed write and then
 * crashes at exit); it holds the compressed file in memory, twice, for a moment.
 * Every function turns HDF5's automatic error printing off (H5Eset_auto2) and reports
 * failures as BPS_ERR_IO with a message naming the file and the object, followed by the
 * innermost HDF5 error text.
 */
#ifndef BPSCAN_H5IO_H
#define BPSCAN_H5IO_H

#include <stdio.h>

#include "bpscan/result.h"

#define BPS_H5_SCHEMA_VERSION 1

/* Write res to path atomically: the whole file goes to "<path>.tmp.<pid>" in the same
 * directory (created O_EXCL, written, fsync'ed, closed), which is then moved onto path.
 * Without force an existing path is refused up front ("... exists; use --force to
 * overwrite") and the move is link()+unlink(), which fails rather than clobbers a file
 * created meanwhile (on file systems without hard links: check, then rename()). With force
 * the move is rename(), which replaces path atomically. On any failure the temporary file
 * is removed and path is left as it was.
 * res->wall_write < 0 (or NaN) means "not measured": the file then records the time this
 * call spent until its last attribute (all but writing the bytes out and the move).
 * Strings that are not valid UTF-8 are stored with each invalid byte replaced by '?'.
 * Returns BPS_OK, BPS_ERR_ARG (inconsistent res), BPS_ERR_MEM or BPS_ERR_IO. */
int bps_h5_write(const char *path, const bps_result *res, int force);

/* The driver's up-front check, before any computing: path is not a directory, does not
 * exist unless force, and its directory exists and lets us create a file there (tested by
 * creating and removing "<path>.tmp.<pid>"). BPS_OK or BPS_ERR_IO with a clear message. */
int bps_h5_check_writable(const char *path, int force);

/* `bpscan info FILE`: print a human summary of a result file to out: the job (model and
 * its shape keys from the job text), provenance (version, commit, host, ranks, threads,
 * times, wall time per phase), one table row per qubit count (samples, parameters,
 * Var dC mean +- SE, cost mean, Var C +- SE, purity, entropy), and completeness: every
 * qubit count of the job's `qubits` key present with num_samples equal to its `samples`
 * key ("complete", or what is missing).
 * Errors (BPS_ERR_IO): a missing or unreadable file, a file that is not HDF5, an HDF5 file
 * without schema_version ("not a bpscan result file"), a newer schema_version than this
 * build reads, or a damaged layout. An incomplete scan is not an error. */
int bps_h5_info(const char *path, FILE *out);

#endif
