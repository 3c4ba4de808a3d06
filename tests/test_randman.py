"""The Randman generator: seeded, one spike per unit and sample, stratified splits, spike
times that span [0, steps * step_frac)."""

import math

import numpy as np
import pytest

from snnc.datasets.randman import SPLITS, RandmanOptions, generate, manifold, terms

SMALL = RandmanOptions(classes=3, units=6, samples=40, steps=30, step_frac=0.5, seed=7)


def test_same_seed_same_data_and_another_seed_other_data():
    a, b = generate(SMALL), generate(SMALL)
    c = generate(RandmanOptions(**{**SMALL.__dict__, "seed": 8}))
    for split in SPLITS:
        assert np.array_equal(a.spikes[split], b.spikes[split])
        assert np.array_equal(a.labels[split], b.labels[split])
    assert not np.array_equal(a.spikes["train"], c.spikes["train"])


def test_every_unit_fires_exactly_once_per_sample():
    data = generate(SMALL)
    for split in SPLITS:
        assert (data.spikes[split].sum(axis=0) == 1).all()


def test_shapes_and_stratified_splits():
    data = generate(SMALL)
    sizes = {"train": 32, "validation": 4, "test": 4}  # 80/10/10 of 40 per class
    for split, size in sizes.items():
        assert data.spikes[split].shape == (30, 3 * size, 6)
        assert data.spikes[split].dtype == bool
        assert np.bincount(data.labels[split]).tolist() == [size] * 3
    assert data.classes == 3 and data.steps == 30


def test_min_max_scaling_spans_the_first_steps_of_every_unit_and_class():
    options = RandmanOptions(classes=2, units=5, samples=50, steps=21, step_frac=0.5, seed=3)
    data = generate(options)
    limit = math.ceil(21 * 0.5)  # spikes at steps 0 .. 10
    for k in range(2):
        times = np.concatenate([np.argmax(data.spikes[s][:, data.labels[s] == k], axis=0)
                                for s in SPLITS])
        assert times.min(axis=0).tolist() == [0] * 5
        assert times.max(axis=0).tolist() == [limit - 1] * 5
    assert not data.spikes["train"][limit:].any()


def test_the_fourier_series_has_the_documented_number_of_terms():
    assert terms(1.0, 1e-3) == 1000
    assert terms(2.0, 1e-3) == 32
    assert terms(0.5, 1e-3) == 1000  # capped
    x = np.linspace(0, 1, 200, endpoint=False)[:, None]
    y = manifold(np.random.default_rng(0), x, 3, 2.0, 1e-3)
    assert y.shape == (200, 3)
    assert np.abs(np.diff(y, axis=0)).max() < 0.5 * np.ptp(y, axis=0).max()  # smooth for alpha 2


@pytest.mark.parametrize("change, message", [
    ({"classes": 0}, "classes must be at least 1"),
    ({"step_frac": 1.5}, "step_frac must be in (0, 1]"),
    ({"train": 0.9, "validation": 0.1}, "train + validation < 1"),
])
def test_bad_options_are_refused(change, message):
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")
                       .replace("+", r"\+")):
        generate(RandmanOptions(**{**SMALL.__dict__, **change}))
