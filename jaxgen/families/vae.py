"""The variational autoencoder: a Gaussian encoder N(mu(x), sigma(x)), a decoder, and the
lecture's loss `C * ||x - x_hat||^2 + KL[N(mu, sigma), N(0, I)]`, trained through the
reparameterization trick z = mu + sigma * eps.

Config (`model.*`):
- `arch`: mlp (`hidden_sizes`, `activation`) or conv (`conv_features`, jaxgen.models.conv).
- `likelihood`: bernoulli (binary cross-entropy on logits; for likelihood work) or gaussian (the
  lecture's `C * ||x - x_hat||^2`, i.e. N(x_hat, sigma^2 I) with C = 1 / (2 sigma^2)).
- `beta` and `beta_schedule` (constant | linear | cyclical, over train steps): the KL weight.
- `objective`: elbo (one reparameterized sample) or iwae (the k-sample bound, `k`).
- `report_nll_k`, `report_nll_num`: the importance-sampled test NLL written by `report`.
- `num_classes` = K > 0: the conditional VAE (Sohn et al. 2015). The label y (the batch's
  "y") joins the encoder's input and the decoder's code (`jaxgen.models.conditioning`), so
  the model learns q(z|x, y) and p(x|z, y) with the prior N(0, I) on z; the public methods
  take labels (`sample(key, num, labels)`, `decode(z, y)`, ...), and the loss and bounds
  are those of log p(x|y).

Example (a conditional VAE asked for ten 7s):
    >>> run = jaxgen.load_run("runs/cond_mnist/cvae")  # doctest: +SKIP
    >>> sevens = run.sample(jax.random.PRNGKey(0), 10, jnp.full(10, 7))  # doctest: +SKIP
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, cast

import flax.linen as nn
import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import optax
from flax.training import train_state

from jaxgen import distributions as dist
from jaxgen.config import ConfigDict, base_config
from jaxgen.errors import ConfigError
from jaxgen.evaluation import likelihood
from jaxgen.evaluation.metrics import in_batches
from jaxgen.models.conditioning import balanced_labels, batch_labels, with_label
from jaxgen.models.conv import ConvDecoder, ConvEncoder
from jaxgen.models.mlp import MLP
from jaxgen.sampling import lerp, named_key, prior_sample, reparameterize, slerp
from jaxgen.train.family import Batch, Family, Metrics, State
from jaxgen.train.optim import make_optimizer

LIKELIHOODS = ("bernoulli", "gaussian")
SCHEDULES = ("constant", "linear", "cyclical")
OBJECTIVES = ("elbo", "iwae")


def model_config(**overrides: Any) -> ml_collections.ConfigDict:
    cfg = ml_collections.ConfigDict(
        {
            "family": "vae",
            "arch": "mlp",  # mlp | conv
            "latent_dim": 20,
            "hidden_sizes": (512, 256),  # MLP encoder; the decoder mirrors it
            "activation": "relu",
            "conv_features": (32, 64),  # conv encoder channels; the decoder mirrors them
            "likelihood": "bernoulli",  # p(x|z): bernoulli | gaussian
            "C": 10.0,  # gaussian likelihood: weight of ||x - x_hat||^2, = 1 / (2 sigma^2)
            "beta": 1.0,  # KL weight (at the end of a warm-up / top of a cycle)
            "beta_schedule": "constant",  # constant | linear | cyclical
            "beta_warmup_steps": 10_000,  # linear: steps from 0 to beta
            "beta_cycle_steps": 10_000,  # cyclical: steps per cycle
            "beta_cycle_ratio": 0.5,  # cyclical: fraction of a cycle spent rising
            "objective": "elbo",  # elbo | iwae
            "k": 1,  # importance samples of the iwae objective (and of `iwae_bound`)
            "eval_k": 0,  # > 1: eval_step also reports the k-sample NLL estimate
            "active_threshold": 0.01,  # a unit is active if Var_x E[z|x] exceeds this
            "report_nll_k": 100,  # importance samples of the NLL in `report`; 0 = skip
            "report_nll_num": 1000,  # test examples for that NLL; 0 = all
            "num_classes": 0,  # K > 0: a conditional VAE on the labels "y" (0 = plain)
        }
    )
    cfg.update(overrides)
    return cfg


def config(dataset: str = "mnist", **model: Any) -> ConfigDict:
    """A full run config for a VAE on `dataset`."""
    cfg = base_config("vae", dataset)
    cfg.model = model_config(**model)
    return cfg


def beta_at(step: jax.Array, m: ml_collections.ConfigDict) -> jax.Array:
    """The KL weight at a train step: constant, linear warm-up, or cyclical (Fu et al. 2019)."""
    step = jnp.asarray(step, jnp.float32)
    if m.beta_schedule == "constant":
        return jnp.asarray(m.beta, jnp.float32)
    if m.beta_schedule == "linear":
        return m.beta * jnp.minimum(1.0, step / max(1, m.beta_warmup_steps))
    if m.beta_schedule == "cyclical":
        phase = jnp.mod(step, m.beta_cycle_steps) / m.beta_cycle_steps
        return m.beta * jnp.minimum(1.0, phase / max(m.beta_cycle_ratio, 1e-8))
    raise ConfigError(f"model.beta_schedule must be one of {', '.join(SCHEDULES)}")


class VAE(nn.Module):
    """Encoder to (mean, log_var) of q(z|x); decoder from z to logits (or Gaussian means)."""

    latent_dim: int
    out_shape: Sequence[int]
    arch: str = "mlp"
    hidden: Sequence[int] = (512, 256)
    act: str = "relu"
    conv_features: Sequence[int] = (32, 64)
    num_classes: int = 0  # > 0: the label y joins the encoder's input and the decoder's code

    def setup(self) -> None:
        d = math.prod(self.out_shape)
        if self.arch == "mlp":
            self.encoder: MLP | ConvEncoder = MLP((*self.hidden, 2 * self.latent_dim), act=self.act)
            self.decoder: MLP | ConvDecoder = MLP((*reversed(self.hidden), d), act=self.act)
        else:
            self.encoder = ConvEncoder(self.conv_features, 2 * self.latent_dim, act=self.act)
            self.decoder = ConvDecoder(
                tuple(self.out_shape),
                tuple(reversed(self.conv_features)),
                start_features=self.conv_features[-1],
                act=self.act,
            )

    def encode(self, x: jax.Array, y: jax.Array | None = None) -> tuple[jax.Array, jax.Array]:
        x = x.reshape(x.shape[0], -1) if self.arch == "mlp" else x
        h = self.encoder(self._join(x, y))
        mean, log_var = jnp.split(h, 2, axis=-1)
        return mean, log_var

    def decode(self, z: jax.Array, y: jax.Array | None = None) -> jax.Array:
        return self.decoder(self._join(z, y)).reshape((z.shape[0], *self.out_shape))

    def _join(self, v: jax.Array, y: jax.Array | None) -> jax.Array:
        if not self.num_classes:
            return v
        if y is None:
            raise ValueError(
                f"a conditional VAE (model.num_classes={self.num_classes}) needs labels y"
            )
        return with_label(v, y, self.num_classes)

    def __call__(self, x: jax.Array, y: jax.Array | None = None) -> jax.Array:
        mean, _ = self.encode(x, y)
        return self.decode(mean, y)


class VAEFamily(Family):
    """Gaussian-encoder VAE with Bernoulli or Gaussian decoder, ELBO or IWAE objective."""

    public_api = ("encode", "encode_distribution", "decode", "reconstruct", "elbo", "iwae_bound")

    def __init__(self, config: ConfigDict):
        super().__init__(config)
        m = config.model
        for key, allowed in (
            ("arch", ("mlp", "conv")),
            ("likelihood", LIKELIHOODS),
            ("beta_schedule", SCHEDULES),
            ("objective", OBJECTIVES),
        ):
            if m[key] not in allowed:
                raise ConfigError(
                    f"model.{key} must be one of {', '.join(allowed)}, got {m[key]!r}"
                )
        if m.likelihood == "gaussian" and m.C <= 0:
            raise ConfigError(f"model.C must be > 0, got {m.C}")
        if m.get("num_classes", 0) < 0:
            raise ConfigError(f"model.num_classes must be >= 0, got {m.num_classes}")
        self.num_classes = int(m.get("num_classes", 0))

    # -- networks -------------------------------------------------------------------------
    def module(self, shape: Sequence[int]) -> VAE:
        m = self.config.model
        return VAE(
            latent_dim=m.latent_dim,
            out_shape=tuple(shape),
            arch=m.arch,
            hidden=tuple(m.hidden_sizes),
            act=m.activation,
            conv_features=tuple(m.conv_features),
            num_classes=self.num_classes,
        )

    def init(
        self, key: jax.Array, batch: Batch, total_steps: int | None = None
    ) -> train_state.TrainState:
        module = self.module(batch["x"].shape[1:])
        y = self.labels(batch)
        params = module.init(key, batch["x"][:1], None if y is None else y[:1])["params"]
        tx = make_optimizer(self.config.optimizer, total_steps)
        return train_state.TrainState.create(apply_fn=module.apply, params=params, tx=tx)

    def labels(self, batch: Batch) -> jax.Array | None:
        """The batch's labels for a conditional VAE (None for a plain one)."""
        return batch_labels(batch, self.num_classes, self.config.dataset.name)

    def _encode(
        self,
        params: Any,
        apply_fn: Callable[..., Any],
        x: jax.Array,
        y: jax.Array | None = None,
    ) -> tuple[jax.Array, jax.Array]:
        args = (x,) if y is None else (x, y)  # families built on this one take no labels
        return apply_fn({"params": params}, *args, method="encode")

    def _decode(
        self,
        params: Any,
        apply_fn: Callable[..., Any],
        z: jax.Array,
        y: jax.Array | None = None,
    ) -> jax.Array:
        args = (z,) if y is None else (z, y)
        return apply_fn({"params": params}, *args, method="decode")

    # -- likelihood pieces ----------------------------------------------------------------
    def log_px_given_z(self, x: jax.Array, out: jax.Array) -> jax.Array:
        """log p(x|z) per example, a true log-density (Gaussian includes its normalizer)."""
        m = self.config.model
        if m.likelihood == "bernoulli":
            return dist.bernoulli_log_prob(x, out)
        return dist.gaussian_c_log_prob(x, out, m.C)

    def reconstruction_loss(self, x: jax.Array, out: jax.Array) -> jax.Array:
        """The training reconstruction term: BCE, or the lecture's C * ||x - x_hat||^2."""
        m = self.config.model
        if m.likelihood == "bernoulli":
            return -dist.bernoulli_log_prob(x, out)
        return m.C * jnp.sum((x - out).reshape(x.shape[0], -1) ** 2, axis=-1)

    def log_weights(
        self,
        params: Any,
        apply_fn: Callable[..., Any],
        x: jax.Array,
        key: jax.Array,
        n: int,
        beta: float | jax.Array = 1.0,
        y: jax.Array | None = None,
    ) -> jax.Array:
        """(B, n) log p(x|z_i) + beta * (log p(z_i) - log q(z_i|x)), z_i ~ q(z|x).

        With labels y (a conditional VAE) every term is conditioned on y: a bound on log p(x|y).
        """
        mean, log_var = self._encode(params, apply_fn, x, y)
        eps = jax.random.normal(key, (n, *mean.shape), mean.dtype)
        z = mean + jnp.exp(0.5 * log_var) * eps  # (n, B, L), reparameterized
        ys = None if y is None else jnp.tile(y, n)  # z is (n, B): label b repeats per sample
        out = self._decode(params, apply_fn, z.reshape(-1, z.shape[-1]), ys)
        xs = jnp.broadcast_to(x, (n, *x.shape)).reshape(-1, *x.shape[1:])
        log_px = self.log_px_given_z(xs, out).reshape(n, -1)
        log_pz = dist.std_normal_log_prob(z)
        log_qz = dist.diag_gaussian_log_prob(z, mean, log_var)
        return (log_px + beta * (log_pz - log_qz)).T

    def loss(
        self,
        params: Any,
        apply_fn: Callable[..., Any],
        batch: Batch,
        key: jax.Array,
        beta: jax.Array,
    ) -> tuple[jax.Array, dict[str, jax.Array]]:
        m = self.config.model
        x, y = batch["x"], self.labels(batch)
        if m.objective == "iwae":
            lw = self.log_weights(params, apply_fn, x, key, m.k, beta, y)
            bound = likelihood.iwae_bound(lw)
            return -bound.mean(), {"iwae_bound": bound.mean(), "beta": beta}
        mean, log_var = self._encode(params, apply_fn, x, y)
        z = reparameterize(key, mean, log_var)
        rec = self.reconstruction_loss(x, self._decode(params, apply_fn, z, y))
        kl = dist.kl_std_normal(mean, log_var)
        loss = jnp.mean(rec + beta * kl)
        return loss, {"reconstruction": rec.mean(), "kl": kl.mean(), "beta": beta}

    def train_step(self, state: State, batch: Batch, key: jax.Array) -> tuple[State, Metrics]:
        return beta_train_step(self.loss, self.config.model, state, batch, key)

    def eval_step(self, state: State, batch: Batch, key: jax.Array) -> Metrics:
        """Per example: -ELBO (nats, beta = 1), its reconstruction and KL terms."""
        m = self.config.model
        x, y = batch["x"], self.labels(batch)
        mean, log_var = self._encode(state.params, state.apply_fn, x, y)
        z = reparameterize(named_key(key, "z"), mean, log_var)
        log_px = self.log_px_given_z(x, self._decode(state.params, state.apply_fn, z, y))
        kl = dist.kl_std_normal(mean, log_var)
        out = {"loss": kl - log_px, "neg_elbo": kl - log_px, "rec_nll": -log_px, "kl": kl}
        if m.eval_k > 1:
            lw = self.log_weights(
                state.params, state.apply_fn, x, named_key(key, "iw"), m.eval_k, 1.0, y
            )
            out[f"nll_k{m.eval_k}"] = -likelihood.iwae_bound(lw)
        return out

    # -- the public API load_run binds -----------------------------------------------------
    # `y` (labels, (N,) integers) is for a conditional VAE (`model.num_classes` > 0) only.
    def encode(self, state: State, x: jax.Array, y: jax.Array | None = None) -> jax.Array:
        """The posterior mean E[z|x(, y)]: the code to interpolate between."""
        return self._encode(state.params, state.apply_fn, x, y)[0]

    def encode_distribution(
        self, state: State, x: jax.Array, y: jax.Array | None = None
    ) -> tuple[jax.Array, jax.Array]:
        """(mean, log_var) of q(z|x(, y))."""
        return self._encode(state.params, state.apply_fn, x, y)

    def decode(self, state: State, z: jax.Array, y: jax.Array | None = None) -> jax.Array:
        """The decoder's mean image: sigmoid(logits) (Bernoulli) or x_hat (Gaussian)."""
        out = self._decode(state.params, state.apply_fn, z, y)
        return jax.nn.sigmoid(out) if self.config.model.likelihood == "bernoulli" else out

    def reconstruct(self, state: State, x: jax.Array, y: jax.Array | None = None) -> jax.Array:
        z = self.encode(state, x, y)
        # Families built on this one (the sequence VAE) decode without labels.
        return self.decode(state, z) if y is None else self.decode(state, z, y)

    def elbo(
        self, state: State, x: jax.Array, key: jax.Array, y: jax.Array | None = None
    ) -> jax.Array:
        """Per-example one-sample ELBO (nats) = the k=1 importance-weighted bound."""
        return self.log_weights(state.params, state.apply_fn, x, key, 1, 1.0, y)[:, 0]

    def iwae_bound(
        self, state: State, x: jax.Array, key: jax.Array, y: jax.Array | None = None
    ) -> jax.Array:
        """Per-example L_k with k = `model.k` (use `log_weights_fn` for other k)."""
        lw = self.log_weights(state.params, state.apply_fn, x, key, self.config.model.k, 1.0, y)
        return likelihood.iwae_bound(lw)

    def log_weights_fn(self, state: State) -> likelihood.LogWeightsFn:
        """(x, key, n) -> (B, n) log importance weights, for `evaluation.likelihood`."""
        return lambda x, key, n: self.log_weights(state.params, state.apply_fn, x, key, n)

    def sample(
        self, state: State, key: jax.Array, num: int, labels: jax.Array | None = None
    ) -> jax.Array:
        """Mean images decoded from z ~ N(0, I); a conditional VAE decodes them with `labels`
        (default: every class in turn, 0, 1, ..., K-1, 0, ...)."""
        z = prior_sample(key, num, self.config.model.latent_dim)
        if self.num_classes and labels is None:
            labels = balanced_labels(num, self.num_classes)
        return self.decode(state, z, labels)

    # -- end-of-run report ----------------------------------------------------------------
    def active_units(
        self,
        state: State,
        x: np.ndarray,
        batch_size: int = 1000,
        y: np.ndarray | jax.Array | None = None,
    ) -> dict[str, Any]:
        """Burda et al.'s active units: Var over data of E[z_u|x] above the threshold."""
        enc = jax.jit(self.encode)
        encode = lambda xb, yb: enc(state, xb, yb)  # noqa: E731
        return active_units(encode, x, self.config.model.active_threshold, batch_size, y)

    def report(self, state: State, splits: Any, workdir: Path, key: jax.Array) -> dict[str, Any]:
        from jaxgen import plotting

        m = self.config.model
        figs = Path(workdir) / "figures"
        test = splits.test if splits.test is not None else splits.train
        x, y = test["x"], self.labels(test)
        out: dict[str, Any] = {}
        au = self.active_units(state, x, y=y)
        out["active_units"] = au["active_units"]
        out["latent_dim"] = m.latent_dim
        if self.num_classes:  # one row per class, as conditional-generation papers show
            if x.ndim != 4:  # figures are of images
                return out
            k = self.num_classes
            labels = jnp.repeat(jnp.arange(k), 10)
            samples = np.asarray(jax.jit(self.sample, static_argnums=2)(state, key, 10 * k, labels))
            plotting.image_grid(samples, figs / "samples.png", ncols=10, title="one row per class")
            rec = np.asarray(jax.jit(self.reconstruct)(state, x[:10], cast(jax.Array, y)[:10]))
            plotting.image_rows(
                [x[:10], rec], ["test", "reconstruction"], figs / "reconstructions.png"
            )
            return out  # the NLL below is of the plain model's log p(x); this one has log p(x|y)
        if x.ndim == 4:  # the figures are of images; a vector dataset still gets its NLL
            self._image_figures(state, test, key, figs)
        if m.report_nll_k > 0:
            num = m.report_nll_num or len(x)
            res = likelihood.test_nll(
                self.log_weights_fn(state),
                x[:num],
                named_key(key, "nll"),
                k=m.report_nll_k,
                batch_size=min(100, num),
                chunk=min(m.report_nll_k, 100),
            )
            out[f"test_nll_k{m.report_nll_k}_n{res['num_examples']}"] = res["nll"]
        return out

    def _image_figures(
        self, state: State, test: dict[str, np.ndarray], key: jax.Array, figs: Path
    ) -> None:
        from jaxgen import plotting

        x = test["x"]
        samples = np.asarray(jax.jit(self.sample, static_argnums=2)(state, key, 100))
        plotting.image_grid(samples, figs / "samples.png", title="samples from the prior")
        rec = np.asarray(jax.jit(self.reconstruct)(state, x[:10]))
        plotting.image_rows([x[:10], rec], ["test", "reconstruction"], figs / "reconstructions.png")
        strip = interpolation_strips(self, state, x[0], x[1], 10)
        plotting.image_rows(
            [strip["lerp"], strip["slerp"]], ["lerp", "slerp"], figs / "interpolation.png"
        )
        if self.config.model.latent_dim == 2:
            manifold_figure(self, state, figs / "manifold.png")
            codes_figure(self, state, test, figs / "codes.png")


