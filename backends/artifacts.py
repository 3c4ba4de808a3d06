"""Helpers every backend shares for writing its artifacts (no backend imports another)."""

from __future__ import annotations

import io
import zipfile

import numpy as np

from snnc.ir.values import Constant, Normal, Uniform
from snnc.literals import py_comment
from snnc.units import Quantity


def literal(value: float) -> str:
    """A float as a Python literal that reads back to the same double."""
    return repr(float(value))


def npy_header(array: np.ndarray) -> bytes:
    """The .npy header :func:`numpy.lib.format.write_array` writes for the C-contiguous
    ``array`` (format 1.0, or 2.0 when the header does not fit 1.0's 65,535 bytes)."""
    header = io.BytesIO()
    fields = np.lib.format.header_data_from_array_1_0(array)
    try:
        np.lib.format.write_array_header_1_0(header, fields)
    except ValueError:
        header = io.BytesIO()
        np.lib.format.write_array_header_2_0(header, fields)
    return header.getvalue()


def save_npz(arrays: dict[str, np.ndarray]) -> bytes:
    """An uncompressed .npz with fixed member order and timestamps (byte-identical output):
    the bytes ``np.lib.format.write_array`` gives for each ``np.ascontiguousarray(array)``,
    stored by ``ZipFile.writestr``. Each member is streamed into the archive from the array's
    own buffer (the size given first, as ``writestr`` does, so the bytes are the same), with
    no copy of the array beside the archive; object arrays are refused (no pickles)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as archive:
        for key in sorted(arrays):
            array = np.ascontiguousarray(arrays[key])
            if array.dtype.hasobject:
                raise ValueError(f"{key}: object arrays cannot be saved (no pickles)")
            header = npy_header(array)
            info = zipfile.ZipInfo(key + ".npy", date_time=(1980, 1, 1, 0, 0, 0))
            info.file_size = len(header) + array.nbytes
            with archive.open(info, "w") as member:
                member.write(header)
                member.write(array.reshape(-1).view(np.uint8))
    return buffer.getvalue()


def parameter_text(value, dims) -> str:
    """A parameter value for a comment, in the units the language writes (``20 ms``): SI
    values converted back when the parameter has one dimension; the SI value as it is when
    it may be a voltage or a plain number (the IR does not keep which one was written);
    anything else (a file) as :func:`snnc.literals.py_comment` text."""
    dim = dims[0] if len(dims) == 1 else None
    if dim is not None and isinstance(value, Constant):
        return str(Quantity(value.value, dim))
    if dim is not None and isinstance(value, Uniform):
        return f"uniform({Quantity(value.low, dim)}, {Quantity(value.high, dim)})"
    if dim is not None and isinstance(value, Normal):
        return f"normal({Quantity(value.mean, dim)}, {Quantity(value.std, dim)})"
    return py_comment(value.describe())


def written_parameters(population) -> dict[str, str]:
    """Every parameter of an IR population (defaults filled in) -> its text for a comment
    (:func:`parameter_text`), names escaped, in the model's order."""
    out = {}
    for name, value in population.params.items():
        spec = population.model.param(name)
        out[py_comment(name)] = parameter_text(value, spec.dims if spec else ())
    return out


def wrap_comment(parts: list[str], lead: str = "#   ", width: int = 100) -> list[str]:
    """``parts`` joined by ', ' into comment lines (each starting with ``lead``) of at most
    ``width`` characters where the parts allow it; the parts must be comment-safe already."""
    lines, current = [], ""
    for part in parts:
        if current and len(lead) + len(current) + len(part) + 2 > width:
            lines.append(lead + current + ",")
            current = ""
        current = f"{current}, {part}" if current else part
    return lines + ([lead + current] if current else [])
