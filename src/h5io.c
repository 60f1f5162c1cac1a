/* h5io: bpscan result files in HDF5 (see include/bpscan/h5io.h and README "Result files").
 * The ONLY file in bpscan that includes <hdf5.h>.
 *
 * Format choices (all for readers: h5py, h5dump, MATLAB, Julia):
 *  - libver bounds (EARLIEST, V18): each object in the earliest format that can hold it and
 *    never a format newer than HDF5 1.8's, so any reader built on HDF5 >= 1.8 opens the file
 *    (with 1.10's default upper bound, chunked datasets would get 1.10-only chunk indexes
 *    that 1.8-based tools, e.g. older MATLAB releases, reject); the low bound EARLIEST gives
 *    a version-0 superblock, as files of earlier bpscan versions have;
 *  - strings are scalar / 1-D variable-length UTF-8 (what h5py writes for `str`);
 *  - numbers are little-endian IEEE doubles and 32/64-bit integers;
 *  - per-sample datasets are chunked by rows (<= 4096 rows, <= 1 MiB per chunk) with
 *    shuffle + deflate level 4; small datasets are contiguous;
 *  - object modification times are not recorded, so the same result gives the same bytes.
 */
#include "bpscan/h5io.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <hdf5.h>
#include <zlib.h>

#include "bpscan/error.h"
#include "bpscan/job.h"
#include "bpscan/version.h"

#define CHUNK_ROWS_MAX 4096
#define CHUNK_BYTES_MAX (1 << 20)
#define DEFLATE_LEVEL 4

/* ------------------------------------------------------------------------------------ */
/* Errors                                                                                */

static void h5_silence(void) { H5Eset_auto2(H5E_DEFAULT, NULL, NULL); }

/* The innermost HDF5 error description, shortened: system errors become
 * "<what>: <strerror>" instead of HDF5's multi-line record with time stamps. */
static herr_t innermost_cb(unsigned n, const H5E_error2_t *e, void *data) {
  char *out = data;
  if (n != 0 || !e || !e->desc) return 0;
  const char *d = e->desc, *em = strstr(d, "error message = '");
  if (em) {
    const char *colon = strchr(d, ':'), *q = em + 17, *qe = strchr(q, '\'');
    int wl = colon ? (int)(colon - d) : 0, ml = qe ? (int)(qe - q) : (int)strlen(q);
    snprintf(out, 240, "%.*s%s%.*s", wl, d, wl ? ": " : "", ml, q);
  } else {
    snprintf(out, 240, "%s", d);
  }
  for (char *c = out; *c; c++)
    if (*c == '\n' || *c == '\r' || *c == '\t') *c = ' ';
  return 0;
}

/* Push BPS_ERR_IO with "<message>" and, when HDF5 recorded one, "(HDF5: <innermost>)",
 * then clear HDF5's error stack. A direct bps_error_push: the entry names the caller's
 * line and function (H5_TRY below), not this helper's. */
static int h5_fail(int line, const char *func, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;
static int h5_fail(int line, const char *func, const char *fmt, ...) {
  char msg[320], detail[240] = "";
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  H5Ewalk2(H5E_DEFAULT, H5E_WALK_UPWARD, innermost_cb, detail);
  H5Eclear2(H5E_DEFAULT);
  if (detail[0])
    return bps_error_push(BPS_ERR_IO, __FILE__, line, func, "%s (HDF5: %s)", msg, detail);
  return bps_error_push(BPS_ERR_IO, __FILE__, line, func, "%s", msg);
}

/* The HDF5 form of BPS_CHECK_GOTO (error.h cleanup idiom): an HDF5 call that returns < 0
 * fails with BPS_ERR_IO, the message and HDF5's innermost one. */
#define H5_TRY(expr, ...)                                                                       \
  do {                                                                                          \
    if ((expr) < 0) {                                                                           \
      rc = h5_fail(__LINE__, __func__, __VA_ARGS__);                                            \
      goto cleanup;                                                                             \
    }                                                                                           \
  } while (0)

/* Close any HDF5 identifier (NULL-safe, idempotent); returns the close status. */
static herr_t h5_close(hid_t *id) {
  if (*id < 0) return 0;
  herr_t s = -1;
  switch (H5Iget_type(*id)) {
  case H5I_FILE: s = H5Fclose(*id); break;
  case H5I_GROUP: s = H5Gclose(*id); break;
  case H5I_DATASET: s = H5Dclose(*id); break;
  case H5I_DATASPACE: s = H5Sclose(*id); break;
  case H5I_DATATYPE: s = H5Tclose(*id); break;
  case H5I_ATTR: s = H5Aclose(*id); break;
  case H5I_GENPROP_LST: s = H5Pclose(*id); break;
  default: break;
  }
  *id = H5I_INVALID_HID;
  return s;
}

/* ------------------------------------------------------------------------------------ */
/* Small helpers                                                                         */

static double now_monotonic(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* Seconds since the epoch -> "YYYY-MM-DDTHH:MM:SSZ" ("" if not a valid time). */
static void iso8601_utc(double t, char *buf, size_t n) {
  buf[0] = '\0';
  if (!isfinite(t) || t < 0 || t > 253402300799.0) return; /* up to 9999-12-31 */
  time_t tt = (time_t)floor(t);
  struct tm tmv;
  if (!gmtime_r(&tt, &tmv)) return;
  strftime(buf, n, "%Y-%m-%dT%H:%M:%SZ", &tmv);
}

/* A copy of s (NULL -> "") in which every byte that does not start a valid UTF-8
 * sequence is replaced by '?'. */
static char *utf8_copy(const char *s) {
  if (!s) s = "";
  size_t n = strlen(s);
  char *o = malloc(n + 1);
  if (!o) return NULL;
  const unsigned char *u = (const unsigned char *)s;
  size_t i = 0;
  while (i < n) {
    unsigned c = u[i];
    size_t len = 0;
    unsigned lo = 0x80, hi = 0xBF; /* allowed range of the first continuation byte */
    if (c < 0x80) len = 1;
    else if (c >= 0xC2 && c <= 0xDF) len = 2;
    else if (c == 0xE0) len = 3, lo = 0xA0;
    else if ((c >= 0xE1 && c <= 0xEC) || c == 0xEE || c == 0xEF) len = 3;
    else if (c == 0xED) len = 3, hi = 0x9F;
    else if (c == 0xF0) len = 4, lo = 0x90;
    else if (c >= 0xF1 && c <= 0xF3) len = 4;
    else if (c == 0xF4) len = 4, hi = 0x8F;
    int ok = len > 0 && i + len <= n;
    for (size_t k = 1; ok && k < len; k++) {
      unsigned d = u[i + k];
      if (k == 1 ? (d < lo || d > hi) : (d < 0x80 || d > 0xBF)) ok = 0;
    }
    if (ok) {
      memcpy(o + i, s + i, len);
      i += len;
    } else {
      o[i++] = '?';
    }
  }
  o[n] = '\0';
  return o;
}

/* The directory part of path ("." if none), malloc'ed. */
static char *dir_of(const char *path) {
  const char *slash = strrchr(path, '/');
  if (!slash) return strdup(".");
  size_t len = slash == path ? 1 : (size_t)(slash - path);
  char *d = malloc(len + 1);
  if (!d) return NULL;
  memcpy(d, path, len);
  d[len] = '\0';
  return d;
}

static char *tmp_name(const char *path) {
  size_t n = strlen(path) + 32;
  char *t = malloc(n);
  if (t) snprintf(t, n, "%s.tmp.%ld", path, (long)getpid());
  return t;
}

/* Remove "<base>.tmp.<pid>" files of path's directory (writers killed before their final
 * rename) whose pid is not running on this host and that nothing has modified for a minute
 * (on a shared file system another host's running writer keeps its file fresh): regular
 * files only (never links), empty or starting with the HDF5 signature. Best effort, and a
 * note on stderr for each one removed. */
static void clean_stale_tmp(const char *path, const char *dir) {
  const char *base = strrchr(path, '/');
  base = base ? base + 1 : path;
  const size_t bl = strlen(base);
  int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd < 0) return;
  DIR *d = fdopendir(dfd);
  if (!d) {
    close(dfd);
    return;
  }
  for (struct dirent *e; (e = readdir(d));) {
    const char *nm = e->d_name;
    if (strncmp(nm, base, bl) || strncmp(nm + bl, ".tmp.", 5)) continue;
    char *end;
    errno = 0;
    long pid = strtol(nm + bl + 5, &end, 10);
    if (*end || end == nm + bl + 5 || errno || pid <= 0 || pid > 0x3fffffff) continue;
    /* (this process's own pid: a file of an earlier process that had it) */
    if (pid != (long)getpid() && (kill((pid_t)pid, 0) == 0 || errno != ESRCH)) continue;
    int fd = openat(dirfd(d), nm, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) continue;
    struct stat st;
    unsigned char sig[8];
    int ok = fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && time(NULL) - st.st_mtime > 60 &&
             (st.st_size == 0 || (read(fd, sig, 8) == 8 && !memcmp(sig, "\211HDF\r\n\032\n", 8)));
    close(fd);
    if (ok && unlinkat(dirfd(d), nm, 0) == 0)
      fprintf(stderr, "[bpscan] removed %s/%s (left by bpscan pid %ld, no longer running)\n",
              dir, nm, pid);
  }
  closedir(d);
}

/* path must not be a directory, nor exist unless force (BPS_ERR_EXISTS; a link, even a
 * dangling one, exists); with force only a regular file or a link (the link itself is
 * replaced, never what it points to) may be replaced, never a device, FIFO or socket
 * (BPS_ERR_OUTPUT). Its directory must exist and be a writable directory (else
 * BPS_ERR_OUTPUT). probe: also create and remove the temporary file, after removing stale
 * temporary files of killed writers. */
static int check_target(const char *path, int force, int probe) {
  int rc = BPS_OK;
  char *dir = NULL, *tmp = NULL;
  if (!path || !path[0]) BPS_FAIL_GOTO(BPS_ERR_OUTPUT, "no output file name given");
  struct stat st, lst;
  if (lstat(path, &lst) == 0) {
    const int to = stat(path, &st) == 0; /* 0: a dangling link */
    if (to && S_ISDIR(st.st_mode))
      BPS_FAIL_GOTO(BPS_ERR_OUTPUT, "'%s' is a directory, not an output file", path);
    if (!force)
      BPS_FAIL_GOTO(BPS_ERR_EXISTS, "'%s' exists%s; use --force to overwrite", path,
                    S_ISLNK(lst.st_mode) && !to ? " (a dangling symbolic link)" : "");
    if (!S_ISREG(lst.st_mode) && !S_ISLNK(lst.st_mode))
      BPS_FAIL_GOTO(BPS_ERR_OUTPUT,
                    "'%s' is not a regular file (a device, FIFO or socket); --force replaces "
                    "only regular files",
                    path);
  } else if (errno != ENOENT) {
    BPS_FAIL_GOTO(BPS_ERR_OUTPUT, "cannot check '%s': %s", path, strerror(errno));
  }
  dir = dir_of(path);
  if (!dir) BPS_FAIL_GOTO(BPS_ERR_MEM, "out of memory");
  if (stat(dir, &st) != 0)
    BPS_FAIL_GOTO(BPS_ERR_OUTPUT, "cannot write '%s': directory '%s' %s", path, dir,
                  errno == ENOENT ? "does not exist" : strerror(errno));
  if (!S_ISDIR(st.st_mode))
    BPS_FAIL_GOTO(BPS_ERR_OUTPUT, "cannot write '%s': '%s' is not a directory", path, dir);
  if (access(dir, W_OK | X_OK) != 0)
    BPS_FAIL_GOTO(BPS_ERR_OUTPUT, "cannot write '%s': directory '%s' is not writable (%s)", path,
                  dir, strerror(errno));
  if (probe) {
    clean_stale_tmp(path, dir);
    tmp = tmp_name(path);
    if (!tmp) BPS_FAIL_GOTO(BPS_ERR_MEM, "out of memory");
    int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL, 0644);
    if (fd < 0) {
      if (errno == EEXIST)
        BPS_FAIL_GOTO(BPS_ERR_OUTPUT,
                      "temporary file '%s' exists (another bpscan writing '%s'?); remove it",
                      tmp, path);
      BPS_FAIL_GOTO(BPS_ERR_OUTPUT, "cannot create a file in directory '%s': %s", dir,
                    strerror(errno));
    }
    close(fd);
    unlink(tmp);
  }
cleanup:
  free(dir);
  free(tmp);
  return rc;
}

int bps_h5_check_writable(const char *path, int force) {
  BPS_CALL(check_target(path, force, 1));
  return BPS_OK;
}

/* ------------------------------------------------------------------------------------ */
/* Writing: BEGIN write path (the streamed writer, its file driver and chunk encoder)   */
/*
 * The file goes to "<path>.tmp.<pid>" through a minimal POSIX file driver of our own
 * (vfd_*): it never reports a failed system call to HDF5, because HDF5 1.10 cannot close a
 * file after a failed write and then crashes at exit (HDF5 issues #2257, h5py #914); it
 * latches the errno instead, which bps_h5_stream_close turns into a clean BPS_ERR_IO
 * after the file is closed (and the temporary file removed). Per-sample datasets are
 * streamed: rows are appended to one chunk buffer per dataset, and every full chunk is
 * encoded here (shuffle + deflate, the bytes HDF5's filter pipeline stores for it, the
 * zero-filled tail of an edge chunk included) and stored with H5Dwrite_chunk. The writer
 * so holds one chunk per per-sample dataset whatever the number of samples, and the
 * datasets' bytes, chunking and compression are those of a whole-dataset H5Dwrite.
 */

/* ---------------------------------------------------------------- the file driver */

typedef struct {
  H5FD_t pub; /* first: what HDF5 sees */
  int fd;
  haddr_t eoa, eof;
} vfd_file;

static int vfd_errno;        /* the first failed system call since vfd_reset (0: none) */
static const char *vfd_what; /* which call */

static void vfd_reset(void) {
  vfd_errno = 0;
  vfd_what = "";
}

static void vfd_latch(const char *what, int e) {
  if (vfd_errno) return;
  vfd_errno = e ? e : EIO;
  vfd_what = what;
}

static H5FD_t *vfd_open(const char *name, unsigned flags, hid_t fapl, haddr_t maxaddr) {
  (void)fapl;
  (void)maxaddr;
  int o = (flags & H5F_ACC_RDWR) ? O_RDWR : O_RDONLY;
  if (flags & H5F_ACC_CREAT) o |= O_CREAT;
  if (flags & H5F_ACC_TRUNC) o |= O_TRUNC;
  if (flags & H5F_ACC_EXCL) o |= O_EXCL;
  int fd = open(name, o, 0666);
  if (fd < 0) return NULL; /* HDF5: "unable to open file" (a tentative open may fail) */
  struct stat sb;
  vfd_file *f = calloc(1, sizeof *f);
  if (!f || fstat(fd, &sb) != 0) {
    free(f);
    close(fd);
    return NULL;
  }
  f->fd = fd;
  f->eof = (haddr_t)sb.st_size;
  return &f->pub;
}

static herr_t vfd_close(H5FD_t *file) {
  vfd_file *f = (vfd_file *)file;
  if (fsync(f->fd) != 0 && errno != EINVAL && errno != EROFS && errno != ENOTSUP)
    vfd_latch("sync", errno);
  if (close(f->fd) != 0) vfd_latch("close", errno);
  free(f);
  return 0;
}

static herr_t vfd_query(const H5FD_t *file, unsigned long *flags) {
  (void)file;
  /* those of HDF5's sec2 driver that concern allocation: the same file layout */
  *flags = H5FD_FEAT_AGGREGATE_METADATA | H5FD_FEAT_ACCUMULATE_METADATA | H5FD_FEAT_DATA_SIEVE |
           H5FD_FEAT_AGGREGATE_SMALLDATA;
  return 0;
}

static haddr_t vfd_get_eoa(const H5FD_t *file, H5FD_mem_t type) {
  (void)type;
  return ((const vfd_file *)file)->eoa;
}

static herr_t vfd_set_eoa(H5FD_t *file, H5FD_mem_t type, haddr_t addr) {
  (void)type;
  ((vfd_file *)file)->eoa = addr;
  return 0;
}

static haddr_t vfd_get_eof(const H5FD_t *file, H5FD_mem_t type) {
  (void)type;
  return ((const vfd_file *)file)->eof;
}

static herr_t vfd_read(H5FD_t *file, H5FD_mem_t type, hid_t dxpl, haddr_t addr, size_t size,
                       void *buf) {
  (void)type;
  (void)dxpl;
  vfd_file *f = (vfd_file *)file;
  unsigned char *b = buf;
  while (size > 0) {
    ssize_t r = pread(f->fd, b, size, (off_t)addr);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) { /* beyond the end of the file: zeros, as sec2; an error: latched */
      if (r < 0) vfd_latch("read", errno);
      memset(b, 0, size);
      break;
    }
    b += r;
    addr += (haddr_t)r;
    size -= (size_t)r;
  }
  return 0;
}

static herr_t vfd_write(H5FD_t *file, H5FD_mem_t type, hid_t dxpl, haddr_t addr, size_t size,
                        const void *buf) {
  (void)type;
  (void)dxpl;
  vfd_file *f = (vfd_file *)file;
  const unsigned char *b = buf;
  if (addr + size > f->eof) f->eof = addr + size;
  while (size > 0 && !vfd_errno) { /* after a failure the file is lost anyway */
    ssize_t w = pwrite(f->fd, b, size, (off_t)addr);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) {
      vfd_latch("write", w < 0 ? errno : EIO);
      break;
    }
    b += w;
    addr += (haddr_t)w;
    size -= (size_t)w;
  }
  return 0;
}

static herr_t vfd_truncate(H5FD_t *file, hid_t dxpl, hbool_t closing) {
  (void)dxpl;
  (void)closing;
  vfd_file *f = (vfd_file *)file;
  if (f->eoa != f->eof) {
    if (ftruncate(f->fd, (off_t)f->eoa) != 0) vfd_latch("truncate", errno);
    f->eof = f->eoa;
  }
  return 0;
}

static const H5FD_class_t vfd_class = {
    .name = "bpscan_posix",
    .maxaddr = (haddr_t)INT64_MAX,
    .fc_degree = H5F_CLOSE_WEAK,
    .open = vfd_open,
    .close = vfd_close,
    .query = vfd_query,
    .get_eoa = vfd_get_eoa,
    .set_eoa = vfd_set_eoa,
    .get_eof = vfd_get_eof,
    .read = vfd_read,
    .write = vfd_write,
    .truncate = vfd_truncate,
    .fl_map = H5FD_FLMAP_DICHOTOMY,
};

/* The driver's id, registered once. */
static hid_t vfd_id(void) {
  static hid_t id = H5I_INVALID_HID;
  if (id < 0 || H5Iis_valid(id) <= 0) id = H5FDregister(&vfd_class);
  return id;
}

/* ---------------------------------------------------------------- chunk encoding */

/* Whether chunks can be encoded here: the file's types (little-endian f8 and i8) are the
 * memory's bytes. Elsewhere HDF5 converts and filters every chunk itself (H5Dwrite). */
static int host_is_le64(void) {
  const uint16_t one = 1;
  return *(const unsigned char *)&one == 1 && sizeof(long) == 8 && sizeof(double) == 8;
}

/* n bytes at raw (elements of esz bytes) as HDF5's shuffle + deflate filters store them:
 * the element bytes regrouped by significance, then zlib compress2 at DEFLATE_LEVEL. *out
 * is malloc'ed. */
static int chunk_encode(const unsigned char *raw, size_t n, size_t esz, unsigned char **out,
                        size_t *outlen) {
  int rc = BPS_OK;
  size_t nel = n / esz;
  unsigned char *sh = malloc(n ? n : 1), *z = NULL;
  uLongf zlen = compressBound((uLong)n);
  BPS_CHECK_GOTO(sh, BPS_ERR_MEM, "out of memory (chunk of %zu bytes)", n);
  for (size_t j = 0; j < esz; j++)
    for (size_t i = 0; i < nel; i++) sh[j * nel + i] = raw[i * esz + j];
  memcpy(sh + nel * esz, raw + nel * esz, n - nel * esz);
  z = malloc(zlen);
  BPS_CHECK_GOTO(z, BPS_ERR_MEM, "out of memory (chunk of %zu bytes)", n);
  int zrc = compress2(z, &zlen, sh, (uLong)n, DEFLATE_LEVEL);
  BPS_CHECK_GOTO(zrc == Z_OK, BPS_ERR_IO, "deflate failed (zlib %d)", zrc);
  *out = z;
  *outlen = (size_t)zlen;
  z = NULL;
cleanup:
  free(sh);
  free(z);
  return rc;
}

/* ---------------------------------------------------------------- attributes, datasets */

typedef struct {
  const char *path; /* the final name, for messages */
  hid_t str_type;   /* variable-length UTF-8 string */
  hid_t dcpl_small; /* contiguous, no time stamps */
  hid_t gcpl;       /* groups: no time stamps */
  int have_deflate;
  const char *job_json; /* bps_job_json of the result's job text */
} writer;

