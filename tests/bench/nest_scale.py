"""Benchmark: CUBA-like networks at fixed in-degree 80 in snnc's reference simulator and in NEST.

The network is examples/cuba.snn with its random connectivity replaced by a fixed in-degree:
80 % excitatory and 20 % inhibitory LIF neurons, every neuron receiving 64 excitatory and 16
inhibitory synapses (``fixed_fan_in``; CUBA's own mean at 4000 neurons, so the dynamics stay
the same at every size). For each size (4k, 16k, 64k, 256k neurons; ``--sizes``) this script

1. writes the .snn text and compiles it with ``snnc compile --emit nest`` (which estimates
   NEST's memory first, :mod:`snnc.backends.nest.memory`, and refuses what cannot fit: E525);
2. runs snnc's reference simulator in a child process (``Simulation(batch=1)`` is the build,
   ``sim.run`` the simulation);
3. runs the emitted PyNEST program (its ``network.build`` and ``network.simulate``) in a child
   with 1 and 2 threads, and under ``mpirun -np 2`` with the MPI build of NEST (one thread per
   rank), when that build exists (~/.cache/snnc/nest-3.10.0-mpi; ``--mpi-python``);
4. prints one JSON object on stdout (progress goes to stderr): per size and runner the build
   and simulation seconds (min and median over ``--repeats``), the peak memory (max RSS of the
   child, summed over MPI ranks), the bytes per synapse (peak memory / synapses), the spike
   counts (rates), and NEST's estimate next to the measured peak.

    python tests/bench/nest_scale.py [--sizes 4k,16k] [--steps 10000] [--repeats 1]
                                     [--no-snnc] [--no-mpi] [--threads 1,2]
                                     [--in-degree 80] [--record-neurons N]
    python tests/bench/nest_scale.py --sizes fit --record-neurons 1000 --steps 1000 --no-snnc
    python tests/bench/nest_scale.py --sizes 1m --in-degree 20 --record-neurons 1000 --steps 1000

``--sizes fit`` is the largest network NEST's estimate lets ``snnc compile --emit nest`` build
on this machine; ``--record-neurons`` records the first N neurons of each population (the
rates are theirs), which a network of millions of neurons needs (~33 KB per recorded neuron).

Exit status: 0 when every run succeeded and NEST's rates are within 15 % (or 0.5 Hz) of snnc's
(one draw of the network, not the same synapses: a draw moves the rates by ~10 %),
1 otherwise. Reference figures (issue 16): NEST 3.10 with 2 threads, CUBA 4000 neurons,
10,000 steps: 1.16 s as a whole process (0.43 s simulating).
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
MPI_PYTHON = os.path.expanduser("~/.cache/snnc/nest-3.10.0-mpi/bin/python")
MPI_ENV = {"OMPI_ALLOW_RUN_AS_ROOT": "1", "OMPI_ALLOW_RUN_AS_ROOT_CONFIRM": "1"}
K_EXC, K_INH = 64, 16  # in-degree 80: 80 % excitatory, 20 % inhibitory (--in-degree scales both)
RATE_TOLERANCE = 0.15  # one network draw moves CUBA's rates by ~10 % (docs/nest.md)


def spec(neurons: int, in_degree: int = K_EXC + K_INH) -> str:
    """examples/cuba.snn at ``neurons`` neurons with a fixed in-degree (80 % of it excitatory;
    :func:`cuba_at.cuba_at`)."""
    module = importlib.util.spec_from_file_location("bench_cuba_at",
                                                    os.path.join(HERE, "cuba_at.py"))
    cuba_at = importlib.util.module_from_spec(module)
    module.loader.exec_module(cuba_at)
    return cuba_at.cuba_at(neurons, "fixed_fan_in", in_degree,
                           name=f"cuba_indegree{in_degree}_{neurons}")


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def peak_rss() -> int:
    """This process's peak resident set (VmHWM: its own address space; ru_maxrss would keep
    the parent's resident set at the fork, which Linux carries across exec)."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


# ---- the children (one process per measurement, so that the peak memory is its own) ------------

def snnc_child(path: str, steps: int) -> None:
    import numpy as np

    import snnc
    from snnc.backends.reference.runner import load_simulation
    diag = snnc.Diagnostics()
    net = snnc.compile_file(path, diag)
    if net is None:
        sys.exit(f"snnc could not compile {path}: {diag.items}")
    module = load_simulation(net)
    start = time.perf_counter()
    sim = module.Simulation(batch=1)
    built = time.perf_counter()
    out = sim.run(steps, record=["exc.s", "inh.s"])
    done = time.perf_counter()
    print(json.dumps({"build_seconds": built - start, "simulate_seconds": done - built,
                      "spikes": {k: int(np.count_nonzero(out[k])) for k in ("exc.s", "inh.s")},
                      "peak_bytes": peak_rss()}))


