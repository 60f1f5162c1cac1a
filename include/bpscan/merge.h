/* merge: `bpscan merge OUT.h5 PIECE.h5 ...` combines the pieces of an array job (files
 * written by `bpscan run --slice K/N`, one per K) into the result file of the whole scan.
 *
 * The merged file has the same datasets and non-provenance attributes, bit for bit, as a
 * single run of the whole scan with `-o OUT.h5`: the per-sample rows are put back in sample
 * order (from each piece's sample_index), the statistics are recomputed from them with
 * bps_result_n_stats (the driver's own function, in sample order), and the job text is
 * job.c's canonical text of the first piece's job with the override output.path=OUT.h5
 * (exactly what `bpscan run -o OUT.h5` stores; checkpoint_seconds is the first input's).
 * Jobs are job.c's business: each piece's stored text is parsed with bps_job_parse and the
 * pieces compared with bps_job_diff on every key whose role is not `output`.
 *
 * Provenance of the merged file (README "Running on a cluster"): mpi_ranks is the sum of
 * the pieces' ranks (all ranks that computed the scan), omp_threads the largest threads per
 * rank of any piece, host the distinct hosts of the pieces joined by ',', start/end the
 * earliest start and the latest end, and each wall_* time the sum over the pieces (the
 * compute time spent, not the elapsed time); bpscan_version/git_commit are the merging
 * program's.
 */
#ifndef BPSCAN_MERGE_H
#define BPSCAN_MERGE_H

#include <stddef.h>

#include "bpscan/result.h"

/* Combine count pieces (as loaded by bps_h5_read; names[i] names pieces[i] in messages, in
 * any order) into *merged, whose job text records out_path as its [output] path.
 * Refuses (BPS_ERR_USAGE, with the reason in msg, and shortened in the error traceback): an
 * input that is not a piece (slice_count 1), a piece whose job text this bpscan does not
 * parse, pieces of different jobs (a key of role result, ensemble or layout differs, or the
 * stored job hashes do), different
 * slice counts, two inputs that are the same piece, pieces that disagree on a qubit
 * count's layout (parameters, widths, representation, store_samples; for landscape scans
 * the directions, pad, cut degrees and sizes, field names and shapes, and a mix of landscape
 * and gradient pieces), a sample present in
 * two pieces, and gaps: missing pieces (which K) and missing samples (which n and which
 * sample numbers). BPS_ERR_MEM when out of memory. On success *merged is a complete scan
 * (slice_count 1) whose memory is malloc'ed: release it with bps_h5_result_free. */
int bps_merge_results(const bps_result *pieces, const char *const *names, int count,
                      const char *out_path, bps_result *merged, char *msg, size_t nmsg);

/* `bpscan merge [--force] OUT.h5 PIECE.h5 ...` (argv[0] = "merge"). Reads every piece,
 * merges, and writes OUT.h5 atomically with bps_h5_write (an existing OUT.h5 only with
 * --force; OUT.h5 may not be one of the inputs). Not collective (no MPI). Returns the exit
 * code bps_exit_code gives its error code, as `bpscan run` does: BPS_EXIT_OK,
 * BPS_EXIT_USAGE (bad arguments, an unreadable input or a refusal above: BPS_ERR_USAGE),
 * BPS_EXIT_EXISTS (OUT.h5 exists without --force), BPS_EXIT_OUTPUT (OUT.h5 cannot be
 * written there: no such directory, not writable, a directory) or BPS_EXIT_ERROR. */
int bps_merge_main(int argc, char **argv);

#endif
