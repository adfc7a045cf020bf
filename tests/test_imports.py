"""The import structure: no import cycles, and the family contract stays light.

Issue 19 removed two cycles (`jaxgen.config` <-> `jaxgen.data` <-> `jaxgen.data.loaders`,
`benchmarks.profile` <-> `benchmarks.sections`), both closed by imports inside functions;
this keeps them, and any new one, out (the check finds both at the commit before the fix).
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def module_graph(root: Path, packages: tuple[str, ...], lazy: bool = False) -> dict[str, set[str]]:
    """Module -> the modules of `packages` it imports at module level, and with `lazy` also
    inside functions.

    `from pkg import sub` depends on `pkg.sub` when that is a module; an import of a name
    defined in a package's `__init__` depends on that `__init__`.
    """
    files = {}
    for pkg in packages:
        for path in (root / pkg).rglob("*.py"):
            parts = path.relative_to(root).with_suffix("").parts
            files[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    graph: dict[str, set[str]] = {}
    for name, path in files.items():
        is_pkg = path.name == "__init__.py"
        deps = set()
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree) if lazy else tree.body:
            if isinstance(node, ast.Import):
                deps |= {a.name for a in node.names}
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    here = name.split(".") if is_pkg else name.split(".")[:-1]
                    up = here[: len(here) - node.level + 1]
                    base = ".".join(up + ([base] if base else []))
                subs = {f"{base}.{a.name}" for a in node.names}
                deps |= subs & files.keys()
                if not subs <= files.keys():
                    deps.add(base)
        graph[name] = {d for d in deps if d in files and d != name}
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle as a list of modules (first = last), or None."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done

    def visit(u: str, path: list[str]) -> list[str] | None:
        state[u] = 1
        for v in sorted(graph[u]):
            if state.get(v) == 1:
                return path[path.index(v) :] + [v]
            if v not in state and (found := visit(v, path + [v])):
                return found
        state[u] = 2
        return None

    for m in sorted(graph):
        if m not in state and (found := visit(m, [m])):
            return found
    return None


def test_the_cycle_finder_finds_a_cycle_through_a_package_init(tmp_path):
    (tmp_path / "p" / "data").mkdir(parents=True)
    (tmp_path / "p" / "__init__.py").write_text("")
    (tmp_path / "p" / "config.py").write_text("from p.data import load\n")
    (tmp_path / "p" / "data" / "__init__.py").write_text("from .loaders import load\n")
    (tmp_path / "p" / "data" / "loaders.py").write_text(
        "import json\nfrom p import config\n\ndef load():\n    from p import late\n"
    )
    (tmp_path / "p" / "late.py").write_text("from p.config import x\n")
    graph = module_graph(tmp_path, ("p",))
    assert graph["p.data.loaders"] == {"p.config"}  # the import inside load() is lazy
    assert find_cycle(graph) == ["p.config", "p.data", "p.data.loaders", "p.config"]
    (tmp_path / "p" / "data" / "loaders.py").write_text("def load():\n    from p import late\n")
    assert find_cycle(module_graph(tmp_path, ("p",))) is None
    # A cycle closed by an import inside a function is still a cycle (the kind).
    lazy = module_graph(tmp_path, ("p",), lazy=True)
    assert find_cycle(lazy) == ["p.config", "p.data", "p.data.loaders", "p.late", "p.config"]


@pytest.mark.parametrize("packages", [("jaxgen",), ("benchmarks",), ("experiments",)])
def test_no_import_cycle_even_through_imports_inside_functions(packages):
    graph = module_graph(ROOT, packages, lazy=True)
    assert len(graph) > 5
    assert find_cycle(graph) is None


def test_the_family_contract_does_not_import_the_loop():
    code = "import sys, jaxgen.train.family; print('jaxgen.train.loop' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "False"
