"""Reading a ``mapping.json`` back (what ``snnc map`` wrote, see :mod:`snnc.mapping.report`).

Backends take a mapping as input: Lava records each process's cores, NIR keeps the document
in its metadata. Both first check that it is a mapping of the network at hand.
"""

from __future__ import annotations

import numpy as np

from snnc.diagnostics import Diagnostics


def core_of_neurons(mapping: dict, sizes: dict[str, int], where: str,
                    diag: Diagnostics) -> dict[str, np.ndarray] | None:
    """{population: core of each neuron}, or None after E606 (not a mapping of a network
    with these population sizes, or some neuron without a core)."""
    cores = {name: np.full(size, -1, dtype=np.int64) for name, size in sizes.items()}
    try:
        for piece in mapping["slices"]:
            population, start, stop = piece["population"], int(piece["start"]), int(piece["stop"])
            if population not in cores or not 0 <= start < stop <= sizes[population]:
                raise ValueError(f"slice {population}[{start}:{stop}] is not in this network")
            cores[population][start:stop] = int(piece["core"])
    except (KeyError, TypeError, ValueError) as error:
        diag.error("E606", None, f"mapping '{where}' does not fit this network: {error}",
                   hint="write it for this network with 'snnc map FILE -o DIR'")
        return None
    missing = [name for name, core in cores.items() if (core < 0).any()]
    if missing:
        diag.error("E606", None, f"mapping '{where}' places no core for some neurons of "
                   f"{', '.join(missing)}", hint="write it for this network with 'snnc map'")
        return None
    return cores
