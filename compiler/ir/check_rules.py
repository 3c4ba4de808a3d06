"""Front-end checks of a learning rule's body: names, functions, triggers and settings.

Inside a rule, a name is one of: a rule parameter; a ``trace``, ``signal`` or ``let`` of the
rule (a trace may read its own previous value); ``pre.<x>`` / ``post.<x>`` (the neurons at
either end of the synapse); ``w`` (the synapse's weight); ``net.<x>`` (whole-network state,
for the exact oracles); or a population name (as the ``from`` of a generator). Whether the
variables exist for the actual models, and how local they are, is decided once the rule is
attached to a projection (the locality pass).
"""

from __future__ import annotations

from snnc.diagnostics import Diagnostics, Span, choices_hint, did_you_mean
from snnc.frontend import ast
from snnc.frontend.evaluate import Evaluator, Value
from snnc.ir.rule_params import Role, check_definition, check_folding, rule_roles
from snnc.vocabulary import (
    GENERATORS,
    LOSSES,
    OPTIMIZERS,
    RULE_FUNCTIONS,
    RULE_SETTINGS,
    TRIGGERS,
    bind,
)

ROOTS = ("pre", "post", "w", "net")


def check_rule(rule: ast.RuleDecl, diag: Diagnostics, populations: set[str]) -> dict[str, Role]:
    """Report the rule's mistakes; return the role (dimension) of each of its parameters
    (:mod:`snnc.ir.rule_params`), whose defaults are evaluated here once."""
    return RuleChecker(rule, diag, populations).run()


