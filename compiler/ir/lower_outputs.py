"""Lowering of what a program asks of a network beyond its structure: losses, records and the
selected target. Mixed into :class:`snnc.ir.lower.Lowering`, whose state it uses."""

from __future__ import annotations

from snnc.diagnostics import choices_hint, did_you_mean
from snnc.frontend import ast
from snnc.ir.lower_calls import bind
from snnc.ir.nodes import Loss, Record
from snnc.vocabulary import BUILTIN_TARGETS, LOSSES, REDUCTIONS


class OutputLowering:
    """Losses, records and targets (a mixin of :class:`snnc.ir.lower.Lowering`)."""

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
