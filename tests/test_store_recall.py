"""The store-recall generator (snnc.datasets.store_recall) and ``snnc train --data store_recall``.

The generator is checked against a re-statement of the task in plain loops (the same draws from
the same seed, every spike's probability written out channel by channel and step by step), the
labels are recomputed from the spikes alone, and a tiny instance is learnt by BPTT above chance.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from snnc.cli import main
from snnc.datasets.randman import SPLITS
from snnc.datasets.store_recall import StoreRecallOptions, estimate_bytes, generate


def restated(o: StoreRecallOptions) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """The task of the module docstring, spike by spike, from the same random stream."""
    rng = np.random.default_rng(o.seed)
    n_train = int(round(o.train * o.samples))
    n_validation = int(round(o.validation * o.samples))
    sizes = [n_train, n_validation, o.samples - n_train - n_validation]
    out = {}
    for split, size in zip(SPLITS, sizes, strict=True):
        labels = rng.permutation([k for k in range(o.classes) for _ in range(size)])
        probes = rng.integers(0, o.probes, len(labels))
        steps = o.cue_steps + o.delay + o.recall_steps
        units = (o.classes + o.probes) * o.group
        draws = rng.random((steps, len(labels), units))
        spikes = np.zeros(draws.shape, bool)
        for n in range(steps):
            for b, (label, probe) in enumerate(zip(labels, probes, strict=True)):
                cue = (label - o.shift * probe) % o.classes  # label = cue + shift probe
                for c in range(units):
                    group = c // o.group
                    active = (n < o.cue_steps and group == cue) or \
                        (n >= o.cue_steps + o.delay and group == o.classes + probe)
                    spikes[n, b, c] = draws[n, b, c] < (o.rate if active else o.noise)
        out[split] = (spikes, labels)
    return out


@pytest.mark.parametrize("probes, shift", [(1, 1), (3, 1), (2, 0), (2, 2)])
def test_the_generator_is_the_task_it_states(probes, shift):
    o = StoreRecallOptions(classes=3, probes=probes, shift=shift, group=2, cue_steps=3, delay=4,
                           recall_steps=2, samples=5, seed=7, rate=0.6, noise=0.1)
    data = generate(o)
    for split, (spikes, labels) in restated(o).items():
        assert data.spikes[split].dtype == bool and data.labels[split].dtype == np.int64
        np.testing.assert_array_equal(data.spikes[split], spikes)
        np.testing.assert_array_equal(data.labels[split], labels)


@pytest.mark.parametrize("classes, probes, shift", [(4, 1, 1), (2, 2, 1), (3, 3, 1), (2, 2, 0)])
def test_labels_follow_from_the_spikes_and_not_from_the_recall_period_alone(classes, probes,
                                                                              shift):
    o = StoreRecallOptions(classes=classes, probes=probes, shift=shift, samples=300)
    data = generate(o)
    units = (classes + probes) * 10
    assert data.steps == 140 and data.classes == classes
    for split in SPLITS:
        x, y = data.spikes[split], data.labels[split]
        assert x.shape == (140, len(y), units)
        assert np.bincount(y).tolist() == [len(y) // classes] * classes  # chance is 1/classes
        cue = x[:20, :, :10 * classes].sum(axis=0).reshape(len(y), classes, 10).sum(axis=2)
        probe = x[120:, :, 10 * classes:].sum(axis=0).reshape(len(y), probes, 10).sum(axis=2)
        # the most active cue group and the most active probe group give the label
        np.testing.assert_array_equal(
            (cue.argmax(axis=1) + shift * probe.argmax(axis=1)) % classes, y)
    x, y = data.spikes["train"], data.labels["train"]
    later = x[20:].mean(axis=0)  # firing frequency per sample and channel after the cue
    for k in range(classes):
        rates = later[y == k].mean(axis=0)
        np.testing.assert_allclose(rates[:10 * classes], o.noise, atol=0.004)  # background
        # every probe group is as active in every class: the recall period alone is at chance
        np.testing.assert_allclose(rates[10 * classes:], o.noise + (o.rate - o.noise) * 20 / 120
                                   / probes, atol=0.008)


def test_same_seed_same_bytes_other_seed_other_data():
    first, again = generate(StoreRecallOptions(samples=20)), generate(StoreRecallOptions(samples=20))
    other = generate(StoreRecallOptions(samples=20, seed=1))
    for split in SPLITS:
        assert first.spikes[split].tobytes() == again.spikes[split].tobytes()
        assert first.labels[split].tobytes() == again.labels[split].tobytes()
    assert first.spikes["train"].tobytes() != other.spikes["train"].tobytes()


def test_the_memory_estimate_bounds_the_arrays():
    o = StoreRecallOptions(samples=100)
    data = generate(o)
    held = sum(x.nbytes for x in data.spikes.values())
    assert held <= estimate_bytes(o) <= 20 * held


NETWORK = """
network tiny_store_recall {
  dt = 1 ms
  seed = 1
}
input units[20]
population hidden: CubaLIF[32] {
  tau_mem = 20 ms
  tau_syn = 10 ms
  threshold = 1
  reset = subtract
  surrogate = fast_sigmoid(beta = 10)
}
readout out: LI[2] { tau_mem = 20 ms }
units -> hidden: dense { weight = normal(0, 0.3)
  learn bptt(lr = 5e-3, readout = out) }
