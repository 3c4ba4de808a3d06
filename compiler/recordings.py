"""The spike-event layout of recordings (``snnc run -o``, :func:`snnc.simulate`, the Lava and
NEST programs' run.py), and reading it back.

A spike variable ``<var>`` (such as ``hidden.s``) recorded as events is four arrays:

- ``<var>.events.step``, ``<var>.events.batch``, ``<var>.events.index``: one entry per spike,
  the recorded step's row (the simulation step with ``--record-every 1``; step k N with
  ``--record-every N``), the sample and the neuron's flat index (row-major over the
  population's shape). They are ``np.nonzero`` of the dense recording reshaped to
  [steps, batch, neurons], so sorted by step, then sample, then neuron. int32, or int64 for a
  range past 2**31 - 1.
- ``<var>.events.shape``: int64 [steps, batch, *shape], the shape of the dense recording.

So ``dense = zeros(shape, bool); dense.reshape(steps, batch, -1)[step, batch, index] = True``
rebuilds it (:func:`spikes_dense`), and a time in seconds is ``step * record_every * dt``.
This is the layout of Brian2's SpikeMonitor (``i``, ``t``) and NEST's spike recorder
(``senders``, ``times``) with integer steps and a sample index.

A neuron of a chip that fires several spikes in one step (Xylo: up to 31, ``snnc run
--arithmetic xylo``) has one equal event per spike, so :meth:`SpikeEvents.counts` counts them
all while :meth:`SpikeEvents.dense` says whether it fired.
"""

from __future__ import annotations

import zipfile
from collections.abc import Mapping
from typing import NamedTuple

import numpy as np

FIELDS = ("step", "batch", "index")
SUFFIX = ".events."


class SpikeEvents(NamedTuple):
    """The spikes of one recorded variable: parallel arrays ``step``, ``batch``, ``index``
    and the ``shape`` [steps, batch, *shape] of the dense recording they stand for."""
    step: np.ndarray
    batch: np.ndarray
    index: np.ndarray
    shape: tuple[int, ...]

    def dense(self) -> np.ndarray:
        """The bool array [steps, batch, *shape] with True where a spike is."""
        out = np.zeros(self.shape, bool)
        out.reshape(self.shape[0], self.shape[1], -1)[self.step, self.batch, self.index] = True
        return out

    def counts(self) -> np.ndarray:
        """Spikes per sample and neuron, int64 [batch, *shape]."""
        neurons = int(np.prod(self.shape[2:], dtype=np.int64))
        flat = self.batch.astype(np.int64) * neurons + self.index
        return np.bincount(flat, minlength=self.shape[1] * neurons).reshape(self.shape[1:])


def key(name: str, field: str) -> str:
    """The array name of ``field`` ('step', 'batch', 'index', 'shape') of variable ``name``."""
    return f"{name}{SUFFIX}{field}"


def names(arrays: Mapping[str, np.ndarray]) -> list[str]:
    """The variables ``arrays`` holds as events (those with a '<var>.events.shape')."""
    tail = SUFFIX + "shape"
    return sorted(k[:-len(tail)] for k in arrays if k.endswith(tail))


def is_event_key(name: str) -> bool:
    """Whether ``name`` is one of the arrays of the event layout."""
    return any(name.endswith(SUFFIX + field) for field in (*FIELDS, "shape"))


def events_of(arrays: Mapping[str, np.ndarray], name: str) -> SpikeEvents:
    """The events of ``name`` in ``arrays`` (a recording in either layout: a dense bool
    array is turned into events); KeyError when it holds neither."""
    if key(name, "shape") in arrays:
        return SpikeEvents(*(np.asarray(arrays[key(name, f)]) for f in FIELDS),
                           tuple(int(k) for k in np.asarray(arrays[key(name, "shape")])))
    dense = np.asarray(arrays[name])
    step, batch, index = np.nonzero(dense.reshape(dense.shape[0], dense.shape[1], -1))
    return SpikeEvents(step, batch, index, dense.shape)


