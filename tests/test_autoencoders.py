"""The autoencoder family's regularizers, noise models and metrics against references."""

from __future__ import annotations

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxgen import corruption, regularizers
from jaxgen.errors import ConfigError
from jaxgen.evaluation import linear_probe, metrics
from jaxgen.families import autoencoder

# -- regularizers ------------------------------------------------------------------------


@pytest.mark.parametrize("d,k,b", [(5, 3, 4), (20, 7, 16)])
def test_contractive_matches_sigmoid_closed_form(d, k, b):
    kw, kb, kx = jax.random.split(jax.random.PRNGKey(d * k), 3)
    w = jax.random.normal(kw, (d, k))
    bias = jax.random.normal(kb, (k,))
    x = jax.random.normal(kx, (b, d))
    exact = jax.jit(
        lambda x: regularizers.jacobian_frobenius_sq(lambda v: jax.nn.sigmoid(v @ w + bias), x)
    )(x)
    closed = regularizers.sigmoid_layer_jacobian_frobenius_sq(w, bias, x)
    chex.assert_shape(exact, (b,))
    np.testing.assert_allclose(exact, closed, rtol=1e-5)
    # And against a NumPy computation of the same closed form.
    h = 1 / (1 + np.exp(-(np.asarray(x) @ np.asarray(w) + np.asarray(bias))))
    ref = ((h * (1 - h)) ** 2 * (np.asarray(w) ** 2).sum(0)).sum(-1)
    np.testing.assert_allclose(exact, ref, rtol=1e-4)


def test_contractive_on_image_batch_per_example():
    """Per-example Jacobians: one example's value does not depend on the rest of the batch."""
    w = jax.random.normal(jax.random.PRNGKey(0), (12, 4))

    def f(v):
        return jnp.tanh(v.reshape(v.shape[0], -1) @ w)

    x = jax.random.uniform(jax.random.PRNGKey(1), (6, 2, 3, 2))
    full = regularizers.jacobian_frobenius_sq(f, x)
    single = jnp.stack([regularizers.jacobian_frobenius_sq(f, x[i : i + 1])[0] for i in range(6)])
    np.testing.assert_allclose(full, single, rtol=1e-6)


@pytest.mark.parametrize("rho", [0.05, 0.2])
def test_kl_sparsity_matches_numpy(rho):
    z = np.asarray(jax.nn.sigmoid(jax.random.normal(jax.random.PRNGKey(3), (32, 10)) * 2))
    rho_hat = z.mean(0)
    ref = np.sum(rho * np.log(rho / rho_hat) + (1 - rho) * np.log((1 - rho) / (1 - rho_hat)))
    got = jax.jit(regularizers.kl_sparsity, static_argnums=1)(jnp.asarray(z), rho)
    np.testing.assert_allclose(got, ref, rtol=1e-5)
    # Zero exactly when every unit fires at the target rate.
    np.testing.assert_allclose(regularizers.kl_sparsity(jnp.full((4, 3), rho), rho), 0, atol=1e-6)


def test_l1_code_matches_numpy():
    z = np.random.default_rng(0).normal(size=(8, 5)).astype(np.float32)
    np.testing.assert_allclose(regularizers.l1_code(jnp.asarray(z)), np.abs(z).sum(1), rtol=1e-6)


def test_code_stats_sparsity():
    z = jnp.concatenate([jnp.zeros((4, 6)), jnp.ones((4, 2))], axis=1)  # 6 of 8 silent
    s = regularizers.code_stats(z)
    np.testing.assert_allclose(s["code_frac_near_zero"], 0.75)
    # One active unit of 8 is maximally sparse (Hoyer 1); all equal is 0.
    one_hot = jnp.eye(8)[:3]
    np.testing.assert_allclose(regularizers.code_stats(one_hot)["code_hoyer"], 1.0, atol=1e-5)
    np.testing.assert_allclose(
        regularizers.code_stats(jnp.ones((2, 8)))["code_hoyer"], 0, atol=1e-5
    )


