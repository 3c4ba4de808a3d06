"""Classification from a readout trajectory: the loss, the logits and the accuracy.

For a readout trajectory v [T, B, K] and a loss ``cross_entropy(reduction(v))``::

    z_b = reduction(v[:, b])                   (sum_over_time, mean_over_time, max_over_time, last)
    L   = sum_b -log softmax(z_b)[y_b]
    without a reduction:  L = sum_n sum_b -log softmax(v[n, b])[y_b],  z_b = sum_n v[n, b]

The predicted class is argmax_k z_bk.
"""

from __future__ import annotations

import numpy as np

REDUCTIONS = {
    None: lambda v: v.sum(axis=0),
    "sum_over_time": lambda v: v.sum(axis=0),
    "mean_over_time": lambda v: v.mean(axis=0),
    "max_over_time": lambda v: v.max(axis=0),
    "last": lambda v: v[-1],
}


def log_softmax(z: np.ndarray) -> np.ndarray:
    z = z - z.max(axis=-1, keepdims=True)
    return z - np.log(np.exp(z).sum(axis=-1, keepdims=True))


def evaluate(values: np.ndarray, labels: np.ndarray, reduction: str | None) -> tuple[float, int]:
    """(summed cross-entropy, number of correct predictions) of a batch."""
    logits = REDUCTIONS[reduction](values)
    if reduction is None:
        logp = log_softmax(values)
        loss = -np.take_along_axis(logp, np.broadcast_to(labels[None, :, None],
                                                         (values.shape[0], len(labels), 1)),
                                   axis=-1).sum()
    else:
        loss = -np.take_along_axis(log_softmax(logits), labels[:, None], axis=-1).sum()
    return float(loss), int((logits.argmax(axis=-1) == labels).sum())


def cosine(a: np.ndarray, b: np.ndarray) -> float:
    """a . b / (|a| |b|), 0 when either is zero."""
    norm = float(np.linalg.norm(a) * np.linalg.norm(b))
    return float(np.dot(a.ravel(), b.ravel()) / norm) if norm > 0 else 0.0
