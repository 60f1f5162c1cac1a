/* ckpt: writing, reading and removing checkpoint files (see ckpt.h for the format). */
#include "ckpt.h"

#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bpscan/comm.h"
#include "bpscan/error.h"
#include "bpscan/hash.h"

#define CKPT_MAGIC "BPSCKPT1"
#define CKPT_VERSION 1

static void ckpt_dir(const bps_scan_config *cfg, char *buf, size_t len) {
  snprintf(buf, len, "%s.ckpt", cfg->out_path);
}

/* The checksum of one block: FNV-1a of its header, continued over its records. */
static uint64_t block_sum(const int32_t hdr[4], const double *rec, size_t nd) {
  return bps_fnv1a(rec, nd * sizeof(double), bps_fnv1a(hdr, 4 * sizeof(int32_t), BPS_FNV_OFFSET));
}

/* The header and the blocks; 1 if every write succeeded. */
static int write_blocks(FILE *f, const bps_plan *p, const bps_block *blocks,
                        const unsigned char *mine) {
  uint32_t nb = 0, version = CKPT_VERSION;
  for (long t = 0; t < p->ntasks; t++) nb += mine[t] && blocks[t].rec;
  uint64_t hash = p->cfg->job_hash;
  int ok = fwrite(CKPT_MAGIC, 1, 8, f) == 8 && fwrite(&hash, 8, 1, f) == 1 &&
           fwrite(&version, 4, 1, f) == 1 && fwrite(&nb, 4, 1, f) == 1;
  for (int i = 0; i < p->nn && ok; i++)
    for (long b = 0; b < p->pn[i].nblocks && ok; b++) {
      long t = p->task_off[i] + b;
      if (!mine[t] || !blocks[t].rec) continue;
      int32_t hdr[4] = {p->pn[i].n, (int32_t)b, blocks[t].count, p->pn[i].rec_len};
      size_t nd = (size_t)blocks[t].count * (size_t)p->pn[i].rec_len;
      uint64_t sum = block_sum(hdr, blocks[t].rec, nd);
      ok = fwrite(hdr, sizeof hdr, 1, f) == 1 && fwrite(blocks[t].rec, sizeof(double), nd, f) == nd &&
           fwrite(&sum, 8, 1, f) == 1;
    }
  return ok;
}

int bps_ckpt_write(const bps_plan *p, const bps_block *blocks, const unsigned char *mine,
                   const char *tag) {
  int rc = BPS_OK;
  char dir[4096], path[4200], tmp[4300];
  FILE *f = NULL;
  ckpt_dir(p->cfg, dir, sizeof dir);
  snprintf(path, sizeof path, "%s/%s-r%d.bin", dir, tag, bps_comm_rank());
  snprintf(tmp, sizeof tmp, "%s.tmp", path);
  BPS_CHECK_GOTO(mkdir(dir, 0755) == 0 || errno == EEXIST, BPS_ERR_IO,
                 "cannot create checkpoint directory %s: %s", dir, strerror(errno));
  f = fopen(tmp, "wb");
  BPS_CHECK_GOTO(f, BPS_ERR_IO, "cannot write checkpoint %s: %s", tmp, strerror(errno));
  int ok = write_blocks(f, p, blocks, mine) && fflush(f) == 0 && fsync(fileno(f)) == 0;
  ok = (fclose(f) == 0) && ok;
  f = NULL;
  if (!ok || rename(tmp, path)) {
    unlink(tmp);
    BPS_FAIL_GOTO(BPS_ERR_IO, "writing checkpoint %s failed: %s", path, strerror(errno));
  }
cleanup:
  if (f) fclose(f);
  return rc;
}

/* The blocks of one checkpoint file (see bps_ckpt_read_all). */
static int read_file(const bps_plan *p, const char *path, const char *dir, bps_block *blocks,
                     unsigned char *done, long *nread) {
  int rc = BPS_OK;
  double *rec = NULL;
  char magic[8];
  uint64_t hash;
  uint32_t version, nb;
  FILE *f = fopen(path, "rb");
  BPS_CHECK_GOTO(f, BPS_ERR_CHECKPOINT, "cannot read checkpoint %s: %s", path, strerror(errno));
  BPS_CHECK_GOTO(fread(magic, 1, 8, f) == 8 && !memcmp(magic, CKPT_MAGIC, 8) &&
                     fread(&hash, 8, 1, f) == 1 && fread(&version, 4, 1, f) == 1 &&
                     fread(&nb, 4, 1, f) == 1 && version == CKPT_VERSION,
                 BPS_ERR_CHECKPOINT, "checkpoint %s is corrupt (bad header); remove %s to start over",
                 path, dir);
  BPS_CHECK_GOTO(hash == p->cfg->job_hash, BPS_ERR_CHECKPOINT,
                 "checkpoint %s belongs to a different job (hash %016llx, this job %016llx); "
                 "refusing to reuse it: remove %s or use another output path",
                 path, (unsigned long long)hash, (unsigned long long)p->cfg->job_hash, dir);
  for (uint32_t k = 0; k < nb; k++) {
    int32_t hdr[4];
    BPS_CHECK_GOTO(fread(hdr, sizeof hdr, 1, f) == 1, BPS_ERR_CHECKPOINT,
                   "checkpoint %s is truncated", path);
    int i = -1;
    for (int j = 0; j < p->nn; j++)
      if (p->pn[j].n == hdr[0]) i = j;
    long b = hdr[1];
    BPS_CHECK_GOTO(i >= 0 && b >= 0 && b < p->pn[i].nblocks && hdr[3] == p->pn[i].rec_len &&
                       hdr[2] >= 1 && hdr[2] <= p->cfg->block,
                   BPS_ERR_CHECKPOINT, "checkpoint %s: block (n=%d, %d) does not fit this job's plan",
                   path, hdr[0], hdr[1]);
    size_t nd = (size_t)hdr[2] * (size_t)hdr[3];
    uint64_t sum;
    rec = malloc(sizeof(double) * nd);
    BPS_CHECK_GOTO(rec, BPS_ERR_MEM, "out of memory");
    BPS_CHECK_GOTO(fread(rec, sizeof(double), nd, f) == nd && fread(&sum, 8, 1, f) == 1 &&
                       sum == block_sum(hdr, rec, nd),
                   BPS_ERR_CHECKPOINT, "checkpoint %s is corrupt (checksum); remove %s to start over",
                   path, dir);
    long t = p->task_off[i] + b;
    if (!done[t]) { /* else: the same block from two runs, identical by construction */
      blocks[t].rec = rec;
      blocks[t].count = hdr[2];
      done[t] = 1;
      (*nread)++;
      rec = NULL;
    }
    free(rec);
    rec = NULL;
  }
cleanup:
  free(rec);
  if (f) fclose(f);
  return rc;
}

