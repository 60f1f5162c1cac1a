/* ckpt (internal to the driver): the checkpoint files of a scan, OUT.h5.ckpt/<tag>-r<rank>.bin.
 *
 * File format (native byte order: a checkpoint is resumed on the machine type that wrote
 * it):
 *   "BPSCKPT1" | u64 job hash (cfg->job_hash) | u32 version = 1 | u32 number of blocks |
 *   per block: i32[4] {n, block number, samples, rec_len} | samples x rec_len f64 records
 *              | u64 FNV-1a (hash.h) of the i32[4] header followed by the records
 * Each rank writes the blocks it has computed in this run to its own file (tag = the run,
 * shared by its ranks), atomically: a temporary file, fsync, rename. Resuming reads every
 * run<hex>-r<rank>.bin file of the directory, whatever number of ranks wrote them; other
 * names are ignored (and never removed).
 */
#ifndef BPSCAN_CKPT_H
#define BPSCAN_CKPT_H

#include "plan.h"

/* Write the blocks t with mine[t] and blocks[t].rec to this rank's file. BPS_ERR_IO. */
int bps_ckpt_write(const bps_plan *p, const bps_block *blocks, const unsigned char *mine,
                   const char *tag);

/* Read every checkpoint file of the directory into blocks[] and mark done[] (blocks
 * already done are kept); *nread = blocks restored. No directory: nothing restored.
 * BPS_ERR_CHECKPOINT for a file of another job, a corrupt or unreadable one, or a block
 * that does not fit the plan; BPS_ERR_MEM. */
int bps_ckpt_read_all(const bps_plan *p, bps_block *blocks, unsigned char *done, long *nread);

/* The checkpoint path OUT.h5.ckpt is absent or a directory (not a link to one): else
 * BPS_ERR_CHECKPOINT naming it (checked before computing). */
int bps_ckpt_check_dir(const bps_scan_config *cfg);

/* The blocks of one checkpoint file read from f (path and dir name it in messages), each
 * validated against the plan: n, block number, the block's exact count, the row width, the
 * checksum, and nothing after the last block (bps_ckpt_read_all; the fuzz target). */
int bps_ckpt_read_stream(const bps_plan *p, FILE *f, const char *path, const char *dir,
                         bps_block *blocks, unsigned char *done, long *nread);

/* Without --resume: BPS_ERR_CHECKPOINT if a checkpoint directory of an earlier run exists. */
int bps_ckpt_absent(const bps_scan_config *cfg);

/* Collective, for --resume on several ranks: whether every rank sees the files the others
 * write in the checkpoint directory, which must live on a file system every node shares
 * (README "Running on a cluster"). Each rank creates OUT.h5.ckpt/visible-<tag>-r<rank>.mark
 * (creating the directory if needed), then looks for the marker of rank (rank + 1) % size:
 * on a partition of the ranks into groups that see different directories the ring crosses
 * a group boundary somewhere, so some rank misses its neighbour's marker. The markers are
 * removed, and the directory too if this check created it. BPS_ERR_CHECKPOINT (on the
 * ranks that failed; the caller agrees) naming the rank, its host and the directory. */
int bps_ckpt_check_shared(const bps_scan_config *cfg, const char *tag);

/* Remove the checkpoint files bpscan wrote (by name, as regular files, .bin by the format's
 * magic), never following a link, then the directory if that left it empty (after the
 * result is written). Anything else is left in place, with a note on stderr. */
void bps_ckpt_remove(const bps_scan_config *cfg);

#endif
