"""A tour of snnc's Python API (docs/python-api.md): load a program and inspect it, simulate it
with inputs given as arrays, train it, simulate the trained network on the test split, compile
it for every backend, and read a mistake's diagnostics.

    python examples/api_tour.py [FOLDER]     # writes only under FOLDER (default: a new temp folder)

It takes a few seconds: one epoch of e-prop on a small Randman data set. What it found is also
written to FOLDER/tour.json (tests/test_api_tour.py checks it against the CLI).
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile

import numpy as np

import snnc
from snnc.backends import MissingExtra

PROGRAM = os.path.join(os.path.dirname(os.path.abspath(__file__)), "randman", "eprop_random.snn")
DATA = "randman:samples=50,steps=50,seed=3"  # 10 classes x 50 samples, 50 steps, 20 units


def inspect(net: snnc.Network) -> None:
    print(net)  # a short summary, whatever the size of the network
    for population in net.populations():
        print(f"  {population.name}: {population.size} {population.model_name} neurons, "
              f"reset {population.options.get('reset', '-')}")
    for projection in net.projections():
        rules = ", ".join(rule.name for rule in projection.rules) or "no rules"
        print(f"  {projection.name}: {projection.pre} -> {projection.post}, {rules}")


def simulate_untrained(net: snnc.Network) -> dict:
    """Random input spikes [steps, batch, 20] in, named arrays out."""
    rng = np.random.default_rng(0)
    spikes = rng.random((100, 4, 20)) < 0.05
    result = snnc.simulate(net, inputs={"units": spikes}, record=["hidden.s", "out.v"],
                           learn=False)
    print(result)
    print(f"  hidden spikes per sample: {result['hidden.s'].sum(axis=(0, 2)).tolist()}")
    return {name: list(array.shape) for name, array in result.items()}


def train(folder: str) -> tuple[snnc.Training, str]:
    data = os.path.join(folder, "data.npz")
    run = snnc.train(PROGRAM, data=DATA, epochs=1, batch=16, out=os.path.join(folder, "train"),
                     save_data=data, on_epoch=lambda record: print(
                         f"  epoch {record['epoch']}: loss {record['train']['loss']:.3f}, "
                         f"test accuracy {record['test']['accuracy']:.3f}"))
    print(run)
    return run, data


def simulate_trained(run: snnc.Training, data: str, folder: str) -> dict:
    """The test split as arrays, with the checkpoint's weights and no learning."""
    with np.load(data) as arrays:
        spikes, labels = arrays["test.units"], arrays["test.label"]
    result = snnc.simulate(PROGRAM, inputs={"units": spikes, "label": labels},
                           weights=run.checkpoint, learn=False, record="hidden.s,out.v")
    saved = result.save(os.path.join(folder, "test_run.npz"))  # as snnc run -o saves it
    # the same from the data file, on a network loaded once with the trained weights
    trained = snnc.load_network(PROGRAM, weights=run.checkpoint, learn=False)
    again = snnc.simulate(trained, inputs=data, split="test")
    print(f"  test accuracy: trainer {run.accuracy:.3f}, simulated {result.accuracy():.3f} "
          f"(arrays) and {again.accuracy():.3f} (data file)")
    return {"arrays": result.accuracy(), "file": again.accuracy(), "saved": saved,
            "samples": result.batch, "steps": result.steps}


def compile_everywhere(folder: str, checkpoint: str) -> dict:
    """The trained inference network for every backend (NIR: without the subtract reset)."""
    trained = snnc.load_network(PROGRAM, weights=checkpoint, learn=False)
    written = {}
    for backend, options in (("reference", {}), ("nir", {"allow_lossy": ["reset"]}),
                             ("lava", {})):
        try:
            files = snnc.compile(trained, backend, out=os.path.join(folder, backend), **options)
        except MissingExtra as missing:
            print(f"  {backend}: skipped ({missing})")
            continue
        except snnc.CompileError as error:
            print(f"  {backend}: refused: {error.diagnostics.items[0].code}")
            continue
        written[backend] = sorted(files)
        print(f"  {backend}: {', '.join(sorted(files))}")
    return written


def a_mistake(net: snnc.Network) -> str:
    """A misspelt input name: a CompileError carrying the diagnostics."""
    try:
        snnc.simulate(net, inputs={"unit": np.zeros((10, 20))})
    except snnc.CompileError as error:
        print(error)
        return error.diagnostics.items[0].code
    raise AssertionError("the misspelt input was accepted")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("folder", nargs="?", help="where to write (default: a new temp folder)")
    folder = parser.parse_args().folder or tempfile.mkdtemp(prefix="snnc-tour-")
    os.makedirs(folder, exist_ok=True)
    print(f"== load and inspect {os.path.relpath(PROGRAM)}")
    net = snnc.load_network(PROGRAM)
    inspect(net)
    print("== simulate with input arrays")
    shapes = simulate_untrained(net)
    print(f"== train one epoch into {folder}")
    run, data = train(folder)
    print("== simulate the trained network on the test split")
    tested = simulate_trained(run, data, folder)
    print("== compile the trained network")
    compiled = compile_everywhere(folder, run.checkpoint)
    print("== a mistake")
    code = a_mistake(net)
    tour = {"program": PROGRAM, "summary": repr(net), "shapes": shapes, "data": data,
            "checkpoint": run.checkpoint, "logged_test_accuracy": run.accuracy,
            "simulated_test_accuracy": tested, "compiled": compiled, "mistake": code}
    with open(os.path.join(folder, "tour.json"), "w", encoding="utf-8") as handle:
        json.dump(tour, handle, indent=2)
    print(f"== wrote {folder}")


if __name__ == "__main__":
    main()
