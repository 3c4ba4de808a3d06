"""The Backend contract: what every backend of ``snnc compile --emit`` implements.

A backend is a package of ``snnc.backends`` (or of another distribution, see
:mod:`snnc.backends`) whose ``__init__`` exposes ``BACKEND``: a dataclass that subclasses
:class:`Backend`. Its dataclass fields are its *options*; a field made with :func:`option`
becomes a flag of ``snnc compile`` (``allow_lossy`` -> ``--allow-lossy``), other fields are
options that only Python callers set (``source_file``, ``mapping_file``). The package's
``__init__`` is imported whenever the ``snnc`` parser is built, so it must stay light: import
an optional dependency (its extra, :attr:`Backend.extra_modules`) inside the methods.

The life of one ``snnc compile`` (driven by :func:`snnc.api.emit_artifacts`, the same for every
backend):

1. :meth:`Backend.prepare` turns the flags' text into option values (``--mapping`` reads a
   mapping.json); None after errors;
2. the passes in :attr:`Backend.required_passes` that have not run yet run (with their
   prerequisites, :func:`snnc.passes.schedule`);
3. :meth:`Backend.check` adds one diagnostic per construct the backend cannot emit (E5xx);
4. :meth:`Backend.emit` returns the files, ``{relative path: str | bytes}``: pure and
   deterministic (the same network gives the same bytes); :meth:`Backend.extra_artifacts`
   adds what depends on the machine (a drawing when Graphviz is installed). Only
   :mod:`snnc.output` writes them;
5. the CLI prints ``wrote ... artifacts`` and :meth:`Backend.summary`'s lines.
"""

from __future__ import annotations

import abc
import dataclasses
from collections.abc import Callable
from typing import Any, ClassVar

from snnc.diagnostics import Diagnostics
from snnc.ir.discrete import DELIVERIES

#: what a :class:`Flag` reader returns: option values by field name, or None after errors
Reader = Callable[[str, Diagnostics], "dict[str, Any] | None"]


@dataclasses.dataclass(frozen=True)
class Flag:
    """How an option appears on ``snnc compile`` (the field's ``metadata["flag"]``).

    ``help`` is the flag's help text; when not every backend has the option, the parser puts
    the names of those that do before it (``nir: export ...``). ``{default}`` in ``help`` is
    replaced by the backends' defaults (``same_step, and next_step for lava``, each followed
    by that backend's ``note``). A bool option is a switch (``--allow-lossy``), any other
    takes a value converted by ``type`` (one of ``choices`` when given). ``read`` turns the
    value, the name of an input file, into option values (None after errors); ``exclusive``
    makes the flag a usage error with a backend that lacks the option."""
    help: str
    metavar: str | None = None
    choices: tuple[str, ...] | None = None
    type: Callable[[str], Any] = str
    read: Reader | None = None
    exclusive: bool = False
    note: str = ""
    #: argparse's nargs and const: ``nargs="?"`` with a ``const`` makes the value optional
    #: (``--allow-lossy`` alone means ``const``)
    nargs: str | None = None
    const: Any = None


def option(default: Any, help: str, **flag: Any) -> Any:
    """A dataclass field that is a ``snnc compile`` flag (see :class:`Flag` for ``flag``)."""
    return dataclasses.field(default=default, metadata={"flag": Flag(help=help, **flag)})


def read_mapping(path: str, diag: Diagnostics) -> dict | None:
    """A mapping.json of ``snnc map`` (E601 when it cannot be read, E606 when it is not an
    object); None after errors."""
    from snnc.files import FileProblem, read_json
    try:
        mapping = read_json(path, what="mapping")
    except FileProblem as problem:
        diag.error(problem.code, None, f"--mapping: {problem.message}",
                   hint="write one with 'snnc map FILE --target CHIP -o DIR'")
        return None
    if not isinstance(mapping, dict):
        diag.error("E606", None, f"mapping '{path}' is not a mapping.json of snnc map")
        return None
    return mapping


