"""The checks of a learning rule once it is lowered (:mod:`snnc.ir.lower_rules` reports the
mistakes of its names, functions, triggers, generators and settings on the way): it has a
weight update, its parameters' defaults fit their roles, and its constant parts can be
evaluated (:mod:`snnc.ir.rule_params`)."""

from __future__ import annotations

from snnc.diagnostics import Diagnostics
from snnc.frontend.values import Value
from snnc.ir import rules as ir
from snnc.ir.rule_params import Role, check_definition, check_folding, rule_roles


def check_rule(rule: ir.RuleDef, defaults: dict[str, Value | None],
               diag: Diagnostics) -> dict[str, Role]:
    """Report the rule's mistakes (E214 without a weight update, E205/E209 for defaults that
    contradict their parameter's role, E209/E615 for constant parts that cannot be evaluated);
    return the role (dimension) of each of its parameters. ``defaults`` are the parameters'
    evaluated defaults."""
    if not rule.updates:
        diag.error("E214", rule.name_span or rule.span, f"rule '{rule.name}' has no "
                   "weight update", hint="add 'dw = ...' (optionally 'on pre:' or "
                   "'on post:' before it)")
    roles = check_definition(rule, rule_roles(rule, defaults), diag)
    check_folding(rule, {}, diag)
    return roles
