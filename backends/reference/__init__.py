"""The reference simulator backend: a standalone numpy module per network.

``emit(net)`` returns ``simulation.py`` (generated from ``templates/simulation.py.j2``) and
``network.npz`` (weights, indices and per-neuron parameters). The CLI runs the same module
in-process (:mod:`snnc.backends.reference.runner`).
"""

from __future__ import annotations

from dataclasses import dataclass

from snnc.backends.reference.codegen import render
from snnc.backends.reference.rules import check_online
from snnc.diagnostics import Diagnostics
from snnc.ir.discrete import DELIVERIES, build_plan
from snnc.ir.network import Network


@dataclass
class ReferenceBackend:
    name: str = "reference"
    delivery: str = "same_step"

    def check(self, net: Network, diag: Diagnostics) -> None:
        """Every construct runs here, except the exact oracles as online rules (E501)."""
        check_online(net, diag)

    def emit(self, net: Network) -> dict[str, str | bytes]:
        from snnc import __version__
        if self.delivery not in DELIVERIES:
            raise ValueError(f"unknown delivery {self.delivery!r}")
        source, data = render(build_plan(net, self.delivery), __version__)
        return {"simulation.py": source, "network.npz": data}