static int attr_write(const writer *w, hid_t loc, const char *where, const char *name,
                      hid_t ftype, hid_t mtype, const void *buf) {
  int rc = BPS_OK;
  hid_t sp = H5I_INVALID_HID, a = H5I_INVALID_HID;
  H5_TRY(sp = H5Screate(H5S_SCALAR), "%s: attribute %s%s: dataspace", w->path, where, name);
  H5_TRY(a = H5Acreate2(loc, name, ftype, sp, H5P_DEFAULT, H5P_DEFAULT),
         "%s: cannot create attribute %s%s", w->path, where, name);
  H5_TRY(H5Awrite(a, mtype, buf), "%s: cannot write attribute %s%s", w->path, where, name);
  H5_TRY(h5_close(&a), "%s: cannot close attribute %s%s", w->path, where, name);
cleanup:
  h5_close(&a);
  h5_close(&sp);
  return rc;
}

static int attr_int(const writer *w, hid_t loc, const char *where, const char *name, int v) {
  return attr_write(w, loc, where, name, H5T_STD_I32LE, H5T_NATIVE_INT, &v);
}
static int attr_i64(const writer *w, hid_t loc, const char *where, const char *name, long v) {
  int64_t x = (int64_t)v;
  return attr_write(w, loc, where, name, H5T_STD_I64LE, H5T_NATIVE_INT64, &x);
}
static int attr_u64(const writer *w, hid_t loc, const char *where, const char *name, uint64_t v) {
  return attr_write(w, loc, where, name, H5T_STD_U64LE, H5T_NATIVE_UINT64, &v);
}
static int attr_f64(const writer *w, hid_t loc, const char *where, const char *name, double v) {
  return attr_write(w, loc, where, name, H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, &v);
}
static int attr_str(const writer *w, hid_t loc, const char *where, const char *name,
                    const char *s) {
  char *c = utf8_copy(s);
  BPS_CHECK(c, BPS_ERR_MEM, "out of memory");
  const char *p = c;
  int rc = attr_write(w, loc, where, name, w->str_type, w->str_type, &p);
  free(c);
  BPS_CALL(rc);
  return BPS_OK;
}

/* Rows per chunk of a per-sample dataset of shape dims (rank >= 1, elements of esz bytes):
 * at most CHUNK_ROWS_MAX rows and CHUNK_BYTES_MAX bytes, whole rows, at least one row. */
static hsize_t chunk_rows(size_t esz, int rank, const hsize_t *dims) {
  hsize_t cols = 1, rows = dims[0];
  for (int k = 1; k < rank; k++) cols *= dims[k];
  hsize_t cap = CHUNK_BYTES_MAX / (esz * cols);
  if (rows > CHUNK_ROWS_MAX) rows = CHUNK_ROWS_MAX;
  if (rows > cap) rows = cap > 0 ? cap : 1;
  return rows;
}

long bps_h5_chunk_rows(long rows, long cols) {
  hsize_t dims[2] = {(hsize_t)(rows > 0 ? rows : 1), (hsize_t)(cols > 0 ? cols : 1)};
  return (long)chunk_rows(8, 2, dims);
}

/* A new dataset of rank 0 (scalar) to 3 (row-major dims). crows > 0: chunked by crows
 * rows (whole rows) and compressed (the per-sample datasets); otherwise contiguous. */
static int dset_create(const writer *w, hid_t loc, const char *where, const char *name, int rank,
                       const hsize_t *dims, hid_t ftype, hsize_t crows, hid_t *out) {
  int rc = BPS_OK;
  hid_t sp = H5I_INVALID_HID, dcpl = H5I_INVALID_HID;
  BPS_CHECK_GOTO(rank >= 0 && rank <= 3, BPS_ERR_ARG, "dataset %s%s: rank %d", where, name, rank);
  if (rank == 0)
    H5_TRY(sp = H5Screate(H5S_SCALAR), "%s: dataset %s%s: dataspace", w->path, where, name);
  else
    H5_TRY(sp = H5Screate_simple(rank, dims, NULL), "%s: dataset %s%s: dataspace", w->path,
           where, name);
  if (crows > 0) {
    hsize_t chunk[3] = {crows, rank > 1 ? dims[1] : 0, rank > 2 ? dims[2] : 0};
    H5_TRY(dcpl = H5Pcreate(H5P_DATASET_CREATE), "%s: dataset %s%s: property list", w->path,
           where, name);
    H5_TRY(H5Pset_obj_track_times(dcpl, 0), "%s: dataset %s%s: properties", w->path, where, name);
    H5_TRY(H5Pset_chunk(dcpl, rank, chunk), "%s: dataset %s%s: chunking", w->path, where, name);
    if (w->have_deflate) {
      H5_TRY(H5Pset_shuffle(dcpl), "%s: dataset %s%s: shuffle filter", w->path, where, name);
      H5_TRY(H5Pset_deflate(dcpl, DEFLATE_LEVEL), "%s: dataset %s%s: deflate filter", w->path,
             where, name);
    }
  } else {
    H5_TRY(dcpl = H5Pcopy(w->dcpl_small), "%s: dataset %s%s: property list", w->path, where, name);
  }
  H5_TRY(*out = H5Dcreate2(loc, name, ftype, sp, H5P_DEFAULT, dcpl, H5P_DEFAULT),
         "%s: cannot create dataset %s%s", w->path, where, name);
cleanup:
  h5_close(&dcpl);
  h5_close(&sp);
  return rc;
}

/* A small contiguous dataset written whole from buf (row-major). */
static int dset_write(const writer *w, hid_t loc, const char *where, const char *name, int rank,
                      const hsize_t *dims, hid_t ftype, hid_t mtype, const void *buf) {
  int rc = BPS_OK;
  hid_t d = H5I_INVALID_HID;
  hsize_t nelem = 1;
  for (int k = 0; k < rank; k++) nelem *= dims[k];
  BPS_CALL_GOTO(dset_create(w, loc, where, name, rank, dims, ftype, 0, &d));
  if (nelem > 0)
    H5_TRY(H5Dwrite(d, mtype, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf),
           "%s: cannot write dataset %s%s", w->path, where, name);
  H5_TRY(h5_close(&d), "%s: cannot write dataset %s%s (close)", w->path, where, name);
cleanup:
  h5_close(&d);
  return rc;
}

static int dset_f64(const writer *w, hid_t loc, const char *where, const char *name, hsize_t n,
                    const double *x) {
  hsize_t dims[1] = {n};
  return dset_write(w, loc, where, name, 1, dims, H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, x);
}

static int dset_strings(const writer *w, hid_t loc, const char *where, const char *name,
                        int count, const char *const *s, const int *index) {
  int rc = BPS_OK;
  char **c = calloc(count > 0 ? (size_t)count : 1, sizeof *c);
  BPS_CHECK_GOTO(c, BPS_ERR_MEM, "out of memory");
  for (int i = 0; i < count; i++) {
    c[i] = utf8_copy(s[index ? index[i] : i]);
    BPS_CHECK_GOTO(c[i], BPS_ERR_MEM, "out of memory");
  }
  hsize_t dims[1] = {(hsize_t)count};
  BPS_CALL_GOTO(dset_write(w, loc, where, name, 1, dims, w->str_type, w->str_type, c));
cleanup:
  if (c)
    for (int i = 0; i < count; i++) free(c[i]);
  free(c);
  return rc;
}

/* ---------------------------------------------------------------- checks */

/* The statistics datasets of a landscape field with stats = 1: <field><suffix>. */
static const char *const land_stat_suffix[4] = {"_mean", "_mean_se", "_var", "_var_se"};

/* Whether s is a usable landscape field name: 1..BPS_LAND_NAME_LEN-1 characters of
 * [A-Za-z0-9_] (a dataset name, and an entry of the comma list `fields`). */
static int land_name_ok(const char *s) {
  size_t n = strnlen(s, BPS_LAND_NAME_LEN);
  if (n == 0 || n == BPS_LAND_NAME_LEN) return 0;
  for (size_t i = 0; i < n; i++) {
    char c = s[i];
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_'))
      return 0;
  }
  return 1;
}

/* The landscape layout of one qubit count: sizes, names (unique, also against the
 * statistics datasets and degree/size) and shapes. */
static int check_land(const bps_result_n *r) {
  const bps_landscape_n *l = r->land;
  int n = r->n;
  enum { MAXNAMES = 2 + 5 * BPS_LAND_MAX_FIELDS };
  char names[MAXNAMES][BPS_LAND_NAME_LEN + 16];
  int nn = 0;
  BPS_CHECK(memchr(l->directions, '\0', sizeof l->directions) && l->directions[0], BPS_ERR_ARG,
            "n = %d: landscape directions not set", n);
  BPS_CHECK(l->pad >= 1 && l->ncut >= 1, BPS_ERR_ARG, "n = %d: landscape pad %d, cuts %d", n,
            l->pad, l->ncut);
  BPS_CHECK(l->ndeg >= 1 && l->degree && l->size, BPS_ERR_ARG,
            "n = %d: landscape degree/size missing (ndeg %d)", n, l->ndeg);
  BPS_CHECK(l->nfield >= 0 && l->nfield <= BPS_LAND_MAX_FIELDS, BPS_ERR_ARG,
            "n = %d: %d landscape fields (at most %d)", n, l->nfield, BPS_LAND_MAX_FIELDS);
  snprintf(names[nn++], sizeof names[0], "degree");
  snprintf(names[nn++], sizeof names[0], "size");
  for (int i = 0; i < l->nfield; i++) {
    const bps_land_field *f = &l->field[i];
    BPS_CHECK(land_name_ok(f->name), BPS_ERR_ARG,
              "n = %d: landscape field %d: name '%.*s' is empty, too long or not [A-Za-z0-9_]",
              n, i, BPS_LAND_NAME_LEN, f->name);
    for (int j = 0; j < i; j++)
      BPS_CHECK(strcmp(l->field[j].name, f->name), BPS_ERR_ARG,
                "n = %d: landscape field name '%s' appears twice", n, f->name);
    BPS_CHECK(f->ndim >= 0 && f->ndim <= 2, BPS_ERR_ARG,
              "n = %d: landscape field %s: per-sample rank %d (0..2 allowed)", n, f->name,
              f->ndim);
    for (int d = 0; d < f->ndim; d++)
      BPS_CHECK(f->dims[d] >= 1 && f->dims[d] <= (1L << 30), BPS_ERR_ARG,
                "n = %d: landscape field %s: dimension %d is %ld", n, f->name, d, f->dims[d]);
    snprintf(names[nn++], sizeof names[0], "%s", f->name);
    for (int k = 0; f->stats && k < 4; k++)
      snprintf(names[nn++], sizeof names[0], "%s%s", f->name, land_stat_suffix[k]);
  }
  for (int a = 0; a < nn; a++)
    for (int b = a + 1; b < nn; b++)
      BPS_CHECK(strcmp(names[a], names[b]), BPS_ERR_ARG,
                "n = %d: landscape dataset name '%s' would be written twice (a field name "
                "clashes with degree, size or another field's statistics)",
                n, names[a]);
  return BPS_OK;
}

/* The shape of one qubit count (not its per-sample arrays): sizes, tracked indices,
 * names, the landscape layout; n above `after`. */
static int check_shape(const bps_result_n *r, int after, int piece) {
  BPS_CHECK(r->n >= 1, BPS_ERR_ARG, "invalid qubit count %d", r->n);
  BPS_CHECK(r->n > after, BPS_ERR_ARG, "result qubit counts must increase (n = %d after %d)",
            r->n, after);
  BPS_CHECK(r->samples >= 0 && r->nparams >= 0 && r->ntracked >= 0 && r->ntracked <= r->nparams,
            BPS_ERR_ARG, "n = %d: invalid sizes (samples %ld, params %d, tracked %d)", r->n,
            r->samples, r->nparams, r->ntracked);
  BPS_CHECK(r->ntracked == 0 || r->tracked, BPS_ERR_ARG, "n = %d: tracked indices missing", r->n);
  BPS_CHECK(r->nparams == 0 || r->param_names, BPS_ERR_ARG, "n = %d: parameter names missing",
            r->n);
  for (int k = 0; k < r->ntracked; k++)
    BPS_CHECK(r->tracked[k] >= 0 && r->tracked[k] < r->nparams, BPS_ERR_ARG,
              "n = %d: tracked index %d out of range [0, %d)", r->n, r->tracked[k], r->nparams);
  BPS_CHECK(!piece || r->samples_total >= r->samples, BPS_ERR_ARG,
            "n = %d: samples_total %ld < samples %ld", r->n, r->samples_total, r->samples);
  if (r->land) BPS_CALL(check_land(r));
  return BPS_OK;
}

/* The statistics of one qubit count that bps_h5_stream_n_end writes. */
static int check_stats(const bps_result_n *r) {
  BPS_CHECK(r->ntracked == 0 || r->grad_stats, BPS_ERR_ARG,
            "n = %d: gradient statistics missing", r->n);
  for (int i = 0; r->land && i < r->land->nfield; i++) {
    const bps_land_field *f = &r->land->field[i];
    BPS_CHECK(!f->stats || (f->mean && f->mean_se && f->var && f->var_se), BPS_ERR_ARG,
              "n = %d: landscape field %s: statistics missing (bps_result_n_stats)", r->n,
              f->name);
  }
  return BPS_OK;
}

/* A whole result for bps_h5_write: the shapes, the per-sample arrays, the statistics, the
 * sample numbers of a piece. */
static int check_result(const bps_result *res) {
  BPS_CHECK(res, BPS_ERR_ARG, "no result");
  BPS_CHECK(res->nn >= 0 && (res->nn == 0 || res->per_n), BPS_ERR_ARG,
            "result has %d qubit counts and per_n %p", res->nn, (const void *)res->per_n);
  const int piece = res->slice_count > 1;
  for (int i = 0; i < res->nn; i++) {
    const bps_result_n *r = &res->per_n[i];
    BPS_CALL(check_shape(r, i ? res->per_n[i - 1].n : 0, piece));
    BPS_CALL(check_stats(r));
    BPS_CHECK(r->samples == 0 || (r->cost && r->diag && (r->ntracked == 0 || r->grad)),
              BPS_ERR_ARG, "n = %d: per-sample arrays missing", r->n);
    for (int k = 0; r->land && r->samples > 0 && k < r->land->nfield; k++)
      BPS_CHECK(r->land->field[k].data, BPS_ERR_ARG, "n = %d: landscape field %s: no data", r->n,
                r->land->field[k].name);
    BPS_CHECK(!piece || r->samples == 0 || r->sample_index, BPS_ERR_ARG,
              "n = %d: array-job piece without sample_index", r->n);
  }
  BPS_CHECK(!piece || (res->slice_index >= 0 && res->slice_index < res->slice_count),
            BPS_ERR_ARG, "slice_index %d not in [0, %d)", res->slice_index, res->slice_count);
  return BPS_OK;
}

/* ---------------------------------------------------------------- streamed datasets */

/* Where the rows of a per-sample dataset come from in a block of rows (bps_result_n). */
enum { SRC_COST, SRC_GRAD, SRC_DIAG, SRC_PARAMS, SRC_INDEX, SRC_LAND };

typedef struct {
  hid_t id;
  char name[BPS_LAND_NAME_LEN + 48]; /* "/n4/landscape/power", for messages */
  int src, field;                    /* SRC_*; the landscape field index */
  hid_t mtype;                       /* memory type of the rows */
  size_t esz;                        /* bytes per element (8) */
  size_t row_bytes;                  /* bytes per row */
  hsize_t rows;                      /* rows of the dataset */
  hsize_t crows;                     /* rows per chunk; 0: empty, nothing to store */
  hsize_t done, fill;                /* rows stored; rows waiting in buf */
  unsigned char *buf;                /* one chunk: crows rows */
} sdset;

#define MAX_SDSETS (5 + BPS_LAND_MAX_FIELDS)

struct bps_h5_stream {
  writer w;
  char *tmp, *dir, *json;
  hid_t fapl, file, g, lg; /* the file; the open /n{N} and its landscape group */
  int force, piece, created, direct;
  double busy; /* seconds spent in the writer's calls */
  int nn, *ns; /* the qubit counts written */
  /* the qubit count being written: from bps_h5_stream_n_begin to _n_end */
  int in_n, n;
  long S, total, row, last_index;
  char gname[32];
  int nds;
  sdset ds[MAX_SDSETS];
  /* deferred encoding (bps_h5_stream_defer): full chunks waiting for their encoding */
  int defer, npend, nput, cap_pend; /* pending chunks, of which nput are stored */
  struct pending {
    int ds;             /* index into ds[] */
    hsize_t row;        /* the chunk's first row */
    size_t n;           /* bytes of raw */
    unsigned char *raw; /* the whole chunk, an edge chunk's tail zero-filled */
  } * pend;
};

/* Deferred encoding: d's chunk (zero-filled to whole rows) joins the pending list, and d
 * gets a fresh buffer. */
static int pend_chunk(bps_h5_stream *s, sdset *d) {
  const size_t n = (size_t)d->crows * d->row_bytes;
  unsigned char *fresh = malloc(n);
  BPS_CHECK(fresh, BPS_ERR_MEM, "out of memory (a chunk of %s)", d->name);
  if (s->npend == s->cap_pend) {
    int cap = s->cap_pend ? 2 * s->cap_pend : 16;
    struct pending *np = realloc(s->pend, sizeof *np * (size_t)cap);
    if (!np) free(fresh);
    BPS_CHECK(np, BPS_ERR_MEM, "out of memory");
    s->pend = np;
    s->cap_pend = cap;
  }
  memset(d->buf + (size_t)d->fill * d->row_bytes, 0, n - (size_t)d->fill * d->row_bytes);
  s->pend[s->npend++] = (struct pending){(int)(d - s->ds), d->done, n, d->buf};
  d->buf = fresh;
  return BPS_OK;
}

/* Store buf's chunk (d->fill rows at row d->done), then empty it. */
static int sdset_flush(bps_h5_stream *s, sdset *d) {
  int rc = BPS_OK;
  hid_t fsp = H5I_INVALID_HID, msp = H5I_INVALID_HID;
  unsigned char *z = NULL;
  hsize_t off[3] = {d->done, 0, 0};
  if (d->fill == 0) return BPS_OK;
  if (s->direct && s->defer) { /* the caller has it encoded (bps_h5_stream_pending) */
    BPS_CALL_GOTO(pend_chunk(s, d));
  } else if (s->direct) { /* encoded here: the whole chunk, an edge chunk's tail zero-filled */
    size_t n = (size_t)d->crows * d->row_bytes, zlen = n;
    memset(d->buf + (size_t)d->fill * d->row_bytes, 0,
           (size_t)(d->crows - d->fill) * d->row_bytes);
    if (s->w.have_deflate) BPS_CALL_GOTO(chunk_encode(d->buf, n, d->esz, &z, &zlen));
    H5_TRY(H5Dwrite_chunk(d->id, H5P_DEFAULT, 0, off, zlen, z ? z : d->buf),
           "%s: cannot write dataset %s (rows %llu..)", s->w.path, d->name,
           (unsigned long long)d->done);
  } else { /* HDF5 converts and filters */
    hsize_t count[3], dims[3];
    H5_TRY(fsp = H5Dget_space(d->id), "%s: dataset %s: dataspace", s->w.path, d->name);
    int rank = H5Sget_simple_extent_dims(fsp, dims, NULL);
    H5_TRY(rank, "%s: dataset %s: dataspace", s->w.path, d->name);
    for (int k = 0; k < rank; k++) count[k] = k ? dims[k] : d->fill;
    H5_TRY(H5Sselect_hyperslab(fsp, H5S_SELECT_SET, off, NULL, count, NULL),
           "%s: dataset %s: selection", s->w.path, d->name);
    H5_TRY(msp = H5Screate_simple(rank, count, NULL), "%s: dataset %s: dataspace", s->w.path,
           d->name);
    H5_TRY(H5Dwrite(d->id, d->mtype, msp, fsp, H5P_DEFAULT, d->buf),
           "%s: cannot write dataset %s (rows %llu..)", s->w.path, d->name,
           (unsigned long long)d->done);
  }
  d->done += d->fill;
  d->fill = 0;
cleanup:
  free(z);
  h5_close(&msp);
  h5_close(&fsp);
  return rc;
}

/* Append count rows (row-major, d->row_bytes each) to d, storing every chunk that fills. */
static int sdset_append(bps_h5_stream *s, sdset *d, const unsigned char *src, hsize_t count) {
  while (count > 0) {
    hsize_t k = d->crows - d->fill;
    if (k > count) k = count;
    memcpy(d->buf + (size_t)d->fill * d->row_bytes, src, (size_t)k * d->row_bytes);
    d->fill += k;
    src += (size_t)k * d->row_bytes;
    count -= k;
    if (d->fill == d->crows) BPS_CALL(sdset_flush(s, d));
  }
  return BPS_OK;
}

/* Create the per-sample dataset name of shape [S, dims...] in loc and register it. */
static int sdset_add(bps_h5_stream *s, hid_t loc, const char *where, const char *name, int rank,
                     const hsize_t *dims, hid_t ftype, hid_t mtype, int src, int field) {
  BPS_CHECK(s->nds < MAX_SDSETS, BPS_ERR_INTERNAL, "too many per-sample datasets");
  sdset *d = &s->ds[s->nds++];
  memset(d, 0, sizeof *d);
  d->id = H5I_INVALID_HID;
  snprintf(d->name, sizeof d->name, "%s%s", where, name);
  d->src = src;
  d->field = field;
  d->mtype = mtype;
  d->esz = 8;
  d->rows = dims[0];
  hsize_t nelem = 1, cols = 1;
  for (int k = 0; k < rank; k++) nelem *= dims[k];
  for (int k = 1; k < rank; k++) cols *= dims[k];
  d->row_bytes = (size_t)cols * d->esz;
  d->crows = nelem > 0 ? chunk_rows(d->esz, rank, dims) : 0;
  BPS_CALL(dset_create(&s->w, loc, where, name, rank, dims, ftype, d->crows, &d->id));
  if (d->crows) {
    d->buf = malloc((size_t)d->crows * d->row_bytes);
    BPS_CHECK(d->buf, BPS_ERR_MEM, "out of memory (a chunk of %s)", d->name);
  }
  return BPS_OK;
}

