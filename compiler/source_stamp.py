"""A digest of snnc's own source files, for the caches that keep what snnc built from them
(the lowered networks of :mod:`snnc.ir.lowered_cache`, the simulations of
``snnc.backends.reference.runner``): an edit, an upgrade or another installation changes it,
so no cache ever serves what older code built."""

from __future__ import annotations

import functools
import hashlib
import importlib.util
import os

#: the packages whose files make snnc (code, templates, grammar, standard library)
SOURCE_PACKAGES = ("snnc", "snnc.backends", "snnc.grammar")
SOURCE_SUFFIXES = (".py", ".j2", ".jinja", ".lark", ".json", ".snn", ".txt")


@functools.lru_cache(maxsize=1)
def source_stamp() -> str:
    """A digest of the path, size and modification time of every source file of snnc (code,
    templates, grammar, standard library), as Python's own ``.pyc`` files stamp theirs."""
    digest = hashlib.sha256()
    for package in SOURCE_PACKAGES:
        top = os.path.dirname(importlib.util.find_spec(package).origin)  # not imported
        for folder, folders, files in os.walk(top):
            folders[:] = sorted(f for f in folders if f != "__pycache__")
            for name in sorted(files):
                if name.endswith(SOURCE_SUFFIXES):
                    info = os.stat(os.path.join(folder, name))
                    digest.update(f"{os.path.relpath(os.path.join(folder, name), top)}"
                                  f"\0{info.st_size}\0{info.st_mtime_ns}\0".encode())
    return digest.hexdigest()
