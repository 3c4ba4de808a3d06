"""NIR export and import: Euler-equivalent parameters, lossy constructs reported, round trips,
the NIR paper's graphs, and broken files as diagnostics."""

import io
import os
import pathlib

import h5py
import numpy as np
import pytest
from simulate import compile_text, load_module

import snnc
from snnc.backends.nir import NirBackend
from snnc.backends.nir.export import export_graph
from snnc.backends.nir.importer import import_graph
from snnc.cli import main
from snnc.diagnostics import Diagnostics

nir = pytest.importorskip("nir")

ROOT = pathlib.Path(__file__).resolve().parents[1]
PAPER = ROOT.parent / "shared" / "fixtures" / "nir-paper"
if not PAPER.is_dir():  # CI lays shared/ beside the clone
    PAPER = pathlib.Path(os.environ.get("SNNC_SHARED", ROOT.parent / "shared")) / "fixtures" / \
        "nir-paper"

FEEDFORWARD = """
network f {{ dt = 1 ms
 integration = {integration} }}
input x[6]
population h: CubaLIF[5] {{ tau_mem = 20 ms
 tau_syn = 5 ms
 threshold = 0.4 }}
population g: LIF[4] {{ tau_mem = 10 ms
 threshold = 0.3 }}
readout out: LI[3] {{ tau_mem = 15 ms }}
x -> h: dense {{ weight = normal(0.4, 0.2) }}
h -> g: sparse(p = 0.5) {{ weight = normal(0.5, 0.2) }}
h -> h: dense {{ weight = normal(0, 0.2) }}
g -> out: dense {{ weight = normal(0, 0.5) }}
"""


def test_exported_parameters_make_euler_reproduce_the_decay():
    for integration in ("exact", "euler"):
        net = compile_text(FEEDFORWARD.format(integration=integration))
        graph = export_graph(net, snnc.__version__)
        h = graph.nodes["h"]
        a_mem = np.exp(-1 / 20) if integration == "exact" else 1 - 1 / 20
        assert isinstance(h, nir.CubaLIF)
        # forward Euler at dt decays by 1 - dt/tau: the exported tau gives back a_mem
        assert np.allclose(1 - 1e-3 / h.tau_mem, a_mem, rtol=1e-12)
        assert np.allclose(h.w_in, h.tau_syn / 1e-3) and np.allclose(h.r, h.tau_mem / 1e-3)
        assert graph.metadata["dt"] == 1e-3 and graph.metadata["integration"] == integration
        assert sorted(graph.edges) == sorted(set(graph.edges))
        assert ("h", "h->h") in graph.edges and ("h->h", "h") in graph.edges


def test_export_is_deterministic_and_readable_by_nir():
    net = compile_text(FEEDFORWARD.format(integration="exact"))
    first = NirBackend().emit(net)["network.nir"]
    assert first == NirBackend().emit(compile_text(FEEDFORWARD.format(integration="exact")))[
        "network.nir"]
    graph = nir.read(io.BytesIO(first))
    assert {"x", "h", "g", "out", "x->h", "h->g", "h->h", "g->out", "out.output"} <= \
        set(graph.nodes)


@pytest.mark.parametrize("snippet,code", [
    ("reset = subtract", "E502"), ("reset = none", "E502"), ("refractory = 2", "E504"),
    ("bias = 0.1", "E506"), ("v_init = 0.2", "E507"),
])
def test_constructs_nir_cannot_express_are_errors_unless_lossy(snippet, code):
    net = compile_text(FEEDFORWARD.format(integration="exact").replace("threshold = 0.3",
                                                                       "threshold = 0.3\n" + snippet))
    diag = Diagnostics()
    NirBackend().check(net, diag)
    assert [d.code for d in diag.items] == [code] and diag.items[0].span.file == "t.snn"
    lossy = Diagnostics()
    NirBackend(allow_lossy=True).check(net, lossy)
    assert [d.code for d in lossy.items] == ["W" + code[1:]] and not lossy.has_errors


def test_learning_rules_go_to_metadata_and_are_reported():
    path = ROOT / "examples" / "stdp.snn"
    diag = Diagnostics()
    net = snnc.compile_file(str(path), diag)
    NirBackend().check(net, diag)
    assert [d.code for d in diag.items if d.code.endswith("505")] == ["W505"]
    graph = export_graph(net, snnc.__version__)
    assert '"rule": "stdp"' in graph.metadata["learning"]


