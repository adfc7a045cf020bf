"""The GAN family: losses against hand-computed values, one jitted step with k D updates,
shapes under jit, a tiny 1-D GAN that moves toward its target and resumes exactly."""

from __future__ import annotations

import math

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxgen import data as data_lib
from jaxgen.errors import ConfigError
from jaxgen.evaluation.fid import wasserstein_1d
from jaxgen.families import gan
from jaxgen.train import train

# Logits whose probabilities are easy by hand: sigmoid(0) = 1/2, sigmoid(log 3) = 3/4.
REAL = jnp.array([0.0, math.log(3.0)])  # D(x) = 1/2, 3/4
FAKE = jnp.array([0.0, -math.log(3.0)])  # D(G(z)) = 1/2, 1/4


def test_discriminator_loss_is_minus_v_by_hand():
    # -V = -mean log D(x) - mean log(1 - D(G(z))).
    by_hand = -0.5 * (math.log(1 / 2) + math.log(3 / 4)) - 0.5 * (math.log(1 / 2) + math.log(3 / 4))
    for kind in ("minimax", "non_saturating"):
        np.testing.assert_allclose(gan.discriminator_loss(REAL, FAKE, kind), by_hand, rtol=1e-6)


@pytest.mark.parametrize(
    "kind, by_hand",
    [
        ("minimax", 0.5 * (math.log(1 - 1 / 2) + math.log(1 - 1 / 4))),  # E log(1 - D(G(z)))
        ("non_saturating", -0.5 * (math.log(1 / 2) + math.log(1 / 4))),  # -E log D(G(z))
        ("linear", -0.5 * 0.5 * (1 / 2 + 1 / 4)),  # -(1/2) E D(G(z))
    ],
)
def test_generator_losses_by_hand(kind, by_hand):
    np.testing.assert_allclose(gan.generator_loss(FAKE, kind), by_hand, rtol=1e-6)


def test_lecture_error_by_hand_and_at_equilibrium():
    # E = 1/2 E[1 - D(x)] + 1/2 E[D(G(z))] = 1/2 (1/2 + 1/4)/2 + 1/2 (1/2 + 1/4)/2.
    by_hand = 0.5 * ((1 - 1 / 2) + (1 - 3 / 4)) / 2 + 0.5 * (1 / 2 + 1 / 4) / 2
    np.testing.assert_allclose(gan.lecture_error(REAL, FAKE), by_hand, rtol=1e-6)
    np.testing.assert_allclose(gan.discriminator_loss(REAL, FAKE, "linear"), by_hand, rtol=1e-6)
    # At p_g = p_t the best D says 1/2 everywhere: E = 1/2 and -V = log 4.
    zero = jnp.zeros(5)
    np.testing.assert_allclose(gan.lecture_error(zero, zero), 0.5, rtol=1e-6)
    np.testing.assert_allclose(gan.discriminator_loss(zero, zero, "minimax"), math.log(4), 1e-6)


def test_minimax_saturates_where_non_saturating_does_not():
    """Goodfellow et al.: when D confidently rejects fakes, log(1 - D(G(z))) is flat."""
    rejected = jnp.array([-8.0])  # D(G(z)) = 3e-4
    g_mm = jax.grad(lambda f: gan.generator_loss(f, "minimax"))(rejected)[0]
    g_ns = jax.grad(lambda f: gan.generator_loss(f, "non_saturating"))(rejected)[0]
    assert abs(g_mm) < 1e-3 < 0.9 < abs(g_ns)
    # Same direction: both push the fake logit up (toward "real").
    assert g_mm < 0 and g_ns < 0


def _tiny_config(dataset="gmm1d", **model):
    c = gan.config(dataset, g_hidden=(16, 16), d_hidden=(16, 16), **model)
    c.dataset.num_points = 2000
    c.train.batch_size = 64
    c.train.num_epochs = 2
    c.train.eval_batch_size = 200
    c.train.progress = False
    c.optimizer.lr = c.d_optimizer.lr = 3e-3
    return c


@pytest.mark.parametrize(
    "arch, shape, d_steps, noise",
    [
        ("mlp", (1,), 1, "uniform"),
        ("mlp", (2,), 3, "gaussian"),
        ("conv", (28, 28, 1), 2, "gaussian"),
    ],
)
def test_train_step_shapes_under_jit_and_k_discriminator_updates(arch, shape, d_steps, noise):
    c = _tiny_config(arch=arch, d_steps=d_steps, noise=noise, latent_dim=3)
    if arch == "conv":
        c.model.conv_g_features, c.model.conv_g_start, c.model.conv_d_features = (8, 4), 8, (4, 8)
        c.model.g_out = "sigmoid"
    c.train.batch_size = 6
    fam = gan.make_family(c)
    batch = {"x": jax.random.uniform(jax.random.PRNGKey(0), (6, *shape))}
    state = fam.init(jax.random.PRNGKey(1), batch)  # eager: no compile needed
    new, metrics = jax.jit(fam.train_step)(state, batch, jax.random.PRNGKey(2))
    chex.assert_trees_all_equal_shapes(fam.params_for_eval(state), fam.params_for_eval(new))
    assert int(new["d"].step) == d_steps and int(new["g"].step) == 1
    for k in ("loss", "grad_norm", "g_loss", "d_loss", "d_real", "d_fake", "error"):
        chex.assert_shape(metrics[k], ())
        assert np.isfinite(metrics[k])
    samples = jax.jit(fam.sample, static_argnums=2)(new, jax.random.PRNGKey(3), 5)
    chex.assert_shape(samples, (5, *shape))
    if arch == "mlp":  # (Compiling the conv players twice more would cost ~10 s.)
        per_example = jax.jit(fam.eval_step)(new, batch, jax.random.PRNGKey(4))
        for v in per_example.values():
            chex.assert_shape(v, (6,))
        chex.assert_shape(fam.discriminate(new, batch["x"]), (6,))


def test_bad_configs_fail_with_config_errors():
    with pytest.raises(ConfigError, match="divisible"):
        gan.make_family(_tiny_config(d_steps=3))  # batch 64 is not a multiple of 3
    with pytest.raises(ConfigError, match="model.loss"):
        gan.make_family(_tiny_config(loss="wasserstein"))


def test_tiny_1d_gan_moves_toward_target_and_resumes_exactly(tmp_path):
    c = _tiny_config(latent_dim=1, noise="uniform")
    c.dataset.num_points = 4000  # 3200 train: 50 steps per epoch
    c.train.num_epochs = 6
    c.lock()
    splits = data_lib.load(c.dataset)
    x_test = splits.test["x"][:, 0]
    full = train(c, tmp_path / "full", splits=splits)
    part = train(c, tmp_path / "part", splits=splits, stop_at_step=130)
    assert part.summary["stopped_at_step"] == 130
    resumed = train(c, tmp_path / "part", splits=splits)
    params = full.family.params_for_eval
    chex.assert_trees_all_equal(params(full.state), params(resumed.state))

    fam = full.family
    snaps = gan.snapshot_states(full)
    key = jax.random.PRNGKey(7)

    def w1(state):
        s = fam.sample(jax.tree.map(lambda a: a[0], state), key, len(x_test))
        return wasserstein_1d(np.asarray(s)[:, 0], x_test)

    assert w1(full.state) < 0.5 * w1(snaps[0])
    # Snapshots: the initial state plus the checkpoints the run kept (the last one is final).
    chex.assert_trees_all_equal(params(snaps[max(snaps)]), params(full.state))
