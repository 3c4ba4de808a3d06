"""Which core holds each neuron, and the slices that describe it.

A slice is a run of consecutive neurons of one population on one core: population, neuron
range [start, stop), core. Cores are numbered 0..K-1 in the order they are first used.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from snnc.mapping.arrays import distinct_inverse


@dataclass(frozen=True)
class Slice:
    population: str
    start: int
    stop: int
    core: int


@dataclass
class Assignment:
    """``core_of[population]`` is the core of each of its neurons; ``method`` names the
    partitioner that produced it."""

    core_of: dict[str, np.ndarray]
    cores: int
    method: str

    @classmethod
    def from_slices(cls, slices: list[Slice], sizes: dict[str, int], method: str) -> Assignment:
        core_of = {name: np.full(size, -1, dtype=np.int64) for name, size in sizes.items()}
        for s in slices:
            core_of[s.population][s.start:s.stop] = s.core
        cores = 1 + max((s.core for s in slices), default=-1)
        return cls(core_of, cores, method)

    @classmethod
    def from_parts(cls, parts: np.ndarray, sizes: dict[str, int], method: str) -> Assignment:
        """From one part label per neuron (populations concatenated in order), renumbering
        the parts by first use so that equal partitions give equal assignments."""
        labels, inverse = distinct_inverse(parts)
        first = np.full(len(labels), len(parts), dtype=np.int64)
        np.minimum.at(first, inverse, np.arange(len(parts)))
        rank = np.empty(len(first), dtype=np.int64)
        rank[np.argsort(first, kind="stable")] = np.arange(len(first))
        parts = rank[inverse]
        core_of, offset = {}, 0
        for name, size in sizes.items():
            core_of[name] = parts[offset:offset + size]
            offset += size
        return cls(core_of, len(first), method)

    def slices(self) -> list[Slice]:
        out = []
        for name, cores in self.core_of.items():
            if len(cores) == 0:
                continue
            cuts = np.flatnonzero(np.diff(cores)) + 1
            starts = np.concatenate(([0], cuts))
            stops = np.concatenate((cuts, [len(cores)]))
            out += [Slice(name, int(a), int(b), int(cores[a])) for a, b in zip(starts, stops, strict=True)]
        return out

    def neurons_per_core(self) -> np.ndarray:
        return sum((np.bincount(c, minlength=self.cores) for c in self.core_of.values()),
                   np.zeros(self.cores, dtype=np.int64))

    def populations_per_core(self) -> np.ndarray:
        """How many populations have neurons on each core (one parameter set each)."""
        return sum(((np.bincount(c, minlength=self.cores) > 0).astype(np.int64)
                    for c in self.core_of.values()), np.zeros(self.cores, dtype=np.int64))