def test_allow_lossy_takes_names():
    net = compile_text(FEEDFORWARD.format(integration="exact").replace(
        "threshold = 0.3", "threshold = 0.3\nreset = subtract\nbias = 0.1"))
    for allow, codes in [("", ["E502", "E506"]), ("reset", ["E506", "W502"]),
                         ("bias", ["E502", "W506"]), ("reset,bias", ["W502", "W506"]),
                         ("all", ["W502", "W506"]), (True, ["W502", "W506"]),
                         (("reset",), ["E506", "W502"])]:
        diag = Diagnostics()
        NirBackend(allow_lossy=allow).check(net, diag)
        assert sorted(d.code for d in diag.items) == codes, allow
    diag = Diagnostics()
    NirBackend().check(net, diag)
    (reset,) = [d for d in diag.items if d.code == "E502"]
    assert "--allow-lossy" in reset.hint and "change of dynamics" in reset.message


def test_allow_lossy_names_are_checked():
    import argparse

    from snnc.backends.nir import lossy_names
    assert lossy_names("reset, bias") == "reset,bias"
    with pytest.raises(argparse.ArgumentTypeError, match="'resets'.*reset, adaptation"):
        lossy_names("resets")


def graphs_equal(a, b):
    assert set(a.nodes) == set(b.nodes)
    assert sorted(a.edges) == sorted(b.edges)
    for name in a.nodes:
        left, right = a.nodes[name], b.nodes[name]
        assert type(left) is type(right), name
        for key, value in vars(left).items():
            if key in ("metadata", "input_type", "output_type"):
                continue
            other = getattr(right, key)
            if isinstance(value, np.ndarray) or isinstance(other, np.ndarray):
                assert np.allclose(value, other, rtol=1e-9, atol=1e-12), (name, key)
            else:
                assert value == other, (name, key)


def round_trip(net, tmp_path):
    first = export_graph(net, snnc.__version__)
    path = tmp_path / "a.nir"
    nir.write(str(path), first)
    diag = Diagnostics()
    text, arrays = import_graph(str(path), diag, None, "again", "again.npz")
    (tmp_path / "again.snn").write_text(text)
    np.savez(tmp_path / "again.npz", **arrays)
    again = snnc.compile_file(str(tmp_path / "again.snn"), diag)
    assert again is not None, [snnc.render(d, diag.sources) for d in diag.items]
    return first, export_graph(again, snnc.__version__), again


@pytest.mark.parametrize("text", [
    FEEDFORWARD.format(integration="euler"),
    FEEDFORWARD.format(integration="exact"),
    (ROOT / "examples" / "conv_events.snn").read_text(),
])
def test_snn_to_nir_to_snn_to_nir_gives_equal_graphs(text, tmp_path):
    first, second, _ = round_trip(compile_text(text), tmp_path)
    graphs_equal(first, second)


def test_imported_network_spikes_like_the_original(tmp_path):
    net = compile_text(FEEDFORWARD.format(integration="euler"))
    _, _, again = round_trip(net, tmp_path)
    x = np.random.default_rng(0).random((200, 6)) < 0.3
    a = load_module(net, tmp_path / "a").Simulation().run(200, {"x": x}, record=["h.s", "g.s"])
    b = load_module(again, tmp_path / "b").Simulation().run(200, {"x": x},
                                                             record=["h.s", "g.s"])
    assert a["h.s"].any() and a["g.s"].any()
    assert np.array_equal(a["h.s"], b["h.s"]) and np.array_equal(a["g.s"], b["g.s"])


@pytest.mark.skipif(not PAPER.is_dir(), reason="the shared NIR paper fixtures are not present")
def test_the_nir_paper_lif_task_spikes_where_norse_and_snntorch_did(tmp_path, capsys):
    out = tmp_path / "lif.snn"
    assert main(["import-nir", str(PAPER / "01_lif" / "lif_norse.nir"), "--dt", "1e-4",
                 "-o", str(out)]) == 0
    diag = Diagnostics()
    net = snnc.compile_file(str(out), diag)
    data = np.loadtxt(PAPER / "01_lif" / "lif_norse.csv", delimiter=",")
    module = load_module(net, tmp_path / "sim")
    spikes = module.Simulation().run(len(data), {"input_": data[:, 0].reshape(-1, 1)},
                                     record=["n1.s"])["n1.s"][:, 0, 0]
    assert np.flatnonzero(spikes).tolist() == [460, 510, 710, 760]
    assert np.flatnonzero(data[:, 2]).tolist() == [460, 510, 710, 760]  # Norse's own trace


