"""Learning rules recognised, from their expressions, as NEST's pair STDP (``stdp_synapse``);
:func:`plastic` also dispatches a rule with a reward signal to :mod:`.dopamine` (NEST's
``stdp_dopamine_synapse``) and refuses a rule with a learning signal with what NEST's e-prop
models compute instead (:func:`eprop_reason`, from NEST 3.10's e-prop headers).

A rule is pair STDP when, in the typed rule IR (:mod:`snnc.ir.rules`), it has exactly one
trace ``lowpass(pre.s, tau_plus[, c])`` and one ``lowpass(post.s, tau_minus[, c])`` with
constant time constants, no signal, ``optimizer = sgd``, bounds ``[0, w_max]`` with w_max > 0,
and its updates (each multiplied by its trigger's spike, and by ``lr``) expand to

    dw = A x post.s - B y pre.s + C pre.s post.s           (x, y: the traces jumping by 1)

with A > 0, B >= 0. NEST's additive ``stdp_synapse`` (mu_plus = mu_minus = 0) potentiates a
post spike by lambda Wmax K_plus and depresses a pre spike by alpha lambda Wmax K_minus, where
K_plus and K_minus exclude a spike of the same step: a same-step pair changes NEST's weight by
nothing, snnc's by A - B + C. The rule maps when A - B + C = 0 (the stdlib's ``stdp_nest``:
``a_plus (x_pre - pre.s)``, ``-a_minus (y_post - post.s)``); the stdlib's ``stdp`` (C = 0) is
refused with a hint to ``stdp_nest``. NEST's parameters: Wmax = w_max s (s: one snnc weight in
NEST's units, the backend's weight scale), lambda = A / w_max, alpha = B / A, and the time
constants chosen so that exp(-h/tau) is snnc's decay to the bit (under Euler integration too).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from snnc.diagnostics import Span
from snnc.ir import rules as ir
from snnc.ir.discrete import decay
from snnc.ir.network import Network
from snnc.ir.nodes import RuleInstance
from snnc.units import Quantity

#: same-step weight change (relative to A) below which a rule counts as NEST's convention
SAME_STEP_TOLERANCE = 1e-12


class NotPairStdp(Exception):
    """Why a rule is not NEST's pair STDP (message, span)."""

    def __init__(self, message: str, span: Span | None, hint: str = ""):
        super().__init__(message)
        self.span = span
        self.hint = hint


@dataclass
class PairStdp:
    """A rule instance as NEST's additive stdp_synapse (weights in snnc's units)."""

    model: ClassVar[str] = "stdp_synapse"
    rule: str
    tau_plus: float  # s: NEST's exp(-h/tau_plus) is snnc's pre-trace decay
    tau_minus: float  # s: the post neuron's
    decay_plus: float
    decay_minus: float
    lam: float  # NEST's lambda
    alpha: float
    w_max: float  # snnc's

    def synapse(self, h: float, scale: float) -> dict[str, float]:
        """NEST's stdp_synapse parameters (``h`` the step in ms, ``scale`` NEST's weight per
        unit of snnc's)."""
        from snnc.backends.nest.graph import nest_tau
        return {"tau_plus": nest_tau(h, self.decay_plus), "lambda": self.lam,
                "alpha": self.alpha, "mu_plus": 0.0, "mu_minus": 0.0, "Wmax": self.w_max * scale}

    def post_tau_minus(self, h: float) -> float:
        from snnc.backends.nest.graph import nest_tau
        return nest_tau(h, self.decay_minus)


class Expander(ir.Visitor[dict]):
    """A typed expression as {(factor, ...): coefficient} with factors ``x`` and ``y`` (the pre
    and post trace), ``pre`` and ``post`` (the spikes); raises NotPairStdp otherwise."""

    def __init__(self, instance: RuleInstance, traces: dict[str, str]):
        self.instance = instance
        self.traces = traces
        self.lets = {let.name: let.value for let in instance.rule.lets}

    def visit_Const(self, node):
        return {(): node.value}

    def visit_Param(self, node):
        value = self.instance.args.get(node.name)
        if isinstance(value, Quantity):
            return {(): float(value.value)}
        raise NotPairStdp(f"parameter '{node.name}' is not a number", node.span)

    def visit_Unary(self, node):
        inner = self.visit(node.operand)
        return {k: -v for k, v in inner.items()} if node.op == "-" else inner

    def visit_Binary(self, node):
        left, right = self.visit(node.left), self.visit(node.right)
        if node.op in "+-":
            out = dict(left)
            for key, value in right.items():
                out[key] = out.get(key, 0.0) + (value if node.op == "+" else -value)
            return out
        if node.op == "*":
            return multiply(left, right)
        if node.op == "/" and set(right) == {()} and right[()]:
            return {k: v / right[()] for k, v in left.items()}
        raise NotPairStdp(f"'{node.op}' of variables: pair STDP is a sum of trace-spike "
                          "products", node.span)

    def visit_TraceRef(self, node):
        if node.name in self.traces:
            return {(self.traces[node.name],): 1.0}
        raise NotPairStdp(f"trace '{node.name}' is not a spike trace", node.span)

    def visit_NeuronVar(self, node):
        if node.attribute == "s":
            return {(node.side,): 1.0}
        raise NotPairStdp(f"{node.dotted}: NEST's {self.model} sees spikes only", node.span)

    def visit_LetRef(self, node):
        return self.visit(self.lets[node.name])

    model = "stdp_synapse"

    def generic(self, node):
        what = {"Weight": "the weight w", "Call": f"{getattr(node, 'name', '')}()",
                "SignalRef": f"signal '{getattr(node, 'name', '')}'"}.get(
            type(node).__name__, f"'{type(node).__name__}'")
        raise NotPairStdp(f"{what} in dw: NEST's {self.model} sees spikes and their traces "
                          "only", node.span)

    visit_Call = visit_Weight = visit_SignalRef = visit_PopulationVar = generic
    visit_PopulationRef = visit_NetState = generic


