"""The dimensions of learning-rule parameters, and their checks at the rule and at each ``learn``.

A rule declares each parameter's dimension in its header, without types: by the parameter's
role in the body, else by the unit of its default.

- **time**: the parameter is the time constant of ``lowpass(x, tau)`` or ``decay(tau)``; it
  takes a positive time (``20 ms``). A plain number is an error (E205), not seconds.
- **weight**: the parameter is an item of ``bounds = [...]``; it takes the unit of the
  projection's weights (a plain number for plain weights, a voltage for weights in mV), and 0
  in any unit.
- **learning rate**: the parameter named ``lr``; a plain number (in SI, like every value), or a
  value in the unit of the projection's weights when they have one (``lr = 0.01 mV`` moves a
  weight in mV by 0.01 mV per unit of ``dw``).
- **quantity**: any other parameter with a default takes the default's dimension (``tau_c =
  1 s``: time; ``a_plus = 1``: a plain number; ``rate = 10 Hz``: frequency).
- **name**: a parameter without a default (and without a role) takes a population name
  (``readout = out``) or a plain number.

Checks at the rule (:func:`check_definition`): a default that contradicts the role, a time
argument of the wrong dimension, and constant arithmetic that cannot be evaluated (``1 / 0``).
Checks at each ``learn`` (:func:`check_arguments`, :func:`check_folding`): every value against
its parameter's dimension (E205, with a hint such as "write '20 ms'"), positive time constants
(E209), and divisions by zero or non-finite results once the values are known (E209, E615).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

from snnc.diagnostics import Diagnostics, Span
from snnc.frontend.values import CallValue, ListValue, StringValue, Symbol, Value
from snnc.ir import rules as ir
from snnc.models import MODELS
from snnc.units import DIMENSIONLESS, EXAMPLE_UNIT, TIME, UNITS, VOLTAGE, Dim, Quantity, describe

TIME_ROLE, WEIGHT_ROLE, RATE_ROLE, QUANTITY_ROLE, NAME_ROLE = (
    "time", "weight", "learning rate", "quantity", "name")

#: dimensions a weight may have (as the projection setting 'weight')
WEIGHT_DIMS = (DIMENSIONLESS, VOLTAGE)

@dataclass(frozen=True)
class Role:
    """What a rule parameter is: its role, its dimension (None: decided by the projection or
    free), why (for messages), and its evaluated default (None without one)."""

    kind: str
    dim: Dim | None
    reason: str
    default: Value | None = None
    default_span: Span | None = None


# -- walking a rule ------------------------------------------------------------------------------

def _start(expr: ir.Expr) -> tuple[int, int]:
    return (expr.span.line, expr.span.column) if expr.span is not None else (0, 0)


def rule_expressions(rule: ir.RuleDef) -> list[ir.Expr]:
    """The top-level expressions of a rule's body (traces, lets, signals' arguments, updates,
    bounds, the optimizer's arguments and what a rule with errors does not use), in the order
    they are written."""
    tops: list[ir.Expr] = [s.value for s in (*rule.traces, *rule.lets, *rule.updates)]
    for signal in rule.signals:
        tops += signal.generator.args.values()
    tops += [*(rule.bounds or ()), *rule.optimizer_args.values(), *rule.unused]
    return sorted(tops, key=_start)


def time_arguments(rule: ir.RuleDef) -> list[tuple[ir.Expr, str]]:
    """Every expression used as a time constant, with the function that uses it."""
    found = []
    for top in rule_expressions(rule):
        for node in ir.walk(top):
            if not isinstance(node, ir.Call):
                continue
            if node.name == "lowpass" and len(node.args) >= 2:
                found.append((node.args[1], "lowpass"))
            elif node.name == "decay" and len(node.args) == 1:
                found.append((node.args[0], "decay"))
    return found


def bound_items(rule: ir.RuleDef) -> list[ir.Expr]:
    return list(rule.bounds or ())


def _param_ref(expr: ir.Expr) -> str | None:
    return expr.name if isinstance(expr, ir.Param) else None


# -- roles ---------------------------------------------------------------------------------------

def rule_roles(rule: ir.RuleDef, defaults: dict[str, Value | None]) -> dict[str, Role]:
    """The role of every parameter of ``rule`` (``defaults``: the evaluated defaults)."""
    names = {p.name for p in rule.params}
    times: dict[str, tuple[ir.Expr, str]] = {}
    for expr, function in time_arguments(rule):
        name = _param_ref(expr)
        if name in names:
            times.setdefault(name, (expr, function))
    weights = {name: item for item in bound_items(rule)
               if (name := _param_ref(item)) in names}
    roles = {}
    for param in rule.params:
        name = param.name
        default = defaults.get(name)
        span = param.default.span if param.default is not None else None
        if name in times:
            where, function = times[name]
            roles[name] = Role(TIME_ROLE, TIME, f"the time constant of {function}() at "
                               f"{where.span}", default, span)
        elif name in weights:
            roles[name] = Role(WEIGHT_ROLE, None, "a weight bound", default, span)
        elif name == "lr":
            roles[name] = Role(RATE_ROLE, None, "the learning rate", default, span)
        elif isinstance(default, Quantity):
            roles[name] = Role(QUANTITY_ROLE, default.dim, f"its default {default}", default, span)
        else:
            roles[name] = Role(NAME_ROLE, None, "a population name or a plain number", default,
                               span)
    return roles


# -- dimensions of constant expressions ------------------------------------------------------------

def _neuron_param_dim(name: str) -> Dim | None:
    """The dimension of a model parameter read as ``post.<name>`` (None when not one)."""
    for model in MODELS.values():
        spec = model.param(name)
        if spec is not None and len(spec.dims) == 1:
            return spec.dims[0]
    return None


class _Dimension(ir.Visitor["Dim | None"]):
    """The dimension of an expression made of literals, parameters with a dimension and neuron
    parameters; None when it cannot be known before the rule runs."""

    def __init__(self, roles: dict[str, Role]):
        self.roles = roles

    def visit_Const(self, expr: ir.Const) -> Dim | None:
        return expr.dim

    def visit_Param(self, expr: ir.Param) -> Dim | None:
        role = self.roles.get(expr.name)
        return role.dim if role is not None and role.kind in (TIME_ROLE, QUANTITY_ROLE) else None

    def visit_NeuronVar(self, expr: ir.NeuronVar) -> Dim | None:
        return _neuron_param_dim(expr.attribute)

    def visit_PopulationVar(self, expr: ir.PopulationVar) -> Dim | None:
        return _neuron_param_dim(expr.attribute)

    def unknown(self, expr: ir.Expr) -> None:
        return None

    visit_Weight = visit_TraceRef = visit_SignalRef = visit_LetRef = unknown
    visit_PopulationRef = visit_NetState = unknown

    def visit_Unary(self, expr: ir.Unary) -> Dim | None:
        return self.visit(expr.operand)

    def visit_Binary(self, expr: ir.Binary) -> Dim | None:
        if expr.op not in "*/+-":
            return None
        left, right = self.visit(expr.left), self.visit(expr.right)
        if left is None or right is None:
            return None
        if expr.op == "*":
            return left * right
        if expr.op == "/":
            return left / right
        return left if left == right else None

    def visit_Call(self, expr: ir.Call) -> Dim | None:
        return DIMENSIONLESS if expr.name == "decay" else None


def expression_dim(expr: ir.Expr, roles: dict[str, Role]) -> Dim | None:
    """The dimension of ``expr`` when it is made of literals, parameters with a dimension and
    neuron parameters; None when it cannot be known before the rule runs."""
    return _Dimension(roles).visit(expr)


# -- messages ----------------------------------------------------------------------------------

def number_text(expr: ir.Expr, value: Quantity) -> str:
    """The number as written (``20`` of ``20 mV``), else the value in its usual unit."""
    node = expr
    negative = False
    while isinstance(node, ir.Unary):
        negative ^= node.op == "-"
        node = node.operand
    if isinstance(node, ir.Const):
        return ("-" if negative else "") + node.text
    unit = EXAMPLE_UNIT.get(value.dim)
    return f"{value.value / UNITS[unit][1]:g}" if unit else f"{value.value:g}"


def suggestion(number: str, dims: tuple[Dim, ...]) -> str:
    """A hint for a value that needs one of ``dims``: "write '20 ms'"."""
    words = [f"'{number} {EXAMPLE_UNIT[d]}'" for d in dims if d in EXAMPLE_UNIT]
    if DIMENSIONLESS in dims:
        words.append(f"'{number}' (a plain number)")
    return "write " + " or ".join(words) if words else ""


def shown(value: Value) -> str:
    if isinstance(value, Quantity):
        return "a plain number" if value.dimensionless else describe(value.dim)
    if isinstance(value, Symbol):
        return f"the name '{value.name}'"
    if isinstance(value, StringValue):
        return "a string"
    if isinstance(value, ListValue):
        return "a list"
    return f"a call of {value.name}()" if isinstance(value, CallValue) else "this value"


# -- checks at the rule ------------------------------------------------------------------------

def check_definition(rule: ir.RuleDef, roles: dict[str, Role],
                     diag: Diagnostics) -> dict[str, Role]:
    """Report defaults that contradict their parameter's role and time arguments of another
    dimension (E205). Returns ``roles`` with the reported defaults removed (so that a
    ``learn`` relying on one stops without reporting it again)."""
    bad: set[str] = set()
    for param in rule.params:
        name = param.name
        role = roles[name]
        default = role.default
        if param.default is None or not isinstance(default, Quantity):
            if role.kind in (TIME_ROLE, WEIGHT_ROLE, RATE_ROLE) and isinstance(default, Symbol):
                diag.error("E209", param.default.span, f"the default of '{name}' "
                           f"({role.kind}) must be a value, not the name '{default.name}'")
                bad.add(name)
            continue
        accepted = {TIME_ROLE: (TIME,), WEIGHT_ROLE: WEIGHT_DIMS, RATE_ROLE: WEIGHT_DIMS}.get(
            role.kind)
        if accepted is not None and default.dim not in accepted:
            number = number_text(param.default, default)
            diag.error("E205", param.default.span,
                       f"'{name}' is {role.reason}, so its default must be "
                       f"{' or '.join(_article(d) for d in accepted)}, not {shown(default)} "
                       f"({number}{'' if default.dimensionless else ' ' + _unit(param.default)})",
                       hint=suggestion(number, accepted))
            bad.add(name)
            continue
        if role.kind == TIME_ROLE and default.value <= 0:
            diag.error("E209", param.default.span, f"'{name}' is a time constant and "
                       f"must be positive, not {default}")
            bad.add(name)
    for expr, function in time_arguments(rule):
        if _param_ref(expr) in roles:
            continue  # checked through the parameter
        dim = expression_dim(expr, roles)
        if dim is not None and dim != TIME:
            hint = ""
            if isinstance(expr, ir.Const):
                hint = suggestion(expr.text, (TIME,))
            diag.error("E205", expr.span, f"the time constant of {function}() must be a time, "
                       f"not {'a plain number' if dim == DIMENSIONLESS else describe(dim)}",
                       hint=hint or "e.g. '20 ms' or a time parameter such as post.tau_mem")
    return {name: replace(role, default=None) if name in bad else role
            for name, role in roles.items()}


def _article(dim: Dim) -> str:
    return {DIMENSIONLESS: "a plain number", TIME: "a time", VOLTAGE: "a voltage"}.get(
        dim, describe(dim))


def _unit(expr: ir.Expr) -> str:
    node = expr
    while isinstance(node, ir.Unary):
        node = node.operand
    if isinstance(node, ir.Const) and node.unit is not None:
        return node.unit
    return ""


# -- checks at each learn ----------------------------------------------------------------------

@dataclass(frozen=True)
class Argument:
    """A value bound to a rule parameter at a ``learn``: the value, the expression that gave it
    and whether it is the rule's default."""

    value: Value
    expr: ir.Expr  # as written (its typed form: the number and unit messages quote)
    from_default: bool


