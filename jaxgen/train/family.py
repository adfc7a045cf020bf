"""The one interface through which a model family plugs into the training loop.

A family owns its networks, its losses and its optimizer(s); the loop owns data order,
randomness, compilation, vmapped seeds, data parallelism, logging and checkpoints. The loop
never branches on the family.

The state is any pytree of arrays (usually a `flax.training.train_state.TrainState`, or a
dict of them for a GAN's two players). Everything a resumed run needs must be in it.
"""

from __future__ import annotations

import abc
from pathlib import Path
from typing import Any

import jax

from jaxgen.config import ConfigDict

Array = jax.Array
Batch = dict[str, Array]
State = Any
Metrics = dict[str, Array]


class Family(abc.ABC):
    """Base class of every model family (autoencoder, vae, gan, rnn, ...).

    Subclasses are built as `Family(config)` from the whole run config, and must keep their
    methods pure: no Python side effects, no host syncs, randomness only from `key`.
    """

    #: Names of methods `jaxgen.load_run` binds to the trained state, e.g. ("encode", "decode").
    public_api: tuple[str, ...] = ()
    #: Arguments of public methods that set shapes (lengths, counts): `load_run` compiles a
    #: method once per value of these instead of tracing them, e.g. {"generate": ("length",)}.
    static_args: dict[str, tuple[str, ...]] = {"sample": ("num",)}

    def __init__(self, config: ConfigDict):
        self.config = config

    @abc.abstractmethod
    def init(self, key: Array, batch: Batch, total_steps: int | None = None) -> State:
        """Builds the initial train state from an example batch (shapes only).

        Args:
            key: the init key.
            batch: an example batch; only its shapes are read.
            total_steps: the run's number of train steps, which decaying learning-rate
                schedules (cosine, warm-up cosine) need; `None` where only the state's
                shapes matter (a schedule that needs it then says so).
        """

    @abc.abstractmethod
    def train_step(self, state: State, batch: Batch, key: Array) -> tuple[State, Metrics]:
        """One update. Returns the new state and scalar metrics (include "loss").

        Report "grad_norm" too: the loop stops the run if any metric is NaN or Inf.
        """

    @abc.abstractmethod
    def eval_step(self, state: State, batch: Batch, key: Array) -> Metrics:
        """Per-example metrics, each of shape (batch,); the loop averages them over a split."""

    def sample(self, state: State, key: Array, num: int) -> Array:
        """Draws `num` samples from the model (generative families)."""
        raise NotImplementedError(f"{type(self).__name__} does not sample")

    def params_for_eval(self, state: State) -> Any:
        """What `load_run` exposes as `run.params` (default: `state.params`)."""
        return getattr(state, "params", state)

    def report(self, state: State, splits: Any, workdir: Path, key: Array) -> dict[str, Any]:
        """Family figures and numbers written at the end of a run (host side, optional).

        Returns a dict of scalar results to record in the run's summary.
        """
        return {}
