"""Penalties of the sparse and contractive autoencoders.

- Sparse: an L1 penalty on the code, and the KL divergence between a target firing rate
  `rho` and the mean activation `rho_hat_j` of each code unit over the batch
  (sum_j KL(Bernoulli(rho) || Bernoulli(rho_hat_j)); the code must lie in (0, 1)).
- Contractive: the squared Frobenius norm of the encoder's Jacobian with respect to its
  input, ||J_f(x)||_F^2, computed exactly per example with `jax.jacrev` under `jax.vmap`.
"""

from __future__ import annotations

from collections.abc import Callable

import jax
import jax.numpy as jnp

Array = jax.Array


def l1_code(z: Array) -> Array:
    """sum_j |z_j| per example: (B, K) -> (B,)."""
    return jnp.sum(jnp.abs(z.reshape(z.shape[0], -1)), axis=-1)


def bernoulli_kl(rho: float | Array, rho_hat: Array, eps: float = 1e-6) -> Array:
    """KL(Bernoulli(rho) || Bernoulli(rho_hat)) elementwise; rho_hat clipped away from 0, 1."""
    rho_hat = jnp.clip(rho_hat, eps, 1.0 - eps)
    return rho * jnp.log(rho / rho_hat) + (1.0 - rho) * jnp.log((1.0 - rho) / (1.0 - rho_hat))


def kl_sparsity(z: Array, rho: float) -> Array:
    """sum_j KL(rho || rho_hat_j) with rho_hat_j the mean of code unit j over the batch.

    A batch-level penalty (a scalar): the mean activation is a statistic of the batch.
    """
    rho_hat = jnp.mean(z.reshape(z.shape[0], -1), axis=0)
    return jnp.sum(bernoulli_kl(rho, rho_hat))


def jacobian_frobenius_sq(f: Callable[[Array], Array], x: Array) -> Array:
    """||d f(x_i) / d x_i||_F^2 for each example of the batch `x`: (B, ...) -> (B,).

    `f` maps a batch to a batch of codes and must treat examples independently (no batch
    statistics), so the Jacobian of one example is that of `f` on a batch of one. Reverse
    mode costs one backward pass per code unit, vectorized over code units and examples.
    """

    def one(xi: Array) -> Array:
        jac = jax.jacrev(lambda v: f(v[None])[0])(xi)
        return jnp.sum(jac**2)

    return jax.vmap(one)(x)


def sigmoid_layer_jacobian_frobenius_sq(w: Array, b: Array, x: Array) -> Array:
    """Closed form for h = sigmoid(x W + b): ||J||_F^2 = sum_j (h_j (1 - h_j))^2 sum_i W_ij^2.

    The reference the exact Jacobian is tested against (Rifai et al. 2011, eq. 6).
    """
    h = jax.nn.sigmoid(x @ w + b)
    return jnp.sum((h * (1.0 - h)) ** 2 * jnp.sum(w**2, axis=0), axis=-1)


def code_stats(z: Array, threshold: float = 0.05) -> dict[str, Array]:
    """Measured sparsity of a batch of codes (B, K).

    Returns the mean |activation|, the fraction of activations with |z| < `threshold`
    (the sparsity: 1 means every unit is silent), the mean over units of the per-unit mean
    activation rho_hat and the Hoyer measure in [0, 1] averaged over examples.
    """
    z = z.reshape(z.shape[0], -1)
    a = jnp.abs(z)
    k = z.shape[-1]
    l1 = jnp.sum(a, axis=-1)
    l2 = jnp.sqrt(jnp.sum(z**2, axis=-1)) + 1e-12
    hoyer = (jnp.sqrt(k) - l1 / l2) / max(k**0.5 - 1.0, 1e-12)
    return {
        "code_mean_abs": jnp.mean(a),
        "code_frac_near_zero": jnp.mean(a < threshold),
        "code_hoyer": jnp.mean(hoyer),
    }


__all__ = [
    "bernoulli_kl",
    "code_stats",
    "jacobian_frobenius_sq",
    "kl_sparsity",
    "l1_code",
    "sigmoid_layer_jacobian_frobenius_sq",
]
