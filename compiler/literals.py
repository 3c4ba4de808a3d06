"""User text in generated files: one escaping function per output language snnc writes.

Names, file names, paths, ``mapping.json`` fields and NIR node names are user text. They reach
generated Python, Markdown, ``.snn`` and Graphviz DOT only through these functions, never as
template source:

- :func:`py`: a Python literal (strings ``repr``-style, also safe inside a docstring)
- :func:`py_comment`: the text of a ``#`` comment in Python or ``.snn``
- :func:`markdown` (the templates' ``md`` filter): inline Markdown (also inside a table cell)
- :func:`snn_string`: a ``.snn`` string literal
- :func:`dot`: a Graphviz DOT quoted string (a node name or a label of several lines)

For ordinary text (printable, no quotes, backslashes, backticks or pipes) ``py`` is ``repr``,
``py_comment`` the text itself and ``markdown`` a code span, so the output of ordinary programs does
not change.
"""

from __future__ import annotations

import math
import numbers

__all__ = ["py", "py_comment", "markdown", "snn_string", "dot", "UnrepresentableText"]


class UnrepresentableText(ValueError):
    """The text holds a character the output language cannot write (see :func:`snn_string`)."""


def _escape(char: str) -> str:
    """A non-printable character as its Python escape (``\\n``, ``\\x00``, ``\\u2028``)."""
    return repr(char)[1:-1]


def _py_string(text: str) -> str:
    out = []
    for char in text:
        if char == "\\":
            out.append("\\\\")
        elif char == "'":
            out.append("\\'")
        elif char == '"':
            out.append('\\"')
        elif char.isprintable():
            out.append(char)
        else:
            out.append(_escape(char))
    return "'" + "".join(out) + "'"


def py(value) -> str:
    """A Python literal that evaluates to ``value``.

    ``value`` is a str, bool, integer, real number (numpy's too), None, or a list, tuple or
    dict of these. Guarantees: the result is one line of printable characters
    (``str.isprintable``: no newline, carriage return, NUL, form feed, line or paragraph
    separator, bidirectional control, lone surrogate); strings are delimited by ``'`` and every
    quote (``'`` and ``"``) and backslash inside them is escaped. So it evaluates to ``value``
    where Python expects an expression, ends no comment, and placed in a ``\"\"\"`` docstring
    (as the templates do) cannot end it. For strings without quotes and backslashes the result
    is ``repr(value)``; finite floats are ``repr``, the others ``float('inf')``,
    ``-float('inf')``, ``float('nan')``. Raises TypeError for other types.
    """
    if isinstance(value, str):
        return _py_string(value)
    if value is None or isinstance(value, bool):
        return repr(value)
    if isinstance(value, numbers.Integral):  # also numpy's integers
        return repr(int(value))
    if isinstance(value, numbers.Real):
        value = float(value)
        if math.isnan(value):
            return "float('nan')"
        if math.isinf(value):
            return "float('inf')" if value > 0 else "-float('inf')"
        return repr(float(value))
    if isinstance(value, list):
        return "[" + ", ".join(py(v) for v in value) + "]"
    if isinstance(value, tuple):
        if len(value) == 1:
            return "(" + py(value[0]) + ",)"
        return "(" + ", ".join(py(v) for v in value) + ")"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{py(k)}: {py(v)}" for k, v in value.items()) + "}"
    raise TypeError(f"no Python literal for a {type(value).__name__}")


def py_comment(text: str) -> str:
    """``text`` for the body of a ``#`` comment line in Python or ``.snn``.

    Guarantees: the result contains only printable characters (``str.isprintable``), so no
    line break of any kind (``\\n``, ``\\r``, form feed, ``\\x85``, ``\\u2028``, ``\\u2029``),
    no NUL and no lone surrogate: the comment ends where snnc ends it. Each non-printable
    character is shown as its Python escape (a newline as the two characters ``\\n``);
    printable text is unchanged.
    """
    return "".join(char if char.isprintable() else _escape(char) for char in str(text))


#: what may not stand inside a code span unchanged (besides non-printable characters)
_NOT_IN_CODE_SPAN = frozenset("`|\\")
#: ASCII punctuation that Markdown may read as syntax (all of it may be backslash-escaped)
_MD_PUNCTUATION = set("!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~")


def markdown(text: str) -> str:
    """``text`` as inline Markdown (CommonMark / GitHub), also inside a table cell.

    Guarantees: the result is one line and renders as exactly the characters of ``text`` (a
    non-printable character as its Python escape, e.g. ``\\n``): no HTML, link, image,
    emphasis, heading, list or table-cell boundary can come from ``text``. Ordinary text
    (printable, without backticks, pipes, backslashes, not starting or ending with a space)
    becomes a code span, ``\\`text\\```; other text is written with every ASCII punctuation
    character backslash-escaped (``\\|`` is also GitHub's escape of a pipe in a table).
    """
    text = str(text)
    if text and _NOT_IN_CODE_SPAN.isdisjoint(text) and text.isprintable() \
            and text.strip(" ") == text:
        return f"`{text}`"
    out = []
    for char in text:
        if char in _MD_PUNCTUATION:
            out.append("\\" + char)
        elif char.isprintable():
            out.append(char)
        else:
            out.append("\\" + _escape(char))  # '\\n' renders as the two characters \n
    return "".join(out)


#: characters a .snn string can hold as written: printable ones, and \n, \t (escaped)
_SNN_ESCAPES = {"\\": "\\\\", '"': '\\"', "\n": "\\n", "\t": "\\t"}


def snn_string(text: str) -> str:
    """A ``.snn`` string literal (``grammar/snn.lark``, ``STRING``) whose value is ``text``.

    Guarantees: the result matches the grammar's ``STRING``, is one line, and the front end
    (``snnc.frontend.build_ast.unescape``) reads it back as exactly ``text``: ``\\`` and
    ``"`` are escaped, newline and tab written as ``\\n`` and ``\\t``. Raises
    :class:`UnrepresentableText` for the characters a ``.snn`` string cannot write readably
    (other control characters, line and paragraph separators, lone surrogates): the caller
    reports a diagnostic naming the text.
    """
    out = []
    for char in text:
        if char in _SNN_ESCAPES:
            out.append(_SNN_ESCAPES[char])
        elif char.isprintable():
            out.append(char)
        else:
            raise UnrepresentableText(f"{py(text)} holds the character {_escape(char)}, "
                                      "which a .snn string cannot hold")
    return '"' + "".join(out) + '"'


def dot(*lines: str) -> str:
    """A Graphviz DOT double-quoted string: a node name, or a label of one line per argument.

    Guarantees: the result is one line, starts and ends with the only unescaped ``"`` it
    holds, and every backslash of the text is doubled, so Graphviz neither ends the string
    early nor reads an escape (``\\n``, ``\\l``, ``\\N``...) from user text. Lines are joined
    with DOT's ``\\n`` line break. The label shows printable text as it is, a backslash as
    ``\\\\`` and a non-printable character as its Python escape (a newline as ``\\n``), so
    different texts give different strings (distinct node names stay distinct nodes).
    """
    parts = []
    for line in lines:
        shown = "".join(char if char.isprintable() and char != "\\" else _escape(char)
                        for char in str(line))
        parts.append(shown.replace("\\", "\\\\").replace('"', '\\"'))
    return '"' + "\\n".join(parts) + '"'
