/* bench: `bpscan bench` — kernel throughput against the machine's memory bandwidth. */
#ifndef BPSCAN_BENCH_H
#define BPSCAN_BENCH_H
/* argv[0] is "bench"; returns a process exit code. */
int bps_bench_main(int argc, char **argv);
#endif