# -- corruption ----------------------------------------------------------------------------


def test_gaussian_noise_statistics():
    x = jnp.full((200, 28, 28, 1), 0.5)
    key = jax.random.PRNGKey(0)
    noisy = jax.jit(lambda k, x: corruption.gaussian(k, x, 0.2, clip=False))(key, x)
    np.testing.assert_allclose(jnp.mean(noisy - x), 0.0, atol=2e-3)
    np.testing.assert_allclose(jnp.std(noisy - x), 0.2, rtol=1e-2)
    clipped = corruption.corrupt(key, x, "gaussian", 2.0)
    assert float(clipped.min()) >= 0.0 and float(clipped.max()) <= 1.0


@pytest.mark.parametrize("rate", [0.1, 0.5])
def test_masking_statistics(rate):
    x = jnp.full((100, 784), 0.7)
    noisy = jax.jit(corruption.masking, static_argnums=2)(jax.random.PRNGKey(1), x, rate)
    zeroed = np.asarray(noisy == 0)
    np.testing.assert_allclose(zeroed.mean(), rate, atol=0.01)
    np.testing.assert_array_equal(
        np.asarray(noisy)[~zeroed], np.float32(0.7)
    )  # Survivors untouched.


@pytest.mark.parametrize("rate", [0.1, 0.3])
def test_salt_and_pepper_statistics(rate):
    x = jnp.full((100, 784), 0.5)
    noisy = np.asarray(corruption.salt_and_pepper(jax.random.PRNGKey(2), x, rate))
    hit = noisy != 0.5
    np.testing.assert_allclose(hit.mean(), rate, atol=0.01)
    np.testing.assert_allclose((noisy[hit] == 1).mean(), 0.5, atol=0.03)  # Salt vs pepper.
    assert set(np.unique(noisy[hit])) <= {0.0, 1.0}


def test_corruption_is_keyed():
    x = jnp.full((4, 10), 0.5)
    k1, k2 = jax.random.PRNGKey(0), jax.random.PRNGKey(1)
    for kind in ("gaussian", "masking", "salt_and_pepper"):
        a, b, c = (corruption.corrupt(k, x, kind, 0.3) for k in (k1, k1, k2))
        np.testing.assert_array_equal(a, b)
        assert not np.array_equal(a, c)


# -- metrics -------------------------------------------------------------------------------


@pytest.mark.parametrize("n,ties", [(50, False), (300, True), (7, True)])
def test_auroc_matches_pair_count(n, ties):
    rng = np.random.default_rng(n)
    labels = rng.random(n) < 0.3
    labels[:2] = [True, False]
    scores = rng.normal(size=n) + labels
    if ties:
        scores = np.round(scores, 0)  # Many ties: their pairs count one half.
    got = jax.jit(metrics.auroc)(jnp.asarray(scores), jnp.asarray(labels))
    np.testing.assert_allclose(got, metrics.auroc_pairs(scores, labels), rtol=1e-5)


def test_auroc_extremes_and_vmap():
    labels = jnp.array([0, 0, 1, 1])
    np.testing.assert_allclose(metrics.auroc(jnp.array([0.1, 0.2, 0.3, 0.4]), labels), 1.0)
    np.testing.assert_allclose(metrics.auroc(jnp.array([0.4, 0.3, 0.2, 0.1]), labels), 0.0)
    np.testing.assert_allclose(metrics.auroc(jnp.ones(4), labels), 0.5)
    scores = jnp.stack([jnp.array([0.1, 0.2, 0.3, 0.4]), jnp.array([0.4, 0.3, 0.2, 0.1])])
    np.testing.assert_allclose(jax.vmap(metrics.auroc, (0, None))(scores, labels), [1.0, 0.0])


