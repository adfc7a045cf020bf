"""The LSTM recurrence with a hand-written backward pass, for speed on CPU.

Same equations as `rnn.LSTM.step` (gate blocks f, i, o, C~), two changes in how they run:

- All four gates go through ONE `tanh` over the (B, 4H) pre-activations, using
  sigma(a) = (1 + tanh(a / 2)) / 2: one transcendental pass instead of three logistic and
  one tanh pass, and the saved `tanh` values give every gate's derivative.
- The backward pass (`jax.custom_vjp`) carries only dh and dC through the reverse scan; the
  recurrent weight's gradient sum_t h_{t-1}^T dz_t is ONE (H, T*B) x (T*B, 4H) matmul after
  it, instead of a small matmul accumulated inside every step, which is what autodiff of
  `lax.scan` writes.

`benchmarks/profile.py` (`make bench`, section `why`) measures the recurrence; the gradients
equal autodiff's to float32 round-off (`tests/test_rnn.py`). Forward-mode differentiation
(`jax.jvp`) is not defined through it; nothing in jaxgen needs it.
"""

from __future__ import annotations

from functools import partial

import jax
import jax.numpy as jnp
from jax.typing import DTypeLike

Array = jax.Array


def _gate_affine(four_h: int, dtype: DTypeLike) -> tuple[Array, Array]:
    """(scale, shift) with gates = scale * tanh(scale * z) + shift: f, i, o logistic, C~ tanh."""
    h = four_h // 4
    half = jnp.full((3 * h,), 0.5, dtype)
    scale = jnp.concatenate([half, jnp.ones((h,), dtype)])
    shift = jnp.concatenate([half, jnp.zeros((h,), dtype)])
    return scale, shift


def lstm_gates(z: Array) -> tuple[Array, Array]:
    """(gates, t) for pre-activations z (..., 4H): gates (f, i, o, C~), t = tanh(scale * z)."""
    scale, shift = _gate_affine(z.shape[-1], z.dtype)
    t = jnp.tanh(z * scale)
    return t * scale + shift, t


def lstm_cell(
    w_h: Array, carry: tuple[Array, Array], px: Array
) -> tuple[tuple[Array, Array], Array]:
    """One step: carry (C, h), projected input px (B, 4H) -> ((C, h), h)."""
    c, h = carry
    gates, _ = lstm_gates(px + h @ w_h)
    f, i, o, g = jnp.split(gates, 4, axis=-1)
    c = f * c + i * g
    h = o * jnp.tanh(c)
    return (c, h), h


@partial(jax.custom_vjp, nondiff_argnums=(4,))
def lstm_scan(
    px: Array, w_h: Array, c0: Array, h0: Array, unroll: int = 1
) -> tuple[tuple[Array, Array], Array]:
    """(T, B, 4H) projected inputs -> ((C_T, h_T), hiddens (T, B, H))."""
    return jax.lax.scan(partial(lstm_cell, w_h), (c0, h0), px, unroll=unroll)


def _fwd(
    px: Array, w_h: Array, c0: Array, h0: Array, unroll: int
) -> tuple[tuple[tuple[Array, Array], Array], tuple[Array, ...]]:
    def step(
        carry: tuple[Array, Array], px_t: Array
    ) -> tuple[tuple[Array, Array], tuple[Array, Array, Array, Array]]:
        c, h = carry
        gates, t = lstm_gates(px_t + h @ w_h)
        f, i, o, g = jnp.split(gates, 4, axis=-1)
        c_new = f * c + i * g
        tc = jnp.tanh(c_new)
        h_new = o * tc
        return (c_new, h_new), (h_new, c, t, tc)

    (c, h), (hs, c_prev, ts, tcs) = jax.lax.scan(step, (c0, h0), px, unroll=unroll)
    return ((c, h), hs), (w_h, h0, hs, c_prev, ts, tcs)


def _bwd(
    unroll: int, res: tuple[Array, ...], cotangents: tuple[tuple[Array, Array], Array]
) -> tuple[Array, Array, Array, Array]:
    w_h, h0, hs, c_prev, ts, tcs = res
    (dc_last, dh_last), dhs = cotangents
    scale, shift = _gate_affine(ts.shape[-1], ts.dtype)
    w_t = w_h.T

    def step(
        carry: tuple[Array, Array], xs: tuple[Array, Array, Array, Array]
    ) -> tuple[tuple[Array, Array], Array]:
        dc, dh = carry
        dh_out, c_before, t, tc = xs
        f, i, o, g = jnp.split(t * scale + shift, 4, axis=-1)
        dh = dh + dh_out
        dc = dc + dh * o * (1 - tc * tc)
        d_gates = jnp.concatenate([dc * c_before, dc * g, dh * tc, dc * i], axis=-1)
        dz = d_gates * scale * scale * (1 - t * t)
        return (dc * f, dz @ w_t), dz

    (dc0, dh0), dz = jax.lax.scan(
        step, (dc_last, dh_last), (dhs, c_prev, ts, tcs), reverse=True, unroll=unroll
    )
    h_prev = jnp.concatenate([h0[None], hs[:-1]], axis=0)
    dw_h = _weight_grad(h_prev, dz)
    return dz, dw_h, dc0, dh0


def _weight_grad(h_prev: Array, dz: Array) -> Array:
    """sum over t and b of h_{t-1}^T dz_t: the recurrent weight's gradient, one matmul."""
    mesh = jax.sharding.get_abstract_mesh()
    if mesh.empty or mesh.size == 1:
        # One device: a (H, T*B) x (T*B, 4H) product, the bits of every published run.
        return h_prev.reshape(-1, h_prev.shape[-1]).T @ dz.reshape(-1, dz.shape[-1])
    # Traced under a mesh (`data_parallel`: the batch axis split over devices): contracted
    # over (T, B) as they stand, each device sums its own rows and one all-reduce adds them.
    # The reshape merges the split axis into T, which XLA can only do by gathering every
    # device's activations first (the data-parallel LSTM step was then slower than one
    # device's; with this, 80 against 100 ms on 2 cores for the char LM).
    return jax.lax.dot_general(h_prev, dz, (((0, 1), (0, 1)), ((), ())))


lstm_scan.defvjp(_fwd, _bwd)

__all__ = ["lstm_cell", "lstm_gates", "lstm_scan"]
