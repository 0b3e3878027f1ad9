"""One exception base for every mistake a user can make, so the CLI can print it as one line."""


class UserError(Exception):
    """Bad input from a user (name, file, value). The CLI prints `leed-bench: error: <msg>`.

    `exit_code` is 2 by convention (argparse's code for usage errors).
    """

    exit_code = 2