def test_psnr():
    x = jnp.zeros((2, 4, 4, 1))
    y = x + jnp.array([0.1, 0.01]).reshape(2, 1, 1, 1)
    np.testing.assert_allclose(metrics.psnr(x, y), [20.0, 40.0], rtol=1e-5)
    np.testing.assert_allclose(metrics.psnr_from_mse(jnp.array(1e-3)), 30.0, rtol=1e-6)


def test_linear_probe_separates_blobs():
    rng = np.random.default_rng(0)
    centers = rng.normal(size=(3, 5)) * 4
    y = rng.integers(0, 3, 600)
    x = centers[y] + rng.normal(size=(600, 5))
    res = linear_probe.fit(
        x[:400], y[:400], x[400:], y[400:], jax.random.PRNGKey(0), num_classes=3, steps=200
    )
    assert res.test_accuracy > 0.95
    np.testing.assert_array_equal(res.predict(x[400:]).shape, (200,))


# -- the family ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "overrides,match",
    [
        ({"kind": "sparse", "sparsity_kl": 0.0}, "sparsity"),
        ({"kind": "sparse", "code_activation": "relu"}, "sigmoid"),
        ({"kind": "contractive", "contractive_weight": 0.0}, "contractive_weight"),
        ({"kind": "denoising", "corruption": "blur"}, "corruption"),
        ({"kind": "denoising", "corruption": "masking", "corruption_level": 1.5}, "rate"),
        ({"arch": "rnn"}, "model.arch"),
    ],
)
def test_bad_model_configs_raise(overrides, match):
    with pytest.raises(ConfigError, match=match):
        autoencoder.make_family(autoencoder.config("mnist", **overrides))


def test_unknown_kind_raises():
    with pytest.raises(ConfigError, match="kind"):
        autoencoder.config("mnist", kind="variational")


@pytest.mark.parametrize(
    "kind,arch",
    [(k, "mlp") for k in autoencoder.KINDS]
    + [("contractive", "conv"), ("denoising", "conv"), ("vq", "conv")],
)
def test_every_kind_steps_under_jit(kind, arch):
    vq = {"vq_dim": 3, "codebook_size": 4} if kind == "vq" else {}
    cfg = autoencoder.config("mnist", kind=kind, arch=arch, code_size=6, hidden_size=16, **vq)
    cfg.model.conv_features = (4, 8)
    fam = autoencoder.make_family(cfg)
    batch = {"x": jax.random.uniform(jax.random.PRNGKey(0), (4, 8, 8, 1))}
    state = fam.init(jax.random.PRNGKey(1), batch)
    new, m = jax.jit(fam.train_step)(state, batch, jax.random.PRNGKey(2))
    for v in m.values():
        chex.assert_shape(v, ())
        assert np.isfinite(v)
    ev = jax.jit(fam.eval_step)(new, batch, jax.random.PRNGKey(3))
    for v in ev.values():
        chex.assert_shape(v, (4,))
    chex.assert_shape(fam.reconstruct(new, batch["x"]), (4, 8, 8, 1))
    chex.assert_shape(fam.encode(new, batch["x"]), (4, 6))


def test_contractive_penalty_equals_jacobian_norm_of_the_encoder():
    """The family's penalty term is the exact mean ||J||_F^2 of its encoder."""
    cfg = autoencoder.config("mnist", kind="contractive", code_size=3, hidden_size=8)
    cfg.model.num_layers = 0  # Encoder = one sigmoid layer: the closed form applies.
    fam = autoencoder.make_family(cfg)
    x = jax.random.uniform(jax.random.PRNGKey(0), (5, 4, 4, 1))
    state = fam.init(jax.random.PRNGKey(1), {"x": x})
    _, aux = fam.loss(state.params, state.apply_fn, {"x": x}, jax.random.PRNGKey(2))
    dense = state.params["encoder"]["dense_0"]
    closed = regularizers.sigmoid_layer_jacobian_frobenius_sq(
        dense["kernel"], dense["bias"], x.reshape(5, -1)
    )
    np.testing.assert_allclose(aux["jacobian_fro2"], closed.mean(), rtol=1e-5)
