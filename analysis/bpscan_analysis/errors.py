"""The one exception type of the package, and how the command lines report it."""
import sys


class AnalysisError(Exception):
    """A result file that cannot be read or used, or inputs that do not fit together.

    The message is one line and names the file (and the /n{N} group) concerned; the command
    line prints it as ``bpfit: error: <message>`` and exits with status 2.
    """


def run_cli(parser, run, argv) -> int:
    """Parse argv with parser and call run(args): AnalysisError -> one ``bpfit: error:``
    line and status 2, Ctrl-C -> status 130 (shared by bpfit and bpfit landscape)."""
    args = parser.parse_args(argv)
    try:
        return run(args)
    except AnalysisError as e:
        print("bpfit: error: %s" % str(e).replace("\n", " "), file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("bpfit: interrupted", file=sys.stderr)
        return 130
