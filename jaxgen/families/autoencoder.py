"""The autoencoder family: encoder -> code (bottleneck) -> decoder, trained to reconstruct.

The lecture's four choices are the config: `model.code_size`, `model.num_layers`,
`model.hidden_size` (nodes per layer) and `model.loss` (mse, l1 or bce). Its list of
architectures is `model.kind`:

- `undercomplete`: reconstruction only; the small code is the only constraint.
- `sparse`: + `sparsity_l1` * sum_j |z_j| and/or `sparsity_kl` * sum_j KL(rho || rho_hat_j),
  rho = `sparsity_target`, rho_hat_j the batch mean of unit j (needs a sigmoid code).
- `contractive`: + `contractive_weight` * ||d z / d x||_F^2, the exact encoder Jacobian.
- `denoising`: the encoder sees x corrupted by `corruption` at `corruption_level` (drawn from
  the step key); the loss compares the reconstruction with the clean x.
- `vq`: the VQ-VAE (van den Oord et al. 2017): the code of `code_size` numbers is read as
  `code_size / vq_dim` vectors, each replaced by the nearest of `codebook_size` codebook
  vectors (straight-through gradients), + `vq_commitment` * ||z_e - sg(e)||^2; the codebook
  follows its assignments by moving averages (`vq_decay`) and codes used less than
  `vq_restart` times (moving count) restart on encoder outputs (`jaxgen.models.vq`). An
  image costs (code_size / vq_dim) * log2(codebook_size) bits; `encode` returns the
  quantized code, `code_indices` / `decode_indices` the integers themselves.

`model.arch` is `mlp` (any input shape, flattened) or `conv` (images (H, W, C):
strided convs down, sub-pixel upsampling up, `model.conv_features` channels).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from functools import partial
from pathlib import Path
from typing import Any, cast

import flax.linen as nn
import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import optax
from flax.training import train_state

from jaxgen import corruption, losses, regularizers
from jaxgen.config import ConfigDict, base_config
from jaxgen.errors import ConfigError
from jaxgen.evaluation import metrics
from jaxgen.models import vq
from jaxgen.models.conv import ConvDecoder, ConvEncoder
from jaxgen.models.mlp import ACTIVATIONS, MLP, activation
from jaxgen.sampling import named_key
from jaxgen.train.family import Batch, Family, Metrics, State
from jaxgen.train.optim import make_optimizer

KINDS = ("undercomplete", "sparse", "contractive", "denoising", "vq")
ARCHS = ("mlp", "conv")

_DEFAULTS: dict[str, Any] = {
    "family": "autoencoder",
    "kind": "undercomplete",  # undercomplete | sparse | contractive | denoising
    "arch": "mlp",  # mlp | conv
    "code_size": 32,
    "num_layers": 2,  # hidden layers in the encoder (the decoder mirrors it); mlp only
    "hidden_size": 256,  # nodes per hidden layer; mlp only
    "conv_features": (32, 64),  # channels of the strided encoder convs; conv only
    "activation": "relu",
    "code_activation": "linear",  # applied to the code: linear | sigmoid | relu | tanh ...
    "loss": "mse",  # mse | l1 | bce
    "sparsity_l1": 0.0,  # sparse: weight of sum_j |z_j|
    "sparsity_kl": 0.0,  # sparse: weight of sum_j KL(rho || rho_hat_j)
    "sparsity_target": 0.05,  # sparse: rho
    "contractive_weight": 0.0,  # contractive: weight of ||J||_F^2
    "corruption": "gaussian",  # denoising: gaussian | masking | salt_and_pepper
    "corruption_level": 0.3,  # denoising: Gaussian std, or the masking / salt-and-pepper rate
    "codebook_size": 256,  # vq: K codes
    "vq_dim": 8,  # vq: size of each quantized vector (divides code_size)
    "vq_commitment": 0.25,  # vq: beta, the commitment loss's weight
    "vq_decay": 0.99,  # vq: the codebook's moving-average decay
    "vq_restart": 1.0,  # vq: restart codes whose moving count falls below this (0 = never)
}

# What `config(kind=...)` starts from, so each kind trains sensibly out of the box.
KIND_DEFAULTS: dict[str, dict[str, Any]] = {
    "undercomplete": {},
    "sparse": {"code_activation": "sigmoid", "sparsity_kl": 1.0},
    "contractive": {"code_activation": "sigmoid", "contractive_weight": 1.0},
    "denoising": {},
    "vq": {},
}


def model_config(**overrides: Any) -> ml_collections.ConfigDict:
    """The `model` group; `kind=` also applies that kind's defaults (before `overrides`)."""
    cfg = ml_collections.ConfigDict(dict(_DEFAULTS))
    kind = overrides.get("kind", "undercomplete")
    if kind not in KINDS:
        raise ConfigError(f"model.kind must be one of {', '.join(KINDS)}, got {kind!r}")
    cfg.update(KIND_DEFAULTS[kind])
    cfg.update(overrides)
    return cfg


