"""Trained weights into a program and learning rules out of it: ``--weights FILE`` and
``--no-learn`` of ``snnc run``, ``compile`` and ``map``, applied to the lowered IR before any
pass, so that every pass and backend sees an ordinary program.

Key convention of every file snnc writes: the weights of projection P are ``P.w`` (a
checkpoint of ``snnc train``, the final weights of ``snnc run -o``). Checkpoints written before
this convention named them ``w.P``; both are read. Other arrays of such files (optimizer state,
recordings, ``P.w.history``, ``dt``) are ignored.

Mistakes are E624 naming the file and the projection: weights of a projection the program does
not have (with a did-you-mean), or of another shape than the projection's synapses (the
expected and the found shape). ``--no-learn`` drops every learning rule with the note N501.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np

from snnc.diagnostics import Diagnostic, Diagnostics, Severity, did_you_mean
from snnc.ir.network import Network
from snnc.ir.nodes import Projection
from snnc.ir.values import FromFile

#: the suffix of a projection's weights in every file snnc writes
SUFFIX = ".w"
#: the prefix of checkpoints written before the convention (still read)
OLD_PREFIX = "w."


def weight_key(projection: str) -> str:
    """The key of ``projection``'s weights in the files snnc writes: ``<projection>.w``."""
    return projection + SUFFIX


def weight_arrays(arrays: dict[str, np.ndarray]) -> dict[str, tuple[str, np.ndarray]]:
    """{projection: (key, weights)} of the arrays of a checkpoint or a ``snnc run`` output."""
    found: dict[str, tuple[str, np.ndarray]] = {}
    for key, array in arrays.items():
        if key.startswith(OLD_PREFIX) and not key.endswith(SUFFIX):
            found.setdefault(key[len(OLD_PREFIX):], (key, array))
        elif key.endswith(SUFFIX) and not key.startswith(OLD_PREFIX) and "." not in key[:-2]:
            found[key[:-len(SUFFIX)]] = (key, array)
    return found


def twice_named(arrays: dict[str, np.ndarray]) -> str | None:
    """A projection whose weights ``arrays`` hold under both conventions (``w.P`` and
    ``P.w``), which would leave it undecided which to use; None when there is none."""
    return next((key[len(OLD_PREFIX):] for key in sorted(arrays)
                 if key.startswith(OLD_PREFIX) and weight_key(key[len(OLD_PREFIX):]) in arrays),
                None)


def read_weights(path: str, diag: Diagnostics) -> dict[str, tuple[str, np.ndarray]] | None:
    """The weights of the file ``path`` by projection, or None after E6xx (``--weights``)."""
    from snnc.files import FileProblem, read_npz, report
    try:
        arrays = read_npz(path, text=True)  # a checkpoint records its settings as text
    except FileProblem as problem:
        report(diag, problem, option="--weights")
        return None
    twice = twice_named(arrays)
    if twice is not None:
        diag.error("E624", None, f"--weights: '{path}' holds the weights of '{twice}' twice, as "
                   f"'{OLD_PREFIX}{twice}' and '{weight_key(twice)}'",
                   hint="keep one key per projection ('<projection>.w')")
        return None
    found = weight_arrays(arrays)
    if not found:
        diag.error("E624", None, f"--weights: '{path}' holds no weights",
                   hint="give a checkpoint.npz of snnc train or an output of snnc run -o "
                        "(arrays '<projection>.w')")
        return None
    for key, array in found.values():
        if array.dtype.kind not in "biuf" or not np.all(np.isfinite(array)):
            diag.error("E615" if array.dtype.kind == "f" else "E624", None,
                       f"--weights: '{key}' in '{path}' must hold finite numbers")
    return None if diag.has_errors else found


def expected_shape(net: Network, projection: Projection) -> tuple[int, ...] | None:
    """The shape of ``projection``'s weights in the files snnc writes: [post, pre] for dense
    projections, [synapses] otherwise (None when the count is drawn at build time)."""
    pre, post = net.node(projection.pre), net.node(projection.post)
    c = projection.connectivity
    try:
        if c.kind == "dense":
            return (post.size, pre.size)
        if c.kind in ("conv2d", "sumpool2d"):
            return (math.prod(c.kernel_shape(pre.shape)),)
        if c.kind == "sparse":
            return None
        return (c.synapse_count(pre.shape, post.shape),)
    except (ValueError, TypeError, AttributeError):
        return None


def fits(array: np.ndarray, shape: tuple[int, ...]) -> bool:
    """The same shape, or a kernel/synapse list given in any shape of the same size."""
    return array.shape == shape or (len(shape) == 1 and array.size == shape[0])


def replace_projection(net: Network, projection: Projection) -> None:
    """Put ``projection`` in place of the one of the same name (graph and index)."""
    net.replace_projection(projection)


def apply_weights(net: Network, path: str, diag: Diagnostics) -> bool:
    """Give the projections of ``net`` the weights of the file ``path``; False after errors.
    Projections the file does not name keep their own weights."""
    found = read_weights(path, diag)
    if found is None:
        return False
    names = [p.name for p in net.projections()]
    for name, (key, array) in sorted(found.items()):
        projection = net.projection(name)
        if projection is None and net.has_node(name):
            continue  # a recorded population variable 'pop.w' of a snnc run output
        if projection is None:
            diag.error("E624", None, f"--weights: '{path}' holds weights '{key}' of a "
                       f"projection '{name}'; '{net.settings.name}' has no such projection",
                       hint=did_you_mean(name, names) or f"projections: {', '.join(names) or '-'}")
            continue
        shape = expected_shape(net, projection)
        if shape is not None and not fits(array, shape):
            diag.error("E624", projection.span, f"--weights: the weights of '{name}' in "
                       f"'{path}' ('{key}') have shape {list(array.shape)}; expected "
                       f"{list(shape)}", hint="give the weights of a run of this network "
                       "(snnc train's checkpoint.npz or snnc run -o)")
            continue
        value = FromFile(path, key, span=projection.spans.get("weight", projection.span),
                         data=np.asarray(array, dtype=np.float64))
        replace_projection(net, dataclasses.replace(projection, weight=value))
    return not diag.has_errors


def strip_learning(net: Network, diag: Diagnostics) -> list[str]:
    """Drop every learning rule of ``net`` (``--no-learn``), with the note N501 naming the
    projections; the names of those that had rules."""
    learning = [p for p in net.projections() if p.rules]
    for projection in learning:
        replace_projection(net, dataclasses.replace(projection, rules=()))
    if learning:
        rules = sorted({rule.name for p in learning for rule in p.rules})
        diag.report(Diagnostic(
            "N501", Severity.NOTE, f"--no-learn: the learning rules ({', '.join(rules)}) of "
            f"{', '.join(repr(p.name) for p in learning)} are dropped; the weights stay fixed",
            None))
    return [p.name for p in learning]


def prepare(net: Network, diag: Diagnostics, weights: str | None = None,
            learn: bool = True) -> Network | None:
    """``net`` with the weights of the file ``weights`` and, unless ``learn``, no learning
    rules; None after errors."""
    if weights is not None and not apply_weights(net, weights, diag):
        return None
    if not learn:
        strip_learning(net, diag)
    return net
