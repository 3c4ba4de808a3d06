"""KaHIP (extra 'map': ``pip install 'snnc[map]'``) as an optional neuron-level partitioner.

``kahip.kaffpa`` cuts the undirected neuron graph of :mod:`snnc.mapping.grow` into k blocks of
at most (1 + imbalance) N / k nodes, minimising the weight of cut edges (here: synapse counts
between two neurons). When the package is missing, :func:`available` is False and snnc uses
greedy growing alone.
"""

from __future__ import annotations

import importlib.util

import numpy as np

from snnc.mapping.arrays import distinct_inverse

IMBALANCE = 0.03


def available() -> bool:
    return importlib.util.find_spec("kahip") is not None


def kaffpa(indptr: np.ndarray, indices: np.ndarray, cap: int, seed: int) -> np.ndarray:
    """Block labels with at most ``cap`` nodes per block (KaHIP's fast mode)."""
    import kahip

    n = len(indptr) - 1
    rows = np.repeat(np.arange(n, dtype=np.int64), np.diff(indptr))
    keep = rows != indices
    keys, inverse = distinct_inverse(rows[keep] * n + indices[keep])
    counts = np.bincount(inverse)
    src, dst = np.divmod(keys, n)
    xadj = np.concatenate(([0], np.cumsum(np.bincount(src, minlength=n))))
    blocks = max(1, int(np.ceil(n * (1 + IMBALANCE) / cap)))
    _, parts = kahip.kaffpa([1] * n, xadj.tolist(), counts.tolist(), dst.tolist(), blocks,
                            IMBALANCE, True, seed, 0)
    return np.asarray(parts, dtype=np.int64)