def config(dataset: str = "mnist", **model: Any) -> ConfigDict:
    """A full run config for an autoencoder on `dataset`."""
    cfg = base_config("autoencoder", dataset)
    cfg.model = model_config(**model)
    return cfg


def _get(m: ConfigDict, key: str) -> Any:
    """`m[key]`, or its default for configs written before the key existed."""
    return m.get(key, _DEFAULTS[key])


class Autoencoder(nn.Module):
    """Encoder and decoder, MLP (inputs flattened and restored) or convolutional."""

    hidden: Sequence[int]
    code_size: int
    out_shape: Sequence[int]
    act: str = "relu"
    arch: str = "mlp"
    conv_features: Sequence[int] = (32, 64)
    code_act: str = "linear"

    def setup(self) -> None:
        if self.arch == "conv":
            self.encoder: ConvEncoder | MLP = ConvEncoder(
                features=tuple(self.conv_features), out_dim=self.code_size, act=self.act
            )
            self.decoder: ConvDecoder | MLP = ConvDecoder(
                out_shape=tuple(self.out_shape),
                features=tuple(reversed(self.conv_features)),
                start_features=self.conv_features[-1],
                act=self.act,
            )
        else:
            self.encoder = MLP((*self.hidden, self.code_size), act=self.act)
            self.decoder = MLP((*reversed(self.hidden), math.prod(self.out_shape)), act=self.act)

    def encode(self, x: jax.Array) -> jax.Array:
        if self.arch == "conv":
            h = self.encoder(x.reshape((x.shape[0], *self.out_shape)))
        else:
            h = self.encoder(x.reshape(x.shape[0], -1))
        return activation(self.code_act)(h)

    def decode(self, z: jax.Array) -> jax.Array:
        return self.decoder(z).reshape((z.shape[0], *self.out_shape))

    def __call__(self, x: jax.Array) -> tuple[jax.Array, jax.Array]:
        z = self.encode(x)
        return self.decode(z), z


class VQState(train_state.TrainState):
    """A TrainState that also holds a VQ-VAE's codebook (moved by averages, not gradients)."""

    codebook: Any = None


