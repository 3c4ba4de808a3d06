"""Procedural connectivity: a description plus a seed, counted without materialising synapses.

Populations are flattened in C order (channel, row, column). A projection's synapses are
pairs (post i, pre j); :meth:`Connectivity.materialize` returns them as two index arrays,
sorted by post then pre, drawn deterministically from ``rng_for(seed, projection name)``.

Counts are exact where the structure fixes them (dense, one_to_one, fixed_fan_in, conv2d,
sumpool2d: zero padding removes taps) and the expectation for ``sparse(p)``, whose count
is binomial: mean p * N_pre * N_post.

The random kinds are drawn in time and memory proportional to the synapses, vectorised over
neurons, never as a matrix of all pairs (:meth:`Connectivity.draw`):

- ``sparse(p)`` with p < :data:`PAIRWISE_P`: every pair (pre j, post i) is a synapse with
  probability p, independently. The pairs are enumerated pre-major, position
  ``j * N_post + i``, and the gaps between successive synapses are drawn, geometric:
  ``P(gap = m) = (1 - p)^(m - 1) p``, one draw per synapse (:func:`bernoulli_positions`).
  The synapses come out sorted by pre, then post.
- ``sparse(p)`` with p >= :data:`PAIRWISE_P` (a projection the simulator stores as a dense
  matrix anyway): one uniform per pair, a synapse where it is below p, drawn for a block of
  post rows at a time (:func:`bernoulli_rows`); sorted by post, then pre.
- ``fixed_fan_in(k)``: for each post neuron a uniformly random set of k distinct pre neurons
  (:func:`distinct_per_row`); sorted by post, then pre.

The same seed gives the same synapses. Work is done in blocks of about :data:`BLOCK`
draws, so the memory beyond the synapses themselves stays bounded.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, NamedTuple

from snnc.ir.values import FromFile

if TYPE_CHECKING:  # numpy is imported where synapses are drawn: counting them needs none
    import numpy as np

#: from this p on, sparse(p) draws one uniform per pair (as before issue 18): at most
#: 1 / p = 4 draws per synapse, and the simulator stores such a projection as a dense matrix
PAIRWISE_P = 0.25
#: draws per block of vectorised work (memory beyond the synapses: a few arrays of this size)
BLOCK = 1 << 20
#: fixed_fan_in(k) draws k of N_pre with random keys (N_pre uniforms per post neuron) from
#: this fraction k / N_pre on; below it, k indices with replacement and the repeats redrawn
KEYS_FRACTION = 0.125


class Synapses(NamedTuple):
    """(post, pre) index arrays (int64) of a projection's synapses, sorted by post then pre
    when ``by_pre`` is False, by pre then post when it is True (the order they were drawn)."""

    post: np.ndarray
    pre: np.ndarray
    by_pre: bool


def bernoulli_positions(total: int, p: float, rng: np.random.Generator) -> np.ndarray:
    """The sorted positions in [0, total) of a Bernoulli(p) process: each position
    independently with probability p (0 <= p < 1), drawn by geometric gaps.

    The first position is g_1 - 1 and each next one g later, g ~ Geometric(p) on {1, 2, ...},
    P(g = m) = (1 - p)^(m - 1) p, the trials up to the next success
    (:meth:`numpy.random.Generator.geometric`: for p < 1/3 by inversion, ceil(E / -log(1 - p))
    with E standard exponential; a gap of 0, E == 0 exactly, is taken as 1). One draw per
    synapse and one past the end, in blocks of at most :data:`BLOCK` sized from the expected
    remaining count; every draw is used in order until the end is passed, so the positions
    do not depend on the block sizes."""
    import numpy as np
    if total <= 0 or p <= 0:
        return np.zeros(0, np.int64)
    expected = p * total
    out = np.empty(int(expected + 8 * np.sqrt(expected) + 64), np.int64)
    count, last = 0, -1
    while True:
        mean = p * (total - 1 - last)
        size = int(min(BLOCK, mean + 6 * np.sqrt(mean) + 16))
        steps = rng.geometric(p, size)
        np.clip(steps, 1, total, out=steps)  # past the end either way; no overflow in the sum
        positions = np.cumsum(steps, out=steps)
        positions += last
        inside = int(np.searchsorted(positions, total))
        if count + inside > out.size:
            out = np.resize(out, max(2 * out.size, count + inside))
        out[count:count + inside] = positions[:inside]
        count += inside
        if inside < size:
            return out[:count].copy() if count < out.size // 2 else out[:count]
        last = int(positions[-1])


def bernoulli_rows(n_post: int, n_pre: int, p: float, rng: np.random.Generator
                   ) -> tuple[np.ndarray, np.ndarray]:
    """(post, pre) of the pairs where a uniform drawn per pair is below p, in row-major
    [post, pre] order: ``rng.random((n_post, n_pre)) < p``, the uniforms drawn a block of rows
    at a time into one bool matrix (the same stream, so the same synapses as one matrix of
    all uniforms; one byte per pair instead of eight)."""
    import numpy as np
    mask = np.empty((n_post, n_pre), dtype=bool)
    rows = max(1, BLOCK // max(n_pre, 1))
    for start in range(0, n_post, rows):
        stop = min(n_post, start + rows)
        np.less(rng.random((stop - start, n_pre)), p, out=mask[start:stop])
    return np.nonzero(mask)


def distinct_per_row(n_rows: int, n: int, k: int, rng: np.random.Generator) -> np.ndarray:
    """[n_rows, k] int64: in each row k distinct values of range(n), sorted, every k-subset
    equally likely, rows independent.

    For k < :data:`KEYS_FRACTION` n: k values with replacement, then every repeat in a row
    redrawn until none is left. The procedure treats every value alike (relabelling the
    values relabels the result), so the set is uniform over the k-subsets; about k^2 / 2n
    repeats per row are redrawn. From that fraction on: one uniform key per value and the k
    smallest keys (:func:`numpy.argpartition`), at most n / k < 8 draws per synapse. Blocks
    of rows of about :data:`BLOCK` draws."""
    import numpy as np
    out = np.empty((n_rows, k), np.int64)
    if k == 0 or n_rows == 0:
        return out
    if k >= KEYS_FRACTION * n:
        rows = max(1, BLOCK // n)
        for start in range(0, n_rows, rows):
            keys = rng.random((min(rows, n_rows - start), n))
            chosen = np.argpartition(keys, k - 1, axis=1)[:, :k] if k < n else \
                np.broadcast_to(np.arange(n), keys.shape)
            out[start:start + len(keys)] = np.sort(chosen, axis=1)
        return out
    rows = max(1, BLOCK // k)
    for start in range(0, n_rows, rows):
        block = rng.integers(0, n, (min(rows, n_rows - start), k))
        block.sort(axis=1)
        while True:
            repeat = block[:, 1:] == block[:, :-1]
            bad = np.flatnonzero(repeat.any(axis=1))
            if not bad.size:
                break
            redo = block[bad]
            extra = repeat[bad]
            redo[:, 1:][extra] = rng.integers(0, n, int(extra.sum()))
            redo.sort(axis=1)
            block[bad] = redo
        out[start:start + len(block)] = block
    return out


def transpose(post: np.ndarray, pre: np.ndarray, n_pre: int, n_post: int, to_pre: bool
              ) -> tuple[np.ndarray, np.ndarray]:
    """(post, pre) of a set of distinct pairs re-sorted: by pre then post when ``to_pre``,
    else by post then pre. One sort of the int64 key ``pre * N_post + post`` (or ``post *
    N_pre + pre``; the pairs are distinct, so the order of the keys is the order of the
    pairs), computed in place: the two arrays given are overwritten and reused, so the peak
    is the synapses' two index arrays."""
    import numpy as np
    major, minor, size = (pre, post, n_post) if to_pre else (post, pre, n_pre)
    key = major
    key *= size
    key += minor
    key.sort()
    np.divmod(key, max(size, 1), out=(minor, key))  # minor: the major index, key: the minor
    return (key, minor) if to_pre else (minor, key)