hidden -> hidden: dense { weight = normal(0, 0.01)
  learn bptt(lr = 5e-3, readout = out) }
hidden -> out: dense { weight = normal(0, 0.1)
  learn delta(lr = 5e-3, readout = out) }
loss cross_entropy(last(out.v))
"""
TINY = "store_recall:group=5,delay=60,samples=100"  # XOR; 120 training samples, 40 test


def train(tmp_path, data, *extra):
    (tmp_path / "net.snn").write_text(NETWORK)
    return main(["train", str(tmp_path / "net.snn"), "--data", data, "--batch", "8",
                 "-o", str(tmp_path / "run"), *extra])


@pytest.mark.parametrize("spec, code, message, hint", [
    ("store_recall:bad=1", "E620", "store_recall has no option 'bad'", "options: classes, probes, shift, group"),
    ("store_recall:dealy=3", "E620", "store_recall has no option 'dealy'",
     "did you mean 'delay'"),
    ("store_recall:classes=1", "E620", "classes must be at least 2", None),
    ("store_recall:delay=-1", "E620", "delay must be non-negative", None),
    ("store_recall:rate=0.01", "E620", "0 <= noise < rate <= 1", None),
    ("store_recall:samples=many", "E620", "samples='many' is not a whole number", None),
    ("store_recall:rate=nan", "E615", "rate=nan is not a finite number", None),
    ("store_recall:samples=1000000000", "E617", "of memory is available", "lower samples"),
    ("store_recall:group=4", "E621", "the data have 16 channels; input 'units' has 20",
     "(classes + probes) * group = 20 channels"),
    ("store_recall:shift=-1", "E620", "shift must be non-negative", None),
])
def test_bad_options_are_diagnostics(tmp_path, capsys, spec, code, message, hint):
    assert train(tmp_path, spec, "--epochs", "1") == 1
    err = capsys.readouterr().err
    assert f"error[{code}]" in err and message in err, err
    assert hint is None or hint in err, err
    assert "Traceback" not in err and "internal error" not in err


def test_bptt_learns_a_tiny_instance_above_chance(tmp_path, capsys):
    """Cue XOR probe, 60 steps of delay (3 membrane time constants) after a 20-step cue, read
    at the end of the recall period: chance is 50 %, 40 test samples."""
    assert train(tmp_path, TINY, "--epochs", "6", "--seed", "1") == 0, capsys.readouterr().err
    log = json.loads((tmp_path / "run" / "log.json").read_text())
    assert log["summary"]["test_accuracy_at_best_validation"] >= 0.8, log["summary"]
