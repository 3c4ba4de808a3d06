"""The data of ``snnc train``: a generated data set (``randman[:key=value,...]`` or
``store_recall[:key=value,...]``) or an .npz file.

Layout of a data file (what :func:`to_arrays` writes), for a network whose data input is
called ``units``::

    train.units       bool or 0/1 [steps, samples, *shape]    train.label       int [samples]
    validation.units  ...                                     validation.label  ...
    test.units        ...                                     test.label        ...

Labels are class indices 0 .. K-1 for the readout's K neurons.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from snnc.datasets import randman, store_recall
from snnc.datasets.randman import SPLITS, Dataset
from snnc.diagnostics import Diagnostics, did_you_mean
from snnc.files import FileProblem, available_memory, human, read_npz
from snnc.ir.network import Network


@dataclass(frozen=True)
class Generator:
    """A data generator of ``--data NAME[:key=value,...]``: its options (a frozen dataclass of
    ints and floats with ``check()``), the generator, its memory estimate, what to lower when
    that is too much (E617's hint) and how to get ``n`` input channels (E621's hint)."""

    options: type
    generate: Callable
    estimate_bytes: Callable
    lower: str
    channels: Callable[[int], str]


GENERATORS = {
    "randman": Generator(randman.RandmanOptions, randman.generate, randman.estimate_bytes,
                         "samples, classes, units or steps", lambda n: f"units={n}"),
    "store_recall": Generator(
        store_recall.StoreRecallOptions, store_recall.generate, store_recall.estimate_bytes,
        "samples, classes, probes, group, cue_steps, delay or recall_steps",
        lambda n: f"(classes + probes) * group = {n} channels"),
}


def data_input(net: Network, diag: Diagnostics):
    """The network's single data input, or None after an E622."""
    inputs = [node for node in net.inputs() if node.source == "data"]
    if len(inputs) != 1:
        diag.error("E622", inputs[1].span if len(inputs) > 1 else None,
                   f"snnc train needs exactly one data input; '{net.settings.name}' has "
                   f"{len(inputs)}", hint="declare one 'input NAME[size]' without a source")
        return None
    return inputs[0]


def generator_options(kind: str, text: str, diag: Diagnostics):
    """Parse ``key=value,...`` into the options of generator ``kind`` (E620 for unknown keys
    and bad values, E615 for values that are not finite, E617 when they need too much memory)."""
    generator = GENERATORS[kind]
    types = {f.name: f.type for f in dataclasses.fields(generator.options)}
    values: dict = {}
    for item in (part.strip() for part in text.split(",") if part.strip()):
        key, equals, value = item.partition("=")
        key = key.strip()
        if key not in types:
            diag.error("E620", None, f"--data: {kind} has no option '{key}'",
                       hint=did_you_mean(key, types) or f"options: {', '.join(types)}")
            continue
        if not equals:
            diag.error("E620", None, f"--data: {kind} option '{key}' needs a value ({key}=...)")
            continue
        if key in values:
            diag.error("E620", None, f"--data: {kind} option '{key}' is given twice")
            continue
        try:
            values[key] = int(value) if types[key] in ("int", int) else float(value)
        except ValueError:
            diag.error("E620", None, f"--data: {kind} option {key}={value.strip()!r} is not a "
                       f"{'whole ' if types[key] in ('int', int) else ''}number")
            continue
        if not math.isfinite(values[key]):
            diag.error("E615", None, f"--data: {kind} option {key}={value.strip()} is not a "
                       "finite number")
    if diag.has_errors:
        return None
    options = generator.options(**values)
    for problem in options.check():
        diag.error("E620", None, f"--data: {kind}: {problem}")
    if diag.has_errors:
        return None
    needed, available = generator.estimate_bytes(options), available_memory()
    if needed > available // 2:
        diag.error("E617", None, f"--data: {kind} with these options needs about "
                   f"{human(needed)}; {human(available)} of memory is available",
                   hint=f"lower {generator.lower}")
        return None
    return options


