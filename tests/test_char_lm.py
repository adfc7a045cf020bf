"""The character language model's parts: stateful TBPTT, stacked cells, primed compressors."""

from __future__ import annotations

import lzma

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxgen.data import text
from jaxgen.errors import ConfigError
from jaxgen.evaluation import sequence as seq_eval
from jaxgen.families import rnn as rnn_family


def _stateful(hidden=16, layers=1, dropout=0.0, streams=8, epochs=2):
    cfg = rnn_family.config("lm", cell="lstm", hidden_size=hidden)
    cfg.model.num_layers = layers
    cfg.model.dropout = dropout
    cfg.model.eval_chars = 1000
    cfg.model.sample_length = 8
    cfg.dataset.max_chars = 6000
    cfg.dataset.seq_len = 25
    cfg.dataset.eval_seq_len = 100
    cfg.dataset.streams = streams
    cfg.train.batch_size = streams
    cfg.train.shuffle = False
    cfg.train.num_epochs = epochs
    cfg.train.progress = False
    cfg.optimizer.lr = 1e-2
    return cfg


def test_stream_windows_continue_row_by_row_from_batch_to_batch():
    ids = np.arange(1000)
    w = text.stream_windows(ids, seq_len=10, num_streams=4)
    x = w["x"].reshape(-1, 4, 10)  # (batch, stream, T)
    np.testing.assert_array_equal(x[1:, :, 0], x[:-1, :, -1] + 1)  # contiguous per row
    np.testing.assert_array_equal(w["y"], w["x"] + 1)  # next character
    assert len(np.unique(w["x"])) == w["x"].size  # no character read twice


def test_carried_state_equals_one_pass_over_the_whole_text():
    """TBPTT's forward pass is exact: two windows with the carry passed on = one long one."""
    fam = rnn_family.RNNFamily(_stateful(layers=2))
    x = jax.random.randint(jax.random.PRNGKey(0), (3, 40), 0, len(text.VOCAB))
    batch = {"x": x, "y": x}
    state = fam.init(jax.random.PRNGKey(1), batch)
    model = fam.net(state.params)
    apply = jax.jit(lambda x, c: model.apply({"params": state.params}, x, carry=c))
    whole, _ = apply(x, None)
    first, carry = apply(x[:, :15], None)
    second, _ = apply(x[:, 15:], carry)
    np.testing.assert_allclose(jnp.concatenate([first, second]), whole, atol=1e-5)


def test_dropout_acts_in_training_only():
    fam = rnn_family.RNNFamily(_stateful(layers=2, dropout=0.5))
    x = jax.random.randint(jax.random.PRNGKey(0), (2, 12), 0, len(text.VOCAB))
    batch = {"x": x, "y": x}
    params = fam.init(jax.random.PRNGKey(1), batch).params
    evals = [fam.per_example(params, batch)[0]["loss"] for _ in range(2)]
    trains = [
        fam.per_example(params, batch, dropout_key=jax.random.PRNGKey(k))[0]["loss"]
        for k in range(2)
    ]
    np.testing.assert_array_equal(evals[0], evals[1])
    assert not np.allclose(trains[0], trains[1])


@pytest.mark.parametrize("shuffle,batch", [(True, 8), (False, 4)])
def test_streams_need_ordered_batches_of_the_stream_count(shuffle, batch):
    cfg = _stateful()
    cfg.train.shuffle, cfg.train.batch_size = shuffle, batch
    with pytest.raises(ConfigError, match="dataset.streams=8"):
        rnn_family.RNNFamily(cfg)


def test_primed_compressor_charges_only_the_new_bytes():
    train_text = "def add(a, b):\n    return a + b\n" * 200
    held_out = "def add(a, b):\n    return a + b\n" * 5
    primed = seq_eval.compressor_bpc(held_out, primed_with=train_text)
    preset = 9 | lzma.PRESET_EXTREME
    extra = len(lzma.compress((train_text + held_out).encode(), preset=preset)) - len(
        lzma.compress(train_text.encode(), preset=preset)
    )
    assert primed["lzma"] == pytest.approx(8 * extra / len(held_out))
    # Text the compressor has seen costs far less than cold.
    assert primed["lzma"] < 0.5 * seq_eval.compressor_bpc(held_out)["lzma"]


