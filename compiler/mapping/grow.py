"""Greedy graph growing: the initial partition of the multilevel partitioner's coarsest graph.

The graph: one node per population neuron, an undirected edge per exact synapse between
populations, weighted by the pre neuron's packets per step r_pre dt. A core grows from a seed:
it repeatedly takes the unassigned neighbour with the largest edge weight into the core (ties:
first reached, so regions grow breadth-first and stay compact) until it holds ``cap`` neurons.
The next core starts from the best neighbour left on the previous core's frontier, so
consecutive cores are neighbours too (which placement exploits). A connected component that
runs out before a core is full continues from the lowest unassigned neuron.

Cutting few edges keeps the targets of most neurons on few cores, which is what remote packets
count (:mod:`snnc.mapping.traffic`).
"""

from __future__ import annotations

import heapq

import numpy as np

from snnc.mapping.arrays import stable_order
from snnc.mapping.graph import MapGraph


def neuron_graph(graph: MapGraph) -> tuple[np.ndarray, np.ndarray, np.ndarray, dict[str, int]]:
    """CSR (indptr, indices, weights) of the undirected neuron graph, and population offsets."""
    offsets, total = {}, 0
    for g in graph.populations:
        offsets[g.name] = total
        total += g.size
    src, dst, weight = [], [], []
    for s in graph.sets:
        pre = graph.groups[s.projection.pre]
        if s.form != "exact" or pre.is_input:
            continue
        a = s.pres + offsets[pre.name]
        b = s.posts + offsets[s.projection.post]
        w = pre.rates[s.pres] * graph.dt
        src += [a, b]
        dst += [b, a]
        weight += [w, w]
    if not src:
        return np.zeros(total + 1, np.int64), np.zeros(0, np.int64), np.zeros(0), offsets
    src, dst, weight = np.concatenate(src), np.concatenate(dst), np.concatenate(weight)
    order = stable_order(src, total)
    indptr = np.concatenate(([0], np.cumsum(np.bincount(src, minlength=total))))
    return indptr, dst[order], weight[order], offsets


def grow(indptr: np.ndarray, indices: np.ndarray, weights: np.ndarray, cap: float,
         sizes: np.ndarray | None = None) -> np.ndarray:
    """A part label per node; every part's node sizes (default 1 each) sum to at most ``cap``
    (a node larger than what is left starts the next part)."""
    n = len(indptr) - 1
    size_of = [1.0] * n if sizes is None else sizes.tolist()
    starts, ends = indptr[:-1].tolist(), indptr[1:].tolist()
    neighbours, w = indices.tolist(), weights.tolist()
    part = [-1] * n
    gain = [0.0] * n
    heap: list[tuple[float, int, int]] = []
    counter = 0
    lowest = 0
    core = 0
    size = 0
    while True:
        seed = -1
        while heap:  # the best unassigned node on the previous frontier
            g, _, v = heapq.heappop(heap)
            if part[v] == -1:
                seed = v
                break
        if seed == -1:
            while lowest < n and part[lowest] != -1:
                lowest += 1
            if lowest == n:
                break
            seed = lowest
        frontier: list[tuple[float, int, int]] = [(0.0, counter, seed)]
        touched = []
        while frontier and size < cap:
            g, order, v = heapq.heappop(frontier)
            if part[v] != -1 or -g != gain[v]:
                continue
            if size and size + size_of[v] > cap:
                heapq.heappush(frontier, (g, order, v))
                break
            part[v] = core
            size += size_of[v]
            for e in range(starts[v], ends[v]):
                u = neighbours[e]
                if part[u] == -1:
                    gain[u] += w[e]
                    counter += 1
                    heapq.heappush(frontier, (-gain[u], counter, u))
                    touched.append(u)
        for u in touched:
            gain[u] = 0.0
        heap = frontier
        if frontier or size >= cap:
            core += 1
            size = 0
    return np.asarray(part, dtype=np.int64)
