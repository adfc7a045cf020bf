"""The recurrent sequence VAE: encoder and decoder shapes under jit, free bits, word dropout,
reconstruction of a tiny dataset by both decoders, and the experiment's tiny grid."""

from __future__ import annotations

import json
import runpy
import sys

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxgen import main as jaxgen_main
from jaxgen.data import stdlib_sequences as seqs
from jaxgen.errors import ConfigError
from jaxgen.families import seqvae
from jaxgen.models.seqvae import lengths_of, reverse_within_length
from tests.conftest import ROOT, assert_stdlib_split

WORDS = [
    "self", "import", "return", "lambda", "__init__", "os_path", "getattr", "yield",
    "raise", "kwargs", "while", "except", "global", "assert", "isinstance", "finally",
]  # fmt: skip


def _family(decoder="hierarchical", seq_len=12, lr=1e-3, **model):
    sizes = dict(latent_dim=8, encoder_size=32, hidden_size=48, conductor_size=32, num_segments=3)
    cfg = seqvae.config("identifiers", **{"decoder": decoder, **sizes, **model})
    cfg.dataset.seq_len = seq_len
    cfg.optimizer.lr = lr
    cfg.lock()
    return seqvae.make_family(cfg)


def _state(fam, x):
    return fam.init(jax.random.PRNGKey(0), {"x": x})


def test_hierarchical_decoder_shapes_under_jit():
    fam = _family("hierarchical")
    x = jnp.asarray(seqs.encode_strings(WORDS[:5], 12))
    state = _state(fam, x)
    z = jax.random.normal(jax.random.PRNGKey(1), (5, 8))

    @jax.jit
    def run(state, z, x):
        p = {"params": state.params}
        return (
            fam.model.apply(p, z, method="contexts"),
            fam.model.apply(p, z, x, method="logits"),
            fam.model.apply(p, x, method="teacher_inputs"),
            fam.generate(state, z, jax.random.PRNGKey(2), 1.0),
        )

    contexts, logits, inputs, toks = run(state, z, x)
    chex.assert_shape(contexts, (5 * 3, 32))  # one conductor embedding per segment
    chex.assert_shape(logits, (5, 12, seqs.VOCAB_SIZE))
    chex.assert_shape(inputs, (5 * 3, 4))
    chex.assert_shape(toks, (5, 12))
    chex.assert_type(toks, jnp.int32)
    assert not np.isin(np.asarray(toks), [seqs.GO, seqs.UNK, seqs.PAD]).any()  # never emitted
    # As in MusicVAE a segment's first input is the token before it; GO only opens the first.
    segs = np.asarray(inputs).reshape(5, 3, 4)
    np.testing.assert_array_equal(segs[:, 0, 0], seqs.GO)
    np.testing.assert_array_equal(segs[:, 1:, 0], np.asarray(x).reshape(5, 3, 4)[:, :-1, -1])
    with pytest.raises(ConfigError, match="divisible"):
        _family("hierarchical", seq_len=13)


def test_blocks_start_at_non_blank_lines_and_do_not_overlap():
    source = "\n".join(
        f"{'    ' * (i % 3)}line_{i} = {i}" + ("\n" * (i % 4 == 0)) for i in range(60)
    )
    blocks = seqs.extract(source, "blocks", 33, 8)
    assert blocks and all(len(b) == 32 for b in blocks[:-1]) and len(blocks[-1]) >= 8
    at, free = [], 0
    for b in blocks:  # each is found at the first non-blank line start after the one before
        i = next(
            s
            for s in range(free, len(source))
            if (s == 0 or source[s - 1] == "\n") and source[s] != "\n"
        )
        assert source[i : i + len(b)] == b
        at.append(i)
        free = i + 32
    assert at[0] == 0 and np.all(np.diff(at) >= 32)


def test_blocks_corpus_is_reproducible_and_hashed():
    cfg = seqvae.config("blocks").dataset
    cfg.num_train, cfg.num_test = 64, 16
    a, b = (seqs.stdlib_sequences(cfg) for _ in range(2))
    np.testing.assert_array_equal(a.train["x"], b.train["x"])
    assert a.info["corpus_sha256"] == b.info["corpus_sha256"] and a.info["kind"] == "blocks"
    chex.assert_shape(a.train["x"], (a.info["sequences"]["train"], 256))
    assert_stdlib_split(a.info["files"])
    # Whole blocks of code: 255 characters and EOS, newlines and indentation kept.
    assert (lengths_of(jnp.asarray(a.train["x"]), seqs.EOS) == 256).mean() > 0.99
    assert "\n    " in "".join(seqs.decode_strings(a.train["x"][:20]))


