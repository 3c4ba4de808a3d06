"""Lowering of projections: connectivity, weights, delays, receptors and the ``learn``
statements that attach rules (each argument checked against its parameter's role). Mixed into
:class:`snnc.ir.lower.Lowering`, whose state it uses."""

from __future__ import annotations

from snnc.diagnostics import Diagnostics, Span, did_you_mean
from snnc.frontend import ast
from snnc.frontend.values import CallValue, Symbol
from snnc.ir.connectivity import Connectivity
from snnc.ir.lower_calls import bind
from snnc.ir.lower_rules import value_expr
from snnc.ir.lower_values import ValueChecker
from snnc.ir.nodes import Projection, Receptor, RuleInstance
from snnc.ir.rule_params import Argument, check_arguments, check_folding
from snnc.ir.values import Constant
from snnc.units import DIMENSIONLESS, VOLTAGE, Dim, Quantity
from snnc.vocabulary import CONNECTIVITY, PROJECTION_SETTINGS, RECEPTOR, Arg, CallSpec


class ProjectionLowering:
    """Projections and their rules (a mixin of :class:`snnc.ir.lower.Lowering`)."""

    # -- projections ------------------------------------------------------------------------
    def lower_projection(self, decl: ast.ProjectionDecl) -> None:
        ok = True
        for end in (decl.pre, decl.post):
            if end.text not in self.nodes:
                self.unknown(end, "population or input", self.nodes)
                ok = False
        if ok and isinstance(self.nodes[decl.post.text], ast.InputDecl):
            self.diag.error("E211", decl.post.span, f"'{decl.post.text}' is an input and cannot "
                            "receive a projection", hint="inputs only send spikes; project to a "
                            "population instead")
            ok = False
        name = decl.name
        if name in self.projections:
            first = self.projections[name]
            self.diag.error("E202", (decl.alias or decl.pre).span,
                            f"projection '{name}' is defined twice",
                            notes=[f"first defined at {first.span}"],
                            hint="give parallel projections names: 'a -> b as fast: ...'")
            ok = False
        elif name in self.nodes:
            self.diag.error("E202", decl.alias.span, f"'{name}' already names a population")
            ok = False
        else:
            self.projections[name] = decl
        connectivity = self.lower_connectivity(decl)
        weight, delay = self.lower_projection_settings(decl)
        spans = {s.name.text: s.value.span for s in decl.settings}
        if decl.connectivity is not None:
            spans["connectivity"] = decl.connectivity.span
        if decl.receptors and isinstance(decl.receptors[0], ast.Call):
            spans["receptor"] = decl.receptors[0].span
        receptor = self.lower_receptors(decl)
        weight_dim = weight_dimension(decl)
        rules = [self.lower_learn(learn, weight_dim, name) for learn in decl.learn]
        if not ok or connectivity is None or weight is None or delay is None or \
                None in rules or receptor is False:
            return
        if not (self.net.has_node(decl.pre.text) and self.net.has_node(decl.post.text)):
            return
        self.net.add_projection(Projection(name, decl.pre.text, decl.post.text, connectivity,
                                           weight, delay, receptor, tuple(rules), decl.span,
                                           spans))

    def lower_connectivity(self, decl: ast.ProjectionDecl) -> Connectivity | None:
        expr = decl.connectivity
        if expr is None:
            return Connectivity("dense")
        if isinstance(expr, ast.Ref) and len(expr.parts) == 1:
            expr = ast.Call(expr.parts[0], (), (), expr.span)
        if not isinstance(expr, ast.Call):
            self.diag.error("E207", expr.span, "connectivity is a name or a call",
                            hint="e.g. dense, one_to_one, sparse(p = 0.1), fixed_fan_in(k = 10)")
            return None
        spec = CONNECTIVITY.get(expr.func.text)
        if spec is None:
            self.unknown(expr.func, "connectivity", CONNECTIVITY, "E207")
            return None
        bound = bind(expr, spec, self.diag)
        if bound is None:
            return None
        if spec.name == "file":
            value = self.values.param_value(expr, Arg("weights", (DIMENSIONLESS,)), "file()")
            return None if value is None else Connectivity("file", file=value)
        numbers = {}
        for arg in spec.args:
            if arg.name not in bound:
                continue
            value = self.values.quantity(bound[arg.name], arg, f"'{arg.name}' of {spec.name}()")
            if value is None:
                return None
            if arg.name == "p" and not 0 <= value.value <= 1:
                self.diag.error("E209", bound["p"].span,
                                f"a probability must be in [0, 1], not {value.value:g}")
                return None
            if arg.name == "padding" and value.value < 0:
                self.diag.error("E209", bound["padding"].span, "padding cannot be negative")
                return None
            numbers[arg.name] = value.value
        if spec.name == "sumpool2d":
            numbers.setdefault("stride", numbers["kernel"])
        ints = {k: int(v) for k, v in numbers.items() if k != "p"}
        return Connectivity(spec.name, p=numbers.get("p", 0.0), **ints)

    def lower_projection_settings(self, decl: ast.ProjectionDecl):
        weight, delay = Constant(1.0), 0
        seen: dict[str, Span] = {}
        ok = True
        for setting in decl.settings:
            name = setting.name.text
            if name in seen:
                self.duplicate(setting.name, "setting", seen[name])
                ok = False
                continue
            seen[name] = setting.span
            arg = PROJECTION_SETTINGS.get(name)
            if arg is None:
                hint = did_you_mean(name, PROJECTION_SETTINGS) or (
                    "a projection has 'weight' and 'delay' settings and 'receptor' and "
                    "'learn' statements")
                self.diag.error("E204", setting.name.span, f"projections have no setting '{name}'",
                                hint=hint)
                ok = False
            elif name == "weight":
                weight = self.values.param_value(setting.value, arg,
                                                 f"'weight' of projection '{decl.name}'")
                ok = weight is not None and ok
            else:
                delay = self.lower_delay(setting.value, arg, decl.name)
                ok = delay is not None and ok
        return (weight, delay) if ok else (None, None)

    def lower_delay(self, expr: ast.Expr, arg: Arg, projection: str) -> int | None:
        if isinstance(expr, ast.Call) and expr.func.text in ("uniform", "normal", "file"):
            self.diag.error("E209", expr.span, "a delay is one constant per projection",
                            hint="per-synapse delays are not supported; split the projection "
                                 "into several with different delays")
            return None
        value = self.values.quantity(expr, arg, f"'delay' of projection '{projection}'")
        if value is None:
            return None
        if value.value < 0:
            self.diag.error("E209", expr.span, "a delay cannot be negative")
            return None
        if value.dim == DIMENSIONLESS and value.value != int(value.value):
            self.diag.error("E209", expr.span,
                            "a delay without a unit counts steps and must be whole",
                            hint="write a time such as '1.5 ms' for a delay in time")
            return None
        return self.steps(value, expr, "the delay")

    def lower_receptors(self, decl: ast.ProjectionDecl) -> Receptor | None | bool:
        """The projection's receptor, None without one, False after an error."""
        receptor: Receptor | None | bool = None
        for index, expr in enumerate(decl.receptors):
            if not isinstance(expr, ast.Call):
                self.diag.error("E207", expr.span, "a receptor is written 'receptor "
                                "name(tau = 5 ms)'")
                return False
            if index:
                self.diag.error("E216", expr.span, "a projection feeds one receptor",
                                hint="split it into two projections")
                return False
            what = f"receptor '{expr.func.text}'"
            bound = bind(expr, RECEPTOR, self.diag, what)
            if bound is None:
                return False
            tau = self.values.quantity(bound["tau"], RECEPTOR.args[0], f"'tau' of {what}")
            if tau is None:
                return False
            if tau.value <= 0:
                self.diag.error("E209", bound["tau"].span, "a time constant must be positive")
                return False
            receptor = Receptor(expr.func.text, tau.value)
        return receptor

    def lower_learn(self, expr: ast.Expr, weight_dim: Dim = DIMENSIONLESS,
                    projection: str = "") -> RuleInstance | None:
        """The rule instance of a ``learn``, its arguments checked against the dimensions of the
        rule's parameters (``weight_dim``: the unit of the projection's weights)."""
        if isinstance(expr, ast.Ref) and len(expr.parts) == 1:
            expr = ast.Call(expr.parts[0], (), (), expr.span)
        if not isinstance(expr, ast.Call):
            self.diag.error("E207", expr.span, "'learn' takes a rule, e.g. 'learn stdp(lr = 1e-3)'")
            return None
        decl = self.rules.get(expr.func.text)
        if decl is None:
            self.unknown(expr.func, "learning rule", self.rules, "E206")
            return None
        spec = CallSpec(decl.name.text, "", tuple(
            Arg(p.name.text, None, required=p.default is None) for p in decl.params))
        bound = bind(expr, spec, self.diag, f"rule '{decl.name.text}'")
        if bound is None:
            return None
        roles = self.rule_roles.get(decl.name.text, {})
        typed = self.typed_rules[decl.name.text]
        args, arguments = {}, {}
        for param in decl.params:
            name = param.name.text
            from_default = name not in bound
            given = param.default if from_default else bound[name]
            role = roles.get(name)
            if from_default and role is not None:
                value = role.default  # evaluated (and reported) once, at the rule
            else:
                value = self.eval.evaluate(given)
            if value is None:
                return None
            if isinstance(value, Symbol) and value.name not in self.nodes:
                self.diag.error("E201", given.span, f"'{value.name}' is not a population",
                                hint=did_you_mean(value.name, self.nodes)
                                or "name arguments of rules name populations, e.g. readout = out")
                return None
            args[name] = value
            written = typed.parameter(name).default if from_default else value_expr(given)
            arguments[name] = Argument(value, written, from_default)
        if not check_arguments(decl.name.text, roles, arguments, weight_dim, projection,
                               expr.span, self.diag):
            return None
        numbers = {k: v.value for k, v in args.items() if isinstance(v, Quantity)}
        if not check_folding(typed, numbers, self.diag, expr.span):
            return None
        self.net.rules.setdefault(typed.name, typed)  # the rules the network uses
        return RuleInstance(typed, args, expr.span)


def weight_dimension(decl: ast.ProjectionDecl) -> Dim:
    """The unit of a projection's weights as written: voltage when its 'weight' (or an argument
    of its distribution) has a voltage unit, else a plain number. Reports nothing (the setting
    is checked where it is lowered)."""
    setting = next((s for s in decl.settings if s.name.text == "weight"), None)
    if setting is None:
        return DIMENSIONLESS
    silent = ValueChecker(Diagnostics())
    value = silent.eval.evaluate(setting.value)
    if isinstance(value, Quantity):
        return value.dim if value.dim == VOLTAGE else DIMENSIONLESS
    if isinstance(value, CallValue) and value.name in ("uniform", "normal"):
        numbers = [*value.args, *value.kwargs.values()]
        if any(isinstance(n, Quantity) and n.dim == VOLTAGE for n in numbers):
            return VOLTAGE
    return DIMENSIONLESS
