"""A checked network as one Xylo program: its layout and its integer specification.

What the chip's checks (check-target's E405) let through but the integer program still cannot
express is E530 (a hidden population without spikes, a non-zero initial membrane, a delay
other than the chip's own), what it cannot represent in its integers E531
(:class:`snnc.backends.xylo.quantize.NotRepresentable`).

Xylo's delays are fixed (docs/synsense.md 1.4): an input event reaches its hidden neurons in
the step it arrives, a hidden spike reaches hidden and output neurons one step later. A
projection from an input may therefore have no delay, one from a hidden population none or
one step (snnc's ``delay = dt``, which the chip computes exactly).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from snnc.backends.xylo.layout import XyloNetwork, build_layout
from snnc.backends.xylo.quantize import NotRepresentable, Quantized, quantize
from snnc.diagnostics import Diagnostics
from snnc.ir.discrete import InputPlan, build_plan
from snnc.ir.network import Network
from snnc.ir.values import Constant
from snnc.targets import TargetProfile


@dataclass
class XyloProgram:
    """The chip, the network's layout on it, its integer specification, and the inputs of
    the discrete plan (their Poisson probabilities and file spikes) with the network's seed."""
    profile: TargetProfile
    layout: XyloNetwork
    quantized: Quantized
    inputs: list[InputPlan]
    seed: int

    @property
    def spec(self) -> dict[str, object]:
        return self.quantized.spec


def build_program(net: Network, profile: TargetProfile, diag: Diagnostics) -> XyloProgram | None:
    """The program of ``net`` on the chip ``profile`` (a network check-target accepted for
    it); None after E530/E531 (in ``diag``)."""
    errors = len(list(diag.errors()))
    inputs = {node.name for node in net.inputs()}
    for p in net.populations():
        if not p.readout and not p.model.properties.spiking:
            diag.error("E530", p.span, f"hidden population '{p.name}' ({p.model_name}) does not "
                       "spike; Xylo's hidden neurons communicate only by spikes",
                       hint="use CubaLIF (only a readout may be a non-spiking CubaLI)")
        v_init = p.params.get("v_init")
        if v_init is not None and not (isinstance(v_init, Constant) and v_init.value == 0.0):
            diag.error("E530", p.spans.get("v_init", p.span), f"'{p.name}' starts at v_init "
                       f"{v_init.describe()}; every Xylo neuron starts at 0",
                       hint="remove 'v_init' (or set it to 0)")
    for q in net.projections():
        most = 0 if q.pre in inputs else 1
        if q.delay_steps > most:
            kind = "an input" if most == 0 else "a hidden population"
            diag.error("E530", q.spans.get("delay", q.span), f"'{q.name}' has a delay of "
                       f"{q.delay_steps} step(s); on Xylo a projection from {kind} has "
                       f"{'none' if most == 0 else 'none or one step (the chip delivers one step later)'}",
                       hint="remove the delay" if most == 0 else
                            "remove the delay, or make it one step (delay = dt)")
    if len(list(diag.errors())) > errors:
        return None
    facts = profile.neurons
    plan = build_plan(net, "same_step")
    layout = build_layout(net, plan,
                          fastest=int(facts.get("decay_shift_min", 1)),
                          slots_max=int(facts.get("synaptic_states", 2)) or 1)
    try:
        quantized = quantize(layout, facts, int(profile.capacity.get("weight_bits", 8)))
    except NotRepresentable as problem:
        node = net.node(problem.population)
        diag.error("E531", node.span, f"{problem} ({profile.name})", hint=problem.hint)
        return None
    quantized.report["chip"] = profile.name
    return XyloProgram(profile, layout, quantized, plan.inputs, plan.seed)


def input_spikes(program: XyloProgram, steps: int, batch: int = 1, seed: int | None = None,
                 data: dict[str, np.ndarray] | None = None) -> dict[str, np.ndarray]:
    """Each input's spikes [steps, batch, size] (bool) as the reference simulator makes them:
    a data input's rows from ``data`` ([steps, batch or 1, *shape]; none: no spikes), a file
    input's rows for every sample, and Poisson input number k drawn from
    ``default_rng([seed, k])``, one ``random((batch, size)) < p`` per step (a block of steps in
    one call draws the same); ``seed`` defaults to the network's."""
    seed = program.seed if seed is None else seed
    spikes = {}
    for stream, x in enumerate(program.inputs):
        if x.source == "poisson":
            rng = np.random.default_rng([seed, stream])
            spikes[x.name] = rng.random((steps, batch, x.size)) < x.probability
            continue
        if x.source == "file":
            rows = np.asarray(x.spikes[:steps], dtype=bool).reshape(steps, 1, x.size)
        elif data is not None and x.name in data:
            rows = np.asarray(data[x.name][:steps], dtype=bool).reshape(steps, -1, x.size)
        else:
            rows = np.zeros((steps, 1, x.size), dtype=bool)
        spikes[x.name] = np.ascontiguousarray(np.broadcast_to(rows, (steps, batch, x.size)))
    return spikes


def input_counts(spikes: dict[str, np.ndarray], layout: XyloNetwork, steps: int,
                 batch: int) -> np.ndarray:
    """The chip's input events [steps, batch, Nin] (int64) from each input's spikes
    ([steps, batch, *shape], bool or counts), channels in the layout's order."""
    counts = np.zeros((steps, batch, layout.n_in), dtype=np.int64)
    for place in layout.inputs:
        given = np.asarray(spikes[place.name])[:steps]
        counts[:, :, place.start:place.stop] = given.reshape(steps, batch, place.size)
    return counts


def recordable(program: XyloProgram, name: str) -> bool:
    """Whether the chip records ``name``: '<population>.s', '.v', '.i' (the first synaptic
    current) and '<input>.s'."""
    owner, _, variable = name.rpartition(".")
    placed = program.layout.placement(owner)
    if placed is None:
        return False
    return variable == "s" or (placed[0] != "input" and variable in ("v", "i"))
