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

from snnc.backends.lava import three_factor as tf
from snnc.diagnostics import Span
from snnc.ir import rules as ir
from snnc.ir.discrete import decay, tau_in_steps
from snnc.ir.network import Network
from snnc.ir.nodes import Projection, RuleInstance
from snnc.ir.values import Constant
from snnc.targets.rule_constants import LOIHI
from snnc.units import Quantity

PRE_SLOTS, POST_SLOTS = ("x1", "x2"), ("y1", "y2", "y3")
#: the spikes of this step as factors: the dependencies x0 (pre) and y0 (post)
SPIKES = ("x0", "y0")
#: the learning engine this backend targets (see ``RuleFunction.engines``)
ENGINE = "sum_of_products"


class NotExpressible(Exception):
    """A part of a rule that the learning engine cannot compute (message, span)."""

    def __init__(self, message: str, span: Span | None, hint: str | None = None):
        super().__init__(message)
        self.span = span
        self.hint = hint


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
    hint: str | None = None  # how to avoid it (None: the backend's general advice)

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
    dt: str | None = None  # the tag's update (None: no tag)
    tag: tf.Tag | None = None
    third: Trace | None = None  # the third factor (slot y2, gain: y2 = gain * signal)
    signal: str | None = None  # its generator (reward)
    post_decay: float | None = None  # with a third factor: snnc's decay of the y1 trace
    #: the rule strings as terms (factors, constant), for the fixed-point rendering
    dw_terms: list[tuple[list[str], float]] = field(default_factory=list)
    dt_terms: list[tuple[list[str], float]] = field(default_factory=list)
    #: with a tag read through y3: the neuron sends y3 = y3_factor * y2 (1 - the tag's decay)
    y3_factor: float | None = None

    @property
    def kind(self) -> str:
        """The Lava class: Loihi3FLearningRule with a third factor, else Loihi2FLearningRule."""
        return "Loihi3FLearningRule" if self.third is not None else "Loihi2FLearningRule"

    @property
    def post_trace(self) -> Trace | None:
        """With a third factor, the post trace the neuron computes (y1), if the rule has one."""
        if self.third is None:
            return None
        return next((t for t in self.traces if t.slot == "y1"), None)

    def arguments(self) -> dict[str, float]:
        """Keyword arguments of the learning rule besides dw and dt (with a third factor the
        post traces are the neuron's, so only x1 and x2)."""
        out: dict[str, float] = {}
        for trace in self.traces:
            if self.third is not None and trace.slot.startswith("y"):
                continue
            out[f"{trace.slot}_impulse"] = trace.impulse
            out[f"{trace.slot}_tau"] = trace.tau
        return out


def render_constant(value: float) -> tuple[str, float]:
    """The closest ``m * 2^e`` (m in [-8, 7], e in [-7, 8]) as Lava's rule syntax, and its
    value (:meth:`snnc.targets.rule_constants.RuleConstants.render`). One (``"1"``) and minus
    one are written as they are."""
    return LOIHI.render(value)


class Expander(ir.Visitor[dict]):
    """Expands a typed expression into products {(factor, ...): coefficient}: factors are the
    trace slots, ``w``, ``x0`` (a pre spike) and ``y0`` (a post spike); ``()`` is the constant
    term. Raises NotExpressible for what the engine cannot compute."""

    def __init__(self, net: Network, projection: Projection, instance: RuleInstance,
                 slots: dict[str, str]):
        self.net = net
        self.projection = projection
        self.instance = instance
        self.slots = slots  # trace or signal name -> slot
        self.lets = {let.name: let.value for let in instance.rule.lets}
        self.tag: tf.Tag | None = None  # read as the new tag (three_factor.new_tag)

    error = NotExpressible

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
        if self.tag is not None and node.name == self.tag.name:
            return tf.new_tag(self, self.tag)
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
        if node.name in self.slots:
            return {(self.slots[node.name],): 1.0}
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


