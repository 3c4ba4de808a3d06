"""Passes over the IR, by name. A pass is a small object with a ``name`` and
``run(net, diag) -> Network``; checks only add diagnostics, transforms keep ``net.verify()``.

The registry maps names to loaders, so a pass's module is imported only when it runs.
The pipeline stops after the first pass that reported errors.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterable
from typing import Protocol

from snnc.diagnostics import Diagnostics
from snnc.frontend.parser import report_too_deep
from snnc.ir.network import Network


class Pass(Protocol):
    name: str
    description: str

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


def get_pass(name: str, **options) -> Pass:
    module_name, class_name = REGISTRY[name]
    module = importlib.import_module(f"snnc.passes.{module_name}")
    return getattr(module, class_name)(**options)


def run_pipeline(net: Network, diag: Diagnostics, names: Iterable[str] = DEFAULT_PIPELINE, *,
                 options: dict[str, dict] | None = None,
                 after_each: Callable[[str, Network], None] | None = None) -> Network | None:
    """Run the passes in order; None when one of them reported errors."""
    options = options or {}
    for name in names:
        try:
            net = get_pass(name, **options.get(name, {})).run(net, diag)
        except RecursionError:
            file = net.files[-1] if net.files else "<input>"
            report_too_deep(diag.sources.get(file, ""), file, diag)
            return None
        if after_each is not None:
            after_each(name, net)
        if diag.has_errors:
            return None
    return net
