"""The import graph keeps the layers apart (issue 14, item 1).

* Every module has a layer (:data:`LAYERS`) and imports only modules of its own layer or below:
  base (0) -> front end (1) -> IR (2) -> passes (3) -> backends (4) -> top (5).
* Only the front end and the lowering (``snnc.frontend.*``, ``snnc.ir.lower*``) import the
  syntax tree ``snnc.frontend.ast``; everything after the lowering reads the IR.

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
TOP = {"cli", "api", "facade", "training", "peers", "__main__"}

#: module (or package) name -> layer; a module takes the layer of its longest listed prefix.
#: 0 base: no IR, no syntax; 1 front end; 2 IR (lowering, discrete model); 3 passes and the
#: analyses over the IR; 4 backends; 5 top: the commands, the Python API, the trainer, the
#: package facade ``snnc`` (imported *as a target* only for ``__version__``, see
#: :func:`resolve`).
LAYERS = {
    "snnc.diagnostics": 0, "snnc.units": 0, "snnc.literals": 0, "snnc.functions": 0,
    "snnc.models": 0, "snnc.vocabulary": 0, "snnc.files": 0, "snnc.machine": 0,
    "snnc.output": 0, "snnc.output_checks": 0, "snnc.stdlib": 0, "snnc.recordings": 0,
    "snnc.source_stamp": 0,
    "snnc.frontend": 1,
    "snnc.ir": 2, "snnc.weights": 2,
    "snnc.passes": 3, "snnc.targets": 3, "snnc.mapping": 3, "snnc.memory": 3,
    "snnc.reports": 3, "snnc.datasets": 3,
    "snnc.backends": 4,
    "snnc": 5, "snnc.cli": 5, "snnc.api": 5, "snnc.facade": 5, "snnc.training": 5,
    "snnc.plots": 5, "snnc.peers": 5, "snnc.__main__": 5,
}
LAYER_NAMES = ("base", "front end", "IR", "passes", "backends", "top")

#: the syntax tree, and the modules that may import it
SYNTAX_TREE = "snnc.frontend.ast"


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
    if parts[:2] == ["snnc", "backends"] or (len(parts) > 1 and parts[1] in TOP) or \
            name == "snnc":  # the package root is the facade (layer 5: snnc.load_network, ...)
        return
    upward = [f"line {line}: {target}" for target, line in imports(path)
              if target.split(".")[1:2] and (target.split(".")[1] in TOP | {"backends"})]
    assert not upward, f"{name} is in the compiler's core but imports {upward}"


def layer(module: str) -> int | None:
    """The layer of ``module``: that of its longest prefix in :data:`LAYERS` (None: unlisted;
    the bare package ``snnc`` is listed on its own, so it prefixes nothing)."""
    parts = module.split(".")
    for end in range(len(parts), 1, -1):
        prefix = ".".join(parts[:end])
        if prefix in LAYERS:
            return LAYERS[prefix]
    return LAYERS.get(module)


def resolve(target: str, modules: set[str]) -> str | None:
    """The module an imported name belongs to (``snnc.ir.discrete.decay`` ->
    ``snnc.ir.discrete``). None for the package root ``snnc`` itself (``from snnc import
    __version__``): Python runs ``snnc/__init__`` before any submodule anyway, so importing
    the root is no edge of the graph."""
    parts = target.split(".")
    for end in range(len(parts), 1, -1):
        prefix = ".".join(parts[:end])
        if prefix in modules:
            return prefix
    return None


def module_names() -> set[str]:
    return {module_name(p) for p in sources()}


def test_every_module_has_a_layer():
    unlisted = sorted(m for m in module_names() if layer(m) is None)
    assert not unlisted, f"give these modules a layer in LAYERS: {unlisted}"


def test_the_layers_are_read():
    assert layer("snnc.files") == 0 and layer("snnc.frontend.ast") == 1
    assert layer("snnc.ir.discrete") == 2 and layer("snnc.passes.check_ranges") == 3
    assert layer("snnc.backends.nir.export") == 4 and layer("snnc.cli.run") == 5
    assert layer("snnc") == 5 and resolve("snnc", module_names()) is None
    assert resolve("snnc.ir.discrete.decay", module_names()) == "snnc.ir.discrete"


@pytest.mark.parametrize("path", sources(), ids=lambda p: str(p.relative_to(ROOT)))
def test_no_module_imports_a_higher_layer(path):
    name, modules = module_name(path), module_names()
    own = layer(name)
    upward = []
    for target, line in imports(path):
        module = resolve(target, modules)
        if module is not None and module != name and (layer(module) or 0) > own:
            upward.append(f"line {line}: {module} ({LAYER_NAMES[layer(module)]})")
    assert not upward, f"{name} ({LAYER_NAMES[own]}) imports a higher layer: {sorted(set(upward))}"


def may_import_the_syntax_tree(module: str) -> bool:
    """The front end, the lowering, and the package root, whose ``snnc.parse`` hands the
    syntax tree (``Module``) to Python users as the front end's result."""
    return module.startswith("snnc.frontend.") or module.startswith("snnc.ir.lower") \
        or module == "snnc"


@pytest.mark.parametrize("path", sources(), ids=lambda p: str(p.relative_to(ROOT)))
def test_only_the_front_end_and_the_lowering_import_the_syntax_tree(path):
    name = module_name(path)
    if may_import_the_syntax_tree(name):
        return
    lines = sorted({line for target, line in imports(path)
                    if resolve(target, module_names()) == SYNTAX_TREE})
    assert not lines, f"{name} imports {SYNTAX_TREE} (lines {lines}): only the front end and " \
        "the lowering read the syntax tree; later stages read the IR"
