"""Loading a trained run back for scripts: `run = jaxgen.load_run("runs/ae")`.

`run.encode(x)`, `run.decode(z)`, `run.reconstruct(x)`, `run.sample(key, n)`, ... are the
family's public methods with the trained state bound; `run.state`, `run.params`,
`run.config` and `run.metrics()` are there for everything else.
"""

from __future__ import annotations

import functools
import json
from pathlib import Path
from typing import Any

import jax

from jaxgen import data as data_lib
from jaxgen.config import ConfigDict, from_json
from jaxgen.errors import CheckpointError, ConfigError
from jaxgen.train.checkpoint import Checkpointer
from jaxgen.train.family import Family, State
from jaxgen.train.preflight import make_family
from jaxgen.train.seeds import seed_slice
from jaxgen.train.trainer import Trainer


class Run:
    """A trained model of one seed, with the family's public API bound to its state."""

    def __init__(
        self,
        workdir: Path,
        config: ConfigDict,
        family: Family,
        state: State,
        step: int,
        seed_index: int,
    ):
        self.workdir, self.config, self.family = workdir, config, family
        self.state, self.step, self.seed_index = state, step, seed_index
        self.params = family.params_for_eval(state)
        for name in family.public_api + ("sample",):
            static = family.static_args.get(name, ())
            bound = functools.partial(getattr(family, name), state)
            setattr(self, name, jax.jit(bound, static_argnames=static))

    def metrics(self) -> list[dict[str, Any]]:
        path = self.workdir / "metrics.jsonl"
        return [json.loads(line) for line in path.read_text().splitlines() if line]

    def load_data(self) -> data_lib.Splits:
        return data_lib.load(self.config.dataset)

    def __repr__(self) -> str:
        return (
            f"Run({str(self.workdir)!r}, family={self.config.model.family!r}, "
            f"step={self.step}, seed={self.config.seed + self.seed_index})"
        )


def load_run(
    workdir: str | Path, seed_index: int = 0, splits: data_lib.Splits | None = None
) -> Run:
    """Restores the newest checkpoint of `workdir` (seed `seed_index` of a multi-seed run).

    Needs one example batch for the shapes: the run's dataset is loaded unless `splits` is
    given.
    """
    workdir = Path(workdir)
    cfg_path = workdir / "config.json"
    if not cfg_path.is_file():
        raise CheckpointError(f"{workdir} is not a run folder (no config.json)")
    config = from_json(cfg_path.read_bytes(), str(cfg_path))
    try:
        family = make_family(config)
    except (AttributeError, TypeError, KeyError) as e:  # a section of the wrong shape
        raise ConfigError(
            f"{cfg_path} does not describe a run ({type(e).__name__}: {e}); the run folder is "
            "damaged"
        ) from None
    splits = splits if splits is not None else data_lib.load(config.dataset)
    trainer = Trainer(config, family, splits)
    ckpt = Checkpointer(workdir / "checkpoints")
    restored = ckpt.restore(trainer.abstract_state())
    ckpt.close()
    if restored is None:
        raise CheckpointError(f"{workdir} has no checkpoint yet")
    state, meta = restored
    return Run(
        workdir, config, family, seed_slice(state, seed_index), int(meta["step"]), seed_index
    )
