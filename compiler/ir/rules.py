"""The typed rule IR: a learning rule after lowering (docs/learning.md).

The front end's syntax tree keeps what the user wrote; lowering turns a ``rule`` declaration
into a :class:`RuleDef` whose expressions are the nodes below. Every node keeps its source
span; names are resolved to what they denote (a neuron variable of the pre or post side, the
weight, a trace, a signal, a ``let``, a rule parameter, another population's variable, the
network's state), quantities are SI numbers and calls point at their entry of the one function
table (:data:`snnc.functions.RULE_FUNCTIONS`). Only the front end and the lowering read the
syntax tree; every later stage (checks, the locality analysis, the backends, the trainer) reads
this IR and walks it with a :class:`Visitor`.

A rule is generic: parameters are bound per projection by a
:class:`~snnc.ir.nodes.RuleInstance`, so a :class:`Param` or a :class:`PopulationVar` whose
``population`` names a parameter is resolved against the instance's arguments.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Generic, Iterator, TypeVar, Union

from snnc.diagnostics import Span
from snnc.frontend.values import Symbol
from snnc.functions import RuleFunction
from snnc.units import DIMENSIONLESS, Dim

#: every node compares and hashes by identity (``eq=False``): an analysis keys its results by
#: node (``dict[Expr, Info]``) in O(1), and two equal-looking sub-expressions stay two nodes.
_node = dataclass(frozen=True, eq=False)

# ---- expressions ----------------------------------------------------------------------------


@_node
class Const:
    """A number in SI units (``20 ms`` is 0.02); ``text`` is the number as the user wrote it
    (``20``), ``unit`` the unit's name as written (``ms``, None without one) and ``dim`` its
    dimension."""

    value: float
    text: str
    span: Span
    dim: Dim = DIMENSIONLESS
    unit: str | None = None


@_node
class Param:
    """A rule parameter (``tau_plus``), bound per projection by the rule instance."""

    name: str
    span: Span


@_node
class NeuronVar:
    """``pre.<attribute>`` or ``post.<attribute>``: a state variable (``s``, ``v``, ``i``,
    ``a``) or a model parameter of the projection's own pre or post neuron."""

    side: str  # pre | post
    attribute: str
    span: Span

    @property
    def dotted(self) -> str:
        return f"{self.side}.{self.attribute}"


@_node
class Weight:
    """``w``: the synapse's weight."""

    span: Span


@_node
class TraceRef:
    """A named trace of the rule; inside its own update, its previous value."""

    name: str
    span: Span


@_node
class SignalRef:
    """A third-factor signal of the rule (``signal L = ...``)."""

    name: str
    span: Span


@_node
class LetRef:
    """A ``let`` of the rule: a named intermediate, recomputed every step."""

    name: str
    span: Span


@_node
class PopulationVar:
    """``<name>.<attribute>`` where ``name`` is not pre/post: another population's variable.
    ``population`` is a population's name or a rule parameter bound to one (resolve it with the
    instance's arguments)."""

    population: str
    attribute: str
    span: Span

    @property
    def dotted(self) -> str:
        return f"{self.population}.{self.attribute}"


@_node
class PopulationRef:
    """A bare population name (``out`` in ``readout_error(from = out)``), as opposed to a
    rule parameter bound to one (a :class:`Param`). It names, it has no value."""

    name: str
    span: Span


@_node
class NetState:
    """``net.<what>``: state of every neuron in the network (``net.state``, ``net.jacobian``)."""

    what: str
    span: Span

    @property
    def dotted(self) -> str:
        return f"net.{self.what}"


@_node
class Call:
    """A call of a rule function; ``function`` is its entry in the function table."""

    function: RuleFunction
    args: tuple[Expr, ...]
    span: Span

    @property
    def name(self) -> str:
        return self.function.name


@_node
class Binary:
    op: str  # one of + - * / ^
    left: Expr
    right: Expr
    span: Span


@_node
class Unary:
    op: str  # one of + -
    operand: Expr
    span: Span


Expr = Union[Const, Param, NeuronVar, Weight, TraceRef, SignalRef, LetRef, PopulationVar,
             PopulationRef, NetState, Call, Binary, Unary]

# ---- statements -----------------------------------------------------------------------------


@_node
class Generator:
    """The third-factor generator of a signal (``readout_error(from = out)``). ``args`` are its
    arguments by name (positional ones under the generator's parameter names, see
    ``snnc.vocabulary.GENERATORS``), as expressions of this IR: ``from`` is a :class:`Param`
    (resolve it with :func:`population_of`) or a :class:`PopulationRef`, ``size`` a
    :class:`Const` or a :class:`Param`. ``loss`` is the loss name of ``local_readout`` (None
    when not given), which is a word, not an expression."""

    kind: str
    args: dict[str, Expr]
    span: Span
    loss: str | None = None

    def source(self, args: Mapping[str, object]) -> str | None:
        """The population named by ``from`` for a rule instance with arguments ``args``."""
        expr = self.args.get("from")
        if isinstance(expr, (Param, PopulationRef)):
            return population_of(expr.name, args)
        return None


