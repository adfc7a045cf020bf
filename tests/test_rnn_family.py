"""The recurrent families through the shared loop, on tiny configs."""

from __future__ import annotations

import json

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jaxgen
from jaxgen.data import sequences as seq_data
from jaxgen.data import text
from jaxgen.families import rnn as rnn_family
from jaxgen.families import seq2seq
from jaxgen.train import train
from tests.conftest import assert_stdlib_split


def _tiny(cfg, epochs=1, batch=32):
    cfg.train.num_epochs = epochs
    cfg.train.batch_size = batch
    cfg.train.progress = False
    cfg.train.eval_batch_size = 500
    return cfg


def test_lstm_learns_a_tiny_adding_problem_better_than_chance(tmp_path):
    cfg = _tiny(rnn_family.config("adding", cell="lstm", hidden_size=16), epochs=6)
    cfg.dataset.seq_len = 8
    cfg.dataset.num_points = 2048
    cfg.dataset.num_test = 500
    cfg.optimizer.lr = 1e-2
    cfg.lock()
    result = train(cfg, tmp_path / "adding")
    targets = result.splits.test["target"]
    chance_mse = float(np.var(targets))  # predicting the mean, ignoring the sequence
    test = result.summary["test"]
    assert test["loss"] < 0.5 * chance_mse, (test, chance_mse)
    assert 0.0 <= test["wrong"] < 1.0 and result.summary["report"]["test_sequences"] == 500
    fam = result.family
    batch = {k: jnp.asarray(v[:16]) for k, v in result.splits.test.items()}
    norms = fam.hidden_grad_norms(result.seed_state(0), batch)
    assert norms.shape == (batch["x"].shape[1],) and np.all(np.isfinite(norms))


def test_char_lm_reports_bpc_compressors_and_samples(tmp_path):
    # Two stacked cells, trained by truncated BPTT on 16 streams that carry their state.
    cfg = _tiny(rnn_family.config("lm", cell="gru", hidden_size=16, num_layers=2), batch=16)
    cfg.dataset.seq_len = 20
    cfg.dataset.max_chars = 4000
    cfg.dataset.streams = 16
    cfg.train.shuffle = False
    cfg.model.dropout = 0.1
    cfg.optimizer.lr = 1e-2
    cfg.model.eval_chars = 1500
    cfg.model.sample_length = 12
    cfg.model.cache_size = 50
    cfg.model.dynamic_eval_lrs = (0.1,)
    cfg.lock()
    result = train(cfg, tmp_path / "lm")
    (h0,), (h1,) = result.seed_state(0).carry
    assert h1.shape == (16, 16) and float(jnp.abs(h1).max()) > 0  # carried, not reset
    rep = result.summary["report"]
    names = {"heldout_bpc_stateful"} | {
        f"{k}{p}_bpc" for k in ("gzip", "bz2", "lzma") for p in ("", "_primed")
    }
    assert names <= set(rep)
    # The cache's (theta, lambda) come from the grid, picked on the validation text.
    assert rep["cache_theta"] in cfg.model.cache_thetas
    assert rep["cache_lambda"] in cfg.model.cache_lambdas
    assert np.isfinite(rep["heldout_bpc_cache"]) and np.isfinite(rep["heldout_bpc_dynamic_cache"])
    # Trained, it codes the held-out text shorter than the same network at initialization.
    fam, batch = result.family, {k: jnp.asarray(v[:16]) for k, v in result.splits.train.items()}
    untrained = fam.stream_bpc(
        fam.init(jax.random.PRNGKey(0), batch), result.splits.info["test_ids"][:1500]
    )
    assert rep["heldout_bpc_stateful"] < untrained - 0.3, (rep["heldout_bpc_stateful"], untrained)
    assert np.isclose(result.summary["test"]["bpc"], result.summary["test"]["loss"] / np.log(2))
    assert len(rep["samples"]["1.0"]) == len(cfg.model.prime) + 12
    # Every sample of each temperature is scored and written out.
    assert set(rep["sample_quality"]) == {"0.5", "1.0"}
    written = (tmp_path / "lm" / "samples.txt").read_text()
    assert written.count("--- temperature ") == 2 * cfg.model.report_samples
    corpus = json.loads((tmp_path / "lm" / "corpus.json").read_text())
    assert rep["corpus_sha256"] == corpus["corpus_sha256"]
    assert_stdlib_split(corpus["files"])
    # Through the public API: `length` sets a shape, so load_run compiles per length.
    run = jaxgen.load_run(tmp_path / "lm")
    prime = jnp.asarray(text.encode("def main("))[None]
    for length in (5, 9):
        out = run.generate(jax.random.PRNGKey(0), prime, length, 0.7)
        assert out.shape == (1, length) and out.dtype == jnp.int32
    assert run.sample(jax.random.PRNGKey(1), 2).shape == (2, cfg.model.sample_length)
    # scripts/char_lm_cache.py tunes the cache of the trained run on its validation text.
    import subprocess
    import sys

    from tests.conftest import ROOT

    script = [sys.executable, str(ROOT / "scripts" / "char_lm_cache.py")]
    args = ["--workdir", str(tmp_path / "lm"), "--sizes", "10,40", "--streams", "4", "--test"]
    out = subprocess.run(script + args, capture_output=True, text=True, cwd=ROOT, check=True)
    rows = [json.loads(line) for line in out.stdout.strip().splitlines()]
    assert [r["size"] for r in rows] == [10, 40]
    for r in rows:
        assert r["best_val_bpc"] == pytest.approx(np.min(r["val_bpc"]), abs=1e-4)
        assert np.isfinite(r["test_bpc"]) and r["theta"] in cfg.model.cache_thetas
        # By default the script searches the run's own grid.
        assert np.shape(r["val_bpc"]) == (len(cfg.model.cache_thetas), len(cfg.model.cache_lambdas))
    # scripts/char_lm_samples.py scores fresh samples of it as the report scores its own.
    script = [sys.executable, str(ROOT / "scripts" / "char_lm_samples.py")]
    args = ["--workdir", str(tmp_path / "lm"), "--temperatures", "0.5,1", "--num", "5"]
    out = subprocess.run(script + args, capture_output=True, text=True, cwd=ROOT, check=True)
    rows = [json.loads(line) for line in out.stdout.strip().splitlines()]
    assert [(r["temperature"], r["num"]) for r in rows] == [(0.5, 5), (1.0, 5)]
    for r in rows:
        assert set(r) >= set(rep["sample_quality"]["0.5"])
        parts = (r["keyword"], r["indented"], r["brackets"], 1 - r["collapsed"])
        assert r["reads_as_python"] <= min(parts)  # a sample that reads as Python passes all
        assert r["reads_as_python"] <= r["named"] <= min(parts[:3])
        assert r["stuck"] <= r["collapsed"]
        assert r["first_sample"].startswith(cfg.model.prime)


