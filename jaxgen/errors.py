"""Errors that reach the user as one line and an exit status, never a traceback."""


class JaxgenError(Exception):
    """An error the user can fix; `jaxgen.main` prints it as one line and exits `exit_code`."""

    exit_code = 1


class ConfigError(JaxgenError):
    """Unknown key, wrong type, malformed override or impossible value."""

    exit_code = 2


class DataError(JaxgenError):
    """A dataset is missing, tampered with, or cannot be fetched offline."""

    exit_code = 3


class CheckpointError(JaxgenError):
    """No usable checkpoint, or a checkpoint that cannot be written."""

    exit_code = 4


class NonFiniteError(JaxgenError):
    """A loss or gradient became NaN or Inf."""

    exit_code = 5


class RunLockedError(JaxgenError):
    """Another run is using the same working directory."""

    exit_code = 6


class RunDirError(JaxgenError):
    """The run folder cannot be created, locked or written (permissions, full disk)."""

    exit_code = 7


class Interrupted(JaxgenError):
    """Ctrl-C or SIGTERM: the run saved a checkpoint and resumes with the same command."""

    exit_code = 130  # 128 + SIGINT; a SIGTERM sets 143 on the instance.
