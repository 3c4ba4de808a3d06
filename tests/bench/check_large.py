"""Benchmark: `snnc check` on a generated 1,000,000-neuron, 100,000,000-synapse network.

Connectivity is procedural, so checking must never materialise a synapse. Runs the real CLI in
a subprocess and prints one JSON object with the wall time, the child's peak memory (max RSS)
and the network size. Goal (issue 3): under 5 s and under 500 MB.

    python tests/bench/check_large.py
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import tempfile
import time

POPULATIONS = 10
SIZE = 100_000  # neurons per population
P = 0.001  # 10 projections x 1e10 possible pairs x 0.001 = 1e8 synapses


def spec() -> str:
    lines = ["# generated: 1e6 neurons, 1e8 synapses, procedural connectivity",
             "network large {", "  dt = 1 ms", "  seed = 1", "}",
             "input drive[1000]: poisson(rate = 5 Hz)", "readout out: LI[10]"]
    for k in range(POPULATIONS):
        lines += [f"population p{k}: CubaLIF[{SIZE}] {{", "  tau_mem = 20 ms", "  tau_syn = 5 ms",
                  "  rate 5 Hz", "}"]
    lines += ["drive -> p0: fixed_fan_in(k = 10)"]
    for k in range(POPULATIONS):
        rule = "eprop(readout = out)" if k % 2 else "stdp"
        lines += [f"p{k} -> p{(k + 1) % POPULATIONS}: sparse(p = {P}) {{",
                  "  weight = normal(0, 0.01)", f"  learn {rule}", "}"]
    lines += ["p9 -> out: dense", "loss cross_entropy(sum_over_time(out.v))"]
    return "\n".join(lines) + "\n"


def main() -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "large.snn")
        with open(path, "w") as handle:
            handle.write(spec())
        start = time.perf_counter()
        result = subprocess.run([sys.executable, "-m", "snnc", "check", path, "--format", "json",
                                 "--report", "locality"], capture_output=True, text=True)
        seconds = time.perf_counter() - start
    peak_kib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    if result.returncode != 0:
        sys.exit(f"snnc check failed:\n{result.stderr}")
    summary = json.loads(result.stdout)["summary"]
    print(json.dumps({
        "benchmark": "check_large",
        "neurons": summary["neurons"],
        "synapses": summary["synapses"],
        "rules_analysed": len(summary["locality"]),
        "seconds": round(seconds, 3),
        "peak_memory_mb": round(peak_kib / 1024, 1),
        "goal": {"seconds": 5, "peak_memory_mb": 500},
        "within_goal": seconds < 5 and peak_kib / 1024 < 500,
    }, indent=2))


if __name__ == "__main__":
    main()
