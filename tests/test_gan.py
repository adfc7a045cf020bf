"""The GAN family: losses against hand-computed values, one jitted step with k D updates,
shapes under jit, a tiny 1-D GAN that moves toward its target and resumes exactly."""

from __future__ import annotations

import dataclasses
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
from jaxgen.models.gan import MLPDiscriminator
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


def test_wasserstein_losses_by_hand():
    # The critic's loss E f(fake) - E f(real); the generator's -E f(fake).
    np.testing.assert_allclose(
        gan.discriminator_loss(REAL, FAKE, "wasserstein"),
        -0.5 * math.log(3.0) - 0.5 * math.log(3.0),
        rtol=1e-6,
    )
    np.testing.assert_allclose(gan.generator_loss(FAKE, "wasserstein"), 0.5 * math.log(3.0))


def test_packs_group_samples_along_features_or_channels():
    x = jnp.arange(12.0).reshape(6, 2)
    packs = gan.make_packs(x, 3)
    np.testing.assert_array_equal(packs, [[0, 1, 2, 3, 4, 5], [6, 7, 8, 9, 10, 11]])
    cyc = gan.make_packs(x, 2, cyclic=True)  # pack i = samples i and i + 1 (mod 6)
    chex.assert_shape(cyc, (6, 4))
    np.testing.assert_array_equal(cyc[5], [10, 11, 0, 1])
    imgs = jax.random.normal(jax.random.PRNGKey(0), (4, 5, 5, 2))
    p = gan.make_packs(imgs, 2)
    chex.assert_shape(p, (2, 5, 5, 4))
    np.testing.assert_array_equal(p[1, ..., 2:], imgs[3])  # second sample's channels
    assert gan.make_packs(x, 1) is x


@pytest.mark.parametrize("kind", ["r1", "r2", "gp"])
def test_gradient_penalties_by_hand(kind):
    """f(x) = w.x + 1/2 ||x||^2 has gradient w + x: each penalty is a closed form."""
    w = jnp.array([3.0, -4.0])
    critic = lambda x: x @ w + 0.5 * jnp.sum(x**2, axis=1)  # noqa: E731
    real = jnp.array([[0.0, 0.0], [1.0, 2.0]])
    fake = jnp.array([[-3.0, 4.0], [0.5, 0.5]])
    key = jax.random.PRNGKey(0)
    got = gan.gradient_penalty(critic, real, fake, kind, key)
    if kind == "gp":
        e = jax.random.uniform(key, (2, 1))
        at = e * real + (1 - e) * fake
        want = np.mean((np.linalg.norm(w + at, axis=1) - 1.0) ** 2)
    else:
        at = real if kind == "r1" else fake
        want = 0.5 * np.mean(np.sum((w + at) ** 2, axis=1))
    np.testing.assert_allclose(got, want, rtol=1e-5)
    assert float(gan.gradient_penalty(critic, real, fake, "none")) == 0.0
    if kind == "gp":  # its interpolation points are random: no key is one clear error
        with pytest.raises(ValueError, match="pass a key"):
            gan.gradient_penalty(critic, real, fake, kind)


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
    "arch, shape, d_steps, noise, remedy",
    [
        ("mlp", (1,), 1, "uniform", {}),
        ("mlp", (2,), 3, "gaussian", {"pack": 2, "penalty": "r1", "penalty_weight": 1.0}),
        ("mlp", (2,), 1, "gaussian", {"loss": "wasserstein", "penalty": "gp"}),
        ("conv", (28, 28, 1), 2, "gaussian", {"pack": 3}),
        ("mlp", (2,), 1, "gaussian", {"pack": 4, "d_activation": "maxout", "d_maxout_pieces": 3}),
    ],
)
def test_train_step_shapes_under_jit_and_k_discriminator_updates(
    arch, shape, d_steps, noise, remedy
):
    if remedy.get("penalty") == "gp":
        remedy = {**remedy, "penalty_weight": 0.1}
    c = _tiny_config(arch=arch, d_steps=d_steps, noise=noise, latent_dim=3, **remedy)
    if arch == "conv":
        c.model.conv_g_features, c.model.conv_g_start, c.model.conv_d_features = (8, 4), 8, (4, 8)
        c.model.g_out = "sigmoid"
    c.train.batch_size = 6 * c.model.pack
    fam = gan.make_family(c)
    batch = {"x": jax.random.uniform(jax.random.PRNGKey(0), (c.train.batch_size, *shape))}
    state = fam.init(jax.random.PRNGKey(1), batch)  # eager: no compile needed
    new, metrics = jax.jit(fam.train_step)(state, batch, jax.random.PRNGKey(2))
    chex.assert_trees_all_equal_shapes(fam.params_for_eval(state), fam.params_for_eval(new))
    assert int(new["d"].step) == d_steps and int(new["g"].step) == 1
    for k in ("loss", "grad_norm", "g_loss", "d_loss", "d_real", "d_fake", "error", "penalty"):
        chex.assert_shape(metrics[k], ())
        assert np.isfinite(metrics[k])
    samples = jax.jit(fam.sample, static_argnums=2)(new, jax.random.PRNGKey(3), 5)
    chex.assert_shape(samples, (5, *shape))
    if arch == "mlp":  # (Compiling the conv players twice more would cost ~10 s.)
        n = c.train.batch_size
        per_example = jax.jit(fam.eval_step)(new, batch, jax.random.PRNGKey(4))
        for v in per_example.values():
            chex.assert_shape(v, (n,))
        chex.assert_shape(fam.discriminate(new, batch["x"]), (n,))
        chex.assert_shape(fam.discriminate(new, batch["x"][:5]), (5,))  # any N, packed or not


