"""What the chip computes, predicted by snnc: a Xylo program run in snnc's own integer
simulator (:mod:`snnc.backends.xylo.integer`), its results in the recordings' names.

``snnc run --arithmetic xylo`` records, per population, the spikes ``s`` (a hidden neuron may
fire up to 31 in one step: as uint8 counts, or as events with one equal event per spike), the
membrane ``v`` and the first synaptic current ``i`` as the chip's int16 integers (``v = S
v_snnc``, S in the compile's layout.json and quantization.json), and the inputs' spikes. The
same names and layout as ``run.py`` of ``snnc compile --emit xylo`` writes from XyloSim.
"""

from __future__ import annotations

import numpy as np

from snnc.backends.xylo.integer import simulate
from snnc.backends.xylo.program import XyloProgram, input_counts

#: the chip's recordings of a recorded variable: hidden neurons, output neurons
STATES = {"s": ("spikes", "spikes_out"), "v": ("vmem", "vmem_out"), "i": ("isyn", "isyn_out")}


def run_chip(program: XyloProgram, spikes: dict[str, np.ndarray], record: list[str],
             shapes: dict[str, tuple[int, ...]], steps: int, batch: int, every: int = 1,
             count: tuple[str, ...] = ()) -> dict[str, np.ndarray]:
    """The recordings of ``record`` (every ``every`` steps) and the spike totals
    '<var>.count' [batch, *shape] of ``count``, for the inputs' ``spikes`` ([steps, batch,
    *shape] each). Spikes are uint8 counts [kept, batch, *shape]; states int32."""
    layout = program.layout
    counts = input_counts(spikes, layout, steps, batch)
    results = simulate(program.spec, counts)
    out: dict[str, np.ndarray] = {}

    def values(name: str) -> np.ndarray:
        owner, _, variable = name.rpartition(".")
        kind, place = layout.placement(owner)
        if kind == "input":
            chosen = counts[:, :, place.start:place.stop]
        else:
            chosen = results[STATES[variable][kind == "output"]][:, :, place.start:place.stop]
        kept = chosen.astype(np.uint8 if variable == "s" else np.int32)
        return kept.reshape((steps, batch, *shapes[owner]))

    for name in record:
        out[name] = values(name)[::every]
    for name in count:
        out[name + ".count"] = values(name).sum(axis=0, dtype=np.int64)
    return out
