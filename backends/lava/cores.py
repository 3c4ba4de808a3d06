"""The core assignment of a Lava program, from the ``mapping.json`` that ``snnc map`` writes.

A Lava process holds a group of a population's neurons; its cores are those the mapping gave
those neurons. The program records them (``CORES`` in ``network.py``, a column of its README)
for deployment; Lava 0.10.0's CPU simulator does not use them.
"""

from __future__ import annotations

from snnc.backends.lava.graph import LavaGraph
from snnc.diagnostics import Diagnostics
from snnc.mapping.document import core_of_neurons


def read_cores(mapping: dict, graph: LavaGraph, sizes: dict[str, int], where: str,
               diag: Diagnostics) -> dict[str, list[int]] | None:
    """{process: cores}, or None after E606 (the mapping is not of this network)."""
    cores = core_of_neurons(mapping, sizes, where, diag)
    if cores is None:
        return None
    return {g.name: sorted(set(cores[g.population][g.indices].tolist())) for g in graph.groups}
