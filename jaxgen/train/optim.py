"""Optimizers and learning-rate schedules from the `optimizer` config group."""

from __future__ import annotations

from typing import Any, cast

import ml_collections
import optax

from jaxgen.errors import ConfigError


def optimizer_config(**overrides: Any) -> ml_collections.ConfigDict:
    cfg = ml_collections.ConfigDict(
        {
            "name": "adam",  # adam | adamw | sgd | rmsprop
            "lr": 1e-3,
            "b1": 0.9,
            "b2": 0.999,
            "eps": 1e-8,
            "momentum": 0.0,  # sgd / rmsprop
            "weight_decay": 0.0,  # adamw
            "grad_clip": 0.0,  # global-norm clipping; 0 = off
            "schedule": "constant",  # constant | cosine | warmup_cosine | piecewise
            "warmup_steps": 0,
            "boundaries": (),  # piecewise: step boundaries ...
            "scales": (),  # ... and the lr multiplier from each boundary on
        }
    )
    cfg.update(overrides)
    return cfg


def make_schedule(cfg: ml_collections.ConfigDict, total_steps: int | None) -> optax.Schedule:
    """The learning rate against the step; `total_steps` (None: unknown) sets a decay's end."""
    if cfg.schedule == "constant":
        return optax.constant_schedule(cfg.lr)
    if total_steps is None and cfg.schedule in ("cosine", "warmup_cosine"):
        raise ConfigError(
            f"optimizer.schedule={cfg.schedule!r} decays over the run: pass the run's "
            "total_steps to the family's init"
        )
    if cfg.schedule == "cosine":
        return optax.cosine_decay_schedule(cfg.lr, max(cast(int, total_steps), 1))
    if cfg.schedule == "warmup_cosine":
        return optax.warmup_cosine_decay_schedule(
            0.0, cfg.lr, cfg.warmup_steps, max(total_steps, cfg.warmup_steps + 1)
        )
    if cfg.schedule == "piecewise":
        if len(cfg.boundaries) != len(cfg.scales):
            raise ConfigError("optimizer.boundaries and optimizer.scales differ in length")
        # Each scale is the absolute multiplier of lr from its boundary on.
        scales, prev = {}, 1.0
        for b, s in zip(cfg.boundaries, cfg.scales, strict=True):
            scales[int(b)] = float(s) / prev
            prev = float(s)
        return optax.piecewise_constant_schedule(cfg.lr, scales)
    raise ConfigError(
        f"unknown optimizer.schedule {cfg.schedule!r} (constant, cosine, warmup_cosine, piecewise)"
    )


def make_optimizer(
    cfg: ml_collections.ConfigDict, total_steps: int | None
) -> optax.GradientTransformation:
    """The optax transformation named by `cfg`, with its schedule and optional clipping."""
    lr = make_schedule(cfg, total_steps)
    if cfg.name == "adam":
        tx = optax.adam(lr, b1=cfg.b1, b2=cfg.b2, eps=cfg.eps)
    elif cfg.name == "adamw":
        tx = optax.adamw(lr, b1=cfg.b1, b2=cfg.b2, eps=cfg.eps, weight_decay=cfg.weight_decay)
    elif cfg.name == "sgd":
        tx = optax.sgd(lr, momentum=cfg.momentum or None)
    elif cfg.name == "rmsprop":
        tx = optax.rmsprop(lr, momentum=cfg.momentum)
    else:
        raise ConfigError(f"unknown optimizer.name {cfg.name!r} (adam, adamw, sgd, rmsprop)")
    if cfg.grad_clip > 0:
        tx = optax.chain(optax.clip_by_global_norm(cfg.grad_clip), tx)
    return tx