# -- pieces shared with the families built on this one (the sequence VAE) ---------------------
def beta_train_step(
    loss_fn: Callable[..., tuple[jax.Array, dict[str, jax.Array]]],
    model_cfg: ConfigDict,
    state: State,
    batch: Batch,
    key: jax.Array,
) -> tuple[State, Metrics]:
    """One update of `loss_fn(params, apply_fn, batch, key, beta)` at the schedule's beta.

    Returns the new state and the metrics (loss, grad_norm and `loss_fn`'s aux).
    """
    beta = beta_at(state.step, model_cfg)
    (loss, aux), grads = jax.value_and_grad(loss_fn, has_aux=True)(
        state.params, state.apply_fn, batch, key, beta
    )
    state = state.apply_gradients(grads=grads)
    return state, {"loss": loss, "grad_norm": optax.tree.norm(grads), **aux}


def active_units(
    encode: Callable[[np.ndarray, np.ndarray | jax.Array | None], jax.Array],
    x: np.ndarray,
    threshold: float,
    batch_size: int = 1000,
    y: np.ndarray | jax.Array | None = None,
) -> dict[str, Any]:
    """Burda et al.'s active units of posterior means `encode(x_batch, y_batch)`.

    A unit u is active when Var over the data of E[z_u|x] exceeds `threshold`.
    """
    means = in_batches(encode, x, y, batch_size=batch_size)
    var = means.var(axis=0)
    return {"active_units": int((var > threshold).sum()), "posterior_mean_var": var.tolist()}