def read_file(path: str, name: str, diag: Diagnostics) -> Dataset | None:
    """A data file in the layout above, validated by :mod:`snnc.files` (E601/E607/E608/E609
    naming ``--data``); E621 for the wrong layout."""
    try:
        arrays = read_npz(path)
    except FileProblem as problem:
        diag.error(problem.code, None, f"--data: cannot read data file: {problem.message}",
                   hint=problem.hint or
                   "give --data randman[:options] or an .npz file (see snnc train --help)")
        return None
    spikes, labels = {}, {}
    for split in SPLITS:
        key, label_key = f"{split}.{name}", f"{split}.label"
        missing = [k for k in (key, label_key) if k not in arrays]
        if missing:
            diag.error("E621", None, f"'{path}' has no array '{missing[0]}'",
                       hint=did_you_mean(missing[0], arrays) or
                       f"arrays: {', '.join(sorted(arrays)) or '-'}")
            continue
        x, y = arrays[key], arrays[label_key]
        if x.ndim < 3 or y.ndim != 1 or x.shape[1] != y.shape[0] or x.shape[1] == 0:
            diag.error("E621", None, f"'{path}': {key} must be [steps, samples, *shape] and "
                       f"{label_key} [samples], not {list(x.shape)} and {list(y.shape)}")
            continue
        if not np.isin(x, (0, 1)).all():
            diag.error("E621", None, f"'{path}': {key} must hold spikes (0 or 1)")
            continue
        if not np.issubdtype(y.dtype, np.integer) or (y.size and y.min() < 0):
            diag.error("E621", None, f"'{path}': {label_key} must hold class indices >= 0")
            continue
        spikes[split] = x.reshape(x.shape[0], x.shape[1], -1).astype(bool)
        labels[split] = y.astype(np.int64)
    if diag.has_errors:
        return None
    steps = {x.shape[0] for x in spikes.values()}
    if len(steps) != 1:
        diag.error("E621", None, f"'{path}': the splits have different numbers of steps "
                   f"{sorted(steps)}")
        return None
    return Dataset(spikes, labels)


def load(spec: str, net: Network, diag: Diagnostics) -> Dataset | None:
    """The data set of ``--data spec`` for ``net``, checked against its data input and readout."""
    node = data_input(net, diag)
    if node is None:
        return None
    kind, _, rest = spec.partition(":")
    generator = GENERATORS.get(kind, GENERATORS["randman"])
    if kind in GENERATORS or (not spec.endswith(".npz") and ":" in spec):
        if kind not in GENERATORS:
            diag.error("E620", None, f"unknown data generator '{kind}'",
                       hint=did_you_mean(kind, GENERATORS) or
                       f"generators: {', '.join(GENERATORS)}; or give an .npz file")
            return None
        options = generator_options(kind, rest, diag)
        if options is None:
            return None
        dataset = generator.generate(options)
    else:
        dataset = read_file(spec, node.name, diag)
        if dataset is None:
            return None
    units = dataset.spikes["train"].shape[2]
    if units != node.size:
        diag.error("E621", node.span, f"the data have {units} channels; input '{node.name}' "
                   f"has {node.size}", hint=f"declare 'input {node.name}[{units}]' or generate "
                   f"the data with {generator.channels(node.size)}")
        return None
    loss = net.losses[0] if net.losses else None
    if loss is not None:
        size = net.node(loss.population).size
        if dataset.classes > size:
            diag.error("E621", loss.span, f"the data have {dataset.classes} classes; the "
                       f"readout '{loss.population}' has {size} neurons",
                       hint=f"give '{loss.population}' {dataset.classes} neurons")
            return None
    return dataset


def to_arrays(dataset: Dataset, name: str) -> dict[str, np.ndarray]:
    """The arrays of a data file (the layout above) for an input called ``name``."""
    out = {}
    for split in SPLITS:
        out[f"{split}.{name}"] = dataset.spikes[split]
        out[f"{split}.label"] = dataset.labels[split]
    return out
