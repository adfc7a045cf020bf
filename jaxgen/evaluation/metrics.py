"""Generic evaluation metrics in JAX: AUROC by ranks, PSNR, accuracy; `in_batches`.

All functions are pure and jit/vmap friendly, so a metric can be computed for several
vmapped seeds at once.
"""

from __future__ import annotations

from collections.abc import Callable

import jax
import jax.numpy as jnp
import numpy as np
from numpy.typing import ArrayLike

Array = jax.Array


def in_batches(
    fn: Callable[..., Array],
    *arrays: np.ndarray | Array | None,
    batch_size: int = 2000,
    axis: int = 0,
) -> np.ndarray:
    """`fn(*arrays)` computed `batch_size` examples at a time, the outputs joined on `axis`.

    Why: a whole test split through a network at once can need more memory than the host
    has; the pieces come back to host memory as they are computed. An array given as None
    is passed on as None (an optional label batch).

    Example:
        >>> import numpy as np
        >>> in_batches(lambda a, b: a + b, np.arange(5), np.ones(5), batch_size=2).tolist()
        [1.0, 2.0, 3.0, 4.0, 5.0]
    """
    n = len(next(a for a in arrays if a is not None))
    parts = [
        np.asarray(fn(*(None if a is None else a[i : i + batch_size] for a in arrays)))
        for i in range(0, n, batch_size)
    ]
    return np.concatenate(parts, axis=axis)


def average_ranks(x: Array) -> Array:
    """1-based ranks of `x` (N,), ties sharing the average of the ranks they span.

    For a value v, the tied block occupies sorted positions [#(x < v), #(x <= v)), so its
    average 1-based rank is (#(x < v) + #(x <= v) + 1) / 2: two binary searches, no loop.
    """
    s = jnp.sort(x)
    lo = jnp.searchsorted(s, x, side="left")
    hi = jnp.searchsorted(s, x, side="right")
    return (lo + hi + 1).astype(jnp.float32) / 2.0


def auroc(scores: Array, labels: Array) -> Array:
    """Area under the ROC curve of `scores` (N,) for binary `labels` (N,), 1 = positive.

    Mann-Whitney: AUROC = P(s_pos > s_neg) + 0.5 P(s_pos = s_neg)
    = (sum of positive ranks - n_pos (n_pos + 1) / 2) / (n_pos n_neg). NaN if a class is empty.
    """
    scores = jnp.asarray(scores, jnp.float32).reshape(-1)
    pos = jnp.asarray(labels).reshape(-1).astype(jnp.float32)
    n_pos = jnp.sum(pos)
    n_neg = pos.size - n_pos
    rank_sum = jnp.sum(average_ranks(scores) * pos)
    return (rank_sum - n_pos * (n_pos + 1.0) / 2.0) / (n_pos * n_neg)


def auroc_pairs(scores: ArrayLike, labels: ArrayLike) -> float:
    """AUROC by counting every (positive, negative) pair: O(N^2), the reference for tests."""
    import numpy as np

    scores, labels = np.asarray(scores, np.float64), np.asarray(labels).astype(bool)
    p, n = scores[labels][:, None], scores[~labels][None, :]
    return float(((p > n) + 0.5 * (p == n)).mean())


def mse_per_example(x: Array | np.ndarray, x_hat: Array | np.ndarray) -> Array:
    """Mean squared error per example, averaged over features: (B, ...) -> (B,)."""
    d = (x - x_hat).reshape(x.shape[0], -1)
    return jnp.mean(d**2, axis=-1)


def psnr_from_mse(mse: Array, max_val: float = 1.0) -> Array:
    """Peak signal-to-noise ratio 10 log10(max_val^2 / mse) in dB."""
    return 10.0 * jnp.log10(max_val**2 / jnp.maximum(mse, 1e-12))


def psnr(x: Array | np.ndarray, x_hat: Array | np.ndarray, max_val: float = 1.0) -> Array:
    """PSNR per example in dB (images in [0, max_val]): (B, ...) -> (B,)."""
    return psnr_from_mse(mse_per_example(x, x_hat), max_val)


def accuracy(logits: Array, labels: Array) -> Array:
    """Fraction of argmax predictions equal to the integer labels."""
    return jnp.mean(jnp.argmax(logits, axis=-1) == labels)


__all__ = [
    "accuracy",
    "auroc",
    "auroc_pairs",
    "average_ranks",
    "mse_per_example",
    "psnr",
    "psnr_from_mse",
]
