"""A rule attached to a projection must read only what exists there: ``pre.x`` and ``post.x``
are variables or parameters of the models at either end, ``surrogate`` needs a spiking post
neuron, and a feedback generator's source is a readout that a loss trains."""

from __future__ import annotations

from dataclasses import dataclass

from snnc.diagnostics import Diagnostics, choices_hint, did_you_mean
from snnc.frontend.values import Symbol
from snnc.ir import rules as ir
from snnc.ir.network import Network
from snnc.ir.nodes import Input, Population, Projection, RuleInstance
from snnc.models import MODELS

FEEDBACK = ("random_feedback", "symmetric_feedback", "learned_feedback", "readout_error",
            "exact_feedback", "backprop_through_time")
#: the feedback sent back through the projection from the layer to the readout (its twin)
TWINNED = ("symmetric_feedback", "learned_feedback")


def readable(node: Input | Population) -> tuple[str, ...]:
    if isinstance(node, Input):
        return ("s",)
    return node.model.variables + tuple(node.params)


def owning_models(attribute: str) -> list[str]:
    return [m.name for m in MODELS.values() if attribute in m.variables or m.param(attribute)]


@dataclass
class CheckRuleVariables:
    name: str = "check-rule-variables"
    description: str = "rules read only variables that exist on the projection they are attached to"
    requires = ()

    def run(self, net: Network, diag: Diagnostics) -> Network:
        trained = {loss.population for loss in net.losses}
        for projection in net.projections():
            for instance in projection.rules:
                self.check(net, projection, instance, trained, diag)
        return net

    def check(self, net: Network, projection: Projection, instance: RuleInstance,
              trained: set[str], diag: Diagnostics) -> None:
        rule = instance.rule
        ends = {"pre": net.node(projection.pre), "post": net.node(projection.post)}
        finder = Problems(net, ends, instance)
        reported = set()
        for expr in rule.expressions():
            for node in ir.walk(expr):
                problem = finder.visit(node)
                if problem is not None and problem[0] not in reported:
                    reported.add(problem[0])
                    code, message, hint, where = problem[1:]
                    diag.error(code, instance.span, f"rule '{rule.name}' on '{projection.name}': "
                               f"{message}", hint=hint,
                               notes=[f"the rule reads it at {where}"])
        self.check_values(projection, instance, diag)
        post = ends["post"]
        for update in rule.updates:
            if update.trigger == "post" and isinstance(post, Population) and \
                    not post.model.spiking:
                diag.error("E218", instance.span, f"rule '{rule.name}' on '{projection.name}': "
                           f"post '{post.name}' ({post.model.name}) never spikes, so its "
                           "'on post' update never happens", notes=[f"the update is at "
                                                                    f"{update.span}"])
                break
        for signal in rule.signals:
            self.check_source(net, projection, instance, signal.generator, trained, diag)

    @staticmethod
    def check_values(projection: Projection, instance: RuleInstance, diag: Diagnostics) -> None:
        """E209 for a parameter bound to a population (``p = out``) that the rule reads as a
        number (anywhere but as the ``from`` of a generator)."""
        rule = instance.rule
        values = [s.value for s in (*rule.traces, *rule.lets, *rule.updates)]
        values += [*(rule.bounds or ()), *rule.optimizer_args.values()]
        values += [arg for s in rule.signals for name, arg in s.generator.args.items()
                   if name not in ("from", "source")]
        reported = set()
        for expr in values:
            for node in ir.walk(expr):
                value = instance.args.get(node.name) if isinstance(node, ir.Param) else None
                if isinstance(value, Symbol) and node.name not in reported:
                    reported.add(node.name)
                    diag.error("E209", instance.span, f"rule '{rule.name}' on "
                               f"'{projection.name}': '{node.name}' is the population "
                               f"'{value.name}', which is not a value",
                               notes=[f"the rule reads it as a number at {node.span}"],
                               hint=f"pass a number, or read a variable: '{node.name}.v'")

    @staticmethod
    def check_source(net: Network, projection: Projection, instance: RuleInstance,
                     generator: ir.Generator, trained: set[str], diag: Diagnostics) -> None:
        """A feedback generator's source is a readout population that a loss trains."""
        source = generator.args.get("from")
        if generator.kind not in FEEDBACK or not isinstance(source, (ir.Param, ir.PopulationRef)):
            return
        rule = instance.rule
        param = source.name
        value = instance.args.get(param)
        if isinstance(value, Symbol):
            name = value.name
        elif value is not None:
            name = f"{param} = {getattr(value, 'value', value)!s}"
        else:
            name = param
        node = net.node(name) if net.has_node(name) else None
        if not isinstance(node, Population) or not node.readout:
            diag.error("E217", instance.span, f"rule '{rule.name}' on '{projection.name}': "
                       f"the feedback source '{name}' is not a readout population",
                       hint="declare it with 'readout NAME: LI[n]' and pass it, e.g. "
                            "'readout = out'",
                       notes=[f"the generator is at {generator.span}"])
        elif name not in trained:
            diag.warning("W205", instance.span, f"rule '{rule.name}' learns from readout "
                         f"'{name}', but no loss is defined on it",
                         hint=f"add e.g. 'loss cross_entropy(sum_over_time({name}.v))'")
        if node is not None and generator.kind in TWINNED:
            check_twins(net, projection, instance, generator, name, diag)