/* The rows of d in a block of rows. */
static const void *sdset_source(const sdset *d, const bps_result_n *rows) {
  switch (d->src) {
  case SRC_COST: return rows->cost;
  case SRC_GRAD: return rows->grad;
  case SRC_DIAG: return rows->diag;
  case SRC_PARAMS: return rows->params;
  case SRC_INDEX: return rows->sample_index;
  default:
    return rows->land && d->field < rows->land->nfield ? rows->land->field[d->field].data : NULL;
  }
}

/* Close the datasets of the qubit count being written (and drop their buffers). */
static void sdsets_release(bps_h5_stream *s) {
  for (int i = 0; i < s->nds; i++) {
    h5_close(&s->ds[i].id);
    free(s->ds[i].buf);
    s->ds[i].buf = NULL;
  }
  s->nds = 0;
}

/* ---------------------------------------------------------------- groups and the root */

/* The per-sample datasets of r (shape only) in /n{N} and /n{N}/landscape. */
static int begin_datasets(bps_h5_stream *s, const bps_result_n *r, int with_params) {
  int rc = BPS_OK;
  char where[48], buf[128] = "";
  const hsize_t S = (hsize_t)r->samples;
  snprintf(where, sizeof where, "/%s/", s->gname);
  hsize_t d1[1] = {S}, d2[2] = {S, (hsize_t)r->ntracked};
  BPS_CALL_GOTO(
      sdset_add(s, s->g, where, "cost", 1, d1, H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, SRC_COST, 0));
  BPS_CALL_GOTO(
      sdset_add(s, s->g, where, "grad", 2, d2, H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, SRC_GRAD, 0));
  d2[1] = BPS_NDIAG;
  BPS_CALL_GOTO(
      sdset_add(s, s->g, where, "diag", 2, d2, H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, SRC_DIAG, 0));
  for (int k = 0; k < BPS_NDIAG; k++) {
    if (k) strcat(buf, ",");
    strcat(buf, bps_diag_names[k]);
  }
  char where2[64];
  snprintf(where2, sizeof where2, "/%s/diag:", s->gname);
  BPS_CALL_GOTO(attr_str(&s->w, s->ds[s->nds - 1].id, where2, "columns", buf));
  if (with_params) {
    d2[1] = (hsize_t)r->nparams;
    BPS_CALL_GOTO(sdset_add(s, s->g, where, "params", 2, d2, H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE,
                            SRC_PARAMS, 0));
  }
  if (s->piece) /* which samples of the scan the rows are (array-job pieces only) */
    BPS_CALL_GOTO(sdset_add(s, s->g, where, "sample_index", 1, d1, H5T_STD_I64LE,
                            H5T_NATIVE_LONG, SRC_INDEX, 0));
  if (r->land) {
    const bps_landscape_n *l = r->land;
    snprintf(where, sizeof where, "/%s/landscape/", s->gname);
    H5_TRY(s->lg = H5Gcreate2(s->g, "landscape", H5P_DEFAULT, s->w.gcpl, H5P_DEFAULT),
           "%s: cannot create group /%s/landscape", s->w.path, s->gname);
    hsize_t dd[1] = {(hsize_t)l->ndeg};
    BPS_CALL_GOTO(dset_write(&s->w, s->lg, where, "degree", 1, dd, H5T_STD_I32LE, H5T_NATIVE_INT,
                             l->degree));
    BPS_CALL_GOTO(
        dset_write(&s->w, s->lg, where, "size", 1, dd, H5T_STD_I32LE, H5T_NATIVE_INT, l->size));
    for (int i = 0; i < l->nfield; i++) {
      const bps_land_field *f = &l->field[i];
      hsize_t dims[3] = {S, 0, 0};
      for (int k = 0; k < f->ndim; k++) dims[k + 1] = (hsize_t)f->dims[k];
      BPS_CALL_GOTO(sdset_add(s, s->lg, where, f->name, f->ndim + 1, dims, H5T_IEEE_F64LE,
                              H5T_NATIVE_DOUBLE, SRC_LAND, i));
    }
  }
cleanup:
  return rc;
}

/* The landscape statistics datasets and attributes of r (README "Result files"). */
static int end_land(bps_h5_stream *s, const bps_result_n *r) {
  const bps_landscape_n *l = r->land;
  char where[48], nm[BPS_LAND_NAME_LEN + 16];
  char list[BPS_LAND_MAX_FIELDS * BPS_LAND_NAME_LEN + 1] = "";
  snprintf(where, sizeof where, "/%s/landscape/", s->gname);
  for (int i = 0; i < l->nfield; i++) {
    const bps_land_field *f = &l->field[i];
    hsize_t dims[2] = {(hsize_t)f->dims[0], (hsize_t)f->dims[1]};
    const double *st[4] = {f->mean, f->mean_se, f->var, f->var_se};
    for (int k = 0; f->stats && k < 4; k++) {
      snprintf(nm, sizeof nm, "%s%s", f->name, land_stat_suffix[k]);
      BPS_CALL(dset_write(&s->w, s->lg, where, nm, f->ndim, dims, H5T_IEEE_F64LE,
                          H5T_NATIVE_DOUBLE, st[k]));
    }
    if (i) strcat(list, ",");
    strcat(list, f->name);
  }
  BPS_CALL(attr_str(&s->w, s->lg, where, "directions", l->directions));
  BPS_CALL(attr_int(&s->w, s->lg, where, "pad", l->pad));
  BPS_CALL(attr_int(&s->w, s->lg, where, "num_cuts", l->ncut));
  BPS_CALL(attr_str(&s->w, s->lg, where, "fields", list));
  return BPS_OK;
}

/* The statistics, names and attributes of /n{N} (everything but the per-sample rows). */
static int end_n(bps_h5_stream *s, const bps_result_n *r) {
  int rc = BPS_OK;
  const writer *w = &s->w;
  const hid_t g = s->g;
  double *tmp = NULL;
  char where[40], buf[64];
  const hsize_t P = (hsize_t)r->ntracked;
  snprintf(where, sizeof where, "/%s/", s->gname);
  tmp = malloc((P > 0 ? P : 1) * sizeof *tmp);
  BPS_CHECK_GOTO(tmp, BPS_ERR_MEM, "out of memory");
  for (hsize_t k = 0; k < P; k++) tmp[k] = r->grad_stats[k].mean;
  BPS_CALL_GOTO(dset_f64(w, g, where, "grad_mean", P, tmp));
  for (hsize_t k = 0; k < P; k++) tmp[k] = r->grad_stats[k].var;
  BPS_CALL_GOTO(dset_f64(w, g, where, "grad_var", P, tmp));
  for (hsize_t k = 0; k < P; k++) tmp[k] = r->grad_stats[k].var_se;
  BPS_CALL_GOTO(dset_f64(w, g, where, "grad_var_se", P, tmp));
  BPS_CALL_GOTO(dset_strings(w, g, where, "param_names", r->ntracked,
                             (const char *const *)r->param_names, r->tracked));
  hsize_t d1[1] = {P};
  BPS_CALL_GOTO(
      dset_write(w, g, where, "param_index", 1, d1, H5T_STD_I32LE, H5T_NATIVE_INT, r->tracked));
  BPS_CALL_GOTO(dset_strings(w, g, where, "param_names_all", r->nparams,
                             (const char *const *)r->param_names, NULL));
  BPS_CALL_GOTO(attr_int(w, g, where, "n", r->n));
  BPS_CALL_GOTO(attr_i64(w, g, where, "num_samples", r->samples));
  BPS_CALL_GOTO(attr_int(w, g, where, "num_params", r->nparams));
  BPS_CALL_GOTO(attr_int(w, g, where, "num_tracked", r->ntracked));
  BPS_CALL_GOTO(attr_int(w, g, where, "q_in", r->q_in));
  BPS_CALL_GOTO(attr_int(w, g, where, "q_out", r->q_out));
  BPS_CALL_GOTO(attr_int(w, g, where, "diag_qubits", r->diag_qubits));
  BPS_CALL_GOTO(attr_str(w, g, where, "representation", r->representation));
  BPS_CALL_GOTO(attr_f64(w, g, where, "cost_mean", r->cost_stats.mean));
  BPS_CALL_GOTO(attr_f64(w, g, where, "cost_mean_se", r->cost_stats.mean_se));
  BPS_CALL_GOTO(attr_f64(w, g, where, "cost_var", r->cost_stats.var));
  BPS_CALL_GOTO(attr_f64(w, g, where, "cost_var_se", r->cost_stats.var_se));
  BPS_CALL_GOTO(attr_f64(w, g, where, "grad_var_mean", r->grad_var_mean));
  BPS_CALL_GOTO(attr_f64(w, g, where, "grad_var_mean_se", r->grad_var_mean_se));
  for (int k = 0; k < BPS_NDIAG; k++) {
    snprintf(buf, sizeof buf, "%s_mean", bps_diag_names[k]);
    BPS_CALL_GOTO(attr_f64(w, g, where, buf, r->diag_stats[k].mean));
    snprintf(buf, sizeof buf, "%s_mean_se", bps_diag_names[k]);
    BPS_CALL_GOTO(attr_f64(w, g, where, buf, r->diag_stats[k].mean_se));
    snprintf(buf, sizeof buf, "%s_var", bps_diag_names[k]);
    BPS_CALL_GOTO(attr_f64(w, g, where, buf, r->diag_stats[k].var));
  }
  BPS_CALL_GOTO(attr_f64(w, g, where, "page_entropy", r->page_entropy));
  BPS_CALL_GOTO(attr_f64(w, g, where, "page_purity", r->page_purity));
  if (s->piece) BPS_CALL_GOTO(attr_i64(w, g, where, "samples_total", r->samples_total));
  if (r->land) BPS_CALL_GOTO(end_land(s, r));
cleanup:
  free(tmp);
  return rc;
}

/* The /summary columns (one value per qubit count). */
enum {
  SUM_GRAD_VAR_MEAN,
  SUM_GRAD_VAR_MEAN_SE,
  SUM_COST_MEAN,
  SUM_COST_MEAN_SE,
  SUM_COST_VAR,
  SUM_COST_VAR_SE,
  SUM_DIAG_MEAN,
  SUM_DIAG_MEAN_SE = SUM_DIAG_MEAN + BPS_NDIAG,
  SUM_PAGE_ENTROPY = SUM_DIAG_MEAN_SE + BPS_NDIAG,
  SUM_PAGE_PURITY,
  SUM_COUNT
};

static double summary_value(const bps_result_n *r, int f) {
  if (f >= SUM_DIAG_MEAN && f < SUM_DIAG_MEAN + BPS_NDIAG)
    return r->diag_stats[f - SUM_DIAG_MEAN].mean;
  if (f >= SUM_DIAG_MEAN_SE && f < SUM_DIAG_MEAN_SE + BPS_NDIAG)
    return r->diag_stats[f - SUM_DIAG_MEAN_SE].mean_se;
  switch (f) {
  case SUM_GRAD_VAR_MEAN: return r->grad_var_mean;
  case SUM_GRAD_VAR_MEAN_SE: return r->grad_var_mean_se;
  case SUM_COST_MEAN: return r->cost_stats.mean;
  case SUM_COST_MEAN_SE: return r->cost_stats.mean_se;
  case SUM_COST_VAR: return r->cost_stats.var;
  case SUM_COST_VAR_SE: return r->cost_stats.var_se;
  case SUM_PAGE_ENTROPY: return r->page_entropy;
  case SUM_PAGE_PURITY: return r->page_purity;
  default: return NAN;
  }
}

static void summary_name(int f, char *buf, size_t n) {
  static const char *const fixed[] = {"grad_var_mean", "grad_var_mean_se", "cost_mean",
                                      "cost_mean_se",  "cost_var",         "cost_var_se"};
  if (f < SUM_DIAG_MEAN) snprintf(buf, n, "%s", fixed[f]);
  else if (f < SUM_DIAG_MEAN_SE) snprintf(buf, n, "%s_mean", bps_diag_names[f - SUM_DIAG_MEAN]);
  else if (f < SUM_PAGE_ENTROPY)
    snprintf(buf, n, "%s_mean_se", bps_diag_names[f - SUM_DIAG_MEAN_SE]);
  else snprintf(buf, n, "%s", f == SUM_PAGE_ENTROPY ? "page_entropy" : "page_purity");
}

static int write_summary(const writer *w, hid_t file, const bps_result *res) {
  int rc = BPS_OK;
  hid_t g = H5I_INVALID_HID;
  int K = res->nn;
  size_t m = K > 0 ? (size_t)K : 1;
  double *x = malloc(m * sizeof *x);
  int *nv = malloc(m * sizeof *nv);
  long *sv = malloc(m * sizeof *sv);
  BPS_CHECK_GOTO(x && nv && sv, BPS_ERR_MEM, "out of memory");
  H5_TRY(g = H5Gcreate2(file, "summary", H5P_DEFAULT, w->gcpl, H5P_DEFAULT),
         "%s: cannot create group /summary", w->path);
  for (int i = 0; i < K; i++) nv[i] = res->per_n[i].n, sv[i] = res->per_n[i].samples;
  hsize_t dims[1] = {(hsize_t)K};
  BPS_CALL_GOTO(dset_write(w, g, "/summary/", "n", 1, dims, H5T_STD_I32LE, H5T_NATIVE_INT, nv));
  BPS_CALL_GOTO(
      dset_write(w, g, "/summary/", "num_samples", 1, dims, H5T_STD_I64LE, H5T_NATIVE_LONG, sv));
  for (int f = 0; f < SUM_COUNT; f++) {
    char name[64];
    summary_name(f, name, sizeof name);
    for (int i = 0; i < K; i++) x[i] = summary_value(&res->per_n[i], f);
    BPS_CALL_GOTO(dset_f64(w, g, "/summary/", name, (hsize_t)K, x));
  }
  H5_TRY(h5_close(&g), "%s: cannot close group /summary", w->path);
cleanup:
  free(x);
  free(nv);
  free(sv);
  h5_close(&g);
  return rc;
}

/* ---------------------------------------------------------------- exact-moments results */

/* The values of a complete moments result for one n, decoded from its item records. */
typedef struct {
  int P, exact, bond;
  long peak;
  long double cost_mean, cost_var, cost_lo, cost_hi, purity;
  long double gvm, gvm_lo, gvm_hi; /* mean over the tracked parameters of Var dC */
  double *gm, *gv, *gvl2, *glo, *ghi, *glo2, *ghi2, *zero;
} mom_vals;

static void mom_vals_free(mom_vals *v) {
  free(v->gm);
  memset(v, 0, sizeof *v);
}

static double log2_or_nan(long double v, int ok) { return ok ? bps_mom_log2(v) : NAN; }

static int mom_vals_make(const bps_result_n *r, mom_vals *v) {
  const bps_mom_n *mo = r->mom;
  memset(v, 0, sizeof *v);
  const int P = r->ntracked;
  v->P = P;
  BPS_CHECK(mo->nitems == 1 + P, BPS_ERR_ARG, "n = %d: %d moment items for %d parameters", r->n,
            mo->nitems, P);
  v->gm = calloc((size_t)(8 * (P > 0 ? P : 1)), sizeof(double));
  BPS_CHECK(v->gm, BPS_ERR_MEM, "out of memory");
  v->gv = v->gm + P, v->gvl2 = v->gv + P, v->glo = v->gvl2 + P, v->ghi = v->glo + P;
  v->glo2 = v->ghi + P, v->ghi2 = v->glo2 + P, v->zero = v->ghi2 + P;
  v->exact = 1;
  for (int i = 0; i <= P; i++) {
    const double *rec = mo->rec + (size_t)i * BPS_MOMREC_LEN;
    BPS_CHECK(mo->item[i] == i, BPS_ERR_ARG, "n = %d: moment item %d is %ld", r->n, i,
              mo->item[i]);
    v->exact &= rec[BPS_MOMREC_EXACT] != 0;
    if ((long)rec[BPS_MOMREC_PEAK] > v->peak) v->peak = (long)rec[BPS_MOMREC_PEAK];
    if ((int)rec[BPS_MOMREC_BOND] > v->bond) v->bond = (int)rec[BPS_MOMREC_BOND];
  }
  const double *c = mo->rec;
  v->cost_mean = bps_mom_decode(c + BPS_MOMREC_MEAN);
  v->cost_var = bps_mom_decode(c + BPS_MOMREC_VAR);
  v->cost_lo = bps_mom_decode(c + BPS_MOMREC_VAR_LO);
  v->cost_hi = bps_mom_decode(c + BPS_MOMREC_VAR_HI);
  v->purity = bps_mom_decode(c + BPS_MOMREC_PURITY);
  for (int k = 0; k < P; k++) {
    const double *rec = mo->rec + (size_t)(k + 1) * BPS_MOMREC_LEN;
    const long double var = bps_mom_decode(rec + BPS_MOMREC_VAR),
                      lo = bps_mom_decode(rec + BPS_MOMREC_VAR_LO),
                      hi = bps_mom_decode(rec + BPS_MOMREC_VAR_HI);
    v->gm[k] = (double)bps_mom_decode(rec + BPS_MOMREC_MEAN);
    v->gv[k] = v->exact ? (double)var : NAN;
    v->gvl2[k] = log2_or_nan(var, v->exact);
    v->glo[k] = (double)lo, v->ghi[k] = (double)hi;
    v->glo2[k] = bps_mom_log2(lo), v->ghi2[k] = bps_mom_log2(hi);
    v->gvm += var / P, v->gvm_lo += lo / P, v->gvm_hi += hi / P;
  }
  return BPS_OK;
}

/* /n{N} of a moments scan: a complete one (public datasets, README "Result files") or an
 * array-job piece (its item records, for `bpscan merge`). */
static int write_n_mom(const writer *w, hid_t file, const bps_result_n *r, int piece) {
  int rc = BPS_OK;
  hid_t g = H5I_INVALID_HID;
  mom_vals v;
  memset(&v, 0, sizeof v);
  char gname[32], where[40];
  snprintf(gname, sizeof gname, "n%d", r->n);
  snprintf(where, sizeof where, "/%s/", gname);
  const bps_mom_n *mo = r->mom;
  H5_TRY(g = H5Gcreate2(file, gname, H5P_DEFAULT, w->gcpl, H5P_DEFAULT),
         "%s: cannot create group /%s", w->path, gname);
  const hsize_t P = (hsize_t)r->ntracked;
  hsize_t d1[1] = {P}, d2[2];
  BPS_CALL_GOTO(dset_strings(w, g, where, "param_names", r->ntracked,
                             (const char *const *)r->param_names, r->tracked));
  BPS_CALL_GOTO(
      dset_write(w, g, where, "param_index", 1, d1, H5T_STD_I32LE, H5T_NATIVE_INT, r->tracked));
  BPS_CALL_GOTO(dset_strings(w, g, where, "param_names_all", r->nparams,
                             (const char *const *)r->param_names, NULL));
  BPS_CALL_GOTO(attr_int(w, g, where, "n", r->n));
  BPS_CALL_GOTO(attr_i64(w, g, where, "num_samples", 0));
  BPS_CALL_GOTO(attr_int(w, g, where, "num_params", r->nparams));
  BPS_CALL_GOTO(attr_int(w, g, where, "num_tracked", r->ntracked));
  BPS_CALL_GOTO(attr_int(w, g, where, "q_in", r->q_in));
  BPS_CALL_GOTO(attr_int(w, g, where, "q_out", r->q_out));
  BPS_CALL_GOTO(attr_int(w, g, where, "diag_qubits", r->diag_qubits));
  BPS_CALL_GOTO(attr_str(w, g, where, "engine", mo->engine));
  BPS_CALL_GOTO(attr_str(w, g, where, "precision", mo->precision));
  BPS_CALL_GOTO(attr_f64(w, g, where, "page_entropy", r->page_entropy));
  BPS_CALL_GOTO(attr_f64(w, g, where, "page_purity", r->page_purity));
  if (piece) {
    d1[0] = (hsize_t)mo->nitems;
    BPS_CALL_GOTO(
        dset_write(w, g, where, "mom_items", 1, d1, H5T_STD_I64LE, H5T_NATIVE_LONG, mo->item));
    d2[0] = (hsize_t)mo->nitems, d2[1] = BPS_MOMREC_LEN;
    BPS_CALL_GOTO(dset_write(w, g, where, "mom_records", 2, d2, H5T_IEEE_F64LE,
                             H5T_NATIVE_DOUBLE, mo->rec));
    H5_TRY(h5_close(&g), "%s: cannot close group /%s", w->path, gname);
    goto cleanup;
  }
  BPS_CALL_GOTO(mom_vals_make(r, &v));
  BPS_CALL_GOTO(dset_f64(w, g, where, "grad_mean", P, v.gm));
  BPS_CALL_GOTO(dset_f64(w, g, where, "grad_var", P, v.gv));
  BPS_CALL_GOTO(dset_f64(w, g, where, "grad_var_log2", P, v.gvl2));
  BPS_CALL_GOTO(dset_f64(w, g, where, "grad_var_se", P, v.zero));
  if (!v.exact) {
    BPS_CALL_GOTO(dset_f64(w, g, where, "grad_var_lower", P, v.glo));
    BPS_CALL_GOTO(dset_f64(w, g, where, "grad_var_upper", P, v.ghi));
    BPS_CALL_GOTO(dset_f64(w, g, where, "grad_var_lower_log2", P, v.glo2));
    BPS_CALL_GOTO(dset_f64(w, g, where, "grad_var_upper_log2", P, v.ghi2));
    BPS_CALL_GOTO(attr_f64(w, g, where, "grad_var_mean_lower", (double)v.gvm_lo));
    BPS_CALL_GOTO(attr_f64(w, g, where, "grad_var_mean_upper", (double)v.gvm_hi));
    BPS_CALL_GOTO(attr_f64(w, g, where, "grad_var_mean_lower_log2", bps_mom_log2(v.gvm_lo)));
    BPS_CALL_GOTO(attr_f64(w, g, where, "grad_var_mean_upper_log2", bps_mom_log2(v.gvm_hi)));
    BPS_CALL_GOTO(attr_f64(w, g, where, "cost_var_lower", (double)v.cost_lo));
    BPS_CALL_GOTO(attr_f64(w, g, where, "cost_var_upper", (double)v.cost_hi));
  }
  BPS_CALL_GOTO(attr_int(w, g, where, "exact", v.exact));
  BPS_CALL_GOTO(attr_i64(w, g, where, "peak_pairs", v.peak));
  BPS_CALL_GOTO(attr_int(w, g, where, "bond_dim", v.bond));
  BPS_CALL_GOTO(attr_f64(w, g, where, "cost_mean", (double)v.cost_mean));
  BPS_CALL_GOTO(attr_f64(w, g, where, "cost_mean_se", 0.0));
  BPS_CALL_GOTO(attr_f64(w, g, where, "cost_var", v.exact ? (double)v.cost_var : NAN));
  BPS_CALL_GOTO(attr_f64(w, g, where, "cost_var_se", 0.0));
  BPS_CALL_GOTO(attr_f64(w, g, where, "cost_var_log2", log2_or_nan(v.cost_var, v.exact)));
  BPS_CALL_GOTO(attr_f64(w, g, where, "grad_var_mean", v.exact ? (double)v.gvm : NAN));
  BPS_CALL_GOTO(attr_f64(w, g, where, "grad_var_mean_se", 0.0));
  BPS_CALL_GOTO(attr_f64(w, g, where, "grad_var_mean_log2", log2_or_nan(v.gvm, v.exact)));
  BPS_CALL_GOTO(attr_f64(w, g, where, "purity_mean", (double)v.purity));
  BPS_CALL_GOTO(attr_f64(w, g, where, "purity_mean_se", 0.0));
  H5_TRY(h5_close(&g), "%s: cannot close group /%s", w->path, gname);
cleanup:
  mom_vals_free(&v);
  h5_close(&g);
  return rc;
}