def spikes_dense(recording: Mapping[str, np.ndarray], name: str) -> np.ndarray:
    """The spikes ``name`` (e.g. 'hidden.s') of a recording as a bool array [steps, batch,
    *shape], from either layout: ``recording`` is what ``np.load`` gives for a file of
    ``snnc run -o`` (or of a Lava or NEST run.py), a dict of its arrays, or a
    :class:`snnc.Result`. KeyError when it has no such spikes."""
    if key(name, "shape") in recording:
        return events_of(recording, name).dense()
    return np.asarray(recording[name]).astype(bool)


def with_dense(arrays: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    """The arrays of a recording, plus the bool array [steps, batch, *shape] of every spike
    variable it holds as events, under the variable's name (the events stay)."""
    out = {name: np.asarray(arrays[name]) for name in arrays}
    for name in names(out):
        out[name] = spikes_dense(out, name)
    return out


def load(path) -> dict[str, np.ndarray]:
    """:func:`with_dense` of the .npz file ``path`` (of ``snnc run -o`` or a run.py).
    ValueError when it is not an .npz archive of arrays or its events do not fit their shape
    (:func:`problems`); FileNotFoundError when it is missing."""
    try:
        with np.load(path, allow_pickle=False) as archive:
            if not hasattr(archive, "files"):
                raise ValueError("a single .npy array")
            arrays = {name: archive[name] for name in archive.files}
    except (ValueError, EOFError, zipfile.BadZipFile) as error:
        raise ValueError(f"{str(path)!r} is not an .npz archive of recordings ({error})"
                         ) from None
    found = problems(arrays, str(path))
    if found:
        raise ValueError("; ".join(found))
    return with_dense(arrays)


def to_events(arrays: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    """``arrays`` with every dense spike recording ('<var>.s' bool [steps, batch, ...], or
    uint8 spike counts of a chip that fires several spikes per step: a count of k becomes k
    equal events) replaced by its events (what the programs of other backends save)."""
    out = {}
    for name, array in arrays.items():
        array = np.asarray(array)
        if name.endswith(".s") and array.dtype in (bool, np.uint8) and array.ndim >= 2:
            found = events_of({name: array}, name)
            repeats = array.reshape(array.shape[0], array.shape[1], -1)[
                found.step, found.batch, found.index].astype(np.int64) \
                if array.dtype == np.uint8 else 1
            limits = (array.shape[0], array.shape[1], int(np.prod(array.shape[2:])))
            for field, limit in zip(FIELDS, limits, strict=True):
                out[key(name, field)] = np.repeat(getattr(found, field), repeats).astype(
                    index_type(limit))
            out[key(name, "shape")] = np.array(array.shape, np.int64)
        else:
            out[name] = array
    return out


def index_type(limit: int):
    """int32 for indices up to ``limit``, int64 past 2**31 - 1."""
    return np.int32 if limit <= np.iinfo(np.int32).max else np.int64


def problems(arrays: Mapping[str, np.ndarray], path: str) -> list[str]:
    """What makes the event arrays of ``arrays`` not the layout above (empty when they are):
    all four arrays present, three integer vectors of one length, the shape at least
    [steps, batch] with positive sizes, every event inside it."""
    found = []
    for name in names(arrays):
        missing = [key(name, f) for f in FIELDS if key(name, f) not in arrays]
        if missing:
            found.append(f"'{path}': events of '{name}' lack {', '.join(missing)}")
            continue
        shape = np.asarray(arrays[key(name, "shape")])
        fields = [np.asarray(arrays[key(name, f)]) for f in FIELDS]
        if shape.ndim != 1 or shape.size < 2 or shape.dtype.kind not in "iu" or \
                (shape[:2] <= 0).any() or (shape < 0).any():
            found.append(f"'{path}': '{key(name, 'shape')}' is {shape.tolist()}; it must be "
                         "[steps, batch, *shape] with steps and batch > 0")
            continue
        if any(f.ndim != 1 or f.dtype.kind not in "iu" for f in fields) or \
                len({f.size for f in fields}) != 1:
            found.append(f"'{path}': the events of '{name}' must be integer vectors of one "
                         "length (step, batch, index)")
            continue
        limits = (shape[0], shape[1], int(np.prod(shape[2:], dtype=np.int64)))
        for field, values, limit in zip(FIELDS, fields, limits, strict=True):
            if values.size and (values.min() < 0 or values.max() >= limit):
                found.append(f"'{path}': '{key(name, field)}' holds values outside 0 .. "
                             f"{limit - 1}")
                break
    return found
