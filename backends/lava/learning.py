"""Learning rules as Loihi learning-engine rules (Lava's ``Loihi2FLearningRule``).

Lava's floating-point learning engine (lava-nc 0.10.0, ``t_epoch = 1``) does, every step, after
the spikes: each pre trace ``x_k <- exp(-1/x_k_tau) x_k + x_k_impulse s_pre`` (the spike as it
reaches the synapse), each post trace ``y_k`` likewise with the post spikes, then
``w <- w + dw`` where ``dw`` is a sum of products, each with one dependency (``x0`` a pre spike,
``y0`` a post spike, ``u0`` every step), constants ``m 2^e`` (m in [-8, 7], e in [-7, 8]),
traces ``x1, x2, y1, y2, y3`` and the weight ``w``. The traces in a product are read after this
step's update, as snnc's rules read them.

A rule translates when it is such a sum after expansion: its traces are ``lowpass`` filters of
``pre.s`` or ``post.s`` with constant time constants, each update is a polynomial in the
traces, ``w`` and constants, with at most one spike factor (its trigger). The time constant of
a trace becomes ``tau = -1 / log(a)`` steps for snnc's decay ``a``. The learning rate and the
rule's constants are absorbed into the trace impulses where a product has a trace of its own
(exact); what is left must be rendered as ``m 2^e``, and every rounding is reported.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from snnc.diagnostics import Diagnostics, Span
from snnc.frontend import ast
from snnc.frontend.evaluate import Evaluator, Symbol
from snnc.ir.network import Network
from snnc.ir.nodes import Projection, RuleInstance
from snnc.ir.values import Constant
from snnc.units import Quantity

MANTISSA = range(-8, 8)
EXPONENT = range(-7, 9)
PRE_SLOTS, POST_SLOTS = ("x1", "x2"), ("y1", "y2", "y3")


class NotExpressible(Exception):
    """A part of a rule that the learning engine cannot compute (message, span)."""

    def __init__(self, message: str, span: Span | None):
        super().__init__(message)
        self.span = span


@dataclass
class Trace:
    slot: str  # x1, x2, y1, y2, y3
    name: str
    tau: float  # in steps, for exp(-1/tau)
    scale: float  # the rule's impulse (third argument of lowpass), sign included
    gain: float | None = None  # Lava trace = gain * |snnc trace|

    @property
    def impulse(self) -> float:
        return (self.gain or 1.0) * abs(self.scale)

    @property
    def sign(self) -> float:
        return -1.0 if self.scale < 0 else 1.0


@dataclass
class Rounding:
    what: str
    exact: float
    rendered: float

    @property
    def relative_error(self) -> float:
        return abs(self.rendered - self.exact) / abs(self.exact) if self.exact else 0.0


@dataclass
class LoihiRule:
    """A rule on one projection, ready for ``Loihi2FLearningRule``."""

    rule: str
    projection: str
    dw: str
    traces: list[Trace]
    low: float | None  # weight bounds in Lava's weight units (w scaled by c_in)
    high: float | None
    roundings: list[Rounding] = field(default_factory=list)

    def arguments(self) -> dict[str, float]:
        """Keyword arguments of Loihi2FLearningRule besides dw."""
        out: dict[str, float] = {}
        for trace in self.traces:
            out[f"{trace.slot}_impulse"] = trace.impulse
            out[f"{trace.slot}_tau"] = trace.tau
        return out


def render_constant(value: float) -> tuple[str, float]:
    """The closest ``m * 2^e`` (m in [-8, 7], e in [-7, 8]) as Lava's rule syntax, and its
    value. One (``"1"``) and minus one are written as they are."""
    best = min(((m * 2.0 ** e, m, e) for m in MANTISSA for e in EXPONENT if m),
               key=lambda t: (abs(t[0] - value), abs(t[1]), t[2]))
    rendered, m, e = best
    while m % 2 == 0:  # the shortest mantissa
        m, e = m // 2, e + 1
    return (f"{m} * 2^{e}" if e else f"{m}"), rendered


class Expander:
    """Expands an update expression into products {(factor, ...): coefficient}."""

    def __init__(self, net: Network, projection: Projection, instance: RuleInstance,
                 slots: dict[str, str]):
        self.net = net
        self.projection = projection
        self.instance = instance
        self.slots = slots  # trace name -> slot
        self.lets = {let.name.text: let.value for let in instance.rule.lets}

    def expand(self, expr) -> dict[tuple[str, ...], float]:
        if isinstance(expr, ast.Quantity):
            return {(): Evaluator(Diagnostics()).evaluate(expr).value}
        if isinstance(expr, ast.Unary):
            inner = self.expand(expr.operand)
            return {k: -v for k, v in inner.items()} if expr.op == "-" else inner
        if isinstance(expr, ast.Binary):
            return self.binary(expr)
        if isinstance(expr, ast.Ref):
            return self.ref(expr)
        if isinstance(expr, ast.Call):
            raise NotExpressible(f"{expr.func.text}(...) inside an update: the engine computes "
                                 "only sums of products of traces, the weight and constants",
                                 expr.span)
        raise NotExpressible("this expression has no learning-engine form", expr.span)

    def binary(self, expr: ast.Binary) -> dict[tuple[str, ...], float]:
        left, right = self.expand(expr.left), self.expand(expr.right)
        if expr.op in "+-":
            out = dict(left)
            sign = 1.0 if expr.op == "+" else -1.0
            for key, value in right.items():
                out[key] = out.get(key, 0.0) + sign * value
            return out
        if expr.op == "*":
            return multiply(left, right)
        if expr.op == "/" and set(right) == {()}:
            return {k: v / right[()] for k, v in left.items()}
        if expr.op == "^" and set(right) == {()} and float(right[()]).is_integer() \
                and 0 <= right[()] <= 4:
            out = {(): 1.0}
            for _ in range(int(right[()])):
                out = multiply(out, left)
            return out
        raise NotExpressible(f"'{expr.op}' of variables: the engine computes only sums of "
                             "products", expr.span)

    def ref(self, ref: ast.Ref) -> dict[tuple[str, ...], float]:
        root = ref.parts[0].text
        if root in self.slots:
            return {(self.slots[root],): 1.0}
        if root == "w" and len(ref.parts) == 1:
            return {("w",): 1.0}
        if root in ("pre", "post") and len(ref.parts) == 2:
            attribute = ref.parts[1].text
            if attribute == "s":
                return {("x0" if root == "pre" else "y0",): 1.0}
            node = self.net.node(self.projection.pre if root == "pre" else self.projection.post)
            value = getattr(node, "params", {}).get(attribute)
            if isinstance(value, Constant):
                return {(): float(value.value)}
            raise NotExpressible(f"{ref.dotted} is not visible to the learning engine (it sees "
                                 "spikes, traces and the weight)", ref.span)
        if root in self.lets:
            return self.expand(self.lets[root])
        value = self.instance.args.get(root)
        if isinstance(value, Quantity):
            return {(): float(value.value)}
        if isinstance(value, Symbol) and len(ref.parts) == 2:
            param = self.net.node(value.name).params.get(ref.parts[1].text)
            if isinstance(param, Constant):
                return {(): float(param.value)}
        raise NotExpressible(f"{ref.dotted} is not a trace, the weight or a constant",
                             ref.span)


def multiply(a: dict, b: dict) -> dict:
    out: dict[tuple[str, ...], float] = {}
    for ka, va in a.items():
        for kb, vb in b.items():
            key = tuple(sorted(ka + kb))
            out[key] = out.get(key, 0.0) + va * vb
    return out


def decay_tau(net: Network, tau: float) -> float:
    """Lava's trace time constant (steps) for snnc's decay of ``tau`` seconds."""
    a = net.settings.decay(tau)
    if not 0.0 < a < 1.0:
        raise ValueError(a)
    return -1.0 / math.log(a)


def assign_traces(net: Network, instance: RuleInstance) -> list[Trace]:
    traces, free = [], {"pre": list(PRE_SLOTS), "post": list(POST_SLOTS)}
    evaluate = Expander(net, None, instance, {})
    for trace in instance.rule.traces:
        value = trace.value
        if not (isinstance(value, ast.Call) and value.func.text == "lowpass"
                and isinstance(value.args[0], ast.Ref) and len(value.args[0].parts) == 2
                and value.args[0].parts[0].text in ("pre", "post")
                and value.args[0].parts[1].text == "s"):
            raise NotExpressible(tag_reason(net, trace, evaluate), trace.span)
        side = value.args[0].parts[0].text
        constants = [evaluate.expand(arg) for arg in value.args[1:]]
        if any(set(c) != {()} for c in constants):
            raise NotExpressible(f"trace '{trace.name.text}' needs a constant time constant and "
                                 "impulse", trace.span)
        if not free[side]:
            raise NotExpressible(f"trace '{trace.name.text}': the engine has only "
                                 f"{len(PRE_SLOTS if side == 'pre' else POST_SLOTS)} {side} "
                                 "traces", trace.span)
        tau = constants[0][()]
        scale = constants[1][()] if len(constants) > 1 else 1.0
        try:
            steps = decay_tau(net, tau)
        except ValueError:
            raise NotExpressible(f"trace '{trace.name.text}' has no exponential decay at this dt",
                                 trace.span) from None
        traces.append(Trace(free[side].pop(0), trace.name.text, steps, scale))
    return traces


def tag_reason(net: Network, trace: ast.TraceDef, evaluate: Expander) -> str:
    """Why a trace that is not a spike filter cannot be emitted."""
    reason = (f"trace '{trace.name.text}' is not a lowpass filter of pre.s or post.s, so it "
              "would live in the synapse's tag (a 'dt' rule), which the Lava backend does not "
              "emit")
    value = trace.value
    if isinstance(value, ast.Call) and value.func.text == "lowpass" and len(value.args) > 1:
        tau = evaluate.expand(value.args[1])
        if set(tau) == {()} and tau[()] > 0:
            rate = 1.0 - net.settings.decay(tau[()])
            smallest = 2.0 ** min(EXPONENT)
            if rate < smallest:
                reason += (f"; on Loihi its decay per step, {rate:.3g}, is also below the "
                           f"smallest rule constant 2^{min(EXPONENT)} = {smallest:.3g}")
    return reason


def translate(net: Network, projection: Projection, instance: RuleInstance,
              scale: float) -> LoihiRule:
    """The Loihi form of ``instance`` on ``projection`` whose post neurons scale their input
    by ``scale`` (Lava's weight = scale * snnc's weight). Raises NotExpressible."""
    rule = instance.rule
    traces = assign_traces(net, instance)
    if rule.signals:
        signal = rule.signals[0]
        raise NotExpressible(f"signal '{signal.name.text}': third factors reach Loihi through a "
                             "post-neuron model that writes y2/y3, which the Lava backend does "
                             "not emit yet", signal.span)
    if rule.optimizer != "sgd":
        raise NotExpressible("the engine applies dw directly (optimizer = sgd)", rule.span)
    slots = {t.name: t.slot for t in traces}
    expander = Expander(net, projection, instance, slots)
    lr = instance.args.get("lr")
    rate = lr.value if isinstance(lr, Quantity) else 1.0
    products: dict[tuple[str, ...], float] = {}
    for update in rule.updates:
        terms = expander.expand(update.value)
        if update.trigger is not None:
            side = update.trigger.text
            if side not in ("pre", "post"):
                raise NotExpressible(f"trigger 'on {side}'", update.span)
            terms = multiply(terms, {("x0" if side == "pre" else "y0",): 1.0})
        for key, value in terms.items():
            spikes = [f for f in key if f in ("x0", "y0")]
            if len(spikes) > 1:
                raise NotExpressible("a product with both pre and post spikes (or a spike "
                                     "squared): each product has one trigger", update.span)
            powers = key.count("w")
            products[key] = products.get(key, 0.0) + rate * value * scale ** (1 - powers)
    by_slot = {t.slot: t for t in traces}
    for key, coefficient in products.items():  # absorb constants into free trace gains
        free = [f for f in key if f in by_slot and by_slot[f].gain is None]
        if free and coefficient:
            fixed = math.prod(1.0 / by_slot[f].gain for f in key
                              if f in by_slot and by_slot[f].gain is not None)
            by_slot[free[0]].gain = abs(coefficient * fixed)
            for other in free[1:]:
                by_slot[other].gain = 1.0
    parts, roundings = [], []
    for key, coefficient in products.items():
        if not coefficient:
            continue
        value = coefficient
        for f in key:
            if f in by_slot:
                value *= by_slot[f].sign / (by_slot[f].gain or 1.0)
        factors = [f for f in key if f not in ("x0", "y0")] + [f for f in key if f in ("x0", "y0")]
        if not any(f in ("x0", "y0") for f in key):
            factors.append("u0")
        if math.isclose(abs(value), 1.0, rel_tol=1e-12):
            text, rendered = ("-" if value < 0 else ""), math.copysign(1.0, value)
            parts.append(text + " * ".join(factors))
        else:
            text, rendered = render_constant(value)
            parts.append(f"{text} * " + " * ".join(factors))
            if rendered != value:
                roundings.append(Rounding(" * ".join(factors), value, rendered))
    if not parts:
        raise NotExpressible("the rule's updates sum to zero", rule.span)
    dw = parts[0] + "".join(f" - {p[1:]}" if p.startswith("-") else f" + {p}" for p in parts[1:])
    low = high = None
    if rule.bounds is not None:
        values = [expander.expand(item) for item in rule.bounds.items]
        if any(set(v) != {()} for v in values):
            raise NotExpressible("bounds must be constants", rule.bounds.span)
        low, high = (v[()] * scale for v in values)
        low, high = min(low, high), max(low, high)
    return LoihiRule(rule.name, projection.name, dw, traces, low, high, roundings)