def test_sixteen_by_sixteen_decoder_under_jit():
    """MusicVAE's hierarchy at its length: 16 conductor steps of 16 tokens each."""
    fam = _family("hierarchical", seq_len=256, num_segments=16)
    x = jnp.asarray(seqs.encode_strings(["def f(x):\n    return x\n" * 12] * 2, 256))
    state = _state(fam, x)
    z = jax.random.normal(jax.random.PRNGKey(1), (2, 8))
    p = {"params": state.params}
    contexts = jax.jit(lambda p, z: fam.model.apply(p, z, method="contexts"))(p, z)
    chex.assert_shape(contexts, (2 * 16, 32))
    logits = jax.jit(lambda p, z, x: fam.model.apply(p, z, x, method="logits"))(p, z, x)
    chex.assert_shape(logits, (2, 256, seqs.VOCAB_SIZE))


@pytest.mark.parametrize(
    "decoder,segment_start",
    [("flat", "previous"), ("hierarchical", "previous"), ("hierarchical", "go")],
)
def test_greedy_generation_is_what_teacher_forcing_predicts(decoder, segment_start):
    """Generation feeds each token back exactly as teacher forcing feeds the targets: the
    greedy sequence's own teacher-forced argmax (banned tokens aside) is that sequence."""
    fam = _family(decoder, segment_start=segment_start)
    x = jnp.asarray(seqs.encode_strings(WORDS[:6], 12))
    state = _state(fam, x)
    z = 2.0 * jax.random.normal(jax.random.PRNGKey(3), (6, 8))
    toks = jax.jit(fam.generate, static_argnums=3)(state, z, jax.random.PRNGKey(4), 0.0)
    logits = fam.model.apply({"params": state.params}, z, toks, method="logits")
    banned = jnp.zeros(seqs.VOCAB_SIZE, bool).at[jnp.array([seqs.GO, seqs.UNK, seqs.PAD])].set(True)
    np.testing.assert_array_equal(jnp.where(banned, -1e9, logits).argmax(-1), toks)
    if segment_start == "go":  # every segment opens with GO
        inputs = fam.model.apply({"params": state.params}, x, method="teacher_inputs")
        np.testing.assert_array_equal(inputs[:, 0], seqs.GO)


def test_bidirectional_encoder_shapes_and_padding_invariance():
    fam = _family("flat")
    x = jnp.asarray(seqs.encode_strings(WORDS[:4], 12))
    state = _state(fam, x)
    mean, log_var = jax.jit(fam.encode_distribution)(state, x)
    chex.assert_shape([mean, log_var], (4, 8))
    chex.assert_tree_all_finite((mean, log_var))
    # Tokens after EOS are never read, in either direction.
    lengths = lengths_of(x, seqs.EOS)
    junk = jnp.where(jnp.arange(12)[None] >= lengths[:, None], 7, x)
    np.testing.assert_allclose(jax.jit(fam.encode)(state, junk), mean, atol=1e-6)
    rev = reverse_within_length(x, lengths)
    assert int(rev[1, 0]) == seqs.EOS and seqs.decode_string(rev[1, 1:]) == WORDS[1][::-1]
    np.testing.assert_array_equal(lengths, [len(w) + 1 for w in WORDS[:4]])


@pytest.mark.parametrize(
    "bad",
    [
        {"decoder": "conv"},
        {"word_dropout": 1.0},
        {"free_bits": -0.1},
        {"num_segments": 0},
        {"segment_start": "bar"},
        {"beta_schedule": "step"},
    ],
)
def test_bad_config_values_are_config_errors(bad):
    with pytest.raises(ConfigError, match="model."):
        _family(**bad)


def test_free_bits_gives_zero_kl_gradient_below_the_threshold():
    fam = _family("flat", free_bits=0.5)  # 0.5 nats x 8 dims = 4 nats free
    mean = jnp.full((2, 8), 0.3)
    log_var = jnp.full((2, 8), -0.2)

    def penalty(mean, log_var):
        from jaxgen import distributions as dist

        return fam.kl_penalty(dist.kl_std_normal(mean, log_var)).sum()

    assert float(penalty(mean, log_var)) == 0.0
    grads = jax.jit(jax.grad(penalty, argnums=(0, 1)))(mean, log_var)
    chex.assert_trees_all_equal(grads, (jnp.zeros_like(mean), jnp.zeros_like(log_var)))
    big = jnp.full((2, 8), 2.0)  # KL = 8 * (2^2 + e^-0.2 - 1 + 0.2) / 2 > 4
    assert float(penalty(big, log_var)) > 0.0
    assert float(jnp.abs(jax.grad(penalty)(big, log_var)).sum()) > 0.0


