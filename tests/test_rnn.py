"""Recurrent cells against NumPy steps written from the lecture's equations; scans; tasks."""

from __future__ import annotations

import math

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxgen.data import sequences as seq_data
from jaxgen.data import text
from jaxgen.evaluation import sequence as seq_eval
from jaxgen.models import rnn

H, D, B, T = 5, 3, 4, 7


def sigmoid(a):
    return 1.0 / (1.0 + np.exp(-a))


def np_step(name: str, p: dict, carry: tuple, x: np.ndarray):
    """One step written from the lecture's equations, W . [h, x] = h W_h + x W_x.

    Gate blocks are read out of the packed weights by column ranges, then each equation is
    applied on its own, the way the slides write it.
    """
    p = {k: np.asarray(v, np.float64) for k, v in p.items()}

    def block(w, k):  # the k-th H-wide column block of a packed matrix
        return w[..., k * H : (k + 1) * H]

    def affine(k):  # W_k . [h_{t-1}, x_t] + b_k
        out = h @ block(p["w_h"], k) + x @ block(p["w_x"], k)
        return out + block(p["b"], k) if "b" in p else out

    h = carry[-1]
    if name == "rnn":
        return (np.tanh(affine(0)),)
    if name == "gru":  # no biases, as in the lecture
        z = sigmoid(h @ block(p["w_h"], 0) + x @ block(p["w_x"], 0))
        r = sigmoid(h @ block(p["w_h"], 1) + x @ block(p["w_x"], 1))
        h_tilde = np.tanh((r * h) @ p["w_hh"] + x @ block(p["w_x"], 2))
        return ((1 - z) * h + z * h_tilde,)
    c = carry[0]
    if name == "lstm":
        f, i, o, c_tilde = sigmoid(affine(0)), sigmoid(affine(1)), sigmoid(affine(2)), None
        c_tilde = np.tanh(affine(3))
        c = f * c + i * c_tilde
        return c, o * np.tanh(c)
    if name == "peephole":
        # f_t = sigma(W_f . [C_{t-1}, h_{t-1}, x_t] + b_f), likewise i; o sees C_t.
        f = sigmoid(affine(0) + c @ block(p["w_c_fi"], 0))
        i = sigmoid(affine(1) + c @ block(p["w_c_fi"], 1))
        c = f * c + i * np.tanh(affine(3))
        o = sigmoid(affine(2) + c @ p["w_c_o"])
        return c, o * np.tanh(c)
    if name == "coupled":
        f, o, c_tilde = sigmoid(affine(0)), sigmoid(affine(1)), np.tanh(affine(2))
        c = f * c + (1 - f) * c_tilde
        return c, o * np.tanh(c)
    raise ValueError(name)


def _cell_and_params(name, seed=0, **kw):
    cell = rnn.make_cell(name, H, x_dim=D, **kw)
    x = jnp.zeros((B, T, D))
    params = cell.init(jax.random.PRNGKey(seed), x)
    # Random (not initial) values everywhere, so zero biases or identities hide nothing.
    leaves, tree = jax.tree.flatten(params)
    keys = jax.random.split(jax.random.PRNGKey(seed + 1), len(leaves))
    leaves = [0.5 * jax.random.normal(k, v.shape) for k, v in zip(keys, leaves, strict=True)]
    return cell, jax.tree.unflatten(tree, leaves)


def _random_carry(cell_name, key):
    n = 2 if cell_name in ("lstm", "peephole", "coupled") else 1
    return tuple(jax.random.normal(k, (B, H)) for k in jax.random.split(key, n))


