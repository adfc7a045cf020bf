"""Why the missed targets are missed: the `why` section of `make bench`.

Three measurements, each a ratio taken in one process with the sides alternating:

- `vae`: the MLP VAE's forward + backward alone (`jax.grad` of the family's loss) against the
  family's whole train step (the same plus Adam over 1.08 M parameters), and the optax Adam
  update alone against Adam written as one elementwise pass (its memory-traffic floor). What
  the update costs is time the matmul-FLOP count never sees.
- `lstm`: the library's LSTM recurrence, forward + backward (`rnn.scan`, T=100, batch 64,
  H=256), against its matmuls alone as `fused_lstm` runs them (h W and dz W^T in the scans,
  the weight gradient as one matmul after them). The
  difference is the gates' elementwise work, which runs between small matmuls.
- `conv`: every convolution of the conv AE, forward + both backward passes, XLA's
  `conv_general_dilated` against `torch.nn.functional.conv2d` (oneDNN) at the same shape,
  and the same convolution in the formulations issue 18 asked to try on XLA:CPU: NCHW
  layout, and im2col as one matmul, its columns built either by
  `lax.conv_general_dilated_patches` or by concatenating the k*k shifted slices.

The 8-seed floor (8 x one seed's FLOPs at the measured peak) needs no measurement of its own;
`run.py` derives it from the `seeds` and `peak` sections.
"""

from __future__ import annotations

import math
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax

from benchmarks.harness import MatmulPeak, Side, alternate, log, median

# The conv AE's convolutions at batch 128: (input HWC, kernel HW, output channels, stride).
CONV_LAYERS = (
    ("enc1 4x4/2 1->32", (28, 28, 1), 4, 32, 2),
    ("enc2 4x4/2 32->64", (14, 14, 32), 4, 64, 2),
    ("up1 3x3 64->256", (7, 7, 64), 3, 256, 1),
    ("up2 3x3 64->128", (14, 14, 64), 3, 128, 1),
    ("out 3x3 32->1", (28, 28, 32), 3, 1, 1),
)


def _repeat(fn, args, calls: int):
    def run():
        out = None
        for _ in range(calls):
            out = fn(*args)
        jax.block_until_ready(out)

    return run


def _time_pair(a: Side, b: Side, reps: int) -> tuple[float, float]:
    times = alternate([a, b], reps, warmup=1)
    return median(times[a.name]), median(times[b.name])


def vae_update_share(scale, reps: int) -> dict[str, Any]:
    from benchmarks.configs import vae_config
    from jaxgen.train.preflight import make_family

    cfg = vae_config(scale)
    family = make_family(cfg)
    bs = int(cfg.train.batch_size) // scale.why_shrink
    rng = np.random.default_rng(0)
    batch = {"x": jnp.asarray(rng.random((bs, 28, 28, 1)) < 0.5, jnp.float32)}
    key = jax.random.PRNGKey(0)
    state = family.init(key, batch)

    def grads(params):
        return jax.grad(lambda p: family.loss(p, state.apply_fn, batch, key, 1.0)[0])(params)

    grad_fn = jax.jit(grads)
    step_fn = jax.jit(family.train_step)
    g = grad_fn(state.params)

    @jax.jit
    def optax_update(params, opt_state, g):
        updates, opt_state = state.tx.update(g, opt_state, params)
        return optax.apply_updates(params, updates), opt_state

    @jax.jit
    def one_pass_adam(params, mu, nu, g):
        """Adam in one elementwise pass per leaf: the least memory traffic it can have."""

        def leaf(p, m, v, g):
            m = 0.9 * m + 0.1 * g
            v = 0.999 * v + 0.001 * g * g
            return p - 1e-3 * (m / 0.1) / (jnp.sqrt(v / 0.001) + 1e-8), m, v

        return jax.tree.map(leaf, params, mu, nu, g)

    calls = 50 // scale.why_shrink or 1
    zeros = jax.tree.map(jnp.zeros_like, state.params)
    times = alternate(
        [
            Side("grad", _repeat(grad_fn, (state.params,), calls)),
            Side("step", _repeat(step_fn, (state, batch, key), calls)),
            Side("optax", _repeat(optax_update, (state.params, state.opt_state, g), calls)),
            Side("one_pass", _repeat(one_pass_adam, (state.params, zeros, zeros, g), calls)),
        ],
        reps,
        warmup=1,
    )
    ms = {k: 1e3 * median(v) / calls for k, v in times.items()}
    n = sum(x.size for x in jax.tree.leaves(state.params))
    return {
        "batch_size": bs,
        "params": int(n),
        "ms_fwd_bwd": ms["grad"],
        "ms_train_step": ms["step"],
        "update_share": 1 - ms["grad"] / ms["step"],
        "ms_optax_adam": ms["optax"],
        "ms_one_pass_adam": ms["one_pass"],
        # Read p, m, v, g; write p, m, v: 7 float32 arrays of the parameters' size.
        "one_pass_adam_gb_per_s": 7 * 4 * n / (ms["one_pass"] / 1e3) / 1e9,
    }


