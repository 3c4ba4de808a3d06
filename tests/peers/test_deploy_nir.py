"""From training to deployment through NIR (issue 15): the trained Randman network, exported to
NIR, runs in Norse and snnTorch through ``snnc.peers`` with the predictions of snnc on every
test sample and the same spikes.

The oracle is snnc itself: ``snnc run`` of the frozen program that ``snnc train`` writes, on the
test split, whose accuracy is the trainer's logged one (tests/test_deploy.py). The peers get the
NIR file of ``snnc compile --emit nir`` and the test split's input spikes; their readout
membranes (``record=["out.v"]``) decide the class as the trainer does
(:func:`snnc.training.metrics.evaluate` with the loss's reduction).

- ``examples/randman/eprop_random_zero.snn`` (reset to zero, which NIR expresses): both peers.
- ``examples/randman/eprop_random.snn`` (snnc's subtract reset, exported with ``--allow-lossy
  reset``, which records it in the node's metadata): Norse carries it (decay, spike, subtract,
  snnc's order); snnTorch cannot and refuses by name (forced through, 11,124 of 22,734 spikes
  differ on this set, on every sample, and 12 of 50 predictions).

Small sizes (50 test samples of 50 steps, 3 epochs): about 18 s of CPU time in all, training
and the peers' step-by-step runs included (under 40 s of wall time on two cores shared with
other jobs). The full-size figures (1,000 test samples) are in the README, section "Train,
then deploy".
"""

from __future__ import annotations

import json
import pathlib

import numpy as np
import pytest

from snnc import peers, recordings
from snnc.api import load_network
from snnc.cli import main
from snnc.diagnostics import Diagnostics
from snnc.training.metrics import REDUCTIONS, evaluate

ROOT = pathlib.Path(__file__).resolve().parents[2]
ZERO = ROOT / "examples" / "randman" / "eprop_random_zero.snn"
SUBTRACT = ROOT / "examples" / "randman" / "eprop_random.snn"
DATA = "randman:samples=50,steps=50,seed=3"  # 500 samples of 10 classes; 50 test samples
PEERS = ["norse", "snntorch"]


def deploy(example: pathlib.Path, folder: pathlib.Path, *export_flags: str) -> dict:
    """Train ``example`` 3 epochs, export its frozen program to NIR, run snnc on the test split.
    Returns the paths, the test split, snnc's recordings, the logged accuracy, the reduction."""
    data = folder / "data.npz"
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("SNNC_CACHE_DIR", str(folder / "cache"))
        patch.setenv("SNNC_NO_NUMBA", "1")  # numpy kernels: no compilation at this size
        assert main(["train", str(example), "--data", DATA, "--epochs", "3", "--batch", "16",
                     "-o", str(folder / "run"), "--save-data", str(data)]) == 0
        frozen = str(folder / "run" / "frozen.snn")
        assert main(["compile", frozen, "--emit", "nir", *export_flags,
                     "-o", str(folder / "nir")]) == 0
        assert main(["run", frozen, "--input", str(data), "--split", "test", "--record",
                     "out.v,hidden.s", "-o", str(folder / "snnc.npz")]) == 0
    diag = Diagnostics()
    net = load_network(frozen, diag)
    assert net is not None, diag.items
    split = np.load(data)
    log = json.loads((folder / "run" / "log.json").read_text())
    return {"nir": folder / "nir" / "network.nir", "inputs": split["test.units"],
            "labels": split["test.label"].astype(np.int64),
            "snnc": recordings.load(folder / "snnc.npz"),  # spikes rebuilt from events
            "logged": log["epochs"][-1]["test"]["accuracy"], "reduction": net.losses[0].reduction}


@pytest.fixture(scope="module")
def zero(tmp_path_factory):
    return deploy(ZERO, tmp_path_factory.mktemp("zero"))


@pytest.fixture(scope="module")
def subtract(tmp_path_factory):
    return deploy(SUBTRACT, tmp_path_factory.mktemp("subtract"), "--allow-lossy", "reset")


def check_deployment(deployed: dict, peer: str) -> None:
    """The peer's predictions are snnc's on every test sample, its accuracy is the logged
    one, and no hidden spike differs."""
    out = peers.run(deployed["nir"], deployed["inputs"], peer, record=["hidden.s", "out.v"])
    ours, labels, reduction = deployed["snnc"], deployed["labels"], deployed["reduction"]
    assert out["out.v"].shape == ours["out.v"].shape and len(labels) == 50
    predicted = REDUCTIONS[reduction](out["out.v"]).argmax(axis=-1)
    expected = REDUCTIONS[reduction](ours["out.v"]).argmax(axis=-1)
    assert np.array_equal(predicted, expected), \
        f"{peer}: predictions differ on samples {np.flatnonzero(predicted != expected)}"
    _, correct = evaluate(out["out.v"].astype(np.float64), labels, reduction)
    assert correct / len(labels) == deployed["logged"]
    spikes, reference = out["hidden.s"].astype(bool), ours["hidden.s"].astype(bool)
    differing = np.flatnonzero((spikes != reference).any(axis=(0, 2)))
    assert reference.sum() > 1000 and differing.size == 0, \
        f"{peer}: hidden spikes differ on samples {differing} of {len(labels)}"
    # the membranes too, within the peers' float32
    assert np.allclose(out["out.v"], ours["out.v"], rtol=1e-5, atol=1e-4)


