"""Reading a NIR file for the importer (:mod:`snnc.backends.nir.importer`): the graph and its
time step, both untrusted.

Guarantees: :func:`read_graph` returns a graph that ``nir`` itself accepted, or None after an
E6xx diagnostic (E607/E608 for what is no regular file within the array limit, E610 for what
is no readable HDF5/NIR file, E612 for a node type the installed ``nir`` does not define,
E611 for a graph ``nir`` refuses). :func:`time_step` returns a positive, finite number of
seconds, or None after E614.
"""

from __future__ import annotations

import io

import numpy as np

from snnc.diagnostics import Diagnostics
from snnc.literals import py


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
