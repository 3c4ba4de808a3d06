"""Run a NIR graph in the peers, Norse 1.1.0 and snnTorch 1.0.0 (README, "Equivalence with
other toolchains"; extra ``snnc[peers]``).

    from snnc import peers
    out = peers.run("build/conv/network.nir", x, peer="norse", populations=["conv1"])
    out["conv1"].shape  # [steps, batch, *shape], like x's [steps, batch, *input shape]

Both peers take one time step per call, one sample without a batch axis (a ``Flatten`` with
``start_dim = 0`` would fold a batch axis in), and carry a state from call to call; :func:`run`
feeds every sample of the batch in turn. Only the spiking nodes' spikes come back (neither
peer exposes the membrane of a node run through nirtorch's graph executor).
"""

from __future__ import annotations

import copy
import importlib
from collections.abc import Sequence

import numpy as np

PEERS = ("norse", "snntorch")
#: the modules each peer needs (the extra ``snnc[peers]`` installs them)
NEEDS = {"norse": ("torch", "nir", "nirtorch", "norse"),
         "snntorch": ("torch", "nir", "nirtorch", "snntorch")}
SPIKING = ("LIF", "CubaLIF", "IF")
#: snnTorch integrates with dt = 1e-4 s (snntorch/export_nir.py, import_nir.py)
SNNTORCH_DT = 1e-4


class PeerMissing(ImportError):
    """A peer, or a module it needs, is not installed."""


def require(peer: str) -> None:
    """Import what ``peer`` needs, or raise :class:`PeerMissing` saying how to install it."""
    if peer not in PEERS:
        raise ValueError(f"unknown peer '{peer}': choose from {', '.join(PEERS)}")
    missing = []
    for name in NEEDS[peer]:
        try:
            importlib.import_module(name)
        except Exception as error:  # noqa: BLE001 - a broken install counts as missing
            missing.append(f"{name} ({type(error).__name__}: {error})")
    if missing:
        raise PeerMissing(
            f"running a NIR graph in {peer} needs {', '.join(missing)}: install the peers with "
            "'pip install torch==2.13.0' (the CPU build) and then "
            "'pip install -c tests/peers/constraints.txt snntorch==1.0.0 norse==1.1.0' "
            "(README, 'Equivalence with other toolchains')")


def load(graph):
    """A ``nir.NIRGraph``, or the graph of a ``.nir`` file."""
    import nir
    if isinstance(graph, nir.NIRGraph):
        return graph
    return nir.read(str(graph))


def spiking_populations(graph) -> list[str]:
    """The spiking nodes that feed an Output node (what snnc's export records)."""
    import nir
    return sorted({pre for pre, post in graph.edges if isinstance(graph.nodes[post], nir.Output)
                   and type(graph.nodes[pre]).__name__ in SPIKING})


def spiking_subgraph(graph, populations: Sequence[str]):
    """What ``populations`` depend on, one Output node each: nirtorch 2.6 (both peers use it)
    hangs on a graph with several Output nodes, and neither peer imports LI nodes (readouts,
    receptor currents)."""
    import nir
    keep, todo = set(populations), list(populations)
    while todo:
        node = todo.pop()
        for pre, post in graph.edges:
            if post == node and pre not in keep:
                keep.add(pre)
                todo.append(pre)
    nodes = {name: copy.deepcopy(n) for name, n in graph.nodes.items() if name in keep}
    edges = [(pre, post) for pre, post in graph.edges if pre in keep and post in keep]
    for name in populations:
        nodes[name + ".output"] = nir.Output(output_type=graph.nodes[name].output_type)
        edges.append((name, name + ".output"))
    return nir.NIRGraph(nodes=nodes, edges=edges, metadata=dict(graph.metadata))


def graph_dt(graph, dt: float | None = None) -> float:
    if dt is not None:
        return float(dt)
    if "dt" not in graph.metadata:
        raise ValueError("the graph has no dt in its metadata: pass dt")
    return float(np.asarray(graph.metadata["dt"]))


def norse_spikes(graph, inputs, populations: Sequence[str], dt: float | None = None) -> dict:
    """Norse: inputs [steps, *input shape] (one sample) -> {population: spikes [steps, *shape]}."""
    import norse.torch
    import torch

    model = norse.torch.from_nir(spiking_subgraph(graph, populations), dt=graph_dt(graph, dt))
    state, out = None, {name: [] for name in populations}
    with torch.no_grad():
        for x in inputs:
            _, state = model(torch.as_tensor(np.asarray(x), dtype=torch.float32), state)
            for name in populations:  # the state caches every node's output of the step
                out[name].append(state.cache[name].numpy().copy())
    return {name: np.array(spikes) for name, spikes in out.items()}


