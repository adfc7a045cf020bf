"""A character corpus every machine has: the Python standard library's own source files.

Files: the top-level `*.py` of `sysconfig.get_paths()["stdlib"]`, sorted by name. Whole files
are held out: sorted index i goes to test if i % 10 == 9, to validation if i % 10 == 8, else
to train. The run records the three file lists and a SHA-256 of the corpus so it can be
reproduced (a different Python version gives a different corpus, and a different hash).

Vocabulary: newline plus the 95 printable ASCII characters (96 symbols); any other character
(tabs, non-ASCII) becomes '?' and the run reports how many did.
"""

from __future__ import annotations

import hashlib
import sysconfig
from pathlib import Path

import numpy as np

from jaxgen.config import ConfigDict
from jaxgen.data import Splits
from jaxgen.errors import DataError

VOCAB = "\n" + "".join(chr(c) for c in range(32, 127))
OOV = "?"
_INDEX = np.full(0x110000, VOCAB.index(OOV), np.int32)
_INDEX[[ord(c) for c in VOCAB]] = np.arange(len(VOCAB))


def stdlib_files(root: str | None = None) -> list[Path]:
    """The corpus files, sorted by name."""
    root = Path(root or sysconfig.get_paths()["stdlib"])
    files = sorted(root.glob("*.py"))
    if not files:
        raise DataError(f"no *.py files in the standard library folder {root}")
    return files


def encode(text: str) -> np.ndarray:
    """Text -> int32 ids in [0, 96); characters outside VOCAB map to '?'."""
    codes = np.frombuffer(text.encode("utf-32-le"), np.uint32)
    return _INDEX[codes]


def decode(ids) -> str:
    return "".join(VOCAB[int(i)] for i in np.asarray(ids).reshape(-1))


def split_files(files: list[Path]) -> dict[str, list[Path]]:
    out: dict[str, list[Path]] = {"train": [], "val": [], "test": []}
    for i, f in enumerate(files):
        out["test" if i % 10 == 9 else "val" if i % 10 == 8 else "train"].append(f)
    return out


def corpus(root: str | None = None, max_chars: int = 0) -> dict:
    """Encoded train/val/test streams, file lists and the corpus hash."""
    files = stdlib_files(root)
    digest = hashlib.sha256()
    streams, names, texts, oov = {}, {}, {}, {}
    for split, fs in split_files(files).items():
        parts = []
        for f in fs:
            raw = f.read_bytes()
            digest.update(f.name.encode() + b"\0" + raw)
            parts.append(raw.decode("utf-8", errors="replace"))
        text = "\n".join(parts)
        if max_chars:
            text = text[:max_chars]
        ids = encode(text)
        streams[split] = ids
        names[split] = [f.name for f in fs]
        texts[split] = decode_fast(ids)  # the text as the model sees it (OOV replaced)
        oov[split] = int(sum(1 for c in text if c not in _VOCAB_SET))
    return {
        "streams": streams,
        "files": names,
        "texts": texts,
        "oov_chars": oov,
        "sha256": digest.hexdigest(),
        "root": str(files[0].parent),
    }


_VOCAB_SET = frozenset(VOCAB)
_VOCAB_ARRAY = np.array(list(VOCAB))


def decode_fast(ids: np.ndarray) -> str:
    return "".join(_VOCAB_ARRAY[np.asarray(ids)].tolist())


def windows(ids: np.ndarray, seq_len: int) -> dict[str, np.ndarray]:
    """Non-overlapping windows: x = ids[k:k+T], y = ids[k+1:k+T+1] (next character)."""
    n = (len(ids) - 1) // seq_len
    x = ids[: n * seq_len].reshape(n, seq_len)
    y = ids[1 : n * seq_len + 1].reshape(n, seq_len)
    return {"x": x.astype(np.int32), "y": y.astype(np.int32)}


def stdlib_chars(cfg: ConfigDict) -> Splits:
    """Character windows of length `dataset.seq_len` from the standard library's sources.

    The held-out test text itself (for stateful evaluation and compressor baselines) and the
    file lists travel in `info`.
    """
    c = corpus(cfg.get("data_dir") or None, int(cfg.get("max_chars", 0)))
    t = int(cfg.get("seq_len", 100))
    parts = {s: windows(c["streams"][s], t) for s in ("train", "val", "test")}
    # Shuffle training windows once (the loop reshuffles every epoch; this makes
    # `dataset.num_train` caps take windows from all files, not the first few).
    perm = np.random.default_rng(cfg.seed).permutation(len(parts["train"]["x"]))
    parts["train"] = {k: v[perm] for k, v in parts["train"].items()}
    info = {
        "vocab_size": len(VOCAB),
        "vocab": VOCAB,
        "files": c["files"],
        "corpus_sha256": c["sha256"],
        "root": c["root"],
        "oov_chars": c["oov_chars"],
        "chars": {s: len(v) for s, v in c["streams"].items()},
        "test_text": c["texts"]["test"],
        "test_ids": c["streams"]["test"],
    }
    return Splits(**parts, info=info)
