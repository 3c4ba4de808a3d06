"""Integer parameters for Xylo: weights, shifts, thresholds, biases, and the report.

A population's neurons keep snnc's membrane times a scale ``S`` (``v^x = S v``,
:mod:`snnc.backends.xylo.layout`). ``S`` is chosen per population so that its largest
threshold is ``2^(state_bits - 4)`` (4,096 of the 16-bit state: the membrane and the currents
can reach 8 thresholds before they saturate), then the weight shift of each matrix (input,
recurrent, output; one per matrix on the chip) is the smallest that brings every weight
``S W^x / 2^shift`` into the weight bits (``|w| <= 127``); where even ``weight_shift_max`` is not
enough, ``S`` shrinks until the largest weight is 127. A readout that does not spike is scaled
so that its largest weight is 127 at shift 0, its threshold the largest integer (it fires only
when its membrane saturates). Everything is rounded half to even (``np.round``, as Rockpool's
``global_quantize``)::

    w_int = round(S W^x / 2^shift)      threshold_int = round(S threshold)      bias_int = round(S b^x)

The report gives, per population, ``S``, the threshold, the decays (snnc's factor per step and
the chip's ``1 - 2^-dash``) and the bias with their relative errors, and per projection the
largest weight error relative to its largest weight and the weights rounded to zero.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from snnc.backends.xylo.layout import Placement, XyloNetwork, shift_decay


class NotRepresentable(ValueError):
    """A parameter outside the chip's integers; ``population`` names where."""

    def __init__(self, population: str, message: str, hint: str):
        super().__init__(message)
        self.population, self.hint = population, hint


@dataclass
class Quantized:
    """The specification (``XyloSim.from_specification``'s keywords) and the report."""
    spec: dict[str, object]
    report: dict[str, object] = field(default_factory=dict)


def largest(matrix: np.ndarray) -> float:
    return float(np.max(np.abs(matrix))) if matrix.size else 0.0


def needed_shift(scaled_max: float, limit: int, shift_max: int) -> int:
    """The smallest shift in ``0 .. shift_max`` that brings ``scaled_max`` to at most
    ``limit`` (``shift_max`` when none does)."""
    if scaled_max <= limit:
        return 0
    return min(shift_max, math.ceil(math.log2(scaled_max / limit) - 1e-12))


