"""Analytic FLOP counts read off a function's jaxpr: matmuls and convolutions only.

`count(fn, *args)` traces `fn` (no compilation, no execution) and adds up
`2 * multiply-adds` of every `dot_general` and `conv_general_dilated` in the program, with
`lax.scan` bodies multiplied by their length and `cond` counted at its most expensive branch.
What the backward pass does not need (the input gradient of a first layer) is absent from the
jaxpr, so this is the work the program really asks for: the numerator of "model FLOP/s as a
fraction of the matmul peak". Elementwise work (activations, Adam) is not counted, as usual.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import jax
from jax.extend import core as jcore


def dot_general_flops(eqn: Any) -> int:
    """2 * prod(output shape) * prod(lhs contracting dims)."""
    (lhs_contract, _), _ = eqn.params["dimension_numbers"]
    lhs = eqn.invars[0].aval.shape
    out = eqn.outvars[0].aval.shape
    k = math.prod(lhs[d] for d in lhs_contract)
    return 2 * math.prod(out) * k


def conv_flops(eqn: Any) -> int:
    """2 * prod(output shape) * (kernel size / kernel output features).

    Each output element is a dot product over the kernel's input features (per group) and
    its spatial window: `rhs.size / rhs_out_features` multiply-adds. This also holds for the
    kernel-gradient convolutions of the backward pass, which JAX writes with permuted
    dimension numbers; the input gradient of a strided conv skips its dilation's zeros.
    """
    rhs = eqn.invars[1].aval.shape
    out = eqn.outvars[0].aval.shape
    rhs_out_dim = eqn.params["dimension_numbers"].rhs_spec[0]
    per_output = math.prod(rhs) // rhs[rhs_out_dim]
    # The input gradient of a strided conv dilates its input by the stride: only one window
    # position in prod(lhs_dilation) meets a real input, the rest are inserted zeros.
    holes = math.prod(eqn.params.get("lhs_dilation") or (1,))
    return 2 * math.prod(out) * per_output // eqn.params.get("batch_group_count", 1) // holes


def _subjaxprs(value: Any) -> list[Any]:
    if isinstance(value, jcore.ClosedJaxpr):
        return [value.jaxpr]
    if isinstance(value, jcore.Jaxpr):
        return [value]
    return []


def jaxpr_flops(jaxpr: Any) -> int:
    """Matmul + conv FLOPs of a (closed) jaxpr, recursing into calls, scans and conds."""
    if isinstance(jaxpr, jcore.ClosedJaxpr):
        jaxpr = jaxpr.jaxpr
    total = 0
    for eqn in jaxpr.eqns:
        name = eqn.primitive.name
        if name == "dot_general":
            total += dot_general_flops(eqn)
        elif name == "conv_general_dilated":
            total += conv_flops(eqn)
        elif name == "scan":
            total += eqn.params["length"] * jaxpr_flops(eqn.params["jaxpr"])
        elif name == "cond":
            total += max(jaxpr_flops(b) for b in eqn.params["branches"])
        elif name == "while":
            # Unknown trip count: one iteration (the families' steps contain no while loops
            # with matmuls; flagged here rather than guessed).
            total += jaxpr_flops(eqn.params["body_jaxpr"])
        else:
            for v in eqn.params.values():
                for sub in _subjaxprs(v):
                    total += jaxpr_flops(sub)
    return total


def count(fn: Callable, *args: Any, **kwargs: Any) -> int:
    """Matmul + conv FLOPs of one call `fn(*args, **kwargs)` (traced, not run)."""
    return jaxpr_flops(jax.make_jaxpr(fn)(*args, **kwargs))


def xla_flops(compiled: Any) -> float | None:
    """XLA's own FLOP estimate of a compiled executable (all ops; loops counted once)."""
    try:
        cost = compiled.cost_analysis()
    except Exception:  # Not every backend implements it.
        return None
    if isinstance(cost, list | tuple):
        cost = cost[0] if cost else None
    return float(cost["flops"]) if cost and "flops" in cost else None


__all__ = ["conv_flops", "count", "dot_general_flops", "jaxpr_flops", "xla_flops"]
