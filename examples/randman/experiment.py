"""Online three-factor rules against exact gradients on Randman (README.md here).

Trains every network of this folder with ``snnc train`` over several seeds on the reference
Randman data set, then writes a table: test accuracy (mean and spread over seeds), the cosine
similarity of each rule's weight update to the exact BPTT gradient of the same mini-batch
(averaged over training), the rule's state memory for this network (from the locality pass,
float32 values) and the wall time per training epoch.

    python examples/randman/experiment.py                    # everything (~45 min on 2 cores)
    python examples/randman/experiment.py --table-only       # the table from finished runs

Runs resume from their checkpoints, so an interrupted experiment continues where it stopped.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

HERE = os.path.dirname(os.path.abspath(__file__))
RULES = {  # name -> (file, label)
    "bptt": ("bptt.snn", "BPTT (exact, offline)"),
    "rtrl": ("rtrl.snn", "exact RTRL (8 hidden)"),
    "eprop_symmetric": ("eprop_symmetric.snn", "e-prop, symmetric feedback"),
    "eprop_random": ("eprop_random.snn", "e-prop, random feedback"),
    "eprop_learned": ("eprop_learned.snn", "e-prop, learned feedback (Kolen-Pollack)"),
    "superspike": ("superspike.snn", "SuperSpike, symmetric feedback"),
    "decolle": ("decolle.snn", "DECOLLE-style local readouts"),
    "decolle_input_ce": ("decolle_input_ce.snn",
                         "DECOLLE, cross-entropy local readout, input weights only"),
}


def snnc(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "snnc", *args], capture_output=True, text=True,
                          check=False)


def data_file(out: str) -> str:
    path = os.path.join(out, "randman.npz")
    if not os.path.exists(path):
        from snnc.datasets.randman import generate
        from snnc.training.archive import save_npz
        from snnc.training.data import to_arrays
        save_npz(path, to_arrays(generate(), "units"))
    return path


def train(rule: str, seed: int, epochs: int, out: str, data: str, compare_every: int) -> str:
    folder = os.path.join(out, rule, f"seed{seed}")
    args = ["train", os.path.join(HERE, RULES[rule][0]), "--data", data, "--epochs", str(epochs),
            "--seed", str(seed), "--batch", "32", "-o", folder]
    if rule != "bptt":
        args += ["--compare-every", str(compare_every)]
    if os.path.exists(os.path.join(folder, "checkpoint.npz")):
        args.append("--resume")
    result = snnc(*args)
    if result.returncode:
        return f"{rule} seed {seed}: failed\n{result.stderr}"
    return f"{rule} seed {seed}: {result.stdout.strip().splitlines()[-2]}"


#: locality classes from the most to the least local (snnc check --report locality)
CLASSES = ("a", "b", "c", "d", "c+d")


def locality(rule: str) -> tuple[int, str, str]:
    """Total state of the network's rules (locality pass, 4 bytes per value, histories of the
    100 steps of a sample), its scaling, and the network's locality class: the least local
    class among its rules (what a chip must support to train it)."""
    result = snnc("check", os.path.join(HERE, RULES[rule][0]), "--report", "locality",
                  "--steps", "100", "--format", "json")
    reports = json.loads(result.stdout)["summary"]["locality"]
    order = ("O(1)", "O(N)", "O(N^2)", "O(N T)", "O(N^3)")
    return (sum(r["state_bytes"] for r in reports),
            max((r["scaling"] for r in reports), key=order.index),
            max((r["class"] for r in reports), key=CLASSES.index))


def collect(out: str) -> list[dict]:
    rows = []
    for rule, (_, label) in RULES.items():
        runs = []
        folder = os.path.join(out, rule)
        for seed_dir in sorted(os.listdir(folder)) if os.path.isdir(folder) else []:
            try:
                with open(os.path.join(folder, seed_dir, "log.json")) as handle:
                    log = json.load(handle)
                with open(os.path.join(folder, seed_dir, "timing.json")) as handle:
                    timing = json.load(handle)
            except (OSError, ValueError):  # not finished, or not a log: not counted
                continue
            runs.append((log, timing))
        if not runs:
            continue
        accuracy = [100 * log["epochs"][-1]["test"]["accuracy"] for log, _ in runs]
        selected = [100 * log["summary"]["test_accuracy_at_best_validation"] for log, _ in runs]
        cosines = [r["compare"]["cosine"] for log, _ in runs for r in log["epochs"]
                   if "compare" in r]
        differences = [r["compare"]["max_relative_difference"] for log, _ in runs
                       for r in log["epochs"] if "max_relative_difference" in r.get("compare", {})]
        size, scaling, cls = locality(rule)
        rows.append({
            "rule": rule, "label": label, "class": cls,
            "seeds": [log["seed"] for log, _ in runs],
            "epochs": [len(log["epochs"]) for log, _ in runs],
            "test_accuracy": accuracy,
            "mean": statistics.mean(accuracy),
            "spread": statistics.stdev(accuracy) if len(accuracy) > 1 else 0.0,
            "test_accuracy_at_best_validation": selected,
            "cosine": statistics.mean(cosines) if cosines else None,
            "max_relative_difference": max(differences) if differences else None,
            "state_bytes": size, "scaling": scaling,
            "seconds_per_epoch": statistics.mean(t["train_seconds"] for _, timing in runs
                                                 for t in timing),
        })
    return rows


def kept_rows(rows: list[dict], path: str) -> list[dict]:
    """``rows`` and, for every rule without one, its row in the results file ``path``, in the
    order of RULES; a kept row gets its class from the locality analysis of today's file."""
    with open(path) as handle:
        earlier = {row["rule"]: row for row in json.load(handle)}
    mine = {row["rule"]: row for row in rows}
    merged = []
    for rule in RULES:
        row = mine.get(rule) or earlier.get(rule)
        if row is not None:
            if "class" not in row:
                row = {**row, "class": locality(rule)[2]}
            merged.append(row)
    return merged


