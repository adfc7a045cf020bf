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
import numpy.typing as npt
from ml_collections import ConfigDict

from jaxgen.data.splits import Splits
from jaxgen.errors import DataError

VOCAB = "\n" + "".join(chr(c) for c in range(32, 127))
OOV = "?"
_INDEX = np.full(0x110000, VOCAB.index(OOV), np.int32)
_INDEX[[ord(c) for c in VOCAB]] = np.arange(len(VOCAB))


def stdlib_files(root: str | Path | None = None) -> list[Path]:
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


def decode(ids: npt.ArrayLike) -> str:
    return "".join(VOCAB[int(i)] for i in np.asarray(ids).reshape(-1))


def split_files(files: list[Path]) -> dict[str, list[Path]]:
    out: dict[str, list[Path]] = {"train": [], "val": [], "test": []}
    for i, f in enumerate(files):
        out["test" if i % 10 == 9 else "val" if i % 10 == 8 else "train"].append(f)
    return out


def subpackage_files(root: str | Path | None = None) -> list[Path]:
    """The `*.py` files in the standard library's subfolders (its packages and its own test
    suite), sorted; third-party `site-packages` / `dist-packages` left out."""
    root = Path(root or sysconfig.get_paths()["stdlib"])
    skip = {"site-packages", "dist-packages"}
    return sorted(
        f
        for f in root.rglob("*.py")
        if len(f.relative_to(root).parts) > 1 and not skip & set(f.relative_to(root).parts)
    )


def corpus(root: str | None = None, max_chars: int = 0, subpackages: bool = False) -> dict:
    """Encoded train/val/test streams, file lists and the corpus hash.

    `subpackages` adds every file of `subpackage_files` to the training split only: the
    held-out files stay the same top-level modules.
    """
    files = stdlib_files(root)
    base = files[0].parent
    splits = split_files(files)
    if subpackages:
        splits["train"] = splits["train"] + subpackage_files(str(base))
    digest = hashlib.sha256()
    streams, names, texts, oov = {}, {}, {}, {}
    for split, fs in splits.items():
        parts = []
        for f in fs:
            raw = f.read_bytes()
            name = str(f.relative_to(base))
            digest.update(name.encode() + b"\0" + raw)
            parts.append(raw.decode("utf-8", errors="replace"))
        text = "\n".join(parts)
        if max_chars:
            text = text[:max_chars]
        ids = encode(text)
        streams[split] = ids
        names[split] = [str(f.relative_to(base)) for f in fs]
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


def stream_windows(ids: np.ndarray, seq_len: int, num_streams: int) -> dict[str, np.ndarray]:
    """Windows ordered for truncated BPTT that carries the state from batch to batch.

    The text is cut into `num_streams` contiguous pieces; example `j * num_streams + b` is
    window j of piece b. Read in order with batch size `num_streams`, row b of every batch
    continues row b of the batch before, so a carried state has seen all of its piece so far.

    >>> w = stream_windows(np.arange(13), seq_len=2, num_streams=2)
    >>> w["x"].tolist()  # pieces [0..5] and [6..11]
    [[0, 1], [6, 7], [2, 3], [8, 9], [4, 5], [10, 11]]
    """
    per = (len(ids) - 1) // (num_streams * seq_len) * seq_len  # characters per piece
    if per == 0:
        raise DataError(f"{len(ids)} characters are too few for {num_streams} streams of {seq_len}")
    x = ids[: num_streams * per].reshape(num_streams, per // seq_len, seq_len)
    y = ids[1 : num_streams * per + 1].reshape(num_streams, per // seq_len, seq_len)
    # (streams, windows, T) -> (windows, streams, T) -> examples in window-major order.
    order = {"x": x.transpose(1, 0, 2), "y": y.transpose(1, 0, 2)}
    return {k: v.reshape(-1, seq_len).astype(np.int32) for k, v in order.items()}


def stdlib_chars(cfg: ConfigDict) -> Splits:
    """Character windows of length `dataset.seq_len` from the standard library's sources.

    Training windows are shuffled, or, with `dataset.streams` = B > 0, ordered as B
    contiguous streams (`stream_windows`) for a model that carries its state across batches
    (run it with `train.batch_size` = B and `train.shuffle` = False). Validation and test
    windows are `dataset.eval_seq_len` long (0: `seq_len`), so that a model evaluated from a
    zero state at each window's start loses little to the cold start.

    The held-out test text itself (for stateful evaluation and compressor baselines) and the
    file lists travel in `info`.
    """
    c = corpus(
        cfg.get("data_dir") or None,
        int(cfg.get("max_chars", 0)),
        subpackages=bool(cfg.get("subpackages", False)),
    )
    t = int(cfg.get("seq_len", 100))
    t_eval = int(cfg.get("eval_seq_len", 0)) or t
    num_streams = int(cfg.get("streams", 0))
    parts = {s: windows(c["streams"][s], t_eval) for s in ("val", "test")}
    if num_streams:
        parts["train"] = stream_windows(c["streams"]["train"], t, num_streams)
    else:
        parts["train"] = windows(c["streams"]["train"], t)
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
        "val_ids": c["streams"]["val"],
        "train_text": c["texts"]["train"],
    }
    return Splits(**parts, info=info)
