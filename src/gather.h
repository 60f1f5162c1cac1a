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

/* Collective. Rank 0 gets in *hosts (malloc'ed) every rank's host name as
 * "name:ranks;name:ranks..." (README "Result files", root attribute hosts): one entry per
 * distinct host in order of its lowest rank, its ranks as ascending ranges "0-3,8". Host
 * names are cut at BPS_HOST_LEN - 1 bytes. The other ranks get NULL. */
#define BPS_HOST_LEN 64
int bps_gather_hosts(char **hosts);

#endif
