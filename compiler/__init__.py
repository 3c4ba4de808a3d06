"""snnc: a compiler for spiking neural networks that learn.

Public API::

    import snnc
    diag = snnc.Diagnostics()
    summary = snnc.check_file("examples/stdp.snn", diag)   # None when there were errors
    module = snnc.parse(text)                              # raises snnc.CompileError
"""

from __future__ import annotations

from snnc.diagnostics import CompileError, Diagnostic, Diagnostics, Severity, Span, render
from snnc.frontend.ast import Module
from snnc.frontend.check import Summary, check_program
from snnc.frontend.loader import Program, load_file, load_text
from snnc.frontend.parser import parse_text

__version__ = "0.1.0"

__all__ = [
    "CompileError", "Diagnostic", "Diagnostics", "Module", "Program", "Severity", "Span",
    "Summary", "__version__", "check_file", "check_text", "load", "parse", "render",
]


def parse(text: str, file: str = "<string>") -> Module:
    """The AST of one ``.snn`` text (imports are not followed); raises CompileError."""
    diag = Diagnostics()
    module = parse_text(text, file, diag)
    if module is None:
        raise CompileError(diag)
    return module


def load(path: str) -> Program:
    """A file with its imports and the standard library, parsed; raises CompileError."""
    diag = Diagnostics()
    program = load_file(path, diag)
    if program is None:
        raise CompileError(diag)
    return program


def check_file(path: str, diag: Diagnostics) -> Summary | None:
    """Load and check ``path``; diagnostics go into ``diag``; None when there were errors."""
    program = load_file(path, diag)
    return None if program is None else _checked(program, diag)


def check_text(text: str, diag: Diagnostics, file: str = "<string>") -> Summary | None:
    """Like :func:`check_file` for text in memory (imports are resolved from the cwd)."""
    program = load_text(text, file, diag)
    return None if program is None else _checked(program, diag)


def _checked(program: Program, diag: Diagnostics) -> Summary | None:
    summary = check_program(program, diag)
    return None if diag.has_errors else summary