def quantize(layout: XyloNetwork, facts: dict, weight_bits: int = 8) -> Quantized:
    """The integer specification of ``layout`` for a chip with the neuron ``facts`` of its
    profile (``state_bits``, ``threshold_bits``, ``bias_bits``, ``weight_shift_max``)."""
    limit = 2 ** (weight_bits - 1) - 1
    threshold_max = 2 ** (int(facts.get("threshold_bits", 16)) - 1) - 1
    bias_max = 2 ** (int(facts.get("bias_bits", 16)) - 1) - 1
    headroom = 2 ** (int(facts.get("state_bits", 16)) - 4)
    shift_max = int(facts.get("weight_shift_max", 0))
    hidden, outputs = layout.hidden_neurons, layout.output_neurons

    def block_max(matrix: np.ndarray, place: Placement) -> float:
        return largest(matrix[:, place.start:place.stop])

    # the scale of each population from its threshold, then the shifts from the weights
    scales: dict[str, float] = {}
    for place, neurons in [(p, hidden) for p in layout.hidden] + \
                          [(p, outputs) for p in layout.outputs]:
        threshold = neurons.threshold[place.start:place.stop]
        top = float(np.max(threshold)) if threshold.size else 0.0
        if math.isinf(top):  # a readout without spikes: its weights fill the weight bits
            weights = block_max(layout.w_out, place)
            scales[place.name] = limit / weights if weights else 1.0
        elif top > 0:
            scales[place.name] = headroom / top
        else:
            raise NotRepresentable(place.name, f"'{place.name}' has a threshold of {top:g}; a "
                                   "Xylo neuron at or above its threshold fires every step, at "
                                   "rest too", "use a positive threshold")
    shifts = {}
    for matrix_name, matrix, places in (("in", layout.w_in, layout.hidden),
                                        ("rec", layout.w_rec, layout.hidden),
                                        ("out", layout.w_out, layout.outputs)):
        need = max((needed_shift(scales[p.name] * block_max(matrix, p), limit, shift_max)
                    for p in places), default=0)
        shifts[matrix_name] = need
        for p in places:  # where even the largest shift is not enough, S shrinks
            top = block_max(matrix, p)
            if top and scales[p.name] * top / 2 ** need > limit:
                scales[p.name] = limit * 2 ** need / top

    def per_neuron_scale(places: list[Placement], n: int) -> np.ndarray:
        scale = np.ones(n)
        for p in places:
            scale[p.start:p.stop] = scales[p.name]
        return scale

    s_hidden = per_neuron_scale(layout.hidden, layout.n_hidden)
    s_out = per_neuron_scale(layout.outputs, layout.n_out)

    def weights(matrix: np.ndarray, scale: np.ndarray, shift: int) -> np.ndarray:
        # scale broadcasts over the post axis (axis 1)
        shape = (1, -1) + (1,) * (matrix.ndim - 2)
        return np.round(matrix * scale.reshape(shape) / 2 ** shift).astype(np.int64)

    w_in = weights(layout.w_in, s_hidden, shifts["in"])
    w_rec = weights(layout.w_rec, s_hidden, shifts["rec"])
    w_out = weights(layout.w_out, s_out, shifts["out"])
    threshold = integers(hidden.threshold * s_hidden, threshold_max, "threshold", layout.hidden)
    finite = np.where(np.isinf(outputs.threshold), threshold_max / s_out, outputs.threshold)
    threshold_out = integers(finite * s_out, threshold_max, "threshold", layout.outputs)
    bias = integers(hidden.bias * s_hidden, bias_max, "bias", layout.hidden)
    bias_out = integers(outputs.bias * s_out, bias_max, "bias", layout.outputs)
    for values, places in ((threshold, layout.hidden), (threshold_out, layout.outputs)):
        for p in places:
            if np.any(values[p.start:p.stop] <= 0):
                raise NotRepresentable(p.name, f"a threshold of '{p.name}' rounds to 0 or "
                                       "below on Xylo (its thresholds differ by more than "
                                       f"{headroom:,} times)", "use closer thresholds")

    spec: dict[str, object] = {
        "weights_in": squeeze(w_in[:, :layout.n_ien], layout.slots),
        "weights_out": w_out[layout.n_hidden - layout.n_oen:],
        "dash_mem": hidden.dash_mem.copy(), "dash_mem_out": outputs.dash_mem.copy(),
        "dash_syn": hidden.dash_syn[:, 0].copy(), "dash_syn_out": outputs.dash_syn[:, 0].copy(),
        "threshold": threshold, "threshold_out": threshold_out,
        "bias": bias, "bias_out": bias_out,
        "weight_shift_in": shifts["in"], "weight_shift_rec": shifts["rec"],
        "weight_shift_out": shifts["out"], "dt": float(layout.dt)}
    if layout.slots > 1:
        spec["dash_syn_2"] = hidden.dash_syn[:, 1].copy()
    if any(route.matrix == "rec" for route in layout.routes.values()):
        spec["weights_rec"] = squeeze(w_rec, layout.slots)
    report = {
        "state_headroom": headroom, "weight_shift": shifts,
        "populations": population_report(layout, scales, threshold, threshold_out, bias,
                                         bias_out),
        "projections": projection_report(layout, scales, shifts, w_in, w_rec, w_out)}
    return Quantized(spec, report)


def squeeze(matrix: np.ndarray, slots: int) -> np.ndarray:
    """[pre, post] with one receptor slot, [pre, post, 2] with two."""
    return matrix[:, :, 0] if slots == 1 else matrix


