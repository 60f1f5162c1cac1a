/* ckpt: writing, reading and removing checkpoint files (see ckpt.h for the format). */
#include "ckpt.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
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
      ok = fwrite(hdr, sizeof hdr, 1, f) == 1 &&
           fwrite(blocks[t].rec, sizeof(double), nd, f) == nd && fwrite(&sum, 8, 1, f) == 1;
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
  BPS_CALL_GOTO(bps_ckpt_check_dir(p->cfg)); /* replaced by a link or a file meanwhile */
  int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0644);
  f = fd >= 0 ? fdopen(fd, "wb") : NULL;
  if (!f && fd >= 0) close(fd);
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

/* Whether name is one of the files bpscan writes in a checkpoint directory, of the kind
 * suffix: "run<hex>-r<rank>" followed by suffix (".bin", ".bin.tmp"), or for ".mark" the
 * marker "visible-run<hex>-r<rank>.mark". */
static int own_name(const char *name, const char *suffix) {
  const char *c = name;
  if (!strncmp(c, "visible-", 8)) c += 8;
  if (strncmp(c, "run", 3)) return 0;
  c += 3;
  const char *h = c;
  while (isxdigit((unsigned char)*c)) c++;
  if (c == h || strncmp(c, "-r", 2)) return 0;
  c += 2;
  const char *d = c;
  while (isdigit((unsigned char)*c)) c++;
  if (c == d) return 0;
  if (!strncmp(name, "visible-", 8)) return !strcmp(suffix, ".mark") && !strcmp(c, ".mark");
  return strcmp(suffix, ".mark") && !strcmp(c, suffix);
}

