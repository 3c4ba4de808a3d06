"""The NIR backend: ``network.nir`` (HDF5, via the ``nir`` package; extra ``snnc[nir]``).

``check`` reports what NIR cannot express (E502-E507): an error by default, a warning for the
losses named in ``allow_lossy`` (:data:`LOSSES`). A NIR graph is an inference graph: learning
rules go into its metadata with a warning (W505) whatever ``allow_lossy`` says. Values are validated before writing (E508: finite, time constants > 0),
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
#: what ``--allow-lossy`` may drop, by name (the names of ``snnc compile --help`` and the README)
LOSSES = {"reset": "E502", "adaptation": "E503", "refractory": "E504", "learning": "E505",
          "bias": "E506", "v_init": "E507"}
#: dropped with a warning by default: a NIR graph is an inference graph
DEFAULT_LOSSES = ("learning",)


def lossy_names(value: str) -> str:
    """The ``--allow-lossy`` value: ``all`` or comma-separated names of :data:`LOSSES`."""
    names = [name.strip() for name in str(value).split(",") if name.strip()]
    unknown = [name for name in names if name != "all" and name not in LOSSES]
    if unknown or not names:
        import argparse
        hint = (f"; to name the program, put it before the flag or write --allow-lossy=all "
                f"{value}" if str(value).endswith(".snn") else "")
        raise argparse.ArgumentTypeError(
            f"unknown loss {', '.join(map(repr, unknown)) or repr(value)}: choose from "
            f"{', '.join(LOSSES)} or all (comma-separated){hint}")
    return ",".join(names)


def allowed_codes(allow_lossy: bool | str | tuple | list | None) -> set[str]:
    """The codes that are warnings for this ``allow_lossy``: True or ``all`` every lossy one,
    a comma-separated string or sequence of names those, plus the defaults."""
    if allow_lossy is True or allow_lossy == "all":
        return set(LOSSES.values())
    names = allow_lossy.split(",") if isinstance(allow_lossy, str) else list(allow_lossy or ())
    if "all" in names:
        return set(LOSSES.values())
    return {LOSSES[name] for name in (*DEFAULT_LOSSES, *names) if name in LOSSES}


@dataclass
class NirBackend(Backend):
    name: ClassVar[str] = "nir"
    description: ClassVar[str] = "network.nir, the graph for other simulators and chips"
    #: the extra that provides ``nir`` (imported only when writing; checked by get_backend)
    extra: ClassVar[str | None] = "nir"
    extra_modules: ClassVar[tuple[str, ...]] = ("nir",)
    #: the export reads the locality reports (the rules' traces)
    required_passes: ClassVar[tuple[str, ...]] = ("check-locality",)
    #: ``--allow-lossy NAMES``; a bare ``--allow-lossy`` means all (as before names existed)
    allow_lossy: bool | str = option(
        "", "export without the named constructs NIR cannot express (warnings instead of "
            "errors), comma-separated: reset, adaptation, refractory, bias, v_init, "
            "learning (always: rules go into the metadata), or all",
        metavar="NAMES", type=lossy_names, nargs="?", const="all")
    delivery: str = delivery_option("same_step")
    #: the content of a mapping.json from ``snnc map``, recorded in the graph's metadata
    mapping: dict | None = mapping_option()
    mapping_file: str = "mapping.json"

    def check(self, net: Network, diag: Diagnostics) -> None:
        if self.mapping is not None:
            core_of_neurons(self.mapping, {p.name: p.size for p in net.populations()},
                            self.mapping_file, diag)
        plan = build_plan(net, self.delivery)
        allowed = allowed_codes(self.allow_lossy)
        names = {code: name for name, code in LOSSES.items()}
        for code, span, message in lossy_constructs(net, plan):
            if code in allowed and code not in UNEXPRESSIBLE:
                done = {LOSSES["learning"]: " (an inference graph)",
                        LOSSES["reset"]: " (NIR's reset; the node's metadata 'reset' keeps "
                                         "snnc's, which snnc.peers and snnc import-nir read)"
                        }.get(code, " (exported without it)")
                diag.warning("W" + code[1:], span, message + done)
            elif code in names:
                flag = f"--allow-lossy {names[code]}"
                diag.error(code, span, message + " (a change of dynamics)",
                           hint=f"pass {flag} to export without it (a warning then)")
            else:
                diag.error(code, span, message)

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
