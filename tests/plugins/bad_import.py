"""A broken plug-in for the tests: its own import fails."""
import edgeship_no_such_runtime  # noqa: F401
