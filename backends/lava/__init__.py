"""The Lava backend: a runnable Lava (lava-nc 0.10.0) program per network.

``emit`` writes a folder with ``network.py`` (``build()``: the process graph), ``run.py``,
``models.py``, ``network.npz``, ``quantization.json``, ``process_graph.dot`` and a README.
The compiler never imports lava: the program is text, run in a Python 3.10 environment.

``check`` reports what Lava cannot run (E509, E511-E514) and, for learning rules, the Loihi 2
learning-engine verdict of ``check-target`` (E30x) followed by the translation to a sum of
products (E513). Lava's convention is that every connection adds one step, so the program is
built from the plan with ``delivery = next_step``: the reference simulator with
``--delivery next_step`` runs the same network step for step.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from snnc.backends.base import Backend, delivery_option, mapping_option
from snnc.backends.lava import feedback as fb
from snnc.backends.lava.cores import read_cores
from snnc.backends.lava.graph import LavaGraph, ThirdFactor, build_graph
from snnc.backends.lava.learning import LoihiRule, NotExpressible, translate
from snnc.backends.lava.local_readout import LOCAL_READOUT, attach_local
from snnc.backends.lava.quantize import quantize
from snnc.backends.lava.render import render_program
from snnc.diagnostics import Diagnostics
from snnc.ir.discrete import build_plan, step_count
from snnc.ir.network import Network
from snnc.passes.check_target import CheckTarget
from snnc.targets import load_builtin

ENGINE_TARGET = "loihi2"


@dataclass
class LavaBackend(Backend):
    name: ClassVar[str] = "lava"
    description: ClassVar[str] = "a runnable Lava program (process graph, learning rules)"
    #: the learning rules' translation reads the locality reports
    required_passes: ClassVar[tuple[str, ...]] = ("check-locality",)
    delivery: str = delivery_option("next_step", note="whose only convention it is")
    source_file: str = "<network>"
    #: the content of a mapping.json from ``snnc map`` (core assignment), and its file name
    mapping: dict | None = mapping_option()
    mapping_file: str = "mapping.json"

    def check(self, net: Network, diag: Diagnostics) -> None:
        if self.delivery != "next_step":
            diag.error("E509", None, "Lava adds one step per connection: the Lava backend "
                       "builds with --delivery next_step", hint="drop --delivery")
            return
        graph = self.graph(net, diag)
        if graph is not None and self.mapping is not None:
            self.cores(net, graph, diag)

    def cores(self, net: Network, graph: LavaGraph, diag: Diagnostics):
        sizes = {p.name: p.size for p in net.populations()}
        return read_cores(self.mapping, graph, sizes, self.mapping_file, diag)

    def graph(self, net: Network, diag: Diagnostics) -> LavaGraph | None:
        """The process graph with its learning rules translated; None after errors."""
        graph = build_graph(build_plan(net, "next_step"), net, diag)
        if graph is None:
            return None
        profile = load_builtin(ENGINE_TARGET)
        reports = {(r.projection, r.rule): r for r in net.analyses.get("check-locality", [])}
        for projection in net.projections():
            if not projection.rules:
                continue
            blocks = [c for c in graph.connections if c.projection == projection.name]
            rule = self.learning_rule(net, projection, blocks, reports, profile, diag,
                                      fb.next_slot(graph, blocks))
            if isinstance(rule, fb.FeedbackRule):
                rule = attach_feedback(net, graph, projection, rule, diag)
            for block in blocks:
                block.rule = rule
            if rule is not None and rule.third is not None \
                    and rule.signal not in fb.FEEDBACK_GENERATORS:
                attach_third_factor(graph, blocks, rule, projection, diag)
        return None if diag.has_errors else graph

    @staticmethod
    def learning_rule(net: Network, projection, blocks, reports, profile, diag: Diagnostics,
                      slot: str | None = None) -> LoihiRule | fb.FeedbackRule | None:
        """The Loihi rule of a plastic projection (the same for all its blocks; a feedback
        rule's with its signal in ``slot``), or None after diagnostics: the target check
        (E30x), then what Lava's connections allow."""
        if len(projection.rules) > 1:
            diag.error("E513", projection.rules[1].span, f"projection '{projection.name}' has "
                       "more than one rule; a Loihi synapse has one dw",
                       hint="merge the rules into one")
            return None
        instance = projection.rules[0]
        errors = len(list(diag.errors()))
        report = reports.get((projection.name, instance.name))
        if report is not None:
            CheckTarget().check(report, profile, diag)
        if len(list(diag.errors())) > errors:
            return None
        if any(block.mask is not None for block in blocks):
            diag.error("E514", projection.span, f"plastic projection '{projection.name}' is "
                       "not fully connected; the Lava backend emits learning only on dense "
                       "connections", hint="use 'dense' connectivity for a plastic projection")
            return None
        if any(block.delay for block in blocks):
            diag.error("E514", projection.span, f"plastic projection '{projection.name}' has a "
                       "delay; Lava's learning connections have none",
                       hint="remove the delay or the rule")
            return None
        scales = np.unique(np.concatenate([block.scale for block in blocks]))
        if len(scales) > 1:
            diag.error("E513", instance.span, f"rule '{instance.name}' on '{projection.name}': "
                       "the post neurons scale their input differently, so one dw cannot "
                       "serve all synapses", hint="use the same input_scale for every neuron "
                                                  f"of '{projection.post}'")
            return None
        try:
            if fb.is_feedback(instance.rule):
                return feedback_rule(net, projection, instance, float(scales[0]), slot)
            rule = translate(net, projection, instance, float(scales[0]))
        except NotExpressible as error:
            diag.error("E513", error.span or instance.span, f"rule '{instance.name}' on "
                       f"'{projection.name}' cannot run on Loihi's learning engine: {error}",
                       hint=error.hint or "write the rule as lowpass traces of pre.s/post.s, "
                       "at most one lowpass of a product (the tag) and updates that are sums "
                       "of products of traces, the tag, the third factor, w and constants")
            return None
        for r in rule.roundings:
            spikes = r.what == "x0 * y0"
            what = r.what if r.what.startswith("decay") else f"constant of {r.what}"
            message = (f"rule '{rule.rule}' on '{rule.projection}': the {what}"
                       f"{' (pre.s * post.s of one step)' if spikes else ''} is rounded from "
                       f"{r.exact:.6g} to {r.rendered:.6g} ({100 * r.relative_error:.2g} %)")
            if any(d.code == "W513" and d.message == message for d in diag.items):
                continue  # the target check (--target loihi/loihi2) reported it already
            diag.warning("W513", instance.span, message,
                         hint="Loihi's rule constants are m * 2^e with m in [-8, 7] and e in "
                              "[-7, 8]; " + rounding_hint(r, spikes))
        return rule

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
        steps = step_count(net.settings)
        cores = self.cores(net, graph, Diagnostics()) if self.mapping is not None else None
        target = self.mapping.get("target") if self.mapping is not None else None
        return render_program(graph, quantize(graph), record, self.source_file, __version__,
                              default_steps=steps, cores=cores, target=target, net=net)

    def extra_artifacts(self, files: dict[str, str | bytes]) -> dict[str, str | bytes]:
        """``process_graph.png`` when Graphviz is installed."""
        if "process_graph.dot" not in files:
            return {}
        from snnc.backends.lava.report import render_dot
        return render_dot(files["process_graph.dot"])

    def summary(self, files: dict[str, str | bytes]) -> list[str]:
        """The fixed-point parameters' largest relative errors (quantization.json)."""
        if "quantization.json" not in files:
            return []
        from snnc.backends.lava.report import quantization_summary
        return [quantization_summary(json.loads(files["quantization.json"]))]


def rounding_hint(rounding, spikes: bool) -> str:
    """How to avoid a rounding of a rule constant."""
    if rounding.hint:
        return rounding.hint
    if spikes:
        return "x0 * y0 has no trace to carry its constant: choose the rule's constants so " \
               "that it is m * 2^e"
    return "a product with a trace of its own is exact"


def feedback_rule(net: Network, projection, instance, scale: float,
                  slot: str | None) -> fb.FeedbackRule:
    """The feedback rule (e-prop, delta) of ``projection``; NotExpressible when the post
    population has no post trace left for its signal."""
    if slot is None:
        raise NotExpressible(f"'{projection.post}' receives a third feedback rule; its neurons "
                             "send two signals (y2, y3)", instance.span,
                             hint="learn with feedback on at most two projections into each "
                                  "population")
    return fb.translate(net, projection, instance, scale, slot)


def attach_feedback(net: Network, graph: LavaGraph, projection, rule: fb.FeedbackRule,
                    diag: Diagnostics) -> LoihiRule | None:
    """The processes that compute the feedback rule's signal (:func:`fb.attach`); the rule,
    or None after E513."""
    try:
        if rule.rule.signal == LOCAL_READOUT:
            attach_local(net, graph, projection, rule)
        else:
            fb.attach(net, graph, projection, rule)
    except NotExpressible as error:
        diag.error("E513", error.span or projection.rules[0].span, f"rule "
                   f"'{rule.rule.rule}' on '{projection.name}': {error}",
                   hint=error.hint or "see docs/learning.md, e-prop on Loihi")
        return None
    return rule.rule


def attach_third_factor(graph: LavaGraph, blocks, rule: LoihiRule, projection,
                        diag: Diagnostics) -> None:
    """Make the post groups of a three-factor rule the program's ThirdFactor neurons (they
    send y1 and y2); one such rule per post group (the neuron has one y1 and one y2)."""
    post = rule.post_trace
    for block in blocks:
        wanted = ThirdFactor(rule.signal, rule.third.gain or 1.0, rule.post_decay or 0.0,
                             post.impulse if post else 0.0, rule.rule, projection.name,
                             block.name, rule.y3_factor or 0.0)
        group = next(g for g in graph.groups if g.name == block.post)
        if group.third is not None and group.third.projection != projection.name:
            diag.error("E513", projection.span, f"'{projection.post}' is the post population "
                       f"of two three-factor rules ('{group.third.projection}' and "
                       f"'{projection.name}'); its neurons send one set of post traces and one "
                       "third factor", hint="learn with a third factor on one projection into "
                                            "each population")
            return
        if group.third is None:
            for c in graph.connections:
                if c.post == group.name and c.port == "a_in":
                    c.port = "a_in_0"  # the program's model numbers its input ports
        group.third = wanted


BACKEND = LavaBackend
