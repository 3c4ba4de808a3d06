"""A compact description of a network for people and programs (``snnc check``)."""

from __future__ import annotations

from dataclasses import dataclass, field

from snnc.ir.network import Network
from snnc.ir.nodes import Input


@dataclass
class NodeSummary:
    name: str
    kind: str  # input | population | readout
    model: str
    shape: tuple[int, ...]
    size: int
    source: str = ""


@dataclass
class ProjectionSummary:
    name: str
    pre: str
    post: str
    connectivity: str
    synapses: int
    rules: list[str] = field(default_factory=list)


@dataclass
class Summary:
    files: list[str]
    network: str
    dt: float
    seed: int
    integration: str
    target: str
    nodes: list[NodeSummary]
    projections: list[ProjectionSummary]
    rules: dict[str, str]  # rule name -> file that defines it
    losses: int
    records: list[str]
    #: extra sections added by analysis passes (e.g. the locality report), JSON-ready
    reports: dict[str, object] = field(default_factory=dict)

    @classmethod
    def of(cls, net: Network) -> Summary:
        nodes = []
        for node in net.nodes():
            if isinstance(node, Input):
                nodes.append(NodeSummary(node.name, "input", "input", node.shape, node.size,
                                         node.source))
            else:
                nodes.append(NodeSummary(node.name, node.kind, node.model_name, node.shape,
                                         node.size))
        projections = [ProjectionSummary(p.name, p.pre, p.post, p.connectivity.kind,
                                         net.synapse_count(p), [r.name for r in p.rules])
                       for p in net.projections()]
        s = net.settings
        summary = cls(net.files, s.name, s.dt, s.seed, s.integration, net.target, nodes,
                      projections, {name: rule.span.file for name, rule in net.rules.items()},
                      len(net.losses), [f"{r.owner}.{r.variable}" for r in net.records])
        memory = net.analyses.get("check-memory")  # a snnc.memory.Estimate
        if memory is not None:
            summary.reports["memory"] = memory.to_json()
        return summary

    @property
    def neurons(self) -> int:
        return sum(n.size for n in self.nodes if n.kind != "input")

    @property
    def synapses(self) -> int:
        return sum(p.synapses for p in self.projections)

    def to_json(self) -> dict:
        return {
            "files": self.files,
            "network": {"name": self.network, "dt": self.dt, "seed": self.seed,
                        "integration": self.integration, "target": self.target},
            "inputs": [{"name": n.name, "shape": list(n.shape), "size": n.size,
                        "source": n.source} for n in self.nodes if n.kind == "input"],
            "populations": [{"name": n.name, "model": n.model, "shape": list(n.shape),
                             "size": n.size, "readout": n.kind == "readout"}
                            for n in self.nodes if n.kind != "input"],
            "projections": [{"name": p.name, "pre": p.pre, "post": p.post,
                             "connectivity": p.connectivity, "synapses": p.synapses,
                             "rules": p.rules} for p in self.projections],
            "rules": sorted(self.rules),
            "neurons": self.neurons,
            "synapses": self.synapses,
            "losses": self.losses,
            "records": self.records,
            **self.reports,
        }
