"""From training to Lava (issue 15): `examples/randman/eprop_random.snn` (subtract reset) trained
for 3 epochs, its frozen program emitted to Lava, and the test split run through the emitted
run.py, one sample after another in one process graph (`network.reset` between two).

The oracle is the reference simulator on the same frozen program with Lava's delivery
(`snnc run frozen.snn --delivery next_step --input data.npz --split test`), its predictions
decided by snnc.training.metrics: in floating point every prediction and every hidden spike of
the 100 samples must be identical; in fixed point the accuracy must be within 3 points (measured:
42 % in floating point, 41 % in fixed point, 96 of 100 predictions equal). Each sample of a
batch run must equal the same sample run alone (fixed point: the reset leaves nothing behind).
Measured: about 85 s in all (training 20 s, Lava 24 s floating and 23 s fixed point)."""

from __future__ import annotations

import pathlib
import subprocess
import sys

import numpy as np
import pytest

from snnc import recordings
from snnc.training.metrics import REDUCTIONS, evaluate

EPROP = pathlib.Path(__file__).resolve().parents[2] / "examples" / "randman" / "eprop_random.snn"
#: 3000 samples: 2400 training, 300 validation, 300 test samples of 50 steps
DATA = "randman:samples=300,steps=50,seed=3"
SAMPLES = 100


def snnc(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "snnc", *args], capture_output=True, text=True)


class Deployed:
    """The trained program, its Lava folder, the data and the reference run of the test split."""

    def __init__(self, folder: pathlib.Path, python: str):
        self.folder = folder
        self.python = python
        self.data = folder / "data.npz"
        result = snnc("train", str(EPROP), "--data", DATA, "--epochs", "3", "--batch", "16",
                      "-o", str(folder / "run"), "--save-data", str(self.data))
        assert result.returncode == 0, result.stdout + result.stderr
        self.frozen = folder / "run" / "frozen.snn"
        self.program = folder / "lava"
        result = snnc("compile", str(self.frozen), "--emit", "lava", "-o", str(self.program))
        assert result.returncode == 0, result.stdout + result.stderr
        reference = folder / "reference.npz"
        result = snnc("run", str(self.frozen), "--delivery", "next_step", "--input",
                      str(self.data), "--split", "test", "--record", "hidden.s,out.v",
                      "-o", str(reference))
        assert result.returncode == 0, result.stdout + result.stderr
        self.reference = recordings.load(reference)
        self.labels = np.load(self.data)["test.label"]
        self.runs: dict[tuple, dict] = {}

    def run_py(self, *args: str) -> subprocess.CompletedProcess:
        return subprocess.run([self.python, "run.py", *args], cwd=self.program, capture_output=True,
                              text=True)

    def lava(self, *args: str) -> dict[str, np.ndarray]:
        """The recordings of run.py with these arguments (once per argument list)."""
        if args not in self.runs:
            output = self.folder / f"lava-{len(self.runs)}.npz"
            result = self.run_py(*args, "-o", str(output))
            assert result.returncode == 0, result.stdout + result.stderr
            self.runs[args] = dict(recordings.load(output), stdout=result.stdout)
        return self.runs[args]

    def split_run(self, precision: str) -> dict[str, np.ndarray]:
        return self.lava("--input", str(self.data), "--split", "test", "--samples",
                         str(SAMPLES), "--record", "hidden.s", "--precision", precision)


@pytest.fixture(scope="module")
def deployed(tmp_path_factory, lava_interpreter) -> Deployed:
    return Deployed(tmp_path_factory.mktemp("lava-deploy"), lava_interpreter)


def decided(values: np.ndarray) -> np.ndarray:
    """The trainer's predictions: the per-step loss's readout summed over time, argmax."""
    return REDUCTIONS[None](values).argmax(axis=-1)


def test_floating_point_predictions_and_spikes_equal_the_simulator(deployed):
    lava = deployed.split_run("floating_pt")
    reference, labels = deployed.reference, deployed.labels[:SAMPLES]
    ours = reference["out.v"][:, :SAMPLES]
    assert lava["out.v"].shape == ours.shape == (50, SAMPLES, 10)
    assert np.array_equal(lava["prediction"], decided(ours))
    _, correct = evaluate(ours, labels, None)
    assert float(lava["accuracy"]) == correct / SAMPLES
    assert f"({correct} of {SAMPLES} test samples, readout out.v)" in lava["stdout"]
    spikes = reference["hidden.s"][:, :SAMPLES]
    assert spikes.sum() > 10_000
    mismatch = np.argwhere(lava["hidden.s"] != spikes)
    assert len(mismatch) == 0, f"first hidden spike difference at {mismatch[0].tolist()}"
    np.testing.assert_allclose(lava["out.v"], ours, rtol=0, atol=1e-9)


