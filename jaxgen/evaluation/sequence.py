"""Sequence metrics: bits per character, general-purpose compressors as baselines, a
continuous cache's scores, accuracy by position within a decoder's segments, and how
many generated texts read as Python.

A model with cross-entropy H nats per character could drive an arithmetic coder at
H / ln 2 bits per character; a compressor's rate is 8 * compressed bytes / characters. Both
are code lengths of the same text, so they compare directly.
"""

from __future__ import annotations

import bz2
import gzip
import keyword
import lzma
import math
import re
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import jax


def bits_per_char(log_probs: np.ndarray) -> float:
    """Mean -log2 p over characters, from natural-log probabilities of the true characters."""
    log_probs = np.asarray(log_probs, np.float64)
    return float(-log_probs.mean() / math.log(2.0))


def nats_to_bits(nats: float) -> float:
    return nats / math.log(2.0)


_COMPRESSORS = {
    "gzip": lambda b: gzip.compress(b, compresslevel=9, mtime=0),
    "bz2": lambda b: bz2.compress(b, compresslevel=9),
    "lzma": lambda b: lzma.compress(b, preset=9 | lzma.PRESET_EXTREME),
}


def compressor_bpc(text: str, primed_with: str | None = None) -> dict[str, float]:
    """Bits per character of gzip, bz2 and lzma (each at its strongest level) on `text`.

    Cold (default), each compresses `text` alone. Primed, each compresses `primed_with` +
    `text` and is charged only the extra bytes: the code length of `text` for a compressor
    that has read the training text first, as a trained model has. Only lzma's window
    (64 MiB at preset 9) holds a whole training text; gzip sees the last 32 KiB, bz2's
    blocks 900 kB, so priming helps them little.

    >>> round(compressor_bpc("ab" * 500)["gzip"], 2) < 1.0
    True
    >>> p = compressor_bpc("import os; " * 50, primed_with="import os; " * 5000)["lzma"]
    >>> p < compressor_bpc("import os; " * 50)["lzma"]
    True
    """
    raw, n = text.encode("utf-8"), len(text)
    if primed_with is None:
        return {k: 8.0 * len(f(raw)) / n for k, f in _COMPRESSORS.items()}
    prime = primed_with.encode("utf-8")
    return {k: 8.0 * (len(f(prime + raw)) - len(f(prime))) / n for k, f in _COMPRESSORS.items()}


def cache_chunk_nats(
    hs: jax.Array,
    lp_y: jax.Array,
    y: jax.Array,
    keys: jax.Array,
    vals: jax.Array,
    thetas: Sequence[float],
    lambdas: Sequence[float],
) -> tuple[jax.Array, jax.Array, jax.Array]:
    """A continuous cache (Grave, Joulin & Usunier 2017) over one chunk of streams of text.

    The model's top hidden state h_t is matched against the states h_i of the last N
    positions already read, each stored with the character that followed it:
    p_cache(c) is proportional to sum_i [x_{i+1} = c] exp(theta h_t . h_i), and the
    prediction is (1 - lambda) p_model + lambda p_cache. A name or a line seen earlier in
    the same file is then cheap to repeat, as it is for a compressor. Every (theta, lambda)
    of the grid is scored at once, so one pass over the validation text picks them.

    Args:
      hs: (C, S, H) the top hidden states of a chunk of C steps of S streams.
      lp_y: (C, S) the model's log-probability of each next character.
      y: (S, C) int: the next characters.
      keys: (S, N, H) and vals: (S, N) int: the cache (the N previous positions; -1 =
        empty), oldest first.
      thetas: (A,) and lambdas: (L,): the grid.

    Returns:
      (nats (A, L): the chunk's summed -log p for each grid point, new keys, new vals).
    """
    import jax
    import jax.numpy as jnp

    c, n = hs.shape[0], keys.shape[1]
    all_k = jnp.concatenate([keys, jnp.swapaxes(hs, 0, 1)], axis=1)  # (S, N + C, H)
    all_v = jnp.concatenate([vals, y], axis=1)  # (S, N + C)
    # Entry j sits (N + t - j) steps before query t: usable if 1..N steps back and filled.
    age = jnp.arange(c)[:, None] + n - jnp.arange(n + c)[None, :]
    valid = ((age >= 1) & (age <= n))[:, None, :] & (all_v >= 0)[None]  # (C, S, N + C)
    dots = jnp.einsum("csh,sjh->csj", hs, all_k)
    match = all_v[None, :, :] == jnp.swapaxes(y, 0, 1)[:, :, None]

    def p_cache(theta: jax.Array) -> jax.Array:
        s = jnp.where(valid, theta * dots, -jnp.inf)
        top = s.max(-1, keepdims=True)
        w = jnp.exp(s - jnp.where(jnp.isfinite(top), top, 0.0))
        return (w * match).sum(-1) / jnp.maximum(w.sum(-1), 1e-30)

    pc = jax.lax.map(p_cache, jnp.asarray(thetas))  # (A, C, S)
    pm = jnp.exp(lp_y)
    lam = jnp.asarray(lambdas)[None, :, None, None]
    p = (1.0 - lam) * pm + lam * pc[:, None]
    p = jnp.where(valid.any(-1), p, pm)  # an empty cache predicts nothing
    nats = -jnp.log(p).sum((-2, -1))
    return nats, all_k[:, -n:], all_v[:, -n:]


