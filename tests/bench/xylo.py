"""snnc's integer Xylo simulator against Rockpool's XyloSim (xylosim 0.1.3), in the same run.

    python tests/bench/xylo.py [--steps 1000] [--batch 16] [--repeats 3] [--hidden 1000]

Two networks: examples/xylo_ei.snn (128 hidden neurons, two synaptic currents) and a recurrent
network of ``--hidden`` CubaLIF neurons (16 Poisson inputs, sparse recurrence p = 0.05, 8
outputs; Xylo Audio 2 holds 1,000). Each is compiled to its Xylo specification by snnc
(``snnc.api.chip_program``), then run on the same input events: snnc's
``snnc.backends.xylo.integer.simulate`` over the whole batch at once, and XyloSim sample by
sample (``evolve`` from the zero state, what the emitted run.py does). The results must be
identical (checked on every sample). Prints one JSON object per network: seconds (min and
median of the repeats) and the ratio XyloSim / snnc. Set OPENBLAS_NUM_THREADS=1 on a shared
machine (the results do not depend on it).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests"))
from samna_stub import samna_stubbed  # noqa: E402 (the tests' folder first)

RECURRENT = """
network xylo_recurrent_{n} {{
  dt = 1 ms
  seed = 4
  integration = euler
}}
input mic[16]: poisson(rate = 60 Hz)
population hidden: CubaLIF[{n}] {{
  tau_mem = 16 ms
  tau_syn = 4 ms
  threshold = 1
  reset = subtract
}}
readout out: CubaLIF[8] {{
  tau_mem = 32 ms
  tau_syn = 8 ms
  threshold = 1
  reset = subtract
}}
mic -> hidden: dense {{ weight = normal(0, 0.3) }}
hidden -> hidden: sparse(p = 0.05) {{ weight = normal(0, 0.03) }}
hidden -> out: dense {{ weight = normal(0, 0.1) }}
"""


def program_of(path: Path):
    from snnc import api
    from snnc.diagnostics import Diagnostics
    diag = Diagnostics()
    net = api.compile_network(str(path), diag)
    program = None if net is None else api.chip_program(net, diag, "xylo")
    if program is None:
        sys.exit("; ".join(d.message for d in diag.errors()))
    return program


def inputs_of(program, steps: int, batch: int) -> np.ndarray:
    """Input events [steps, batch, channels]: the network's Poisson inputs drawn as snnc run
    --batch draws them."""
    from snnc.backends.xylo.program import input_counts, input_spikes
    return input_counts(input_spikes(program, steps, batch), program.layout, steps, batch)


def timed(function, repeats: int) -> tuple[list[float], object]:
    seconds, result = [], None
    for _ in range(repeats):
        start = time.perf_counter()
        result = function()
        seconds.append(time.perf_counter() - start)
    return seconds, result


def bench(name: str, path: Path, steps: int, batch: int, repeats: int) -> dict:
    from snnc.backends.xylo.integer import simulate
    with samna_stubbed():
        from rockpool.devices.xylo.syns61201 import XyloSim
    program = program_of(path)
    spec = dict(program.spec)
    counts = inputs_of(program, steps, batch)

    def with_xylosim():
        sim = XyloSim.from_specification(**spec)
        runs = []
        for sample in range(batch):
            sim.reset_state()
            out, _, rec = sim.evolve(counts[:, sample], record=True)
            runs.append((np.asarray(out), np.asarray(rec["Spikes"]), np.asarray(rec["Vmem"])))
        return runs

    ours, mine = timed(lambda: simulate(spec, counts), repeats)
    theirs, reference = timed(with_xylosim, repeats)
    for sample, (out, spikes, vmem) in enumerate(reference):
        assert np.array_equal(out, mine["spikes_out"][:, sample]), (name, sample)
        assert np.array_equal(spikes, mine["spikes"][:, sample]), (name, sample)
        assert np.array_equal(vmem, mine["vmem"][:, sample]), (name, sample)
    return {"network": name, "hidden_neurons": program.layout.n_hidden, "steps": steps,
            "batch": batch, "identical": True,
            "hidden_spikes_per_neuron_step": float(mine["spikes"].mean()),
            "snnc_s": {"min": min(ours), "median": statistics.median(ours)},
            "xylosim_s": {"min": min(theirs), "median": statistics.median(theirs)},
            "xylosim_over_snnc": {"min": min(theirs) / min(ours),
                                  "median": statistics.median(theirs) / statistics.median(ours)}}


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--steps", type=int, default=1000)
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--hidden", type=int, default=1000)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as folder:
        recurrent = Path(folder) / "recurrent.snn"
        recurrent.write_text(RECURRENT.format(n=args.hidden))
        for name, path in (("xylo_ei", ROOT / "examples" / "xylo_ei.snn"),
                           (f"recurrent_{args.hidden}", recurrent)):
            print(json.dumps(bench(name, path, args.steps, args.batch, args.repeats)),
                  flush=True)


if __name__ == "__main__":
    main()
