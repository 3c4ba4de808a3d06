"""Partitioning: split populations into core-sized slices so that every capacity holds.

Candidates, each checked against every capacity (:mod:`snnc.mapping.capacity`):

- ``contiguous``: the trivial fill. Populations in declaration order, neurons in index order,
  a core takes the longest run that still fits, then the next core starts. Always evaluated.
- ``balanced`` (population level): population p alone is cut greedily into k_p runs that fit a
  core, then into k_p equal slices when those fit too; slices go to the first core they fit,
  so a small population is never split across two cores.
- ``multilevel`` and ``kahip`` (neuron level, when some projection between populations is
  sparse, local or convolutional and held exactly): multilevel partitioning in numpy
  (:mod:`snnc.mapping.multilevel`) and, when installed, KaHIP (:mod:`snnc.mapping.external`),
  with a neuron cap per core (the target's neurons per core) that shrinks until every
  capacity holds.

Output axons and destination cores depend on where targets sit, so a fill can overflow them
however it packs; then both fills are retried with at most 1/2, 1/4, 1/8 of a core's neurons.

The kept assignment is the feasible candidate with the fewest remote packets per step
(:mod:`snnc.mapping.traffic`); ties keep the earlier candidate, so the result is never worse
than the contiguous fill.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from snnc.mapping import external
from snnc.mapping.assignment import Assignment, Slice
from snnc.mapping.capacity import ADDITIVE, CostModel
from snnc.mapping.graph import MapGraph
from snnc.mapping.grow import neuron_graph
from snnc.mapping.multilevel import multilevel
from snnc.mapping.traffic import Flow, flows, remote_packets

#: how the neuron cap of neuron-level partitioning shrinks while a capacity overflows
SHRINK_STEP = 0.9
SHRINK_MARGIN = 0.95
MAX_TRIES = 6


@dataclass
class Evaluation:
    assignment: Assignment
    flows: list[Flow]
    usage: np.ndarray  # [len(NEEDS), K]
    remote: float
    over: np.ndarray   # [len(NEEDS), K] True where a need exceeds its limit

    @property
    def feasible(self) -> bool:
        return not self.over.any()


def evaluate(graph: MapGraph, model: CostModel, a: Assignment) -> Evaluation:
    fs = flows(graph, a)
    usage = model.usage(graph, a, fs)
    over = usage > model.limits()[:, None] * (1 + 1e-9)
    return Evaluation(a, fs, usage, remote_packets(graph, fs), over)


def fits(used: np.ndarray, need: np.ndarray, limits: np.ndarray) -> bool:
    return bool(np.all(used + need <= limits * (1 + 1e-9)))


def longest_run(graph: MapGraph, model: CostModel, population: str, start: int, stop: int,
                used: np.ndarray, limits: np.ndarray) -> tuple[int, np.ndarray]:
    """The largest n such that neurons [start, start + n) fit beside ``used``, and their needs."""
    top = int(min(stop - start, limits[0] - used[0]))
    need = model.range_needs(graph, population, start, start + top) if top > 0 else None
    if top <= 0 or fits(used, need, limits):
        return max(top, 0), need
    low, best = 0, None  # fits(low) holds; fits(top) does not
    while top - low > 1:
        middle = (low + top) // 2
        trial = model.range_needs(graph, population, start, start + middle)
        if fits(used, trial, limits):
            low, best = middle, trial
        else:
            top = middle
    return low, best


def contiguous(graph: MapGraph, model: CostModel, limits: np.ndarray) -> Assignment | None:
    slices, core, used = [], 0, np.zeros(ADDITIVE)
    for g in graph.populations:
        start = 0
        while start < g.size:
            n, need = longest_run(graph, model, g.name, start, g.size, used, limits)
            if n == 0:
                if used[0] == 0:
                    return None  # one neuron alone does not fit a core
                core, used = core + 1, np.zeros(ADDITIVE)
                continue
            slices.append(Slice(g.name, start, start + n, core))
            used = used + need
            start += n
            if start < g.size:
                core, used = core + 1, np.zeros(ADDITIVE)
    return Assignment.from_slices(slices, sizes(graph), "contiguous")


def balanced(graph: MapGraph, model: CostModel, limits: np.ndarray) -> Assignment | None:
    pieces = []
    for g in graph.populations:
        runs, start = [], 0
        while start < g.size:  # the population alone, cut greedily into runs that fit
            n, need = longest_run(graph, model, g.name, start, g.size, np.zeros(ADDITIVE), limits)
            if n == 0:
                return None
            runs.append((g.name, start, start + n, need))
            start += n
        bounds = np.linspace(0, g.size, len(runs) + 1).round().astype(int)
        equal = [(g.name, int(a), int(b), model.range_needs(graph, g.name, a, b))
                 for a, b in zip(bounds[:-1], bounds[1:], strict=True)]
        fit = all(fits(np.zeros(ADDITIVE), piece[3], limits) for piece in equal)
        pieces += equal if fit else runs
    used = np.zeros((len(pieces), ADDITIVE))
    opened = 0
    slices = []
    for name, a, b, need in pieces:  # first fit
        room = np.all(used[:opened] + need <= limits * (1 + 1e-9), axis=1)
        core = int(np.argmax(room)) if room.any() else opened
        opened = max(opened, core + 1)
        used[core] += need
        slices.append(Slice(name, a, b, core))
    return Assignment.from_slices(slices, sizes(graph), "balanced")


def sizes(graph: MapGraph) -> dict[str, int]:
    return {g.name: g.size for g in graph.populations}


def shrink_until_feasible(graph: MapGraph, model: CostModel, method: str, run,
                          cap: int) -> Evaluation | None:
    """Partition with ``run(cap)`` (parts of at most cap neurons), shrinking the cap until every
    capacity holds: by the mean overload of the most overloaded need when it exceeds the limit
    on average (cap * SHRINK_MARGIN / overload), else by ``SHRINK_STEP``; at most ``MAX_TRIES``."""
    limits = model.limits()[:, None]
    for _ in range(MAX_TRIES):
        parts = run(max(1, int(cap)))
        result = evaluate(graph, model, Assignment.from_parts(parts, sizes(graph), method))
        if result.feasible or cap <= 1:
            return result if result.feasible else None
        overload = float(np.max(np.mean(result.usage / limits, axis=1)))
        cap = int(cap * min(SHRINK_STEP, SHRINK_MARGIN / overload))
    return None


def neuron_level(graph: MapGraph, model: CostModel, cap: int, seed: int,
                 use_kahip: bool) -> list[Evaluation]:
    """The multilevel (and KaHIP) candidates, each at the largest cap that fits."""
    indptr, indices, weights, _ = neuron_graph(graph)
    methods = [("multilevel", lambda c: multilevel(indptr, indices, weights, c))]
    if use_kahip and external.available():
        methods.append(("kahip", lambda c: external.kaffpa(indptr, indices, c, seed)))
    found = [shrink_until_feasible(graph, model, method, run, cap) for method, run in methods]
    return [f for f in found if f is not None]


def contiguous_reference(candidates: list[Evaluation]) -> Evaluation | None:
    """The contiguous fill to compare with: the first that fits, else the first tried."""
    fills = [c for c in candidates if c.assignment.method == "contiguous"]
    return next((c for c in fills if c.feasible), fills[0] if fills else None)


def partition(graph: MapGraph, model: CostModel, *, seed: int = 0,
              use_kahip: bool = True) -> tuple[Evaluation | None, list[Evaluation]]:
    """(the kept evaluation or None when nothing fits, every candidate evaluated)."""
    limits = model.limits()[:ADDITIVE]
    candidates = []
    for scale in (1.0, 0.5, 0.25, 0.125):
        scaled = limits.copy()
        scaled[0] = max(1.0, np.floor(limits[0] * scale))
        tried = [maker(graph, model, scaled) for maker in (contiguous, balanced)]
        tried = [evaluate(graph, model, a) for a in tried if a is not None]
        candidates += tried
        if not tried or tried[0].feasible or not np.isfinite(limits[0]):
            break  # the contiguous fill fits (or no neuron cap to shrink)
    if candidates and graph.has_local_structure:
        cap = limits[0] if np.isfinite(limits[0]) else candidates[0].usage[0].max()
        candidates += neuron_level(graph, model, int(cap), seed, use_kahip)
    feasible = [c for c in candidates if c.feasible]
    best = min(feasible, key=lambda c: c.remote) if feasible else None
    return best, candidates
