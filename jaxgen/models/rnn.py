"""Recurrent cells from the lecture's equations, and the scan that runs them over time.

Every cell writes the lecture's `W . [h_{t-1}, x_t] + b` as `W_x x_t + b + W_h h_{t-1}` and
splits the work in two, so that sequences run fast:

- `input_projection(x_seq)`: `W_x x_t + b` for ALL time steps as one matmul (or, for token
  ids, one gather of rows of `W_x`, which is the same as multiplying a one-hot input), outside
  the scan. Output is time-major (T, B, G*H) with G the number of gates.
- `step(carry, px_t)`: one time step given the projected input; only `h @ W_h` (and the
  peepholes) is left inside the scan. Returns `(carry, h_t)`.

`scan(cell, x_seq)` runs a whole sequence with `lax.scan` (never a Python loop over time).
Carries are tuples of (B, H) arrays whose LAST element is the hidden state h.

The cells (H = hidden size, sigma = logistic sigmoid, * = elementwise):
- `rnn`      h_t = tanh(W . [h_{t-1}, x_t] + b)                             (Elman)
- `lstm`     f, i, o = sigma(W_{f,i,o} . [h_{t-1}, x_t] + b), C~ = tanh(W_C . [h, x] + b_C),
             C_t = f * C_{t-1} + i * C~,  h_t = o * tanh(C_t)               (Hochreiter 1997)
- `peephole` f, i see [C_{t-1}, h_{t-1}, x_t], o sees [C_t, h_{t-1}, x_t]   (Gers 2000)
- `coupled`  C_t = f * C_{t-1} + (1 - f) * C~_t (no input gate)
- `gru`      z = sigma(W_z . [h, x]), r = sigma(W_r . [h, x]),
             h~ = tanh(W . [r * h, x]),  h_t = (1 - z) * h + z * h~       (Cho 2014; the
             lecture writes the GRU without biases, so it has none here)
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, cast

import flax.linen as nn
import jax
import jax.numpy as jnp
from jax.typing import DTypeLike

from jaxgen.models import fused_lstm

Array = jax.Array
Carry = tuple[Array, ...]

if TYPE_CHECKING:
    from typing import Protocol, TypeVar

    CarryT = TypeVar("CarryT")

    class Steps(Protocol[CarryT]):
        """What `sample_tokens` runs: a bound `Cell`, or a wrapper with its `input_projection`
        and `step` (a cell fed a context, a stack of cells with a carry per layer)."""

        def input_projection(self, x_seq: Array) -> Array: ...

        def step(self, carry: CarryT, px: Array) -> tuple[CarryT, Array]: ...


CELLS = ("rnn", "lstm", "peephole", "coupled", "gru")


class Cell(nn.Module):
    """Base of the five cells: the input projection is hoisted out of the time loop.

    Attributes:
      hidden_size: H.
      num_embeddings: if > 0 the input is token ids in [0, num_embeddings) and the input
        projection is a row gather of W_x (equal to a one-hot input times W_x).
      x_dim: width D of float inputs (unused with num_embeddings).
      forget_bias: initial bias of the forget gate (1.0, Gers et al. 2000: remember by default).
      chrono_tmax: if > 0, chrono initialization (Tallec & Ollivier 2018) of the gated
        cells' biases instead: b_f ~ log(U(1, T_max - 1)) and b_i = -b_f, so the cells start
        with memory time scales spread up to T_max steps (`forget_bias` is then unused). The
        Elman RNN has no gates and the lecture's GRU no biases: they ignore it.
    """

    hidden_size: int
    num_embeddings: int = 0
    x_dim: int = 0  # width of float inputs (ignored with num_embeddings)
    forget_bias: float = 1.0
    chrono_tmax: int = 0

    num_gates = 1  # G: blocks of H columns in W_x and W_h
    use_bias = True
    num_carry = 1  # arrays in the carry

    def setup(self) -> None:
        h, g = self.hidden_size, self.num_gates
        # Glorot on the input weights, orthogonal on the recurrence (a common, stable default).
        self.w_x = self.param("w_x", nn.initializers.lecun_normal(), (self._in_dim(), g * h))
        self.w_h = self.param("w_h", self._recurrent_init, (h, g * h))
        if self.use_bias:
            self.b = self.param("b", self._bias_init, (g * h,))
        self.extra_setup()

    def _in_dim(self) -> int:
        return self.num_embeddings or self.x_dim

    def _recurrent_init(
        self, key: Array, shape: tuple[int, ...], dtype: DTypeLike = jnp.float32
    ) -> Array:
        h, gh = shape
        keys = jax.random.split(key, gh // h)
        blocks = [nn.initializers.orthogonal()(k, (h, h), dtype) for k in keys]
        return jnp.concatenate(blocks, axis=1)

    def _bias_init(
        self, key: Array, shape: tuple[int, ...], dtype: DTypeLike = jnp.float32
    ) -> Array:
        return jnp.zeros(shape, dtype)

    def extra_setup(self) -> None:
        """Extra parameters of a variant (peepholes, GRU candidate weights)."""

    def initial_carry(self, batch_size: int) -> Carry:
        z = jnp.zeros((batch_size, self.hidden_size), jnp.float32)
        return (z,) * self.num_carry

    def input_projection(self, x_seq: Array) -> Array:
        """`W_x x_t + b` for every t: (B, T[, D]) -> time-major (T, B, G*H), one op."""
        if self.num_embeddings:
            px = jnp.take(self.w_x, x_seq.T, axis=0)  # gather = one-hot @ W_x
        else:
            # Transpose the (narrower) input, not the (G*H wide) projection.
            px = jnp.swapaxes(x_seq, 0, 1) @ self.w_x
        return px + self.b if self.use_bias else px

    def step(self, carry: Carry, px: Array) -> tuple[Carry, Array]:
        raise NotImplementedError

    def __call__(self, x_seq: Array, carry: Carry | None = None) -> tuple[Carry, Array]:
        """Runs the whole sequence: (B, T[, D]) -> (final carry, hiddens (T, B, H))."""
        return scan(self, x_seq, carry)


def chrono_forget_bias(
    key: Array, hidden_size: int, tmax: int, dtype: DTypeLike = jnp.float32
) -> Array:
    """b_f = log(u), u ~ U(1, T_max - 1): forget gates sigma(b_f) = u / (1 + u), whose
    characteristic memory 1 / (1 - sigma(b_f)) = 1 + u spans 2 .. T_max steps."""
    if tmax < 3:
        raise ValueError(f"chrono initialization needs T_max >= 3, got {tmax}")
    u = jax.random.uniform(key, (hidden_size,), dtype, 1.0, float(tmax - 1))
    return jnp.log(u)


def _split(a: Array, n: int) -> list[Array]:
    return jnp.split(a, n, axis=-1)


class ElmanRNN(Cell):
    """h_t = tanh(W . [h_{t-1}, x_t] + b)."""

    def step(self, carry: Carry, px: Array) -> tuple[Carry, Array]:
        (h,) = carry
        h = jnp.tanh(px + h @ self.w_h)
        return (h,), h


class LSTM(Cell):
    """The lecture's LSTM; gate blocks in W are ordered (f, i, o, C~)."""

    num_gates = 4
    num_carry = 2

    def _bias_init(
        self, key: Array, shape: tuple[int, ...], dtype: DTypeLike = jnp.float32
    ) -> Array:
        h = self.hidden_size
        if self.chrono_tmax <= 0:
            return jnp.zeros(shape, dtype).at[:h].set(self.forget_bias)
        b_f = chrono_forget_bias(key, h, self.chrono_tmax, dtype)
        b = jnp.zeros(shape, dtype).at[:h].set(b_f)
        # Blocks (f, i, ...): the input gate opens as much as the forget gate remembers. The
        # coupled cell's blocks are (f, o, C~): its input gate is 1 - f already.
        return b if self.num_gates == 3 else b.at[h : 2 * h].set(-b_f)

    def step(self, carry: Carry, px: Array) -> tuple[Carry, Array]:
        # sigma and tanh of the four gates as one tanh pass; see `fused_lstm`.
        return fused_lstm.lstm_cell(self.w_h, cast(tuple[Array, Array], carry), px)