class RuleChecker:
    def __init__(self, rule: ast.RuleDecl, diag: Diagnostics, populations: set[str]):
        self.rule = rule
        self.diag = diag
        self.populations = populations
        self.evaluator = Evaluator(diag)
        self.names: dict[str, Span] = {}
        self.locals: set[str] = set()  # traces, signals and lets: values without fields

    def define(self, ident: ast.Ident, what: str) -> None:
        if ident.text in ROOTS:
            self.diag.error("E202", ident.span, f"'{ident.text}' is reserved in rules "
                            "(pre, post, w, net)", hint=f"rename the {what}")
        elif ident.text in self.names:
            self.diag.error("E202", ident.span, f"'{ident.text}' is defined twice in rule "
                            f"'{self.rule.name.text}'",
                            notes=[f"first defined at {self.names[ident.text]}"])
        else:
            self.names[ident.text] = ident.span

    def run(self) -> dict[str, Role]:
        defaults: dict[str, Value | None] = {}
        for param in self.rule.params:
            self.define(param.name, "parameter")
            if param.default is not None:
                defaults[param.name.text] = self.evaluator.evaluate(param.default)
        for statement in self.rule.body:
            if isinstance(statement, (ast.TraceDef, ast.SignalDef, ast.LetDef)):
                self.define(statement.name, type(statement).__name__[:-3].lower())
                self.locals.add(statement.name.text)
        updates = 0
        settings: dict[str, Span] = {}
        for statement in self.rule.body:
            if isinstance(statement, ast.SignalDef):
                self.check_signal(statement)
            elif isinstance(statement, (ast.TraceDef, ast.LetDef)):
                self.check_expr(statement.value)
            elif isinstance(statement, ast.Update):
                updates += 1
                self.check_update(statement)
            elif isinstance(statement, ast.Setting):
                self.check_setting(statement, settings)
        if updates == 0:
            self.diag.error("E214", self.rule.name.span, f"rule '{self.rule.name.text}' has no "
                            "weight update", hint="add 'dw = ...' (optionally 'on pre:' or "
                            "'on post:' before it)")
        roles = check_definition(self.rule, rule_roles(self.rule, defaults), self.diag)
        check_folding(self.rule, {}, self.diag)
        return roles

    def check_update(self, update: ast.Update) -> None:
        if update.trigger is not None and update.trigger.text not in TRIGGERS:
            self.diag.error("E209", update.trigger.span, f"unknown trigger '{update.trigger.text}'",
                            hint=did_you_mean(update.trigger.text, TRIGGERS)
                            or choices_hint(TRIGGERS))
        self.check_expr(update.value)

    def check_signal(self, signal: ast.SignalDef) -> None:
        value = signal.value
        if isinstance(value, ast.Ref) and len(value.parts) == 1 and value.parts[0].text in GENERATORS:
            value = ast.Call(value.parts[0], (), (), value.span)
        if not isinstance(value, ast.Call) or value.func.text not in GENERATORS:
            ident = value.func if isinstance(value, ast.Call) else None
            if ident is not None:
                self.diag.error("E207", ident.span, f"unknown third-factor generator "
                                f"'{ident.text}'", hint=did_you_mean(ident.text, GENERATORS)
                                or choices_hint(GENERATORS))
            else:
                self.diag.error("E207", value.span, "a signal is produced by a generator",
                                hint=choices_hint(GENERATORS))
            return
        bound = bind(value, GENERATORS[value.func.text], self.diag)
        for name, sub in (bound or {}).items():
            if name == "loss":
                word = sub.dotted if isinstance(sub, ast.Ref) else ""
                if word not in LOSSES:
                    self.diag.error("E207", sub.span, "the loss of a local readout is a loss name",
                                    hint=did_you_mean(word, LOSSES) or choices_hint(LOSSES))
            else:
                self.check_expr(sub)

    def check_setting(self, setting: ast.Setting, seen: dict[str, Span]) -> None:
        name = setting.name.text
        if name not in RULE_SETTINGS:
            hint = did_you_mean(name, RULE_SETTINGS) or (
                "rule bodies hold 'trace', 'signal', 'let' and 'dw' statements and the settings "
                "'bounds' and 'optimizer'; parameters go in the rule's header")
            self.diag.error("E204", setting.name.span, f"rules have no setting '{name}'", hint=hint)
            return
        if name in seen:
            self.diag.error("E202", setting.name.span, f"'{name}' is set twice",
                            notes=[f"first set at {seen[name]}"])
            return
        seen[name] = setting.span
        value = setting.value
        if name == "bounds":
            if not isinstance(value, ast.ListExpr) or len(value.items) != 2:
                self.diag.error("E209", value.span, "bounds are a pair [low, high]",
                                hint="e.g. 'bounds = [0, 1]'")
                return
            for item in value.items:
                self.check_expr(item)
            return
        if isinstance(value, ast.Ref) and len(value.parts) == 1:
            value = ast.Call(value.parts[0], (), (), value.span)
        if not isinstance(value, ast.Call) or value.func.text not in OPTIMIZERS:
            ident = value.func if isinstance(value, ast.Call) else None
            word = ident.text if ident else ""
            self.diag.error("E209", value.span, "optimizer must be sgd or adam(...)",
                            hint=did_you_mean(word, OPTIMIZERS) or choices_hint(OPTIMIZERS))
            return
        bound = bind(value, OPTIMIZERS[value.func.text], self.diag)
        for sub in (bound or {}).values():
            self.check_expr(sub)

    def check_expr(self, expr: ast.Expr) -> None:
        """Walk an expression iteratively (deep expressions must not overflow the stack)."""
        stack = [expr]
        while stack:
            node = stack.pop()
            if isinstance(node, ast.Quantity):
                self.evaluator.evaluate(node)
            elif isinstance(node, ast.Ref):
                self.check_ref(node)
            elif isinstance(node, ast.Binary):
                stack += [node.right, node.left]
            elif isinstance(node, ast.Unary):
                stack.append(node.operand)
            elif isinstance(node, ast.ListExpr):
                stack += reversed(node.items)
            elif isinstance(node, ast.String):
                self.diag.error("E209", node.span, "strings are not values in rule expressions")
            elif isinstance(node, ast.Call):
                self.check_call(node)
                stack += reversed([*node.args, *(k.value for k in node.kwargs)])

    def check_call(self, call: ast.Call) -> None:
        name = call.func.text
        if name in GENERATORS:
            self.diag.error("E207", call.func.span, f"'{name}' is a third-factor generator",
                            hint=f"define it as a signal: 'signal L = {name}(...)' and use L")
            return
        if name not in RULE_FUNCTIONS:
            self.diag.error("E207", call.func.span, f"unknown function '{name}'",
                            hint=did_you_mean(name, RULE_FUNCTIONS) or choices_hint(RULE_FUNCTIONS))
            return
        low, high, usage = RULE_FUNCTIONS[name]
        if call.kwargs:
            self.diag.error("E208", call.kwargs[0].name.span,
                            f"{name}() takes positional arguments only", hint=usage)
        elif not low <= len(call.args) <= high:
            count = str(low) if low == high else f"{low} to {high}"
            self.diag.error("E208", call.span, f"{name}() takes {count} argument(s), "
                            f"got {len(call.args)}", hint=usage)

    def check_ref(self, ref: ast.Ref) -> None:
        root = ref.parts[0]
        if root.text in ("pre", "post", "net"):
            if len(ref.parts) != 2:
                self.diag.error("E201", ref.span, f"'{root.text}' is read as '{root.text}.<variable>'",
                                hint=f"e.g. '{root.text}.s' or '{root.text}.v'")
            return
        if root.text in self.names or root.text in self.populations:
            if len(ref.parts) > 1 and root.text in self.locals:
                self.diag.error("E201", ref.parts[1].span, f"'{root.text}' has no fields")
            return
        if root.text == "w" and len(ref.parts) == 1:
            return
        candidates = [*self.names, *ROOTS, *self.populations]
        self.diag.error("E201", root.span, f"unknown name '{root.text}' in rule "
                        f"'{self.rule.name.text}'",
                        hint=did_you_mean(root.text, candidates)
                        or "declare it as a rule parameter, trace, signal or let")
