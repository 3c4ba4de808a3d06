"""Learning rules as Loihi learning-engine rules (Lava's ``Loihi2FLearningRule``).

Lava's floating-point learning engine (lava-nc 0.10.0, ``t_epoch = 1``) does, every step, after
the spikes: each pre trace ``x_k <- exp(-1/x_k_tau) x_k + x_k_impulse s_pre`` (the spike as it
reaches the synapse), each post trace ``y_k`` likewise with the post spikes, then
``w <- w + dw`` where ``dw`` is a sum of products, each with one dependency (``x0`` a pre spike,
``y0`` a post spike, ``u0`` every step), constants ``m 2^e`` (m in [-8, 7], e in [-7, 8]),
traces ``x1, x2, y1, y2, y3``, the weight ``w`` and the spikes ``x0``, ``y0`` as factors (Loihi's
"x0 + C" and "y0 + C": ``x0 * y0`` is a pre and a post spike of the same step, as in
``stdp_nest``; Lava 0.10.0's floating-point model lacks these factors, so the program's
``models.py`` adds them). The traces in a product are read after this step's update, as
snnc's rules read them.

A rule translates when it is such a sum after expansion: its traces are ``lowpass`` filters of
``pre.s`` or ``post.s`` with constant time constants, each update is a polynomial in the
traces, ``w``, constants and the spikes (a spike is 0 or 1: its powers are itself); a call of a
function that the sum-of-products engine cannot evaluate
(``RuleFunction.runs_on("sum_of_products")`` in :data:`snnc.functions.RULE_FUNCTIONS`) is
refused. The rule is read in the typed rule IR
(:mod:`snnc.ir.rules`). The time constant of a trace becomes ``tau / dt`` steps under exact
integration (Lava's ``exp(-1/tau)`` is then snnc's decay) and ``-1 / log(1 - dt/tau)`` under
Euler. The learning rate and the
rule's constants are absorbed into the trace impulses where a product has a trace of its own
(exact); what is left must be rendered as ``m 2^e``, and every rounding is reported.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from snnc.diagnostics import Span
from snnc.ir import rules as ir
from snnc.ir.discrete import decay, tau_in_steps
from snnc.ir.network import Network
from snnc.ir.nodes import Projection, RuleInstance
from snnc.ir.values import Constant
from snnc.units import Quantity

MANTISSA = range(-8, 8)
EXPONENT = range(-7, 9)
PRE_SLOTS, POST_SLOTS = ("x1", "x2"), ("y1", "y2", "y3")
#: the spikes of this step as factors: the dependencies x0 (pre) and y0 (post)
SPIKES = ("x0", "y0")
#: the learning engine this backend targets (see ``RuleFunction.engines``)
ENGINE = "sum_of_products"


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


class Expander(ir.Visitor[dict]):
    """Expands a typed expression into products {(factor, ...): coefficient}: factors are the
    trace slots, ``w``, ``x0`` (a pre spike) and ``y0`` (a post spike); ``()`` is the constant
    term. Raises NotExpressible for what the engine cannot compute."""

    def __init__(self, net: Network, projection: Projection, instance: RuleInstance,
                 slots: dict[str, str]):
        self.net = net
        self.projection = projection
        self.instance = instance
        self.slots = slots  # trace name -> slot
        self.lets = {let.name: let.value for let in instance.rule.lets}

    def expand(self, expr: ir.Expr) -> dict[tuple[str, ...], float]:
        return self.visit(expr)

    def visit_Const(self, node: ir.Const) -> dict[tuple[str, ...], float]:
        return {(): node.value}

    def visit_Unary(self, node: ir.Unary) -> dict[tuple[str, ...], float]:
        inner = self.expand(node.operand)
        return {k: -v for k, v in inner.items()} if node.op == "-" else inner

    def visit_Call(self, node: ir.Call) -> dict[tuple[str, ...], float]:
        if not node.function.runs_on(ENGINE):
            raise NotExpressible(f"{node.name}(...) inside an update: the engine computes "
                                 "only sums of products of traces, the weight and constants",
                                 node.span)
        raise NotExpressible(f"{node.name}(...) inside an update: the Lava backend emits "
                             "learning-engine filters only as traces (lowpass of pre.s or "
                             "post.s)", node.span)

    def visit_Binary(self, node: ir.Binary) -> dict[tuple[str, ...], float]:
        left, right = self.expand(node.left), self.expand(node.right)
        if node.op in "+-":
            out = dict(left)
            sign = 1.0 if node.op == "+" else -1.0
            for key, value in right.items():
                out[key] = out.get(key, 0.0) + sign * value
            return out
        if node.op == "*":
            return multiply(left, right)
        if node.op == "/" and set(right) == {()}:
            return {k: v / right[()] for k, v in left.items()}
        if node.op == "^" and set(right) == {()} and float(right[()]).is_integer() \
                and 0 <= right[()] <= 4:
            out = {(): 1.0}
            for _ in range(int(right[()])):
                out = multiply(out, left)
            return out
        raise NotExpressible(f"'{node.op}' of variables: the engine computes only sums of "
                             "products", node.span)

    def visit_TraceRef(self, node: ir.TraceRef) -> dict[tuple[str, ...], float]:
        if node.name in self.slots:
            return {(self.slots[node.name],): 1.0}
        return self.invisible(node.name, node.span)

    def visit_Weight(self, node: ir.Weight) -> dict[tuple[str, ...], float]:
        return {("w",): 1.0}

    def visit_NeuronVar(self, node: ir.NeuronVar) -> dict[tuple[str, ...], float]:
        if node.attribute == "s":
            return {("x0" if node.side == "pre" else "y0",): 1.0}
        projection = self.projection
        name = projection.pre if node.side == "pre" else projection.post
        value = getattr(self.net.node(name), "params", {}).get(node.attribute)
        if isinstance(value, Constant):
            return {(): float(value.value)}
        raise NotExpressible(f"{node.dotted} is not visible to the learning engine (it sees "
                             "spikes, traces and the weight)", node.span)

    def visit_LetRef(self, node: ir.LetRef) -> dict[tuple[str, ...], float]:
        return self.expand(self.lets[node.name])

    def visit_Param(self, node: ir.Param) -> dict[tuple[str, ...], float]:
        value = self.instance.args.get(node.name)
        if isinstance(value, Quantity):
            return {(): float(value.value)}
        return self.invisible(node.name, node.span)

    def visit_PopulationVar(self, node: ir.PopulationVar) -> dict[tuple[str, ...], float]:
        population = ir.population_of(node.population, self.instance.args)
        param = getattr(self.net.node(population), "params", {}).get(node.attribute)
        if isinstance(param, Constant):
            return {(): float(param.value)}
        return self.invisible(node.dotted, node.span)

    def visit_SignalRef(self, node: ir.SignalRef) -> dict[tuple[str, ...], float]:
        return self.invisible(node.name, node.span)

    def visit_PopulationRef(self, node: ir.PopulationRef) -> dict[tuple[str, ...], float]:
        return self.invisible(node.name, node.span)

    def visit_NetState(self, node: ir.NetState) -> dict[tuple[str, ...], float]:
        return self.invisible(node.dotted, node.span)

    @staticmethod
    def invisible(name: str, span: Span) -> dict[tuple[str, ...], float]:
        raise NotExpressible(f"{name} is not a trace, the weight or a constant", span)


def multiply(a: dict, b: dict) -> dict:
    """The product of two expansions. A spike is 0 or 1, so a spike factor counts once
    (``pre.s * pre.s`` is ``pre.s``, as ``x0 * x0`` is ``x0`` on the engine)."""
    out: dict[tuple[str, ...], float] = {}
    for ka, va in a.items():
        for kb, vb in b.items():
            key = tuple(sorted(ka + tuple(f for f in kb if f not in SPIKES or f not in ka)))
            out[key] = out.get(key, 0.0) + va * vb
    return out


def decay_tau(net: Network, tau: float) -> float:
    """Lava's trace time constant in steps (its decay is ``exp(-1/tau)``) for snnc's decay of
    ``tau`` seconds: ``tau / dt`` under exact integration (:func:`snnc.ir.discrete.tau_in_steps`,
    no exp/log round trip), ``-1 / log(1 - dt/tau)`` under Euler. ValueError when snnc's decay
    is not in (0, 1) (no exponential decay at this dt)."""
    a = decay(net.settings, tau)
    if not 0.0 < a < 1.0:
        raise ValueError(a)
    if net.settings.integration == "exact":
        return float(tau_in_steps(net.settings, tau))
    return -1.0 / math.log(a)


def spike_filter(trace: ir.Trace) -> str | None:
    """The side (pre or post) of a trace that is ``lowpass(pre.s | post.s, ...)``, else None."""
    value = trace.value
    if isinstance(value, ir.Call) and value.name == "lowpass":
        x = value.args[0]
        if isinstance(x, ir.NeuronVar) and x.attribute == "s":
            return x.side
    return None


def assign_traces(net: Network, projection: Projection, instance: RuleInstance) -> list[Trace]:
    """The rule's traces in the engine's slots. Their time constants and impulses are read on
    ``projection`` (``post.tau_mem`` is the post population's parameter: a constant when it is
    uniform, else refused)."""
    traces, free = [], {"pre": list(PRE_SLOTS), "post": list(POST_SLOTS)}
    evaluate = Expander(net, projection, instance, {})
    for trace in instance.rule.traces:
        side = spike_filter(trace)
        if side is None:
            raise NotExpressible(tag_reason(net, trace, evaluate), trace.span)
        constants = [evaluate.expand(arg) for arg in trace.value.args[1:]]
        if any(set(c) != {()} for c in constants):
            raise NotExpressible(f"trace '{trace.name}' needs a constant time constant and "
                                 "impulse", trace.span)
        if not free[side]:
            raise NotExpressible(f"trace '{trace.name}': the engine has only "
                                 f"{len(PRE_SLOTS if side == 'pre' else POST_SLOTS)} {side} "
                                 "traces", trace.span)
        tau = constants[0][()]
        scale = constants[1][()] if len(constants) > 1 else 1.0
        try:
            steps = decay_tau(net, tau)
        except ValueError:
            raise NotExpressible(f"trace '{trace.name}' has no exponential decay at this dt",
                                 trace.span) from None
        traces.append(Trace(free[side].pop(0), trace.name, steps, scale))
    return traces


def tag_reason(net: Network, trace: ir.Trace, evaluate: Expander) -> str:
    """Why a trace that is not a spike filter cannot be emitted."""
    reason = (f"trace '{trace.name}' is not a lowpass filter of pre.s or post.s, so it "
              "would live in the synapse's tag (a 'dt' rule), which the Lava backend does not "
              "emit")
    value = trace.value
    if isinstance(value, ir.Call) and value.name == "lowpass" and len(value.args) > 1:
        tau = evaluate.expand(value.args[1])
        if set(tau) == {()} and tau[()] > 0:
            rate = 1.0 - decay(net.settings, tau[()])
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
    traces = assign_traces(net, projection, instance)
    if rule.signals:
        signal = rule.signals[0]
        raise NotExpressible(f"signal '{signal.name}': third factors reach Loihi through a "
                             "post-neuron model that writes y2/y3, which the Lava backend does "
                             "not emit yet", signal.span)
    if rule.optimizer != "sgd":
        raise NotExpressible("the engine applies dw directly (optimizer = sgd)", rule.span)
    expander = Expander(net, projection, instance, {t.name: t.slot for t in traces})
    products = sum_of_products(expander, instance, scale)
    by_slot = {t.slot: t for t in traces}
    absorb_constants(products, by_slot)
    dw, roundings = render_dw(products, by_slot)
    if dw is None:
        raise NotExpressible("the rule's updates sum to zero", rule.span)
    low, high = weight_bounds(expander, rule, scale)
    return LoihiRule(rule.name, projection.name, dw, traces, low, high, roundings)


def sum_of_products(expander: Expander, instance: RuleInstance,
                    scale: float) -> dict[tuple[str, ...], float]:
    """dw as {factors: coefficient}, summed over the updates, each multiplied by its trigger's
    spike (x0 pre, y0 post), the learning rate and Lava's weight scale (``scale`` per power of
    the weight below one: Lava's dw is in its own weight units)."""
    lr = instance.args.get("lr")
    rate = lr.value if isinstance(lr, Quantity) else 1.0
    products: dict[tuple[str, ...], float] = {}
    for update in instance.rule.updates:
        terms = expander.expand(update.value)
        if update.trigger is not None:
            side = update.trigger
            if side not in ("pre", "post"):
                raise NotExpressible(f"trigger 'on {side}'", update.span)
            terms = multiply(terms, {("x0" if side == "pre" else "y0",): 1.0})
        for key, value in terms.items():
            powers = key.count("w")
            products[key] = products.get(key, 0.0) + rate * value * scale ** (1 - powers)
    return products


