"""The shared training loop, its family interface, optimizers and checkpoints."""

from jaxgen.train.family import Family
from jaxgen.train.loop import RunResult, Trainer, make_family, seed_slice, train

__all__ = ["Family", "RunResult", "Trainer", "make_family", "seed_slice", "train"]