@pytest.mark.skipif(not PAPER.is_dir(), reason="the shared NIR paper fixtures are not present")
@pytest.mark.parametrize("graph,options", [
    ("03_rnn/braille_noDelay_bias_zero.nir", ("--reset", "zero")),
    # trained with snnTorch's subtract and reset_delay=False, which snnc cannot express: stated
    # as snnTorch's default here only to import a real graph through the CubaLIF rewriting
    ("03_rnn/braille_noDelay_noBias_subtract.nir", ("--reset", "snntorch_subtract")),
    ("02_cnn/cnn_sinabs.nir", ()),
    ("01_lif/debug_spike_representation/two_lif_neurons.nir", ())])
def test_published_graphs_import_and_compile(graph, options, tmp_path, capsys):
    out = tmp_path / "net.snn"
    assert main(["import-nir", str(PAPER / graph), "--dt", "1e-4", "-o", str(out),
                 *options]) == 0
    diag = Diagnostics()
    assert snnc.check_file(str(out), diag) is not None


@pytest.mark.skipif(not PAPER.is_dir(), reason="the shared NIR paper fixtures are not present")
@pytest.mark.parametrize("graph", ["03_rnn/braille_noDelay_bias_zero.nir",
                                   "03_rnn/braille_noDelay_noBias_subtract.nir"])
def test_published_snntorch_graphs_need_their_reset_stated(graph, tmp_path, capsys):
    """The Braille graphs were written by snnTorch, which records no reset: never guessed."""
    assert main(["import-nir", str(PAPER / graph), "--dt", "1e-4",
                 "-o", str(tmp_path / "x.snn")]) == 1
    err = capsys.readouterr().err
    assert "E619" in err and "export_to_nir" in err and "'lif1.lif', 'lif2'" in err
    assert not (tmp_path / "x.snn").exists()


@pytest.mark.skipif(not PAPER.is_dir(), reason="the shared NIR paper fixtures are not present")
@pytest.mark.parametrize("graph,code", [
    ("01_lif/lif_rockpool.nir", "E611"),
    ("03_rnn/extras/braille_noDelay_bias_zero_subgraph.nir", "E611"),
    ("03_rnn/extras/braille_noDelay_noBias_subtract_subgraph.nir", "E611"),
])
def test_broken_published_graphs_are_diagnostics(graph, code, tmp_path, capsys):
    assert main(["import-nir", str(PAPER / graph), "--dt", "1e-4",
                 "-o", str(tmp_path / "x.snn")]) == 1
    err = capsys.readouterr().err
    assert code in err and "Traceback" not in err
    assert not (tmp_path / "x.snn").exists()


def small_graph(**lif):
    params = dict(tau=np.array([0.01]), r=np.array([1.0]), v_leak=np.array([0.0]),
                  v_threshold=np.array([1.0]))
    params.update(lif)
    return nir.NIRGraph(nodes={"input": nir.Input(input_type={"input": np.array([1])}),
                               "w": nir.Linear(weight=np.ones((1, 1))),
                               "lif": nir.LIF(**params),
                               "output": nir.Output(output_type={"output": np.array([1])})},
                        edges=[("input", "w"), ("w", "lif"), ("lif", "output")],
                        type_check=False)


def write_graph(path, graph):
    nir.write(str(path), graph)
    return path


@pytest.mark.parametrize("make,code", [
    (lambda p: p.write_text("not a nir file"), "E610"),
    (lambda p: p.write_bytes(write_graph(p, small_graph()).read_bytes()[:300]), "E610"),
    (lambda p: write_graph(p, small_graph(tau=np.array([np.nan]))), "E613"),
    (lambda p: write_graph(p, small_graph(tau=np.array([-0.01]))), "E613"),
])
def test_broken_files_are_diagnostics(make, code, tmp_path, capsys):
    path = tmp_path / "g.nir"
    make(path)
    assert main(["import-nir", str(path), "--dt", "1e-3", "-o", str(tmp_path / "x.snn")]) == 1
    err = capsys.readouterr().err
    assert code in err and "Traceback" not in err


