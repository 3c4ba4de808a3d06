"""Lowering: a loaded program (AST modules) becomes the IR :class:`Network`.

On the way every name is resolved (with "did you mean"), every value is evaluated and
converted to SI with its dimension checked, calls are bound to their parameters, and model
defaults are filled in. All problems of a program are reported at once; the network is only
returned when there were none. Checks that need the whole network (shapes, ranges, rule
variables, locality) are passes over the IR (:mod:`snnc.passes`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from snnc.diagnostics import Diagnostics, Span, choices_hint, did_you_mean
from snnc.frontend import ast
from snnc.frontend.evaluate import CallValue, Symbol
from snnc.frontend.loader import Program, stdlib_sources
from snnc.frontend.parser import report_too_deep
from snnc.ir.check_rules import check_rule
from snnc.ir.connectivity import Connectivity
from snnc.ir.lower_values import ValueChecker, check_file_values
from snnc.ir.network import Network
from snnc.ir.nodes import (
    Input,
    Loss,
    Population,
    Projection,
    Receptor,
    Record,
    RuleDef,
    RuleInstance,
    Settings,
)
from snnc.ir.rule_params import Argument, Role, check_arguments, check_folding
from snnc.ir.values import Constant
from snnc.models import MODELS, SURROGATES, ModelSpec, ParamSpec
from snnc.units import DIMENSIONLESS, FREQUENCY, TIME, VOLTAGE, Dim, Quantity
from snnc.vocabulary import (
    BUILTIN_TARGETS,
    CONNECTIVITY,
    INTEGRATION_SCHEMES,
    LOSSES,
    NETWORK_SETTINGS,
    PROJECTION_SETTINGS,
    RECEPTOR,
    REDUCTIONS,
    SOURCES,
    Arg,
    CallSpec,
    bind,
)

RATE_ARG = Arg("rate", (FREQUENCY,))


@dataclass(frozen=True)
class Refractory:
    """A refractory period as written (steps or a time), converted to steps once dt is known."""

    value: Quantity
    expr: ast.Expr
MAX_NEURONS = 10 ** 12


def lower(program: Program, diag: Diagnostics) -> Network | None:
    """The network of ``program``, or None when ``diag`` received errors."""
    try:
        network = Lowering(program, diag).run()
    except RecursionError:
        module = program.modules[-1]
        report_too_deep(diag.sources.get(module.path, ""), module.path, diag)
        return None
    if not diag.has_errors:
        check_file_values(network, diag)
    return None if diag.has_errors else network


class Lowering:
    def __init__(self, program: Program, diag: Diagnostics):
        self.program = program
        self.diag = diag
        self.values = ValueChecker(diag)
        self.eval = self.values.eval
        self.net = Network(files=[m.path for m in program.modules])
        self.settings = {"name": "network", "dt": 1e-3, "seed": 0, "integration": "exact",
                         "duration": None}
        self.models: dict[str, ModelSpec | None] = dict(MODELS)
        self.variants: dict[str, ast.NeuronDecl] = {}
        self.variant_params: dict[str, dict[str, tuple[object, Span]]] = {}
        self.nodes: dict[str, ast.InputDecl | ast.PopulationDecl] = {}
        self.rules: dict[str, ast.RuleDecl] = {}
        self.user_rules: set[str] = set()
        self.rule_roles: dict[str, dict[str, Role]] = {}
        self.targets: dict[str, ast.TargetDecl] = {}
        self.projections: dict[str, ast.ProjectionDecl] = {}

    # -- entry point ------------------------------------------------------------------------
    def run(self) -> Network:
        for path, text in stdlib_sources():
            self.diag.add_source(path, text)
        items = [item for module in self.program.modules for item in module.items]
        self.collect_rules(items)
        self.lower_network([i for i in items if isinstance(i, ast.NetworkDecl)])
        for item in items:
            if isinstance(item, ast.NeuronDecl):
                self.declare_variant(item)
        for name in list(self.variants):
            self.resolve_variant(name, [])
        for item in items:
            if isinstance(item, ast.InputDecl):
                self.lower_input(item)
            elif isinstance(item, ast.PopulationDecl):
                self.lower_population(item)
        for item in items:
            if isinstance(item, ast.TargetDecl):
                self.declare_target(item)
        for name, rule in self.rules.items():
            self.rule_roles[name] = check_rule(rule, self.diag, set(self.nodes))
            if name in self.user_rules:
                self.net.rules[name] = lower_rule(rule)
        for item in items:
            if isinstance(item, ast.ProjectionDecl):
                self.lower_projection(item)
        for item in items:
            if isinstance(item, ast.LossDecl):
                self.lower_loss(item)
            elif isinstance(item, ast.RecordDecl):
                self.lower_record(item)
        self.select_target([i for i in items if isinstance(i, ast.TargetDecl)])
        self.net.custom_targets = dict(self.targets)
        return self.net

    # -- helpers ----------------------------------------------------------------------------
    def duplicate(self, ident: ast.Ident, what: str, first: Span) -> None:
        self.diag.error("E202", ident.span, f"{what} '{ident.text}' is defined twice",
                        notes=[f"first defined at {first}"], hint="rename one of them")

    def unknown(self, ident: ast.Ident, what: str, candidates, code: str = "E201") -> None:
        hint = did_you_mean(ident.text, candidates)
        if hint is None and candidates:
            hint = choices_hint(candidates)
        self.diag.error(code, ident.span, f"unknown {what} '{ident.text}'", hint=hint)

    def lower_shape(self, shape: ast.Shape) -> tuple[int, ...] | None:
        dims = []
        for expr in shape.dims:
            value = self.values.quantity(expr, Arg("dimension", integer=True, positive=True),
                                         "a shape dimension")
            if value is None:
                return None
            dims.append(int(value.value))
        if math.prod(dims) > MAX_NEURONS:
            self.diag.error("E210", shape.span, f"shape {dims} has more than 10^12 neurons")
            return None
        return tuple(dims)

    def lower_rate(self, rate: ast.Expr | None) -> float | None:
        if rate is None:
            return None
        value = self.values.quantity(rate, RATE_ARG, "a firing rate")
        if value is None:
            return None
        if value.value < 0:
            self.diag.error("E209", rate.span, "a firing rate cannot be negative")
            return None
        return value.value

    def steps(self, value: Quantity, expr: ast.Expr, what: str) -> int:
        """A count of steps from a step count or a time (rounded to the nearest step)."""
        if value.dim == DIMENSIONLESS:
            return int(value.value)
        steps = value.value / self.settings["dt"]
        rounded = round(steps)
        if abs(steps - rounded) > 1e-6 * max(1.0, abs(steps)):
            self.diag.warning("W201", expr.span, f"{what} of {value} is not a whole number of "
                              f"steps of {Quantity(self.settings['dt'], TIME)}; rounded to "
                              f"{rounded} steps")
        return rounded

    # -- network ----------------------------------------------------------------------------
    def lower_network(self, decls: list[ast.NetworkDecl]) -> None:
        if decls:
            for extra in decls[1:]:
                self.duplicate(extra.name, "network", decls[0].name.span)
            self.settings["name"] = decls[0].name.text
            seen: dict[str, Span] = {}
            for setting in decls[0].settings:
                if setting.name.text in seen:
                    self.duplicate(setting.name, "setting", seen[setting.name.text])
                else:
                    seen[setting.name.text] = setting.span
                    self.lower_network_setting(setting)
        self.net.settings = Settings(**self.settings)

    def lower_network_setting(self, setting: ast.Setting) -> None:
        name = setting.name.text
        arg = NETWORK_SETTINGS.get(name)
        if arg is None:
            self.unknown(setting.name, "network setting", NETWORK_SETTINGS, "E204")
            return
        if name == "integration":
            value = self.eval.evaluate(setting.value)
            if isinstance(value, Symbol) and value.name in INTEGRATION_SCHEMES:
                self.settings["integration"] = value.name
            elif value is not None:
                got = value.name if isinstance(value, Symbol) else ""
                self.diag.error("E209", setting.value.span, "integration must be 'exact' or "
                                "'euler'", hint=did_you_mean(got, INTEGRATION_SCHEMES)
                                or choices_hint(INTEGRATION_SCHEMES))
            return
        value = self.values.quantity(setting.value, arg, f"network setting '{name}'")
        if value is None:
            return
        if name == "seed":
            if not 0 <= value.value < 2 ** 63:
                self.diag.error("E209", setting.value.span, "seed must be in [0, 2^63)")
            else:
                self.settings["seed"] = int(value.value)
        elif value.value <= 0:
            self.diag.error("E209", setting.value.span, f"{name} must be positive")
        else:
            self.settings[name] = value.value

    # -- neuron models ----------------------------------------------------------------------
    def declare_variant(self, decl: ast.NeuronDecl) -> None:
        name = decl.name.text
        if name in MODELS:
            self.diag.error("E202", decl.name.span, f"'{name}' is a built-in neuron model",
                            hint=f"give the variant its own name, e.g. 'My{name}'")
        elif name in self.variants:
            self.duplicate(decl.name, "neuron model", self.variants[name].name.span)
        else:
            self.variants[name] = decl

    def resolve_variant(self, name: str, chain: list[str]) -> ModelSpec | None:
        """The built-in spec a variant derives from; its settings are lowered on the way."""
        if name in self.models:
            return self.models[name]
        decl = self.variants[name]
        if name in chain:
            self.diag.error("E215", decl.name.span, "neuron models derive from each other in a "
                            f"cycle: {' -> '.join(chain + [name])}")
            return None
        base = decl.base.text
        if base not in self.models and base not in self.variants:
            self.unknown(decl.base, "neuron model", [*MODELS, *self.variants], "E203")
            self.models[name] = None
            return None
        spec = self.resolve_variant(base, chain + [name])
        if spec is not None:
            params = dict(self.variant_params.get(base, {}))
            params.update(self.lower_params(decl.settings, spec, f"model '{name}'"))
            self.variant_params[name] = params
        self.models[name] = spec
        return spec

    def lower_params(self, settings: tuple[ast.Setting, ...], spec: ModelSpec,
                     owner: str) -> dict[str, tuple[object, Span]]:
        """Lowered parameter values with the spans of the expressions that set them."""
        out: dict[str, tuple[object, Span]] = {}
        seen: dict[str, Span] = {}
        for setting in settings:
            name = setting.name.text
            if name in seen:
                self.duplicate(setting.name, "parameter", seen[name])
                continue
            seen[name] = setting.span
            param = spec.param(name)
            if param is None:
                hint = did_you_mean(name, spec.param_names) or choices_hint(spec.param_names)
                self.diag.error("E204", setting.name.span,
                                f"{spec.name} has no parameter '{name}'", hint=hint)
                continue
            value = self.lower_param(setting.value, param, f"'{name}' of {owner}")
            if value is not None:
                out[name] = (value, setting.value.span)
        return out

    def lower_param(self, expr: ast.Expr, param: ParamSpec, what: str) -> object | None:
        """A parameter value: a ParamValue, an option word, a number, or a surrogate."""
        if param.name == "refractory":
            value = self.values.quantity(expr, Arg(param.name, param.dims), what)
            if value is not None and value.value < 0:
                self.diag.error("E209", expr.span, "the refractory period cannot be negative")
                return None
            return None if value is None else Refractory(value, expr)
        if param.kind == "quantity":
            return self.values.param_value(expr, Arg(param.name, param.dims), what)
        value = self.eval.evaluate(expr)
        if value is None:
            return None
        if param.kind == "surrogate":
            return self.lower_surrogate(expr, value, what)
        if param.kind == "number_or_enum" and isinstance(value, Quantity):
            checked = self.values.quantity(expr, Arg(param.name, param.dims), what)
            return None if checked is None else checked.value
        if isinstance(value, Symbol) and value.name in param.choices:
            return value.name
        name = value.name if isinstance(value, Symbol) else ""
        self.diag.error("E209", expr.span, f"{what} must be one of {', '.join(param.choices)}",
                        hint=did_you_mean(name, param.choices) or choices_hint(param.choices))
        return None

    def lower_surrogate(self, expr, value, what: str):
        if isinstance(value, Symbol) and value.name in SURROGATES:
            return (value.name, dict(SURROGATES[value.name].params))
        if isinstance(value, CallValue) and value.name in SURROGATES:
            spec = SURROGATES[value.name]
            call_spec = CallSpec(spec.name, spec.formula,
                                 tuple(Arg(p, required=False) for p in spec.params))
            bound = bind(value.node, call_spec, self.diag)
            if bound is None:
                return None
            params = dict(spec.params)
            for arg_name, sub in bound.items():
                checked = self.values.quantity(sub, Arg(arg_name), f"'{arg_name}' of {spec.name}")
                if checked is None:
                    return None
                params[arg_name] = checked.value
            return (spec.name, params)
        name = value.name if isinstance(value, (Symbol, CallValue)) else ""
        self.diag.error("E209", expr.span, f"{what} must be a surrogate derivative",
                        hint=did_you_mean(name, SURROGATES) or choices_hint(SURROGATES))
        return None

    # -- inputs and populations -------------------------------------------------------------
    def declare_node(self, decl) -> bool:
        name = decl.name.text
        if name in self.nodes:
            self.duplicate(decl.name, "population or input", self.nodes[name].name.span)
            return False
        self.nodes[name] = decl
        return True

    def lower_input(self, decl: ast.InputDecl) -> None:
        fresh = self.declare_node(decl)
        shape = self.lower_shape(decl.shape)
        rate = self.lower_rate(decl.rate)
        for setting in decl.settings:
            self.diag.error("E204", setting.name.span, f"inputs have no setting "
                            f"'{setting.name.text}'",
                            hint="an input's source goes after ':', e.g. "
                                 "'input x[10]: poisson(rate = 5 Hz)'; its only body "
                                 "statement is 'rate'")
        source, poisson_rate, file = "data", None, None
        if decl.source is not None:
            lowered = self.lower_source(decl.source)
            if lowered is None:
                return
            source, poisson_rate, file = lowered
        if fresh and shape is not None:
            if rate is None and poisson_rate is not None:
                rate = poisson_rate
            spans = {}
            if isinstance(decl.source, ast.Call) and decl.source.kwarg("rate") is not None:
                spans["rate"] = decl.source.kwarg("rate").span
            self.net.add_node(Input(decl.name.text, shape, source, rate, poisson_rate, file,
                                    decl.span, spans))

    def lower_source(self, expr: ast.Expr):
        if not isinstance(expr, ast.Call):
            self.diag.error("E207", expr.span, "an input source is a call",
                            hint="e.g. poisson(rate = 10 Hz) or file(\"spikes.npy\")")
            return None
        spec = SOURCES.get(expr.func.text)
        if spec is None:
            self.unknown(expr.func, "input source", SOURCES, "E207")
            return None
        bound = bind(expr, spec, self.diag)
        if bound is None:
            return None
        if spec.name == "poisson":
            rate = self.values.quantity(bound["rate"], spec.args[0], "'rate' of poisson()")
            if rate is None:
                return None
            if rate.value < 0:
                self.diag.error("E209", bound["rate"].span, "a Poisson rate cannot be negative")
                return None
            return "poisson", rate.value, None
        value = self.values.param_value(expr, Arg("spikes", (DIMENSIONLESS,)), "an input file")
        return None if value is None else ("file", None, value)

    def lower_population(self, decl: ast.PopulationDecl) -> None:
        fresh = self.declare_node(decl)
        name = decl.model.text
        spec = self.models.get(name) if name in self.models else None
        if name not in self.models:
            self.unknown(decl.model, "neuron model", [*MODELS, *self.variants], "E203")
        shape = self.lower_shape(decl.shape)
        own = {} if spec is None else self.lower_params(decl.settings, spec,
                                                        f"population '{decl.name.text}'")
        rate = self.lower_rate(decl.rate)
        if not fresh or spec is None or shape is None:
            return
        merged = dict(self.variant_params.get(name, {}))
        merged.update(own)
        params, options = {}, {}
        spans = {name: span for name, (_, span) in merged.items()}
        for param in spec.params:
            value = merged[param.name][0] if param.name in merged else default_value(param)
            if isinstance(value, Refractory):
                options["refractory_steps"] = self.steps(value.value, value.expr,
                                                         "the refractory period")
            elif param.name == "refractory":
                options["refractory_steps"] = 0
            elif param.kind == "quantity":
                params[param.name] = value
            else:
                options[param.name] = value
        self.net.add_node(Population(decl.name.text, spec, name, shape, params, options, rate,
                                     decl.is_readout, decl.span, spans))

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
            arguments[name] = Argument(value, given, from_default)
        if not check_arguments(decl.name.text, roles, arguments, weight_dim, projection,
                               expr.span, self.diag):
            return None
        numbers = {k: v.value for k, v in args.items() if isinstance(v, Quantity)}
        if not check_folding(decl, numbers, self.diag, expr.span):
            return None
        rule = self.net.rules.get(decl.name.text)
        if rule is None:
            rule = self.net.rules[decl.name.text] = lower_rule(decl)
        return RuleInstance(rule, args, expr.span)

    # -- rules, losses, records, targets ----------------------------------------------------
    def collect_rules(self, items: list[ast.Item]) -> None:
        for module in self.program.stdlib:
            for item in module.items:
                if isinstance(item, ast.RuleDecl):
                    self.rules[item.name.text] = item
        user: dict[str, ast.RuleDecl] = {}
        for item in items:
            if not isinstance(item, ast.RuleDecl):
                continue
            name = item.name.text
            if name in user:
                self.duplicate(item.name, "rule", user[name].name.span)
                continue
            user[name] = item
            self.rules[name] = item
            self.user_rules.add(name)

    def lower_loss(self, decl: ast.LossDecl) -> None:
        expr = decl.value
        if not isinstance(expr, ast.Call) or expr.func.text not in LOSSES:
            if isinstance(expr, ast.Call):
                self.unknown(expr.func, "loss", LOSSES, "E207")
            else:
                self.diag.error("E207", expr.span, "a loss is a call such as "
                                "cross_entropy(max_over_time(out.v))")
            return
        bound = bind(expr, LOSSES[expr.func.text], self.diag)
        if bound is None:
            return
        (value,) = bound.values()
        reductions = []
        while isinstance(value, ast.Call):
            if value.func.text not in REDUCTIONS:
                self.unknown(value.func, "reduction over time", REDUCTIONS, "E207")
                return
            reduced = bind(value, REDUCTIONS[value.func.text], self.diag)
            if reduced is None:
                return
            reductions.append(value.func.text)
            (value,) = reduced.values()
        if not isinstance(value, ast.Ref) or len(value.parts) != 2:
            self.diag.error("E207", value.span, "a loss reads a readout variable, e.g. 'out.v'")
            return
        if len(reductions) > 1:
            self.diag.error("E207", expr.span, "a loss reduces over time at most once")
            return
        owner, variable = value.parts
        if self.check_variable(owner, variable, readout_only=True):
            self.net.losses.append(Loss(expr.func.text, reductions[0] if reductions else None,
                                        owner.text, variable.text, decl.span))

    def check_variable(self, owner: ast.Ident, variable: ast.Ident, readout_only=False) -> bool:
        node = self.nodes.get(owner.text)
        if node is None:
            self.unknown(owner, "population", self.nodes)
            return False
        if isinstance(node, ast.InputDecl):
            variables: tuple[str, ...] = ("s",)
        else:
            if readout_only and not node.is_readout:
                self.diag.error("E213", owner.span, f"'{owner.text}' is not a readout",
                                hint=f"declare it with 'readout {owner.text}: ...'")
                return False
            spec = self.models.get(node.model.text)
            if spec is None:
                return False
            variables = spec.variables
        if variable.text not in variables:
            hint = did_you_mean(variable.text, variables) or choices_hint(variables)
            self.diag.error("E213", variable.span, f"'{owner.text}' has no variable "
                            f"'{variable.text}'", hint=hint)
            return False
        return True

    def lower_record(self, decl: ast.RecordDecl) -> None:
        for item in decl.items:
            if item.projection_post is None and item.owner.text in self.projections:
                ok = self.check_projection_variable(self.projections[item.owner.text], item)
                is_projection = True
            elif item.projection_post is None:
                ok = self.check_variable(item.owner, item.variable)
                is_projection = False
            else:
                name = item.owner_name
                projection = self.projections.get(name)
                is_projection = True
                if projection is None:
                    self.diag.error("E201", item.owner.span.to(item.projection_post.span),
                                    f"unknown projection '{name}'",
                                    hint=did_you_mean(name, self.projections)
                                    or "named projections are recorded as 'name.w'")
                    continue
                ok = self.check_projection_variable(projection, item)
            if ok:
                self.net.records.append(Record(item.owner_name, item.variable.text,
                                               is_projection, item.span))

    def check_projection_variable(self, projection: ast.ProjectionDecl,
                                  item: ast.RecordItem) -> bool:
        names = {"w"}
        for learn in projection.learn:
            func = learn.func if isinstance(learn, ast.Call) else (
                learn.parts[0] if isinstance(learn, ast.Ref) else None)
            rule = self.rules.get(func.text) if func is not None else None
            if rule is not None:
                names |= {s.name.text for s in rule.body
                          if isinstance(s, (ast.TraceDef, ast.SignalDef))}
        if item.variable.text not in names:
            hint = did_you_mean(item.variable.text, names) or choices_hint(names)
            self.diag.error("E213", item.variable.span, f"projection '{projection.name}' has no "
                            f"variable '{item.variable.text}'", hint=hint)
            return False
        return True

    def declare_target(self, decl: ast.TargetDecl) -> None:
        if decl.body is None:
            return
        name = decl.name.text
        if name in BUILTIN_TARGETS:
            self.diag.error("E202", decl.name.span, f"'{name}' is a built-in target",
                            hint="give the custom target its own name; 'base = "
                                 f"{name}' starts from the built-in profile")
        elif name in self.targets:
            self.duplicate(decl.name, "target", self.targets[name].name.span)
        else:
            self.targets[name] = decl

    def select_target(self, decls: list[ast.TargetDecl]) -> None:
        """A program selects one target (defining a custom target also selects it)."""
        if not decls:
            return
        for extra in decls[1:]:
            if extra.name.text != decls[0].name.text:
                self.diag.error("E202", extra.name.span, "a program selects one target",
                                notes=[f"'{decls[0].name.text}' is selected at "
                                       f"{decls[0].name.span}"],
                                hint="choose another target on the command line with --target")
        decl = decls[0]
        name = decl.name.text
        if name not in BUILTIN_TARGETS and name not in self.targets:
            self.unknown(decl.name, "target", [*BUILTIN_TARGETS, *self.targets], "E212")
            return
        self.net.target = name


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


def default_value(param: ParamSpec) -> object:
    """The IR value of a parameter's default."""
    if param.kind == "surrogate":
        return (param.default, dict(SURROGATES[param.default].params))
    if isinstance(param.default, Quantity):
        return Constant(param.default.value)
    return param.default


def lower_rule(decl: ast.RuleDecl) -> RuleDef:
    body = decl.body
    settings = {s.name.text: s.value for s in body if isinstance(s, ast.Setting)}
    optimizer = settings.get("optimizer")
    if isinstance(optimizer, ast.Call):
        optimizer_name = optimizer.func.text
    elif isinstance(optimizer, ast.Ref):
        optimizer_name = optimizer.dotted
    else:
        optimizer_name = "sgd"
    bounds = settings.get("bounds")
    return RuleDef(
        decl.name.text, decl.params,
        tuple(s for s in body if isinstance(s, ast.TraceDef)),
        tuple(s for s in body if isinstance(s, ast.SignalDef)),
        tuple(s for s in body if isinstance(s, ast.LetDef)),
        tuple(s for s in body if isinstance(s, ast.Update)),
        bounds if isinstance(bounds, ast.ListExpr) else None,
        optimizer_name, decl.span)

