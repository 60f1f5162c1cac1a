/* PLACEHOLDER: replaced by the real implementation. */
#include "bpscan/bench.h"
#include <stdio.h>
int bps_bench_main(int argc, char **argv) { fprintf(stderr, "bench: not built yet\n"); return 1; }
