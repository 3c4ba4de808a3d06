"""The abstract syntax tree of a ``.snn`` file: frozen dataclasses, each with its source span.

The tree keeps what the user wrote (names, unit words, expressions) and nothing inferred;
evaluation of constants, unit conversion and name resolution happen in later stages.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator, Union

from snnc.diagnostics import Span

# ---- expressions ----------------------------------------------------------------------

@dataclass(frozen=True)
class Ident:
    """A name as written, e.g. a population, a parameter or a unit word."""

    text: str
    span: Span


@dataclass(frozen=True)
class Quantity:
    """A number with an optional unit word: ``20 ms``, ``1e-3``, ``-60 mV`` (sign is a Unary)."""

    value: float
    text: str
    unit: Ident | None
    span: Span


@dataclass(frozen=True)
class String:
    value: str
    span: Span


@dataclass(frozen=True)
class Ref:
    """A possibly dotted name: ``tau``, ``post.v``, ``readout.w``."""

    parts: tuple[Ident, ...]
    span: Span

    @property
    def dotted(self) -> str:
        return ".".join(p.text for p in self.parts)


@dataclass(frozen=True)
class KeywordArgument:
    name: Ident
    value: Expr
    span: Span


@dataclass(frozen=True)
class Call:
    """``name(arg, ..., key = value, ...)``: functions, distributions, generators, rules."""

    func: Ident
    args: tuple[Expr, ...]
    kwargs: tuple[KeywordArgument, ...]
    span: Span

    def kwarg(self, name: str) -> Expr | None:
        for k in self.kwargs:
            if k.name.text == name:
                return k.value
        return None


@dataclass(frozen=True)
class Binary:
    op: str  # one of + - * / ^
    left: Expr
    right: Expr
    span: Span


@dataclass(frozen=True)
class Unary:
    op: str  # one of + -
    operand: Expr
    span: Span


@dataclass(frozen=True)
class ListExpr:
    items: tuple[Expr, ...]
    span: Span


Expr = Union[Quantity, String, Ref, Call, Binary, Unary, ListExpr]


# ---- declarations -----------------------------------------------------------------------

@dataclass(frozen=True)
class Setting:
    """``name = value`` inside a block."""

    name: Ident
    value: Expr
    span: Span


@dataclass(frozen=True)
class Import:
    path: String
    span: Span


@dataclass(frozen=True)
class NetworkDecl:
    """``network name { dt = ..., seed = ..., integration = exact|euler }``."""

    name: Ident
    settings: tuple[Setting, ...]
    span: Span


@dataclass(frozen=True)
class NeuronDecl:
    """``neuron FastLIF = LIF { tau_mem = 5 ms }``: a named variant of a model."""

    name: Ident
    base: Ident
    settings: tuple[Setting, ...]
    span: Span


@dataclass(frozen=True)
class Shape:
    dims: tuple[Expr, ...]
    span: Span


@dataclass(frozen=True)
class InputDecl:
    """``input name[shape] [: source] { rate ... }``; without a source, spikes come with the data."""

    name: Ident
    shape: Shape
    source: Expr | None
    settings: tuple[Setting, ...]
    rate: Expr | None
    span: Span


@dataclass(frozen=True)
class PopulationDecl:
    """``population name: Model[shape] { params; rate ... }``; ``readout`` sets ``is_readout``."""

    name: Ident
    model: Ident
    shape: Shape
    settings: tuple[Setting, ...]
    rate: Expr | None
    is_readout: bool
    span: Span


@dataclass(frozen=True)
class ProjectionDecl:
    """``pre -> post [as name] [: connectivity] { weight = ..., delay = ..., receptor ..., learn ... }``."""

    pre: Ident
    post: Ident
    alias: Ident | None
    connectivity: Expr | None
    settings: tuple[Setting, ...]
    receptors: tuple[Expr, ...]
    learn: tuple[Expr, ...]
    span: Span

    @property
    def name(self) -> str:
        return self.alias.text if self.alias else f"{self.pre.text}->{self.post.text}"


@dataclass(frozen=True)
class RuleParam:
    name: Ident
    default: Expr | None
    span: Span


@dataclass(frozen=True)
class TraceDef:
    """``trace x = expr``: state updated every step; ``x`` inside ``expr`` is its previous value."""

    name: Ident
    value: Expr
    span: Span


@dataclass(frozen=True)
class SignalDef:
    """``signal L = generator(...)``: a third factor delivered to the post-synaptic neuron."""

    name: Ident
    value: Expr
    span: Span


@dataclass(frozen=True)
class LetDef:
    """``let h = expr``: a named intermediate, recomputed every step, no state."""

    name: Ident
    value: Expr
    span: Span


@dataclass(frozen=True)
class Update:
    """``[on pre|post|step:] dw = expr``; several updates add up."""

    trigger: Ident | None
    value: Expr
    span: Span


RuleStatement = Union[TraceDef, SignalDef, LetDef, Update, Setting]


@dataclass(frozen=True)
class RuleDecl:
    name: Ident
    params: tuple[RuleParam, ...]
    body: tuple[RuleStatement, ...]
    span: Span


@dataclass(frozen=True)
class LossDecl:
    value: Expr
    span: Span


@dataclass(frozen=True)
class RecordItem:
    """``pop.var`` (``projection`` is None) or ``pre->post.var`` (owner is the pre name)."""

    owner: Ident
    projection_post: Ident | None
    variable: Ident
    span: Span

    @property
    def owner_name(self) -> str:
        if self.projection_post is None:
            return self.owner.text
        return f"{self.owner.text}->{self.projection_post.text}"


@dataclass(frozen=True)
class RecordDecl:
    items: tuple[RecordItem, ...]
    span: Span


@dataclass(frozen=True)
class TargetSection:
    name: Ident
    body: tuple[Setting | TargetSection, ...]
    span: Span


@dataclass(frozen=True)
class TargetDecl:
    """``target loihi2`` selects a target; ``target name { ... }`` also defines one."""

    name: Ident
    body: tuple[Setting | TargetSection, ...] | None
    span: Span


Item = Union[Import, NetworkDecl, NeuronDecl, InputDecl, PopulationDecl, ProjectionDecl,
             RuleDecl, LossDecl, RecordDecl, TargetDecl]


@dataclass(frozen=True)
class Module:
    """One parsed file."""

    path: str
    items: tuple[Item, ...]


def subexpressions(expr: Expr) -> Iterator[Expr]:
    """``expr`` and every expression below it, parents first, left to right (iterative, so
    deep nesting is fine)."""
    stack = [expr]
    while stack:
        node = stack.pop()
        yield node
        if isinstance(node, Binary):
            stack += [node.right, node.left]
        elif isinstance(node, Unary):
            stack.append(node.operand)
        elif isinstance(node, ListExpr):
            stack += reversed(node.items)
        elif isinstance(node, Call):
            stack += reversed([*node.args, *(k.value for k in node.kwargs)])
