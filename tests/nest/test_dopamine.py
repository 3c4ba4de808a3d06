"""Reward-modulated STDP recognised from a rule's expressions and run on NEST's
``stdp_dopamine_synapse`` with a ``volume_transmitter``; e-prop refused with the reason.

``examples/rstdp.snn`` with the standard library's ``rstdp_nest`` (NEST's pairing convention,
the exact per-step integral of c (n - b)), its pattern spikes and rewards (dopamine spike counts
per step) given as data, compiled with ``--connectivity exact``:

- replay: ``run.py --replay rec.npz --input data.npz`` drives the plastic projection alone with
  the pre and post spikes ``snnc run`` recorded and the data's rewards as dopamine spikes
  (parrot neurons into a volume transmitter, arriving with the pre spikes of their step; one more
  pre spike at the end brings every synapse up to date): NEST's final weights agree with snnc's
  to 1e-6 (measured 6.7e-16);
- closed loop: ``run.py`` runs the network; the spikes agree until the learned weights differ
  (NEST pairs post spikes a dendritic delay later and, here, the dopamine arrives a step after
  the pre spikes of its step; docs/nest.md, 'Reward-modulated STDP').

The stdlib's ``rstdp`` (a same-step pair in both windows) is E522 with a hint to ``rstdp_nest``;
e-prop (``examples/eprop_randman.snn``) is E522 naming what NEST's e-prop models compute.
"""

from __future__ import annotations

import pathlib
import subprocess
import sys

import numpy as np
import pytest

from snnc import recordings

ROOT = pathlib.Path(__file__).resolve().parents[2]
STEPS = 1000


def rstdp_nest_example(folder: pathlib.Path) -> pathlib.Path:
    text = (ROOT / "examples" / "rstdp.snn").read_text()
    record = "record actor.s, pattern->actor.w, pattern->actor.c"
    assert "learn rstdp(" in text and record in text
    text = text.replace("learn rstdp(", "learn rstdp_nest(").replace(
        record, "record actor.s, pattern.s, pattern->actor.w")
    path = folder / "rstdp_nest.snn"
    path.write_text(text)
    return path


def data(folder: pathlib.Path, reward: np.ndarray | None = None) -> pathlib.Path:
    """The pattern's spikes (20 Hz) and a reward of 1 or 2 dopamine spikes on 2 % of the steps."""
    rng = np.random.default_rng(3)
    pattern = rng.random((STEPS, 50)) < 0.02
    counts = (rng.random(STEPS) < 0.02) * rng.integers(1, 3, STEPS)
    path = folder / ("data.npz" if reward is None else "bad.npz")
    np.savez(path, pattern=pattern, reward=counts.astype(float) if reward is None else reward)
    return path


def snnc(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "snnc", *args], capture_output=True, text=True)


@pytest.fixture(scope="module")
def compiled(tmp_path_factory):
    """snnc run's recording of the example, its data and the emitted program."""
    tmp_path = tmp_path_factory.mktemp("dopamine")
    source, inputs = rstdp_nest_example(tmp_path), data(tmp_path)
    recording = tmp_path / "snnc.npz"
    result = snnc("run", str(source), "--input", str(inputs), "--steps", str(STEPS), "-o",
                  str(recording))
    assert result.returncode == 0, result.stderr
    program = tmp_path / "program"
    result = snnc("compile", str(source), "--emit", "nest", "-o", str(program),
                  "--connectivity", "exact")
    assert result.returncode == 0, result.stderr
    return program, recording, inputs, recordings.load(recording)


def run_program(program, *args) -> dict:
    result = subprocess.run([sys.executable, "run.py", *args], cwd=program,
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    return recordings.load(program / args[-1])


def initial_weights(program: pathlib.Path) -> np.ndarray:
    with np.load(program / "network.npz") as archive:
        key = "synapses/pattern->actor"
        w0 = np.full((20, 50), np.nan)
        w0[archive[key + ".post"], archive[key + ".pre"]] = archive[key + ".weight"]
    return w0


def test_replayed_spikes_and_rewards_give_snnc_weights(compiled):
    """run.py --replay: the same pre, post and dopamine spikes give snnc's weights to 1e-6."""
    program, recording, inputs, ours = compiled
    final = ours["pattern->actor.w"]
    with np.load(inputs) as archive:
        assert archive["reward"].sum() > 20  # dopamine to learn from
    assert ours["actor.s"].sum() > 300 and ours["pattern.s"].sum() > 500
    assert (np.abs(final - initial_weights(program)) > 1e-3).mean() > 0.5  # real learning
    nest = run_program(program, "--replay", str(recording), "--input", str(inputs),
                       "-o", "replayed.npz")
    assert np.max(np.abs(nest["pattern->actor.w"] - final)) < 1e-6


def test_closed_loop_learns_with_the_rewards(compiled):
    """run.py runs the network with the rewards: the spikes agree until the weights differ."""
    program, _, inputs, ours = compiled
    nest = run_program(program, "--steps", str(STEPS), "--input", str(inputs), "-o", "closed.npz")
    assert np.array_equal(nest["actor.s"][:150], ours["actor.s"][:150])
    assert ours["actor.s"][:150].sum() > 50
    w = nest["pattern->actor.w"]
    assert np.isfinite(w).all() and (w >= 0).all() and (w <= 0.5).all()
    assert np.abs(w - initial_weights(program)).max() > 1e-2


def test_rewards_must_be_spike_counts(compiled, tmp_path):
    program, recording, _, _ = compiled
    bad = data(tmp_path, reward=np.full(STEPS, 0.5))
    for args in (("--steps", "10", "--input", str(bad)),
                 ("--replay", str(recording), "--input", str(bad)),
                 ("--replay", str(recording))):
        result = subprocess.run([sys.executable, "run.py", *args, "-o", str(tmp_path / "o")],
                                cwd=program, capture_output=True, text=True)
        assert result.returncode == 1 and "Traceback" not in result.stderr, result.stderr
        assert ("non-negative integers" in result.stderr if "--input" in args
                else "need the rewards" in result.stderr), result.stderr


def test_stdlib_rstdp_is_refused_with_a_hint(tmp_path):
    result = snnc("compile", str(ROOT / "examples" / "rstdp.snn"), "--emit", "nest", "-o",
                  str(tmp_path / "out"))
    assert result.returncode == 1
    assert "E522" in result.stderr and "rule 'rstdp'" in result.stderr
    assert "same step" in result.stderr and "rstdp_nest" in result.stderr


def test_eprop_is_refused_with_what_nest_computes(tmp_path):
    result = snnc("compile", str(ROOT / "examples" / "eprop_randman.snn"), "--emit", "nest",
                  "-o", str(tmp_path / "out"))
    assert result.returncode == 1
    errors = [line for line in result.stderr.splitlines() if "error[E522]" in line]
    eprop = next(line for line in errors if "rule 'eprop'" in line)
    for fact in ("eprop_synapse", "kappa", "c_reg", "one step after a spike", "surrogate"):
        assert fact in eprop, eprop
    delta = next(line for line in errors if "rule 'delta'" in line)
    assert "eprop_readout" in delta and "a step behind" in delta
