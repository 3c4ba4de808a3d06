"""Speck: layers, memories and the layer-to-core assignment as sinabs 3.1.3 computes them.

The oracle is sinabs itself (``DynapcnnLayer.memory_summary``, ``get_valid_mapping`` with
``get_constraints`` of speck2fdevkit), with samna stubbed (docs/synsense.md, 4). Without sinabs
or torch those tests skip, unless SNNC_REQUIRE_SINABS=1 (then they fail). CI installs:

    pip install torch==2.13.0 --index-url https://download.pytorch.org/whl/cpu
    pip install pbr==7.1.3
    pip install --no-deps nirtorch==2.6 sinabs==3.1.3

(nir, numpy and matplotlib come with snnc's own dependencies; samna, which sinabs also
requires, is not installed.)
"""

from __future__ import annotations

import importlib.machinery
import json
import os
import sys
import types
from pathlib import Path
from unittest.mock import MagicMock

import pytest

from snnc import api
from snnc.cli import main
from snnc.diagnostics import Diagnostics
from snnc.mapping import speck

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "tests" / "fixtures" / "speck"
FEASIBLE = {"conv_events": ROOT / "examples" / "conv_events.snn",
            "conv_events_if": FIXTURES / "conv_events_if.snn",
            "moved": FIXTURES / "moved.snn", "funnel": FIXTURES / "funnel.snn"}


def load(path: Path):
    diag = Diagnostics()
    net = api.load_network(str(path), diag)
    assert net is not None and not diag.has_errors, [d.message for d in diag.items]
    return net


def mapped(path: Path) -> speck.SpeckMapping:
    diag = Diagnostics()
    found = speck.check(load(path), diag)
    assert found is not None, [(d.code, d.message) for d in diag.items]
    return found


# -- sinabs, the oracle ---------------------------------------------------------------------------
class _Stub(types.ModuleType):
    """A samna module whose every attribute is a MagicMock."""

    def __getattr__(self, name):
        if name.startswith("__"):
            raise AttributeError(name)
        value = MagicMock()
        setattr(self, name, value)
        return value


class _SamnaFinder:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in ("samna", "samnagui"):
            return importlib.machinery.ModuleSpec(name, self, is_package=True)
        return None

    def create_module(self, spec):
        module = _Stub(spec.name)
        module.__path__ = []
        return module

    def exec_module(self, module):
        pass


@pytest.fixture(scope="module")
def sinabs():
    """(torch.nn, sinabs.layers, DynapcnnNetwork, get_valid_mapping, constraints)."""
    finder = _SamnaFinder()
    sys.meta_path.insert(0, finder)
    try:
        import sinabs.layers as sl
        import torch.nn as nn
        from sinabs.backend.dynapcnn import DynapcnnNetwork
        from sinabs.backend.dynapcnn.chip_factory import ChipFactory
        from sinabs.backend.dynapcnn.mapping import get_valid_mapping
    except ImportError as error:
        if os.environ.get("SNNC_REQUIRE_SINABS") == "1":
            pytest.fail(f"SNNC_REQUIRE_SINABS=1 but sinabs is not importable: {error}")
        pytest.skip(f"sinabs 3.1.3 and torch are needed for the oracle: {error}")
    finally:
        sys.meta_path.remove(finder)
    constraints = ChipFactory("speck2fdevkit").get_config_builder().get_constraints()
    return nn, sl, DynapcnnNetwork, get_valid_mapping, constraints


def torch_network(net, nn, sl):
    """The snnc network as sinabs's nn.Sequential, translated from the IR on its own:
    conv2d -> Conv2d, sumpool2d -> Conv2d(c, c, k, stride) (the pooled population has neurons),
    dense -> Flatten + Linear; a bias where the population sets 'bias'; IAFSqueeze after each.
    Returns (model, input shape)."""
    (source,) = net.inputs()
    modules, node = [], source.name
    for population in net.populations():
        (p,) = net.incoming(population.name)
        assert p.pre == node, "a chain in declaration order"
        c, pre = p.connectivity, net.node(p.pre).shape
        bias = "bias" in population.spans  # set in the program (the fixtures set it nonzero)
        if c.kind == "conv2d":
            modules.append(nn.Conv2d(pre[0], c.channels, c.kernel, stride=c.stride,
                                     padding=c.padding, bias=bias))
        elif c.kind == "sumpool2d":
            modules.append(nn.Conv2d(pre[0], pre[0], c.kernel, stride=c.stride, bias=bias))
        else:
            size = 1
            for n in pre:
                size *= n
            modules += [nn.Flatten(), nn.Linear(size, population.size, bias=bias)]
        modules.append(sl.IAFSqueeze(batch_size=1))
        node = population.name
    return nn.Sequential(*modules), tuple(source.shape)