def conv_output_size(size: int, kernel: int, stride: int, padding: int) -> int:
    """floor((size + 2 padding - kernel) / stride) + 1, as in every deep-learning library."""
    return (size + 2 * padding - kernel) // stride + 1


def valid_taps(size: int, out: int, kernel: int, stride: int, padding: int) -> int:
    """How many kernel taps land inside the input along one axis, summed over the output
    positions o = 0 .. out - 1: max(0, min(s + kernel, size) - max(s, 0)) with s = o stride -
    padding."""
    return sum(max(0, min(s + kernel, size) - max(s, 0))
               for s in range(-padding, out * stride - padding, stride))


@dataclass(frozen=True)
class Connectivity:
    """``kind`` is dense | one_to_one | sparse | fixed_fan_in | conv2d | sumpool2d | file."""

    kind: str
    p: float = 0.0
    k: int = 0
    kernel: int = 0
    stride: int = 1
    padding: int = 0
    channels: int = 0
    file: FromFile | None = field(default=None)

    def describe(self) -> str:
        if self.kind == "sparse":
            return f"sparse(p = {self.p:g})"
        if self.kind == "fixed_fan_in":
            return f"fixed_fan_in(k = {self.k})"
        if self.kind == "conv2d":
            return (f"conv2d(kernel = {self.kernel}, stride = {self.stride}, padding = "
                    f"{self.padding}, channels = {self.channels})")
        if self.kind == "sumpool2d":
            return f"sumpool2d(kernel = {self.kernel}, stride = {self.stride})"
        if self.kind == "file":
            return self.file.describe()
        return self.kind

    # -- shapes -----------------------------------------------------------------------------
    def output_shape(self, pre_shape: tuple[int, ...]) -> tuple[int, ...] | None:
        """The post shape this connectivity produces, where it determines one."""
        if self.kind in ("conv2d", "sumpool2d") and len(pre_shape) == 3:
            channels = self.channels if self.kind == "conv2d" else pre_shape[0]
            h = conv_output_size(pre_shape[1], self.kernel, self.stride, self.padding)
            w = conv_output_size(pre_shape[2], self.kernel, self.stride, self.padding)
            return (channels, h, w)
        return None

    # -- counting ---------------------------------------------------------------------------
    def synapse_count(self, pre_shape: tuple[int, ...], post_shape: tuple[int, ...]) -> int:
        """Exact count (expected count for sparse), without materialising anything (nor
        importing numpy, but for a file)."""
        n_pre, n_post = math.prod(pre_shape), math.prod(post_shape)
        if self.kind == "dense":
            return n_pre * n_post
        if self.kind == "one_to_one":
            return min(n_pre, n_post)
        if self.kind == "sparse":
            return round(self.p * n_pre * n_post)
        if self.kind == "fixed_fan_in":
            return self.k * n_post
        if self.kind in ("conv2d", "sumpool2d"):
            c_in, h, w = pre_shape
            c_out, oh, ow = post_shape
            spatial = valid_taps(h, oh, self.kernel, self.stride, self.padding) * \
                valid_taps(w, ow, self.kernel, self.stride, self.padding)
            return c_out * spatial * (c_in if self.kind == "conv2d" else 1)
        import numpy as np
        return int(np.count_nonzero(self.file.load()))

    def max_fan_in(self, pre_shape: tuple[int, ...], post_shape: tuple[int, ...]) -> int:
        """The largest number of synapses onto one post neuron (expected, for sparse)."""
        n_pre = math.prod(pre_shape)
        if self.kind == "dense":
            return n_pre
        if self.kind == "one_to_one":
            return 1
        if self.kind == "sparse":
            return math.ceil(self.p * n_pre)
        if self.kind == "fixed_fan_in":
            return self.k
        if self.kind in ("conv2d", "sumpool2d"):
            return self.kernel ** 2 * (pre_shape[0] if self.kind == "conv2d" else 1)
        import numpy as np
        return int(np.count_nonzero(self.file.load(), axis=1).max(initial=0))

    # -- materialising ----------------------------------------------------------------------
    def draw(self, pre_shape: tuple[int, ...], post_shape: tuple[int, ...],
             rng: np.random.Generator) -> Synapses:
        """Every synapse, in the order it is drawn (:class:`Synapses`: sorted by pre then post
        for ``sparse(p)`` below :data:`PAIRWISE_P`, by post then pre otherwise)."""
        import numpy as np
        n_pre, n_post = math.prod(pre_shape), math.prod(post_shape)
        if self.kind == "sparse" and self.p < PAIRWISE_P:
            post = bernoulli_positions(n_pre * n_post, self.p, rng)
            pre = np.empty_like(post)
            np.divmod(post, max(n_post, 1), out=(pre, post))  # position j * N_post + i
            return Synapses(post, pre, True)
        if self.kind == "sparse":
            post, pre = bernoulli_rows(n_post, n_pre, self.p, rng)
        elif self.kind == "dense":
            post, pre = np.divmod(np.arange(n_pre * n_post, dtype=np.int64), n_pre)
        elif self.kind == "one_to_one":
            post = pre = np.arange(min(n_pre, n_post), dtype=np.int64)
        elif self.kind == "fixed_fan_in":
            pre = distinct_per_row(n_post, n_pre, self.k, rng).reshape(-1)
            post = np.repeat(np.arange(n_post, dtype=np.int64), self.k)
        elif self.kind in ("conv2d", "sumpool2d"):
            post, pre, _ = self.conv_synapses(pre_shape, post_shape)
        else:
            post, pre = np.nonzero(self.file.load().reshape(n_post, n_pre))
        return Synapses(post.astype(np.int64, copy=False), pre.astype(np.int64, copy=False),
                        False)

    def materialize(self, pre_shape: tuple[int, ...], post_shape: tuple[int, ...],
                    rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """(post indices, pre indices) of every synapse, sorted by post then pre."""
        post, pre, by_pre = self.draw(pre_shape, post_shape, rng)
        if by_pre:
            post, pre = transpose(post, pre, math.prod(pre_shape), math.prod(post_shape),
                                  to_pre=False)
        return post, pre

    def kernel_shape(self, pre_shape: tuple[int, ...]) -> tuple[int, ...]:
        """[out channels, in channels, kernel, kernel] (pooling: one shared tap per channel)."""
        if self.kind == "conv2d":
            return (self.channels, pre_shape[0], self.kernel, self.kernel)
        return (pre_shape[0], 1, self.kernel, self.kernel)

    def conv_synapses(self, pre_shape, post_shape):
        """(post, pre, kernel tap) of every synapse of a conv2d/sumpool2d, sorted by post then
        pre; the tap is the flat index into :meth:`kernel_shape`, so weights are shared."""
        import numpy as np
        c_in, h, w = pre_shape
        c_out, oh, ow = post_shape
        k = self.kernel
        co, y, x, ci, ky, kx = np.meshgrid(np.arange(c_out), np.arange(oh), np.arange(ow),
                                           np.arange(c_in if self.kind == "conv2d" else 1),
                                           np.arange(k), np.arange(k), indexing="ij")
        channel = ci if self.kind == "conv2d" else co
        yy = y * self.stride - self.padding + ky
        xx = x * self.stride - self.padding + kx
        inside = (yy >= 0) & (yy < h) & (xx >= 0) & (xx < w)
        post = ((co * oh + y) * ow + x)[inside]
        pre = ((channel * h + yy) * w + xx)[inside]
        tap = (((co * (c_in if self.kind == "conv2d" else 1) + ci) * k + ky) * k + kx)[inside]
        order = np.lexsort((pre, post))
        return (post[order].astype(np.int64), pre[order].astype(np.int64),
                tap[order].astype(np.int64))
