"""The emitted NEST run.py refuses a user's mistake with one line 'run.py: error: ...' and exit
status 1, never a traceback, and leaves the folder as it was: the output (-o) is checked before
NEST builds anything ('.npz' appended as numpy does; an existing folder, a missing folder or a
file standing for a folder refused) and written through a temporary file renamed over it; the
data (--input, --steps, --replay) is checked before the run."""

from __future__ import annotations

import os
import pathlib
import subprocess
import sys

import numpy as np
import pytest

from snnc import recordings
from tests.nest.conftest import snnc

PROGRAM = """network tiny {
  dt = 1 ms
  seed = 1
}
input units[4]
population hidden: LIF[3] {
  tau_mem = 20 ms
  threshold = 1
  reset = zero
}
units -> hidden: dense { weight = 0.6 }
record hidden.s
"""
PREVIOUS = b"an earlier recording"


@pytest.fixture(scope="module")
def program(tmp_path_factory) -> pathlib.Path:
    folder = tmp_path_factory.mktemp("nest-run-errors")
    (folder / "tiny.snn").write_text(PROGRAM)
    result = snnc("compile", str(folder / "tiny.snn"), "--emit", "nest", "-o",
                  str(folder / "prog"))
    assert result.returncode == 0, result.stderr
    return folder / "prog"


def snapshot(folder: pathlib.Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() if p.is_file() else b"<folder>"
            for p in sorted(folder.rglob("*")) if "__pycache__" not in p.parts}


def run(program: pathlib.Path, work: pathlib.Path, *args: str):
    return subprocess.run([sys.executable, str(program / "run.py"), *args], cwd=work,
                          capture_output=True, text=True)


def data(work: pathlib.Path, name: str = "data.npz", steps: int = 20, **arrays) -> str:
    rng = np.random.default_rng(0)
    arrays = arrays or {"units": rng.random((steps, 4)) < 0.3}
    np.savez(work / name, **arrays)
    return name


@pytest.mark.parametrize("args, message", [
    (["-o", "out"], "-o: 'out' is a folder"),
    (["-o", "out.npz"], "-o: 'out.npz' is a folder"),
    (["-o", "missing/recording.npz"], "does not exist; create it first"),
    (["-o", "plain.txt/recording.npz"], "is a file, not a folder"),
    (["--steps", "0"], "give a positive --steps"),
    (["--input", "absent.npz"], "--input: cannot read 'absent.npz'"),
    (["--input", "plain.txt"], "--input: cannot read 'plain.txt'"),
    (["--input", "wrong.npz"], "input 'units' in 'wrong.npz' must hold spikes (0 or 1)"),
    (["--input", "shape.npz"], "input 'units' in 'shape.npz' has shape [20, 5]; expected "
                               "[steps, 4] or [steps, samples, 4]"),
    (["--input", "single.npy"], "'single.npy' is a single array; give an .npz"),
    (["--input", "data.npz", "--steps", "50"], "input 'units' has 20 steps; 50 are simulated"),
    (["--threads", "0"], "give a positive --steps, --samples and --threads"),
    (["--split", "test"], "--split reads a data file: give --input DATA.npz"),
    (["--input", "split.npz"], "'split.npz' is a training data file (splits train, test); its "
                               "spikes are '<split>.<input>': choose a split with --split train "
                               "or test"),
    (["--input", "split.npz", "--split", "validation"], "has no split 'validation'"),
    (["--input", "other.npz", "--split", "test"], "'other.npz' has no array 'test.units' for the "
                                                  "input 'units' (arrays of the split: label, "
                                                  "unit)"),
    (["--input", "split.npz", "--split", "test", "--samples", "6"],
     "--samples 6: the data has 5 sample(s)"),
    (["--input", "split.npz", "--split", "test", "--samples", "0"], "give a positive"),
    (["--input", "split.npz", "--split", "train", "--steps", "21"],
     "input 'units' has 20 steps; 21 are simulated"),
    (["--input", "labels.npz"], "--input: 'label' has 3 samples, the inputs 5"),
    (["--replay", "data.npz"], "--replay: the network has no plastic projection"),
])
def test_a_mistake_is_one_line_and_changes_nothing(program, tmp_path, args, message):
    (tmp_path / "out").mkdir()
    (tmp_path / "out.npz").mkdir()
    (tmp_path / "plain.txt").write_text("not a folder")
    (tmp_path / "recording.npz").write_bytes(PREVIOUS)
    data(tmp_path)
    data(tmp_path, "wrong.npz", units=np.full((20, 4), 2))
    data(tmp_path, "shape.npz", units=np.zeros((20, 5)))
    np.save(tmp_path / "single.npy", np.zeros((20, 4)))
    spikes = np.random.default_rng(1).random((20, 5, 4)) < 0.3
    data(tmp_path, "split.npz", **{"train.units": spikes, "train.label": np.arange(5),
                                   "test.units": spikes, "test.label": np.arange(5)})
    data(tmp_path, "other.npz", **{"test.unit": spikes, "test.label": np.arange(5)})
    data(tmp_path, "labels.npz", units=spikes, label=np.arange(3))
    before = snapshot(tmp_path)
    result = run(program, tmp_path, *args)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("run.py: error:")]
    assert len(errors) == 1 and message in errors[0], result.stderr
    assert snapshot(tmp_path) == before


