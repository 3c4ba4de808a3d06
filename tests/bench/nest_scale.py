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

Exit status: 0 when every run succeeded and NEST's rates are within 15 % (or 0.5 Hz) of snnc's
(one draw of the network, not the same synapses: a draw moves the rates by ~10 %),
1 otherwise. Reference figures (issue 16): NEST 3.10 with 2 threads, CUBA 4000 neurons,
10,000 steps: 1.16 s as a whole process (0.43 s simulating).
"""

from __future__ import annotations

import argparse
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
EXAMPLE = os.path.join(ROOT, "examples", "cuba.snn")
MPI_PYTHON = os.path.expanduser("~/.cache/snnc/nest-3.10.0-mpi/bin/python")
MPI_ENV = {"OMPI_ALLOW_RUN_AS_ROOT": "1", "OMPI_ALLOW_RUN_AS_ROOT_CONFIRM": "1"}
K_EXC, K_INH = 64, 16  # in-degree 80: 80 % excitatory, 20 % inhibitory
RATE_TOLERANCE = 0.15  # one network draw moves CUBA's rates by ~10 % (docs/nest.md)


def spec(neurons: int) -> str:
    """examples/cuba.snn at ``neurons`` neurons with a fixed in-degree of 80."""
    exc = neurons * 4 // 5
    text = open(EXAMPLE, encoding="utf-8").read()
    text = text.replace("[3200]", f"[{exc}]").replace("[800]", f"[{neurons - exc}]")
    for pre, k in (("exc", K_EXC), ("inh", K_INH)):
        for post in ("exc", "inh"):
            text = text.replace(f"{pre} -> {post}: sparse(p = 0.02)",
                                f"{pre} -> {post}: fixed_fan_in(k = {k})")
    assert "sparse" not in text.split("network cuba")[1], "examples/cuba.snn changed"
    return text.replace("network cuba", f"network cuba_indegree80_{neurons}")


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
            "connections": sum(r["connections"] for r in ranks), "spikes": spikes}


def summary(runs: list[dict], synapses: int, neurons: int, seconds: float) -> dict:
    def stats(key):
        values = [r[key] for r in runs]
        return {"min": round(min(values), 3), "median": round(statistics.median(values), 3)}
    peak = max(r["peak_bytes"] for r in runs)
    rates = {k: round(v / (neurons * (0.8 if k.startswith("exc") else 0.2)) / seconds, 2)
             for k, v in runs[0]["spikes"].items()}
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


def bench_size(neurons: int, args, workdir: str) -> dict:
    from snnc import compile_file
    from snnc.backends.nest.memory import estimate_nest
    from snnc.diagnostics import Diagnostics
    path = os.path.join(workdir, f"cuba_{neurons}.snn")
    with open(path, "w", encoding="utf-8") as handle:
        handle.write(spec(neurons))
    net = compile_file(path, Diagnostics())
    synapses = sum(net.synapse_count(p) for p in net.projections())
    folder = os.path.join(workdir, f"nest_{neurons}")
    start = time.perf_counter()
    done = subprocess.run(["snnc", "compile", path, "--emit", "nest", "-o", folder],
                          capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"snnc compile --emit nest failed:\n{done.stderr[-2000:]}")
    result = {"neurons": neurons, "synapses": synapses, "steps": args.steps,
              "emit_seconds": round(time.perf_counter() - start, 3)}
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
                                 ranks=2 if "ranks" in name else 1)
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
                        help="neuron counts, comma-separated (4k,16k,64k,256k)")
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
        for neurons in (size(s) for s in args.sizes.split(",") if s):
            try:
                result = bench_size(neurons, args, workdir)
            except RuntimeError as error:
                log(str(error))
                ok = False
                continue
            ok = rates_agree(result) and ok
            results.append(result)
    print(json.dumps({"benchmark": "nest_scale", "in_degree": K_EXC + K_INH,
                      "results": results, "ok": ok}, indent=1))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
