"""Backends by name: ``get_backend("reference")``, and the registry they come from.

Every backend implements the contract of :mod:`snnc.backends.base`. The registry is built from
the backend packages' own declarations: each package's ``__init__`` exposes ``BACKEND`` (its
class), and the packages are the built-in ones (:data:`BUILTIN`) and those other installed
distributions declare in the entry-point group ``snnc.backends`` (``name = "package"``, or
``"package:Class"``).
Adding a backend is one package; nothing in snnc names it. The registry is ordered by name
(deterministic help and flags) and loaded on first use; a backend's optional dependency (its
extra) is checked only when the backend is used (:class:`MissingExtra`).

Backends that print code from Jinja templates load them with :func:`templates`.
"""

from __future__ import annotations

import dataclasses
import functools
import importlib
import importlib.util
import inspect

#: the backend packages of snnc itself
BUILTIN: tuple[str, ...] = ("snnc.backends.lava", "snnc.backends.nest", "snnc.backends.nir",
                            "snnc.backends.reference", "snnc.backends.xylo")
#: the entry-point group through which another distribution adds a backend package
ENTRY_POINT_GROUP = "snnc.backends"
#: the backend of ``snnc compile`` without ``--emit``
DEFAULT_BACKEND = "reference"


class MissingExtra(Exception):
    """A backend's optional dependency is not installed."""


class RegistryError(Exception):
    """Two backend packages declare the same name, or a package declares no BACKEND."""


@functools.cache
def registry() -> dict:
    """Backend name -> backend class (a :class:`snnc.backends.base.Backend`), by name."""
    from importlib.metadata import entry_points  # ~30 ms: only when a backend is needed
    loaders = [(package, functools.partial(importlib.import_module, package))
               for package in BUILTIN]
    loaders += [(point.value, point.load) for point in sorted(
        entry_points(group=ENTRY_POINT_GROUP), key=lambda point: point.name)]
    found: dict = {}
    for package, load in loaders:
        loaded = load()  # a package exposing BACKEND, or ("package:Class") the class itself
        backend = getattr(loaded, "BACKEND", None) if inspect.ismodule(loaded) else loaded
        if backend is None:
            raise RegistryError(f"backend package '{package}' has no BACKEND")
        if backend.name in found:
            raise RegistryError(f"two backend packages are named '{backend.name}': "
                                f"{found[backend.name].__module__} and {package}")
        found[backend.name] = backend
    return dict(sorted(found.items()))


def mapped() -> tuple[str, ...]:
    """The backends that record the core assignment of a mapping.json (``--mapping``)."""
    return tuple(name for name, backend in registry().items()
                 if any(f.name == "mapping" for f in backend.options()))


def __getattr__(name: str):
    # REGISTRY and MAPPED read the registry when first asked for (not at import: the
    # backend packages import this module)
    if name == "REGISTRY":
        return registry()
    if name == "MAPPED":
        return mapped()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def backend_class(name: str):
    """The class of backend ``name``. A built-in backend's package is named after it
    (``snnc.backends.<name>``) and is imported alone, without the other backends and the
    entry points (``snnc run`` needs only the reference simulator); any other name is looked
    up in the whole :func:`registry`. KeyError for an unknown name."""
    package = f"{__name__}.{name}"
    if package in BUILTIN:
        backend = importlib.import_module(package).BACKEND
        if backend.name == name:
            return backend
    return registry()[name]


def get_backend(name: str, **options):
    """The backend ``name`` with ``options`` (its dataclass fields); KeyError for an unknown
    name, :class:`MissingExtra` when its extra is not installed."""
    backend = backend_class(name)
    for module in backend.extra_modules:
        if importlib.util.find_spec(module) is None:
            raise MissingExtra(f"backend '{name}' needs: pip install 'snnc[{backend.extra}]' "
                               f"({module} is missing)")
    return backend(**options)


def declared_options() -> dict[str, list[tuple[str, dataclasses.Field]]]:
    """Every ``snnc compile`` flag option: its field name -> [(backend, its field)] for the
    backends that have it, in the order the backends (by name) declare them."""
    options: dict[str, list[tuple[str, dataclasses.Field]]] = {}
    for name, backend in registry().items():
        for field in backend.options():
            options.setdefault(field.name, []).append((name, field))
    return options


def templates(package: str):
    """The Jinja environment of a backend's ``templates/`` folder (in ``package``).

    Templates are files of snnc's, never user text. Undefined names are errors, and the
    escapers of :mod:`snnc.literals` are filters that every ``{{ }}`` printing user text uses
    explicitly: ``py`` (a Python literal), ``py_comment`` (in a comment) and ``md`` (inline
    Markdown). Nothing is escaped implicitly (the templates print Python and Markdown, where
    HTML escaping would be wrong). ``{% include "shared/NAME" %}`` includes ``NAME`` from
    snnc.backends' own ``shared/`` folder (text several backends' programs share).
    """
    from importlib import resources

    import jinja2

    from snnc import literals

    def load(name: str) -> str:  # "shared/NAME": snnc.backends' own shared/NAME
        folder = (resources.files("snnc.backends").joinpath("shared") if name.startswith(
            "shared/") else resources.files(package).joinpath("templates"))
        return folder.joinpath(name.removeprefix("shared/")).read_text(encoding="utf-8")

    env = jinja2.Environment(undefined=jinja2.StrictUndefined, keep_trailing_newline=True,
                             autoescape=False, loader=jinja2.FunctionLoader(load))
    env.filters.update(py=literals.py, py_comment=literals.py_comment, md=literals.markdown)
    return env
