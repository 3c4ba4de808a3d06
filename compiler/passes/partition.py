"""The partition pass: neurons onto cores (see :mod:`snnc.mapping.partition` for the method).

Attaches a :class:`PartitionResult` as ``net.analyses["partition"]``. Errors:

- E402  the kept partition needs more cores than the target has (exact count);
- E403  no partition keeps a capacity that depends on where targets sit (output axons,
        destination cores per core or per neuron); names the population and the fix;
- E406  the target has no cores to map onto (the reference simulator);
- E407  the network has no populations (inputs alone occupy no cores);
- Speck: layers onto cores as sinabs assigns them (:mod:`snnc.mapping.speck`, E401-E408).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from snnc.diagnostics import Diagnostics
from snnc.ir.network import Network
from snnc.mapping import speck
from snnc.mapping.capacity import NEEDS, CostModel
from snnc.mapping.graph import MapGraph, build_graph, check_rates
from snnc.mapping.partition import Evaluation, layer_partition, partition
from snnc.mapping.place import Mesh
from snnc.targets import TargetProfile, builtin_names

MAPPABLE = ", ".join(n for n in builtin_names() if n != "reference")


@dataclass
class PartitionResult:
    graph: MapGraph
    model: CostModel
    best: Evaluation
    candidates: list[Evaluation]
    rates_from: str


@dataclass
class Partition:
    name: str = "partition"
    description: str = "split populations into core-sized slices with the fewest remote packets"
    requires = ("check-target", "check-fit")
    rates: dict[str, np.ndarray] | None = None
    rates_file: str | None = None
    use_kahip: bool = True

    def run(self, net: Network, diag: Diagnostics) -> Network:
        profile = net.analyses.get("check-target")
        if not isinstance(profile, TargetProfile) or "cores" not in profile.capacity:
            diag.error("E406", None, f"target '{net.target}' has no cores to map onto",
                       hint=f"choose a chip with --target: {MAPPABLE}")
            return net
        if not net.populations():
            diag.error("E407", None, "the network has no populations to map",
                       hint="inputs are off the chip; declare populations: "
                            "'population hidden: LIF[100]'")
            return net
        if self.rates:
            check_rates(net, self.rates, self.rates_file or "rates", diag)
            if diag.has_errors:
                return net
        graph = build_graph(net, self.rates)
        model = CostModel(profile)
        if speck.applies(profile):
            best, candidates = layer_partition(net, graph, model, diag)
            if best is None:
                return net
        else:
            best, candidates = partition(graph, model, seed=net.settings.seed,
                                         use_kahip=self.use_kahip)
        if best is None:
            self.report_infeasible(net, graph, model, candidates, diag)
            return net
        self.check_destinations(net, graph, model, best, diag)
        self.check_cores(net, model, best, diag)
        rates_from = self.rates_file or "declared or default rates"
        net.analyses[self.name] = PartitionResult(graph, model, best, candidates, rates_from)
        return net

    @staticmethod
    def check_cores(net: Network, model: CostModel, best: Evaluation, diag: Diagnostics) -> None:
        available = Mesh.of(model.profile).total
        if best.assignment.cores > available:
            largest = max(net.populations(), key=lambda p: p.size)
            diag.error("E402", largest.span, f"the network needs {best.assignment.cores:,} cores "
                       f"({best.assignment.method} partition) but {model.profile.name} has "
                       f"{available:,}", hint="map onto more chips (a custom target with larger "
                       "chips_x and chips_y), or shrink the network")

    @staticmethod
    def check_destinations(net: Network, graph: MapGraph, model: CostModel, best: Evaluation,
                           diag: Diagnostics) -> None:
        limit = model.profile.capacity.get("destinations_per_neuron")
        if limit is None:
            return
        per_neuron: dict[str, np.ndarray] = {}
        for s, f in zip(graph.sets, best.flows, strict=True):
            pre = s.projection.pre
            per_neuron[pre] = per_neuron.get(pre, 0) + f.dests
        for name, dests in per_neuron.items():
            if dests.max(initial=0) > limit + 1e-9:
                node = net.node(name)
                diag.error("E403", node.span, f"a neuron of '{name}' reaches {dests.max():,.0f} "
                           f"destination cores but {model.profile.name} allows {limit:,.0f} per "
                           "neuron", hint="add relay (splitter) neurons, or keep each neuron's "
                           "targets within one core (smaller post populations)")

    @staticmethod
    def report_infeasible(net: Network, graph: MapGraph, model: CostModel,
                          candidates: list[Evaluation], diag: Diagnostics) -> None:
        if not candidates:
            diag.error("E401", None, f"no single neuron fits a core of {model.profile.name}",
                       hint="see the parameter sets and capacities of the target")
            return
        closest = min(candidates, key=lambda c: (c.over.sum(), c.remote))
        ratio = np.where(closest.over, closest.usage / model.limits()[:, None], 0)
        need_index, core = np.unravel_index(np.argmax(ratio), ratio.shape)
        need = NEEDS[need_index]
        on_core = [s.population for s in closest.assignment.slices() if s.core == core]
        population = net.node(on_core[0]) if on_core else net.populations()[0]
        limit = model.limits()[need_index]
        hint = {"output_axons": "each neuron uses one output axon per destination core: "
                                "fewer, larger post populations or smaller fan-out help",
                "destination_cores": "each core feeds a limited number of cores: chain the "
                                     "layers, or merge the populations it feeds"}.get(
            need.key, "split the population's incoming projections or reduce their fan-in")
        diag.error("E403", population.span, f"population '{population.name}' needs "
                   f"{closest.usage[need_index, core]:,.0f} {need.unit} on core {core} but "
                   f"{model.profile.name} allows {limit:,.0f} ({need.limit_key}) in every "
                   "partition tried (down to an eighth of a core's neurons)", hint=hint)
