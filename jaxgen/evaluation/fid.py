"""Distances between a model's samples and data: the Frechet distance between Gaussians
fitted to features (FID, Heusel et al. 2017, here on the features of the repo's own MNIST
classifier, not Inception) and the 1-D Wasserstein-1 distance between two samples.

    d^2 = ||mu_1 - mu_2||^2 + tr(S_1 + S_2 - 2 (S_1 S_2)^{1/2})

The trace of the matrix square root is computed through symmetric eigendecompositions:
(S_1 S_2)^{1/2} is similar to (S_1^{1/2} S_2 S_1^{1/2})^{1/2}, a symmetric PSD matrix, so
tr (S_1 S_2)^{1/2} = sum_i sqrt(lambda_i(S_1^{1/2} S_2 S_1^{1/2})). This avoids
`scipy.linalg.sqrtm`'s complex round-off on a non-symmetric product.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike


def sqrtm_psd(a: np.ndarray) -> np.ndarray:
    """The PSD square root of a symmetric PSD matrix (eigh; negative round-off clipped)."""
    a = np.asarray(a, np.float64)
    w, v = np.linalg.eigh(0.5 * (a + a.T))
    return (v * np.sqrt(np.clip(w, 0.0, None))) @ v.T


def statistics(features: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean and (unbiased) covariance of (N, d) features."""
    f = np.asarray(features, np.float64)
    return f.mean(0), np.cov(f, rowvar=False)


def frechet_distance(mu1: ArrayLike, sigma1: ArrayLike, mu2: ArrayLike, sigma2: ArrayLike) -> float:
    """Squared Frechet distance between N(mu1, sigma1) and N(mu2, sigma2)."""
    mu1, mu2 = np.asarray(mu1, np.float64), np.asarray(mu2, np.float64)
    s1, s2 = np.atleast_2d(sigma1).astype(np.float64), np.atleast_2d(sigma2).astype(np.float64)
    r1 = sqrtm_psd(s1)
    w = np.linalg.eigvalsh(r1 @ s2 @ r1)
    tr_covmean = np.sqrt(np.clip(w, 0.0, None)).sum()
    d = float(((mu1 - mu2) ** 2).sum() + np.trace(s1) + np.trace(s2) - 2.0 * tr_covmean)
    return max(d, 0.0)


def frechet_distance_features(f1: np.ndarray, f2: np.ndarray) -> float:
    """FID-style distance between two sets of (N, d) features."""
    return frechet_distance(*statistics(f1), *statistics(f2))


def wasserstein_1d(a: np.ndarray, b: np.ndarray) -> float:
    """W1 between the empirical distributions of two 1-D samples: int |F_a - F_b| dx."""
    a, b = np.sort(np.ravel(a).astype(np.float64)), np.sort(np.ravel(b).astype(np.float64))
    if len(a) == len(b):
        return float(np.abs(a - b).mean())
    grid = np.sort(np.concatenate([a, b]))
    fa = np.searchsorted(a, grid[:-1], side="right") / len(a)
    fb = np.searchsorted(b, grid[:-1], side="right") / len(b)
    return float(np.sum(np.abs(fa - fb) * np.diff(grid)))


__all__ = [
    "frechet_distance",
    "frechet_distance_features",
    "sqrtm_psd",
    "statistics",
    "wasserstein_1d",
]
