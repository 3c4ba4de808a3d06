"""Passes over the IR, by name. A pass is a small object with a ``name``, a ``description``,
its prerequisites ``requires`` (the passes that must have run before it, whose results it
reads or whose checks it relies on) and ``run(net, diag) -> Network``; checks only add
diagnostics, transforms keep ``net.verify()``.

The registry maps names to loaders, so a pass's module is imported only when it runs.
:func:`run_pipeline` runs passes in the order given and refuses (:class:`PassOrderError`, a bug
in the caller) a pass whose prerequisites neither ran before on the network nor come earlier;
:func:`schedule` puts passes after their prerequisites, adding the missing ones. The pipeline
stops after the first pass that reported errors. The names of the passes that ran are kept in
``net.analyses[RAN]``.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterable
from typing import Protocol

from snnc.diagnostics import Diagnostics, report_too_deep
from snnc.ir.network import Network


class Pass(Protocol):
    name: str
    description: str
    requires: tuple[str, ...]

    def run(self, net: Network, diag: Diagnostics) -> Network: ...


#: pass name -> (module, class) in snnc.passes
REGISTRY: dict[str, tuple[str, str]] = {
    "check-shapes": ("check_shapes", "CheckShapes"),
    "check-ranges": ("check_ranges", "CheckRanges"),
    "check-rule-variables": ("check_rule_variables", "CheckRuleVariables"),
    "check-locality": ("check_locality", "CheckLocality"),
    "check-target": ("check_target", "CheckTarget"),
    "check-fit": ("check_fit", "CheckFit"),
    "check-memory": ("check_memory", "CheckMemory"),
    "partition": ("partition", "Partition"),
    "place": ("place", "Place"),
}

DEFAULT_PIPELINE = ("check-shapes", "check-ranges", "check-rule-variables", "check-locality",
                    "check-target", "check-fit", "check-memory")
#: what 'snnc map' runs after the default pipeline
MAPPING_PIPELINE = ("partition", "place")
#: the key of ``net.analyses`` that lists the passes that ran on the network, in order
RAN = "passes"


class PassOrderError(Exception):
    """A pass asked to run before its prerequisites (a bug in the caller, not the input)."""


def pass_class(name: str) -> type:
    """The class of the registered pass ``name`` (KeyError for an unknown name)."""
    module_name, class_name = REGISTRY[name]
    return getattr(importlib.import_module(f"snnc.passes.{module_name}"), class_name)


def get_pass(name: str, **options) -> Pass:
    return pass_class(name)(**options)


def requirements(name: str) -> tuple[str, ...]:
    """The passes ``name`` needs to have run before it (its ``requires``)."""
    return tuple(pass_class(name).requires)


def schedule(names: Iterable[str], done: Iterable[str] = ()) -> list[str]:
    """``names`` with their prerequisites (transitively) that are not in ``done``, each after
    what it requires; otherwise in the order given (a depth-first topological order).
    Raises :class:`PassOrderError` for a cycle."""
    order: list[str] = []
    finished = set(done)
    visiting: list[str] = []

    def visit(name: str) -> None:
        if name in finished:
            return
        if name in visiting:
            raise PassOrderError("the passes' prerequisites form a cycle: "
                                 + " -> ".join([*visiting, name]))
        visiting.append(name)
        for required in requirements(name):
            visit(required)
        visiting.pop()
        finished.add(name)
        order.append(name)

    for name in names:
        visit(name)
    return order


def check_order(names: Iterable[str], done: Iterable[str] = ()) -> None:
    """Raise :class:`PassOrderError` unless every pass of ``names`` comes after its
    prerequisites (or they are in ``done``, the passes that already ran)."""
    ran = set(done)
    for name in names:
        missing = [required for required in requirements(name) if required not in ran]
        if missing:
            raise PassOrderError(
                f"pass '{name}' needs {', '.join(repr(m) for m in missing)} to run before it; "
                "list it earlier or order the passes with snnc.passes.schedule()")
        ran.add(name)


def ran(net: Network) -> list[str]:
    """The names of the passes that ran on ``net``, in order."""
    return net.analyses.get(RAN, [])


def run_pipeline(net: Network, diag: Diagnostics, names: Iterable[str] = DEFAULT_PIPELINE, *,
                 options: dict[str, dict] | None = None,
                 after_each: Callable[[str, Network], None] | None = None) -> Network | None:
    """Run the passes in order; None when one of them reported errors. Raises
    :class:`PassOrderError` before running any when one would run before its prerequisites."""
    names = list(names)
    check_order(names, ran(net))
    options = options or {}
    for name in names:
        try:
            net = get_pass(name, **options.get(name, {})).run(net, diag)
        except RecursionError:
            file = net.files[-1] if net.files else "<input>"
            report_too_deep(diag.sources.get(file, ""), file, diag)
            return None
        net.analyses.setdefault(RAN, []).append(name)
        if after_each is not None:
            after_each(name, net)
        if diag.has_errors:
            return None
    return net
