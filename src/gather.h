/* gather (internal to the driver): the collective steps of a scan. bps_agree ends a phase
 * (every rank learns whether all succeeded, and all end with the same code);
 * bps_gather_blocks brings every rank's new blocks to rank 0. */
#ifndef BPSCAN_GATHER_H
#define BPSCAN_GATHER_H

#include "plan.h"

/* Collective. This rank's rc if it failed, else the code of the lowest failing rank, else
 * BPS_OK. A rank that adopts another's code records no message (the failing rank prints
 * its own), except rank 0, which records "rank r failed". */
int bps_agree(int rc);

/* Collective. Pack this rank's blocks (mine[t]) as [task, count, records...], gather them
 * to rank 0 and put them into its blocks[] (rank 0's own blocks stay). */
int bps_gather_blocks(const bps_plan *p, bps_block *blocks, const unsigned char *mine);

#endif
