"""Text to AST: the Lark LALR parser of ``grammar/snn.lark`` with positions and friendly errors.

Statements end at newlines. :class:`NewlinePostLexer` drops newlines inside ``(...)`` and
``[...]``, merges blank lines and makes sure the last statement is terminated, so the grammar
only sees one ``_NL`` between statements.
"""

from __future__ import annotations

import contextlib
import functools
import gc
import re
import threading
from importlib import resources
from typing import Iterator

from lark import Token
from lark.exceptions import UnexpectedInput, VisitError

from snnc.diagnostics import Diagnostics, Span, report_too_deep
from snnc.frontend import ast
from snnc.frontend.build_ast import AstBuilder
from snnc.frontend.grammar_cache import cached_lark

OPENERS = {"(": ")", "[": "]", "{": "}"}
CLOSERS = {v: k for k, v in OPENERS.items()}


class NewlinePostLexer:
    """Filters the token stream: newlines count only outside parentheses and brackets.

    ``open_brackets`` keeps the unclosed brackets of the current parse (for error hints).
    Braces reset the paren depth, since a block never starts inside an argument list: an
    unclosed ``(`` therefore cannot swallow the rest of the file.
    """

    always_accept = ("_NL",)

    def __init__(self) -> None:
        self.open_brackets: list[Token] = []
        self.closed_by_brace: list[Token] = []

    def process(self, stream: Iterator[Token]) -> Iterator[Token]:
        self.open_brackets = []
        self.closed_by_brace = []
        last: Token | None = None
        for token in stream:
            value = token.value
            if token.type == "_NL":
                if last is None or last.type == "_NL" or self._paren_depth():
                    continue
            elif value in OPENERS and token.type != "STRING":
                if value == "{":
                    self._drop_parens()
                self.open_brackets.append(token)
            elif value in CLOSERS and token.type != "STRING":
                if value == "}":
                    self._drop_parens()
                if self.open_brackets and self.open_brackets[-1].value == CLOSERS[value]:
                    self.open_brackets.pop()
            last = token
            yield token
        if last is not None and last.type != "_NL":
            yield Token("_NL", "\n", last.end_pos, last.end_line, last.end_column,
                        last.end_line, last.end_column + 1, last.end_pos + 1)

    def _paren_depth(self) -> int:
        return sum(1 for t in self.open_brackets if t.value in "([")

    def _drop_parens(self) -> None:
        """Forget brackets left open when a brace arrives (kept in ``closed_by_brace``)."""
        self.closed_by_brace = []
        while self.open_brackets and self.open_brackets[-1].value in "([":
            self.closed_by_brace.insert(0, self.open_brackets.pop())


MAX_NESTING = 200


#: what the nesting scan stops at: outside strings and comments, and inside a string
OUTSIDE = re.compile(r'[\n#"()\[\]]')
IN_STRING = re.compile(r'[\n"\\]')


def deepest_nesting(text: str) -> tuple[int, int, int]:
    """The deepest nesting of '(' and '[' outside strings and comments, with the line and
    column of the bracket that first goes past :data:`MAX_NESTING` (or of the deepest one).

    A string ends at its closing quote or at the end of the line, a comment at the end of
    the line; a backslash in a string escapes the next character on the line (a backslash
    ending a line escapes the first character of the next string). The scan jumps from one
    character that matters to the next (compiled searches), not character by character."""
    depth = best = 0
    where = (1, 1)
    line, line_start = 1, 0  # line_start: the offset of the line's first character
    escaped = False
    pos, end = 0, len(text)
    outside, in_string = OUTSIDE.search, IN_STRING.search
    while pos < end:
        found = outside(text, pos)
        if found is None:
            break
        pos = found.start()
        ch = text[pos]
        pos += 1
        if ch == "\n":
            line, line_start = line + 1, pos
        elif ch == "#":
            newline = text.find("\n", pos)
            pos = end if newline < 0 else newline
        elif ch == '"':
            while pos < end:
                if escaped:
                    if text[pos] == "\n":
                        break  # the string ends with its line; the escape stays pending
                    escaped = False
                    pos += 1
                    continue
                found = in_string(text, pos)
                if found is None:
                    pos = end
                    break
                pos = found.start()
                ch = text[pos]
                if ch == "\n":
                    break  # handled as a newline outside the string
                pos += 1
                if ch == '"':
                    break
                escaped = True
        elif ch in "([":
            depth += 1
            if depth > best:
                best = depth
                if best <= MAX_NESTING + 1:  # the bracket that crosses the limit
                    where = (line, pos - line_start)
        else:
            depth = max(depth - 1, 0)
    return best, where[0], where[1]


