"""Front-end checks on a loaded program: names, models, parameters, units and calls.

This is everything that can be decided from the text alone (the IR passes decide shapes,
ranges and locality). All problems of a program are reported at once. The result is a
:class:`Summary`: what the program declares, with sizes and synapse estimates.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from snnc.diagnostics import Diagnostics, Span, choices_hint, did_you_mean
from snnc.frontend import ast
from snnc.frontend.check_rules import check_rule
from snnc.frontend.evaluate import CallValue, Evaluator, StringValue, Symbol, Value
from snnc.frontend.loader import Program, stdlib_sources
from snnc.models import MODELS, SURROGATES, ModelSpec, ParamSpec
from snnc.units import DIMENSIONLESS, FREQUENCY, Quantity, describe
from snnc.vocabulary import (
    BUILTIN_TARGETS,
    CONNECTIVITY,
    DISTRIBUTIONS,
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


@dataclass
class NodeSummary:
    name: str
    kind: str  # input | population | readout
    model: str
    shape: tuple[int, ...]
    source: str = ""

    @property
    def size(self) -> int:
        return math.prod(self.shape)


@dataclass
class ProjectionSummary:
    name: str
    pre: str
    post: str
    connectivity: str
    synapses: int | None
    rules: list[str] = field(default_factory=list)


@dataclass
class Summary:
    files: list[str]
    network: str = "network"
    dt: float = 1e-3
    seed: int = 0
    integration: str = "exact"
    target: str = "reference"
    nodes: list[NodeSummary] = field(default_factory=list)
    projections: list[ProjectionSummary] = field(default_factory=list)
    rules: dict[str, str] = field(default_factory=dict)  # name -> file
    losses: int = 0
    records: list[str] = field(default_factory=list)

    @property
    def neurons(self) -> int:
        return sum(n.size for n in self.nodes if n.kind != "input")

    @property
    def synapses(self) -> int | None:
        counts = [p.synapses for p in self.projections]
        return None if any(c is None for c in counts) else sum(counts)

    def to_json(self) -> dict:
        return {
            "files": self.files,
            "network": {"name": self.network, "dt": self.dt, "seed": self.seed,
                        "integration": self.integration, "target": self.target},
            "inputs": [{"name": n.name, "shape": list(n.shape), "size": n.size,
                        "source": n.source} for n in self.nodes if n.kind == "input"],
            "populations": [{"name": n.name, "model": n.model, "shape": list(n.shape),
                             "size": n.size, "readout": n.kind == "readout"}
                            for n in self.nodes if n.kind != "input"],
            "projections": [{"name": p.name, "pre": p.pre, "post": p.post,
                             "connectivity": p.connectivity, "synapses": p.synapses,
                             "rules": p.rules} for p in self.projections],
            "rules": sorted(self.rules),
            "neurons": self.neurons,
            "synapses": self.synapses,
            "losses": self.losses,
            "records": self.records,
        }


RATE_ARG = Arg("rate", (FREQUENCY,))


class Checker:
    def __init__(self, program: Program, diag: Diagnostics):
        self.program = program
        self.diag = diag
        self.eval = Evaluator(diag)
        self.summary = Summary(files=[m.path for m in program.modules])
        self.models: dict[str, ModelSpec] = dict(MODELS)
        self.variants: dict[str, ast.NeuronDecl] = {}
        self.nodes: dict[str, ast.InputDecl | ast.PopulationDecl] = {}
        self.node_summaries: dict[str, NodeSummary] = {}
        self.rules: dict[str, ast.RuleDecl] = {}
        self.targets: dict[str, ast.TargetDecl] = {}
        self.projections: dict[str, ast.ProjectionDecl] = {}

    # -- entry point ------------------------------------------------------------------------
    def run(self) -> Summary:
        for path, text in stdlib_sources():
            self.diag.add_source(path, text)
        items = [item for module in self.program.modules for item in module.items]
        self.collect_rules(items)
        self.check_network([i for i in items if isinstance(i, ast.NetworkDecl)])
        for item in items:
            if isinstance(item, ast.NeuronDecl):
                self.declare_variant(item)
        for name in list(self.variants):
            self.resolve_variant(name, [])
        for item in items:
            if isinstance(item, ast.InputDecl):
                self.check_input(item)
            elif isinstance(item, ast.PopulationDecl):
                self.check_population(item)
        for item in items:
            if isinstance(item, ast.TargetDecl):
                self.declare_target(item)
        for rule in self.rules.values():
            check_rule(rule, self.diag, set(self.nodes))
        for item in items:
            if isinstance(item, ast.ProjectionDecl):
                self.check_projection(item)
        for item in items:
            if isinstance(item, ast.LossDecl):
                self.check_loss(item)
            elif isinstance(item, ast.RecordDecl):
                self.check_record(item)
        self.select_target([i for i in items if isinstance(i, ast.TargetDecl)])
        return self.summary

    # -- helpers ----------------------------------------------------------------------------
    def duplicate(self, ident: ast.Ident, what: str, first: Span) -> None:
        self.diag.error("E202", ident.span, f"{what} '{ident.text}' is defined twice",
                        notes=[f"first defined at {first}"], hint="rename one of them")

    def unknown(self, ident: ast.Ident, what: str, candidates, code: str = "E201") -> None:
        hint = did_you_mean(ident.text, candidates)
        if hint is None and candidates:
            hint = choices_hint(candidates)
        self.diag.error(code, ident.span, f"unknown {what} '{ident.text}'", hint=hint)

    def check_value(self, expr: ast.Expr, arg: Arg, what: str, *,
                    per_element: bool = False) -> Value | None:
        """Evaluate ``expr`` and check it against ``arg`` (dimensions, integer, sign).

        With ``per_element``, distributions and files are also accepted, with the same check
        applied to their numeric arguments.
        """
        value = self.eval.evaluate(expr)
        if value is None or arg.dims is None:
            return value
        if isinstance(value, CallValue) and per_element and value.name in DISTRIBUTIONS:
            spec = DISTRIBUTIONS[value.name]
            bound = bind(value.node, spec, self.diag)
            if bound is None:
                return None
            ok = True
            for name, sub in bound.items():
                if name in ("path", "key"):
                    if not isinstance(self.eval.evaluate(sub), StringValue):
                        self.diag.error("E209", sub.span, f"'{name}' of file() is a quoted string",
                                        hint='e.g. file("weights.npy")')
                        ok = False
                else:
                    ok = self.check_value(sub, Arg(name, arg.dims), f"{name} of {what}") \
                        is not None and ok
            return value if ok else None
        if not isinstance(value, Quantity):
            expected = " or ".join(describe(d) for d in arg.dims)
            extra = ", a distribution (uniform, normal) or file(...)" if per_element else ""
            self.diag.error("E209", expr.span, f"{what} must be a {expected} value{extra}",
                            hint=self.unit_hint(arg))
            return None
        if value.dim not in arg.dims:
            expected = " or ".join(describe(d) for d in arg.dims)
            self.diag.error("E205", expr.span, f"{what} must be {expected}, not "
                            f"{describe(value.dim)}", hint=self.unit_hint(arg))
            return None
        if arg.integer and value.dim == DIMENSIONLESS and value.value != int(value.value):
            self.diag.error("E209", expr.span, f"{what} must be a whole number, not {value.value:g}")
            return None
        if arg.positive and value.value <= 0:
            self.diag.error("E209", expr.span, f"{what} must be positive, not {value}")
            return None
        return value

    @staticmethod
    def unit_hint(arg: Arg) -> str | None:
        from snnc.units import EXAMPLE_UNIT
        examples = [f"'2 {EXAMPLE_UNIT[d]}'" for d in arg.dims or () if d in EXAMPLE_UNIT]
        if DIMENSIONLESS in (arg.dims or ()):
            examples.append("a plain number")
        return "write e.g. " + " or ".join(examples) if examples else None

    def check_shape(self, shape: ast.Shape) -> tuple[int, ...] | None:
        dims = []
        for expr in shape.dims:
            value = self.check_value(expr, Arg("dimension", integer=True, positive=True),
                                     "a shape dimension")
            if value is None:
                return None
            dims.append(int(value.value))
        if math.prod(dims) > 10 ** 12:
            self.diag.error("E210", shape.span, f"shape {dims} has more than 10^12 neurons")
            return None
        return tuple(dims)

    # -- network ----------------------------------------------------------------------------
    def check_network(self, decls: list[ast.NetworkDecl]) -> None:
        if not decls:
            return
        for extra in decls[1:]:
            self.duplicate(extra.name, "network", decls[0].name.span)
        decl = decls[0]
        self.summary.network = decl.name.text
        seen: dict[str, Span] = {}
        for setting in decl.settings:
            name = setting.name.text
            if name in seen:
                self.duplicate(setting.name, "setting", seen[name])
                continue
            seen[name] = setting.span
            arg = NETWORK_SETTINGS.get(name)
            if arg is None:
                self.unknown(setting.name, "network setting", NETWORK_SETTINGS, "E204")
                continue
            if name == "integration":
                value = self.eval.evaluate(setting.value)
                if not isinstance(value, Symbol) or value.name not in INTEGRATION_SCHEMES:
                    got = value.name if isinstance(value, Symbol) else None
                    hint = did_you_mean(got, INTEGRATION_SCHEMES) if got else None
                    self.diag.error("E209", setting.value.span, "integration must be 'exact' or "
                                    "'euler'", hint=hint or choices_hint(INTEGRATION_SCHEMES))
                else:
                    self.summary.integration = value.name
                continue
            value = self.check_value(setting.value, arg, f"network setting '{name}'")
            if value is None:
                continue
            if name == "dt":
                if value.value <= 0:
                    self.diag.error("E209", setting.value.span, "dt must be positive")
                else:
                    self.summary.dt = value.value
            elif name == "seed":
                if not 0 <= value.value < 2 ** 63:
                    self.diag.error("E209", setting.value.span, "seed must be in [0, 2^63)")
                else:
                    self.summary.seed = int(value.value)
            elif name == "duration" and value.value <= 0:
                self.diag.error("E209", setting.value.span, "duration must be positive")

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
        """The built-in spec a variant derives from; its settings are checked on the way."""
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
            self.check_params(decl.settings, spec, f"model '{name}'")
        self.models[name] = spec
        return spec

    def check_params(self, settings: tuple[ast.Setting, ...], spec: ModelSpec, owner: str) -> None:
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
            self.check_param(setting.value, param, f"'{name}' of {owner}")

    def check_param(self, expr: ast.Expr, param: ParamSpec, what: str) -> None:
        if param.kind == "quantity":
            self.check_value(expr, Arg(param.name, param.dims), what, per_element=True)
            return
        value = self.eval.evaluate(expr)
        if value is None:
            return
        if param.kind == "surrogate":
            if isinstance(value, Symbol) and value.name in SURROGATES:
                return
            if isinstance(value, CallValue) and value.name in SURROGATES:
                spec = SURROGATES[value.name]
                call_spec = CallSpec(spec.name, spec.formula,
                                     tuple(Arg(p, required=False) for p in spec.params))
                bound = bind(value.node, call_spec, self.diag)
                for arg_name, sub in (bound or {}).items():
                    self.check_value(sub, Arg(arg_name), f"'{arg_name}' of {spec.name}")
                return
            name = value.name if isinstance(value, (Symbol, CallValue)) else ""
            self.diag.error("E209", expr.span, f"{what} must be a surrogate derivative",
                            hint=did_you_mean(name, SURROGATES) or choices_hint(SURROGATES))
            return
        if param.kind == "number_or_enum" and isinstance(value, Quantity):
            self.check_value(expr, Arg(param.name, param.dims), what)
            return
        if isinstance(value, Symbol) and value.name in param.choices:
            return
        name = value.name if isinstance(value, Symbol) else ""
        self.diag.error("E209", expr.span, f"{what} must be one of "
                        f"{', '.join(param.choices)}",
                        hint=did_you_mean(name, param.choices) or choices_hint(param.choices))

    def model(self, ident: ast.Ident) -> ModelSpec | None:
        if ident.text in self.models:
            return self.models[ident.text]
        self.unknown(ident, "neuron model", [*MODELS, *self.variants], "E203")
        return None

    # -- inputs and populations -------------------------------------------------------------
    def declare_node(self, decl) -> bool:
        name = decl.name.text
        if name in self.nodes:
            self.duplicate(decl.name, "population or input", self.nodes[name].name.span)
            return False
        self.nodes[name] = decl
        return True

    def add_node(self, decl, kind: str, model: str, shape, source: str = "") -> None:
        node = NodeSummary(decl.name.text, kind, model, shape, source)
        self.node_summaries[node.name] = node
        self.summary.nodes.append(node)

    def check_rate(self, rate: ast.Expr | None) -> None:
        if rate is not None:
            value = self.check_value(rate, RATE_ARG, "a firing rate")
            if value is not None and value.value < 0:
                self.diag.error("E209", rate.span, "a firing rate cannot be negative")

    def check_input(self, decl: ast.InputDecl) -> None:
        fresh = self.declare_node(decl)
        shape = self.check_shape(decl.shape)
        self.check_rate(decl.rate)
        for setting in decl.settings:
            self.diag.error("E204", setting.name.span, f"inputs have no setting "
                            f"'{setting.name.text}'",
                            hint="an input's source goes after ':', e.g. "
                                 "'input x[10]: poisson(rate = 5 Hz)'; its only body "
                                 "statement is 'rate'")
        source = "spikes"
        if decl.source is not None:
            source = self.check_source(decl.source) or "spikes"
        if fresh and shape is not None:
            self.add_node(decl, "input", "input", shape, source)

    def check_source(self, expr: ast.Expr) -> str | None:
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
        self.check_bound(bound, spec, f"{spec.name}()")
        return spec.name

    def check_bound(self, bound: dict[str, ast.Expr], spec: CallSpec, what: str) -> None:
        for arg in spec.args:
            if arg.name not in bound:
                continue
            if arg.name in ("path", "key"):
                if not isinstance(self.eval.evaluate(bound[arg.name]), StringValue):
                    self.diag.error("E209", bound[arg.name].span,
                                    f"'{arg.name}' of {what} is a quoted string",
                                    hint='e.g. file("data.npy")')
                continue
            value = self.check_value(bound[arg.name], arg, f"'{arg.name}' of {what}")
            if arg.name == "p" and isinstance(value, Quantity) and not 0 <= value.value <= 1:
                self.diag.error("E209", bound[arg.name].span,
                                f"a probability must be in [0, 1], not {value.value:g}")

    def check_population(self, decl: ast.PopulationDecl) -> None:
        fresh = self.declare_node(decl)
        spec = self.model(decl.model)
        shape = self.check_shape(decl.shape)
        if spec is not None:
            self.check_params(decl.settings, spec, f"population '{decl.name.text}'")
        self.check_rate(decl.rate)
        if fresh and shape is not None:
            self.add_node(decl, "readout" if decl.is_readout else "population",
                          decl.model.text, shape)

    # -- projections ------------------------------------------------------------------------
    def check_projection(self, decl: ast.ProjectionDecl) -> None:
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
        elif name in self.nodes:
            self.diag.error("E202", decl.alias.span, f"'{name}' already names a population")
        else:
            self.projections[name] = decl
        kind, synapses = self.check_connectivity(decl)
        self.check_projection_settings(decl)
        receptors: dict[str, Span] = {}
        for receptor in decl.receptors:
            if not isinstance(receptor, ast.Call):
                self.diag.error("E207", receptor.span, "a receptor is written 'receptor "
                                "name(tau = 5 ms)'")
                continue
            if receptor.func.text in receptors:
                self.duplicate(receptor.func, "receptor", receptors[receptor.func.text])
            receptors[receptor.func.text] = receptor.span
            bound = bind(receptor, RECEPTOR, self.diag, f"receptor '{receptor.func.text}'")
            if bound is not None:
                self.check_bound(bound, RECEPTOR, f"receptor '{receptor.func.text}'")
        if len(receptors) > 1:
            self.diag.error("E216", decl.receptors[1].span,
                            "a projection feeds one receptor", hint="split it into two projections")
        rules = [self.check_learn(learn) for learn in decl.learn]
        if ok:
            pre = self.node_summaries.get(decl.pre.text)
            post = self.node_summaries.get(decl.post.text)
            if pre is None or post is None:
                synapses = None
            else:
                synapses = estimate_synapses(kind, synapses, pre, post)
            self.summary.projections.append(ProjectionSummary(
                name, decl.pre.text, decl.post.text, kind, synapses,
                [r for r in rules if r is not None]))

    def check_connectivity(self, decl: ast.ProjectionDecl) -> tuple[str, dict]:
        expr = decl.connectivity
        if expr is None:
            return "dense", {}
        if isinstance(expr, ast.Ref) and len(expr.parts) == 1:
            expr = ast.Call(expr.parts[0], (), (), expr.span)
        if not isinstance(expr, ast.Call):
            self.diag.error("E207", expr.span, "connectivity is a name or a call",
                            hint="e.g. dense, one_to_one, sparse(p = 0.1), fixed_fan_in(k = 10)")
            return "dense", {}
        spec = CONNECTIVITY.get(expr.func.text)
        if spec is None:
            self.unknown(expr.func, "connectivity", CONNECTIVITY, "E207")
            return expr.func.text, {}
        bound = bind(expr, spec, self.diag)
        if bound is None:
            return spec.name, {}
        self.check_bound(bound, spec, f"{spec.name}()")
        values = {}
        for name, sub in bound.items():
            value = self.eval.evaluate(sub)
            if isinstance(value, Quantity):
                values[name] = value.value
        return spec.name, values

    def check_projection_settings(self, decl: ast.ProjectionDecl) -> None:
        seen: dict[str, Span] = {}
        for setting in decl.settings:
            name = setting.name.text
            if name in seen:
                self.duplicate(setting.name, "setting", seen[name])
                continue
            seen[name] = setting.span
            arg = PROJECTION_SETTINGS.get(name)
            if arg is None:
                hint = did_you_mean(name, PROJECTION_SETTINGS) or (
                    "a projection has 'weight' and 'delay' settings and 'receptor' and "
                    "'learn' statements")
                self.diag.error("E204", setting.name.span, f"projections have no setting '{name}'",
                                hint=hint)
                continue
            value = self.check_value(setting.value, arg, f"'{name}' of projection "
                                     f"'{decl.name}'", per_element=True)
            if name == "delay" and isinstance(value, Quantity):
                if value.value < 0:
                    self.diag.error("E209", setting.value.span, "a delay cannot be negative")
                elif value.dim == DIMENSIONLESS and value.value != int(value.value):
                    self.diag.error("E209", setting.value.span,
                                    "a delay without a unit counts steps and must be whole",
                                    hint="write a time such as '1.5 ms' for a delay in time")

    def check_learn(self, expr: ast.Expr) -> str | None:
        if isinstance(expr, ast.Ref) and len(expr.parts) == 1:
            expr = ast.Call(expr.parts[0], (), (), expr.span)
        if not isinstance(expr, ast.Call):
            self.diag.error("E207", expr.span, "'learn' takes a rule, e.g. 'learn stdp(lr = 1e-3)'")
            return None
        rule = self.rules.get(expr.func.text)
        if rule is None:
            self.unknown(expr.func, "learning rule", self.rules, "E206")
            return None
        spec = CallSpec(rule.name.text, "", tuple(
            Arg(p.name.text, None, required=p.default is None) for p in rule.params))
        bound = bind(expr, spec, self.diag, f"rule '{rule.name.text}'")
        if bound is not None:
            for value in bound.values():
                self.eval.evaluate(value)
        return rule.name.text

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
        for name, rule in self.rules.items():
            self.summary.rules[name] = rule.span.file

    def check_loss(self, decl: ast.LossDecl) -> None:
        self.summary.losses += 1
        expr = decl.value
        if not isinstance(expr, ast.Call) or expr.func.text not in LOSSES:
            ident = expr.func if isinstance(expr, ast.Call) else None
            if ident is not None:
                self.unknown(ident, "loss", LOSSES, "E207")
            else:
                self.diag.error("E207", expr.span, "a loss is a call such as "
                                "cross_entropy(max_over_time(out.v))")
            return
        bound = bind(expr, LOSSES[expr.func.text], self.diag)
        if bound is None:
            return
        (value,) = bound.values()
        while isinstance(value, ast.Call):
            if value.func.text not in REDUCTIONS:
                self.unknown(value.func, "reduction over time", REDUCTIONS, "E207")
                return
            reduced = bind(value, REDUCTIONS[value.func.text], self.diag)
            if reduced is None:
                return
            (value,) = reduced.values()
        if not isinstance(value, ast.Ref) or len(value.parts) != 2:
            self.diag.error("E207", value.span, "a loss reads a readout variable, e.g. 'out.v'")
            return
        owner, variable = value.parts
        self.check_variable(owner, variable, readout_only=True)

    def check_variable(self, owner: ast.Ident, variable: ast.Ident, readout_only=False) -> None:
        node = self.nodes.get(owner.text)
        if node is None:
            self.unknown(owner, "population", self.nodes)
            return
        if isinstance(node, ast.InputDecl):
            variables: tuple[str, ...] = ("s",)
        else:
            if readout_only and not node.is_readout:
                self.diag.error("E213", owner.span, f"'{owner.text}' is not a readout",
                                hint=f"declare it with 'readout {owner.text}: ...'")
                return
            spec = self.models.get(node.model.text)
            if spec is None:
                return
            variables = spec.variables
        if variable.text not in variables:
            hint = did_you_mean(variable.text, variables) or choices_hint(variables)
            self.diag.error("E213", variable.span, f"'{owner.text}' has no variable "
                            f"'{variable.text}'", hint=hint)

    def check_record(self, decl: ast.RecordDecl) -> None:
        for item in decl.items:
            if item.projection_post is None and item.owner.text in self.projections:
                projection = self.projections[item.owner.text]
                self.check_projection_variable(projection, item)
            elif item.projection_post is None:
                self.check_variable(item.owner, item.variable)
            else:
                name = item.owner_name
                projection = self.projections.get(name)
                if projection is None:
                    self.diag.error("E201", item.owner.span.to(item.projection_post.span),
                                    f"unknown projection '{name}'",
                                    hint=did_you_mean(name, self.projections)
                                    or "named projections are recorded as 'name.w'")
                    continue
                self.check_projection_variable(projection, item)
            self.summary.records.append(f"{item.owner_name}.{item.variable.text}")

    def check_projection_variable(self, projection: ast.ProjectionDecl,
                                  item: ast.RecordItem) -> None:
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
        if not decls:
            return
        for extra in decls[1:]:
            self.diag.error("E202", extra.name.span, "a program selects one target",
                            notes=[f"first selected at {decls[0].name.span}"],
                            hint="choose another target on the command line with --target")
        decl = decls[0]
        name = decl.name.text
        if name not in BUILTIN_TARGETS and name not in self.targets:
            self.unknown(decl.name, "target", [*BUILTIN_TARGETS, *self.targets], "E212")
            return
        self.summary.target = name


def estimate_synapses(kind: str, args: dict, pre: NodeSummary, post: NodeSummary) -> int | None:
    """Expected synapse count of a projection (None when only the data can tell)."""
    if kind == "dense":
        return pre.size * post.size
    if kind == "one_to_one":
        return min(pre.size, post.size)
    if kind == "sparse" and "p" in args:
        return round(args["p"] * pre.size * post.size)
    if kind == "fixed_fan_in" and "k" in args:
        return int(args["k"]) * post.size
    if kind in ("conv2d", "sumpool2d") and "kernel" in args:
        in_channels = pre.shape[0] if len(pre.shape) == 3 and kind == "conv2d" else 1
        return post.size * int(args["kernel"]) ** 2 * in_channels
    return None


def check_program(program: Program, diag: Diagnostics) -> Summary:
    return Checker(program, diag).run()
