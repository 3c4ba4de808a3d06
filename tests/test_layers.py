"""The import graph keeps the layers apart (issue 14, item 1).

* No backend imports another backend: ``snnc.backends.<a>`` never imports ``snnc.backends.<b>``;
  what backends share lives in ``snnc.backends`` itself (``templates``, ``artifacts``) or below
  the backends (``snnc.ir.discrete``, the discrete model every backend consumes).
* Nothing in the compiler's core (front end, IR, passes, targets, mapping and the modules they
  use) imports a backend, the CLI, the Python API or the trainer; only those layers on top may
  reach the backends.

Imports are read from the source with :mod:`ast`, including imports inside functions.
"""

from __future__ import annotations

import ast
import pathlib

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
PACKAGES = {"compiler": ("snnc",), "backends": ("snnc", "backends")}

#: the layers on top of the backends: they may import anything
TOP = {"cli", "api", "training", "__main__"}


def module_name(path: pathlib.Path) -> str:
    relative = path.relative_to(ROOT)
    parts = [*PACKAGES[relative.parts[0]], *relative.with_suffix("").parts[1:]]
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imports(path: pathlib.Path) -> list[tuple[str, int]]:
    """(imported snnc module, line) for every import in ``path``, at any depth."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module] + [f"{node.module}.{alias.name}" for alias in node.names]
            found += [(name, node.lineno) for name in names if name.startswith("snnc")]
        elif isinstance(node, ast.Import):
            found += [(a.name, node.lineno) for a in node.names if a.name.startswith("snnc")]
    return found


def sources() -> list[pathlib.Path]:
    return sorted(p for folder in PACKAGES for p in (ROOT / folder).rglob("*.py"))


def backend_of(module: str) -> str | None:
    """The backend package a module belongs to (``reference`` for snnc.backends.reference.x),
    None for ``snnc.backends`` itself, its shared modules and everything else."""
    parts = module.split(".")
    if len(parts) >= 3 and parts[:2] == ["snnc", "backends"] and \
            (ROOT / "backends" / parts[2]).is_dir():
        return parts[2]
    return None


def test_the_graph_is_read():
    names = {module_name(p) for p in sources()}
    assert {"snnc.cli", "snnc.ir.discrete", "snnc.backends.lava.graph"} <= names
    edges = {(module_name(p), target) for p in sources() for target, _ in imports(p)}
    assert ("snnc.backends.lava.graph", "snnc.ir.discrete") in edges


@pytest.mark.parametrize("path", sources(), ids=lambda p: str(p.relative_to(ROOT)))
def test_no_backend_imports_another_backend(path):
    own = backend_of(module_name(path))
    if own is None:
        return
    crossing = [f"line {line}: {target}" for target, line in imports(path)
                if backend_of(target) not in (None, own)]
    assert not crossing, f"{path.name} (backend {own}) imports another backend: {crossing}"


@pytest.mark.parametrize("path", sources(), ids=lambda p: str(p.relative_to(ROOT)))
def test_the_core_never_imports_a_backend_or_a_layer_above(path):
    name = module_name(path)
    parts = name.split(".")
    if parts[:2] == ["snnc", "backends"] or (len(parts) > 1 and parts[1] in TOP):
        return
    upward = [f"line {line}: {target}" for target, line in imports(path)
              if target.split(".")[1:2] and (target.split(".")[1] in TOP | {"backends"})]
    assert not upward, f"{name} is in the compiler's core but imports {upward}"