def absorb_constants(products: dict[tuple[str, ...], float], by_slot: dict[str, Trace]) -> None:
    """Give each product's constant to the first of its traces without a gain yet (exact: the
    trace's impulse carries it); the product's other new traces get gain one."""
    for key, coefficient in products.items():
        free = [f for f in key if f in by_slot and by_slot[f].gain is None]
        if free and coefficient:
            fixed = math.prod(1.0 / by_slot[f].gain for f in key
                              if f in by_slot and by_slot[f].gain is not None)
            by_slot[free[0]].gain = abs(coefficient * fixed)
            for other in free[1:]:
                by_slot[other].gain = 1.0


def render_dw(products: dict[tuple[str, ...], float],
              by_slot: dict[str, Trace]) -> tuple[str | None, list[Rounding]]:
    """Lava's dw text (None when every product is zero) and the constants it rounds: each
    product's constant, after the trace gains, as ``m * 2^e`` (one is written as nothing)."""
    parts, roundings = [], []
    for key, coefficient in products.items():
        if not coefficient:
            continue
        value = coefficient
        for f in key:
            if f in by_slot:
                value *= by_slot[f].sign / (by_slot[f].gain or 1.0)
        factors = [f for f in key if f not in SPIKES] + [f for f in key if f in SPIKES]
        if not any(f in SPIKES for f in key):
            factors.append("u0")
        if math.isclose(abs(value), 1.0, rel_tol=1e-12):
            parts.append(("-" if value < 0 else "") + " * ".join(factors))
        else:
            text, rendered = render_constant(value)
            parts.append(f"{text} * " + " * ".join(factors))
            if rendered != value:
                roundings.append(Rounding(" * ".join(factors), value, rendered))
    if not parts:
        return None, roundings
    dw = parts[0] + "".join(f" - {p[1:]}" if p.startswith("-") else f" + {p}" for p in parts[1:])
    return dw, roundings


def weight_bounds(expander: Expander, rule: ir.RuleDef,
                  scale: float) -> tuple[float | None, float | None]:
    """The rule's bounds in Lava's weight units (low <= high), or (None, None)."""
    if rule.bounds is None:
        return None, None
    values = [expander.expand(item) for item in rule.bounds]
    if any(set(v) != {()} for v in values):
        raise NotExpressible("bounds must be constants", rule.bounds[0].span.to(rule.bounds[1].span))
    low, high = (v[()] * scale for v in values)
    return min(low, high), max(low, high)