@contextlib.contextmanager
def gc_paused():
    """No cyclic garbage collection inside (restored on exit): a syntax tree is built from
    hundreds of thousands of objects without cycles, and each collection would walk all of
    them again (a third of the time on large files).

    On exit every object the collector tracks is moved to its oldest generation (``gc.freeze``
    then ``gc.unfreeze``, constant time) before collection is enabled again: otherwise the
    objects allocated inside, all still in the youngest generation, would be walked by the
    first collection after (a tenth of the time of checking a 100,000-line file). They are
    walked by the next full collection instead, when they still live (objects freed by
    reference counting, as a checked program's syntax tree, are never walked). Skipped when
    the program froze objects itself (``gc.get_freeze_count()``), which unfreezing would undo."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            if not gc.get_freeze_count():
                gc.freeze()
                gc.unfreeze()
            gc.enable()


def grammar_text() -> str:
    return resources.files("snnc.grammar").joinpath("snn.lark").read_text(encoding="utf-8")


#: how Lark builds the parser (the tables are cached: snnc.frontend.grammar_cache)
LARK_OPTIONS = {"parser": "lalr", "lexer": "contextual", "propagate_positions": False,
                "maybe_placeholders": True}


class SnnParser:
    """One Lark parser, reused for every file (parsing is serialised by a lock); its callbacks
    build the AST in the same pass (:class:`AstBuilder`), positions included."""

    def __init__(self) -> None:
        self.lark = cached_lark(grammar_text(), postlex=NewlinePostLexer(), **LARK_OPTIONS)
        self.postlexer: NewlinePostLexer = self.lark.options.postlex
        self.builder = AstBuilder()
        self.builder.install(self.lark)
        self.lock = threading.Lock()

    def parse(self, text: str, file: str, diag: Diagnostics) -> ast.Module | None:
        """The module of ``text``, or None after reporting a syntax error into ``diag``."""
        diag.add_source(file, text)
        depth, line, column = deepest_nesting(text)
        if depth > MAX_NESTING:
            diag.error("E199", Span.point(file, line, column), f"brackets nested {depth} levels "
                       f"deep; at most {MAX_NESTING} are allowed",
                       hint="split the expression into 'let' definitions or settings")
            return None
        with self.lock, gc_paused():
            try:
                self.builder.file = file
                items = self.lark.parse(text).value
            except UnexpectedInput as error:
                from snnc.frontend.syntax_errors import report_syntax_error  # errors only
                report_syntax_error(error, text, file, self, diag)
                return None
            except (RecursionError, VisitError) as error:
                if isinstance(error, VisitError) and not isinstance(error.orig_exc, RecursionError):
                    raise
                report_too_deep(text, file, diag)
                return None
        return ast.Module(file, items)

    def parse_raw(self, text: str):
        """Parse without diagnostics (used to match labelled bad examples)."""
        return self.lark.parse(text)


@functools.lru_cache(maxsize=1)
def get_parser() -> SnnParser:
    return SnnParser()


def parse_text(text: str, file: str, diag: Diagnostics) -> ast.Module | None:
    return get_parser().parse(text, file, diag)
