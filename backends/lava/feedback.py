"""Learning signals computed from the readout's error (issue 17, part B): e-prop with random
feedback on Loihi's learning engine, as far as the rule's form and the signal's numbers go.

e-prop (``eprop_cuba``: ``dw = -L surrogate(post.v) zbar``) and the readout's ``delta``
(``dw = -err zbar``) are sums of products once each factor has its slot:

- ``zbar = lowpass(pre.s, tau)`` is a pre trace ``x1``; a cascade ``lowpass(lowpass(pre.s,
  tau_a), tau_b)`` (CubaLIF e-prop) is two: ``z = c_a q_a + c_b q_b`` with ``q_k <- k q_k +
  s`` and ``c_a = s a / (a - b)``, ``c_b = -s b / (a - b)`` (partial fractions of ``1 / ((1 -
  a X)(1 - b X))``, ``s`` the product of the scales), exact for ``a != b``; the coefficients are
  the traces' impulses (:func:`cascade`).
- ``surrogate(post.v)`` is a post factor the post neuron computes itself from its membrane
  before the reset (``psi(v - threshold)``, the population's surrogate) and sends as ``y1``
  (:func:`post_surrogate`, :data:`SURROGATES`).
- the learning signal is the third factor ``y2``: ``readout_error`` is the loss's error of the
  readout, ``softmax(v[n]) - onehot(label)`` for cross-entropy, ``v[n] - target`` otherwise
  (:func:`readout_error`, as the reference simulator's ``_error``), ``random_feedback`` that
  error through the fixed random matrix ``B`` [n_post, n_out] drawn exactly as snnc draws it
  (:func:`feedback_matrix`): ``L[n] = B e[n]``, the error of the same step n.

So ``dw = -lr L psi zbar`` becomes ``x1 * y1 * y2 * u0 - x2 * y1 * y2 * u0`` with the learning
rate and the cascade's coefficients in the impulses of ``x1`` and ``x2`` (exact). Two rules into
one population (e-prop's input and recurrent projections, each with its own ``B``) need two
third factors: the second is sent as ``y3`` (``slot``), the engine's last post trace.

:func:`translate` gives that form (a :class:`FeedbackRule`), which the tests check against the
reference simulator by evaluating it as Lava's floating-point engine does
(tests/test_lava_feedback.py). :func:`attach` gives the process graph what computes the
signals: the post neurons' role (``FeedbackLIF<k>``: psi as y1, the third factors received on
``a_third_y2``/``a_third_y3``), the readout's ``ReadoutError`` and, for random feedback, a
``RandomFeedback`` process with ``B``, connected port to port so that L[n] meets the traces of
step n (:mod:`.render_feedback` prints them, templates/feedback_models.py.j2 holds their
models). Both precisions run: in fixed point the neurons' integer membrane, psi, the error and
``B e`` are sent as 7-bit integers with power-of-two scales and the rules take fixed-point
impulses and constants (:mod:`.fixed_feedback`, quantization.json).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from snnc.backends.lava import learning as lr
from snnc.backends.lava import three_factor as tf
from snnc.backends.lava.graph import ErrorProcess, FeedbackProcess, FeedbackRole, LavaGraph, NeuronGroup
from snnc.ir import rules as ir
from snnc.ir.discrete import decay
from snnc.ir.network import Network
from snnc.ir.nodes import Population, Projection, RuleInstance
from snnc.ir.values import Constant, rng_for

#: learning signals from the readout's error that this module translates
FEEDBACK_GENERATORS = ("random_feedback", "readout_error", "local_readout")
#: the post trace slots of the third factors, in the order the projections into a population
#: take them
THIRD_SLOTS = ("y2", "y3")
#: the surrogate derivatives psi(x), x = v - threshold, as numpy expressions of ``x`` and the
#: surrogate's parameters (the reference simulator's ``_surrogate_<kind>``)
SURROGATES = {
    "fast_sigmoid": "1.0 / (beta * np.abs(x) + 1.0) ** 2",
    "piecewise_linear": "gamma * np.maximum(0.0, 1.0 - np.abs(x) / threshold)",
    "sigmoid": "beta / (1.0 + np.exp(-beta * x)) * (1.0 - 1.0 / (1.0 + np.exp(-beta * x)))",
    "exponential": "gamma * np.exp(-beta * np.abs(x))",
}


def feedback_matrix(seed: int, projection: str, rule: str, n_post: int,
                    n_out: int) -> np.ndarray:
    """``B`` [n_post, n_out] of ``random_feedback`` on ``projection``: N(0, 1/n_out), drawn
    from the network seed and the projection's and rule's names, as snnc draws it."""
    rng = rng_for(seed, projection, rule, "feedback")
    return rng.normal(0, 1 / math.sqrt(n_out), (n_post, n_out))


def readout_error(v: np.ndarray, target: np.ndarray, loss: str) -> np.ndarray:
    """The loss's error dL/dv of the readout's voltage ``v`` [batch, n] at one step: for
    cross-entropy ``softmax(v) - onehot(target)`` (``target``: class indices [batch]), else
    ``v - target`` (``target`` [batch, n])."""
    v = np.asarray(v, float)
    if loss == "cross_entropy":
        z = np.exp(v - v.max(axis=-1, keepdims=True))
        out = z / z.sum(axis=-1, keepdims=True)
        out[np.arange(v.shape[0]), np.asarray(target).astype(int)] -= 1.0
        return out
    return v - np.asarray(target, float)


def post_surrogate(net: Network, population: str, error) -> tuple[str, dict[str, float]]:
    """(kind, parameters) of the population's surrogate derivative (:data:`SURROGATES`), which
    its post neuron computes at ``x = v - threshold``; ``error(message, span)`` is raised when it
    cannot (an adaptive threshold, per-neuron thresholds, an unknown surrogate)."""
    node = net.node(population)
    if not isinstance(node, Population):
        raise error(f"surrogate(post.v): '{population}' has no membrane", None)
    kind, params = node.options.get("surrogate", ("fast_sigmoid", {"beta": 10.0}))
    if kind not in SURROGATES:
        raise error(f"surrogate '{kind}' of '{population}': the post neuron computes "
                    f"{', '.join(SURROGATES)}", None)
    threshold = node.params.get("threshold", Constant(1.0))
    if not isinstance(threshold, Constant):
        raise error(f"surrogate(post.v) of '{population}' needs one threshold for the "
                    "population", None)
    values = {k: float(v) for k, v in params.items()}
    if kind == "piecewise_linear":
        values["threshold"] = float(threshold.value)
    return kind, values


def surrogate(kind: str, params: dict[str, float], x: np.ndarray) -> np.ndarray:
    """The surrogate ``kind`` (:data:`SURROGATES`) at ``x``, as the post neuron evaluates
    it."""
    return eval(SURROGATES[kind], {"__builtins__": {}, "np": np},  # noqa: S307 - our text
                {"x": x, **params})


def cascade(decays: list[float], scale: float) -> list[tuple[float, float]]:
    """A cascade of lowpass filters with ``decays`` (innermost first) and product of scales
    ``scale`` as a sum of first-order traces: [(decay, coefficient)], ``z = sum c_k q_k`` with
    ``q_k <- decay_k q_k + s``. ValueError for equal decays (``n a^n`` is no trace)."""
    if len(decays) == 1:
        return [(decays[0], scale)]
    a, b = decays
    if math.isclose(a, b, rel_tol=1e-9):
        raise ValueError(a)
    return [(a, scale * a / (a - b)), (b, -scale * b / (a - b))]


def filters(expander: lr.Expander, value: ir.Expr,
            definitions: dict[str, ir.Expr] | None = None) -> tuple[list[float], float]:
    """(decays innermost first, product of scales) of ``lowpass(... lowpass(pre.s, tau) ...)``,
    a reference to another trace standing for its definition (``definitions``: name -> value;
    DECOLLE's ``p = lowpass(q, tau_mem)`` with ``q = lowpass(pre.s, tau_syn)``); raises
    NotExpressible for anything else."""
    decays, scale = [], 1.0
    node = value
    while isinstance(node, ir.TraceRef) and node.name in (definitions or {}) \
            or isinstance(node, ir.Call) and node.name == "lowpass":
        if isinstance(node, ir.TraceRef):
            node = definitions[node.name]
            continue
        constants = [expander.expand(arg) for arg in node.args[1:]]
        if any(set(c) != {()} for c in constants):
            raise lr.NotExpressible("the trace needs constant time constants and scales",
                                    node.span)
        decays.insert(0, float(decay(expander.net.settings, constants[0][()])))
        scale *= constants[1][()] if len(constants) > 1 else 1.0
        node = node.args[0]
    if not (isinstance(node, ir.NeuronVar) and node.side == "pre" and node.attribute == "s") \
            or not 1 <= len(decays) <= len(lr.PRE_SLOTS):
        raise lr.NotExpressible("a trace of a feedback rule must filter pre.s once or twice "
                                "(lowpass of pre.s, or lowpass of such a lowpass)", value.span)
    return decays, scale


class FeedbackExpander(lr.Expander):
    """The rule's expressions as products, with ``surrogate(post.v)`` the post neuron's ``y1``
    and a cascade trace the sum of its pre traces."""

    def __init__(self, net, projection, instance, slots, cascades):
        super().__init__(net, projection, instance, slots)
        self.cascades = cascades  # trace name -> its slots (x1 [, x2])

    def visit_Call(self, node: ir.Call) -> dict[tuple[str, ...], float]:
        arg = node.args[0] if node.args else None
        if node.name == "surrogate" and isinstance(arg, ir.NeuronVar) \
                and arg.side == "post" and arg.attribute == "v":
            return {("y1",): 1.0}
        return super().visit_Call(node)

    def visit_TraceRef(self, node: ir.TraceRef) -> dict[tuple[str, ...], float]:
        if node.name in self.cascades:
            return {(slot,): 1.0 for slot in self.cascades[node.name]}
        return super().visit_TraceRef(node)


def pre_traces(net: Network, projection: Projection, instance: RuleInstance,
               ) -> tuple[list[lr.Trace], dict[str, list[str]]]:
    """The rule's pre traces as the engine's x1 (and x2), and each trace's slots."""
    evaluate = lr.Expander(net, projection, instance, {})
    traces, cascades, free = [], {}, list(lr.PRE_SLOTS)
    rule = instance.rule
    definitions = {trace.name: trace.value for trace in rule.traces}
    read = {node.name for statement in (*rule.lets, *rule.updates)
            for node in ir.walk(statement.value) if isinstance(node, ir.TraceRef)}
    for trace in rule.traces:
        if trace.name not in read and any(
                isinstance(node, ir.TraceRef) and node.name == trace.name
                for other in rule.traces if other is not trace for node in ir.walk(other.value)):
            continue  # only filtered by another trace: part of that trace's cascade
        decays, scale = filters(evaluate, trace.value, definitions)
        try:
            parts = cascade(decays, scale)
        except ValueError:
            raise lr.NotExpressible(f"trace '{trace.name}' filters twice with the same time "
                                    "constant: not a sum of the engine's traces",
                                    trace.span) from None
        if len(parts) > len(free):
            raise lr.NotExpressible(f"trace '{trace.name}': the engine has only "
                                    f"{len(lr.PRE_SLOTS)} pre traces", trace.span)
        cascades[trace.name] = []
        for a, coefficient in parts:
            slot = free.pop(0)
            traces.append(lr.Trace(slot, trace.name, -1.0 / math.log(a), coefficient))
            cascades[trace.name].append(slot)
    return traces, cascades


def feedback_signal(rule: ir.RuleDef) -> ir.Signal:
    """The rule's one learning signal from the readout's error; NotExpressible otherwise."""
    if len(rule.signals) != 1 or rule.signals[0].generator.kind not in FEEDBACK_GENERATORS:
        raise lr.NotExpressible("a feedback rule has one signal, "
                                + " or ".join(FEEDBACK_GENERATORS), rule.span)
    return rule.signals[0]


@dataclass
class FeedbackRule:
    """A feedback rule in the engine's terms and what its post neuron sends: ``y1 = psi_gain
    psi(v - threshold)`` (``surrogate``: its kind and parameters, None when dw has no
    surrogate) and ``<rule.third.slot> = rule.third.gain L``."""

    rule: lr.LoihiRule
    psi_gain: float
    surrogate: tuple[str, dict[str, float]] | None


def translate(net: Network, projection: Projection, instance: RuleInstance, scale: float,
              slot: str = tf.THIRD_SLOT) -> FeedbackRule:
    """The Loihi form of a feedback rule (e-prop, delta) on ``projection`` whose post neurons
    scale their input by ``scale``, its learning signal in the post trace ``slot`` (y2 or
    y3), ``surrogate(post.v)`` as y1. Raises NotExpressible."""
    rule = instance.rule
    signal = feedback_signal(rule)
    if rule.optimizer != "sgd":
        raise lr.NotExpressible("the engine applies dw directly (optimizer = sgd)", rule.span)
    traces, cascades = pre_traces(net, projection, instance)
    third = lr.Trace(slot, signal.name, 0.0, 1.0)
    psi = lr.Trace("y1", "surrogate(post.v)", 0.0, 1.0)
    expander = FeedbackExpander(net, projection, instance, {signal.name: slot}, cascades)
    products = lr.sum_of_products(expander, instance, scale)
    psi_form = None
    if any("y1" in key for key in products):
        psi_form = post_surrogate(net, projection.post, lr.NotExpressible)
    by_slot = {t.slot: t for t in traces} | {slot: third, "y1": psi}
    lr.absorb_constants(products, by_slot)
    terms, roundings = lr.render_terms(list(products.items()), by_slot)
    if not terms:
        raise lr.NotExpressible("the rule's updates sum to zero", rule.span)
    out = lr.LoihiRule(rule.name, projection.name, lr.rule_text(terms), traces,
                       *lr.weight_bounds(expander, rule, scale), roundings, third=third,
                       dw_terms=terms)
    out.signal = signal.generator.kind
    return FeedbackRule(out, psi.gain or 1.0, psi_form)




def is_feedback(rule: ir.RuleDef) -> bool:
    """Whether the rule's learning signal comes from the readout's error (this module)."""
    return any(s.generator.kind in FEEDBACK_GENERATORS for s in rule.signals)


def next_slot(graph: LavaGraph, blocks) -> str | None:
    """The post trace the next feedback rule into the blocks' post group takes (y2, then y3;
    None when both are taken)."""
    group = next(g for g in graph.groups if g.name == blocks[0].post)
    taken = group.feedback.thirds if group.feedback is not None else {}
    return next((slot for slot in THIRD_SLOTS if slot not in taken), None)


def single_group(graph: LavaGraph, population: str, error) -> NeuronGroup:
    """The one process of ``population``; ``error`` when it is split (per-neuron time constants
    or thresholds) or not a population."""
    groups = graph.groups_of(population)
    if len(groups) != 1:
        raise error(f"'{population}' is split into {len(groups)} Lava processes (different "
                    "time constants or thresholds); a feedback rule needs one process per "
                    "population", None)
    return groups[0]


def take(group: NeuronGroup, graph: LavaGraph) -> FeedbackRole:
    """The group's feedback role (made on first use; its inputs become numbered ports)."""
    if group.feedback is None:
        if group.third is not None:
            raise lr.NotExpressible(f"'{group.population}' is the post population of a reward "
                                    "rule and of a feedback rule", None)
        group.feedback = FeedbackRole()
        for c in graph.connections:
            if c.post == group.name and c.port == "a_in":
                c.port = "a_in_0"  # the program's models number their input ports
    return group.feedback


def attach(net: Network, graph: LavaGraph, projection: Projection, translated: FeedbackRule,
           ) -> None:
    """Give the graph what computes the rule's learning signal: the post neuron's role (psi,
    the third factor's port), the readout's voltage, the error process of the readout and,
    for random feedback, the feedback process with B. Raises NotExpressible."""
    rule, instance = translated.rule, projection.rules[0]
    signal = feedback_signal(instance.rule)
    readout = signal.generator.source(instance.args)
    loss = next((x for x in net.losses if x.population == readout), None)
    if loss is None or loss.kind != "cross_entropy":
        raise lr.NotExpressible(f"signal '{signal.name}' needs a cross_entropy loss on "
                                f"'{readout}' (the error process computes softmax(v) - "
                                "onehot(label))", signal.span)
    post = single_group(graph, projection.post, lr.NotExpressible)
    out = single_group(graph, readout, lr.NotExpressible)
    role = take(post, graph)
    if translated.surrogate is not None:
        role.surrogate = translated.surrogate
    role.thirds[rule.third.slot] = projection.name
    take(out, graph).sends_v = True
    error = next((e for e in graph.errors if e.readout == out.name), None)
    if error is None:
        error = ErrorProcess(f"error of {readout}", out.name, out.size, loss.kind)
        graph.errors.append(error)
    matrix = None
    if signal.generator.kind == "random_feedback":
        matrix = feedback_matrix(net.settings.seed, projection.name, instance.rule.name,
                                 post.size, out.size)
    graph.feedbacks.append(FeedbackProcess(f"feedback to {projection.name}", projection.name,
                                           error.name, post.name, rule.third.slot, matrix))
