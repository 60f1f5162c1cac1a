/* main: the bpscan command line. Subcommands are listed in `cmds` below. */
#include <stdio.h>
#include <string.h>

#include "bpscan/bench.h"
#include "bpscan/version.h"

typedef struct {
  const char *name;
  int (*fn)(int argc, char **argv);
  const char *help;
} bps_cmd;

static const bps_cmd cmds[] = {
    {"bench", bps_bench_main, "kernel throughput vs memory bandwidth (see `bpscan bench --help`)"},
};
enum { NCMDS = sizeof cmds / sizeof cmds[0] };

static void usage(FILE *out) {
  fprintf(out,
          "bpscan %s - barren-plateau scanner for quantum neural networks\n\n"
          "usage: bpscan <command> [options]\n"
          "       bpscan --version | --help\n\ncommands:\n",
          BPS_VERSION_STRING);
  for (int i = 0; i < NCMDS; i++) fprintf(out, "  %-8s %s\n", cmds[i].name, cmds[i].help);
  fprintf(out, "\nExit codes: 0 success, 1 runtime error, 2 usage error.\n");
}

int main(int argc, char **argv) {
  if (argc < 2) {
    usage(stderr);
    return 2;
  }
  if (!strcmp(argv[1], "--version") || !strcmp(argv[1], "version")) {
    printf("bpscan %s (git %s)\n", BPS_VERSION_STRING, BPS_GIT_COMMIT);
    return 0;
  }
  if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
    usage(stdout);
    return 0;
  }
  for (int i = 0; i < NCMDS; i++)
    if (!strcmp(argv[1], cmds[i].name)) return cmds[i].fn(argc - 1, argv + 1);
  fprintf(stderr, "bpscan: unknown command '%s'\n\n", argv[1]);
  usage(stderr);
  return 2;
}
