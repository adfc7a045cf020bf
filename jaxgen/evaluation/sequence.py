"""Sequence metrics: bits per character, and general-purpose compressors as baselines.

A model with cross-entropy H nats per character could drive an arithmetic coder at
H / ln 2 bits per character; a compressor's rate is 8 * compressed bytes / characters. Both
are code lengths of the same text, so they compare directly.
"""

from __future__ import annotations

import bz2
import gzip
import lzma
import math

import numpy as np


def bits_per_char(log_probs: np.ndarray) -> float:
    """Mean -log2 p over characters, from natural-log probabilities of the true characters."""
    log_probs = np.asarray(log_probs, np.float64)
    return float(-log_probs.mean() / math.log(2.0))


def nats_to_bits(nats: float) -> float:
    return nats / math.log(2.0)


def compressor_bpc(text: str) -> dict[str, float]:
    """Bits per character of gzip, bz2 and lzma (each at its strongest level) on `text`."""
    raw = text.encode("utf-8")
    n = len(text)
    sizes = {
        "gzip": len(gzip.compress(raw, compresslevel=9, mtime=0)),
        "bz2": len(bz2.compress(raw, compresslevel=9)),
        "lzma": len(lzma.compress(raw, preset=9 | lzma.PRESET_EXTREME)),
    }
    return {k: 8.0 * v / n for k, v in sizes.items()}