@pytest.mark.parametrize(
    "sample, wanted",
    [
        ("x = f(a)\nif x:\n    return [x, y[0]]\ny = (\n", True),  # last line: cut off
        ("x = f(a)\nif x:\n    return [x, y[0]]\n" + " " * 40 + "\n", False),  # a loop
        ("x = f(a)\nif x:\nreturn [x, y[0]]\n", False),  # nothing indented
        ("x = f(a)\nfi x:\n    retur [x, y[0]]\n", False),  # no whole keyword
        ("x = f(a))\nif x:\n    return [x, y[0)]\n", False),  # brackets mismatched
        ("x = f(a,\n      b)\nif x:\n    return '(' + [x]\n", True),  # across lines
        # Brackets Python does not read: in a comment, a docstring, one left open at the cut.
        ("def f(a):  # see g)\n    return [a]\n", True),
        ('def f(a):\n    """Like g(a].\n    a)"""\n    return [a]\n', True),
        ('def f(a):\n    """Like g(a], but', True),
        ("def f(a):  # ok\n    return [a)\n", False),  # the code's own brackets still count
    ],
)
def test_python_likeness_wants_all_four_tests(sample, wanted):
    score = seq_eval.python_likeness([sample])
    assert score["reads_as_python"] == float(wanted), score
    with_a_bad_one = seq_eval.python_likeness([sample, "abc"])
    assert with_a_bad_one["reads_as_python"] == score["reads_as_python"] / 2


def test_python_likeness_tells_a_long_indent_from_a_loop_never_left():
    code = "x = f(a)\nif x:\n    return [x, y[0]]\n"
    left = code + " " * 50 + "z = 1\n"  # a run of spaces the sample leaves: named, not stuck
    stuck = code + " " * 50  # the sample ends inside the run
    score = seq_eval.python_likeness([left, stuck])
    assert score["collapsed"] == 1.0 and score["reads_as_python"] == 0.0
    assert score["named"] == 1.0 and score["stuck"] == 0.5


def test_python_likeness_of_the_stdlib_itself_and_of_noise():
    import argparse
    import inspect
    import re

    # The first 300 characters after each "def " of a real module, as a sample continues its
    # prime; and the same characters shuffled.
    real = inspect.getsource(argparse)
    pieces = [real[m.end() : m.end() + 300] for m in re.finditer(r"\n *def ", real)]
    rng = np.random.default_rng(0)
    noise = ["".join(rng.permutation(list(p))) for p in pieces]
    assert seq_eval.python_likeness(pieces)["reads_as_python"] > 0.9
    assert seq_eval.python_likeness(noise)["reads_as_python"] < 0.1


def test_dynamic_evaluation_learns_a_text_the_model_never_saw():
    """Adapting while reading (scored before each update) codes a repetitive text shorter."""
    fam = rnn_family.RNNFamily(_stateful())
    x = jnp.zeros((2, 5), jnp.int32)
    state = fam.init(jax.random.PRNGKey(0), {"x": x, "y": x})
    pattern = np.random.default_rng(0).integers(0, len(text.VOCAB), 7)
    ids = np.tile(pattern, 600)
    static = fam.stream_bpc(state, ids, streams=4, chunk=50)
    dynamic = fam.stream_bpc(state, ids, streams=4, chunk=50, adapt_lr=1.0)
    assert dynamic < 0.8 * static, (static, dynamic)


def test_subpackages_join_the_training_split_only(tmp_path):
    for i in range(10):
        (tmp_path / f"m{i}.py").write_text(f"x = {i}\n")
    for pkg in ("email", "test", "site-packages"):
        (tmp_path / pkg).mkdir()
        (tmp_path / pkg / "mod.py").write_text(f"# {pkg}\n")
    plain = text.corpus(str(tmp_path))
    more = text.corpus(str(tmp_path), subpackages=True)
    assert more["files"]["val"] == plain["files"]["val"]
    assert more["files"]["test"] == plain["files"]["test"]
    assert more["files"]["train"] == plain["files"]["train"] + ["email/mod.py", "test/mod.py"]
    assert more["sha256"] != plain["sha256"]
