"""Convolutional encoders and decoders for images, fast on XLA CPU.

Decoders upsample by sub-pixel convolution (a 3x3 conv to 4x the channels, then
depth-to-space), not `nn.ConvTranspose`, which is ~10x slower on XLA CPU (ENGINEERING.md).
Downsampling uses strided convolutions, which are fast.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import flax.linen as nn
import jax

from jaxgen.models.mlp import activation


def depth_to_space(x: jax.Array, block: int = 2) -> jax.Array:
    """(B, H, W, C*b*b) -> (B, H*b, W*b, C), the pixel-shuffle of Shi et al. 2016."""
    b, h, w, c = x.shape
    oc = c // (block * block)
    x = x.reshape(b, h, w, block, block, oc)
    x = x.transpose(0, 1, 3, 2, 4, 5)
    return x.reshape(b, h * block, w * block, oc)


class SubPixelUpsample(nn.Module):
    """Doubles height and width: conv to 4x `features` channels, then depth-to-space."""

    features: int

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        x = nn.Conv(4 * self.features, (3, 3), padding="SAME")(x)
        return depth_to_space(x, 2)


class ConvEncoder(nn.Module):
    """Strided 4x4 convs (each halves the size), then a dense layer to `out_dim`."""

    features: Sequence[int] = (32, 64)
    out_dim: int = 32
    act: str = "relu"
    norm: bool = False

    @nn.compact
    def __call__(self, x: jax.Array, train: bool = True) -> jax.Array:
        if x.ndim == 2:  # Flat square images.
            side = math.isqrt(x.shape[-1])
            x = x.reshape(x.shape[0], side, side, 1)
        for f in self.features:
            x = nn.Conv(f, (4, 4), strides=(2, 2), padding="SAME")(x)
            if self.norm:
                x = nn.LayerNorm()(x)
            x = activation(self.act)(x)
        return nn.Dense(self.out_dim)(x.reshape(x.shape[0], -1))


class ConvDecoder(nn.Module):
    """Dense to a small feature map, sub-pixel upsampling to `out_shape`, 3x3 conv out.

    `features` are the channels after each doubling; the start size is the output size
    divided by 2**len(features) (28 -> 7 for two doublings). The output is linear (logits
    or means; the family decides).
    """

    out_shape: Sequence[int] = (28, 28, 1)
    features: Sequence[int] = (64, 32)
    start_features: int = 64
    act: str = "relu"
    norm: bool = False

    @nn.compact
    def __call__(self, z: jax.Array, train: bool = True) -> jax.Array:
        h, w, c = self.out_shape
        scale = 2 ** len(self.features)
        if h % scale or w % scale:
            raise ValueError(f"output {h}x{w} is not divisible by {scale}")
        x = nn.Dense((h // scale) * (w // scale) * self.start_features)(z)
        x = activation(self.act)(x).reshape(z.shape[0], h // scale, w // scale, -1)
        for f in self.features:
            x = SubPixelUpsample(f)(x)
            if self.norm:
                x = nn.LayerNorm()(x)
            x = activation(self.act)(x)
        return nn.Conv(c, (3, 3), padding="SAME")(x)


__all__ = ["ConvDecoder", "ConvEncoder", "SubPixelUpsample", "depth_to_space"]
