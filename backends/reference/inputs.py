"""The reference runner's inputs, checked against the generated simulation module: the data
inputs' spikes and the supervision (targets, labels, reward) of an ``--input`` .npz file, and
the variables to record. Mismatches are diagnostics (E604, E605, E615, W601, W602), never
exceptions, so that ``snnc run`` (and any caller) reports them before simulating.

A data file in the layout of ``snnc train`` (``<split>.<input>``, ``<split>.label``) is read
one split at a time (``split``: ``snnc run --split``)."""

from __future__ import annotations

import numpy as np

from snnc.diagnostics import Diagnostics, did_you_mean

#: the splits of a training data file (``<split>.<input>``, ``<split>.label``)
SPLITS = ("train", "validation", "test")


def read_data(path: str, split: str | None, wanted, diag: Diagnostics) -> dict | None:
    """The arrays of the data file ``path``; with ``split``, those of ``<split>.<name>`` under
    ``<name>`` (the layout of ``snnc train``: ``<split>.label`` becomes ``label``). A training
    data file without ``split`` is E604 (it would leave every input without spikes)."""
    from snnc.files import FileProblem, read_npz, report
    try:
        arrays = read_npz(path)
    except FileProblem as problem:
        report(diag, problem, option="--input")
        return None
    layout = [split for split in SPLITS if any(key.startswith(split + ".") for key in arrays)]
    if split is None:
        if layout and not set(wanted) & set(arrays):
            diag.error("E604", None, f"--input: '{path}' is a training data file (splits "
                       f"{', '.join(layout)}); its spikes are '<split>.<input>'",
                       hint=f"choose a split: --split {' or '.join(layout)}")
            return None
        return arrays
    if split not in layout:
        diag.error("E604", None, f"--input: '{path}' has no split '{split}' (no array "
                   f"'{split}.<input>')", hint=f"splits: {', '.join(layout) or '-'}; the "
                   "layout of snnc train --save-data")
        return None
    prefix = split + "."
    return {key[len(prefix):]: array for key, array in arrays.items() if key.startswith(prefix)}


def load_inputs(path: str | None, module, steps: int, batch: int, diag: Diagnostics,
                split: str | None = None):
    """The data inputs as {name: bool array [steps, batch, n]}; E604 for mismatches."""
    wanted = {name: shape for name, (shape, source) in module.INPUTS.items() if source == "data"}
    given: dict[str, np.ndarray] = {}
    if path is not None:
        given = read_data(path, split, wanted, diag)
        if given is None:
            return None
    inputs = {}
    for name, shape in wanted.items():
        size = int(np.prod(shape))
        if name not in given and split is not None:  # a data file's split feeds every input
            diag.error("E604", None, f"--input: '{path}' has no array '{split}.{name}' for "
                       f"the input '{name}'",
                       hint=did_you_mean(f"{split}.{name}", [f"{split}.{k}" for k in given])
                       or f"arrays of the split: {', '.join(sorted(given)) or '-'}")
            continue
        if name not in given:
            diag.warning("W601", None, f"input '{name}' gets no spikes",
                         hint="give them with --input data.npz (an array named "
                              f"'{name}' of shape [steps, {', '.join(map(str, shape))}])")
            continue
        array = given[name]
        expected = tuple(shape)
        if array.ndim == len(expected) + 1 and array.shape[1:] == expected:
            array = array.reshape(array.shape[0], 1, size)
        elif array.ndim == len(expected) + 2 and array.shape[2:] == expected and \
                array.shape[1] in (1, batch):
            array = array.reshape(array.shape[0], array.shape[1], size)
        else:
            diag.error("E604", None, f"input '{name}' has shape {list(array.shape)}; expected "
                       f"[steps, {', '.join(map(str, expected))}] or [steps, batch, "
                       f"{', '.join(map(str, expected))}] with batch 1 or {batch}")
            continue
        if array.shape[0] < steps:
            diag.error("E604", None, f"input '{name}' has {array.shape[0]} steps; {steps} are "
                       "simulated", hint="pass --steps with at most that many steps")
            continue
        if not np.isin(array, (0, 1)).all():
            diag.error("E604", None, f"input '{name}' must hold spikes (0 or 1)")
            continue
        inputs[name] = np.broadcast_to(array.astype(bool), (array.shape[0], batch, size))
    special = {name for name in given if name.startswith("target.") or name in ("label", "reward")}
    for name in sorted(set(given) - set(wanted) - special):
        diag.warning("W602", None, f"'{path}' holds '{name}', which is not a data input",
                     hint=did_you_mean(name, wanted) or f"data inputs: {', '.join(wanted) or '-'}")
    return None if diag.has_errors else inputs