def snntorch_spikes(graph, inputs, population: str, dt: float | None = None,
                    snntorch_dt: float = SNNTORCH_DT) -> np.ndarray:
    """snnTorch: inputs [steps, *input shape] (one sample) -> spikes [steps, *shape] of one
    population. snntorch.import_from_nir wires recurrent graphs wrongly; its per-node converter
    under nirtorch.nir_to_torch does not. snnTorch integrates with dt = 1e-4 s: time is
    rescaled."""
    import nir
    import nirtorch
    import torch
    from snntorch.import_nir import _nir_to_snntorch_module

    graph = copy.deepcopy(graph)
    scale = snntorch_dt / graph_dt(graph, dt)
    for node in graph.nodes.values():
        for key in ("tau", "tau_mem", "tau_syn"):
            if hasattr(node, key):
                setattr(node, key, np.asarray(getattr(node, key)) * scale)
    kinds = (nir.Affine, nir.Linear, nir.Conv2d, nir.Flatten, nir.AvgPool2d, nir.IF, nir.LIF,
             nir.CubaLIF)
    node_map = {kind: lambda n: _nir_to_snntorch_module(n, init_hidden=True) for kind in kinds}
    model = nirtorch.nir_to_torch(spiking_subgraph(graph, [population]), node_map)
    state, out = None, []
    with torch.no_grad():
        for x in inputs:
            spikes, state = model(torch.as_tensor(np.asarray(x), dtype=torch.float32), state)
            out.append(spikes.numpy().copy())
    return np.array(out)


def run_sample(graph, inputs, peer: str, populations: Sequence[str],
               dt: float | None = None) -> dict:
    """One sample: inputs [steps, *input shape] -> {population: spikes [steps, *shape]}."""
    if peer == "norse":
        return norse_spikes(graph, inputs, populations, dt)
    return {name: snntorch_spikes(graph, inputs, name, dt) for name in populations}


def run(graph, inputs, peer: str = "norse", populations: Sequence[str] | None = None,
        dt: float | None = None) -> dict[str, np.ndarray]:
    """Run ``graph`` (a ``nir.NIRGraph`` or a ``.nir`` file) in ``peer`` on ``inputs``
    [steps, batch, *input shape] (spikes, 0/1): {population: spikes [steps, batch, *shape]}
    (float 0/1) of ``populations`` (default: the spiking nodes that feed an Output node).
    ``dt`` defaults to the graph's metadata. Raises :class:`PeerMissing` without the peer."""
    require(peer)
    graph = load(graph)
    inputs = np.asarray(inputs)
    if inputs.ndim < 2:
        raise ValueError(f"inputs must be [steps, batch, *input shape], not {list(inputs.shape)}")
    names = list(spiking_populations(graph) if populations is None else populations)
    unknown = [name for name in names if name not in graph.nodes]
    if unknown:
        raise KeyError(f"no node {', '.join(map(repr, unknown))} in the graph: its spiking "
                       f"nodes are {', '.join(spiking_populations(graph)) or 'none'}")
    samples = [run_sample(graph, inputs[:, b], peer, names, dt) for b in range(inputs.shape[1])]
    return {name: np.stack([s[name] for s in samples], axis=1) for name in names}


#: snnTorch's reset mechanisms as node metadata ``reset`` (snnc's importer reads it: ``zero``
#: imports as ``reset = zero``; snnTorch's ``subtract`` subtracts the threshold after the decay,
#: which is not snnc's ``subtract``, and is refused by name)
SNNTORCH_RESETS = {"zero": "zero", "subtract": "snntorch_subtract", "none": "snntorch_none"}


def export_snntorch(net, sample):
    """``snntorch.export_nir.export_to_nir(net, sample)``, with every spiking node's reset
    mechanism in its ``metadata["reset"]`` (snnTorch 1.0.0 writes none, and resets by
    subtraction by default), and the hidden states reset afterwards (the export runs
    ``sample`` through them)."""
    require("snntorch")
    import snntorch.utils
    from snntorch.export_nir import export_to_nir

    graph = export_to_nir(net, sample)
    snntorch.utils.reset(net)
    modules = dict(net.named_modules())
    for name, node in graph.nodes.items():
        mechanism = getattr(modules.get(name), "reset_mechanism", None)
        if mechanism is not None and type(node).__name__ in SPIKING:
            node.metadata = {**(node.metadata or {}),
                             "reset": SNNTORCH_RESETS.get(mechanism, f"snntorch_{mechanism}")}
    return graph
