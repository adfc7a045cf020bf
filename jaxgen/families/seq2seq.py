"""Encoder-decoder (the lecture's second many-to-many shape): LSTM encoder, LSTM decoder.

The encoder reads the source; its final (C, h) is the decoder's initial state. Training uses
teacher forcing (the decoder reads GO, y_1, ..., y_{n-1}); evaluation decodes greedily, feeding
back its own outputs, and counts a sequence as right only if every token up to and including
EOS matches (exact match).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import flax.linen as nn
import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import optax
from flax.training import train_state

from jaxgen.config import ConfigDict, base_config
from jaxgen.data import sequences as seq_data
from jaxgen.errors import ConfigError
from jaxgen.models import rnn
from jaxgen.train.family import Array, Batch, Family, Metrics, State
from jaxgen.train.optim import make_optimizer

if TYPE_CHECKING:
    from jaxgen.data.splits import Splits


def model_config(**overrides: Any) -> ml_collections.ConfigDict:
    cfg = ml_collections.ConfigDict(
        {"family": "seq2seq", "cell": "lstm", "hidden_size": 128, "forget_bias": 1.0}
    )
    cfg.update(overrides)
    return cfg


def config(task: str = "add", **model: Any) -> ConfigDict:
    cfg = base_config("seq2seq", "seq2seq_digits")
    cfg.model = model_config(**model)
    cfg.dataset.task = task  # add | reverse
    cfg.dataset.max_digits = 3
    cfg.dataset.num_points = 50_000
    cfg.optimizer.grad_clip = 1.0
    return cfg


class Seq2Seq(nn.Module):
    cell: str
    hidden_size: int
    vocab: int
    forget_bias: float = 1.0

    def setup(self) -> None:
        kw: dict[str, Any] = {"num_embeddings": self.vocab, "forget_bias": self.forget_bias}
        self.encoder = rnn.make_cell(self.cell, self.hidden_size, **kw)
        self.decoder = rnn.make_cell(self.cell, self.hidden_size, **kw)
        self.readout = nn.Dense(self.vocab)

    def __call__(self, src: Array, tgt_in: Array) -> Array:
        """Teacher-forced logits, time-major (T_out, B, V)."""
        carry, _ = rnn.scan(self.encoder, src)
        _, hs = rnn.scan(self.decoder, tgt_in, carry)
        return self.readout(hs)

    def greedy(self, src: Array, length: int) -> Array:
        """Greedy decoding from GO: (B, length) tokens."""
        carry, _ = rnn.scan(self.encoder, src)
        go = jnp.full((src.shape[0],), seq_data.S2S_GO, jnp.int32)
        key = jax.random.PRNGKey(0)  # unused at temperature 0
        return rnn.sample_tokens(self.decoder, self.readout, key, go, carry, length, 0.0)


def _teacher_inputs(y: Array) -> Array:
    go = jnp.full((y.shape[0], 1), seq_data.S2S_GO, y.dtype)
    return jnp.concatenate([go, y[:, :-1]], axis=1)


def exact_match(pred: Array, y: Array) -> Array:
    """1 where every token up to and including the target's first EOS matches: (B,)."""
    is_eos = y == seq_data.S2S_EOS
    upto = jnp.cumsum(is_eos, axis=1) - is_eos <= 0  # positions before or at the first EOS
    return jnp.all((pred == y) | ~upto, axis=1).astype(jnp.float32)


class Seq2SeqFamily(Family):
    public_api = ("translate",)
    static_args = {"sample": ("num",), "translate": ("length",)}

    def __init__(self, config: ConfigDict):
        super().__init__(config)
        if config.model.cell not in rnn.CELLS:
            raise ConfigError(f"model.cell must be one of {', '.join(rnn.CELLS)}")
        m = config.model
        self.model = Seq2Seq(m.cell, m.hidden_size, seq_data.S2S_VOCAB, m.forget_bias)

    def init(
        self, key: Array, batch: Batch, total_steps: int | None = None
    ) -> train_state.TrainState:
        params = self.model.init(key, batch["x"][:1], _teacher_inputs(batch["y"][:1]))["params"]
        tx = make_optimizer(self.config.optimizer, total_steps)
        return train_state.TrainState.create(apply_fn=self.model.apply, params=params, tx=tx)

    def _loss(self, params: Any, batch: Batch) -> tuple[Array, Array]:
        logits = cast(
            Array, self.model.apply({"params": params}, batch["x"], _teacher_inputs(batch["y"]))
        )
        ce = optax.softmax_cross_entropy_with_integer_labels(logits, batch["y"].T)
        token_acc = (jnp.argmax(logits, -1) == batch["y"].T).mean(0)
        return ce.mean(0), token_acc

    def train_step(self, state: State, batch: Batch, key: Array) -> tuple[State, Metrics]:
        del key

        def loss_fn(p: Any) -> tuple[Array, Array]:
            ce, acc = self._loss(p, batch)
            return ce.mean(), acc.mean()

        (loss, acc), grads = jax.value_and_grad(loss_fn, has_aux=True)(state.params)
        state = state.apply_gradients(grads=grads)
        return state, {"loss": loss, "token_accuracy": acc, "grad_norm": optax.tree.norm(grads)}

    def eval_step(self, state: State, batch: Batch, key: Array) -> Metrics:
        ce, acc = self._loss(state.params, batch)
        pred = self.translate(state, batch["x"], batch["y"].shape[1])
        return {
            "loss": ce,
            "token_accuracy_forced": acc,
            "exact_match": exact_match(pred, batch["y"]),
        }

    def translate(self, state: State, src: Array, length: int) -> Array:
        return cast(Array, self.model.apply({"params": state.params}, src, length, method="greedy"))

    def report(self, state: State, splits: Splits, workdir: Path, key: Array) -> dict[str, Any]:
        test = splits.split("test")
        x, y = test["x"][:10], test["y"]
        pred = np.asarray(jax.jit(self.translate, static_argnums=2)(state, x, y.shape[1]))
        rows = [
            {
                "source": seq_data.decode_string(s),
                "target": seq_data.decode_string(t),
                "output": seq_data.decode_string(p),
            }
            for s, t, p in zip(x, y[:10], pred, strict=True)
        ]
        return {"examples": rows}


def make_family(config: ConfigDict) -> Seq2SeqFamily:
    return Seq2SeqFamily(config)
