/* assemble (internal to the driver): rank 0 turns the gathered records into the result
 * that h5io writes (result.h): per n the per-sample arrays in sample order (for an
 * array-job piece only its own blocks, with their sample numbers), their statistics
 * (bps_result_n_stats, shared with `bpscan merge`), the Page predictions (diag.c) and the
 * job's provenance. */
#ifndef BPSCAN_ASSEMBLE_H
#define BPSCAN_ASSEMBLE_H

#include "bpscan/result.h"
#include "plan.h"

/* Fill res from the plan and every block of this file (blocks[t].rec of each task in the
 * slice): per_n, nn, the slice, job text and hash, seed, model, gradient method, ranks and
 * threads, every pointer malloc'ed (like a result read back by bps_h5_read). Times and
 * host are the caller's (host malloc'ed too). Free with bps_h5_result_free, also after a
 * failure. */
int bps_assemble(const bps_plan *p, const bps_block *blocks, bps_result *res);

#endif
