"""The VQ-VAE (`model.kind=vq`): nearest codes, the straight-through estimator, the moving-
average codebook update and dead-code restarts against hand computations; a tiny run whose
loss falls and keeps its codebook in use; the public API through `load_run`."""

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jaxgen
from jaxgen.errors import ConfigError
from jaxgen.families import autoencoder
from jaxgen.models import vq
from jaxgen.train import train


def test_nearest_and_straight_through_by_hand():
    embed = jnp.array([[0.0, 0.0], [1.0, 1.0], [-2.0, 0.0]])
    z = jnp.array([[0.9, 1.2], [-1.4, 0.1], [0.2, -0.1]])
    idx = vq.nearest(z, embed)
    np.testing.assert_array_equal(idx, [1, 2, 0])
    # The value is the code; the gradient of any f(z_q) w.r.t. z is f's gradient at z_q.
    f = lambda v: jnp.sum(jnp.sin(vq.straight_through(v, embed[idx])) * 3.0)  # noqa: E731
    np.testing.assert_allclose(vq.straight_through(z, embed[idx]), embed[idx])
    np.testing.assert_allclose(jax.grad(f)(z), 3.0 * jnp.cos(embed[idx]), rtol=1e-6)
    # The commitment term pulls z towards its code and leaves the code alone.
    g = jax.grad(lambda v: jnp.sum(vq.commitment(v, embed[idx])))(z)
    np.testing.assert_allclose(g, 2.0 * (z - embed[idx]), rtol=1e-6)


def test_ema_update_by_hand():
    book = {
        "embed": jnp.array([[0.0], [10.0]]),
        "count": jnp.array([2.0, 1.0]),
        "sum": jnp.array([[0.0], [10.0]]),
    }
    z = jnp.array([[1.0], [3.0], [9.0]])
    idx = jnp.array([0, 0, 1])
    new = vq.ema_update(book, z, idx, decay=0.5, eps=0.0)
    # N = 0.5 * (2, 1) + 0.5 * (2, 1) = (2, 1); m = 0.5 * (0, 10) + 0.5 * (4, 9) = (2, 9.5).
    np.testing.assert_allclose(new["count"], [2.0, 1.0])
    np.testing.assert_allclose(new["sum"][:, 0], [2.0, 9.5])
    np.testing.assert_allclose(new["embed"][:, 0], [1.0, 9.5])
    # Repeated on the same assignments the codes converge to their clusters' means.
    for _ in range(60):
        book = vq.ema_update(book, z, idx, decay=0.5)
    np.testing.assert_allclose(book["embed"][:, 0], [2.0, 9.0], rtol=1e-4)


def test_dead_codes_restart_on_encoder_outputs_and_perplexity():
    book = vq.init_codebook(jax.random.PRNGKey(0), 4, 3)
    book["count"] = jnp.array([5.0, 0.1, 3.0, 0.0])
    z = jax.random.normal(jax.random.PRNGKey(1), (16, 3)) + 100.0
    new = vq.restart_dead(book, z, jax.random.PRNGKey(2), threshold=1.0)
    np.testing.assert_array_equal(new["embed"][jnp.array([0, 2])], book["embed"][jnp.array([0, 2])])
    for k in (1, 3):  # each dead code now sits on one of the batch's vectors
        assert np.min(np.abs(np.asarray(z) - np.asarray(new["embed"][k])).sum(1)) == 0
    np.testing.assert_allclose(new["count"], [5.0, 1.0, 3.0, 1.0])
    np.testing.assert_allclose(vq.perplexity(jnp.array([0, 1, 2, 3]), 4), 4.0, rtol=1e-6)
    np.testing.assert_allclose(vq.perplexity(jnp.array([2, 2, 2]), 4), 1.0, rtol=1e-6)
    np.testing.assert_allclose(vq.perplexity(jnp.array([0, 0, 1, 1]), 8), 2.0, rtol=1e-6)


def _tiny_vq(**model):
    settings = dict(code_size=16, vq_dim=4, codebook_size=16, hidden_size=64, num_layers=1)
    c = autoencoder.config("mnist", kind="vq", loss="bce", **(settings | model))
    c.dataset.num_train, c.dataset.num_test = 1024, 256
    c.train.batch_size = 64
    c.train.num_epochs = 3
    c.train.progress = False
    c.optimizer.lr = 2e-3
    return c


def test_vq_trains_uses_its_codebook_and_works_through_load_run(tmp_path):
    res = train(_tiny_vq(), tmp_path / "vq")
    run = jaxgen.load_run(tmp_path / "vq")
    rec = [r["reconstruction"] for r in run.metrics() if r["split"] == "train"]
    assert rec[-1] < 0.8 * rec[0]
    summary = res.summary["report"]
    assert summary["bits_per_image"] == 16  # 4 vectors of log2(16) = 4 bits
    assert summary["codes_used"] >= 12 and summary["codebook_perplexity"] > 6
    x = jnp.asarray(res.splits.test["x"][:8])
    idx = run.code_indices(x)
    chex.assert_shape(idx, (8, 4))
    assert idx.dtype.kind == "i" and int(idx.max()) < 16
    z = run.encode(x)
    chex.assert_shape(z, (8, 16))
    # The quantized code is made of codebook vectors, and decoding indices is decoding it.
    book = np.asarray(run.state.codebook["embed"])
    np.testing.assert_allclose(np.asarray(z).reshape(8, 4, 4), book[np.asarray(idx)], rtol=1e-6)
    np.testing.assert_allclose(run.decode_indices(idx), run.reconstruct(x), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize(
    "override",
    [{"vq_dim": 5}, {"codebook_size": 1}, {"vq_decay": 1.0}, {"code_activation": "tanh"}],
)
def test_bad_vq_settings_are_config_errors(override):
    with pytest.raises(ConfigError):
        autoencoder.make_family(_tiny_vq(**override))
