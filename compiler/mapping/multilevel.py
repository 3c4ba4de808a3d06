"""Multilevel neuron-level partitioning in numpy (the scheme of METIS and KaHIP, simplified).

1. Coarsen: cluster the nodes by size-constrained label propagation (every node starts as its
   own cluster and joins the neighbouring cluster it is most strongly connected to, clusters
   staying within ``cap / MAX_NODE_FRACTION`` neurons; :mod:`snnc.mapping.refine`), then merge
   each cluster into one node, summing sizes and parallel edges. Repeat until about
   ``COARSE_NODES_PER_PART`` nodes per part remain or a level shrinks the graph by less than 10 %.
2. Partition the coarsest graph by greedy growing (:mod:`snnc.mapping.grow`) with node sizes,
   parts filled to ``GROW_FILL`` of the cap (when that leaves room for at least one neuron).
3. Uncoarsen: project the parts level by level, refining each level by size-constrained label
   propagation with the full cap.
"""

from __future__ import annotations

import numpy as np

from snnc.mapping.arrays import distinct_inverse
from snnc.mapping.grow import grow
from snnc.mapping.refine import refine

COARSE_NODES_PER_PART = 16
MAX_NODE_FRACTION = 4
CLUSTER_ROUNDS = 3
GROW_FILL = 0.97


def contract(indptr, indices, weights, sizes, labels):
    """The graph with each label's nodes merged: (fine -> coarse map, indptr, indices,
    weights, sizes); self-loops are dropped, parallel edges summed."""
    n = len(sizes)
    _, coarse = distinct_inverse(labels)
    nc = int(coarse.max()) + 1
    src = coarse[np.repeat(np.arange(n), np.diff(indptr))]
    dst = coarse[indices]
    keep = src != dst
    keys, inverse = distinct_inverse(src[keep] * nc + dst[keep])
    w = np.bincount(inverse, weights=weights[keep])
    s, d = np.divmod(keys, nc)
    c_indptr = np.concatenate(([0], np.cumsum(np.bincount(s, minlength=nc))))
    return coarse, c_indptr, d, w, np.bincount(coarse, weights=sizes)


def multilevel(indptr: np.ndarray, indices: np.ndarray, weights: np.ndarray, cap: int) -> np.ndarray:
    """A part label per node, at most ``cap`` nodes per part."""
    n = len(indptr) - 1
    graph = (indptr, indices, weights, np.ones(n))
    target = COARSE_NODES_PER_PART * max(1, int(np.ceil(n / cap)))
    levels = []
    while len(graph[3]) > target:
        ip, ix, w, sz = graph
        labels = refine(ip, ix, w, np.arange(len(sz)), cap / MAX_NODE_FRACTION, sz,
                        rounds=CLUSTER_ROUNDS)
        coarse, *smaller = contract(ip, ix, w, sz, labels)
        if len(smaller[3]) > 0.9 * len(sz):
            break
        levels.append((graph, coarse))
        graph = tuple(smaller)
    ip, ix, w, sz = graph
    slack = cap * (1 - GROW_FILL) >= 1  # leave room for refinement when it is a neuron or more
    parts = refine(ip, ix, w, grow(ip, ix, w, cap * GROW_FILL if slack else cap, sz), cap, sz)
    for fine, coarse in reversed(levels):
        ip, ix, w, sz = fine
        parts = refine(ip, ix, w, parts[coarse], cap, sz)
    return parts
