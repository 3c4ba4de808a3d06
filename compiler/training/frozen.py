"""The frozen program that ``snnc train`` writes next to its checkpoint: ``frozen.snn`` and
``frozen.npz``, the trained network for inference, which every command accepts like any
program.

``frozen.snn`` is the trained program's own source with three edits: every trained
projection's ``weight = ...`` reads its trained weights, ``file("frozen.npz", key =
"<projection>.w")``; its ``learn`` statements are removed; string literals naming files
(``import``, ``file(...)``) are rewritten as absolute paths, since the program now lives in
the output folder. Names are written with :func:`snnc.literals.snn_string`. ``frozen.npz``
holds the weights under the key convention of :mod:`snnc.weights`.

A program whose trained projections are not all written in one file, or that declares them
without a ``weight =``, gets no frozen program (the reason is returned); ``snnc run --weights
checkpoint.npz --no-learn`` serves the same purpose then.
"""

from __future__ import annotations

import os
import re

import numpy as np

from snnc.files import SOURCE_LIMIT, read_bytes
from snnc.frontend.build_ast import unescape
from snnc.ir.network import Network
from snnc.literals import UnrepresentableText, snn_string
from snnc.weights import weight_key

PROGRAM, WEIGHTS = "frozen.snn", "frozen.npz"
#: a .snn string literal (grammar/snn.lark, STRING) after ``import`` or ``file(``
PATH_LITERAL = re.compile(r'(\bimport\s+|\bfile\s*\(\s*)("(?:[^"\\\n]|\\.)*")')
MARKER = "@frozen-weights@"  # not a string literal: absolute_paths leaves it alone
LEARN = re.compile(r"\blearn\s*$")


def offset(lines: list[str], line: int, column: int) -> int:
    """The character offset of the 1-based (line, column) in the text of ``lines``."""
    return sum(len(text) for text in lines[:line - 1]) + column - 1


def edits_of(net: Network, source: str, text: str, weights: dict) -> list | None:
    """(start, end, replacement) of the weight values and learn statements, or None."""
    lines = text.splitlines(keepends=True)
    edits = []
    for projection in net.projections():
        if projection.name not in weights:
            continue
        span = projection.spans.get("weight")
        if not projection.rules and (span is None or span.file != source):
            continue  # untrained and written elsewhere: its own weights are the same
        if span is None or span.file != source or any(r.span.file != source
                                                       for r in projection.rules):
            return None
        value = f"file({MARKER}, key = {snn_string(weight_key(projection.name))})"
        edits.append((offset(lines, span.line, span.column),
                      offset(lines, span.end_line, span.end_column), value))
        for rule in projection.rules:
            start = offset(lines, rule.span.line, rule.span.column)
            keyword = LEARN.search(text[:start])
            if keyword is None:
                return None
            edits.append(whole_line(text, keyword.start(),
                                    offset(lines, rule.span.end_line, rule.span.end_column)))
    return edits


def whole_line(text: str, start: int, end: int) -> tuple[int, int, str]:
    """The edit removing text[start:end], its whole line when nothing else is on it."""
    first = text.rfind("\n", 0, start) + 1
    last = text.find("\n", end)
    last = len(text) if last < 0 else last
    if not text[first:start].strip() and not text[end:last].strip():
        return first, min(last + 1, len(text)), ""
    return start, end, ""


def absolute_paths(text: str, folder: str) -> str:
    """``text`` with every import and file path literal made absolute (relative to
    ``folder``)."""
    def absolute(match: re.Match) -> str:
        path = unescape(match.group(2))
        return match.group(1) + snn_string(os.path.normpath(os.path.join(folder, path)))
    return PATH_LITERAL.sub(absolute, text)


def frozen_program(net: Network, weights: dict[str, np.ndarray], epoch: int
                   ) -> tuple[dict[str, bytes] | None, str]:
    """({'frozen.snn': ..., 'frozen.npz': ...}, '') for the trained ``weights`` (by
    projection), or (None, why not)."""
    from snnc.output import npz_bytes
    sources = {p.span.file for p in net.projections() if p.name in weights and p.rules}
    if len(sources) != 1:
        return None, "the trained projections are not all written in one file"
    source = sources.pop()
    try:
        text = read_bytes(source, SOURCE_LIMIT).decode("utf-8")
        edits = edits_of(net, source, text, weights)
        if edits is None:
            return None, "a trained projection has no 'weight =' or its rules are elsewhere"
        for start, end, replacement in sorted(edits, reverse=True):
            text = text[:start] + replacement + text[end:]
        text = absolute_paths(text, os.path.dirname(os.path.abspath(source)))
        text = text.replace(MARKER, snn_string(WEIGHTS))
        header = (f"# Written by snnc train after epoch {epoch}: {net.settings.name} with its "
                  f"trained weights ({WEIGHTS}) and no learning rules.\n")
    except (OSError, ValueError, UnrepresentableText) as error:
        return None, f"the source cannot be rewritten ({error})"
    arrays = {weight_key(name): np.asarray(w) for name, w in weights.items()}
    return {PROGRAM: (header + text).encode("utf-8"), WEIGHTS: npz_bytes(arrays)}, ""
