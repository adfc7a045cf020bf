"""Vector quantization for the VQ-VAE (van den Oord et al. 2017), as pure functions.

An encoder output of `L * D` numbers is read as L vectors z_e of size D; each is replaced by
its nearest codebook vector e_k (k = argmin ||z_e - e_k||), so an image costs L log2(K) bits.
The decoder sees z_q = z_e + stop_gradient(e_k - z_e): the value is e_k, the gradient
passes straight through to the encoder. The encoder is held near its codes by the
commitment loss beta ||z_e - sg(e_k)||^2; the codebook itself follows its assignments by
exponential moving averages (the paper's appendix; Razavi et al. 2019):

    N_k <- g N_k + (1 - g) n_k,      m_k <- g m_k + (1 - g) sum_{i: k_i = k} z_e_i,
    e_k = m_k / N~_k,  N~_k = (N_k + eps) / (N + K eps) N   (Laplace-smoothed counts)

with n_k the batch's count of vectors assigned to k and N = sum_k N_k. Codes that nobody
uses (N_k below a threshold) are restarted on random encoder outputs of the batch
(Dhariwal et al. 2020, Jukebox), so the whole codebook stays in use.

    >>> import jax, jax.numpy as jnp
    >>> book = init_codebook(jax.random.PRNGKey(0), num_codes=4, dim=2)
    >>> z = jnp.ones((3, 2))
    >>> idx = nearest(z, book["embed"]); z_q = straight_through(z, book["embed"][idx])
    >>> book = ema_update(book, z, idx, decay=0.99)
    >>> z_q.shape, idx.shape
    ((3, 2), (3,))
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

Array = jax.Array
Codebook = dict[str, Array]  # "embed" (K, D), "count" (K,), "sum" (K, D)


def init_codebook(key: Array, num_codes: int, dim: int, scale: float = 1.0) -> Codebook:
    """K random code vectors ~ N(0, scale^2), each counted once (restarts fix bad ones)."""
    embed = scale * jax.random.normal(key, (num_codes, dim))
    return {"embed": embed, "count": jnp.ones((num_codes,)), "sum": embed}


def nearest(z: Array, embed: Array) -> Array:
    """Index of the nearest code (squared Euclidean) of each row of z (N, D): shape (N,)."""
    d = (
        jnp.sum(z**2, axis=1, keepdims=True)
        - 2.0 * z @ embed.T
        + jnp.sum(embed**2, axis=1)[None, :]
    )
    return jnp.argmin(d, axis=1)


def straight_through(z: Array, z_q: Array) -> Array:
    """The value z_q with the gradient of z (the straight-through estimator)."""
    return z + jax.lax.stop_gradient(z_q - z)


def commitment(z: Array, z_q: Array) -> Array:
    """||z - sg(z_q)||^2 per row: what keeps the encoder near its codes."""
    return jnp.sum((z - jax.lax.stop_gradient(z_q)) ** 2, axis=-1)


def usage(idx: Array, num_codes: int) -> Array:
    """The share of the rows assigned to each code, shape (K,)."""
    return jnp.mean(jax.nn.one_hot(idx, num_codes), axis=0)


def perplexity(idx: Array, num_codes: int) -> Array:
    """exp(entropy of the code usage): K when every code is used equally, 1 for one code."""
    p = usage(idx, num_codes)
    return jnp.exp(-jnp.sum(jnp.where(p > 0, p * jnp.log(jnp.where(p > 0, p, 1.0)), 0.0)))


def ema_update(book: Codebook, z: Array, idx: Array, decay: float, eps: float = 1e-5) -> Codebook:
    """One exponential-moving-average step of the codebook towards its assignments."""
    z = jax.lax.stop_gradient(z)
    onehot = jax.nn.one_hot(idx, book["embed"].shape[0], dtype=z.dtype)  # (N, K)
    count = decay * book["count"] + (1.0 - decay) * onehot.sum(0)
    total = decay * book["sum"] + (1.0 - decay) * onehot.T @ z
    n = count.sum()
    smoothed = (count + eps) / (n + count.shape[0] * eps) * n
    return {"embed": total / smoothed[:, None], "count": count, "sum": total}


def restart_dead(book: Codebook, z: Array, key: Array, threshold: float) -> Codebook:
    """Codes whose moving count is below `threshold` move onto random rows of z (N, D).

    A restarted code starts with count 1 (its moving sum is its vector), so it is judged
    again only after it has had the chance to attract data.
    """
    z = jax.lax.stop_gradient(z)
    dead = book["count"] < threshold
    pick = z[jax.random.randint(key, (book["embed"].shape[0],), 0, z.shape[0])]
    embed = jnp.where(dead[:, None], pick, book["embed"])
    count = jnp.where(dead, 1.0, book["count"])
    total = jnp.where(dead[:, None], pick, book["sum"])
    return {"embed": embed, "count": count, "sum": total}


__all__ = [
    "Codebook",
    "commitment",
    "ema_update",
    "init_codebook",
    "nearest",
    "perplexity",
    "restart_dead",
    "straight_through",
    "usage",
]
