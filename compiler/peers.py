"""Run a NIR graph in the peers, Norse 1.1.0 and snnTorch 1.0.0 (README, "Equivalence with
other toolchains"; extra ``snnc[peers]``).

    from snnc import peers
    out = peers.run("build/conv/network.nir", x, peer="norse", populations=["conv1"])
    out["conv1"].shape  # [steps, batch, *shape], like x's [steps, batch, *input shape]
    out = peers.run("build/randman/network.nir", x, peer="snntorch",
                    record=["hidden.s", "out.v"])
    out["out.v"].shape  # the readout's membrane, [steps, batch, 10]

Both peers take one time step per call, one sample without a batch axis (a ``Flatten`` with
``start_dim = 0`` would fold a batch axis in), and carry a state from call to call; :func:`run`
feeds every sample of the batch in turn.

What comes back: without ``record``, the spikes of ``populations`` (default: the spiking nodes
that feed an Output node), keyed by node. With ``record``, the named arrays in the keys of
``snnc run --record``: ``'<node>.s'``, the spikes of a spiking node (LIF, CubaLIF, IF), and
``'<node>.v'``, the membrane of a spiking node (after the step's reset, as snnc records it) or of
a leaky integrator (LI). Membranes come from the peers' own state: Norse's cell states (in
nirtorch's ``GraphExecutorState``), snnTorch's ``mem`` of its ``init_hidden`` neurons.

How the peers run what their NIR importers do not (each checked against snnc's reference
simulator in tests/peers):

- LI nodes (readouts; synaptic currents of snnc's export), which neither importer takes: Norse
  runs one as its ``LIBoxCell`` (dv = dt / tau (v_leak - v + i)) fed r times the input;
  snnTorch as its ``Leaky`` with beta = 1 - dt / tau, reset ``none`` and an infinite threshold
  (it never spikes), fed r dt / tau times the input (v_leak must be 0, as for its LIF). The
  node's output is its membrane, as in NIR.
- Resets: a spiking node's ``metadata["reset"]``, which snnc's export writes (absent: NIR's
  reset to v_reset, ``zero``). Norse carries snnc's ``subtract`` exactly: its LIF step decays,
  spikes when v exceeds the threshold and then subtracts it
  (``norse.torch.functional.reset.reset_subtract``), snnc's order; the next step decays the
  rest. :func:`run` gives that reset method to each LIF and CubaLIF node whose metadata says
  ``subtract`` (Norse's own ``from_nir`` applies one reset method to every CubaLIF node and
  none to LIF nodes). snnTorch 1.0.0 cannot carry it. Its ``subtract`` reset with
  ``reset_delay=False`` (how its importer builds neurons) subtracts the threshold at once, but
  a membrane still above the threshold after that reset has the threshold subtracted again on
  the next step, after the decay and before the spike decision: the neuron then spikes only
  at twice the threshold, where snnc spikes at once. Forced onto the trained Randman network
  of ``eprop_random.snn``, 370,230 of 1,701,811 spikes and 134 of 1,000 test predictions
  differ. Its default (``reset_delay=True``) subtracts only on the next step, after the decay
  (154 of 3,000 spikes differ on tests/peers/test_peer_exports.py's network). Any reset a peer
  does not carry (snnc's ``none``, ``subtract`` in snnTorch, snnTorch's ``snntorch_subtract``
  of :func:`export_snntorch`) is refused by name (``ValueError``), never run as another reset.
"""

from __future__ import annotations

import copy
import functools
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
    """What ``populations`` depend on, one Output node each (the peers need nothing else:
    nirtorch 2.6's ``nir_to_torch`` hangs on a graph with several Output nodes)."""
    import nir
    keep = set().union(*(ancestors(graph, name) for name in populations))
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


def reset_of(node) -> str:
    """A spiking node's reset: its ``metadata["reset"]`` (snnc's export writes it), else NIR's
    reset to v_reset (``zero``)."""
    return str((getattr(node, "metadata", None) or {}).get("reset", "zero"))


