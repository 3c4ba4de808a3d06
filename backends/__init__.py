"""Backends by name, loaded lazily: ``get_backend("reference")``.

A backend has a ``name``, ``check(net, diag)`` (one E5xx per construct it cannot emit) and a
pure, deterministic ``emit(net) -> {relative path: str | bytes}``; only the CLI writes files.
"""

from __future__ import annotations

import importlib

#: backend name -> (module, class, extra that provides its dependencies or None)
REGISTRY: dict[str, tuple[str, str, str | None]] = {
    "reference": ("snnc.backends.reference", "ReferenceBackend", None),
    "nir": ("snnc.backends.nir", "NirBackend", "nir"),
    "lava": ("snnc.backends.lava", "LavaBackend", None),
}


class MissingExtra(Exception):
    """A backend's optional dependency is not installed."""


def get_backend(name: str, **options):
    module_name, class_name, extra = REGISTRY[name]
    try:
        module = importlib.import_module(module_name)
    except ImportError as error:
        raise MissingExtra(f"backend '{name}' needs: pip install 'snnc[{extra}]' "
                           f"({error.name} is missing)") from error
    return getattr(module, class_name)(**options)
