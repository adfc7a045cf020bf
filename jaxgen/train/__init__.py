"""The shared training loop, its family interface, optimizers and checkpoints.

The loop is imported on first use, so that `jaxgen.train.family` (what a family module
needs) does not pull in the loop, its checkpoints and TensorBoard.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "Family": "jaxgen.train.family",
    "RunResult": "jaxgen.train.loop",
    "train": "jaxgen.train.loop",
    "Trainer": "jaxgen.train.trainer",
    "make_family": "jaxgen.train.preflight",
    "seed_slice": "jaxgen.train.seeds",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'jaxgen.train' has no attribute {name!r}")
    return getattr(importlib.import_module(_EXPORTS[name]), name)
