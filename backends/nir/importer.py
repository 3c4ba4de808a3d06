"""Import from NIR: a graph written by any toolchain becomes readable ``.snn`` source (plus an
``.npz`` with its arrays) that snnc compiles and simulates as the Euler importers would.

The network runs at ``dt`` (the graph's ``dt`` metadata or ``--dt``) with ``integration =
euler``: a NIR neuron with time constant tau decays by 1 - dt/tau per step, its input is scaled
by r dt / tau (``input_scale = r_dt_over_tau``), and a current-based neuron's synaptic input
dt / tau_syn * w_in is folded into the weights of the projections that feed it.

A projection is the chain of nodes between two populations (or an input and a population):
``[Flatten] -> Linear | Affine | Conv2d | SumPool2d | Scale -> [Delay]``, or a direct edge
between equal shapes (weight 1, one to one). An Affine or Conv2d
bias becomes the population's ``bias`` (LIF, IF, LI) or, behind a synaptic filter (CubaLIF,
CubaLI), the input of a 'tonic' source that spikes every step: exact either way. Anything else is refused with a diagnostic naming the node.

The graph is untrusted input: node names become .snn identifiers (:func:`identifier`), and
every other text reaches the .snn only through :mod:`snnc.literals` (string literals,
comments). Values are checked before use: the time step (E614), finite numbers and positive
time constants (E613), delays of at most :data:`MAX_DELAY_STEPS` steps (E613), positive
whole shapes (E611); what the importer cannot read otherwise is E611 naming the node.
"""

from __future__ import annotations

import numpy as np

from snnc.backends.nir.import_file import node_types, read_graph, time_step
from snnc.backends.nir.import_linear import apply, windows
from snnc.backends.nir.import_peers import parse_reset, recognise, subtract_after_decay
from snnc.backends.nir.import_text import (
    MAX_NAME,
    RESERVED,
    Projection,
    identifier,
    write_snn,
)
from snnc.diagnostics import Diagnostics
from snnc.literals import UnrepresentableText, py

__all__ = ["MAX_DELAY_STEPS", "MAX_NAME", "NEURONS", "PASS_THROUGH", "RESERVED", "WEIGHTS",
           "ImportFailed", "Importer", "Projection", "apply", "identifier", "import_graph",
           "node_types", "read_graph", "time_step", "windows"]

NEURONS = {"LIF": "LIF", "CubaLIF": "CubaLIF", "IF": "IF", "LI": "LI", "CubaLI": "CubaLI"}
WEIGHTS = ("Linear", "Affine", "Conv2d", "SumPool2d", "Scale")
PASS_THROUGH = ("Flatten", "Delay")
#: the longest delay imported, in steps of dt (a ring buffer of this depth per projection)
MAX_DELAY_STEPS = 1_000_000


class ImportFailed(Exception):
    """A diagnostic was reported; nothing is written."""