@pytest.mark.parametrize("name", sorted(FEASIBLE))
def test_memories_and_cores_equal_sinabs(sinabs, name):
    nn, sl, DynapcnnNetwork, get_valid_mapping, constraints = sinabs
    net = load(FEASIBLE[name])
    model, shape = torch_network(net, nn, sl)
    theirs = DynapcnnNetwork(model, input_shape=shape, discretize=False)
    summary = theirs.memory_summary()
    assignment = get_valid_mapping(theirs.dynapcnn_layers, constraints)
    ours = mapped(FEASIBLE[name])
    assert [layer.need for layer in ours.layers] == [
        (int(summary["kernel"][i]), int(summary["neuron"][i]), int(summary["bias"][i]))
        for i in sorted(summary["kernel"])]
    assert list(ours.cores) == [assignment[i] for i in sorted(assignment)]


@pytest.mark.parametrize("fixture", ["kernel_memory.snn", "split_memories.snn",
                                     "ten_layers.snn", "no_matching.snn"])
def test_sinabs_refuses_what_snnc_refuses(sinabs, fixture):
    nn, sl, DynapcnnNetwork, get_valid_mapping, constraints = sinabs
    model, shape = torch_network(load(FIXTURES / fixture), nn, sl)
    theirs = DynapcnnNetwork(model, input_shape=shape, discretize=False)
    with pytest.raises(ValueError, match="No valid mapping found"):
        get_valid_mapping(theirs.dynapcnn_layers, constraints)


def test_matching_equals_sinabs_on_candidate_lists(sinabs):
    """edmonds_matching against sinabs's make_flow_graph/edmonds/recover_mapping on core lists
    (every subset pattern of three layers, and longer lists with displacements)."""
    from sinabs.backend.dynapcnn import mapping as theirs
    cases = [[[0, 1, 2], list(range(5)), [3, 4, 5, 6], [5, 6], list(range(9))],
             [list(range(5)), [0, 1, 2], [0, 1, 2], [0, 1, 2]],
             [[5, 6], [3, 4, 5, 6], [5], [3], [0, 1, 2, 3, 4], [4]],
             [[8], [7, 8], [6, 7, 8], [0, 8], [0, 1]]]
    cases += [[[c for c in range(3) if mask >> (3 * i + c) & 1] or [7] for i in range(3)]
              for mask in range(0, 512, 7)]
    for candidates in cases:
        graph = theirs.edmonds(theirs.make_flow_graph(candidates, 9), 0,
                               len(candidates) + 9 + 1)
        try:
            expected = theirs.recover_mapping(graph, len(candidates))
        except ValueError:
            assert None in speck.edmonds_matching(candidates), candidates
            continue
        assert speck.edmonds_matching(candidates) == expected, candidates


# -- the same figures from the closed forms, without sinabs ---------------------------------------
def test_conv_events_layers():
    """examples/conv_events.snn, by hand from memory_summary's formulas (docs/synsense.md 3.2):
    conv1 2 -> 16, 3 x 3, 34 x 34 out: kernel 2 * 2^(4 + 4) = 512, neuron 16 * 2^(6 + 6) =
    65,536; pool1 (16 -> 16, 2 x 2): 16 * 2^(2 + 4) = 1,024, 16 * 2^(5 + 5) = 16,384; conv2
    16 -> 32, 9 x 9 out: 16 * 2^(4 + 5) = 8,192, 32 * 2^(4 + 4) = 8,192; the dense readout a
    9 x 9 convolution 32 -> 10: 32 * 2^(7 + 4) = 65,536, neuron 10."""
    found = mapped(FEASIBLE["conv_events"])
    assert [layer.population for layer in found.layers] == ["conv1", "pool1", "conv2", "classes"]
    assert [layer.need for layer in found.layers] == [
        (512, 65536, 0), (1024, 16384, 0), (8192, 8192, 0), (65536, 10, 0)]
    assert found.cores == (0, 1, 2, 5)


