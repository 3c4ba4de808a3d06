"""A rule attached to a projection must read only what exists there: ``pre.x`` and ``post.x``
are variables or parameters of the models at either end, ``surrogate`` needs a spiking post
neuron, and a feedback generator's source is a readout that a loss trains."""

from __future__ import annotations

from dataclasses import dataclass

from snnc.diagnostics import Diagnostics, choices_hint, did_you_mean
from snnc.frontend import ast
from snnc.frontend.evaluate import Symbol
from snnc.ir.network import Network
from snnc.ir.nodes import Input, Population, Projection, RuleInstance
from snnc.models import MODELS

FEEDBACK = ("random_feedback", "symmetric_feedback", "readout_error", "exact_feedback",
            "backprop_through_time")


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
        expressions = [s.value for s in (*rule.traces, *rule.lets, *rule.updates)]
        expressions += [s.value for s in rule.signals]
        reported = set()
        for expr in expressions:
            for node in ast.subexpressions(expr):
                problem = self.problem(net, node, ends, instance)
                if problem is not None and problem[0] not in reported:
                    reported.add(problem[0])
                    code, message, hint, where = problem[1:]
                    diag.error(code, instance.span, f"rule '{rule.name}' on '{projection.name}': "
                               f"{message}", hint=hint,
                               notes=[f"the rule reads it at {where}"])
        post = ends["post"]
        for update in rule.updates:
            if update.trigger is not None and update.trigger.text == "post" and \
                    isinstance(post, Population) and not post.model.spiking:
                diag.error("E218", instance.span, f"rule '{rule.name}' on '{projection.name}': "
                           f"post '{post.name}' ({post.model.name}) never spikes, so its "
                           "'on post' update never happens", notes=[f"the update is at "
                                                                    f"{update.span}"])
                break
        for signal in rule.signals:
            call = signal.value
            if not isinstance(call, ast.Call) or call.func.text not in FEEDBACK:
                continue
            source = call.kwarg("from") or (call.args[0] if call.args else None)
            if not isinstance(source, ast.Ref) or len(source.parts) != 1:
                continue
            param = source.parts[0].text
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
                           notes=[f"the generator is at {call.span}"])
            elif name not in trained:
                diag.warning("W205", instance.span, f"rule '{rule.name}' learns from readout "
                             f"'{name}', but no loss is defined on it",
                             hint=f"add e.g. 'loss cross_entropy(sum_over_time({name}.v))'")

    @staticmethod
    def problem(net: Network, node, ends, instance: RuleInstance):
        """(key, code, message, hint, where) for a reference that cannot be read, or None."""
        if isinstance(node, ast.Ref) and node.parts[0].text in ends and len(node.parts) == 2:
            side, attribute = node.parts[0].text, node.parts[1].text
            end = ends[side]
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
        if isinstance(node, ast.Call) and node.func.text == "surrogate":
            post = ends["post"]
            if isinstance(post, Population) and not post.model.spiking:
                return (("surrogate",), "E218",
                        f"post '{post.name}' ({post.model.name}) does not spike, so it has no "
                        "surrogate derivative", "attach the rule to projections into spiking "
                        "populations (readouts learn with 'delta')", str(node.span))
        if isinstance(node, ast.Ref) and len(node.parts) == 2:
            value = instance.args.get(node.parts[0].text)
            if isinstance(value, Symbol) and net.has_node(value.name):
                target = net.node(value.name)
                if node.parts[1].text not in readable(target):
                    return ((value.name, node.parts[1].text), "E213",
                            f"'{value.name}' has no variable or parameter '{node.parts[1].text}'",
                            did_you_mean(node.parts[1].text, readable(target)), str(node.span))
        return None
