"""What a learning rule reads, where it comes from, and what state it needs (docs/learning.md).

Every sub-expression of a rule, attached to a projection with pre neurons j and post neurons
i, gets

- an **index**: the neurons it varies over, a subset of {"i", "j", "k"} (post, pre, every
  neuron of the network). ``pre.s`` is {j}, ``post.v`` {i}, ``w`` {i, j}, a constant {}.
  A product's index is the union of its factors' indices.
- **tags**: the provenance of what it reads: ``pre``, ``post``, ``syn``, ``mod``, ``remote``,
  ``future``; with the span and the reason for every non-local one.

State lives only in traces (named ``trace`` statements and every ``lowpass``). A trace's
index is the fixpoint of its update expression's index, which decides the factorization rule:
a product of a post and a pre quantity that is *not* filtered afterwards is formed on demand
(no state of its own), while a filter applied after the product has index {i, j} and must be
stored per synapse. The class follows from the tags: (a) only pre/post/syn, (b) plus mod,
(c) anything remote, (d) anything future.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from snnc.diagnostics import Span
from snnc.frontend import ast
from snnc.frontend.evaluate import Symbol
from snnc.ir.network import Network
from snnc.ir.nodes import Input, Population, Projection, RuleInstance

LOCAL_TAGS = frozenset({"pre", "post", "syn"})
NONLINEAR = frozenset({"exp", "log", "sqrt", "tanh", "abs", "sign", "heaviside", "min", "max",
                       "clip"})


@dataclass(frozen=True)
class Term:
    """A reason why a rule is not synapse-local, at the expression that causes it."""

    tag: str  # mod | remote | future
    span: Span
    reason: str


@dataclass(frozen=True)
class Info:
    index: frozenset = frozenset()
    tags: frozenset = frozenset()
    terms: tuple[Term, ...] = ()
    constant: bool = True

    def __or__(self, other: Info) -> Info:
        terms = self.terms + tuple(t for t in other.terms if t not in self.terms)
        return Info(self.index | other.index, self.tags | other.tags, terms,
                    self.constant and other.constant)


CONSTANT = Info()


@dataclass(frozen=True)
class StateItem:
    """One trace: its name (``lowpass@file:line:col`` when anonymous), where it is indexed, and how
    many numbers it holds for this projection."""

    name: str
    index: frozenset
    count: int
    span: Span
    ops: int

    @property
    def scope(self) -> str:
        return scope_name(self.index)


def scope_name(index: frozenset) -> str:
    base = {frozenset(): "scalar", frozenset({"j"}): "per pre-neuron",
            frozenset({"i"}): "per post-neuron", frozenset({"i", "j"}): "per synapse"}
    if "k" in index:
        rest = base.get(index - {"k"}, "per synapse")
        return "per network neuron" if rest == "scalar" else f"{rest}, per network neuron"
    return base[index]


@dataclass(frozen=True)
class Generator:
    """A third-factor signal and the class of the mechanism that produces it."""

    signal: str
    kind: str
    tags: frozenset
    span: Span
    reason: str

    @property
    def cls(self) -> str:
        return rule_class(self.tags)


def rule_class(tags: frozenset) -> str:
    """The class of what a rule reads: 'c+d' when it is non-local in both space and time."""
    if "future" in tags:
        return "c+d" if "remote" in tags else "d"
    if "remote" in tags:
        return "c"
    if "mod" in tags:
        return "b"
    return "a"


@dataclass
class Analysis:
    """Everything the locality report and the target check need about one rule instance."""

    projection: Projection
    rule: RuleInstance
    tags: frozenset = frozenset()
    terms: list[Term] = field(default_factory=list)
    generators: list[Generator] = field(default_factory=list)
    state: list[StateItem] = field(default_factory=list)
    update_ops: int = 0
    update_index: frozenset = frozenset()
    reads: set[str] = field(default_factory=set)  # e.g. "post.v", "pre.s", "w"
    functions: set[str] = field(default_factory=set)  # nonlinear functions of variables
    divides: bool = False
    triggers: set[str] = field(default_factory=set)
    history_steps: int | None = None  # for backprop_through_time: the T of O(N T)
    synapses: int = 0

    @property
    def cls(self) -> str:
        return rule_class(self.tags)


GENERATOR_TAGS = {
    "reward": ({"mod"}, "a global reward broadcast to every neuron on a third-factor channel"),
    "random_feedback": ({"mod"}, "the readout error sent back through fixed random weights: "
                                 "a third factor delivered to each neuron"),
    "local_readout": ({"mod"}, "the error of a fixed random readout of this layer: computed "
                               "next to the layer and delivered as a third factor"),
    "readout_error": ({"mod"}, "the readout's own error, delivered to the readout neuron"),
    "symmetric_feedback": ({"remote"}, "transports the readout weights W^T to the hidden "
                                       "neurons (weight transport): non-local in space"),
    "exact_feedback": ({"remote"}, "backpropagates the loss through every layer at each step "
                                   "(transposed weights of other projections): non-local in "
                                   "space"),
    "backprop_through_time": ({"remote", "future"},
                              "adjoints computed backwards from the end of the sequence through "
                              "the transposed weights: non-local in time and in space"),
}


class RuleAnalyzer:
    """Analyses one rule instance on one projection of a network."""

    def __init__(self, net: Network, projection: Projection, instance: RuleInstance,
                 steps: int):
        self.net = net
        self.steps = steps
        self.projection = projection
        self.instance = instance
        self.rule = instance.rule
        self.pre: Input | Population = net.node(projection.pre)
        self.post: Input | Population = net.node(projection.post)
        self.synapses = net.synapse_count(projection)
        self.result = Analysis(projection, instance, synapses=self.synapses)
        self.lets = {let.name.text: let for let in self.rule.lets}
        self.let_info: dict[str, Info] = {}
        self.traces = {t.name.text: t for t in self.rule.traces}
        self.trace_info: dict[str, Info] = {name: CONSTANT for name in self.traces}
        self.signal_info: dict[str, Info] = {}
        self.anonymous: dict[Span, StateItem] = {}
        self.collect_anonymous = False

    # -- entry --------------------------------------------------------------------------------
    def run(self) -> Analysis:
        for signal in self.rule.signals:
            self.signal_info[signal.name.text] = self.generator(signal)
        self.solve_traces()
        self.collect_anonymous = True
        for name, trace in self.traces.items():
            info = self.visit(trace.value)
            self.add_state(name, info.index, trace.span, count_ops(trace.value))
        total = CONSTANT
        ops = 0
        for update in self.rule.updates:
            info = self.visit(update.value)
            if update.trigger is not None and update.trigger.text in ("pre", "post"):
                side = update.trigger.text
                info = info | Info(frozenset({"j" if side == "pre" else "i"}), frozenset({side}),
                                   constant=False)
                self.result.triggers.add(side)
                self.result.reads.add(f"{side}.s")
            else:
                self.result.triggers.add("step")
            total = total | info
            ops += count_ops(update.value) + 1
        self.result.state.extend(self.anonymous.values())
        if self.rule.optimizer == "adam":
            self.result.state.append(StateItem("adam moments", frozenset({"i", "j"}),
                                               2 * self.synapses, self.rule.span, 4))
        self.result.tags = frozenset(total.tags)
        self.result.terms = list(total.terms)
        self.result.update_ops = ops
        self.result.update_index = total.index
        return self.result

    def solve_traces(self) -> None:
        """Fixpoint of trace indices and tags (a trace may read itself and other traces)."""
        for _ in range(len(self.traces) + 2):
            changed = False
            for name, trace in self.traces.items():
                info = self.visit(trace.value) | self.trace_info[name]
                if info != self.trace_info[name]:
                    self.trace_info[name] = info
                    changed = True
            if not changed:
                return

    def add_state(self, name: str, index: frozenset, span: Span, ops: int) -> None:
        self.result.state.append(StateItem(name, index, self.count(index), span, ops))

    def count(self, index: frozenset) -> int:
        base = index - {"k"}
        if base == frozenset():
            n = 1
        elif base == frozenset({"j"}):
            n = self.pre.size
        elif base == frozenset({"i"}):
            n = self.post.size
        else:
            n = self.synapses
        return n * (self.net.neuron_count if "k" in index else 1)

    # -- generators ---------------------------------------------------------------------------
    def generator(self, signal: ast.SignalDef) -> Info:
        value = signal.value
        call = value if isinstance(value, ast.Call) else ast.Call(value.parts[0], (), (),
                                                                  value.span)
        kind = call.func.text
        tags, reason = GENERATOR_TAGS[kind]
        tags = set(tags)
        source = self.source_population(call)
        if kind == "readout_error" and source is not None and source != self.projection.post:
            tags, reason = {"remote"}, (f"the error of readout '{source}' is read at neurons of "
                                        f"'{self.projection.post}', which are not the readout: "
                                        "non-local in space")
        generator = Generator(signal.name.text, kind, frozenset(tags), call.span, reason)
        self.result.generators.append(generator)
        terms = tuple(Term(tag, call.span, f"signal '{signal.name.text}' = {kind}: {reason}")
                      for tag in sorted(tags))
        self.add_state(f"signal {signal.name.text}", frozenset({"i"}), call.span, 0)
        if kind == "backprop_through_time":
            variables = max((len(p.model.variables) - 1 for p in self.net.populations()),
                            default=1)
            self.result.state.append(StateItem(
                f"history of {signal.name.text}", frozenset({"k"}),
                self.net.neuron_count * self.steps * variables, call.span, 0))
            self.result.history_steps = self.steps
        return Info(frozenset({"i"}), frozenset(tags), terms, constant=False)

    def source_population(self, call: ast.Call) -> str | None:
        expr = call.kwarg("from") or (call.args[0] if call.args else None)
        if isinstance(expr, ast.Ref) and len(expr.parts) == 1:
            name = expr.parts[0].text
            value = self.instance.args.get(name)
            if isinstance(value, Symbol):
                return value.name
            return name
        return None

    # -- expressions --------------------------------------------------------------------------
    def visit(self, expr: ast.Expr) -> Info:
        if isinstance(expr, ast.Quantity):
            return CONSTANT
        if isinstance(expr, ast.Ref):
            return self.ref(expr)
        if isinstance(expr, ast.Unary):
            return self.visit(expr.operand)
        if isinstance(expr, ast.Binary):
            left, right = self.visit(expr.left), self.visit(expr.right)
            if expr.op == "/" and not right.constant:
                self.result.divides = True
            if expr.op == "^" and not (left.constant and right.constant):
                self.result.functions.add("^")
            return left | right
        if isinstance(expr, ast.Call):
            return self.call(expr)
        if isinstance(expr, ast.ListExpr):
            info = CONSTANT
            for item in expr.items:
                info = info | self.visit(item)
            return info
        return CONSTANT

    def call(self, call: ast.Call) -> Info:
        info = CONSTANT
        for arg in call.args:
            info = info | self.visit(arg)
        name = call.func.text
        if name in NONLINEAR and not info.constant:
            self.result.functions.add(name)
        if name == "lowpass" and self.collect_anonymous and not self.is_named_trace(call):
            key = call.span
            if key not in self.anonymous:
                self.anonymous[key] = StateItem(f"lowpass@{key}", info.index,
                                                self.count(info.index), key,
                                                count_ops(call.args[0]) + 1)
        return info

    def is_named_trace(self, call: ast.Call) -> bool:
        return any(trace.value is call for trace in self.rule.traces)

    def ref(self, ref: ast.Ref) -> Info:
        root = ref.parts[0].text
        if root in ("pre", "post") and len(ref.parts) == 2:
            return self.neuron_ref(root, ref.parts[1].text, ref.span)
        if root == "w" and len(ref.parts) == 1:
            self.result.reads.add("w")
            return Info(frozenset({"i", "j"}), frozenset({"syn"}), constant=False)
        if root == "net":
            what = ref.parts[1].text if len(ref.parts) > 1 else "state"
            index = frozenset({"k", "i"}) if what == "jacobian" else frozenset({"k"})
            self.result.reads.add(ref.dotted)
            reason = (f"{ref.dotted} reads the state of every neuron in the network: non-local "
                      "in space")
            return Info(index, frozenset({"remote"}), (Term("remote", ref.span, reason),),
                        constant=False)
        if root in self.traces and len(ref.parts) == 1:
            return self.trace_info[root]
        if root in self.signal_info and len(ref.parts) == 1:
            return self.signal_info[root]
        if root in self.lets and len(ref.parts) == 1:
            if root not in self.let_info:
                self.let_info[root] = CONSTANT  # guards against cycles
                self.let_info[root] = self.visit(self.lets[root].value)
            return self.let_info[root]
        value = self.instance.args.get(root)
        population = value.name if isinstance(value, Symbol) else (
            root if self.net.has_node(root) else None)
        if population is not None and len(ref.parts) == 2:
            return self.other_population(population, ref.parts[1].text, ref.span)
        return CONSTANT  # a numeric rule parameter or a population used as a name

    def neuron_ref(self, side: str, attribute: str, span: Span) -> Info:
        node = self.pre if side == "pre" else self.post
        index = frozenset({"j" if side == "pre" else "i"})
        if isinstance(node, Population) and attribute in node.params:
            if node.param_is_uniform(attribute):
                return CONSTANT
            return Info(index, frozenset({side}), constant=False)
        self.result.reads.add(f"{side}.{attribute}")
        return Info(index, frozenset({side}), constant=False)

    def other_population(self, name: str, attribute: str, span: Span) -> Info:
        node = self.net.node(name)
        if isinstance(node, Population) and attribute in node.params and \
                node.param_is_uniform(attribute):
            return CONSTANT
        reason = f"{name}.{attribute} is state of another population: non-local in space"
        return Info(frozenset({"k"}), frozenset({"remote"}), (Term("remote", span, reason),),
                    constant=False)


def count_ops(expr: ast.Expr) -> int:
    """Arithmetic operations (multiply-adds and function calls) in an expression."""
    stack, ops = [expr], 0
    while stack:
        node = stack.pop()
        if isinstance(node, ast.Binary):
            ops += 1
            stack += [node.left, node.right]
        elif isinstance(node, ast.Unary):
            stack.append(node.operand)
        elif isinstance(node, ast.Call):
            ops += 1
            stack += list(node.args)
    return ops


def analyse(net: Network, projection: Projection, instance: RuleInstance,
            steps: int) -> Analysis:
    """The analysis of one rule on one projection; ``steps`` is T for stored histories."""
    return RuleAnalyzer(net, projection, instance, steps).run()