class AutoencoderFamily(Family):
    """Undercomplete, sparse, contractive, denoising or vector-quantized AE (`model.kind`)."""

    public_api: tuple[str, ...] = (
        "encode",
        "decode",
        "reconstruct",
        "corrupt",
        "jacobian_norm",
        "code_stats",
    )

    def __init__(self, config: ConfigDict):
        super().__init__(config)
        m = config.model
        self.kind = _get(m, "kind")
        self.arch = _get(m, "arch")
        self.code_act = _get(m, "code_activation")
        self.corruption = _get(m, "corruption")
        self.level = float(_get(m, "corruption_level"))
        self.l1 = float(_get(m, "sparsity_l1"))
        self.kl = float(_get(m, "sparsity_kl"))
        self.rho = float(_get(m, "sparsity_target"))
        self.cw = float(_get(m, "contractive_weight"))
        if self.kind == "vq":
            self.num_codes, self.vq_dim = int(m.codebook_size), int(m.vq_dim)
            self.beta, self.decay = float(m.vq_commitment), float(m.vq_decay)
            self.restart = float(m.vq_restart)
            self.public_api = (*self.public_api, "code_indices", "decode_indices")
        self._validate(m)
        self.loss_fn = losses.reconstruction(m.loss)

    def _validate(self, m: ConfigDict) -> None:
        def need(ok: bool, msg: str) -> None:
            if not ok:
                raise ConfigError(msg)

        need(
            m.loss in losses.RECONSTRUCTION,
            f"model.loss must be one of {', '.join(losses.RECONSTRUCTION)}, got {m.loss!r}",
        )
        need(self.kind in KINDS, f"model.kind must be one of {', '.join(KINDS)}, got {self.kind!r}")
        need(
            self.arch in ARCHS,
            f"model.arch must be mlp or conv, got {self.arch!r}",
        )
        need(
            self.code_act in ACTIVATIONS,
            f"model.code_activation must be one of {', '.join(ACTIVATIONS)}, got {self.code_act!r}",
        )
        need(
            min(self.l1, self.kl, self.cw, self.level) >= 0,
            "model.sparsity_l1, sparsity_kl, contractive_weight and corruption_level must be >= 0",
        )
        if self.kind == "sparse":
            need(
                self.l1 > 0 or self.kl > 0,
                "model.kind=sparse needs model.sparsity_l1 > 0 or model.sparsity_kl > 0",
            )
            need(
                self.kl == 0 or self.code_act == "sigmoid",
                "model.sparsity_kl compares mean activations with a rate: it needs "
                "model.code_activation=sigmoid",
            )
            need(0 < self.rho < 1, f"model.sparsity_target must be in (0, 1), got {self.rho}")
        if self.kind == "contractive":
            need(self.cw > 0, "model.kind=contractive needs model.contractive_weight > 0")
        if self.kind == "vq":
            need(
                self.num_codes >= 2 and self.vq_dim >= 1 and m.code_size % self.vq_dim == 0,
                f"model.kind=vq needs model.codebook_size >= 2 and model.vq_dim dividing "
                f"model.code_size, got {self.num_codes}, {self.vq_dim} and {m.code_size}",
            )
            need(
                0.0 <= self.decay < 1.0 and self.beta >= 0 and self.restart >= 0,
                "model.vq_decay must be in [0, 1), vq_commitment and vq_restart >= 0",
            )
            need(
                self.code_act == "linear",
                "model.kind=vq quantizes the encoder's output: model.code_activation=linear",
            )
        if self.kind == "denoising":
            need(
                self.corruption in corruption.CORRUPTIONS and self.corruption != "none",
                "model.corruption must be gaussian, masking or salt_and_pepper, "
                f"got {self.corruption!r}",
            )
            need(
                self.corruption == "gaussian" or self.level <= 1,
                f"model.corruption_level is a rate for {self.corruption}: must be <= 1",
            )

    def module(self, shape: Sequence[int]) -> Autoencoder:
        m = self.config.model
        if self.arch == "conv" and len(shape) != 3:
            raise ConfigError(
                f"model.arch=conv needs images (H, W, C); the data has shape {tuple(shape)}"
            )
        return Autoencoder(
            hidden=(m.hidden_size,) * m.num_layers,
            code_size=m.code_size,
            out_shape=tuple(shape),
            act=m.activation,
            arch=self.arch,
            conv_features=tuple(_get(m, "conv_features")),
            code_act=self.code_act,
        )

    def init(
        self, key: jax.Array, batch: Batch, total_steps: int | None = None
    ) -> train_state.TrainState:
        module = self.module(batch["x"].shape[1:])
        params = module.init(key, batch["x"][:1])["params"]
        tx = make_optimizer(self.config.optimizer, total_steps)
        if self.kind != "vq":
            return train_state.TrainState.create(apply_fn=module.apply, params=params, tx=tx)
        # The codebook starts on the first batch's encoder outputs (a data-dependent start,
        # as k-means initialisations do), so no code begins far from the data.
        z = cast(jax.Array, module.apply({"params": params}, batch["x"], method="encode"))
        z = z.reshape(-1, self.vq_dim)
        k_pick, k_noise = jax.random.split(named_key(key, "codebook"))
        pick = z[jax.random.randint(k_pick, (self.num_codes,), 0, z.shape[0])]
        embed = pick + 0.01 * jnp.std(z) * jax.random.normal(k_noise, pick.shape)
        book = {"embed": embed, "count": jnp.ones((self.num_codes,)), "sum": embed}
        return VQState.create(apply_fn=module.apply, params=params, tx=tx, codebook=book)

    def _corrupt(self, key: jax.Array, x: jax.Array) -> jax.Array:
        return corruption.corrupt(key, x, self.corruption, self.level)

    def quantize(self, z: jax.Array, book: vq.Codebook) -> tuple[jax.Array, jax.Array]:
        """Codes (B, code_size) -> (straight-through quantized codes, indices (B, L))."""
        ze = z.reshape(-1, self.vq_dim)
        idx = vq.nearest(ze, book["embed"])
        zq = vq.straight_through(ze, book["embed"][idx])
        return zq.reshape(z.shape), idx.reshape(z.shape[0], -1)

    def loss(
        self,
        params: Any,
        apply_fn: Callable[..., Any],
        batch: Batch,
        key: jax.Array,
        book: vq.Codebook | None = None,
    ) -> tuple[jax.Array, dict[str, Any]]:
        x = batch["x"]

        def encode(v: jax.Array) -> jax.Array:
            return apply_fn({"params": params}, v, method="encode")

        x_in = self._corrupt(named_key(key, "corrupt"), x) if self.kind == "denoising" else x
        z = encode(x_in)
        if self.kind == "vq":
            z_e = z
            z, idx = self.quantize(z_e, cast(vq.Codebook, book))
        out = apply_fn({"params": params}, z, method="decode")
        rec = self.loss_fn(x, out).mean()  # Against the clean x, also when denoising.
        aux: dict[str, Any]
        total, aux = rec, {"reconstruction": rec}
        if self.kind == "vq":
            # Per image: summed over its L vectors, as the reconstruction sums over pixels.
            ze = z_e.reshape(-1, self.vq_dim)
            commit = vq.commitment(ze, cast(vq.Codebook, book)["embed"][idx.reshape(-1)]).reshape(
                len(x), -1
            )
            aux["commitment"] = commit.sum(1).mean()
            aux["perplexity"] = vq.perplexity(idx.reshape(-1), self.num_codes)
            aux["_vq"] = (ze, idx.reshape(-1))  # for the codebook update; not a metric
            total = total + self.beta * aux["commitment"]
        if self.kind == "sparse":
            aux["code_mean_abs"] = jnp.mean(jnp.abs(z))
            if self.l1 > 0:
                aux["l1_code"] = regularizers.l1_code(z).mean()
                total = total + self.l1 * aux["l1_code"]
            if self.kl > 0:
                aux["kl_sparsity"] = regularizers.kl_sparsity(z, self.rho)
                total = total + self.kl * aux["kl_sparsity"]
        if self.kind == "contractive":
            aux["jacobian_fro2"] = regularizers.jacobian_frobenius_sq(encode, x).mean()
            total = total + self.cw * aux["jacobian_fro2"]
        return total, aux

    def train_step(self, state: State, batch: Batch, key: jax.Array) -> tuple[State, Metrics]:
        book = state.codebook if self.kind == "vq" else None
        (loss, aux), grads = jax.value_and_grad(self.loss, has_aux=True)(
            state.params, state.apply_fn, batch, key, book
        )
        state = state.apply_gradients(grads=grads)
        if self.kind == "vq":
            ze, idx = aux.pop("_vq")
            book = vq.ema_update(cast(vq.Codebook, book), ze, idx, self.decay)
            if self.restart > 0:
                book = vq.restart_dead(book, ze, named_key(key, "restart"), self.restart)
            aux["dead_codes"] = jnp.sum(state.codebook["count"] < self.restart)
            state = state.replace(codebook=book)
        return state, {"loss": loss, "grad_norm": optax.tree.norm(grads), **aux}

    def eval_step(self, state: State, batch: Batch, key: jax.Array) -> Metrics:
        x = batch["x"]
        out = state.apply_fn({"params": state.params}, self.encode(state, x), method="decode")
        x_hat = losses.decoder_mean(self.config.model.loss, out)
        d = math.prod(x.shape[1:])
        result = {
            "loss": self.loss_fn(x, out),
            "mse": losses.mse(x, x_hat) / d,
            "psnr": metrics.psnr(x, x_hat),
        }
        if self.kind == "denoising":
            noisy = self._corrupt(named_key(key, "corrupt"), x)
            result["noisy_psnr"] = metrics.psnr(x, noisy)
            result["denoised_psnr"] = metrics.psnr(x, self.reconstruct(state, noisy))
        return result

    def report(self, state: State, splits: Any, workdir: Path, key: jax.Array) -> dict[str, Any]:
        """Code sparsity and the encoder's Jacobian norm on (up to) 1000 test examples."""
        data = splits.test if splits.test is not None else splits.train
        x = jnp.asarray(data["x"][:1000])
        stats = jax.jit(self.code_stats)(state, x)
        jac = jax.jit(self.jacobian_norm)(state, x[:500])
        out = {k: float(v) for k, v in stats.items()}
        out["jacobian_fro2"] = float(jnp.mean(jac))
        if self.kind == "vq":
            idx = jax.jit(self.code_indices)(state, x)
            out["codebook_perplexity"] = float(vq.perplexity(idx.reshape(-1), self.num_codes))
            out["codes_used"] = int(len(np.unique(np.asarray(idx))))
            out["bits_per_image"] = self.bits_per_image
        return out

    @property
    def bits_per_image(self) -> float:
        """A VQ code's size: L log2(K) bits for L vectors from K codes."""
        return self.config.model.code_size // self.vq_dim * math.log2(self.num_codes)

    # -- the public API load_run binds ---------------------------------------------------
    def encode(self, state: State, x: jax.Array) -> jax.Array:
        """The code of x (B, code_size): for `vq`, the quantized one the decoder reads."""
        z = state.apply_fn({"params": state.params}, x, method="encode")
        return self.quantize(z, state.codebook)[0] if self.kind == "vq" else z

    def code_indices(self, state: State, x: jax.Array) -> jax.Array:
        """vq: the codebook index of each of x's L code vectors, (B, L) integers."""
        z = state.apply_fn({"params": state.params}, x, method="encode")
        return self.quantize(z, state.codebook)[1]

    def decode_indices(self, state: State, idx: jax.Array) -> jax.Array:
        """vq: images from codebook indices (B, L)."""
        z = state.codebook["embed"][idx].reshape(idx.shape[0], -1)
        return self.decode(state, z)

    def decode(self, state: State, z: jax.Array) -> jax.Array:
        out = state.apply_fn({"params": state.params}, z, method="decode")
        return losses.decoder_mean(self.config.model.loss, out)

    def reconstruct(self, state: State, x: jax.Array) -> jax.Array:
        return self.decode(state, self.encode(state, x))

    def corrupt(self, state: State, x: jax.Array, key: jax.Array) -> jax.Array:
        """The configured noise model applied to `x` (what the denoising AE trains on)."""
        del state
        return self._corrupt(key, x)

    def jacobian_norm(self, state: State, x: jax.Array) -> jax.Array:
        """||d code / d x||_F^2 per example, exact (reverse mode, vmapped)."""
        return regularizers.jacobian_frobenius_sq(lambda v: self.encode(state, v), x)

    def code_stats(self, state: State, x: jax.Array) -> dict[str, jax.Array]:
        """Measured sparsity of the codes of `x` (see `regularizers.code_stats`)."""
        z = self.encode(state, x)
        stats = regularizers.code_stats(z)
        stats["code_rho_hat_mean"] = jnp.mean(z)
        return stats


def make_family(config: ConfigDict) -> AutoencoderFamily:
    return AutoencoderFamily(config)


def codes(family: AutoencoderFamily, state: State, x: np.ndarray, batch: int = 2000) -> np.ndarray:
    """Codes of a large array, in batches (host side, for probes and plots)."""
    return metrics.in_batches(partial(jax.jit(family.encode), state), x, batch_size=batch)


def reconstructions(
    family: AutoencoderFamily, state: State, x: np.ndarray, batch: int = 2000
) -> np.ndarray:
    """Reconstructions of a large array, in batches (host side)."""
    return metrics.in_batches(partial(jax.jit(family.reconstruct), state), x, batch_size=batch)


__all__ = [
    "ARCHS",
    "KINDS",
    "Autoencoder",
    "AutoencoderFamily",
    "VQState",
    "codes",
    "config",
    "make_family",
    "model_config",
    "reconstructions",
]
