"""Learning rules recognised, from their expressions, as NEST's reward-modulated STDP
(``stdp_dopamine_synapse`` with a ``volume_transmitter``, NEST 3.10).

NEST's synapse keeps an eligibility c (decay tau_c; ``+A_plus K_plus`` at a post spike,
``-A_minus K_minus`` at a pre spike, a same-step pair in neither window, as ``stdp_synapse``), a
dopamine trace n (decay tau_n; ``+1/tau_n`` per dopamine spike, with multiplicity) and
integrates ``dw/dt = c (n - b)`` exactly between events. Over a step whose events are at t_k,
c and n are exponentials from their values after the step's jumps, c_k and n_k, so NEST's change
of the step is ``c_k (n_k F - b G)`` with ``F = -expm1(-taus h)/taus`` (taus = 1/tau_c + 1/tau_n)
and ``G = -tau_c expm1(-h/tau_c)``: a constant multiple of c_k n_k and of c_k.

A rule is this when, in the typed rule IR, it has a trace ``lowpass(pre.s, tau_plus[, k])`` (x),
one ``lowpass(post.s, tau_minus[, k])`` (y), one ``lowpass(E, tau_c[, k])`` (c) with E a sum of
``x post.s``, ``y pre.s`` and ``pre.s post.s`` whose same-step pair changes nothing (NEST's
pairing, as :mod:`.rules`), optionally one ``lowpass(r, tau_n[, k])`` (n) of its one signal
``r = reward``, ``optimizer = sgd``, constant bounds, and its updates (no trigger) expand to

    dw = P c n + Q c r + R c          (constants: calls such as decay(tau) of constants fold)

with Q != 0, and, with n, ``P k_n = Q d(tau_n)`` (n holds the previous step's dopamine, as a
trace reads a signal before the signal is updated, so ``d n + k_n r`` is n_k); without n,
``P = 0`` and NEST's tau_n is h/1000 (its decay exp(-1000) is 0: the dopamine acts within its
step only). The reward of a step is the count of dopamine spikes (multiplicity) the emitted
program sends to the volume transmitter. With s the backend's weight scale, lr the rule's, the
rule's weight change equals NEST's step by step when ``A_plus = s lr Q tau_n k_c A / F``,
``A_minus = s lr Q tau_n k_c B / F`` (A, B the coefficients of x post.s and -y pre.s, with the
traces' scales), ``b = -R F / (Q tau_n G)``, ``Wmin, Wmax = s bounds`` and every time constant
chosen so that exp(-h/tau) is snnc's decay to the bit (so euler integration maps too).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from snnc.backends.nest.rules import (
    SAME_STEP_TOLERANCE,
    Expander,
    NotPairStdp,
    constant,
    multiply,
    spike_traces,
)
from snnc.ir import rules as ir
from snnc.ir.discrete import decay
from snnc.ir.network import Network
from snnc.ir.nodes import RuleInstance

#: relative tolerance of P k_n = Q d(tau_n)
RATIO_TOLERANCE = 1e-9
#: NEST's tau_n (in steps) for a rule without a dopamine trace: exp(-1000) is 0.0
NO_MEMORY_STEPS = 1e-3


@dataclass
class DopamineStdp:
    """A rule instance as NEST's stdp_dopamine_synapse (per unit weight of snnc's)."""

    model: ClassVar[str] = "stdp_dopamine_synapse"
    rule: str
    decay_plus: float
    decay_minus: float
    decay_c: float
    decay_n: float  # 0.0: no dopamine trace (NEST's tau_n is h/1000)
    a_plus: float  # NEST's A_plus per unit of the weight scale
    a_minus: float
    b: float  # NEST's b, 1/ms
    w_min: float  # snnc's
    w_max: float

    def synapse(self, h: float, scale: float) -> dict[str, float]:
        """NEST's parameters (``h`` the step in ms, ``scale`` NEST's weight per unit of snnc's),
        without the volume transmitter."""
        from snnc.backends.nest.graph import nest_tau
        return {"A_plus": self.a_plus * scale, "A_minus": self.a_minus * scale,
                "tau_plus": nest_tau(h, self.decay_plus), "tau_c": nest_tau(h, self.decay_c),
                "tau_n": nest_tau_n(h, self.decay_n), "b": self.b,
                "Wmin": self.w_min * scale, "Wmax": self.w_max * scale}

    def post_tau_minus(self, h: float) -> float:
        from snnc.backends.nest.graph import nest_tau
        return nest_tau(h, self.decay_minus)


def nest_tau_n(h: float, decay_n: float) -> float:
    from snnc.backends.nest.graph import nest_tau
    return nest_tau(h, decay_n) if decay_n > 0 else NO_MEMORY_STEPS * h


def nest_integrals(h: float, decay_c: float, decay_n: float) -> tuple[float, float, float]:
    """(F, G, tau_n) in ms as NEST computes them from its time constants (module docstring)."""
    from snnc.backends.nest.graph import nest_tau
    tau_c, tau_n = nest_tau(h, decay_c), nest_tau_n(h, decay_n)
    taus = (tau_c + tau_n) / (tau_c * tau_n)
    return float(-np.expm1(-taus * h) / taus), float(-tau_c * np.expm1(-h / tau_c)), tau_n


class DopamineExpander(Expander):
    """Expands as :class:`~.rules.Expander`, with the factors ``c``, ``n`` (the rule's
    eligibility and dopamine traces) and ``r`` (the reward signal), and calls of constants
    folded (``decay(tau)`` by the network's integration)."""

    model = "stdp_dopamine_synapse"

    def __init__(self, instance: RuleInstance, traces: dict[str, str], signal: str, settings):
        super().__init__(instance, traces)
        self.signal = signal
        self.settings = settings

    def visit_SignalRef(self, node):
        if node.name == self.signal:
            return {("r",): 1.0}
        where = "the reward" if self.signal else "read in the eligibility (spikes only)"
        raise NotPairStdp(f"signal '{node.name}' is not {where}", node.span)

    def visit_Call(self, node):
        args = [constant(self, arg, f"the argument of {node.name}()") for arg in node.args]
        if node.name == "decay":
            return {(): float(decay(self.settings, args[0]))}
        if node.function.fold is None:
            raise NotPairStdp(f"{node.name}() in dw or c: NEST's stdp_dopamine_synapse has "
                              "exponential traces only", node.span)
        return {(): float(node.function.fold(*args))}


def lowpass_of(trace: ir.Trace) -> tuple[ir.Expr, ir.Expr, ir.Expr | None] | None:
    value = trace.value
    if isinstance(value, ir.Call) and value.name == "lowpass":
        return value.args[0], value.args[1], value.args[2] if len(value.args) > 2 else None
    return None


def split_traces(rule: ir.RuleDef, signal: str) -> tuple[list, ir.Trace, ir.Trace | None]:
    """(the spike traces, the eligibility trace c, the dopamine trace n or None)."""
    spikes, eligibility, dopamine = [], [], []
    for trace in rule.traces:
        parts = lowpass_of(trace)
        if parts is None:
            raise NotPairStdp(f"trace '{trace.name}' is not a lowpass: NEST's "
                              "stdp_dopamine_synapse has exponential traces only", trace.span)
        source = parts[0]
        if isinstance(source, ir.NeuronVar) and source.attribute == "s":
            spikes.append(trace)
        elif isinstance(source, ir.SignalRef) and source.name == signal:
            dopamine.append(trace)
        else:
            eligibility.append(trace)
    if len(eligibility) != 1 or len(dopamine) > 1:
        extra = (eligibility[1:] or dopamine[1:] or [None])[0]
        raise NotPairStdp("reward-modulated STDP has one eligibility trace (a lowpass of "
                          "spike-trace products) and at most one lowpass of the reward",
                          extra.span if extra else rule.span)
    return spikes, eligibility[0], dopamine[0] if dopamine else None


def eligibility(instance: RuleInstance, trace: ir.Trace, spikes: dict, net: Network):
    """(A, B, decay) of c = lowpass(A x post.s - B y pre.s + C pre.s post.s, tau_c, k_c)."""
    expander = DopamineExpander(instance, {spikes[k][0]: k for k in spikes}, "",
                                net.settings)
    source, tau, scale = lowpass_of(trace)
    terms = multiply(expander.visit(source), {(): constant(expander, scale, "the scale of "
                                                           f"'{trace.name}'") if scale else 1.0})
    a = terms.pop(("post", "x"), 0.0) * spikes["x"][2]
    b = -terms.pop(("pre", "y"), 0.0) * spikes["y"][2]
    same = a - b + terms.pop(("post", "pre"), 0.0)
    extra = [key for key, value in terms.items() if value]
    if extra or not (a or b):
        raise NotPairStdp(f"trace '{trace.name}' is not lowpass(a x_pre post.s - b y_post "
                          f"pre.s, tau_c) ({' * '.join(extra[0]) or 'a constant' if extra else 'no pairing'} "
                          "found)", trace.span)
    if abs(same) > SAME_STEP_TOLERANCE * max(abs(a), abs(b)):
        raise NotPairStdp(
            f"a pre and a post spike of the same step change the eligibility '{trace.name}' by "
            f"{same:.4g} in '{instance.rule.name}'; NEST's stdp_dopamine_synapse counts such a "
            "pair in neither window", None,
            hint="use the standard library's rstdp_nest (NEST's pairing convention)")
    d = float(decay(net.settings, constant(expander, tau, f"the time constant of "
                                                        f"'{trace.name}'")))
    return a, b, d


def weight_terms(instance: RuleInstance, names: dict[str, str], signal: str,
                 net: Network) -> tuple[float, float, float]:
    """(P, Q, R) of lr dw = lr (P c n + Q c r + R c), summed over the updates."""
    expander = DopamineExpander(instance, names, signal, net.settings)
    lr = instance.lr if instance.lr is not None else 1.0
    total: dict = {}
    for update in instance.rule.updates:
        if update.trigger in ("pre", "post"):
            raise NotPairStdp(f"'on {update.trigger}': NEST's stdp_dopamine_synapse changes the "
                              "weight by c (n - b) at every instant, not at spikes", update.span)
        for key, value in expander.visit(update.value).items():
            total[key] = total.get(key, 0.0) + lr * value
    p, q, r = (total.pop(key, 0.0) for key in (("c", "n"), ("c", "r"), ("c",)))
    extra = [key for key, value in total.items() if value]
    if extra or not q:
        what = " * ".join(extra[0]) or "a constant" if extra else "no c * r term"
        raise NotPairStdp(f"dw is not c (P n + Q r + R), the eligibility times the dopamine "
                          f"(and a baseline) ({what} found)", instance.rule.span)
    return p, q, r


def recognise(net: Network, instance: RuleInstance) -> DopamineStdp:
    """``instance`` as NEST's stdp_dopamine_synapse (module docstring); raises NotPairStdp
    saying why not."""
    rule = instance.rule
    if len(rule.signals) != 1 or rule.signals[0].generator.kind != "reward":
        raise NotPairStdp("reward-modulated STDP has one signal, 'reward'", rule.span)
    if rule.optimizer != "sgd":
        raise NotPairStdp(f"optimizer {rule.optimizer}: NEST applies dw directly", rule.span)
    signal = rule.signals[0].name
    spike_list, c_trace, n_trace = split_traces(rule, signal)
    probe = Expander(instance, {})
    spikes = spike_traces(instance, probe, spike_list)
    a, b, d_c = eligibility(instance, c_trace, spikes, net)
    names = {spikes[k][0]: k for k in spikes} | {c_trace.name: "c"}
    d_n, k_n = 0.0, 1.0
    if n_trace is not None:
        names[n_trace.name] = "n"
        _, tau_n, scale = lowpass_of(n_trace)
        d_n = float(decay(net.settings, constant(probe, tau_n, f"the time constant of "
                                                                f"'{n_trace.name}'")))
        k_n = constant(probe, scale, f"the scale of '{n_trace.name}'") if scale else 1.0
    p, q, r = weight_terms(instance, names, signal, net)
    if abs(p * k_n - q * d_n) > RATIO_TOLERANCE * abs(q):
        raise NotPairStdp(f"dw = c ({p:.6g} n + {q:.6g} r + ...): NEST's dopamine trace "
                          f"weighs the last step's dopamine by its decay, {p:.6g} / {q:.6g} "
                          f"should be {d_n:.6g} / {k_n:.6g}", rule.span)
    d_plus, d_minus = (float(decay(net.settings, spikes[k][1])) for k in ("x", "y"))
    for name, d in ((spikes["x"][0], d_plus), (spikes["y"][0], d_minus),
                    (c_trace.name, d_c)) + ((n_trace.name, d_n),) * (n_trace is not None):
        if not 0.0 < d < 1.0:
            raise NotPairStdp(f"trace '{name}' has no exponential decay at this dt", rule.span)
    if rule.bounds is None:
        raise NotPairStdp("no bounds: NEST's stdp_dopamine_synapse clips to [Wmin, Wmax]",
                          rule.span)
    low, high = (constant(probe, e, "a bound") for e in rule.bounds)
    if not low < high:
        raise NotPairStdp(f"bounds [{low:g}, {high:g}] are empty", rule.bounds[0].span)
    h = net.settings.dt * 1000.0
    f, g, tau_n_ms = nest_integrals(h, d_c, d_n)
    unit = q * tau_n_ms / f  # NEST's A per unit of the rule's eligibility jump
    return DopamineStdp(rule.name, d_plus, d_minus, d_c, d_n, unit * a, unit * b,
                        -r * f / (q * tau_n_ms * g) + 0.0, low, high)
