"""Every shipped example exports to NIR with default flags, or is refused only for a change of
dynamics that NIR cannot express, named (issue 15): learning rules never block the export (they
go into the graph's metadata with W505), and the refusals are the lossy codes of
:data:`snnc.backends.nir.LOSSES` other than learning, each saying what changes."""

from __future__ import annotations

import pathlib

import nir
import pytest

from snnc import Diagnostics, api
from snnc.backends.nir import LOSSES

ROOT = pathlib.Path(__file__).resolve().parents[1]
EXAMPLES = sorted((ROOT / "examples").rglob("*.snn"))
DYNAMICS = {code for name, code in LOSSES.items() if name != "learning"}


def export(path: pathlib.Path):
    diag = Diagnostics()
    net = api.compile_network(str(path), diag)
    assert net is not None, [d.message for d in diag.items]
    files = api.emit_artifacts(net, "nir", diag)
    return files, diag, net


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: str(p.relative_to(ROOT / "examples")))
def test_example_exports_or_is_refused_for_a_named_change_of_dynamics(path, tmp_path):
    files, diag, net = export(path)
    errors = list(diag.errors())
    if files is None:
        assert errors
        for error in errors:
            assert error.code in DYNAMICS, (error.code, error.message)
            assert "change of dynamics" in error.message and "'" in error.message
        return
    assert not errors
    learning = [d for d in diag.items if d.code == "W505"]
    assert len(learning) == sum(1 for p in net.projections() if p.rules)
    (tmp_path / "network.nir").write_bytes(files["network.nir"])
    graph = nir.read(str(tmp_path / "network.nir"))
    assert {p.name for p in net.populations()} <= set(graph.nodes)


def test_learning_rules_alone_never_block_the_export():
    """The examples that learn and have only NIR-expressible dynamics export by default."""
    results = {path: export(path) for path in EXAMPLES}
    learners = [path.name for path, (files, _, net) in results.items()
                if files is not None and any(p.rules for p in net.projections())]
    assert len(learners) >= 2, learners
