"""Lowering of neuron models and of the nodes that use them: built-in models and their variants
(``neuron FastLIF: LIF { ... }``), model parameters (quantities, options, surrogates,
refractory periods), inputs and populations. Mixed into :class:`snnc.ir.lower.Lowering`,
whose state (``diag``, ``values``, ``models``, ``nodes`` ...) it uses."""

from __future__ import annotations

from dataclasses import dataclass

from snnc.diagnostics import Span, choices_hint, did_you_mean
from snnc.frontend import ast
from snnc.frontend.values import CallValue, Symbol
from snnc.ir.lower_calls import bind
from snnc.ir.nodes import Input, Population
from snnc.ir.values import Constant
from snnc.models import MODELS, SURROGATES, ModelSpec, ParamSpec
from snnc.units import DIMENSIONLESS, Quantity
from snnc.vocabulary import SOURCES, Arg, CallSpec

MAX_NEURONS = 10 ** 12


@dataclass(frozen=True)
class Refractory:
    """A refractory period as written (steps or a time), converted to steps once dt is known."""

    value: Quantity
    expr: ast.Expr
MAX_NEURONS = 10 ** 12


class ModelLowering:
    """Neuron models, inputs and populations (a mixin of :class:`snnc.ir.lower.Lowering`)."""

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


def default_value(param: ParamSpec) -> object:
    """The IR value of a parameter's default."""
    if param.kind == "surrogate":
        return (param.default, dict(SURROGATES[param.default].params))
    if isinstance(param.default, Quantity):
        return Constant(param.default.value)
    return param.default
