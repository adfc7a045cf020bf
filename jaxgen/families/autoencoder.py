"""The autoencoder family: encoder -> code (bottleneck) -> decoder, trained to reconstruct.

The lecture's four choices are the config: `model.code_size`, `model.num_layers`,
`model.hidden_size` (nodes per layer) and `model.loss` (mse, l1 or bce).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import flax.linen as nn
import jax
import ml_collections
import optax
from flax.training import train_state

from jaxgen import losses
from jaxgen.config import ConfigDict, base_config
from jaxgen.errors import ConfigError
from jaxgen.models.mlp import MLP
from jaxgen.train.family import Batch, Family
from jaxgen.train.optim import make_optimizer


def model_config(**overrides) -> ml_collections.ConfigDict:
    cfg = ml_collections.ConfigDict(
        {
            "family": "autoencoder",
            "code_size": 32,
            "num_layers": 2,  # hidden layers in the encoder (the decoder mirrors it)
            "hidden_size": 256,  # nodes per hidden layer
            "activation": "relu",
            "loss": "mse",  # mse | l1 | bce
        }
    )
    cfg.update(overrides)
    return cfg


def config(dataset: str = "mnist", **model) -> ConfigDict:
    """A full run config for an autoencoder on `dataset`."""
    cfg = base_config("autoencoder", dataset)
    cfg.model = model_config(**model)
    return cfg


class Autoencoder(nn.Module):
    """MLP encoder and decoder; inputs of any shape are flattened and restored."""

    hidden: Sequence[int]
    code_size: int
    out_shape: Sequence[int]
    act: str = "relu"

    def setup(self):
        self.encoder = MLP((*self.hidden, self.code_size), act=self.act)
        self.decoder = MLP((*reversed(self.hidden), math.prod(self.out_shape)), act=self.act)

    def encode(self, x: jax.Array) -> jax.Array:
        return self.encoder(x.reshape(x.shape[0], -1))

    def decode(self, z: jax.Array) -> jax.Array:
        return self.decoder(z).reshape((z.shape[0], *self.out_shape))

    def __call__(self, x: jax.Array) -> tuple[jax.Array, jax.Array]:
        z = self.encode(x)
        return self.decode(z), z


class AutoencoderFamily(Family):
    """Undercomplete autoencoder trained on the configured reconstruction loss."""

    public_api = ("encode", "decode", "reconstruct")

    def __init__(self, config: ConfigDict):
        super().__init__(config)
        m = config.model
        if m.loss not in losses.RECONSTRUCTION:
            raise ConfigError(
                f"model.loss must be one of {', '.join(losses.RECONSTRUCTION)}, got {m.loss!r}"
            )
        self.loss_fn = losses.reconstruction(m.loss)

    def module(self, shape: Sequence[int]) -> Autoencoder:
        m = self.config.model
        return Autoencoder(
            hidden=(m.hidden_size,) * m.num_layers,
            code_size=m.code_size,
            out_shape=tuple(shape),
            act=m.activation,
        )

    def init(self, key: jax.Array, batch: Batch) -> train_state.TrainState:
        module = self.module(batch["x"].shape[1:])
        params = module.init(key, batch["x"][:1])["params"]
        tx = make_optimizer(self.config.optimizer, self.total_steps)
        return train_state.TrainState.create(apply_fn=module.apply, params=params, tx=tx)

    def loss(self, params, apply_fn, batch: Batch) -> tuple[jax.Array, dict]:
        out, _ = apply_fn({"params": params}, batch["x"])
        rec = self.loss_fn(batch["x"], out)
        return rec.mean(), {"reconstruction": rec.mean()}

    def train_step(self, state, batch, key):
        del key  # Deterministic; the denoising variant uses it.
        (loss, aux), grads = jax.value_and_grad(self.loss, has_aux=True)(
            state.params, state.apply_fn, batch
        )
        state = state.apply_gradients(grads=grads)
        return state, {"loss": loss, "grad_norm": optax.global_norm(grads), **aux}

    def eval_step(self, state, batch, key):
        out, _ = state.apply_fn({"params": state.params}, batch["x"])
        x_hat = losses.decoder_mean(self.config.model.loss, out)
        d = math.prod(batch["x"].shape[1:])
        return {"loss": self.loss_fn(batch["x"], out), "mse": losses.mse(batch["x"], x_hat) / d}

    # -- the public API load_run binds ---------------------------------------------------
    def encode(self, state, x: jax.Array) -> jax.Array:
        return state.apply_fn({"params": state.params}, x, method="encode")

    def decode(self, state, z: jax.Array) -> jax.Array:
        out = state.apply_fn({"params": state.params}, z, method="decode")
        return losses.decoder_mean(self.config.model.loss, out)

    def reconstruct(self, state, x: jax.Array) -> jax.Array:
        return self.decode(state, self.encode(state, x))


def make_family(config: ConfigDict) -> AutoencoderFamily:
    return AutoencoderFamily(config)


__all__ = ["Autoencoder", "AutoencoderFamily", "config", "make_family", "model_config"]