def load_supervision(path: str | None, module=None, steps: int = 0,
                     diag: Diagnostics | None = None,
                     split: str | None = None,
                     classes: int | None = None) -> tuple[dict, np.ndarray | None]:
    """Targets ('target.<readout>', 'label') and the reward ('reward') of a data file; with
    ``diag``: E615 for NaN/inf, E604 for labels that are not class indices of the readout
    (``target.<readout>``: its size; ``label``: ``classes``, the size of the loss's readout) and
    for too few steps of targets or reward (then ({}, None) with the errors in ``diag``)."""
    if path is None:
        return {}, None
    from snnc.files import FileProblem, read_npz, report
    try:
        arrays = read_npz(path)
    except FileProblem as problem:
        if diag is None:
            raise
        report(diag, problem, option="--input")
        return {}, None
    if split is not None:
        prefix = split + "."
        arrays = {key[len(prefix):]: a for key, a in arrays.items() if key.startswith(prefix)}
    targets = {key[len("target."):]: arrays[key] for key in arrays if key.startswith("target.")}
    if "label" in arrays:
        targets["label"] = arrays["label"]
    reward = arrays.get("reward")
    if diag is None:
        return targets, reward
    checked = dict(targets, **({"reward": reward} if reward is not None else {}))
    for name, array in checked.items():
        key = name if name in ("label", "reward") else f"target.{name}"
        if array.dtype.kind == "f" and not np.isfinite(array).all():
            diag.error("E615", None, f"--input: '{key}' in '{path}' holds NaN or infinite values")
            continue
        if name == "reward" or array.ndim == 3:
            if array.ndim == 0 or array.shape[0] < steps:
                diag.error("E604", None, f"--input: '{key}' in '{path}' has "
                           f"{0 if array.ndim == 0 else array.shape[0]} steps; {steps} are "
                           "simulated", hint="pass --steps with at most that many steps")
            continue
        if name != "label" and array.ndim != 1 and array.dtype.kind == "f":
            continue  # values of an mse target [batch, n]: any finite numbers
        variable = (module.VARIABLES.get(f"{name}.v") if module is not None else None)
        size = int(np.prod(variable[1])) if variable else None
        if name == "label":
            size = classes
        whole = array.dtype.kind in "biu" or (array.dtype.kind == "f" and
                                             bool(np.all(array == np.round(array))))
        if not whole or (array.size and array.min() < 0) or \
                (size is not None and array.size and array.max() >= size):
            diag.error("E604", None, f"--input: '{key}' in '{path}' must hold class indices "
                       f"0 .. {'K-1' if size is None else size - 1}")
        elif array.ndim == 2 and array.shape[0] < steps:
            diag.error("E604", None, f"--input: '{key}' in '{path}' has {array.shape[0]} "
                       f"steps; {steps} are simulated")
    return ({}, None) if diag.has_errors else (targets, reward)


def record_list(record: str | None, net, module, diag: Diagnostics) -> list[str]:
    """The variables to record: ``--record`` or the program's ``record`` statements, else
    every spike. Population and input variables, the rules' traces and signals
    ('<projection>.<name>') and weight histories ('<projection>.w'); anything else is E605
    (at the record statement's position for the program's own)."""
    variables = module.VARIABLES
    histories = [f"{name}.w" for name in module.WEIGHTS]
    owners = {p.name for p in net.populations()} | {x.name for x in net.inputs()}
    known = [*variables, *histories]
    if record:
        wanted = []
        for word in (w.strip() for w in record.split(",") if w.strip()):
            suffix = {"spikes": ".s", "v": ".v", "i": ".i", "a": ".a"}.get(word)
            if suffix is not None:
                wanted += [k for k in variables if k.endswith(suffix)
                           and k.rsplit(".", 1)[0] in owners]
            elif word in known:
                wanted.append(word)
            else:
                diag.error("E605", None, f"--record: cannot record '{word}'",
                           hint=did_you_mean(word, known) or "record spikes, v, i, a, "
                           "population.variable, projection.w or projection.trace")
        return list(dict.fromkeys(wanted))
    chosen = []
    for r in net.records:
        key = f"{r.owner}.{r.variable}"
        if key in known:
            chosen.append(key)
        else:
            diag.error("E605", r.span, f"the reference simulator has no '{key}' to record",
                       hint="a population fed only through receptors has no current 'i' of "
                            "its own; record its spikes or v" if r.variable == "i" else
                       did_you_mean(key, known) or None)
    return list(dict.fromkeys(chosen)) or [k for k in variables if k.endswith(".s")
                                           and k.rsplit(".", 1)[0] in owners]


def check_events(net, module, steps: int, diag: Diagnostics) -> bool:
    """E604 (at the input) for each input whose spike file holds fewer than ``steps`` steps."""
    spans = {x.name: x.span for x in net.inputs()}
    for name, available in module.EVENTS.items():
        if available < steps:
            diag.error("E604", spans.get(name), f"input '{name}' has {available} steps of "
                       f"spikes in its file; {steps} are simulated",
                       hint="pass --steps with at most that many steps")
    return not diag.has_errors