/* /summary of a complete moments scan (pieces: the qubit counts only). */
static int write_summary_mom(const writer *w, hid_t file, const bps_result *res, int piece) {
  int rc = BPS_OK;
  hid_t g = H5I_INVALID_HID;
  const int K = res->nn;
  static const char *const names[] = {"grad_var_mean",  "grad_var_mean_log2", "grad_var_mean_se",
                                      "cost_mean",      "cost_mean_se",       "cost_var",
                                      "cost_var_se",    "cost_var_log2",      "purity_mean",
                                      "purity_mean_se", "page_entropy",       "page_purity"};
  enum { NF = sizeof names / sizeof *names };
  double *x = malloc(sizeof(double) * (size_t)(K > 0 ? K : 1) * NF);
  int *nv = malloc(sizeof(int) * (size_t)(K > 0 ? K : 1) * 2), *ex = nv + (K > 0 ? K : 1);
  long *sv = calloc((size_t)(K > 0 ? K : 1), sizeof(long));
  mom_vals v;
  memset(&v, 0, sizeof v);
  if (!x || !nv || !sv) BPS_FAIL_GOTO(BPS_ERR_MEM, "out of memory");
  H5_TRY(g = H5Gcreate2(file, "summary", H5P_DEFAULT, w->gcpl, H5P_DEFAULT),
         "%s: cannot create group /summary", w->path);
  for (int i = 0; i < K; i++) nv[i] = res->per_n[i].n;
  hsize_t dims[1] = {(hsize_t)K};
  BPS_CALL_GOTO(dset_write(w, g, "/summary/", "n", 1, dims, H5T_STD_I32LE, H5T_NATIVE_INT, nv));
  BPS_CALL_GOTO(
      dset_write(w, g, "/summary/", "num_samples", 1, dims, H5T_STD_I64LE, H5T_NATIVE_LONG, sv));
  if (piece) {
    H5_TRY(h5_close(&g), "%s: cannot close group /summary", w->path);
    goto cleanup;
  }
  for (int i = 0; i < K; i++) {
    const bps_result_n *r = &res->per_n[i];
    BPS_CALL_GOTO(mom_vals_make(r, &v));
    const double f[NF] = {v.exact ? (double)v.gvm : NAN,
                          log2_or_nan(v.gvm, v.exact),
                          0.0,
                          (double)v.cost_mean,
                          0.0,
                          v.exact ? (double)v.cost_var : NAN,
                          0.0,
                          log2_or_nan(v.cost_var, v.exact),
                          (double)v.purity,
                          0.0,
                          r->page_entropy,
                          r->page_purity};
    for (int k = 0; k < NF; k++) x[(size_t)k * (size_t)K + (size_t)i] = f[k];
    ex[i] = v.exact;
    mom_vals_free(&v);
  }
  for (int k = 0; k < NF; k++)
    BPS_CALL_GOTO(dset_f64(w, g, "/summary/", names[k], (hsize_t)K, x + (size_t)k * (size_t)K));
  BPS_CALL_GOTO(dset_write(w, g, "/summary/", "exact", 1, dims, H5T_STD_I32LE, H5T_NATIVE_INT, ex));
  H5_TRY(h5_close(&g), "%s: cannot close group /summary", w->path);
cleanup:
  mom_vals_free(&v);
  free(x);
  free(nv);
  free(sv);
  h5_close(&g);
  return rc;
}

/* The root attributes but wall_write. */
static int write_root(const writer *w, hid_t file, const bps_result *res, int piece,
                      const char *mode) {
  char t[64];
  unsigned maj = 0, min = 0, rel = 0;
  H5get_libversion(&maj, &min, &rel);
  BPS_CALL(attr_int(w, file, "/", "schema_version", BPS_H5_SCHEMA_VERSION));
  BPS_CALL(attr_str(w, file, "/", "bpscan_version", BPS_VERSION_STRING));
  BPS_CALL(attr_str(w, file, "/", "git_commit", BPS_GIT_COMMIT));
  snprintf(t, sizeof t, "%u.%u.%u", maj, min, rel);
  BPS_CALL(attr_str(w, file, "/", "hdf5_version", t));
  BPS_CALL(attr_str(w, file, "/", "job", res->job_text));
  BPS_CALL(attr_u64(w, file, "/", "job_hash", res->job_hash));
  BPS_CALL(attr_str(w, file, "/", "job_json", w->job_json));
  BPS_CALL(attr_u64(w, file, "/", "seed", res->seed));
  BPS_CALL(attr_str(w, file, "/", "model", res->model));
  BPS_CALL(attr_str(w, file, "/", "grad_method", res->grad_method));
  BPS_CALL(attr_int(w, file, "/", "mpi_ranks", res->mpi_ranks));
  BPS_CALL(attr_int(w, file, "/", "omp_threads", res->omp_threads));
  BPS_CALL(attr_str(w, file, "/", "host", res->host));
  BPS_CALL(attr_str(w, file, "/", "hosts", res->hosts ? res->hosts : ""));
  iso8601_utc(res->start_time, t, sizeof t);
  BPS_CALL(attr_str(w, file, "/", "start_time", t));
  iso8601_utc(res->end_time, t, sizeof t);
  BPS_CALL(attr_str(w, file, "/", "end_time", t));
  BPS_CALL(attr_f64(w, file, "/", "start_unix", res->start_time));
  BPS_CALL(attr_f64(w, file, "/", "end_unix", res->end_time));
  BPS_CALL(attr_f64(w, file, "/", "wall_plan", res->wall_plan));
  BPS_CALL(attr_f64(w, file, "/", "wall_compute", res->wall_compute));
  BPS_CALL(attr_f64(w, file, "/", "wall_reduce", res->wall_reduce));
  BPS_CALL(attr_int(w, file, "/", "slice_index", piece ? res->slice_index : 0));
  BPS_CALL(attr_int(w, file, "/", "slice_count", piece ? res->slice_count : 1));
  BPS_CALL(attr_str(w, file, "/", "mode", mode));
  return BPS_OK;
}

/* Move the finished tmp onto path: rename() with force, else link() + unlink() so that a
 * file created meanwhile is not clobbered (check-then-rename where links are missing). */
static int move_into_place(const char *tmp, const char *path, int force) {
  struct stat st;
  if (force) {
    BPS_CHECK(lstat(path, &st) != 0 || S_ISREG(st.st_mode) || S_ISLNK(st.st_mode), BPS_ERR_OUTPUT,
              "'%s' is not a regular file (it appeared while writing); --force replaces only "
              "regular files",
              path);
    BPS_CHECK(rename(tmp, path) == 0, BPS_ERR_IO, "cannot move '%s' onto '%s': %s", tmp, path,
              strerror(errno));
    return BPS_OK;
  }
  if (link(tmp, path) == 0) {
    unlink(tmp);
    return BPS_OK;
  }
  BPS_CHECK(errno != EEXIST, BPS_ERR_EXISTS,
            "'%s' exists; use --force to overwrite (it appeared while writing)", path);
  BPS_CHECK(errno == EPERM || errno == ENOTSUP || errno == EOPNOTSUPP || errno == ENOSYS ||
                errno == EMLINK,
            BPS_ERR_IO, "cannot move '%s' onto '%s': %s", tmp, path, strerror(errno));
  BPS_CHECK(stat(path, &st) != 0, BPS_ERR_EXISTS,
            "'%s' exists; use --force to overwrite (it appeared while writing)", path);
  BPS_CHECK(rename(tmp, path) == 0, BPS_ERR_IO, "cannot move '%s' onto '%s': %s", tmp, path,
            strerror(errno));
  return BPS_OK;
}

/* The root attribute job_json: job.c's JSON of the result's job text, which must be a job
 * this bpscan reads (the driver's and merge's always are). */
static int result_job_json(const char *path, const bps_result *res, char **json) {
  BPS_CHECK(res->job_text, BPS_ERR_ARG, "%s: the result has no job text", path);
  int rc = BPS_OK;
  bps_job job;
  memset(&job, 0, sizeof job);
  BPS_CHECK_GOTO(!bps_job_parse(res->job_text, "the result's job text", NULL, 0, &job),
                 BPS_ERR_ARG, "%s: the result's job text is not a valid job", path);
  BPS_CALL_GOTO(bps_job_json(&job, json));
cleanup:
  bps_job_free(&job);
  return rc;
}

/* ---------------------------------------------------------------- the stream */

/* A write of the driver failed (a full disk, a quota): say so now, not only at close. */
static int vfd_check(const bps_h5_stream *s) {
  BPS_CHECK(!vfd_errno, BPS_ERR_IO, "cannot write '%s' (temporary '%s', %s): %s", s->w.path,
            s->tmp, vfd_what, strerror(vfd_errno));
  return BPS_OK;
}

/* Close every HDF5 object of s and the file (a failure: nothing is kept). */
static void stream_close_all(bps_h5_stream *s) {
  sdsets_release(s);
  h5_close(&s->lg);
  h5_close(&s->g);
  h5_close(&s->file);
  h5_close(&s->fapl);
  h5_close(&s->w.str_type);
  h5_close(&s->w.dcpl_small);
  h5_close(&s->w.gcpl);
  H5Eclear2(H5E_DEFAULT);
}

void bps_h5_stream_abort(bps_h5_stream *s) {
  if (!s) return;
  stream_close_all(s);
  for (int k = 0; k < s->npend; k++) free(s->pend[k].raw);
  free(s->pend);
  if (s->created) unlink(s->tmp);
  free(s->tmp);
  free(s->dir);
  free(s->json);
  free(s->ns);
  free(s);
}

/* The stream's HDF5 types and property lists, and the temporary file. */
static int stream_create(bps_h5_stream *s) {
  int rc = BPS_OK;
  writer *w = &s->w;
  H5_TRY(w->str_type = H5Tcopy(H5T_C_S1), "%s: string type", w->path);
  H5_TRY(H5Tset_size(w->str_type, H5T_VARIABLE), "%s: string type", w->path);
  H5_TRY(H5Tset_cset(w->str_type, H5T_CSET_UTF8), "%s: string type", w->path);
  H5_TRY(w->dcpl_small = H5Pcreate(H5P_DATASET_CREATE), "%s: property list", w->path);
  H5_TRY(H5Pset_obj_track_times(w->dcpl_small, 0), "%s: property list", w->path);
  H5_TRY(w->gcpl = H5Pcreate(H5P_GROUP_CREATE), "%s: property list", w->path);
  H5_TRY(H5Pset_obj_track_times(w->gcpl, 0), "%s: property list", w->path);
  w->have_deflate = H5Zfilter_avail(H5Z_FILTER_DEFLATE) > 0;
  H5_TRY(s->fapl = H5Pcreate(H5P_FILE_ACCESS), "%s: property list", w->path);
  H5_TRY(H5Pset_driver(s->fapl, vfd_id(), NULL), "%s: file driver", w->path);
  H5_TRY(H5Pset_libver_bounds(s->fapl, H5F_LIBVER_EARLIEST, H5F_LIBVER_V18), "%s: format bounds",
         w->path);
  H5_TRY(H5Pset_fclose_degree(s->fapl, H5F_CLOSE_STRONG), "%s: close degree", w->path);
  vfd_reset();
  s->file = H5Fcreate(s->tmp, H5F_ACC_EXCL, H5P_DEFAULT, s->fapl);
  H5_TRY(s->file, "cannot create temporary file '%s' for '%s'", s->tmp, w->path);
  s->created = 1;
cleanup:
  return rc;
}

int bps_h5_stream_open(const char *path, const bps_result *head, int force, bps_h5_stream **out) {
  int rc = BPS_OK;
  const double t0 = now_monotonic();
  bps_h5_stream *s = calloc(1, sizeof *s);
  *out = NULL;
  h5_silence();
  BPS_CHECK_GOTO(s, BPS_ERR_MEM, "out of memory");
  s->fapl = s->file = s->g = s->lg = H5I_INVALID_HID;
  s->w.str_type = s->w.dcpl_small = s->w.gcpl = H5I_INVALID_HID;
  s->w.path = path;
  s->force = force;
  s->piece = head && head->slice_count > 1;
  s->direct = host_is_le64();
  BPS_CALL_GOTO(result_job_json(path, head, &s->json));
  s->w.job_json = s->json;
  BPS_CALL_GOTO(check_target(path, force, 0));
  s->tmp = tmp_name(path);
  s->dir = dir_of(path);
  BPS_CHECK_GOTO(s->tmp && s->dir, BPS_ERR_MEM, "out of memory");
  BPS_CHECK_GOTO(access(s->tmp, F_OK) != 0, BPS_ERR_IO,
                 "cannot write '%s': temporary file '%s' exists (another bpscan writing it?); "
                 "remove it",
                 path, s->tmp);
  BPS_CALL_GOTO(stream_create(s));
  s->busy = now_monotonic() - t0;
  *out = s;
  s = NULL;
cleanup:
  bps_h5_stream_abort(s);
  return rc;
}

double bps_h5_stream_busy(const bps_h5_stream *s) { return s ? s->busy : 0.0; }

int bps_h5_stream_n_begin(bps_h5_stream *s, const bps_result_n *r, int with_params) {
  int rc = BPS_OK;
  const double t0 = now_monotonic();
  BPS_CHECK(s && r && !s->in_n, BPS_ERR_ARG, "bps_h5_stream_n_begin: no stream, or n open");
  BPS_CALL(check_shape(r, s->nn ? s->ns[s->nn - 1] : 0, s->piece));
  int *ns = realloc(s->ns, sizeof(int) * (size_t)(s->nn + 1));
  BPS_CHECK(ns, BPS_ERR_MEM, "out of memory");
  s->ns = ns;
  s->in_n = 1;
  s->n = r->n;
  s->S = r->samples;
  s->total = r->samples_total;
  s->row = 0;
  s->last_index = -1;
  snprintf(s->gname, sizeof s->gname, "n%d", r->n);
  H5_TRY(s->g = H5Gcreate2(s->file, s->gname, H5P_DEFAULT, s->w.gcpl, H5P_DEFAULT),
         "%s: cannot create group /%s", s->w.path, s->gname);
  BPS_CALL_GOTO(begin_datasets(s, r, with_params));
cleanup:
  s->busy += now_monotonic() - t0;
  return rc;
}

/* The sample numbers of a piece: increasing, in [0, total). */
static int check_index(bps_h5_stream *s, const long *idx, long count, long total) {
  BPS_CHECK(idx || count == 0, BPS_ERR_ARG, "n = %d: array-job piece without sample_index", s->n);
  for (long k = 0; k < count; k++) {
    BPS_CHECK(idx[k] > s->last_index && idx[k] < total, BPS_ERR_ARG,
              "n = %d: sample_index[%ld] = %ld is not increasing in [0, %ld)", s->n, s->row + k,
              idx[k], total);
    s->last_index = idx[k];
  }
  return BPS_OK;
}

int bps_h5_stream_rows(bps_h5_stream *s, const bps_result_n *rows, long count) {
  int rc = BPS_OK;
  const double t0 = now_monotonic();
  BPS_CHECK(s && s->in_n && rows && count >= 0, BPS_ERR_ARG, "bps_h5_stream_rows: no n open");
  BPS_CHECK(s->row + count <= s->S, BPS_ERR_ARG, "n = %d: %ld rows more than its %ld samples",
            s->n, s->row + count, s->S);
  if (s->piece) BPS_CALL(check_index(s, rows->sample_index, count, s->total));
  for (int i = 0; i < s->nds && count > 0; i++) {
    sdset *d = &s->ds[i];
    if (!d->crows) continue;
    const void *src = sdset_source(d, rows);
    BPS_CHECK_GOTO(src, BPS_ERR_ARG, "%s: no rows given", d->name);
    BPS_CALL_GOTO(sdset_append(s, d, src, (hsize_t)count));
  }
  s->row += count;
  BPS_CALL_GOTO(vfd_check(s));
cleanup:
  s->busy += now_monotonic() - t0;
  return rc;
}

int bps_h5_chunk_encode(const void *raw, size_t n, void **out, size_t *outlen) {
  static int deflate = -1;
  if (deflate < 0) deflate = H5Zfilter_avail(H5Z_FILTER_DEFLATE) > 0;
  *out = NULL;
  *outlen = 0;
  if (deflate) return chunk_encode(raw, n, 8, (unsigned char **)out, outlen);
  *out = malloc(n ? n : 1); /* no deflate filter: datasets are stored unfiltered */
  BPS_CHECK(*out, BPS_ERR_MEM, "out of memory (chunk of %zu bytes)", n);
  memcpy(*out, raw, n);
  *outlen = n;
  return BPS_OK;
}

void bps_h5_stream_defer(bps_h5_stream *s, int on) {
  if (s) s->defer = on && s->direct;
}

int bps_h5_stream_pending(const bps_h5_stream *s) { return s ? s->npend - s->nput : 0; }

size_t bps_h5_stream_pending_bytes(const bps_h5_stream *s) {
  size_t n = 0;
  for (int k = s ? s->nput : 0; s && k < s->npend; k++) n += s->pend[k].n;
  return n;
}

const void *bps_h5_stream_pending_raw(const bps_h5_stream *s, int k, size_t *n) {
  *n = s->pend[k].n;
  return s->pend[k].raw;
}

/* Chunk k of the pending list, encoded as z (zlen bytes), to the file. */
static int put_pending(bps_h5_stream *s, int k, const void *z, size_t zlen) {
  int rc = BPS_OK;
  struct pending *c = &s->pend[k];
  const sdset *d = &s->ds[c->ds];
  hsize_t off[3] = {c->row, 0, 0};
  H5_TRY(H5Dwrite_chunk(d->id, H5P_DEFAULT, 0, off, zlen, z),
         "%s: cannot write dataset %s (rows %llu..)", s->w.path, d->name,
         (unsigned long long)c->row);
cleanup:
  free(c->raw);
  c->raw = NULL;
  return rc;
}

int bps_h5_stream_put(bps_h5_stream *s, int k, const void *z, size_t zlen) {
  int rc = BPS_OK;
  const double t0 = now_monotonic();
  BPS_CHECK(s && k == s->nput && k < s->npend, BPS_ERR_ARG,
            "encoded chunk %d stored out of order (next %d of %d)", k, s ? s->nput : -1,
            s ? s->npend : -1);
  BPS_CALL_GOTO(put_pending(s, k, z, zlen));
  if (++s->nput == s->npend) s->npend = s->nput = 0; /* all stored: the list is empty */
  BPS_CALL_GOTO(vfd_check(s));
cleanup:
  s->busy += now_monotonic() - t0;
  return rc;
}

