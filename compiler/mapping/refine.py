"""Boundary refinement of a neuron-level partition by size-constrained label propagation.

For node u in part P(u) and a neighbouring part p, conn(u, p) = sum of the weights of u's edges
into p. A move of u to p = argmax_{p != P(u)} conn(u, p) gains conn(u, p) - conn(u, P(u)) in
cut weight. Each round, in numpy: nodes with a positive gain move, best gain first, while the
destination's node sizes stay within ``cap``. Moves go only from lower to higher part numbers on
even rounds and back on odd rounds, so two neighbours never swap places in one round.
"""

from __future__ import annotations

import numpy as np

ROUNDS = 12


def refine(indptr: np.ndarray, indices: np.ndarray, weights: np.ndarray, parts: np.ndarray,
           cap: float, sizes: np.ndarray | None = None, rounds: int = ROUNDS) -> np.ndarray:
    n = len(indptr) - 1
    sizes = np.ones(n) if sizes is None else sizes
    parts = parts.copy()
    if not len(indices):
        return parts
    src = np.repeat(np.arange(n, dtype=np.int64), np.diff(indptr))
    for round_ in range(rounds):
        k = int(parts.max()) + 1
        keys = src * k + parts[indices]
        order = np.argsort(keys, kind="stable")
        keys = keys[order]
        starts = np.flatnonzero(np.concatenate(([True], keys[1:] != keys[:-1])))
        conn = np.add.reduceat(weights[order], starts)
        node, part = np.divmod(keys[starts], k)
        own = np.zeros(n)
        mine = part == parts[node]
        own[node[mine]] = conn[mine]
        other = ~mine & ((part > parts[node]) if round_ % 2 == 0 else (part < parts[node]))
        node, part, conn = node[other], part[other], conn[other]
        if not len(node):
            continue
        best = np.lexsort((-conn, node))  # per node, the strongest other part first
        first = np.concatenate(([True], node[best][1:] != node[best][:-1]))
        node, part, gain = node[best][first], part[best][first], conn[best][first] - own[node[best][first]]
        move = gain > 0
        node, part, gain = node[move], part[move], gain[move]
        if not len(node):
            continue
        room = cap - np.bincount(parts, weights=sizes, minlength=k)
        order = np.lexsort((-gain, part))
        part_sorted = part[order]
        group_start = np.concatenate(([True], part_sorted[1:] != part_sorted[:-1]))
        total = np.cumsum(sizes[node[order]])
        before = np.maximum.accumulate(np.where(group_start, total - sizes[node[order]], 0))
        accepted = order[total - before <= room[part_sorted] + 1e-9]
        parts[node[accepted]] = part[accepted]
    return parts
