"""What a rule may read on its projection (the check-rule-variables pass's visitor, imported
only for networks with rules): the variables and parameters of the models at either end."""

from __future__ import annotations

from snnc.diagnostics import choices_hint, did_you_mean
from snnc.frontend.values import Symbol
from snnc.ir import rules as ir
from snnc.ir.network import Network
from snnc.ir.nodes import Input, Population, RuleInstance
from snnc.models import MODELS


def readable(node: Input | Population) -> tuple[str, ...]:
    if isinstance(node, Input):
        return ("s",)
    return node.model.variables + tuple(node.params)


def owning_models(attribute: str) -> list[str]:
    return [m.name for m in MODELS.values() if attribute in m.variables or m.param(attribute)]


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