int bps_h5_stream_flush(bps_h5_stream *s) {
  BPS_CHECK(s && s->in_n && s->row == s->S, BPS_ERR_ARG, "bps_h5_stream_flush: rows missing");
  for (int i = 0; i < s->nds; i++) BPS_CALL(sdset_flush(s, &s->ds[i]));
  return BPS_OK;
}

/* Encode and store what is pending here (a caller that deferred and did not encode). */
static int encode_pending(bps_h5_stream *s) {
  int rc = BPS_OK;
  while (s->npend > 0 && !rc) {
    void *z = NULL;
    size_t zlen = 0;
    const int k = s->nput;
    rc = bps_h5_chunk_encode(s->pend[k].raw, s->pend[k].n, &z, &zlen);
    if (!rc) rc = bps_h5_stream_put(s, k, z, zlen);
    free(z);
  }
  BPS_CALL(rc);
  return BPS_OK;
}

int bps_h5_stream_n_end(bps_h5_stream *s, const bps_result_n *r) {
  int rc = BPS_OK;
  const double t0 = now_monotonic();
  BPS_CHECK(s && s->in_n && r && r->n == s->n, BPS_ERR_ARG, "bps_h5_stream_n_end: n not open");
  BPS_CHECK(s->row == s->S, BPS_ERR_ARG, "n = %d: %ld rows written of %ld", s->n, s->row, s->S);
  BPS_CALL(check_stats(r));
  for (int i = 0; i < s->nds; i++) BPS_CALL_GOTO(sdset_flush(s, &s->ds[i]));
  BPS_CALL_GOTO(encode_pending(s));
  for (int i = 0; i < s->nds; i++)
    H5_TRY(h5_close(&s->ds[i].id), "%s: cannot close dataset %s", s->w.path, s->ds[i].name);
  sdsets_release(s);
  BPS_CALL_GOTO(end_n(s, r));
  H5_TRY(h5_close(&s->lg), "%s: cannot close group /%s/landscape", s->w.path, s->gname);
  H5_TRY(h5_close(&s->g), "%s: cannot close group /%s", s->w.path, s->gname);
  s->ns[s->nn++] = s->n;
  s->in_n = 0;
  BPS_CALL_GOTO(vfd_check(s));
cleanup:
  s->busy += now_monotonic() - t0;
  return rc;
}

/* Root attributes, /summary, the file closed (and checked), moved into place. */
static int stream_finish(bps_h5_stream *s, const bps_result *res, double t0) {
  int rc = BPS_OK, land = 0, mom = 0;
  BPS_CHECK(res && !s->in_n && res->nn == s->nn, BPS_ERR_ARG,
            "bps_h5_stream_close: %d qubit counts written, the result has %d", s->nn,
            res ? res->nn : -1);
  for (int i = 0; i < res->nn; i++) {
    BPS_CHECK(res->per_n[i].n == s->ns[i], BPS_ERR_ARG, "result n = %d, written n = %d",
              res->per_n[i].n, s->ns[i]);
    land |= res->per_n[i].land != NULL;
    mom |= res->per_n[i].mom != NULL;
  }
  BPS_CALL(write_root(&s->w, s->file, res, s->piece,
                      mom    ? "moments"
                      : land ? "landscape"
                             : "gradient"));
  BPS_CALL(mom ? write_summary_mom(&s->w, s->file, res, s->piece)
               : write_summary(&s->w, s->file, res));
  double ww = res->wall_write;
  if (!(ww >= 0)) ww = s->busy + (now_monotonic() - t0);
  BPS_CALL(attr_f64(&s->w, s->file, "/", "wall_write", ww));
  H5_TRY(H5Fflush(s->file, H5F_SCOPE_GLOBAL), "%s: cannot flush the file", s->w.path);
  H5_TRY(h5_close(&s->file), "%s: cannot close the file", s->w.path);
  BPS_CALL(vfd_check(s));
  BPS_CALL(move_into_place(s->tmp, s->w.path, s->force));
  s->created = 0;
  int dfd = open(s->dir, O_RDONLY | O_DIRECTORY); /* the new entry, durable (best effort) */
  if (dfd >= 0) {
    fsync(dfd);
    close(dfd);
  }
cleanup:
  return rc;
}

int bps_h5_stream_close(bps_h5_stream *s, const bps_result *res) {
  const double t0 = now_monotonic();
  BPS_CHECK(s, BPS_ERR_ARG, "bps_h5_stream_close: no stream");
  int rc = stream_finish(s, res, t0);
  bps_h5_stream_abort(s); /* frees s; removes the temporary file unless moved */
  return rc;
}

/* The group of a moments result r (write_n_mom), in the stream's order of n. */
static int stream_n_mom(bps_h5_stream *s, const bps_result_n *r) {
  const double t0 = now_monotonic();
  BPS_CHECK(!s->in_n, BPS_ERR_ARG, "stream_n_mom: an n is open");
  BPS_CALL(check_shape(r, s->nn ? s->ns[s->nn - 1] : 0, s->piece));
  int *ns = realloc(s->ns, sizeof(int) * (size_t)(s->nn + 1));
  BPS_CHECK(ns, BPS_ERR_MEM, "out of memory");
  s->ns = ns;
  BPS_CALL(write_n_mom(&s->w, s->file, r, s->piece));
  s->ns[s->nn++] = r->n;
  s->busy += now_monotonic() - t0;
  return BPS_OK;
}

int bps_h5_write(const char *path, const bps_result *res, int force) {
  int rc = BPS_OK;
  bps_h5_stream *s = NULL;
  h5_silence();
  BPS_CALL(check_result(res));
  BPS_CALL_GOTO(bps_h5_stream_open(path, res, force, &s));
  for (int i = 0; i < res->nn; i++) {
    const bps_result_n *r = &res->per_n[i];
    if (r->mom) { /* exact moments: (1 + P) records, no rows to stream */
      BPS_CALL_GOTO(stream_n_mom(s, r));
      continue;
    }
    BPS_CALL_GOTO(bps_h5_stream_n_begin(s, r, r->params != NULL));
    BPS_CALL_GOTO(bps_h5_stream_rows(s, r, r->samples));
    BPS_CALL_GOTO(bps_h5_stream_n_end(s, r));
  }
  rc = bps_h5_stream_close(s, res);
  s = NULL;
  BPS_CALL_GOTO(rc);
cleanup:
  bps_h5_stream_abort(s);
  return rc;
}

/* END write path */

/* ------------------------------------------------------------------------------------ */
/* Reading (bpscan info)                                                                 */

static int info_impl(const char *path, FILE *out);

#define ATTR_STR_MAX (64u << 20) /* bytes of the longest fixed-length string attribute read */

/* The attribute a holds exactly one element (a scalar, or a 1-element array): else
 * BPS_ERR_IO naming the file and the attribute (an array read into one value would
 * overflow it). */
static int attr_one(const char *path, hid_t a, const char *where, const char *name) {
  int rc = BPS_OK;
  hid_t sp = H5I_INVALID_HID;
  H5_TRY(sp = H5Aget_space(a), "%s: attribute %s%s: dataspace", path, where, name);
  H5S_class_t cl = H5Sget_simple_extent_type(sp);
  hssize_t np = H5Sget_simple_extent_npoints(sp);
  if (!(cl == H5S_SCALAR || (cl == H5S_SIMPLE && np == 1)))
    BPS_FAIL_GOTO(BPS_ERR_IO,
                  "%s: attribute %s%s is not a single value (%s with %lld elements); the file is "
                  "not a bpscan result file or is damaged",
                  path, where, name, cl == H5S_NULL ? "empty dataspace" : "array", (long long)np);
cleanup:
  h5_close(&sp);
  return rc;
}

/* String attribute (variable or fixed length, one value) -> malloc'ed C string; *s = NULL
 * if the attribute does not exist. */
static int read_attr_str(const char *path, hid_t loc, const char *where, const char *name,
                         char **s) {
  int rc = BPS_OK;
  hid_t a = H5I_INVALID_HID, ft = H5I_INVALID_HID, mt = H5I_INVALID_HID;
  char *vl = NULL;
  *s = NULL;
  htri_t ex = H5Aexists(loc, name);
  H5_TRY(ex, "%s: cannot look up attribute %s%s", path, where, name);
  if (!ex) goto cleanup;
  H5_TRY(a = H5Aopen(loc, name, H5P_DEFAULT), "%s: cannot open attribute %s%s", path, where, name);
  H5_TRY(ft = H5Aget_type(a), "%s: attribute %s%s: type", path, where, name);
  if (H5Tget_class(ft) != H5T_STRING)
    BPS_FAIL_GOTO(BPS_ERR_IO, "%s: attribute %s%s is not a string", path, where, name);
  BPS_CALL_GOTO(attr_one(path, a, where, name));
  if (H5Tis_variable_str(ft) <= 0 && H5Tget_size(ft) > ATTR_STR_MAX)
    BPS_FAIL_GOTO(BPS_ERR_IO, "%s: attribute %s%s is a string of %zu bytes (more than %u)", path,
                  where, name, H5Tget_size(ft), ATTR_STR_MAX);
  H5_TRY(mt = H5Tcopy(H5T_C_S1), "%s: attribute %s%s: type", path, where, name);
  H5_TRY(H5Tset_cset(mt, H5Tget_cset(ft)), "%s: attribute %s%s: type", path, where, name);
  if (H5Tis_variable_str(ft) > 0) {
    H5_TRY(H5Tset_size(mt, H5T_VARIABLE), "%s: attribute %s%s: type", path, where, name);
    H5_TRY(H5Aread(a, mt, &vl), "%s: cannot read attribute %s%s", path, where, name);
    *s = strdup(vl ? vl : "");
  } else {
    size_t n = H5Tget_size(ft);
    H5_TRY(H5Tset_size(mt, n + 1), "%s: attribute %s%s: type", path, where, name);
    H5_TRY(H5Tset_strpad(mt, H5T_STR_NULLTERM), "%s: attribute %s%s: type", path, where, name);
    *s = calloc(n + 1, 1);
    if (*s) H5_TRY(H5Aread(a, mt, *s), "%s: cannot read attribute %s%s", path, where, name);
  }
  if (!*s) BPS_FAIL_GOTO(BPS_ERR_MEM, "out of memory");
cleanup:
  if (vl) H5free_memory(vl);
  if (rc) {
    free(*s);
    *s = NULL;
  }
  h5_close(&mt);
  h5_close(&ft);
  h5_close(&a);
  return rc;
}

/* Numeric scalar attribute converted to mtype; *found = 0 if it does not exist. */
static int read_attr_num(const char *path, hid_t loc, const char *where, const char *name,
                         hid_t mtype, void *v, int *found) {
  int rc = BPS_OK;
  hid_t a = H5I_INVALID_HID, ft = H5I_INVALID_HID;
  *found = 0;
  htri_t ex = H5Aexists(loc, name);
  H5_TRY(ex, "%s: cannot look up attribute %s%s", path, where, name);
  if (!ex) goto cleanup;
  H5_TRY(a = H5Aopen(loc, name, H5P_DEFAULT), "%s: cannot open attribute %s%s", path, where, name);
  H5_TRY(ft = H5Aget_type(a), "%s: attribute %s%s: type", path, where, name);
  H5T_class_t cl = H5Tget_class(ft);
  if (cl != H5T_INTEGER && cl != H5T_FLOAT)
    BPS_FAIL_GOTO(BPS_ERR_IO, "%s: attribute %s%s is not a number", path, where, name);
  if (H5Tget_size(ft) > 16)
    BPS_FAIL_GOTO(BPS_ERR_IO, "%s: attribute %s%s is a number of %zu bytes", path, where, name,
                  H5Tget_size(ft));
  BPS_CALL_GOTO(attr_one(path, a, where, name));
  H5_TRY(H5Aread(a, mtype, v), "%s: cannot read attribute %s%s", path, where, name);
  *found = 1;
cleanup:
  h5_close(&ft);
  h5_close(&a);
  return rc;
}

typedef struct {
  int n;
  int64_t samples;
  int nparams, ntracked, q_in, q_out, found_samples;
  int64_t rows; /* length of the cost dataset, -1 if absent */
  double gvm, gvm_se, cmean, cvar, cvar_se, purity, entropy;
  /* landscape scans (land = 1): NaN where the field is absent */
  int land, ncut, deg_min, deg_max;
  char directions[16];
  double lip, lip_se, alias_max, slope_diff, cut_var;
  /* exact-moments scans */
  char engine[16];
  int exact, bond, items; /* items: mom_items entries of a piece (-1: a complete file) */
  int64_t peak;
  double gvm_log2, cvar_log2;
} info_row;

static int read_dset_num(const char *path, hid_t loc, const char *where, const char *name,
                         int rank, const hsize_t *dims, hid_t mtype, size_t esz, void **out);
static int dset_shape(const char *path, hid_t loc, const char *where, const char *name,
                      int *rank, hsize_t *dims);

/* The per-sample field name of a landscape group (NULL if absent) with its rows and
 * elements per row. */
static int info_field(const char *path, hid_t g, const char *where, const char *name, double **x,
                      long *S, long *elems) {
  int rank = 0;
  hsize_t dims[3] = {0, 0, 0};
  *x = NULL;
  htri_t ex = H5Lexists(g, name, H5P_DEFAULT);
  if (ex < 0)
    return h5_fail(__LINE__, __func__, "%s: cannot look up dataset %s%s", path, where, name);
  if (!ex) return BPS_OK;
  BPS_CALL(dset_shape(path, g, where, name, &rank, dims));
  BPS_CHECK(rank >= 1, BPS_ERR_IO, "%s: dataset %s%s is not per-sample", path, where, name);
  void *vp = NULL;
  BPS_CALL(read_dset_num(path, g, where, name, rank, dims, H5T_NATIVE_DOUBLE, sizeof(double), &vp));
  *x = vp;
  *S = (long)dims[0];
  *elems = 1;
  for (int k = 1; k < rank; k++) *elems *= (long)dims[k];
  return BPS_OK;
}

/* The summary of /{gname}/landscape for the info table. */
static int read_land_row(const char *path, hid_t ng, const char *gname, info_row *r) {
  int rc = BPS_OK, f, rank = 0;
  hid_t g = H5I_INVALID_HID;
  char where[96], *dirs = NULL;
  double *x = NULL, *y = NULL, *z = NULL;
  int *deg = NULL;
  hsize_t dims[3] = {0, 0, 0};
  long S = 0, e = 0, Sy = 0, ey = 0;
  snprintf(where, sizeof where, "/%s/landscape/", gname);
  r->land = 1;
  r->lip = r->lip_se = r->alias_max = r->slope_diff = r->cut_var = NAN;
  r->ncut = -1;
  H5_TRY(g = H5Gopen2(ng, "landscape", H5P_DEFAULT), "%s: cannot open group %s", path, where);
  BPS_CALL_GOTO(read_attr_str(path, g, where, "directions", &dirs));
  snprintf(r->directions, sizeof r->directions, "%s", dirs ? dirs : "?");
  BPS_CALL_GOTO(read_attr_num(path, g, where, "num_cuts", H5T_NATIVE_INT, &r->ncut, &f));
  if (!f) r->ncut = -1;
  BPS_CALL_GOTO(dset_shape(path, g, where, "degree", &rank, dims));
  if (rank != 1 || dims[0] < 1)
    BPS_FAIL_GOTO(BPS_ERR_IO, "%s: dataset %sdegree is not 1-D", path, where);
  void *vp = NULL;
  BPS_CALL_GOTO(read_dset_num(path, g, where, "degree", 1, dims, H5T_NATIVE_INT, sizeof(int), &vp));
  deg = vp;
  r->deg_min = r->deg_max = deg[0];
  for (hsize_t k = 1; k < dims[0]; k++) {
    if (deg[k] < r->deg_min) r->deg_min = deg[k];
    if (deg[k] > r->deg_max) r->deg_max = deg[k];
  }
  /* Lipschitz constant: mean over samples of the per-sample average over the cuts */
  BPS_CALL_GOTO(info_field(path, g, where, "lipschitz", &x, &S, &e));
  if (x && S > 0) {
    for (long s = 0; s < S; s++) {
      double acc = 0;
      for (long k = 0; k < e; k++) acc += x[s * e + k];
      x[s] = acc / (double)e;
    }
    bps_stats st;
    bps_stats_compute(x, S, 1, &st);
    r->lip = st.mean;
    r->lip_se = st.mean_se;
  }
  free(x);
  x = NULL;
  BPS_CALL_GOTO(info_field(path, g, where, "aliasing", &x, &S, &e));
  if (x && S > 0) {
    r->alias_max = 0;
    for (long k = 0; k < S * e; k++)
      if (!(fabs(x[k]) <= r->alias_max)) r->alias_max = fabs(x[k]);
  }
  free(x);
  x = NULL;
  BPS_CALL_GOTO(info_field(path, g, where, "slope_fft", &y, &Sy, &ey));
  BPS_CALL_GOTO(info_field(path, g, where, "slope_adjoint", &z, &S, &e));
  if (y && z && S > 0 && S == Sy && e == ey) {
    double acc = 0;
    for (long k = 0; k < S * e; k++) acc += fabs(y[k] - z[k]);
    r->slope_diff = acc / (double)(S * e);
  }
  BPS_CALL_GOTO(info_field(path, g, where, "cut_var", &x, &S, &e));
  if (x && S > 0) {
    double acc = 0;
    for (long k = 0; k < S * e; k++) acc += x[k];
    r->cut_var = acc / (double)(S * e);
  }
cleanup:
  free(dirs);
  free(deg);
  free(x);
  free(y);
  free(z);
  h5_close(&g);
  return rc;
}

static int cmp_row(const void *a, const void *b) {
  int x = ((const info_row *)a)->n, y = ((const info_row *)b)->n;
  return (x > y) - (x < y);
}

static int read_row(const char *path, hid_t file, const char *gname, info_row *r) {
  int rc = BPS_OK, f;
  hid_t g = H5I_INVALID_HID, d = H5I_INVALID_HID, sp = H5I_INVALID_HID;
  char where[80];
  snprintf(where, sizeof where, "/%s/", gname);
  H5_TRY(g = H5Gopen2(file, gname, H5P_DEFAULT), "%s: cannot open group /%s", path, gname);
  BPS_CALL_GOTO(read_attr_num(path, g, where, "num_samples", H5T_NATIVE_INT64, &r->samples,
                              &r->found_samples));
  struct {
    const char *name;
    int *v;
  } ints[] = {{"num_params", &r->nparams},
              {"num_tracked", &r->ntracked},
              {"q_in", &r->q_in},
              {"q_out", &r->q_out}};
  for (size_t k = 0; k < sizeof ints / sizeof ints[0]; k++) {
    BPS_CALL_GOTO(read_attr_num(path, g, where, ints[k].name, H5T_NATIVE_INT, ints[k].v, &f));
    if (!f) *ints[k].v = -1;
  }
  struct {
    const char *name;
    double *v;
  } dbl[] = {{"grad_var_mean", &r->gvm},   {"grad_var_mean_se", &r->gvm_se},
             {"cost_mean", &r->cmean},     {"cost_var", &r->cvar},
             {"cost_var_se", &r->cvar_se}, {"purity_mean", &r->purity},
             {"entropy_mean", &r->entropy}};
  for (size_t k = 0; k < sizeof dbl / sizeof dbl[0]; k++) {
    BPS_CALL_GOTO(read_attr_num(path, g, where, dbl[k].name, H5T_NATIVE_DOUBLE, dbl[k].v, &f));
    if (!f) *dbl[k].v = NAN;
  }
  r->rows = -1;
  htri_t ex = H5Lexists(g, "cost", H5P_DEFAULT);
  H5_TRY(ex, "%s: cannot look up dataset %scost", path, where);
  if (ex) {
    hsize_t dims[2] = {0, 0};
    H5_TRY(d = H5Dopen2(g, "cost", H5P_DEFAULT), "%s: cannot open dataset %scost", path, where);
    H5_TRY(sp = H5Dget_space(d), "%s: dataset %scost: dataspace", path, where);
    int nd = H5Sget_simple_extent_ndims(sp);
    H5_TRY(nd, "%s: dataset %scost: dataspace", path, where);
    if (nd == 1) {
      H5_TRY(H5Sget_simple_extent_dims(sp, dims, NULL), "%s: dataset %scost: dims", path, where);
      r->rows = (int64_t)dims[0];
    }
  }
  ex = H5Lexists(g, "landscape", H5P_DEFAULT);
  H5_TRY(ex, "%s: cannot look up group %slandscape", path, where);
  if (ex) BPS_CALL_GOTO(read_land_row(path, g, gname, r));
  /* exact moments: the engine and its statistics (absent in sampling scans) */
  char *eng = NULL;
  BPS_CALL_GOTO(read_attr_str(path, g, where, "engine", &eng));
  snprintf(r->engine, sizeof r->engine, "%s", eng ? eng : "");
  free(eng);
  struct {
    const char *name;
    hid_t t;
    void *v;
  } mom[] = {{"exact", H5T_NATIVE_INT, &r->exact},
             {"bond_dim", H5T_NATIVE_INT, &r->bond},
             {"peak_pairs", H5T_NATIVE_INT64, &r->peak},
             {"grad_var_mean_log2", H5T_NATIVE_DOUBLE, &r->gvm_log2},
             {"cost_var_log2", H5T_NATIVE_DOUBLE, &r->cvar_log2}};
  r->gvm_log2 = r->cvar_log2 = NAN;
  for (size_t k = 0; k < sizeof mom / sizeof mom[0]; k++)
    BPS_CALL_GOTO(read_attr_num(path, g, where, mom[k].name, mom[k].t, mom[k].v, &f));
  r->items = -1;
  ex = H5Lexists(g, "mom_items", H5P_DEFAULT);
  H5_TRY(ex, "%s: cannot look up dataset %smom_items", path, where);
  if (ex) {
    int rank = 0;
    hsize_t dims[3] = {0, 0, 0};
    BPS_CALL_GOTO(dset_shape(path, g, where, "mom_items", &rank, dims));
    r->items = rank == 1 ? (int)dims[0] : -2;
  }
cleanup:
  h5_close(&sp);
  h5_close(&d);
  h5_close(&g);
  return rc;
}