class PeepholeLSTM(LSTM):
    """Gates see the cell state: f, i through C_{t-1}; o through the new C_t (Gers 2000).

    The lecture writes `W_f . [C_{t-1}, h_{t-1}, x_t]`, a full matrix on C; so are these
    (Gers and Schmidhuber used diagonal peepholes, a special case).
    """

    def extra_setup(self) -> None:
        h = self.hidden_size
        init = nn.initializers.lecun_normal()
        self.w_c_fi = self.param("w_c_fi", init, (h, 2 * h))  # C_{t-1} -> f, i
        self.w_c_o = self.param("w_c_o", init, (h, h))  # C_t -> o

    def step(self, carry: Carry, px: Array) -> tuple[Carry, Array]:
        c, h = carry
        f, i, o, g = _split(px + h @ self.w_h, 4)
        pf, pi = _split(c @ self.w_c_fi, 2)
        c = jax.nn.sigmoid(f + pf) * c + jax.nn.sigmoid(i + pi) * jnp.tanh(g)
        h = jax.nn.sigmoid(o + c @ self.w_c_o) * jnp.tanh(c)
        return (c, h), h


class CoupledLSTM(LSTM):
    """Forget and input gates coupled: C_t = f * C_{t-1} + (1 - f) * C~_t. Blocks (f, o, C~)."""

    num_gates = 3

    def step(self, carry: Carry, px: Array) -> tuple[Carry, Array]:
        c, h = carry
        f, o, g = _split(px + h @ self.w_h, 3)
        f = jax.nn.sigmoid(f)
        c = f * c + (1.0 - f) * jnp.tanh(g)
        h = jax.nn.sigmoid(o) * jnp.tanh(c)
        return (c, h), h