def check_twins(net: Network, projection: Projection, instance: RuleInstance,
                generator: ir.Generator, readout: str, diag: Diagnostics) -> None:
    """What feedback through the weights from a layer to its readout needs. E220: the network
    has no projection from the layer to the readout (the feedback would have no forward
    twin); W207: learned_feedback whose twin does not learn (its feedback stays zero)."""
    where = f"rule '{instance.rule.name}' on '{projection.name}'"
    twins = [p for p in net.projections() if p.pre == projection.post and p.post == readout]
    if not twins:
        diag.error("E220", instance.span, f"{where}: {generator.kind} sends the error of "
                   f"'{readout}' back through the projection '{projection.post} -> "
                   f"{readout}', which the network does not have",
                   hint=f"connect '{projection.post} -> {readout}', or use "
                        "random_feedback (fixed random weights)",
                   notes=[f"the generator is at {generator.span}"])
    elif generator.kind == "learned_feedback" and not any(p.rules for p in twins):
        diag.warning("W207", instance.span, f"{where}: learned_feedback learns the updates "
                     f"of '{twins[0].name}', which has no learning rule: the feedback "
                     "stays zero and this rule never changes a weight",
                     hint=f"give '{twins[0].name}' a rule, e.g. 'learn delta(lr = 1e-3, "
                          f"readout = {readout})'")


class Problems(ir.Visitor):
    """(key, code, message, hint, where) for a reference that cannot be read on this
    projection, or None."""

    def __init__(self, net: Network, ends: dict, instance: RuleInstance):
        self.net = net
        self.ends = ends
        self.instance = instance

    def fine(self, node: ir.Expr) -> None:
        return None

    visit_Const = visit_Param = visit_Weight = visit_TraceRef = visit_SignalRef = fine
    visit_LetRef = visit_PopulationRef = visit_NetState = visit_Binary = visit_Unary = fine

    def visit_NeuronVar(self, node: ir.NeuronVar):
        side, attribute = node.side, node.attribute
        end = self.ends[side]
        if attribute in readable(end):
            return None
        kind = "input" if isinstance(end, Input) else end.model.name
        owners = [m for m in owning_models(attribute) if m != kind]
        hint = did_you_mean(attribute, readable(end))
        if hint is None and owners:
            hint = f"'{attribute}' exists on {', '.join(owners)} neurons"
        return ((side, attribute), "E213",
                f"{side} '{end.name}' ({kind}) has no variable or parameter '{attribute}'",
                hint or choices_hint(readable(end)), str(node.span))

    def visit_Call(self, node: ir.Call):
        post = self.ends["post"]
        if node.name == "surrogate" and isinstance(post, Population) and not post.model.spiking:
            return (("surrogate",), "E218",
                    f"post '{post.name}' ({post.model.name}) does not spike, so it has no "
                    "surrogate derivative", "attach the rule to projections into spiking "
                    "populations (readouts learn with 'delta')", str(node.span))
        return None

    def visit_PopulationVar(self, node: ir.PopulationVar):
        value = self.instance.args.get(node.population)
        if "." in node.attribute or not isinstance(value, Symbol) or \
                not self.net.has_node(value.name):
            return None
        target = self.net.node(value.name)
        if node.attribute not in readable(target):
            return ((value.name, node.attribute), "E213",
                    f"'{value.name}' has no variable or parameter '{node.attribute}'",
                    did_you_mean(node.attribute, readable(target)), str(node.span))
        return None
