"""Sort-based set operations on integer arrays (``np.unique`` hashes, which is far slower on
the large index arrays of mapping)."""

from __future__ import annotations

import numpy as np


def distinct(x: np.ndarray) -> np.ndarray:
    """The sorted distinct values of ``x``."""
    s = np.sort(x)
    return s[np.concatenate(([True], s[1:] != s[:-1]))] if len(s) else s


def stable_order(keys: np.ndarray, bound: int) -> np.ndarray:
    """``np.argsort(keys, kind="stable")`` for integer keys in [0, bound): the keys packed with
    their positions, ``key * n + position``, sorted (numpy's fast unstable sort suffices, every
    packed value being distinct) and unpacked by ``% n``; a stable argsort when the packed values
    would not fit in 63 bits."""
    n = len(keys)
    if n == 0 or bound * n >= 2**62:
        return np.argsort(keys, kind="stable")
    packed = keys.astype(np.int64) * n
    packed += np.arange(n, dtype=np.int64)
    packed.sort()
    return packed % n


def count_distinct(x: np.ndarray) -> int:
    return int(np.count_nonzero(np.diff(np.sort(x)))) + 1 if len(x) else 0


def distinct_inverse(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(sorted distinct values, index of each element's value), like
    ``np.unique(x, return_inverse=True)``. Non-negative integers are ordered by
    :func:`stable_order`."""
    if len(x) and np.issubdtype(x.dtype, np.integer) and x.min() >= 0:
        order = stable_order(x, int(x.max()) + 1)
    else:
        order = np.argsort(x, kind="stable")
    s = x[order]
    new = np.concatenate(([True], s[1:] != s[:-1])) if len(s) else np.zeros(0, bool)
    inverse = np.empty(len(x), dtype=np.int64)
    inverse[order] = np.cumsum(new) - 1
    return s[new], inverse
