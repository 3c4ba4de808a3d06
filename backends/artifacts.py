"""Helpers every backend shares for writing its artifacts (no backend imports another)."""

from __future__ import annotations

import io
import zipfile

import numpy as np


def literal(value: float) -> str:
    """A float as a Python literal that reads back to the same double."""
    return repr(float(value))


def save_npz(arrays: dict[str, np.ndarray]) -> bytes:
    """An uncompressed .npz with fixed member order and timestamps (byte-identical output)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as archive:
        for key in sorted(arrays):
            member = io.BytesIO()
            np.lib.format.write_array(member, np.ascontiguousarray(arrays[key]),
                                      allow_pickle=False)
            info = zipfile.ZipInfo(key + ".npy", date_time=(1980, 1, 1, 0, 0, 0))
            archive.writestr(info, member.getvalue())
    return buffer.getvalue()
