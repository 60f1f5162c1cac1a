/* cli: the subcommands of the bpscan executable that read job files and result files.
 * Each takes (argc, argv) with argv[0] = the subcommand name, prints its traceback if it
 * fails and returns the process exit code (error.h: bps_exit_code of its error code). */
#ifndef BPSCAN_CLI_H
#define BPSCAN_CLI_H
int bps_cli_run(int argc,
                char **argv); /* bpscan run JOB [-o OUT] [--set s.k=v]... [--resume] [--force] */
int bps_cli_check(int argc, char **argv); /* bpscan check JOB [--set s.k=v]... */
int bps_cli_info(int argc, char **argv);  /* bpscan info OUT.h5 */
int bps_cli_help(int argc, char **argv);  /* bpscan help job [--markdown] */
#endif
