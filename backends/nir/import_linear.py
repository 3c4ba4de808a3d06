"""The linear NIR nodes as numpy maps, for composing a chain of them into one matrix
(:meth:`snnc.backends.nir.importer.Importer.composed`).

A node maps a batch ``x [batch, *shape]`` as NIR defines it: Flatten reshapes, Linear is
``x W^T``, Affine ``x W^T + b``, Scale ``x * s``, SumPool2d sums k x k windows, Conv2d is
the cross-correlation ``out[o, y, x] = sum_c,i,j W[o, c, i, j] x_pad[c, y s + i, x s + j]
(+ b[o])`` with zero padding. Applied to the basis vectors of the pre population (bias
off) the chain gives its matrix; applied to zeros (bias on) it gives its constant offset.
"""

from __future__ import annotations

import numpy as np


def apply(node, x: np.ndarray, with_bias: bool) -> np.ndarray:
    """A NIR linear node applied to a batch x [batch, *shape] (numpy, for composing maps)."""
    kind = type(node).__name__
    if kind == "Flatten":
        return x.reshape(x.shape[0], -1)
    if kind in ("Linear", "Affine"):
        out = x.reshape(x.shape[0], -1) @ np.asarray(node.weight, dtype=np.float64).T
        if kind == "Affine" and with_bias:
            out = out + np.asarray(node.bias, dtype=np.float64)
        return out
    if kind == "Scale":
        return x * np.asarray(node.scale, dtype=np.float64)
    if kind == "SumPool2d":
        k = int(np.atleast_1d(node.kernel_size)[0])
        stride = int(np.atleast_1d(node.stride)[0])
        return windows(x, k, stride, 0).sum(axis=(-2, -1))
    # Conv2d: cross-correlation with zero padding
    weight = np.asarray(node.weight, dtype=np.float64)
    stride = int(np.atleast_1d(node.stride)[0])
    padding = int(np.atleast_1d(node.padding)[0])
    patches = windows(x, weight.shape[2], stride, padding)  # [batch, C_in, oh, ow, k, k]
    out = np.einsum("bcyxij,ocij->boyx", patches, weight)
    if with_bias:
        out = out + np.asarray(node.bias, dtype=np.float64)[None, :, None, None]
    return out


def windows(x: np.ndarray, k: int, stride: int, padding: int) -> np.ndarray:
    """Sliding k x k windows of x [batch, C, H, W]: [batch, C, out_h, out_w, k, k]."""
    padded = np.pad(x, ((0, 0), (0, 0), (padding, padding), (padding, padding)))
    view = np.lib.stride_tricks.sliding_window_view(padded, (k, k), axis=(2, 3))
    return view[:, :, ::stride, ::stride]
