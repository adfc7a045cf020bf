"""Class conditioning for generative networks: the label joins the network's input.

The conditional VAE (Sohn et al. 2015) feeds the label y to the encoder q(z|x, y) and the
decoder p(x|z, y); the conditional GAN (Mirza & Osindero 2014) to the generator G(z, y) and
the discriminator D(x, y). In each the label travels as a one-hot vector: appended to a
vector input, or as constant feature maps appended to an image's channels, so convolutional
networks see it at every position.

Example:
    >>> import jax.numpy as jnp
    >>> with_label(jnp.zeros((2, 28, 28, 1)), jnp.array([3, 7]), 10).shape
    (2, 28, 28, 11)
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
from jax.typing import DTypeLike

from jaxgen.errors import ConfigError


def one_hot(y: jax.Array, num_classes: int, dtype: DTypeLike = jnp.float32) -> jax.Array:
    """Integer labels (B,) -> one-hot rows (B, num_classes)."""
    return jax.nn.one_hot(y, num_classes, dtype=dtype)


def with_label(x: jax.Array, y: jax.Array, num_classes: int) -> jax.Array:
    """x with the one-hot label of each example appended along its last axis.

    Vectors (B, D) become (B, D + K); images (B, H, W, C) become (B, H, W, C + K), the label
    broadcast over positions. Any other rank is flattened to vectors first.
    """
    h = one_hot(y, num_classes, x.dtype)
    if x.ndim == 4:
        b, hh, ww, _ = x.shape
        return jnp.concatenate(
            [x, jnp.broadcast_to(h[:, None, None, :], (b, hh, ww, h.shape[-1]))], -1
        )
    return jnp.concatenate([x.reshape(x.shape[0], -1), h], -1)


def balanced_labels(num: int, num_classes: int) -> jax.Array:
    """0, 1, ..., K-1, 0, 1, ...: `num` labels, every class equally often (up to one)."""
    return jnp.arange(num, dtype=jnp.int32) % num_classes


def batch_labels(batch: dict, num_classes: int, dataset: str) -> jax.Array | None:
    """A conditional model's labels: the batch's "y" (None when `num_classes` is 0)."""
    if not num_classes:
        return None
    if "y" not in batch:
        raise ConfigError(
            f"model.num_classes={num_classes} needs labeled data ('y'), and dataset "
            f"{dataset!r} has none"
        )
    return batch["y"]


__all__ = ["balanced_labels", "batch_labels", "one_hot", "with_label"]
