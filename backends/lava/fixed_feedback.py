"""Feedback rules (e-prop with random feedback, the readout's delta; :mod:`.feedback`) in
Lava's fixed-point learning engine, as Loihi 2 would compute them.

What the engine multiplies are integers; each has a power-of-two scale ``sigma`` (integer =
sigma x floating-point value):

- ``y1 = round(sigma_psi psi(v - vth))``, computed by the post neuron from its integer
  membrane (``v - vth = (v_int - (vth << 6)) / S``, S the group's scale, quantize.py):
  ``sigma_psi`` puts psi's peak (at v = vth) in [64, 128] (:func:`psi_sigma`; 128 is sent as
  127, the engine's largest factor: only within 1/128 of the peak).
- the readout's error ``e = softmax(v) - onehot(label)`` is sent as ``round(128 e)``
  (:data:`ERROR_SIGMA`; |e| <= 1, and e reaches 127/128 only when the wrong class's
  probability does: clipped there), by ``ReadoutError`` from the readout's integer
  voltage ``v = v_int / S + offset``. That process and ``RandomFeedback`` run where Loihi 2
  runs such code, on its embedded CPU: their arithmetic inside (softmax, ``B e``) is floating
  point, what they send is the integers above.
- ``L = B e`` is sent as ``round(sigma_L L)`` with ``sigma_L`` the largest power of two with
  ``sigma_L max_i (max_j B_ij - min_j B_ij) <= 128`` (:func:`feedback_sigma`): as ``e`` sums to
  zero with one negative entry, ``|L_i| <= max_j B_ij - min_j B_ij``, so it saturates (at 127)
  at most at that bound.
- the pre traces ``x1``, ``x2`` (the cascade of e-prop's ``zbar`` with the learning rate in its
  impulses, :func:`.feedback.cascade`) take impulses of 16 to 31 units (:func:`.fixed_rule.scales`),
  fewer when a product's constant would otherwise fall below Loihi's smallest ``2^-7``
  (:func:`fit_traces`); an impulse below one unit is refused. The constant is proportional to
  the learning rate over the weight unit: the engine adds at least 1/128 unit per product and
  step to a weight (or nothing). A rule whose steps are smaller accumulates its products in the
  synapse's tag, 128 times finer, which the next step moves into the weight
  (:func:`through_tag`); only steps too small for that as well cannot learn in fixed point.

A product's fixed-point constant is then ``C 2^shift / (q prod sigma_f)``
(:mod:`.fixed_rule`): a power of two times the floating-point rule's constant (already
``m 2^e``), exact when its exponent is in [-7, 8]. Every rounding that remains (the impulses'
8-bit fractions) is reported; what cannot be expressed is a reason the program does not run in
fixed point (quantization.json, ``FIXED_POINT_BLOCKERS``).
"""

from __future__ import annotations

import math

import numpy as np

from snnc.backends.lava import fixed_rule as fr

#: integer units of the readout's error per unit (|e| <= 1: [-128, 127], clipped at 127)
ERROR_SIGMA = 128.0
Y_MAX = 127
#: a signal's largest value may reach this many units (sent as Y_MAX)
Y_REACH = 128
#: fraction bits of a trace impulse in Lava's engine (W_TRACE_FRACTIONAL_PART)
IMPULSE_FRACTION = 2 ** 8
#: tag units per weight unit when a rule's products go through the tag (:func:`through_tag`):
#: dw = 2^-7 t, Loihi's smallest constant
TAG_GAIN = 2 ** 7
#: how fit_traces says that a constant is too small (the tag may carry it)
BELOW = "below Loihi's 2^-7"


def psi_peak(kind: str, params: dict[str, float]) -> float:
    """The surrogate's largest value, at v = threshold (every surrogate of
    :data:`.feedback.SURROGATES` peaks there)."""
    from snnc.backends.lava.feedback import surrogate
    return float(surrogate(kind, params, np.array(0.0)))


