"""Principal component analysis in JAX: the lecture's linear baseline."""

from __future__ import annotations

import chex
import jax
import jax.numpy as jnp


@chex.dataclass(frozen=True)
class PCA:
    """A fitted PCA: `components` (k, D) are orthonormal rows, largest variance first."""

    mean: jax.Array
    components: jax.Array
    explained_variance: jax.Array
    explained_variance_ratio: jax.Array

    def encode(self, x: jax.Array) -> jax.Array:
        return (x - self.mean) @ self.components.T

    def decode(self, z: jax.Array) -> jax.Array:
        return z @ self.components + self.mean

    def reconstruct(self, x: jax.Array) -> jax.Array:
        return self.decode(self.encode(x))


def fit(x: jax.Array, num_components: int) -> PCA:
    """Fits PCA to rows of `x` (N, D) by the SVD of the centred data."""
    x = jnp.asarray(x, jnp.float32).reshape(x.shape[0], -1)
    n, d = x.shape
    if not 0 < num_components <= min(n, d):
        raise ValueError(f"num_components must be in [1, {min(n, d)}], got {num_components}")
    mean = x.mean(0)
    _, s, vt = jnp.linalg.svd(x - mean, full_matrices=False)
    var = s**2 / (n - 1)
    k = num_components
    return PCA(  # type: ignore[call-arg]  # chex.dataclass's __init__ is unseen by mypy
        mean=mean,
        components=vt[:k],
        explained_variance=var[:k],
        explained_variance_ratio=var[:k] / var.sum(),
    )