def check_arguments(rule_name: str, roles: dict[str, Role], args: dict[str, Argument],
                    weight_dim: Dim, projection: str, call_span: Span,
                    diag: Diagnostics) -> bool:
    """Every argument against its parameter's dimension; False after reporting."""
    ok = True
    for name, arg in args.items():
        role = roles.get(name)
        if role is None:
            continue
        ok = _check_argument(rule_name, name, role, arg, weight_dim, projection, call_span,
                             diag) and ok
    return ok


def _check_argument(rule_name, name, role: Role, arg: Argument, weight_dim: Dim,
                    projection: str, call_span: Span, diag: Diagnostics) -> bool:
    value = arg.value
    what = f"'{name}' of rule '{rule_name}'"
    span = call_span if arg.from_default else arg.expr.span
    notes = [f"the default is written at {role.default_span}"] if arg.from_default and \
        role.default_span is not None else []
    if role.kind == NAME_ROLE:
        if not isinstance(value, (Quantity, Symbol)):
            diag.error("E209", span, f"{what} takes a population name or a plain number, not "
                       f"{shown(value)}", notes=notes)
            return False
        if isinstance(value, Quantity) and not value.dimensionless:
            diag.error("E205", span, f"{what} takes a population name or a plain number, not "
                       f"{describe(value.dim)} ({value})", notes=notes,
                       hint="to give the parameter a unit, give it a default with that unit in "
                            f"the rule's header (e.g. '{name} = 1 ms')")
            return False
        return True
    if not isinstance(value, Quantity):
        diag.error("E209", span, f"{what} is {role.reason}, a value, not {shown(value)}",
                   notes=notes)
        return False
    if role.kind == TIME_ROLE:
        accepted, expected = (TIME,), "a time"
    elif role.kind == QUANTITY_ROLE:
        accepted = (role.dim,)
        expected = "a plain number" if role.dim == DIMENSIONLESS else describe(role.dim)
    elif role.kind == WEIGHT_ROLE:
        accepted = (weight_dim,)
        expected = f"in the unit of the weights of '{projection}' (" + (
            "plain numbers)" if weight_dim == DIMENSIONLESS else f"{describe(weight_dim)})")
    else:  # learning rate
        accepted = tuple(dict.fromkeys((DIMENSIONLESS, weight_dim)))
        expected = "a plain number" + ("" if weight_dim == DIMENSIONLESS else
                                       f" or {describe(weight_dim)}, the unit of the weights "
                                       f"of '{projection}'")
    if value.dim not in accepted and not (role.kind == WEIGHT_ROLE and value.value == 0):
        number = number_text(arg.expr, value)
        written = number + ("" if value.dimensionless else " " + (_unit(arg.expr) or
                                                                  EXAMPLE_UNIT.get(value.dim, "")))
        reason = "" if role.kind == QUANTITY_ROLE else f" ({role.reason})"
        message = f"{what}{reason} must be {expected}, not {shown(value)} ({written.strip()})"
        if role.kind == TIME_ROLE and value.dimensionless:
            message += "; a plain number is not read as seconds"
        diag.error("E205", span, message, notes=notes, hint=suggestion(number, accepted))
        return False
    if role.kind == TIME_ROLE and value.value <= 0:
        diag.error("E209", span, f"{what} is a time constant and must be positive, not {value}",
                   notes=notes)
        return False
    return True


