"""Reward-modulated STDP on Lava's learning engine (issue 17): examples/rstdp_loihi.snn, whose
eligibility c is the synapses' tag and whose reward reaches them as the third factor y2 through
the program's ThirdFactorLIF1 post neurons, learns as ``snnc run --delivery next_step`` does.

The reward of snnc's step n is played by a source process at Lava's time step n + 1, the step
whose post spikes and traces are snnc's step n; the run with the reward one step later ends
far from both, so the convention is pinned, not absorbed by the tolerance.

In fixed point (``--precision fixed_pt``) Lava's engine computes with 7-bit traces, 9-bit tags
and weights, stochastic rounding (seeded) and a right shift that floors each product (about
-2^e weight units per evaluation of a product with constant m 2^e: with rstdp's t * y3 at
2^-2, about -6 units over 1000 steps with a reward on 5 % of them). Measured (this data):
the example (its post spikes differ from snnc's by 6 %, as its neuron arithmetic does):
weight changes correlated 0.74 with snnc's, same sign for 82 % of the synapses that move by
more than 2.5 weight units; with the post spikes set by a drive (0.2 % of spikes differ):
correlation 0.95, same sign for 94 %, largest difference 25 units (0.025), mean -5 units.
The tolerances below are those figures with a margin.
"""

from __future__ import annotations

import shutil

import numpy as np

from tests.lava.conftest import ROOT

STEPS = 1000
RECORD = "actor.s,pattern->actor.w"


def data(path, reward):
    rng = np.random.default_rng(5)
    np.savez(path, pattern=rng.random((STEPS, 50)) < 0.03, reward=reward)


def rewards():
    rng = np.random.default_rng(11)
    return np.where(rng.random(STEPS) < 0.05, rng.choice([-1.0, 1.0], STEPS), 0.0)


def test_rstdp_loihi_learns_in_floating_point_as_the_reference(programs, tmp_path):
    source = tmp_path / "rstdp_loihi.snn"
    shutil.copy(ROOT / "examples" / "rstdp_loihi.snn", source)
    program = programs.compile(source, "rstdp_loihi")
    network = (program / "network.py").read_text()
    assert "Loihi3FLearningRule" in network and "dt='x1 * y0 - y1 * x0" in network
    given, later = tmp_path / "data.npz", tmp_path / "later.npz"
    reward = rewards()
    data(given, reward)
    data(later, np.r_[0.0, reward[:-1]])
    lava = programs.lava(program, STEPS, "--input", str(given))
    reference = programs.reference(source, STEPS, RECORD, "--input", str(given))
    shifted = programs.reference(source, STEPS, RECORD, "--input", str(later))
    assert reference["actor.s"].sum() > 500
    assert np.array_equal(lava["actor.s"], reference["actor.s"])
    initial = reference["pattern->actor.w.history"][0].reshape(20, 50)
    final = reference["pattern->actor.w"].reshape(20, 50)
    assert np.abs(final - initial).max() > 0.03  # the reward changed the weights
    np.testing.assert_allclose(lava["pattern->actor.w"], final, rtol=0, atol=1e-9)
    assert np.abs(shifted["pattern->actor.w"].reshape(20, 50) - final).max() > 0.01


DRIVEN = """network driven {
  dt = 1 ms
  seed = 7
}
input pattern[50]
input drive[20]
population actor: LIF[20] {
  tau_mem = 10 ms
  threshold = 1
  reset = zero
  refractory = 3
}
drive -> actor: one_to_one { weight = 4 }
pattern -> actor: dense {
  weight = uniform(0, 0.05)
  learn rstdp(lr = 0.002, tau_c = 127.4993464 ms, w_max = 0.125)
}
record actor.s, pattern->actor.w
"""


def changes(lava, reference):
    initial = reference["pattern->actor.w.history"][0]
    initial = initial.reshape(lava["pattern->actor.w"].shape)
    return (reference["pattern->actor.w"].reshape(initial.shape) - initial,
            lava["pattern->actor.w"] - initial)