def nest_child(folder: str, steps: int, threads: int) -> None:
    sys.path.insert(0, folder)
    import nest
    import network
    import numpy as np
    start = time.perf_counter()
    nodes, recorders = network.build(steps, {}, threads)
    built = time.perf_counter()
    built_bytes = peak_rss()
    network.simulate(nodes, steps)
    done = time.perf_counter()
    out = network.recordings(nodes, recorders, steps)
    print(json.dumps({"rank": nest.Rank(), "build_seconds": built - start,
                      "simulate_seconds": done - built,
                      "connections": int(nest.GetKernelStatus("num_connections")),
                      "spikes": {k: int(np.count_nonzero(v)) for k, v in out.items()},
                      "recorded": {k: int(v) for k, v in network.RECORD.items()},
                      "built_peak_bytes": built_bytes, "peak_bytes": peak_rss()}))


# ---- the parent --------------------------------------------------------------------------------

def child(command: list[str], env: dict | None = None) -> list[dict]:
    """Run a child; its JSON lines (one per MPI rank)."""
    result = subprocess.run(command, capture_output=True, text=True, cwd=ROOT,
                            env=dict(os.environ, **(env or {})))
    if result.returncode != 0:
        raise RuntimeError(f"{' '.join(command[:4])}... failed:\n{result.stderr[-2000:]}")
    return [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]


def merge_ranks(ranks: list[dict]) -> dict:
    """One run from its ranks: the slowest rank's times, the summed memory and spikes."""
    spikes: dict[str, int] = {}
    for rank in ranks:
        for key, count in rank["spikes"].items():
            spikes[key] = spikes.get(key, 0) + count
    return {"build_seconds": max(r["build_seconds"] for r in ranks),
            "simulate_seconds": max(r["simulate_seconds"] for r in ranks),
            "peak_bytes": sum(r["peak_bytes"] for r in ranks),
            "connections": sum(r["connections"] for r in ranks), "spikes": spikes,
            "recorded": ranks[0].get("recorded")}


def summary(runs: list[dict], synapses: int, neurons: int, seconds: float) -> dict:
    def stats(key):
        values = [r[key] for r in runs]
        return {"min": round(min(values), 3), "median": round(statistics.median(values), 3)}
    peak = max(r["peak_bytes"] for r in runs)
    exc = neurons * 4 // 5
    recorded = runs[0].get("recorded") or {"exc.s": exc, "inh.s": neurons - exc}
    rates = {k: round(v / recorded[k] / seconds, 2) for k, v in runs[0]["spikes"].items()}
    return {"build_seconds": stats("build_seconds"), "simulate_seconds": stats("simulate_seconds"),
            "peak_bytes": peak, "bytes_per_synapse": round(peak / synapses, 1),
            "rates_hz": rates, "connections": runs[0].get("connections")}


def runners(args) -> list[tuple[str, list[str], dict | None]]:
    """(name, command prefix, env) of the NEST runs; the folder and steps are appended."""
    me = os.path.abspath(__file__)
    out = [(f"nest_{t}_thread{'s' if t > 1 else ''}", [sys.executable, me, "--nest-child"],
            {"threads": t}) for t in args.threads]
    if args.mpi and os.path.exists(args.mpi_python):
        out.append(("nest_2_ranks", ["mpirun", "-np", "2", "--oversubscribe", args.mpi_python, me,
                                     "--nest-child"], {"threads": 1, "env": MPI_ENV}))
    elif args.mpi:
        log(f"no MPI build of NEST at {args.mpi_python}: the 2-rank runs are skipped")
    return out


def largest_fitting(args, workdir: str) -> int:
    """The largest size (a multiple of 10,000 neurons) whose NEST estimate, with the
    benchmark's recordings, is within the available memory (SNNC_MEMORY_LIMIT, else the
    machine's MemAvailable): the size ``snnc compile --emit nest`` still accepts."""
    from snnc import compile_file
    from snnc.backends.nest.memory import estimate_nest
    from snnc.diagnostics import Diagnostics
    from snnc.machine import available
    room = available().bytes
    low, high = 1, 10_000  # in units of 10,000 neurons
    while low < high:
        middle = (low + high + 1) // 2
        path = os.path.join(workdir, "probe.snn")
        with open(path, "w", encoding="utf-8") as handle:
            handle.write(spec(middle * 10_000, args.in_degree))
        estimate = estimate_nest(compile_file(path, Diagnostics()), steps=args.steps,
                                 record_neurons=args.record_neurons).total
        low, high = (middle, high) if estimate <= room else (low, middle - 1)
    log(f"largest fitting size: {low * 10_000:,} neurons ({room / 2**30:.1f} GiB available)")
    return low * 10_000


