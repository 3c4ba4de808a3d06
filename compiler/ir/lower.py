"""Lowering: a loaded program (AST modules) becomes the IR :class:`Network`.

On the way every name is resolved (with "did you mean"), every value is evaluated and
converted to SI with its dimension checked, calls are bound to their parameters, and model
defaults are filled in. All problems of a program are reported at once; the network is only
returned when there were none. Checks that need the whole network (shapes, ranges, rule
variables, locality) are passes over the IR (:mod:`snnc.passes`).
"""

from __future__ import annotations

import math

from snnc.diagnostics import Diagnostics, Span, choices_hint, did_you_mean, report_too_deep
from snnc.frontend import ast
from snnc.frontend.loader import Program, stdlib_sources
from snnc.frontend.values import Symbol
from snnc.ir.lower_models import MAX_NEURONS, ModelLowering
from snnc.ir.lower_outputs import OutputLowering
from snnc.ir.lower_projections import ProjectionLowering
from snnc.ir.lower_rules import lower_rule as lower_typed_rule
from snnc.ir.lower_target import lower_targets
from snnc.ir.lower_values import ValueChecker, check_file_values
from snnc.ir.network import Network
from snnc.ir.nodes import Settings
from snnc.ir.rule_params import Role
from snnc.ir.rules import RuleDef as TypedRuleDef
from snnc.models import MODELS, ModelSpec
from snnc.units import DIMENSIONLESS, FREQUENCY, TIME, Quantity
from snnc.vocabulary import INTEGRATION_SCHEMES, NETWORK_SETTINGS, Arg

RATE_ARG = Arg("rate", (FREQUENCY,))


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


class Lowering(ModelLowering, ProjectionLowering, OutputLowering):
    """Lowers one program; the parts live in :mod:`snnc.ir.lower_models`,
    :mod:`snnc.ir.lower_projections`, :mod:`snnc.ir.lower_outputs` and
    :mod:`snnc.ir.lower_rules`."""

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
        self.typed_rules: dict[str, TypedRuleDef] = {}
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
        node_names = set(self.nodes)
        for name, rule in self.rules.items():
            lowered = lower_typed_rule(rule, self.diag, node_names)
            self.rule_roles[name] = lowered.roles
            self.typed_rules[name] = lowered.rule
            if name in self.user_rules:
                self.net.rules[name] = lowered.rule
        for item in items:
            if isinstance(item, ast.ProjectionDecl):
                self.lower_projection(item)
        for item in items:
            if isinstance(item, ast.LossDecl):
                self.lower_loss(item)
            elif isinstance(item, ast.RecordDecl):
                self.lower_record(item)
        self.select_target([i for i in items if isinstance(i, ast.TargetDecl)])
        self.net.custom_targets = lower_targets(self.targets)
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

    # -- rules --------------------------------------------------------------------------------
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