def test_lazy_penalty_is_k_times_the_penalty_on_every_kth_d_update_and_zero_between():
    """`penalty_every` = 3 with 3 D updates a step: update 0 pays 3 x R1, updates 1, 2 none."""
    c = _tiny_config(latent_dim=2, noise="gaussian", d_steps=3, penalty="r1", penalty_weight=1.0)
    c.train.batch_size = 12
    batch = {"x": jax.random.normal(jax.random.PRNGKey(0), (12, 1))}
    every = {}
    for k in (1, 3):
        c.model.penalty_every = k
        fam = gan.make_family(c)
        state = fam.init(jax.random.PRNGKey(1), batch)
        _, metrics = jax.jit(fam.train_step)(state, batch, jax.random.PRNGKey(2))
        every[k] = float(metrics["penalty"])  # mean over the 3 D updates
    # Update 0 is identical in both runs; the eager run's mean over three updates differs
    # from three times update 0's alone, so compare update 0 through a one-update step.
    c.model.d_steps, c.train.batch_size, c.model.penalty_every = 1, 4, 1
    fam = gan.make_family(c)
    first = {"x": batch["x"][:4]}
    _, m1 = jax.jit(fam.train_step)(
        fam.init(jax.random.PRNGKey(1), first), first, jax.random.PRNGKey(2)
    )
    assert float(m1["penalty"]) > 0
    np.testing.assert_allclose(every[3], float(m1["penalty"]), rtol=1e-5)  # 3 x p0 / 3
    assert every[1] != pytest.approx(every[3])
    with pytest.raises(ConfigError, match="penalty_every"):
        c.model.penalty_every = 0
        gan.make_family(c)


def test_generator_moving_average_is_the_ema_of_g_and_samples_from_it():
    c = _tiny_config(dataset="ring8", latent_dim=2, noise="gaussian", g_ema=0.9)
    fam = gan.make_family(c)
    batch = {"x": jax.random.normal(jax.random.PRNGKey(0), (64, 2))}
    state = fam.init(jax.random.PRNGKey(1), batch)
    chex.assert_trees_all_equal(state["g_ema"], state["g"].params)
    step = jax.jit(fam.train_step)
    s1, _ = step(state, batch, jax.random.PRNGKey(2))
    s2, _ = step(s1, batch, jax.random.PRNGKey(3))
    want = jax.tree.map(
        lambda e0, p1, p2: 0.9 * (0.9 * e0 + 0.1 * p1) + 0.1 * p2,
        state["g_ema"],
        s1["g"].params,
        s2["g"].params,
    )
    chex.assert_trees_all_close(s2["g_ema"], want, rtol=1e-5, atol=1e-7)
    z = fam.noise(jax.random.PRNGKey(4), 3)
    by_ema = s2["g"].apply_fn({"params": s2["g_ema"]}, z)
    chex.assert_trees_all_close(fam.generate(s2, z), by_ema)
    assert not np.allclose(fam.generate(s2, z), s2["g"].apply_fn({"params": s2["g"].params}, z))


def test_x_scale_scales_the_generator_and_unscales_the_discriminator():
    batch = {"x": jax.random.normal(jax.random.PRNGKey(0), (8, 2))}
    fams = [gan.make_family(_tiny_config("ring8", latent_dim=2, x_scale=s)) for s in (1.0, 4.0)]
    states = [f.init(jax.random.PRNGKey(1), batch) for f in fams]  # same weights
    z = fams[0].noise(jax.random.PRNGKey(2), 5)
    np.testing.assert_allclose(
        fams[1].generate(states[1], z), 4.0 * fams[0].generate(states[0], z), rtol=1e-6
    )
    np.testing.assert_allclose(
        fams[1].discriminate(states[1], 4.0 * batch["x"]),
        fams[0].discriminate(states[0], batch["x"]),
        rtol=1e-5,
    )


