"""Constant evaluation of setting values: units to SI, arithmetic with dimension checks.

Values that are not plain numbers stay symbolic but evaluated: ``normal(0 mV, 2 mV)`` becomes
``CallValue("normal", (Quantity, Quantity), {})``, a bare word such as ``subtract`` becomes a
``Symbol``. Unit mistakes are reported as they are found: an unknown unit word (E123, with
"did you mean") or arithmetic on incompatible dimensions (E205).
"""

from __future__ import annotations

import math

from snnc.diagnostics import Diagnostics, did_you_mean
from snnc.frontend import ast
from snnc.frontend.values import CallValue, ListValue, StringValue, Symbol, Value
from snnc.functions import RULE_FUNCTIONS, RuleFunction
from snnc.units import UNITS, Dim, Quantity, describe

__all__ = ["CallValue", "Evaluator", "ListValue", "StringValue", "Symbol", "Value"]


#: the largest exponent a unit may reach (s^-2 is common, s^40 is a typo)
MAX_UNIT_POWER = 12


def folds(name: str, args: list, kwargs: dict) -> RuleFunction | None:
    """The table entry that folds ``name(*args)`` in a setting value, or None (the call stays a
    call: a distribution, a source, a connectivity). A call folds when ``name`` has a ``fold``
    in :data:`snnc.functions.RULE_FUNCTIONS`, takes positional numbers only, and their count is
    within the entry's arity; its value is the entry's ``fold`` of the dimensionless arguments
    (E205 for an argument with a unit, E209 where undefined, E615 when the result overflows)."""
    function = RULE_FUNCTIONS.get(name)
    if function is None or function.fold is None or kwargs:
        return None
    if not function.min_args <= len(args) <= function.max_args:
        return None
    return function if all(isinstance(a, Quantity) for a in args) else None


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
        function = folds(name, args, kwargs)
        if function is not None:
            return self.fold(node, function, args)
        return CallValue(name, tuple(args), kwargs, node.span, node)

    def fold(self, node: ast.Call, function: RuleFunction,
             args: list[Quantity]) -> Quantity | None:
        """``function(*args)`` of dimensionless ``args`` by the table's ``fold``; None after
        E205 (an argument has a unit), E615 (the value overflows) or E209 (undefined there)."""
        name = function.name
        for arg in args:
            if not arg.dimensionless:
                what = "a dimensionless argument" if len(args) == 1 else "dimensionless arguments"
                self.diag.error("E205", node.span, f"{name}() needs {what}, "
                                f"not {describe(arg.dim)}")
                return None
        shown = ", ".join(f"{arg.value:g}" for arg in args)
        try:
            result = float(function.fold(*(arg.value for arg in args)))
        except OverflowError:
            self.diag.error("E615", node.span, f"{name}({shown}) overflows",
                            hint="numbers must be finite double-precision values")
            return None
        except ValueError:
            self.diag.error("E209", node.span, f"{name}({shown}) is undefined")
            return None
        return Quantity(result)

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
