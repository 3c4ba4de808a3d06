"""The emitted run.py refuses a user's mistake with one line 'run.py: error: ...' and exit
status 1, never a traceback, and writes nothing: the output (-o) is checked before anything
runs ('.npz' appended as numpy does; an existing folder, a missing folder or a file for a folder
refused), and the recordings are written at the end through a temporary file renamed over the
output, so an existing file stays as it was when anything fails. The data (--input, --split,
--samples, --steps, the labels) is checked before the run as well.

A small classifier (a data input, a loss) whose program is emitted once per module; each
mistake runs run.py in the Lava environment once (about 0.4 s each).
"""

from __future__ import annotations

import pathlib
import subprocess
import sys

import numpy as np
import pytest

from snnc import recordings

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
readout out: LI[2] {
  tau_mem = 20 ms
}
units -> hidden: dense { weight = 0.6 }
hidden -> out: dense { weight = 0.3 }
loss cross_entropy(out.v)
"""
#: what every failed run must leave as it was
PREVIOUS = b"an earlier recording"


def snnc(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "snnc", *args], capture_output=True, text=True)


class Program:
    def __init__(self, folder: pathlib.Path, python: str):
        self.folder, self.python = folder, python
        (folder / "tiny.snn").write_text(PROGRAM)
        result = snnc("compile", str(folder / "tiny.snn"), "--emit", "lava", "-o",
                      str(folder / "program"))
        assert result.returncode == 0, result.stdout + result.stderr
        units = np.random.default_rng(0).random((20, 3, 4)) < 0.3
        np.savez(folder / "data.npz", **{"test.units": units, "test.label": np.array([0, 1, 1])})

    def run(self, *args: str) -> subprocess.CompletedProcess:
        return subprocess.run([self.python, "run.py", *args], cwd=self.folder / "program",
                              capture_output=True, text=True)


@pytest.fixture(scope="module")
def program(tmp_path_factory, lava_interpreter) -> Program:
    return Program(tmp_path_factory.mktemp("run-errors"), lava_interpreter)


def refused(result: subprocess.CompletedProcess, message: str) -> None:
    text = result.stdout + result.stderr
    assert result.returncode == 1, text
    assert "Traceback" not in text
    lines = [line for line in result.stderr.splitlines() if "Warning" not in line
             and not line.startswith("  ")]  # Lava's and scipy's warnings aside
    assert lines == [lines[0]] and lines[0].startswith("run.py: error: "), result.stderr
    assert message in lines[0], lines[0]


def snapshot(folder: pathlib.Path) -> dict[str, bytes | None]:
    return {str(p.relative_to(folder)): None if p.is_dir() else p.read_bytes()
            for p in sorted(folder.rglob("*"))}


OUTPUT_CASES = [
    ("missing/out.npz", "the folder '{tmp}/missing' does not exist; create it first"),
    ("folder", "'{tmp}/folder' is a folder; give a file name (e.g. {tmp}/folder/recording.npz)"),
    ("dotted", "'{tmp}/dotted.npz' is a folder"),  # numpy would write dotted.npz: a folder
    ("plain.txt/out.npz", "'{tmp}/plain.txt' is a file, not a folder"),
]


@pytest.mark.parametrize(("output", "message"), OUTPUT_CASES)
def test_output_is_checked_before_anything_runs(program, tmp_path, output, message):
    (tmp_path / "folder").mkdir()
    (tmp_path / "folder" / "kept.npz").write_bytes(PREVIOUS)
    (tmp_path / "dotted.npz").mkdir()
    (tmp_path / "plain.txt").write_bytes(PREVIOUS)
    before = snapshot(tmp_path)
    result = program.run("--input", str(program.folder / "data.npz"), "--split", "test",
                         "-o", str(tmp_path / output))
    refused(result, message.format(tmp=tmp_path))
    assert "samples of" not in result.stdout  # nothing ran
    assert snapshot(tmp_path) == before  # nothing written, no folder created


def test_npz_is_appended_reported_and_replaces_a_file_atomically(program, tmp_path):
    (tmp_path / "out.npz").write_bytes(PREVIOUS)
    result = program.run("--input", str(program.folder / "data.npz"), "--split", "test",
                         "-o", str(tmp_path / "out"))
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"recordings: {tmp_path / 'out.npz'} (hidden.s, out.v)" in result.stdout
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.npz"]  # no temporary file left
    with np.load(tmp_path / "out.npz") as out:
        assert recordings.spikes_dense(out, "hidden.s").shape == (20, 3, 3)
        assert out["prediction"].shape == (3,)
        assert float(out["accuracy"]) in (0, 1 / 3, 2 / 3, 1)


def write_inputs(tmp: pathlib.Path) -> None:
    """The --input files of DATA_CASES."""
    rng = np.random.default_rng(1)
    spikes = rng.random((20, 3, 4)) < 0.3
    (tmp / "text.npz").write_text("not an archive")
    (tmp / "broken.npz").write_bytes(b"PK\x03\x04" + bytes(60))  # a zip signature, then nothing
    (tmp / "a_folder.npz").mkdir()
    np.save(tmp / "single.npy", spikes)
    np.savez(tmp / "objects.npz", units=np.array([{"a": 1}, None], dtype=object))
    np.savez(tmp / "shape.npz", units=spikes[..., :3])
    np.savez(tmp / "graded.npz", units=spikes * 0.5)
    np.savez(tmp / "words.npz", units=np.full((20, 4), "1"))
    np.savez(tmp / "scalar_label.npz", units=spikes, label=np.array(1))
    np.savez(tmp / "label_range.npz", units=spikes, label=np.array([0, 1, 2]))
    np.savez(tmp / "label_count.npz", units=spikes, label=np.array([0, 1]))
    np.savez(tmp / "label_float.npz", units=spikes, label=np.array([0.5, 1, 0]))


DATA_CASES = [
    (("--input", "{tmp}/absent.npz"), "--input: cannot read '{tmp}/absent.npz' as .npz"),
    (("--input", "{tmp}/text.npz"), "--input: cannot read '{tmp}/text.npz' as .npz"),
    (("--input", "{tmp}/broken.npz"), "--input: cannot read '{tmp}/broken.npz' as .npz"),
    (("--input", "{tmp}/a_folder.npz"), "--input: cannot read '{tmp}/a_folder.npz' as .npz"),
    (("--input", "{tmp}/single.npy"), "is a single array; give an .npz with one array per"),
    (("--input", "{tmp}/objects.npz"), "--input: cannot read '{tmp}/objects.npz' as .npz"),
    (("--input", "{tmp}/shape.npz"), "input 'units' in '{tmp}/shape.npz' has shape [20, 3, 3]; "
                                     "expected [steps, 4] or [steps, samples, 4]"),
    (("--input", "{tmp}/graded.npz"), "must hold spikes (0 or 1)"),
    (("--input", "{tmp}/words.npz"), "must hold spikes (0 or 1)"),
    (("--input", "{tmp}/scalar_label.npz"), "'label' must hold one class index per sample, "
                                            "not an array of shape []"),
    (("--input", "{tmp}/label_range.npz"), "'label' must hold class indices 0 .. 1"),
    (("--input", "{tmp}/label_count.npz"), "'label' has 2 samples, the inputs 3"),
    (("--input", "{tmp}/label_float.npz"), "'label' must hold class indices 0 .. 1"),
    (("--input", "{data}"), "is a training data file (splits test); its spikes are "
                            "'<split>.<input>': choose a split with --split test"),
    (("--split", "test"), "--split reads a data file: give --input DATA.npz"),
    (("--input", "{data}", "--split", "train"), "has no split 'train'"),
    (("--input", "{data}", "--split", "test", "--samples", "0"), "must be positive"),
    (("--input", "{data}", "--split", "test", "--samples", "4"), "the data has 3 sample(s)"),
    (("--input", "{data}", "--split", "test", "--steps", "0"), "must be positive"),
    (("--input", "{data}", "--split", "test", "--steps", "21"), "has 20 steps; 21 are simulated"),
    (("--input", "{data}", "--split", "test", "--record", "out.i"), "cannot record 'out.i'"),
]


@pytest.mark.parametrize(("args", "message"), DATA_CASES)
def test_data_mistakes_leave_the_output_as_it_was(program, tmp_path, args, message):
    write_inputs(tmp_path)
    output = tmp_path / "out.npz"
    output.write_bytes(PREVIOUS)
    before = snapshot(tmp_path)
    paths = {"tmp": tmp_path, "data": program.folder / "data.npz"}
    result = program.run(*(arg.format(**paths) for arg in args), "-o", str(output))
    refused(result, message.format(**paths))
    assert snapshot(tmp_path) == before


def test_a_failed_write_leaves_no_partial_file(program, tmp_path):
    """write_npz itself: the disk fills half way through the archive (the second member's
    write fails): the previous file is intact, no temporary file is left, the error is a
    Problem."""
    (tmp_path / "out.npz").write_bytes(PREVIOUS)
    script = f"""
import sys
import zipfile
sys.path.insert(0, {str(program.folder / "program")!r})
import numpy as np
import run

written = []
real = zipfile.ZipFile.writestr

def fill_the_disk(self, info, data, *args, **kwargs):
    if written:
        raise OSError(28, "No space left on device")
    written.append(info)
    return real(self, info, data, *args, **kwargs)

zipfile.ZipFile.writestr = fill_the_disk
try:
    run.write_npz({str(tmp_path / "out.npz")!r}, {{"a": np.zeros(1000), "b": np.zeros(3)}})
except run.Problem as error:
    print("Problem:", error)
assert len(written) == 1
"""
    result = subprocess.run([program.python, "-c", script], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.startswith(f"Problem: -o: cannot write '{tmp_path / 'out.npz'}' (No "
                                    "space left on device)"), result.stdout
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.npz"]
    assert (tmp_path / "out.npz").read_bytes() == PREVIOUS
