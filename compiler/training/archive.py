"""Files that ``snnc train`` writes: byte-identical for the same inputs, replaced atomically.

``numpy.savez`` stamps each member with the current time; :func:`save_npz` writes the same
.npy members into a zip file with a fixed date, so that equal arrays give equal files.
"""

from __future__ import annotations

import io
import json
import os
import tempfile
import zipfile

import numpy as np

FIXED_DATE = (1980, 1, 1, 0, 0, 0)


def npz_bytes(arrays: dict[str, np.ndarray]) -> bytes:
    """The .npz file of ``arrays`` (sorted members, fixed dates, deflated)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name in sorted(arrays):
            member = io.BytesIO()
            np.lib.format.write_array(member, np.asarray(arrays[name]), allow_pickle=False)
            info = zipfile.ZipInfo(name + ".npy", date_time=FIXED_DATE)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            archive.writestr(info, member.getvalue())
    return buffer.getvalue()


def write_bytes(path: str, content: bytes) -> None:
    """Write ``content`` to ``path`` atomically (a temporary file renamed into place)."""
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=".snnc-", dir=folder)
    try:
        with os.fdopen(handle, "wb") as stream:
            stream.write(content)
        os.replace(temporary, path)
    except BaseException:
        os.unlink(temporary)
        raise


def save_npz(path: str, arrays: dict[str, np.ndarray]) -> None:
    write_bytes(path, npz_bytes(arrays))


def save_json(path: str, document) -> None:
    write_bytes(path, (json.dumps(document, indent=2, sort_keys=True) + "\n").encode())


def load_npz(path: str) -> dict[str, np.ndarray]:
    with np.load(path, allow_pickle=False) as archive:
        return {key: archive[key] for key in archive.files}
