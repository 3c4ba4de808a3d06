"""How much memory would the reference simulator need? An estimate from counts, before anything
is allocated (:mod:`snnc.memory`).

The estimate (batch ``batch``) is attached to the network as ``net.analyses["check-memory"]``,
a :class:`snnc.memory.Estimate`, and ``snnc check`` prints it in its summary. Only with
``enforce`` (what ``snnc run``, ``train`` and ``compile`` use, the commands that build the
network's arrays) does an estimate above the machine's available memory become E617: ``snnc
check`` accepts a network that only a bigger machine can simulate, and says how big it is.
"""

from __future__ import annotations

from dataclasses import dataclass

from snnc.diagnostics import Diagnostics
from snnc.ir.network import Network
from snnc.memory import check_fits, estimate_network


@dataclass
class CheckMemory:
    name: str = "check-memory"
    description: str = "estimate the simulator's memory; E617 above the machine's (with enforce)"
    requires = ("check-shapes", "check-locality")
    enforce: bool = False
    batch: int = 1

    def run(self, net: Network, diag: Diagnostics) -> Network:
        estimate = estimate_network(net, self.batch)
        net.analyses[self.name] = estimate
        if self.enforce:
            check_fits(estimate, f"network '{net.settings.name}'", diag,
                       hint="reduce the populations or the projections' density (a dense "
                            "projection stores every pair), or use a machine with more memory")
        return net
