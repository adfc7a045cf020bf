"""Class-conditional VAE and GAN (`model.num_classes`): the label's encoding, the packed
gradient penalty, training on labelled blobs until samples land in the requested class, and
the public API through `load_run`."""

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jaxgen
from jaxgen import data as data_lib
from jaxgen.errors import ConfigError
from jaxgen.families import gan, vae
from jaxgen.models.conditioning import balanced_labels, with_label
from jaxgen.train import train


def test_with_label_appends_one_hot_to_vectors_and_as_channels_to_images():
    y = jnp.array([2, 0])
    v = with_label(jnp.ones((2, 3)), y, 4)
    np.testing.assert_array_equal(v, [[1, 1, 1, 0, 0, 1, 0], [1, 1, 1, 1, 0, 0, 0]])
    img = with_label(jnp.zeros((2, 5, 5, 1)), y, 4)
    chex.assert_shape(img, (2, 5, 5, 5))
    np.testing.assert_array_equal(img[0, 3, 1], [0, 0, 0, 1, 0])  # same at every position
    np.testing.assert_array_equal(img[1, 0, 4], [0, 1, 0, 0, 0])
    np.testing.assert_array_equal(balanced_labels(7, 3), [0, 1, 2, 0, 1, 2, 0])


@pytest.mark.parametrize("kind", ["r1", "gp"])
def test_grouped_penalty_equals_the_penalty_on_packs(kind):
    """A critic of packs of 2 examples: penalising it through the unpacked examples (group=2)
    is the penalty of the packed critic at the packs, as PacGAN with a penalty needs."""
    w = jax.random.normal(jax.random.PRNGKey(0), (6,))
    packed = lambda p: jnp.tanh(p @ w) + 0.5 * jnp.sum(p**2, axis=1)  # noqa: E731
    real = jax.random.normal(jax.random.PRNGKey(1), (8, 3))
    fake = jax.random.normal(jax.random.PRNGKey(2), (8, 3))
    key = jax.random.PRNGKey(3)
    on_packs = gan.gradient_penalty(
        packed, gan.make_packs(real, 2), gan.make_packs(fake, 2), kind, key
    )
    grouped = gan.gradient_penalty(
        lambda x: packed(gan.make_packs(x, 2)), real, fake, kind, key, group=2
    )
    np.testing.assert_allclose(grouped, on_packs, rtol=1e-5)


def _blobs(family_config, **model):
    c = family_config("blobs", num_classes=4, **model)
    c.dataset.num_points = 4000
    c.train.batch_size = 64
    c.train.progress = False
    return c


def _requested_class_share(run, splits) -> float:
    """Share of samples asked for class c whose nearest class mean (of the data) is c."""
    x, y = splits.train["x"], splits.train["y"]
    means = np.stack([x[y == c].mean(0) for c in range(4)])
    labels = balanced_labels(400, 4)
    s = np.asarray(run.sample(jax.random.PRNGKey(7), 400, labels))
    nearest = np.argmin(((s[:, None, :] - means[None]) ** 2).sum(-1), axis=1)
    return float((nearest == np.asarray(labels)).mean())


@pytest.mark.parametrize("kind", ["vae", "gan"])
def test_conditional_models_sample_the_requested_class_through_load_run(tmp_path, kind):
    if kind == "vae":
        c = _blobs(vae.config, latent_dim=2, hidden_sizes=(32,), report_nll_k=0)
        c.train.num_epochs = 3
    else:
        c = _blobs(gan.config, latent_dim=4, noise="gaussian", g_hidden=(32,), d_hidden=(32,))
        c.model.g_out = "sigmoid"
        c.optimizer.lr = c.d_optimizer.lr = 2e-3
        c.train.num_epochs = 5
    splits = data_lib.load(c.dataset)
    train(c, tmp_path, splits=splits)
    run = jaxgen.load_run(tmp_path, splits=splits)
    assert _requested_class_share(run, splits) > 0.85  # chance: 0.25
    sevens = run.sample(jax.random.PRNGKey(0), 5, jnp.full(5, 3))
    chex.assert_shape(sevens, (5, 10))
    if kind == "vae":  # encode/decode/reconstruct take the labels too
        x, y = jnp.asarray(splits.test["x"][:6]), jnp.asarray(splits.test["y"][:6])
        chex.assert_shape(run.reconstruct(x, y), (6, 10))
        chex.assert_shape(run.elbo(x, jax.random.PRNGKey(1), y), (6,))
    else:
        chex.assert_shape(run.discriminate(sevens, jnp.full(5, 3)), (5,))


def test_conv_conditional_gan_step_under_jit_with_packs_and_a_penalty():
    c = gan.config(
        "mnist", arch="conv", latent_dim=3, num_classes=10, pack=2, penalty="r1",
        penalty_weight=1.0, d_steps=2, conv_g_features=(8, 4), conv_g_start=8,
        conv_d_features=(4, 8), g_out="sigmoid",
    )  # fmt: skip
    c.train.batch_size = 8
    fam = gan.make_family(c)
    key = jax.random.PRNGKey(0)
    batch = {"x": jax.random.uniform(key, (8, 28, 28, 1)), "y": jnp.arange(8) % 10}
    state = fam.init(key, batch)
    new, metrics = jax.jit(fam.train_step)(state, batch, key)
    assert np.isfinite(metrics["penalty"]) and float(metrics["penalty"]) > 0
    chex.assert_trees_all_equal_shapes(fam.params_for_eval(state), fam.params_for_eval(new))
    chex.assert_shape(fam.sample(new, key, 3, jnp.array([1, 2, 3])), (3, 28, 28, 1))


@pytest.mark.parametrize("module", [vae, gan])
def test_conditional_config_errors(module):
    with pytest.raises(ConfigError, match="num_classes"):
        module.make_family(module.config("blobs", num_classes=-1))
    fam = module.make_family(module.config("ferris_wheel", num_classes=2))  # no labels
    with pytest.raises(ConfigError, match="needs labeled data"):
        fam.init(jax.random.PRNGKey(0), {"x": jnp.zeros((2, 10))})


def test_plain_vae_on_a_vector_dataset_reports_its_nll_without_image_figures(tmp_path):
    c = vae.config("blobs", latent_dim=2, hidden_sizes=(16,), report_nll_k=4)
    c.dataset.num_points = 600
    c.train.batch_size = 64
    c.train.num_epochs = 1
    c.train.progress = False
    res = train(c, tmp_path)
    nll = [v for k, v in res.summary["report"].items() if k.startswith("test_nll")]
    assert len(nll) == 1 and np.isfinite(nll[0])
    assert not (tmp_path / "figures" / "samples.png").exists()
