"""Everything that can reject a run, before its folder exists: data, family, sizes."""

from __future__ import annotations

import importlib
import os

import jax
from ml_collections import ConfigDict

from jaxgen import data as data_lib
from jaxgen.errors import ConfigError, JaxgenError
from jaxgen.train import parallel
from jaxgen.train.family import Family
from jaxgen.train.trainer import Trainer


def make_family(config: ConfigDict) -> Family:
    """The family named by `config.model.family` (module `jaxgen.families.<name>`)."""
    name = config.model.family
    try:
        module = importlib.import_module(f"jaxgen.families.{name}")
    except ModuleNotFoundError as e:
        if e.name != f"jaxgen.families.{name}":
            raise
        raise ConfigError(f"unknown model.family {name!r}") from None
    return module.make_family(config)


def prepare(
    config: ConfigDict, family: Family | None = None, splits: data_lib.Splits | None = None
) -> Trainer:
    """Loads the data, builds the family and checks the run fits, without writing anything.

    What the config's values break here (an unknown activation, a dataset too large for
    memory) is a ConfigError naming the key whose value the error mentions.
    """
    try:
        splits = splits if splits is not None else _load_in_turn(config.dataset)
        family = family if family is not None else make_family(config)
        trainer = Trainer(config, family, splits)
        abstract = trainer.abstract_state()
    except JaxgenError as e:
        if not isinstance(e, ConfigError):
            raise
        raise ConfigError(_blame(config, e)) from None
    except MemoryError:
        raise ConfigError(
            f"not enough memory for the data or model of {_sizes(config.dataset, 'dataset')}, "
            f"{_sizes(config.model)}; reduce them"
        ) from None
    except (ValueError, KeyError, TypeError, NotImplementedError) as e:
        raise ConfigError(_blame(config, e, f"{type(e).__name__}: ")) from None
    if trainer.total_steps >= 2**31:
        raise ConfigError(
            f"train.num_epochs={config.train.num_epochs} makes {trainer.total_steps} steps, "
            f"more than the 2**31 a step counter holds"
        )
    state_bytes = sum(x.size * x.dtype.itemsize for x in jax.tree.leaves(abstract))
    budget = _memory_bytes() // 2
    if budget and state_bytes > budget:
        raise ConfigError(
            f"the train state of model {_sizes(config.model)} and num_seeds={config.num_seeds} "
            f"needs {state_bytes / 2**30:.1f} GiB, more than half of this machine's "
            f"{2 * budget / 2**30:.1f} GiB; reduce model sizes or num_seeds"
        )
    return trainer


def _load_in_turn(dataset: ConfigDict) -> data_lib.Splits:
    """The dataset; on several processes, process 0 loads it first while the others wait,
    so that a dataset missing from the shared cache is prepared once, not by all at once."""
    if not parallel.is_primary():
        parallel.barrier("data")
    try:
        return data_lib.load(dataset)
    finally:
        if parallel.is_primary():
            parallel.barrier("data")


def _memory_bytes() -> int:
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return 0


def _sizes(group: ConfigDict, name: str = "model") -> str:
    """A group's integer settings, largest first: the likely culprits of a huge state."""
    items = [(k, v) for k, v in group.items() if isinstance(v, int) and not isinstance(v, bool)]
    items.sort(key=lambda kv: -kv[1])
    return ", ".join(f"{name}.{k}={v}" for k, v in items[:3]) or name


def _blame(config: ConfigDict, e: BaseException, prefix: str = "") -> str:
    """`e`'s message, plus the config key whose (string) value it mentions if it names none."""
    from jaxgen.config import config_values

    msg = " ".join(str(e).split()) or type(e).__name__
    values = config_values(config)
    if any(key in msg for key in values):
        return prefix + msg
    for key, v in values.items():
        if isinstance(v, str) and v and repr(v) in msg:
            return f"config key {key!r}: {prefix}{msg}"
    return f"config rejected: {prefix}{msg}"
