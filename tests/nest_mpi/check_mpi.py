"""A standalone check of the MPI tier's environment (issue 16): NEST with MPI, split over two ranks,
gives the same spikes as one rank with the same total number of threads.

Two modes:

- ``python check_mpi.py`` (the runner, any Python; needs no NEST itself) runs the worker twice with
  the NEST-with-MPI venv's Python (``$SNNC_NEST_MPI_PYTHON``, else the cache that
  ``.ci/nest_mpi.sh`` builds): once as ``mpirun -np 2 --oversubscribe`` with 1 thread per rank, once
  as a single process with 2 threads; it merges the first run's per-rank files and compares the
  union with the second's events, then prints the events, the times and the verdict. Exit status 0
  when they are identical.
- ``check_mpi.py --worker --threads T --out DIR`` builds the network and writes ``DIR/rank<r>.tsv``
  (sender, spike time in ms, one event a line) for the events recorded on its rank.

The network: 20 ``iaf_psc_delta`` neurons driven by a ``spike_generator`` (all-to-all), recurrent
``pairwise_bernoulli`` connections with random weights and random initial potentials, 100 ms.
The random draws come from NEST's per-virtual-process generators, so equal results need equal
numbers of virtual processes (ranks x threads), which is what the comparison holds fixed.
"""

from __future__ import annotations

import argparse
import os
import pathlib
import subprocess
import sys
import tempfile
import time

NEURONS = 20
SIM_MS = 100.0
SEED = 1234
DEFAULT_PYTHON = (pathlib.Path(os.environ.get("XDG_CACHE_HOME") or pathlib.Path.home() / ".cache")
                  / "snnc" / "nest-3.10.0-mpi" / "bin" / "python")


def worker(threads: int, out: pathlib.Path) -> None:
    """Build and run the network on this rank; write the events recorded here."""
    import nest

    nest.verbosity = nest.VerbosityLevel.ERROR
    nest.ResetKernel()
    nest.SetKernelStatus({"resolution": 0.1, "local_num_threads": threads, "rng_seed": SEED})
    neurons = nest.Create("iaf_psc_delta", NEURONS,
                          params={"V_m": nest.random.uniform(-70.0, -56.0), "t_ref": 2.0})
    drive = nest.Create("spike_generator",
                        params={"spike_times": [5.0 + 4.0 * k for k in range(24)]})
    recorder = nest.Create("spike_recorder")
    nest.Connect(drive, neurons, "all_to_all", {"weight": 9.0, "delay": 1.0})
    nest.Connect(neurons, neurons, {"rule": "pairwise_bernoulli", "p": 0.3, "allow_autapses": False},
                 {"weight": nest.random.uniform(-4.0, 6.0), "delay": 1.5})
    nest.Connect(neurons, recorder)
    nest.Simulate(SIM_MS)
    events = recorder.get("events")
    out.mkdir(parents=True, exist_ok=True)
    pairs = zip(events["senders"], events["times"], strict=True)
    lines = [f"{int(sender)}\t{float(stamp)!r}\n" for sender, stamp in pairs]
    (out / f"rank{nest.Rank()}.tsv").write_text("".join(lines))


def read_events(out: pathlib.Path) -> tuple[list[tuple[int, str]], dict[str, int]]:
    """The union of the per-rank files, sorted, and the number of events each rank wrote."""
    union, per_rank = [], {}
    for path in sorted(out.glob("rank*.tsv")):
        rows = [tuple(line.split("\t")) for line in path.read_text().splitlines()]
        per_rank[path.stem] = len(rows)
        union.extend((int(sender), stamp) for sender, stamp in rows)
    return sorted(union, key=lambda event: (float(event[1]), event[0])), per_rank


def launch(command: list[str], env: dict[str, str]) -> float:
    start = time.perf_counter()
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=600)
    if done.returncode != 0:
        sys.stderr.write(done.stdout + done.stderr)
        raise SystemExit(f"check_mpi: {' '.join(command)} failed with status {done.returncode}")
    return time.perf_counter() - start


def runner() -> int:
    python = os.environ.get("SNNC_NEST_MPI_PYTHON") or str(DEFAULT_PYTHON)
    if not os.path.exists(python):
        print(f"check_mpi: no NEST-with-MPI Python at {python}; run .ci/nest_mpi.sh first")
        return 1
    env = dict(os.environ)
    if os.geteuid() == 0:  # Open MPI refuses root without these
        env.update(OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1")
    script = str(pathlib.Path(__file__).resolve())
    with tempfile.TemporaryDirectory() as tmp:
        ranks, threads = pathlib.Path(tmp, "ranks"), pathlib.Path(tmp, "threads")
        t_mpi = launch(["mpirun", "-np", "2", "--oversubscribe", python, script, "--worker",
                        "--threads", "1", "--out", str(ranks)], env)
        t_thr = launch([python, script, "--worker", "--threads", "2", "--out", str(threads)], env)
        mpi_events, mpi_ranks = read_events(ranks)
        thr_events, _ = read_events(threads)
    print(f"2 ranks x 1 thread: {len(mpi_events)} events {mpi_ranks}, {t_mpi:.2f} s (mpirun, whole)")
    print(f"1 rank x 2 threads: {len(thr_events)} events, {t_thr:.2f} s (whole process)")
    same = mpi_events == thr_events and len(mpi_ranks) == 2 and min(mpi_ranks.values()) > 0
    senders = len({sender for sender, _ in thr_events})
    print(f"{senders} of {NEURONS} neurons fired; identical: {same}")
    return 0 if same and len(thr_events) > 0 else 1


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--worker", action="store_true", help="build and run the network (under NEST)")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--out", type=pathlib.Path)
    args = parser.parse_args()
    if args.worker:
        worker(args.threads, args.out)
        return 0
    return runner()


if __name__ == "__main__":
    sys.exit(main())
