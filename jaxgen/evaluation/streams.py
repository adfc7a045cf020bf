"""A language model reading a whole text as a compressor does: bits per character.

The text is cut into `streams` contiguous pieces read side by side, `chunk` characters at a
time, the recurrent state carried from chunk to chunk; so (apart from each piece's first
characters) every prediction sees all the text before it. Two additions, each a code length
still (a decoder can repeat every step):

- dynamic evaluation (Krause et al. 2018), `adapt_lr` > 0: after each chunk is scored, one
  SGD step on it (gradient norm clipped to 1) adapts the weights to the text read so far;
- a continuous cache (Grave, Joulin & Usunier 2017), `cache=(size, thetas, lambdas)`: each
  stream's last `size` hidden states and the characters that followed them
  (`sequence.cache_chunk_nats`), scored at every (theta, lambda) of the grid in one pass.

`model` is a Flax module with `initial_carry(batch_size)` and
`hiddens_and_logits(x, carry)` -> (hiddens (T, B, H), logits (T, B, V), carry), as the
recurrent family's `SequenceModel` (`RNNFamily.stream_bpc` wraps these for a trained state).

Example:
    >>> import jax, numpy as np
    >>> from jaxgen.evaluation import streams
    >>> from jaxgen.families import rnn
    >>> fam = rnn.RNNFamily(rnn.config("lm", cell="lstm", hidden_size=8))
    >>> ids = np.arange(401, dtype=np.int32) % 7
    >>> state = fam.init(jax.random.PRNGKey(0), {"x": ids[None, :4], "y": ids[None, 1:5]})
    >>> model = fam.net(state.params)
    >>> plain = streams.bpc(model, state.params, ids, streams=2, chunk=100)
    >>> grid = streams.bpc_with_cache(model, state.params, ids, 50, (1.0,), (0.0, 0.5), 2)
    >>> grid.shape, bool(abs(grid[0, 0] - plain) < 1e-4)
    ((1, 2), True)
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, cast

import jax
import jax.numpy as jnp
import numpy as np
import optax

from jaxgen.evaluation import sequence as seq_eval

if TYPE_CHECKING:
    import flax.linen as nn

    from jaxgen.models.rnn import Carry


def bpc(
    model: nn.Module,
    params: Any,
    ids: np.ndarray,
    streams: int = 64,
    chunk: int = 0,
    adapt_lr: float = 0.0,
) -> float:
    """Bits per character of `ids` read as `streams` carried streams (module docstring).

    `chunk` (characters per stream per step) defaults to 500, or 100 when adapting: more,
    smaller updates.
    """
    chunk = chunk or (100 if adapt_lr else 500)
    return float(_read(model, params, ids, streams, chunk, adapt_lr, None))


def bpc_with_cache(
    model: nn.Module,
    params: Any,
    ids: np.ndarray,
    size: int,
    thetas: Sequence[float],
    lambdas: Sequence[float],
    streams: int = 64,
    chunk: int = 100,
    adapt_lr: float = 0.0,
) -> np.ndarray:
    """Bits per character with a continuous cache of each stream's last `size` positions,
    for every (theta, lambda): (A, L). With `adapt_lr` the weights follow the model's own
    loss, so they are the same at every grid point."""
    return cast(
        np.ndarray, _read(model, params, ids, streams, chunk, adapt_lr, (size, thetas, lambdas))
    )


def _read(
    model: nn.Module,
    params: Any,
    ids: np.ndarray,
    streams: int,
    chunk: int,
    adapt_lr: float,
    cache: tuple[int, Sequence[float], Sequence[float]] | None,
) -> np.ndarray | float:
    n = (len(ids) - 1) // streams
    x = ids[: n * streams].reshape(streams, n)
    y = ids[1 : n * streams + 1].reshape(streams, n)

    def nll(
        params: Any, carry: tuple[Carry, ...], xc: jax.Array, yc: jax.Array
    ) -> tuple[jax.Array, tuple[jax.Array, jax.Array, tuple[Carry, ...]]]:
        hs, logits, carry = cast(
            "tuple[jax.Array, jax.Array, tuple[Carry, ...]]",
            model.apply({"params": params}, xc, carry=carry, method="hiddens_and_logits"),
        )
        lp = jnp.take_along_axis(jax.nn.log_softmax(logits), yc.T[..., None], -1)[..., 0]
        return -lp.sum(), (hs, lp, carry)

    @jax.jit
    def run(
        params: Any, carry: tuple[Carry, ...], mem: list[jax.Array], xc: jax.Array, yc: jax.Array
    ) -> tuple[Any, tuple[Carry, ...], list[jax.Array], jax.Array]:
        if adapt_lr:
            (total, (hs, lp, carry)), g = jax.value_and_grad(nll, has_aux=True)(
                params, carry, xc, yc
            )
            params = _sgd_step(params, g, yc.size, adapt_lr)
        else:
            total, (hs, lp, carry) = nll(params, carry, xc, yc)
        if cache is not None:
            # mem is (keys, vals): mypy cannot count the arguments a list unpacks to.
            total, *mem = seq_eval.cache_chunk_nats(hs, lp, yc, *mem, *cache[1:])  # type: ignore[call-arg, arg-type]
        return params, carry, mem, total

    carry = model.apply({"params": params}, streams, method="initial_carry")
    mem = []
    if cache is not None:  # the cache starts empty: value -1 marks an unfilled slot
        mem = [
            jnp.zeros((streams, cache[0], model.hidden_size), jnp.float32),
            jnp.full((streams, cache[0]), -1, jnp.int32),
        ]
    total: float | np.ndarray = 0.0
    for s in range(0, n, chunk):  # a host loop over chunks; each chunk is one scan
        xc, yc = jnp.asarray(x[:, s : s + chunk]), jnp.asarray(y[:, s : s + chunk])
        params, carry, mem, nats = run(params, carry, mem, xc, yc)
        total = total + np.asarray(nats, np.float64)
    return total / (n * streams) / math.log(2.0)


def _sgd_step(params: Any, grads: Any, count: int, lr: float) -> Any:
    """Dynamic evaluation's step: SGD on the mean loss, its gradient norm clipped to 1."""
    grads = jax.tree.map(lambda a: a / count, grads)
    scale = jnp.minimum(1.0, 1.0 / (optax.tree.norm(grads) + 1e-12))
    return jax.tree.map(lambda p, d: p - lr * scale * d, params, grads)


__all__ = ["bpc", "bpc_with_cache"]
