"""The sampler: distributions are right, and the reparameterized gradient is the analytic one."""

from __future__ import annotations

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy import stats

from jaxgen import sampling

KEY = jax.random.PRNGKey(0)
N = 200_000


def test_reparameterize_matches_the_target_gaussian():
    mean, log_var = jnp.array([1.0, -2.0]), jnp.log(jnp.array([0.25, 4.0]))
    z = jax.jit(jax.vmap(lambda k: sampling.reparameterize(k, mean, log_var)))(
        jax.random.split(KEY, N)
    )
    np.testing.assert_allclose(z.mean(0), mean, atol=0.02)
    np.testing.assert_allclose(z.var(0), jnp.exp(log_var), rtol=0.02)


def test_reparameterized_gradient_equals_the_analytic_one():
    # E[z^2] for z ~ N(mu, sigma^2) is mu^2 + sigma^2: d/dmu = 2 mu, d/dlog_var = sigma^2.
    mu, log_var = jnp.array(0.7), jnp.array(np.log(0.5))

    def mc_objective(mu, log_var, key):
        z = sampling.reparameterize(key, jnp.full((N,), mu), jnp.full((N,), log_var))
        return jnp.mean(z**2)

    g_mu, g_lv = jax.jit(jax.grad(mc_objective, argnums=(0, 1)))(mu, log_var, KEY)
    np.testing.assert_allclose(g_mu, 2 * mu, rtol=0.02)
    np.testing.assert_allclose(g_lv, jnp.exp(log_var), rtol=0.02)


@pytest.mark.parametrize(
    "kind,cdf", [("uniform", stats.uniform(-1, 2).cdf), ("gaussian", stats.norm.cdf)]
)
def test_gan_noise_distributions(kind, cdf):
    z = np.asarray(jax.jit(sampling.gan_noise, static_argnums=(1, 2))(KEY, (20_000,), kind))
    assert stats.kstest(z, cdf).pvalue > 1e-3


def test_inverse_transform_gives_the_target_distribution():
    rate = 2.0
    x = sampling.inverse_transform(KEY, lambda u: -jnp.log1p(-u) / rate, (20_000,))
    assert stats.kstest(np.asarray(x), stats.expon(scale=1 / rate).cdf).pvalue > 1e-3


def test_inverse_cdf_from_a_tabulated_density():
    grid = jnp.linspace(-8, 8, 4001)
    density = 0.5 * stats.norm.pdf(grid, -2, 0.5) + 0.5 * stats.norm.pdf(grid, 3, 1.0)
    x = sampling.inverse_transform(KEY, sampling.inverse_cdf_from_density(grid, density), (20_000,))
    target = lambda t: 0.5 * stats.norm.cdf(t, -2, 0.5) + 0.5 * stats.norm.cdf(t, 3, 1.0)
    assert stats.kstest(np.asarray(x), target).pvalue > 1e-3


def test_bernoulli_binarize_rate():
    x = jnp.full((100_000,), 0.3)
    b = sampling.bernoulli_binarize(KEY, x)
    assert set(np.unique(b)) <= {0.0, 1.0}
    np.testing.assert_allclose(b.mean(), 0.3, atol=0.01)


def test_prior_sample_shape_and_moments():
    z = sampling.prior_sample(KEY, 50_000, 3)
    chex.assert_shape(z, (50_000, 3))
    np.testing.assert_allclose(np.cov(np.asarray(z).T), np.eye(3), atol=0.03)


@pytest.mark.parametrize("fn", [sampling.lerp, sampling.slerp])
def test_interpolation_endpoints(fn):
    z0, z1 = jax.random.normal(KEY, (2, 8))
    path = jax.jit(fn)(z0, z1, jnp.linspace(0, 1, 5))
    chex.assert_shape(path, (5, 8))
    np.testing.assert_allclose(path[0], z0, atol=1e-5)
    np.testing.assert_allclose(path[-1], z1, atol=1e-5)


def test_slerp_stays_on_the_sphere():
    z0, z1 = jax.random.normal(KEY, (2, 16))
    z1 = z1 / jnp.linalg.norm(z1) * jnp.linalg.norm(z0)
    norms = jnp.linalg.norm(sampling.slerp(z0, z1, jnp.linspace(0, 1, 11)), axis=-1)
    np.testing.assert_allclose(norms, jnp.linalg.norm(z0), rtol=1e-5)
    # lerp cuts through the ball: the midpoint is shorter.
    assert jnp.linalg.norm(sampling.lerp(z0, z1, jnp.array([0.5]))[0]) < norms[5]


def test_slerp_of_parallel_vectors_falls_back_to_lerp():
    z0 = jnp.ones(4)
    np.testing.assert_allclose(sampling.slerp(z0, 2 * z0, jnp.array([0.5]))[0], 1.5 * z0, rtol=1e-5)


def test_named_keys_differ_and_are_stable():
    a, b = sampling.named_key(KEY, "dropout"), sampling.named_key(KEY, "noise")
    assert not np.array_equal(a, b)
    np.testing.assert_array_equal(a, sampling.named_key(KEY, "dropout"))


def test_batched_and_per_seed_sampling_thread_their_keys():
    """Batch i draws with fold_in(key, i); seed s with fold_in(key, s); both match a direct
    call with that key, whatever the batching."""
    f = lambda state, key, n: jax.random.normal(key, (n, 3)) * state  # noqa: E731
    key = jax.random.PRNGKey(7)
    got = sampling.sample_in_batches(f, 2.0, key, 5, batch=2)
    want = [f(2.0, jax.random.fold_in(key, i), n) for i, n in enumerate((2, 2, 1))]
    np.testing.assert_allclose(got, np.concatenate(want), rtol=1e-6)
    states = jnp.array([1.0, -1.0])
    per_seed = jax.jit(lambda s, k: sampling.sample_per_seed(f, s, k, 4))(states, key)
    chex.assert_shape(per_seed, (2, 4, 3))
    for s in range(2):
        np.testing.assert_allclose(
            per_seed[s], f(states[s], jax.random.fold_in(key, s), 4), rtol=1e-6
        )
