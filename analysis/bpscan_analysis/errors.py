"""The one exception type of the package."""


class AnalysisError(Exception):
    """A result file that cannot be read or used, or inputs that do not fit together.

    The message is one line and names the file (and the /n{N} group) concerned; the command
    line prints it as ``bpfit: error: <message>`` and exits with status 2.
    """