@pytest.mark.parametrize("name", rnn.CELLS)
def test_cell_step_matches_numpy_equations(name):
    cell, params = _cell_and_params(name)
    x = jax.random.normal(jax.random.PRNGKey(2), (B, 1, D))
    carry = _random_carry(name, jax.random.PRNGKey(3))

    def one(params, carry, x):
        return cell.apply(
            params, x, carry, method=lambda m, x, c: m.step(c, m.input_projection(x)[0])
        )

    new_carry, h = jax.jit(one)(params, carry, x)
    ref = np_step(name, params["params"], tuple(np.asarray(c) for c in carry), np.asarray(x[:, 0]))
    assert len(new_carry) == len(ref)
    for got, want in zip(new_carry, ref, strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(h, ref[-1], rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("name", rnn.CELLS)
def test_scan_equals_stepwise_application(name):
    cell, params = _cell_and_params(name)
    x = jax.random.normal(jax.random.PRNGKey(4), (B, T, D))
    carry0 = _random_carry(name, jax.random.PRNGKey(5))
    (final, hs) = jax.jit(lambda p, x, c: cell.apply(p, x, c))(params, x, carry0)
    chex.assert_shape(hs, (T, B, H))
    carry = tuple(np.asarray(c) for c in carry0)
    for t in range(T):  # the reference steps one at a time, in NumPy
        carry = np_step(name, params["params"], carry, np.asarray(x[:, t]))
        np.testing.assert_allclose(hs[t], carry[-1], rtol=1e-4, atol=1e-5)
    for got, want in zip(final, carry, strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("name", ["lstm", "gru"])
def test_token_gather_equals_one_hot_matmul(name):
    """The hoisted projection of token ids (a row gather) equals one-hot inputs times W_x."""
    v = 6
    tok_cell = rnn.make_cell(name, H, num_embeddings=v)
    hot_cell = rnn.make_cell(name, H, x_dim=v)
    ids = jax.random.randint(jax.random.PRNGKey(0), (B, T), 0, v)
    params = tok_cell.init(jax.random.PRNGKey(1), ids)
    _, hs_tok = tok_cell.apply(params, ids)
    _, hs_hot = hot_cell.apply(params, jax.nn.one_hot(ids, v))
    np.testing.assert_allclose(hs_tok, hs_hot, rtol=1e-5, atol=1e-6)


def test_step_traces_once_and_projection_is_outside_the_scan():
    cell, params = _cell_and_params("lstm")

    @jax.jit
    @chex.assert_max_traces(n=1)
    def step(params, carry, px):
        return cell.apply(params, carry, px, method="step")

    carry = cell.initial_carry(B)
    px = jnp.zeros((B, 4 * H))
    for _ in range(3):
        carry, h = step(params, carry, px)
    chex.assert_shape(h, (B, H))
    # Inside the scan only h @ W_h: the scan body holds exactly one dot product.
    jaxpr = jax.make_jaxpr(lambda p, x: cell.apply(p, x))(params, jnp.zeros((B, T, D)))
    eqns = jaxpr.jaxpr.eqns
    fused = [e for e in eqns if e.primitive.name.startswith("custom_vjp")]
    inner = fused[0].params["call_jaxpr"].jaxpr.eqns if fused else eqns
    scans = [e for e in inner if e.primitive.name == "scan"]
    assert len(scans) == 1
    body = scans[0].params["jaxpr"].jaxpr
    assert [e.primitive.name for e in body.eqns].count("dot_general") == 1
    outer = [e.primitive.name for e in eqns].count("dot_general")
    assert outer == 1  # the input projection for all T steps


def test_fused_lstm_gradients_equal_autodiff_of_the_plain_equations():
    """The hand-written backward pass against `jax.grad` of sigma/tanh gates in a lax.scan."""
    from jaxgen.models import fused_lstm

    k = jax.random.split(jax.random.PRNGKey(7), 5)
    px = jax.random.normal(k[0], (T, B, 4 * H))
    w_h = jax.random.normal(k[1], (H, 4 * H)) / math.sqrt(H)
    c0, h0 = jax.random.normal(k[2], (B, H)), jax.random.normal(k[3], (B, H))
    target = jax.random.normal(k[4], (T, B, H))

    def plain(px, w_h, c0, h0):
        def step(carry, px_t):
            c, h = carry
            f, i, o, g = jnp.split(px_t + h @ w_h, 4, axis=-1)
            c = jax.nn.sigmoid(f) * c + jax.nn.sigmoid(i) * jnp.tanh(g)
            h = jax.nn.sigmoid(o) * jnp.tanh(c)
            return (c, h), h

        return jax.lax.scan(step, (c0, h0), px)

    def loss(fn):
        def f(*args):
            (c, h), hs = fn(*args)
            return jnp.sum(hs * target) + jnp.sum(c**2) + jnp.sum(jnp.sin(h))

        return jax.jit(jax.value_and_grad(f, argnums=(0, 1, 2, 3)))

    (l_ref, g_ref) = loss(plain)(px, w_h, c0, h0)
    (l_fused, g_fused) = loss(fused_lstm.lstm_scan)(px, w_h, c0, h0)
    np.testing.assert_allclose(l_fused, l_ref, rtol=1e-5)
    for got, want in zip(g_fused, g_ref, strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5)


def test_h_offsets_give_dL_dh():
    """The gradient w.r.t. a zero offset on h_t is the total derivative dL/dh_t."""
    cell, params = _cell_and_params("rnn")
    x = jax.random.normal(jax.random.PRNGKey(6), (B, T, D))

    def loss(d):
        _, hs = cell.apply(params, x, None, d, method=lambda m, x, c, d: rnn.scan(m, x, c, d))
        return jnp.sum(hs[-1] ** 2)

    zeros = jnp.zeros((T, B, H))
    g = jax.grad(loss)(zeros)
    eps, t, b, k = 1e-3, 2, 1, 3
    bump = zeros.at[t, b, k].set(eps)
    fd = (loss(bump) - loss(-bump)) / (2 * eps)
    np.testing.assert_allclose(g[t, b, k], fd, rtol=2e-2, atol=1e-4)
    assert float(jnp.abs(g[-1]).sum()) > 0


@pytest.mark.parametrize("t_lo", [0, 10])
def test_adding_problem_data_follows_hochreiter_schmidhuber(t_lo):
    rng = np.random.default_rng(0)
    t_min = 50
    d = seq_data.adding_sequences(rng, 500, t_min, t_lo)
    x, y, n = d["x"], d["target"], d["length"]
    assert n.min() >= (t_lo or t_min) and n.max() <= t_min + t_min // 10
    assert x.shape[1] == t_min + t_min // 10  # every sequence padded to the longest
    marked = x[..., 1] == 1.0
    np.testing.assert_array_equal(marked.sum(1), 2)  # exactly two marks
    first = marked.argmax(1)
    assert first.max() < 10  # X1 among the first ten pairs
    second = marked.shape[1] - 1 - marked[:, ::-1].argmax(1)
    # X2 among the first T/2 - 1 unmarked pairs of the sequence's own T (<= its length), X1
    # among the first ten: the later mark lies before max(10, length / 2).
    assert np.all(second < np.maximum(10, n // 2)) and second.max() < t_min // 2
    np.testing.assert_allclose(y, 0.5 + (x[..., 0] * marked).sum(1) / 4.0, rtol=1e-6)
    ends = x[np.arange(500), n - 1, 1]
    assert np.all(ends == -1.0)  # the last pair is marked -1
    assert np.all(x[np.arange(x.shape[1])[None] >= n[:, None]] == 0.0)  # padding
    if t_lo:  # the mixed curriculum: lags spread over [t_lo, T], not only long ones
        assert (n < t_min // 2).mean() > 0.25 and (n >= t_min * 0.9).mean() > 0.05


def test_copy_memory_baseline_and_layout():
    d = seq_data.copy_sequences(np.random.default_rng(0), 3, lag=20, k=10)
    assert d["x"].shape == (3, 40)
    np.testing.assert_array_equal(d["x"][:, :10], d["y"][:, -10:])
    assert np.all(d["x"][:, 29] == seq_data.COPY_DELIM)
    assert seq_data.copy_baseline_nats(20, 10) == pytest.approx(10 * math.log(8) / 40)


def test_bits_per_char_against_a_hand_count():
    # p = 1/2, 1/4, 1, 1/8: 1 + 2 + 0 + 3 = 6 bits over 4 characters.
    assert seq_eval.bits_per_char(np.log([0.5, 0.25, 1.0, 0.125])) == pytest.approx(1.5)
    # A compressor can't beat 0 and stays near 8 bits/char on incompressible bytes' text.
    txt = "".join(chr(32 + int(c)) for c in np.random.default_rng(0).integers(0, 95, 20000))
    comp = seq_eval.compressor_bpc(txt)
    assert set(comp) == {"gzip", "bz2", "lzma"}
    assert all(math.log2(95) - 0.2 < v < 8 for v in comp.values())


def test_text_roundtrip_and_corpus_files_are_sorted():
    s = "def f(x):\n    return x + 1  # ok"
    assert text.decode(text.encode(s)) == s
    assert text.decode(text.encode("a\tb\u00e9")) == "a?b?"
    files = text.stdlib_files()
    assert [f.name for f in files] == sorted(f.name for f in files)
    parts = text.split_files(files)
    assert not set(parts["train"]) & set(parts["test"])
    assert len(text.VOCAB) == 96


def test_sampling_is_seeded_and_zero_temperature_is_greedy():
    cell = rnn.make_cell("lstm", H, num_embeddings=6)
    ids = jnp.zeros((2, 3), jnp.int32)
    params = cell.init(jax.random.PRNGKey(0), ids)
    w = jax.random.normal(jax.random.PRNGKey(1), (H, 6))

    @jax.jit
    def gen(key, temp):
        return cell.apply(
            params,
            method=lambda m: rnn.sample_tokens(
                m, lambda h: h @ w, key, ids[:, 0], m.initial_carry(2), 12, temp
            ),
        )

    k = jax.random.PRNGKey(3)
    np.testing.assert_array_equal(gen(k, 1.0), gen(k, 1.0))
    assert not np.array_equal(gen(k, 1.0), gen(jax.random.PRNGKey(4), 1.0))
    np.testing.assert_array_equal(gen(k, 0.0), gen(jax.random.PRNGKey(4), 0.0))
    chex.assert_shape(gen(k, 0.0), (2, 12))


@pytest.mark.parametrize("name", ["lstm", "peephole", "coupled"])
def test_chrono_init_spreads_forget_biases_and_mirrors_the_input_gate(name):
    """Tallec & Ollivier (2018): b_f = log(u), u ~ U(1, T_max - 1); b_i = -b_f."""
    tmax, h = 50, 256
    cell = rnn.make_cell(name, h, x_dim=D, chrono_tmax=tmax)
    b = cell.init(jax.random.PRNGKey(0), jnp.zeros((B, T, D)))["params"]["b"]
    b_f = np.asarray(b[:h])
    assert b_f.min() >= 0.0 and b_f.max() <= math.log(tmax - 1) + 1e-6
    # Uniform u: its mean is about T_max / 2, far above the constant init's e^1.
    assert abs(np.exp(b_f).mean() - tmax / 2) < 0.15 * tmax
    if name == "coupled":  # blocks (f, o, C~): the input gate is 1 - f by construction
        np.testing.assert_array_equal(np.asarray(b[h:]), 0.0)
    else:
        np.testing.assert_allclose(np.asarray(b[h : 2 * h]), -b_f)
        np.testing.assert_array_equal(np.asarray(b[2 * h :]), 0.0)


def test_chrono_init_carries_early_inputs_to_the_end():
    """At initialization, what the last hidden state keeps of the first input: chrono's
    long time scales keep orders of magnitude more of it than a forget bias of 1."""
    steps, h = 100, 32

    def early_grad(**kw):
        cell = rnn.make_cell("lstm", h, x_dim=D, **kw)
        x = jax.random.normal(jax.random.PRNGKey(1), (4, steps, D))
        params = cell.init(jax.random.PRNGKey(2), x)
        last = lambda x: jnp.sum(cell.apply(params, x)[1][-1])  # noqa: E731
        return float(jnp.abs(jax.grad(last)(x)[:, 0]).mean())

    assert early_grad(chrono_tmax=steps) > 1e3 * early_grad(forget_bias=1.0)


def test_unknown_forget_init_is_a_config_error():
    from jaxgen.errors import ConfigError
    from jaxgen.families import rnn as rnn_family

    cfg = rnn_family.config("adding", forget_init="chronos")
    with pytest.raises(ConfigError, match="model.forget_init"):
        rnn_family.RNNFamily(cfg)
