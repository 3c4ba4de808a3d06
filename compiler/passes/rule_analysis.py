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
from snnc.functions import RuleFunction
from snnc.ir import rules as ir
from snnc.ir.network import Network
from snnc.ir.nodes import Input, Population, Projection, RuleInstance

LOCAL_TAGS = frozenset({"pre", "post", "syn"})


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
    functions: set[str] = field(default_factory=set)  # nonlinear functions of variables, "^"
    #: every function of the table applied to a variable (not only to constants), by name
    calls: dict[str, RuleFunction] = field(default_factory=dict)
    divides: bool = False
    triggers: set[str] = field(default_factory=set)
    history_steps: int | None = None  # for backprop_through_time: the T of O(N T)
    synapses: int = 0
    #: the locality index: the Info of every sub-expression of the rule (typed IR node -> Info)
    info: dict[ir.Expr, Info] = field(default_factory=dict, repr=False)
    #: the Info of every named trace (the fixpoint of its update)
    traces: dict[str, Info] = field(default_factory=dict, repr=False)

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
    "learned_feedback": ({"mod"}, "the readout error sent back through feedback weights of "
                                  "the layer's own that learn locally: each feedback synapse "
                                  "k -> j applies the update of its forward twin j -> k (the "
                                  "readout's error times neuron j's trace), so the feedback "
                                  "aligns with W^T without reading it (Kolen-Pollack): a third "
                                  "factor delivered to each neuron"),
    "symmetric_feedback": ({"remote"}, "transports the readout weights W^T to the hidden "
                                       "neurons (weight transport): non-local in space"),
    "exact_feedback": ({"remote"}, "backpropagates the loss through every layer at each step "
                                   "(transposed weights of other projections): non-local in "
                                   "space"),
    "backprop_through_time": ({"remote", "future"},
                              "adjoints computed backwards from the end of the sequence through "
                              "the transposed weights: non-local in time and in space"),
}



