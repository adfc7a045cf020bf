"""Image sharpness: is a sample blurry? Two standard focus measures, per image.

- mean gradient magnitude: the average of sqrt(gx^2 + gy^2) over pixels, with central
  differences (Tenengrad without a threshold);
- Laplacian variance: the variance over pixels of the 4-neighbour Laplacian (Pech-Pacheco et
  al. 2000), the usual blur detector.

Blur removes high frequencies, so both fall as an image gets blurrier. Images are (N, H, W)
or (N, H, W, 1) in [0, 1]; the measures use the interior pixels (no padding artefacts).
"""

from __future__ import annotations

import numpy as np


def _gray(images: np.ndarray) -> np.ndarray:
    x = np.asarray(images, np.float64)
    if x.ndim == 4:
        x = x.mean(-1)
    if x.ndim != 3:
        raise ValueError(f"expected images (N, H, W[, C]), got shape {x.shape}")
    return x


def gradient_magnitude(images: np.ndarray) -> np.ndarray:
    """Mean gradient magnitude of each image: (N,)."""
    x = _gray(images)
    gx = 0.5 * (x[:, 1:-1, 2:] - x[:, 1:-1, :-2])
    gy = 0.5 * (x[:, 2:, 1:-1] - x[:, :-2, 1:-1])
    return np.sqrt(gx**2 + gy**2).mean((1, 2))


def laplacian_variance(images: np.ndarray) -> np.ndarray:
    """Variance of the 4-neighbour Laplacian of each image: (N,)."""
    x = _gray(images)
    lap = x[:, :-2, 1:-1] + x[:, 2:, 1:-1] + x[:, 1:-1, :-2] + x[:, 1:-1, 2:] - 4 * x[:, 1:-1, 1:-1]
    return lap.var((1, 2))


def sharpness(images: np.ndarray) -> dict[str, float]:
    """Both measures averaged over the images, with the fraction of mid-gray pixels.

    `mid_gray` (pixels in [0.25, 0.75]) is a third, blunter look at blur: a sharp digit is
    nearly binary, a blurry one has wide gray edges.
    """
    x = _gray(images)
    return {
        "grad_mag": float(gradient_magnitude(x).mean()),
        "lap_var": float(laplacian_variance(x).mean()),
        "mid_gray": float(((x >= 0.25) & (x <= 0.75)).mean()),
    }


__all__ = ["gradient_magnitude", "laplacian_variance", "sharpness"]
