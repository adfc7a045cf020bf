"""Generative adversarial networks (Goodfellow et al. 2014) through the shared loop.

A generator G turns noise z ~ p_z (uniform on [-1, 1] as in the lecture, or Gaussian) into
samples; a discriminator D(x) = sigmoid(logit(x)) estimates the probability that x is real.
The state is `{"g": TrainState, "d": TrainState}`: two parameter sets, two optimizer states
(groups `optimizer` for G and `d_optimizer` for D), one pytree, so the loop checkpoints and
resumes it like any other run. One `train_step` is Algorithm 1 of the paper: `model.d_steps`
(k) discriminator updates, each on its own m = batch_size / k real examples and fresh noise,
then one generator update on fresh noise.

The lecture's game and the log-loss used in practice
----------------------------------------------------
The lecture writes the game with a classification error,

    E(G, D) = 1/2 E_{x~p_t}[1 - D(x)] + 1/2 E_{z~p_z}[D(G(z))],    max_G min_D E(G, D).

For a fixed G the minimizing D is the Bayes classifier D*(x) = 1[p_t(x) > p_g(x)] (the
lecture's gray curve) and min_D E = 1/2 - 1/2 TV(p_t, p_g): the generator maximizes the error
of the best classifier, i.e. minimizes the total variation distance, and the game's value is
1/2 exactly when p_g = p_t. That D* is a step function, so its gradient with respect to
G(z) is zero almost everywhere: G cannot learn from it. Goodfellow et al. replace the linear
error by the log-loss (binary cross-entropy) of the same classifier,

    V(D, G) = E_{x~p_t}[log D(x)] + E_{z~p_z}[log(1 - D(G(z)))],    min_G max_D V(D, G),

i.e. 1 - D(x) -> -log D(x) and D(G(z)) -> -log(1 - D(G(z))) (each a convex upper bound of
the error term, up to a factor log 2). Now D*(x) = p_t / (p_t + p_g) is smooth, and
max_D V = -log 4 + 2 JSD(p_t || p_g): the generator minimizes the Jensen-Shannon divergence,
again with its minimum at p_g = p_t (where D* = 1/2, -V = log 4 and E = 1/2).

`model.loss` picks the generator's objective (D always minimizes -V except for "linear"):
- "minimax": the paper's saturating G loss, E[log(1 - D(G(z)))] (G minimizes V).
  When D confidently rejects fakes early on, log(1 - D) is flat: vanishing gradients.
- "non_saturating": the paper's practical fix, -E[log D(G(z))]: same fixed point, strong
  gradients where D rejects the fakes.
- "linear": the lecture's E(G, D) itself for both players (D minimizes E, G maximizes it),
  with a sigmoid D; kept to show the difference in practice.
- "wasserstein": the WGAN critic (Arjovsky et al. 2017): D's logit f(x) is a score, D
  minimizes E f(G(z)) - E f(x), G minimizes -E f(G(z)); pair it with `penalty="gp"`
  (WGAN-GP, Gulrajani et al. 2017) to keep f 1-Lipschitz.

Remedies for mode collapse (options of the family, off by default)
------------------------------------------------------------------
- `model.pack` = p > 1 (PacGAN, Lin et al. 2018): D judges p samples at once, all real or
  all generated, concatenated (features for vectors, channels for images). A generator that
  drops modes makes packs that look unlike real packs, so D sees the missing diversity. In
  training each D and G batch of m examples becomes m / p non-overlapping packs; evaluation
  and `discriminate` pack each example with the p - 1 that follow it (cyclically), so every
  example gets a score.
- `model.penalty` with weight `model.penalty_weight` (gamma or lambda), added to D's loss:
  "r1": gamma/2 E_x ||grad_x logit(x)||^2 on real data (Mescheder et al. 2018: the
  zero-centred penalty that makes the game converge locally), "r2": the same on fakes,
  "gp": lambda E (||grad f(x_hat)|| - 1)^2 on random interpolates x_hat of real and fake
  packs (WGAN-GP). `model.penalty_every` = k > 1 applies it on every k-th D update only,
  weighted k times (lazy regularization, Karras et al. 2020): the double backward pass is
  most of a penalized step's cost (a conv D step 0.31 s -> 0.52 s with R1 on one core), and
  the penalty's mean is unchanged.
- `model.g_ema` = decay in (0, 1): samples come from an exponential moving average of G's
  weights (Yazici et al. 2019; used by ProGAN, StyleGAN, BigGAN). The players' updates
  circle the equilibrium; the average sits nearer it, so samples are sharper.

Class-conditional generation
----------------------------
`model.num_classes` = K > 0 makes the conditional GAN of Mirza & Osindero (2014): the label
y joins G's noise, G(z, y), and D's input, D(x, y) (one-hot, as channels for images; see
`jaxgen.models.conditioning`). D's fakes in each update carry the labels of that update's
real examples, and G's update uses the labels of the last D update's batch, so both players
see the data's class frequencies. `sample(key, num, labels)` asks for given classes:

    >>> run = jaxgen.load_run("runs/cond_mnist/cgan")  # doctest: +SKIP
    >>> sevens = run.sample(jax.random.PRNGKey(0), 10, jnp.full(10, 7))  # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import optax
from flax.training import train_state

from jaxgen.config import ConfigDict, base_config
from jaxgen.errors import ConfigError
from jaxgen.models.conditioning import balanced_labels, batch_labels, with_label
from jaxgen.models.gan import ConvDiscriminator, ConvGenerator, MLPDiscriminator, MLPGenerator
from jaxgen.sampling import gan_noise, named_key
from jaxgen.train.family import Batch, Family, Metrics, State
from jaxgen.train.optim import make_optimizer, optimizer_config

if TYPE_CHECKING:
    from jaxgen.data.splits import Splits
    from jaxgen.train.loop import RunResult

LOSSES = ("non_saturating", "minimax", "linear", "wasserstein")
PENALTIES = ("none", "r1", "r2", "gp")
NOISES = ("uniform", "gaussian")
ARCHS = ("mlp", "conv")
OUT_ACTS = ("linear", "sigmoid", "tanh")


def model_config(**overrides: Any) -> ml_collections.ConfigDict:
    cfg = ml_collections.ConfigDict(
        {
            "family": "gan",
            "arch": "mlp",  # mlp | conv (DCGAN-style, images only)
            "latent_dim": 1,
            "noise": "uniform",  # uniform on [-1, 1] (the lecture) | gaussian N(0, I)
            "loss": "non_saturating",  # non_saturating | minimax | linear (the lecture's E)
            "d_steps": 1,  # k discriminator updates per generator update
            "pack": 1,  # PacGAN: D judges packs of this many samples (1 = a plain GAN)
            "penalty": "none",  # none | r1 | r2 | gp (WGAN-GP): a gradient penalty on D
            "penalty_weight": 0.0,  # gamma (r1/r2, applied as gamma/2) or lambda (gp)
            "penalty_every": 1,  # lazy: the penalty on every k-th D update, weighted k
            "g_ema": 0.0,  # decay of an exponential moving average of G's weights; 0 = off
            "x_scale": 1.0,  # the data's scale: G outputs x_scale * net(z), D reads x / x_scale
            "num_classes": 0,  # K > 0: a conditional GAN, G(z, y) and D(x, y) on labels "y"
            "g_hidden": (64, 64),  # MLP generator hidden sizes
            "d_hidden": (64, 64),  # MLP discriminator hidden sizes
            "g_activation": "relu",
            "d_activation": "leaky_relu",  # or "maxout" (MLP only): max of d_maxout_pieces
            "d_maxout_pieces": 5,
            "g_out": "linear",  # linear | sigmoid | tanh: the generator's output nonlinearity
            "conv_g_features": (64, 32),  # channels after each x2 upsampling (7 -> 14 -> 28)
            "conv_g_start": 128,  # channels of the generator's 7x7 start map
            "conv_d_features": (64, 128),  # channels of the strided discriminator convs
        }
    )
    cfg.update(overrides)
    return cfg


def config(dataset: str = "gmm1d", **model: Any) -> ConfigDict:
    """A full GAN run config on `dataset`: Adam(2e-4, b1=0.5) for both players (DCGAN)."""
    cfg = base_config("gan", dataset)
    cfg.model = model_config(**model)
    cfg.optimizer = optimizer_config(lr=2e-4, b1=0.5)
    cfg.d_optimizer = optimizer_config(lr=2e-4, b1=0.5)
    return cfg


# -- losses (pure functions of the discriminator's logits; D(x) = sigmoid(logit)) -----------
def discriminator_loss(real_logits: jax.Array, fake_logits: jax.Array, kind: str) -> jax.Array:
    """The discriminator's loss: -V(D, G) (log-loss), or the lecture's E(G, D) for "linear"."""
    if kind == "linear":
        return lecture_error(real_logits, fake_logits)
    if kind == "wasserstein":
        return jnp.mean(fake_logits) - jnp.mean(real_logits)
    # -log D(x) = softplus(-logit); -log(1 - D(x)) = softplus(logit): stable for any logit.
    return jnp.mean(jax.nn.softplus(-real_logits)) + jnp.mean(jax.nn.softplus(fake_logits))


def generator_loss(fake_logits: jax.Array, kind: str) -> jax.Array:
    """What the generator minimizes (see the module docstring)."""
    if kind == "minimax":
        return -jnp.mean(jax.nn.softplus(fake_logits))  # E log(1 - D(G(z)))
    if kind == "non_saturating":
        return jnp.mean(jax.nn.softplus(-fake_logits))  # -E log D(G(z))
    if kind == "linear":
        return -0.5 * jnp.mean(jax.nn.sigmoid(fake_logits))  # -(G's part of E(G, D))
    if kind == "wasserstein":
        return -jnp.mean(fake_logits)
    raise ValueError(f"unknown GAN loss {kind!r} ({', '.join(LOSSES)})")


def gradient_penalty(
    critic: Callable[[jax.Array], jax.Array],
    real: jax.Array,
    fake: jax.Array,
    kind: str,
    key: jax.Array | None = None,
    group: int = 1,
) -> jax.Array:
    """The (unweighted) gradient penalty of a critic x -> logits at its inputs.

    "r1": 1/2 E ||grad critic(real)||^2; "r2": the same at `fake`; "gp": E (||grad
    critic(x_hat)|| - 1)^2 with x_hat = e real + (1 - e) fake, e ~ U(0, 1) per example.
    Gradients are per critic input: with `group` = p the critic scores each run of p
    consecutive examples as one input (a PacGAN pack; N / p logits), so the norm is over
    the pack and e is drawn per pack; otherwise each logit depends on its own example only.
    """
    if kind == "none":
        return jnp.zeros((), real.dtype)
    if kind == "gp":
        if key is None:
            raise ValueError("the 'gp' penalty draws its interpolation points: pass a key")
        e = jax.random.uniform(key, (real.shape[0] // group,), real.dtype)
        e = jnp.repeat(e, group).reshape((-1,) + (1,) * (real.ndim - 1))
        at = e * real + (1.0 - e) * fake
    elif kind in ("r1", "r2"):
        at = real if kind == "r1" else fake
    else:
        raise ValueError(f"unknown gradient penalty {kind!r} ({', '.join(PENALTIES)})")
    grads = jax.grad(lambda x: jnp.sum(critic(x)))(at)
    sq = jnp.sum(grads.reshape(grads.shape[0] // group, -1) ** 2, axis=1)
    if kind == "gp":
        return jnp.mean((jnp.sqrt(sq + 1e-12) - 1.0) ** 2)
    return 0.5 * jnp.mean(sq)


def make_packs(x: jax.Array, pack: int, *, cyclic: bool = False) -> jax.Array:
    """Samples (N, ...) -> PacGAN packs of `pack` samples each, as one D input per pack.

    Non-overlapping packs (N / pack of them, N divisible by pack) for training; with `cyclic`,
    N packs where pack i holds samples i, i+1, ..., i+pack-1 (mod N), for scoring every
    sample. Vectors are concatenated along features, images (H, W, C) along channels.
    """
    if pack == 1:
        return x
    if cyclic:
        grouped = jnp.stack([jnp.roll(x, -j, axis=0) for j in range(pack)], axis=1)
    else:
        grouped = x.reshape((x.shape[0] // pack, pack, *x.shape[1:]))
    if x.ndim == 4:  # (P, pack, H, W, C) -> (P, H, W, pack * C)
        p, _, h, w, c = grouped.shape
        return jnp.moveaxis(grouped, 1, 3).reshape(p, h, w, pack * c)
    return grouped.reshape(grouped.shape[0], -1)


def lecture_error(real_logits: jax.Array, fake_logits: jax.Array) -> jax.Array:
    """E(G, D) = 1/2 E[1 - D(x)] + 1/2 E[D(G(z))]: the lecture's classification error."""
    return 0.5 * jnp.mean(1.0 - jax.nn.sigmoid(real_logits)) + 0.5 * jnp.mean(
        jax.nn.sigmoid(fake_logits)
    )