/* v with format f ("-" for NaN); a value that rounds to zero prints without a sign. */
static void fmt_num(char *b, size_t n, double v, const char *f) {
  if (isnan(v)) {
    snprintf(b, n, "-");
    return;
  }
  snprintf(b, n, f, v);
  if (b[0] == '-' && strspn(b + 1, "0.") == strlen(b + 1)) memmove(b, b + 1, strlen(b));
}

/* Open the result file at path read-only (sec2 driver, strong close, file locking) and
 * check its schema_version: the checks and messages `bpscan info` and the reader share.
 * On success *file is open (the caller closes it); on failure it is left as it was. */
static int open_result(const char *path, hid_t *file_out, int *schema_version) {
  int rc = BPS_OK, f = 0, sv = 0;
  hid_t fapl = H5I_INVALID_HID, file = H5I_INVALID_HID;
  struct stat st;
  if (stat(path, &st) != 0)
    BPS_FAIL_GOTO(BPS_ERR_IO, "cannot open '%s': %s", path, strerror(errno));
  if (S_ISDIR(st.st_mode))
    BPS_FAIL_GOTO(BPS_ERR_IO, "'%s' is a directory, not a result file", path);
  if (!S_ISREG(st.st_mode)) /* a FIFO would block the open below */
    BPS_FAIL_GOTO(BPS_ERR_IO,
                  "'%s' is not a regular file (a FIFO, device or socket), not a "
                  "result file",
                  path);
  if (access(path, R_OK) != 0)
    BPS_FAIL_GOTO(BPS_ERR_IO, "cannot read '%s': %s", path, strerror(errno));
#if H5_VERSION_GE(1, 12, 0)
  htri_t is = H5Fis_accessible(path, H5P_DEFAULT);
#else
  htri_t is = H5Fis_hdf5(path);
#endif
  H5Eclear2(H5E_DEFAULT);
  if (is <= 0)
    BPS_FAIL_GOTO(BPS_ERR_IO, "'%s' is not an HDF5 file (so not a bpscan result file)", path);
  H5_TRY(fapl = H5Pcreate(H5P_FILE_ACCESS), "%s: property list", path);
  H5_TRY(H5Pset_fapl_sec2(fapl), "%s: file driver", path);
  H5_TRY(H5Pset_fclose_degree(fapl, H5F_CLOSE_STRONG), "%s: close degree", path);
#if H5_VERSION_GE(1, 10, 7)
  H5_TRY(H5Pset_file_locking(fapl, 1, 1), "%s: file locking", path);
#endif
  H5_TRY(file = H5Fopen(path, H5F_ACC_RDONLY, fapl), "cannot open HDF5 file '%s'", path);
  BPS_CALL_GOTO(read_attr_num(path, file, "/", "schema_version", H5T_NATIVE_INT, &sv, &f));
  if (!f)
    BPS_FAIL_GOTO(BPS_ERR_IO, "'%s' is not a bpscan result file (no schema_version attribute)",
                  path);
  if (sv > BPS_H5_SCHEMA_VERSION)
    BPS_FAIL_GOTO(BPS_ERR_IO,
                  "'%s' has schema_version %d, newer than this bpscan %s reads (%d); "
                  "use a newer bpscan",
                  path, sv, BPS_VERSION_STRING, BPS_H5_SCHEMA_VERSION);
  if (sv < 1) BPS_FAIL_GOTO(BPS_ERR_IO, "'%s' has an invalid schema_version %d", path, sv);
  *file_out = file;
  file = H5I_INVALID_HID;
  *schema_version = sv;
cleanup:
  h5_close(&file);
  h5_close(&fapl);
  return rc;
}

/* The /n{N} groups of the open file as info rows, sorted by n (*rows malloc'ed). */
static int info_rows(const char *path, hid_t file, info_row **rows_out, int *nrows_out) {
  int rc = BPS_OK, nrows = 0;
  info_row *rows = NULL;
  H5G_info_t gi;
  H5_TRY(H5Gget_info(file, &gi), "%s: cannot list the root group", path);
  rows = calloc(gi.nlinks > 0 ? gi.nlinks : 1, sizeof *rows);
  if (!rows) BPS_FAIL_GOTO(BPS_ERR_MEM, "out of memory");
  for (hsize_t i = 0; i < gi.nlinks; i++) {
    char name[64];
    ssize_t len = H5Lget_name_by_idx(file, ".", H5_INDEX_NAME, H5_ITER_INC, i, name, sizeof name,
                                     H5P_DEFAULT);
    H5_TRY(len, "%s: cannot list the root group", path);
    if ((size_t)len >= sizeof name || name[0] != 'n' || !name[1]) continue;
    char *e;
    long nv = strtol(name + 1, &e, 10);
    if (*e || nv < 1 || name[1] == '0' || name[1] == '+' || name[1] == '-') continue;
    rows[nrows++].n = (int)nv;
    BPS_CALL_GOTO(read_row(path, file, name, &rows[nrows - 1]));
  }
  qsort(rows, (size_t)nrows, sizeof *rows, cmp_row);
  *rows_out = rows;
  *nrows_out = nrows;
  rows = NULL;
cleanup:
  free(rows);
  return rc;
}

/* The job lines of `bpscan info` from the stored job text, parsed by job.c into *jb
 * (returns 1; 0 with the reason printed when there is no text or it does not parse): the
 * model, the keys of its own section (its shape), cost, noise, representation, mode,
 * qubits and samples. */
static int info_job(FILE *out, const char *text, const char *model, const char *mode, bps_job *jb) {
  const int moments = mode && !strcmp(mode, "moments");
  char v[256], why[300] = "", mv[32];
  int have_job = 0;
  if (text) {
    have_job = bps_job_parse(text, "the stored job text", NULL, 0, jb) == BPS_OK;
    if (!have_job) snprintf(why, sizeof why, "%s", bps_error_message());
    bps_error_clear();
  }
  if (have_job && bps_job_value(jb, "scan", "model", mv, sizeof mv)) model = mv;
  fprintf(out, "job\n  %-13s %s\n", "model", model);
  if (have_job) {
    const char *sec, *key;
    for (int i = 0; bps_job_key(jb, i, &sec, &key, NULL, v, sizeof v); i++)
      if (!strcmp(sec, model)) fprintf(out, "  %-13s %s\n", key, v);
    if (bps_job_value(jb, "cost", "type", v, sizeof v)) fprintf(out, "  %-13s %s\n", "cost", v);
    if (bps_job_value(jb, "noise", "channel", v, sizeof v) && strcmp(v, "none")) {
      char pv[64];
      bps_job_value(jb, "noise", "p", pv, sizeof pv);
      fprintf(out, "  %-13s %s, p = %s\n", "noise", v, pv);
    }
    if (!moments && bps_job_value(jb, "scan", "representation", v, sizeof v))
      fprintf(out, "  %-13s %s\n", "representation", v);
  } else {
    fprintf(out, "  %-13s not a job this bpscan reads (%s)\n", "job text",
            text ? why : "no job attribute");
  }
  if (mode) fprintf(out, "  %-13s %s\n", "mode", mode);
  if (moments && have_job && bps_job_value(jb, "moments", "engine", v, sizeof v))
    fprintf(out, "  %-13s %s\n", "engine", v);
  if (moments && have_job && bps_job_value(jb, "moments", "truncation", v, sizeof v))
    fprintf(out, "  %-13s %s\n", "truncation", v);
  if (have_job) bps_job_value(jb, "scan", "qubits", v, sizeof v);
  fprintf(out, "  %-13s %s\n", "qubits", have_job ? v : "?");
  if (moments) return have_job; /* exact: no samples, seed or gradient method */
  if (have_job) fprintf(out, "  %-13s %ld\n", "samples", jb->samples);
  else fprintf(out, "  %-13s ?\n", "samples");
  return have_job;
}

/* The scan table and, for landscape scans, the landscape table. */
/* The table and completeness of an exact-moments file. */
static void info_moments(FILE *out, const info_row *rows, int nrows, const bps_job *jb, int piece) {
  fprintf(out, "exact moments\n  %5s %7s %7s %-6s %-5s  %-11s %-9s  %-11s %-11s %-9s  %-8s %s\n",
          "n", "params", "tracked", "engine", "exact", "Var dC mean", "log2", "cost mean",
          "Var C", "log2", "purity", "peak pairs / bond");
  int problems = 0;
  for (int i = 0; i < nrows; i++) {
    const info_row *r = &rows[i];
    char a[6][32];
    fmt_num(a[0], 32, r->gvm, "%.4e");
    fmt_num(a[1], 32, r->gvm_log2, "%.2f");
    fmt_num(a[2], 32, r->cmean, "%.4e");
    fmt_num(a[3], 32, r->cvar, "%.4e");
    fmt_num(a[4], 32, r->cvar_log2, "%.2f");
    fmt_num(a[5], 32, r->purity, "%.4g");
    if (piece)
      fprintf(out, "  %5d %7d %7d %-6s (piece: %d of %d items)\n", r->n, r->nparams, r->ntracked,
              r->engine, r->items, r->ntracked + 1);
    else
      fprintf(out, "  %5d %7d %7d %-6s %-5s  %-11s %-9s  %-11s %-11s %-9s  %-8s %lld / %d\n",
              r->n, r->nparams, r->ntracked, r->engine, r->exact ? "yes" : "bounds", a[0], a[1],
              a[2], a[3], a[4], a[5], (long long)r->peak, r->bond);
    problems += !r->engine[0];
  }
  int missing = 0;
  for (int k = 0; jb && k < jb->nq; k++) {
    int present = 0;
    for (int i = 0; i < nrows; i++) present |= rows[i].n == jb->qubits[k];
    missing += !present;
  }
  if (problems || missing)
    fprintf(out, "completeness: INCOMPLETE: %d qubit count(s) missing, %d without an engine\n",
            missing, problems);
  else if (piece)
    fprintf(out, "completeness: a piece of an exact-moments array job; merge all pieces with "
                 "bpscan merge\n");
  else if (!jb)
    fprintf(out, "completeness: unknown (no job this bpscan reads: see 'job text' above)\n");
  else
    fprintf(out, "completeness: complete (%d qubit count%s, exact moments, no samples)\n",
            jb->nq, jb->nq == 1 ? "" : "s");
}

static void info_tables(FILE *out, const info_row *rows, int nrows, int landscape) {
  fprintf(out, "scan\n  %4s %8s %7s %7s  %-11s %-9s  %-11s %-11s %-9s  %-9s %s\n", "n",
          "samples", "params", "tracked", "Var dC mean", "+- SE", "cost mean", "Var C", "+- SE",
          "purity", "entropy");
  for (int i = 0; i < nrows; i++) {
    const info_row *r = &rows[i];
    char a[7][32];
    fmt_num(a[0], 32, r->gvm, "%.4e");
    fmt_num(a[1], 32, r->gvm_se, "%.2e");
    fmt_num(a[2], 32, r->cmean, "%.4e");
    fmt_num(a[3], 32, r->cvar, "%.4e");
    fmt_num(a[4], 32, r->cvar_se, "%.2e");
    fmt_num(a[5], 32, r->purity, "%.4f");
    fmt_num(a[6], 32, r->entropy, "%.4f");
    fprintf(out, "  %4d %8lld %7d %7d  %-11s %-9s  %-11s %-11s %-9s  %-9s %s\n", r->n,
            r->found_samples ? (long long)r->samples : -1LL, r->nparams, r->ntracked, a[0], a[1],
            a[2], a[3], a[4], a[5], a[6]);
  }
  if (nrows == 0) fprintf(out, "  (no qubit counts in the file)\n");
  if (landscape) {
    fprintf(out, "landscape\n  %4s %-10s %5s %-7s  %-11s %-9s  %-12s %-12s %s\n", "n",
            "directions", "cuts", "degree", "Lipschitz", "+- SE", "aliasing max", "|fft - adj|",
            "cut_var mean");
    for (int i = 0; i < nrows; i++) {
      const info_row *r = &rows[i];
      char a[5][32], deg[32];
      if (!r->land) {
        fprintf(out, "  %4d (no landscape group)\n", r->n);
        continue;
      }
      fmt_num(a[0], 32, r->lip, "%.4e");
      fmt_num(a[1], 32, r->lip_se, "%.2e");
      fmt_num(a[2], 32, r->alias_max, "%.2e");
      fmt_num(a[3], 32, r->slope_diff, "%.2e");
      fmt_num(a[4], 32, r->cut_var, "%.4e");
      if (r->deg_min == r->deg_max) snprintf(deg, sizeof deg, "%d", r->deg_min);
      else snprintf(deg, sizeof deg, "%d-%d", r->deg_min, r->deg_max);
      fprintf(out, "  %4d %-10s %5d %-7s  %-11s %-9s  %-12s %-12s %s\n", r->n, r->directions,
              r->ncut, deg, a[0], a[1], a[2], a[3], a[4]);
    }
  }
}

/* The completeness line: the groups against the job's qubits and samples (jb NULL: no job). */
static void info_completeness(FILE *out, const info_row *rows, int nrows, const bps_job *jb,
                              int sl_index, int sl_count) {
  int piece = sl_count > 1;
  int nq = jb ? jb->nq : -1;
  const int *ns = jb ? jb->qubits : NULL;
  long long want = jb ? (long long)jb->samples : -1;
  char msg[1024] = "";
  size_t used = 0;
#define ADD(...)                                                                                \
  do {                                                                                          \
    if (used < sizeof msg)                                                                      \
      used += (size_t)snprintf(msg + used, sizeof msg - used, __VA_ARGS__);                     \
  } while (0)
  int problems = 0;
  if (nq >= 0) {
    for (int k = 0; k < nq; k++) {
      int present = 0;
      for (int i = 0; i < nrows; i++) present |= rows[i].n == ns[k];
      if (!present) ADD("%sn = %d missing", problems++ ? "; " : "", ns[k]);
    }
    for (int i = 0; i < nrows; i++) {
      int listed = 0;
      for (int k = 0; k < nq; k++) listed |= rows[i].n == ns[k];
      if (!listed) ADD("%sn = %d not in the job's qubits", problems++ ? "; " : "", rows[i].n);
    }
  }
  for (int i = 0; i < nrows; i++) {
    const info_row *r = &rows[i];
    if (!r->found_samples) {
      ADD("%sn = %d has no num_samples", problems++ ? "; " : "", r->n);
      continue;
    }
    if (want >= 0 && (piece ? r->samples > want : r->samples != want))
      ADD("%sn = %d has %lld of %lld samples", problems++ ? "; " : "", r->n,
          (long long)r->samples, want);
    if (r->rows != r->samples)
      ADD("%sn = %d: cost has %lld rows, num_samples is %lld", problems++ ? "; " : "", r->n,
          (long long)r->rows, (long long)r->samples);
  }
#undef ADD
  long long have_total = 0;
  for (int i = 0; i < nrows; i++) have_total += rows[i].samples;
  if (problems) fprintf(out, "completeness: INCOMPLETE%s: %s\n", piece ? " piece" : "", msg);
  else if (piece)
    fprintf(out,
            "completeness: piece %d of %d of the scan (%lld of %lld samples); merge all %d "
            "pieces with bpscan merge\n",
            sl_index, sl_count, have_total, want >= 0 && nq >= 0 ? want * nq : -1LL, sl_count);
  else if (!jb)
    fprintf(out, "completeness: unknown (no job this bpscan reads: see 'job text' above)\n");
  else
    fprintf(out, "completeness: complete (%d qubit count%s x %lld samples)\n", nq,
            nq == 1 ? "" : "s", want);
}

int bps_h5_same_job(const char *path, uint64_t job_hash, int slice_index, int slice_count,
                    int *same) {
  int rc = BPS_OK, sv = 0, f1 = 0, f2 = 0, f3 = 0, si = 0, sc = 1;
  uint64_t hash = 0;
  hid_t file = H5I_INVALID_HID;
  *same = 0;
  h5_silence();
  BPS_CALL_GOTO(open_result(path, &file, &sv));
  BPS_CALL_GOTO(read_attr_num(path, file, "/", "job_hash", H5T_NATIVE_UINT64, &hash, &f1));
  BPS_CALL_GOTO(read_attr_num(path, file, "/", "slice_index", H5T_NATIVE_INT, &si, &f2));
  BPS_CALL_GOTO(read_attr_num(path, file, "/", "slice_count", H5T_NATIVE_INT, &sc, &f3));
  if (slice_count <= 1) slice_index = 0, slice_count = 1;
  if (!f3 || sc <= 1) si = 0, sc = 1;
  *same = f1 && hash == job_hash && si == slice_index && sc == slice_count;
cleanup:
  h5_close(&file);
  return rc;
}

/* ------------------------------------------------------------------------------------ */
/* Containing crashes of the HDF5 library                                                */
/*
 * HDF5 (1.10) trusts a file's internal addresses: a damaged file (a flipped bit in a global
 * heap of variable-length strings, seen in 6 of 400 random bit flips of a result file)
 * makes it read out of bounds and crash, or loop forever. info and merge (no MPI)
 * therefore read a file in a child process first, under a CPU-time limit: a crash or a
 * loop there becomes BPS_ERR_IO naming the file, and the command exits 1 (info) or 2
 * (merge) with nothing written.
 */

#define CHILD_EXIT_BASE 100 /* the child's exit status: 100 + its bps_err code */

/* fn(path, arg) in a child process: its code and innermost message (through a pipe), or
 * BPS_ERR_IO if it died by a signal or exited otherwise (a sanitizer's report). Without
 * fork/pipe: fn in this process. */
static int contained(const char *path, int (*fn)(const char *, void *), void *arg) {
  int fds[2];
  fflush(NULL);
  if (pipe(fds) != 0) return fn(path, arg);
  pid_t pid = fork();
  if (pid < 0) {
    close(fds[0]);
    close(fds[1]);
    return fn(path, arg);
  }
  if (pid == 0) {
    close(fds[0]);
    /* a damaged global heap can also make HDF5 spin forever: a CPU-time limit far above
     * any real read (60 s + 1 s per 10 MB of file; waiting for a slow disk costs none) */
    struct stat sb;
    const double lim = 60.0 + (stat(path, &sb) == 0 ? (double)sb.st_size / 1e7 : 0.0);
    struct rlimit rl = {(rlim_t)lim, (rlim_t)lim + 5};
    setrlimit(RLIMIT_CPU, &rl);
    int rc = fn(path, arg);
    const char *m = rc ? bps_error_message() : "";
    if (write(fds[1], m, strlen(m)) < 0) rc = rc ? rc : BPS_ERR_IO;
    fflush(NULL);
    _exit(CHILD_EXIT_BASE + rc); /* (a sanitizer's report exits with a code below) */
  }
  close(fds[1]);
  char msg[2048];
  size_t len = 0;
  for (ssize_t k;
       len + 1 < sizeof msg && (k = read(fds[0], msg + len, sizeof msg - 1 - len)) != 0;)
    if (k > 0) len += (size_t)k;
    else if (errno != EINTR) break;
  msg[len] = '\0';
  close(fds[0]);
  int st = 0, w;
  while ((w = waitpid(pid, &st, 0)) < 0 && errno == EINTR) {}
  BPS_CHECK(w == pid, BPS_ERR_IO, "'%s': lost the process reading it: %s", path, strerror(errno));
  BPS_CHECK(!WIFSIGNALED(st) || (WTERMSIG(st) != SIGXCPU && WTERMSIG(st) != SIGKILL), BPS_ERR_IO,
            "'%s': reading it did not finish within its CPU-time limit (the HDF5 library "
            "loops on some damaged files): the file is damaged (bpscan read it in a child "
            "process; nothing was written)",
            path);
  BPS_CHECK(!WIFSIGNALED(st), BPS_ERR_IO,
            "'%s': reading it crashed inside the HDF5 library (signal %d, %s): the file is "
            "damaged (bpscan read it in a child process; nothing was written)",
            path, WTERMSIG(st), strsignal(WTERMSIG(st)));
  const int ex = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
  BPS_CHECK(ex >= CHILD_EXIT_BASE && ex <= CHILD_EXIT_BASE + BPS_ERR_INTERRUPTED, BPS_ERR_IO,
            "'%s': reading it crashed (the reading process exited with status %d, e.g. a "
            "sanitizer's report of the HDF5 library): the file is damaged (bpscan read it in "
            "a child process; nothing was written)",
            path, ex);
  const int rc = ex - CHILD_EXIT_BASE;
  BPS_CHECK(rc == BPS_OK, rc, "%s", msg[0] ? msg : "reading failed");
  return BPS_OK;
}

