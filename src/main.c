/* main: the bpscan command line. Subcommands are listed in `cmds` below; each returns the
 * process exit code (error.h bps_exit_code). `run` and `check` start MPI (signal handlers
 * are installed before MPI_Init, because Slurm may send its preemption signal as soon as
 * the step starts). */
#include <stdio.h>
#include <stdlib.h>
#ifdef __GLIBC__ /* defined by the headers above */
#include <malloc.h>
#endif
#include <string.h>
#include <unistd.h>

#include "bpscan/bench.h"
#include "bpscan/cli.h"
#include "bpscan/comm.h"
#include "bpscan/driver.h"
#include "bpscan/error.h"
#include "bpscan/merge.h"
#include "bpscan/version.h"

typedef struct {
  const char *name;
  int (*fn)(int argc, char **argv);
  int mpi;
  const char *help;
} bps_cmd;

static const bps_cmd cmds[] = {
    {"run", bps_cli_run, 1,
     "run a scan: bpscan run JOB.ini [-o OUT.h5] [--set s.k=v]... [--resume] [--force] [--slice K/N]"},
    {"check", bps_cli_check, 1,
     "validate a job and print the plan: bpscan check JOB.ini [--set s.k=v]... [--ranks N,...]"},
    {"merge", bps_merge_main, 0,
     "combine array-job pieces: bpscan merge [--force] OUT.h5 PIECE.h5..."},
    {"info", bps_cli_info, 0, "summarise a result file: bpscan info OUT.h5"},
    {"bench", bps_bench_main, 0, "kernel throughput vs memory bandwidth (bpscan bench --help)"},
    {"help", bps_cli_help, 0, "job-file key reference: bpscan help job [--markdown]"},
};
enum { NCMDS = sizeof cmds / sizeof cmds[0] };

static void usage(FILE *out) {
  fprintf(out,
          "bpscan %s - barren-plateau scanner for quantum neural networks\n\n"
          "usage: bpscan <command> [options]\n"
          "       bpscan --version | --help\n\ncommands:\n",
          BPS_VERSION_STRING);
  for (int i = 0; i < NCMDS; i++) fprintf(out, "  %-6s %s\n", cmds[i].name, cmds[i].help);
  fprintf(out,
          "\nexit codes: 0 success, 1 runtime error, 2 usage or invalid job, 3 output exists\n"
          "(use --force), 4 checkpoint of another job, corrupt, or not resumed, 5 task too big\n"
          "for one rank, 6 output path unusable (no such directory, not writable, a directory),\n"
          "75 interrupted by a signal with the checkpoint written (rerun with --resume)\n");
}

/* libgomp reads its environment only when it is loaded, so these are set here and the
 * process re-executes once, before anything else (and before MPI_Init) happens:
 * - OMP_STACKSIZE: worker threads get 4 MiB stacks by default, and OpenBLAS's LAPACK
 *   allocates its work buffers on the stack (zgesdd on a 1024 x 1024 factor overflows it
 *   in a per-sample worker);
 * - OMP_WAIT_POLICY = passive: idle threads sleep instead of spinning. Spinning threads
 *   on a machine shared with other processes took the cores from the working ones (nisq
 *   n = 10, one gradient on 2 threads: 8.9 s spinning, 1.8 s passive, 2.2 s on 1 thread).
 * A value the user sets is kept (README "Threads"). */
static void ensure_omp_env(char **argv) {
  int again = 0;
  if (!getenv("OMP_STACKSIZE") && !getenv("GOMP_STACKSIZE")) {
    setenv("OMP_STACKSIZE", "256M", 1);
    again = 1;
  }
  if (!getenv("OMP_WAIT_POLICY")) {
    setenv("OMP_WAIT_POLICY", "passive", 1);
    again = 1;
  }
  if (again) execv("/proc/self/exe", argv);
  /* exec failed (or nothing to do): go on with the environment as it is */
}

/* Freed state buffers stay in the heap for the next sample: glibc serves blocks above its
 * mmap threshold (128 KiB, adapting up to 32 MiB) with fresh mappings and trims the heap
 * top at 128 KiB, so every sample of a small scan paid page faults and zeroing for its
 * states (quickstart without diagnostics: 6.1 s of system time in a 21 s run; 0.04 s
 * with these). Allocations above 256 MiB are still mapped and unmapped. */
static void tune_malloc(void) {
#ifdef __GLIBC__
  mallopt(M_MMAP_THRESHOLD, 256 << 20);
  mallopt(M_TRIM_THRESHOLD, 1 << 30);
#endif
}

int main(int argc, char **argv) {
  ensure_omp_env(argv);
  tune_malloc();
  if (argc < 2) {
    usage(stderr);
    return bps_exit_code(BPS_ERR_USAGE);
  }
  if (!strcmp(argv[1], "--version") || !strcmp(argv[1], "version")) {
    printf("bpscan %s (git %s)\n", BPS_VERSION_STRING, BPS_GIT_COMMIT);
    return bps_exit_code(BPS_OK);
  }
  if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
    usage(stdout);
    return bps_exit_code(BPS_OK);
  }
  for (int i = 0; i < NCMDS; i++) {
    if (strcmp(argv[1], cmds[i].name)) continue;
    if (!cmds[i].mpi) return cmds[i].fn(argc - 1, argv + 1);
    bps_driver_install_signals();
    int rc = bps_comm_init(&argc, &argv);
    if (rc) {
      bps_error_print(stderr);
      return bps_exit_code(rc);
    }
    int code = cmds[i].fn(argc - 1, argv + 1);
    if (code == BPS_EXIT_INTERRUPTED) {
      /* Other ranks may still be computing (not every launcher signals every rank), so a
       * collective MPI_Finalize could hang: leave now; the checkpoint is on disk. */
      fflush(NULL);
      _exit(code);
    }
    bps_comm_finalize();
    return code;
  }
  fprintf(stderr, "bpscan: unknown command '%s'\n\n", argv[1]);
  usage(stderr);
  return bps_exit_code(BPS_ERR_USAGE);
}
