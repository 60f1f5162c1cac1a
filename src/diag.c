/* PLACEHOLDER: replaced by the real implementation. */
#include "bpscan/error.h"
#include "kernels.h"
int bps_trace(const bps_state *s, double *out) { return BPS_ERR_INTERNAL; }
int bps_purity(const bps_state *s, double *out) { return BPS_ERR_INTERNAL; }
int bps_eigenvalues(const bps_state *s, double *w) { return BPS_ERR_INTERNAL; }
int bps_entropy_vn(const bps_state *s, double *out) { return BPS_ERR_INTERNAL; }
int bps_entropy_renyi2(const bps_state *s, double *out) { return BPS_ERR_INTERNAL; }
int bps_trace_distance_mixed(const bps_state *s, double *out) { return BPS_ERR_INTERNAL; }
int bps_trace_distance(const bps_state *a, const bps_state *b, double *out) { return BPS_ERR_INTERNAL; }
int bps_reduced_state(const bps_state *s, int nkeep, const int *keep, bps_state *out) { return BPS_ERR_INTERNAL; }
int bps_state_check(const bps_state *s, double tol) { return BPS_ERR_INTERNAL; }
