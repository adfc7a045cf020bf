"""Every family's whole public API, called through `jaxgen.load_run` on a tiny trained run.

A user's script sees a family only through `load_run`: each name in `family.public_api`
(and `sample`) comes back jitted with its shape-setting arguments static. Each case below
trains a tiny run, loads it as a script would, and calls every public method with the
arguments a user passes; a method added to a family's `public_api` without a call here
fails the test, so the contract cannot grow untested.
"""

from __future__ import annotations

from collections.abc import Callable

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jaxgen
from jaxgen.families import autoencoder, gan, rnn, seq2seq, seqvae, vae
from jaxgen.train import train
from jaxgen.train.family import Family

KEY = jax.random.PRNGKey(0)


def _tiny(cfg, epochs: int = 1, batch: int = 32):
    cfg.train.num_epochs = epochs
    cfg.train.batch_size = batch
    cfg.train.eval_batch_size = 256
    cfg.train.progress = False
    return cfg


def _ae(kind: str):
    extra = {"codebook_size": 8, "vq_dim": 2} if kind == "vq" else {}
    cfg = autoencoder.config("ferris_wheel", kind=kind, code_size=4, hidden_size=16, **extra)
    cfg.dataset.num_points = 512
    return _tiny(cfg)


def _ae_calls(run, x) -> dict[str, Callable]:
    n = len(x)
    calls = {
        "encode": lambda: chex.assert_shape(run.encode(x), (n, 4)),
        "decode": lambda: chex.assert_shape(run.decode(run.encode(x)), x.shape),
        "reconstruct": lambda: chex.assert_shape(run.reconstruct(x), x.shape),
        "corrupt": lambda: chex.assert_shape(run.corrupt(x, KEY), x.shape),
        "jacobian_norm": lambda: chex.assert_shape(run.jacobian_norm(x), (n,)),
        "code_stats": lambda: chex.assert_tree_all_finite(run.code_stats(x)),
    }
    if "code_indices" in run.family.public_api:  # vq: 4 numbers = 2 vectors of 2
        calls["code_indices"] = lambda: chex.assert_shape(run.code_indices(x), (n, 2))
        calls["decode_indices"] = lambda: chex.assert_shape(
            run.decode_indices(run.code_indices(x)), x.shape
        )
    return calls


def _vae():
    cfg = vae.config("ferris_wheel", latent_dim=2, hidden_sizes=(16,), report_nll_k=0)
    cfg.model.update(likelihood="gaussian", k=8)  # k: the samples of `iwae_bound`
    cfg.dataset.num_points = 512
    return _tiny(cfg)


def _vae_calls(run, x) -> dict[str, Callable]:
    n = len(x)

    def distribution():
        mean, log_var = run.encode_distribution(x)
        chex.assert_shape([mean, log_var], (n, 2))
        np.testing.assert_allclose(mean, run.encode(x), rtol=1e-6)

    def bounds():  # the k-sample bound is above the one-sample ELBO, in expectation
        keys = jax.random.split(KEY, 256)
        elbo = jnp.mean(jax.vmap(lambda k: run.elbo(x, k))(keys))
        iwae = jnp.mean(jax.vmap(lambda k: run.iwae_bound(x, k))(keys))
        assert float(iwae) > float(elbo), (iwae, elbo)

    return {
        "encode": lambda: chex.assert_shape(run.encode(x), (n, 2)),
        "encode_distribution": distribution,
        "decode": lambda: chex.assert_shape(run.decode(run.encode(x)), x.shape),
        "reconstruct": lambda: chex.assert_shape(run.reconstruct(x), x.shape),
        "elbo": lambda: chex.assert_shape(run.elbo(x, KEY), (n,)),
        "iwae_bound": bounds,
    }


def _gan():
    cfg = gan.config("ring8", g_hidden=(16,), d_hidden=(16,), latent_dim=4)
    cfg.dataset.num_points = 512
    return _tiny(cfg)


