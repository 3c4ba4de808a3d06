"""NEST with MPI splits a network over two ranks and gives the spikes of one rank with the same
number of virtual processes (check_mpi.py: 20 neurons, a spike generator, random recurrent
connections and initial potentials drawn by NEST's per-virtual-process generators, 100 ms)."""

from __future__ import annotations

import pathlib
import subprocess
import sys

HERE = pathlib.Path(__file__).resolve().parent


def test_two_ranks_give_the_spikes_of_one_rank_with_two_threads(mpi):
    _, env = mpi
    done = subprocess.run([sys.executable, str(HERE / "check_mpi.py")], env=env,
                          capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "identical: True" in done.stdout
    events = int(done.stdout.split("2 ranks x 1 thread: ")[1].split(" events")[0])
    assert events > 50, done.stdout  # a network that fires, on both ranks (checked by the script)