def test_unknown_node_types_and_dangling_edges_and_missing_dt(tmp_path, capsys):
    path = write_graph(tmp_path / "g.nir", small_graph())
    with h5py.File(path, "r+") as handle:
        del handle["node/nodes/lif/type"]
        handle["node/nodes/lif"].create_dataset("type", data="Spiky",
                                                dtype=h5py.string_dtype())
    assert main(["import-nir", str(path), "--dt", "1e-3", "-o", str(tmp_path / "x.snn")]) == 1
    assert "E612" in capsys.readouterr().err and True
    path = write_graph(tmp_path / "h.nir", small_graph())
    with h5py.File(path, "r+") as handle:
        edges = handle["node/edges"]
        data = [list(e) for e in edges[()]]
        del handle["node/edges"]
        data.append([b"lif", b"ghost"])
        handle["node"].create_dataset("edges", data=np.array(data))
    assert main(["import-nir", str(path), "--dt", "1e-3", "-o", str(tmp_path / "y.snn")]) == 1
    assert "E611" in capsys.readouterr().err
    good = write_graph(tmp_path / "k.nir", small_graph())
    assert main(["import-nir", str(good), "-o", str(tmp_path / "z.snn")]) == 1
    assert "E614" in capsys.readouterr().err


@pytest.mark.parametrize("node", [
    lambda: nir.Threshold(threshold=np.array([1.0])),
    lambda: nir.I(r=np.array([1.0])),
])
def test_node_types_without_an_snn_equivalent_are_refused_by_name(node, tmp_path, capsys):
    made = node()
    graph = nir.NIRGraph(nodes={"input": nir.Input(input_type={"input": np.array([1])}),
                                "odd": made,
                                "output": nir.Output(output_type={"output": np.array([1])})},
                         edges=[("input", "odd"), ("odd", "output")], type_check=False)
    path = write_graph(tmp_path / "g.nir", graph)
    assert main(["import-nir", str(path), "--dt", "1e-3", "-o", str(tmp_path / "x.snn")]) == 1
    err = capsys.readouterr().err
    assert "E612" in err and f"'odd' is a {type(made).__name__}" in err


# ---- the peers' own exports (backends/nir/import_peers.py; the peers themselves: tests/peers) ----

def lif_graph(tau, r=1.0, v_reset=0.0, reset=None, metadata=None):
    """Input[3] -> Linear -> LIF[3] -> Output, as a peer writes it (no dt unless given)."""
    n = 3
    lif = nir.LIF(tau=np.full(n, tau), r=np.full(n, r), v_leak=np.zeros(n),
                  v_threshold=np.ones(n), v_reset=np.full(n, v_reset))
    if reset is not None:
        lif.metadata = {"reset": reset}
    return nir.NIRGraph(nodes={"input": nir.Input(input_type={"input": np.array([n])}),
                               "w": nir.Linear(weight=np.eye(n)), "lif": lif,
                               "output": nir.Output(output_type={"output": np.array([n])})},
                        edges=[("input", "w"), ("w", "lif"), ("lif", "output")],
                        metadata=metadata or {})


def import_text(graph, tmp_path, dt=None, reset=None):
    path = tmp_path / "g.nir"
    nir.write(str(path), graph)
    diag = Diagnostics()
    result = import_graph(str(path), diag, dt, "g", "g.npz", reset=reset)
    return (result[0] if result else None), diag


def test_norse_time_constant_bug_is_corrected_with_a_warning(tmp_path):
    dt = 1e-3  # Norse writes tau = dt * (1 / tau_mem_inv): 15 ms becomes 1.5e-5 s
    text, diag = import_text(lif_graph(15e-3 * dt), tmp_path, dt, reset="zero")
    assert text is not None and "tau_mem = 0.015 s" in text, text
    (warning,) = diag.items
    assert warning.code == "W619" and "Norse 1.1.0's to_nir writes tau = dt / tau_mem_inv" \
        in warning.message
    # a LIF node (Norse's LIFBoxCell) resets by reset_value or reset_subtract: never guessed
    text, diag = import_text(lif_graph(15e-3 * dt), tmp_path, dt)
    assert text is None and [d.code for d in diag.items] == ["W619", "E619"]
    assert "LIF nodes 'lif'" in diag.items[1].message and "--reset" in diag.items[1].hint


def test_time_constants_below_dt_that_are_not_norse_s_stay_e613(tmp_path):
    text, diag = import_text(lif_graph(1e-7), tmp_path, 1e-3)  # 1e-7 / dt is not above dt
    assert text is None and [d.code for d in diag.items] == ["E613"]
    assert "smaller --dt" not in diag.items[0].hint
    # a graph that says its dt is read as it says, never corrected
    text, diag = import_text(lif_graph(15e-6, metadata={"dt": 1e-3}), tmp_path)
    assert text is None and [d.code for d in diag.items] == ["E613"]


@pytest.mark.parametrize("reset,expect", [(None, "E619"), ("zero", "reset = zero"),
                                          ("none", "reset = none"), ("subtract", "E619"),
                                          ("snntorch_subtract", "N619")])
