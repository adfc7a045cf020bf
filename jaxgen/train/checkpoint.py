"""Orbax checkpoints of the whole train state plus the loop's position, with fallbacks."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import jax
import orbax.checkpoint as ocp

from jaxgen.errors import CheckpointError

log = logging.getLogger(__name__)


class Checkpointer:
    """Saves `state` with a small JSON of loop metadata; restores the newest good one."""

    def __init__(self, directory: Path, max_to_keep: int = 2):
        self.directory = Path(directory).absolute()
        self.manager = ocp.CheckpointManager(
            self.directory,
            options=ocp.CheckpointManagerOptions(max_to_keep=max_to_keep, create=True),
        )

    def steps(self) -> list[int]:
        self.manager.reload()
        return sorted(self.manager.all_steps())

    def save(self, step: int, state: Any, meta: dict[str, Any]) -> None:
        try:
            self.manager.save(
                step,
                args=ocp.args.Composite(
                    state=ocp.args.StandardSave(state), meta=ocp.args.JsonSave(meta)
                ),
                force=True,
            )
            self.manager.wait_until_finished()
        except Exception as e:
            raise CheckpointError(
                f"could not write checkpoint {step} in {self.directory}: "
                f"{type(e).__name__}: {e}".splitlines()[0]
            ) from None

    def restore(self, abstract_state: Any) -> tuple[Any, dict[str, Any]] | None:
        """The newest checkpoint that restores, or None when there is none at all.

        A checkpoint that fails to restore (truncated, garbled) is reported in one line and
        the next older one is tried; if none restores, CheckpointError.
        """
        steps = self.steps()
        if not steps:
            return None
        failures = []
        for step in reversed(steps):
            try:
                out = self.manager.restore(
                    step,
                    args=ocp.args.Composite(
                        state=ocp.args.StandardRestore(abstract_state), meta=ocp.args.JsonRestore()
                    ),
                )
                state, meta = out["state"], dict(out["meta"])
                _check_shapes(abstract_state, state)
            except Exception as e:
                msg = f"{type(e).__name__}: {e}".splitlines()[0][:200]
                log.warning(
                    "checkpoint %d in %s is unusable (%s); trying an older one",
                    step,
                    self.directory,
                    msg,
                )
                print(
                    f"jaxgen: checkpoint {step} is unusable ({msg}); trying an older one",
                    flush=True,
                )
                failures.append(step)
                continue
            return state, meta
        raise CheckpointError(
            f"no usable checkpoint in {self.directory} (tried steps {failures}); "
            f"move the folder away to start fresh"
        )

    def close(self) -> None:
        self.manager.close()


def _check_shapes(abstract: Any, state: Any) -> None:
    a = jax.tree.map(lambda x: (x.shape, x.dtype), abstract)
    b = jax.tree.map(lambda x: (x.shape, x.dtype), state)
    if a != b:
        raise ValueError("checkpoint shapes do not match this config")