def check_resets(graph, peer: str, names) -> None:
    """Refuse, by name, a node among ``names`` or their inputs whose reset ``peer`` does not
    carry (see the module's docstring)."""
    for name, node in spiking_subgraph(graph, sorted(names)).nodes.items():
        kind, reset = type(node).__name__, reset_of(node)
        if kind not in SPIKING or reset == "zero":
            continue
        if peer == "norse" and reset == "subtract" and kind in ("LIF", "CubaLIF"):
            continue
        if peer == "norse":
            why = ("Norse 1.1.0 resets its LIF and CubaLIF cells to zero or by subtraction "
                   "(reset_subtract), its IF cells to zero")
        elif reset == "subtract":
            why = ("snnTorch 1.0.0's subtract reset is not snnc's (it subtracts the threshold "
                   "again after the decay while the membrane stays above it); Norse carries "
                   "snnc's subtract")
        else:
            why = "snnc.peers runs snnTorch 1.0.0's neurons with its importer's reset to zero"
        raise ValueError(f"{peer} cannot run node '{name}' ({kind}) with its reset '{reset}': "
                         f"{why}")


NEURONS = SPIKING + ("LI",)


def parse_record(graph, record: Sequence[str]) -> list[tuple[str, str, str]]:
    """(key, node, variable) of each of ``record``'s names, ``'<node>.s'`` or ``'<node>.v'``."""
    neurons = sorted(name for name, node in graph.nodes.items()
                     if type(node).__name__ in NEURONS)
    wanted = []
    for key in record:
        node, _, variable = str(key).rpartition(".")
        if node not in graph.nodes:
            raise KeyError(f"no node {node or key!r} in the graph (record {key!r}): its neuron "
                           f"nodes are {', '.join(neurons) or 'none'}")
        kind = type(graph.nodes[node]).__name__
        if variable not in ("s", "v"):
            raise ValueError(f"record {key!r}: name '<node>.s' (spikes) or '<node>.v' "
                             "(membrane)")
        if kind not in NEURONS or (variable == "s" and kind not in SPIKING):
            has = "spikes" if variable == "s" else "membrane"
            raise ValueError(f"record {key!r}: node '{node}' is {kind}, which has no {has}"
                             + (f"; record '{node}.v'" if kind in NEURONS else ""))
        wanted.append((str(key), node, variable))
    return wanted


def ancestors(graph, name: str) -> set[str]:
    """``name`` and every node it depends on."""
    keep, todo = {name}, [name]
    while todo:
        node = todo.pop()
        for pre, post in graph.edges:
            if post == node and pre not in keep:
                keep.add(pre)
                todo.append(pre)
    return keep


def groups(graph, names) -> dict[str, list[str]]:
    """``names`` grouped under one node each that depends on them all: one model with one
    Output node per group (nirtorch 2.6's ``nir_to_torch`` hangs on several)."""
    closure = {name: ancestors(graph, name) for name in names}
    left, out = sorted(set(names)), {}
    while left:
        head = max(left, key=lambda name: (len(closure[name]), name))
        out[head] = [name for name in left if name in closure[head]]
        left = [name for name in left if name not in closure[head]]
    return out


@functools.cache
def li_modules():
    """The torch modules that run a NIR LI node in each peer (defined once torch is there)."""
    import torch

    class NorseLI(torch.nn.Module):
        """Norse's LIBoxCell fed r times the input; the output is the membrane."""

        def __init__(self, r, cell):
            super().__init__()
            self.r, self.cell = r, cell

        def forward(self, x, state=None):
            return self.cell(self.r * x, state)

    class SnntorchLI(torch.nn.Module):
        """snnTorch's Leaky (reset none, infinite threshold) fed ``scale`` times the input;
        the output is the membrane."""

        def __init__(self, scale, leaky):
            super().__init__()
            self.scale, self.leaky = scale, leaky

        def forward(self, x):
            self.leaky(x if self.scale is None else self.scale * x)
            return self.leaky.mem

    return NorseLI, SnntorchLI


