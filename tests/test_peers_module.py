"""snnc.peers without the peers: a missing peer is a clear message (the peers themselves run
it in tests/peers)."""

import importlib

import numpy as np
import pytest

from snnc import peers


def test_a_missing_peer_names_the_module_and_the_install(monkeypatch):
    real = importlib.import_module

    def without_norse(name, *args):
        if name == "norse":
            raise ModuleNotFoundError("No module named 'norse'")
        return real(name, *args)

    monkeypatch.setattr(peers.importlib, "import_module", without_norse)
    with pytest.raises(peers.PeerMissing, match=r"needs .*norse \(ModuleNotFoundError.*"
                                                r"pip install torch==2\.13\.0"):
        peers.run("graph.nir", np.zeros((3, 1, 2)), peer="norse")
    assert issubclass(peers.PeerMissing, ImportError)


def test_an_unknown_peer_is_named():
    with pytest.raises(ValueError, match="unknown peer 'lava': choose from norse, snntorch"):
        peers.require("lava")


def test_the_layers_place_the_module_on_top():
    from test_layers import LAYERS, TOP
    assert "peers" in TOP and LAYERS["snnc.peers"] == 5


def small_graph():
    """x -> a (LIF, recurrent) -> r (LI readout); x -> b (CubaLIF)."""
    import nir
    n = 3
    lif = nir.LIF(tau=np.full(n, 0.02), r=np.ones(n), v_leak=np.zeros(n),
                  v_threshold=np.ones(n), v_reset=np.zeros(n))
    cuba = nir.CubaLIF(tau_syn=np.full(n, 0.01), tau_mem=np.full(n, 0.02), r=np.full(n, 20.0),
                       v_leak=np.zeros(n), v_threshold=np.ones(n), v_reset=np.zeros(n),
                       w_in=np.full(n, 10.0), metadata={"reset": "subtract"})
    nodes = {"x": nir.Input(input_type={"input": np.array([n])}), "a": lif, "b": cuba,
             "r": nir.LI(tau=np.full(n, 0.02), r=np.full(n, 20.0), v_leak=np.zeros(n)),
             "x->a": nir.Linear(weight=np.eye(n)), "a->a": nir.Linear(weight=np.eye(n)),
             "a->r": nir.Linear(weight=np.eye(n)), "x->b": nir.Linear(weight=np.eye(n)),
             "r.output": nir.Output(output_type={"output": np.array([n])})}
    edges = [("x", "x->a"), ("x->a", "a"), ("a", "a->a"), ("a->a", "a"), ("a", "a->r"),
             ("a->r", "r"), ("x", "x->b"), ("x->b", "b"), ("r", "r.output")]
    return nir.NIRGraph(nodes=nodes, edges=edges, metadata={"dt": 1e-3})


def test_record_names_follow_snnc_run():
    pytest.importorskip("nir")  # the test extra installs it
    graph = small_graph()
    assert peers.parse_record(graph, ["a.s", "r.v", "b.v"]) == [
        ("a.s", "a", "s"), ("r.v", "r", "v"), ("b.v", "b", "v")]
    with pytest.raises(KeyError, match=r"no node 'q'.*neuron nodes are a, b, r"):
        peers.parse_record(graph, ["q.v"])
    with pytest.raises(ValueError, match=r"node 'r' is LI, which has no spikes; record 'r.v'"):
        peers.parse_record(graph, ["r.s"])
    with pytest.raises(ValueError, match=r"node 'x->a' is Linear, which has no membrane"):
        peers.parse_record(graph, ["x->a.v"])
    with pytest.raises(ValueError, match=r"'<node>.s' \(spikes\) or '<node>.v'"):
        peers.parse_record(graph, ["a.i"])


def test_recorded_nodes_are_grouped_under_one_output_each():
    """nirtorch 2.6 takes one Output node per model: the readout carries its input layer, the
    unrelated layer gets a model of its own."""
    pytest.importorskip("nir")
    graph = small_graph()
    assert peers.groups(graph, {"a", "r", "b"}) == {"r": ["a", "r"], "b": ["b"]}
    assert peers.ancestors(graph, "a") == {"a", "x->a", "x", "a->a"}


def test_resets_a_peer_does_not_carry_are_refused_by_name():
    pytest.importorskip("nir")
    graph = small_graph()
    peers.check_resets(graph, "norse", {"b"})  # Norse: reset_subtract
    with pytest.raises(ValueError, match=r"snntorch cannot run node 'b' \(CubaLIF\) with its "
                                         r"reset 'subtract'"):
        peers.check_resets(graph, "snntorch", {"b", "r"})
    graph.nodes["a"].metadata = {"reset": "none"}
    with pytest.raises(ValueError, match=r"norse cannot run node 'a' \(LIF\) with its reset "
                                         r"'none'"):
        peers.check_resets(graph, "norse", {"r"})
