"""Checked conversion of setting values to IR parameter values (SI constants, distributions,
files), with the dimension, integer and sign rules of an :class:`~snnc.vocabulary.Arg`."""

from __future__ import annotations

import os

from snnc.diagnostics import Diagnostics
from snnc.frontend import ast
from snnc.frontend.evaluate import CallValue, Evaluator, StringValue, Value
from snnc.ir.values import Constant, FromFile, Normal, ParamValue, Uniform
from snnc.units import DIMENSIONLESS, EXAMPLE_UNIT, Quantity, describe
from snnc.vocabulary import DISTRIBUTIONS, Arg, bind


def unit_hint(arg: Arg) -> str | None:
    examples = [f"'2 {EXAMPLE_UNIT[d]}'" for d in arg.dims or () if d in EXAMPLE_UNIT]
    if DIMENSIONLESS in (arg.dims or ()):
        examples.append("a plain number")
    return "write e.g. " + " or ".join(examples) if examples else None


class ValueChecker:
    """Evaluates expressions and checks them against argument specs, reporting into ``diag``."""

    def __init__(self, diag: Diagnostics):
        self.diag = diag
        self.eval = Evaluator(diag)

    def string(self, expr: ast.Expr, what: str) -> str | None:
        value = self.eval.evaluate(expr)
        if value is None:
            return None
        if not isinstance(value, StringValue):
            self.diag.error("E209", expr.span, f"{what} is a quoted string",
                            hint='e.g. file("data.npy")')
            return None
        return value.value

    def quantity(self, expr: ast.Expr, arg: Arg, what: str) -> Quantity | None:
        """A single checked quantity (no distributions)."""
        value = self.eval.evaluate(expr)
        if value is None:
            return None
        return self._check_quantity(expr, value, arg, what, per_element=False)

    def value(self, expr: ast.Expr, arg: Arg, what: str, *, per_element: bool = False) -> Value | None:
        """Evaluate ``expr`` and check it against ``arg``; with ``per_element``, distributions and
        files are accepted too, their numeric arguments checked like the value itself."""
        value = self.eval.evaluate(expr)
        if value is None or arg.dims is None:
            return value
        if isinstance(value, CallValue) and per_element and value.name in DISTRIBUTIONS:
            bound = bind(value.node, DISTRIBUTIONS[value.name], self.diag)
            if bound is None:
                return None
            ok = True
            for name, sub in bound.items():
                if name in ("path", "key"):
                    ok = self.string(sub, f"'{name}' of file()") is not None and ok
                    continue
                checked = self.quantity(sub, Arg(name, arg.dims), f"{name} of {what}")
                if checked is not None and name == "std" and checked.value < 0:
                    self.diag.error("E209", sub.span, "a standard deviation cannot be negative")
                    checked = None
                ok = checked is not None and ok
            return value if ok else None
        return self._check_quantity(expr, value, arg, what, per_element)

    def _check_quantity(self, expr, value, arg: Arg, what: str, per_element: bool):
        if not isinstance(value, Quantity):
            expected = " or ".join(describe(d) for d in arg.dims)
            extra = ", a distribution (uniform, normal) or file(...)" if per_element else ""
            self.diag.error("E209", expr.span, f"{what} must be a {expected} value{extra}",
                            hint=unit_hint(arg))
            return None
        if value.dim not in arg.dims:
            expected = " or ".join(describe(d) for d in arg.dims)
            self.diag.error("E205", expr.span, f"{what} must be {expected}, not "
                            f"{describe(value.dim)}", hint=unit_hint(arg))
            return None
        if arg.integer and value.dim == DIMENSIONLESS and value.value != int(value.value):
            self.diag.error("E209", expr.span, f"{what} must be a whole number, not {value.value:g}")
            return None
        if arg.positive and value.value <= 0:
            self.diag.error("E209", expr.span, f"{what} must be positive, not {value}")
            return None
        return value

    def param_value(self, expr: ast.Expr, arg: Arg, what: str) -> ParamValue | None:
        """A checked per-element value as an IR :data:`ParamValue`."""
        value = self.value(expr, arg, what, per_element=True)
        return None if value is None else to_param_value(value)


def to_param_value(value: Value) -> ParamValue:
    """A checked value (a quantity or a distribution/file call) as an IR parameter value."""
    if isinstance(value, Quantity):
        return Constant(value.value)
    names = {"uniform": ("low", "high"), "normal": ("mean", "std"), "file": ("path", "key")}
    bound = dict(zip(names[value.name], value.args, strict=False))
    bound.update(value.kwargs)
    if value.name == "file":
        key = bound.get("key")
        return FromFile(resolve_path(value.span.file, bound["path"].value),
                        key.value if key is not None else None)
    if value.name == "uniform":
        return Uniform(bound["low"].value, bound["high"].value)
    return Normal(bound["mean"].value, bound["std"].value)


def resolve_path(source_file: str, path: str) -> str:
    """A data path relative to the ``.snn`` file that names it."""
    if os.path.isabs(path) or source_file.startswith("<"):
        return path
    return os.path.normpath(os.path.join(os.path.dirname(source_file), path))
