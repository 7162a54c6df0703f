"""User-facing errors: one line, exit code 2, no traceback."""


class EdgeshipError(Exception):
    """Bad input from the user (recipe, file, host). The CLI prints it as one line and exits 2."""

    exit_code = 2

