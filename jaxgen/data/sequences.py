"""Sequence datasets generated from a seed: the adding problem, copy memory, digit strings.

All arrays are batch-major. Token datasets hold int32 ids in `x`; the adding problem holds
float features. Every dataset is a pure function of `dataset.seed`.
"""

from __future__ import annotations

import numpy as np
from ml_collections import ConfigDict

from jaxgen.data.splits import Splits

ADDING_TEST_SIZE = 2560  # Hochreiter & Schmidhuber 1997, Experiment 4


def adding_sequences(
    rng: np.random.Generator, n: int, t_min: int, t_lo: int = 0
) -> dict[str, np.ndarray]:
    """The adding problem exactly as Hochreiter & Schmidhuber (1997), Experiment 4.

    Each element is a pair (value in [-1, 1], marker in {-1, 0, 1}); lengths are uniform in
    [T, T + T/10]. One of the first ten pairs is marked (X1), then one of the first T/2 - 1
    still unmarked pairs (X2). The first and the last pair carry marker -1 unless marked; if
    the first pair is marked, X1 is set to zero. Target: 0.5 + (X1 + X2) / 4.

    Args:
      t_lo: a mixed curriculum (Zaremba & Sutskever 2014) when 0 < t_lo < t_min: each
        sequence draws its own minimal length T uniformly from [t_lo, t_min], so short lags
        (which teach the gates what to store) come mixed with the full ones.

    Returns:
      x (n, t_min + t_min//10, 2) float32 zero-padded after each sequence's end, `target`
      (n,), `length` (n,) int32.
    """
    t_max = t_min + t_min // 10
    if 0 < t_lo < t_min:
        t = rng.integers(t_lo, t_min + 1, n)  # each sequence's own minimal length
        lengths = t + rng.integers(0, t // 10 + 1)
    else:  # the draws, in order, of every run before the curriculum existed
        t = t_min
        lengths = rng.integers(t_min, t_max + 1, n)
    values = rng.uniform(-1.0, 1.0, (n, t_max))
    first = rng.integers(0, np.minimum(10, t), n)
    second = rng.integers(0, np.maximum(t // 2 - 1, 1), n)
    markers = np.zeros((n, t_max))
    rows = np.arange(n)
    # The second mark: the r-th still unmarked pair, r uniform among the first T/2 - 1.
    second = second + (second >= first)  # skip the already marked pair
    markers[rows, 0] = -1.0
    markers[rows, lengths - 1] = -1.0
    markers[rows, first] = 1.0
    markers[rows, second] = 1.0
    values[rows[first == 0], 0] = 0.0  # "if the first pair is marked, X1 is zero"
    target = 0.5 + (values[rows, first] + values[rows, second]) / 4.0
    valid = np.arange(t_max)[None, :] < lengths[:, None]
    x = np.stack([values * valid, markers * valid], -1)
    return {
        "x": x.astype(np.float32),
        "target": target.astype(np.float32),
        "length": lengths.astype(np.int32),
    }


def adding(cfg: ConfigDict) -> Splits:
    """Adding problem with minimal length `dataset.seq_len`; test has 2,560 sequences.

    `dataset.curriculum_min_len` > 0 mixes shorter lags into the training set only (see
    `adding_sequences`); validation and test stay at `seq_len`.
    """
    rng = np.random.default_rng(cfg.seed)
    t = int(cfg.get("seq_len", 100))
    n = int(cfg.get("num_points", 10_000))
    train = adding_sequences(rng, n, t, int(cfg.get("curriculum_min_len", 0)))
    val = adding_sequences(rng, ADDING_TEST_SIZE, t)
    test = adding_sequences(rng, ADDING_TEST_SIZE, t)
    return Splits(train=train, val=val, test=test, info={"seq_len": t, "output_dim": 1})


# Copy memory: symbols 1..8 to remember, 0 = blank, 9 = the delimiter ("now recall").
COPY_SYMBOLS, COPY_BLANK, COPY_DELIM, COPY_VOCAB = 8, 0, 9, 10


def copy_sequences(rng: np.random.Generator, n: int, lag: int, k: int) -> dict[str, np.ndarray]:
    """Copy memory (Hochreiter & Schmidhuber 1997; Arjovsky et al. 2016).

    Input: k random symbols, lag - 1 blanks, the delimiter, k blanks (length lag + 2k).
    Target: blanks everywhere except the last k steps, which repeat the k symbols.
    """
    seq = rng.integers(1, COPY_SYMBOLS + 1, (n, k))
    length = lag + 2 * k
    x = np.full((n, length), COPY_BLANK)
    y = np.full((n, length), COPY_BLANK)
    x[:, :k] = seq
    x[:, k + lag - 1] = COPY_DELIM
    y[:, -k:] = seq
    return {"x": x.astype(np.int32), "y": y.astype(np.int32)}


def copy_baseline_nats(lag: int, k: int) -> float:
    """Cross-entropy per step of the best memoryless predictor (Arjovsky et al. 2016).

    It predicts blanks with certainty until the recall phase, then a uniform guess among the
    symbols: k log(8) nats over lag + 2k steps.
    """
    return k * float(np.log(COPY_SYMBOLS)) / (lag + 2 * k)


def copy_memory(cfg: ConfigDict) -> Splits:
    """Copy memory with time lag `dataset.seq_len` and `dataset.num_symbols` symbols."""
    rng = np.random.default_rng(cfg.seed)
    lag, k = int(cfg.get("seq_len", 100)), int(cfg.get("num_symbols", 10))
    n = int(cfg.get("num_points", 10_000))
    parts = [copy_sequences(rng, m, lag, k) for m in (n, 1000, 1000)]
    info = {
        "vocab_size": COPY_VOCAB,
        "seq_len": lag,
        "num_symbols": k,
        "baseline_nats": copy_baseline_nats(lag, k),
    }
    return Splits(*parts, info=info)  # type: ignore[misc]  # mypy cannot size *parts (3)


# Digit strings for seq2seq: 0-9 digits, then '+', PAD, GO, EOS.
S2S_PLUS, S2S_PAD, S2S_GO, S2S_EOS, S2S_VOCAB = 10, 11, 12, 13, 14
S2S_CHARS = "0123456789+_^$"


def _digits(v: np.ndarray, width: int) -> np.ndarray:
    """(n,) non-negative ints -> (n, width) digit ids, most significant first."""
    p = 10 ** np.arange(width - 1, -1, -1)
    return (v[:, None] // p) % 10


def _strip(tokens: np.ndarray, nd: np.ndarray) -> list[np.ndarray]:
    """Removes leading zeros of fixed-width numbers: keeps the last nd[i] digits."""
    return [row[len(row) - k :] for row, k in zip(tokens, nd, strict=True)]


def seq2seq_strings(
    rng: np.random.Generator, n: int, max_digits: int, task: str
) -> dict[str, np.ndarray]:
    """`reverse`: a digit string -> its reverse; `add`: 'a+b' -> the digits of a + b.

    Numbers have 1..max_digits digits (no leading zeros). Sources are right-padded with PAD;
    targets are the answer, EOS, then PAD to a fixed length; `x` is the source, `y` the target.
    """
    nd_a = rng.integers(1, max_digits + 1, n)
    a = rng.integers(10 ** (nd_a - 1) * (nd_a > 1), 10**nd_a)
    if task == "reverse":
        srcs = _strip(_digits(a, max_digits), nd_a)
        tgts = [s[::-1] for s in srcs]
        src_len, tgt_len = max_digits, max_digits + 1
    elif task == "add":
        nd_b = rng.integers(1, max_digits + 1, n)
        b = rng.integers(10 ** (nd_b - 1) * (nd_b > 1), 10**nd_b)
        s = a + b
        nd_s = np.maximum(1, np.floor(np.log10(np.maximum(s, 1))).astype(int) + 1)
        pa = _strip(_digits(a, max_digits), nd_a)
        pb = _strip(_digits(b, max_digits), nd_b)
        srcs = [np.concatenate([u, [S2S_PLUS], v]) for u, v in zip(pa, pb, strict=True)]
        tgts = _strip(_digits(s, max_digits + 1), nd_s)
        src_len, tgt_len = 2 * max_digits + 1, max_digits + 2
    else:
        raise ValueError(f"unknown seq2seq task {task!r} (reverse, add)")
    x = np.full((n, src_len), S2S_PAD)
    y = np.full((n, tgt_len), S2S_PAD)
    for i, (src, tgt) in enumerate(zip(srcs, tgts, strict=True)):
        x[i, : len(src)] = src
        y[i, : len(tgt)] = tgt
        y[i, len(tgt)] = S2S_EOS
    return {"x": x.astype(np.int32), "y": y.astype(np.int32)}


def decode_string(tokens: np.ndarray) -> str:
    """Token ids -> text with S2S_CHARS (PAD '_', GO '^', EOS '$')."""
    return "".join(S2S_CHARS[int(t)] for t in tokens)


def seq2seq(cfg: ConfigDict) -> Splits:
    """Digit-string seq2seq: `dataset.task` reverse|add, numbers up to `dataset.max_digits`."""
    rng = np.random.default_rng(cfg.seed)
    task, nd = cfg.get("task", "add"), int(cfg.get("max_digits", 3))
    n = int(cfg.get("num_points", 50_000))
    parts = [seq2seq_strings(rng, m, nd, task) for m in (n, 2000, 5000)]
    info = {"vocab_size": S2S_VOCAB, "task": task, "max_digits": nd, "chars": S2S_CHARS}
    return Splits(*parts, info=info)  # type: ignore[misc]  # mypy cannot size *parts (3)
