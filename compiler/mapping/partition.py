"""Partitioning: split populations into core-sized slices so that every capacity holds.

Candidates, each checked against every capacity (:mod:`snnc.mapping.capacity`):

- ``contiguous``: the trivial fill. Populations in declaration order, neurons in index order,
  a core takes the longest run that still fits, then the next core starts. Always evaluated.
- ``balanced`` (population level): population p alone is cut greedily into k_p runs that fit a
  core, then into k_p equal slices when those fit too; slices go to the first core they fit,
  so a small population is never split across two cores.
- ``metis`` or, without pymetis, ``multilevel``, and ``kahip`` (neuron level, when some
  projection between populations is sparse, local or convolutional and held exactly): METIS
  (:mod:`snnc.mapping.metis`, extra 'map') with the capacity as balance constraint and more
  parts while a capacity overflows, and once more with the core count of the best feasible fill;
  else multilevel partitioning in numpy (:mod:`snnc.mapping.multilevel`); and, when installed,
  KaHIP (:mod:`snnc.mapping.external`), with a neuron cap per core that shrinks until every
  capacity holds.

Output axons and destination cores depend on where targets sit, so a fill can overflow them
however it packs; then, when no candidate above fits, both fills are retried with at most 1/2,
1/4, 1/8 of a core's neurons. A retried layout equal to the previous one is not evaluated again.

Cost of the fills: a fill is built by pricing, for each core, every prefix of a window of
neurons at once (:meth:`CostModel.prefix_needs`: distinct pre neurons by a cumulative sum over
the window's synapses, no sort), the first window a quarter longer than the population's
previous run, so one window usually settles a core; scoring sorts each exact synapse set's
(pre, core) keys once (:mod:`snnc.mapping.traffic`).

Speck is different: its cores take whole layers, placed as sinabs places them
(:func:`layer_partition`, :mod:`snnc.mapping.speck`).

The kept assignment is the feasible candidate with the fewest remote packets per step
(:mod:`snnc.mapping.traffic`); ties keep the earlier candidate, so the result is never worse
than the contiguous fill (at a full core's neurons, or retried when nothing else fits).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from snnc.diagnostics import Diagnostics
from snnc.ir.network import Network
from snnc.mapping import external, metis
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
#: neuron caps of the fills, as fractions of a core's neurons
SCALES = (1.0, 0.5, 0.25, 0.125)
#: neurons priced at once by the first window of :func:`longest_run`
FIRST_WINDOW = 64


@dataclass
class Evaluation:
    assignment: Assignment
    flows: list[Flow]
    usage: np.ndarray  # [len(NEEDS), K]
    remote: float
    over: np.ndarray   # [len(NEEDS), K] True where a need exceeds its limit
    layers: object = None  # Speck: the snnc.mapping.speck.SpeckMapping the slices come from

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
                used: np.ndarray, limits: np.ndarray,
                first: int = FIRST_WINDOW) -> tuple[int, np.ndarray]:
    """The largest n such that neurons [start, start + n) fit beside ``used``, and their needs.

    Needs grow with n, so the fitting prefix lengths form a range [0, n]: every prefix of a
    window is priced at once (:meth:`CostModel.prefix_needs`), the window doubling from
    ``first`` neurons while its whole length fits. The answer does not depend on ``first``;
    the fills pass a little more than the previous run of the population (:func:`next_window`),
    so that one window usually settles it."""
    top = int(min(stop - start, limits[0] - used[0]))
    if top <= 0:
        return 0, None
    width = min(top, max(1, first))
    while True:
        needs = model.prefix_needs(graph, population, start, width)
        ok = np.all(used + needs <= limits * (1 + 1e-9), axis=1)
        n = int(np.argmin(ok)) - 1 if not ok.all() else width
        if n < width or width == top:
            return n, (needs[n] if n > 0 else None)
        width = min(top, 2 * width)


def next_window(n: int) -> int:
    """The first window after a run of n neurons: a quarter more, so that similar runs fit."""
    return max(FIRST_WINDOW, n + n // 4 + 1)


def contiguous(graph: MapGraph, model: CostModel, limits: np.ndarray) -> Assignment | None:
    slices, core, used = [], 0, np.zeros(ADDITIVE)
    for g in graph.populations:
        start, window = 0, FIRST_WINDOW
        while start < g.size:
            n, need = longest_run(graph, model, g.name, start, g.size, used, limits, window)
            window = next_window(n) if used[0] == 0 else window
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
        runs, start, window = [], 0, FIRST_WINDOW
        while start < g.size:  # the population alone, cut greedily into runs that fit
            n, need = longest_run(graph, model, g.name, start, g.size, np.zeros(ADDITIVE), limits,
                                  window)
            if n == 0:
                return None
            window = next_window(n)
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


def metis_search(graph: MapGraph, model: CostModel, prepared, vw: np.ndarray, blocks: int,
                 seed: int) -> Evaluation | None:
    """METIS with ``blocks`` parts, then more parts while a capacity overflows: the count grows
    by the largest overload of any need on any core (at least one part); at most
    ``MAX_TRIES``."""
    limits = model.limits()[:, None]
    for _ in range(MAX_TRIES):
        parts = metis.part_graph(prepared, vw, blocks, seed)
        result = evaluate(graph, model, Assignment.from_parts(parts, sizes(graph), "metis"))
        if result.feasible:
            return result
        overload = float(np.max(result.usage / limits))
        blocks = max(blocks + 1, int(np.ceil(blocks * overload)))
    return None


def neuron_level(graph: MapGraph, model: CostModel, cap: int, seed: int, use_kahip: bool,
                 use_metis: bool, cores: int | None) -> list[Evaluation]:
    """The METIS (else the numpy multilevel) and KaHIP candidates, each at the largest cap that
    fits; METIS once more with ``cores`` parts (the best feasible fill's core count) when that
    differs from its own."""
    indptr, indices, weights, _ = neuron_graph(graph)
    found = []
    if not (use_metis and metis.available()):  # METIS runs the same scheme, in C and better
        found.append(shrink_until_feasible(graph, model, "multilevel",
                                           lambda c: multilevel(indptr, indices, weights, c), cap))
    else:
        prepared = metis.metis_graph(indptr, indices, weights)
        vw = metis.vertex_weights(graph, model, cap)
        found.append(metis_search(graph, model, prepared, vw,
                                  metis.blocks_for(float(vw.sum()), cap), seed))
        if cores and cores != getattr(found[-1], "assignment", Assignment({}, 0, "")).cores:
            parts = metis.part_graph(prepared, vw, cores, seed)
            found.append(evaluate(graph, model, Assignment.from_parts(parts, sizes(graph),
                                                                      "metis")))
    if use_kahip and external.available():
        found.append(shrink_until_feasible(graph, model, "kahip", lambda c: external.kaffpa(
            indptr, indices, c, seed), cap))
    return [f for f in found if f is not None]


def contiguous_reference(candidates: list[Evaluation]) -> Evaluation | None:
    """The contiguous fill to compare with: the first that fits, else the first tried."""
    fills = [c for c in candidates if c.assignment.method == "contiguous"]
    return next((c for c in fills if c.feasible), fills[0] if fills else None)


def same_layout(a: Assignment, b: Assignment | None) -> bool:
    return b is not None and a.cores == b.cores and all(
        np.array_equal(a.core_of[name], b.core_of[name]) for name in a.core_of)


def fills(graph: MapGraph, model: CostModel, scales=SCALES,
          last: dict[str, Evaluation] | None = None) -> list[Evaluation]:
    """The contiguous and balanced fills at each neuron cap (``scales`` of a core's neurons)
    until the contiguous fill fits. A layout equal to the one the previous cap gave (``last``,
    by method) is not evaluated again (it overflows the same way); the contiguous fill is not
    even rebuilt while the cap is no smaller than every core's neurons in it. A balanced fill
    equal to the contiguous one at the same cap shares its scores instead of being scored
    again."""
    limits = model.limits()[:ADDITIVE]
    candidates: list[Evaluation] = []
    last = {} if last is None else last
    for scale in scales:
        scaled = limits.copy()
        scaled[0] = max(1.0, np.floor(limits[0] * scale))
        previous = last.get("contiguous")
        if previous is not None and scaled[0] >= previous.usage[0].max(initial=0):
            fill = previous.assignment
        else:
            fill = contiguous(graph, model, scaled)
        tried = [a for a in (fill, balanced(graph, model, scaled)) if a is not None]
        fresh: list[Evaluation] = []
        for a in tried:
            if same_layout(a, getattr(last.get(a.method), "assignment", None)):
                continue
            twin = next((c for c in fresh if same_layout(a, c.assignment)), None)
            fresh.append(evaluate(graph, model, a) if twin is None else
                         Evaluation(a, twin.flows, twin.usage, twin.remote, twin.over))
        candidates += fresh
        last.update((c.assignment.method, c) for c in fresh)
        if not tried or last[tried[0].method].feasible or not np.isfinite(limits[0]):
            break  # the contiguous fill fits (or no neuron cap to shrink)
    return candidates


def layer_partition(net: Network, graph: MapGraph, model: CostModel,
                    diag: Diagnostics) -> tuple[Evaluation | None, list[Evaluation]]:
    """Speck: each population is a layer on the core sinabs assigns it
    (:mod:`snnc.mapping.speck`); (None, []) after its refusals, reported into ``diag``."""
    from snnc.mapping import speck
    found = speck.check(net, diag, speck.core_memory(model.profile))
    if found is None:
        return None, []
    slices = [Slice(layer.population, 0, graph.groups[layer.population].size, core)
              for layer, core in zip(found.layers, found.cores, strict=True)]
    best = evaluate(graph, model, Assignment.from_slices(slices, sizes(graph), "speck"))
    best.layers = found
    return best, [best]


def partition(graph: MapGraph, model: CostModel, *, seed: int = 0, use_kahip: bool = True,
              use_metis: bool = True) -> tuple[Evaluation | None, list[Evaluation]]:
    """(the kept evaluation or None when nothing fits, every candidate evaluated).

    Order: the fills at a full core's neurons, the neuron-level candidates, and only when none
    of those fits, the fills with smaller neuron caps (layouts that mostly overflow too)."""
    limits = model.limits()[:ADDITIVE]
    last: dict[str, Evaluation] = {}
    candidates = fills(graph, model, SCALES[:1], last)
    if candidates and graph.has_local_structure:
        cap = limits[0] if np.isfinite(limits[0]) else candidates[0].usage[0].max()
        feasible = [c for c in candidates if c.feasible]
        cores = min(feasible, key=lambda c: c.remote).assignment.cores if feasible else None
        candidates += neuron_level(graph, model, int(cap), seed, use_kahip, use_metis, cores)
    retry = candidates and not any(c.feasible for c in candidates)
    if retry and np.isfinite(limits[0]) and candidates[0].assignment.method == "contiguous":
        candidates += fills(graph, model, SCALES[1:], last)
    feasible = [c for c in candidates if c.feasible]
    best = min(feasible, key=lambda c: c.remote) if feasible else None
    return best, candidates