def test_the_output_gets_npz_appended_and_replaces_an_earlier_file(program, tmp_path):
    (tmp_path / "rec.npz").write_bytes(PREVIOUS)
    result = run(program, tmp_path, "--input", data(tmp_path), "-o", "rec")
    assert result.returncode == 0, result.stderr
    assert "recordings: rec.npz (hidden.s)" in result.stdout
    with np.load(tmp_path / "rec.npz") as out:
        assert recordings.spikes_dense(out, "hidden.s").shape == (20, 1, 3)
        assert int(out["steps"]) == 20
    assert sorted(p.name for p in tmp_path.iterdir()) == ["data.npz", "rec.npz"]


def test_a_split_runs_its_samples_and_labels_without_a_loss_are_a_warning(program, tmp_path):
    spikes = np.random.default_rng(1).random((20, 5, 4)) < 0.3
    name = data(tmp_path, "split.npz", **{"test.units": spikes, "test.label": np.arange(5)})
    result = run(program, tmp_path, "--input", name, "--split", "test", "-o", "rec.npz")
    assert result.returncode == 0, result.stderr
    assert "5 samples of 20 steps" in result.stdout
    assert "the data has labels but the program has no loss" in result.stderr
    with np.load(tmp_path / "rec.npz") as out:
        assert recordings.spikes_dense(out, "hidden.s").shape == (20, 5, 3)
        assert "accuracy" not in out.files


LEARNING = """network learning {
  dt = 1 ms
  seed = 1
}
input x[4]
population a: LIF[2] {
  tau_mem = 20 ms
  threshold = 1
  reset = zero
}
x -> a: dense {
  weight = 0.05
  learn stdp_nest()
}
"""


def test_a_learning_program_runs_one_sample_only(tmp_path):
    (tmp_path / "learning.snn").write_text(LEARNING)
    result = snnc("compile", str(tmp_path / "learning.snn"), "--emit", "nest", "-o",
                  str(tmp_path / "prog"))
    assert result.returncode == 0, result.stderr
    name = data(tmp_path, x=np.zeros((20, 3, 4)))
    result = run(tmp_path / "prog", tmp_path, "--input", name, "-o", "rec.npz")
    assert result.returncode == 1 and "Traceback" not in result.stderr, result.stderr
    assert result.stderr.startswith("run.py: error: this program learns (x->a); a run of several "
                                    "samples needs the inference program"), result.stderr
    assert not (tmp_path / "rec.npz").exists()


def test_too_few_virtual_processes_for_a_projection_is_refused_before_building(tmp_path):
    """A projection of 140 million synapses needs two NEST virtual processes (NEST 3.10's
    limit per synapse model and virtual process): run.py says so before building anything."""
    (tmp_path / "big.snn").write_text(
        "network big {\n  dt = 1 ms\n}\npopulation exc: LIF[2000000] { reset = zero }\n"
        "exc -> exc: fixed_fan_in(k = 70) { weight = 0.01 }\n")
    result = subprocess.run([sys.executable, "-m", "snnc", "compile", str(tmp_path / "big.snn"),
                             "--emit", "nest", "--record-neurons", "1", "-o",
                             str(tmp_path / "prog")], capture_output=True, text=True,
                            env={**os.environ, "SNNC_MEMORY_LIMIT": "100G"})
    assert result.returncode == 0 and "warning[W526]" in result.stderr, result.stderr
    result = run(tmp_path / "prog", tmp_path, "--steps", "5", "-o", "out.npz")
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert "run with at least 2 virtual processes (--threads 2" in result.stderr
    assert not (tmp_path / "out.npz").exists()