def test_fixed_point_accuracy_within_three_points(deployed):
    floating = float(deployed.split_run("floating_pt")["accuracy"])
    fixed = deployed.split_run("fixed_pt")
    drop = 100 * (floating - float(fixed["accuracy"]))
    agree = int((fixed["prediction"] == deployed.split_run("floating_pt")["prediction"]).sum())
    print(f"Lava on {SAMPLES} test samples: floating point {100 * floating:.1f} %, fixed point "
          f"{100 * float(fixed['accuracy']):.1f} %, drop {drop:+.1f} points, {agree} predictions "
          "equal")
    assert floating > 0.25  # trained: well above chance (10 %)
    assert abs(drop) <= 3, f"fixed point differs by {drop:+.1f} points"


def test_a_sample_of_the_batch_equals_the_sample_run_alone(deployed, tmp_path):
    """After resets (sample 57 of a batch) in fixed point, and the single-sample usage of
    run.py ([steps, *shape] arrays) still working."""
    alone = tmp_path / "alone.npz"
    np.savez(alone, units=np.load(deployed.data)["test.units"][:, 57])
    single = deployed.lava("--input", str(alone), "--record", "hidden.s,out.v", "--precision",
                           "fixed_pt")
    batch = deployed.split_run("fixed_pt")
    assert single["hidden.s"].shape == (50, 1, 64) and single["hidden.s"].sum() > 100
    assert np.array_equal(single["hidden.s"][:, 0], batch["hidden.s"][:, 57])
    assert np.array_equal(single["out.v"][:, 0], batch["out.v"][:, 57])
    assert "accuracy" not in single


@pytest.mark.parametrize("case, message", [
    (("--split", "validation", "--input", "{bad}"), "has no array 'validation.units' for the "
                                                     "input 'units' (arrays of the split: "
                                                     "label, unit)"),
    (("--input", "{data}"), "is a training data file (splits train, validation, test)"),
    (("--input", "{plain}", "--split", "test"), "has no split 'test'"),
    (("--input", "{plain}"), "input 'units' in '{plain}' has shape [50, 3, 21]; expected "
                             "[steps, 20] or [steps, samples, 20]"),
    (("--input", "{data}", "--split", "test", "--samples", "301"), "the data has 300 sample"),
    (("--input", "{data}", "--split", "test", "--steps", "51"), "has 50 steps; 51 are simulated"),
    (("--input", "{data}", "--split", "test", "--record", "hidden.i"), "cannot record 'hidden.i'"),
])
def test_mistakes_are_messages_with_exit_1(deployed, tmp_path, case, message):
    bad, plain = tmp_path / "bad.npz", tmp_path / "plain.npz"
    np.savez(bad, **{"validation.unit": np.zeros((50, 3, 20)), "validation.label": np.zeros(3)})
    np.savez(plain, units=np.zeros((50, 3, 21)))
    paths = {"bad": bad, "data": deployed.data, "plain": plain}
    result = deployed.run_py(*(arg.format(**paths) for arg in case), "-o", str(tmp_path / "x.npz"))
    assert result.returncode == 1, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    assert result.stderr.startswith("run.py: error: --"), result.stderr
    assert message.format(**paths) in result.stderr, result.stderr


#: Poisson inputs (drawn per sample as a batch of the simulator), delays of 3 and 4 steps (spikes
#: in flight in DelayDense/DelaySparse buffers at the end of a sample), subtract and no reset, a
#: refractory period
DELAYED = """network delayed {
  dt = 1 ms
  seed = 2
}
input drive[20]: poisson(rate = 60 Hz)
population a: CubaLIF[30] {
  tau_mem = 20 ms
  tau_syn = 5 ms
  threshold = 1
  reset = subtract
  refractory = 2
}
population b: LIF[10] {
  tau_mem = 10 ms
  threshold = 0.5
  reset = none
}
drive -> a: dense {
  weight = uniform(0, 0.4)
}
a -> a: sparse(p = 0.3) {
  weight = uniform(-0.2, 0.1)
  delay = 4 ms
}
a -> b: dense {
  weight = uniform(0, 0.2)
  delay = 3 ms
}
record a.s, b.s, a.v
"""


def test_samples_in_turn_equal_a_batch_of_the_simulator(programs):
    """Measured: 3 samples of 80 steps, identical spikes, voltages to 1e-15; spikes are in flight
    at every boundary between two samples."""
    source = programs.source(DELAYED, "delayed")
    program = programs.compile(source, "delayed")
    reference = programs.reference(source, 80, "a.s,b.s,a.v", "--batch", "3")
    lava = programs.lava(program, 80, "--samples", "3", "--record", "a.s,b.s,a.v")
    assert reference["a.s"][-4:, :2].any(axis=(0, 2)).all()  # in flight into samples 2 and 3
    assert reference["b.s"].sum() > 50
    for key in ("a.s", "b.s"):
        mismatch = np.argwhere(lava[key] != reference[key])
        assert len(mismatch) == 0, f"{key}: first difference at {mismatch[0].tolist()}"
    np.testing.assert_allclose(lava["a.v"], reference["a.v"], rtol=0, atol=1e-9)