def _gan_calls(run, x) -> dict[str, Callable]:
    z = run.family.noise(KEY, 5)

    def discriminate():
        p = run.discriminate(x)
        chex.assert_shape(p, (len(x),))
        assert bool(jnp.all((p >= 0) & (p <= 1)))

    return {
        "generate": lambda: chex.assert_shape(run.generate(z), (5, 2)),
        "discriminate": discriminate,
    }


def _rnn():
    cfg = rnn.config("lm", cell="lstm", hidden_size=16)
    cfg.dataset.seq_len, cfg.dataset.max_chars = 16, 4000
    cfg.model.eval_chars, cfg.model.sample_length = 200, 6
    return _tiny(cfg)


def _rnn_calls(run, x) -> dict[str, Callable]:
    batch = {k: jnp.asarray(v[:4]) for k, v in run.load_data().test.items()}
    prime = batch["x"][:2, :5]

    def generate():  # `length` sets the output's shape: one compile per length
        for length in (3, 7):
            out = run.generate(KEY, prime, length, 0.7)
            chex.assert_shape(out, (2, length))
            assert out.dtype == jnp.int32

    return {
        "predict": lambda: chex.assert_rank(run.predict(batch["x"]), 3),
        "hidden_grad_norms": lambda: chex.assert_shape(
            run.hidden_grad_norms(batch), (batch["x"].shape[1],)
        ),
        "generate": generate,
    }


def _seq2seq():
    cfg = seq2seq.config("reverse", hidden_size=16)
    cfg.dataset.num_points, cfg.dataset.max_digits = 256, 2
    return _tiny(cfg)


def _seq2seq_calls(run, x) -> dict[str, Callable]:
    def translate():
        for length in (4, 6):
            chex.assert_shape(run.translate(x[:3], length), (3, length))

    return {"translate": translate}


def _seqvae():
    # Flat and short: the API is the same for both decoders, and compiles dominate here.
    cfg = seqvae.config("identifiers", latent_dim=4, encoder_size=8, hidden_size=8)
    cfg.model.update(report_nll_k=0, report_samples=2)
    cfg.dataset.update(seq_len=8, min_len=3, num_train=128, num_test=32)
    return _tiny(cfg)


def _seqvae_calls(run, x) -> dict[str, Callable]:
    n, length = x.shape
    z = run.encode(x)
    return {
        "encode": lambda: chex.assert_shape(z, (n, 4)),
        "encode_distribution": lambda: chex.assert_shape(run.encode_distribution(x), [(n, 4)] * 2),
        "decode": lambda: chex.assert_shape(run.decode(z), (n, length)),
        "generate": lambda: chex.assert_shape(run.generate(z, KEY, 0.5), (n, length)),
        "reconstruct": lambda: chex.assert_shape(run.reconstruct(x), (n, length)),
        "elbo": lambda: chex.assert_shape(run.elbo(x, KEY), (n,)),
        "iwae_bound": lambda: chex.assert_shape(run.iwae_bound(x, KEY), (n,)),
    }


CASES = {
    "autoencoder": (lambda: _ae("denoising"), _ae_calls),
    "autoencoder_vq": (lambda: _ae("vq"), _ae_calls),
    "vae": (_vae, _vae_calls),
    "gan": (_gan, _gan_calls),
    "rnn_lm": (_rnn, _rnn_calls),
    "seq2seq": (_seq2seq, _seq2seq_calls),
    "seqvae": (_seqvae, _seqvae_calls),
}


@pytest.mark.parametrize("name", list(CASES))
def test_every_public_method_works_through_load_run(tmp_path, name):
    make_config, make_calls = CASES[name]
    cfg = make_config()
    cfg.lock()
    train(cfg, tmp_path)
    run = jaxgen.load_run(tmp_path)
    x = jnp.asarray(run.load_data().test["x"][:8])
    calls = make_calls(run, x)
    assert set(calls) == set(run.family.public_api), "a public method without a call here"
    for call in calls.values():
        call()  # jitted by load_run, as a script calls it
    if type(run.family).sample is not Family.sample:  # the generative families
        samples = run.sample(KEY, 3)
        assert len(samples) == 3
        assert bool(jnp.all(jnp.isfinite(jnp.asarray(samples, jnp.float32))))
