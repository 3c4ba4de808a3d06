"""Store-recall, a delayed-cue working-memory task (after the e-prop paper's delayed tasks,
Bellec et al. 2020) with a probe at recall that can decide what the stored cue means.

A sample lasts ``steps = cue_steps + delay + recall_steps`` steps of three periods::

    store   n in [0, cue_steps)                        the cue: cue group c fires
    delay   n in [cue_steps, cue_steps + delay)        nothing but background
    recall  n in [cue_steps + delay, steps)            probe group p fires

There are ``classes`` cue groups and ``probes`` probe groups of ``group`` input channels each,
``units = (classes + probes) * group`` channels: channels ``[k group, (k + 1) group)`` are cue
group k, channels ``[(classes + p) group, (classes + p + 1) group)`` probe group p. Every
channel spikes independently at every step, with probability ``rate`` while its group is active
(cue group c in the store period, probe group p in the recall period) and ``noise`` otherwise::

    P(x[n, ch] = 1) = rate   if (ch in cue group c and n < cue_steps) or
                                (ch in probe group p and n >= cue_steps + delay)
                      noise  otherwise

The label is ``y = (c + shift * p) mod classes``. With ``shift = 0`` it is the cue itself (the
probe is a mere recall signal): a plain delayed cue, whose class is known from the store period
on. With ``shift = 1`` and ``classes = probes = 2`` (the defaults) it is c XOR p: what the cue
means is known only at recall, so nothing before the recall period says which class to output.
Each split has the same number of samples of every class; p is uniform over the probes, and
c = (y - shift * p) mod classes.

Why memory is needed: from step ``cue_steps`` on, the inputs depend on p alone, which is
drawn independently of y. A decision read at the end of the recall period (``last``) is
possible only from what the network kept of the cue over ``delay + recall_steps`` steps;
without memory it is at chance, 1/classes.

Every class has ``samples`` samples, split ``train`` / ``validation`` / the rest (stratified,
then shuffled within each split). Everything is drawn from one ``numpy.random.Generator``
seeded with ``seed``: the same options give the same arrays on every machine.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields

import numpy as np

from snnc.datasets.randman import SPLITS, Dataset


@dataclass(frozen=True)
class StoreRecallOptions:
    """The generator's parameters; the defaults are the setting of examples/store_recall."""

    classes: int = 2
    probes: int = 2  # probe groups, one of which fires at recall
    shift: int = 1  # label = (cue + shift * probe) mod classes; 0: the label is the cue
    group: int = 10  # input channels per group (classes cue groups, probes probe groups)
    cue_steps: int = 20
    delay: int = 100
    recall_steps: int = 20
    rate: float = 0.2  # spike probability per step of an active channel
    noise: float = 0.01  # spike probability per step of an inactive channel
    samples: int = 500  # per class
    seed: int = 0
    train: float = 0.6
    validation: float = 0.2  # the test split gets the rest

    @classmethod
    def names(cls) -> tuple[str, ...]:
        return tuple(f.name for f in fields(cls))

    @property
    def units(self) -> int:
        return (self.classes + self.probes) * self.group

    @property
    def steps(self) -> int:
        return self.cue_steps + self.delay + self.recall_steps

    def check(self) -> list[str]:
        """Problems with the values (empty when they are usable)."""
        for name in ("rate", "noise", "train", "validation"):
            if not math.isfinite(getattr(self, name)):
                return [f"{name} must be a finite number, not {getattr(self, name)}"]
        problems = []
        for name in ("classes", "probes", "group", "cue_steps", "recall_steps", "samples"):
            if getattr(self, name) < 1:
                problems.append(f"{name} must be at least 1")
        if self.classes == 1:
            problems.append("classes must be at least 2 (a classification task)")
        if self.delay < 0:
            problems.append("delay must be non-negative")
        if self.shift < 0:
            problems.append("shift must be non-negative")
        if not 0 <= self.noise < self.rate <= 1:
            problems.append("rate and noise are probabilities with 0 <= noise < rate <= 1")
        if not (0 < self.train and 0 <= self.validation and self.train + self.validation < 1):
            problems.append("train and validation are fractions with train + validation < 1")
        if self.seed < 0:
            problems.append("seed must be non-negative")
        return problems


def estimate_bytes(options: StoreRecallOptions) -> int:
    """Memory :func:`generate` needs at its peak (bytes, an upper estimate): the uniform draws
    and the probabilities of the largest split (float64 each) and the boolean rasters of all
    splits."""
    o = options
    cells = max(o.steps, 0) * o.classes * o.samples * o.units
    return 2 * 8 * cells + 2 * cells


def probabilities(cues: np.ndarray, probes: np.ndarray, options: StoreRecallOptions) -> np.ndarray:
    """P(x[n, b, ch] = 1) [steps, samples, units] for the samples' cues and probes."""
    o = options
    p = np.full((o.steps, len(cues), o.units), o.noise)
    group = np.arange(o.units)[None, :] // o.group  # [1, units]
    p[:o.cue_steps][:, group == cues[:, None]] = o.rate
    p[o.cue_steps + o.delay:][:, group == o.classes + probes[:, None]] = o.rate
    return p


def generate(options: StoreRecallOptions = StoreRecallOptions()) -> Dataset:
    """The data set of ``options``, split per class (stratified) and shuffled within splits."""
    problems = options.check()
    if problems:
        raise ValueError("; ".join(problems))
    o = options
    rng = np.random.default_rng(o.seed)
    n_train = int(round(o.train * o.samples))
    n_validation = int(round(o.validation * o.samples))
    counts = {"train": n_train, "validation": n_validation,
              "test": o.samples - n_train - n_validation}
    spikes, labels = {}, {}
    for split in SPLITS:
        classes = rng.permutation(np.repeat(np.arange(o.classes), counts[split]))
        probes = rng.integers(0, o.probes, len(classes))
        p = probabilities((classes - o.shift * probes) % o.classes, probes, o)
        spikes[split] = rng.random(p.shape) < p
        labels[split] = classes.astype(np.int64)
    return Dataset(spikes, labels)
