"""The Xylo backend: a network as SynSense Xylo computes it, in integers (docs/synsense.md).

``emit`` writes a folder with ``spec.npz`` (the keyword arguments of Rockpool's
``XyloSim.from_specification``: int8-range weights, weight shifts, bit-shift decays, int16
thresholds and biases), ``layout.json`` (which chip neuron is which population neuron),
``quantization.json`` (every parameter's value, its integer and the relative error),
``inputs.npz`` (the spikes snnc draws for its Poisson and file inputs), ``run.py`` (runs the
specification in Rockpool's bit-accurate simulator, after Rockpool's own mapper has accepted a
network built from it) and a README. The compiler never imports Rockpool.

The chip is the network's target when that profile computes Xylo's arithmetic (``xylo``,
``xylo_audio3``, ``xylo_imu`` or a custom target based on one; ``snnc compile --target``),
otherwise Xylo Audio 2 (``xylo``), whose checks (E405, E402, E301 for learning rules) run here.
``check`` adds what only the integer program cannot express (E530) or represent (E531).
:mod:`snnc.backends.xylo.predict` runs the same specification in snnc's own integer
simulator (``snnc run --arithmetic``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import ClassVar

from snnc.backends.base import Backend
from snnc.diagnostics import Diagnostics
from snnc.ir.network import Network
from snnc.targets import TargetProfile, load_builtin

#: the profile used when the network's target does not compute Xylo's arithmetic
DEFAULT_CHIP = "xylo"


def chip_profile(net: Network) -> TargetProfile:
    """The network's checked target when it computes Xylo's arithmetic, else Xylo Audio 2."""
    checked = net.analyses.get("check-target")
    if isinstance(checked, TargetProfile) and checked.neurons.get("arithmetic") == "xylo":
        return checked
    return load_builtin(DEFAULT_CHIP)


@dataclass
class XyloBackend(Backend):
    name: ClassVar[str] = "xylo"
    description: ClassVar[str] = "a Xylo specification in integers, run by Rockpool's XyloSim"
    #: learning rules are refused through the target check (E301), which reads the locality
    required_passes: ClassVar[tuple[str, ...]] = ("check-locality",)
    source_file: str = "<network>"

    def check(self, net: Network, diag: Diagnostics) -> None:
        from snnc.backends.xylo.program import build_program
        profile = chip_profile(net)
        if profile is not net.analyses.get("check-target"):
            from snnc.passes.check_target import CheckTarget
            CheckTarget().check_against(net, profile, diag)
        if not diag.has_errors:
            build_program(net, profile, diag)

    def emit(self, net: Network) -> dict[str, str | bytes]:
        from snnc import __version__
        from snnc.backends.xylo.program import build_program
        from snnc.backends.xylo.render import render_program
        diag = Diagnostics()
        program = build_program(net, chip_profile(net), diag)
        if program is None:
            raise ValueError("emit() after failed check(): " + "; ".join(
                d.message for d in diag.errors()))
        return render_program(net, program, self.source_file, __version__)

    def summary(self, files: dict[str, str | bytes]) -> list[str]:
        """The integer parameters' largest relative errors (quantization.json)."""
        if "quantization.json" not in files:
            return []
        from snnc.backends.xylo.render import quantization_summary
        return [quantization_summary(json.loads(files["quantization.json"]))]


BACKEND = XyloBackend