def psi_sigma(kind: str, params: dict[str, float]) -> float | None:
    """sigma_psi: the largest power of two with sigma_psi peak <= 128 (so more than 64); None
    when psi has no positive finite peak (a zero gain)."""
    peak = psi_peak(kind, params)
    if not math.isfinite(peak) or peak <= 0:
        return None
    return 2.0 ** math.floor(math.log2(Y_REACH / peak))


def feedback_bound(matrix: np.ndarray) -> float:
    """The largest |L_i| of ``L = B e`` over every error of softmax minus a one-hot label."""
    matrix = np.asarray(matrix, float)
    return float((matrix.max(axis=1) - matrix.min(axis=1)).max(initial=0.0))


def feedback_sigma(matrix: np.ndarray) -> float:
    """sigma_L: the largest power of two with sigma_L bound <= 128 (1 for a zero B)."""
    bound = feedback_bound(matrix)
    if bound <= 0:
        return 1.0
    return 2.0 ** math.floor(math.log2(Y_REACH / bound))


def signal_scales(graph) -> tuple[dict[str, float], dict[str, float]]:
    """(sigma_psi per post group with a surrogate, sigma of the learning signal per projection
    of a feedback rule)."""
    psi = {g.name: psi_sigma(*g.feedback.surrogate) for g in graph.groups
           if g.feedback is not None and g.feedback.surrogate is not None
           and psi_sigma(*g.feedback.surrogate) is not None}
    signals = {f.projection: ERROR_SIGMA if f.matrix is None else feedback_sigma(f.matrix)
               for f in graph.feedbacks}
    return psi, signals


def out_of_range(value: float) -> int:
    """0 when ``value`` is m 2^e (m in [-8, 7], e in [-7, 8]); -1 when it is too small for
    that (or needs more mantissa bits), +1 when too large."""
    if fr.exponent_of(value) is not None:
        return 0
    return 1 if abs(value) >= 8 else -1


def fit_traces(terms, sigma: dict[str, float], target: float, impulses: dict[str, float],
               carrier: str = "the connection's weight unit") -> list[str]:
    """Move the pre traces' scales (in ``sigma``, halving or doubling) until each product's
    fixed-point constant is m 2^e; the reasons it cannot be (an impulse would fall below one
    trace unit or exceed 127). ``target`` is the integer units per unit of what the products
    add to, ``carrier`` says what that unit is."""
    problems: list[str] = []
    for factors, constant in terms:
        slot = next((f for f in factors if f in impulses), None)
        while True:
            rest = [f for f in factors if f not in fr.DEPENDENCIES]
            shift = max(0, sum(fr.WIDTHS[f] for f in rest) + fr.MANTISSA_BITS - fr.ACCUMULATOR)
            value = constant * target * 2.0 ** shift / math.prod(sigma[f] for f in rest)
            move = out_of_range(value)
            if move == 0:
                break
            key = " * ".join(factors)
            if slot is None:
                problems.append(f"the constant of {key} is {value:.3g} in fixed point, outside "
                                "Loihi's m * 2^e (e in [-7, 8]), and the product has no pre "
                                "trace whose impulse could take it")
                break
            scaled = impulses[slot] * sigma[slot] * (2.0 if move > 0 else 0.5)
            if move < 0 and scaled < 1:
                problems.append(f"the constant of {key} is {value:.3g} in fixed point, {BELOW}"
                                f", and the impulse of {slot} cannot shrink to "
                                f"carry it ({scaled:.3g}, less than one trace unit): the "
                                f"rule's steps are too small for {carrier}, "
                                f"{1 / target:.3g}; a larger learning rate, or a smaller "
                                "range of the weights (a finer unit), makes them expressible")
                break
            if move > 0 and scaled > Y_MAX:
                problems.append(f"the constant of {key} is {value:.3g} in fixed point, above "
                                f"Loihi's 7 * 2^8, and the impulse of {slot} cannot grow to "
                                f"carry it ({scaled:.3g}, more than 127 trace units): "
                                f"{carrier}, {1 / target:.3g}, is too fine for the rule")
                break
            sigma[slot] *= 2.0 if move > 0 else 0.5
    return problems


