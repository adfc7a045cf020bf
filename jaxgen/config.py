"""Config files and command-line overrides.

A config is a Python file with `get_config(arg=None)` returning an `ml_collections.ConfigDict`.
It is locked before overrides are applied, so a misspelled key fails instead of being ignored.
Overrides look like `--config.optimizer.lr=3e-4`; the value is parsed to the type of the field
it replaces. Every failure is a `ConfigError` that names the key.
"""

from __future__ import annotations

import ast
import difflib
import importlib.util
import json
import math
import sys
from collections.abc import Sequence
from pathlib import Path
from types import ModuleType
from typing import Any

from ml_collections import ConfigDict as ConfigDict  # re-exported: configs import it from here

from jaxgen.errors import ConfigError


def train_config(**overrides: Any) -> ConfigDict:
    """The `train` group every config carries: what the shared loop does."""
    cfg = ConfigDict(
        {
            "num_epochs": 10,
            "batch_size": 128,
            "eval_batch_size": 1000,
            "steps_per_scan": 0,  # steps compiled into one lax.scan; 0 = a whole epoch
            # How a chunk runs: "scan" (one lax.scan under one jit), "python" (a Python loop
            # over the jitted step, one host sync per chunk still), "auto" ("python" on CPU
            # for steps with convolutions, which XLA:CPU runs ~19x slower inside a loop
            # body, jax-ml/jax#12868; "scan" otherwise).
            "loop": "auto",
            "checkpoint_every_steps": 0,  # 0 = at the end of every epoch
            "max_checkpoints": 2,
            "eval_every_epochs": 1,
            "eval_every_steps": 0,  # > 0: also evaluate val at chunk ends every this many steps
            # False: batches in the dataset's order every epoch (a stateful RNN reading
            # contiguous streams, `dataset.streams`); True: a fresh permutation per epoch.
            "shuffle": True,
            "progress": True,  # progress bar on stderr
        }
    )
    cfg.update(overrides)
    return cfg


def base_config(family: str, dataset: str = "mnist") -> ConfigDict:
    """The skeleton of a run config: seed, data, model, optimizer, train groups."""
    from jaxgen.data import base_config as data_config
    from jaxgen.train.optim import optimizer_config

    return ConfigDict(
        {
            "seed": 0,
            "num_seeds": 1,  # > 1 trains seeds seed..seed+n-1 side by side with vmap
            "data_parallel": False,  # split each batch over the local devices
            "seed_parallel": False,  # split the seeds (num_seeds) over the local devices
            "distributed": False,  # call jax.distributed.initialize() (multi-host)
            "dataset": data_config(dataset),
            "model": ConfigDict({"family": family}),
            "optimizer": optimizer_config(),
            "train": train_config(),
        }
    )


def variant(cfg: ConfigDict, **dotted: Any) -> ConfigDict:
    """A locked copy of `cfg` with dotted keys replaced: variant(c, **{"model.cell": "gru"})."""
    out = ConfigDict(cfg.to_dict())
    for key, value in dotted.items():
        *path, last = key.split(".")
        node = out
        for part in path:
            node = node[part]
        node[last] = value
    out.lock()
    return out


