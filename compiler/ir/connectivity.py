"""Procedural connectivity: a description plus a seed, counted without materialising synapses.

Populations are flattened in C order (channel, row, column). A projection's synapses are
pairs (post i, pre j); :meth:`Connectivity.materialize` returns them as two index arrays,
sorted by post then pre, drawn deterministically from ``rng_for(seed, projection name)``.

Counts are exact where the structure fixes them (dense, one_to_one, fixed_fan_in, conv2d,
sumpool2d: zero padding removes taps) and the expectation for ``sparse(p)``, whose count
is binomial: mean p * N_pre * N_post.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from snnc.ir.values import FromFile


def conv_output_size(size: int, kernel: int, stride: int, padding: int) -> int:
    """floor((size + 2 padding - kernel) / stride) + 1, as in every deep-learning library."""
    return (size + 2 * padding - kernel) // stride + 1


def valid_taps(size: int, out: int, kernel: int, stride: int, padding: int) -> np.ndarray:
    """For each output position along one axis, how many kernel taps land inside the input."""
    starts = np.arange(out) * stride - padding
    lows = np.maximum(starts, 0)
    highs = np.minimum(starts + kernel, size)
    return np.maximum(highs - lows, 0)


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
        """Exact count (expected count for sparse), without materialising anything."""
        n_pre, n_post = int(np.prod(pre_shape)), int(np.prod(post_shape))
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
            taps_h = valid_taps(h, oh, self.kernel, self.stride, self.padding)
            taps_w = valid_taps(w, ow, self.kernel, self.stride, self.padding)
            spatial = int(taps_h.sum()) * int(taps_w.sum())
            return c_out * spatial * (c_in if self.kind == "conv2d" else 1)
        return int(np.count_nonzero(self.file.load()))

    def max_fan_in(self, pre_shape: tuple[int, ...], post_shape: tuple[int, ...]) -> int:
        """The largest number of synapses onto one post neuron (expected, for sparse)."""
        n_pre = int(np.prod(pre_shape))
        if self.kind == "dense":
            return n_pre
        if self.kind == "one_to_one":
            return 1
        if self.kind == "sparse":
            return int(np.ceil(self.p * n_pre))
        if self.kind == "fixed_fan_in":
            return self.k
        if self.kind in ("conv2d", "sumpool2d"):
            return self.kernel ** 2 * (pre_shape[0] if self.kind == "conv2d" else 1)
        return int(np.count_nonzero(self.file.load(), axis=1).max(initial=0))

    # -- materialising ----------------------------------------------------------------------
    def materialize(self, pre_shape: tuple[int, ...], post_shape: tuple[int, ...],
                    rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """(post indices, pre indices) of every synapse, sorted by post then pre."""
        n_pre, n_post = int(np.prod(pre_shape)), int(np.prod(post_shape))
        if self.kind == "dense":
            post, pre = np.divmod(np.arange(n_pre * n_post, dtype=np.int64), n_pre)
        elif self.kind == "one_to_one":
            post = pre = np.arange(min(n_pre, n_post), dtype=np.int64)
        elif self.kind == "sparse":
            mask = rng.random((n_post, n_pre)) < self.p
            post, pre = np.nonzero(mask)
        elif self.kind == "fixed_fan_in":
            pre = np.concatenate([np.sort(rng.choice(n_pre, self.k, replace=False))
                                  for _ in range(n_post)]) if n_post else np.zeros(0, np.int64)
            post = np.repeat(np.arange(n_post, dtype=np.int64), self.k)
        elif self.kind in ("conv2d", "sumpool2d"):
            post, pre, _ = self.conv_synapses(pre_shape, post_shape)
        else:
            post, pre = np.nonzero(self.file.load().reshape(n_post, n_pre))
        return post.astype(np.int64), pre.astype(np.int64)

    def kernel_shape(self, pre_shape: tuple[int, ...]) -> tuple[int, ...]:
        """[out channels, in channels, kernel, kernel] (pooling: one shared tap per channel)."""
        if self.kind == "conv2d":
            return (self.channels, pre_shape[0], self.kernel, self.kernel)
        return (pre_shape[0], 1, self.kernel, self.kernel)

    def conv_synapses(self, pre_shape, post_shape):
        """(post, pre, kernel tap) of every synapse of a conv2d/sumpool2d, sorted by post then
        pre; the tap is the flat index into :meth:`kernel_shape`, so weights are shared."""
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
