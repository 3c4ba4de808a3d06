"""Benchmark: what recording the spikes costs, as events (the default) and dense (--record-dense).

The CUBA-like network of tests/bench/scaling.py (``fixed_fan_in``, 80 inputs per neuron) at
each size of ``--sizes`` runs ``--steps`` steps three ways as a whole process (``snnc run
--format json``): recording every population's spikes to ``-o`` as events, the same with
``--record-dense`` (the layout and memory of snnc before events: a bool [steps, batch, n]
array per population, held while running and saved), and without ``-o``. For each: the
output file's size, the child's peak RSS (``os.wait4``) and the loop time, min and median over
``--repeats``; every repeat's file must be byte-identical to the first (else exit status 1),
and the events must rebuild the dense file's spikes exactly. The peer is Brian2's SpikeMonitor,
sized from the same spike count as Brian2 stores it (``i`` int32 and ``t`` float64 per spike:
12 bytes; computed, not run); the ratios are snnc's file / that.

    python tests/bench/recording.py [--sizes 4k,64k] [--steps 10000] [--repeats 3]

JSON on stdout, progress on stderr.
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.util
import json
import os
import statistics
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
BRIAN2_BYTES_PER_SPIKE = 4 + 8  # SpikeMonitor: i (int32) and t (float64)


# tests/bench/scaling.py (its network, child runs and RSS measurement); not a package
_SPEC = importlib.util.spec_from_file_location("bench_scaling", os.path.join(HERE, "scaling.py"))
scaling = importlib.util.module_from_spec(_SPEC)
_SPEC.loader.exec_module(scaling)


def stats(values: list[float]) -> dict:
    return {"min": min(values), "median": statistics.median(values)}


def one_mode(path: str, steps: int, mode: str, repeats: int, workdir: str) -> dict:
    """``repeats`` runs of one mode ('events', 'dense', 'none': no -o); sizes, RSS, loop."""
    runs, digests, target = [], set(), os.path.join(workdir, f"{mode}.npz")
    for _ in range(repeats):
        command = [*scaling.snnc_command(), "run", path, "--steps", str(steps),
                   "--format", "json"]
        if mode != "none":
            command += ["-o", target, "--force"] + (["--record-dense"] if mode == "dense" else [])
        done = scaling.run_measured(command, workdir)
        if done["code"] != 0:
            return {"error": done["stderr"].strip()[-1500:]}
        report = json.loads(done["stdout"][done["stdout"].index("{"):])
        run = {"peak_rss_bytes": done["maxrss"], "loop_seconds": report["seconds"],
               "spikes": sum(report["spikes"].values())}
        if mode != "none":
            with open(target, "rb") as handle:
                content = handle.read()
            run["file_bytes"] = len(content)
            digests.add(hashlib.sha256(content).hexdigest())
        runs.append(run)
    out = {key: stats([r[key] for r in runs]) for key in runs[0] if key != "spikes"}
    out["spikes"] = runs[0]["spikes"]
    if mode != "none":
        out["byte_identical"] = len(digests) == 1
    return out


def same_spikes(workdir: str) -> bool:
    """Whether the events file rebuilds the dense file's spikes exactly."""
    import numpy as np

    from snnc.recordings import load
    events, dense = load(os.path.join(workdir, "events.npz")), \
        load(os.path.join(workdir, "dense.npz"))
    names = [k for k in dense if k.endswith(".s")]
    return bool(names) and all(np.array_equal(events[k], dense[k]) for k in names)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="4k,64k")
    parser.add_argument("--steps", type=int, default=10_000)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    results, failed = [], False
    for text in args.sizes.split(","):
        neurons = scaling.parse_size(text)
        with tempfile.TemporaryDirectory(prefix="snnc-bench-recording-") as workdir:
            path = os.path.join(workdir, f"cuba_{neurons}.snn")
            with open(path, "w", encoding="utf-8") as handle:
                handle.write(scaling.spec_text(neurons, "fixed_fan_in"))
            entry = {"neurons": neurons, "steps": args.steps}
            for mode in ("events", "dense", "none"):
                print(f"{neurons} neurons, {args.steps} steps: {mode}", file=sys.stderr,
                      flush=True)
                entry[mode] = one_mode(path, args.steps, mode, args.repeats, workdir)
            if any("error" in entry[m] for m in ("events", "dense", "none")):
                failed = True
                results.append(entry)
                continue
            entry["events_rebuild_dense"] = same_spikes(workdir)
            spikes = entry["events"]["spikes"]
            brian2 = spikes * BRIAN2_BYTES_PER_SPIKE
            entry["brian2_spikemonitor_bytes"] = brian2
            entry["ratios"] = {
                "events_file / dense_file": entry["events"]["file_bytes"]["min"]
                / entry["dense"]["file_bytes"]["min"],
                "events_file / brian2_spikemonitor": entry["events"]["file_bytes"]["min"]
                / max(brian2, 1),
                "events_rss / dense_rss": entry["events"]["peak_rss_bytes"]["min"]
                / entry["dense"]["peak_rss_bytes"]["min"],
                "events_loop / none_loop": entry["events"]["loop_seconds"]["min"]
                / entry["none"]["loop_seconds"]["min"],
            }
            failed |= not entry["events_rebuild_dense"] or not all(
                entry[m]["byte_identical"] for m in ("events", "dense"))
            results.append(entry)
    print(json.dumps({"benchmark": "recording", "repeats": args.repeats, "results": results},
                     indent=2))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
