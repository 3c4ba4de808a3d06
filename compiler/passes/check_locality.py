"""The locality pass: for every learning rule on every projection, what information it needs
(class a-d, with the span and reason of each non-local term), what produces its third factor,
how much state it needs for this network (per pre neuron, per post neuron or per synapse,
counted and in bytes) and how much arithmetic per step (docs/learning.md).

The results are attached to the network as ``net.analyses["check-locality"]`` (a list of
:class:`RuleReport`); the pass reports no errors itself (the target check decides what a chip
can run).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from snnc.diagnostics import Diagnostics
from snnc.ir.discrete import step_count
from snnc.ir.network import Network

if TYPE_CHECKING:  # the analysis (and the rules' IR) is imported only for a network with rules
    from snnc.passes.rule_analysis import Analysis

CLASS_MEANING = {
    "a": "synapse-local",
    "b": "local with a third factor",
    "c": "non-local in space",
    "d": "non-local in time",
    "c+d": "non-local in space and time",
}


def format_bytes(n: int) -> str:
    for unit, size in (("GiB", 2 ** 30), ("MiB", 2 ** 20), ("KiB", 2 ** 10)):
        if n >= size:
            return f"{n / size:.3g} {unit}"
    return f"{n} B"


def scaling(analysis: Analysis) -> str:
    """The asymptotic state size in N (neurons), from the largest state item."""
    order = "O(1)"
    for item in analysis.state:
        if "k" in item.index and "history" in item.name:
            return "O(N T)"
        if "k" in item.index and {"i", "j"} <= item.index:
            return "O(N^3)"
        if {"i", "j"} <= item.index:
            order = "O(N^2)"
        elif item.index and order == "O(1)":
            order = "O(N)"
    return order


@dataclass
class RuleReport:
    analysis: Analysis
    bytes_per_value: int

    @property
    def projection(self) -> str:
        return self.analysis.projection.name

    @property
    def rule(self) -> str:
        return self.analysis.rule.name

    @property
    def cls(self) -> str:
        return self.analysis.cls

    @property
    def state_values(self) -> int:
        return sum(item.count for item in self.analysis.state)

    @property
    def state_bytes(self) -> int:
        return self.state_values * self.bytes_per_value

    @property
    def macs_per_step(self) -> int:
        """Worst case per step: every update on every synapse, every trace element updated."""
        a = self.analysis
        return a.update_ops * a.synapses + sum((item.ops + 1) * item.count for item in a.state)

    def state_lines(self) -> list[str]:
        return [f"{item.name} {item.scope}, {item.count:,} floats, "
                f"{format_bytes(item.count * self.bytes_per_value)}"
                for item in self.analysis.state]

    def to_json(self) -> dict:
        a = self.analysis
        return {
            "projection": self.projection,
            "rule": self.rule,
            "class": self.cls,
            "meaning": CLASS_MEANING[self.cls],
            "tags": sorted(a.tags),
            "nonlocal_terms": [{"tag": t.tag, "reason": t.reason, "file": t.span.file,
                                "line": t.span.line, "column": t.span.column} for t in a.terms
                               if t.tag in ("remote", "future")],
            "generators": [{"signal": g.signal, "generator": g.kind, "class": g.cls,
                            "reason": g.reason} for g in a.generators],
            "state": [{"name": s.name, "scope": s.scope, "values": s.count,
                       "bytes": s.count * self.bytes_per_value} for s in a.state],
            "state_values": self.state_values,
            "state_bytes": self.state_bytes,
            "scaling": scaling(a),
            "macs_per_step": self.macs_per_step,
            "triggers": sorted(a.triggers),
        }


@dataclass
class CheckLocality:
    name: str = "check-locality"
    description: str = "classify each rule (a-d), its third-factor generators and its state"
    requires = ("check-rule-variables",)
    steps: int | None = None  # T for stored histories (default: duration / dt, else 1000)
    bytes_per_value: int = 4

    def run(self, net: Network, diag: Diagnostics) -> Network:
        steps = self.steps
        if steps is None:
            steps = step_count(net.settings, default=1000)
        reports = []
        for projection in net.projections():
            for instance in projection.rules:
                from snnc.passes.rule_analysis import analyse
                reports.append(RuleReport(analyse(net, projection, instance, steps),
                                          self.bytes_per_value))
        net.analyses[self.name] = reports
        return net
