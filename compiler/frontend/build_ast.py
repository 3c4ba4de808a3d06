"""The parser's callbacks that build the AST of :mod:`snnc.frontend.ast` while Lark parses.

Every method receives a rule's children (tokens and values already converted); :meth:`AstBuilder.span`
is the text of the rule being reduced.
"""

from __future__ import annotations

from operator import itemgetter

from lark import Token

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


class Node:
    """A rule's value on Lark's stack with the extent of the text it covers (the first and last
    token of the rule, parentheses around an expression included); ``line`` is None for a rule
    that matched no token."""

    __slots__ = ("value", "line", "column", "end_line", "end_column")

    def __init__(self, value, line, column, end_line, end_column) -> None:
        self.value = value
        self.line, self.column, self.end_line, self.end_column = line, column, end_line, end_column


class AstBuilder:
    """Callbacks named after grammar rules, called by the LALR parser on each reduction with the
    rule's children (tokens and converted values); :meth:`span` is the text the rule matched,
    in ``file``. One pass: no parse tree is built.

    :meth:`install` wraps Lark's own child filtering (anonymous tokens dropped, ``_rules``
    inlined, ``None`` for a missing ``[optional]`` and ``?rule`` collapsing) and computes each
    rule's extent from its unfiltered children exactly as Lark's ``propagate_positions`` does.
    """

    def __init__(self) -> None:
        self.file = "<string>"
        self.position: tuple[int, int, int, int] | None = None

    def install(self, parser) -> None:
        """Make the callbacks of the Lark LALR ``parser`` (built without positions or a
        transformer) produce the AST directly."""
        from lark import Tree
        from lark.parse_tree_builder import ParseTreeBuilder

        builder = ParseTreeBuilder(parser.rules, Tree, propagate_positions=False,
                                   maybe_placeholders=parser.options.maybe_placeholders)
        filtered = builder.create_callback(self)
        callbacks = parser._callbacks  # the very dict the LALR parser reads (Lark 1.x)
        if set(callbacks) != set(filtered):
            raise RuntimeError("unsupported Lark version: its parser callbacks are not per rule")
        for rule, build in filtered.items():
            passes_through = rule.options.expand1 and not rule.alias and len(rule.expansion) == 1 \
                and not (rule.expansion[0].is_term and rule.expansion[0].filter_out)
            # '?sum: product' with one child: that child, unchanged (its extent too)
            callbacks[rule] = itemgetter(0) if passes_through else self.positioned(build)

    def positioned(self, build):
        """A reduction: the extent of the unfiltered children, then ``build`` (the filtering
        and the rule's method) on their values."""
        def reduce(children):
            first = last = None
            for child in children:
                if child.__class__ is not Node or child.line is not None:
                    first = child
                    break
            if first is not None:
                for child in reversed(children):
                    if child.__class__ is not Node or child.line is not None:
                        last = child
                        break
                self.position = (first.line, first.column, last.end_line, last.end_column)
                value = build([c.value if c.__class__ is Node else c for c in children])
                return Node(value, first.line, first.column, last.end_line, last.end_column)
            self.position = None
            value = build([c.value if c.__class__ is Node else c for c in children])
            return Node(value, None, None, None, None)
        return reduce

    # -- positions ------------------------------------------------------------------------
    def span(self) -> Span:
        """The text of the rule being reduced."""
        line, column, end_line, end_column = self.position
        return Span(self.file, line, column, end_line, end_column)

    def token_span(self, token: Token) -> Span:
        return Span(self.file, token.line, token.column, token.end_line, token.end_column)

    def ident(self, token: Token) -> ast.Ident:
        return ast.Ident(str(token), self.token_span(token))

    # -- top level ------------------------------------------------------------------------
    def start(self, children):
        return tuple(children)

    def import_stmt(self, children):
        (token,) = children
        return ast.Import(ast.String(unescape(token), self.token_span(token)), self.span())

    def network_decl(self, children):
        name, settings = children
        return ast.NetworkDecl(self.ident(name), settings, self.span())

    def settings_block(self, children):
        return tuple(children)

    def setting(self, children):
        name, value = children
        return ast.Setting(self.ident(name), value, self.span())

    def neuron_decl(self, children):
        name, base, settings = children
        return ast.NeuronDecl(self.ident(name), self.ident(base), settings or (), self.span())

    def shape(self, children):
        return ast.Shape(tuple(children), self.span())

    def body_block(self, children):
        return tuple(children)

    def rate_stmt(self, children):
        return ("rate", children[0], self.span())

    def _split_body(self, body):
        settings = tuple(s for s in body if isinstance(s, ast.Setting))
        rates = [s for s in body if isinstance(s, tuple)]
        return settings, rates

    def input_decl(self, children):
        name, shape, source, body = children
        settings, rates = self._split_body(body or ())
        rate = rates[-1][1] if rates else None
        return ast.InputDecl(self.ident(name), shape, source, settings, rate, self.span())

    def _population(self, children, is_readout: bool):
        name, model, shape, body = children
        settings, rates = self._split_body(body or ())
        rate = rates[-1][1] if rates else None
        return ast.PopulationDecl(self.ident(name), self.ident(model), shape, settings, rate,
                                  is_readout, self.span())

    def population_decl(self, children):
        return self._population(children, is_readout=False)

    def readout_decl(self, children):
        return self._population(children, is_readout=True)

    # -- projections -----------------------------------------------------------------------
    def projection_decl(self, children):
        pre, post, alias, connectivity, body = children
        body = body or ()
        settings = tuple(s for s in body if isinstance(s, ast.Setting))
        receptors = tuple(s[1] for s in body if isinstance(s, tuple) and s[0] == "receptor")
        learn = tuple(s[1] for s in body if isinstance(s, tuple) and s[0] == "learn")
        return ast.ProjectionDecl(self.ident(pre), self.ident(post),
                                  self.ident(alias) if alias is not None else None,
                                  connectivity, settings, receptors, learn, self.span())

    def projection_block(self, children):
        return tuple(children)

    def learn_stmt(self, children):
        return ("learn", children[0])

    def receptor_stmt(self, children):
        return ("receptor", children[0])

    # -- rules ------------------------------------------------------------------------------
    def rule_decl(self, children):
        name, params, body = children
        return ast.RuleDecl(self.ident(name), params or (), body, self.span())

    def rule_params(self, children):
        return tuple(c for c in children if c is not None)

    def rule_param(self, children):
        name, default = children
        return ast.RuleParam(self.ident(name), default, self.span())

    def rule_block(self, children):
        return tuple(children)

    def trace_stmt(self, children):
        name, value = children
        return ast.TraceDef(self.ident(name), value, self.span())

    def signal_stmt(self, children):
        name, value = children
        return ast.SignalDef(self.ident(name), value, self.span())

    def let_stmt(self, children):
        name, value = children
        return ast.LetDef(self.ident(name), value, self.span())

    def update_stmt(self, children):
        trigger, value = children
        return ast.Update(trigger, value, self.span())

    def trigger(self, children):
        return self.ident(children[0])

    # -- losses, records, targets -----------------------------------------------------------
    def loss_decl(self, children):
        return ast.LossDecl(children[0], self.span())

    def record_decl(self, children):
        return ast.RecordDecl(tuple(children), self.span())

    def record_variable(self, children):
        owner, variable = children
        return ast.RecordItem(self.ident(owner), None, self.ident(variable), self.span())

    def record_projection(self, children):
        pre, post, variable = children
        return ast.RecordItem(self.ident(pre), self.ident(post), self.ident(variable),
                              self.span())

    def target_decl(self, children):
        name, body = children
        return ast.TargetDecl(self.ident(name), body, self.span())

    def target_block(self, children):
        return tuple(children)

    def target_section(self, children):
        name, body = children
        return ast.TargetSection(self.ident(name), body, self.span())

    # -- expressions ------------------------------------------------------------------------
    def _binary(op):  # noqa: N805 - a factory used in the class body
        def build(self, children):
            left, right = children
            return ast.Binary(op, left, right, self.span())
        return build

    add = _binary("+")
    sub = _binary("-")
    mul = _binary("*")
    div = _binary("/")
    pow = _binary("^")
    del _binary

    def neg(self, children):
        return ast.Unary("-", children[0], self.span())

    def pos(self, children):
        return ast.Unary("+", children[0], self.span())

    def quantity(self, children):
        number, unit = children
        return ast.Quantity(float(number), str(number),
                            self.ident(unit) if unit is not None else None, self.span())

    def string(self, children):
        (token,) = children
        return ast.String(unescape(token), self.token_span(token))

    def ref(self, children):
        return ast.Ref(tuple(self.ident(t) for t in children), self.span())

    def call(self, children):
        func, *arguments = children
        args = tuple(a for a in arguments if a is not None and not isinstance(a, ast.KeywordArgument))
        kwargs = tuple(a for a in arguments if isinstance(a, ast.KeywordArgument))
        return ast.Call(self.ident(func), args, kwargs, self.span())

    def keyword_argument(self, children):
        name, value = children
        return ast.KeywordArgument(self.ident(name), value, self.span())

    def list(self, children):
        return ast.ListExpr(tuple(c for c in children if c is not None), self.span())