def norse_module(node, dt: float):
    """Norse's module for ``node``: its importer's, with the node's subtract reset, and LI
    nodes as Norse's LIBoxCell."""
    import nir
    import torch
    from norse.torch.functional.reset import reset_subtract
    from norse.torch.module.leaky_integrator_box import LIBoxCell, LIBoxParameters
    from norse.torch.utils.import_nir import _import_norse_module

    def tensor(value):
        return torch.as_tensor(np.asarray(value), dtype=torch.float32)

    if isinstance(node, nir.LI):
        cell = LIBoxCell(LIBoxParameters(tau_mem_inv=1 / tensor(node.tau),
                                         v_leak=tensor(node.v_leak)), dt=dt)
        return li_modules()[0](tensor(node.r), cell)
    module = _import_norse_module(node, dt=dt)
    if isinstance(node, (nir.LIF, nir.CubaLIF)) and reset_of(node) == "subtract":
        cell = module.lif if isinstance(node, nir.CubaLIF) else module
        cell.p = cell.p._replace(reset_method=reset_subtract)
    return module


def norse_value(state, node, variable: str, kind: str):
    """A node's spikes (its output) or membrane (its cell state) after a step."""
    key = node.replace(".", "_")  # nirtorch's GraphExecutor names modules so
    if variable == "s" or kind == "LI":
        return state.cache[key]
    (cell,) = state.state[key]  # the module's state after the step
    return (cell[1] if kind == "CubaLIF" else cell).v


def norse_sample(graph, inputs, wanted, dt: float | None = None) -> dict:
    """Norse: inputs [steps, *input shape] (one sample) -> {key: values [steps, *shape]}."""
    import nirtorch
    import torch

    nodes = sorted({node for _, node, _ in wanted})
    model = nirtorch.load(spiking_subgraph(graph, nodes),
                          functools.partial(norse_module, dt=graph_dt(graph, dt)))
    kinds = {node: type(graph.nodes[node]).__name__ for node in nodes}
    state, out = None, {key: [] for key, _, _ in wanted}
    with torch.no_grad():
        for x in inputs:
            _, state = model(torch.as_tensor(np.asarray(x), dtype=torch.float32), state)
            for key, node, variable in wanted:
                out[key].append(norse_value(state, node, variable, kinds[node]).numpy().copy())
    return {key: np.array(values) for key, values in out.items()}


def norse_spikes(graph, inputs, populations: Sequence[str], dt: float | None = None) -> dict:
    """Norse: inputs [steps, *input shape] (one sample) -> {population: spikes [steps, *shape]}."""
    return norse_sample(graph, inputs, [(name, name, "s") for name in populations], dt)


def snntorch_module(node):
    """snnTorch's module for ``node``: its importer's per-node converter (``init_hidden``, so
    that the membrane stays readable), and LI nodes as its Leaky that never spikes."""
    import nir
    import snntorch
    import torch
    from snntorch.import_nir import _nir_to_snntorch_module

    if not isinstance(node, nir.LI):
        return _nir_to_snntorch_module(node, init_hidden=True)
    if np.any(np.asarray(node.v_leak) != 0):
        raise ValueError("snnTorch 1.0.0 supports v_leak = 0 only")
    tau = np.asarray(node.tau, dtype=np.float64)
    scale = np.asarray(node.r) * SNNTORCH_DT / tau
    leaky = snntorch.Leaky(beta=torch.as_tensor(1 - SNNTORCH_DT / tau, dtype=torch.float32),
                           threshold=float("inf"), reset_mechanism="none", init_hidden=True,
                           reset_delay=False)
    scale = None if np.allclose(scale, 1.0) else torch.as_tensor(scale, dtype=torch.float32)
    return li_modules()[1](scale, leaky)


