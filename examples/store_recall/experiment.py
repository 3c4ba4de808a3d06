"""Store-recall: online rules against BPTT on tasks that need memory (README.md here).

Trains every network of this folder with ``snnc train`` over several seeds on two settings of
the store-recall data set (generated from its seed 0): ``xor``, the label is the cue XOR the
probe (``--data store_recall``, the defaults), and ``cue``, the label is the cue
(``--data store_recall:shift=0``). Then it writes into ``results/`` here: ``results.md`` (the
table), ``results.json`` (its rows) and ``curves.png`` (test accuracy per epoch, mean and
standard deviation over the seeds). The table gives, for every setting and network, the
locality class of its rules (``snnc check FILE --report locality --format json``: the least
local of its projections, a < b < c < d < c+d), and its test accuracy after the last epoch and
at the epoch of best validation accuracy (mean ± standard deviation, then per seed).

    python examples/store_recall/experiment.py                 # everything (8-12 min on 2 cores)
    python examples/store_recall/experiment.py --table-only    # the table from finished runs

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
SETTINGS = {  # name -> (--data, title)
    "xor": ("store_recall", "label = cue XOR probe"),
    "cue": ("store_recall:shift=0", "label = cue (plain delayed cue)"),
}
RULES = {  # name -> (file, label)
    "bptt": ("bptt.snn", "BPTT (exact, offline)"),
    "eprop_symmetric": ("eprop_symmetric.snn", "e-prop, symmetric feedback"),
    "eprop_random": ("eprop_random.snn", "e-prop, random feedback"),
    "eprop_learned": ("eprop_learned.snn", "e-prop, learned feedback"),
    "readout_only": ("readout_only.snn", "readout only (hidden weights fixed; control)"),
}
CLASSES = ("a", "b", "c", "d", "c+d")  # from local to non-local


def snnc(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "snnc", *args], capture_output=True, text=True,
                          check=False)


def train(setting: str, rule: str, seed: int, epochs: int, out: str) -> str:
    folder = os.path.join(out, setting, rule, f"seed{seed}")
    args = ["train", os.path.join(HERE, RULES[rule][0]), "--data", SETTINGS[setting][0],
            "--epochs", str(epochs), "--seed", str(seed), "--batch", "32", "-o", folder]
    if os.path.exists(os.path.join(folder, "checkpoint.npz")):
        args.append("--resume")
    result = snnc(*args)
    if result.returncode:
        return f"{setting} {rule} seed {seed}: failed\n{result.stderr}"
    epochs = [line for line in result.stdout.splitlines() if line.startswith("epoch")]
    return f"{setting} {rule} seed {seed}: " + (epochs[-1] if epochs else "already trained")


def locality_class(rule: str) -> str:
    """The least local class of the network's rules (the locality pass)."""
    result = snnc("check", os.path.join(HERE, RULES[rule][0]), "--report", "locality",
                  "--format", "json")
    reports = json.loads(result.stdout)["summary"]["locality"]
    return max((r["class"] for r in reports), key=CLASSES.index)


def runs_of(out: str, setting: str, rule: str) -> list[dict]:
    """The logs of a rule's finished or interrupted runs in a setting, by seed."""
    folder = os.path.join(out, setting, rule)
    logs = []
    for seed_dir in sorted(os.listdir(folder)) if os.path.isdir(folder) else []:
        try:
            with open(os.path.join(folder, seed_dir, "log.json")) as handle:
                logs.append(json.load(handle))
        except (OSError, ValueError):  # not finished, or not a log: not counted
            continue
    return logs


def collect(out: str, settings: list[str], rules: list[str]) -> list[dict]:
    rows = []
    classes = {rule: locality_class(rule) for rule in rules}
    for setting, rule in ((s, r) for s in settings for r in rules):
        logs = runs_of(out, setting, rule)
        if not logs:
            continue
        accuracy = [100 * log["epochs"][-1]["test"]["accuracy"] for log in logs]
        selected = [100 * log["summary"]["test_accuracy_at_best_validation"] for log in logs]
        rows.append({
            "setting": setting, "data": SETTINGS[setting][0],
            "rule": rule, "label": RULES[rule][1], "file": RULES[rule][0],
            "class": classes[rule],
            "seeds": [log["seed"] for log in logs],
            "epochs": [len(log["epochs"]) for log in logs],
            "test_accuracy": accuracy,
            "mean": statistics.mean(accuracy),
            "spread": statistics.stdev(accuracy) if len(accuracy) > 1 else 0.0,
            "test_accuracy_at_best_validation": selected,
            "curves": [[100 * r["test"]["accuracy"] for r in log["epochs"]] for log in logs],
        })
    return rows


