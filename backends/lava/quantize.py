"""Fixed-point parameters for Lava's bit-accurate LIF and Dense models (``fixed_pt``).

Lava 0.10.0's fixed-point LIF keeps u and v as 24-bit integers and computes::

    u <- (u (4096 - du - 1)) >> 12 + (a_in << 6)        (du: 12 bits, 0..4095)
    v <- (v (4096 - dv)) >> 12 + u + (bias_mant << bias_exp)
    s  = v > (vth << 6)                                 (vth: 17 bits)

(the shifts truncate toward zero), and a Dense connection sends ``sum_j w_ij s_j`` shifted by
``weight_exp`` with 8-bit weights (mixed signs lose the lowest bit). A group's voltage is
represented as ``v_int = S v'`` with ``S = 2^k`` chosen so that the threshold uses most of the
range (``S vth <= 2^20``: v and u can reach 8 thresholds in their 24 bits, and one step's
input, a 16-bit activation shifted by 6, two); its incoming weights become
``w_int = round(S w / (64 2^weight_exp))`` with the smallest exponent in [-8, 7] that keeps
them in 8 bits. Decays are rounded to 1/4096. The subtractive reset of SubtractLIF<k> removes
``v_sub_int = (vth << 6) + round(S v_reset)`` (threshold = vth + v_reset): exactly the integer
threshold the spike is compared with when ``v_reset = 0``. The report gives, per parameter, the value, its
quantized value and the relative error.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from snnc.backends.lava.fixed_feedback import ERROR_SIGMA, fixed_feedback, signal_scales
from snnc.backends.lava.fixed_rule import FixedRule, fixed_rule
from snnc.backends.lava.graph import Connection, LavaGraph, NeuronGroup

V_BITS = 24
HEADROOM = 2 ** (V_BITS - 4)  # S vth = 2^20: v and u reach 8 thresholds in 24 bits
VTH_MAX = 2 ** 17 - 1
BIAS_MANT_MAX = 2 ** 12 - 1
SHIFT = 64  # thresholds and activations are shifted left by 6 bits


@dataclass
class FixedGroup:
    scale: float  # S: v_int = S v'
    du: int | list[int]  # one register per current for CurrentsLIF / SubtractLIF
    dv: int
    vth: int
    bias_mant: np.ndarray
    bias_exp: np.ndarray
    v_init: np.ndarray
    errors: dict[str, tuple[float, float, float]]  # name -> (value, quantized, relative error)
    v_sub: np.ndarray | None = None  # SubtractLIF: subtracted after a spike (integer)


@dataclass
class FixedConnection:
    weights: np.ndarray
    weight_exp: int
    num_weight_bits: int
    relative_error: float  # max |w - w_q| / max |w|
    zeroed: int  # nonzero weights that became zero


@dataclass
class FixedPoint:
    groups: dict[str, FixedGroup] = field(default_factory=dict)
    connections: dict[str, FixedConnection] = field(default_factory=dict)
    rules: dict[str, FixedRule] = field(default_factory=dict)  # plastic connection -> rule
    blockers: list[str] = field(default_factory=list)  # why fixed_pt cannot run this program
    signals: dict[str, dict] = field(default_factory=dict)  # feedback signals' integer scales

    def report(self) -> dict:
        return {
            "runs_in_fixed_pt": not self.blockers,
            "blockers": self.blockers,
            "groups": {name: {"scale": g.scale, "du": g.du, "dv": g.dv, "vth": g.vth,
                              "errors": {k: {"value": v, "quantized": q, "relative_error": e}
                                         for k, (v, q, e) in g.errors.items()}}
                       for name, g in self.groups.items()},
            "connections": {name: {"weight_exp": c.weight_exp,
                                   "num_weight_bits": c.num_weight_bits,
                                   "max_relative_error": c.relative_error,
                                   "weights_zeroed": c.zeroed}
                            for name, c in self.connections.items()},
            "rules": {name: {"dw": r.dw, "dt": r.dt, "impulses": r.impulses,
                             "scales": r.sigma, "bounds": [r.low, r.high],
                             "post_neuron": r.neuron, "third_factor_per_unit": r.third_gain,
                             "constants": r.constants, "problems": r.problems,
                             **({"through_tag": True} if r.through_tag else {}),
                             **({"roundings": r.roundings} if r.roundings else {})}
                      for name, r in self.rules.items()},
            **({"feedback_signals": self.signals} if self.signals else {}),
        }


def relative(value: float, quantized: float) -> float:
    if value == quantized:
        return 0.0
    return abs(quantized - value) / abs(value) if value else math.inf


def quantize_decay(d: float, offset: int) -> tuple[int, float]:
    """The 12-bit register for decay ``d`` (effective decay (register + offset) / 4096)."""
    register = int(np.clip(round(d * 4096) - offset, 0, 4095))
    return register, (register + offset) / 4096


def group_scale(g: NeuronGroup, incoming: list[Connection]) -> float:
    """S = 2^k with S |vth| <= 2^20 (readouts: with the largest input a step can bring)."""
    if math.isfinite(g.vth) and g.vth > 0:
        reach = g.vth
    else:
        drive = sum(np.abs(c.weights).sum(axis=1).max(initial=0.0) for c in incoming)
        reach = max(drive / max(g.du, 1 / 4096) / max(g.dv, 1 / 4096),
                    float(np.abs(g.bias).max(initial=0.0)) / max(g.dv, 1 / 4096), 1e-12)
    return 2.0 ** math.floor(math.log2(HEADROOM / reach))


def quantize_group(g: NeuronGroup, scale: float) -> FixedGroup:
    du, du_q = quantize_decay(g.du, 1)
    extra = [quantize_decay(d, 1) for d in g.extra_du]
    dv, dv_q = quantize_decay(g.dv, 0)
    vth = VTH_MAX if not math.isfinite(g.vth) else \
        int(np.clip(round(scale * g.vth / SHIFT), 0, VTH_MAX))
    target = np.round(scale * g.bias)
    bias_exp = np.zeros(g.size, dtype=np.int64)
    while np.any(np.abs(target) / 2.0 ** bias_exp > BIAS_MANT_MAX) and bias_exp.max() < 7:
        bias_exp = np.where(np.abs(target) / 2.0 ** bias_exp > BIAS_MANT_MAX, bias_exp + 1,
                            bias_exp)
    bias_mant = np.clip(np.round(target / 2.0 ** bias_exp), -BIAS_MANT_MAX, BIAS_MANT_MAX)
    bias_q = bias_mant * 2.0 ** bias_exp / scale
    worst = int(np.argmax(np.abs(bias_q - g.bias))) if g.size else 0
    errors = {"du": (g.du, du_q, relative(g.du, du_q)), "dv": (g.dv, dv_q, relative(g.dv, dv_q))}
    for k, (d, (_, d_q)) in enumerate(zip(g.extra_du, extra, strict=True), start=1):
        errors[f"du_{k}"] = (d, d_q, relative(d, d_q))
    if math.isfinite(g.vth):
        vth_q = vth * SHIFT / scale
        errors["vth"] = (g.vth, vth_q, relative(g.vth, vth_q))
    if g.size and np.any(g.bias):
        errors["bias"] = (float(g.bias[worst]), float(bias_q[worst]),
                          relative(float(g.bias[worst]), float(bias_q[worst])))
    v_init = np.clip(np.round(scale * g.v_init), -HEADROOM * 2 + 1, HEADROOM * 2 - 1)
    v_sub = None
    if g.subtracts:
        v_sub = np.where(g.v_sub != 0, vth * SHIFT + np.round(scale * (g.v_sub - g.vth)), 0)
        v_sub = v_sub.astype(np.int64)
    registers = [du, *(r for r, _ in extra)] if g.generated else du
    return FixedGroup(scale, registers, dv, vth, bias_mant.astype(np.int64), bias_exp,
                      v_init.astype(np.int64), errors, v_sub)


def quantize_connection(c: Connection, scale: float) -> FixedConnection:
    """8-bit weights: w_int = round(S w / (64 2^e)) with the smallest e in [-8, 7] that fits
    (for a plastic connection, that fits its bounds too)."""
    target = scale * c.weights / SHIFT
    mixed = bool((c.weights > 0).any() and (c.weights < 0).any())
    if c.rule is not None and c.rule.low is None:
        mixed = True  # a plastic connection without bounds learns in Lava's mixed sign mode
    limit = 254 if mixed else 255
    largest = float(np.abs(target).max(initial=0.0))
    if c.rule is not None and c.rule.low is not None:
        largest = max(largest, scale * max(abs(c.rule.low), abs(c.rule.high)) / SHIFT)
    exponent = -8
    while exponent < 7 and largest / 2.0 ** exponent > limit:
        exponent += 1
    step = 2 if mixed else 1
    weights = np.clip(np.round(target / 2.0 ** exponent / step) * step, -256 if mixed else -255,
                      limit)
    quantized = weights * 2.0 ** exponent * SHIFT / scale
    peak = float(np.abs(c.weights).max(initial=0.0))
    error = float(np.abs(quantized - c.weights).max(initial=0.0)) / peak if peak else 0.0
    zeroed = int(np.count_nonzero((weights == 0) & (c.weights != 0)))
    return FixedConnection(weights.astype(np.int64), exponent, 8, error, zeroed)


def quantize(graph: LavaGraph) -> FixedPoint:
    out = FixedPoint()
    for g in graph.groups:
        incoming = [c for c in graph.connections if c.post == g.name]
        scale = group_scale(g, incoming)
        out.groups[g.name] = quantize_group(g, scale)
        for c in incoming:
            out.connections[c.name] = quantize_connection(c, scale)
    for c in graph.connections:
        if c.rule is None:
            continue
        q = 2.0 ** out.connections[c.name].weight_exp * SHIFT / out.groups[c.post].scale
        if c.rule.signal == "local_readout":  # DECOLLE (.local_readout): floating point only
            out.blockers.append(f"{c.rule.rule} on {c.name}: its local readout's signal is "
                                "computed in floating point only")
            continue
        if c.rule.signal in FEEDBACK_SIGNALS:
            out.rules[c.name] = rule = feedback_rule(graph, c, q, out)
        else:
            out.rules[c.name] = rule = fixed_rule(c.rule, q)
        out.blockers += [f"{c.rule.rule} on {c.name}: {p}" for p in rule.problems]
        if c.rule.low is not None and c.rule.low < 0 < c.rule.high:
            out.blockers.append(f"{c.rule.rule} on {c.name}: weights of both signs (Lava's "
                                "fixed-point learning keeps one sign per connection)")
    return out


#: the learning signals computed by the program's feedback processes
#: (snnc.backends.lava.feedback.FEEDBACK_GENERATORS; their fixed point: .fixed_feedback)
FEEDBACK_SIGNALS = ("random_feedback", "readout_error")


def feedback_rule(graph: LavaGraph, c: Connection, q: float, out: FixedPoint) -> FixedRule:
    """The fixed-point form of a feedback rule on ``c``; the scales of the signals its
    processes send go into ``out.signals`` (the report)."""
    psi, signals = signal_scales(graph)
    rule = fixed_feedback(c.rule, q, psi.get(c.post), signals[c.projection])
    out.signals.update({f"y1 of {name}": {"sigma": s, "what": "psi(v - vth)"}
                        for name, s in psi.items()})
    out.signals.update({f"{f.slot} of {f.post} ({f.projection})": {
        "sigma": signals[f.projection],
        "what": "readout error e" if f.matrix is None else "B e"} for f in graph.feedbacks})
    out.signals.update({f"e of {e.readout}": {"sigma": ERROR_SIGMA,
                                              "what": "softmax(v) - onehot(label)"}
                        for e in graph.errors})
    return rule
