"""From training to NEST (issue 16): a small Randman network trained for 3 epochs, compiled with
its checkpoint for NEST (`snnc compile FILE --weights checkpoint.npz --no-learn --emit nest
--connectivity exact`), and the test split run through the emitted run.py, one sample after
another (the network built anew for each: NEST cannot set its state back).

The oracle is the reference simulator on the same program and weights (`snnc run FILE --weights
checkpoint.npz --no-learn --input data.npz --split test`), its predictions decided by
snnc.training.metrics: every prediction, the accuracy and every hidden spike of the 50 samples
must be identical (measured: voltages equal to the bit, accuracy 28 %). The network is
eprop_random_zero.snn's with the recurrence delayed by 2 ms (NEST cannot reproduce a CubaLIF
recurrence of one step: E523). Poisson inputs compiled with --poisson exact get, per sample, the
spikes `snnc run --batch` draws. Measured: about 20 s in all (training 6 s)."""

from __future__ import annotations

import pathlib
import subprocess
import sys

import numpy as np
import pytest

from snnc.training.metrics import REDUCTIONS, evaluate
from tests.nest.conftest import ROOT, load, snnc

#: eprop_random_zero.snn with `delay = 2 ms` on the recurrence
RANDMAN = """import "{common}"

network randman_nest {{
  dt = 1 ms
  seed = 1
}}

input units[20]

population hidden: Hidden[64] {{ reset = zero }}

readout out: Readout[10]

units -> hidden: dense {{
  weight = normal(0, 0.3)
  learn eprop_cuba(lr = 2e-4, readout = out)
}}

hidden -> hidden: dense {{
  weight = normal(0, 0.01)
  delay = 2 ms
  learn eprop_cuba(lr = 2e-4, readout = out)
}}

hidden -> out: dense {{
  weight = normal(0, 0.1)
  learn delta(lr = 2e-3, readout = out)
}}

loss cross_entropy(out.v)
"""
#: 500 samples: 400 training, 50 validation, 50 test samples of 50 steps
DATA = "randman:samples=50,steps=50,seed=3"


class Deployed:
    """The trained network, its NEST program, the data and the reference run of the test split."""

    def __init__(self, folder: pathlib.Path):
        self.folder = folder
        self.source = folder / "randman_nest.snn"
        self.source.write_text(RANDMAN.format(common=ROOT / "examples" / "randman" / "common.snn"))
        self.data = folder / "data.npz"
        done = snnc("train", str(self.source), "--data", DATA, "--epochs", "3", "--batch", "16",
                    "-o", str(folder / "run"), "--save-data", str(self.data))
        assert done.returncode == 0, done.stdout + done.stderr
        weights = ("--weights", str(folder / "run" / "checkpoint.npz"), "--no-learn")
        self.program = folder / "nest"
        done = snnc("compile", str(self.source), *weights, "--emit", "nest", "--connectivity",
                    "exact", "-o", str(self.program))
        assert done.returncode == 0, done.stdout + done.stderr
        reference = folder / "reference.npz"
        done = snnc("run", str(self.source), *weights, "--input", str(self.data), "--split",
                    "test", "--record", "hidden.s,out.v", "-o", str(reference))
        assert done.returncode == 0, done.stdout + done.stderr
        self.reference, self.reference_stdout = load(reference), done.stdout
        self.labels = load(self.data)["test.label"]

    def run_py(self, *args: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "run.py", *args], cwd=self.program,
                              capture_output=True, text=True)

    def nest(self, *args: str) -> dict[str, np.ndarray]:
        output = self.folder / "nest.npz"
        done = self.run_py(*args, "-o", str(output))
        assert done.returncode == 0, done.stdout + done.stderr
        return dict(load(output), stdout=done.stdout, stderr=done.stderr)


@pytest.fixture(scope="module")
def deployed(tmp_path_factory) -> Deployed:
    return Deployed(tmp_path_factory.mktemp("nest-deploy"))


def test_the_test_split_gives_snnc_runs_predictions_and_spikes(deployed):
    nest = deployed.nest("--input", str(deployed.data), "--split", "test")
    reference, labels = deployed.reference, deployed.labels
    assert nest["out.v"].shape == reference["out.v"].shape == (50, 50, 10)
    assert np.array_equal(nest["prediction"], REDUCTIONS[None](reference["out.v"]).argmax(-1))
    _, correct = evaluate(reference["out.v"], labels, None)
    assert float(nest["accuracy"]) == correct / 50 and correct > 5  # trained: above chance
    line = f"accuracy {100 * correct / 50:.1f} % ({correct} of 50 test samples, readout out.v)"
    assert line in nest["stdout"] and line in deployed.reference_stdout
    spikes = reference["hidden.s"]
    assert spikes.sum() > 5000 and nest["hidden.s"].shape == spikes.shape
    mismatch = np.argwhere(nest["hidden.s"] != spikes)
    assert len(mismatch) == 0, f"first hidden spike difference at {mismatch[0].tolist()}"
    np.testing.assert_allclose(nest["out.v"], reference["out.v"], rtol=0, atol=1e-9)
    assert "warning" not in nest["stderr"], nest["stderr"]


