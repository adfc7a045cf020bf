"""Log-densities and KL divergences the VAE needs, per example (summed over features).

The lecture's closed form between two multivariate Gaussians N0 = N(mu0, S0), N1 = N(mu1, S1):

    KL(N0 || N1) = 1/2 ( tr(S1^-1 S0) + (mu1 - mu0)^T S1^-1 (mu1 - mu0) - k + ln(det S1 / det S0) )

`kl_mvn` is that formula; `kl_diag_gaussians` and `kl_std_normal` are its diagonal special
cases (the VAE's KL[N(mu, sigma), N(0, I)]), which cost O(k) instead of O(k^3).
"""

from __future__ import annotations

import math
from typing import cast

import jax
import jax.numpy as jnp

Array = jax.Array

LOG_2PI = math.log(2.0 * math.pi)


def _flat(x: Array) -> Array:
    return x.reshape(x.shape[0], -1)


# -- KL divergences -----------------------------------------------------------------------
def kl_std_normal(mean: Array, log_var: Array) -> Array:
    """KL[N(mean, diag(exp(log_var))) || N(0, I)] over the last axis.

    = 1/2 sum(exp(log_var) + mean^2 - 1 - log_var).
    """
    return 0.5 * jnp.sum(jnp.exp(log_var) + mean**2 - 1.0 - log_var, axis=-1)


def kl_diag_gaussians(mean0: Array, log_var0: Array, mean1: Array, log_var1: Array) -> Array:
    """KL[N(mean0, diag var0) || N(mean1, diag var1)] over the last axis."""
    var_ratio = jnp.exp(log_var0 - log_var1)
    maha = (mean1 - mean0) ** 2 * jnp.exp(-log_var1)
    return 0.5 * jnp.sum(var_ratio + maha - 1.0 + log_var1 - log_var0, axis=-1)


def kl_mvn(mean0: Array, cov0: Array, mean1: Array, cov1: Array) -> Array:
    """The lecture's general closed-form KL[N(mean0, cov0) || N(mean1, cov1)].

    Args:
      mean0, mean1: (..., k).
      cov0, cov1: (..., k, k) symmetric positive definite.

    Returns:
      (...,) KL in nats. Uses Cholesky solves rather than explicit inverses (stabler).
    """
    k = mean0.shape[-1]
    l1 = jnp.linalg.cholesky(cov1)
    # tr(S1^-1 S0) = ||L1^-1 L0||_F^2.
    l0 = jnp.linalg.cholesky(cov0)
    a = jax.scipy.linalg.solve_triangular(l1, l0, lower=True)
    trace = jnp.sum(a**2, axis=(-2, -1))
    diff = (mean1 - mean0)[..., None]
    b = jax.scipy.linalg.solve_triangular(l1, diff, lower=True)
    maha = jnp.sum(b**2, axis=(-2, -1))
    logdet1 = 2.0 * jnp.sum(jnp.log(jnp.diagonal(l1, axis1=-2, axis2=-1)), axis=-1)
    logdet0 = 2.0 * jnp.sum(jnp.log(jnp.diagonal(l0, axis1=-2, axis2=-1)), axis=-1)
    return 0.5 * (trace + maha - k + logdet1 - logdet0)


def kl_monte_carlo(
    key: Array, mean0: Array, cov0: Array, mean1: Array, cov1: Array, num: int
) -> Array:
    """Monte Carlo estimate E_{x~N0}[log N0(x) - log N1(x)] with `num` samples (unbatched)."""
    x = jax.random.multivariate_normal(key, mean0, cov0, (num,))
    return jnp.mean(mvn_log_prob(x, mean0, cov0) - mvn_log_prob(x, mean1, cov1))


# -- log-densities ------------------------------------------------------------------------
def mvn_log_prob(x: Array, mean: Array, cov: Array) -> Array:
    """log N(x; mean, cov) for x of shape (..., k) and a full covariance (k, k)."""
    return cast(Array, jax.scipy.stats.multivariate_normal.logpdf(x, mean, cov))


def diag_gaussian_log_prob(x: Array, mean: Array, log_var: Array) -> Array:
    """log N(x; mean, diag exp(log_var)) summed over the last axis."""
    return -0.5 * jnp.sum(LOG_2PI + log_var + (x - mean) ** 2 * jnp.exp(-log_var), axis=-1)


def std_normal_log_prob(z: Array) -> Array:
    """log N(z; 0, I) summed over the last axis: the VAE prior."""
    return -0.5 * jnp.sum(LOG_2PI + z**2, axis=-1)


def bernoulli_log_prob(x: Array, logits: Array) -> Array:
    """log Bernoulli(x; sigmoid(logits)) summed over all but the leading axis (= -BCE).

    Stable form: x*logits - softplus(logits). Exact for binary x; for x in [0, 1] it is the
    negative binary cross-entropy the lecture trains with.
    """
    return jnp.sum(_flat(x * logits - jax.nn.softplus(logits)), axis=-1)


def gaussian_c_log_prob(x: Array, mean: Array, c: float) -> Array:
    """The lecture's Gaussian decoder as a density: -C ||x - mean||^2 + normalizer.

    `C ||x - x_hat||^2` is the negative log-likelihood of N(x; x_hat, sigma^2 I) with
    C = 1 / (2 sigma^2), up to the constant D/2 log(2 pi sigma^2) = -D/2 log(C / pi), which
    is added here so the value is a true log-density (needed for NLL in nats).
    """
    d = math.prod(x.shape[1:])
    sq = jnp.sum(_flat(x - mean) ** 2, axis=-1)
    return -c * sq + 0.5 * d * math.log(c / math.pi)


__all__ = [
    "bernoulli_log_prob",
    "diag_gaussian_log_prob",
    "gaussian_c_log_prob",
    "kl_diag_gaussians",
    "kl_monte_carlo",
    "kl_mvn",
    "kl_std_normal",
    "mvn_log_prob",
    "std_normal_log_prob",
]
