"""Benchmark: a CUBA-like network with sparse(p = 80 / N) at a million neurons (issue 18).

The network is examples/cuba.snn at N neurons (80 % excitatory, 20 % inhibitory) with every
projection ``sparse(p = 80 / N)`` (or ``fixed_fan_in``, ``--kind fixed``: 64 excitatory and 16
inhibitory inputs per neuron), so every neuron has 80 inputs on average at any size. For each
size (``--sizes``, default 1m) this script runs ``snnc run FILE --steps S --record R --format
json`` in a child process (:func:`measure`) and prints one JSON object on stdout:

- ``build_seconds``: from the first call of ``build_plan`` (parsing and checking are done) to
  the end of ``snnc run``, minus the simulation loop (drawing the synapses, emitting and
  importing the simulation, constructing it, and reporting);
- ``run_seconds``: the simulation loop, as ``snnc run`` reports it;
- ``peak_rss_bytes``: the child's peak resident set (VmHWM);
- ``measured_bytes``: that peak minus the resident set just before ``build_plan`` (the
  interpreter, the imports, the parsed network), i.e. what building and running the network
  adds; ``check_estimate_bytes``: what ``snnc check`` prints for the network
  (:func:`snnc.memory.estimate_network`, batch 1), and ``run_estimate_bytes``: the estimate
  ``snnc run`` checks before allocating (with the recordings); ``ratio`` = measured /
  check's estimate (issue 18 asks for agreement within 20 %);
- ``synapses``, the spike count and the mean rate.

With ``--profile`` the child runs under cProfile and the top functions of the build go to
stderr. ``--record`` (default ``inh.s``) keeps the recording small: spikes are recorded as
events, and the check's figure covers the network, not the recordings.

    python tests/bench/million.py [--sizes 1m] [--steps 1000] [--kind sparse|fixed]
                                  [--repeats 1] [--record inh.s] [--profile]
    python tests/bench/million.py --sizes 256k --steps 200 --profile
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
IN_DEGREE = 80


def spec(neurons: int, kind: str = "sparse", in_degree: int = IN_DEGREE) -> str:
    """examples/cuba.snn at ``neurons`` neurons, ``in_degree`` inputs per neuron: every
    projection ``sparse(p = in_degree / neurons)``, or with ``kind`` 'fixed'
    ``fixed_fan_in`` (:func:`cuba_at.cuba_at`)."""
    return sibling("cuba_at").cuba_at(neurons, "sparse" if kind == "sparse" else "fixed_fan_in",
                                      in_degree, name=f"cuba_{kind}{in_degree}_{neurons}")


def sibling(name: str):
    """tests/bench/<name>.py as a module (tests/bench is not a package; sys.path untouched)."""
    spec_ = importlib.util.spec_from_file_location(f"bench_{name}",
                                                   os.path.join(HERE, f"{name}.py"))
    module = importlib.util.module_from_spec(spec_)
    spec_.loader.exec_module(module)
    return module


def size_of(text: str) -> int:
    match = re.fullmatch(r"(\d+)([km]?)", text.strip().lower())
    if not match:
        raise argparse.ArgumentTypeError(f"not a size: {text!r} (e.g. 4000, 256k, 1m)")
    return int(match.group(1)) * {"": 1, "k": 1024, "m": 1_000_000}[match.group(2)]


# -- the child: snnc run with two marks ------------------------------------------------------

def status_bytes(field: str) -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024
    return 0


def child(path: str, argv: list[str], profile: bool) -> None:
    """Run ``snnc run`` in this process; print a JSON line of marks on stderr at the end."""
    import time

    import numpy  # noqa: F401  (imports count as the baseline)
    try:
        import numba  # noqa: F401
    except ImportError:
        pass
    import snnc
    import snnc.backends.reference as reference
    import snnc.backends.reference.runner  # noqa: F401
    import snnc.ir.discrete as discrete
    from snnc.cli import main

    net = snnc.load_network(path)
    estimate = net.analyses["check-memory"].total
    marks: dict = {"check_estimate_bytes": estimate}
    original = discrete.build_plan

    def build_plan(*args, **kwargs):
        if "baseline_bytes" not in marks:
            marks["baseline_bytes"] = status_bytes("VmRSS")
            with open("/proc/self/clear_refs", "w") as refs:  # VmHWM := VmRSS
                refs.write("5")
            marks["start"] = time.perf_counter()
        return original(*args, **kwargs)

    discrete.build_plan = reference.build_plan = build_plan
    profiler = None
    if profile:
        import cProfile
        profiler = cProfile.Profile()
        profiler.enable()
    code = main(["run", path, *argv, "--format", "json"])
    marks["wall_seconds"] = time.perf_counter() - marks.pop("start", time.perf_counter())
    marks["peak_rss_bytes"] = status_bytes("VmHWM")
    marks["exit"] = code
    if profiler is not None:
        import pstats
        profiler.disable()
        pstats.Stats(profiler, stream=sys.stderr).sort_stats("tottime").print_stats(20)
    from snnc.memory import estimate_network, estimate_recording
    record = argv[argv.index("--record") + 1].split(",") if "--record" in argv else []
    steps = int(argv[argv.index("--steps") + 1])
    marks["run_estimate_bytes"] = estimate_network(
        net, 1, running=estimate_recording(net, record, steps, 1)).total
    marks["synapses"] = sum(net.synapse_count(p) for p in net.projections())
    print("MARKS " + json.dumps(marks), file=sys.stderr)


def measure(text: str, steps: int, record: str, profile: bool = False,
            env: dict | None = None) -> dict:
    """Run ``snnc run`` on ``text`` in a child process; its figures (see the module's doc)."""
    with tempfile.TemporaryDirectory(prefix="snnc-million-") as folder:
        path = os.path.join(folder, "net.snn")
        with open(path, "w", encoding="utf-8") as handle:
            handle.write(text)
        argv = [sys.executable, os.path.abspath(__file__), "--child", path,
                "--steps", str(steps), "--record", record] + (["--profile"] if profile else [])
        done = subprocess.run(argv, capture_output=True, text=True, cwd=folder,
                              env={**os.environ, **(env or {})})
    marks = [line for line in done.stderr.splitlines() if line.startswith("MARKS ")]
    if done.returncode != 0 or not marks or json.loads(marks[-1][6:])["exit"] != 0:
        raise RuntimeError(f"snnc run failed ({done.returncode}):\n{done.stderr[-3000:]}")
    if profile:
        print(done.stderr, file=sys.stderr)
    figures = json.loads(marks[-1][len("MARKS "):])
    result = json.loads(done.stdout)
    figures["run_seconds"] = result["seconds"]
    figures["build_seconds"] = figures.pop("wall_seconds") - result["seconds"]
    figures["spikes"] = result["spikes"]
    figures["measured_bytes"] = figures["peak_rss_bytes"] - figures["baseline_bytes"]
    figures["ratio"] = figures["measured_bytes"] / figures["check_estimate_bytes"]
    return figures


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", default="1m")
    parser.add_argument("--steps", type=int, default=1000)
    parser.add_argument("--kind", choices=("sparse", "fixed"), default="sparse")
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--record", default="inh.s")
    parser.add_argument("--profile", action="store_true")
    parser.add_argument("--child", metavar="FILE", help=argparse.SUPPRESS)
    args, rest = parser.parse_known_args()
    if args.child:
        child(args.child, ["--steps", str(args.steps), "--record", args.record, *rest],
              args.profile)
        return 0
    out = {"steps": args.steps, "kind": args.kind, "in_degree": IN_DEGREE, "sizes": {}}
    for size in (size_of(s) for s in args.sizes.split(",")):
        runs = [measure(spec(size, args.kind), args.steps, args.record, args.profile)
                for _ in range(args.repeats)]
        entry = {key: runs[0][key] for key in ("synapses", "check_estimate_bytes",
                                               "run_estimate_bytes")}
        for key in ("build_seconds", "run_seconds", "peak_rss_bytes", "measured_bytes",
                    "ratio"):
            values = [r[key] for r in runs]
            entry[key] = {"min": min(values), "median": statistics.median(values)}
        spikes = sum(runs[0]["spikes"].values()) if isinstance(runs[0]["spikes"], dict) \
            else runs[0]["spikes"]
        entry["spikes"] = spikes
        entry["rate_hz"] = spikes / (size * args.steps * 1e-4)
        out["sizes"][str(size)] = entry
        print(f"{size}: {json.dumps(entry)}", file=sys.stderr, flush=True)
    print(json.dumps(out, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
