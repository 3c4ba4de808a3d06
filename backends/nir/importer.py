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

import io
import keyword
import re
from dataclasses import dataclass, field

import numpy as np

from snnc.diagnostics import Diagnostics
from snnc.literals import UnrepresentableText, py, snn_string

NEURONS = {"LIF": "LIF", "CubaLIF": "CubaLIF", "IF": "IF", "LI": "LI", "CubaLI": "CubaLI"}
WEIGHTS = ("Linear", "Affine", "Conv2d", "SumPool2d", "Scale")
PASS_THROUGH = ("Flatten", "Delay")
RESERVED = {"import", "network", "neuron", "input", "population", "readout", "rule", "loss",
            "record", "target", "pre", "post", "w", "net"}
#: the longest .snn name made from a NIR node name (longer ones are cut, then numbered)
MAX_NAME = 64
#: the longest delay imported, in steps of dt (a ring buffer of this depth per projection)
MAX_DELAY_STEPS = 1_000_000


class ImportFailed(Exception):
    """A diagnostic was reported; nothing is written."""


@dataclass
class Projection:
    name: str
    pre: str
    post: str
    kind: str  # dense | conv2d | sumpool2d | one_to_one
    weights: np.ndarray | None
    delay_steps: int = 0
    options: dict = field(default_factory=dict)


def identifier(name: str, taken: set[str]) -> str:
    """A valid, unused .snn name for a NIR node name (``lif1.lif`` -> ``lif1_lif``).

    Guarantees: the result matches the grammar's ``NAME`` (``[A-Za-z_][A-Za-z0-9_]*``), is at
    most :data:`MAX_NAME` characters plus a ``_<k>`` suffix, is no keyword of .snn or
    Python, is not in ``taken`` (and is added to it); any other character of ``name`` (quotes,
    braces, newlines, non-ASCII) becomes ``_``."""
    text = re.sub(r"[^A-Za-z0-9_]", "_", str(name), flags=re.ASCII)[:MAX_NAME] or "node"
    if text[0].isdigit():
        text = "n" + text
    if keyword.iskeyword(text) or text in RESERVED:
        text += "_"
    candidate, k = text, 2
    while candidate in taken:
        candidate, k = f"{text}_{k}", k + 1
    taken.add(candidate)
    return candidate


def read_graph(path: str, diag: Diagnostics):
    """The NIR graph in ``path``, or None after an E6xx diagnostic."""
    import h5py
    import nir

    from snnc.files import FileProblem, array_limit, read_bytes, report

    try:  # a regular file within the array limit (no device, FIFO or folder: E607/E608)
        data = read_bytes(path, array_limit())
    except FileProblem as problem:
        report(diag, problem, option="GRAPH.nir")
        return None
    if not data.startswith(b"\x89HDF\r\n\x1a\n"):
        diag.error("E610", None, f"{py(path)} is not a NIR file (NIR files are HDF5)",
                   hint="export one with nir.write(path, graph)")
        return None
    try:
        with h5py.File(io.BytesIO(data), "r") as handle:
            types = sorted(node_types(handle["node"]))
    except (OSError, KeyError, ValueError) as error:
        diag.error("E610", None, f"{py(path)} is not a readable NIR file: {error}",
                   hint="the file may be truncated")
        return None
    known = set(nir.__all__) if hasattr(nir, "__all__") else set(dir(nir))
    unknown = [t for t in types if t not in known]
    if unknown:
        diag.error("E612", None, f"{py(path)} uses the node type {py(unknown[0])}, which nir "
                   f"{nir.version} does not define")
        return None
    try:
        return nir.read(io.BytesIO(data))
    except Exception as error:  # nir raises many kinds for invalid graphs
        diag.error("E611", None, f"{py(path)} is not a valid NIR graph: {error}",
                   hint="nir's own type check refuses it; re-export it with a current nir")
        return None


