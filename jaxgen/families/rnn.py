"""The recurrent family: one cell (rnn | lstm | peephole | coupled | gru), four tasks.

`model.task` picks the shape of the problem (the lecture's last RNN slide):
- `adding`   many-to-one regression, the adding problem (Hochreiter & Schmidhuber 1997, Exp. 4);
             a test sequence is wrong when |prediction - target| >= 0.04.
- `classify` many-to-one classification, e.g. MNIST read row by row (28 steps of 28 pixels).
- `copy`     many-to-many, copy memory: recall k symbols after a lag; compared with the
             memoryless baseline.
- `lm`       many-to-many character language model; bits per character; generation
             (one-to-many) with temperature through `generate`/`sample`.
The encoder-decoder shape is its own family, `seq2seq`.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import flax.linen as nn
import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import optax
from flax.training import train_state

from jaxgen.config import ConfigDict, base_config, variant
from jaxgen.errors import ConfigError
from jaxgen.evaluation import sequence as seq_eval
from jaxgen.evaluation import streams as streams_eval
from jaxgen.models import rnn
from jaxgen.sampling import named_key
from jaxgen.train.family import Array, Batch, Family, Metrics, State
from jaxgen.train.optim import make_optimizer

if TYPE_CHECKING:
    from jaxgen.data.splits import Splits

TASKS = ("adding", "classify", "copy", "lm")
FORGET_INITS = ("constant", "chrono")
SOLVED_TOL = 0.04  # Hochreiter & Schmidhuber's criterion for a processed sequence


def model_config(**overrides: Any) -> ml_collections.ConfigDict:
    cfg = ml_collections.ConfigDict(
        {
            "family": "rnn",
            "task": "adding",  # adding | classify | copy | lm
            "cell": "lstm",  # rnn | lstm | peephole | coupled | gru
            "hidden_size": 64,
            "num_layers": 1,  # stacked cells
            "dropout": 0.0,  # between layers and before the readout, in training
            "num_classes": 10,  # classify
            "vocab_size": 0,  # lm: tokens in the vocabulary (0 = the text corpora's characters)
            "forget_bias": 1.0,
            # "constant" (forget_bias) | "chrono": Tallec & Ollivier (2018)'s gate biases
            # for memories up to dataset.seq_len steps (LSTM, peephole, coupled).
            "forget_init": "constant",
            "unroll": 1,  # lax.scan unroll factor
            "temperature": 1.0,  # lm sampling
            "sample_length": 400,  # lm sampling
            "prime": "def ",  # lm sampling: text the samples continue
            # lm report: samples drawn at each temperature and scored as Python
            # (evaluation.sequence.python_likeness); the report shows the first of each.
            "sample_temperatures": (0.5, 1.0),
            "report_samples": 32,
            "eval_chars": 0,  # lm report: cap on held-out characters (0 = all)
            # lm report: the held-out text is read as this many contiguous streams, the state
            # carried; fewer, longer streams give the cache more to reach back to.
            "eval_streams": 64,
            # lm report: dynamic-evaluation rates to try on the validation text; the best is
            # then used on the test text (empty: static evaluation only).
            "dynamic_eval_lrs": (),
            # lm report: a continuous cache (Grave et al. 2017) over the last `cache_size`
            # positions of each stream (0 = off); theta and lambda picked on validation.
            "cache_size": 0,
            "cache_thetas": (0.1, 0.3, 1.0, 3.0, 10.0),
            "cache_lambdas": (0.1, 0.2, 0.3, 0.4, 0.5),
        }
    )
    cfg.update(overrides)
    return cfg


_DATASETS = {"adding": "adding", "classify": "mnist", "copy": "copy_memory", "lm": "stdlib_chars"}


def config(task: str = "adding", **model: Any) -> ConfigDict:
    """A full run config for `task`, with the dataset keys the sequence loaders read."""
    cfg = base_config("rnn", _DATASETS[task])
    cfg.model = model_config(task=task, **model)
    cfg.dataset.seq_len = 100  # adding: minimal length T; copy: lag; lm: window length
    cfg.dataset.num_symbols = 10  # copy: symbols to remember
    cfg.dataset.max_chars = 0  # lm: cap per split (0 = all)
    cfg.dataset.streams = 0  # lm: > 0 trains on contiguous streams, state carried (TBPTT)
    cfg.dataset.eval_seq_len = 0  # lm: validation/test window length (0 = seq_len)
    cfg.dataset.subpackages = False  # lm: also train on the stdlib's packages and tests
    cfg.dataset.curriculum_min_len = 0  # adding: mix training lags from this up to seq_len
    cfg.optimizer.grad_clip = 1.0  # exploding gradients are part of the story; clip them
    return cfg


class _Stack:
    """Bound cells stacked for one step at a time, with the `input_projection` / `step`
    interface of `rnn.Cell`, so `rnn.sample_tokens` runs a deep model unchanged."""

    def __init__(self, cells: list[rnn.Cell]):
        self.cells = cells

    def input_projection(self, x_seq: Array) -> Array:
        return self.cells[0].input_projection(x_seq)

    def step(self, carry: tuple[rnn.Carry, ...], px: Array) -> tuple[tuple[rnn.Carry, ...], Array]:
        carry0, h = self.cells[0].step(carry[0], px)
        out = [carry0]
        for cell, c in zip(self.cells[1:], carry[1:], strict=True):
            c, h = cell.step(c, cell.input_projection(h[:, None])[0])
            out.append(c)
        return tuple(out), h


class SequenceModel(nn.Module):
    """`num_layers` cells over the sequence and a dense readout (at the last valid step, or
    every step). The carry is a tuple with one cell carry per layer.

    Layers run one after another, each as one scan whose input projection is one matmul
    over the whole sequence. `dropout` (Zaremba et al. 2014) drops the non-recurrent
    connections only: between layers and before the readout, in training.
    """

    cell: str
    hidden_size: int
    out_dim: int
    many_to_one: bool
    num_embeddings: int = 0
    x_dim: int = 0
    forget_bias: float = 1.0
    chrono_tmax: int = 0
    unroll: int = 1
    num_layers: int = 1
    dropout: float = 0.0

    def setup(self) -> None:
        kw: dict[str, Any] = {"forget_bias": self.forget_bias, "chrono_tmax": self.chrono_tmax}
        self.rnn = rnn.make_cell(
            self.cell, self.hidden_size, x_dim=self.x_dim, num_embeddings=self.num_embeddings, **kw
        )
        self.upper = [
            rnn.make_cell(self.cell, self.hidden_size, x_dim=self.hidden_size, **kw)
            for _ in range(self.num_layers - 1)
        ]
        self.drop = nn.Dropout(self.dropout)
        self.readout = nn.Dense(self.out_dim)

    def _cells(self) -> list[rnn.Cell]:
        return [self.rnn, *self.upper]

    def __call__(
        self,
        x: Array,
        lengths: Array | None = None,
        carry: tuple[rnn.Carry, ...] | None = None,
        h_offsets: Array | None = None,
        train: bool = False,
    ) -> tuple[Array, tuple[rnn.Carry, ...]]:
        """Returns (outputs, final carry); outputs (B, out) or time-major (T, B, out).

        `h_offsets` (T, B, H) is added to the top layer's hidden states (see `rnn.scan`).
        """
        hs, finals = self._top_hiddens(x, carry, h_offsets, train)
        hs = self.drop(hs, deterministic=not train)
        if self.many_to_one:
            return self.readout(rnn.last_valid(hs, lengths)), finals
        return self.readout(hs), finals

    def hiddens_and_logits(
        self, x: Array, carry: tuple[rnn.Carry, ...] | None = None
    ) -> tuple[Array, Array, tuple[rnn.Carry, ...]]:
        """(top hidden states (T, B, H), outputs (T, B, out), final carry), in evaluation."""
        hs, finals = self._top_hiddens(x, carry, None, False)
        return hs, self.readout(hs), finals

    def _top_hiddens(
        self, x: Array, carry: tuple[rnn.Carry, ...] | None, h_offsets: Array | None, train: bool
    ) -> tuple[Array, tuple[rnn.Carry, ...]]:
        if not self.num_embeddings:
            x = x.reshape(x.shape[0], x.shape[1], -1)
        if carry is None:
            carry = self.initial_carry(x.shape[0])
        cells, finals, hs = self._cells(), [], x
        for i, cell in enumerate(cells):
            offsets = h_offsets if i == len(cells) - 1 else None
            if i > 0:  # hs is time-major (T, B, H); the next cell reads batch-major
                hs = jnp.swapaxes(self.drop(hs, deterministic=not train), 0, 1)
            c, hs = rnn.scan(cell, hs, carry[i], offsets, unroll=self.unroll)
            finals.append(c)
        return hs, tuple(finals)

    def initial_carry(self, batch_size: int) -> tuple[rnn.Carry, ...]:
        return tuple(c.initial_carry(batch_size) for c in self._cells())

    def generate(self, key: Array, prime: Array, length: int, temperature: float | Array) -> Array:
        """Feeds `prime` (B, P) then samples `length` tokens: (B, length)."""
        _, carry = self(prime[:, :-1])
        return rnn.sample_tokens(
            _Stack(self._cells()), self.readout, key, prime[:, -1], carry, length, temperature
        )


class CarryState(train_state.TrainState):
    """A TrainState that also holds the recurrent carry of a stateful (TBPTT) run, or None."""

    carry: Any = None


class RNNFamily(Family):
    """Trains one recurrent cell on one sequence task through the shared loop."""

    public_api = ("predict", "hidden_grad_norms", "generate")
    static_args = {"sample": ("num",), "generate": ("length",)}

    def __init__(self, config: ConfigDict):
        super().__init__(config)
        m = config.model
        if m.task not in TASKS:
            raise ConfigError(f"model.task must be one of {', '.join(TASKS)}, got {m.task!r}")
        if m.cell not in rnn.CELLS:
            raise ConfigError(f"model.cell must be one of {', '.join(rnn.CELLS)}, got {m.cell!r}")
        if m.get("forget_init", "constant") not in FORGET_INITS:
            raise ConfigError(
                f"model.forget_init must be one of {', '.join(FORGET_INITS)}, got {m.forget_init!r}"
            )
        if m.get("forget_init") == "chrono" and config.dataset.seq_len < 3:
            raise ConfigError(
                f"model.forget_init='chrono' needs dataset.seq_len >= 3, got "
                f"{config.dataset.seq_len}"
            )
        if m.num_layers < 1 or not 0.0 <= m.dropout < 1.0:
            raise ConfigError(
                f"model.num_layers must be >= 1 and model.dropout in [0, 1), got "
                f"{m.num_layers} and {m.dropout}"
            )
        self.stateful = bool(config.dataset.get("streams", 0))
        if self.stateful and (
            config.train.shuffle or config.train.batch_size != config.dataset.streams
        ):
            raise ConfigError(
                f"dataset.streams={config.dataset.streams} carries the state from batch to "
                f"batch: it needs train.shuffle=False and train.batch_size={config.dataset.streams}"
                f" (got shuffle={config.train.shuffle}, batch_size={config.train.batch_size})"
            )

    def module(self, x_dim: int = 0) -> SequenceModel:
        """The network; `x_dim` is the width of one step of float inputs (tokens: ignored)."""
        m, task = self.config.model, self.config.model.task
        tokens = task in ("copy", "lm")
        out = {"adding": 1, "classify": m.num_classes}.get(task) or self._vocab()
        return SequenceModel(
            cell=m.cell,
            hidden_size=m.hidden_size,
            out_dim=out,
            many_to_one=task in ("adding", "classify"),
            num_embeddings=self._vocab() if tokens else 0,
            x_dim=0 if tokens else x_dim,
            forget_bias=m.forget_bias,
            # The longest dependency to remember: the task's (maximal) sequence length.
            chrono_tmax=int(self.config.dataset.seq_len) if m.get("forget_init") == "chrono" else 0,
            unroll=m.unroll,
            num_layers=m.num_layers,
            dropout=m.dropout,
        )

    def _vocab(self) -> int:
        from jaxgen.data.sequences import COPY_VOCAB
        from jaxgen.data.text import VOCAB

        if self.config.model.task == "copy":
            return COPY_VOCAB
        return int(self.config.model.get("vocab_size", 0)) or len(VOCAB)

    def init(self, key: Array, batch: Batch, total_steps: int | None = None) -> CarryState:
        model = self.module(math.prod(batch["x"].shape[2:]))
        params = model.init(key, batch["x"][:1], self._lengths(batch, 1))["params"]
        tx = make_optimizer(self.config.optimizer, total_steps)
        # The carry travels in the state, so a resumed run continues every stream exactly.
        carry = (
            model.apply({"params": params}, batch["x"].shape[0], method="initial_carry")
            if self.stateful
            else None
        )
        return CarryState.create(apply_fn=model.apply, params=params, tx=tx, carry=carry)

    @staticmethod
    def _lengths(batch: Batch, n: int | None = None) -> Array | None:
        lengths = batch.get("length")
        return None if lengths is None else lengths[:n]

    def net(self, params: Any) -> SequenceModel:
        """The network of `params`: its input width is their first cell's W_x rows, so no
        example batch (and no state kept on the family) is needed after `init`."""
        return self.module(int(params["rnn"]["w_x"].shape[0]))

    # -- losses --------------------------------------------------------------------------
    def per_example(
        self,
        params: Any,
        batch: Batch,
        h_offsets: Array | None = None,
        carry: tuple[rnn.Carry, ...] | None = None,
        dropout_key: Array | None = None,
    ) -> tuple[dict[str, jax.Array], Any]:
        """Per-example loss and metrics of the task, each of shape (B,), and the final carry.

        `dropout_key` turns training mode on (dropout, if the model has any).
        """
        model = self.net(params)
        out, carry = cast(
            "tuple[Array, tuple[rnn.Carry, ...]]",
            model.apply(
                {"params": params},
                batch["x"],
                self._lengths(batch),
                carry=carry,
                h_offsets=h_offsets,
                train=dropout_key is not None,
                rngs=None if dropout_key is None else {"dropout": dropout_key},
            ),
        )
        return self._metrics(out, batch), carry

    def _metrics(self, out: Array, batch: Batch) -> dict[str, jax.Array]:
        task = self.config.model.task
        if task == "adding":
            err = out[:, 0] - batch["target"]
            return {
                "loss": err**2,
                "abs_error": jnp.abs(err),
                "wrong": (jnp.abs(err) >= SOLVED_TOL).astype(jnp.float32),
            }
        if task == "classify":
            ce = optax.softmax_cross_entropy_with_integer_labels(out, batch["y"])
            acc = (jnp.argmax(out, -1) == batch["y"]).astype(jnp.float32)
            return {"loss": ce, "accuracy": acc}
        # Many-to-many: logits are time-major (T, B, V).
        ce = optax.softmax_cross_entropy_with_integer_labels(out, batch["y"].T)  # (T, B)
        metrics = {"loss": ce.mean(0)}
        if task == "lm":
            metrics["bpc"] = ce.mean(0) / math.log(2.0)
        else:
            k = self.config.dataset.num_symbols
            hit = jnp.argmax(out[-k:], -1) == batch["y"].T[-k:]
            metrics["recall_accuracy"] = hit.astype(jnp.float32).mean(0)
            metrics["all_recalled"] = jnp.all(hit, 0).astype(jnp.float32)
        return metrics

    def train_step(self, state: State, batch: Batch, key: Array) -> tuple[State, Metrics]:
        # Truncated BPTT: a stateful run starts from the carry the last batch left (no
        # gradient flows back into it); the key only draws dropout masks.
        carry = jax.lax.stop_gradient(state.carry) if self.stateful else None
        dropout_key = named_key(key, "dropout") if self.config.model.dropout else None

        def loss_fn(params: Any) -> tuple[Array, tuple[dict[str, Array], Any]]:
            m, carry_out = self.per_example(params, batch, carry=carry, dropout_key=dropout_key)
            return m["loss"].mean(), (m, carry_out)

        (loss, (m, carry_out)), grads = jax.value_and_grad(loss_fn, has_aux=True)(state.params)
        state = state.apply_gradients(grads=grads)
        if self.stateful:
            state = state.replace(carry=carry_out)
        metrics = {k: v.mean() for k, v in m.items()}
        return state, {**metrics, "loss": loss, "grad_norm": optax.tree.norm(grads)}

    def eval_step(self, state: State, batch: Batch, key: Array) -> Metrics:
        return self.per_example(state.params, batch)[0]

    # -- the public API ------------------------------------------------------------------
    def predict(self, state: State, x: Array, lengths: Array | None = None) -> Array:
        out, _ = self.net(state.params).apply({"params": state.params}, x, lengths)
        return out

    def hidden_grad_norms(self, state: State, batch: Batch) -> jax.Array:
        """||dL/dh_t|| for every t, averaged over the batch: (T,). L = mean batch loss.

        The gradient with respect to a zero offset added to h_t is the total derivative of
        the loss through all later steps: what vanishes (or explodes) over long lags.
        """
        x = batch["x"]
        offsets = jnp.zeros((x.shape[1], x.shape[0], self.config.model.hidden_size))
        g = jax.grad(lambda d: self.per_example(state.params, batch, d)[0]["loss"].mean())(offsets)
        return jnp.linalg.norm(g, axis=-1).mean(1)

    def generate(
        self, state: State, key: Array, prime: Array, length: int, temperature: float | Array = 1.0
    ) -> Array:
        """One-to-many: continue int prime (B, P) by `length` sampled characters."""
        return cast(
            Array,
            self.net(state.params).apply(
                {"params": state.params},
                key,
                prime,
                length,
                jnp.asarray(temperature, jnp.float32),
                method="generate",
            ),
        )

    def sample(self, state: State, key: Array, num: int) -> Array:
        from jaxgen.data import text

        m = self.config.model
        prime = jnp.tile(jnp.asarray(text.encode(m.prime))[None], (num, 1))
        return self.generate(state, key, prime, m.sample_length, m.temperature)

    def sample_texts(
        self, state: State, key: Array, temperatures: Iterable[float], num: int
    ) -> dict[str, list[str]]:
        """`num` continuations of `model.prime` at each temperature (the prime left off),
        every temperature from the same key: {str(temperature): texts}."""
        from jaxgen.data import text

        m = self.config.model
        generate = jax.jit(self.generate, static_argnums=3)
        prime = jnp.tile(jnp.asarray(text.encode(m.prime))[None], (num, 1))
        return {
            str(t): [
                text.decode_fast(row)
                for row in np.asarray(generate(state, key, prime, m.sample_length, t))
            ]
            for t in temperatures
        }

    # -- end-of-run report ---------------------------------------------------------------
    def report(self, state: State, splits: Splits, workdir: Path, key: Array) -> dict[str, Any]:
        task = self.config.model.task
        if task == "adding":
            # The loop's test mean of `wrong` times the count is the paper's error count
            # (a float32 sum of 0/1 below 2^24 is exact); no extra compile needed here.
            return {"test_sequences": int(len(splits.split("test")["x"]))}
        if task == "copy":
            return {"baseline_nats": splits.info["baseline_nats"]}
        if task == "lm" and "test_ids" in splits.info:  # a text corpus, not other tokens
            return self._lm_report(state, splits, workdir, key)
        return {}

    def stream_bpc(
        self,
        state: State,
        ids: np.ndarray,
        streams: int = 64,
        chunk: int = 0,
        adapt_lr: float = 0.0,
    ) -> float:
        """Bits per character over a whole text, read as `streams` contiguous pieces with
        the state carried, as a compressor reads it; `adapt_lr` > 0 is dynamic evaluation
        (`jaxgen.evaluation.streams.bpc`)."""
        return streams_eval.bpc(self.net(state.params), state.params, ids, streams, chunk, adapt_lr)

    def stream_bpc_cache(
        self,
        state: State,
        ids: np.ndarray,
        size: int,
        thetas: Sequence[float],
        lambdas: Sequence[float],
        *args: Any,
        **kw: Any,
    ) -> np.ndarray:
        """`stream_bpc` with a continuous cache of each stream's last `size` positions, for
        every (theta, lambda): (A, L); `streams`, `chunk` and `adapt_lr` as in
        `jaxgen.evaluation.streams.bpc_with_cache`."""
        model = self.net(state.params)
        return streams_eval.bpc_with_cache(
            model, state.params, ids, size, thetas, lambdas, *args, **kw
        )

    def _lm_report(self, state: State, splits: Splits, workdir: Path, key: Array) -> dict[str, Any]:
        from jaxgen.data import text

        m, info = self.config.model, splits.info
        ids = info["test_ids"]
        if m.eval_chars:
            ids = ids[: m.eval_chars]
        held_out = text.decode_fast(ids)
        streams = m.get("eval_streams", 64)
        bpc = self.stream_bpc(state, ids, streams)
        more: dict[str, Any] = {}
        if m.dynamic_eval_lrs:
            val_ids = info["val_ids"][: len(ids)]
            tried = {
                float(lr): self.stream_bpc(state, val_ids, streams, adapt_lr=lr)
                for lr in m.dynamic_eval_lrs
            }
            best = min(tried, key=tried.get)  # type: ignore[arg-type]  # every key is in tried
            more = {
                "dynamic_eval_val_bpc_by_lr": {str(k): v for k, v in tried.items()},
                "dynamic_eval_lr": best,
                "heldout_bpc_dynamic": self.stream_bpc(state, ids, streams, adapt_lr=best),
            }
        if m.get("cache_size", 0):
            # The grid is chosen on the validation text, then read off the test text; with
            # dynamic evaluation too, at its chosen rate.
            grid = (m.cache_size, m.cache_thetas, m.cache_lambdas)
            lrs = {"cache": 0.0}
            if "dynamic_eval_lr" in more:
                lrs["dynamic_cache"] = more["dynamic_eval_lr"]
            for name, lr in lrs.items():
                val_ids = info["val_ids"][: len(ids)]
                val = self.stream_bpc_cache(state, val_ids, *grid, streams, adapt_lr=lr)
                a, b = np.unravel_index(np.argmin(val), val.shape)
                test = self.stream_bpc_cache(state, ids, *grid, streams, adapt_lr=lr)
                more.update(
                    {
                        f"{name}_theta": float(m.cache_thetas[a]),
                        f"{name}_lambda": float(m.cache_lambdas[b]),
                        f"{name}_val_bpc": float(val[a, b]),
                        f"heldout_bpc_{name}": float(test[a, b]),
                    }
                )
        comp = seq_eval.compressor_bpc(held_out)
        primed = seq_eval.compressor_bpc(held_out, primed_with=info["train_text"])
        temps = m.get("sample_temperatures", (0.5, 1.0))
        every = self.sample_texts(state, key, temps, m.get("report_samples", 1))
        samples = {t: m.prime + texts[0] for t, texts in every.items()}
        quality = {t: seq_eval.python_likeness(texts) for t, texts in every.items()}
        corpus = {
            "root": info["root"],
            "corpus_sha256": info["corpus_sha256"],
            "files": info["files"],
            "chars": info["chars"],
            "oov_chars_replaced": info["oov_chars"],
            "vocab": info["vocab"],
        }
        workdir = Path(workdir)
        (workdir / "corpus.json").write_text(json.dumps(corpus, indent=1) + "\n")
        (workdir / "samples.txt").write_text(
            "".join(
                f"--- temperature {t}, sample {i} ---\n{m.prime}{s}\n"
                for t, texts in every.items()
                for i, s in enumerate(texts)
            )
        )
        return {
            "heldout_chars": int(len(ids)),
            "eval_streams": streams,
            "heldout_bpc_stateful": bpc,
            **more,
            **{f"{k}_bpc": v for k, v in comp.items()},
            **{f"{k}_primed_bpc": v for k, v in primed.items()},
            "corpus_sha256": info["corpus_sha256"],
            "samples": samples,
            "sample_quality": quality,
        }


def make_family(config: ConfigDict) -> RNNFamily:
    return RNNFamily(config)


__all__ = ["RNNFamily", "SequenceModel", "config", "make_family", "model_config", "variant"]