static int info_in_child(const char *path, void *out) { return info_impl(path, out); }

int bps_h5_info(const char *path, FILE *out) {
  BPS_CALL(contained(path, info_in_child, out));
  return BPS_OK;
}

static int read_in_child(const char *path, void *unused) {
  bps_result res;
  bps_h5_meta meta;
  (void)unused;
  int rc = bps_h5_read(path, &res, &meta);
  if (!rc) bps_h5_result_free(&res);
  return rc;
}

int bps_h5_info_here(const char *path, FILE *out) { return info_impl(path, out); }

int bps_h5_check_readable(const char *path) {
  BPS_CALL(contained(path, read_in_child, NULL));
  return BPS_OK;
}

static int info_impl(const char *path, FILE *out) {
  int rc = BPS_OK, f, sv = 0;
  hid_t file = H5I_INVALID_HID;
  info_row *rows = NULL;
  int nrows = 0;
  enum { NSTR = 10 };
  static const char *const sname[NSTR] = {"bpscan_version", "git_commit",  "job",
                                          "model",          "grad_method", "host",
                                          "start_time",     "end_time",    "mode",
                                          "hosts"};
  char *str[NSTR] = {0};
  bps_job jb;
  memset(&jb, 0, sizeof jb);
  h5_silence();
  if (!path || !path[0]) BPS_FAIL_GOTO(BPS_ERR_IO, "no file name given");
  if (!out) BPS_FAIL_GOTO(BPS_ERR_ARG, "no output stream");
  BPS_CALL_GOTO(open_result(path, &file, &sv));

  for (int k = 0; k < NSTR; k++)
    BPS_CALL_GOTO(read_attr_str(path, file, "/", sname[k], &str[k]));
  const char *ver = str[0] ? str[0] : "?", *commit = str[1] ? str[1] : "?", *job = str[2];
  const char *model = str[3] ? str[3] : "?", *gm = str[4] ? str[4] : "?";
  const char *host = str[5] ? str[5] : "?";
  uint64_t seed = 0, hash = 0;
  int fseed, fhash, ranks = -1, threads = -1;
  BPS_CALL_GOTO(read_attr_num(path, file, "/", "seed", H5T_NATIVE_UINT64, &seed, &fseed));
  BPS_CALL_GOTO(read_attr_num(path, file, "/", "job_hash", H5T_NATIVE_UINT64, &hash, &fhash));
  BPS_CALL_GOTO(read_attr_num(path, file, "/", "mpi_ranks", H5T_NATIVE_INT, &ranks, &f));
  BPS_CALL_GOTO(read_attr_num(path, file, "/", "omp_threads", H5T_NATIVE_INT, &threads, &f));
  int sl_index = 0, sl_count = 1;
  BPS_CALL_GOTO(read_attr_num(path, file, "/", "slice_index", H5T_NATIVE_INT, &sl_index, &f));
  if (!f) sl_index = 0;
  BPS_CALL_GOTO(read_attr_num(path, file, "/", "slice_count", H5T_NATIVE_INT, &sl_count, &f));
  if (!f || sl_count < 1) sl_count = 1;
  int piece = sl_count > 1;
  static const char *const wname[] = {"start_unix",   "end_unix",    "wall_plan",
                                      "wall_compute", "wall_reduce", "wall_write"};
  double wv[6];
  for (int k = 0; k < 6; k++) {
    BPS_CALL_GOTO(read_attr_num(path, file, "/", wname[k], H5T_NATIVE_DOUBLE, &wv[k], &f));
    if (!f) wv[k] = NAN;
  }

  BPS_CALL_GOTO(info_rows(path, file, &rows, &nrows));

  int landscape = str[8] && !strcmp(str[8], "landscape");
  for (int i = 0; i < nrows; i++) landscape |= rows[i].land;
  fprintf(out, "%s: bpscan result (schema %d)\n", path, sv);
  const int moments = str[8] && !strcmp(str[8], "moments");
  int have_job = info_job(out, job, model,
                          moments     ? "moments"
                          : landscape ? "landscape"
                                      : NULL,
                          &jb);
  if (fseed && !moments) fprintf(out, "  %-13s %llu\n", "seed", (unsigned long long)seed);
  if (!moments) fprintf(out, "  %-13s %s\n", "grad method", gm);
  if (fhash) fprintf(out, "  %-13s %016llx\n", "job hash", (unsigned long long)hash);

  /* provenance */
  char t[64];
  fprintf(out, "provenance\n  %-13s %s (git %s)\n", "bpscan", ver, commit);
  fprintf(out, "  %-13s %s, %d MPI rank%s x %d OpenMP thread%s\n", "host", host, ranks,
          ranks == 1 ? "" : "s", threads, threads == 1 ? "" : "s");
  if (str[9] && str[9][0]) fprintf(out, "  %-13s %s\n", "ranks on", str[9]);
  if (piece)
    fprintf(out,
            "  %-13s piece %d of %d (bpscan run --slice %d/%d); combine the pieces with "
            "bpscan merge\n",
            "array job", sl_index, sl_count, sl_index, sl_count);
  fprintf(out, "  %-13s %s\n", "started", str[6] && str[6][0] ? str[6] : "?");
  if (isfinite(wv[0]) && isfinite(wv[1])) snprintf(t, sizeof t, " (%.1f s)", wv[1] - wv[0]);
  else t[0] = '\0';
  fprintf(out, "  %-13s %s%s\n", "finished", str[7] && str[7][0] ? str[7] : "?", t);
  fprintf(out, "  %-13s plan %.3g s, compute %.3g s, reduce %.3g s, write %.3g s\n", "wall time",
          wv[2], wv[3], wv[4], wv[5]);

  if (str[8] && !strcmp(str[8], "moments")) {
    info_moments(out, rows, nrows, have_job ? &jb : NULL, piece);
  } else {
    info_tables(out, rows, nrows, landscape);
    info_completeness(out, rows, nrows, have_job ? &jb : NULL, sl_index, sl_count);
  }
cleanup:
  free(rows);
  bps_job_free(&jb);
  for (int k = 0; k < NSTR; k++) free(str[k]);
  h5_close(&file);
  H5Eclear2(H5E_DEFAULT);
  return rc;
}

/* ------------------------------------------------------------------------------------ */
/* Loading a whole result (bpscan merge)                                                 */

void bps_h5_result_free(bps_result *res) {
  if (!res) return;
  free((void *)res->job_text);
  free((void *)res->model);
  free((void *)res->grad_method);
  free((void *)res->host);
  free((void *)res->hosts);
  for (int i = 0; res->per_n && i < res->nn; i++) {
    bps_result_n *r = &res->per_n[i];
    free(r->tracked);
    if (r->param_names)
      for (int k = 0; k < r->nparams; k++) free(r->param_names[k]);
    free(r->param_names);
    free((void *)r->representation);
    free(r->cost);
    free(r->grad);
    free(r->diag);
    free(r->params);
    free(r->grad_stats);
    free(r->sample_index);
    bps_landscape_n_free(r->land);
    free(r->land);
    if (r->mom) free(r->mom->item), free(r->mom->rec);
    free(r->mom);
  }
  free(res->per_n);
  memset(res, 0, sizeof *res);
}

/* A numeric attribute that must exist. */
static int need_num(const char *path, hid_t loc, const char *where, const char *name,
                    hid_t mtype, void *v) {
  int f = 0;
  BPS_CALL(read_attr_num(path, loc, where, name, mtype, v, &f));
  BPS_CHECK(f, BPS_ERR_IO, "%s: attribute %s%s missing (not a complete bpscan result file)",
            path, where, name);
  return BPS_OK;
}

/* A string attribute that must exist (malloc'ed into *s). */
static int need_str(const char *path, hid_t loc, const char *where, const char *name, char **s) {
  BPS_CALL(read_attr_str(path, loc, where, name, s));
  BPS_CHECK(*s, BPS_ERR_IO, "%s: attribute %s%s missing (not a complete bpscan result file)",
            path, where, name);
  return BPS_OK;
}

/* The numeric dataset loc/name, which must have the given rank (0..3) and dims, read as mtype
 * (elements of esz bytes) into a new buffer *out (at least one element long). */
static int read_dset_num(const char *path, hid_t loc, const char *where, const char *name,
                         int rank, const hsize_t *dims, hid_t mtype, size_t esz, void **out) {
  int rc = BPS_OK;
  hid_t d = H5I_INVALID_HID, sp = H5I_INVALID_HID, ft = H5I_INVALID_HID;
  void *buf = NULL;
  *out = NULL;
  htri_t ex = H5Lexists(loc, name, H5P_DEFAULT);
  H5_TRY(ex, "%s: cannot look up dataset %s%s", path, where, name);
  if (!ex)
    BPS_FAIL_GOTO(BPS_ERR_IO, "%s: dataset %s%s missing (not a complete bpscan result file)",
                  path, where, name);
  H5_TRY(d = H5Dopen2(loc, name, H5P_DEFAULT), "%s: cannot open dataset %s%s", path, where, name);
  H5_TRY(ft = H5Dget_type(d), "%s: dataset %s%s: type", path, where, name);
  H5T_class_t cl = H5Tget_class(ft);
  if (cl != H5T_INTEGER && cl != H5T_FLOAT)
    BPS_FAIL_GOTO(BPS_ERR_IO, "%s: dataset %s%s is not numeric", path, where, name);
  H5_TRY(sp = H5Dget_space(d), "%s: dataset %s%s: dataspace", path, where, name);
  hsize_t got[3] = {0, 0, 0};
  int nd = H5Sget_simple_extent_ndims(sp);
  H5_TRY(nd, "%s: dataset %s%s: dataspace", path, where, name);
  if (nd != rank || rank > 3)
    BPS_FAIL_GOTO(BPS_ERR_IO, "%s: dataset %s%s has rank %d, expected %d", path, where, name, nd,
                  rank);
  H5_TRY(H5Sget_simple_extent_dims(sp, got, NULL), "%s: dataset %s%s: dims", path, where, name);
  size_t n = 1;
  for (int k = 0; k < rank; k++) {
    if (got[k] != dims[k])
      BPS_FAIL_GOTO(BPS_ERR_IO,
                    "%s: dataset %s%s has %llu entries along dimension %d, expected %llu "
                    "(from the group's attributes)",
                    path, where, name, (unsigned long long)got[k], k, (unsigned long long)dims[k]);
    n *= (size_t)dims[k];
  }
  buf = malloc((n > 0 ? n : 1) * esz);
  if (!buf)
    BPS_FAIL_GOTO(BPS_ERR_MEM, "%s: out of memory reading dataset %s%s", path, where, name);
  if (n > 0)
    H5_TRY(H5Dread(d, mtype, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf), "%s: cannot read dataset %s%s",
           path, where, name);
  *out = buf;
  buf = NULL;
cleanup:
  free(buf);
  h5_close(&ft);
  h5_close(&sp);
  h5_close(&d);
  return rc;
}

/* The 1-D variable-length string dataset loc/name of count entries -> a new array of
 * count malloc'ed strings. */
static int read_dset_strings(const char *path, hid_t loc, const char *where, const char *name,
                             hsize_t count, char ***out) {
  int rc = BPS_OK;
  hid_t d = H5I_INVALID_HID, sp = H5I_INVALID_HID, ft = H5I_INVALID_HID, mt = H5I_INVALID_HID;
  char **vl = NULL, **s = NULL;
  int have_vl = 0;
  *out = NULL;
  htri_t ex = H5Lexists(loc, name, H5P_DEFAULT);
  H5_TRY(ex, "%s: cannot look up dataset %s%s", path, where, name);
  if (!ex)
    BPS_FAIL_GOTO(BPS_ERR_IO, "%s: dataset %s%s missing (not a complete bpscan result file)",
                  path, where, name);
  H5_TRY(d = H5Dopen2(loc, name, H5P_DEFAULT), "%s: cannot open dataset %s%s", path, where, name);
  H5_TRY(ft = H5Dget_type(d), "%s: dataset %s%s: type", path, where, name);
  if (H5Tget_class(ft) != H5T_STRING || H5Tis_variable_str(ft) <= 0)
    BPS_FAIL_GOTO(BPS_ERR_IO, "%s: dataset %s%s is not a variable-length string list", path,
                  where, name);
  H5_TRY(sp = H5Dget_space(d), "%s: dataset %s%s: dataspace", path, where, name);
  hsize_t got = 0;
  if (H5Sget_simple_extent_ndims(sp) != 1 || H5Sget_simple_extent_dims(sp, &got, NULL) < 0 ||
      got != count)
    BPS_FAIL_GOTO(BPS_ERR_IO, "%s: dataset %s%s has %llu entries, expected %llu", path, where,
                  name, (unsigned long long)got, (unsigned long long)count);
  H5_TRY(mt = H5Tcopy(H5T_C_S1), "%s: dataset %s%s: type", path, where, name);
  H5_TRY(H5Tset_size(mt, H5T_VARIABLE), "%s: dataset %s%s: type", path, where, name);
  H5_TRY(H5Tset_cset(mt, H5Tget_cset(ft)), "%s: dataset %s%s: type", path, where, name);
  vl = calloc(count > 0 ? (size_t)count : 1, sizeof *vl);
  s = calloc(count > 0 ? (size_t)count : 1, sizeof *s);
  if (!vl || !s) BPS_FAIL_GOTO(BPS_ERR_MEM, "out of memory");
  if (count > 0) {
    H5_TRY(H5Dread(d, mt, H5S_ALL, H5S_ALL, H5P_DEFAULT, vl), "%s: cannot read dataset %s%s",
           path, where, name);
    have_vl = 1;
  }
  for (hsize_t i = 0; i < count; i++) {
    s[i] = strdup(vl[i] ? vl[i] : "");
    if (!s[i]) BPS_FAIL_GOTO(BPS_ERR_MEM, "out of memory");
  }
  *out = s;
  s = NULL;
cleanup:
  if (have_vl) {
#if H5_VERSION_GE(1, 12, 0)
    H5Treclaim(mt, sp, H5P_DEFAULT, vl);
#else
    H5Dvlen_reclaim(mt, sp, H5P_DEFAULT, vl);
#endif
  }
  if (s)
    for (hsize_t i = 0; i < count; i++) free(s[i]);
  free(s);
  free(vl);
  h5_close(&mt);
  h5_close(&ft);
  h5_close(&sp);
  h5_close(&d);
  return rc;
}

/* The rank (at most 3) and dims of the dataset loc/name, which must exist. */
static int dset_shape(const char *path, hid_t loc, const char *where, const char *name,
                      int *rank, hsize_t *dims) {
  int rc = BPS_OK;
  hid_t d = H5I_INVALID_HID, sp = H5I_INVALID_HID;
  htri_t ex = H5Lexists(loc, name, H5P_DEFAULT);
  H5_TRY(ex, "%s: cannot look up dataset %s%s", path, where, name);
  if (!ex)
    BPS_FAIL_GOTO(BPS_ERR_IO, "%s: dataset %s%s missing (not a complete bpscan result file)",
                  path, where, name);
  H5_TRY(d = H5Dopen2(loc, name, H5P_DEFAULT), "%s: cannot open dataset %s%s", path, where, name);
  H5_TRY(sp = H5Dget_space(d), "%s: dataset %s%s: dataspace", path, where, name);
  int nd = H5Sget_simple_extent_ndims(sp);
  H5_TRY(nd, "%s: dataset %s%s: dataspace", path, where, name);
  if (nd > 3)
    BPS_FAIL_GOTO(BPS_ERR_IO, "%s: dataset %s%s has rank %d (at most 3)", path, where, name, nd);
  H5_TRY(H5Sget_simple_extent_dims(sp, dims, NULL), "%s: dataset %s%s: dims", path, where, name);
  *rank = nd;
cleanup:
  h5_close(&sp);
  h5_close(&d);
  return rc;
}

/* The group /n{N}/landscape into r->land (allocated here; the caller frees it on failure).
 * The statistics are read back, not recomputed, so writing r again gives the same data. */
static int load_land(const char *path, hid_t ng, const char *gname, bps_result_n *r) {
  int rc = BPS_OK, rank = 0;
  hid_t g = H5I_INVALID_HID;
  char *dirs = NULL, *list = NULL, where[96], nm[BPS_LAND_NAME_LEN + 16];
  hsize_t dims[3] = {0, 0, 0};
  void *vp = NULL;
  snprintf(where, sizeof where, "/%s/landscape/", gname);
  bps_landscape_n *l = r->land = calloc(1, sizeof *r->land);
  if (!l) BPS_FAIL_GOTO(BPS_ERR_MEM, "out of memory");
  H5_TRY(g = H5Gopen2(ng, "landscape", H5P_DEFAULT), "%s: cannot open group %s", path, where);
  BPS_CALL_GOTO(need_str(path, g, where, "directions", &dirs));
  if (!dirs[0] || strlen(dirs) >= sizeof l->directions)
    BPS_FAIL_GOTO(BPS_ERR_IO, "%s: %sdirections = '%s' is not a direction kind", path, where,
                  dirs);
  snprintf(l->directions, sizeof l->directions, "%s", dirs);
  BPS_CALL_GOTO(need_num(path, g, where, "pad", H5T_NATIVE_INT, &l->pad));
  BPS_CALL_GOTO(need_num(path, g, where, "num_cuts", H5T_NATIVE_INT, &l->ncut));
  BPS_CALL_GOTO(need_str(path, g, where, "fields", &list));
  BPS_CALL_GOTO(dset_shape(path, g, where, "degree", &rank, dims));
  if (rank != 1 || dims[0] < 1 || dims[0] > 1u << 20)
    BPS_FAIL_GOTO(BPS_ERR_IO, "%s: dataset %sdegree must be 1-D and non-empty", path, where);
  BPS_CALL_GOTO(read_dset_num(path, g, where, "degree", 1, dims, H5T_NATIVE_INT, sizeof(int), &vp));
  l->degree = vp;
  BPS_CALL_GOTO(read_dset_num(path, g, where, "size", 1, dims, H5T_NATIVE_INT, sizeof(int), &vp));
  l->size = vp;
  l->ndeg = (int)dims[0];
  /* the fields, in the order of the comma list */
  for (char *p = list; *p;) {
    char *e = strchr(p, ',');
    size_t len = e ? (size_t)(e - p) : strlen(p);
    if (l->nfield == BPS_LAND_MAX_FIELDS)
      BPS_FAIL_GOTO(BPS_ERR_IO, "%s: %sfields lists more than %d fields", path, where,
                    BPS_LAND_MAX_FIELDS);
    bps_land_field *f = &l->field[l->nfield++];
    if (len == 0 || len >= sizeof f->name)
      BPS_FAIL_GOTO(BPS_ERR_IO, "%s: %sfields = '%s': empty or too long a field name", path,
                    where, list);
    memcpy(f->name, p, len);
    f->name[len] = '\0';
    p += len + (e ? 1 : 0);
    BPS_CALL_GOTO(dset_shape(path, g, where, f->name, &rank, dims));
    if (rank < 1 || dims[0] != (hsize_t)r->samples)
      BPS_FAIL_GOTO(BPS_ERR_IO,
                    "%s: dataset %s%s must have num_samples = %ld rows (rank %d, %llu rows)", path,
                    where, f->name, r->samples, rank, rank ? (unsigned long long)dims[0] : 0ULL);
    f->ndim = rank - 1;
    for (int d = 0; d < f->ndim; d++) {
      if (dims[d + 1] < 1 || dims[d + 1] > 1u << 30)
        BPS_FAIL_GOTO(BPS_ERR_IO, "%s: dataset %s%s has an empty dimension", path, where, f->name);
      f->dims[d] = (long)dims[d + 1];
    }
    BPS_CALL_GOTO(read_dset_num(path, g, where, f->name, rank, dims, H5T_NATIVE_DOUBLE,
                                sizeof(double), &vp));
    f->data = vp;
    int have = 0;
    for (int k = 0; k < 4; k++) {
      snprintf(nm, sizeof nm, "%s%s", f->name, land_stat_suffix[k]);
      htri_t ex = H5Lexists(g, nm, H5P_DEFAULT);
      H5_TRY(ex, "%s: cannot look up dataset %s%s", path, where, nm);
      have += ex > 0;
    }
    if (have != 0 && have != 4)
      BPS_FAIL_GOTO(BPS_ERR_IO, "%s: %s%s has %d of its 4 statistics datasets", path, where,
                    f->name, have);
    f->stats = have == 4;
    double **st[4] = {&f->mean, &f->mean_se, &f->var, &f->var_se};
    for (int k = 0; f->stats && k < 4; k++) {
      snprintf(nm, sizeof nm, "%s%s", f->name, land_stat_suffix[k]);
      BPS_CALL_GOTO(read_dset_num(path, g, where, nm, f->ndim, dims + 1, H5T_NATIVE_DOUBLE,
                                  sizeof(double), &vp));
      *st[k] = vp;
    }
  }
cleanup:
  free(dirs);
  free(list);
  h5_close(&g);
  return rc;
}

/* The scalar attributes of /n{N} (group g, named where in messages) into r; *PA and *P:
 * num_params and num_tracked. */
