"""Generator and discriminator networks for GANs.

MLP players for low-dimensional data and MNIST; a DCGAN-style pair for images whose
generator upsamples with the shared sub-pixel `ConvDecoder` (never `nn.ConvTranspose`, ~10x
slower on XLA CPU) and whose discriminator is the shared strided-conv `ConvEncoder`.
Discriminators return logits of shape (B,): D(x) = sigmoid(logit) is the probability that x
is real.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import flax.linen as nn
import jax

from jaxgen.models.conv import ConvDecoder, ConvEncoder
from jaxgen.models.mlp import MLP, activation


class MLPGenerator(nn.Module):
    """z (B, latent) -> x (B, *out_shape): dense layers, then `out_act` (linear/sigmoid/tanh)."""

    hidden: Sequence[int]
    out_shape: Sequence[int]
    act: str = "relu"
    out_act: str = "linear"

    @nn.compact
    def __call__(self, z: jax.Array) -> jax.Array:
        x = MLP((*self.hidden, math.prod(self.out_shape)), act=self.act, final_act=self.out_act)(z)
        return x.reshape((z.shape[0], *self.out_shape))


class MLPDiscriminator(nn.Module):
    """x (B, ...) -> logit (B,): flattened input, dense layers, one output unit.

    With `act="maxout"` each hidden unit is the max of `pieces` linear pieces (Goodfellow et
    al. 2013), the discriminator of the original GAN paper and of PacGAN's 2-D experiments.
    """

    hidden: Sequence[int]
    act: str = "leaky_relu"
    pieces: int = 5

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        x = x.reshape(x.shape[0], -1)
        if self.act != "maxout":
            return MLP((*self.hidden, 1), act=self.act)(x)[:, 0]
        for i, f in enumerate(self.hidden):
            h = nn.Dense(f * self.pieces, name=f"dense_{i}")(x)
            x = h.reshape(x.shape[0], f, self.pieces).max(axis=-1)
        return nn.Dense(1, name=f"dense_{len(self.hidden)}")(x)[:, 0]


class ConvGenerator(nn.Module):
    """DCGAN-style generator: dense to a 7x7 map, sub-pixel upsampling to 28x28, `out_act`."""

    out_shape: Sequence[int] = (28, 28, 1)
    features: Sequence[int] = (64, 32)
    start_features: int = 128
    act: str = "relu"
    norm: bool = True  # LayerNorm: batch statistics would couple the vmapped seeds' batches.
    out_act: str = "sigmoid"

    @nn.compact
    def __call__(self, z: jax.Array) -> jax.Array:
        x = ConvDecoder(
            out_shape=tuple(self.out_shape),
            features=tuple(self.features),
            start_features=self.start_features,
            act=self.act,
            norm=self.norm,
        )(z)
        return activation(self.out_act)(x)


class ConvDiscriminator(nn.Module):
    """DCGAN-style discriminator: strided 4x4 convs with leaky ReLU, then one logit."""

    features: Sequence[int] = (64, 128)
    act: str = "leaky_relu"

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        return ConvEncoder(features=tuple(self.features), out_dim=1, act=self.act)(x)[:, 0]


__all__ = ["ConvDiscriminator", "ConvGenerator", "MLPDiscriminator", "MLPGenerator"]