def test_matching_moves_an_earlier_layer():
    """docs/synsense.md 3.3 (run with sinabs's functions): the first layer is moved."""
    assert speck.edmonds_matching([list(range(5)), [0, 1, 2], [0, 1, 2], [0, 1, 2]]) == \
        [3, 1, 2, 0]
    assert speck.edmonds_matching([[0, 1, 2], list(range(5)), [3, 4, 5, 6], [5, 6],
                                   list(range(9))]) == [0, 1, 3, 5, 2]
    assert mapped(FEASIBLE["moved"]).cores == (3, 1, 2, 0)


def test_matching_is_maximum():
    """A perfect matching exists exactly when Hall's condition holds (brute force)."""
    from itertools import combinations, permutations
    cases = [[[0], [0, 1], [1]], [[0, 1], [0, 1], [0, 1]], [[2], [0, 2], [0, 1, 2], [1]]]
    for candidates in cases:
        perfect = any(all(core in fitting for core, fitting in zip(p, candidates, strict=True))
                      for p in permutations(range(9), len(candidates)))
        found = speck.edmonds_matching(candidates)
        assert (None not in found) == perfect
        if perfect:
            assert len(set(found)) == len(found)
            assert all(core in fitting for core, fitting in zip(found, candidates, strict=True))
        hall = all(len(set().union(*(candidates[i] for i in group))) >= len(group)
                   for size in range(1, len(candidates) + 1)
                   for group in combinations(range(len(candidates)), size))
        assert hall == perfect


# -- refusals -------------------------------------------------------------------------------------
REFUSED = [
    ("kernel_memory.snn", "E401", ["layer 'b'", "kernel memory 131,072", "no Speck core",
                                   "kernel 131,072 fits no core (largest 65,536)"]),
    ("split_memories.snn", "E401", ["layer 'b'", "kernel 32,768 fits cores 3, 4, 5, 6",
                                    "neuron 65,536 fits cores 0, 1, 2"]),
    ("ten_layers.snn", "E402", ["10 layers", "9 cores"]),
    ("three_destinations.snn", "E403", ["layer 'a'", "3 layers (b, c, d)", "2 destinations"]),
    ("stride3.snn", "E405", ["layer 'a'", "stride 3", "1, 2, 4, 8"]),
    ("no_matching.snn", "E408", ["layer 'd'", "neuron memory 65,536", "cores 0, 1, 2 only",
                                 "a, b, c"]),
]


@pytest.mark.parametrize("fixture, code, parts", REFUSED)
def test_refusals(fixture, code, parts):
    diag = Diagnostics()
    assert speck.check(load(FIXTURES / fixture), diag) is None
    (error,) = list(diag.errors())
    assert error.code == code and error.hint and error.span is not None
    for part in parts:
        assert part in error.message, (part, error.message)


HEADER = """network t {
  dt = 1 ms
}
neuron N = IF {
  threshold = 1
}
"""
MORE = [
    ("input x[2, 6, 8]\npopulation a: N[10]\nx -> a: dense { weight = 1 }",
     ["layer 'a'", "[2, 6, 8]", "6 x 8 convolution", "square"]),
    ("input x[3, 8, 8]\npopulation a: N[4, 8, 8]\n"
     "x -> a: conv2d(kernel = 3, stride = 1, padding = 1, channels = 4) { weight = 1 }",
     ["input 'x'", "3 channels", "(the DVS) has 2"]),
    ("input x[2, 20, 20]\npopulation a: N[10]\nx -> a: dense { weight = 1 }",
     ["layer 'a'", "20 x 20 kernel", "16 x 16"]),
    ("input x[2]\npopulation a: N[2000]\nx -> a: dense { weight = 1 }",
     ["layer 'a'", "2,000 output channels", "1,024"]),
    ("input x[2]\npopulation a: N[4]\nx -> a: one_to_one { weight = 1 }",
     ["layer 'a'", "one_to_one connectivity", "no DYNAP-CNN weight layer"]),
]


@pytest.mark.parametrize("body, parts", MORE)
def test_interface_refusals(tmp_path, body, parts):
    path = tmp_path / "t.snn"
    path.write_text(HEADER + body + "\n")
    diag = Diagnostics()
    assert speck.check(load(path), diag) is None
    (error,) = list(diag.errors())
    assert error.code == "E405" and error.hint
    for part in parts:
        assert part in error.message, (part, error.message)


