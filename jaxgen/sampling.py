"""PRNG-key-threaded samplers. Every function takes its key; there is no global RNG state."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

Array = jax.Array


def named_key(key: Array, name: str) -> Array:
    """A subkey named by purpose, e.g. `named_key(key, "dropout")`; stable across versions."""
    h = 0
    for ch in name.encode():
        h = (h * 131 + ch) % (2**31 - 1)
    return jax.random.fold_in(key, h)


def reparameterize(key: Array, mean: Array, log_var: Array) -> Array:
    """z = mean + sigma * eps with eps ~ N(0, I): differentiable in mean and log_var."""
    eps = jax.random.normal(key, mean.shape, mean.dtype)
    return mean + jnp.exp(0.5 * log_var) * eps


def gaussian_noise(key: Array, shape: tuple[int, ...], std: float = 1.0) -> Array:
    return std * jax.random.normal(key, shape)


def uniform_noise(
    key: Array, shape: tuple[int, ...], low: float = -1.0, high: float = 1.0
) -> Array:
    """The lecture's GAN input: z ~ U(low, high)."""
    return jax.random.uniform(key, shape, minval=low, maxval=high)


def gan_noise(key: Array, shape: tuple[int, ...], kind: str = "uniform") -> Array:
    """GAN noise by name: 'uniform' on [-1, 1] or 'gaussian' N(0, 1)."""
    if kind == "uniform":
        return uniform_noise(key, shape)
    if kind == "gaussian":
        return gaussian_noise(key, shape)
    raise ValueError(f"unknown noise kind {kind!r} (uniform, gaussian)")


def inverse_transform(
    key: Array, inverse_cdf: Callable[[Array], Array], shape: tuple[int, ...]
) -> Array:
    """The inverse transform method: u ~ U(0, 1) pushed through F^{-1}."""
    u = jax.random.uniform(key, shape, minval=1e-7, maxval=1.0 - 1e-7)
    return inverse_cdf(u)


def inverse_cdf_from_density(grid: Array, density: Array) -> Callable[[Array], Array]:
    """A numerical F^{-1} for a 1-D density tabulated on an increasing grid."""
    mass = 0.5 * (density[1:] + density[:-1]) * jnp.diff(grid)
    cdf = jnp.concatenate([jnp.zeros(1), jnp.cumsum(mass)])
    cdf = cdf / cdf[-1]
    return lambda u: jnp.interp(u, cdf, grid)


def prior_sample(key: Array, num: int, latent_dim: int) -> Array:
    """z ~ N(0, I) of shape (num, latent_dim)."""
    return jax.random.normal(key, (num, latent_dim))


def bernoulli_binarize(key: Array, x: Array) -> Array:
    """A fresh binarization: each pixel is 1 with probability equal to its intensity."""
    return jax.random.bernoulli(key, x).astype(x.dtype)


def lerp(z0: Array, z1: Array, t: Array) -> Array:
    """Linear interpolation; `t` of shape (T,) gives (T, *z0.shape)."""
    t = jnp.asarray(t).reshape((-1,) + (1,) * z0.ndim)
    return (1.0 - t) * z0 + t * z1


def slerp(z0: Array, z1: Array, t: Array, eps: float = 1e-7) -> Array:
    """Spherical interpolation along the great circle (falls back to lerp when parallel)."""
    t = jnp.asarray(t).reshape((-1,) + (1,) * z0.ndim)
    n0, n1 = jnp.linalg.norm(z0), jnp.linalg.norm(z1)
    cos = jnp.clip(jnp.vdot(z0, z1) / jnp.maximum(n0 * n1, eps), -1.0, 1.0)
    omega = jnp.arccos(cos)
    so = jnp.sin(omega)
    safe = so > 1e-4
    s0 = jnp.where(safe, jnp.sin((1.0 - t) * omega) / jnp.where(safe, so, 1.0), 1.0 - t)
    s1 = jnp.where(safe, jnp.sin(t * omega) / jnp.where(safe, so, 1.0), t)
    return s0 * z0 + s1 * z1


def sample_in_batches(
    sample_fn: Callable[[Any, Array, int], Array],
    state: Any,
    key: Array,
    num: int,
    batch: int = 1000,
) -> np.ndarray:
    """`num` samples of `sample_fn(state, key, n)` drawn `batch` at a time, as one array.

    Batch i uses `fold_in(key, i)`, so the samples depend on `batch` but not on memory; one
    compile per distinct batch size (at most two).

    Example:
        >>> f = lambda state, key, n: jax.random.normal(key, (n, 2)) + state
        >>> sample_in_batches(f, 1.0, jax.random.PRNGKey(0), 5, batch=2).shape
        (5, 2)
    """
    fn = jax.jit(sample_fn, static_argnums=2)
    sizes = [batch] * (num // batch) + ([num % batch] if num % batch else [])
    return np.concatenate(
        [np.asarray(fn(state, jax.random.fold_in(key, i), n)) for i, n in enumerate(sizes)]
    )


def sample_per_seed(
    sample_fn: Callable[[Any, Array, int], Array], states: Any, key: Array, num: int
) -> Array:
    """`num` samples from each of S seeds' stacked states (leading axis S), as (S, num, ...).

    Seed s draws with `fold_in(key, s)`, so seeds differ and each is reproducible alone.
    Traceable: jit it, or call it inside a jitted function.

    Example:
        >>> f = lambda state, key, n: jax.random.normal(key, (n,)) + state
        >>> sample_per_seed(f, jnp.array([0.0, 10.0]), jax.random.PRNGKey(0), 3).shape
        (2, 3)
    """
    seeds = jax.tree.leaves(states)[0].shape[0]
    keys = jax.vmap(lambda s: jax.random.fold_in(key, s))(jnp.arange(seeds))
    return jax.vmap(lambda st, k: sample_fn(st, k, num))(states, keys)
