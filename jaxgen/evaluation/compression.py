"""Codes at a number of bits: uniform scalar quantization of continuous codes, PSNR per image.

A VQ-VAE's code costs L log2(K) bits by construction. A plain or variational autoencoder's
continuous code costs nothing until it is written down: here each of its d numbers is
quantized uniformly to `bits` bits over the range the training codes span (clipped outside
it), so a code costs d * bits bits, and the three families can be compared at equal bits.

    >>> import numpy as np
    >>> q = UniformQuantizer.fit(np.array([[0.0, -1.0], [1.0, 1.0]]), bits=2)
    >>> q(np.array([[0.4, 0.1]])).round(3).tolist()
    [[0.333, 0.333]]
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import numpy as np

from jaxgen.evaluation import metrics


@dataclasses.dataclass(frozen=True)
class UniformQuantizer:
    """Per dimension, 2^bits levels evenly spaced from the training minimum to the maximum."""

    low: np.ndarray
    high: np.ndarray
    bits: int

    @classmethod
    def fit(cls, codes: np.ndarray, bits: int) -> UniformQuantizer:
        if not 1 <= bits <= 24:
            raise ValueError(f"bits per number must be in [1, 24], got {bits}")
        return cls(codes.min(0), codes.max(0), int(bits))

    def __call__(self, codes: np.ndarray) -> np.ndarray:
        """The codes rounded to the nearest level (as floats, ready to decode)."""
        steps = 2**self.bits - 1
        span = np.where(self.high > self.low, self.high - self.low, 1.0)
        t = np.clip((codes - self.low) / span, 0.0, 1.0)
        return self.low + np.round(t * steps) / steps * span

    def bits_per_code(self) -> int:
        return int(self.bits * len(self.low))


def psnr(x: np.ndarray, x_hat: np.ndarray) -> float:
    """Mean over images of the per-image PSNR (dB, peak 1)."""
    return float(np.mean(np.asarray(metrics.psnr(x, x_hat))))


def quantized_psnr(
    encode: Callable[[np.ndarray], np.ndarray],
    decode: Callable[[np.ndarray], np.ndarray],
    x_fit: np.ndarray,
    x_eval: np.ndarray,
    bits: int,
) -> float:
    """PSNR of x_eval through encode -> quantize (fitted on x_fit's codes) -> decode."""
    quantizer = UniformQuantizer.fit(encode(x_fit), bits)
    return psnr(x_eval, decode(quantizer(encode(x_eval))))


__all__ = ["UniformQuantizer", "psnr", "quantized_psnr"]
