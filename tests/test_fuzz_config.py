"""Property-based fuzzing of the command line: every bad config is exit status 2, one line
naming the key, never a traceback, and no run folder.

Runs `jaxgen.main.main` in-process (the CLI's code path without its imports); training itself
is replaced by the loop's pre-flight `prepare` (data, family, shapes, memory), which is
everything that can reject a config before the run folder is created.
"""

from __future__ import annotations

import importlib.util
import string

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from jaxgen import main as cli
from tests.conftest import ROOT

CONFIG = """
from tests.conftest import tiny_ae_config
def get_config(arg=None):
    return tiny_ae_config()
"""


# The key tables and the pre-flight patch are `make fuzz`'s (scripts/fuzz.py), shared here.
_spec = importlib.util.spec_from_file_location("fuzz", ROOT / "scripts" / "fuzz.py")
fuzz = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(fuzz)
LEAVES, GROUPS, INTS, FLOATS, BOOLS = fuzz.LEAVES, fuzz.GROUPS, fuzz.INTS, fuzz.FLOATS, fuzz.BOOLS
Accepted = fuzz.Accepted

SIZES = [
    "train.batch_size",
    "train.num_epochs",
    "train.eval_batch_size",
    "num_seeds",
    "model.code_size",
    "model.hidden_size",
    "model.num_layers",
    "dataset.num_points",
    "dataset.dim",
]
ENUMS = [
    "optimizer.name",
    "optimizer.schedule",
    "model.activation",
    "model.loss",
    "model.kind",
    "model.arch",
    "dataset.binarize",
    "dataset.name",
    "model.family",
]


@pytest.fixture(scope="module")
def config_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("fuzz") / "fuzz_cfg.py"
    path.write_text(CONFIG)
    return path


@pytest.fixture(scope="module")
def preflight_only():
    restore = fuzz.preflight_only()
    yield
    restore()


def _run(config_file, tmp_path, capsys, args):
    workdir = tmp_path / "run"
    argv = ["--config", str(config_file), "--workdir", str(workdir), *args]
    try:
        code = cli.main(argv)
    except Accepted:
        code = None
    out, err = capsys.readouterr()
    assert "Traceback" not in err + out
    assert not workdir.exists(), "a rejected config must not create its run folder"
    return code, err.strip().splitlines()


def _rejected(config_file, tmp_path, capsys, args, key):
    code, err = _run(config_file, tmp_path, capsys, args)
    assert code == 2, (args, code, err)
    assert len(err) == 1, (args, err)
    if key is not None:
        assert key in err[0], (args, err)


FUZZ = settings(
    max_examples=12,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
    derandomize=True,
)
IDENT = st.text(string.ascii_lowercase + "_", min_size=1, max_size=12)


@FUZZ
@given(group=st.sampled_from(["", *GROUPS]), name=IDENT)
def test_unknown_keys(config_file, tmp_path, capsys, preflight_only, group, name):
    key = f"{group}.{name}" if group else name
    if key in LEAVES or key in GROUPS:
        return
    _rejected(config_file, tmp_path, capsys, [f"--config.{key}=1"], repr(key))


_NOT_INT = st.one_of(
    st.floats(allow_nan=False, allow_infinity=False).filter(lambda f: f != int(f)).map(repr),
    IDENT.filter(lambda s: s not in ("true", "false")),
    st.lists(st.integers(), min_size=1, max_size=3).map(repr),
    st.just("{}"),
)


@FUZZ
@given(key=st.sampled_from(INTS), text=_NOT_INT)
def test_wrong_types_for_ints(config_file, tmp_path, capsys, preflight_only, key, text):
    _rejected(config_file, tmp_path, capsys, [f"--config.{key}={text}"], key)


@FUZZ
@given(
    key=st.sampled_from(FLOATS + BOOLS),
    text=st.one_of(IDENT, st.just("[1, 2]"), st.just("'x'"), st.just("None")),
)
def test_wrong_types_for_floats_and_bools(config_file, tmp_path, capsys, preflight_only, key, text):
    if text.lower() in ("true", "false", "yes", "no"):
        return
    _rejected(config_file, tmp_path, capsys, [f"--config.{key}={text}"], key)


@FUZZ
@given(key=st.sampled_from(SIZES), value=st.integers(max_value=0))
def test_zero_and_negative_sizes(config_file, tmp_path, capsys, preflight_only, key, value):
    _rejected(config_file, tmp_path, capsys, [f"--config.{key}={value}"], key)


@FUZZ
@given(key=st.sampled_from(SIZES), value=st.integers(min_value=10**8, max_value=10**40))
def test_absurdly_large_sizes(config_file, tmp_path, capsys, preflight_only, key, value):
    _rejected(config_file, tmp_path, capsys, [f"--config.{key}={value}"], key)


@FUZZ
@given(
    key=st.sampled_from(FLOATS),
    text=st.sampled_from(["1e999", "-1e999", "1e400"]),
)
def test_infinite_floats(config_file, tmp_path, capsys, preflight_only, key, text):
    _rejected(config_file, tmp_path, capsys, [f"--config.{key}={text}"], key)


@FUZZ
@given(key=st.sampled_from(ENUMS), value=IDENT)
def test_unknown_choices_name_their_key(config_file, tmp_path, capsys, preflight_only, key, value):
    if value == LEAVES[key]:
        return
    code, err = _run(config_file, tmp_path, capsys, [f"--config.{key}={value}"])
    if code is None:  # Some choices are free-form (e.g. a known name by chance).
        return
    assert code == 2 and len(err) == 1 and key in err[0], (key, value, err)


@FUZZ
@given(
    key=st.sampled_from(INTS + FLOATS),
    value=st.one_of(st.integers(-(10**12), 10**12), st.floats(allow_nan=False)),
)
def test_any_number_is_accepted_or_refused_in_one_line(
    config_file, tmp_path, capsys, preflight_only, key, value
):
    code, err = _run(config_file, tmp_path, capsys, [f"--config.{key}={value!r}"])
    assert code is None or (code == 2 and len(err) == 1), (key, value, err)


MALFORMED = st.one_of(
    st.sampled_from(
        [
            ["--config."],
            ["--config.=1"],
            ["--config..lr=1"],
            ["--config.optimizer..lr=1"],
            ["--config.optimizer.lr."],
            ["--config.optimizer.lr.=1"],
            ["--config.optimizer.lr"],
            ["--config.optimizer.lr==1"],
            ["--config.train=3"],
            ["config.optimizer.lr=1"],
            ["-config.optimizer.lr=1"],
            ["--conifg.optimizer.lr=1"],
            ["--config.optimizer.lr=1e-3", "stray"],
        ]
    ),
    st.lists(st.text(min_size=1, max_size=20), min_size=1, max_size=3),
)


@FUZZ
@given(args=MALFORMED)
def test_malformed_override_syntax(config_file, tmp_path, capsys, preflight_only, args):
    code, err = _run(config_file, tmp_path, capsys, args)
    if code is None:  # Random text can spell a valid override by chance.
        return
    assert code == 2 and len(err) == 1, (args, err)