@pytest.mark.parametrize("peer", PEERS)
def test_the_zero_reset_network_deploys_to_the_peers(zero, peer):
    check_deployment(zero, peer)


def test_norse_carries_the_subtract_reset(subtract):
    check_deployment(subtract, "norse")


def test_snntorch_refuses_the_subtract_reset_by_name(subtract):
    with pytest.raises(ValueError, match=r"snntorch cannot run node 'hidden' \(CubaLIF\) with "
                                         r"its reset 'subtract'.*Norse carries snnc's subtract"):
        peers.run(subtract["nir"], subtract["inputs"][:, :1], "snntorch", record=["out.v"])


@pytest.mark.parametrize("peer", PEERS)
def test_record_mistakes_are_named(zero, peer):
    x = zero["inputs"][:, :1]
    with pytest.raises(KeyError, match=r"no node 'hiden'.*its neuron nodes are hidden, out"):
        peers.run(zero["nir"], x, peer, record=["hiden.s"])
    with pytest.raises(ValueError, match=r"node 'out' is LI, which has no spikes; record "
                                         r"'out.v'"):
        peers.run(zero["nir"], x, peer, record=["out.s"])
    with pytest.raises(ValueError, match=r"'hidden.w'.*'<node>.s' \(spikes\) or '<node>.v'"):
        peers.run(zero["nir"], x, peer, record=["hidden.w"])
    with pytest.raises(ValueError, match="'out' does not spike: record 'out.v'"):
        peers.run(zero["nir"], x, peer, populations=["out"])
    with pytest.raises(ValueError, match="populations or record, not both"):
        peers.run(zero["nir"], x, peer, populations=["hidden"], record=["out.v"])


@pytest.mark.parametrize("peer", PEERS)
def test_without_record_run_gives_the_spikes_as_before(zero, peer):
    """No Output node of the export is spiking (the readout is LI): the hidden layer is
    named; its spikes come back keyed by node, snnc's."""
    x = zero["inputs"][:, :2]
    with pytest.raises(ValueError, match=r"no spiking node feeds an Output node.*record.*"
                                         r"\(nodes: hidden, out\)"):
        peers.run(zero["nir"], x, peer)
    got = peers.run(zero["nir"], x, peer, populations=["hidden"])
    assert list(got) == ["hidden"]
    assert np.array_equal(got["hidden"].astype(bool), zero["snnc"]["hidden.s"][:, :2].astype(bool))


SUBTRACT_NETWORK = """network subtract_{kind} {{
  dt = 1 ms
  seed = 3
}}
input x[30]
population h: {kind}[40] {{
{params}
  threshold = 1
  reset = subtract
}}
population o: LIF[10] {{
  tau_mem = 10 ms
  input_scale = one_minus_decay
  threshold = 1
  reset = subtract
}}
x -> h: dense {{ weight = normal({mean}, {std}) }}
h -> h: dense {{ weight = normal(0, {recurrent}) }}
h -> o: dense {{ weight = normal(0.3, 0.5) }}
"""


@pytest.mark.parametrize("kind,params,mean,std,recurrent", [
    ("LIF", "  tau_mem = 10 ms\n  input_scale = one_minus_decay", 0.6, 1.5, 0.3),
    ("CubaLIF", "  tau_mem = 20 ms\n  tau_syn = 5 ms", 0.006, 0.01, 0.002)], ids=["LIF", "CubaLIF"])
def test_norse_carries_the_subtract_reset_of_lif_and_cubalif(kind, params, mean, std, recurrent,
                                                             tmp_path):
    """A recurrent LIF or CubaLIF layer and a LIF output layer, both ``reset = subtract``
    (exported with the reset in the nodes' metadata): Norse spikes as snnc's reference
    simulator, 200 steps, and its membranes agree."""
    from simulate import compile_text, load_module

    import snnc
    from snnc.backends.nir.export import export_graph

    net = compile_text(SUBTRACT_NETWORK.format(kind=kind, params=params, mean=mean, std=std,
                                               recurrent=recurrent))
    graph = export_graph(net, snnc.__version__)
    assert {graph.nodes[n].metadata["reset"] for n in ("h", "o")} == {"subtract"}
    inputs = np.random.default_rng(7).random((200, 1, 30)) < 0.1
    record = [f"{n}.{variable}" for n in ("h", "o") for variable in "sv"]
    ours = load_module(net, str(tmp_path)).Simulation(batch=1).run(200, {"x": inputs[:, 0]},
                                                                   record=record)
    got = peers.run(graph, inputs, "norse", record=record)
    for n in ("h", "o"):
        spikes = ours[f"{n}.s"].astype(bool)
        assert 0.02 < spikes.mean() < 0.3, (n, spikes.mean())
        assert np.array_equal(got[f"{n}.s"].astype(bool), spikes), n
        assert np.allclose(got[f"{n}.v"], ours[f"{n}.v"], rtol=1e-4, atol=1e-4), n
    for n in ("h", "o"):  # the reset matters: reset to zero, Norse spikes otherwise
        graph.nodes[n].metadata["reset"] = "zero"
    zeroed = peers.run(graph, inputs, "norse", record=["h.s", "o.s"])
    assert not all(np.array_equal(zeroed[key], got[key]) for key in ("h.s", "o.s"))
