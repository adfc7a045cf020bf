"""The registry of make targets is the one source of the Makefile rules and the README table."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from experiments import registry

ROOT = Path(__file__).resolve().parent.parent
CONFIG_TARGETS = [t for t in registry.TARGETS if t.config]
# Targets of the project itself, not experiments: they stay out of the README's table.
HOUSEKEEPING = {"setup", "test", "lint", "format", "clean", "list", "registry", "$(STAMP)"}


def _makefile_rules() -> set[str]:
    text = (ROOT / "Makefile").read_text() + (ROOT / "experiments.mk").read_text()
    return set(re.findall(r"^([a-z0-9$()_.-]+):", text, re.M))


def test_generated_files_are_current():
    assert (ROOT / "experiments.mk").read_text() == registry.makefile_fragment(), (
        "experiments.mk is stale: run `make registry`"
    )
    assert registry.readme_table() in (ROOT / "README.md").read_text(), (
        "the README's table of targets is stale: run `make registry`"
    )


def test_every_target_has_exactly_one_rule_and_every_rule_a_target():
    names = [t.name for t in registry.TARGETS]
    assert len(names) == len(set(names))
    rules = _makefile_rules()
    assert set(names) <= rules, set(names) - rules
    assert rules - HOUSEKEEPING <= set(names), rules - HOUSEKEEPING - set(names)
    hand = (ROOT / "Makefile").read_text()
    for t in CONFIG_TARGETS:  # generated, never also typed by hand
        assert not re.search(rf"^{re.escape(t.name)}:", hand, re.M), t.name
    for t in registry.TARGETS:
        assert t.what or t.alias_of in registry.by_name(), t


@pytest.mark.parametrize("target", CONFIG_TARGETS, ids=lambda t: t.name)
def test_config_target_runs_a_config_whose_docstring_names_it(target):
    file, _, variant = target.config.partition(":")
    path = ROOT / "experiments" / file
    doc = ast.get_docstring(ast.parse(path.read_text()))
    assert doc and f"make {target.name}" in doc, f"{file}'s docstring does not name {target.name}"
    module = {}
    exec(compile(path.read_text(), str(path), "exec"), module)  # noqa: S102 (our own file)
    module["get_config"](variant or None)  # the variant exists


def test_every_make_command_named_in_the_repo_is_a_target():
    rules = _makefile_rules()
    named = set()
    for path in sorted((ROOT / "experiments").glob("*.py")):
        named |= set(re.findall(r"[\"'(]make ([a-z0-9-]+)", path.read_text()))
    named |= set(re.findall(r"`make ([a-z0-9-]+)", (ROOT / "README.md").read_text()))
    assert named, "found no make commands: the pattern is wrong"
    assert named <= rules, named - rules