def fixed_feedback(rule, q: float, sigma_psi: float | None, sigma_third: float,
                   ) -> fr.FixedRule:
    """``rule`` (the LoihiRule of a feedback rule) in fixed point on a connection whose
    weight unit is ``q``, its post neuron sending y1 with ``sigma_psi`` and the learning
    signal (in ``rule.third.slot``) with ``sigma_third``.

    The products go straight into the weight when their constants fit; when a step's changes
    are too small for that, through the tag (:func:`through_tag`)."""
    sigma = fr.scales(rule)
    sigma.pop("t", None)
    for slot in ("y2", "y3"):
        sigma.pop(slot, None)
    sigma[rule.third.slot] = sigma_third
    if sigma_psi is not None:
        sigma["y1"] = sigma_psi
    sigma["w"] = 1.0 / q
    if sigma_psi is None and any("y1" in factors for factors, _ in rule.dw_terms):
        return fr.FixedRule(None, None, {}, sigma, None, None, problems=[
            "psi (surrogate(post.v)) has no positive peak to scale to the engine's 7 bits"])
    direct = dict(sigma), {t.slot: t.impulse for t in rule.traces}
    problems = fit_traces(rule.dw_terms, direct[0], 1.0 / q, direct[1])
    if problems and all(BELOW in p for p in problems):  # steps too small: try the tag
        tagged = dict(sigma, t=TAG_GAIN / q), {t.slot: t.impulse for t in rule.traces}
        problems = fit_traces(rule.dw_terms, tagged[0], TAG_GAIN / q, tagged[1],
                              "the tag's unit (1/128 of the weight unit, which the "
                              "tag carries over)")
        if not problems:
            return through_tag(rule, q, *tagged)
    sigma, impulses = direct
    dw, report, trouble = fr.fixed_terms(rule.dw_terms, sigma, 1.0 / q, "dw")
    problems = problems or trouble  # fit_traces already said why a constant does not fit
    return finished(fr.FixedRule(dw, None, {}, sigma, None, None, problems=problems,
                                 constants=report), impulses, sigma_third)


def through_tag(rule, q: float, sigma: dict[str, float], impulses: dict[str, float],
                ) -> fr.FixedRule:
    """The rule with its products accumulated in the synapse's tag, ``TAG_GAIN`` times finer
    than the weight, and moved into the weight one step later:

        dt = sum of the products (constants times TAG_GAIN) - u0 * t
        dw = 2^-7 * u0 * t

    Both read the previous step's tag (the engine evaluates dt and dw from the same state), so
    the weight takes each step's change one step late; the tag is rounded stochastically to a
    whole tag unit and the weight to a whole weight unit, each without bias, so the change of
    a step reaches the weight in the mean down to 2^-14 of a weight unit per product, where
    the weight alone stops at 2^-7. The tag holds one step's change, at most 255 tag units
    (2 weight units; larger steps saturate)."""
    dt, report, trouble = fr.fixed_terms(rule.dw_terms + [(("u0", "t"), -1.0)], sigma,
                                         sigma["t"], "dt")
    dw, more, problems = fr.fixed_terms([(("u0", "t"), 1.0)], sigma, 1.0 / q, "dw")
    report = {f"dt: {key}": value for key, value in report.items()} | more
    out = fr.FixedRule(dw, dt, {}, sigma, None, None, problems=trouble + problems,
                       constants=report)
    out.through_tag = True
    return finished(out, impulses, sigma[rule.third.slot])


def finished(out: fr.FixedRule, impulses: dict[str, float], sigma_third: float,
             ) -> fr.FixedRule:
    """``out`` with the pre traces' impulses in trace units and their 8-bit roundings."""
    roundings = []
    for slot, impulse in impulses.items():
        value = impulse * out.sigma[slot]
        out.impulses[f"{slot}_impulse"] = value
        whole = math.floor(value)
        rendered = whole + round((value - whole) * IMPULSE_FRACTION) / IMPULSE_FRACTION
        if rendered != value:
            roundings.append({"what": f"impulse of {slot} (8 fraction bits)", "exact": value,
                              "rendered": rendered,
                              "relative_error": abs(rendered - value) / value})
    out.roundings = roundings
    out.third_gain = sigma_third
    return out
