"""Lark parse-tree callbacks that turn the parse tree into the AST of :mod:`snnc.frontend.ast`.

Every method receives the rule's ``meta`` (positions) and its children, already converted.
"""

from __future__ import annotations

from lark import Token, Tree

from snnc.diagnostics import Span
from snnc.frontend import ast


def unescape(literal: str) -> str:
    """The value of a string literal: quotes removed, ``\\"``, ``\\\\``, ``\\n``, ``\\t`` decoded."""
    body = literal[1:-1]
    out: list[str] = []
    i = 0
    escapes = {"n": "\n", "t": "\t", '"': '"', "\\": "\\"}
    while i < len(body):
        ch = body[i]
        if ch == "\\" and i + 1 < len(body):
            out.append(escapes.get(body[i + 1], body[i + 1]))
            i += 2
        else:
            out.append(ch)
            i += 1
    return "".join(out)


class AstBuilder:
    """Callbacks named after grammar rules, called bottom-up with each rule's ``meta``
    (positions) and its converted children; spans point into ``file``."""

    def __init__(self, file: str) -> None:
        self.file = file

    def transform(self, tree: Tree):
        """Convert the parse tree without recursion (deep expressions stay safe)."""
        results: dict[int, object] = {}
        stack: list[tuple[Tree, bool]] = [(tree, False)]
        while stack:
            node, expanded = stack.pop()
            if not expanded:
                stack.append((node, True))
                stack.extend((child, False) for child in node.children
                             if isinstance(child, Tree))
                continue
            children = [results.pop(id(child)) if isinstance(child, Tree) else child
                        for child in node.children]
            results[id(node)] = getattr(self, node.data)(node.meta, children)
        return results[id(tree)]

    # -- positions ------------------------------------------------------------------------
    def span(self, meta) -> Span:
        return Span(self.file, meta.line, meta.column, meta.end_line, meta.end_column)

    def token_span(self, token: Token) -> Span:
        return Span(self.file, token.line, token.column, token.end_line, token.end_column)

    def ident(self, token: Token) -> ast.Ident:
        return ast.Ident(str(token), self.token_span(token))

    # -- top level ------------------------------------------------------------------------
    def start(self, meta, children):
        return tuple(children)

    def import_stmt(self, meta, children):
        (token,) = children
        return ast.Import(ast.String(unescape(token), self.token_span(token)), self.span(meta))

    def network_decl(self, meta, children):
        name, settings = children
        return ast.NetworkDecl(self.ident(name), settings, self.span(meta))

    def settings_block(self, meta, children):
        return tuple(children)

    def setting(self, meta, children):
        name, value = children
        return ast.Setting(self.ident(name), value, self.span(meta))

    def neuron_decl(self, meta, children):
        name, base, settings = children
        return ast.NeuronDecl(self.ident(name), self.ident(base), settings or (), self.span(meta))

    def shape(self, meta, children):
        return ast.Shape(tuple(children), self.span(meta))

    def body_block(self, meta, children):
        return tuple(children)

    def rate_stmt(self, meta, children):
        return ("rate", children[0], self.span(meta))

    def _split_body(self, body):
        settings = tuple(s for s in body if isinstance(s, ast.Setting))
        rates = [s for s in body if isinstance(s, tuple)]
        return settings, rates

    def input_decl(self, meta, children):
        name, shape, source, body = children
        settings, rates = self._split_body(body or ())
        rate = rates[-1][1] if rates else None
        return ast.InputDecl(self.ident(name), shape, source, settings, rate, self.span(meta))

    def _population(self, meta, children, is_readout: bool):
        name, model, shape, body = children
        settings, rates = self._split_body(body or ())
        rate = rates[-1][1] if rates else None
        return ast.PopulationDecl(self.ident(name), self.ident(model), shape, settings, rate,
                                  is_readout, self.span(meta))

    def population_decl(self, meta, children):
        return self._population(meta, children, is_readout=False)

    def readout_decl(self, meta, children):
        return self._population(meta, children, is_readout=True)

    # -- projections -----------------------------------------------------------------------
    def projection_decl(self, meta, children):
        pre, post, alias, connectivity, body = children
        body = body or ()
        settings = tuple(s for s in body if isinstance(s, ast.Setting))
        receptors = tuple(s[1] for s in body if isinstance(s, tuple) and s[0] == "receptor")
        learn = tuple(s[1] for s in body if isinstance(s, tuple) and s[0] == "learn")
        return ast.ProjectionDecl(self.ident(pre), self.ident(post),
                                  self.ident(alias) if alias is not None else None,
                                  connectivity, settings, receptors, learn, self.span(meta))

    def projection_block(self, meta, children):
        return tuple(children)

    def learn_stmt(self, meta, children):
        return ("learn", children[0])

    def receptor_stmt(self, meta, children):
        return ("receptor", children[0])

    # -- rules ------------------------------------------------------------------------------
    def rule_decl(self, meta, children):
        name, params, body = children
        return ast.RuleDecl(self.ident(name), params or (), body, self.span(meta))

    def rule_params(self, meta, children):
        return tuple(c for c in children if c is not None)

    def rule_param(self, meta, children):
        name, default = children
        return ast.RuleParam(self.ident(name), default, self.span(meta))

    def rule_block(self, meta, children):
        return tuple(children)

    def trace_stmt(self, meta, children):
        name, value = children
        return ast.TraceDef(self.ident(name), value, self.span(meta))

    def signal_stmt(self, meta, children):
        name, value = children
        return ast.SignalDef(self.ident(name), value, self.span(meta))

    def let_stmt(self, meta, children):
        name, value = children
        return ast.LetDef(self.ident(name), value, self.span(meta))

    def update_stmt(self, meta, children):
        trigger, value = children
        return ast.Update(trigger, value, self.span(meta))

    def trigger(self, meta, children):
        return self.ident(children[0])

    # -- losses, records, targets -----------------------------------------------------------
    def loss_decl(self, meta, children):
        return ast.LossDecl(children[0], self.span(meta))

    def record_decl(self, meta, children):
        return ast.RecordDecl(tuple(children), self.span(meta))

    def record_variable(self, meta, children):
        owner, variable = children
        return ast.RecordItem(self.ident(owner), None, self.ident(variable), self.span(meta))

    def record_projection(self, meta, children):
        pre, post, variable = children
        return ast.RecordItem(self.ident(pre), self.ident(post), self.ident(variable),
                              self.span(meta))

    def target_decl(self, meta, children):
        name, body = children
        return ast.TargetDecl(self.ident(name), body, self.span(meta))

    def target_block(self, meta, children):
        return tuple(children)

    def target_section(self, meta, children):
        name, body = children
        return ast.TargetSection(self.ident(name), body, self.span(meta))

    # -- expressions ------------------------------------------------------------------------
    def _binary(op):  # noqa: N805 - a factory used in the class body
        def build(self, meta, children):
            left, right = children
            return ast.Binary(op, left, right, self.span(meta))
        return build

    add = _binary("+")
    sub = _binary("-")
    mul = _binary("*")
    div = _binary("/")
    pow = _binary("^")
    del _binary

    def neg(self, meta, children):
        return ast.Unary("-", children[0], self.span(meta))

    def pos(self, meta, children):
        return ast.Unary("+", children[0], self.span(meta))

    def quantity(self, meta, children):
        number, unit = children
        return ast.Quantity(float(number), str(number),
                            self.ident(unit) if unit is not None else None, self.span(meta))

    def string(self, meta, children):
        (token,) = children
        return ast.String(unescape(token), self.token_span(token))

    def ref(self, meta, children):
        return ast.Ref(tuple(self.ident(t) for t in children), self.span(meta))

    def call(self, meta, children):
        func, *arguments = children
        args = tuple(a for a in arguments if a is not None and not isinstance(a, ast.KeywordArgument))
        kwargs = tuple(a for a in arguments if isinstance(a, ast.KeywordArgument))
        return ast.Call(self.ident(func), args, kwargs, self.span(meta))

    def keyword_argument(self, meta, children):
        name, value = children
        return ast.KeywordArgument(self.ident(name), value, self.span(meta))

    def list(self, meta, children):
        return ast.ListExpr(tuple(c for c in children if c is not None), self.span(meta))