def test_cuba_refused_with_reasons():
    diag = Diagnostics()
    assert speck.check(load(ROOT / "examples" / "cuba.snn"), diag) is None
    messages = [(d.code, d.message) for d in diag.errors()]
    assert {code for code, _ in messages} == {"E405"}
    text = "\n".join(message for _, message in messages)
    for part in ("recurrent projection 'exc->exc' makes a cycle",
                 "recurrent projection 'inh->inh' makes a cycle",
                 "sparse connectivity ('inh->exc') is no DYNAP-CNN weight layer",
                 "sparse connectivity ('exc->inh') is no DYNAP-CNN weight layer",
                 "layer 'exc' has 2 incoming projections"):
        assert part in text, part


def test_cli_map_speck(tmp_path, capsys):
    out = tmp_path / "m"
    code = main(["map", str(FIXTURES / "conv_events_if.snn"), "--target", "speck", "-o",
                 str(out), "--format", "json"])
    assert code == 0, capsys.readouterr()
    doc = json.loads((out / "mapping.json").read_text())
    assert doc["partition"] == "speck" and doc["cores_used"] == 4
    assert [(row["layer"], row["core"], row["kernel_memory"], row["neuron_memory"])
            for row in doc["layers"]] == [("conv1", 0, 512, 65536), ("pool1", 1, 1024, 16384),
                                          ("conv2", 2, 8192, 8192), ("classes", 5, 65536, 10)]
    assert doc["layers"][3]["core_kernel_memory"] == 65536
    assert {s["population"]: s["core"] for s in doc["slices"]} == {
        "conv1": 0, "pool1": 1, "conv2": 2, "classes": 5}


def test_cli_map_speck_refused(tmp_path, capsys):
    code = main(["map", str(FIXTURES / "no_matching.snn"), "--target", "speck", "-o",
                 str(tmp_path / "m")])
    assert code == 1
    err = capsys.readouterr().err
    assert "error[E408]" in err and "layer 'd'" in err and "hint:" in err


@pytest.mark.parametrize("fixture, code, parts", REFUSED)
def test_snnc_check_refuses_what_snnc_map_refuses(fixture, code, parts, capsys):
    """check-fit runs Speck's layer checks too: `snnc check --target speck` reports the same
    diagnostic as `snnc map`, before any mapping is asked for."""
    status = main(["check", str(FIXTURES / fixture), "--target", "speck"])
    err = capsys.readouterr().err
    assert status == 1 and f"error[{code}]" in err, err
    assert all(part in err for part in parts), err


@pytest.mark.parametrize("fixture", ["conv_events_if", "funnel", "moved"])
def test_snnc_check_accepts_what_fits_speck(fixture, capsys):
    assert main(["check", str(FIXTURES / f"{fixture}.snn"), "--target", "speck"]) == 0, \
        capsys.readouterr().err


def test_a_target_based_on_speck_maps_layers_onto_its_own_cores(tmp_path, capsys):
    """A custom target keeps its base's layer mapping (its family), on the cores it states:
    with Speck's nine the same assignment as speck; with three, conv_events' four layers are
    refused (E402); with six, 'classes' (kernel memory 65,536) still finds core 5."""
    text = (FIXTURES / "conv_events_if.snn").read_text()
    for cores, expected in ((9, [0, 1, 2, 5]), (6, [0, 1, 2, 5]), (3, None)):
        source = tmp_path / f"speck_{cores}.snn"
        source.write_text(text + f"\ntarget my_speck {{\n  base = speck\n  cores = {cores}\n}}\n")
        out = tmp_path / f"m{cores}"
        code = main(["map", str(source), "--target", "my_speck", "-o", str(out)])
        err = capsys.readouterr().err
        if expected is None:
            assert code == 1 and "error[E402]" in err and "4 layers" in err \
                and "3 cores" in err, err
            continue
        assert code == 0, err
        doc = json.loads((out / "mapping.json").read_text())
        assert doc["partition"] == "speck"
        assert [row["core"] for row in doc["layers"]] == expected
    source = tmp_path / "speck_5.snn"
    source.write_text(text + "\ntarget my_speck {\n  base = speck\n  cores = 5\n}\n")
    assert main(["check", str(source), "--target", "my_speck"]) == 1
    err = capsys.readouterr().err
    assert "error[E401]" in err and "'classes'" in err, err
