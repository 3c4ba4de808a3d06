"""Backends by name, loaded lazily: ``get_backend("reference")``.

A backend has a ``name``, ``check(net, diag)`` (one E5xx per construct it cannot emit) and a
pure, deterministic ``emit(net) -> {relative path: str | bytes}``; only the CLI writes files.
Backends that print code from Jinja templates load them with :func:`templates`.
"""

from __future__ import annotations

import importlib

#: backend name -> (module, class, extra that provides its dependencies or None)
REGISTRY: dict[str, tuple[str, str, str | None]] = {
    "reference": ("snnc.backends.reference", "ReferenceBackend", None),
    "nir": ("snnc.backends.nir", "NirBackend", "nir"),
    "lava": ("snnc.backends.lava", "LavaBackend", None),
}

#: the backends that record the core assignment of a mapping.json (``snnc compile --mapping``)
MAPPED: tuple[str, ...] = ("lava", "nir")


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


def templates(package: str):
    """The Jinja environment of a backend's ``templates/`` folder (in ``package``).

    Templates are files of snnc's, never user text. Undefined names are errors, and the
    escapers of :mod:`snnc.literals` are filters that every ``{{ }}`` printing user text uses
    explicitly: ``py`` (a Python literal), ``py_comment`` (in a comment) and ``md`` (inline
    Markdown). Nothing is escaped implicitly (the templates print Python and Markdown, where
    HTML escaping would be wrong).
    """
    from importlib import resources

    import jinja2

    from snnc import literals

    def load(name: str) -> str:
        return resources.files(package).joinpath("templates", name).read_text(encoding="utf-8")

    env = jinja2.Environment(undefined=jinja2.StrictUndefined, keep_trailing_newline=True,
                             autoescape=False, loader=jinja2.FunctionLoader(load))
    env.filters.update(py=literals.py, py_comment=literals.py_comment, md=literals.markdown)
    return env
