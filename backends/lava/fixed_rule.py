"""A learning rule in Lava's fixed-point learning engine (``fixed_pt``, lava-nc 0.10.0's
``PyLearningDenseModelBitApproximate``).

The engine keeps traces as 7-bit integers (``x1``, ``x2`` decay as ``exp(-1/tau) x`` rounded
stochastically, impulses with an 8-bit fraction added stochastically; the post neuron sends
``y1``, ``y2``, ``y3`` as integers in [-128, 127]), the tag ``t`` and the weight as 9-bit signed
integers, and evaluates each product of a rule as

    ((dependency * factor_1 * ... * m) >> max(0, sum of widths + 4 - 15)) << (e + 7)

in a 16-bit accumulator in which one unit of the weight or the tag is 2^7 (the widths: 7 for a
trace, 9 for ``t`` and ``w``, 1 for a spike factor); the sum is rounded stochastically to a
whole weight (tag) unit, with one random number per step for all synapses (Lava's
``ConnVarRandom``, seeded), and saturated.

Each factor's integer is ``sigma_f`` times its floating-point value (a power of two: an
engine trace's impulse takes 16 to 31 units, the third factor of a unit reward 32 to 63 units,
the tag half the resolution of the traces that feed it) and the weight's unit is the
connection's ``q = 64 2^weight_exp / S`` (quantize.py). A product whose floating-point constant
is ``C`` then has the fixed-point constant ``C 2^shift / (q prod sigma_f)`` (a weight) or
``C sigma_t 2^shift / prod sigma_f`` (the tag): a power of two times C's mantissa, exact when
its exponent is in [-7, 8]; one outside is a reason the program cannot learn in fixed point.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

#: the widths Lava 0.10.0 gives each factor (constants.FACTOR_TO_WIDTH_DICT)
WIDTHS = {"x0": 1, "y0": 1, "x1": 7, "x2": 7, "y1": 7, "y2": 7, "y3": 7, "w": 9, "t": 9}
ACCUMULATOR = 15
MANTISSA_BITS = 4
TRACE_MAX = 127
EXPONENTS = range(-7, 9)
DEPENDENCIES = ("x0", "y0", "u0")
#: 12-bit decay and scale registers of the post neuron (as Lava's LIF du and dv)
REGISTER = 4096
#: fraction bits of the post neuron's y1 state
Y1_FRACTION = 2 ** 8


@dataclass
class FixedRule:
    """The fixed-point form of a rule on one connection."""

    dw: str | None
    dt: str | None
    impulses: dict[str, int]  # x1_impulse, x2_impulse (Lava splits off an 8-bit fraction)
    sigma: dict[str, float]  # integer = sigma * floating-point value, per factor
    low: int | None  # the rule's bounds in weight units
    high: int | None
    neuron: dict[str, int] = field(default_factory=dict)  # the post neuron's registers
    third_gain: float | None = None  # the source's integer third factor per unit reward
    problems: list[str] = field(default_factory=list)
    constants: dict[str, dict] = field(default_factory=dict)  # the report
    roundings: list[dict] = field(default_factory=list)  # what fixed point rounds (the report)
    through_tag: bool = False  # the products accumulate in the tag (fixed_feedback.through_tag)


def power_of_two_for(value: float, low: float) -> float:
    """The power of two s with low <= s |value| < 2 low (1 for a zero value)."""
    if not value:
        return 1.0
    return 2.0 ** math.ceil(math.log2(low / abs(value)))


def scales(rule) -> dict[str, float]:
    """sigma per factor: traces' impulses in [16, 32), the third factor of a unit reward in
    [32, 64), the tag half the finest resolution of the traces it sums."""
    sigma = {"x0": 1.0, "y0": 1.0, "u0": 1.0}
    for trace in rule.traces:
        sigma[trace.slot] = power_of_two_for(trace.impulse, 16)
    if rule.third is not None:
        sigma["y2"] = sigma["y3"] = power_of_two_for(rule.third.gain or 1.0, 32)
    if rule.tag is not None:
        feeding = [sigma[f] for factors, _ in rule.dt_terms for f in factors
                   if f in ("x1", "x2", "y1", "y2", "y3")]
        sigma["t"] = min(feeding, default=8.0) / 2
    return sigma


def fixed_terms(terms, sigma: dict[str, float], target_scale: float,
                what: str) -> tuple[str | None, dict[str, dict], list[str]]:
    """The rule string in fixed point of ``terms`` (factors, floating-point constant) whose
    target has ``target_scale`` integer units per floating-point unit."""
    from snnc.backends.lava.learning import rule_text
    out, report, problems = [], {}, []
    for factors, constant in terms:
        shift = shift_of(factors)
        value = constant * target_scale * 2.0 ** shift / math.prod(
            sigma[f] for f in factors if f not in DEPENDENCIES)
        key = " * ".join(factors)
        report[key] = {"float": constant, "fixed": value, "shift": shift}
        if exponent_of(value) is None:
            problems.append(f"the constant of {key} in {what} is {value:.3g} in fixed point, "
                            "outside Loihi's m * 2^e (e in [-7, 8])")
            continue
        out.append((factors, value))
    return rule_text(out, lambda factors, value: widest(value) if shift_of(factors) else None
                     ), report, problems


def shift_of(factors) -> int:
    """How many low bits the engine drops from a product of ``factors`` (its dependency
    included): the factors' widths and the mantissa's 4 bits beyond the 15-bit accumulator."""
    rest = list(factors)
    rest.remove(next(f for f in factors if f in DEPENDENCIES))  # Lava's dependency
    return max(0, sum(WIDTHS[f] for f in rest) + MANTISSA_BITS - ACCUMULATOR)


def widest(value: float) -> str:
    """``value`` (an exact m 2^e) as ``"m * 2^e"`` with the widest mantissa |m| <= 7, the
    smallest e: the engine multiplies a product by m before its right shift and shifts it left
    by e + 7 after, so 4 * 2^-7 keeps two more of the product's low bits than 1 * 2^-5. (-8
    is left out: a rule string writes the sign apart, and Lava halves a mantissa of 8.)"""
    e = next((e for e in EXPONENTS if (value / 2.0 ** e).is_integer()
              and abs(value / 2.0 ** e) <= 7), exponent_of(value))
    return f"{int(value / 2.0 ** e)} * 2^{e}"


def exponent_of(value: float) -> int | None:
    """e when value = m 2^e with m in [-8, 7] and e in [-7, 8], else None."""
    for e in EXPONENTS:
        m = value / 2.0 ** e
        if m.is_integer() and -8 <= m <= 7:
            return e
    return None


def fixed_rule(rule, q: float) -> FixedRule:
    """``rule`` (a LoihiRule) in fixed point on a connection whose weight unit is ``q`` (in
    Lava's floating-point weight units)."""
    sigma = scales(rule)
    sigma["w"] = 1.0 / q
    dw, report, problems = fixed_terms(rule.dw_terms, sigma, 1.0 / q, "dw")
    dt = None
    if rule.tag is not None:
        dt, more, trouble = fixed_terms(rule.dt_terms, sigma, sigma["t"], "dt")
        report.update({f"dt: {k}": v for k, v in more.items()})
        problems += trouble
    impulses = {}
    for trace in rule.traces:
        if rule.third is not None and trace.slot.startswith("y"):
            continue
        impulses[f"{trace.slot}_impulse"] = trace.impulse * sigma[trace.slot]
        if impulses[f"{trace.slot}_impulse"] > TRACE_MAX:
            problems.append(f"the impulse of {trace.slot} exceeds the 7-bit trace")
    low = None if rule.low is None else math.ceil(rule.low / q - 1e-9)
    high = None if rule.high is None else math.floor(rule.high / q + 1e-9)
    out = FixedRule(dw, dt, impulses, sigma, low, high, problems=problems, constants=report)
    if rule.third is not None:
        post = rule.post_trace
        out.third_gain = (rule.third.gain or 1.0) * sigma["y2"]
        out.neuron = {
            "y1_decay": round((rule.post_decay or 0.0) * REGISTER),
            "y1_impulse": round(post.impulse * sigma["y1"] * Y1_FRACTION) if post else 0,
            "y3_factor": round((rule.y3_factor or 0.0) * REGISTER)}
    return out
