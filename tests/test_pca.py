"""PCA in JAX against NumPy's SVD."""

from __future__ import annotations

import jax
import numpy as np
import pytest

from jaxgen.models import pca


@pytest.fixture
def x():
    rng = np.random.default_rng(0)
    return (rng.normal(size=(300, 12)) @ rng.normal(size=(12, 12))).astype(np.float32)


@pytest.mark.parametrize("k", [1, 3, 12])
def test_pca_matches_numpy_svd(x, k):
    p = jax.jit(pca.fit, static_argnums=1)(x, k)
    xc = x - x.mean(0)
    _, s, vt = np.linalg.svd(xc, full_matrices=False)
    # Components agree up to sign.
    signs = np.sign(np.sum(np.asarray(p.components) * vt[:k], axis=1))
    np.testing.assert_allclose(np.asarray(p.components) * signs[:, None], vt[:k], atol=1e-4)
    np.testing.assert_allclose(p.explained_variance, s[:k] ** 2 / (len(x) - 1), rtol=1e-4)
    np.testing.assert_allclose(p.explained_variance_ratio, s[:k] ** 2 / np.sum(s**2), rtol=1e-4)
    # The reconstruction error is the variance left in the discarded directions.
    err = np.sum((np.asarray(p.reconstruct(x)) - x) ** 2)
    np.testing.assert_allclose(err, np.sum(s[k:] ** 2), rtol=1e-3, atol=1e-2)


def test_pca_encode_decode_shapes(x):
    p = pca.fit(x, 4)
    z = p.encode(x)
    assert z.shape == (300, 4)
    assert p.decode(z).shape == x.shape
    np.testing.assert_allclose(np.asarray(p.components @ p.components.T), np.eye(4), atol=1e-5)


def test_pca_rejects_bad_component_counts(x):
    with pytest.raises(ValueError, match="num_components"):
        pca.fit(x, 13)
