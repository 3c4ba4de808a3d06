"""Constant evaluation of setting values: units to SI, arithmetic with dimension checks.

Values that are not plain numbers stay symbolic but evaluated: ``normal(0 mV, 2 mV)`` becomes
``CallValue("normal", (Quantity, Quantity), {})``, a bare word such as ``subtract`` becomes a
``Symbol``. Unit mistakes are reported as they are found: an unknown unit word (E123, with
"did you mean") or arithmetic on incompatible dimensions (E205).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Union

from snnc.diagnostics import Diagnostics, Span, did_you_mean
from snnc.frontend import ast
from snnc.units import UNITS, Dim, Quantity, describe


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
    node: ast.Call = field(hash=False, compare=False)

    def __hash__(self) -> int:
        return hash((self.name, self.args, self.span))


@dataclass(frozen=True)
class ListValue:
    items: tuple[Value, ...]
    span: Span


Value = Union[Quantity, Symbol, StringValue, CallValue, ListValue]

#: the largest exponent a unit may reach (s^-2 is common, s^40 is a typo)
MAX_UNIT_POWER = 12

#: pure functions allowed in constant expressions
CONSTANT_FUNCTIONS = {"sqrt": math.sqrt, "exp": math.exp, "log": math.log}


class Evaluator:
    """Evaluates setting values; returns None (after reporting) when a value is invalid."""

    def __init__(self, diag: Diagnostics):
        self.diag = diag

    def evaluate(self, expr: ast.Expr) -> Value | None:
        method = getattr(self, "eval_" + type(expr).__name__)
        return method(expr)

    def eval_Quantity(self, node: ast.Quantity) -> Quantity | None:
        value = node.value
        if not math.isfinite(value):
            self.diag.error("E124", node.span, f"number '{node.text}' is too large",
                            hint="numbers must be finite double-precision values")
            return None
        if node.unit is None:
            return Quantity(value)
        unit = UNITS.get(node.unit.text)
        if unit is None:
            hint = did_you_mean(node.unit.text, UNITS) or (
                "units are " + ", ".join(UNITS) + "; to multiply, write '*' explicitly")
            self.diag.error("E123", node.unit.span, f"unknown unit '{node.unit.text}'", hint=hint)
            return None
        dim, factor = unit
        return Quantity(value * factor, dim)

    def eval_String(self, node: ast.String) -> StringValue:
        return StringValue(node.value, node.span)

    def eval_Ref(self, node: ast.Ref) -> Symbol:
        return Symbol(node.dotted, node.span)

    def eval_ListExpr(self, node: ast.ListExpr) -> ListValue | None:
        items = [self.evaluate(item) for item in node.items]
        if any(item is None for item in items):
            return None
        return ListValue(tuple(items), node.span)

    def eval_Call(self, node: ast.Call) -> Value | None:
        args = [self.evaluate(a) for a in node.args]
        kwargs = {k.name.text: self.evaluate(k.value) for k in node.kwargs}
        seen: set[str] = set()
        for k in node.kwargs:
            if k.name.text in seen:
                self.diag.error("E208", k.name.span, f"argument '{k.name.text}' is given twice")
                return None
            seen.add(k.name.text)
        if any(a is None for a in args) or any(v is None for v in kwargs.values()):
            return None
        name = node.func.text
        if name in CONSTANT_FUNCTIONS and len(args) == 1 and not kwargs \
                and isinstance(args[0], Quantity):
            if not args[0].dimensionless:
                self.diag.error("E205", node.span, f"{name}() needs a dimensionless argument, "
                                f"not {describe(args[0].dim)}")
                return None
            try:
                result = CONSTANT_FUNCTIONS[name](args[0].value)
            except OverflowError:
                self.diag.error("E615", node.span, f"{name}({args[0].value:g}) overflows",
                                hint="numbers must be finite double-precision values")
                return None
            except ValueError:
                self.diag.error("E209", node.span, f"{name}({args[0].value:g}) is undefined")
                return None
            return Quantity(result)
        return CallValue(name, tuple(args), kwargs, node.span, node)

    def eval_Unary(self, node: ast.Unary) -> Value | None:
        operand = self.evaluate(node.operand)
        if operand is None:
            return None
        if not isinstance(operand, Quantity):
            self.diag.error("E209", node.span, f"cannot apply '{node.op}' to this value",
                            hint="signs apply to numbers and quantities")
            return None
        return Quantity(-operand.value if node.op == "-" else operand.value, operand.dim)

    def eval_Binary(self, node: ast.Binary) -> Value | None:
        left = self.evaluate(node.left)
        right = self.evaluate(node.right)
        if left is None or right is None:
            return None
        if not (isinstance(left, Quantity) and isinstance(right, Quantity)):
            self.diag.error("E209", node.span, f"cannot compute '{node.op}' on these values",
                            hint="arithmetic in settings works on numbers and quantities; "
                                 "names are resolved only inside learning rules")
            return None
        return self.arithmetic(node, left, right)

    def arithmetic(self, node: ast.Binary, left: Quantity, right: Quantity) -> Quantity | None:
        op = node.op
        if op in "+-":
            if left.dim != right.dim:
                self.diag.error("E205", node.span,
                                f"cannot {'add' if op == '+' else 'subtract'} {describe(left.dim)} "
                                f"and {describe(right.dim)}",
                                hint="both sides of '+' and '-' need the same unit dimension")
                return None
            value = left.value + right.value if op == "+" else left.value - right.value
            return self.finite(node, Quantity(value, left.dim))
        if op in "*/":
            if op == "/" and right.value == 0:
                self.diag.error("E209", node.span, "division by zero")
                return None
            dim = left.dim * right.dim if op == "*" else left.dim / right.dim
            if max(abs(dim.time), abs(dim.voltage)) > MAX_UNIT_POWER:
                self.diag.error("E205", node.span, "the unit of this value has an exponent "
                                f"above {MAX_UNIT_POWER}")
                return None
            value = left.value * right.value if op == "*" else left.value / right.value
            return self.finite(node, Quantity(value, dim))
        # op == "^"
        if not right.dimensionless or (not left.dimensionless and right.value != int(right.value)):
            self.diag.error("E205", node.span, "exponents must be dimensionless (and whole "
                            "numbers for a quantity with a unit)")
            return None
        try:
            value = left.value ** right.value
        except ZeroDivisionError:
            self.diag.error("E209", node.span, "division by zero (zero to a negative power)")
            return None
        except OverflowError:
            value = math.inf
        if isinstance(value, complex):
            self.diag.error("E209", node.span, "the power is not a real number")
            return None
        if not left.dimensionless and abs(right.value) > MAX_UNIT_POWER:
            self.diag.error("E205", node.span, f"a unit raised to the power {right.value:g}",
                            hint=f"unit exponents are whole numbers up to {MAX_UNIT_POWER}")
            return None
        dim = left.dim ** int(right.value) if not left.dimensionless else Dim()
        if max(abs(dim.time), abs(dim.voltage)) > MAX_UNIT_POWER:
            self.diag.error("E205", node.span, "the unit of this value has an exponent above "
                            f"{MAX_UNIT_POWER}")
            return None
        return self.finite(node, Quantity(value, dim))

    def finite(self, node: ast.Binary, q: Quantity) -> Quantity | None:
        if not math.isfinite(q.value):
            self.diag.error("E615", node.span, "the value is not finite (it overflows "
                            f"to {q.value})", hint="numbers must be finite double-precision "
                            "values, at most about 1.8e308")
            return None
        return q
