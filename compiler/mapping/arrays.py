"""Sort-based set operations on integer arrays (``np.unique`` hashes, which is far slower on
the large index arrays of mapping)."""

from __future__ import annotations

import numpy as np


def distinct(x: np.ndarray) -> np.ndarray:
    """The sorted distinct values of ``x``."""
    s = np.sort(x, kind="stable")
    return s[np.concatenate(([True], s[1:] != s[:-1]))] if len(s) else s


def count_distinct(x: np.ndarray) -> int:
    return int(np.count_nonzero(np.diff(np.sort(x)))) + 1 if len(x) else 0


def distinct_inverse(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(sorted distinct values, index of each element's value), like
    ``np.unique(x, return_inverse=True)``."""
    order = np.argsort(x, kind="stable")
    s = x[order]
    new = np.concatenate(([True], s[1:] != s[:-1])) if len(s) else np.zeros(0, bool)
    inverse = np.empty(len(x), dtype=np.int64)
    inverse[order] = np.cumsum(new) - 1
    return s[new], inverse
