/* result: the names of the state diagnostics, in the order of the BPS_DIAG_* columns of
 * bps_result_n.diag (see include/bpscan/result.h). */
#include "bpscan/result.h"

const char *const bps_diag_names[BPS_NDIAG] = {"purity", "entropy", "renyi2", "trace_distance"};
