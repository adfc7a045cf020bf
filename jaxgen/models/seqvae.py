"""The networks of the recurrent sequence VAE (MusicVAE, Roberts et al. 2018).

- `BiLSTMEncoder`: a forward and a backward LSTM over the tokens (each sequence reversed
  within its own length, so the backward pass starts at its last token, not at the padding);
  the two final h, concatenated, go through a Dense layer to (mean, log_var) of q(z|x).
- `FlatDecoder`: one LSTM whose initial state is tanh(Dense(z)) and which reads the
  teacher-forced previous token with z concatenated to it at every step.
- `HierarchicalDecoder`: a conductor LSTM, initial state tanh(Dense(z)), reads z at each of
  `num_segments` steps and emits one embedding per segment; a lower LSTM decodes every
  segment from its initial state tanh(Dense(embedding)), with the embedding concatenated to
  each input. The lower LSTM's state is not passed between segments (as in MusicVAE), so in
  teacher forcing the (B, U, S) segments are one batch of B*U sequences. `segment_start`
  says what a segment's first input is: "previous", as in MusicVAE, the token before the
  segment (GO for the first), so generation runs segment after segment; or "go", GO for
  every segment, which makes the segments independent given z (they generate in parallel).

"Concatenated to the input" is computed as a projection added to the hoisted input
projection: [x_t, c] W = x_t W_x + c W_c, the same function with one matmul per sequence.
"""

from __future__ import annotations

from collections.abc import Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp

from jaxgen.models import rnn

Array = jax.Array


class Conditioned:
    """A bound cell whose every input is concatenated with a fixed context vector.

    It has the `input_projection` / `step` interface of `rnn.Cell`, so `rnn.scan` (teacher
    forcing) and `rnn.sample_tokens` (generation) run it unchanged. `ctx_proj` is (B, G*H).
    """

    def __init__(self, cell: rnn.Cell, ctx_proj: Array):
        self.cell, self.ctx_proj = cell, ctx_proj

    def input_projection(self, x_seq: Array) -> Array:
        return self.cell.input_projection(x_seq) + self.ctx_proj[None]

    def step(self, carry: rnn.Carry, px: Array) -> tuple[rnn.Carry, Array]:
        return self.cell.step(carry, px)


def reverse_within_length(x: Array, lengths: Array) -> Array:
    """Each row's first `length` tokens reversed, the padding left where it is: (B, T)."""
    t = jnp.arange(x.shape[1])[None]
    idx = jnp.where(t < lengths[:, None], lengths[:, None] - 1 - t, t)
    return jnp.take_along_axis(x, idx, axis=1)


def lengths_of(x: Array, eos: int) -> Array:
    """Tokens up to and including each row's first EOS (the full width if there is none)."""
    is_eos = x == eos
    return jnp.where(is_eos.any(1), jnp.argmax(is_eos, 1) + 1, x.shape[1]).astype(jnp.int32)


class BiLSTMEncoder(nn.Module):
    hidden_size: int
    latent_dim: int
    vocab: int
    unroll: int = 1

    def setup(self) -> None:
        self.forward = rnn.make_cell("lstm", self.hidden_size, num_embeddings=self.vocab)
        self.backward = rnn.make_cell("lstm", self.hidden_size, num_embeddings=self.vocab)
        self.to_latent = nn.Dense(2 * self.latent_dim)

    def __call__(self, x: Array, lengths: Array) -> tuple[Array, Array]:
        # Both directions advance in one lax.scan: half the sequential steps of two scans.
        cells = (self.forward, self.backward)
        seqs = (x, reverse_within_length(x, lengths))
        px = [c.input_projection(s) for c, s in zip(cells, seqs, strict=True)]
        carry = tuple(c.initial_carry(x.shape[0]) for c in cells)

        def step(
            carry: tuple[rnn.Carry, ...], px_t: tuple[Array, ...]
        ) -> tuple[tuple[rnn.Carry, ...], tuple[Array, ...]]:
            out = [c.step(ca, p) for c, ca, p in zip(cells, carry, px_t, strict=True)]
            return tuple(o[0] for o in out), tuple(o[1] for o in out)

        _, hs = jax.lax.scan(step, carry, tuple(px), unroll=self.unroll)
        finals = [rnn.last_valid(h, lengths) for h in hs]
        h = self.to_latent(jnp.concatenate(finals, -1))
        mean, log_var = jnp.split(h, 2, axis=-1)
        return mean, log_var


