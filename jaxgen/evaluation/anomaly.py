"""Anomaly scores for any trained run: reconstruction error, relative error, k-NN distance.

Every score is "higher = more anomalous", so it feeds `metrics.auroc` with label 1 for the
anomalies. The reconstruction scores work on any family with `reconstruct(state, x)` (the
autoencoders, the VAEs) and on every seed of a vmapped run at once.

Example:
    >>> import jax.numpy as jnp
    >>> from jaxgen.evaluation import anomaly
    >>> x = jnp.asarray([[1.0, 1.0], [0.1, 0.0]])
    >>> x_hat = jnp.asarray([[0.9, 1.0], [0.0, 0.0]])
    >>> [round(float(v), 3) for v in anomaly.relative_error(x, x_hat)]
    [0.005, 1.0]
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import jax
import jax.numpy as jnp
import numpy as np

from jaxgen.evaluation import metrics

if TYPE_CHECKING:
    from jaxgen.train.family import State

Array = jax.Array


def squared_error(x: Array, x_hat: Array) -> Array:
    """||x - x_hat||^2 per example (N,), inputs of any shape (N, ...)."""
    d = (x - x_hat).reshape(x.shape[0], -1)
    return jnp.sum(d * d, axis=1)


def relative_error(x: Array, x_hat: Array, eps: float = 1e-8) -> Array:
    """||x - x_hat||^2 / ||x||^2 per example (N,).

    Why: an autoencoder trained on one digit reconstructs a digit with little ink (a 1, most
    of all) with a small absolute error simply because there is little to get wrong, so the
    absolute error ranks such anomalies as normal. Dividing by the image's own energy asks
    instead what fraction of the image the model failed to explain.
    """
    xf = x.reshape(x.shape[0], -1)
    return squared_error(x, x_hat) / (jnp.sum(xf * xf, axis=1) + eps)


def reconstruction_errors(
    family: Any, state: State, x: np.ndarray, batch_size: int = 2000
) -> np.ndarray:
    """Squared reconstruction error of every example under every seed: (num_seeds, N).

    `state` carries a leading seed axis, as `train` returns it; the seeds are vmapped.
    """
    fn = jax.jit(jax.vmap(lambda s, xb: squared_error(xb, family.reconstruct(s, xb)), (0, None)))
    return metrics.in_batches(lambda xb: fn(state, xb), x, batch_size=batch_size, axis=1)


def energy(x: np.ndarray) -> np.ndarray:
    """||x||^2 per example (N,): the denominator of `relative_error`."""
    xf = np.asarray(x, np.float64).reshape(len(x), -1)
    return np.sum(xf * xf, axis=1)


def knn_distance(train_x: Array, test_x: np.ndarray, k: int, batch_size: int = 2000) -> np.ndarray:
    """Mean Euclidean distance of each test row to its `k` nearest training rows (N,)."""
    train_x = jnp.asarray(train_x).reshape(train_x.shape[0], -1)
    sq = jnp.sum(train_x**2, axis=1)

    @jax.jit
    def one(t: Array) -> Array:
        t = t.reshape(t.shape[0], -1)
        d2 = jnp.sum(t**2, axis=1)[:, None] + sq[None, :] - 2.0 * t @ train_x.T
        neg, _ = jax.lax.top_k(-d2, k)
        return jnp.mean(jnp.sqrt(jnp.maximum(-neg, 0.0)), axis=1)

    return metrics.in_batches(one, test_x, batch_size=batch_size)


# Geometric transforms that turn a normal image into a synthetic anomaly: the strokes stay
# those of the normal class, the shape does not (Golan & El-Yaniv 2018 train on such
# transforms; here they only stand in for the unseen anomalies when choosing settings).
TRANSFORMS: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "flip_lr": lambda x: x[:, :, ::-1],
    "flip_ud": lambda x: x[:, ::-1, :],
    "rot90": lambda x: np.rot90(x, 1, axes=(1, 2)),
    "rot180": lambda x: np.rot90(x, 2, axes=(1, 2)),
    "rot270": lambda x: np.rot90(x, 3, axes=(1, 2)),
}


def synthetic_anomalies(
    x: np.ndarray, transforms: tuple[str, ...] = tuple(TRANSFORMS)
) -> tuple[np.ndarray, np.ndarray]:
    """Normal images and their transformed copies, with labels (1 = transformed).

    Choosing a one-class model's settings must not look at real anomalies; these stand in for
    them, made from the normal class's own validation images only. `x` is (N, H, W[, C]) with
    H == W for the rotations.

    Returns:
        `(images, labels)`: the N originals followed by N per transform.
    """
    x = np.asarray(x)
    unknown = sorted(set(transforms) - set(TRANSFORMS))
    if unknown:
        raise ValueError(f"unknown transforms {unknown} (known: {', '.join(TRANSFORMS)})")
    parts = [x] + [np.ascontiguousarray(TRANSFORMS[t](x)) for t in transforms]
    labels = np.r_[np.zeros(len(x)), np.ones(len(x) * len(transforms))]
    return np.concatenate(parts), labels


def roc_curve(scores: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """False and true positive rates at every threshold, from (0, 0) to (1, 1)."""
    scores, labels = np.asarray(scores, np.float64), np.asarray(labels).astype(bool)
    order = np.argsort(-scores, kind="stable")
    s, y = scores[order], labels[order]
    last = np.r_[np.nonzero(np.diff(s))[0], len(s) - 1]  # the last row of each tied block
    tp, fp = np.cumsum(y)[last], np.cumsum(~y)[last]
    return np.r_[0.0, fp / max(fp[-1], 1)], np.r_[0.0, tp / max(tp[-1], 1)]


# Module-level so that every call (ten digits x the candidates) reuses one compile per shape.
_auroc_per_seed = jax.jit(jax.vmap(metrics.auroc, in_axes=(0, None)))


def one_class_aurocs(
    family: Any,
    state: State,
    x_test: np.ndarray,
    labels: np.ndarray | jax.Array,
    x_val: np.ndarray,
    batch_size: int,
) -> dict[str, Any]:
    """The one-class evaluation of a reconstruction model, every seed of `state` at once.

    Args:
      family, state: a trained run with `reconstruct` (autoencoders, VAEs); seeds stacked.
      x_test, labels: test images and 1 for the anomalies.
      x_val: the normal class's validation images only; their flipped and rotated copies
        (`synthetic_anomalies`) stand in for anomalies when choosing settings.

    Returns:
      `val`, `error`, `relative`: per-seed AUROCs of the relative error on the synthetic
      validation set and of the absolute and relative error on the test set; `ensemble`: the
      AUROC of the seeds' mean relative error; `scores`: the seeds' mean relative and absolute
      errors, for ROC curves.
    """
    per_seed = _auroc_per_seed
    ink = energy(x_test)
    err = reconstruction_errors(family, state, x_test, batch_size)
    xv, yv = synthetic_anomalies(x_val)
    val_err = reconstruction_errors(family, state, xv, batch_size)
    labels = jnp.asarray(labels)
    return {
        "val": np.asarray(per_seed(jnp.asarray(val_err / energy(xv)), jnp.asarray(yv))),
        "error": np.asarray(per_seed(jnp.asarray(err), labels)),
        "relative": np.asarray(per_seed(jnp.asarray(err / ink), labels)),
        "ensemble": float(metrics.auroc(jnp.asarray(err.mean(0) / ink), labels)),
        "scores": {"relative": err.mean(0) / ink, "absolute": err.mean(0)},
    }


__all__ = [
    "energy",
    "knn_distance",
    "one_class_aurocs",
    "reconstruction_errors",
    "relative_error",
    "roc_curve",
    "squared_error",
    "synthetic_anomalies",
]