def multiply(a: dict, b: dict) -> dict:
    out: dict = {}
    for ka, va in a.items():
        for kb, vb in b.items():
            key = tuple(sorted(ka + kb))
            out[key] = out.get(key, 0.0) + va * vb
    return out


def constant(expander: Expander, expr: ir.Expr, what: str) -> float:
    value = expander.visit(expr)
    if set(value) - {()}:
        raise NotPairStdp(f"{what} is not a constant", expr.span)
    return value.get((), 0.0)


def spike_traces(instance: RuleInstance, expander: Expander,
                 traces: list | None = None) -> dict[str, tuple]:
    """{'x' | 'y': (trace name, tau, impulse)} of a rule with one pre and one post spike trace
    (``traces``: the rule's, or those given)."""
    found: dict[str, tuple] = {}
    for trace in instance.rule.traces if traces is None else traces:
        value = trace.value
        source = value.args[0] if isinstance(value, ir.Call) and value.name == "lowpass" \
            else None
        if not (isinstance(source, ir.NeuronVar) and source.attribute == "s"):
            raise NotPairStdp(f"trace '{trace.name}' is not lowpass(pre.s or post.s, tau)",
                              trace.span)
        slot = "x" if source.side == "pre" else "y"
        if slot in found:
            raise NotPairStdp(f"trace '{trace.name}': a second {source.side} trace", trace.span)
        tau = constant(expander, value.args[1], f"the time constant of '{trace.name}'")
        impulse = constant(expander, value.args[2], f"the scale of '{trace.name}'") \
            if len(value.args) > 2 else 1.0
        found[slot] = (trace.name, tau, impulse)
    if set(found) != {"x", "y"}:
        raise NotPairStdp("pair STDP has one trace of pre.s and one of post.s",
                          instance.rule.span)
    return found


def products(instance: RuleInstance, expander: Expander) -> dict:
    """dw summed over the updates, each times its trigger's spike and lr."""
    lr = instance.lr if instance.lr is not None else 1.0
    total: dict = {}
    for update in instance.rule.updates:
        terms = expander.visit(update.value)
        if update.trigger not in ("pre", "post"):
            raise NotPairStdp("an update without 'on pre' or 'on post': NEST's stdp_synapse "
                              "changes a weight at spikes only", update.span)
        for key, value in multiply(terms, {(update.trigger,): 1.0}).items():
            total[key] = total.get(key, 0.0) + lr * value
    return total


def recognise(net: Network, instance: RuleInstance) -> PairStdp:
    """``instance`` as NEST's pair STDP (module docstring); raises NotPairStdp saying why not."""
    rule = instance.rule
    if rule.signals:
        raise NotPairStdp(f"signal '{rule.signals[0].name}': a third factor (NEST's "
                          "stdp_synapse has none)", rule.signals[0].span)
    if rule.optimizer != "sgd":
        raise NotPairStdp(f"optimizer {rule.optimizer}: NEST applies dw directly", rule.span)
    traces = spike_traces(instance, Expander(instance, {}))
    expander = Expander(instance, {traces[k][0]: k for k in traces})
    dw = products(instance, expander)
    a = dw.pop(("post", "x"), 0.0) * traces["x"][2]
    b = -dw.pop(("pre", "y"), 0.0) * traces["y"][2]
    c = dw.pop(("post", "pre"), 0.0)
    extra = [key for key, value in dw.items() if value]
    if extra or not a > 0 or b < 0:
        what = " * ".join(extra[0]) or "a constant" if extra else "the pairing coefficients"
        raise NotPairStdp(f"dw is not a x_pre post.s - b y_post pre.s with a > 0, b >= 0 ({what} "
                          "found): not pair STDP", rule.span)
    if rule.bounds is None:
        raise NotPairStdp("no bounds: NEST's stdp_synapse clips to [0, Wmax]", rule.span)
    low, high = (constant(expander, e, "a bound") for e in rule.bounds)
    if low != 0 or not high > 0:
        raise NotPairStdp(f"bounds [{low:g}, {high:g}]: NEST's stdp_synapse clips to "
                          "[0, Wmax]", rule.bounds[0].span)
    same = a - b + c
    if abs(same) > SAME_STEP_TOLERANCE * a:
        raise NotPairStdp(
            f"a pre and a post spike of the same step change the weight by {same:.4g} in "
            f"'{rule.name}'; NEST's stdp_synapse counts such a pair in neither window",
            None, hint="use the standard library's stdp_nest (NEST's pairing convention)")
    d_plus, d_minus = (float(decay(net.settings, traces[k][1])) for k in ("x", "y"))
    for name, d in ((traces["x"][0], d_plus), (traces["y"][0], d_minus)):
        if not 0.0 < d < 1.0:
            raise NotPairStdp(f"trace '{name}' has no exponential decay at this dt", rule.span)
    return PairStdp(rule.name, traces["x"][1], traces["y"][1], d_plus, d_minus,
                    a / high, b / a, high)