def assign_traces(net: Network, projection: Projection, instance: RuleInstance,
                  third: bool = False) -> tuple[list[Trace], tf.Tag | None]:
    """The rule's traces in the engine's slots, and the synapse's tag (a lowpass of anything
    else, None without one). Their time constants and impulses are read on ``projection``
    (``post.tau_mem`` is the post population's parameter: a constant when it is uniform, else
    refused). With a third factor (``third``) the post neuron computes the post trace (y1)."""
    traces, tag = [], None
    free = {"pre": list(PRE_SLOTS), "post": list(tf.POST_SLOTS_3F if third else POST_SLOTS)}
    evaluate = Expander(net, projection, instance, {})
    for trace in instance.rule.traces:
        side = spike_filter(trace)
        if side is None:
            if tag is not None or not is_lowpass(trace):
                raise NotExpressible(tag_reason(net, trace, evaluate, tag), trace.span)
            constants = [evaluate.expand(arg) for arg in trace.value.args[1:]]
            tag = tf.find_tag(net, trace, constants, NotExpressible, render_constant)
            continue
        if tag is not None:
            raise NotExpressible(f"trace '{trace.name}' follows the tag '{tag.name}'; write the "
                                 "spike traces first", trace.span)
        constants = [evaluate.expand(arg) for arg in trace.value.args[1:]]
        if any(set(c) != {()} for c in constants):
            raise NotExpressible(f"trace '{trace.name}' needs a constant time constant and "
                                 "impulse", trace.span)
        if not free[side]:
            count = len(PRE_SLOTS) if side == "pre" else 3 - 2 * third
            raise NotExpressible(f"trace '{trace.name}': the engine has only {count} {side} "
                                 "trace" + ("s" if count > 1 else "")
                                 + (" besides the third factor (y2)" if third and side == "post"
                                    else ""), trace.span)
        tau = constants[0][()]
        scale = constants[1][()] if len(constants) > 1 else 1.0
        try:
            steps = decay_tau(net, tau)
        except ValueError:
            raise NotExpressible(f"trace '{trace.name}' has no exponential decay at this dt",
                                 trace.span) from None
        traces.append(Trace(free[side].pop(0), trace.name, steps, scale))
    return traces, tag


def is_lowpass(trace: ir.Trace) -> bool:
    value = trace.value
    return isinstance(value, ir.Call) and value.name == "lowpass" and len(value.args) > 1


def tag_reason(net: Network, trace: ir.Trace, evaluate: Expander, tag: tf.Tag | None) -> str:
    """Why a trace that is neither a spike filter nor the synapse's tag cannot be emitted."""
    if tag is not None:
        return (f"trace '{trace.name}' would be a second tag; a Loihi synapse has one (tag_1, "
                f"holding '{tag.name}')")
    return (f"trace '{trace.name}' is not a lowpass filter: the engine keeps spike traces "
            "(lowpass of pre.s or post.s) and one per-synapse tag (a lowpass of a sum of "
            "products)")