class ConditionedLSTM(nn.Module):
    """An LSTM over tokens started from tanh(Dense(c)) and fed c at every step."""

    hidden_size: int
    vocab: int
    unroll: int = 1

    def setup(self) -> None:
        self.cell = rnn.make_cell("lstm", self.hidden_size, num_embeddings=self.vocab)
        self.init_state = nn.Dense(2 * self.hidden_size)
        self.ctx = nn.Dense(4 * self.hidden_size, use_bias=False)
        self.readout = nn.Dense(self.vocab)

    def _start(self, c: Array) -> tuple[Conditioned, rnn.Carry]:
        carry = tuple(jnp.split(jnp.tanh(self.init_state(c)), 2, axis=-1))
        return Conditioned(self.cell, self.ctx(c)), carry

    def __call__(self, c: Array, inputs: Array) -> Array:
        """Teacher forcing: c (N, C), inputs (N, S) -> logits (N, S, V)."""
        cell, carry = self._start(c)
        # A Conditioned cell has what `rnn.scan` uses when given a carry (not initial_carry).
        _, hs = rnn.scan(cell, inputs, carry, unroll=self.unroll)  # type: ignore[arg-type]
        return jnp.swapaxes(self.readout(hs), 0, 1)

    def generate(
        self,
        c: Array,
        first: Array,
        length: int,
        key: Array,
        temperature: float | Array,
        banned: Sequence[int] = (),
    ) -> Array:
        """(N, length) tokens, each fed back as the next input (temperature 0: greedy).

        Tokens in `banned` (ids no target ever holds, e.g. GO) are never emitted.
        """
        cell, carry = self._start(c)
        allowed = jnp.ones((self.vocab,), bool).at[jnp.asarray(banned, jnp.int32)].set(False)

        def readout(h: Array) -> Array:
            return jnp.where(allowed, self.readout(h), -1e9)

        return rnn.sample_tokens(cell, readout, key, first, carry, length, temperature)


class SeqVAE(nn.Module):
    """Encoder and a flat or hierarchical decoder over (B, T) token sequences."""

    vocab: int
    seq_len: int
    latent_dim: int
    encoder_size: int
    hidden_size: int
    decoder: str = "flat"  # flat | hierarchical
    num_segments: int = 1
    conductor_size: int = 128
    go: int = 0
    unk: int = 0
    eos: int = 0
    pad: int = 0
    segment_start: str = "previous"  # previous (MusicVAE) | go
    unroll: int = 1  # lax.scan unroll factor of the teacher-forced passes

    def setup(self) -> None:
        self.encoder = BiLSTMEncoder(self.encoder_size, self.latent_dim, self.vocab, self.unroll)
        self.lower = ConditionedLSTM(self.hidden_size, self.vocab, self.unroll)
        if self.decoder == "hierarchical":
            self.conductor = rnn.make_cell("lstm", self.conductor_size, x_dim=self.latent_dim)
            self.conductor_init = nn.Dense(2 * self.conductor_size)

    @property
    def segments(self) -> int:
        return self.num_segments if self.decoder == "hierarchical" else 1

    def encode(self, x: Array) -> tuple[Array, Array]:
        return self.encoder(x, lengths_of(x, self.eos))

    def contexts(self, z: Array) -> Array:
        """What each (segment) decoder starts from: z itself, or the conductor's (B*U, Hc)."""
        if self.decoder != "hierarchical":
            return z
        u = self.num_segments
        carry = tuple(jnp.split(jnp.tanh(self.conductor_init(z)), 2, axis=-1))
        _, hs = rnn.scan(
            self.conductor, jnp.broadcast_to(z[:, None], (z.shape[0], u, z.shape[1])), carry
        )
        return jnp.swapaxes(hs, 0, 1).reshape(-1, hs.shape[-1])  # (B*U, Hc), segment-minor

    def _segment_starts(self) -> Array:
        """(T,) True where a segment's first input is GO rather than the token before it."""
        t = jnp.arange(self.seq_len)
        if self.segment_start == "go":
            return t % (self.seq_len // self.segments) == 0
        return t == 0

    def teacher_inputs(self, x: Array, drop: Array | None = None) -> Array:
        """The previous target token, GO at segment starts, per segment: (B*U, S).

        `drop` (B, T) replaces inputs by UNK, except GO.
        """
        prev = jnp.concatenate([jnp.full((x.shape[0], 1), self.go, x.dtype), x[:, :-1]], axis=1)
        starts = self._segment_starts()[None]
        inputs = jnp.where(starts, self.go, prev)
        if drop is not None:
            inputs = jnp.where(drop & ~starts, self.unk, inputs)
        return inputs.reshape(x.shape[0] * self.segments, -1)

    def logits(self, z: Array, x: Array, drop: Array | None = None) -> Array:
        """Teacher-forced logits (B, T, V) of targets x (B, T) given z (B, L)."""
        out = self.lower(self.contexts(z), self.teacher_inputs(x, drop))
        return out.reshape(x.shape[0], x.shape[1], -1)

    def generate(self, z: Array, key: Array, temperature: float | Array) -> Array:
        """(B, T) tokens decoded from z, segment after segment (in parallel for "go")."""
        c, b, u = self.contexts(z), z.shape[0], self.segments
        length, banned = self.seq_len // u, (self.go, self.unk, self.pad)
        if u == 1 or self.segment_start == "go":
            first = jnp.full((c.shape[0],), self.go, jnp.int32)
            toks = self.lower.generate(c, first, length, key, temperature, banned)
            return toks.reshape(b, self.seq_len)
        c = c.reshape(b, u, -1)
        first, segments = jnp.full((b,), self.go, jnp.int32), []
        for i in range(u):  # U is small and static; each segment is one scan
            seg = self.lower.generate(
                c[:, i], first, length, jax.random.fold_in(key, i), temperature, banned
            )
            segments.append(seg)
            first = seg[:, -1]
        return jnp.concatenate(segments, axis=1)

    def __call__(self, x: Array) -> Array:
        mean, _ = self.encode(x)
        return self.logits(mean, x)


__all__ = [
    "BiLSTMEncoder",
    "Conditioned",
    "ConditionedLSTM",
    "SeqVAE",
    "lengths_of",
    "reverse_within_length",
]
