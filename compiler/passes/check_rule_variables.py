"""A rule attached to a projection must read only what exists there: ``pre.x`` and ``post.x``
are variables or parameters of the models at either end, ``surrogate`` needs a spiking post
neuron, and a feedback generator's source is a readout that a loss trains."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from snnc.diagnostics import Diagnostics
from snnc.frontend.values import Symbol
from snnc.ir.network import Network
from snnc.ir.nodes import Population, Projection, RuleInstance

if TYPE_CHECKING:  # the rules' IR is imported only for a network with rules
    from snnc.ir import rules as ir

FEEDBACK = ("random_feedback", "symmetric_feedback", "learned_feedback", "readout_error",
            "exact_feedback", "backprop_through_time")
#: the feedback sent back through the projection from the layer to the readout (its twin)
TWINNED = ("symmetric_feedback", "learned_feedback")

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
        from snnc.ir import rules as ir
        from snnc.passes.rule_reads import Problems
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
        from snnc.ir import rules as ir
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
        from snnc.ir import rules as ir
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
