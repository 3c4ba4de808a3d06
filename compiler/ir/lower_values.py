"""Checked conversion of setting values to IR parameter values (SI constants, distributions,
files), with the dimension, integer and sign rules of an :class:`~snnc.vocabulary.Arg`.

Every value is finite: a literal or a folded constant that overflows (``1e308 * 10``) is E615
at its span. A ``file(...)`` is read and validated here, once (:mod:`snnc.files`: a regular
file within the size limit, a numeric .npy or .npz array, finite values; E601/E607/E608/
E609/E615 at the call), and :func:`check_file_values` checks its number of values against
where it is used, so no later stage meets a bad file."""

from __future__ import annotations

import dataclasses
import math
import os

from snnc.diagnostics import Diagnostics, Span
from snnc.files import FileProblem, read_array, report
from snnc.frontend import ast
from snnc.frontend.evaluate import CallValue, Evaluator, StringValue, Value
from snnc.ir.lower_calls import bind
from snnc.ir.values import Constant, FromFile, Normal, ParamValue, Uniform
from snnc.units import DIMENSIONLESS, EXAMPLE_UNIT, Quantity, describe
from snnc.vocabulary import DISTRIBUTIONS, Arg


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
        if not math.isfinite(value.value):
            self.diag.error("E615", expr.span, f"{what} is not a finite number ({value.value})",
                            hint="a literal or a product beyond 1.8e308 overflows to infinity")
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
        if value is None:
            return None
        param = to_param_value(value)
        if isinstance(param, FromFile):
            param = self.read_file(param, value.span)
        elif isinstance(param, Uniform) and param.low > param.high:
            self.diag.error("E209", expr.span, f"{what}: uniform(low, high) needs low <= high, "
                            f"not low {param.low:g} and high {param.high:g}",
                            hint=f"swap them: uniform({param.high:g}, {param.low:g})")
            return None
        return param

    def read_file(self, value: FromFile, span: Span) -> FromFile | None:
        """``value`` with its validated array, or None after a diagnostic at ``span``."""
        try:
            data = read_array(value.path, value.key, finite=True)
        except FileProblem as problem:
            report(self.diag, problem, span)
            return None
        return dataclasses.replace(value, span=span, data=data)


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


def file_values(net):
    """(file value, number of values expected or None, multiple_of, what) of every
    ``file(...)`` in ``net``: population parameters, input spike files and weight files."""
    from snnc.ir.nodes import Input, Population
    for node in net.nodes():
        if isinstance(node, Input) and isinstance(node.file, FromFile):
            yield node.file, None, node.size, f"input '{node.name}' (spikes [steps, " \
                f"{', '.join(map(str, node.shape))}])"
        elif isinstance(node, Population):
            for name, value in node.params.items():
                if isinstance(value, FromFile):
                    yield value, node.size, None, f"'{name}' of '{node.name}' (one per neuron)"
    for projection in net.projections():
        pre, post = net.node(projection.pre), net.node(projection.post)
        c = projection.connectivity  # file connectivity: check-shapes checks [post, pre]
        if isinstance(projection.weight, FromFile):
            if c.kind in ("conv2d", "sumpool2d"):
                if len(pre.shape) != 3:
                    continue
                expected = math.prod(c.kernel_shape(pre.shape))
            elif c.kind == "sparse":
                continue  # the synapse count is drawn; the backend checks it
            else:
                try:
                    expected = c.synapse_count(pre.shape, post.shape)
                except (ValueError, TypeError, AttributeError):
                    continue
            yield projection.weight, expected, None, \
                f"the weights of '{projection.name}' (one per synapse)"


def only_zeros_and_ones(array) -> bool:
    """Every value of ``array`` is 0 or 1 (spikes); numpy is imported here, for files only."""
    import numpy as np
    return bool(np.isin(array, (0, 1)).all())


def check_file_values(net, diag: Diagnostics) -> None:
    """E609 at the ``file(...)`` call for every file whose number of values does not fit
    where it is used (a population's size, a projection's synapses, an input's width)."""
    seen: set[tuple[int, object]] = set()
    for value, expected, multiple, what in file_values(net):
        try:
            size = int(value.load().size)
        except FileProblem as problem:
            report(diag, problem, value.span)
            continue
        if expected is not None and size != expected:
            problem = f"'{value.path}' holds {size} values; {what} needs {expected}"
        elif multiple and (size == 0 or size % multiple):
            problem = f"'{value.path}' holds {size} values; {what} needs a multiple of {multiple}"
        elif multiple and not only_zeros_and_ones(value.load()):
            problem = f"'{value.path}' holds values other than 0 and 1; {what} are spikes"
        else:
            continue
        if (id(value), what) not in seen:
            seen.add((id(value), what))
            diag.error("E609", value.span, problem,
                       hint="save an array of the right shape with numpy.save")
