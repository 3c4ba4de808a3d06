"""Benchmark: online training per sample in the Lava program against snnc's reference simulator.

The network is examples/randman/eprop_random_online.snn (e-prop with random feedback, class b:
20 inputs, 64 recurrent CubaLIF neurons, a readout of 3) on the reduced Randman of issue 17 (3
classes, 100 samples each, 100 steps of 1 ms per sample). Both sides learn as a chip does: every
step's update applied at once, the state reset between samples, the weights kept.

- Lava: ``snnc compile --emit lava``, then the program's ``run.py --input data.npz --split
  train --samples N`` in the Lava environment (lava-nc 0.10.0, CPU simulator, floating point;
  ``--precision fixed_pt`` too when the program runs in fixed point). Only the run is timed
  (run.py's own timer: building the process graph once, then every sample), not the
  interpreter's start.
- snnc: the generated simulation's ``Simulation(batch=1)`` with ``--delivery next_step`` (the
  Lava program's delivery), learning step by step over the same samples; only the runs are
  timed.

Each side runs ``--repeats`` times; the JSON on stdout gives seconds per sample (min and
median) and the ratio Lava / snnc of the medians and of the minima, and checks the two final
weights agree (max |w_lava - w_snnc|; the floating-point programs agree to ~1e-16 on this
network). Progress goes to stderr.

    python tests/bench/lava_training.py [--samples 20] [--repeats 3] [--fixed]

Needs the Lava environment (README, "Lava"; ``$SNNC_LAVA_PYTHON`` or the cached venv).
Exit status 0, or 1 when Lava is missing or the weights disagree by more than 1e-6.
"""

from __future__ import annotations

import argparse
import json
import os
import pathlib
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np

HERE = pathlib.Path(__file__).resolve().parent
ROOT = HERE.parent.parent
EXAMPLE = ROOT / "examples" / "randman" / "eprop_random_online.snn"
DEFAULT_LAVA = pathlib.Path.home() / ".cache" / "snnc" / "lava-0.10.0" / "bin" / "python"
TOLERANCE = 1e-6


def lava_python() -> str | None:
    candidate = os.environ.get("SNNC_LAVA_PYTHON") or str(DEFAULT_LAVA)
    return candidate if pathlib.Path(candidate).exists() else None


def write_data(path: pathlib.Path):
    from snnc.datasets.randman import RandmanOptions, generate
    data = generate(RandmanOptions(classes=3, samples=100, seed=0))
    np.savez(path, **{f"{s}.units": data.spikes[s] for s in ("train", "test")},
             **{f"{s}.label": data.labels[s] for s in ("train", "test")})
    return data


def snnc_side(data, samples: int) -> tuple[float, dict[str, np.ndarray]]:
    """Seconds per sample of the reference simulator's online training, and its weights."""
    from snnc import api
    from snnc.backends.reference.runner import load_simulation
    from snnc.diagnostics import Diagnostics
    net = api.compile_network(str(EXAMPLE), Diagnostics())
    module = load_simulation(net, "next_step")
    sim = module.Simulation(batch=1)
    x, labels = data.spikes["train"], data.labels["train"]
    start = time.perf_counter()
    for k in range(samples):
        sim.reset()
        sim.run(x.shape[0], {"units": x[:, k:k + 1]}, learn=True,
                targets={"out": labels[k:k + 1], "label": labels[k:k + 1]})
    seconds = time.perf_counter() - start
    return seconds / samples, {name: getattr(sim, attr).copy()
                               for name, attr in module.WEIGHTS.items()}


def lava_side(python: str, program: pathlib.Path, data_file: pathlib.Path, samples: int,
              precision: str, out: pathlib.Path) -> tuple[float, dict[str, np.ndarray]]:
    run = subprocess.run([python, str(program / "run.py"), "--input", str(data_file), "--split",
                          "train", "--samples", str(samples), "--precision", precision, "-o",
                          str(out)], capture_output=True, text=True)
    if run.returncode:
        raise SystemExit(f"run.py failed:\n{run.stdout}{run.stderr}")
    with np.load(out) as archive:
        return float(archive["seconds_per_sample"]), {
            key[:-2]: archive[key] for key in archive.files if key.endswith(".w")}


def summary(values: list[float]) -> dict[str, float]:
    return {"min": min(values), "median": statistics.median(values)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--samples", type=int, default=20)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--fixed", action="store_true", help="also time --precision fixed_pt")
    args = parser.parse_args()
    python = lava_python()
    if python is None:
        print("lava_training: no Lava environment (README, 'Lava')", file=sys.stderr)
        return 1
    folder = pathlib.Path(tempfile.mkdtemp(prefix="snnc-bench-lava-"))
    try:
        data = write_data(folder / "randman3.npz")
        shutil.copy(EXAMPLE, folder / EXAMPLE.name)
        shutil.copy(EXAMPLE.parent / "common.snn", folder / "common.snn")
        compiled = subprocess.run([sys.executable, "-m", "snnc", "compile",
                                   str(folder / EXAMPLE.name), "--emit", "lava", "-o",
                                   str(folder / "program")], capture_output=True, text=True)
        if compiled.returncode:
            raise SystemExit(compiled.stdout + compiled.stderr)
        precisions = ["floating_pt"] + (["fixed_pt"] if args.fixed else [])
        times: dict[str, list[float]] = {"snnc": [], **{p: [] for p in precisions}}
        deviation = 0.0
        for repeat in range(args.repeats):
            seconds, reference = snnc_side(data, args.samples)
            times["snnc"].append(seconds)
            for precision in precisions:
                seconds, weights = lava_side(python, folder / "program",
                                             folder / "randman3.npz", args.samples, precision,
                                             folder / f"{precision}.npz")
                times[precision].append(seconds)
                if precision == "floating_pt":
                    deviation = max(deviation, *(float(np.abs(weights[n] - reference[n]).max())
                                                 for n in reference))
            print(f"repeat {repeat + 1}: " + ", ".join(f"{k} {v[-1]:.4f} s/sample"
                                                     for k, v in times.items()), file=sys.stderr)
        report = {
            "network": str(EXAMPLE.relative_to(ROOT)),
            "samples": args.samples,
            "steps_per_sample": int(data.spikes["train"].shape[0]),
            "repeats": args.repeats,
            "seconds_per_sample": {k: summary(v) for k, v in times.items()},
            "ratio_lava_over_snnc": {
                p: {"min": min(times[p]) / min(times["snnc"]),
                    "median": statistics.median(times[p]) / statistics.median(times["snnc"])}
                for p in precisions},
            "max_weight_deviation_floating_pt": deviation,
        }
        print(json.dumps(report, indent=2))
        return 0 if deviation <= TOLERANCE else 1
    finally:
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