#: the learning-signal generators of e-prop-like rules (a learning signal times an eligibility)
LEARNING_SIGNALS = ("random_feedback", "symmetric_feedback", "learned_feedback", "readout_error",
                    "local_readout", "exact_feedback", "backprop_through_time")


def eprop_reason(instance: RuleInstance) -> str | None:
    """Why NEST's e-prop models do not run an e-prop-like rule (a learning signal times an
    eligibility), from NEST 3.10's eprop_iaf.h, eprop_readout.h and eprop_synapse.h; None for
    a rule without a learning signal."""
    rule = instance.rule
    signal = next((s for s in rule.signals if s.generator.kind in LEARNING_SIGNALS), None)
    if signal is None:
        return None
    reads_surrogate = any(isinstance(node, ir.Call) and node.name == "surrogate"
                          for expr in rule.expressions() for node in ir.walk(expr))
    head = (f"e-prop (its learning signal '{signal.name}' = {signal.generator.kind} times an "
            "eligibility), which NEST runs only on its own models (eprop_iaf, eprop_readout, "
            "eprop_synapse, eprop_learning_signal_connection), and they compute other "
            "expressions: ")
    if not reads_surrogate:
        return head + ("eprop_readout's gradient is L_j^t zbar_i^(t-1), the pre trace a step "
                       "behind the learning signal, fed to NEST's weight optimizer at the next "
                       "pre spike; snnc's rule multiplies the signal by this step's trace")
    return head + (
        "eprop_synapse applies L_j^t ebar_ji^(t-1) with ebar = kappa ebar + (1 - kappa) "
        "psi_j^(t-1) zbar_i^(t-2), the eligibility filtered by the readout's kernel kappa "
        "and a step (psi) and two steps (zbar) behind the learning signal, plus a firing-rate "
        "regularisation c_reg (f_ema - f_target) ebar, with NEST's own surrogate functions, on "
        "eprop_iaf neurons that reset by subtracting V_th one step after a spike (or "
        "eprop_iaf_psc_delta, reset at the spike, with the same filtered and lagged gradient); "
        "snnc's rule multiplies the signal by surrogate(post.v) and the pre trace of the same "
        "step, and snnc's neurons reset in the spike's step")


def recognise_rule(net: Network, instance: RuleInstance):
    """PairStdp or DopamineStdp of ``instance``; raises NotPairStdp (with what the rule was
    read as) otherwise."""
    from snnc.backends.nest import dopamine
    reason = eprop_reason(instance)
    if reason is not None:
        raise NotPairStdp(reason, instance.rule.span,
                          hint="compile with --no-learn (or --weights) and train with snnc")
    if instance.rule.signals:
        try:
            return dopamine.recognise(net, instance)
        except NotPairStdp as why:
            raise NotPairStdp(f"not NEST's reward-modulated STDP (stdp_dopamine_synapse): {why}",
                              why.span, why.hint) from None
    try:
        return recognise(net, instance)
    except NotPairStdp as why:
        raise NotPairStdp(f"not NEST's pair STDP: {why}", why.span, why.hint) from None


def plastic(plan, net: Network, diag) -> dict:
    """{projection: PairStdp | DopamineStdp} of the plan's learning projections; E522 for a
    rule that NEST's synapses do not run, naming the rule and why."""
    found = {}
    for p in plan.projections:
        if not p.learning:
            continue
        instances = net.projection(p.name).rules
        if len(instances) > 1:
            diag.error("E522", net.projection(p.name).span, f"projection '{p.name}' learns with "
                       f"{len(instances)} rules: a NEST synapse runs one rule",
                       hint="one rule (stdp_nest or rstdp_nest), or --no-learn")
            continue
        try:
            found[p.name] = recognise_rule(net, instances[0])
        except NotPairStdp as why:
            diag.error("E522", why.span or instances[0].span,
                       f"rule '{instances[0].name}' on projection '{p.name}' is {why}",
                       hint=why.hint or "the NEST backend maps pair STDP (stdp_nest) onto "
                       "stdp_synapse and reward-modulated STDP (rstdp_nest) onto "
                       "stdp_dopamine_synapse; compile with --no-learn (or --weights)")
    return found
