"""Files that ``snnc train`` writes: byte-identical for the same inputs, replaced atomically.

``numpy.savez`` stamps each member with the current time; :func:`save_npz` writes the same
.npy members into a zip file with a fixed date, so that equal arrays give equal files. Writing
goes through :mod:`snnc.output` (atomic, umask modes, never over a file snnc did not write).
"""

from __future__ import annotations

import json
import math
import os

import numpy as np

from snnc import output
from snnc.files import FileProblem, read_npz
from snnc.weights import OLD_PREFIX, twice_named, weight_key

FIXED_DATE = output.FIXED_DATE


def npz_bytes(arrays: dict[str, np.ndarray]) -> bytes:
    """The .npz file of ``arrays`` (sorted members, fixed dates, deflated, snnc's stamp)."""
    return output.npz_bytes(arrays)


def write_bytes(path: str, content: bytes, *, force: bool = False, option: str = "-o",
                inputs=()) -> list[str]:
    """Write ``content`` to ``path`` atomically through :mod:`snnc.output` (which refuses to
    replace a file snnc did not write unless ``force``; OutputError); the folders created."""
    kind = os.path.splitext(path)[1].lstrip(".").lower()
    kind = kind if kind in output.FILE_KINDS else "json"
    target = output.check_file(str(path), kind, option=option, inputs=inputs, force=force)
    return output.write_file(target, content)


def save_npz(path: str, arrays: dict[str, np.ndarray], *, force: bool = False,
             option: str = "-o", inputs=()) -> list[str]:
    """Save ``arrays`` as a stamped, reproducible .npz through :mod:`snnc.output`."""
    target = output.check_file(str(path), "npz", option=option, inputs=inputs, force=force)
    return output.write_file(target, npz_bytes(arrays))


def save_json(path: str, document, *, force: bool = False) -> list[str]:
    return write_bytes(path, json_bytes(document), force=force)


def json_bytes(document) -> bytes:
    """``document`` as sorted, indented JSON; a non-finite float (a NaN loss that
    ``--allow-nonfinite`` let through) is written as null, since JSON has no NaN."""
    return (json.dumps(finite_or_null(document), indent=2, sort_keys=True, allow_nan=False)
            + "\n").encode()


def finite_or_null(value):
    """``value`` with every NaN or infinite float (also inside lists and dicts) replaced by None."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {key: finite_or_null(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [finite_or_null(item) for item in value]
    return value


def load_npz(path: str) -> dict[str, np.ndarray]:
    """The arrays of a checkpoint ``path`` that snnc wrote, validated before use: a regular
    file, a readable .npz within the size limit, numeric arrays (strings only for the
    settings it records), finite float weights and optimizer state (``*.w``, older ``w.*``, ``adam.m.*``,
    ``adam.v.*``, ``opt.*``) with the Adam moments shaped like their weights, whole-number
    ``epoch``, ``seed`` and ``adam.t``. Raises :class:`snnc.files.FileProblem` (a ValueError)
    with code E623 otherwise."""
    try:
        state = read_npz(path, text=True)
    except FileProblem as problem:
        raise FileProblem("E623", f"checkpoint {problem.message}", problem.hint) from None
    for key, array in sorted(state.items()):
        if key.startswith(("w.", "adam.m.", "adam.v.", "opt.")) or key.endswith(".w"):
            if array.dtype.kind != "f":
                raise FileProblem("E623", f"checkpoint '{path}': '{key}' holds {array.dtype} "
                                  "values; snnc writes float weights and optimizer state")
            if not np.all(np.isfinite(array)):
                raise FileProblem("E623", f"checkpoint '{path}': '{key}' holds NaN or inf")
        elif key in ("epoch", "seed", "adam.t") and (
                array.ndim != 0 or array.dtype.kind not in "iu" or int(array) < 0):
            raise FileProblem("E623", f"checkpoint '{path}': '{key}' must be one whole number "
                              ">= 0")
        if key.startswith(("adam.m.", "adam.v.")):
            name = key.split(".", 2)[2]
            weight = state.get(weight_key(name), state.get(OLD_PREFIX + name))
            if weight is not None and weight.shape != array.shape:
                raise FileProblem("E623", f"checkpoint '{path}': '{key}' has shape "
                                  f"{list(array.shape)}, its weights {list(weight.shape)}")
    twice = twice_named(state)
    if twice:
        raise FileProblem("E623", f"checkpoint '{path}': the weights of '{twice}' are stored "
                          f"twice, as '{OLD_PREFIX}{twice}' and '{weight_key(twice)}'",
                          "a checkpoint holds one key per projection; write it again with "
                          "snnc train")
    return state


load_checkpoint = load_npz