def accuracy_by_segment_offset(position_accuracy: dict | None, seg: int) -> dict[str, list | float]:
    """Per-position accuracies averaged by offset within segments of `seg` tokens.

    Why: a hierarchical decoder restarts its lower RNN at every segment; where its accuracy
    is lost shows as a dip at offset 0.

    Args:
      position_accuracy: a sequence VAE report's `position_accuracy`: `forced` and `greedy`
        accuracy and the number of `scored` sequences at each position; None for a run whose
        report predates the measurement.
      seg: tokens per segment.

    Returns:
      `forced` and `greedy`: accuracy by offset within a segment, weighted by the sequences
      scored there; `forced_rest`: the forced accuracy off the segments' first positions
      (NaN and empty lists when `position_accuracy` is None).

    Example:
        >>> acc = {"forced": [0.5, 1.0, 0.5, 1.0], "greedy": [0, 1, 0, 1], "scored": [1] * 4}
        >>> accuracy_by_segment_offset(acc, 2)["forced"]
        [0.5, 1.0]
    """
    if position_accuracy is None:
        return {"forced": [float("nan")], "greedy": [], "forced_rest": float("nan")}
    scored = np.asarray(position_accuracy["scored"], float).reshape(-1, seg)
    out: dict[str, list | float] = {}
    for k in ("forced", "greedy"):
        hits = np.asarray(position_accuracy[k]).reshape(-1, seg) * scored
        out[k] = (hits.sum(0) / np.maximum(scored.sum(0), 1)).tolist()
        if k == "forced":
            out["forced_rest"] = float(hits[:, 1:].sum() / max(scored[:, 1:].sum(), 1))
    return out


_PAIRS = {")": "(", "]": "[", "}": "{"}
_WORDS = "|".join(k for k in keyword.kwlist if k.isalpha())
_KEYWORD = re.compile(rf"\b(?:{_WORDS})\b")
# What Python's tokenizer does not read as brackets, matched left to right as it reads them:
# triple-quoted strings (one still open at the cut runs to the end), one-line strings and
# comments. A bracket in a docstring or a comment is prose, not code.
_NOT_CODE = re.compile(
    r'"""[\s\S]*?(?:"""|$)' r"|'''[\s\S]*?(?:'''|$)" r"|'[^'\n]*'" r'|"[^"\n]*"' r"|#[^\n]*"
)


def _brackets_match(text: str, max_open: int = 3) -> bool:
    """Every closing bracket of the code (not in a string or a comment) closes the innermost
    open one, and at most `max_open` are still open where the text is cut."""
    stack: list[str] = []
    for ch in _NOT_CODE.sub("", text):
        if ch in "([{":
            stack.append(ch)
        elif ch in _PAIRS and (not stack or stack.pop() != _PAIRS[ch]):
            return False
    return len(stack) <= max_open


def python_likeness(samples: list[str], collapse_run: int = 40) -> dict[str, float]:
    """How many generated texts read as Python, by four plain tests.

    A sample *reads as Python* when it has a keyword (as a whole word), an indented line
    (four or more spaces, then code), brackets that match (each closing one closes the
    innermost open one; at most three left open where the sample is cut off; brackets in
    strings and comments do not count, as Python does not read them), and no run of
    `collapse_run` or more whitespace characters (a small model at a low temperature can fall
    into a loop of spaces it never leaves). Score only the generated text, not the prime.

    Args:
      samples: generated texts.
      collapse_run: the whitespace run that counts as collapsed.

    Returns:
      The fraction of samples with each property (`keyword`, `indented`, `brackets`,
      `collapsed`), with all four as wanted (`reads_as_python`), with the first three
      (`named`: the three properties issue 16 names, a run of spaces allowed), and that end
      inside a collapsed run (`stuck`: the loop is never left before the sample's end).

    Example:
        >>> s = python_likeness(["x = f(a)\\nif x:\\n    return [x]\\n", "a(]" + " " * 50])
        >>> s["reads_as_python"], s["collapsed"], s["stuck"]
        (0.5, 0.5, 0.5)
    """
    if not samples:
        raise ValueError("python_likeness needs at least one sample")
    tests: dict[str, list[bool]] = {"keyword": [], "indented": [], "brackets": [], "collapsed": []}
    stuck = []
    for s in samples:
        tests["keyword"].append(bool(_KEYWORD.search(s)))
        tests["indented"].append(bool(re.search(r"(?:^|\n) {4,}\S", s)))
        tests["brackets"].append(_brackets_match(s))
        tests["collapsed"].append(bool(re.search(rf"\s{{{collapse_run},}}", s)))
        stuck.append(bool(re.search(rf"\s{{{collapse_run},}}$", s)))
    named = [k and i and b for k, i, b, _ in zip(*tests.values(), strict=True)]
    ok = [n and not c for n, c in zip(named, tests["collapsed"], strict=True)]
    out = {name: float(np.mean(v)) for name, v in tests.items()}
    out["reads_as_python"] = float(np.mean(ok))
    out["named"] = float(np.mean(named))
    out["stuck"] = float(np.mean(stuck))
    return out
