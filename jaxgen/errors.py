"""Errors that reach the user as one line and an exit status, never a traceback."""

from __future__ import annotations

import sys
from collections.abc import Callable


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


def _one_line(e: BaseException) -> str:
    return " ".join(str(e).split()) or type(e).__name__


def run_cli(fn: Callable[[], int | None]) -> int:
    """Runs a command-line entry point: a user's error becomes one line and an exit status.

    `python -m jaxgen.main` and the scripts in `scripts/` end with
    `sys.exit(run_cli(main))`; a user's own script can do the same.
    """
    try:
        return fn() or 0
    except Interrupted as e:
        print(f"jaxgen: {_one_line(e)}", file=sys.stderr)
        return e.exit_code
    except JaxgenError as e:
        print(f"jaxgen: error: {_one_line(e)}", file=sys.stderr)
        return e.exit_code
    except OSError as e:
        # A full disk, a read-only or vanished folder: the user's environment, not a bug.
        print(f"jaxgen: error: {_one_line(e)}", file=sys.stderr)
        return RunDirError.exit_code
    except KeyboardInterrupt:
        print("jaxgen: interrupted", file=sys.stderr)
        return 130