def test_exact_match_counts_tokens_up_to_eos():
    eos, pad = seq_data.S2S_EOS, seq_data.S2S_PAD
    y = jnp.asarray([[1, 2, eos, pad], [3, eos, pad, pad]])
    pred = jnp.asarray([[1, 2, eos, 7], [3, 4, pad, pad]])
    np.testing.assert_array_equal(seq2seq.exact_match(pred, y), [1.0, 0.0])


@pytest.mark.parametrize("task", ["reverse"])
def test_seq2seq_runs_and_decodes(tmp_path, task):
    cfg = _tiny(seq2seq.config(task, hidden_size=16), epochs=2, batch=64)
    cfg.dataset.num_points = 1024
    cfg.dataset.max_digits = 2
    cfg.lock()
    result = train(cfg, tmp_path / "s2s")
    rows = [
        json.loads(line) for line in (tmp_path / "s2s" / "metrics.jsonl").read_text().splitlines()
    ]
    first_epoch = next(r["loss"] for r in rows if r["split"] == "train")
    assert result.summary["test"]["loss"] < first_epoch  # it learns
    ex = result.summary["report"]["examples"][0]
    assert len(ex["output"]) == len(ex["target"])
    # The public API through load_run decodes what the evaluation scored.
    run = jaxgen.load_run(tmp_path / "s2s")
    x, y = (jnp.asarray(result.splits.test[k]) for k in ("x", "y"))
    matches = seq2seq.exact_match(run.translate(x, y.shape[1]), y)
    assert float(jnp.mean(matches)) == pytest.approx(result.summary["test"]["exact_match"])
    for length in (4, 6):
        assert run.translate(x[:3], length).shape[:2] == (3, length)


def test_continuous_cache_equals_the_model_at_lambda_0_and_pays_off_on_repeats():
    """Grave et al.'s cache: lambda = 0 is the plain stream reading; on a text whose
    every other block repeats one random block, some (theta, lambda) codes it shorter."""
    cfg = rnn_family.config("lm", cell="lstm", hidden_size=32)
    fam = rnn_family.RNNFamily(cfg)
    rng = np.random.default_rng(0)
    block = rng.integers(1, 60, 64)
    ids = np.concatenate([np.concatenate([rng.integers(1, 60, 64), block]) for _ in range(12)])
    ids = ids.astype(np.int32)
    batch = {"x": jnp.asarray(ids[None, :20]), "y": jnp.asarray(ids[None, 1:21])}
    state = fam.init(jax.random.PRNGKey(0), batch)
    plain = fam.stream_bpc(state, ids, streams=2, chunk=100)
    grid = fam.stream_bpc_cache(state, ids, 300, (1.0, 10.0), (0.0, 0.3, 0.6), streams=2)
    assert grid.shape == (2, 3)
    np.testing.assert_allclose(grid[:, 0], plain, rtol=1e-5)
    assert grid.min() < plain - 0.3, (grid, plain)
    # With dynamic evaluation, lambda = 0 is dynamic evaluation alone.
    dynamic = fam.stream_bpc(state, ids, streams=2, chunk=100, adapt_lr=0.3)
    both = fam.stream_bpc_cache(state, ids, 300, (1.0,), (0.0,), streams=2, adapt_lr=0.3)
    np.testing.assert_allclose(both[0, 0], dynamic, rtol=1e-5)
