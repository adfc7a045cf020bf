"""A linear probe: multinomial logistic regression trained in JAX on frozen features.

The standard way to ask how much label information a representation carries linearly.
Features are standardized with the training statistics; the whole optimization (full-batch
Adam with L2 weight decay) runs as one `lax.scan` under one `jit`.
"""

from __future__ import annotations

import dataclasses
from functools import partial

import jax
import jax.numpy as jnp
import numpy as np
import optax

from jaxgen.evaluation.metrics import accuracy

Array = jax.Array


@dataclasses.dataclass(frozen=True)
class ProbeResult:
    """Accuracies of a fitted probe and its parameters (standardization included)."""

    train_accuracy: float
    test_accuracy: float
    final_loss: float
    w: np.ndarray
    b: np.ndarray
    mean: np.ndarray
    std: np.ndarray

    def predict(self, x: np.ndarray) -> np.ndarray:
        x = (np.asarray(x).reshape(len(x), -1) - self.mean) / self.std
        return np.argmax(x @ self.w + self.b, axis=-1)


def _loss(params: tuple[Array, Array], x: Array, y: Array, l2: float) -> Array:
    w, b = params
    logits = x @ w + b
    ce = optax.softmax_cross_entropy_with_integer_labels(logits, y).mean()
    return ce + 0.5 * l2 * jnp.sum(w**2)


@partial(jax.jit, static_argnames=("num_classes", "steps", "lr", "l2"))
def _fit(
    x: Array, y: Array, key: Array, *, num_classes: int, steps: int, lr: float, l2: float
) -> tuple[tuple[Array, Array], Array]:
    d = x.shape[-1]
    # Small random init only breaks symmetry; the problem is convex.
    params = (0.01 * jax.random.normal(key, (d, num_classes)), jnp.zeros(num_classes))
    opt = optax.adam(optax.cosine_decay_schedule(lr, steps))
    opt_state = opt.init(params)
    grad_fn = jax.value_and_grad(_loss)

    def step(
        carry: tuple[tuple[Array, Array], optax.OptState], _: None
    ) -> tuple[tuple[tuple[Array, Array], optax.OptState], Array]:
        params, opt_state = carry
        loss, g = grad_fn(params, x, y, l2)
        updates, opt_state = opt.update(g, opt_state, params)
        return (optax.apply_updates(params, updates), opt_state), loss

    (params, _), losses = jax.lax.scan(step, (params, opt_state), None, length=steps)
    return params, losses[-1]


def fit(
    x_train: np.ndarray,
    y_train: np.ndarray,
    x_test: np.ndarray,
    y_test: np.ndarray,
    key: Array,
    *,
    num_classes: int = 10,
    steps: int = 500,
    lr: float = 0.05,
    l2: float = 1e-4,
) -> ProbeResult:
    """Fits the probe on (x_train, y_train) and reports train and test accuracy.

    Args:
      x_train, x_test: features (N, ...) (flattened here).
      y_train, y_test: integer labels (N,).
      key: initialization key.
      steps, lr, l2: full-batch Adam steps, peak learning rate (cosine decay), L2 weight.
    """
    xtr = np.asarray(x_train, np.float32).reshape(len(x_train), -1)
    xte = np.asarray(x_test, np.float32).reshape(len(x_test), -1)
    mean = xtr.mean(0)
    # Constant features (border pixels) get unit scale instead of a division by zero.
    std = np.where(xtr.std(0) > 1e-6, xtr.std(0), 1.0).astype(np.float32)
    xtr, xte = (xtr - mean) / std, (xte - mean) / std
    ytr, yte = jnp.asarray(y_train, jnp.int32), jnp.asarray(y_test, jnp.int32)
    (w, b), loss = _fit(
        jnp.asarray(xtr), ytr, key, num_classes=num_classes, steps=steps, lr=lr, l2=l2
    )
    return ProbeResult(
        train_accuracy=float(accuracy(jnp.asarray(xtr) @ w + b, ytr)),
        test_accuracy=float(accuracy(jnp.asarray(xte) @ w + b, yte)),
        final_loss=float(loss),
        w=np.asarray(w),
        b=np.asarray(b),
        mean=mean,
        std=std,
    )


__all__ = ["ProbeResult", "fit"]
