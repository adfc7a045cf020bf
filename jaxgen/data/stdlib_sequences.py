"""Whole sequences from the Python standard library's source, for sequence VAEs.

Two lengths, from the same corpus and the same train/val/test file split as `text.py`
(sorted top-level `*.py`, file i to test if i % 10 == 9, to validation if i % 10 == 8):

- `dataset.kind = "identifiers"`: the unique identifiers (regex `[A-Za-z_][A-Za-z0-9_]*`
  over the whole file text, comments and strings included) of `min_len` to `seq_len - 1`
  characters, e.g. 3..19 for `seq_len` 20.
- `dataset.kind = "lines"`: the unique source lines, indentation and trailing blanks
  stripped, of at least `min_len` characters, cut to `seq_len - 1` characters (e.g. 63).
- `dataset.kind = "blocks"`: MusicVAE's length for text, `seq_len - 1` consecutive characters
  (e.g. 255) starting at the start of a non-blank line, indentation and newlines kept; the
  next block starts at the first line start after it, so blocks do not overlap. A split's
  last block is kept if it has at least `min_len` characters.

Each sequence is encoded with `text.VOCAB` (96 symbols) and ends in EOS; the rest of the
`seq_len` slots are PAD (never scored). GO starts the decoder's input; UNK replaces dropped
decoder inputs (word dropout). Duplicates are removed within a split, not across splits.
The file lists, the corpus SHA-256 and the sequence counts travel in `info`.
"""

from __future__ import annotations

import re

import numpy as np
import numpy.typing as npt
from ml_collections import ConfigDict

from jaxgen.data import text
from jaxgen.data.splits import Splits
from jaxgen.errors import ConfigError, DataError

EOS = len(text.VOCAB)  # 96: end of sequence (scored)
PAD = EOS + 1  # after EOS; masked out of every loss and metric
GO = EOS + 2  # the decoder's first input
UNK = EOS + 3  # a dropped decoder input
VOCAB_SIZE = EOS + 4
KINDS = ("identifiers", "lines", "blocks")
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def extract(source: str, kind: str, seq_len: int, min_len: int) -> list[str]:
    """The unique sequences of one split's text, in first-seen order."""
    if kind == "identifiers":
        items = (m.group(0) for m in _IDENTIFIER.finditer(source))
        items = (s for s in items if min_len <= len(s) <= seq_len - 1)
    elif kind == "lines":
        items = (line.strip()[: seq_len - 1] for line in source.split("\n"))
        items = (s for s in items if len(s) >= min_len)
    elif kind == "blocks":
        items = (s for s in _blocks(source, seq_len - 1) if len(s) >= min_len)
    else:
        raise ConfigError(f"dataset.kind must be one of {', '.join(KINDS)}, got {kind!r}")
    return list(dict.fromkeys(items))


def _blocks(source: str, size: int) -> list[str]:
    """Non-overlapping windows of `size` characters, each from a non-blank line's start."""
    out, free_from = [], 0
    for start in (0, *(m.end() for m in re.finditer("\n", source))):
        if start >= free_from and start < len(source) and source[start] != "\n":
            out.append(source[start : start + size])
            free_from = start + size
    return out


def encode_strings(strings: list[str], seq_len: int) -> np.ndarray:
    """Strings -> (N, seq_len) int32: characters, EOS, then PAD. Longer strings are cut."""
    out = np.full((len(strings), seq_len), PAD, np.int32)
    for i, s in enumerate(strings):
        ids = text.encode(s[: seq_len - 1])
        out[i, : len(ids)] = ids
        out[i, len(ids)] = EOS
    return out


def decode_string(ids: npt.ArrayLike) -> str:
    """Ids up to the first EOS (or PAD) -> text; GO and UNK show as '^' and '~'."""
    chars = []
    for i in np.asarray(ids).reshape(-1).tolist():
        if i in (EOS, PAD):
            break
        chars.append({GO: "^", UNK: "~"}.get(i) or text.VOCAB[i])
    return "".join(chars)


def decode_strings(ids: npt.ArrayLike) -> list[str]:
    return [decode_string(row) for row in np.asarray(ids)]


def table_cell(s: str) -> str:
    """A decoded string safe in a Markdown table cell: newlines and pipes escaped."""
    return s.replace("\\", "\\\\").replace("|", "\\|").replace("\n", "\\n")


def table_rows(rows: list[dict]) -> list[dict]:
    """Rows for `jaxgen.report.markdown_table` with every string cell made table-safe."""
    return [{k: table_cell(v) if isinstance(v, str) else v for k, v in r.items()} for r in rows]


def stdlib_sequences(cfg: ConfigDict) -> Splits:
    """Identifiers, source lines or blocks of the standard library as (N, seq_len) tokens."""
    kind = cfg.get("kind", "identifiers")
    seq_len, min_len = int(cfg.get("seq_len", 20)), int(cfg.get("min_len", 1))
    if seq_len < 2:
        raise ConfigError(f"dataset.seq_len must be >= 2 (a character and EOS), got {seq_len}")
    if not 1 <= min_len < seq_len:
        raise ConfigError(f"dataset.min_len must be in [1, seq_len), got {min_len}")
    c = text.corpus(cfg.get("data_dir") or None)
    parts, counts, examples = {}, {}, {}
    for split in ("train", "val", "test"):
        strings = extract(c["texts"][split], kind, seq_len, min_len)
        if not strings:
            raise DataError(f"no {kind} of {min_len}..{seq_len - 1} characters in {split}")
        # A fixed shuffle: `dataset.num_train` / `num_test` caps then take from every file.
        perm = np.random.default_rng(cfg.seed).permutation(len(strings))
        strings = [strings[i] for i in perm]
        parts[split] = {"x": encode_strings(strings, seq_len)}
        counts[split] = len(strings)
        examples[split] = strings[:5]
    info = {
        "kind": kind,
        "seq_len": seq_len,
        "min_len": min_len,
        "vocab_size": VOCAB_SIZE,
        "vocab": text.VOCAB,
        "specials": {"EOS": EOS, "PAD": PAD, "GO": GO, "UNK": UNK},
        "files": c["files"],
        "corpus_sha256": c["sha256"],
        "root": c["root"],
        "oov_chars": c["oov_chars"],
        "sequences": counts,
        "examples": examples,
    }
    return Splits(**parts, info=info)


__all__ = [
    "EOS",
    "GO",
    "KINDS",
    "PAD",
    "UNK",
    "VOCAB_SIZE",
    "decode_string",
    "decode_strings",
    "encode_strings",
    "extract",
    "stdlib_sequences",
    "table_cell",
    "table_rows",
]
