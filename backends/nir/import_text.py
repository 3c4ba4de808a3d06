"""The .snn text of an imported NIR graph (:mod:`snnc.backends.nir.importer`).

The graph is untrusted: node names become .snn identifiers only through :func:`identifier`,
and every other text reaches the .snn only through :mod:`snnc.literals` (string literals,
comments). A value that is the same for every neuron or synapse is written as a literal; any
other array goes into the sidecar ``.npz`` (``arrays``, in the order the text names them) and
the text reads it with ``file("<archive>", key = "<key>")``.
"""

from __future__ import annotations

import keyword
import re
from dataclasses import dataclass, field

import numpy as np

from snnc.literals import py, snn_string

RESERVED = {"import", "network", "neuron", "input", "population", "readout", "rule", "loss",
            "record", "target", "pre", "post", "w", "net"}
#: the longest .snn name made from a NIR node name (longer ones are cut, then numbered)
MAX_NAME = 64

#: the .snn connectivity of each projection kind (``dense`` reads its matrix from the archive)
CONNECTIVITY = {"dense": "file({a}, key = {k})", "one_to_one": "one_to_one",
                "conv2d": "conv2d(kernel = {kernel}, stride = {stride}, padding = "
                          "{padding}, channels = {channels})",
                "sumpool2d": "sumpool2d(kernel = {kernel}, stride = {stride})"}


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


def write_snn(imported, name: str, archive: str) -> str:
    """The .snn text of ``imported`` (an :class:`~snnc.backends.nir.importer.Importer` after
    ``run``): the network block at its dt with Euler integration, the inputs (and the tonic
    input that carries biases), the populations with their settings, the projections, the
    records. Arrays go into ``imported.arrays`` for ``archive``."""
    text = SnnText(archive, imported.arrays)
    lines = [f"# Imported from the NIR graph {py(imported.source)} by snnc.",
             "# Euler integration at the graph's dt reproduces what NIR importers compute.",
             f"network {identifier(name, set())} {{",
             f"  dt = {imported.dt!r} s", "  integration = euler", "}", ""]
    for input_name, shape in imported.inputs.items():
        lines.append(f"input {input_name}[{', '.join(map(str, shape))}]")
    if imported.tonic is not None:
        lines.append(f"input {imported.tonic}[1]: poisson(rate = {1.0 / imported.dt!r} Hz)"
                     "  # spikes every step: carries the graph's biases")
    for pop_name, entry in imported.populations.items():
        lines += text.population(pop_name, entry)
    for projection in imported.projections:
        lines += text.projection(projection)
    if imported.records:
        lines += ["", "record " + ", ".join(sorted(set(imported.records)))]
    return "\n".join(lines) + "\n"


class SnnText:
    """Writes declarations, putting their non-uniform arrays into ``arrays`` for ``archive``."""

    def __init__(self, archive: str, arrays: dict[str, np.ndarray]):
        self.archive = archive
        self.arrays = arrays

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

    def population(self, name: str, entry: dict) -> list[str]:
        """A population (spiking) or readout block with the NIR node's name in a comment."""
        kind = "population" if entry["spiking"] else "readout"
        lines = ["", f"{kind} {name}: {entry['model']}[{', '.join(map(str, entry['shape']))}]"
                 f" {{  # NIR node {py(entry['nir'])}"]
        for key, (value, unit) in entry["settings"].items():
            lines.append(f"  {key} = {self.value(f'{name}.{key}', value, unit)}")
        lines.append("}")
        return lines

    def projection(self, p: Projection) -> list[str]:
        """``pre -> post [as name]: connectivity`` with its weight and delay, if any."""
        key = f"{p.name.replace('->', '_to_')}.weight"
        body = []
        if p.kind == "dense":
            self.arrays[key] = p.weights
            text = CONNECTIVITY[p.kind].format(a=snn_string(self.archive), k=snn_string(key))
        else:
            text = CONNECTIVITY[p.kind].format(**p.options)
            if p.weights is not None:
                body.append(f"  weight = {self.value(key, p.weights, '')}")
        if p.delay_steps:
            body.append(f"  delay = {p.delay_steps}")
        alias = "" if p.name == f"{p.pre}->{p.post}" else f" as {p.name}"
        lines = ["", f"{p.pre} -> {p.post}{alias}: {text}" + (" {" if body else "")]
        if body:
            lines += body + ["}"]
        return lines