def lstm_elementwise_share(scale, reps: int) -> dict[str, Any]:
    import flax.linen as nn

    from jaxgen.models import rnn

    t, b, h = 100 // scale.why_shrink, 64 // scale.why_shrink, 256 // scale.why_shrink
    v = 96

    class Recurrence(nn.Module):
        @nn.compact
        def __call__(self, tokens):
            return rnn.scan(rnn.make_cell("lstm", h, num_embeddings=v), tokens)[1]

    rng = np.random.default_rng(0)
    tokens = jnp.asarray(rng.integers(0, v, (b, t)), jnp.int32)
    target = jnp.asarray(rng.standard_normal((t, b, h)), jnp.float32)
    model = Recurrence()
    params = model.init(jax.random.PRNGKey(0), tokens)
    lstm_fn = jax.jit(jax.grad(lambda p: jnp.sum(model.apply(p, tokens) * target)))

    w = jnp.asarray(rng.standard_normal((h, 4 * h)) / math.sqrt(h), jnp.float32)
    h0 = jnp.asarray(rng.standard_normal((b, h)), jnp.float32)

    def matmuls_only(w, h0):
        """The recurrence's matmuls as `fused_lstm` runs them: h W forward and dz W^T
        backward in the scans, the weight gradient sum_t h_t^T dz_t as one matmul after."""

        def fwd(hc, _):
            z = hc @ w
            return z[:, :h] * 0.5, hc

        _, hs = jax.lax.scan(fwd, h0, None, length=t)
        wt = w.T

        def bwd(dh, _):
            dz = jnp.tile(dh, (1, 4))
            return 0.5 * (dz @ wt), dz

        dh, dzs = jax.lax.scan(bwd, h0, None, length=t, reverse=True)
        return dh, hs.reshape(-1, h).T @ dzs.reshape(-1, 4 * h)

    mm_fn = jax.jit(matmuls_only)
    calls = 3
    t_lstm, t_mm = _time_pair(
        Side("lstm", _repeat(lstm_fn, (params,), calls)),
        Side("matmuls", _repeat(mm_fn, (w, h0), calls)),
        reps,
    )
    flops = 3 * 2 * t * b * h * 4 * h
    return {
        "shape": {"T": t, "batch": b, "H": h},
        "ms_recurrence_fwd_bwd": 1e3 * t_lstm / calls,
        "ms_matmuls_only": 1e3 * t_mm / calls,
        "matmul_gflops_in_scan": flops * calls / t_mm / 1e9,
        "elementwise_share": 1 - t_mm / t_lstm,
    }


def _conv_nhwc(x, w, s):
    from jax import lax

    return lax.conv_general_dilated(
        x, w, (s, s), "SAME", dimension_numbers=("NHWC", "HWIO", "NHWC")
    )


def _conv_nchw(x, w, s):
    from jax import lax

    y = lax.conv_general_dilated(
        jnp.transpose(x, (0, 3, 1, 2)),
        jnp.transpose(w, (3, 2, 0, 1)),
        (s, s),
        "SAME",
        dimension_numbers=("NCHW", "OIHW", "NCHW"),
    )
    return jnp.transpose(y, (0, 2, 3, 1))


def _conv_patches(x, w, s):
    """im2col by XLA's patch extraction (channel-major columns), then one matmul."""
    from jax import lax

    k, _, cin, cout = w.shape
    cols = lax.conv_general_dilated_patches(
        x, (k, k), (s, s), "SAME", dimension_numbers=("NHWC", "HWIO", "NHWC")
    )
    return cols @ jnp.transpose(w, (2, 0, 1, 3)).reshape(cin * k * k, cout)


