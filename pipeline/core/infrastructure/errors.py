"""User-facing errors: one line, exit code 2, no traceback."""


class EdgeshipError(Exception):
    """Bad input from the user (recipe, file, host). The CLI prints it as one line and exits 2."""

    exit_code = 2


def one_line(err: BaseException, limit: int = 400) -> str:
    """`Type: message`, first line only, at most `limit` characters: how an error shows in a row or a log line."""
    text = f"{type(err).__name__}: {err}".strip()
    return text.splitlines()[0][:limit] if text else type(err).__name__
