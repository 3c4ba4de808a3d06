"""The standard library of learning rules: the ``.snn`` files of this folder, imported into
every program (:mod:`snnc.frontend.loader` parses them; diagnostics show them under
``<stdlib>/<name>``)."""

from __future__ import annotations

import functools
from importlib import resources

#: how diagnostics and spans name a standard-library file
STDLIB_PREFIX = "<stdlib>/"


@functools.lru_cache(maxsize=1)
def stdlib_sources() -> tuple[tuple[str, str], ...]:
    """(display path, text) of every standard-library file, sorted by name."""
    folder = resources.files(__name__)
    files = sorted(f for f in folder.iterdir() if f.name.endswith(".snn"))
    return tuple((STDLIB_PREFIX + f.name, f.read_text(encoding="utf-8")) for f in files)
