"""The core assignment of a Lava program, from the ``mapping.json`` that ``snnc map`` writes.

A mapping lists slices: neurons ``start:stop`` of a population on ``core`` (chip, x, y). A Lava
process holds a group of a population's neurons; its cores are those of the slices that
overlap the group. The program records them (``CORES`` in ``network.py``, a column of its
README) for deployment; Lava 0.10.0's CPU simulator does not use them.
"""

from __future__ import annotations

import numpy as np

from snnc.backends.lava.graph import LavaGraph
from snnc.diagnostics import Diagnostics


def read_cores(mapping: dict, graph: LavaGraph, sizes: dict[str, int], where: str,
               diag: Diagnostics) -> dict[str, list[int]] | None:
    """{process: cores}, or None after E606 (the mapping is not of this network)."""
    covered = {name: np.zeros(size, dtype=np.int64) - 1 for name, size in sizes.items()}
    try:
        for piece in mapping["slices"]:
            population, start, stop = piece["population"], int(piece["start"]), int(piece["stop"])
            if population not in covered or not 0 <= start < stop <= sizes[population]:
                raise ValueError(f"slice {population}[{start}:{stop}] is not in this network")
            covered[population][start:stop] = int(piece["core"])
    except (KeyError, TypeError, ValueError) as error:
        diag.error("E606", None, f"mapping '{where}' does not fit this network: {error}",
                   hint="write it for this network with 'snnc map FILE -o DIR'")
        return None
    missing = [name for name, cores in covered.items() if (cores < 0).any()]
    if missing:
        diag.error("E606", None, f"mapping '{where}' places no core for some neurons of "
                   f"{', '.join(missing)}", hint="write it for this network with 'snnc map'")
        return None
    return {g.name: sorted(set(covered[g.population][g.indices].tolist()))
            for g in graph.groups}