def emit(neurons: int, args, workdir: str) -> tuple:
    """(the .snn path, the network, its synapse count, the NEST program's folder, seconds)."""
    from snnc import compile_file
    from snnc.diagnostics import Diagnostics
    path = os.path.join(workdir, f"cuba_{neurons}.snn")
    with open(path, "w", encoding="utf-8") as handle:
        handle.write(spec(neurons, args.in_degree))
    net = compile_file(path, Diagnostics())
    synapses = sum(net.synapse_count(p) for p in net.projections())
    folder = os.path.join(workdir, f"nest_{neurons}")
    record = ["--record-neurons", str(args.record_neurons)] if args.record_neurons else []
    start = time.perf_counter()
    done = subprocess.run(["snnc", "compile", path, "--emit", "nest", "-o", folder, *record],
                          capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"snnc compile --emit nest failed:\n{done.stderr[-2000:]}")
    return path, net, synapses, folder, time.perf_counter() - start


def bench_size(neurons: int, args, workdir: str) -> dict:
    from snnc.backends.nest.memory import estimate_nest
    path, net, synapses, folder, seconds = emit(neurons, args, workdir)
    result = {"neurons": neurons, "synapses": synapses, "steps": args.steps,
              "emit_seconds": round(seconds, 3), "record_neurons": args.record_neurons}
    seconds = args.steps * 1e-4
    if args.snnc:
        log(f"{neurons}: snnc run")
        runs = [child([sys.executable, os.path.abspath(__file__), "--snnc-child", path,
                       str(args.steps)])[0] for _ in range(args.repeats)]
        result["snnc"] = summary(runs, synapses, neurons, seconds)
    for name, command, extra in runners(args):
        log(f"{neurons}: {name}")
        runs = [merge_ranks(child(command + [folder, str(args.steps), str(extra["threads"])],
                                  extra.get("env"))) for _ in range(args.repeats)]
        result[name] = summary(runs, synapses, neurons, seconds)
        estimate = estimate_nest(net, steps=args.steps, threads=extra["threads"],
                                 ranks=2 if "ranks" in name else 1,
                                 record_neurons=args.record_neurons)
        result[name]["estimate_bytes"] = estimate.total
    return result


def rates_agree(result: dict) -> bool:
    if "snnc" not in result:
        return True
    ok = True
    for name, run in result.items():
        if not name.startswith("nest_"):
            continue
        for key, rate in run["rates_hz"].items():
            reference = result["snnc"]["rates_hz"].get(key)
            if reference is not None and abs(rate - reference) > max(RATE_TOLERANCE * reference,
                                                                      0.5):
                log(f"{result['neurons']}: {name} {key} {rate} Hz, snnc {reference} Hz")
                ok = False
    return ok


def size(text: str) -> int:
    text = text.strip().lower()
    scale = {"k": 1000, "m": 1_000_000}.get(text[-1:], 1)
    return int(float(text.rstrip("km")) * scale)


def main() -> int:
    if len(sys.argv) > 1 and sys.argv[1] == "--snnc-child":
        snnc_child(sys.argv[2], int(sys.argv[3]))
        return 0
    if len(sys.argv) > 1 and sys.argv[1] == "--nest-child":
        nest_child(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]))
        return 0
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="4k,16k",
                        help="neuron counts, comma-separated (4k,16k,64k,256k,1m); 'fit': the "
                             "largest that NEST's estimate says fits in the available memory")
    parser.add_argument("--in-degree", type=int, default=K_EXC + K_INH,
                        help="synapses per neuron (80 %% excitatory; default 80)")
    parser.add_argument("--record-neurons", type=int, default=None,
                        help="record the first N neurons of each population (snnc compile "
                             "--record-neurons; default: all)")
    parser.add_argument("--steps", type=int, default=10_000, help="steps (10,000 = 1 s)")
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--threads", default="1,2", help="NEST thread counts (one process)")
    parser.add_argument("--no-snnc", dest="snnc", action="store_false")
    parser.add_argument("--no-mpi", dest="mpi", action="store_false")
    parser.add_argument("--mpi-python", default=MPI_PYTHON)
    args = parser.parse_args()
    args.threads = [int(t) for t in args.threads.split(",") if t]
    results, ok = [], True
    with tempfile.TemporaryDirectory(prefix="snnc-nest-scale-") as workdir:
        sizes = [largest_fitting(args, workdir) if s == "fit" else size(s)
                 for s in args.sizes.split(",") if s]
        for neurons in sizes:
            try:
                result = bench_size(neurons, args, workdir)
            except RuntimeError as error:
                log(str(error))
                ok = False
                continue
            ok = rates_agree(result) and ok
            results.append(result)
    print(json.dumps({"benchmark": "nest_scale", "in_degree": args.in_degree,
                      "results": results, "ok": ok}, indent=1))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
