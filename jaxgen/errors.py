"""Errors that reach the user as one line and an exit status, never a traceback."""

from __future__ import annotations

import os
import signal
import sys
import threading
import types
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


class PeerLostError(JaxgenError):
    """Another process of a multi-process run stopped; the whole job must be started again."""

    exit_code = 8


class Interrupted(JaxgenError):
    """Ctrl-C or SIGTERM: the run saved a checkpoint and resumes with the same command."""

    exit_code = 130  # 128 + SIGINT; a SIGTERM sets 143 on the instance.


def _one_line(e: BaseException) -> str:
    return " ".join(str(e).split()) or type(e).__name__


def _unsafe_to_raise(frame: types.FrameType | None) -> bool:
    """Whether `frame` runs inside an import, a finalizer, a garbage-collection callback or
    `Thread.start`."""
    while frame is not None:
        code = frame.f_code
        if code.co_filename.startswith("<frozen importlib") or code.co_name in (
            "__del__",
            "_xla_gc_callback",
        ):
            return True
        # Raised while `start` waits for the new thread, the exception leaves the thread
        # running and its owner unaware: jax's 60 s TPU-probe timer, started as the backend
        # initializes, then held the interpreter's exit for a minute after a Ctrl-C.
        if code.co_name == "start" and code.co_filename == threading.__file__:
            return True
        frame = frame.f_back
    return False


# Signals `run_cli` received and has not acted on yet; the training loop checks it on entry.
PENDING_SIGNALS: list[int] = []


def _on_signal(signum: int, frame: types.FrameType | None) -> None:
    if signum not in PENDING_SIGNALS:
        PENDING_SIGNALS.append(signum)
    if _unsafe_to_raise(frame):
        # Inside an import or a finalizer the exception would be printed as a traceback (or
        # ignored): deliver the signal again a moment later, once out of there.
        # `and` guards the kill: mypy objects to using the value of a None-returning call.
        timer = threading.Timer(0.05, lambda: PENDING_SIGNALS and os.kill(os.getpid(), signum))  # type: ignore[func-returns-value]
        timer.daemon = True
        timer.start()
        return
    raise KeyboardInterrupt


def guard_signals() -> dict:
    """Makes SIGINT and SIGTERM raise KeyboardInterrupt, noted in `PENDING_SIGNALS`; returns
    the handlers it replaced. `python -m jaxgen.main` calls it before its first import."""
    old = {}
    if threading.current_thread() is threading.main_thread():
        for sig in (signal.SIGINT, signal.SIGTERM):
            old[sig] = signal.signal(sig, _on_signal)
    return old


def run_cli(fn: Callable[[], int | None]) -> int:
    """Runs a command-line entry point: a user's error becomes one line and an exit status.

    `python -m jaxgen.main` and the scripts in `scripts/` end with
    `sys.exit(run_cli(main))`; a user's own script can do the same. A SIGINT or SIGTERM
    outside training (while starting, importing, loading data or evaluating) ends it with one
    line and 128 + the signal's number, even where a library wraps the interruption in an
    error of its own; inside training the loop saves a checkpoint first.
    """
    received = PENDING_SIGNALS
    old = guard_signals()
    try:
        code = fn() or 0
        if received:
            raise KeyboardInterrupt  # a signal that arrived where it could not be raised
        return code
    except Interrupted as e:
        print(f"jaxgen: {_one_line(e)}", file=sys.stderr)
        return 128 + received[0] if received else e.exit_code
    except BaseException as e:
        if received:  # whatever the signal became on its way up
            name = signal.Signals(received[0]).name
            print(f"jaxgen: interrupted ({name}); nothing was lost", file=sys.stderr)
            return 128 + received[0]
        if isinstance(e, JaxgenError):
            print(f"jaxgen: error: {_one_line(e)}", file=sys.stderr)
            return e.exit_code
        if isinstance(e, OSError):
            # A full disk, a read-only or vanished folder: the user's environment, not a bug.
            print(f"jaxgen: error: {_one_line(e)}", file=sys.stderr)
            return RunDirError.exit_code
        if isinstance(e, KeyboardInterrupt):
            print("jaxgen: interrupted", file=sys.stderr)
            return 130
        raise
    finally:
        received.clear()
        for sig, handler in old.items():
            # Our own guard was there before (`jaxgen.main` installs it at startup): the command
            # is done and only exits now, so a late signal is ignored rather than killing the
            # interpreter mid-shutdown with no message.
            signal.signal(sig, signal.SIG_IGN if handler is _on_signal else handler)