def test_snntorch_signature_needs_its_reset_stated(reset, expect, tmp_path):
    """snnTorch's export records no reset, and its default subtract is not snnc's: refused
    (E619) unless stated; 'subtract' is ambiguous on such a graph (E619 too)."""
    text, diag = import_text(lif_graph(1e-3, r=10.0), tmp_path, 1e-4, reset=reset)
    codes = [d.code for d in diag.items]
    if expect == "E619":
        assert text is None and codes == ["E619"]
        assert ("does not record the reset mechanism" if reset is None else
                "--reset snntorch_subtract") in diag.items[0].message
    elif expect == "N619":
        assert codes == ["N619"] and "reset = subtract" in text and "v_init" in text
    else:
        assert expect in text and not codes


@pytest.mark.parametrize("reset,expect", [("zero", "reset = zero"),
                                          ("subtract", "reset = subtract"),
                                          ("snntorch_none", "reset = none"),
                                          ("snntorch_subtract", "N619"), ("half", "E619")])
def test_reset_in_node_metadata(reset, expect, tmp_path):
    text, diag = import_text(lif_graph(1e-3, r=10.0, reset=reset), tmp_path, 1e-4)
    if expect == "E619":
        assert text is None and [d.code for d in diag.items] == [expect]
        assert repr(reset) in diag.items[0].message
    elif expect == "N619":
        assert [d.code for d in diag.items] == ["N619"] and "reset = subtract" in text
    else:
        assert expect in text and not diag.items


def test_snntorch_subtract_is_imported_exactly(tmp_path):
    """Oracle: snnTorch's Leaky subtract written out, mem <- beta mem + I - threshold r with
    r = [mem > threshold] of the previous step, against the import of a graph whose node
    metadata says 'snntorch_subtract' (threshold / beta subtracted at the spike, shifted)."""
    n, steps, dt, tau, threshold = 3, 400, 1e-4, np.array([1e-3, 5e-4, 2e-3]), 1.0
    graph = lif_graph(1e-3, r=10.0, reset="snntorch_subtract")
    graph.nodes["lif"].tau, graph.nodes["lif"].r = tau, tau / dt
    graph.nodes["w"].weight = np.array([[0.6, 0, 0], [0.3, 0.5, 0], [0, 0.2, 0.9]])
    nir.write(str(tmp_path / "g.nir"), graph)
    diag = Diagnostics()
    text, arrays = import_graph(str(tmp_path / "g.nir"), diag, dt, "g", "g.npz")
    (tmp_path / "g.snn").write_text(text)
    np.savez(tmp_path / "g.npz", **arrays)
    net = snnc.compile_file(str(tmp_path / "g.snn"), diag)
    assert net is not None, [d.message for d in diag.items]
    x = np.random.default_rng(3).random((steps, n)) < 0.4
    ours = load_module(net, tmp_path / "sim").Simulation().run(
        steps, {"input_": x}, record=["lif.s"])["lif.s"][:, 0]
    beta, mem, spikes = 1 - dt / tau, np.zeros(n), []
    for step in range(steps):
        reset = mem > threshold
        mem = beta * mem + graph.nodes["w"].weight @ x[step] - threshold * reset
        spikes.append(mem > threshold)
    spikes = np.array(spikes)
    assert 20 < spikes.sum() < 0.5 * spikes.size
    assert np.array_equal(ours.astype(bool), spikes)


def test_snnc_lossy_export_round_trips_its_subtractive_reset(tmp_path):
    net = compile_text(FEEDFORWARD.format(integration="euler").replace(
        "threshold = 0.3", "threshold = 0.3\nreset = subtract"))
    path = tmp_path / "n.nir"
    path.write_bytes(NirBackend(allow_lossy="reset").emit(net)["network.nir"])
    diag = Diagnostics()
    text, _ = import_graph(str(path), diag, None, "n", "n.npz")
    assert "reset = subtract" in text and not diag.has_errors


def test_allow_lossy_swallowing_the_program_is_a_usage_error_with_a_hint(tmp_path, capsys):
    with pytest.raises(SystemExit) as stop:
        main(["compile", "--emit", "nir", "--allow-lossy", "examples/cuba.snn",
              "-o", str(tmp_path / "out")])
    assert stop.value.code == 2
    err = capsys.readouterr().err
    assert "unknown loss 'examples/cuba.snn'" in err and "--allow-lossy=all" in err
    assert not (tmp_path / "out").exists()