def translate(net: Network, projection: Projection, instance: RuleInstance,
              scale: float) -> LoihiRule:
    """The Loihi form of ``instance`` on ``projection`` whose post neurons scale their input
    by ``scale`` (Lava's weight = scale * snnc's weight). Raises NotExpressible."""
    rule = instance.rule
    signals = tf.third_factor_signals(rule, NotExpressible)
    traces, tag = assign_traces(net, projection, instance, third=bool(signals))
    if rule.optimizer != "sgd":
        raise NotExpressible("the engine applies dw directly (optimizer = sgd)", rule.span)
    third = Trace(tf.THIRD_SLOT, signals[0].name, 0.0, 1.0) if signals else None
    slots = {t.name: t.slot for t in traces} | ({third.name: third.slot} if third else {})
    expander = Expander(net, projection, instance, slots)
    by_slot = {t.slot: t for t in traces} | ({third.slot: third} if third else {})
    dt_products = tf.tag_dt(expander, tag) if tag is not None else None
    expander.tag = tag
    products = sum_of_products(expander, instance, scale)
    if any(key.count("t") > 1 for key in products):
        raise NotExpressible(f"the tag '{tag.name}' appears squared in dw; the engine's "
                             "products take it once", rule.span)
    if dt_products is not None:
        absorb_constants(dt_products, by_slot)
    absorb_constants(products, by_slot)
    y3_factor = None
    if tag is not None and third is not None and all(
            "y2" in key for key in products if "t" in key):
        products = tf.tag_through_y3(products)  # y3 = (1 - rate) y2, sent by the neuron
        by_slot["y3"] = Trace("y3", third.name, 0.0, 1.0, third.gain)
        y3_factor = 1.0 - tag.rendered
    else:
        products = dict(tf.split_tag(products, tag and tag.rendered))
    terms, roundings = render_terms(list(products.items()), by_slot)
    if not terms:
        raise NotExpressible("the rule's updates sum to zero", rule.span)
    out = LoihiRule(rule.name, projection.name, rule_text(terms), traces,
                    *weight_bounds(expander, rule, scale), roundings, tag=tag, third=third,
                    dw_terms=terms, y3_factor=y3_factor)
    if tag is not None:
        out.dt_terms, more = render_terms(list(dt_products.items()), by_slot)
        out.dt = rule_text(out.dt_terms)
        out.roundings += more
        if LOIHI.is_rounded(tag.rate, tag.rendered):
            out.roundings.append(Rounding(f"decay of the tag '{tag.name}' per step", tag.rate,
                                          tag.rendered, tf.expressible_taus(net, tag.rate)))
    if third is not None:
        out.signal = signals[0].generator.kind
        post = out.post_trace
        out.post_decay = None if post is None else post_decay(net, projection, instance, post)
    return out


def post_decay(net: Network, projection: Projection, instance: RuleInstance,
               trace: Trace) -> float:
    """snnc's decay per step of the post trace ``trace`` (the neuron computes it)."""
    written = next(t for t in instance.rule.traces if t.name == trace.name)
    expander = Expander(net, projection, instance, {})
    return float(decay(net.settings, expander.expand(written.value.args[1])[()]))


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


def render_terms(products: list[tuple[tuple[str, ...], float]],
                 by_slot: dict[str, Trace]) -> tuple[list[tuple[list[str], float]],
                                                      list[Rounding]]:
    """The products as the engine's terms (factors in Lava's order: traces, tag and weight,
    then the dependency, ``u0`` without a spike; the constant after the trace gains as ``m
    2^e`` or one) and the constants that are rounded."""
    terms, roundings = [], []
    for key, coefficient in products:
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
            terms.append((factors, math.copysign(1.0, value)))
            continue
        _, rendered = render_constant(value)
        terms.append((factors, rendered))
        if rendered != value:
            roundings.append(Rounding(" * ".join(factors), value, rendered))
    return terms, roundings


def rule_text(terms: list[tuple[list[str], float]], render=None) -> str | None:
    """Lava's rule string of the terms (None without any). A constant is written by
    ``render(factors, constant)`` when given and not None, else with
    :func:`render_constant`'s shortest mantissa (one and minus one as a sign)."""
    parts = []
    for factors, constant in terms:
        text = render(factors, constant) if render else None
        if text is None and abs(constant) == 1.0:
            parts.append(("-" if constant < 0 else "") + " * ".join(factors))
        else:
            text = text or render_constant(constant)[0]
            parts.append(f"{text} * " + " * ".join(factors))
    if not parts:
        return None
    return parts[0] + "".join(f" - {p[1:]}" if p.startswith("-") else f" + {p}"
                              for p in parts[1:])


def render_dw(products: list[tuple[tuple[str, ...], float]],
              by_slot: dict[str, Trace]) -> tuple[str | None, list[Rounding]]:
    """Lava's dw text (None when every product is zero) and the constants it rounds."""
    terms, roundings = render_terms(products, by_slot)
    return rule_text(terms), roundings


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