def snntorch_scale(node) -> float | np.ndarray:
    """What snnTorch's membrane is multiplied by to be the node's v: its importer divides the
    threshold by the input scale (r dt / tau; w_in dt / tau_syn) instead of scaling the input."""
    import nir
    if isinstance(node, nir.LIF):
        scale = np.asarray(node.r) * SNNTORCH_DT / np.asarray(node.tau)
        return 1.0 if np.allclose(scale, 1.0) else float(np.unique(scale)[0])
    if isinstance(node, nir.CubaLIF):
        scale = np.asarray(node.w_in) * SNNTORCH_DT / np.asarray(node.tau_syn)
        return 1.0 if np.allclose(scale, 1.0) else scale
    return 1.0


def snntorch_rescaled(graph, dt: float | None, snntorch_dt: float = SNNTORCH_DT):
    """A copy of ``graph`` with time rescaled to snnTorch's dt of 1e-4 s."""
    graph = copy.deepcopy(graph)
    scale = snntorch_dt / graph_dt(graph, dt)
    for node in graph.nodes.values():
        for key in ("tau", "tau_mem", "tau_syn"):
            if hasattr(node, key):
                setattr(node, key, np.asarray(getattr(node, key)) * scale)
    return graph


def snntorch_sample(graph, inputs, wanted, dt: float | None = None) -> dict:
    """snnTorch: inputs [steps, *input shape] (one sample) -> {key: values [steps, *shape]}.
    snntorch.import_from_nir wires recurrent graphs wrongly; its per-node converter under
    nirtorch.nir_to_torch does not. One model per group of nodes (:func:`groups`); the values
    are read by forward hooks."""
    import nir
    import nirtorch
    import torch
    from nirtorch.nir_interpreter import _sanitize_name

    graph = snntorch_rescaled(graph, dt)
    kinds = (nir.Affine, nir.Linear, nir.Conv2d, nir.Flatten, nir.AvgPool2d, nir.IF, nir.LIF,
             nir.CubaLIF, nir.LI)
    out, latest = {key: [] for key, _, _ in wanted}, {}
    for head, nodes in groups(graph, {node for _, node, _ in wanted}).items():
        model = nirtorch.nir_to_torch(spiking_subgraph(graph, [head]),
                                      {kind: snntorch_module for kind in kinds})
        for name in nodes:
            model.get_submodule(_sanitize_name(name)).register_forward_hook(
                keeper(latest, name, snntorch_scale(graph.nodes[name])))
        state = None
        with torch.no_grad():
            for x in inputs:
                _, state = model(torch.as_tensor(np.asarray(x), dtype=torch.float32), state)
                for key, node, variable in wanted:
                    if node in nodes:
                        value = latest[node][0 if variable == "s" else 1]
                        out[key].append(np.asarray(value).copy())
    return {key: np.array(values) for key, values in out.items()}


def keeper(latest: dict, name: str, scale):
    """A forward hook that keeps a module's (output, membrane times ``scale``) in
    ``latest[name]`` (an LI module's output is its membrane)."""
    def hook(module, args, result):
        latest[name] = (result, getattr(module, "mem", result) * scale)
    return hook


def snntorch_spikes(graph, inputs, population: str, dt: float | None = None) -> np.ndarray:
    """snnTorch: inputs [steps, *input shape] (one sample) -> spikes [steps, *shape] of one
    population (snnTorch integrates with dt = 1e-4 s: time is rescaled)."""
    return snntorch_sample(graph, inputs, [(population, population, "s")], dt)[population]


def run_sample(graph, inputs, peer: str, wanted, dt: float | None = None) -> dict:
    """One sample: inputs [steps, *input shape] -> {key: values [steps, *shape]} of ``wanted``
    ((key, node, 's' or 'v'))."""
    if peer == "norse":
        return norse_sample(graph, inputs, wanted, dt)
    return snntorch_sample(graph, inputs, wanted, dt)