class RuleAnalyzer(ir.Visitor[Info]):
    """Analyses one rule instance (its typed rule, ``instance.rule``) on one projection.

    :meth:`run` returns the :class:`Analysis`. The traces' indices are a fixpoint, so the rule is
    walked until they settle, then once more (the final pass) to record what it reads, the
    functions it applies to variables, its anonymous traces and the locality index
    (``Analysis.info``). Afterwards :meth:`visit` still answers the Info of any expression of the
    rule, without changing the result.
    """

    def __init__(self, net: Network, projection: Projection, instance: RuleInstance,
                 steps: int):
        self.net = net
        self.steps = steps
        self.projection = projection
        self.instance = instance
        self.rule: ir.RuleDef = instance.rule
        self.pre: Input | Population = net.node(projection.pre)
        self.post: Input | Population = net.node(projection.post)
        self.synapses = net.synapse_count(projection)
        self.result = Analysis(projection, instance, synapses=self.synapses)
        self.info = self.result.info
        self.lets = {let.name: let for let in self.rule.lets}
        self.let_info: dict[str, Info] = {}
        self.traces = {t.name: t for t in self.rule.traces}
        self.trace_info: dict[str, Info] = {name: CONSTANT for name in self.traces}
        self.signal_info: dict[str, Info] = {}
        self.anonymous: dict[ir.Call, StateItem] = {}
        self.collect = False  # the final pass: record reads, functions and anonymous traces
        self.indexing = False  # record every visited expression's Info in ``info``

    # -- entry --------------------------------------------------------------------------------
    def run(self) -> Analysis:
        for signal in self.rule.signals:
            self.signal_info[signal.name] = self.generator(signal)
        self.solve_traces()
        self.collect = self.indexing = True
        self.let_info = {}
        for name, trace in self.traces.items():
            info = self.visit(trace.value)
            self.add_state(name, info.index, trace.span, count_ops(trace.value))
        total = CONSTANT
        ops = 0
        for update in self.rule.updates:
            info = self.visit(update.value)
            if update.trigger in ("pre", "post"):
                side = update.trigger
                info = info | Info(frozenset({"j" if side == "pre" else "i"}), frozenset({side}),
                                   constant=False)
                self.result.triggers.add(side)
                self.result.reads.add(f"{side}.s")
            else:
                self.result.triggers.add("step")
            total = total | info
            ops += count_ops(update.value) + 1
        self.collect = False
        self.index_the_rest()
        self.indexing = False
        self.result.state.extend(self.anonymous.values())
        if self.rule.optimizer == "adam":
            self.result.state.append(StateItem("adam moments", frozenset({"i", "j"}),
                                               2 * self.synapses, self.rule.span, 4))
        self.result.tags = frozenset(total.tags)
        self.result.terms = list(total.terms)
        self.result.update_ops = ops
        self.result.update_index = total.index
        self.result.traces = dict(self.trace_info)
        return self.result

    def index_the_rest(self) -> None:
        """Index what the final pass did not reach (lets no statement reads, the generators'
        arguments, the bounds) without recording anything about the rule."""
        for name, let in self.lets.items():
            if let.value not in self.info:
                self.let_info[name] = self.visit(let.value)
        for signal in self.rule.signals:
            for arg in signal.generator.args.values():
                self.visit(arg)
        for bound in self.rule.bounds or ():
            self.visit(bound)

    def solve_traces(self) -> None:
        """Fixpoint of trace indices and tags (a trace may read itself and other traces)."""
        for _ in range(len(self.traces) + 2):
            changed = False
            self.let_info = {}
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
    def generator(self, signal: ir.Signal) -> Info:
        gen = signal.generator
        kind = gen.kind
        tags, reason = GENERATOR_TAGS[kind]
        tags = set(tags)
        source = gen.source(self.instance.args)
        if kind == "readout_error" and source is not None and source != self.projection.post:
            tags, reason = {"remote"}, (f"the error of readout '{source}' is read at neurons of "
                                        f"'{self.projection.post}', which are not the readout: "
                                        "non-local in space")
        self.result.generators.append(Generator(signal.name, kind, frozenset(tags), gen.span,
                                                reason))
        terms = tuple(Term(tag, gen.span, f"signal '{signal.name}' = {kind}: {reason}")
                      for tag in sorted(tags))
        self.add_state(f"signal {signal.name}", frozenset({"i"}), gen.span, 0)
        if kind == "learned_feedback" and source is not None and self.net.has_node(source):
            self.result.state.append(StateItem(  # B: a feedback synapse per (neuron, readout)
                f"feedback weights of {signal.name} (one per readout neuron)", frozenset({"i"}),
                self.post.size * self.net.node(source).size, gen.span, 0))
        if kind == "backprop_through_time":
            variables = max((len(p.model.variables) - 1 for p in self.net.populations()),
                            default=1)
            self.result.state.append(StateItem(
                f"history of {signal.name}", frozenset({"k"}),
                self.net.neuron_count * self.steps * variables, gen.span, 0))
            self.result.history_steps = self.steps
        return Info(frozenset({"i"}), frozenset(tags), terms, constant=False)

    # -- expressions --------------------------------------------------------------------------
    def visit(self, expr: ir.Expr) -> Info:
        info = super().visit(expr)
        if self.indexing:
            self.info[expr] = info
        return info

    def visit_Const(self, expr: ir.Const) -> Info:
        return CONSTANT

    def visit_Param(self, expr: ir.Param) -> Info:
        return CONSTANT  # a number bound per projection (a population name is not read)

    def visit_PopulationRef(self, expr: ir.PopulationRef) -> Info:
        return CONSTANT  # a name, not a value

    def visit_Unary(self, expr: ir.Unary) -> Info:
        return self.visit(expr.operand)

    def visit_Binary(self, expr: ir.Binary) -> Info:
        left, right = self.visit(expr.left), self.visit(expr.right)
        if self.collect and expr.op == "/" and not right.constant:
            self.result.divides = True
        if self.collect and expr.op == "^" and not (left.constant and right.constant):
            self.result.functions.add("^")
        return left | right

    def visit_Call(self, call: ir.Call) -> Info:
        info = CONSTANT
        for arg in call.args:
            info = info | self.visit(arg)
        if not self.collect:
            return info
        function = call.function
        if not info.constant:
            self.result.calls[function.name] = function
            if function.nonlinear:
                self.result.functions.add(function.name)
        if function.name == "lowpass" and not self.is_named_trace(call) \
                and call not in self.anonymous:
            key = call.span
            self.anonymous[call] = StateItem(f"lowpass@{key}", info.index, self.count(info.index),
                                             key, count_ops(call.args[0]) + 1)
        return info

    def is_named_trace(self, call: ir.Call) -> bool:
        return any(trace.value is call for trace in self.rule.traces)

    def visit_Weight(self, expr: ir.Weight) -> Info:
        if self.collect:
            self.result.reads.add("w")
        return Info(frozenset({"i", "j"}), frozenset({"syn"}), constant=False)

    def visit_NetState(self, expr: ir.NetState) -> Info:
        index = frozenset({"k", "i"}) if expr.what == "jacobian" else frozenset({"k"})
        if self.collect:
            self.result.reads.add(expr.dotted)
        reason = (f"{expr.dotted} reads the state of every neuron in the network: non-local "
                  "in space")
        return Info(index, frozenset({"remote"}), (Term("remote", expr.span, reason),),
                    constant=False)

    def visit_TraceRef(self, expr: ir.TraceRef) -> Info:
        return self.trace_info[expr.name]

    def visit_SignalRef(self, expr: ir.SignalRef) -> Info:
        return self.signal_info[expr.name]

    def visit_LetRef(self, expr: ir.LetRef) -> Info:
        name = expr.name
        if name not in self.let_info:
            self.let_info[name] = CONSTANT  # guards against cycles
            self.let_info[name] = self.visit(self.lets[name].value)
        return self.let_info[name]

    def visit_NeuronVar(self, expr: ir.NeuronVar) -> Info:
        side, attribute = expr.side, expr.attribute
        node = self.pre if side == "pre" else self.post
        index = frozenset({"j" if side == "pre" else "i"})
        if isinstance(node, Population) and attribute in node.params:
            if node.param_is_uniform(attribute):
                return CONSTANT
            return Info(index, frozenset({side}), constant=False)
        if self.collect:
            self.result.reads.add(expr.dotted)
        return Info(index, frozenset({side}), constant=False)

    def visit_PopulationVar(self, expr: ir.PopulationVar) -> Info:
        name = ir.population_of(expr.population, self.instance.args)
        if not self.net.has_node(name) or "." in expr.attribute:
            return CONSTANT  # a numeric parameter with a field is refused by the checks
        node = self.net.node(name)
        if isinstance(node, Population) and expr.attribute in node.params and \
                node.param_is_uniform(expr.attribute):
            return CONSTANT
        reason = f"{name}.{expr.attribute} is state of another population: non-local in space"
        return Info(frozenset({"k"}), frozenset({"remote"}), (Term("remote", expr.span, reason),),
                    constant=False)


def count_ops(expr: ir.Expr) -> int:
    """Arithmetic operations (multiply-adds and function calls) in an expression."""
    return sum(1 for node in ir.walk(expr) if isinstance(node, (ir.Binary, ir.Call)))


def analyse(net: Network, projection: Projection, instance: RuleInstance,
            steps: int) -> Analysis:
    """The analysis of one rule on one projection; ``steps`` is T for stored histories."""
    return RuleAnalyzer(net, projection, instance, steps).run()


def analysis_of(net: Network, projection: Projection, instance: RuleInstance) -> Analysis:
    """The analysis the locality pass attached for ``instance`` on ``projection``
    (``net.analyses["check-locality"]``), else a fresh one (T = 1: backends do not need the
    size of stored histories)."""
    for report in net.analyses.get("check-locality", ()):
        if report.analysis.rule is instance and report.analysis.projection is projection:
            return report.analysis
    return analyse(net, projection, instance, steps=1)
