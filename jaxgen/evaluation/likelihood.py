"""Importance-sampled log-likelihood: the IWAE bound of Burda et al. (2015) as an evaluator.

For a latent-variable model with proposal q(z|x),

    log p(x) >= L_k(x) = E[ log (1/k) sum_i p(x, z_i) / q(z_i | x) ],   z_i ~ q(z|x),

with L_1 = ELBO and L_k rising to log p(x) as k grows. Test NLL is reported as -mean L_k
with k = 5000. The estimate is vectorized over examples and samples and chunked in both
directions so that the peak memory is (example batch) x (sample chunk) decoder activations,
whatever k is.
"""

from __future__ import annotations

import math
import resource
import sys
import time
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

Array = jax.Array
# (x batch (B, ...), key, n) -> (B, n) log importance weights log p(x, z_i) - log q(z_i|x).
LogWeightsFn = Callable[[Array, Array, int], Array]


def iwae_bound(log_weights: Array) -> Array:
    """L_k from (..., k) log-weights: logsumexp over samples minus log k."""
    k = log_weights.shape[-1]
    return jax.scipy.special.logsumexp(log_weights, axis=-1) - math.log(k)


def _batch_fn(log_weights_fn: LogWeightsFn, k: int, chunk: int) -> Callable[[Array, Array], Array]:
    """A jitted (x_batch, key) -> (B,) L_k, scanning over k // chunk sample chunks."""
    if k % chunk:
        raise ValueError(f"k={k} must be a multiple of chunk={chunk}")
    num_chunks = k // chunk

    def fn(x: Array, key: Array) -> Array:
        def body(carry: None, i: Array) -> tuple[None, Array]:
            return carry, log_weights_fn(x, jax.random.fold_in(key, i), chunk)

        _, lw = jax.lax.scan(body, None, jnp.arange(num_chunks))  # (C, B, chunk)
        lw = jnp.moveaxis(lw, 0, 1).reshape(x.shape[0], k)
        return iwae_bound(lw)

    return jax.jit(fn)


def peak_rss_gib() -> float:
    """Peak resident memory of this process so far (ru_maxrss), in GiB."""
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return rss / (2**30 if sys.platform == "darwin" else 2**20)


def log_likelihood(
    log_weights_fn: LogWeightsFn,
    x: np.ndarray,
    key: Array,
    k: int = 5000,
    batch_size: int = 100,
    chunk: int = 250,
    progress: bool = False,
) -> np.ndarray:
    """Per-example importance-sampled estimates L_k(x) of log p(x), shape (N,).

    Args:
      log_weights_fn: the model's log importance weights (see `LogWeightsFn`).
      x: data (N, ...); the last batch is padded, the padding dropped.
      key: example batch b uses fold_in(key, b), sample chunk c of it fold_in(., c).
      k: importance samples per example.
      batch_size: examples per compiled call.
      chunk: samples per inner step; memory grows with batch_size * chunk, not k.
      progress: print one line per 10% of batches to stderr.
    """
    chunk = min(chunk, k)
    fn = _batch_fn(log_weights_fn, k, chunk)
    n = len(x)
    num_batches = math.ceil(n / batch_size)
    out = []
    for b in range(num_batches):
        xb = x[b * batch_size : (b + 1) * batch_size]
        pad = batch_size - len(xb)
        if pad:
            xb = np.concatenate([xb, np.repeat(xb[:1], pad, 0)])
        out.append(np.asarray(fn(jnp.asarray(xb), jax.random.fold_in(key, b)))[: batch_size - pad])
        if progress and (b + 1) % max(1, num_batches // 10) == 0:
            print(f"  log-likelihood: {b + 1}/{num_batches} batches", file=sys.stderr, flush=True)
    return np.concatenate(out)


def test_nll(
    log_weights_fn: LogWeightsFn,
    x: np.ndarray,
    key: Array,
    k: int = 5000,
    batch_size: int = 100,
    chunk: int = 250,
    progress: bool = False,
) -> dict[str, Any]:
    """-mean L_k over `x`, with its standard error, wall time and the process's peak memory."""
    t0 = time.time()
    ll = log_likelihood(log_weights_fn, x, key, k, batch_size, chunk, progress)
    return {
        "nll": float(-ll.mean()),
        "nll_sem": float(ll.std() / math.sqrt(len(ll))),
        "k": int(k),
        "num_examples": len(ll),
        "seconds": time.time() - t0,
        "peak_rss_gib": peak_rss_gib(),
    }


__all__ = ["iwae_bound", "log_likelihood", "peak_rss_gib", "test_nll"]
