"""Configs: locked, typed overrides; every bad input is one line and exit status 2."""

from __future__ import annotations

import pytest

from jaxgen.config import build, from_json, override, parse_argv, to_json
from jaxgen.errors import ConfigError
from tests.conftest import run_cli, tiny_ae_config

CONFIG = "experiments/pca_vs_ae.py"


@pytest.mark.parametrize(
    "key,text,expected",
    [
        ("optimizer.lr", "3e-4", 3e-4),
        ("optimizer.lr", "1", 1.0),  # An int where a float is expected is widened.
        ("train.num_epochs", "7", 7),
        ("train.progress", "false", False),
        ("model.activation", "relu", "relu"),
        ("dataset.classes", "(1, 2)", (1, 2)),
        ("dataset.classes", "[3]", (3,)),
    ],
)
def test_override_parses_to_the_field_type(key, text, expected):
    c = tiny_ae_config()
    c.lock()
    override(c, key, text)
    node = c
    for part in key.split("."):
        node = node[part]
    assert node == expected
    assert type(node) is type(expected)


@pytest.mark.parametrize(
    "key,text,message",
    [
        ("optimizer.lrr", "1e-3", "did you mean optimizer.lr"),
        ("train.num_epochs", "ten", "train.num_epochs"),
        ("train.num_epochs", "1.5", "expected int"),
        ("train.progress", "maybe", "expected a bool"),
        ("train", "3", "is a group"),
        ("optimizer..lr", "3", "malformed"),
    ],
)
def test_bad_override_names_the_key(key, text, message):
    c = tiny_ae_config()
    c.lock()
    with pytest.raises(ConfigError, match=message):
        override(c, key, text)


def test_build_validates_impossible_values():
    with pytest.raises(ConfigError, match="must be a positive integer"):
        build(CONFIG, [("ferris.train.batch_size", "0")])
    with pytest.raises(ConfigError, match="must be in"):
        build(CONFIG, [("ferris.optimizer.lr", "-1.0")])


def test_parse_argv_splits_flags_and_overrides():
    flags, overrides = parse_argv(
        ["--config", "x.py", "--workdir=runs/x", "--config.optimizer.lr=3e-4"]
    )
    assert flags == {"config": "x.py", "workdir": "runs/x"}
    assert overrides == [("optimizer.lr", "3e-4")]
    with pytest.raises(ConfigError, match="needs a value"):
        parse_argv(["--config.optimizer.lr"])


def test_json_round_trip_keeps_types():
    c = tiny_ae_config()
    back = from_json(to_json(c))
    assert back.to_dict() == c.to_dict()
    assert isinstance(back.dataset.classes, tuple)


def test_a_run_config_from_before_a_key_existed_loads_with_its_default():
    import json

    from jaxgen.families import gan

    old = json.loads(to_json(gan.config("ring8")))
    del old["model"]["g_ema"], old["train"]["steps_per_scan"]  # keys added after the run
    old["model"]["pack"] = 4  # what the run did set is kept
    back = from_json(json.dumps(old))
    assert back.model.g_ema == 0.0 and back.train.steps_per_scan == 0
    assert back.model.pack == 4
    assert back.to_dict().keys() == gan.config("ring8").to_dict().keys()


@pytest.mark.parametrize(
    "args,needle",
    [
        (
            ["--config", CONFIG, "--workdir", "WD", "--config.ferris.optimizer.lrr=1"],
            "optimizer.lr",
        ),
        (
            ["--config", CONFIG, "--workdir", "WD", "--config.ferris.train.num_epochs=x"],
            "num_epochs",
        ),
        (["--config", "experiments/nope.py", "--workdir", "WD"], "not found"),
        (["--config", "README.md", "--workdir", "WD"], "not a Python file"),
        (["--config", CONFIG], "--workdir"),
    ],
)
def test_cli_rejects_bad_input_in_one_line(tmp_path, args, needle):
    args = [a.replace("WD", str(tmp_path / "run")) for a in args]
    proc = run_cli(*args)
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and needle in lines[0], proc.stderr
    assert "Traceback" not in proc.stderr
    assert not (tmp_path / "run").exists()  # Nothing half-written.
