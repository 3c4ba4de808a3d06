"""The cost model: what a core needs for the neurons it holds, against the target's capacities.

For the neurons on one core, with their incoming synapse sets s (``Flow`` counts):

    neurons          number of neurons
    synapses         sum_s synapses_s
    synapse_bits     sum_s synapses_s * b_s,  b_s = weight_bits + synapse_index_bits
                     (+ plastic_synapse_bits * max(1, per-synapse learning state) if s is plastic)
    input_axons      sum_s (distinct pre neurons of s reaching the core) * f_s,
                     f_s = plastic_axon_factor if s is plastic else 1
    trace_bits       trace_bits * (sum_s axons_s * pre traces_s + sum_s posts_s * post traces_s)
    output_axons     sum over the core's neurons of their destination cores (own core included)
    parameter_sets   populations on the core (one parameter set each)
    destination_cores  other cores the core sends to

A capacity the profile leaves out is unlimited. Missing format figures default to 8 weight bits,
no index or plastic bits, one axon slot per axon and 32-bit traces (4-byte values).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from snnc.mapping.assignment import Assignment
from snnc.mapping.graph import MapGraph, SynapseSet
from snnc.mapping.traffic import Flow
from snnc.targets import TargetProfile


@dataclass(frozen=True)
class Need:
    key: str
    limit_key: str
    unit: str


NEEDS = (
    Need("neurons", "neurons_per_core", "neurons"),
    Need("synapses", "synapses_per_core", "synapses"),
    Need("synapse_bits", "synapse_memory_bits_per_core", "bits of synapse memory"),
    Need("input_axons", "input_axons_per_core", "distinct input axons"),
    Need("trace_bits", "trace_memory_bits_per_core", "bits of learning-trace memory"),
    Need("parameter_sets", "parameter_slots_per_core", "parameter sets"),
    Need("output_axons", "output_axons_per_core", "output axons"),
    Need("destination_cores", "destinations_per_core", "destination cores"),
)
#: needs that add up over the slices sharing a core (the others depend on where targets sit)
ADDITIVE = 6
DEFAULTS = {"weight_bits": 8, "synapse_index_bits": 0, "plastic_synapse_bits": 0,
            "plastic_axon_factor": 1, "trace_bits": 32}


@dataclass
class CostModel:
    profile: TargetProfile

    def figure(self, key: str) -> float:
        return self.profile.capacity.get(key, DEFAULTS.get(key, np.inf))

    def limits(self) -> np.ndarray:
        return np.array([self.figure(n.limit_key) for n in NEEDS], dtype=np.float64)

    def bits_per_synapse(self, s: SynapseSet) -> float:
        return self.synapse_bits(s.plastic, s.synapse_items)

    def synapse_bits(self, plastic: bool, synapse_items: int) -> float:
        bits = self.figure("weight_bits") + self.figure("synapse_index_bits")
        if plastic:
            bits += self.figure("plastic_synapse_bits") * max(1, synapse_items)
        return bits

    def axon_factor(self, s: SynapseSet) -> float:
        return self.figure("plastic_axon_factor") if s.plastic else 1.0

    # -- a range of one population, alone -------------------------------------------------------
    def range_needs(self, graph: MapGraph, population: str, start: int, stop: int) -> np.ndarray:
        """The additive needs of neurons [start, stop) of ``population``."""
        n = stop - start
        synapses = bits = axons = traces = 0.0
        for s in graph.incoming(population):
            if s.form == "exact":
                lo, hi = np.searchsorted(s.posts, (start, stop))
                count = float(hi - lo)
                reached = float(np.count_nonzero(s.earlier()[lo:hi] < lo))
            elif s.form == "dense":
                count, reached = float(s.n_pre * n), float(s.n_pre if n else 0)
            else:
                count, reached = s.p * s.n_pre * n, s.n_pre * (1.0 - (1.0 - s.p) ** n)
            synapses += count
            bits += count * self.bits_per_synapse(s)
            axons += reached * self.axon_factor(s)
            traces += reached * s.pre_items + n * s.post_items
        return np.array([n, synapses, bits, axons, traces * self.figure("trace_bits"), 1.0 if n
                         else 0.0])

    def prefix_needs(self, graph: MapGraph, population: str, start: int, width: int) -> np.ndarray:
        """[width + 1, ADDITIVE]: row n holds ``range_needs(start, start + n)``, for every n at
        once: the distinct pre neurons of synapses [lo, lo + m) number the j < lo + m whose
        previous synapse from the same pre neuron lies before lo (:meth:`SynapseSet.earlier`),
        a cumulative sum over the window's synapses, without sorting."""
        n = np.arange(width + 1, dtype=np.float64)
        synapses, bits, axons, traces = (np.zeros(width + 1) for _ in range(4))
        for s in graph.incoming(population):
            if s.form == "exact":
                bounds = np.searchsorted(s.posts, start + np.arange(width + 1))
                lo = bounds[0]
                count = (bounds - lo).astype(np.float64)
                fresh = np.concatenate(([0.0], np.cumsum(s.earlier()[lo:bounds[-1]] < lo)))
                reached = fresh[bounds - lo]
            elif s.form == "dense":
                count, reached = s.n_pre * n, np.where(n > 0, float(s.n_pre), 0.0)
            else:
                count, reached = s.p * s.n_pre * n, s.n_pre * (1.0 - (1.0 - s.p) ** n)
            synapses += count
            bits += count * self.bits_per_synapse(s)
            axons += reached * self.axon_factor(s)
            traces += reached * s.pre_items + n * s.post_items
        return np.stack([n, synapses, bits, axons, traces * self.figure("trace_bits"),
                         (n > 0).astype(np.float64)], axis=1)

    # -- every core of an assignment ------------------------------------------------------------
    def usage(self, graph: MapGraph, a: Assignment, fs: list[Flow]) -> np.ndarray:
        """[len(NEEDS), K]: each need of each core."""
        k = a.cores
        out = np.zeros((len(NEEDS), k))
        out[0] = a.neurons_per_core()
        out[5] = a.populations_per_core()
        destinations = np.zeros(k * k, dtype=bool)
        for s, f in zip(graph.sets, fs, strict=True):
            posts = np.bincount(a.core_of[s.projection.post], minlength=k)
            out[1] += f.synapses
            out[2] += f.synapses * self.bits_per_synapse(s)
            out[3] += f.axons * self.axon_factor(s)
            out[4] += (f.axons * s.pre_items + posts * s.post_items) * self.figure("trace_bits")
            if not graph.groups[s.projection.pre].is_input:
                out[6] += np.bincount(a.core_of[s.projection.pre], weights=f.dests, minlength=k)
                src, dst, _ = f.pairs
                destinations[src * k + dst] = True
        out[7] = destinations.reshape(k, k).sum(axis=1)
        return out