class GRU(Cell):
    """The lecture's GRU (no biases). W_x blocks (z, r, h~); W_h holds W_z, W_r on h only.

    The candidate's recurrent weight acts on r * h, so it cannot share the h @ W_h matmul
    with z and r: it is the separate `w_hh`.
    """

    num_gates = 3
    use_bias = False

    def setup(self) -> None:
        h = self.hidden_size
        self.w_x = self.param("w_x", nn.initializers.lecun_normal(), (self._in_dim(), 3 * h))
        self.w_h = self.param("w_h", self._recurrent_init, (h, 2 * h))
        self.w_hh = self.param("w_hh", nn.initializers.orthogonal(), (h, h))

    def step(self, carry: Carry, px: Array) -> tuple[Carry, Array]:
        (h,) = carry
        xz, xr, xh = _split(px, 3)
        hz, hr = _split(h @ self.w_h, 2)
        z = jax.nn.sigmoid(xz + hz)
        r = jax.nn.sigmoid(xr + hr)
        h_tilde = jnp.tanh(xh + (r * h) @ self.w_hh)
        h = (1.0 - z) * h + z * h_tilde
        return (h,), h


_CLASSES: dict[str, type[Cell]] = {
    "rnn": ElmanRNN,
    "lstm": LSTM,
    "peephole": PeepholeLSTM,
    "coupled": CoupledLSTM,
    "gru": GRU,
}


def make_cell(
    name: str, hidden_size: int, x_dim: int = 0, num_embeddings: int = 0, **kw: Any
) -> Cell:
    """A cell by name (one of CELLS); give `x_dim` for float inputs or `num_embeddings`."""
    if name not in _CLASSES:
        raise ValueError(f"unknown cell {name!r}; one of {', '.join(CELLS)}")
    return _CLASSES[name](hidden_size=hidden_size, x_dim=x_dim, num_embeddings=num_embeddings, **kw)


def scan(
    cell: Cell,
    x_seq: Array,
    carry: Carry | None = None,
    h_offsets: Array | None = None,
    unroll: int = 1,
) -> tuple[Carry, Array]:
    """Runs `cell` over (B, T[, D]) inputs with one input projection and one `lax.scan`.

    Args:
      cell: a bound cell (call inside a module's method or through `cell.apply`).
      x_seq: batch-major inputs.
      carry: initial carry; zeros if None.
      h_offsets: optional (T, B, H) added to h_t after each step. At zero it changes nothing,
        and its gradient is dL/dh_t, the quantity of the vanishing-gradient figure.
      unroll: `lax.scan` unroll factor.

    Returns:
      (final carry, time-major hidden states (T, B, H)).
    """
    px = cell.input_projection(x_seq)  # also runs setup, outside the scan's trace
    if carry is None:
        carry = cell.initial_carry(x_seq.shape[0])
    if h_offsets is None:
        if type(cell) is LSTM:  # Not its subclasses: their steps differ.
            return fused_lstm.lstm_scan(px, cell.w_h, *carry, unroll)
        return jax.lax.scan(cell.step, carry, px, unroll=unroll)

    def body(carry: Carry, xs: tuple[Array, Array]) -> tuple[Carry, Array]:
        px_t, d_t = xs
        carry, h = cell.step(carry, px_t)
        h = h + d_t
        return (*carry[:-1], h), h

    return jax.lax.scan(body, carry, (px, h_offsets), unroll=unroll)


def last_valid(hs: Array, lengths: Array | None) -> Array:
    """h at each sequence's last valid step: hs (T, B, H), lengths (B,) -> (B, H)."""
    if lengths is None:
        return hs[-1]
    idx = jnp.clip(lengths - 1, 0, hs.shape[0] - 1)
    return hs[idx, jnp.arange(hs.shape[1])]


def sample_tokens(  # noqa: UP047  (CarryT exists for type checkers only: no runtime change)
    cell: Steps[CarryT],
    readout: Callable[[Array], Array],
    key: Array,
    first: Array,
    carry: CarryT,
    length: int,
    temperature: float | Array = 1.0,
) -> Array:
    """Autoregressive generation: each sampled token is fed back as the next input.

    Here the input projection cannot be hoisted (the next input is not known yet), so each
    step gathers one row of W_x. `temperature` 0 means greedy (argmax).

    Args:
      cell: a bound token cell (num_embeddings > 0).
      readout: h (B, H) -> logits (B, V).
      key: the sampler's key; step t uses fold_in(key, t).
      first: (B,) int tokens fed at the first step.
      carry: initial carry.
      length: number of tokens to generate.

    Returns:
      (B, length) int32 tokens.
    """
    cell.input_projection(first[:, None])  # set up parameters outside the scan's trace

    def body(state: tuple[CarryT, Array], t: Array) -> tuple[tuple[CarryT, Array], Array]:
        carry, tok = state
        px = cell.input_projection(tok[:, None])[0]
        carry, h = cell.step(carry, px)
        logits = readout(h)
        greedy = jnp.argmax(logits, -1)
        drawn = jax.random.categorical(
            jax.random.fold_in(key, t), logits / jnp.maximum(temperature, 1e-6)
        )
        tok = jnp.where(temperature > 0, drawn, greedy).astype(jnp.int32)
        return (carry, tok), tok

    _, toks = jax.lax.scan(body, (carry, first.astype(jnp.int32)), jnp.arange(length))
    return toks.T
