"""Gaussian mixtures for GANs: a 1-D mixture (the lecture's picture) and the 2-D mode-collapse
benchmarks (8 Gaussians on a ring, 25 on a grid).

Each loader returns `Splits` whose `info` carries what evaluation needs: the mixture's means,
standard deviations and weights (`info["means"]`, `info["stds"]`, `info["weights"]`).
Parameters come from the dataset config when present (`dataset.means`, `dataset.stds`,
`dataset.weights`, added by an experiment before it locks its config), else the defaults here.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt
from ml_collections import ConfigDict

from jaxgen.data.splits import Splits
from jaxgen.data.synthetic import _split
from jaxgen.errors import ConfigError

# The 1-D target: two well separated, unequal modes (the generator must learn a steep jump).
GMM1D_MEANS = (-2.0, 1.5)
GMM1D_STDS = (0.4, 0.7)
GMM1D_WEIGHTS = (0.35, 0.65)

RING_RADIUS, RING_STD, RING_MODES = 1.0, 0.01, 8
GRID_VALUES, GRID_STD = (-4.0, -2.0, 0.0, 2.0, 4.0), 0.05


def ring_means(num: int = RING_MODES, radius: float = RING_RADIUS) -> np.ndarray:
    """`num` points evenly spaced on a circle: (num, 2)."""
    angles = 2 * np.pi * np.arange(num) / num
    return radius * np.stack([np.cos(angles), np.sin(angles)], 1)


def grid_means(values: Sequence[float] = GRID_VALUES) -> np.ndarray:
    """The grid values^2 as (len(values)**2, 2)."""
    a, b = np.meshgrid(values, values, indexing="ij")
    return np.stack([a.ravel(), b.ravel()], 1)


def mixture_density_1d(
    x: npt.ArrayLike, means: npt.ArrayLike, stds: npt.ArrayLike, weights: npt.ArrayLike
) -> np.ndarray:
    """p(x) of a 1-D Gaussian mixture (NumPy or JAX arrays)."""
    means, stds, weights = (np.asarray(v, np.float64) for v in (means, stds, weights))
    z = (np.asarray(x)[..., None] - means) / stds
    return np.sum(weights * np.exp(-0.5 * z**2) / (stds * np.sqrt(2 * np.pi)), axis=-1)


def sample_mixture(
    rng: np.random.Generator,
    n: int,
    means: npt.ArrayLike,
    stds: npt.ArrayLike,
    weights: npt.ArrayLike,
) -> tuple[np.ndarray, np.ndarray]:
    """n draws of an isotropic Gaussian mixture: (x (n, d), component (n,))."""
    means = np.asarray(means, np.float64)
    means = means[:, None] if means.ndim == 1 else means
    stds = np.broadcast_to(np.asarray(stds, np.float64), (len(means),))
    weights = np.asarray(weights, np.float64)
    if not np.isclose(weights.sum(), 1.0) or (weights < 0).any():
        raise ConfigError(f"mixture weights must be >= 0 and sum to 1, got {weights.tolist()}")
    comp = rng.choice(len(means), size=n, p=weights)
    x = means[comp] + stds[comp, None] * rng.normal(size=(n, means.shape[1]))
    return x.astype(np.float32), comp.astype(np.int32)


def _mixture_splits(
    cfg: ConfigDict, means: npt.ArrayLike, stds: npt.ArrayLike, weights: npt.ArrayLike
) -> Splits:
    means = np.asarray(cfg.get("means", None) or means, np.float64)
    stds = np.asarray(cfg.get("stds", None) or stds, np.float64)
    stds = np.broadcast_to(stds, (len(means),)).copy()
    weights = np.asarray(cfg.get("weights", None) or weights, np.float64)
    if not (len(means) == len(stds) == len(weights)):
        raise ConfigError("dataset.means, stds and weights differ in length")
    rng = np.random.default_rng(cfg.seed)
    x, comp = sample_mixture(rng, int(cfg.num_points), means, stds, weights)
    info = {"means": means, "stds": stds, "weights": weights, "num_modes": len(means)}
    return _split(x, {"y": comp}, info)


def gmm1d(cfg: ConfigDict) -> Splits:
    """A 1-D Gaussian mixture, x of shape (N, 1)."""
    return _mixture_splits(cfg, GMM1D_MEANS, GMM1D_STDS, GMM1D_WEIGHTS)


def ring8(cfg: ConfigDict) -> Splits:
    """8 Gaussians on a ring of radius 1, std 0.01, equal weights, x of shape (N, 2)."""
    return _mixture_splits(cfg, ring_means(), (RING_STD,), np.full(RING_MODES, 1 / RING_MODES))


def grid25(cfg: ConfigDict) -> Splits:
    """25 Gaussians on the grid {-4,-2,0,2,4}^2, std 0.05, equal weights, x of shape (N, 2)."""
    means = grid_means()
    return _mixture_splits(cfg, means, (GRID_STD,), np.full(len(means), 1 / len(means)))


__all__ = [
    "gmm1d",
    "grid25",
    "grid_means",
    "mixture_density_1d",
    "ring8",
    "ring_means",
    "sample_mixture",
]