def _conv_shifts(x, w, s):
    """im2col by concatenating the k*k (strided) shifted slices of the padded input."""
    k, _, cin, cout = w.shape
    hh, ww = x.shape[1], x.shape[2]
    oh, ow = -(-hh // s), -(-ww // s)
    ph, pw = max((oh - 1) * s + k - hh, 0), max((ow - 1) * s + k - ww, 0)
    xp = jnp.pad(x, ((0, 0), (ph // 2, ph - ph // 2), (pw // 2, pw - pw // 2), (0, 0)))
    cols = jnp.concatenate(
        [
            xp[:, i : i + (oh - 1) * s + 1 : s, j : j + (ow - 1) * s + 1 : s]
            for i in range(k)
            for j in range(k)
        ],
        axis=-1,
    )
    return cols @ w.reshape(k * k * cin, cout)


def _bt(d0, d1, d2, d3):
    """Winograd F(2, 3)'s input transform B^T d along one axis, on four shifted slices."""
    return d0 - d2, d1 + d2, d2 - d1, d1 - d3


def _conv_winograd(x, w, s):
    """Winograd F(2x2, 3x3) (Lavin & Gray 2016), 3x3 stride 1 "SAME" only: 2.25x fewer
    multiplies per output than direct convolution, as 16 batched matmuls over 4x4 tiles."""
    del s
    n, hh, ww, cin = x.shape
    th, tw = -(-hh // 2), -(-ww // 2)
    xp = jnp.pad(x, ((0, 0), (1, 1 + 2 * th - hh), (1, 1 + 2 * tw - ww), (0, 0)))
    rows = _bt(*(xp[:, i : i + 2 * th : 2] for i in range(4)))
    v = [c for r in rows for c in _bt(*(r[:, :, j : j + 2 * tw : 2] for j in range(4)))]
    v = jnp.stack(v).reshape(16, n * th * tw, cin)
    g = jnp.array([[1, 0, 0], [0.5, 0.5, 0.5], [0.5, -0.5, 0.5], [0, 0, 1]], x.dtype)
    u = jnp.einsum("ai,ijcd,bj->abcd", g, w, g).reshape(16, cin, -1)
    m = jnp.einsum("tpc,tcd->tpd", v, u).reshape(4, 4, n, th, tw, -1)
    rows = (m[0] + m[1] + m[2], m[1] - m[2] - m[3])  # A^T m A, A^T = [[1,1,1,0],[0,1,-1,-1]]
    y = jnp.stack([jnp.stack((r[0] + r[1] + r[2], r[1] - r[2] - r[3])) for r in rows])
    y = y.transpose(2, 3, 0, 4, 1, 5).reshape(n, 2 * th, 2 * tw, -1)
    return y[:, :hh, :ww]


# The XLA formulations timed against each other (and against torch) per layer.
CONV_FORMS = {
    "xla": _conv_nhwc,
    "xla_nchw": _conv_nchw,
    "im2col_patches": _conv_patches,
    "im2col_shifts": _conv_shifts,
    "winograd": _conv_winograd,
}


def conv_form_applies(form: str, k: int, stride: int) -> bool:
    """Whether a formulation computes a (k x k, stride) convolution: Winograd F(2, 3) is for
    3x3 stride 1 only; the others compute any."""
    return form != "winograd" or (k == 3 and stride == 1)


def conv_layers(scale, reps: int, torch_mode: str) -> list[dict[str, Any]]:
    torch = None
    if torch_mode != "off":
        import torch

    bs = 128 // scale.why_shrink
    calls = 5 // min(scale.why_shrink, 5) or 1
    out = []
    rng = np.random.default_rng(0)
    for name, (hh, ww, cin), k, cout, s in CONV_LAYERS:
        x = rng.standard_normal((bs, hh, ww, cin)).astype(np.float32)
        w = (rng.standard_normal((k, k, cin, cout)) * 0.1).astype(np.float32)

        sides = []
        for form, conv in CONV_FORMS.items():
            if not conv_form_applies(form, k, s):
                continue

            def loss(x, w, s=s, conv=conv):
                y = conv(x, w, s)
                return jnp.sum(y * y)

            jfn = jax.jit(jax.grad(loss, argnums=(0, 1)))
            sides.append(Side(form, _repeat(jfn, (jnp.asarray(x), jnp.asarray(w)), calls)))
        oh = -(-hh // s)
        flops = 3 * 2 * bs * oh * (-(-ww // s)) * cout * k * k * cin
        if torch is not None:
            tx = torch.tensor(np.transpose(x, (0, 3, 1, 2)).copy(), requires_grad=True)
            tw = torch.tensor(np.transpose(w, (3, 2, 0, 1)).copy(), requires_grad=True)
            pad = (k - s + 1) // 2 if s == 2 else k // 2

            def trun(tx=tx, tw=tw, s=s, pad=pad):
                for _ in range(calls):
                    y = torch.nn.functional.conv2d(tx, tw, stride=s, padding=pad)
                    torch.autograd.grad((y * y).sum(), (tx, tw))

            sides.append(Side("torch", trun))
        times = alternate(sides, reps, warmup=1)
        row = {"layer": name, "batch": bs, "gflop_fwd_bwd": flops / 1e9}
        for side, ts in times.items():
            sec = median(ts) / calls
            row[f"{side}_ms"] = 1e3 * sec
            row[f"{side}_gflops"] = flops / sec / 1e9
        out.append(row)
    return out


def why_section(scale, torch_mode: str = "on") -> dict[str, Any]:
    reps = scale.reps
    log("why: VAE forward+backward against the whole train step")
    vae = vae_update_share(scale, reps)
    log("why: LSTM recurrence against its matmuls alone")
    lstm = lstm_elementwise_share(scale, reps)
    log("why: the conv AE's convolutions, XLA against PyTorch")
    conv = conv_layers(scale, reps, torch_mode)
    mm = MatmulPeak(scale.peak_n, seconds=0.4)
    times = alternate([Side("peak", mm.run)], reps, warmup=1)
    return {
        "vae": vae,
        "lstm": lstm,
        "conv": conv,
        "peak_gflops": mm.flops / median(times["peak"]) / 1e9,
    }


__all__ = ["CONV_FORMS", "CONV_LAYERS", "conv_form_applies", "why_section"]