class Importer:
    def __init__(self, graph, dt: float, source: str, diag: Diagnostics):
        self.graph = graph
        self.dt = dt
        self.source = source
        self.diag = diag
        self.taken: set[str] = set()
        self.names: dict[str, str] = {}
        self.inputs: dict[str, tuple[int, ...]] = {}
        self.populations: dict[str, dict] = {}
        self.projections: list[Projection] = []
        self.arrays: dict[str, np.ndarray] = {}
        self.records: list[str] = []
        self.tonic: str | None = None  # the always-spiking input that carries biases
        self.current: str | None = None  # the node being read (named in diagnostics)
        self.resets: dict[str, str] = {}  # node -> the reset its metadata names (import_peers)

    def fail(self, code: str, message: str, hint: str | None = None):
        self.diag.error(code, None, message, hint=hint)
        raise ImportFailed

    # -- structure ------------------------------------------------------------------------------
    def run(self) -> None:
        nodes = self.graph.nodes
        for name, node in nodes.items():
            kind = type(node).__name__
            if kind == "NIRGraph":
                self.fail("E612", f"node {py(name)} is a nested NIRGraph, which snnc does not "
                          "import yet", hint="flatten the graph before exporting it")
            if kind not in NEURONS and kind not in WEIGHTS and kind not in PASS_THROUGH and \
                    kind not in ("Input", "Output"):
                self.fail("E612", f"node {py(name)} is a {kind}, which has no .snn equivalent",
                          hint="snnc imports Input, Output, LIF, CubaLIF, IF, LI, CubaLI, "
                               "Linear, Affine, Conv2d, SumPool2d, Scale, Flatten and Delay")
            self.check_values(name, node)
        for name in sorted(nodes):
            if type(nodes[name]).__name__ in ("Input", *NEURONS):
                self.names[name] = identifier(name, self.taken)
        for name in sorted(nodes):
            node = nodes[name]
            kind = type(node).__name__
            if kind == "Input":
                self.inputs[self.names[name]] = self.shape(name, node.input_type["input"])
            elif kind in NEURONS:
                self.populations[self.names[name]] = self.population(name, node)
        for name in sorted(nodes):
            if type(nodes[name]).__name__ in ("Input", *NEURONS):
                for successor in self.successors(name):
                    self.follow(name, successor)

    def check_values(self, name: str, node) -> None:
        """E613 for NaN, infinite or out-of-range values, E611 for values that are not
        numbers, before anything is computed from them."""
        self.current = name
        where = f"node {py(name)}"
        for key, value in vars(node).items():
            if key in ("metadata", "input_type", "output_type") or value is None:
                continue
            if isinstance(value, dict):
                self.fail("E611", f"{where}: {key} is a dictionary, not numbers")
            array = np.asarray(value)
            if array.dtype.kind not in "fiub":
                self.fail("E611", f"{where}: {key} holds {array.dtype} values, not numbers",
                          hint="snnc imports numeric parameters only")
            if not np.all(np.isfinite(array)):
                self.fail("E613", f"{where}: {key} holds NaN or infinite values")
            if key.startswith("tau") and not np.all(array > 0):
                self.fail("E613", f"{where}: {key} must be positive, not "
                          f"{float(np.min(array)):g}")
            if key.startswith("tau") and not np.all(array > self.dt):
                self.fail("E613", f"{where}: {key} = {float(np.min(array)):g} s is not larger "
                          f"than dt = {self.dt:g} s: forward Euler at this dt would not decay "
                          "(1 - dt/tau <= 0)", hint="give the graph's own dt with --dt (a graph "
                          "that says none is read at the --dt given)")
        if type(node).__name__ == "Input":
            self.shape(name, (node.input_type or {}).get("input"))
        if type(node).__name__ == "Delay":
            self.delay_steps(name, node.delay)

    def shape(self, name: str, value) -> tuple[int, ...]:
        """A NIR shape as positive whole numbers; E611 otherwise."""
        array = np.atleast_1d(np.asarray(value))
        if array.dtype.kind not in "fiu" or array.ndim != 1 or not np.all(np.isfinite(array)) \
                or not np.all(array == np.round(array)) or not np.all(array > 0):
            shown = array.tolist() if array.dtype.kind in "fiub" else str(value)
            self.fail("E611", f"node {py(name)}: the shape {py(str(shown)[:80])} is not a list "
                      "of positive whole numbers")
        return tuple(int(v) for v in array)

    def delay_steps(self, name: str, value) -> int:
        """A Delay node's delay in steps of dt: one value for all neurons, >= 0, at most
        :data:`MAX_DELAY_STEPS` steps (E613; E611 for several values)."""
        delay = np.atleast_1d(np.asarray(value, dtype=np.float64))
        if np.any(delay < 0):
            self.fail("E613", f"node {py(name)}: a delay cannot be negative "
                      f"({float(np.min(delay)):g} s)")
        if not np.all(delay == delay.ravel()[0]):
            self.fail("E611", f"node {py(name)}: a different delay for every neuron; a .snn "
                      "projection has one delay", hint="split the graph's projection by delay")
        steps = float(delay.ravel()[0]) / self.dt
        if steps > MAX_DELAY_STEPS:
            self.fail("E613", f"node {py(name)}: a delay of {float(delay.ravel()[0]):g} s is "
                      f"{steps:.3g} steps of dt = {self.dt:g} s; snnc imports delays of at most "
                      f"{MAX_DELAY_STEPS:,} steps", hint="check the delay's unit (NIR uses "
                      "seconds) or the time step")
        return int(round(steps))

    def successors(self, name: str) -> list[str]:
        return sorted(post for pre, post in self.graph.edges if pre == name)

    def follow(self, start: str, first: str) -> None:
        """Walk pass-through nodes and one weight node from ``start`` to a population."""
        nodes = self.graph.nodes
        self.current = first
        chain, current = [], first
        while True:
            kind = type(nodes[current]).__name__
            if kind in NEURONS or kind == "Output":
                break
            if kind == "Input":
                self.fail("E611", f"edge into the input node {py(current)}")
            if current in chain:
                self.fail("E611", f"the nodes after {py(start)} form a loop without a neuron "
                          f"({' -> '.join(py(c) for c in chain)} -> {py(current)})")
            chain.append(current)
            following = self.successors(current)
            if len(following) != 1:
                self.fail("E611", f"node {py(current)} feeds {len(following)} nodes; snnc imports "
                          "chains of one weight node between two populations")
            current = following[0]
        if type(nodes[current]).__name__ == "Output":
            if type(nodes[start]).__name__ in NEURONS:
                self.records.append(f"{self.names[start]}.s" if
                                    self.populations[self.names[start]]["spiking"]
                                    else f"{self.names[start]}.v")
            return
        weights = [n for n in chain if type(nodes[n]).__name__ in WEIGHTS]
        delay = sum(self.delay_steps(n, nodes[n].delay) for n in chain
                    if type(nodes[n]).__name__ == "Delay")
        if delay > MAX_DELAY_STEPS:
            self.fail("E613", f"the delays between {py(start)} and {py(current)} add up to "
                      f"{delay:,} steps; snnc imports delays of at most {MAX_DELAY_STEPS:,} steps")
        if len(weights) == 1:
            self.projection(start, weights[0], current, delay)
        elif weights:
            self.composed(start, [n for n in chain if type(nodes[n]).__name__ != "Delay"],
                          current, delay)
        else:
            self.identity(start, current, delay)

    def identity(self, start: str, end: str, delay: int) -> None:
        """An edge without a weight node (such as the Input nir adds before a population that
        nothing feeds): weight 1 from each neuron to the same neuron, for spikes (an input or a
        spiking population) into a population of the same shape; E611 otherwise."""
        pre, post = self.names[start], self.names[end]
        shape = self.inputs.get(pre) or self.populations[pre]["shape"]
        target = self.populations[post]
        spikes = pre in self.inputs or self.populations[pre]["spiking"]
        hint = "connect populations through Linear, Affine, Conv2d, SumPool2d or Scale nodes"
        if not spikes:  # a voltage is no spike train
            self.fail("E611", f"no weight node between {py(start)} and {py(end)}: the "
                      f"voltage of the non-spiking {py(start)} feeds {py(end)} directly, which "
                      ".snn cannot express (projections carry spikes)", hint=hint)
        if tuple(shape) != tuple(target["shape"]):
            self.fail("E611", f"no weight node between {py(start)} {list(shape)} and "
                      f"{py(end)} {list(target['shape'])}", hint=hint)
        name = identifier(f"{pre}_{post}", self.taken)
        self.projections.append(Projection(name, pre, post, "one_to_one",
                                           target["input_factor"].copy(), delay))

    def composed(self, start: str, chain: list[str], end: str, delay: int) -> None:
        """Several linear nodes in a row (e.g. SumPool2d then Conv2d) become one dense
        projection: the composed map, computed on the basis vectors of the pre population."""
        shape = self.inputs.get(self.names[start]) or self.populations[self.names[start]]["shape"]
        size = int(np.prod(shape))
        if size > 20000:
            self.fail("E611", f"the chain {' -> '.join(chain)} would compose into a dense "
                      f"matrix with {size} columns", hint="add a neuron layer between them")
        basis = np.eye(size).reshape((size,) + tuple(shape))
        zero = np.zeros((1,) + tuple(shape))
        for name in chain:
            basis = apply(self.graph.nodes[name], basis, with_bias=False)
            zero = apply(self.graph.nodes[name], zero, with_bias=True)
        target = self.populations[self.names[end]]
        factor = target["input_factor"]
        weights = basis.reshape(size, -1).T * factor[:, None]
        name = identifier("_".join(chain), self.taken)
        self.projections.append(Projection(name, self.names[start], self.names[end], "dense",
                                           weights, delay))
        bias = zero.reshape(-1)
        if np.any(bias != 0):
            self.add_bias(self.names[end], bias)

    # -- populations ----------------------------------------------------------------------------
    def population(self, name: str, node) -> dict:
        self.current = name
        kind = type(node).__name__
        params = {key: np.asarray(getattr(node, key), dtype=np.float64)
                  for key in vars(node) if key not in ("metadata", "input_type", "output_type")
                  and getattr(node, key) is not None}
        shape = self.shape_of(node, params)
        spiking = kind in ("LIF", "CubaLIF", "IF")
        entry = {"model": NEURONS[kind], "shape": shape, "spiking": spiking, "settings": {},
                 "nir": name, "input_factor": np.ones(int(np.prod(shape))),
                 "w_in": np.ones(int(np.prod(shape)))}
        settings = entry["settings"]
        tau = params.get("tau", params.get("tau_mem"))
        if tau is not None:
            settings["tau_mem"] = (tau, "s")
        if kind in ("CubaLIF", "CubaLI"):
            settings["tau_syn"] = (params["tau_syn"], "s")
            w_in = params.get("w_in", np.ones(1))
            # the current jumps by dt / tau_syn * w_in * (W s): folded into the weights
            entry["input_factor"] = np.broadcast_to(
                self.dt / params["tau_syn"] * w_in, shape).reshape(-1).copy()
            entry["w_in"] = np.broadcast_to(w_in, shape).reshape(-1).copy()
        if "v_leak" in params:
            settings["v_leak"] = (params["v_leak"], "")
        r = params.get("r", np.ones(1))
        if kind == "IF":
            scale = np.broadcast_to(r * self.dt, shape)
            if not np.all(scale == scale.ravel()[0]):
                self.fail("E611", f"node {py(name)}: IF with a different r for every neuron")
            settings["input_scale"] = (float(scale.ravel()[0]), "")
        else:
            settings["r"] = (r, "")
            settings["input_scale"] = ("r_dt_over_tau", None)
        if spiking:
            settings["threshold"] = (params["v_threshold"], "")
            settings["reset"] = (self.resets.get(name, "zero"), None)
            settings["v_reset"] = (params.get("v_reset", np.zeros(1)), "")
            if settings["reset"][0] == "snntorch_subtract":
                subtract_after_decay(kind, settings, self.dt)
        return entry

    @staticmethod
    def shape_of(node, params) -> tuple[int, ...]:
        output = getattr(node, "output_type", None) or {}
        for value in output.values():
            shape = tuple(int(v) for v in np.atleast_1d(value))
            if shape and all(v > 0 for v in shape):
                return shape
        largest = max(params.values(), key=lambda a: a.size)
        return tuple(largest.shape) or (1,)

    # -- projections ----------------------------------------------------------------------------
    def projection(self, start: str, weight_name: str, end: str, delay: int) -> None:
        self.current = weight_name
        node = self.graph.nodes[weight_name]
        kind = type(node).__name__
        pre, post = self.names[start], self.names[end]
        target = self.populations[post]
        factor = target["input_factor"]
        metadata = getattr(node, "metadata", None)
        original = metadata.get("snnc_projection") if isinstance(metadata, dict) else None
        if isinstance(original, str) and original == f"{pre}->{post}" == weight_name:
            name = original  # snnc's own default name: written without 'as'
        else:
            name = identifier(weight_name, self.taken)
        bias = None
        if kind in ("Linear", "Affine"):
            weights = np.asarray(node.weight, dtype=np.float64) * factor[:, None]
            projection = Projection(name, pre, post, "dense", weights, delay)
            if kind == "Affine":
                bias = np.asarray(node.bias, dtype=np.float64)
        elif kind == "Scale":
            weights = np.asarray(node.scale, dtype=np.float64).reshape(-1) * factor
            projection = Projection(name, pre, post, "one_to_one", weights, delay)
        elif kind == "Conv2d":
            stride, padding = self.square(weight_name, node.stride), self.square(weight_name,
                                                                                 node.padding)
            if int(np.max(node.dilation)) != 1 or int(node.groups) != 1:
                self.fail("E611", f"node {py(weight_name)}: Conv2d with dilation or groups")
            kernel = np.asarray(node.weight, dtype=np.float64)
            if not np.all(factor == factor[0]):
                self.fail("E611", f"node {py(weight_name)}: a convolution into neurons with "
                          "different input scaling")
            projection = Projection(name, pre, post, "conv2d", kernel * factor[0], delay,
                                    {"kernel": kernel.shape[2], "stride": stride,
                                     "padding": padding, "channels": kernel.shape[0]})
            bias = np.repeat(np.asarray(node.bias, dtype=np.float64),
                             int(np.prod(target["shape"][1:])))
        else:  # SumPool2d
            kernel = self.square(weight_name, node.kernel_size)
            stride = self.square(weight_name, node.stride)
            if int(np.max(node.padding)) != 0:
                self.fail("E611", f"node {py(weight_name)}: SumPool2d with padding")
            projection = Projection(name, pre, post, "sumpool2d", None, delay,
                                    {"kernel": kernel, "stride": stride})
            if not np.all(factor == 1.0):
                projection.weights = np.full(1, factor[0])
        self.projections.append(projection)
        if bias is not None and np.any(bias != 0):
            self.add_bias(post, bias)

    def add_bias(self, post: str, bias: np.ndarray) -> None:
        """A constant input b into a population. Without a synaptic filter it is the neurons'
        own ``bias`` (v += c_in (I + bias)); behind a filter (CubaLIF, CubaLI) it must pass
        through the current: a 'tonic' input that spikes every step (a Poisson source with
        probability 1 per step) drives the population with weights dt/tau_syn * w_in * b."""
        target = self.populations[post]
        if target["model"] not in ("CubaLIF", "CubaLI"):
            previous = target["settings"].get("bias", (np.zeros(bias.size), ""))[0]
            target["settings"]["bias"] = (previous + bias, "")
            return
        if self.tonic is None:
            self.tonic = identifier("tonic", self.taken)
        weights = (bias.reshape(-1) * target["input_factor"]).reshape(-1, 1)
        name = identifier(f"{self.tonic}_{post}", self.taken)
        self.projections.append(Projection(name, self.tonic, post, "dense", weights))

    def square(self, name: str, value) -> int:
        values = np.atleast_1d(np.asarray(value)).astype(int)
        if not np.all(values == values[0]):
            self.fail("E611", f"node {py(name)}: only square kernels, strides and padding")
        return int(values[0])

    # -- writing --------------------------------------------------------------------------------
    def write(self, name: str, archive: str) -> str:
        """The .snn text (:func:`snnc.backends.nir.import_text.write_snn`); the arrays it
        reads from ``archive`` are then in :attr:`arrays`."""
        return write_snn(self, name, archive)