def test_maxout_discriminator_takes_the_max_of_its_pieces_by_hand():
    d = MLPDiscriminator((4, 3), "maxout", pieces=2)
    x = jax.random.normal(jax.random.PRNGKey(0), (5, 2, 3))
    params = d.init(jax.random.PRNGKey(1), x)["params"]
    h = np.asarray(x).reshape(5, 6)
    for i, units in enumerate((4, 3)):
        layer = params[f"dense_{i}"]
        pieces = h @ np.asarray(layer["kernel"]) + np.asarray(layer["bias"])
        h = pieces.reshape(5, units, 2).max(axis=-1)
    out = params["dense_2"]
    by_hand = (h @ np.asarray(out["kernel"]) + np.asarray(out["bias"]))[:, 0]
    np.testing.assert_allclose(jax.jit(d.apply)({"params": params}, x), by_hand, rtol=1e-5)


def test_bad_configs_fail_with_config_errors():
    with pytest.raises(ConfigError, match="divisible"):
        gan.make_family(_tiny_config(d_steps=3))  # batch 64 is not a multiple of 3
    with pytest.raises(ConfigError, match="model.loss"):
        gan.make_family(_tiny_config(loss="hinge"))
    with pytest.raises(ConfigError, match="model.pack"):
        gan.make_family(_tiny_config(pack=3))  # 64 examples do not split into packs of 3
    with pytest.raises(ConfigError, match="needs a weight"):
        gan.make_family(_tiny_config(penalty="r1"))
    with pytest.raises(ConfigError, match="model.x_scale"):
        gan.make_family(_tiny_config(x_scale=0.0))
    with pytest.raises(ConfigError, match="model.g_ema"):
        gan.make_family(_tiny_config(g_ema=1.0))
    with pytest.raises(ConfigError, match="model.penalty"):
        gan.make_family(_tiny_config(penalty="r3", penalty_weight=1.0))
    with pytest.raises(ConfigError, match="maxout"):
        gan.make_family(_tiny_config(arch="conv", d_activation="maxout"))


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


def test_tiny_gan_with_r1_covers_both_modes_of_a_two_mode_mixture(tmp_path):
    """Two Gaussians at (+-1, 0): every seed puts a real share of its samples on each mode."""
    from jaxgen.evaluation.modes import mode_coverage

    c = gan.config(
        "ring8",
        latent_dim=2,
        noise="gaussian",
        g_hidden=(32, 32),
        d_hidden=(32, 32),
        penalty="r1",
        penalty_weight=0.1,
    )
    c.dataset.update(means=((-1.0, 0.0), (1.0, 0.0)), stds=(0.1,), weights=(0.5, 0.5))
    c.dataset.num_points = 5000
    c.num_seeds = 2
    c.train.update(batch_size=128, num_epochs=10, progress=False, eval_every_epochs=1000)
    c.optimizer.lr = c.d_optimizer.lr = 3e-3
    c.optimizer.schedule = c.d_optimizer.schedule = "cosine"
    c.lock()
    splits = data_lib.load(c.dataset)
    res = train(c, tmp_path / "two_modes", splits=splits)
    for s in range(c.num_seeds):
        x = np.asarray(res.family.sample(res.seed_state(s), jax.random.PRNGKey(s), 1000))
        cov = mode_coverage(x, splits.info["means"], splits.info["stds"])
        share = cov["counts"] / len(x)
        assert cov["modes_captured"] == 2 and share.min() > 0.1, (s, share)
    # The report on data with no test split (a user's own) plots the training points instead.
    out = res.family.report(
        res.seed_state(0), dataclasses.replace(splits, test=None), tmp_path, jax.random.PRNGKey(0)
    )
    assert out["modes_captured"] == 2 and (tmp_path / "figures" / "samples.png").is_file()


def test_wgan_gp_run_keeps_its_critic_near_1_lipschitz_and_works_through_load_run(tmp_path):
    """WGAN-GP (5 critic steps, lambda 10): after training, the critic's gradient norm at
    interpolates of real and fake points is near 1, which is what the penalty asks for;
    the trained run's public API works through `load_run`."""
    import jaxgen

    c = _tiny_config(
        "ring8", loss="wasserstein", penalty="gp", penalty_weight=10.0, d_steps=5, latent_dim=4
    )
    c.train.batch_size = 5 * 32
    c.train.num_epochs = 3
    c.optimizer.lr = c.d_optimizer.lr = 1e-3
    train(c, tmp_path)
    run = jaxgen.load_run(tmp_path)
    x = jnp.asarray(run.load_data().test["x"][:200])
    fake = run.sample(jax.random.PRNGKey(0), 200)
    chex.assert_shape(fake, (200, 2))
    e = jax.random.uniform(jax.random.PRNGKey(1), (200, 1))
    at = e * x + (1 - e) * fake
    critic = lambda v: run.family.discriminate_logits(run.state, v[None])[0]  # noqa: E731
    grads = jax.vmap(jax.grad(critic))(at)
    norms = np.linalg.norm(np.asarray(grads), axis=1)
    assert 0.5 < np.median(norms) < 1.5, np.median(norms)
    z = run.family.noise(jax.random.PRNGKey(2), 7)
    chex.assert_shape(run.generate(z), (7, 2))
