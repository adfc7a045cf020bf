"""The recurrent sequence VAE of the lecture's MusicVAE example (Roberts et al. 2018).

A bidirectional LSTM encoder maps a whole token sequence to q(z|x) = N(mu, sigma); a flat or
a hierarchical ("conductor") LSTM decoder regenerates the sequence from z with teacher
forcing (networks in `jaxgen.models.seqvae`). The loss per sequence is

    sum_t CE(x_t | x_<t, z)  +  beta * max(KL[q(z|x) || N(0, I)] - free_bits * latent_dim, 0)

with the sum over the characters and the EOS (PAD after it is not scored), so that with
beta = 1 and no free bits it is the negative ELBO of log p(x) in nats per sequence.

Config (`model.*`), besides the VAE's beta schedule (`jaxgen.families.vae.beta_at`):
- `decoder`: flat | hierarchical (`num_segments`: segments of the conductor; the sequence
  length must be divisible by it), `encoder_size`, `hidden_size`, `conductor_size`;
  `segment_start`: previous (MusicVAE: a segment's first input is the token before it) or
  go (every segment starts from GO, so the segments are independent given z).
- Counter-measures for posterior collapse: `beta_schedule=linear` (KL warm-up over
  `beta_warmup_steps`), `free_bits` (nats per latent dimension the KL may use for free),
  `word_dropout` (each teacher-forced decoder input but GO becomes UNK with this probability).
- `eval_k`: > 1 adds the k-sample importance-sampled NLL to every evaluation;
  `report_nll_k` / `report_nll_num`: the test NLL written by `report`.
- `sample_temperature`: prior samples (0 = greedy).
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any, cast

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import optax
from flax.training import train_state

from jaxgen import distributions as dist
from jaxgen.config import ConfigDict, base_config
from jaxgen.data import stdlib_sequences as seqs
from jaxgen.errors import ConfigError
from jaxgen.evaluation import likelihood
from jaxgen.families import vae
from jaxgen.models.seqvae import SeqVAE, lengths_of
from jaxgen.sampling import lerp, named_key, prior_sample, reparameterize, slerp
from jaxgen.train.family import Batch, Family, Metrics, State
from jaxgen.train.optim import make_optimizer

DECODERS = ("flat", "hierarchical")


def model_config(**overrides: Any) -> ml_collections.ConfigDict:
    cfg = vae.model_config(family="seqvae", latent_dim=32, report_nll_k=100)
    drop = ("arch", "hidden_sizes", "activation", "conv_features", "likelihood", "C", "objective")
    for key in drop:  # the image VAE's network and likelihood: the LSTMs replace them
        del cfg[key]
    cfg.update(
        {
            "decoder": "flat",  # flat | hierarchical (the conductor)
            "encoder_size": 128,  # each direction of the bidirectional LSTM
            "hidden_size": 128,  # the (lower) decoder LSTM
            "conductor_size": 128,  # hierarchical: the conductor LSTM
            "num_segments": 4,  # hierarchical: conductor steps; divides dataset.seq_len
            # hierarchical: a segment's first input is the token before it (MusicVAE), or GO
            # (segments independent given z)
            "segment_start": "previous",
            "unroll": 1,  # lax.scan unroll factor (speed only)
            "free_bits": 0.0,  # nats per latent dimension not penalized (0 = off)
            "word_dropout": 0.0,  # probability of replacing a decoder input by UNK
            "sample_temperature": 0.5,  # prior samples; 0 = greedy
            "report_nll_num": 500,
            "report_samples": 10,
            "interpolation_pair": ("", ""),  # report: two strings; empty = test[0], test[1]
        }
    )
    cfg.update(overrides)
    return cfg


LENGTHS = {"identifiers": (20, 3), "lines": (64, 32), "blocks": (256, 128)}  # seq_len, min_len


def config(kind: str = "identifiers", **model: Any) -> ConfigDict:
    """A full run config on the standard library's identifiers (20 tokens with EOS), source
    lines (64) or blocks of lines (256, MusicVAE's 16 bars of 16 steps)."""
    if kind not in LENGTHS:
        raise ConfigError(f"dataset.kind must be one of {', '.join(LENGTHS)}, got {kind!r}")
    cfg = base_config("seqvae", "stdlib_sequences")
    cfg.model = model_config(**model)
    cfg.dataset.kind = kind
    cfg.dataset.seq_len, cfg.dataset.min_len = LENGTHS[kind]
    cfg.optimizer.grad_clip = 1.0
    return cfg


def masked_token_stats(logits: jax.Array, x: jax.Array) -> dict[str, jax.Array]:
    """Per sequence: summed CE over the scored tokens (up to EOS), char and sequence accuracy."""
    mask = (x != seqs.PAD).astype(jnp.float32)
    ce = optax.softmax_cross_entropy_with_integer_labels(logits, x)
    return {"ce": jnp.sum(ce * mask, 1), **accuracies(jnp.argmax(logits, -1), x)}


def accuracies(pred: jax.Array, x: jax.Array) -> dict[str, jax.Array]:
    """Per sequence: fraction of scored tokens right, and 1 if all of them are."""
    scored = x != seqs.PAD
    hit = (pred == x) | ~scored
    char = jnp.sum((pred == x) & scored, 1) / jnp.maximum(jnp.sum(scored, 1), 1)
    return {"char_accuracy": char, "seq_accuracy": jnp.all(hit, 1).astype(jnp.float32)}


class SeqVAEFamily(Family):
    """Sequence VAE: bidirectional LSTM encoder, flat or hierarchical LSTM decoder.

    Composed from the image VAE's pieces (`vae.beta_at` and `vae.beta_train_step`,
    `vae.active_units`, `likelihood.iwae_bound`), with the same public API: `encode`,
    `encode_distribution`, `elbo`, `iwae_bound`, plus token decoding.
    """

    public_api = (
        "encode",
        "encode_distribution",
        "decode",
        "generate",
        "reconstruct",
        "elbo",
        "iwae_bound",
    )

    def __init__(self, config: ConfigDict):
        super().__init__(config)
        m, d = config.model, config.dataset
        if m.decoder not in DECODERS:
            raise ConfigError(
                f"model.decoder must be one of {', '.join(DECODERS)}, got {m.decoder!r}"
            )
        if m.beta_schedule not in vae.SCHEDULES:
            raise ConfigError(f"model.beta_schedule must be one of {', '.join(vae.SCHEDULES)}")
        for key in ("encoder_size", "conductor_size", "num_segments", "unroll"):
            if not isinstance(m[key], int) or m[key] < 1:
                raise ConfigError(f"model.{key} must be a positive integer, got {m[key]!r}")
        if m.segment_start not in ("previous", "go"):
            raise ConfigError(
                f"model.segment_start must be previous or go, got {m.segment_start!r}"
            )
        if not 0.0 <= m.word_dropout < 1.0:
            raise ConfigError(f"model.word_dropout must be in [0, 1), got {m.word_dropout}")
        if m.free_bits < 0 or m.sample_temperature < 0:
            raise ConfigError("model.free_bits and model.sample_temperature must be >= 0")
        if m.decoder == "hierarchical" and d.seq_len % m.num_segments:
            raise ConfigError(
                f"dataset.seq_len={d.seq_len} is not divisible by model.num_segments="
                f"{m.num_segments}"
            )
        self.model = SeqVAE(
            vocab=seqs.VOCAB_SIZE,
            seq_len=d.seq_len,
            latent_dim=m.latent_dim,
            encoder_size=m.encoder_size,
            hidden_size=m.hidden_size,
            decoder=m.decoder,
            num_segments=m.num_segments,
            segment_start=m.segment_start,
            conductor_size=m.conductor_size,
            go=seqs.GO,
            unk=seqs.UNK,
            eos=seqs.EOS,
            pad=seqs.PAD,
            unroll=m.unroll,
        )

    def init(
        self, key: jax.Array, batch: Batch, total_steps: int | None = None
    ) -> train_state.TrainState:
        params = self.model.init(key, batch["x"][:1])["params"]
        tx = make_optimizer(self.config.optimizer, total_steps)
        return train_state.TrainState.create(apply_fn=self.model.apply, params=params, tx=tx)

    def _encode(
        self, params: Any, apply_fn: Callable[..., Any], x: jax.Array
    ) -> tuple[jax.Array, jax.Array]:
        return apply_fn({"params": params}, x, method="encode")

    def _logits(
        self, params: Any, z: jax.Array, x: jax.Array, drop: jax.Array | None = None
    ) -> jax.Array:
        return cast(jax.Array, self.model.apply({"params": params}, z, x, drop, method="logits"))

    def _generate(
        self, params: Any, z: jax.Array, key: jax.Array, temperature: float | jax.Array
    ) -> jax.Array:
        t = jnp.asarray(temperature, jnp.float32)
        return cast(jax.Array, self.model.apply({"params": params}, z, key, t, method="generate"))

    # -- likelihood ------------------------------------------------------------------------
    def log_weights(
        self,
        params: Any,
        apply_fn: Callable[..., Any],
        x: jax.Array,
        key: jax.Array,
        n: int,
        beta: float | jax.Array = 1.0,
    ) -> jax.Array:
        """(B, n) log p(x|z_i) + beta * (log p(z_i) - log q(z_i|x)), z_i ~ q(z|x)."""
        mean, log_var = self._encode(params, apply_fn, x)
        eps = jax.random.normal(key, (n, *mean.shape), mean.dtype)
        z = mean + jnp.exp(0.5 * log_var) * eps  # (n, B, L)
        xs = jnp.broadcast_to(x, (n, *x.shape)).reshape(-1, x.shape[1])
        log_px = -masked_token_stats(self._logits(params, z.reshape(-1, z.shape[-1]), xs), xs)["ce"]
        log_pz = dist.std_normal_log_prob(z)
        log_qz = dist.diag_gaussian_log_prob(z, mean, log_var)
        return (log_px.reshape(n, -1) + beta * (log_pz - log_qz)).T

    def kl_penalty(self, kl: jax.Array) -> jax.Array:
        """MusicVAE's free bits: max(KL - free_bits * latent_dim, 0) per sequence."""
        m = self.config.model
        return jnp.maximum(kl - m.free_bits * m.latent_dim, 0.0)

    def log_weights_fn(self, state: State) -> likelihood.LogWeightsFn:
        """(x, key, n) -> (B, n) log importance weights, for `evaluation.likelihood`."""
        return lambda x, key, n: self.log_weights(state.params, state.apply_fn, x, key, n)

    def active_units(self, state: State, x: np.ndarray, batch_size: int = 1000) -> dict[str, Any]:
        """Burda et al.'s active units of the posterior means (`vae.active_units`)."""
        enc = jax.jit(self.encode)
        encode = lambda xb, _: enc(state, xb)  # noqa: E731
        return vae.active_units(encode, x, self.config.model.active_threshold, batch_size)

    def train_step(self, state: State, batch: Batch, key: jax.Array) -> tuple[State, Metrics]:
        return vae.beta_train_step(self.loss, self.config.model, state, batch, key)

    def loss(
        self,
        params: Any,
        apply_fn: Callable[..., Any],
        batch: Batch,
        key: jax.Array,
        beta: jax.Array,
    ) -> tuple[jax.Array, dict[str, jax.Array]]:
        """The training loss: CE + beta * free-bits KL."""
        m, x = self.config.model, batch["x"]
        mean, log_var = self._encode(params, apply_fn, x)
        z = reparameterize(named_key(key, "z"), mean, log_var)
        drop = None
        if m.word_dropout > 0:
            drop = jax.random.bernoulli(named_key(key, "word_dropout"), m.word_dropout, x.shape)
        stats = masked_token_stats(self._logits(params, z, x, drop), x)
        kl = dist.kl_std_normal(mean, log_var)
        loss = jnp.mean(stats["ce"] + beta * self.kl_penalty(kl))
        aux = {"reconstruction": stats["ce"].mean(), "kl": kl.mean(), "beta": beta}
        return loss, aux | {k: stats[k].mean() for k in ("char_accuracy", "seq_accuracy")}

    def eval_step(self, state: State, batch: Batch, key: jax.Array) -> Metrics:
        """Per sequence (nats; beta = 1, no free bits): -ELBO, its CE and KL; accuracies from
        z = mu, teacher-forced and free-running (greedy, and sampled at temperature 1 as
        MusicVAE reports); the k-sample NLL if `eval_k` > 1."""
        m, x, params = self.config.model, batch["x"], state.params
        mean, log_var = self._encode(params, state.apply_fn, x)
        z = reparameterize(named_key(key, "z"), mean, log_var)
        ce = masked_token_stats(self._logits(params, z, x), x)["ce"]
        kl = dist.kl_std_normal(mean, log_var)
        forced = masked_token_stats(self._logits(params, mean, x), x)
        greedy = accuracies(self._generate(params, mean, key, 0.0), x)
        sampled = accuracies(self._generate(params, mean, named_key(key, "sample"), 1.0), x)
        out = {
            "loss": ce + kl,
            "rec_nll": ce,
            "kl": kl,
            "bits_per_char": (ce + kl) / (lengths_of(x, seqs.EOS) * np.log(2.0)),
            "char_accuracy_forced": forced["char_accuracy"],
            "seq_accuracy_forced": forced["seq_accuracy"],
            "char_accuracy_greedy": greedy["char_accuracy"],
            "seq_accuracy_greedy": greedy["seq_accuracy"],
            "char_accuracy_sampled": sampled["char_accuracy"],
        }
        if m.eval_k > 1:
            lw = self.log_weights(params, state.apply_fn, x, named_key(key, "iw"), m.eval_k)
            out[f"nll_k{m.eval_k}"] = -likelihood.iwae_bound(lw)
        return out

    def position_accuracy(self, state: State, x: jax.Array) -> dict[str, jax.Array]:
        """Per position t: the share of sequences (scored there) whose token t is right from
        z = mu, teacher-forced and free-running greedy: (seq_len,) each. Shows where a
        decoder loses characters, e.g. at the hierarchical decoder's segment starts."""
        params, x = state.params, jnp.asarray(x)
        mean, _ = self._encode(params, state.apply_fn, x)
        scored = x != seqs.PAD
        count = jnp.maximum(jnp.sum(scored, 0), 1)
        forced = jnp.argmax(self._logits(params, mean, x), -1)
        greedy = self._generate(params, mean, jax.random.PRNGKey(0), 0.0)
        return {
            "forced": jnp.sum((forced == x) & scored, 0) / count,
            "greedy": jnp.sum((greedy == x) & scored, 0) / count,
            "scored": jnp.sum(scored, 0),
        }

    # -- the public API load_run binds -------------------------------------------------------
    def encode(self, state: State, x: jax.Array) -> jax.Array:
        """The posterior mean E[z|x] of token sequences (N, seq_len): the code to interpolate."""
        return self._encode(state.params, state.apply_fn, x)[0]

    def encode_distribution(self, state: State, x: jax.Array) -> tuple[jax.Array, jax.Array]:
        """(mean, log_var) of q(z|x)."""
        return self._encode(state.params, state.apply_fn, x)

    def reconstruct(self, state: State, x: jax.Array) -> jax.Array:
        """Greedy decoding of the posterior mean: (N, seq_len) tokens."""
        return self.decode(state, self.encode(state, x))

    def elbo(self, state: State, x: jax.Array, key: jax.Array) -> jax.Array:
        """Per-sequence one-sample ELBO (nats) = the k=1 importance-weighted bound."""
        return self.log_weights(state.params, state.apply_fn, x, key, 1)[:, 0]

    def iwae_bound(self, state: State, x: jax.Array, key: jax.Array) -> jax.Array:
        """Per-sequence L_k with k = `model.k` (use `log_weights_fn` for other k)."""
        lw = self.log_weights(state.params, state.apply_fn, x, key, self.config.model.k)
        return likelihood.iwae_bound(lw)

    def decode(self, state: State, z: jax.Array) -> jax.Array:
        """Greedy decoding: (N, latent) -> (N, seq_len) tokens (strings end at EOS)."""
        return self._generate(state.params, z, jax.random.PRNGKey(0), 0.0)

    def generate(
        self, state: State, z: jax.Array, key: jax.Array, temperature: float | jax.Array = 1.0
    ) -> jax.Array:
        """Sampled decoding at `temperature` (0 = greedy): (N, seq_len) tokens."""
        return self._generate(state.params, z, key, temperature)

    def sample(self, state: State, key: jax.Array, num: int) -> jax.Array:
        """z ~ N(0, I), decoded at `model.sample_temperature`: (num, seq_len) tokens."""
        m = self.config.model
        z = prior_sample(named_key(key, "prior"), num, m.latent_dim)
        return self.generate(state, z, named_key(key, "decode"), m.sample_temperature)

    # -- end-of-run report -------------------------------------------------------------------
    def report(self, state: State, splits: Any, workdir: Path, key: jax.Array) -> dict[str, Any]:
        m, info = self.config.model, splits.info
        test = splits.test if splits.test is not None else splits.train
        x = test["x"]
        out: dict[str, Any] = {"active_units": self.active_units(state, x)["active_units"]}
        out["latent_dim"] = m.latent_dim
        if m.report_nll_k > 0:
            num = min(m.report_nll_num or len(x), len(x))
            res = likelihood.test_nll(
                self.log_weights_fn(state),
                x[:num],
                named_key(key, "nll"),
                k=m.report_nll_k,
                batch_size=min(100, num),
                chunk=max(c for c in range(1, 65) if m.report_nll_k % c == 0),
            )
            out["test_nll"] = res["nll"]
            out["test_nll_k"], out["test_nll_num"] = res["k"], res["num_examples"]
        pos = jax.jit(self.position_accuracy)(state, x[: min(len(x), 500)])
        out["position_accuracy"] = {k: np.asarray(v).tolist() for k, v in pos.items()}
        sample = jax.jit(self.sample, static_argnums=2)
        out["samples"] = seqs.decode_strings(
            sample(state, named_key(key, "samples"), m.report_samples)
        )
        rec = jax.jit(self.reconstruct)(state, x[:5])
        out["reconstructions"] = [
            {"input": a, "greedy from mu": b}
            for a, b in zip(seqs.decode_strings(x[:5]), seqs.decode_strings(rec), strict=True)
        ]
        pair = x[:2]
        if all(m.interpolation_pair):
            pair = seqs.encode_strings(list(m.interpolation_pair), x.shape[1])
        encode = functools.partial(jax.jit(self.encode), state)
        decode = functools.partial(jax.jit(self.decode), state)
        out["interpolation"] = interpolation_table(encode, decode, pair[0], pair[1], 7)
        corpus = {k: info[k] for k in ("root", "corpus_sha256", "files", "sequences", "kind")}
        workdir = Path(workdir)
        workdir.mkdir(parents=True, exist_ok=True)
        (workdir / "corpus.json").write_text(json.dumps(corpus, indent=1) + "\n")
        (workdir / "samples.txt").write_text("\n".join(out["samples"]) + "\n")
        return out


def interpolation_table(
    encode: Callable[[jax.Array], jax.Array],
    decode: Callable[[jax.Array], jax.Array],
    x0: np.ndarray | jax.Array,
    x1: np.ndarray | jax.Array,
    steps: int = 7,
) -> list[dict[str, Any]]:
    """Greedy decodings along lerp and slerp between the posterior means of two sequences.

    `encode` (tokens -> posterior means) and `decode` (codes -> tokens) are bound to a
    trained state: a `jaxgen.load_run` run's `run.encode` / `run.decode`, for example.
    """
    z = encode(jnp.stack([x0, x1]))
    t = jnp.linspace(0.0, 1.0, steps)
    paths = {
        name: seqs.decode_strings(decode(fn(z[0], z[1], t)))
        for name, fn in (("lerp", lerp), ("slerp", slerp))
    }
    return [
        {"t": round(float(ti), 3), "lerp": paths["lerp"][i], "slerp": paths["slerp"][i]}
        for i, ti in enumerate(np.asarray(t))
    ]


def make_family(config: ConfigDict) -> SeqVAEFamily:
    return SeqVAEFamily(config)


__all__ = [
    "SeqVAEFamily",
    "accuracies",
    "config",
    "interpolation_table",
    "make_family",
    "masked_token_stats",
    "model_config",
]
