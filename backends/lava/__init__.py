"""The Lava backend: a runnable Lava (lava-nc 0.10.0) program per network.

``emit`` writes a folder with ``network.py`` (``build()``: the process graph), ``run.py``,
``models.py``, ``network.npz``, ``quantization.json``, ``process_graph.dot`` and a README.
The compiler never imports lava: the program is text, run in a Python 3.10 environment.

``check`` reports what Lava cannot run (E510-E514) and, for learning rules, the Loihi 2
learning-engine verdict of ``check-target`` (E30x) followed by the translation to a sum of
products (E513). Lava's convention is that every connection adds one step, so the program is
built from the plan with ``delivery = next_step``: the reference simulator with
``--delivery next_step`` runs the same network step for step.
"""

from __future__ import annotations

from dataclasses import dataclass

from snnc.backends.lava.graph import LavaGraph, build_graph
from snnc.backends.lava.learning import NotExpressible, translate
from snnc.backends.lava.quantize import quantize
from snnc.backends.lava.render import render_program
from snnc.backends.reference.plan import build_plan
from snnc.diagnostics import Diagnostics
from snnc.ir.network import Network
from snnc.passes.check_target import CheckTarget
from snnc.targets import load_builtin

ENGINE_TARGET = "loihi2"


@dataclass
class LavaBackend:
    name: str = "lava"
    delivery: str = "next_step"
    source_file: str = "<network>"

    def check(self, net: Network, diag: Diagnostics) -> None:
        if self.delivery != "next_step":
            diag.error("E509", None, "Lava adds one step per connection: the Lava backend "
                       "builds with --delivery next_step", hint="drop --delivery")
            return
        self.graph(net, diag)

    def graph(self, net: Network, diag: Diagnostics) -> LavaGraph | None:
        """The process graph with its learning rules translated; None after errors."""
        graph = build_graph(build_plan(net, "next_step"), net, diag)
        if graph is None:
            return None
        profile = load_builtin(ENGINE_TARGET)
        reports = {(r.projection, r.rule): r for r in net.analyses.get("check-locality", [])}
        for connection in graph.connections:
            projection = net.projection(connection.projection)
            if not projection.rules:
                continue
            if len(projection.rules) > 1:
                diag.error("E513", projection.rules[1].span, f"projection '{projection.name}' "
                           "has more than one rule; a Loihi synapse has one dw", hint="merge "
                           "the rules into one")
                continue
            instance = projection.rules[0]
            errors = sum(1 for _ in diag.errors())
            report = reports.get((projection.name, instance.name))
            if report is not None:
                CheckTarget().check(report, profile, diag)
            if sum(1 for _ in diag.errors()) > errors:
                continue
            if connection.mask is not None:
                diag.error("E514", projection.span, f"plastic projection '{projection.name}' "
                           "is not fully connected; the Lava backend emits learning only on "
                           "dense connections", hint="use 'dense' connectivity for a plastic "
                                                     "projection")
                continue
            if connection.delay:
                diag.error("E514", projection.span, f"plastic projection '{projection.name}' "
                           "has a delay; Lava's learning connections have none",
                           hint="remove the delay or the rule")
                continue
            if len(set(connection.scale.tolist())) > 1:
                diag.error("E513", instance.span, f"rule '{instance.name}' on "
                           f"'{projection.name}': the post neurons scale their input "
                           "differently, so one dw cannot serve all synapses",
                           hint="use the same input_scale for every neuron of "
                                f"'{projection.post}'")
                continue
            try:
                connection.rule = translate(net, projection, instance,
                                            float(connection.scale[0]))
            except NotExpressible as error:
                diag.error("E513", error.span or instance.span, f"rule '{instance.name}' on "
                           f"'{projection.name}' cannot run on Loihi's learning engine: {error}",
                           hint="write the rule as lowpass traces of pre.s/post.s and updates "
                                "that are sums of products of traces, w and constants")
        return None if diag.has_errors else graph

    def emit(self, net: Network) -> dict[str, str | bytes]:
        from snnc import __version__
        diag = Diagnostics()
        graph = self.graph(net, diag)
        if graph is None:
            raise ValueError("emit() after failed check(): " + "; ".join(
                d.message for d in diag.errors()))
        record = [f"{r.owner}.{r.variable}" for r in net.records
                  if not r.is_projection and r.variable in ("s", "v")]
        record = record or [f"{g}.s" for g in dict.fromkeys(x.population for x in graph.groups
                                                            if x.spiking)]
        steps = round(net.settings.duration / net.settings.dt) if net.settings.duration else None
        return render_program(graph, quantize(graph), record, self.source_file, __version__,
                              default_steps=steps)
