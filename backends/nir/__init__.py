"""The NIR backend: ``network.nir`` (HDF5, via the ``nir`` package; extra ``snnc[nir]``).

``check`` reports what NIR cannot express (E502-E507): an error by default, a warning with
``allow_lossy``. Values are validated before writing (E508: finite, time constants > 0),
since nir itself checks structure but not values.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from snnc.backends.base import Backend, delivery_option, mapping_option, option
from snnc.backends.nir.export import export_graph, lossy_constructs
from snnc.diagnostics import Diagnostics
from snnc.ir.discrete import build_plan
from snnc.ir.network import Network
from snnc.mapping.document import core_of_neurons

#: constructs that cannot be exported at all (not even by dropping something)
UNEXPRESSIBLE = ("E508", "E515")  # never lossy: invalid values, a model NIR has no node for


@dataclass
class NirBackend(Backend):
    name: ClassVar[str] = "nir"
    description: ClassVar[str] = "network.nir, the graph for other simulators and chips"
    #: the extra that provides ``nir`` (imported only when writing; checked by get_backend)
    extra: ClassVar[str | None] = "nir"
    extra_modules: ClassVar[tuple[str, ...]] = ("nir",)
    #: the export reads the locality reports (the rules' traces)
    required_passes: ClassVar[tuple[str, ...]] = ("check-locality",)
    allow_lossy: bool = option(False, "export constructs NIR cannot express without them "
                                      "(warnings instead of errors)")
    delivery: str = delivery_option("same_step")
    #: the content of a mapping.json from ``snnc map``, recorded in the graph's metadata
    mapping: dict | None = mapping_option()
    mapping_file: str = "mapping.json"

    def check(self, net: Network, diag: Diagnostics) -> None:
        if self.mapping is not None:
            core_of_neurons(self.mapping, {p.name: p.size for p in net.populations()},
                            self.mapping_file, diag)
        plan = build_plan(net, self.delivery)
        for code, span, message in lossy_constructs(net, plan):
            if self.allow_lossy and code not in UNEXPRESSIBLE:
                diag.warning("W" + code[1:], span, message + " (exported without it)")
            else:
                diag.error(code, span, message,
                           hint="pass --allow-lossy to export without it (a warning then)")

    def emit(self, net: Network) -> dict[str, str | bytes]:
        import nir

        from snnc import __version__
        graph = export_graph(net, __version__, self.delivery, mapping=self.mapping)
        validate(graph)
        buffer = io.BytesIO()
        nir.write(buffer, graph)
        return {"network.nir": buffer.getvalue()}


def validate(graph) -> None:
    """Every parameter finite and every time constant positive (a bug otherwise: the IR
    passes already checked the program)."""
    for name, node in graph.nodes.items():
        for key, value in vars(node).items():
            if isinstance(value, np.ndarray) and value.dtype.kind == "f":
                if not np.all(np.isfinite(value)):
                    raise ValueError(f"NIR node '{name}': {key} is not finite")
                if key.startswith("tau") and not np.all(value > 0):
                    raise ValueError(f"NIR node '{name}': {key} must be positive")


BACKEND = NirBackend