def integers(values: np.ndarray, bound: int, what: str, places: list[Placement]) -> np.ndarray:
    """``round(values)`` as int64; NotRepresentable when one leaves [-bound - 1, bound]."""
    rounded = np.round(values)
    for p in places:
        part = rounded[p.start:p.stop]
        if part.size and (part.max() > bound or part.min() < -bound - 1):
            raise NotRepresentable(p.name, f"the {what} of '{p.name}' needs "
                                   f"{int(np.max(np.abs(part))):,} units on Xylo, more than its "
                                   f"{bound:,}", f"make the {what} of '{p.name}' smaller "
                                   "relative to its threshold")
    return rounded.astype(np.int64)


def relative(exact: np.ndarray, approx: np.ndarray) -> float:
    """max |approx - exact| / max |exact| (0 for an empty or all-zero ``exact``)."""
    top = largest(exact)
    return float(np.max(np.abs(approx - exact)) / top) if top else 0.0


def entry(value, quantized) -> dict:
    value, quantized = np.asarray(value, float), np.asarray(quantized, float)
    finite = np.isfinite(value)
    return {"value": float(np.max(value[finite])) if finite.any() else None,
            "quantized": float(np.max(quantized[finite])) if finite.any() else None,
            "relative_error": relative(value[finite], quantized[finite])}


def population_report(layout: XyloNetwork, scales, threshold, threshold_out, bias,
                      bias_out) -> dict:
    """Per population: S, the threshold and bias (in snnc's units, the chip's value divided
    by S), the decays of the membrane and of each current (snnc's factor, the chip's)."""
    report = {}
    for role, places, neurons, thr, b in (
            ("hidden", layout.hidden, layout.hidden_neurons, threshold, bias),
            ("output", layout.outputs, layout.output_neurons, threshold_out, bias_out)):
        for p in places:
            rows = slice(p.start, p.stop)
            scale = scales[p.name]
            decays = {"membrane": entry(neurons.a_mem[rows], shift_decay(neurons.dash_mem[rows]))}
            decays["membrane"]["dash"] = sorted({int(d) for d in neurons.dash_mem[rows]})
            for receptor, slot in layout.slot_of[p.name].items():
                if slot >= neurons.dash_syn.shape[1]:
                    continue
                label = "current" if receptor is None else f"receptor {receptor}"
                exact = neurons.a_syn[rows, slot]
                chip = shift_decay(neurons.dash_syn[rows, slot])
                item = entry(exact, chip) if np.isfinite(exact).all() else \
                    {"value": None, "quantized": float(chip.max()), "relative_error": None,
                     "note": "unfiltered in snnc; the chip filters every input"}
                item["dash"] = sorted({int(d) for d in neurons.dash_syn[rows, slot]})
                decays[label] = item
            report[p.name] = {
                "role": role, "neurons": [p.start, p.stop], "scale": scale,
                "threshold": entry(neurons.threshold[rows], thr[rows] / scale),
                "bias": entry(neurons.bias[rows], b[rows] / scale),
                "decays": decays}
    return report


def projection_report(layout: XyloNetwork, scales, shifts, w_in, w_rec, w_out) -> dict:
    """Per projection: its matrix and slot, the largest weight error relative to its largest
    weight (in snnc's units) and how many non-zero weights were rounded to zero."""
    matrices = {"in": (layout.w_in, w_in), "rec": (layout.w_rec, w_rec),
                "out": (layout.w_out[:, :, None], w_out[:, :, None])}
    report = {}
    for name, route in sorted(layout.routes.items()):
        exact, integer = matrices[route.matrix]
        block = (slice(route.pre.start, route.pre.stop),
                 slice(route.post.start, route.post.stop), route.slot)
        approx = integer[block] * 2.0 ** shifts[route.matrix] / scales[route.post.name]
        report[name] = {"matrix": route.matrix, "receptor_slot": route.slot,
                        "max_relative_error": relative(exact[block], approx),
                        "weights_zeroed": int(np.sum((exact[block] != 0) & (integer[block] == 0)))}
    return report