@_node
class RuleParam:
    """A declared parameter with its default (an expression, or None when it has none)."""

    name: str
    default: Expr | None
    span: Span


@_node
class Trace:
    """``trace x = expr``: state updated every step."""

    name: str
    value: Expr
    span: Span


@_node
class Signal:
    """``signal L = generator(...)``: a third factor delivered to the post neuron."""

    name: str
    generator: Generator
    span: Span


@_node
class Let:
    """``let h = expr``: a named intermediate, recomputed every step, no state."""

    name: str
    value: Expr
    span: Span


@_node
class Update:
    """``[on pre|post|step:] dw = expr``; several updates add up. ``trigger`` is None for an
    update without ``on``; ``trigger_span`` is where the trigger is written."""

    trigger: str | None
    value: Expr
    span: Span
    trigger_span: Span | None = None


@_node
class RuleDef:
    """A learning rule after lowering: typed statements in the order they are written."""

    name: str
    params: tuple[RuleParam, ...]
    traces: tuple[Trace, ...]
    signals: tuple[Signal, ...]
    lets: tuple[Let, ...]
    updates: tuple[Update, ...]
    bounds: tuple[Expr, Expr] | None
    optimizer: str  # sgd | adam
    span: Span
    #: the optimizer's arguments by name (``adam(beta1 = 0.8)``): checked, not yet used
    optimizer_args: dict[str, Expr] = field(default_factory=dict)
    #: where the rule's name is written
    name_span: Span | None = None
    #: expressions written in the rule that nothing evaluates (keyword arguments of a function
    #: call, arguments of a misspelt setting): only a rule with errors has them, and constant
    #: folding still checks them so that every mistake is reported at once
    unused: tuple[Expr, ...] = ()


    def parameter(self, name: str) -> RuleParam | None:
        return next((p for p in self.params if p.name == name), None)

    def expressions(self) -> Iterator[Expr]:
        """The top-level expressions that run every step, in the order traces, lets, updates,
        signals (the generators' arguments): what a check walks to find the names a rule
        reads. Parameter defaults and bounds are not included."""
        for statement in (*self.traces, *self.lets, *self.updates):
            yield statement.value
        for signal in self.signals:
            yield from signal.generator.args.values()


def population_of(name: str, args: Mapping[str, object]) -> str:
    """The population a name denotes in a rule instance with arguments ``args``: the
    population a parameter is bound to (``readout = out``), else the name itself (a
    population named directly)."""
    value = args.get(name)
    return value.name if isinstance(value, Symbol) else name


# ---- walking --------------------------------------------------------------------------------

T = TypeVar("T")


class UnhandledNode(NotImplementedError):
    """A visitor met a node kind it has no ``visit_<ClassName>`` for: a bug in that visitor
    (every stage handles every node it can meet), reported with the node and its span."""


class Visitor(Generic[T]):
    """Dispatches on the node type: ``visit(node)`` calls ``visit_<ClassName>(node)``.

    Subclasses implement the methods for the nodes they meet; a missing one raises
    :class:`UnhandledNode` naming the node, never silently returns.
    """

    def visit(self, node: Expr) -> T:
        method = getattr(self, "visit_" + type(node).__name__, None)
        if method is None:
            raise UnhandledNode(f"{type(self).__name__} does not handle "
                                      f"{type(node).__name__} (at {node.span})")
        return method(node)


def children(expr: Expr) -> tuple[Expr, ...]:
    """The direct sub-expressions of ``expr``."""
    if isinstance(expr, Call):
        return expr.args
    if isinstance(expr, Binary):
        return (expr.left, expr.right)
    if isinstance(expr, Unary):
        return (expr.operand,)
    return ()


def walk(expr: Expr) -> Iterator[Expr]:
    """``expr`` and every sub-expression, parents before children, iteratively (deep rules must
    not overflow the stack). The same order as pushing :func:`children` reversed; the three
    kinds with children are told apart by class, then by ``isinstance`` for subclasses."""
    stack = [expr]
    pop, push = stack.pop, stack.append
    while stack:
        node = pop()
        yield node
        kind = node.__class__
        if kind is Binary:
            push(node.right)
            push(node.left)
        elif kind is Call:
            stack.extend(reversed(node.args))
        elif kind is Unary:
            push(node.operand)
        elif isinstance(node, (Call, Binary, Unary)):
            stack.extend(reversed(children(node)))