int bps_ckpt_read_all(const bps_plan *p, bps_block *blocks, unsigned char *done, long *nread) {
  int rc = BPS_OK;
  char dir[4096];
  ckpt_dir(p->cfg, dir, sizeof dir);
  *nread = 0;
  DIR *d = opendir(dir);
  if (!d) return BPS_OK; /* no checkpoint yet */
  for (struct dirent *e; (e = readdir(d));) {
    size_t len = strlen(e->d_name);
    if (len < 5 || strcmp(e->d_name + len - 4, ".bin")) continue;
    char path[4400];
    snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
    BPS_CALL_GOTO(read_file(p, path, dir, blocks, done, nread));
  }
cleanup:
  closedir(d);
  return rc;
}

/* The marker file of rank r in dir. */
static void marker_path(const char *dir, const char *tag, int r, char *buf, size_t len) {
  snprintf(buf, len, "%s/visible-%s-r%d.mark", dir, tag, r);
}

/* This rank's marker (its host name inside); *created = this call made the directory. */
static int make_marker(const char *dir, const char *path, int *created) {
  char host[256] = "?";
  gethostname(host, sizeof host - 1);
  *created = mkdir(dir, 0755) == 0;
  BPS_CHECK(*created || errno == EEXIST, BPS_ERR_CHECKPOINT,
            "cannot create checkpoint directory %s on host %s: %s", dir, host, strerror(errno));
  FILE *f = fopen(path, "w");
  BPS_CHECK(f, BPS_ERR_CHECKPOINT, "cannot create %s on host %s: %s", path, host,
            strerror(errno));
  int ok = fprintf(f, "%s\n", host) > 0;
  ok = fclose(f) == 0 && ok;
  BPS_CHECK(ok, BPS_ERR_CHECKPOINT, "cannot write %s on host %s", path, host);
  return BPS_OK;
}

/* The neighbour's marker next, seen from this rank (on host). */
static int see_marker(const char *dir, const char *next, int rank, int size, const char *host) {
  struct stat sb;
  BPS_CHECK(stat(next, &sb) == 0, BPS_ERR_CHECKPOINT,
            "rank %d on host %s cannot see the files rank %d writes in the checkpoint directory "
            "%s (its marker %s: %s): the checkpoint directory must be on a file system that "
            "every node shares (README \"Running on a cluster\"); resume refused",
            rank, host, (rank + 1) % size, dir, next, strerror(errno));
  return BPS_OK;
}

int bps_ckpt_check_shared(const bps_scan_config *cfg, const char *tag) {
  int rc = BPS_OK, created = 0, rank = bps_comm_rank(), size = bps_comm_size();
  char dir[4096], mine[4400], next[4400], host[256] = "?";
  if (size < 2) return BPS_OK;
  ckpt_dir(cfg, dir, sizeof dir);
  marker_path(dir, tag, rank, mine, sizeof mine);
  marker_path(dir, tag, (rank + 1) % size, next, sizeof next);
  gethostname(host, sizeof host - 1);
  rc = make_marker(dir, mine, &created);
  /* every marker exists once this returns 1; else the failing rank has said why and the
   * caller's agreement passes its code on */
  if (bps_comm_agree(rc == BPS_OK)) rc = see_marker(dir, next, rank, size, host);
  bps_comm_barrier(); /* every rank has looked */
  unlink(mine);
  if (bps_comm_barrier() == BPS_OK && created) rmdir(dir); /* only if empty: no checkpoint */
  return rc;
}

int bps_ckpt_absent(const bps_scan_config *cfg) {
  char dir[4096];
  struct stat sb;
  ckpt_dir(cfg, dir, sizeof dir);
  BPS_CHECK(stat(dir, &sb) != 0, BPS_ERR_CHECKPOINT,
            "a checkpoint of an earlier run exists in %s: continue it with --resume, or remove "
            "the directory to start over", dir);
  return BPS_OK;
}

void bps_ckpt_remove(const bps_scan_config *cfg) {
  char dir[4096];
  ckpt_dir(cfg, dir, sizeof dir);
  DIR *d = opendir(dir);
  if (!d) return;
  for (struct dirent *e; (e = readdir(d));) {
    if (e->d_name[0] == '.') continue;
    char path[4400];
    snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
    unlink(path);
  }
  closedir(d);
  rmdir(dir);
}
