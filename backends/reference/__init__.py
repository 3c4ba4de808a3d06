"""The reference simulator backend: a standalone numpy module per network.

``emit(net)`` returns ``simulation.py`` (generated from ``templates/simulation.py.j2``), its
library ``snnc_runtime.py`` (a copy of :mod:`snnc.backends.reference.runtime`) and
``network.npz`` (weights, indices and per-neuron parameters), and for networks without
learning or dense projections ``simulation.c``, the same steps in C (:mod:`.native`). The CLI
runs the same module
in-process (:mod:`snnc.backends.reference.runner`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from snnc.backends.base import Backend, delivery_option
from snnc.diagnostics import Diagnostics
from snnc.ir.discrete import DELIVERIES
from snnc.ir.network import Network


@dataclass
class ReferenceBackend(Backend):
    name: ClassVar[str] = "reference"
    description: ClassVar[str] = "a standalone numpy simulation module (snnc run runs it)"
    delivery: str = delivery_option("same_step")

    def check(self, net: Network, diag: Diagnostics) -> None:
        """Every construct runs here, except the exact oracles as online rules (E501); only
        learning rules can be those, so the rules' module is imported for networks with
        rules alone (``snnc run`` of a network without them does not load it)."""
        if any(projection.rules for projection in net.projections()):
            from snnc.backends.reference.rules import check_online
            check_online(net, diag)

    def emit(self, net: Network) -> dict[str, str | bytes]:
        from snnc import __version__
        from snnc.backends.reference.codegen import render, runtime_source
        from snnc.ir.discrete import build_plan
        if self.delivery not in DELIVERIES:
            raise ValueError(f"unknown delivery {self.delivery!r}")
        source, data, native = render(build_plan(net, self.delivery), __version__)
        files = {"simulation.py": source, "snnc_runtime.py": runtime_source(), "network.npz": data}
        if native is not None:  # the steps as C, compiled by the runtime where a compiler is
            files["simulation.c"] = native
        return files


BACKEND = ReferenceBackend
