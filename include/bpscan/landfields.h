/* landfields: the landscape fields of a scan ([scan] mode = landscape; README "Landscape
 * scans"). For one qubit count it plans the per-sample fields from instance 0, computes
 * them for every sample with the cut functions of landscape.h (bps_landscape_cut along
 * random signs or along each axis, bps_landscape_plane for a plane) into a fixed-length
 * tail of the sample's record, and turns those tails back into the per-sample arrays of a
 * result (result.h bps_landscape_n, written as /n{N}/landscape).
 *
 * Tail layout: the fields in the order below, each field's values row-major over its
 * per-sample shape (P = tracked parameters, K = declared degrees; README "Result files"):
 *   random  10 cut scalars [1 each], power [K+1], direction [P], nu [P]
 *   axes    10 cut scalars [P each], power [P, Kmax+1], nu [P]
 *   plane   cut scalars [1 each, slope_fft and slope_adjoint 2], power [K1+K2+1],
 *           direction [2, P], nu [P], image [N1, N2]
 * The cut scalars are cut_mean, cut_var, aliasing, slope_fft, slope_adjoint, lipschitz,
 * bernstein, spread, cut_max, cut_min. Random signs come from the stream
 * (seed, n, sample, BPS_STREAM_LANDSCAPE); a plane moves the first half of the tracked
 * parameters along t and the rest along u.
 */
#ifndef BPSCAN_LANDFIELDS_H
#define BPSCAN_LANDFIELDS_H

#include <stdint.h>

#include "bpscan/model.h"
#include "bpscan/result.h"

typedef struct {
  bps_landscape_n layout; /* names, shapes, degrees and sizes of the fields (no data) */
  int directions;         /* BPS_LAND_RANDOM | BPS_LAND_AXES | BPS_LAND_PLANE (job.h) */
  int ntracked;           /* P */
  int *tracked;           /* [P] the parameters the cuts move (indices into theta) */
  int *R;                 /* [P] their integer degrees (landscape.h; equal for all samples) */
  long len;               /* doubles per sample in a record tail */
} bps_landfields;

/* Plan the fields of instance m (sample 0 of its n) for the P tracked parameters, the
 * directions and the fine-grid factor pad. BPS_ERR_JOB (with the reason) for what the job
 * asks and the model cannot do: no circuit (QBM), a plane of fewer than 2 parameters, a
 * tracked parameter with incommensurate frequencies, a plane grid above 4e6 points, or a
 * tail too long for a record. Free with bps_landfields_free. */
int bps_landfields_plan(const bps_model_instance *m, const int *tracked, int P, int directions,
                        int pad, bps_landfields *lf);
void bps_landfields_free(bps_landfields *lf); /* NULL-safe; zeroes *lf */

/* The tail of one sample: the cuts through m->theta (m = the instance of sample `sample`
 * of the planned n under seed), grad = the gradient of C at m->theta (m->nparams
 * entries) for slope_adjoint. tail has lf->len entries. */
int bps_landfields_sample(const bps_landfields *lf, const bps_model_instance *m, uint64_t seed,
                          uint32_t sample, const double *grad, double *tail);

/* Copy one record tail into row `row` of every field of res (a result with lf->layout's
 * layout, e.g. from bps_landscape_n_alloc(&lf->layout, S, &res)). */
void bps_landfields_put(bps_landscape_n *res, long row, const double *tail);

#endif