int bps_ckpt_read_stream(const bps_plan *p, FILE *f, const char *path, const char *dir,
                         bps_block *blocks, unsigned char *done, long *nread) {
  int rc = BPS_OK;
  double *rec = NULL;
  char magic[8];
  uint64_t hash;
  uint32_t version, nb;
  BPS_CHECK_GOTO(fread(magic, 1, 8, f) == 8 && !memcmp(magic, CKPT_MAGIC, 8) &&
                     fread(&hash, 8, 1, f) == 1 && fread(&version, 4, 1, f) == 1 &&
                     fread(&nb, 4, 1, f) == 1 && version == CKPT_VERSION,
                 BPS_ERR_CHECKPOINT,
                 "checkpoint %s is corrupt (bad header); remove %s to start over", path, dir);
  BPS_CHECK_GOTO(hash == p->cfg->job_hash, BPS_ERR_CHECKPOINT,
                 "checkpoint %s belongs to a different job (hash %016llx, this job %016llx); "
                 "refusing to reuse it: remove %s or use another output path",
                 path, (unsigned long long)hash, (unsigned long long)p->cfg->job_hash, dir);
  BPS_CHECK_GOTO((long)nb <= p->ntasks, BPS_ERR_CHECKPOINT,
                 "checkpoint %s is corrupt: %u blocks, the plan has %ld; remove %s to start over",
                 path, nb, p->ntasks, dir);
  for (uint32_t k = 0; k < nb; k++) {
    int32_t hdr[4];
    BPS_CHECK_GOTO(fread(hdr, sizeof hdr, 1, f) == 1, BPS_ERR_CHECKPOINT,
                   "checkpoint %s is truncated (block %u of %u); remove %s to start over", path,
                   k + 1, nb, dir);
    int i = -1;
    for (int j = 0; j < p->nn; j++)
      if (p->pn[j].n == hdr[0]) i = j;
    const long b = hdr[1];
    /* every field against the plan: n, the block number, its exact count, the row width */
    BPS_CHECK_GOTO(i >= 0 && b >= 0 && b < p->pn[i].nblocks && hdr[3] == p->pn[i].rec_len &&
                       hdr[2] == bps_plan_block_count(p, i, b),
                   BPS_ERR_CHECKPOINT,
                   "checkpoint %s: block {n=%d, block %d, count %d, width %d} does not fit this "
                   "job's plan; remove %s to start over",
                   path, hdr[0], hdr[1], hdr[2], hdr[3], dir);
    size_t nd = (size_t)hdr[2] * (size_t)hdr[3];
    uint64_t sum;
    rec = malloc(sizeof(double) * nd);
    BPS_CHECK_GOTO(rec, BPS_ERR_MEM, "out of memory");
    BPS_CHECK_GOTO(fread(rec, sizeof(double), nd, f) == nd && fread(&sum, 8, 1, f) == 1 &&
                       sum == block_sum(hdr, rec, nd),
                   BPS_ERR_CHECKPOINT,
                   "checkpoint %s is corrupt (checksum); remove %s to start over", path, dir);
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
  BPS_CHECK_GOTO(fgetc(f) == EOF, BPS_ERR_CHECKPOINT,
                 "checkpoint %s is corrupt (bytes after its last block); remove %s to start over",
                 path, dir);
cleanup:
  free(rec);
  return rc;
}

/* The checkpoint directory opened without following a link (-1 and errno ENOENT: none). */
static int open_dir(const char *dir) {
  return open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
}

int bps_ckpt_check_dir(const bps_scan_config *cfg) {
  char dir[4096];
  struct stat sb;
  ckpt_dir(cfg, dir, sizeof dir);
  if (lstat(dir, &sb) != 0) {
    BPS_CHECK(errno == ENOENT, BPS_ERR_CHECKPOINT,
              "cannot check the checkpoint directory %s: %s", dir, strerror(errno));
    return BPS_OK;
  }
  BPS_CHECK(!S_ISLNK(sb.st_mode), BPS_ERR_CHECKPOINT,
            "the checkpoint path %s is a symbolic link; bpscan keeps its checkpoints only in a "
            "directory of its own: remove the link",
            dir);
  BPS_CHECK(S_ISDIR(sb.st_mode), BPS_ERR_CHECKPOINT,
            "the checkpoint path %s exists and is not a directory; bpscan keeps its checkpoints "
            "in a directory of that name: move it away",
            dir);
  return BPS_OK;
}

/* One checkpoint file of the directory open as dfd: a regular file (a FIFO or device there
 * is refused, never opened for blocking reads), then its blocks. */
static int read_entry(const bps_plan *p, int dfd, const char *dir, const char *name,
                      bps_block *blocks, unsigned char *done, long *nread) {
  int rc = BPS_OK;
  char path[4400];
  struct stat sb;
  FILE *f = NULL;
  snprintf(path, sizeof path, "%s/%s", dir, name);
  int fd = openat(dfd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
  BPS_CHECK_GOTO(fd >= 0, BPS_ERR_CHECKPOINT, "cannot read checkpoint %s: %s", path,
                 strerror(errno));
  BPS_CHECK_GOTO(fstat(fd, &sb) == 0 && S_ISREG(sb.st_mode), BPS_ERR_CHECKPOINT,
                 "checkpoint %s is not a regular file; remove it (or %s) to start over", path,
                 dir);
  f = fdopen(fd, "rb");
  BPS_CHECK_GOTO(f, BPS_ERR_CHECKPOINT, "cannot read checkpoint %s: %s", path, strerror(errno));
  fd = -1;
  BPS_CALL_GOTO(bps_ckpt_read_stream(p, f, path, dir, blocks, done, nread));
cleanup:
  if (fd >= 0) close(fd);
  if (f) fclose(f);
  return rc;
}

int bps_ckpt_read_all(const bps_plan *p, bps_block *blocks, unsigned char *done, long *nread) {
  int rc = BPS_OK;
  char dir[4096];
  DIR *d = NULL;
  ckpt_dir(p->cfg, dir, sizeof dir);
  *nread = 0;
  BPS_CALL(bps_ckpt_check_dir(p->cfg));
  int dfd = open_dir(dir);
  if (dfd < 0 && errno == ENOENT) return BPS_OK; /* no checkpoint yet */
  BPS_CHECK(dfd >= 0, BPS_ERR_CHECKPOINT, "cannot open the checkpoint directory %s: %s", dir,
            strerror(errno));
  d = fdopendir(dfd);
  if (!d) close(dfd);
  BPS_CHECK(d, BPS_ERR_CHECKPOINT, "cannot open the checkpoint directory %s: %s", dir,
            strerror(errno));
  for (struct dirent *e; (e = readdir(d));) {
    if (!own_name(e->d_name, ".bin")) continue; /* not one of ours: never read */
    BPS_CALL_GOTO(read_entry(p, dirfd(d), dir, e->d_name, blocks, done, nread));
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
  BPS_CHECK(f, BPS_ERR_CHECKPOINT, "cannot create %s on host %s: %s", path, host, strerror(errno));
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
            "the directory to start over",
            dir);
  return BPS_OK;
}

/* Whether the entry name of dfd is a file bpscan wrote: its name (own_name), a regular
 * file (links are never followed), and for checkpoint files the format's magic (an empty
 * or unfinished temporary file passes). */
static int own_file(int dfd, const char *name) {
  const int bin = own_name(name, ".bin"), tmp = own_name(name, ".bin.tmp");
  if (!bin && !tmp && !own_name(name, ".mark")) return 0;
  int fd = openat(dfd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) return 0;
  struct stat sb;
  char magic[8];
  int ok = fstat(fd, &sb) == 0 && S_ISREG(sb.st_mode);
  if (ok && (bin || (tmp && sb.st_size > 0)))
    ok = read(fd, magic, 8) == 8 && !memcmp(magic, CKPT_MAGIC, 8);
  close(fd);
  return ok;
}

void bps_ckpt_remove(const bps_scan_config *cfg) {
  char dir[4096];
  int left = 0;
  ckpt_dir(cfg, dir, sizeof dir);
  int dfd = open_dir(dir); /* a link is not followed: nothing outside is touched */
  if (dfd < 0) return;
  DIR *d = fdopendir(dfd);
  if (!d) {
    close(dfd);
    return;
  }
  for (struct dirent *e; (e = readdir(d));) {
    if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
    if (own_file(dirfd(d), e->d_name)) unlinkat(dirfd(d), e->d_name, 0);
    else left++;
  }
  closedir(d);
  if (left)
    fprintf(stderr, "[bpscan] %s holds %d file%s bpscan did not write: left in place\n", dir,
            left, left == 1 ? "" : "s");
  else rmdir(dir);
}