# -- figures shared by the experiments -------------------------------------------------------
def interpolation_strips(
    family: VAEFamily,
    state: State,
    x0: np.ndarray | jax.Array,
    x1: np.ndarray | jax.Array,
    steps: int = 10,
) -> dict[str, np.ndarray]:
    """Decoded lerp and slerp paths between the codes of two images, endpoints included."""
    z = family.encode(state, jnp.stack([x0, x1]))
    t = jnp.linspace(0.0, 1.0, steps)
    return {
        name: np.asarray(family.decode(state, fn(z[0], z[1], t)))
        for name, fn in (("lerp", lerp), ("slerp", slerp))
    }


def manifold_figure(family: VAEFamily, state: State, path: Path, n: int = 20) -> Path:
    """The decoded 2-d manifold: z on a grid of N(0, 1) quantiles (inverse CDF)."""
    from jaxgen import plotting

    q = jax.scipy.stats.norm.ppf(jnp.linspace(0.05, 0.95, n))
    # Rows run from high z2 (top) to low; columns from low z1 (left) to high.
    zz = jnp.stack(jnp.meshgrid(q, -q), -1).reshape(-1, 2)
    imgs = np.asarray(family.decode(state, zz))
    return plotting.image_grid(imgs, path, ncols=n, title="decoded 2-d latent manifold")


def codes_figure(family: VAEFamily, state: State, data: dict[str, np.ndarray], path: Path) -> Path:
    """Posterior means of the test set in a 2-d latent space, coloured by label."""
    import matplotlib.pyplot as plt

    z = np.asarray(jax.jit(family.encode)(state, data["x"]))
    fig, ax = plt.subplots(figsize=(5, 4.5))
    sc = ax.scatter(z[:, 0], z[:, 1], c=data.get("y", np.zeros(len(z))), cmap="tab10", s=2)
    fig.colorbar(sc, ax=ax, label="digit")
    ax.set_xlabel("z1")
    ax.set_ylabel("z2")
    ax.set_title("test codes E[z|x]")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110, bbox_inches="tight")
    plt.close(fig)
    return path


def make_family(config: ConfigDict) -> VAEFamily:
    return VAEFamily(config)


__all__ = [
    "VAE",
    "VAEFamily",
    "active_units",
    "beta_at",
    "beta_train_step",
    "codes_figure",
    "config",
    "interpolation_strips",
    "make_family",
    "manifold_figure",
    "model_config",
]
