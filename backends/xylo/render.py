"""The files of a Xylo program: the specification, the layout, the report, the inputs snnc
draws, run.py and a README (:mod:`snnc.backends.xylo`)."""

from __future__ import annotations

import json

import numpy as np

from snnc.backends import templates
from snnc.backends.artifacts import save_npz
from snnc.backends.xylo.program import XyloProgram, input_spikes, recordable
from snnc.ir.discrete import step_count
from snnc.ir.network import Network

#: the Rockpool package of each chip's XyloSim and mapper (rockpool.devices.xylo.<package>)
ROCKPOOL_PACKAGES = {"xylo": "syns61201", "xylo_audio3": "syns65302", "xylo_imu": "syns63300"}


def rockpool_package(program: XyloProgram) -> str:
    """The chip's Rockpool package: that of the built-in profile the target is or is based on
    (its ``family``), Audio 2's for a profile of another family that computes Xylo's
    arithmetic."""
    return ROCKPOOL_PACKAGES.get(program.profile.family, ROCKPOOL_PACKAGES["xylo"])


def recorded(net: Network, program: XyloProgram) -> list[str]:
    """The program's 'record' statements the chip can record (:func:`recordable`), else every
    population's spikes."""
    wanted = [f"{r.owner}.{r.variable}" for r in net.records if not r.is_projection]
    wanted = [name for name in wanted if recordable(program, name)]
    layout = program.layout
    return wanted or [f"{p.name}.s" for p in layout.hidden + layout.outputs]


def drawn_inputs(program: XyloProgram, steps: int) -> dict[str, np.ndarray]:
    """The spikes snnc run draws for the Poisson and file inputs over ``steps`` steps (one
    sample, bool [steps, size]; :func:`snnc.backends.xylo.program.input_spikes`)."""
    spikes = input_spikes(program, steps)
    return {x.name: spikes[x.name][:, 0] for x in program.inputs if x.source != "data"}


def render_program(net: Network, program: XyloProgram, source_file: str,
                   version: str) -> dict[str, str | bytes]:
    layout = program.layout
    steps = step_count(net.settings)
    spec_arrays = {key: np.asarray(value) for key, value in program.spec.items()}
    package = rockpool_package(program)
    places = {kind: {p.name: [p.start, p.size] for p in places}
              for kind, places in (("inputs", layout.inputs), ("hidden", layout.hidden),
                                   ("outputs", layout.outputs))}
    layout_doc = {"chip": program.profile.name, "rockpool": package, "dt": layout.dt,
                  "hidden_neurons": layout.n_hidden, "input_expansion_neurons": layout.n_ien,
                  "output_expansion_neurons": layout.n_oen, "receptor_slots": layout.slots,
                  **places,
                  "scales": {name: entry["scale"] for name, entry in
                             program.quantized.report["populations"].items()}}
    sources = {x.name: x.source for x in net.inputs()}
    context = dict(
        name=net.settings.name, version=version, source_file=source_file,
        chip=program.profile.name, package=package,
        default_steps=steps, record=recorded(net, program), places=places,
        shapes={x.name: list(x.shape) for x in [*net.inputs(), *net.populations()]},
        sources=sources, data_inputs=[n for n, s in sources.items() if s == "data"],
        drawn=[n for n, s in sources.items() if s != "data"] if steps else [],
        max_hidden=int(program.profile.capacity.get("neurons_per_core", 1000)),
        max_output=int(program.profile.capacity.get("output_neurons", 8)),
        report=program.quantized.report, n_hidden=layout.n_hidden, n_ien=layout.n_ien,
        n_oen=layout.n_oen, slots=layout.slots, loss=loss_of(net))
    env = templates("snnc.backends.xylo")
    files: dict[str, str | bytes] = {
        name: env.get_template(name + ".j2").render(**context)
        for name in ("run.py", "README.md")}
    files["spec.npz"] = save_npz(spec_arrays)
    files["layout.json"] = json.dumps(layout_doc, indent=2, sort_keys=True) + "\n"
    files["quantization.json"] = json.dumps(program.quantized.report, indent=2,
                                            sort_keys=True) + "\n"
    if steps and context["drawn"]:
        files["inputs.npz"] = save_npz(drawn_inputs(program, steps))
    return files


def loss_of(net: Network) -> dict | None:
    """run.py's LOSS: the program's first loss (the one ``snnc run`` and ``snnc train`` decide
    the class with): population, variable, reduction; None without one."""
    if not net.losses:
        return None
    loss = net.losses[0]
    return {"population": loss.population, "variable": loss.variable,
            "reduction": loss.reduction}


def quantization_summary(report: dict) -> str:
    """One line: the chip, the weight shifts, the largest relative errors of thresholds,
    decays and weights, the weights rounded to zero."""
    worst = {"threshold": 0.0, "decays": 0.0, "weights": 0.0}
    for population in report["populations"].values():
        worst["threshold"] = max(worst["threshold"], population["threshold"]["relative_error"])
        for decay in population["decays"].values():
            if decay.get("relative_error") is not None:
                worst["decays"] = max(worst["decays"], decay["relative_error"])
    projections = report["projections"].values()
    worst["weights"] = max((p["max_relative_error"] for p in projections), default=0.0)
    zeroed = sum(p["weights_zeroed"] for p in projections)
    shifts = report["weight_shift"]
    parts = ", ".join(f"{name} {100 * value:.2g} %" for name, value in worst.items())
    return (f"  {report['chip']} integers: weight shifts in {shifts['in']}, rec {shifts['rec']}, "
            f"out {shifts['out']}; largest relative errors {parts}; {zeroed} weights rounded to "
            "zero (quantization.json)")
