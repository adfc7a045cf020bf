"""Synthetic datasets generated from a seed (NumPy, on the host, once)."""

from __future__ import annotations

import numpy as np
from ml_collections import ConfigDict

from jaxgen.data.splits import Splits

NUM_HARMONICS = 3


def _split(x: np.ndarray, extra: dict[str, np.ndarray], info: dict) -> Splits:
    """80/10/10 train/validation/test split of already-shuffled data."""
    n = len(x)
    a, b = int(0.8 * n), int(0.9 * n)
    parts = [slice(0, a), slice(a, b), slice(b, n)]
    train, val, test = ({"x": x[s], **{k: v[s] for k, v in extra.items()}} for s in parts)
    return Splits(train=train, val=val, test=test, info=info)


def ferris_wheel_points(theta: np.ndarray, dim: int, seed: int) -> np.ndarray:
    """The noiseless embedding of angles `theta` into R^dim.

    The wheel's phase theta is the one degree of freedom. Its image is a closed curve built
    from the first NUM_HARMONICS harmonics (cos k.theta, sin k.theta), mixed by a fixed random
    orthonormal map: a one-parameter manifold that spans 2 * NUM_HARMONICS linear dimensions,
    so PCA needs six components where a nonlinear code needs one.
    """
    if dim < 2 * NUM_HARMONICS:
        raise ValueError(f"ferris_wheel needs dim >= {2 * NUM_HARMONICS}, got {dim}")
    k = np.arange(1, NUM_HARMONICS + 1)
    feats = np.concatenate([np.cos(theta[:, None] * k) / k, np.sin(theta[:, None] * k) / k], 1)
    rng = np.random.default_rng(seed)
    q, _ = np.linalg.qr(rng.normal(size=(dim, 2 * NUM_HARMONICS)))
    return (feats @ q.T).astype(np.float32)


def ferris_wheel(cfg: ConfigDict) -> Splits:
    """The lecture's ferris wheel (Shlens 2014, fig. 6a): where PCA fails."""
    rng = np.random.default_rng(cfg.seed)
    theta = rng.uniform(0.0, 2 * np.pi, cfg.num_points)
    x = ferris_wheel_points(theta, cfg.dim, cfg.seed + 1)
    x = x + cfg.noise * rng.normal(size=x.shape).astype(np.float32)
    info = {"intrinsic_dim": 1, "linear_dim": 2 * NUM_HARMONICS}
    return _split(x.astype(np.float32), {"theta": theta.astype(np.float32)}, info)


def blobs(cfg: ConfigDict) -> Splits:
    """Isotropic Gaussian clusters with labels: a fast stand-in for images in tests."""
    rng = np.random.default_rng(cfg.seed)
    num_classes = 4
    centers = rng.normal(scale=3.0, size=(num_classes, cfg.dim))
    y = rng.integers(0, num_classes, cfg.num_points)
    x = centers[y] + rng.normal(size=(cfg.num_points, cfg.dim))
    # Squash to (0, 1) so losses meant for images (binary cross-entropy) apply too.
    x = 1.0 / (1.0 + np.exp(-x / 3.0))
    return _split(x.astype(np.float32), {"y": y.astype(np.int32)}, {"num_classes": num_classes})
