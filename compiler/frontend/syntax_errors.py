"""Syntax errors that say what is wrong: codes, carets and hints instead of parser states.

Specific mistakes are recognised from labelled bad examples: each entry of
:data:`LABELLED_EXAMPLES` lists bad inputs that fail in the same parser state as the
mistake it names. Everything else gets a generic message built from what the parser
expected, with a "did you mean" for misspelt keywords.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from lark import Token
from lark.exceptions import UnexpectedCharacters, UnexpectedEOF, UnexpectedInput
from lark.lexer import PatternStr

from snnc.diagnostics import Diagnostics, Span, did_you_mean

STATEMENTS = ("import", "network", "neuron", "input", "population", "readout", "rule", "loss",
              "record", "target")
KEYWORDS = ("import", "network", "neuron", "input", "population", "readout", "rule", "loss",
            "record", "target", "rate", "learn", "receptor", "trace", "signal", "let", "dw", "on",
            "as")


OPENING_TO_CLOSING = {"(": ")", "[": "]", "{": "}"}


@dataclass(frozen=True)
class Mistake:
    code: str
    message: str
    hint: str


LABELLED_EXAMPLES: dict[Mistake, list[str]] = {
    Mistake("E104", "missing ':' after the population name",
            "write e.g. 'population hidden: LIF[100]' or 'readout out: LI[10]'"): [
        "population hidden LIF[10]\n",
        "readout out LI[3]\n",
    ],
    Mistake("E105", "missing shape after the neuron model",
            "give the number of neurons in brackets, e.g. 'LIF[100]' or 'LIF[16, 32, 32]'"): [
        "population hidden: LIF\n",
        "population hidden: LIF { tau_mem = 1 ms }\n",
        "readout out: LI\n",
        "input x\n",
        "input x: poisson(rate = 1 Hz)\n",
    ],
    Mistake("E106", "missing '=' in a setting",
            "settings are written 'name = value', e.g. 'tau_mem = 20 ms'"): [
        "network n { dt 1 ms }\n",
        "population p: LIF[1] { tau_mem 20 ms }\n",
        "a -> b { weight 1 }\n",
        "neuron F = LIF { tau_mem 2 ms }\n",
        "rule r { lr 1 }\n",
    ],
    Mistake("E107", "missing '->' between the two ends of a projection",
            "a projection is written 'pre -> post: connectivity'"): [
        "a b\n",
        "a - b\n",
    ],
    Mistake("E110", "settings belong inside a block",
            "put it in the block it configures, e.g. 'network name { dt = 1 ms }'; did the "
            "declaration above forget its '{'?"): [
        "dt = 1 ms\n",
    ],
    Mistake("E108", "missing value after '='",
            "give a value, e.g. 'tau_mem = 20 ms'"): [
        "network n { dt = }\n",
        "network n { dt = \n}\n",
        "population p: LIF[1] { tau_mem = }\n",
        "rule r { trace x = \n}\n",
    ],
    Mistake("E109", "one statement per line",
            "start the next statement on a new line"): [
        "population a: LIF[1] population b: LIF[1]\n",
        "a -> b: dense c -> d\n",
        "network n { dt = 1 ms seed = 3 }\n",
        "import \"a.snn\" import \"b.snn\"\n",
    ],
    Mistake("E111", "an operator is missing its operand",
            "complete the expression, e.g. 'a * b'"): [
        "network n { dt = 1 + }\n",
        "network n { dt = * 2 }\n",
        "network n { dt = 1 * / 2 }\n",
        "rule r { dw = pre.s * \n}\n",
    ],
    Mistake("E113", "a trigger is followed by ':'",
            "write 'on pre: dw = ...' (triggers: pre, post, step)"): [
        "rule r { on pre dw = 1 }\n",
        "rule r {\n on post\n}\n",
    ],
    Mistake("E114", "a rule needs a body in braces",
            "write 'rule name(params) { ... dw = ... }'"): [
        "rule r\n",
        "rule r(lr = 1)\n",
        "rule r(lr = 1) dw = 1\n",
    ],
    Mistake("E115", "a declaration needs a name here",
            "names start with a letter or '_' and cannot be keywords"): [
        "population 3: LIF[1]\n",
        "network { dt = 1 ms }\n",
        "neuron = LIF\n",
        "rule { dw = 1 }\n",
        "readout : LI[1]\n",
        "input [3]\n",
    ],
    Mistake("E116", "a model variant is written 'neuron Name = Base { ... }'",
            "e.g. 'neuron FastLIF = LIF { tau_mem = 5 ms }'"): [
        "neuron F LIF\n",
        "neuron F: LIF\n",
        "neuron F { tau_mem = 1 ms }\n",
    ],
    Mistake("E117", "a setting's name is missing",
            "settings are written 'name = value'"): [
        "network n { = 1 }\n",
        "population p: LIF[1] { = 1 }\n",
    ],
    Mistake("E118", "import takes a quoted file name",
            "write 'import \"other.snn\"'"): [
        "import other\n",
        "import\n",
    ],
    Mistake("E119", "a shape needs at least one dimension",
            "write the number of neurons, e.g. 'LIF[100]'"): [
        "population p: LIF[]\n",
        "input x[]\n",
    ],
    Mistake("E120", "a learning-rule update assigns 'dw'",
            "write 'dw = ...' (optionally 'on pre: dw = ...')"): [
        "rule r { on pre: w = 1 }\n",
        "rule r { on pre: }\n",
    ],
    Mistake("E125", "'rate', 'learn' and 'receptor' take their value without '='",
            "write e.g. 'rate 10 Hz' or 'learn stdp(lr = 1e-3)'"): [
        "population p: LIF[1] { rate = 5 Hz }\n",
        "input x[1] { rate = 5 Hz }\n",
        "a -> b { learn = stdp }\n",
        "a -> b { receptor = fast(tau = 1 ms) }\n",
    ],
    Mistake("E122", "a record item is 'population.variable' or 'pre->post.variable'",
            "e.g. 'record hidden.s, hidden->readout.w'"): [
        "record hidden\n",
        "record hidden, out.v\n",
        "record a->b\n",
        "record\n",
        "record a.\n",
    ],
}


def example_index(parser) -> dict[tuple[object, str], Mistake]:
    """(LR state, token type) -> mistake, learnt by parsing every labelled bad example.

    Lark's own ``match_examples`` also compares the depth of the parse stack, so an example
    written as a one-line file would only match a mistake in a file's first statement; the
    state and the offending token alone identify a mistake wherever it is.
    """
    cached = getattr(parser, "_example_index", None)
    if cached is not None:
        return cached
    index: dict[tuple[object, str], Mistake] = {}
    for mistake, examples in LABELLED_EXAMPLES.items():
        for example in examples:
            try:
                parser.parse_raw(example)
            except UnexpectedInput as error:
                state = getattr(error, "state", None)
                token = getattr(error, "token", None)
                if state is not None and token is not None:
                    index.setdefault((state.position, token.type), mistake)
    parser._example_index = index
    return index


def match_mistake(error, token: Token, parser) -> Mistake | None:
    state = getattr(error, "state", None)
    if state is None:
        return None
    index = example_index(parser)
    exact = index.get((state.position, token.type))
    if exact is not None:
        return exact
    by_state = {m for (position, _), m in index.items() if position == state.position}
    return by_state.pop() if len(by_state) == 1 else None


def first_word_span(text: str, file: str, line: int) -> Span | None:
    lines = text.split("\n")
    if not 1 <= line <= len(lines):
        return None
    match = re.match(r"\s*([A-Za-z_][A-Za-z0-9_]*)", lines[line - 1])
    if not match:
        return None
    return Span(file, line, match.start(1) + 1, line, match.end(1) + 1)


def terminal_label(parser, name: str) -> str:
    """How to name a terminal in a message: the literal text for keywords and punctuation."""
    names = {"NAME": "a name", "NUMBER": "a number", "STRING": "a string",
             "_NL": "end of line", "$END": "end of file"}
    if name in names:
        return names[name]
    try:
        pattern = parser.lark.get_terminal(name).pattern
    except KeyError:
        return name
    return f"'{pattern.value}'" if isinstance(pattern, PatternStr) else name


def token_label(token: Token) -> str:
    if token.type == "_NL":
        return "end of line"
    if token.type == "$END":
        return "end of file"
    return f"'{token.value}'"


def end_of_text(text: str, file: str) -> Span:
    """Just after the last non-blank character (where the missing text would go)."""
    lines = text.rstrip().split("\n")
    return Span.point(file, len(lines), len(lines[-1]) + 1)


def token_span(token: Token, text: str, file: str) -> Span:
    if token.type == "$END" or getattr(token, "line", None) is None:
        return end_of_text(text, file)
    if token.type == "_NL":
        return Span.point(file, token.line, token.column)
    return Span(file, token.line, token.column, token.end_line, token.end_column)


def misspelt_keyword(text: str, file: str, line: int) -> tuple[str, Span, str] | None:
    """A statement whose first word is a near miss for a keyword, e.g. 'populaton'."""
    lines = text.split("\n")
    if not 1 <= line <= len(lines):
        return None
    match = re.match(r"\s*([A-Za-z_][A-Za-z0-9_]*)", lines[line - 1])
    if not match or match.group(1) in KEYWORDS:
        return None
    word = match.group(1)
    rest = lines[line - 1][match.end():].lstrip()
    if rest.startswith(("=", "->", ".")):
        return None
    if len(word) < 3 or re.search(rf"\b(population|readout|input)\s+{word}\b", text):
        return None
    hint = did_you_mean(word, [k for k in KEYWORDS if len(k) >= 3])
    if hint is None:
        return None
    column = match.start(1) + 1
    return word, Span(file, line, column, line, column + len(word)), hint


def report_syntax_error(error: UnexpectedInput, text: str, file: str, parser,
                        diag: Diagnostics) -> None:
    """Turn a Lark error into exactly one E1xx diagnostic. In this order: an unexpected
    character (E101/E102), the end of the text inside a bracket or statement (E103), a bracket
    left open (E103), a misspelt keyword (E121), a known mistake of the example table
    (:func:`match_mistake`), else E100 with the tokens the parser expected."""
    open_brackets = list(parser.postlexer.open_brackets)
    if isinstance(error, UnexpectedCharacters):
        report_unexpected_character(error, text, file, diag)
        return
    token = getattr(error, "token", None)
    unclosed_parens = [t for t in open_brackets if t.value in "(["]
    at_end = isinstance(error, UnexpectedEOF) or (token is not None and token.type == "$END") or (
        token is not None and token.type == "_NL" and bool(unclosed_parens))
    if at_end:
        report_unexpected_end(open_brackets, text, file, diag)
        return
    span = token_span(token, text, file)
    if report_unclosed(token, span, open_brackets, list(parser.postlexer.closed_by_brace), text,
                       diag):
        return
    misspelt = misspelt_keyword(text, file, span.line)
    if misspelt is not None:
        word, word_span, hint = misspelt
        diag.error("E121", word_span, f"unknown keyword '{word}'", hint=hint)
        return

    mistake = match_mistake(error, token, parser)
    if mistake is not None:
        if mistake.code == "E110":
            span = first_word_span(text, file, span.line) or span
        diag.error(mistake.code, span, f"{mistake.message} (found {token_label(token)})",
                   hint=mistake.hint)
        return

    expected = sorted({terminal_label(parser, name) for name in (error.accepts or error.expected)})
    shown = ", ".join(expected[:8]) + (", ..." if len(expected) > 8 else "")
    diag.error("E100", span, f"unexpected {token_label(token)}", hint=f"expected {shown}")


def report_unexpected_character(error: UnexpectedCharacters, text: str, file: str,
                                diag: Diagnostics) -> None:
    """E102 for a '"' that opens a string never closed on its line, E101 for any other
    character the lexer cannot read (non-ASCII ones shown with their code point)."""
    span = Span.point(file, error.line, error.column)
    char = text[error.pos_in_stream] if 0 <= error.pos_in_stream < len(text) else ""
    if char == '"':
        diag.error("E102", span, "unterminated string",
                   hint="close the string with '\"' on the same line")
    elif char.isprintable() and char.isascii():
        diag.error("E101", span, f"unexpected character '{char}'",
                   hint="names use letters, digits and '_'; comments start with '#'")
    else:
        diag.error("E101", span, f"unexpected character {char!r} (U+{ord(char):04X})",
                   hint="only ASCII is allowed outside strings and comments")


def report_unexpected_end(open_brackets: list[Token], text: str, file: str,
                          diag: Diagnostics) -> None:
    """E103 at the end of the text: naming the innermost bracket still open, if any."""
    span = end_of_text(text, file)
    if open_brackets:
        opener = open_brackets[-1]
        where = f"line {opener.line}, column {opener.column}"
        diag.error("E103", span, f"unexpected end of file: '{opener.value}' opened at {where} "
                   "is never closed",
                   hint=f"add the matching '{OPENING_TO_CLOSING[opener.value]}'")
    else:
        diag.error("E103", span, "unexpected end of file",
                   hint="the last statement is incomplete")


def report_unclosed(token: Token, span: Span, open_brackets: list[Token],
                    left_open: list[Token], text: str, diag: Diagnostics) -> bool:
    """E103 for a bracket left open before ``token`` (found at ``span``), reported at the
    bracket: a '(' or '[' of an earlier line, a '{' before a line that starts a new
    declaration, or a bracket that a '{' or '}' closed by force (``left_open``). True when
    reported."""
    file = span.file
    earlier = [t for t in open_brackets if t.value in "([" and t.line < span.line]
    if earlier:
        opener = earlier[-1]
        diag.error("E103", Span(file, opener.line, opener.column, opener.line, opener.column + 1),
                   f"'{opener.value}' is never closed",
                   hint=f"add the matching '{OPENING_TO_CLOSING[opener.value]}' (the statement "
                        f"runs on until line {span.line}, where {token_label(token)} was found)")
        return True
    braces = [t for t in open_brackets if t.value == "{"]
    word = first_word_span(text, file, span.line)
    if braces and word is not None and braces[-1].line < span.line and \
            text.split("\n")[span.line - 1][word.column - 1:word.end_column - 1] in STATEMENTS:
        opener = braces[-1]
        diag.error("E103", Span(file, opener.line, opener.column, opener.line, opener.column + 1),
                   "'{' is never closed",
                   hint=f"add '}}' before line {span.line}, where a new declaration starts")
        return True
    if token.value in "{}" and left_open:
        opener = left_open[-1]
        diag.error("E103", span, f"'{opener.value}' opened at line {opener.line}, column "
                   f"{opener.column} is not closed before '{token.value}'",
                   hint=f"add the matching '{OPENING_TO_CLOSING[opener.value]}'")
        return True
    return False