def node_types(group) -> set[str]:
    """Every node type named in a NIR HDF5 group, nested graphs included."""
    out = set()
    if "type" in group:
        value = group["type"][()]
        out.add(value.decode() if isinstance(value, bytes) else str(value))
    if "nodes" in group:
        for name in group["nodes"]:
            out |= node_types(group["nodes"][name])
    return out


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
                          "(1 - dt/tau <= 0)", hint="import with a smaller --dt")
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
            settings["reset"] = ("zero", None)
            settings["v_reset"] = (params.get("v_reset", np.zeros(1)), "")
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
    def value(self, key: str, value, unit: str | None) -> str:
        """A .snn value: a literal when uniform, else file(...) into the sidecar archive."""
        if unit is None:
            return str(value)
        array = np.asarray(value, dtype=np.float64)
        suffix = f" {unit}" if unit else ""
        if array.size == 1 or np.all(array == array.ravel()[0]):
            return f"{float(array.ravel()[0])!r}{suffix}".replace("inf", "1e999")
        self.arrays[key] = array.reshape(-1)
        return f"file({snn_string(self.archive)}, key = {snn_string(key)})"

    def write(self, name: str, archive: str) -> str:
        self.archive = archive
        lines = [f"# Imported from the NIR graph {py(self.source)} by snnc.",
                 "# Euler integration at the graph's dt reproduces what NIR importers compute.",
                 f"network {identifier(name, set())} {{",
                 f"  dt = {self.dt!r} s", "  integration = euler", "}", ""]
        for input_name, shape in self.inputs.items():
            lines.append(f"input {input_name}[{', '.join(map(str, shape))}]")
        if self.tonic is not None:
            lines.append(f"input {self.tonic}[1]: poisson(rate = {1.0 / self.dt!r} Hz)"
                         "  # spikes every step: carries the graph's biases")
        for pop_name, entry in self.populations.items():
            kind = "population" if entry["spiking"] else "readout"
            lines += ["", f"{kind} {pop_name}: {entry['model']}[{', '.join(map(str, entry['shape']))}]"
                      f" {{  # NIR node {py(entry['nir'])}"]
            for key, (value, unit) in entry["settings"].items():
                lines.append(f"  {key} = {self.value(f'{pop_name}.{key}', value, unit)}")
            lines.append("}")
        for p in self.projections:
            connectivity = {"dense": "file({a}, key = {k})", "one_to_one": "one_to_one",
                            "conv2d": "conv2d(kernel = {kernel}, stride = {stride}, padding = "
                                      "{padding}, channels = {channels})",
                            "sumpool2d": "sumpool2d(kernel = {kernel}, stride = {stride})"}[p.kind]
            key = f"{p.name.replace('->', '_to_')}.weight"
            body = []
            if p.kind == "dense":
                self.arrays[key] = p.weights
                text = connectivity.format(a=snn_string(self.archive), k=snn_string(key))
            else:
                text = connectivity.format(**p.options)
                if p.weights is not None:
                    body.append(f"  weight = {self.value(key, p.weights, '')}")
            if p.delay_steps:
                body.append(f"  delay = {p.delay_steps}")
            lines.append("")
            alias = "" if p.name == f"{p.pre}->{p.post}" else f" as {p.name}"
            lines.append(f"{p.pre} -> {p.post}{alias}: {text}" + (" {" if body else ""))
            if body:
                lines += body + ["}"]
        if self.records:
            lines += ["", "record " + ", ".join(sorted(set(self.records)))]
        return "\n".join(lines) + "\n"


def apply(node, x: np.ndarray, with_bias: bool) -> np.ndarray:
    """A NIR linear node applied to a batch x [batch, *shape] (numpy, for composing maps)."""
    kind = type(node).__name__
    if kind == "Flatten":
        return x.reshape(x.shape[0], -1)
    if kind in ("Linear", "Affine"):
        out = x.reshape(x.shape[0], -1) @ np.asarray(node.weight, dtype=np.float64).T
        if kind == "Affine" and with_bias:
            out = out + np.asarray(node.bias, dtype=np.float64)
        return out
    if kind == "Scale":
        return x * np.asarray(node.scale, dtype=np.float64)
    if kind == "SumPool2d":
        k = int(np.atleast_1d(node.kernel_size)[0])
        stride = int(np.atleast_1d(node.stride)[0])
        return windows(x, k, stride, 0).sum(axis=(-2, -1))
    # Conv2d: cross-correlation with zero padding
    weight = np.asarray(node.weight, dtype=np.float64)
    stride = int(np.atleast_1d(node.stride)[0])
    padding = int(np.atleast_1d(node.padding)[0])
    patches = windows(x, weight.shape[2], stride, padding)  # [batch, C_in, oh, ow, k, k]
    out = np.einsum("bcyxij,ocij->boyx", patches, weight)
    if with_bias:
        out = out + np.asarray(node.bias, dtype=np.float64)[None, :, None, None]
    return out


def windows(x: np.ndarray, k: int, stride: int, padding: int) -> np.ndarray:
    """Sliding k x k windows of x [batch, C, H, W]: [batch, C, out_h, out_w, k, k]."""
    padded = np.pad(x, ((0, 0), (0, 0), (padding, padding), (padding, padding)))
    view = np.lib.stride_tricks.sliding_window_view(padded, (k, k), axis=(2, 3))
    return view[:, :, ::stride, ::stride]


def import_graph(path: str, diag: Diagnostics, dt: float | None, name: str,
                 archive: str) -> tuple[str, dict[str, np.ndarray]] | None:
    """(.snn text, arrays for ``archive``) of the graph in ``path``, or None after errors."""
    graph = read_graph(path, diag)
    if graph is None:
        return None
    if dt is None:
        dt = time_step(graph, path, diag)
        if dt is None:
            return None
    importer = Importer(graph, dt, path, diag)
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


def time_step(graph, path: str, diag: Diagnostics) -> float | None:
    """The graph's ``dt`` metadata as a positive, finite number of seconds; None after E614."""
    metadata = graph.metadata if isinstance(graph.metadata, dict) else {}
    value = metadata.get("dt")
    hint = "give it with --dt, e.g. --dt 1e-4 (seconds)"
    if value is None:
        diag.error("E614", None, f"{py(path)} does not say its time step", hint=hint)
        return None
    array = np.asarray(value)
    if array.size != 1 or array.dtype.kind not in "fiu":
        shown = str(array.tolist() if array.dtype.kind in "fiub" else value)[:80]
        diag.error("E614", None, f"{py(path)}: the metadata 'dt' is {py(shown)}, not one "
                   "number of seconds", hint=hint)
        return None
    dt = float(array.ravel()[0])
    if not (np.isfinite(dt) and dt > 0):
        diag.error("E614", None, f"{py(path)}: the metadata 'dt' is {dt:g}; a time step is "
                   "a positive, finite number of seconds", hint=hint)
        return None
    return dt