def spread(values: list[float]) -> str:
    """mean ± standard deviation (and the values), or the single value."""
    if len(values) == 1:
        return f"{values[0]:.1f}"
    return (f"{statistics.mean(values):.1f} ± {statistics.stdev(values):.1f} "
            f"({', '.join(f'{v:.1f}' for v in values)})")


def table(rows: list[dict]) -> str:
    lines = ["| rule | class | seeds | epochs | test accuracy (%), last epoch | "
             "at best validation | cosine to exact gradient | rule state | s / epoch |",
             "|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        accuracy = spread(r["test_accuracy"])
        selected = spread(r["test_accuracy_at_best_validation"])
        if r["max_relative_difference"] is not None:
            cosine = f"{r['cosine']:.6f} (max rel. diff. {r['max_relative_difference']:.1e})"
        else:
            cosine = "1 (reference)" if r["rule"] == "bptt" else (
                f"{r['cosine']:.3f}" if r["cosine"] is not None else "-")
        epochs = "/".join(str(e) for e in sorted(set(r["epochs"])))
        lines.append(f"| {r['label']} | {r['class']} | {len(r['seeds'])} | {epochs} | "
                     f"{accuracy} | {selected} | "
                     f"{cosine} | "
                     f"{r['state_bytes']:,} B, {r['scaling']} | {r['seconds_per_epoch']:.0f} |")
    return "\n".join(lines)


def plot(out: str) -> None:
    """curves.png: test accuracy per epoch of every rule (mean over its seeds)."""
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("no curves.png without matplotlib: pip install 'snnc[plot]'")
        return
    fig, ax = plt.subplots(figsize=(7, 4))
    for rule, (_, label) in RULES.items():
        folder = os.path.join(out, rule)
        curves = []
        for seed_dir in sorted(os.listdir(folder)) if os.path.isdir(folder) else []:
            path = os.path.join(folder, seed_dir, "log.json")
            if os.path.exists(path):
                with open(path) as handle:
                    curves.append([100 * r["test"]["accuracy"] for r in json.load(handle)["epochs"]])
        if curves:
            length = min(len(c) for c in curves)
            mean = [statistics.mean(c[k] for c in curves) for k in range(length)]
            ax.plot(range(1, length + 1), mean, marker="o", label=f"{label} ({len(curves)} seeds)")
    ax.set(xlabel="epoch", ylabel="test accuracy (%)", ylim=(0, 100),
           title="Randman, reference setting")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(os.path.join(out, "curves.png"), dpi=90)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", default="runs/randman", help="folder for data, runs and table")
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    parser.add_argument("--rules", nargs="+", choices=sorted(RULES), default=list(RULES))
    parser.add_argument("--epochs", type=int, default=15, help="epochs of BPTT")
    parser.add_argument("--online-epochs", type=int, default=15,
                        help="epochs of the online rules")
    parser.add_argument("--rtrl-epochs", type=int, default=1, help="epochs of exact RTRL")
    parser.add_argument("--compare-every", type=int, default=25,
                        help="compare with the exact gradient every K-th batch")
    parser.add_argument("--jobs", type=int, default=2, help="runs at the same time")
    parser.add_argument("--table-only", action="store_true")
    parser.add_argument("--keep", metavar="RESULTS.json",
                        help="rows of rules without runs in --out are taken from this earlier "
                             "results file (e.g. examples/randman/results/results.json), their "
                             "locality class computed now: a table extended by new rules "
                             "without training the others again")
    args = parser.parse_args()
    try:
        os.makedirs(args.out, exist_ok=True)
    except OSError as error:
        parser.error(f"--out {args.out}: cannot be a folder ({error.strerror})")
    if not args.table_only:
        data = data_file(args.out)
        epochs = {"bptt": args.epochs, "rtrl": args.rtrl_epochs}
        jobs = [(rule, seed, epochs.get(rule, args.online_epochs))
                for seed in args.seeds for rule in args.rules]
        with ThreadPoolExecutor(args.jobs) as pool:
            for line in pool.map(lambda job: train(*job, args.out, data, args.compare_every),
                                 jobs):
                print(line, flush=True)
    rows = collect(args.out)
    if args.keep:
        try:
            rows = kept_rows(rows, args.keep)
        except (OSError, ValueError, KeyError, TypeError) as error:
            parser.error(f"--keep {args.keep}: not a results.json of this experiment "
                         f"({type(error).__name__}: {error})")
    text = table(rows)
    with open(os.path.join(args.out, "results.md"), "w") as handle:
        handle.write(text + "\n")
    with open(os.path.join(args.out, "results.json"), "w") as handle:
        json.dump(rows, handle, indent=2)
    plot(args.out)
    print(text)


if __name__ == "__main__":
    main()