static int load_n_attrs(const char *path, hid_t g, const char *where, int piece, bps_result_n *r,
                        int *PA, int *P) {
  char nm[64];
  int64_t S64 = 0;
  BPS_CALL(need_num(path, g, where, "n", H5T_NATIVE_INT, &r->n));
  BPS_CALL(need_num(path, g, where, "num_samples", H5T_NATIVE_INT64, &S64));
  BPS_CALL(need_num(path, g, where, "num_params", H5T_NATIVE_INT, PA));
  BPS_CALL(need_num(path, g, where, "num_tracked", H5T_NATIVE_INT, P));
  if (S64 < 0 || *PA < 0 || *P < 0 || *P > *PA || (int64_t)(long)S64 != S64)
    BPS_FAIL(BPS_ERR_IO,
             "%s: group %s: invalid sizes (num_samples %lld, num_params %d, "
             "num_tracked %d)",
             path, where, (long long)S64, *PA, *P);
  r->samples = (long)S64;
  BPS_CALL(need_num(path, g, where, "q_in", H5T_NATIVE_INT, &r->q_in));
  BPS_CALL(need_num(path, g, where, "q_out", H5T_NATIVE_INT, &r->q_out));
  BPS_CALL(need_num(path, g, where, "diag_qubits", H5T_NATIVE_INT, &r->diag_qubits));
  char *repr = NULL;
  BPS_CALL(need_str(path, g, where, "representation", &repr));
  r->representation = repr;
  BPS_CALL(need_num(path, g, where, "cost_mean", H5T_NATIVE_DOUBLE, &r->cost_stats.mean));
  BPS_CALL(need_num(path, g, where, "cost_mean_se", H5T_NATIVE_DOUBLE, &r->cost_stats.mean_se));
  BPS_CALL(need_num(path, g, where, "cost_var", H5T_NATIVE_DOUBLE, &r->cost_stats.var));
  BPS_CALL(need_num(path, g, where, "cost_var_se", H5T_NATIVE_DOUBLE, &r->cost_stats.var_se));
  r->cost_stats.count = r->samples;
  BPS_CALL(need_num(path, g, where, "grad_var_mean", H5T_NATIVE_DOUBLE, &r->grad_var_mean));
  BPS_CALL(need_num(path, g, where, "grad_var_mean_se", H5T_NATIVE_DOUBLE, &r->grad_var_mean_se));
  for (int k = 0; k < BPS_NDIAG; k++) {
    bps_stats *ds = &r->diag_stats[k];
    ds->count = r->samples;
    snprintf(nm, sizeof nm, "%s_mean", bps_diag_names[k]);
    BPS_CALL(need_num(path, g, where, nm, H5T_NATIVE_DOUBLE, &ds->mean));
    snprintf(nm, sizeof nm, "%s_mean_se", bps_diag_names[k]);
    BPS_CALL(need_num(path, g, where, nm, H5T_NATIVE_DOUBLE, &ds->mean_se));
    snprintf(nm, sizeof nm, "%s_var", bps_diag_names[k]);
    BPS_CALL(need_num(path, g, where, nm, H5T_NATIVE_DOUBLE, &ds->var));
  }
  BPS_CALL(need_num(path, g, where, "page_entropy", H5T_NATIVE_DOUBLE, &r->page_entropy));
  BPS_CALL(need_num(path, g, where, "page_purity", H5T_NATIVE_DOUBLE, &r->page_purity));
  r->samples_total = r->samples;
  if (piece) {
    int64_t tot = -1;
    BPS_CALL(need_num(path, g, where, "samples_total", H5T_NATIVE_INT64, &tot));
    if (tot < S64 || (int64_t)(long)tot != tot)
      BPS_FAIL(BPS_ERR_IO, "%s: %ssamples_total = %lld is less than num_samples = %lld", path,
               where, (long long)tot, (long long)S64);
    r->samples_total = (long)tot;
  }
  return BPS_OK;
}

/* One /n{N} group into r (zeroed by the caller; partial contents are freed by the caller). */
static int load_n(const char *path, hid_t file, const char *gname, int piece, bps_result_n *r) {
  int rc = BPS_OK;
  hid_t g = H5I_INVALID_HID;
  double *gm = NULL, *gv = NULL, *gse = NULL;
  void *vp = NULL;
  char where[80];
  snprintf(where, sizeof where, "/%s/", gname);
  H5_TRY(g = H5Gopen2(file, gname, H5P_DEFAULT), "%s: cannot open group /%s", path, gname);
  int PA = -1, P = -1;
  BPS_CALL_GOTO(load_n_attrs(path, g, where, piece, r, &PA, &P));

  /* per-sample datasets */
  hsize_t S = (hsize_t)r->samples, d1[1] = {S}, d2[2] = {S, (hsize_t)P};
  BPS_CALL_GOTO(
      read_dset_num(path, g, where, "cost", 1, d1, H5T_NATIVE_DOUBLE, sizeof(double), &vp));
  r->cost = vp;
  BPS_CALL_GOTO(
      read_dset_num(path, g, where, "grad", 2, d2, H5T_NATIVE_DOUBLE, sizeof(double), &vp));
  r->grad = vp;
  d2[1] = BPS_NDIAG;
  BPS_CALL_GOTO(
      read_dset_num(path, g, where, "diag", 2, d2, H5T_NATIVE_DOUBLE, sizeof(double), &vp));
  r->diag = vp;
  htri_t ex = H5Lexists(g, "params", H5P_DEFAULT);
  H5_TRY(ex, "%s: cannot look up dataset %sparams", path, where);
  if (ex) {
    d2[1] = (hsize_t)PA;
    BPS_CALL_GOTO(
        read_dset_num(path, g, where, "params", 2, d2, H5T_NATIVE_DOUBLE, sizeof(double), &vp));
    r->params = vp;
  }
  if (piece) {
    BPS_CALL_GOTO(read_dset_num(path, g, where, "sample_index", 1, d1, H5T_NATIVE_LONG,
                                sizeof(long), &vp));
    r->sample_index = vp;
    for (long s = 0; s < r->samples; s++)
      if (r->sample_index[s] < (s ? r->sample_index[s - 1] + 1 : 0) ||
          r->sample_index[s] >= r->samples_total)
        BPS_FAIL_GOTO(BPS_ERR_IO, "%s: %ssample_index[%ld] = %ld is not increasing in [0, %ld)",
                      path, where, s, r->sample_index[s], r->samples_total);
  }

  ex = H5Lexists(g, "landscape", H5P_DEFAULT);
  H5_TRY(ex, "%s: cannot look up group %slandscape", path, where);
  if (ex) BPS_CALL_GOTO(load_land(path, g, gname, r));

  /* parameters: names, tracked indices, per-parameter statistics */
  r->param_names = calloc(PA > 0 ? (size_t)PA : 1, sizeof *r->param_names);
  if (!r->param_names) BPS_FAIL_GOTO(BPS_ERR_MEM, "out of memory");
  r->nparams = PA;
  char **names = NULL;
  BPS_CALL_GOTO(read_dset_strings(path, g, where, "param_names_all", (hsize_t)PA, &names));
  memcpy(r->param_names, names, (size_t)PA * sizeof *names);
  free(names);
  d1[0] = (hsize_t)P;
  BPS_CALL_GOTO(
      read_dset_num(path, g, where, "param_index", 1, d1, H5T_NATIVE_INT, sizeof(int), &vp));
  r->tracked = vp;
  r->ntracked = P;
  for (int k = 0; k < P; k++)
    if (r->tracked[k] < 0 || r->tracked[k] >= PA)
      BPS_FAIL_GOTO(BPS_ERR_IO, "%s: %sparam_index[%d] = %d out of range [0, %d)", path, where,
                    k, r->tracked[k], PA);
  BPS_CALL_GOTO(
      read_dset_num(path, g, where, "grad_mean", 1, d1, H5T_NATIVE_DOUBLE, sizeof(double), &vp));
  gm = vp;
  BPS_CALL_GOTO(
      read_dset_num(path, g, where, "grad_var", 1, d1, H5T_NATIVE_DOUBLE, sizeof(double), &vp));
  gv = vp;
  BPS_CALL_GOTO(read_dset_num(path, g, where, "grad_var_se", 1, d1, H5T_NATIVE_DOUBLE,
                              sizeof(double), &vp));
  gse = vp;
  r->grad_stats = calloc(P > 0 ? (size_t)P : 1, sizeof *r->grad_stats);
  if (!r->grad_stats) BPS_FAIL_GOTO(BPS_ERR_MEM, "out of memory");
  for (int k = 0; k < P; k++) {
    r->grad_stats[k].count = r->samples;
    r->grad_stats[k].mean = gm[k];
    r->grad_stats[k].var = gv[k];
    r->grad_stats[k].var_se = gse[k];
  }
cleanup:
  free(gm);
  free(gv);
  free(gse);
  h5_close(&g);
  return rc;
}

/* /n{N} of a moments piece: the shape, the engine and the item records (items play the
 * part of samples: sample_index = item numbers, samples_total = 1 + tracked parameters). A
 * complete moments file holds no records: merging takes pieces only. */
static int load_n_mom(const char *path, hid_t file, const char *gname, int piece, bps_result_n *r) {
  int rc = BPS_OK;
  hid_t g = H5I_INVALID_HID;
  void *vp = NULL;
  char where[80], *str = NULL;
  snprintf(where, sizeof where, "/%s/", gname);
  BPS_CHECK_GOTO(piece, BPS_ERR_IO,
                 "%s: a complete exact-moments result holds no item records "
                 "(bpscan merge takes the pieces of an array job)",
                 path);
  H5_TRY(g = H5Gopen2(file, gname, H5P_DEFAULT), "%s: cannot open group /%s", path, gname);
  int PA = -1, P = -1;
  BPS_CALL_GOTO(need_num(path, g, where, "n", H5T_NATIVE_INT, &r->n));
  BPS_CALL_GOTO(need_num(path, g, where, "num_params", H5T_NATIVE_INT, &PA));
  BPS_CALL_GOTO(need_num(path, g, where, "num_tracked", H5T_NATIVE_INT, &P));
  BPS_CHECK_GOTO(PA >= 1 && P >= 1 && P <= PA, BPS_ERR_IO,
                 "%s: group %s: invalid sizes "
                 "(num_params %d, num_tracked %d)",
                 path, where, PA, P);
  BPS_CALL_GOTO(need_num(path, g, where, "q_in", H5T_NATIVE_INT, &r->q_in));
  BPS_CALL_GOTO(need_num(path, g, where, "q_out", H5T_NATIVE_INT, &r->q_out));
  BPS_CALL_GOTO(need_num(path, g, where, "diag_qubits", H5T_NATIVE_INT, &r->diag_qubits));
  BPS_CALL_GOTO(need_num(path, g, where, "page_entropy", H5T_NATIVE_DOUBLE, &r->page_entropy));
  BPS_CALL_GOTO(need_num(path, g, where, "page_purity", H5T_NATIVE_DOUBLE, &r->page_purity));
  r->mom = calloc(1, sizeof *r->mom);
  BPS_CHECK_GOTO(r->mom, BPS_ERR_MEM, "out of memory");
  BPS_CALL_GOTO(need_str(path, g, where, "engine", &str));
  snprintf(r->mom->engine, sizeof r->mom->engine, "%s", str);
  free(str), str = NULL;
  BPS_CALL_GOTO(need_str(path, g, where, "precision", &str));
  snprintf(r->mom->precision, sizeof r->mom->precision, "%s", str);
  free(str), str = NULL;
  r->representation = strdup(r->mom->engine);
  BPS_CHECK_GOTO(r->representation, BPS_ERR_MEM, "out of memory");
  r->param_names = calloc((size_t)PA, sizeof *r->param_names);
  BPS_CHECK_GOTO(r->param_names, BPS_ERR_MEM, "out of memory");
  r->nparams = PA;
  char **names = NULL;
  BPS_CALL_GOTO(read_dset_strings(path, g, where, "param_names_all", (hsize_t)PA, &names));
  memcpy(r->param_names, names, (size_t)PA * sizeof *names);
  free(names);
  hsize_t d1[1] = {(hsize_t)P}, d2[2];
  BPS_CALL_GOTO(
      read_dset_num(path, g, where, "param_index", 1, d1, H5T_NATIVE_INT, sizeof(int), &vp));
  r->tracked = vp;
  r->ntracked = P;
  for (int k = 0; k < P; k++)
    BPS_CHECK_GOTO(r->tracked[k] >= 0 && r->tracked[k] < PA, BPS_ERR_IO,
                   "%s: %sparam_index[%d] = %d out of range [0, %d)", path, where, k,
                   r->tracked[k], PA);
  r->grad_stats = calloc((size_t)P, sizeof *r->grad_stats);
  BPS_CHECK_GOTO(r->grad_stats, BPS_ERR_MEM, "out of memory");
  int rank = 0;
  hsize_t dims[3] = {0, 0, 0};
  BPS_CALL_GOTO(dset_shape(path, g, where, "mom_items", &rank, dims));
  BPS_CHECK_GOTO(rank == 1, BPS_ERR_IO, "%s: %smom_items has rank %d", path, where, rank);
  const hsize_t m = dims[0];
  BPS_CHECK_GOTO(m <= (hsize_t)P + 1, BPS_ERR_IO, "%s: %smom_items has %llu entries for %d items",
                 path, where, (unsigned long long)m, P + 1);
  d1[0] = m;
  BPS_CALL_GOTO(
      read_dset_num(path, g, where, "mom_items", 1, d1, H5T_NATIVE_LONG, sizeof(long), &vp));
  r->mom->item = vp;
  d2[0] = m, d2[1] = BPS_MOMREC_LEN;
  BPS_CALL_GOTO(read_dset_num(path, g, where, "mom_records", 2, d2, H5T_NATIVE_DOUBLE,
                              sizeof(double), &vp));
  r->mom->rec = vp;
  r->mom->nitems = (int)m;
  r->samples = (long)m;
  r->samples_total = P + 1;
  r->sample_index = malloc(sizeof(long) * (size_t)(m ? m : 1));
  BPS_CHECK_GOTO(r->sample_index, BPS_ERR_MEM, "out of memory");
  for (hsize_t i = 0; i < m; i++) {
    r->sample_index[i] = r->mom->item[i];
    BPS_CHECK_GOTO(r->mom->item[i] >= (i ? r->mom->item[i - 1] + 1 : 0) && r->mom->item[i] <= P,
                   BPS_ERR_IO, "%s: %smom_items[%llu] = %ld is not increasing in [0, %d]", path,
                   where, (unsigned long long)i, r->mom->item[i], P);
  }
cleanup:
  free(str);
  h5_close(&g);
  return rc;
}

int bps_h5_read(const char *path, bps_result *res, bps_h5_meta *meta) {
  int rc = BPS_OK, f, sv = 0;
  hid_t file = H5I_INVALID_HID;
  int *gn = NULL;
  char **gnames = NULL;
  int ng = 0;
  char *vs[3] = {NULL, NULL, NULL};
  h5_silence();
  if (res) memset(res, 0, sizeof *res);
  if (meta) memset(meta, 0, sizeof *meta);
  if (!res) BPS_FAIL_GOTO(BPS_ERR_ARG, "no result to fill");
  if (!path || !path[0]) BPS_FAIL_GOTO(BPS_ERR_IO, "no file name given");
  BPS_CALL_GOTO(open_result(path, &file, &sv));

  /* root attributes */
  char *s = NULL;
  BPS_CALL_GOTO(need_str(path, file, "/", "job", &s));
  res->job_text = s;
  BPS_CALL_GOTO(need_str(path, file, "/", "model", &s));
  res->model = s;
  BPS_CALL_GOTO(need_str(path, file, "/", "grad_method", &s));
  res->grad_method = s;
  BPS_CALL_GOTO(need_str(path, file, "/", "host", &s));
  res->host = s;
  BPS_CALL_GOTO(read_attr_str(path, file, "/", "hosts", &s)); /* NULL in files written before it */
  res->hosts = s;
  BPS_CALL_GOTO(need_num(path, file, "/", "job_hash", H5T_NATIVE_UINT64, &res->job_hash));
  BPS_CALL_GOTO(need_num(path, file, "/", "seed", H5T_NATIVE_UINT64, &res->seed));
  BPS_CALL_GOTO(need_num(path, file, "/", "mpi_ranks", H5T_NATIVE_INT, &res->mpi_ranks));
  BPS_CALL_GOTO(need_num(path, file, "/", "omp_threads", H5T_NATIVE_INT, &res->omp_threads));
  BPS_CALL_GOTO(need_num(path, file, "/", "start_unix", H5T_NATIVE_DOUBLE, &res->start_time));
  BPS_CALL_GOTO(need_num(path, file, "/", "end_unix", H5T_NATIVE_DOUBLE, &res->end_time));
  BPS_CALL_GOTO(need_num(path, file, "/", "wall_plan", H5T_NATIVE_DOUBLE, &res->wall_plan));
  BPS_CALL_GOTO(need_num(path, file, "/", "wall_compute", H5T_NATIVE_DOUBLE, &res->wall_compute));
  BPS_CALL_GOTO(need_num(path, file, "/", "wall_reduce", H5T_NATIVE_DOUBLE, &res->wall_reduce));
  BPS_CALL_GOTO(need_num(path, file, "/", "wall_write", H5T_NATIVE_DOUBLE, &res->wall_write));
  res->slice_index = 0;
  res->slice_count = 1;
  BPS_CALL_GOTO(
      read_attr_num(path, file, "/", "slice_count", H5T_NATIVE_INT, &res->slice_count, &f));
  if (!f) res->slice_count = 1;
  if (res->slice_count < 1 || res->slice_count > BPS_MAX_SLICES)
    BPS_FAIL_GOTO(BPS_ERR_IO, "%s: attribute /slice_count is %d, not in 1..%d", path,
                  res->slice_count, BPS_MAX_SLICES);
  if (res->slice_count > 1) {
    BPS_CALL_GOTO(need_num(path, file, "/", "slice_index", H5T_NATIVE_INT, &res->slice_index));
    if (res->slice_index < 0 || res->slice_index >= res->slice_count)
      BPS_FAIL_GOTO(BPS_ERR_IO, "%s: slice_index %d not in [0, %d)", path, res->slice_index,
                    res->slice_count);
  }
  if (meta) {
    static const char *const vn[3] = {"bpscan_version", "git_commit", "hdf5_version"};
    for (int k = 0; k < 3; k++) BPS_CALL_GOTO(read_attr_str(path, file, "/", vn[k], &vs[k]));
    meta->schema_version = sv;
    snprintf(meta->bpscan_version, sizeof meta->bpscan_version, "%s", vs[0] ? vs[0] : "");
    snprintf(meta->git_commit, sizeof meta->git_commit, "%s", vs[1] ? vs[1] : "");
    snprintf(meta->hdf5_version, sizeof meta->hdf5_version, "%s", vs[2] ? vs[2] : "");
  }

  /* the /n{N} groups, in increasing n */
  H5G_info_t gi;
  H5_TRY(H5Gget_info(file, &gi), "%s: cannot list the root group", path);
  gn = calloc(gi.nlinks > 0 ? gi.nlinks : 1, sizeof *gn);
  gnames = calloc(gi.nlinks > 0 ? gi.nlinks : 1, sizeof *gnames);
  if (!gn || !gnames) BPS_FAIL_GOTO(BPS_ERR_MEM, "out of memory");
  for (hsize_t i = 0; i < gi.nlinks; i++) {
    char name[64];
    ssize_t len = H5Lget_name_by_idx(file, ".", H5_INDEX_NAME, H5_ITER_INC, i, name, sizeof name,
                                     H5P_DEFAULT);
    H5_TRY(len, "%s: cannot list the root group", path);
    if ((size_t)len >= sizeof name || name[0] != 'n' || !name[1]) continue;
    char *e;
    long nv = strtol(name + 1, &e, 10);
    if (*e || nv < 1 || nv > 100000 || name[1] == '0' || name[1] == '+' || name[1] == '-')
      continue;
    int at = ng++; /* insertion into increasing n */
    while (at > 0 && gn[at - 1] > (int)nv) {
      gn[at] = gn[at - 1];
      gnames[at] = gnames[at - 1];
      at--;
    }
    gn[at] = (int)nv;
    gnames[at] = strdup(name);
    if (!gnames[at]) BPS_FAIL_GOTO(BPS_ERR_MEM, "out of memory");
  }
  res->per_n = calloc(ng > 0 ? (size_t)ng : 1, sizeof *res->per_n);
  if (!res->per_n) BPS_FAIL_GOTO(BPS_ERR_MEM, "out of memory");
  res->nn = ng;
  char *mode = NULL;
  BPS_CALL_GOTO(read_attr_str(path, file, "/", "mode", &mode));
  const int mom = mode && !strcmp(mode, "moments");
  free(mode);
  for (int i = 0; i < ng; i++) {
    BPS_CALL_GOTO(mom ? load_n_mom(path, file, gnames[i], res->slice_count > 1, &res->per_n[i])
                      : load_n(path, file, gnames[i], res->slice_count > 1, &res->per_n[i]));
    if (res->per_n[i].n != gn[i])
      BPS_FAIL_GOTO(BPS_ERR_IO, "%s: group /%s has attribute n = %d", path, gnames[i],
                    res->per_n[i].n);
  }
cleanup:
  if (gnames)
    for (int i = 0; i < ng; i++) free(gnames[i]);
  free(gnames);
  free(gn);
  for (int k = 0; k < 3; k++) free(vs[k]);
  h5_close(&file);
  H5Eclear2(H5E_DEFAULT);
  if (rc && res) bps_h5_result_free(res);
  return rc;
}
