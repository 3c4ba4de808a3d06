"""Evaluated setting values: what constant evaluation (:mod:`snnc.frontend.evaluate`) produces
and the IR keeps for what is not a plain number.

``Quantity`` (a number with its dimension, :mod:`snnc.units`) for numbers; ``Symbol`` for a bare
word (``exact``, ``subtract``, a population's name); ``StringValue`` for a string;
``CallValue`` for a call with evaluated arguments (``normal(0 mV, 2 mV)``); ``ListValue`` for a
list. This module reads no syntax tree, so the IR and the passes may use these types without
depending on the parser's output.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Union

from snnc.diagnostics import Span
from snnc.units import Quantity


@dataclass(frozen=True)
class Symbol:
    """A bare (possibly dotted) name used as a value: ``exact``, ``subtract``, ``readout``."""

    name: str
    span: Span


@dataclass(frozen=True)
class StringValue:
    value: str
    span: Span


@dataclass(frozen=True)
class CallValue:
    """A call with evaluated arguments: distributions, files, sources, surrogates, ..."""

    name: str
    args: tuple[Value, ...]
    kwargs: dict[str, Value] = field(hash=False)
    span: Span
    #: the syntax-tree call it was evaluated from (read by the lowering only)
    node: object = field(hash=False, compare=False)

    def __hash__(self) -> int:
        return hash((self.name, self.args, self.span))


@dataclass(frozen=True)
class ListValue:
    items: tuple[Value, ...]
    span: Span


Value = Union[Quantity, Symbol, StringValue, CallValue, ListValue]