# -- constant folding once the values are known --------------------------------------------------

class _FoldError(Exception):
    def __init__(self, code: str, span: Span, message: str):
        super().__init__(message)
        self.code, self.span, self.message = code, span, message


class _Folder(ir.Visitor["float | None"]):
    """The value of a constant expression (literals, bound parameters and the functions of the
    table with a ``fold``), None when it reads anything else; raises _FoldError for a division
    by zero, an undefined function value or a non-finite result."""

    def __init__(self, values: dict[str, float]):
        self.values = values

    def visit_Const(self, expr: ir.Const) -> float | None:
        return None if expr.dim is None else expr.value

    def visit_Param(self, expr: ir.Param) -> float | None:
        return self.values.get(expr.name)

    def unknown(self, expr: ir.Expr) -> None:
        return None

    visit_NeuronVar = visit_PopulationVar = visit_PopulationRef = visit_NetState = unknown
    visit_Weight = visit_TraceRef = visit_SignalRef = visit_LetRef = unknown

    def visit_Unary(self, expr: ir.Unary) -> float | None:
        inner = self.visit(expr.operand)
        return None if inner is None else (-inner if expr.op == "-" else inner)

    def visit_Binary(self, expr: ir.Binary) -> float | None:
        left, right = self.visit(expr.left), self.visit(expr.right)
        if expr.op == "/" and right == 0:
            raise _FoldError("E209", expr.span, "division by zero")
        if left is None or right is None:
            return None
        try:
            result = {"+": lambda: left + right, "-": lambda: left - right,
                      "*": lambda: left * right, "/": lambda: left / right,
                      "^": lambda: left ** right}[expr.op]()
        except ZeroDivisionError:
            raise _FoldError("E209", expr.span, "division by zero (zero to a negative power)") \
                from None
        except OverflowError:
            result = math.inf
        if isinstance(result, complex):
            raise _FoldError("E209", expr.span, "the power is not a real number")
        return _finite(float(result), expr.span)

    def visit_Call(self, expr: ir.Call) -> float | None:
        function = expr.function
        if not _folds(expr):
            return None
        args = [self.visit(arg) for arg in expr.args]
        if any(arg is None for arg in args):
            return None
        shown = f"{function.name}({', '.join(f'{arg:g}' for arg in args)})"
        try:
            return _finite(float(function.fold(*args)), expr.span)
        except OverflowError:
            raise _FoldError("E615", expr.span, f"{shown} overflows") from None
        except ValueError:
            raise _FoldError("E209", expr.span, f"{shown} is undefined") from None