def agreement(ours, theirs, floor):
    moved = np.abs(theirs) > floor
    return float(np.corrcoef(ours.ravel(), theirs.ravel())[0, 1]), \
        float((np.sign(ours[moved]) == np.sign(theirs[moved])).mean()), int(moved.sum())


def test_rstdp_loihi_learns_in_fixed_point_within_the_stated_tolerance(programs, tmp_path):
    source = tmp_path / "rstdp_loihi.snn"
    shutil.copy(ROOT / "examples" / "rstdp_loihi.snn", source)
    program = programs.compile(source, "rstdp_loihi")
    report = (program / "quantization.json").read_text()
    assert '"runs_in_fixed_pt": true' in report and "t * y3 * u0" in report
    given = tmp_path / "data.npz"
    data(given, rewards())
    lava = programs.lava(program, STEPS, "--input", str(given), "--precision", "fixed_pt")
    reference = programs.reference(source, STEPS, RECORD, "--input", str(given))
    spikes = lava["actor.s"].sum() / reference["actor.s"].sum()
    assert 0.9 < spikes < 1.1
    theirs, ours = changes(lava, reference)
    correlation, signs, moved = agreement(ours, theirs, 0.01)
    assert correlation > 0.65 and signs > 0.75 and moved > 300


def test_fixed_point_learning_with_the_same_post_spikes(programs, tmp_path):
    source = programs.source(DRIVEN, "driven")
    program = programs.compile(source, "driven")
    rng = np.random.default_rng(5)
    given = tmp_path / "driven.npz"
    np.savez(given, reward=np.where(rng.random(STEPS) < 0.05, rng.choice([-1.0, 1.0], STEPS),
                                    0.0),
             pattern=rng.random((STEPS, 50)) < 0.05, drive=rng.random((STEPS, 20)) < 0.05)
    lava = programs.lava(program, STEPS, "--input", str(given), "--precision", "fixed_pt")
    reference = programs.reference(source, STEPS, RECORD, "--input", str(given))
    assert (lava["actor.s"] != reference["actor.s"]).mean() < 0.005
    unit = 2.0 ** -10  # the weight unit: 64 2^weight_exp / S (quantization.json)
    theirs, ours = changes(lava, reference)
    correlation, signs, moved = agreement(ours, theirs, 5 * unit)
    assert correlation > 0.9 and signs > 0.9 and moved > 500
    difference = ours - theirs
    assert np.abs(difference).max() < 30 * unit
    assert -8 * unit < difference.mean() < 0  # the floor of Lava's shifted products


def test_stdp_learns_in_fixed_point(programs, tmp_path):
    """Two-factor rules learn in fixed point too (examples/stdp.snn, Poisson inputs drawn as
    snnc draws them): measured correlation 0.95 of the weight changes with snnc's, mean
    absolute difference 0.001 (w_max 0.1), post spikes 25 against 24."""
    source = tmp_path / "stdp.snn"
    shutil.copy(ROOT / "examples" / "stdp.snn", source)
    program = programs.compile(source, "stdp")
    assert "else:  # integer traces" in (program / "network.py").read_text()
    lava = programs.lava(program, STEPS, "--precision", "fixed_pt")
    reference = programs.reference(source, STEPS, "out.s,poisson_in->out.w")
    assert abs(int(lava["out.s"].sum()) - int(reference["out.s"].sum())) <= 3
    initial = reference["poisson_in->out.w.history"][0].reshape(10, 100)
    theirs = reference["poisson_in->out.w"].reshape(10, 100) - initial
    ours = lava["poisson_in->out.w"] - initial
    assert np.abs(theirs).max() > 0.015
    assert np.corrcoef(ours.ravel(), theirs.ravel())[0, 1] > 0.9
    assert np.abs(ours - theirs).mean() < 0.002