def test_word_dropout_replaces_inputs_but_never_go():
    fam = _family("hierarchical")
    x = jnp.asarray(seqs.encode_strings(WORDS * 8, 12))
    state = _state(fam, x[:1])
    apply = jax.jit(fam.model.apply, static_argnames="method")
    p = {"params": state.params}
    clean = apply(p, x, method="teacher_inputs")
    drop = jax.random.bernoulli(jax.random.PRNGKey(0), 0.3, x.shape)
    dropped = apply(p, x, drop, method="teacher_inputs")
    np.testing.assert_array_equal(dropped.reshape(len(x), -1)[:, 0], seqs.GO)
    changed = np.asarray(dropped != clean)
    assert np.all(np.asarray(dropped)[changed] == seqs.UNK)
    rate = changed[:, 1:].mean()
    assert 0.2 < rate < 0.4, rate
    # The train step's draw comes from the step key: same key, same loss; another, another.
    fam_wd = _family("hierarchical", word_dropout=0.3)
    batch = {"x": x[:16]}
    loss = jax.jit(lambda k: fam_wd.train_step(state, batch, k)[1]["reconstruction"])
    a, b = loss(jax.random.PRNGKey(5)), loss(jax.random.PRNGKey(6))
    assert float(a) == float(loss(jax.random.PRNGKey(5))) and float(a) != float(b)


@pytest.mark.parametrize("decoder", ["flat", "hierarchical"])
def test_both_decoders_reconstruct_a_tiny_dataset(decoder):
    fam = _family(decoder, lr=1e-2, beta=0.1)
    x = jnp.asarray(seqs.encode_strings(WORDS, 12))
    state = _state(fam, x)

    @jax.jit
    def fit(state):
        def body(state, i):
            return fam.train_step(state, {"x": x}, jax.random.PRNGKey(i))

        return jax.lax.scan(body, state, jnp.arange(300))

    state, metrics = fit(state)
    assert np.all(np.isfinite(metrics["loss"]))
    rec = jax.jit(fam.reconstruct)(state, x)  # greedy from the posterior mean
    acc = float(seqvae.accuracies(rec, x)["char_accuracy"].mean())
    assert acc > 0.9, (decoder, acc, seqs.decode_strings(rec))
    # The evaluation's free-running accuracies from z = mu: greedy is the reconstruction's,
    # sampled at temperature 1 far above the 1/100 of guessing.
    out = jax.jit(fam.eval_step)(state, {"x": x}, jax.random.PRNGKey(3))
    np.testing.assert_allclose(out["char_accuracy_greedy"].mean(), acc, rtol=1e-6)
    # By position: the greedy share right at each t is the reconstruction's, column by column.
    pos = jax.jit(fam.position_accuracy)(state, x)
    scored = np.asarray(x) != seqs.PAD
    hits = (np.asarray(rec) == np.asarray(x)) & scored
    np.testing.assert_allclose(pos["greedy"], hits.sum(0) / np.maximum(scored.sum(0), 1), atol=1e-6)
    np.testing.assert_array_equal(pos["scored"], scored.sum(0))
    assert float(out["char_accuracy_sampled"].mean()) > 0.5, out


def test_experiment_tiny_grid_and_interpolation_script(tmp_path, monkeypatch, capsys):
    wd = tmp_path / "seq_vae"
    code = jaxgen_main.main(["--config", "experiments/seq_vae.py:tiny", "--workdir", str(wd)])
    assert code == 0
    summary = json.loads((wd / "summary.json").read_text())
    assert [(r["decoder"], r["counter-measure"]) for r in summary["rows"]] == [
        ("hierarchical", "free_bits")
    ]
    run = next(p for p in wd.iterdir() if p.name.endswith("hierarchical_free_bits"))
    # The table reports the sub-run's own test numbers.
    test = json.loads((run / "summary.json").read_text())["test"]
    for r in summary["rows"]:
        assert r["char acc (greedy)"] == test["char_accuracy_greedy"]
        assert r["char acc (sampled)"] == test["char_accuracy_sampled"] and r["KL"] == test["kl"]
        assert 0 <= r["forced at segment starts"] <= 1 and 0 <= r["forced elsewhere"] <= 1
    assert (wd / "position_accuracy.png").is_file()
    corpus = json.loads((run / "corpus.json").read_text())
    assert len(corpus["corpus_sha256"]) == 64
    assert_stdlib_split(corpus["files"])
    assert (wd / "results.md").exists() and (wd / "report.html").exists()
    # The script, in this process (its jax is warm): public API only.
    monkeypatch.setattr(sys, "argv", ["seq_interpolate.py", "--workdir", str(run), "--steps", "3"])
    script = str(ROOT / "scripts" / "seq_interpolate.py")
    with pytest.raises(SystemExit) as done:
        runpy.run_path(script, run_name="__main__")
    out = capsys.readouterr().out
    assert done.value.code == 0 and "| t | lerp | slerp |" in out and out.count("\n|") >= 4, out
    # A folder that holds no run: one line and a non-zero exit, no traceback.
    monkeypatch.setattr(sys, "argv", ["seq_interpolate.py", "--workdir", str(wd / "nothing")])
    with pytest.raises(SystemExit) as done:
        runpy.run_path(script, run_name="__main__")
    err = capsys.readouterr().err
    assert done.value.code != 0 and err.startswith("jaxgen: error:") and err.count("\n") == 1