class GANFamily(Family):
    """Two players, two optimizers, one jitted step (k D updates, then one G update)."""

    public_api = ("generate", "discriminate")

    def __init__(self, config: ConfigDict):
        super().__init__(config)
        m = config.model
        choices = (
            ("loss", LOSSES),
            ("noise", NOISES),
            ("arch", ARCHS),
            ("g_out", OUT_ACTS),
            ("penalty", PENALTIES),
        )
        for key, allowed in choices:
            if m[key] not in allowed:
                raise ConfigError(
                    f"model.{key} must be one of {', '.join(allowed)}, got {m[key]!r}"
                )
        if m.d_steps < 1:
            raise ConfigError(f"model.d_steps must be >= 1, got {m.d_steps}")
        if config.train.batch_size % m.d_steps:
            raise ConfigError(
                f"train.batch_size={config.train.batch_size} must be divisible by "
                f"model.d_steps={m.d_steps}: each D update uses batch_size / d_steps examples"
            )
        if m.pack < 1 or (config.train.batch_size // m.d_steps) % m.pack:
            raise ConfigError(
                f"model.pack={m.pack} must be >= 1 and divide the examples per D update "
                f"(train.batch_size / model.d_steps = {config.train.batch_size // m.d_steps})"
            )
        if not 0.0 <= m.g_ema < 1.0:
            raise ConfigError(f"model.g_ema must be in [0, 1), got {m.g_ema}")
        if m.penalty_weight < 0 or (m.penalty == "none") != (m.penalty_weight == 0):
            raise ConfigError(
                f"model.penalty={m.penalty!r} with model.penalty_weight={m.penalty_weight}: "
                "a penalty needs a weight > 0, and a weight needs a penalty (r1, r2, gp)"
            )
        if m.get("penalty_every", 1) < 1:
            raise ConfigError(f"model.penalty_every must be >= 1, got {m.penalty_every}")
        if m.d_activation == "maxout" and (m.arch != "mlp" or m.get("d_maxout_pieces", 5) < 1):
            raise ConfigError("model.d_activation='maxout' needs model.arch='mlp' and >= 1 piece")
        if not m.x_scale > 0:
            raise ConfigError(f"model.x_scale must be > 0, got {m.x_scale}")
        if m.get("num_classes", 0) < 0:
            raise ConfigError(f"model.num_classes must be >= 0, got {m.num_classes}")
        self.num_classes = int(m.get("num_classes", 0))
        self.d_steps = int(m.d_steps)
        self.pack = int(m.pack)
        self.x_scale = float(m.x_scale)
        self.d_opt_cfg = config.get("d_optimizer", None) or config.optimizer

    # -- networks ------------------------------------------------------------------------
    def modules(
        self, shape: tuple[int, ...]
    ) -> tuple[ConvGenerator | MLPGenerator, ConvDiscriminator | MLPDiscriminator]:
        m = self.config.model
        if m.arch == "conv":
            if len(shape) != 3:
                raise ConfigError(f"model.arch='conv' needs images (H, W, C), got shape {shape}")
            g: ConvGenerator | MLPGenerator = ConvGenerator(
                out_shape=tuple(shape),
                features=tuple(m.conv_g_features),
                start_features=m.conv_g_start,
                act=m.g_activation,
                out_act=m.g_out,
            )
            d: ConvDiscriminator | MLPDiscriminator = ConvDiscriminator(
                features=tuple(m.conv_d_features), act=m.d_activation
            )
        else:
            g = MLPGenerator(tuple(m.g_hidden), tuple(shape), m.g_activation, m.g_out)
            d = MLPDiscriminator(tuple(m.d_hidden), m.d_activation, m.get("d_maxout_pieces", 5))
        return g, d

    def noise(self, key: jax.Array, num: int) -> jax.Array:
        """z ~ p_z of shape (num, latent_dim), from the shared sampler."""
        return gan_noise(key, (num, self.config.model.latent_dim), self.config.model.noise)

    def init(self, key: jax.Array, batch: Batch, total_steps: int | None = None) -> dict[str, Any]:
        g, d = self.modules(batch["x"].shape[1:])
        y = self.labels(batch)
        y = None if y is None else jnp.repeat(y[:1], self.pack)
        z = self._join(self.noise(named_key(key, "z"), self.pack), y)
        g_params = g.init(named_key(key, "g"), z[:1])["params"]
        x = self._join(jnp.repeat(batch["x"][:1], self.pack, axis=0), y)
        d_params = d.init(named_key(key, "d"), make_packs(x, self.pack))["params"]
        # D takes k steps per G step: its schedule (if any) spans k times as many updates.
        g_tx = make_optimizer(self.config.optimizer, total_steps)
        d_total = None if total_steps is None else total_steps * self.d_steps
        d_tx = make_optimizer(self.d_opt_cfg, d_total)
        state = {
            "g": train_state.TrainState.create(apply_fn=g.apply, params=g_params, tx=g_tx),
            "d": train_state.TrainState.create(apply_fn=d.apply, params=d_params, tx=d_tx),
        }
        if self.config.model.g_ema:
            state["g_ema"] = jax.tree.map(jnp.copy, g_params)
        return state

    def labels(self, batch: Batch) -> jax.Array | None:
        """The batch's labels for a conditional GAN (None for a plain one)."""
        return batch_labels(batch, self.num_classes, self.config.dataset.name)

    def _join(self, v: jax.Array, y: jax.Array | None) -> jax.Array:
        if not self.num_classes:
            return v
        if y is None:
            raise ValueError(
                f"a conditional GAN (model.num_classes={self.num_classes}) needs labels"
            )
        return with_label(v, y, self.num_classes)

    def _gen(
        self, ts: train_state.TrainState, params: Any, z: jax.Array, y: jax.Array | None = None
    ) -> jax.Array:
        return self.x_scale * ts.apply_fn({"params": params}, self._join(z, y))

    def _disc(
        self,
        ts: train_state.TrainState,
        params: Any,
        x: jax.Array,
        y: jax.Array | None = None,
        cyclic: bool = False,
    ) -> jax.Array:
        """D's logits: one per pack of `model.pack` examples (per example if `cyclic`)."""
        packs = make_packs(self._join(x / self.x_scale, y), self.pack, cyclic=cyclic)
        return ts.apply_fn({"params": params}, packs)

    # -- training ------------------------------------------------------------------------
    def train_step(self, state: State, batch: Batch, key: jax.Array) -> tuple[State, Metrics]:
        kind, penalty = self.config.model.loss, self.config.model.penalty
        weight, pack = self.config.model.penalty_weight, self.pack
        g_state, d_state = state["g"], state["d"]
        x, y = batch["x"], self.labels(batch)
        m = x.shape[0] // self.d_steps
        reals = x[: m * self.d_steps].reshape((self.d_steps, m, *x.shape[1:]))
        ys = [None] * self.d_steps if y is None else y[: m * self.d_steps].reshape(-1, m)
        d_keys = jax.random.split(named_key(key, "d_noise"), self.d_steps)
        # G's parameters are constants during the D updates.
        g_params = jax.lax.stop_gradient(g_state.params)

        every = self.config.model.get("penalty_every", 1)

        def d_objective(
            d_params: Any,
            real: jax.Array,
            fake: jax.Array,
            y_real: jax.Array | None,
            k: jax.Array,
            step: int | jax.Array,
        ) -> tuple[jax.Array, dict[str, jax.Array]]:
            def critic(v: jax.Array) -> jax.Array:
                return self._disc(d_state, d_params, v, y_real)

            def pen_fn() -> jax.Array:
                return every * gradient_penalty(critic, real, fake, penalty, k, group=pack)

            r, f = critic(real), critic(fake)
            if every == 1 or penalty == "none":
                pen = pen_fn()
            else:  # a cond, not a select: the skipped updates do not pay for the penalty
                pen = jax.lax.cond(step % every == 0, pen_fn, lambda: jnp.zeros((), r.dtype))
            aux = {
                "d_real": jnp.mean(jax.nn.sigmoid(r)),
                "d_fake": jnp.mean(jax.nn.sigmoid(f)),
                "error": lecture_error(r, f),
                "penalty": pen,
            }
            return discriminator_loss(r, f, kind) + weight * pen, aux

        def d_update(
            d_st: train_state.TrainState, real: jax.Array, y_real: jax.Array | None, k: jax.Array
        ) -> tuple[train_state.TrainState, tuple[jax.Array, dict[str, jax.Array], jax.Array]]:
            fake = self._gen(g_state, g_params, self.noise(k, m), y_real)
            (loss, aux), grads = jax.value_and_grad(d_objective, has_aux=True)(
                d_st.params, real, fake, y_real, named_key(k, "penalty"), d_st.step
            )
            return d_st.apply_gradients(grads=grads), (loss, aux, optax.tree.norm(grads))

        # Unrolled, not `lax.scan`: XLA CPU runs convolutions inside a loop body on a slow
        # path (a DCGAN step took 3.5 s scanned against ~0.4 s unrolled); k is small.
        outs = []
        for i in range(self.d_steps):
            d_state, out = d_update(d_state, reals[i], ys[i], d_keys[i])
            outs.append(out)
        d_losses, d_aux, d_norms = jax.tree.map(lambda *v: jnp.stack(v), *outs)

        z, y_g = self.noise(named_key(key, "g_noise"), m), ys[-1]

        def g_objective(params: Any) -> jax.Array:
            fake = self._gen(g_state, params, z, y_g)
            return generator_loss(self._disc(d_state, d_state.params, fake, y_g), kind)

        g_loss, g_grads = jax.value_and_grad(g_objective)(g_state.params)
        g_state = g_state.apply_gradients(grads=g_grads)
        g_norm, d_norm = optax.tree.norm(g_grads), d_norms[-1]
        metrics = {
            "loss": jnp.mean(d_losses),  # -V(D, G) (+ penalty): log 4 at equilibrium
            "d_loss": jnp.mean(d_losses),
            "g_loss": g_loss,
            "grad_norm": jnp.sqrt(g_norm**2 + d_norm**2),
            "g_grad_norm": g_norm,
            "d_grad_norm": d_norm,
            **{k: jnp.mean(v) for k, v in d_aux.items()},
        }
        new = {"g": g_state, "d": d_state}
        if "g_ema" in state:
            new["g_ema"] = optax.incremental_update(
                g_state.params, state["g_ema"], 1.0 - self.config.model.g_ema
            )
        return new, metrics

    def eval_step(self, state: State, batch: Batch, key: jax.Array) -> Metrics:
        """Per example i: the discriminator on real x_i and on one fresh fake G(z_i)."""
        x, y = batch["x"], self.labels(batch)
        r = self.discriminate_logits(state, x, y)
        f = self.discriminate_logits(state, self.sample(state, key, x.shape[0], y), y)
        return {
            "loss": jax.nn.softplus(-r) + jax.nn.softplus(f),  # -V per example pair
            "d_real": jax.nn.sigmoid(r),
            "d_fake": jax.nn.sigmoid(f),
            "error": 0.5 * (1.0 - jax.nn.sigmoid(r)) + 0.5 * jax.nn.sigmoid(f),
            "d_accuracy": 0.5 * (r > 0).astype(jnp.float32) + 0.5 * (f < 0).astype(jnp.float32),
        }

    # -- the public API ------------------------------------------------------------------
    # `y` (labels, (N,) integers) is for a conditional GAN (`model.num_classes` > 0) only.
    def generate(self, state: State, z: jax.Array, y: jax.Array | None = None) -> jax.Array:
        """G(z(, y)) for noise z of shape (N, latent_dim) (G's moving average with `g_ema`)."""
        return self._gen(state["g"], state.get("g_ema", state["g"].params), z, y)

    def discriminate_logits(
        self, state: State, x: jax.Array, y: jax.Array | None = None
    ) -> jax.Array:
        return self._disc(state["d"], state["d"].params, x, y, cyclic=True)

    def discriminate(self, state: State, x: jax.Array, y: jax.Array | None = None) -> jax.Array:
        """D(x(, y)): the discriminator's probability that x is real, shape (N,).

        With `model.pack` = p > 1, entry i scores the pack x_i, ..., x_{i+p-1} (cyclically).
        """
        return jax.nn.sigmoid(self.discriminate_logits(state, x, y))

    def sample(
        self, state: State, key: jax.Array, num: int, labels: jax.Array | None = None
    ) -> jax.Array:
        """`num` samples G(z); a conditional GAN makes them of `labels` (default: every
        class in turn, 0, 1, ..., K-1, 0, ...)."""
        if self.num_classes and labels is None:
            labels = balanced_labels(num, self.num_classes)
        return self.generate(state, self.noise(key, num), labels)

    def params_for_eval(self, state: State) -> dict[str, Any]:
        out = {"g": state["g"].params, "d": state["d"].params}
        if "g_ema" in state:
            out["g_ema"] = state["g_ema"]
        return out

    def report(self, state: State, splits: Splits, workdir: Path, key: jax.Array) -> dict[str, Any]:
        """Samples figure, plus mode coverage (2-D mixtures) or W1 to the test split (1-D)."""
        from jaxgen import plotting

        x_test = np.asarray(splits.test["x"]) if splits.test is not None else None
        shape = tuple(splits.train["x"].shape[1:])
        figs = Path(workdir) / "figures"
        out: dict[str, Any] = {}
        if len(shape) == 3:
            from jaxgen.data import to_unit

            k = self.num_classes
            labels = jnp.repeat(jnp.arange(k), 10) if k else None  # a row per class
            n = 10 * k if k else 100
            samples = np.asarray(jax.jit(self.sample, static_argnums=2)(state, key, n, labels))
            samples = cast(np.ndarray, to_unit(samples, self.config.dataset))
            plotting.image_grid(samples, figs / "samples.png", title="GAN samples")
            return out
        n = 2500 if x_test is None else max(2500, len(x_test))
        samples = np.asarray(jax.jit(self.sample, static_argnums=2)(state, key, n))
        if shape == (2,) and "means" in splits.info:
            from jaxgen.evaluation.modes import mode_coverage

            cov = mode_coverage(samples[:2500], splits.info["means"], splits.info["stds"])
            out.update(modes_captured=cov["modes_captured"], high_quality=cov["high_quality"])
            data = x_test if x_test is not None else np.asarray(splits.train["x"])
            plotting.scatter_panels(
                {"data": data[:2500], "GAN": samples[:2500]},
                figs / "samples.png",
            )
        elif shape == (1,) and x_test is not None:
            from jaxgen.evaluation.fid import wasserstein_1d

            out["w1_test"] = wasserstein_1d(samples[:, 0], x_test[:, 0])
        return out


def snapshot_states(result: RunResult) -> dict[int, Any]:
    """Every checkpoint a finished run kept, as {step: state (leading seed axis)}, plus step 0.

    Experiments that show training over time run the shared loop once with
    `train.checkpoint_every_steps` = the snapshot interval and `train.max_checkpoints` large
    enough to keep them all, then read the snapshots back here (one compilation, resumable).
    Step 0 is the loop's own initial state (same keys as `train`).
    """
    from jaxgen.train.checkpoint import Checkpointer
    from jaxgen.train.trainer import Trainer

    trainer = Trainer(result.config, result.family, result.splits)
    abstract = trainer.abstract_state()
    ckpt = Checkpointer(result.workdir / "checkpoints")
    states = {0: trainer.init()}
    try:
        for step in ckpt.steps():  # each one checked against its digests first
            states[int(step)] = ckpt.restore_step(step, abstract)[0]
    finally:
        ckpt.close()
    return states


def make_family(config: ConfigDict) -> GANFamily:
    return GANFamily(config)


__all__ = [
    "GANFamily",
    "config",
    "discriminator_loss",
    "generator_loss",
    "gradient_penalty",
    "lecture_error",
    "make_packs",
    "make_family",
    "model_config",
    "snapshot_states",
]
