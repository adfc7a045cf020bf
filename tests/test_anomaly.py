"""Anomaly scores (`jaxgen.evaluation.anomaly`) against NumPy references and planted anomalies."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxgen.evaluation import anomaly, metrics
from jaxgen.models import pca as pca_lib


def _planted(seed: int):
    """Normal points near a 3-d subspace of R^20 with large norm; faint anomalies off it."""
    rng = np.random.default_rng(seed)
    basis = np.linalg.qr(rng.normal(size=(20, 3)))[0]
    normal = lambda n: rng.normal(size=(n, 3)) * 5.0 @ basis.T + 0.1 * rng.normal(size=(n, 20))
    train, test_normal = normal(500), normal(200)
    faint = 0.3 * rng.normal(size=(50, 20)) / np.sqrt(20)  # norm ~0.3: little "ink"
    x = np.concatenate([test_normal, faint]).astype(np.float32)
    labels = np.r_[np.zeros(200), np.ones(50)]
    return train.astype(np.float32), x, labels


@pytest.mark.parametrize("seed", [0, 1])
def test_relative_error_ranks_faint_anomalies_first_where_the_error_does_not(seed):
    train, x, labels = _planted(seed)
    pca = pca_lib.fit(jnp.asarray(train), 3)
    x_hat = pca.reconstruct(jnp.asarray(x))
    absolute = metrics.auroc(anomaly.squared_error(jnp.asarray(x), x_hat), jnp.asarray(labels))
    relative = metrics.auroc(anomaly.relative_error(jnp.asarray(x), x_hat), jnp.asarray(labels))
    # A faint anomaly has little to get wrong: its absolute error sits below the normal
    # points' noise, while the share of it left unexplained is nearly all of it.
    assert float(absolute) < 0.5
    assert float(relative) > 0.99
    np.testing.assert_allclose(
        anomaly.relative_error(jnp.asarray(x), x_hat),
        anomaly.squared_error(jnp.asarray(x), x_hat) / anomaly.energy(x),
        rtol=1e-5,
    )


def test_reconstruction_errors_vmaps_the_seed_axis():
    class Scale:  # a "family" whose seed-s state reconstructs x as s * x
        def reconstruct(self, state, x):
            return state * x

    x = np.random.default_rng(0).normal(size=(7, 2, 3)).astype(np.float32)
    states = jnp.asarray([0.0, 1.0, 2.0])
    errs = anomaly.reconstruction_errors(Scale(), states, x, batch_size=3)
    assert errs.shape == (3, 7)
    ref = np.stack([((x - s * x) ** 2).reshape(7, -1).sum(1) for s in (0.0, 1.0, 2.0)])
    np.testing.assert_allclose(errs, ref, rtol=1e-5)


def test_knn_distance_matches_brute_force():
    rng = np.random.default_rng(1)
    train, test = rng.normal(size=(40, 2, 3)), rng.normal(size=(9, 2, 3))
    got = anomaly.knn_distance(jnp.asarray(train, jnp.float32), test.astype(np.float32), 4, 5)
    d = np.linalg.norm(test.reshape(9, 1, -1) - train.reshape(1, 40, -1), axis=2)
    np.testing.assert_allclose(got, np.sort(d, axis=1)[:, :4].mean(1), rtol=1e-4, atol=1e-4)


def test_roc_curve_area_is_the_auroc_with_ties():
    rng = np.random.default_rng(2)
    scores = rng.integers(0, 6, size=300).astype(np.float64)  # many ties
    labels = rng.random(300) < 0.3
    fpr, tpr = anomaly.roc_curve(scores, labels)
    assert fpr[0] == tpr[0] == 0.0 and fpr[-1] == tpr[-1] == 1.0
    assert np.all(np.diff(fpr) >= 0) and np.all(np.diff(tpr) >= 0)
    area = np.trapezoid(tpr, fpr)  # ties are one step: their half-credit is the trapezoid
    assert area == pytest.approx(metrics.auroc_pairs(scores, labels), abs=1e-9)
    assert area == pytest.approx(float(metrics.auroc(jax.numpy.asarray(scores), labels)), abs=1e-5)


def test_synthetic_anomalies_are_the_flips_and_rotations_of_the_normal_images():
    x = np.random.default_rng(3).random((4, 5, 5)).astype(np.float32)
    images, labels = anomaly.synthetic_anomalies(x)
    assert images.shape == (4 * 6, 5, 5) and labels.tolist() == [0] * 4 + [1] * 20
    np.testing.assert_array_equal(images[:4], x)
    expected = [x[:, :, ::-1], x[:, ::-1, :]] + [np.rot90(x, k, axes=(1, 2)) for k in (1, 2, 3)]
    for i, want in enumerate(expected):
        np.testing.assert_array_equal(images[4 * (i + 1) : 4 * (i + 2)], want)
    # rot180 is both flips: the table of transforms is the dihedral group's, not a guess.
    np.testing.assert_array_equal(images[16:20], x[:, ::-1, ::-1])
    with pytest.raises(ValueError, match="unknown transforms"):
        anomaly.synthetic_anomalies(x, ("shear",))


def test_synthetic_anomalies_separate_an_asymmetric_class_from_its_flips():
    # The "normal class": an L (ink down the left edge and along the bottom), jittered. A
    # PCA model of it leaves every flipped or rotated copy's ink unexplained.
    rng = np.random.default_rng(4)
    shape = np.zeros((8, 8), np.float32)
    shape[:, 1], shape[6, 1:6] = 1.0, 1.0
    x = shape + 0.05 * rng.normal(size=(64, 8, 8)).astype(np.float32)
    pca = pca_lib.fit(jnp.asarray(x.reshape(64, -1)), 2)
    images, labels = anomaly.synthetic_anomalies(x)
    flat = jnp.asarray(images.reshape(len(images), -1))
    score = anomaly.relative_error(flat, pca.reconstruct(flat))
    assert float(metrics.auroc(score, jnp.asarray(labels))) > 0.99


def test_one_class_aurocs_scores_every_seed_and_their_ensemble():
    """Two "seeds" of a PCA model of an L: one true, one that reconstructs nothing (every
    image fully unexplained, so its relative error ranks nothing). The evaluation gives
    each its own AUROCs, and the ensemble follows the mean error."""
    rng = np.random.default_rng(5)
    shape = np.zeros((8, 8), np.float32)
    shape[:, 1], shape[6, 1:6] = 1.0, 1.0
    normal = lambda n: shape + 0.05 * rng.normal(size=(n, 8, 8)).astype(np.float32)  # noqa: E731
    pca = pca_lib.fit(jnp.asarray(normal(64).reshape(64, -1)), 2)

    class PCAFamily:  # seed 0: PCA; seed 1: reconstructs zeros
        def reconstruct(self, on, x):
            flat = x.reshape(len(x), -1)
            return (on * pca.reconstruct(flat)).reshape(x.shape)

    flipped = np.ascontiguousarray(normal(40)[:, ::-1])
    x_test = np.concatenate([normal(40), flipped])
    labels = np.r_[np.zeros(40), np.ones(40)]
    out = anomaly.one_class_aurocs(
        PCAFamily(), jnp.asarray([1.0, 0.0]), x_test, labels, normal(32), 16
    )
    assert out["val"][0] > 0.99 and out["relative"][0] > 0.99  # the true model separates
    assert abs(out["relative"][1] - 0.5) < 0.05  # relative error ~1 for every image: chance
    assert out["error"].shape == (2,) and out["scores"]["relative"].shape == (80,)
    ref = metrics.auroc(jnp.asarray(out["scores"]["relative"]), jnp.asarray(labels))
    assert out["ensemble"] == pytest.approx(float(ref))
