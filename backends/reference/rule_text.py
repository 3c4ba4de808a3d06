"""A learning rule's statements printed back as rule-language text, for provenance comments.

The text is printed from the typed rule IR (:mod:`snnc.ir.rules`), not read from the source
file, so it is deterministic and needs no file: numbers as the user wrote them with their unit
(``16.8 ms``), names as written, calls with their arguments, and only the parentheses the
grammar needs (``+ -`` bind weaker than ``* /``, then unary ``- +``, then ``^``, whose left
operand is an atom and whose right operand is a unary expression). A generator prints its
arguments by name (``readout_error(from = out)``); one without arguments prints its bare name
(``reward``).

:func:`provenance` is the comment body that names a statement's rule and source line; it is
escaped with :func:`snnc.literals.py_comment`, so no user text can end the comment line.
"""

from __future__ import annotations

from snnc.diagnostics import Span
from snnc.ir import rules as ir
from snnc.literals import py_comment

#: binding strength of each operator (higher binds tighter); atoms bind tightest
SUM, PRODUCT, UNARY, POWER, ATOM = 1, 2, 3, 4, 5
BINARY = {"+": SUM, "-": SUM, "*": PRODUCT, "/": PRODUCT, "^": POWER}


class RuleText(ir.Visitor[tuple[str, int]]):
    """Each expression as (text, binding strength of its outermost operator)."""

    def text(self, expr: ir.Expr) -> str:
        return self.visit(expr)[0]

    def operand(self, expr: ir.Expr, weakest: int) -> str:
        """``expr`` as an operand that must bind at least as strongly as ``weakest``."""
        text, strength = self.visit(expr)
        return text if strength >= weakest else f"({text})"

    def visit_Const(self, node: ir.Const) -> tuple[str, int]:
        return (node.text if node.unit is None else f"{node.text} {node.unit}"), ATOM

    def visit_Param(self, node: ir.Param) -> tuple[str, int]:
        return node.name, ATOM

    def visit_NeuronVar(self, node: ir.NeuronVar) -> tuple[str, int]:
        return node.dotted, ATOM

    def visit_Weight(self, node: ir.Weight) -> tuple[str, int]:
        return "w", ATOM

    def visit_TraceRef(self, node: ir.TraceRef) -> tuple[str, int]:
        return node.name, ATOM

    def visit_SignalRef(self, node: ir.SignalRef) -> tuple[str, int]:
        return node.name, ATOM

    def visit_LetRef(self, node: ir.LetRef) -> tuple[str, int]:
        return node.name, ATOM

    def visit_PopulationVar(self, node: ir.PopulationVar) -> tuple[str, int]:
        return node.dotted, ATOM

    def visit_PopulationRef(self, node: ir.PopulationRef) -> tuple[str, int]:
        return node.name, ATOM

    def visit_NetState(self, node: ir.NetState) -> tuple[str, int]:
        return node.dotted, ATOM

    def visit_Call(self, node: ir.Call) -> tuple[str, int]:
        return f"{node.name}({', '.join(self.text(arg) for arg in node.args)})", ATOM

    def visit_Unary(self, node: ir.Unary) -> tuple[str, int]:
        return f"{node.op}{self.operand(node.operand, UNARY)}", UNARY

    def visit_Binary(self, node: ir.Binary) -> tuple[str, int]:
        strength = BINARY[node.op]
        if node.op == "^":  # atom ^ unary
            return f"{self.operand(node.left, ATOM)}^{self.operand(node.right, UNARY)}", POWER
        # left-associative: the right operand of a - b or a / b needs a tighter binding
        left = self.operand(node.left, strength)
        right = self.operand(node.right, strength + 1)
        return f"{left} {node.op} {right}", strength


def expression(expr: ir.Expr) -> str:
    """``expr`` as rule-language text."""
    return RuleText().text(expr)


def generator(gen: ir.Generator) -> str:
    """A signal's generator call, its arguments by name."""
    args = [f"{name} = {expression(value)}" for name, value in gen.args.items()]
    if gen.loss is not None:
        args.append(f"loss = {gen.loss}")
    return f"{gen.kind}({', '.join(args)})" if args else gen.kind


def statement(node: ir.Trace | ir.Signal | ir.Update | ir.Let) -> str:
    """A rule statement as written (up to spacing and redundant parentheses)."""
    if isinstance(node, ir.Trace):
        return f"trace {node.name} = {expression(node.value)}"
    if isinstance(node, ir.Signal):
        return f"signal {node.name} = {generator(node.generator)}"
    if isinstance(node, ir.Let):
        return f"let {node.name} = {expression(node.value)}"
    trigger = "" if node.trigger is None else f"on {node.trigger}: "
    return f"{trigger}dw = {expression(node.value)}"


def bounds(rule: ir.RuleDef) -> str:
    """The ``bounds = [low, high]`` setting of a rule that has bounds."""
    low, high = rule.bounds
    return f"bounds = [{expression(low)}, {expression(high)}]"


def provenance(rule: str, span: Span, text: str) -> str:
    """The body of the comment above a statement's code: the rule, ``file:line``, the
    statement, escaped for a Python comment."""
    return py_comment(f"rule {rule}, {span.file}:{span.line}: {text}")
