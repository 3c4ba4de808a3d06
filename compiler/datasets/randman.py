"""Randman, the random-manifold spike-timing benchmark (Zenke & Vogels 2021; docs/learning.md).

For every class k and spike index r, a random smooth manifold f: [0, 1)^D -> R^M. Output
coordinate m is a product over the D input dimensions of a random Fourier series::

    f_m(x) = prod_d  sum_{i=1}^{F-1}  A_mdi w_i sin(2 pi (i x_d B_mdi + C_mdi))
    A, B, C ~ U[0, 1),   w_i = 1 / (i + 1)^alpha,   F = min(ceil(prec^(-1/alpha)), 1000)

(the constant term i = 0 is dropped). Each class maps ``samples`` points x ~ U[0, 1)^D; every
unit's values are min-max scaled over the class's samples to y in [0, 1], and unit m fires
exactly once per spike index, at step ``min(floor(S y_m), ceil(S) - 1)`` with S = steps *
step_frac, so that spike times span [0, S). Only the relative timing carries the class.

Everything is drawn from one ``numpy.random.Generator`` seeded with ``seed``: the same
options give the same data set on every machine.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields

import numpy as np

SPLITS = ("train", "validation", "test")


@dataclass(frozen=True)
class RandmanOptions:
    """The generator's parameters; the defaults are the reference setting (docs/learning.md)."""

    classes: int = 10
    units: int = 20
    dim: int = 1
    alpha: float = 1.0
    samples: int = 1000  # per class
    steps: int = 100
    step_frac: float = 0.5
    spikes: int = 1  # spikes per unit and sample (one manifold per spike index)
    prec: float = 1e-3
    seed: int = 0
    train: float = 0.8
    validation: float = 0.1  # the test split gets the rest

    @classmethod
    def names(cls) -> tuple[str, ...]:
        return tuple(f.name for f in fields(cls))

    def check(self) -> list[str]:
        """Problems with the values (empty when they are usable)."""
        problems = []
        for name in ("alpha", "step_frac", "prec", "train", "validation"):
            if not math.isfinite(getattr(self, name)):
                return [f"{name} must be a finite number, not {getattr(self, name)}"]
        for name in ("classes", "units", "dim", "samples", "steps", "spikes"):
            if getattr(self, name) < 1:
                problems.append(f"{name} must be at least 1")
        if self.classes == 1:
            problems.append("classes must be at least 2 (a classification task)")
        if self.alpha <= 0:
            problems.append("alpha must be positive")
        if not 0 < self.step_frac <= 1:
            problems.append("step_frac must be in (0, 1]")
        if not 0 < self.prec < 1:
            problems.append("prec must be in (0, 1)")
        if not (0 < self.train and 0 <= self.validation and self.train + self.validation < 1):
            problems.append("train and validation are fractions with train + validation < 1")
        if self.seed < 0:
            problems.append("seed must be non-negative")
        return problems


def estimate_bytes(options: RandmanOptions) -> int:
    """Memory :func:`generate` needs at its peak (bytes, an upper estimate): the spike times
    (int64 per class, sample, unit and spike), one manifold's phases (samples x Fourier terms
    floats, a few copies) and the boolean rasters of the splits."""
    o = options
    times = 8 * o.classes * o.samples * o.units * o.spikes
    phases = 3 * 8 * o.samples * terms(o.alpha, o.prec) if o.alpha > 0 and 0 < o.prec < 1 else 0
    rasters = 2 * o.steps * o.classes * o.samples * o.units
    indices = 3 * 8 * o.classes * o.samples * o.units * o.spikes
    return times + phases + rasters + indices


@dataclass
class Dataset:
    """Spike rasters per split: ``spikes[split]`` bool [steps, samples, units], ``labels[split]``
    int [samples]."""

    spikes: dict[str, np.ndarray]
    labels: dict[str, np.ndarray]

    @property
    def steps(self) -> int:
        return self.spikes["train"].shape[0]

    @property
    def classes(self) -> int:
        return int(max(labels.max(initial=0) for labels in self.labels.values())) + 1


def terms(alpha: float, prec: float) -> int:
    """F: the number of Fourier terms, min(ceil(prec^(-1/alpha)), 1000)."""
    return int(min(math.ceil(prec ** (-1.0 / alpha)), 1000))


def manifold(rng: np.random.Generator, x: np.ndarray, units: int, alpha: float,
             prec: float) -> np.ndarray:
    """f(x) [samples, units] of one random manifold drawn from ``rng`` for points x [samples, D]."""
    count = terms(alpha, prec)
    dim = x.shape[1]
    a, b, c = (rng.random((units, dim, count)) for _ in range(3))
    i = np.arange(1, count)  # the constant term i = 0 is dropped
    weight = 1.0 / (i + 1.0) ** alpha
    out = np.ones((x.shape[0], units))
    for m in range(units):
        for d in range(dim):
            phase = 2 * np.pi * (np.outer(x[:, d], i * b[m, d, 1:]) + c[m, d, 1:])
            out[:, m] *= np.sin(phase) @ (a[m, d, 1:] * weight)
    return out


def spike_steps(y: np.ndarray, steps: int, step_frac: float) -> np.ndarray:
    """Min-max scale every column of y over the samples and turn it into a spike step."""
    low, high = y.min(axis=0), y.max(axis=0)
    scaled = (y - low) / np.where(high > low, high - low, 1.0)
    span = steps * step_frac
    return np.minimum(np.floor(span * scaled), math.ceil(span) - 1).astype(np.int64)


def generate(options: RandmanOptions = RandmanOptions()) -> Dataset:
    """The data set of ``options``, split per class (stratified) and shuffled within splits."""
    problems = options.check()
    if problems:
        raise ValueError("; ".join(problems))
    rng = np.random.default_rng(options.seed)
    o = options
    n_train = int(round(o.train * o.samples))
    n_validation = int(round(o.validation * o.samples))
    times = np.zeros((o.classes, o.samples, o.units * o.spikes), np.int64)
    for k in range(o.classes):
        x = rng.random((o.samples, o.dim))
        for r in range(o.spikes):
            y = manifold(rng, x, o.units, o.alpha, o.prec)
            times[k, :, r * o.units:(r + 1) * o.units] = spike_steps(y, o.steps, o.step_frac)
    bounds = {"train": (0, n_train), "validation": (n_train, n_train + n_validation),
              "test": (n_train + n_validation, o.samples)}
    spikes, labels = {}, {}
    for split in SPLITS:
        start, stop = bounds[split]
        chosen = times[:, start:stop].reshape(-1, times.shape[2])
        classes = np.repeat(np.arange(o.classes), stop - start)
        order = rng.permutation(len(classes))
        chosen, classes = chosen[order], classes[order]
        raster = np.zeros((o.steps, len(classes), o.units), bool)
        sample = np.repeat(np.arange(len(classes)), chosen.shape[1])
        unit = np.tile(np.arange(chosen.shape[1]) % o.units, len(classes))
        raster[chosen.ravel(), sample, unit] = True
        spikes[split], labels[split] = raster, classes.astype(np.int64)
    return Dataset(spikes, labels)
