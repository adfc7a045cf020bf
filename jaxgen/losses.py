"""Losses shared by families. Each returns one value per example (summed over features)."""

from __future__ import annotations

from collections.abc import Callable

import jax
import jax.numpy as jnp
import optax


def _flat(x: jax.Array) -> jax.Array:
    return x.reshape(x.shape[0], -1)


def mse(x: jax.Array, x_hat: jax.Array) -> jax.Array:
    """||x - x_hat||^2 per example: the lecture's squared error."""
    return jnp.sum(_flat(x - x_hat) ** 2, axis=-1)


def l1(x: jax.Array, x_hat: jax.Array) -> jax.Array:
    return jnp.sum(jnp.abs(_flat(x - x_hat)), axis=-1)


def bce_with_logits(x: jax.Array, logits: jax.Array) -> jax.Array:
    """Binary cross-entropy of targets in [0, 1] against decoder logits, per example."""
    return jnp.sum(_flat(optax.sigmoid_binary_cross_entropy(logits, x)), axis=-1)


RECONSTRUCTION = {"mse": mse, "l1": l1, "bce": bce_with_logits}


def reconstruction(name: str) -> Callable[[jax.Array, jax.Array], jax.Array]:
    """(x, decoder_output) -> per-example loss; for 'bce' the decoder output is logits."""
    if name not in RECONSTRUCTION:
        raise ValueError(f"unknown reconstruction loss {name!r} ({', '.join(RECONSTRUCTION)})")
    return RECONSTRUCTION[name]


def decoder_mean(name: str, output: jax.Array) -> jax.Array:
    """The reconstruction itself: sigmoid of the logits for 'bce', the output otherwise."""
    return jax.nn.sigmoid(output) if name == "bce" else output