def load_module(path: str | Path) -> ModuleType:
    """Imports a config/experiment file by path."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"config file not found: {path}")
    name = "jaxgen_config_" + path.stem
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:  # Python imports only its own suffixes.
        raise ConfigError(f"config {path} is not a Python file: give a .py with get_config()")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except Exception as e:  # A broken config file is still the user's input.
        raise ConfigError(f"cannot load config {path}: {type(e).__name__}: {e}") from e
    if not hasattr(module, "get_config"):
        raise ConfigError(f"config {path} defines no get_config()")
    return module


def _split_arg(spec: str) -> tuple[str, str | None]:
    path, _, arg = spec.partition(":")
    return path, (arg or None)


def all_keys(config: ConfigDict, prefix: str = "") -> list[str]:
    """Dotted names of every leaf in `config`."""
    keys = []
    for k, v in config.items():
        name = f"{prefix}{k}"
        if isinstance(v, ConfigDict):
            keys.extend(all_keys(v, name + "."))
        else:
            keys.append(name)
    return keys


def config_values(config: ConfigDict) -> dict[str, Any]:
    """Every leaf of `config` by its dotted name, e.g. {"train.batch_size": 128, ...}."""
    values = {}
    for key in all_keys(config):
        node = config
        for part in key.split("."):
            node = node[part]
        values[key] = node
    return values


def _close(key: str, config: ConfigDict) -> str:
    matches = difflib.get_close_matches(key, all_keys(config), n=3, cutoff=0.6)
    return f" (did you mean {', '.join(matches)}?)" if matches else ""


def _parse_value(key: str, text: str, current: Any) -> Any:
    """Parses `text` to the type of `current`, the value being replaced."""
    if isinstance(current, bool):
        low = text.lower()
        if low in ("true", "1", "yes"):
            return True
        if low in ("false", "0", "no"):
            return False
        raise ConfigError(f"--config.{key}: expected a bool (true/false), got {text!r}")
    if isinstance(current, str):
        return text
    try:
        value = ast.literal_eval(text)
    except (ValueError, SyntaxError):
        if current is None:
            return text  # A None default accepts a bare string.
        raise ConfigError(
            f"--config.{key}: cannot parse {text!r} as {type(current).__name__}"
        ) from None
    if isinstance(current, float) and isinstance(value, int) and not isinstance(value, bool):
        value = float(value)
    if isinstance(current, tuple) and isinstance(value, list):
        value = tuple(value)
    if isinstance(current, tuple) and not isinstance(value, tuple):
        value = (value,)
    if current is not None and not isinstance(value, type(current)):
        raise ConfigError(
            f"--config.{key}: expected {type(current).__name__}, got {text!r}"
            f" ({type(value).__name__})"
        )
    return value


def override(config: ConfigDict, key: str, text: str) -> None:
    """Sets dotted `key` of a locked config from its command-line text."""
    parts = key.split(".")
    if not key or any(not p for p in parts):
        raise ConfigError(f"malformed override --config.{key}")
    node = config
    for i, part in enumerate(parts):
        if not isinstance(node, ConfigDict) or part not in node:
            raise ConfigError(f"unknown config key {key!r}{_close(key, config)}")
        if i < len(parts) - 1:
            node = node[part]
    current = node[parts[-1]]
    if isinstance(current, ConfigDict):
        raise ConfigError(f"--config.{key} is a group; set one of its keys instead")
    value = _parse_value(key, text, current)
    try:
        with node.unlocked():
            node[parts[-1]] = value
    except (TypeError, ValueError) as e:
        raise ConfigError(f"--config.{key}: {e}") from None


def build(
    config_spec: str, overrides: Sequence[tuple[str, str]] = ()
) -> tuple[ConfigDict, ModuleType]:
    """Loads `path[:arg]`, locks it, applies overrides and validates it.

    Returns:
      The config and the module it came from (an experiment may define `run` there).
    """
    path, arg = _split_arg(config_spec)
    module = load_module(path)
    try:
        config = module.get_config(arg) if arg is not None else module.get_config()
    except ConfigError:
        raise
    except Exception as e:
        raise ConfigError(f"get_config({arg!r}) in {path} failed: {type(e).__name__}: {e}") from e
    if not isinstance(config, ConfigDict):
        raise ConfigError(
            f"get_config({arg!r}) in {path} returned a {type(config).__name__}, not an "
            "ml_collections.ConfigDict"
        )
    config.lock()
    for key, text in overrides:
        override(config, key, text)
    validate(config)
    return config, module


# Keys whose values must be positive integers / positive numbers wherever they appear.
_POSITIVE_INT = (
    "batch_size",
    "num_epochs",
    "num_seeds",
    "code_size",
    "latent_dim",
    "hidden_size",
    "num_layers",
    "eval_batch_size",
    "num_samples",
    "k",
    "num_points",
    "dim",
)
# Sizes past these are absurd on any machine this code targets (they would exhaust memory or
# time long before a result); refusing them early beats an out-of-memory traceback.
_MAX_SIZE = 10**7
_MAX = {"num_layers": 100}
_POSITIVE_NUM = ("lr", "learning_rate")
_NON_NEGATIVE = (
    "weight_decay",
    "beta",
    "noise_std",
    "dropout",
    "steps_per_scan",
    "checkpoint_every_steps",
    "max_checkpoints",
    "num_train",
    "num_test",
    "seed",
)


def validate(config: ConfigDict, prefix: str = "") -> None:
    """Generic sanity checks on sizes and rates; families add their own."""
    for k, v in config.items():
        name = f"{prefix}{k}"
        if isinstance(v, ConfigDict):
            validate(v, name + ".")
            continue
        if isinstance(v, bool) or not isinstance(v, int | float):
            if k in _POSITIVE_INT + _POSITIVE_NUM and v is not None:
                raise ConfigError(f"config key {name!r} must be a number, got {v!r}")
            continue
        if isinstance(v, float) and not math.isfinite(v):
            raise ConfigError(f"config key {name!r} must be finite, got {v!r}")
        if isinstance(v, int) and not -(2**31) < v < 2**31:
            raise ConfigError(f"config key {name!r} is out of range (|v| < 2**31), got {v!r}")
        if k in _POSITIVE_INT and (v <= 0 or v != int(v)):
            raise ConfigError(f"config key {name!r} must be a positive integer, got {v!r}")
        if k in _POSITIVE_INT and v > _MAX.get(k, _MAX_SIZE):
            raise ConfigError(
                f"config key {name!r} = {v!r} is absurdly large (at most {_MAX.get(k, _MAX_SIZE)})"
            )
        if k in _POSITIVE_NUM and not 0 < v < 1e3:
            raise ConfigError(f"config key {name!r} must be in (0, 1000), got {v!r}")
        if k in _NON_NEGATIVE and v < 0:
            raise ConfigError(f"config key {name!r} must be >= 0, got {v!r}")
        if isinstance(v, float) and v != v:
            raise ConfigError(f"config key {name!r} is NaN")
    for k in ("features", "hidden_sizes"):
        if k in config and config[k] is not None:
            sizes = config[k]
            if not all(isinstance(s, int) and not isinstance(s, bool) and s > 0 for s in sizes):
                raise ConfigError(f"config key {prefix}{k!r} must hold positive integers")


def parse_argv(argv: Sequence[str]) -> tuple[dict[str, str], list[tuple[str, str]]]:
    """Splits `--flag value`/`--flag=value` flags from `--config.key=value` overrides."""
    flags: dict[str, str] = {}
    overrides: list[tuple[str, str]] = []
    args = list(argv)
    i = 0
    while i < len(args):
        a = args[i]
        if not a.startswith("--"):
            raise ConfigError(f"unexpected argument {a!r}")
        name, eq, value = a[2:].partition("=")
        if not eq:
            if i + 1 >= len(args) or args[i + 1].startswith("--"):
                if name.startswith("config."):
                    raise ConfigError(f"override {a!r} needs a value: {a}=VALUE")
                flags[name] = "true"
                i += 1
                continue
            value = args[i + 1]
            i += 1
        if name.startswith("config."):
            overrides.append((name[len("config.") :], value))
        else:
            flags[name] = value
        i += 1
    return flags, overrides


def to_json(config: ConfigDict) -> str:
    return json.dumps(config.to_dict(), indent=2, sort_keys=True, default=str)


def from_json(text: str | bytes, source: str = "config.json") -> ConfigDict:
    """Rebuilds a locked config from `config.json` (tuples come back as tuples).

    Raises:
      ConfigError: `text` is not a JSON object (a garbled or truncated file, bytes that
        are not UTF-8); `source` names it in the message.
    """

    def fix(v: Any) -> Any:
        if isinstance(v, dict):
            return {k: fix(x) for k, x in v.items()}
        if isinstance(v, list):
            return tuple(fix(x) for x in v)
        return v

    try:
        raw = json.loads(text)
    except ValueError as e:
        raise ConfigError(f"{source} is not valid JSON ({e}); the run folder is damaged") from None
    if not isinstance(raw, dict):
        raise ConfigError(f"{source} holds no config (a JSON object); the run folder is damaged")
    for group in ("model", "dataset", "train", "optimizer"):
        if group in raw and not isinstance(raw[group], dict):
            raise ConfigError(
                f"{source} has '{group}' as a {type(raw[group]).__name__}, not a section; the run "
                "folder is damaged"
            )
    config = ConfigDict(_with_defaults(fix(raw)))
    config.lock()
    return config


def _with_defaults(raw: dict) -> dict:
    """Adds the keys a run config lacks (written before they existed) at their defaults.

    Every key added to a family keeps the old behaviour at its default, so a run folder from
    an older jaxgen loads and resumes as it trained. Keys are only added, never changed.
    """
    model = raw.get("model")
    if not isinstance(model, dict) or not isinstance(model.get("family"), str):
        return raw
    try:
        module = importlib.import_module(f"jaxgen.families.{model['family']}")
        dataset = raw.get("dataset", {}).get("name", "mnist")
        defaults = base_config(model["family"], dataset).to_dict()
        defaults["model"] = module.model_config().to_dict()
    except Exception:  # An unknown family is reported where the family is built.
        return raw

    def fill(into: dict, default: dict) -> None:
        for k, v in default.items():
            if k not in into:
                into[k] = v
            elif isinstance(into[k], dict) and isinstance(v, dict):
                fill(into[k], v)

    fill(raw, defaults)
    return raw