def spread(values: list[float]) -> str:
    """mean ± standard deviation (and the values), or the single value."""
    if len(values) == 1:
        return f"{values[0]:.1f}"
    return (f"{statistics.mean(values):.1f} ± {statistics.stdev(values):.1f} "
            f"({', '.join(f'{v:.1f}' for v in values)})")


def table(rows: list[dict]) -> str:
    lines = ["| task | rule | class | seeds | epochs | test accuracy (%), last epoch | "
             "at best validation |",
             "|---|---|---|---|---|---|---|"]
    for r in rows:
        epochs = "/".join(str(e) for e in sorted(set(r["epochs"])))
        lines.append(f"| {r['setting']} | {r['label']} | {r['class']} | {len(r['seeds'])} | "
                     f"{epochs} | {spread(r['test_accuracy'])} | "
                     f"{spread(r['test_accuracy_at_best_validation'])} |")
    return "\n".join(lines)


def plot(rows: list[dict], settings: list[str], path: str) -> None:
    """Test accuracy per epoch of every rule, one panel per setting: mean over the seeds, ± one
    standard deviation."""
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("no curves.png without matplotlib: pip install 'snnc[plot]'")
        return
    import numpy as np

    fig, axes = plt.subplots(1, len(settings), figsize=(6 * len(settings), 4.8), squeeze=False)
    for ax, setting in zip(axes[0], settings, strict=True):
        for k, r in enumerate(r for r in rows if r["setting"] == setting):
            length = min(len(c) for c in r["curves"])
            curves = np.array([c[:length] for c in r["curves"]])
            epochs = np.arange(1, length + 1)
            mean = curves.mean(axis=0)
            sd = curves.std(axis=0, ddof=1) if len(curves) > 1 else np.zeros(length)
            ax.plot(epochs, mean, marker="o", markersize=3, color=f"C{k}",
                    label=f"{r['label']} ({len(curves)} seeds)")
            ax.fill_between(epochs, mean - sd, mean + sd, color=f"C{k}", alpha=0.15)
        ax.axhline(50, color="grey", linestyle=":", linewidth=1, label="chance (50 %)")
        ax.set(xlabel="epoch", ylabel="test accuracy (%)", ylim=(30, 102),
               title=f"store-recall, {SETTINGS[setting][1]}")
        ax.xaxis.get_major_locator().set_params(integer=True)
        ax.grid(alpha=0.3)
    handles, labels = axes[0][0].get_legend_handles_labels()
    fig.legend(handles, labels, fontsize=8, loc="lower center", ncol=3)
    fig.tight_layout(rect=(0, 0.14, 1, 1))
    fig.savefig(path, dpi=90)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", default="runs/store_recall", help="folder for the runs")
    parser.add_argument("--results", default=os.path.join(HERE, "results"),
                        help="folder for results.md, results.json and curves.png")
    parser.add_argument("--settings", nargs="+", choices=list(SETTINGS), default=list(SETTINGS))
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    parser.add_argument("--rules", nargs="+", choices=list(RULES), default=list(RULES))
    parser.add_argument("--epochs", type=int, default=20, help="epochs of every rule")
    parser.add_argument("--jobs", type=int, default=2, help="runs at the same time")
    parser.add_argument("--table-only", action="store_true")
    args = parser.parse_args()
    for option, folder in (("--out", args.out), ("--results", args.results)):
        try:
            os.makedirs(folder, exist_ok=True)
        except OSError as error:
            parser.error(f"{option} {folder}: cannot be a folder ({error.strerror})")
    if not args.table_only:
        jobs = [(setting, rule, seed) for setting in args.settings for seed in args.seeds
                for rule in args.rules]
        with ThreadPoolExecutor(args.jobs) as pool:
            for line in pool.map(lambda job: train(*job, args.epochs, args.out), jobs):
                print(line, flush=True)
    rows = collect(args.out, args.settings, args.rules)
    text = table(rows)
    with open(os.path.join(args.results, "results.md"), "w") as handle:
        handle.write(text + "\n")
    with open(os.path.join(args.results, "results.json"), "w") as handle:
        json.dump(rows, handle, indent=2)
        handle.write("\n")
    plot(rows, args.settings, os.path.join(args.results, "curves.png"))
    print(text)


if __name__ == "__main__":
    main()