def import_graph(path: str, diag: Diagnostics, dt: float | None, name: str,
                 archive: str, reset=None) -> tuple[str, dict[str, np.ndarray]] | None:
    """(.snn text, arrays for ``archive``) of the graph in ``path``, or None after errors.
    ``reset`` states the reset of spiking nodes the graph does not record (``snnc import-nir
    --reset``): ``"zero"``, ``"3=snntorch_subtract,4=zero"`` or ``{None or node: kind}``
    (:func:`snnc.backends.nir.import_peers.parse_reset`; ValueError for a bad statement)."""
    stated = None if reset is None else parse_reset(reset)
    graph = read_graph(path, diag)
    if graph is None:
        return None
    if dt is None:
        dt = time_step(graph, path, diag)
        if dt is None:
            return None
    resets = recognise(graph, dt, "dt" not in (graph.metadata or {}), diag, stated)
    if resets is None:
        return None
    importer = Importer(graph, dt, path, diag)
    importer.resets = resets
    try:
        importer.run()
        text = importer.write(name, archive)
    except ImportFailed:
        return None
    except UnrepresentableText as error:
        diag.error("E633", None, f"-o: the archive name {py(archive)} cannot be written in "
                   f".snn: {error}", hint="choose an output name without control characters")
        return None
    except (ArithmeticError, AttributeError, IndexError, KeyError, TypeError,
            ValueError) as error:  # a value of the graph that the checks above let through
        where = f" at node {py(importer.current)}" if importer.current is not None else ""
        diag.error("E611", None, f"{py(path)} cannot be imported{where}: "
                   f"{type(error).__name__}: {error}",
                   hint="the graph holds values of a type or shape snnc does not expect")
        return None
    return text, importer.arrays