def _read_mapping_option(path: str, diag: Diagnostics) -> dict[str, Any] | None:
    mapping = read_mapping(path, diag)
    return None if mapping is None else {"mapping": mapping, "mapping_file": path}


def delivery_option(default: str = "same_step", note: str = "") -> Any:
    """The ``--delivery`` option (when a spike reaches its target), with this backend's
    default; ``note`` says why when it differs from the others'."""
    return option(default, "when a spike reaches its target (see README; default: {default})",
                  choices=DELIVERIES, note=note, exclusive=True)


def mapping_option() -> Any:
    """The ``--mapping JSON`` option: the content of a mapping.json of ``snnc map`` (the core
    assignment), read from the flag's file; the backend also needs a ``mapping_file: str``
    field (the file's name, for diagnostics)."""
    return option(None, "record the core assignment of this mapping.json (from snnc map)",
                  metavar="JSON", read=_read_mapping_option, exclusive=True)


class Backend(abc.ABC):
    """The base of every backend (a dataclass of its options, see the module's docstring)."""

    #: the name of ``--emit`` and of the registry
    name: ClassVar[str]
    #: one line on what the backend writes
    description: ClassVar[str]
    #: the pip extra that provides the optional dependencies, and the modules it provides
    #: (checked before the backend is used: a missing one is a clear message, not a traceback)
    extra: ClassVar[str | None] = None
    extra_modules: ClassVar[tuple[str, ...]] = ()
    #: the passes whose results the backend reads (``net.analyses``); the API runs those that
    #: have not run, with their prerequisites, before :meth:`check`
    required_passes: ClassVar[tuple[str, ...]] = ()
    #: whether compiling builds the reference simulator's arrays, so that a network too large
    #: for them is refused first (E617); a backend that estimates its own engine's memory
    #: (NEST: E525) and never draws what its engine draws says False
    simulator_memory: ClassVar[bool] = True

    @classmethod
    def options(cls) -> tuple[dataclasses.Field, ...]:
        """The options that are ``snnc compile`` flags, in declaration order."""
        return tuple(f for f in dataclasses.fields(cls) if "flag" in f.metadata)

    @classmethod
    def default_delivery(cls) -> str | None:
        """The delivery the backend builds with unless told otherwise (None: it has none)."""
        found = [f.default for f in dataclasses.fields(cls) if f.name == "delivery"]
        return found[0] if found else None

    @classmethod
    def prepare(cls, values: dict[str, Any], diag: Diagnostics) -> dict[str, Any] | None:
        """The options for the flags' ``values`` (by field name; None: not given): values of
        options with a reader are read (a file), the others taken as they are; None after
        errors (in ``diag``)."""
        flags = {f.name: f.metadata["flag"] for f in cls.options()}
        options: dict[str, Any] = {}
        for key, value in values.items():
            flag = flags.get(key)
            if value is None or flag is None:
                continue
            if flag.read is None:
                options[key] = value
                continue
            read = flag.read(value, diag)
            if read is None:
                return None
            options.update(read)
        return options

    def configured(self, options: dict[str, Any]) -> Backend:
        """A copy with ``options`` applied; those the backend does not take, and None, are
        left out (the backend keeps its default)."""
        taken = {f.name for f in dataclasses.fields(self) if f.init}
        return dataclasses.replace(self, **{key: value for key, value in options.items()
                                            if key in taken and value is not None})

    @abc.abstractmethod
    def check(self, net, diag: Diagnostics) -> None:
        """One diagnostic per construct the backend cannot emit (E5xx); nothing else."""

    @abc.abstractmethod
    def emit(self, net) -> dict[str, str | bytes]:
        """The files for the checked ``net`` (after :meth:`check` without errors): pure and
        deterministic."""

    def extra_artifacts(self, files: dict[str, str | bytes]) -> dict[str, str | bytes]:
        """Files derived from ``files`` that depend on this machine (none by default)."""
        return {}

    def summary(self, files: dict[str, str | bytes]) -> list[str]:
        """Lines the CLI prints after ``wrote ... artifacts`` (none by default)."""
        return []
