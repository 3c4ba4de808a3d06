"""Reading ``.snn`` files: the root file, its imports (relative to the importing file), and the
standard library of learning rules shipped in ``snnc/stdlib``.

Import errors are E6xx diagnostics at the ``import`` statement: a missing or unreadable file
(E601), an import cycle (E602), a file that is not UTF-8 text (E603), a path that is not a
regular file (E607: a directory, /dev/zero, a FIFO; nothing is read from it), a file larger
than 16 MiB (E608).
"""

from __future__ import annotations

import functools
import os
from dataclasses import dataclass

from snnc.diagnostics import Diagnostics, Span
from snnc.files import SOURCE_LIMIT, FileProblem, read_bytes
from snnc.frontend import ast
from snnc.frontend.grammar_cache import STDLIB_CACHE, cached_pickle, source_digest
from snnc.frontend.parser import grammar_text, parse_text
from snnc.stdlib import stdlib_sources


@dataclass(frozen=True)
class Program:
    """The user's modules (imports first, root last) and the standard-library modules."""

    root: str
    modules: tuple[ast.Module, ...]
    stdlib: tuple[ast.Module, ...]


def read_source(path: str, diag: Diagnostics, span: Span | None) -> str | None:
    """The text of ``path``, or None after an E601/E603 diagnostic."""
    try:
        data = read_bytes(path, SOURCE_LIMIT)
    except FileProblem as problem:
        hint = problem.hint
        if problem.code == "E601" and span is not None and "does not exist" in problem.message:
            hint = "paths in 'import' are relative to the importing file"
        diag.error(problem.code, span, problem.message, hint=hint)
        return None
    if data.startswith(b"\xef\xbb\xbf"):  # a UTF-8 byte-order mark is not part of the text
        data = data[3:]
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as error:
        line = data[: error.start].count(b"\n") + 1
        column = error.start - (data.rfind(b"\n", 0, error.start) + 1) + 1
        diag.error("E603", Span.point(path, line, column),
                   f"'{path}' is not UTF-8 text (byte 0x{data[error.start]:02x})",
                   hint="save the file as UTF-8")
        return None
    if "\x00" in text:
        index = text.index("\x00")
        line = text.count("\n", 0, index) + 1
        column = index - (text.rfind("\n", 0, index) + 1) + 1
        diag.add_source(path, text)
        diag.error("E603", Span.point(path, line, column), f"'{path}' contains a NUL byte",
                   hint="is this a binary file?")
        return None
    return text


def load_file(path: str, diag: Diagnostics) -> Program | None:
    """Load ``path`` and everything it imports; None if any file could not be read or parsed."""
    text = read_source(path, diag, None)
    if text is None:
        return None
    return load_text(text, path, diag)


def load_text(text: str, path: str, diag: Diagnostics) -> Program | None:
    """Like :func:`load_file` for text already in memory (imports are read from disk)."""
    modules: list[ast.Module] = []
    loaded: set[str] = set()
    ok = _load(text, path, diag, modules, loaded, stack=[])
    if not ok:
        return None
    return Program(path, tuple(modules), stdlib_modules())


def _load(text: str, path: str, diag: Diagnostics, modules: list[ast.Module], loaded: set[str],
          stack: list[str]) -> bool:
    module = parse_text(text, path, diag)
    if module is None:
        return False
    key = os.path.realpath(path)
    loaded.add(key)
    stack.append(key)
    ok = True
    for item in module.items:
        if not isinstance(item, ast.Import):
            continue
        target = os.path.normpath(os.path.join(os.path.dirname(path), item.path.value))
        target_key = os.path.realpath(target)
        if target_key in stack:
            chain = " -> ".join(os.path.basename(p) for p in stack[stack.index(target_key):])
            diag.error("E602", item.path.span, f"import cycle: {chain} -> "
                       f"{os.path.basename(target)}", hint="remove one of the imports")
            ok = False
            continue
        if target_key in loaded:
            continue
        imported = read_source(target, diag, item.path.span)
        if imported is None:
            ok = False
            continue
        ok = _load(imported, target, diag, modules, loaded, stack) and ok
    stack.pop()
    modules.append(module)
    return ok


#: the modules whose source decides what parsing gives (the key of the cached standard library)
PARSING_MODULES = ["snnc.diagnostics", "snnc.frontend.ast", "snnc.frontend.build_ast",
                   "snnc.frontend.parser", "snnc.frontend.loader"]


@functools.lru_cache(maxsize=1)
def stdlib_modules() -> tuple[ast.Module, ...]:
    """The parsed standard library (it is part of the package and always parses), from the
    user's cache when neither it nor the front end changed (snnc.frontend.grammar_cache)."""
    texts = [text for pair in stdlib_sources() for text in pair] + [grammar_text()]
    key = source_digest(texts, PARSING_MODULES)
    return cached_pickle(STDLIB_CACHE, key, parse_stdlib)


def parse_stdlib() -> tuple[ast.Module, ...]:
    modules = []
    for path, text in stdlib_sources():
        sink = Diagnostics()
        module = parse_text(text, path, sink)
        if module is None:
            raise RuntimeError(f"the standard library file {path} does not parse: "
                               f"{[d.message for d in sink.items]}")
        modules.append(module)
    return tuple(modules)