def test_a_sample_of_the_split_equals_the_sample_run_alone(deployed, tmp_path):
    """Sample 17 of a run of 20 (the network built anew per sample) and the single-sample usage
    ([steps, *shape] arrays, no labels: no accuracy). A 'reward' array of the data file (snnc
    train --save-data may hold one) is no input and no warning."""
    arrays = load(deployed.data)
    alone = tmp_path / "alone.npz"
    np.savez(alone, units=arrays["test.units"][:, 17], reward=np.zeros(50))
    single = deployed.nest("--input", str(alone))
    with_reward = tmp_path / "with_reward.npz"
    np.savez(with_reward, **arrays, **{"test.reward": np.zeros((50, 50))})
    batch = deployed.nest("--input", str(with_reward), "--split", "test", "--samples", "20")
    assert "warning" not in single["stderr"] + batch["stderr"]
    assert single["hidden.s"].shape == (50, 1, 64) and single["hidden.s"].sum() > 100
    assert "accuracy" not in single and "out.v" not in single  # the readout only with labels
    assert batch["prediction"].shape == (20,) and batch["hidden.s"].shape == (50, 20, 64)
    assert np.array_equal(single["hidden.s"][:, 0], batch["hidden.s"][:, 17])
    assert np.array_equal(batch["hidden.s"], deployed.reference["hidden.s"][:, :20])


@pytest.mark.parametrize("labels, message", [
    (np.full(50, 10), "'label' must hold class indices 0 .. 9, one per sample"),
    (np.zeros((50, 2)), "'label' must hold one class index per sample, not an array of shape "
                        "[50, 2]"),
])
def test_wrong_labels_are_one_line_before_the_run(deployed, tmp_path, labels, message):
    bad = tmp_path / "bad.npz"
    np.savez(bad, **{"test.units": load(deployed.data)["test.units"], "test.label": labels})
    output = tmp_path / "out.npz"
    done = deployed.run_py("--input", str(bad), "--split", "test", "-o", str(output))
    assert done.returncode == 1 and "Traceback" not in done.stderr, done.stderr
    assert done.stderr.startswith(f"run.py: error: --input: {message}"), done.stderr
    assert not output.exists()


#: Poisson and data inputs, a delayed recurrence, delays of 3 and 4 steps (spikes in flight at
#: the end of a sample), a refractory period
DELAYED = """network delayed {
  dt = 1 ms
  seed = 2
}
input drive[20]: poisson(rate = 60 Hz)
input cue[8]
population a: CubaLIF[30] {
  tau_mem = 20 ms
  tau_syn = 5 ms
  threshold = 1
  reset = zero
  refractory = 2
}
population b: LIF[10] {
  tau_mem = 10 ms
  threshold = 0.5
  reset = zero
}
drive -> a: dense {
  weight = uniform(0, 0.4)
}
cue -> b: dense {
  weight = uniform(0, 0.15)
}
a -> a: sparse(p = 0.3) {
  weight = uniform(-0.2, 0.1)
  delay = 4 ms
}
a -> b: dense {
  weight = uniform(0, 0.05)
  delay = 3 ms
}
record a.s, b.s, a.v
"""


def test_samples_in_turn_equal_a_batch_of_the_simulator(programs, tmp_path):
    """--poisson exact: each sample gets the Poisson spikes of its place in snnc run --batch;
    the data inputs' samples [steps, 3, 8]. Measured: identical spikes, voltages to 2.2e-15."""
    source = programs.source(DELAYED, "delayed")
    cue = tmp_path / "cue.npz"
    np.savez(cue, cue=np.random.default_rng(1).random((80, 3, 8)) < 0.2)
    program = programs.compile(source, "--connectivity", "exact", "--poisson", "exact")
    reference = programs.reference(source, 80, "--batch", "3", "--input", str(cue))
    nest = programs.nest(program, 80, "--input", str(cue))
    assert reference["a.s"][-4:].any(axis=(0, 2)).all()  # spikes in flight at every boundary
    assert reference["b.s"].sum() > 100 and reference["a.s"].sum() > 600
    assert not np.array_equal(reference["a.s"][:, 0], reference["a.s"][:, 1])
    for key in ("a.s", "b.s"):
        assert nest[key].shape == reference[key].shape
        mismatch = np.argwhere(nest[key] != reference[key])
        assert len(mismatch) == 0, f"{key}: first difference at {mismatch[0].tolist()}"
    np.testing.assert_allclose(nest["a.v"], reference["a.v"], rtol=0, atol=1e-9)


def test_poisson_generators_draw_anew_for_each_sample(programs):
    """--poisson generator (NEST's draws): sample 0 of a run is the run of one sample, the
    later samples draw other spikes from another seed over the same synapses."""
    source = programs.source(DELAYED.replace("input cue[8]\n", "").replace(
        "cue -> b: dense {\n  weight = uniform(0, 0.15)\n}\n", ""), "generated")
    program = programs.compile(source)
    one = programs.nest(program, 100)
    three = programs.nest(program, 100, "--samples", "3")
    assert three["a.s"].shape == (100, 3, 30) and one["a.s"].shape == (100, 1, 30)
    assert np.array_equal(three["a.s"][:, :1], one["a.s"]) and one["a.s"].sum() > 300
    assert not np.array_equal(three["a.s"][:, 1], three["a.s"][:, 0])
    assert not np.array_equal(three["a.s"][:, 2], three["a.s"][:, 1])
