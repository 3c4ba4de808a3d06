"""The IR: a network of inputs and populations (nodes) and projections (edges).

``Network`` wraps a ``networkx.MultiDiGraph``: node ``name`` carries ``payload`` (an
:class:`Input` or :class:`Population`), edge ``(pre, post, key=projection name)`` carries
``payload`` (a :class:`Projection`). Iteration is always in declaration order, so everything
derived from the IR is deterministic.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from snnc.ir.nodes import Input, Loss, Population, Projection, Record, Settings
from snnc.ir.rules import RuleDef
from snnc.ir.target_profile import CustomTarget

if TYPE_CHECKING:
    import networkx as nx


def new_graph() -> nx.MultiDiGraph:
    """An empty graph (networkx is imported when the first network is built)."""
    import networkx as nx
    return nx.MultiDiGraph()


@dataclass
class Network:
    settings: Settings = field(default_factory=Settings)
    graph: nx.MultiDiGraph = field(default_factory=new_graph)
    rules: dict[str, RuleDef] = field(default_factory=dict)
    losses: list[Loss] = field(default_factory=list)
    records: list[Record] = field(default_factory=list)
    target: str = "reference"
    #: the program's own ``target NAME { ... }`` blocks, lowered (snnc.ir.lower_target)
    custom_targets: dict[str, CustomTarget] = field(default_factory=dict)
    files: list[str] = field(default_factory=list)
    #: results that analysis passes attach, by pass name (e.g. "check-locality")
    analyses: dict[str, object] = field(default_factory=dict)

    #: declaration-ordered indexes kept beside the graph (the graph stays the source of truth)
    _nodes: dict = field(default_factory=dict, repr=False)
    _projections: dict = field(default_factory=dict, repr=False)

    #: at most this many nodes and projections are listed by ``repr`` (then a count of the rest)
    REPR_LINES = 8

    def __repr__(self) -> str:
        """A short summary whatever the size: the settings, the inputs and populations (shape,
        model), the projections (connectivity, synapses, rules) and the losses."""
        s = self.settings
        head = f"Network '{s.name}': dt {s.dt * 1e3:g} ms, seed {s.seed}, target {self.target}"
        if s.duration is not None:
            head += f", duration {s.duration * 1e3:g} ms"
        nodes = [f"{node.kind} {node.name}{list(node.shape)} "
                 + (node.source if isinstance(node, Input) else node.model_name
                    + (f" ({node.model.name})" if node.model.name != node.model_name else ""))
                 for node in self.nodes()]
        edges = [f"{p.name}: {p.connectivity.describe()}, {self._synapses(p)}"
                 + (f", learn {', '.join(r.name for r in p.rules)}" if p.rules else "")
                 for p in self.projections()]
        losses = [f"loss {loss.kind}({loss.reduction + '(' if loss.reduction else ''}"
                  f"{loss.population}.{loss.variable}{')' if loss.reduction else ''})"
                  for loss in self.losses]
        lines = [head]
        for group, what in ((nodes, "nodes"), (edges, "projections"), (losses, "losses")):
            shown = group[:self.REPR_LINES]
            lines += ["  " + line for line in shown]
            if len(group) > len(shown):
                lines.append(f"  ... {len(group) - len(shown)} more {what}")
        return "\n".join(lines)

    def _synapses(self, projection: Projection) -> str:
        try:
            count = self.synapse_count(projection)
        except (ValueError, TypeError, AttributeError, KeyError):
            return "? synapses"
        return f"{count:,} synapse{'s' * (count != 1)}"

    # -- building ---------------------------------------------------------------------------
    def add_node(self, node: Input | Population) -> None:
        self.graph.add_node(node.name, payload=node, order=len(self._nodes))
        self._nodes[node.name] = node

    def add_projection(self, projection: Projection) -> None:
        self.graph.add_edge(projection.pre, projection.post, key=projection.name,
                            payload=projection, order=len(self._projections))
        self._projections[projection.name] = projection

    # -- reading ----------------------------------------------------------------------------
    def node(self, name: str) -> Input | Population:
        return self.graph.nodes[name]["payload"]

    def has_node(self, name: str) -> bool:
        return name in self.graph

    def nodes(self) -> list[Input | Population]:
        return list(self._nodes.values())

    def inputs(self) -> list[Input]:
        return [n for n in self.nodes() if isinstance(n, Input)]

    def populations(self) -> list[Population]:
        return [n for n in self.nodes() if isinstance(n, Population)]

    def projections(self) -> list[Projection]:
        return list(self._projections.values())

    def projection(self, name: str) -> Projection | None:
        return self._projections.get(name)

    def incoming(self, name: str) -> list[Projection]:
        return [self.graph.edges[pre, name, key]["payload"]
                for pre, _, key in sorted(self.graph.in_edges(name, keys=True),
                                          key=lambda e: self.graph.edges[e]["order"])]

    @property
    def neuron_count(self) -> int:
        return sum(p.size for p in self._nodes.values() if isinstance(p, Population))

    def synapse_count(self, projection: Projection) -> int:
        return projection.connectivity.synapse_count(self.node(projection.pre).shape,
                                                     self.node(projection.post).shape)

    def verify(self) -> bool:
        """Structural invariants every pass must keep (the indexes agree with the graph)."""
        if set(self._nodes) != set(self.graph.nodes) or \
                set(self._projections) != {k for *_, k in self.graph.edges(keys=True)}:
            return False
        for name, data in self.graph.nodes(data=True):
            if not isinstance(data.get("payload"), (Input, Population)) or data["payload"].name != name:
                return False
        for pre, post, key, data in self.graph.edges(keys=True, data=True):
            payload = data.get("payload")
            if not isinstance(payload, Projection) or (payload.pre, payload.post, payload.name) \
                    != (pre, post, key):
                return False
            if isinstance(self.node(post), Input):
                return False
        names = [p.name for p in self.projections()]
        return len(names) == len(set(names))
