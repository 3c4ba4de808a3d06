"""Diagnostics: every problem a user can cause, with a stable code, a place and a hint.

Codes by family: E1xx syntax, E2xx semantics, E3xx locality and learning, E4xx mapping,
E5xx backends, E6xx input/output. Warnings use the same families with a ``W`` prefix.
Diagnostics go into a :class:`Diagnostics` sink that is passed in; nothing below the CLI
prints. :func:`render` turns one diagnostic into the text a user sees::

    examples/bad.snn:7:14: error[E203]: unknown neuron model 'CubaLFI'
       7 | population hidden: CubaLFI[128]
         |                    ^^^^^^^
      = hint: did you mean 'CubaLIF'?
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Iterable, Iterator


@dataclass(frozen=True, order=True)
class Span:
    """A region of a source file; lines and columns start at 1, ``end_column`` is exclusive."""

    file: str
    line: int
    column: int
    end_line: int
    end_column: int

    @classmethod
    def point(cls, file: str, line: int, column: int) -> Span:
        return cls(file, line, column, line, column + 1)

    def to(self, other: Span) -> Span:
        """The smallest span that covers ``self`` and ``other`` (same file)."""
        return Span(self.file, self.line, self.column, other.end_line, other.end_column)

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.column}"


class Severity(enum.Enum):
    ERROR = "error"
    WARNING = "warning"
    NOTE = "note"


@dataclass(frozen=True)
class Diagnostic:
    code: str
    severity: Severity
    message: str
    span: Span | None
    hint: str | None = None
    notes: tuple[str, ...] = ()

    def to_json(self) -> dict:
        where = None
        if self.span is not None:
            where = {
                "file": self.span.file,
                "line": self.span.line,
                "column": self.span.column,
                "end_line": self.span.end_line,
                "end_column": self.span.end_column,
            }
        return {
            "code": self.code,
            "severity": self.severity.value,
            "message": self.message,
            "span": where,
            "hint": self.hint,
            "notes": list(self.notes),
        }


class CompileError(Exception):
    """Raised by the public API when a compilation ends with errors; carries the sink."""

    def __init__(self, diagnostics: Diagnostics):
        self.diagnostics = diagnostics
        first = next(iter(diagnostics.errors()), None)
        super().__init__(first.message if first else "compilation failed")


@dataclass
class Diagnostics:
    """The sink every stage writes into. It also keeps the source texts, for rendering."""

    items: list[Diagnostic] = field(default_factory=list)
    sources: dict[str, str] = field(default_factory=dict)

    def add_source(self, file: str, text: str) -> None:
        self.sources[file] = text

    def report(self, diagnostic: Diagnostic) -> None:
        self.items.append(diagnostic)

    def error(self, code: str, span: Span | None, message: str, *, hint: str | None = None,
              notes: Iterable[str] = ()) -> None:
        self.report(Diagnostic(code, Severity.ERROR, message, span, hint, tuple(notes)))

    def warning(self, code: str, span: Span | None, message: str, *, hint: str | None = None,
                notes: Iterable[str] = ()) -> None:
        self.report(Diagnostic(code, Severity.WARNING, message, span, hint, tuple(notes)))

    def errors(self) -> Iterator[Diagnostic]:
        return (d for d in self.items if d.severity is Severity.ERROR)

    @property
    def has_errors(self) -> bool:
        return any(True for _ in self.errors())

    def sorted(self) -> list[Diagnostic]:
        """Diagnostics in file order (diagnostics without a place come first)."""
        def key(d: Diagnostic):
            s = d.span
            return (0, "", 0, 0, d.code) if s is None else (1, s.file, s.line, s.column, d.code)
        return sorted(self.items, key=key)

    def __len__(self) -> int:
        return len(self.items)


def report_too_deep(text: str, file: str, diag: Diagnostics) -> None:
    """E199 for an expression too deep for the recursive stages (long chains of '^' or '-'),
    at the start of the longest line, where such chains live."""
    lines = text.split("\n")
    longest = max(range(len(lines)), key=lambda i: len(lines[i]))
    diag.error("E199", Span.point(file, longest + 1, 1), "this expression is nested too deeply",
               hint="split it into 'let' definitions or several settings")


def edit_distance(a: str, b: str) -> int:
    """Optimal-string-alignment distance: insertions, deletions, substitutions, transpositions."""
    previous2: list[int] = []
    previous = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        current = [i] + [0] * len(b)
        for j, cb in enumerate(b, 1):
            current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (ca != cb))
            if i > 1 and j > 1 and ca == b[j - 2] and a[i - 2] == cb:
                current[j] = min(current[j], previous2[j - 2] + 1)
        previous2, previous = previous, current
    return previous[-1]


def did_you_mean(word: str, candidates: Iterable[str]) -> str | None:
    """A hint naming the closest candidate to a misspelt ``word``, or None.

    Closest means fewest edits (a swap of two neighbours counts as one), then the same
    length, then the longest common subsequence. Up to two edits (or a third of a long word)
    are allowed, and never so many that nothing of the word is left.
    """
    import difflib  # only when a name is unknown

    pool = sorted(set(candidates))
    limit = min(max(2, len(word) // 3), len(word) - 1)
    scored = []
    for candidate in pool:
        distance = edit_distance(word.lower(), candidate.lower())
        if distance <= limit:
            ratio = difflib.SequenceMatcher(None, word, candidate).ratio()
            scored.append((distance, abs(len(candidate) - len(word)), -ratio, candidate))
    if not scored:
        return None
    return f"did you mean '{min(scored)[3]}'?"


def choices_hint(candidates: Iterable[str], limit: int = 12) -> str:
    names = sorted(set(candidates))
    shown = ", ".join(f"'{n}'" for n in names[:limit])
    more = f" and {len(names) - limit} more" if len(names) > limit else ""
    return f"expected one of {shown}{more}"


def printable(line: str) -> str:
    """A source line as shown under a diagnostic: one column per character, no control codes
    (tabs, form feeds, carriage returns and line separators become spaces)."""
    return "".join(" " if (not ch.isprintable() and ch != " ") else ch for ch in line)


def render(diagnostic: Diagnostic, sources: dict[str, str]) -> str:
    """Human-readable form: location, severity, code, message, source line with carets, hint."""
    d = diagnostic
    head = f"{d.severity.value}[{d.code}]: {d.message}"
    lines = [f"{d.span}: {head}" if d.span else head]
    if d.span is not None and d.span.file in sources:
        text_lines = sources[d.span.file].split("\n")
        if 1 <= d.span.line <= len(text_lines):
            source_line = printable(text_lines[d.span.line - 1])
            number = str(d.span.line)
            pad = " " * len(number)
            start = max(d.span.column, 1)
            if d.span.end_line == d.span.line:
                width = max(d.span.end_column - start, 1)
            else:
                width = max(len(source_line) - start + 1, 1)
            lines.append(f" {number} | {source_line}")
            lines.append(f" {pad} | {' ' * (start - 1)}{'^' * width}")
    for note in d.notes:
        lines.append(f"  = note: {note}")
    if d.hint:
        lines.append(f"  = hint: {d.hint}")
    return "\n".join(lines)
