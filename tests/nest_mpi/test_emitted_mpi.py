"""The program of ``snnc compile --emit nest`` runs unchanged under ``mpirun -np 2`` (issue 16):
two ranks with one thread each give the spikes of one rank with two threads (the same number of
NEST virtual processes), rank 0 merging the ranks' recordings; with snnc's own synapses and
input spikes (``--connectivity exact --poisson exact``) both equal ``snnc run`` step for step,
and with NEST's connection rules the two splits still agree with each other."""

from __future__ import annotations

import pathlib
import subprocess
import sys

import numpy as np
import pytest

from snnc import recordings

ROOT = pathlib.Path(__file__).resolve().parents[2]
SYNFIRE = ROOT / "examples" / "synfire.snn"
#: recurrent CubaLIF with a receptor, a delay and Poisson drive (spans both ranks' neurons)
RECURRENT = """network mpi_recurrent {
  dt = 1 ms
  seed = 11
}
input drive[40]: poisson(rate = 30 Hz)
population a: CubaLIF[60] {
  tau_mem = 20 ms
  tau_syn = 5 ms
  threshold = 1
  v_init = uniform(0, 0.5)
}
drive -> a: sparse(p = 0.3) {
  weight = uniform(0, 0.4)
}
a -> a: sparse(p = 0.1) {
  weight = uniform(-0.2, 0.3)
  delay = 2 ms
}
"""


def snnc(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "snnc", *args], capture_output=True, text=True)


def load(path: pathlib.Path) -> dict[str, np.ndarray]:
    return recordings.load(path)


def run_nest(mpi, program: pathlib.Path, output: pathlib.Path, steps: int, ranks: int,
             threads: int) -> dict[str, np.ndarray]:
    python, env = mpi
    command = [python, "run.py", "--steps", str(steps), "--threads", str(threads), "-o",
               str(output)]
    if ranks > 1:
        command = ["mpirun", "-np", str(ranks), "--oversubscribe", *command]
    done = subprocess.run(command, cwd=program, env=env, capture_output=True, text=True,
                          timeout=900)
    assert done.returncode == 0, done.stdout + done.stderr
    assert sorted(p.name for p in output.parent.glob(output.stem + "*")) == [output.name], \
        "rank 0 merges the ranks' files and removes the parts"
    return load(output)


def spikes(recording: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    return {key: value for key, value in recording.items() if key.endswith(".s")}


@pytest.mark.parametrize("case", ["synfire", "recurrent"])
def test_two_ranks_equal_one_rank_and_snnc_run(mpi, tmp_path, case):
    source = SYNFIRE if case == "synfire" else tmp_path / "recurrent.snn"
    if case == "recurrent":
        source.write_text(RECURRENT)
    program = tmp_path / "program"
    done = snnc("compile", str(source), "--emit", "nest", "-o", str(program),
                "--connectivity", "exact", "--poisson", "exact")
    assert done.returncode == 0, done.stderr
    steps = 300
    two_ranks = run_nest(mpi, program, tmp_path / "ranks.npz", steps, ranks=2, threads=1)
    one_rank = run_nest(mpi, program, tmp_path / "threads.npz", steps, ranks=1, threads=2)
    reference = tmp_path / "reference.npz"
    done = snnc("run", str(source), "--steps", str(steps), "-o", str(reference))
    assert done.returncode == 0, done.stderr
    populations = {key for key in spikes(load(reference)) if key.split(".")[0] != "drive"}
    ours = {key: load(reference)[key] for key in populations}
    assert set(spikes(two_ranks)) == set(ours) and ours  # NEST records the populations
    for key, expected in ours.items():
        assert expected.sum() > 20, key  # a network that fires
        np.testing.assert_array_equal(two_ranks[key], one_rank[key], err_msg=key)
        np.testing.assert_array_equal(two_ranks[key], expected, err_msg=key)


def test_nest_connection_rules_agree_across_splits(mpi, tmp_path):
    """NEST draws synapses per virtual process: 2 ranks x 1 thread = 1 rank x 2 threads."""
    source = tmp_path / "recurrent.snn"
    source.write_text(RECURRENT)
    program = tmp_path / "program"
    assert snnc("compile", str(source), "--emit", "nest", "-o", str(program)).returncode == 0
    two_ranks = run_nest(mpi, program, tmp_path / "ranks.npz", 300, ranks=2, threads=1)
    one_rank = run_nest(mpi, program, tmp_path / "threads.npz", 300, ranks=1, threads=2)
    for key in spikes(two_ranks):
        assert two_ranks[key].sum() > 20, key
        np.testing.assert_array_equal(two_ranks[key], one_rank[key], err_msg=key)
