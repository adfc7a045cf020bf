"""Noise models for the denoising autoencoder: x -> x_tilde, drawn from a threaded key.

Each function corrupts a batch of inputs in [0, 1] and returns an array of the same shape.
The denoising autoencoder sees `x_tilde` and is trained to reconstruct the clean `x`.
"""

from __future__ import annotations

from collections.abc import Callable

import jax
import jax.numpy as jnp

Array = jax.Array


def gaussian(key: Array, x: Array, std: float, clip: bool = True) -> Array:
    """Additive isotropic Gaussian noise x + std * eps, clipped to [0, 1] by default.

    Clipping keeps the corrupted image a valid image (and a valid BCE input); set
    `clip=False` for the raw additive model.
    """
    noisy = x + std * jax.random.normal(key, x.shape, x.dtype)
    return jnp.clip(noisy, 0.0, 1.0) if clip else noisy


def masking(key: Array, x: Array, rate: float) -> Array:
    """Masking noise: each entry is set to 0 independently with probability `rate`."""
    keep = jax.random.bernoulli(key, 1.0 - rate, x.shape)
    return jnp.where(keep, x, jnp.zeros_like(x))


def salt_and_pepper(key: Array, x: Array, rate: float) -> Array:
    """Salt-and-pepper noise: with probability `rate` an entry becomes 0 or 1 (equally likely)."""
    k_hit, k_salt = jax.random.split(key)
    hit = jax.random.bernoulli(k_hit, rate, x.shape)
    salt = jax.random.bernoulli(k_salt, 0.5, x.shape).astype(x.dtype)
    return jnp.where(hit, salt, x)


def none(key: Array, x: Array, level: float) -> Array:
    """The identity: no corruption (a plain autoencoder's input)."""
    del key, level
    return x


CORRUPTIONS: dict[str, Callable[[Array, Array, float], Array]] = {
    "gaussian": gaussian,
    "masking": masking,
    "salt_and_pepper": salt_and_pepper,
    "none": none,
}


def corrupt(key: Array, x: Array, kind: str, level: float) -> Array:
    """Corrupts `x` with the noise model `kind` at `level` (std for Gaussian, else a rate)."""
    if kind not in CORRUPTIONS:
        raise ValueError(f"unknown corruption {kind!r} ({', '.join(CORRUPTIONS)})")
    return CORRUPTIONS[kind](key, x, level)


__all__ = ["CORRUPTIONS", "corrupt", "gaussian", "masking", "none", "salt_and_pepper"]
