"""The epochs of ``snnc train``: shuffled mini-batches, evaluation, comparison with the exact
gradient, checkpoints.

Epoch e visits the training split in the order ``default_rng([seed, e]).permutation`` and
drops the last incomplete batch, so that an interrupted run resumed from its checkpoint
repeats an uninterrupted one exactly.

Comparison (every ``compare_every``-th batch): the exact gradient g = dL/dW of the batch at
the weights before it (BPTT) against the update the method makes,

    online rules, --update batch:  u = -(1/lr) sum_n lr * mean_b dw_b[n]   (fixed weights)
    online rules, --update step:   u = -(w_after - w_before) / lr       (summed over the steps)
    rtrl:                          u = the RTRL gradient of the same batch

as the cosine u . g / (|u| |g|) over all learning projections together and per projection;
for rtrl also max |u - g| / max |g|.

NaN or inf in a batch (state, loss, gradient, weights) raises the engine's NonFiniteError with
``where`` naming the epoch and batch; with ``allow_nonfinite`` the first one lands in
``nonfinite`` (for the caller to report) and training goes on.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

from snnc.datasets.randman import Dataset
from snnc.training.engines import NonFiniteError, OnlineEngine, OracleEngine
from snnc.training.metrics import cosine
from snnc.training.setup import Method


@dataclass
class Trainer:
    engine: OracleEngine | OnlineEngine
    method: Method
    dataset: Dataset
    batch: int
    seed: int
    compare_every: int = 0
    reference: OracleEngine | None = None  # for comparisons (BPTT gradients)
    eval_batch: int = 500
    timing: dict = field(default_factory=dict)
    allow_nonfinite: bool = False
    nonfinite: list[NonFiniteError] = field(default_factory=list)  # allowed, not yet reported

    def checked(self, call, where: str):
        """``call()`` with non-finite faults located at ``where`` (raised or collected)."""
        self.engine.allow_nonfinite = self.allow_nonfinite
        try:
            result = call()
        except NonFiniteError as error:
            error.where = where
            raise
        for fault in self.engine.take_nonfinite():
            fault.where = where
            self.nonfinite.append(fault)
        return result

    def batches(self, epoch: int) -> list[np.ndarray]:
        count = len(self.dataset.labels["train"])
        order = np.random.default_rng([self.seed, epoch]).permutation(count)
        return [order[k * self.batch:(k + 1) * self.batch] for k in range(count // self.batch)]

    def train_epoch(self, epoch: int, progress=None) -> dict:
        """Train one epoch; its log record (the training part)."""
        x_all, y_all = self.dataset.spikes["train"], self.dataset.labels["train"]
        loss = correct = seen = 0
        compared: list[dict] = []
        spent = {"train": 0.0, "compare": 0.0}
        batches = self.batches(epoch)
        for number, index in enumerate(batches):
            x, y = x_all[:, index], y_all[index]
            compare = self.compare_every and number % self.compare_every == 0
            start = time.perf_counter()
            if compare:
                before = {name: w.copy() for name, w in self.engine.weights.items()}
                exact = self.exact_gradient(x, y, before)
            spent["compare"] += time.perf_counter() - start
            start = time.perf_counter()
            batch_loss, batch_correct = self.checked(
                lambda x=x, y=y: self.engine.train_batch(x, y),
                f" in epoch {epoch}, training batch {number + 1}")
            spent["train"] += time.perf_counter() - start
            if compare:
                start = time.perf_counter()
                compared.append(self.compare(exact))
                spent["compare"] += time.perf_counter() - start
            loss += batch_loss
            correct += batch_correct
            seen += len(y)
            if progress is not None:
                progress(number + 1, len(batches))
        record = {"epoch": epoch, "train": {"loss": loss / seen, "accuracy": correct / seen}}
        if compared:
            record["compare"] = summarise(compared)
        self.timing = {"epoch": epoch, "train_seconds": spent["train"],
                       "compare_seconds": spent["compare"], "batches": len(batches)}
        return record

    def exact_gradient(self, x, y, weights) -> dict[str, np.ndarray]:
        for name, w in weights.items():
            self.reference.weights[name][...] = w
        return self.reference.gradient(x, y, "bptt")[1]

    def compare(self, exact) -> dict:
        names = sorted(self.method.rates)
        update = self.engine.last_gradient
        out = {"cosine": cosine(np.concatenate([update[n].ravel() for n in names]),
                                np.concatenate([exact[n].ravel() for n in names])),
               "per_projection": {n: cosine(update[n], exact[n]) for n in names}}
        if self.method.mode != "online":
            scale = max(float(np.abs(exact[n]).max()) for n in names)
            out["max_relative_difference"] = max(
                float(np.abs(update[n] - exact[n]).max()) for n in names) / scale
        return out

    def evaluate(self, split: str, epoch: int | None = None) -> dict:
        x_all, y_all = self.dataset.spikes[split], self.dataset.labels[split]
        loss = correct = 0
        for start in range(0, len(y_all), self.eval_batch):
            chunk = slice(start, start + self.eval_batch)
            batch_loss, batch_correct = self.checked(
                lambda chunk=chunk: self.engine.predict(x_all[:, chunk], y_all[chunk]),
                f" while evaluating the {split} split"
                + (f" after epoch {epoch}" if epoch is not None else ""))
            loss += batch_loss
            correct += batch_correct
        return {"loss": loss / len(y_all), "accuracy": correct / len(y_all)}

    def epoch(self, epoch: int, progress=None) -> dict:
        """Train and evaluate one epoch; its log record."""
        record = self.train_epoch(epoch, progress)
        start = time.perf_counter()
        record["validation"] = self.evaluate("validation", epoch)
        record["test"] = self.evaluate("test", epoch)
        self.timing["evaluate_seconds"] = time.perf_counter() - start
        return record


def summarise(compared: list[dict]) -> dict:
    """Means over the compared batches."""
    out = {"batches": len(compared),
           "cosine": float(np.mean([c["cosine"] for c in compared])),
           "per_projection": {name: float(np.mean([c["per_projection"][name] for c in compared]))
                              for name in compared[0]["per_projection"]}}
    if "max_relative_difference" in compared[0]:
        out["max_relative_difference"] = max(c["max_relative_difference"] for c in compared)
    return out
