"""Char-LSTM language-model train step time (JAX side), at the shape of ENGINEERING.md.

T=100, batch 64, hidden 256, vocab 96, Adam, cross-entropy; forward + backward + update.
Measures jaxgen's cell (input projection hoisted out of the scan: one gather for all steps,
only h @ W_h inside) and, for reference, flax's `nn.scan(OptimizedLSTMCell)`.

Run:
  .venv/bin/python benchmarks/lstm_step.py            # both, 30 timed steps each
  .venv/bin/python benchmarks/lstm_step.py --steps 10 --only jaxgen
"""

from __future__ import annotations

import argparse
import json
import time

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import optax

from jaxgen.models import rnn

T, B, H, V = 100, 64, 256, 96


class JaxgenLM(nn.Module):
    """Token ids -> LSTM (hoisted input projection) -> logits."""

    unroll: int = 1

    @nn.compact
    def __call__(self, tokens):
        cell = rnn.make_cell("lstm", H, num_embeddings=V)
        _, hs = rnn.scan(cell, tokens, unroll=self.unroll)  # (T, B, H)
        return nn.Dense(V)(hs)  # time-major logits


class FlaxScanLM(nn.Module):
    """The naive baseline: one-hot inputs, `nn.scan` over flax's OptimizedLSTMCell."""

    @nn.compact
    def __call__(self, tokens):
        x = jax.nn.one_hot(tokens, V)
        cell = nn.scan(
            nn.OptimizedLSTMCell,
            variable_broadcast="params",
            split_rngs={"params": False},
            in_axes=1,
            out_axes=1,
        )(H)
        carry = cell.initialize_carry(jax.random.PRNGKey(0), x[:, 0].shape)
        _, hs = cell(carry, x)
        return jnp.swapaxes(nn.Dense(V)(hs), 0, 1)


def time_model(model: nn.Module, steps: int, warmup: int = 3) -> float:
    """Median ms per jitted train step (donated state) over `steps` timed steps."""
    rng = np.random.default_rng(0)
    tokens = jnp.asarray(rng.integers(0, V, (B, T + 1)), jnp.int32)
    x, y = tokens[:, :-1], tokens[:, 1:].T  # targets time-major like the logits
    params = model.init(jax.random.PRNGKey(0), x)
    tx = optax.adam(1e-3)
    opt = tx.init(params)

    def loss_fn(p):
        logits = model.apply(p, x)
        return optax.softmax_cross_entropy_with_integer_labels(logits, y).mean()

    @jax.jit
    def step(params, opt):
        loss, g = jax.value_and_grad(loss_fn)(params)
        upd, opt = tx.update(g, opt, params)
        return optax.apply_updates(params, upd), opt, loss

    step = jax.jit(step, donate_argnums=(0, 1))
    for _ in range(warmup):
        params, opt, loss = step(params, opt)
    loss.block_until_ready()
    times = []
    for _ in range(steps):
        t0 = time.perf_counter()
        params, opt, loss = step(params, opt)
        loss.block_until_ready()
        times.append(time.perf_counter() - t0)
    return 1e3 * float(np.median(times))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, default=30)
    ap.add_argument("--only", choices=("jaxgen", "flax"), default=None)
    ap.add_argument("--unroll", type=int, default=1)
    args = ap.parse_args()
    out = {"shape": {"T": T, "batch": B, "hidden": H, "vocab": V}}
    if args.only in (None, "jaxgen"):
        out["jaxgen_lstm_ms"] = time_model(JaxgenLM(unroll=args.unroll), args.steps)
    if args.only in (None, "flax"):
        out["flax_nn_scan_optimized_lstm_ms"] = time_model(FlaxScanLM(), args.steps)
    out["jax"] = jax.__version__
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