def _folds(expr: ir.Expr) -> bool:
    """True for a call of a table function that folds, with an accepted number of arguments."""
    if not isinstance(expr, ir.Call) or expr.function.fold is None:
        return False
    return expr.function.min_args <= len(expr.args) <= expr.function.max_args


def _fold(expr: ir.Expr, values: dict[str, float]) -> float | None:
    return _Folder(values).visit(expr)


def _finite(value: float, span: Span) -> float:
    if not math.isfinite(value):
        raise _FoldError("E615", span, "this constant expression is not finite "
                                       f"({value})")
    return value


def _reads_parameter(expr: ir.Expr, names: set[str]) -> bool:
    return any(_param_ref(node) in names for node in ir.walk(expr))


def check_folding(rule: ir.RuleDef, values: dict[str, float], diag: Diagnostics,
                  call_span: Span | None = None) -> bool:
    """Evaluate every constant part of the rule's expressions with ``values`` (the numeric
    arguments) and report divisions by zero (E209) and non-finite results (E615) at the
    operation. With ``call_span`` (a ``learn``) only parts that read a parameter are reported
    (literal-only parts are reported once, at the rule, without it). False after reporting."""
    names = set(values) if call_span is not None else set()
    ok = True
    for top in rule_expressions(rule):
        for node in ir.walk(top):
            if not (isinstance(node, ir.Binary) or _folds(node)):
                continue
            try:
                _fold(node, values)
            except _FoldError as error:
                if call_span is not None and not _reads_parameter(node, names):
                    continue
                if call_span is None and _reads_parameter(node, {p.name for p in rule.params}):
                    continue
                notes = [f"with the values of the 'learn' at {call_span}"] if call_span else []
                diag.error(error.code, error.span, error.message, notes=notes,
                           hint="a rule must not divide by zero; check the rule's parameters")
                ok = False
                break
    return ok
