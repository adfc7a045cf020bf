"""A small reusable MNIST digit classifier: scores for generated images and Frechet features.

Usage:
    clf = classifier.load_or_train(run_dir, splits, key)   # trains once, then cached
    probs = clf.probs(x)            # (N, 10) softmax
    feats = clf.features(x)         # (N, 128) penultimate-layer features (for a Frechet distance)
    clf.test_accuracy               # measured on splits.test when trained

The network: two strided 3x3 convs (32, 64 channels), a 128-unit dense layer (the features),
10 logits. Trained with Adam for a few epochs as one `lax.scan` per epoch; ~99% test accuracy.
Images are (N, 28, 28, 1) in [0, 1] (flat (N, 784) also accepted).
"""

from __future__ import annotations

import dataclasses
import json
import math
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax import serialization

from jaxgen.evaluation.metrics import in_batches

if TYPE_CHECKING:
    from jaxgen.data.splits import Splits

Array = jax.Array
CACHE_DIR = "classifier"  # inside the given run folder
FEATURE_DIM = 128


class DigitCNN(nn.Module):
    """conv3x3/2 (32) -> conv3x3/2 (64) -> dense 128 (features) -> dense `num_classes`."""

    num_classes: int = 10

    @nn.compact
    def __call__(self, x: Array, features: bool = False) -> Array:
        if x.ndim == 2:
            side = math.isqrt(x.shape[-1])
            x = x.reshape(x.shape[0], side, side, 1)
        x = nn.relu(nn.Conv(32, (3, 3), strides=(2, 2), padding="SAME")(x))
        x = nn.relu(nn.Conv(64, (3, 3), strides=(2, 2), padding="SAME")(x))
        h = nn.relu(nn.Dense(FEATURE_DIM)(x.reshape(x.shape[0], -1)))
        return h if features else nn.Dense(self.num_classes)(h)


@dataclasses.dataclass
class Classifier:
    """Trained parameters with jitted, batched `logits`, `probs`, `features` and `predict`."""

    params: Any
    test_accuracy: float = float("nan")
    info: dict = dataclasses.field(default_factory=dict)

    def _apply(self, x: np.ndarray | Array, features: bool, batch_size: int = 1000) -> np.ndarray:
        fn = _apply_fn(features)
        return in_batches(partial(fn, self.params), np.asarray(x), batch_size=batch_size)

    def logits(self, x: np.ndarray | Array) -> np.ndarray:
        return self._apply(x, False)

    def probs(self, x: np.ndarray | Array) -> np.ndarray:
        return np.asarray(jax.nn.softmax(self.logits(x), axis=-1))

    def predict(self, x: np.ndarray | Array) -> np.ndarray:
        return self.logits(x).argmax(-1)

    def features(self, x: np.ndarray | Array) -> np.ndarray:
        """Penultimate-layer (128-d, post-ReLU) features."""
        return self._apply(x, True)

    def accuracy(self, x: np.ndarray | Array, y: np.ndarray | Array) -> float:
        return float((self.predict(x) == np.asarray(y)).mean())


_FNS: dict[bool, Any] = {}


def _apply_fn(features: bool) -> Callable[[Any, Array], Array]:
    if features not in _FNS:
        _FNS[features] = jax.jit(lambda p, x: DigitCNN().apply({"params": p}, x, features))
    return _FNS[features]


def train_classifier(
    splits: Splits,
    key: Array,
    num_epochs: int = 3,
    batch_size: int = 128,
    lr: float = 1e-3,
) -> Classifier:
    """Trains `DigitCNN` on `splits.train` (x, y); accuracy measured on `splits.test`.

    Args:
      splits: `jaxgen.data.Splits` with labels; binarized or grey-scale images both work.
      key: init and shuffling key.
    """
    x, y = jnp.asarray(splits.train["x"]), jnp.asarray(splits.train["y"])
    n = len(x)
    spe = n // batch_size
    model = DigitCNN()
    params = model.init(jax.random.fold_in(key, 0), x[:1])["params"]
    tx = optax.adam(lr)
    opt = tx.init(params)

    def loss_fn(p: Any, xb: Array, yb: Array) -> Array:
        logits = model.apply({"params": p}, xb)
        return optax.softmax_cross_entropy_with_integer_labels(logits, yb).mean()

    @jax.jit
    def epoch(params: Any, opt: optax.OptState, ekey: Array) -> tuple[Any, optax.OptState, Array]:
        perm = jax.random.permutation(ekey, n)[: spe * batch_size].reshape(spe, batch_size)

        def step(
            carry: tuple[Any, optax.OptState], idx: Array
        ) -> tuple[tuple[Any, optax.OptState], Array]:
            p, o = carry
            loss, g = jax.value_and_grad(loss_fn)(p, x[idx], y[idx])
            upd, o = tx.update(g, o, p)
            return (optax.apply_updates(p, upd), o), loss

        (params, opt), losses = jax.lax.scan(step, (params, opt), perm)
        return params, opt, losses.mean()

    t0 = time.time()
    losses = []
    for e in range(num_epochs):
        params, opt, loss = epoch(params, opt, jax.random.fold_in(key, e + 1))
        losses.append(float(loss))
    clf = Classifier(params)
    test = splits.test if splits.test is not None else splits.val
    clf.test_accuracy = clf.accuracy(test["x"], test["y"]) if test is not None else float("nan")
    clf.info = {
        "num_epochs": num_epochs,
        "train_loss": losses,
        "train_seconds": time.time() - t0,
        "num_train": n,
        "test_accuracy": clf.test_accuracy,
    }
    return clf


def save(clf: Classifier, folder: str | Path) -> Path:
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "params.msgpack").write_bytes(serialization.to_bytes(clf.params))
    (folder / "info.json").write_text(json.dumps(clf.info, indent=2))
    return folder


def load(folder: str | Path) -> Classifier:
    folder = Path(folder)
    template = DigitCNN().init(jax.random.PRNGKey(0), jnp.zeros((1, 28, 28, 1)))["params"]
    params = serialization.from_bytes(template, (folder / "params.msgpack").read_bytes())
    info = json.loads((folder / "info.json").read_text())
    return Classifier(params, info.get("test_accuracy", float("nan")), info)


def load_or_train(
    run_dir: str | Path, splits: Splits, key: Array, **train_kwargs: Any
) -> Classifier:
    """The classifier cached in `run_dir/classifier/`, trained and saved there if absent."""
    folder = Path(run_dir) / CACHE_DIR
    if (folder / "params.msgpack").is_file():
        return load(folder)
    clf = train_classifier(splits, key, **train_kwargs)
    save(clf, folder)
    return clf


__all__ = [
    "FEATURE_DIM",
    "Classifier",
    "DigitCNN",
    "load",
    "load_or_train",
    "save",
    "train_classifier",
]
