"""Stop requests: SIGINT/SIGTERM end a run after the chunk in flight, with a checkpoint."""

from __future__ import annotations

import signal
import threading
import types
from typing import Any


class StopRequests:
    """SIGINT/SIGTERM during training: note it, finish the chunk in flight, save, stop.

    The chunk donates the pre-chunk state, so an exception raised inside it would leave
    nothing to save; a flag checked between chunks always has a consistent state. A second
    signal raises KeyboardInterrupt at once (the older checkpoint is kept).
    """

    def __init__(self) -> None:
        self.signum: int | None = None
        self._old: dict[int, Any] = {}

    def _handle(self, signum: int, frame: types.FrameType | None) -> None:
        if self.signum is not None:
            raise KeyboardInterrupt
        self.signum = signum
        print(
            f"jaxgen: {signal.Signals(signum).name} received; saving a checkpoint after the "
            f"current chunk (send it again to stop at once)",
            flush=True,
        )

    def __enter__(self) -> StopRequests:
        from jaxgen.errors import PENDING_SIGNALS

        if PENDING_SIGNALS:  # arrived before training, where it could not stop the command
            raise KeyboardInterrupt
        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGINT, signal.SIGTERM):
                self._old[sig] = signal.signal(sig, self._handle)
        return self

    def __exit__(self, *exc: object) -> None:
        for sig, old in self._old.items():
            signal.signal(sig, old)
