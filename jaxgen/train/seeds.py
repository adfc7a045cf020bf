"""Seeds side by side: the leading seed axis of every state, its root keys and its vmap.

Seed s owns the root key `PRNGKey(s)`; a run of `num_seeds` seeds holds them as one state
with a leading axis of that size, and runs every step `vmap`ped over it. With
`seed_parallel` that axis is split over the local devices (`parallel.seed_mesh`): the same
vmapped program, each device on its share of the seeds.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from ml_collections import ConfigDict


def seed_keys(config: ConfigDict) -> jax.Array:
    """Root keys of the run's seeds: (num_seeds, 2), seed `config.seed + i` for row i."""
    seeds = config.seed + np.arange(config.num_seeds)
    return jax.vmap(jax.random.PRNGKey)(jnp.asarray(seeds, jnp.uint32))


def seed_map(fn: Callable, in_axes: tuple[int | None, ...], num_seeds: int) -> Callable:
    """`jax.vmap(fn, in_axes)` over the seed axis.

    With one seed the axis is indexed away and re-added instead: XLA on CPU runs a dot with a
    batch dimension of 1 markedly slower than the plain dot (`make vae`, batch 20: 656 steps/s
    with the vmap, 806 without, on 2 cores), and most runs have one seed.
    """
    if num_seeds != 1:
        return jax.vmap(fn, in_axes=in_axes)

    def one_seed(*args: Any) -> Any:
        args = [  # type: ignore[assignment]  # *args rebound as a list
            jax.tree.map(lambda a: a[0], x) if ax == 0 else x
            for x, ax in zip(args, in_axes, strict=True)
        ]
        return jax.tree.map(lambda y: y[None], fn(*args))

    return one_seed


def seed_slice(tree: Any, i: int) -> Any:
    """Seed `i`'s part of a state or metrics tree with a leading seed axis."""
    return jax.tree.map(lambda x: x[i], tree)
