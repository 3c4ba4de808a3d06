"""The place pass: the partition's cores onto the target's mesh (see :mod:`snnc.mapping.place`).

Attaches a :class:`PlaceResult` as ``net.analyses["place"]``. Errors:

- E402  more cores than the mesh's chips hold;
- E404  a chip's router needs more routing entries than the target has.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from snnc.diagnostics import Diagnostics
from snnc.ir.network import Network
from snnc.mapping.place import Mesh, Placement, link_loads, place, routing_entries
from snnc.mapping.traffic import traffic_matrix


@dataclass
class PlaceResult:
    mesh: Mesh
    placement: Placement
    baseline: Placement
    traffic: np.ndarray             # [K, K] packets per step
    loads: dict[str, np.ndarray]    # directed link loads (see link_loads)
    routing_entries: np.ndarray     # per chip used

    @property
    def max_link_load(self) -> float:
        return float(max((v.max(initial=0.0) for v in self.loads.values()), default=0.0))


@dataclass
class Place:
    name: str = "place"
    description: str = "place cores on the mesh with the least hop-weighted traffic"
    requires = ("partition",)

    def run(self, net: Network, diag: Diagnostics) -> Network:
        part = net.analyses.get("partition")
        if part is None:
            return net
        profile = part.model.profile
        mesh = Mesh.of(profile)
        cores = part.best.assignment.cores
        if cores > mesh.total:
            return net  # the partition pass reported E402
        t = traffic_matrix(part.best.flows, cores)
        placement, baseline = place(t, mesh)
        entries = routing_entries(t, placement, mesh)
        limit = profile.capacity.get("routing_entries_per_chip")
        if limit is not None:
            worst = int(np.argmax(entries))
            if entries[worst] > limit:
                largest = max(net.populations(), key=lambda p: p.size)
                diag.error("E404", largest.span, f"chip {worst} needs {entries[worst]:,} routing "
                           f"entries but {profile.name} has {limit:,.0f} per chip",
                           hint="fewer, larger slices (a larger neurons_per_core) or fewer "
                                "projections between distant populations")
        net.analyses[self.name] = PlaceResult(mesh, placement, baseline, t,
                                              link_loads(t, placement), entries)
        return net