def run(graph, inputs, peer: str = "norse", populations: Sequence[str] | None = None,
        dt: float | None = None, record: Sequence[str] | None = None) -> dict[str, np.ndarray]:
    """Run ``graph`` (a ``nir.NIRGraph`` or a ``.nir`` file) in ``peer`` on ``inputs``
    [steps, batch, *input shape] (spikes, 0/1). Without ``record``: {population: spikes
    [steps, batch, *shape]} (float 0/1) of ``populations`` (default: the spiking nodes that
    feed an Output node). With ``record`` (names ``'<node>.s'``, ``'<node>.v'``, as ``snnc run
    --record``): {name: values [steps, batch, *shape]}. ``dt`` defaults to the graph's
    metadata. Raises :class:`PeerMissing` without the peer, ``KeyError`` for an unknown node,
    ``ValueError`` for a node without the variable or with a reset the peer does not carry."""
    require(peer)
    graph = load(graph)
    inputs = np.asarray(inputs)
    if inputs.ndim < 2:
        raise ValueError(f"inputs must be [steps, batch, *input shape], not {list(inputs.shape)}")
    if record is not None and populations is not None:
        raise ValueError("give populations or record, not both")
    if record is None:
        wanted = population_spikes(graph, populations)
    else:
        wanted = parse_record(graph, record)
    check_resets(graph, peer, {node for _, node, _ in wanted})
    samples = [run_sample(graph, inputs[:, b], peer, wanted, dt) for b in range(inputs.shape[1])]
    return {key: np.stack([s[key] for s in samples], axis=1) for key, _, _ in wanted}


def population_spikes(graph, populations: Sequence[str] | None) -> list[tuple[str, str, str]]:
    """(population, population, 's') of ``populations`` (default: the spiking nodes that feed
    an Output node)."""
    names = list(spiking_populations(graph) if populations is None else populations)
    if not names:
        neurons = sorted(name for name, node in graph.nodes.items()
                         if type(node).__name__ in NEURONS)
        raise ValueError("no spiking node feeds an Output node: name the populations, or "
                         f"record their spikes and membranes (nodes: {', '.join(neurons)})")
    unknown = [name for name in names if name not in graph.nodes]
    if unknown:
        raise KeyError(f"no node {', '.join(map(repr, unknown))} in the graph: its spiking "
                       f"nodes are {', '.join(spiking_populations(graph)) or 'none'}")
    silent = [name for name in names if type(graph.nodes[name]).__name__ not in SPIKING]
    if silent:
        raise ValueError(f"{', '.join(map(repr, silent))} does not spike: record "
                         f"'{silent[0]}.v' (record=[...]) for its membrane")
    return [(name, name, "s") for name in names]


#: snnTorch's reset mechanisms as node metadata ``reset`` (snnc's importer reads it: ``zero``
#: as reset = zero, ``snntorch_none`` as none, snnTorch's default ``subtract``
#: (reset_delay=True) exactly as ``snntorch_subtract``; with reset_delay=False it is
#: ``snntorch_subtract_no_delay``, which snnc cannot express and refuses by name, E619)
SNNTORCH_RESETS = {"zero": "zero", "subtract": "snntorch_subtract", "none": "snntorch_none"}


def snntorch_reset(module) -> str:
    """The metadata ``reset`` of an snnTorch neuron module."""
    if module.reset_mechanism == "subtract" and not getattr(module, "reset_delay", True):
        return "snntorch_subtract_no_delay"
    return SNNTORCH_RESETS.get(module.reset_mechanism, f"snntorch_{module.reset_mechanism}")


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
        module = modules.get(name)
        if getattr(module, "reset_mechanism", None) is not None and \
                type(node).__name__ in SPIKING:
            node.metadata = {**(node.metadata or {}), "reset": snntorch_reset(module)}
    return graph
