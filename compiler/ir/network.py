"""The IR: a network of inputs and populations (nodes) and projections (edges).

The nodes and projections live in two declaration-ordered indexes (name -> :class:`Input` or
:class:`Population`; projection name -> :class:`Projection`), so iteration is always in
declaration order and everything derived from the IR is deterministic. ``Network.graph`` is
the same network as a ``networkx.MultiDiGraph`` for graph algorithms: node ``name`` carries
``payload`` (the node), edge ``(pre, post, key=projection name)`` carries ``payload`` (the
projection); it is built from the indexes on first use (networkx is imported only then) and
kept up to date by :meth:`Network.add_node` and :meth:`Network.add_projection`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from snnc.ir.nodes import Input, Loss, Population, Projection, Record, Settings
from snnc.ir.target_profile import CustomTarget

if TYPE_CHECKING:
    import networkx as nx

    from snnc.ir.rules import RuleDef


class GraphSlot:
    """Where a network keeps its networkx graph once built (None until then).

    Compared by identity, as the graph it stands for was: two networks are equal only when
    they share it (one is a shallow copy of the other), as before the graph became lazy."""

    __slots__ = ("graph",)

    def __init__(self) -> None:
        self.graph: nx.MultiDiGraph | None = None


@dataclass
class Network:
    settings: Settings = field(default_factory=Settings)
    #: the networkx graph, built on demand (see :attr:`graph`)
    _graph_slot: GraphSlot = field(default_factory=GraphSlot, repr=False)
    rules: dict[str, RuleDef] = field(default_factory=dict)
    losses: list[Loss] = field(default_factory=list)
    records: list[Record] = field(default_factory=list)
    target: str = "reference"
    #: the program's own ``target NAME { ... }`` blocks, lowered (snnc.ir.lower_target)
    custom_targets: dict[str, CustomTarget] = field(default_factory=dict)
    files: list[str] = field(default_factory=list)
    #: results that analysis passes attach, by pass name (e.g. "check-locality")
    analyses: dict[str, object] = field(default_factory=dict)

    #: the declaration-ordered indexes: the source of truth (the graph is built from them)
    _nodes: dict = field(default_factory=dict, repr=False)
    _projections: dict = field(default_factory=dict, repr=False)
    #: population name -> the names of the projections into it, in declaration order
    _incoming: dict = field(default_factory=dict, repr=False)

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
        self._nodes[node.name] = node
        if self._graph_slot.graph is not None:
            self._graph_node(self._graph_slot.graph, node)

    def add_projection(self, projection: Projection) -> None:
        self._projections[projection.name] = projection
        self._incoming.setdefault(projection.post, []).append(projection.name)
        if self._graph_slot.graph is not None:
            self._graph_edge(self._graph_slot.graph, projection)

    def replace_projection(self, projection: Projection) -> None:
        """Put ``projection`` in place of the one of the same name (same pre and post)."""
        old = self._projections[projection.name]
        if (old.pre, old.post) != (projection.pre, projection.post):
            raise ValueError(f"projection '{projection.name}' would move from "
                             f"{old.pre}->{old.post} to {projection.pre}->{projection.post}")
        self._projections[projection.name] = projection
        if self._graph_slot.graph is not None:
            self._graph_slot.graph.edges[projection.pre, projection.post, projection.name][
                "payload"] = projection

    @property
    def graph(self) -> nx.MultiDiGraph:
        """The network as a ``networkx.MultiDiGraph`` (built from the indexes on first use).

        The indexes are the source of truth: change the network with :meth:`add_node`,
        :meth:`add_projection` and :meth:`replace_projection`, not through the graph."""
        if self._graph_slot.graph is None:
            import networkx as nx
            graph = nx.MultiDiGraph()
            for node in self._nodes.values():
                self._graph_node(graph, node)
            for projection in self._projections.values():
                self._graph_edge(graph, projection)
            self._graph_slot.graph = graph
        return self._graph_slot.graph

    @staticmethod
    def _graph_node(graph: nx.MultiDiGraph, node: Input | Population) -> None:
        graph.add_node(node.name, payload=node, order=len(graph))

    @staticmethod
    def _graph_edge(graph: nx.MultiDiGraph, projection: Projection) -> None:
        graph.add_edge(projection.pre, projection.post, key=projection.name,
                       payload=projection, order=graph.number_of_edges())

    # -- reading ----------------------------------------------------------------------------
    def node(self, name: str) -> Input | Population:
        return self._nodes[name]

    def has_node(self, name: str) -> bool:
        return name in self._nodes

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
        """The projections into ``name``, in declaration order."""
        return [self._projections[key] for key in self._incoming.get(name, ())]

    @property
    def neuron_count(self) -> int:
        return sum(p.size for p in self._nodes.values() if isinstance(p, Population))

    def synapse_count(self, projection: Projection) -> int:
        return projection.connectivity.synapse_count(self.node(projection.pre).shape,
                                                     self.node(projection.post).shape)

    def verify(self) -> bool:
        """Structural invariants every pass must keep: every node and projection is filed
        under its own name, projections join known nodes and never end at an input, the
        incoming index lists each projection once, and a built graph agrees with the indexes."""
        for name, node in self._nodes.items():
            if not isinstance(node, (Input, Population)) or node.name != name:
                return False
        for name, projection in self._projections.items():
            if not isinstance(projection, Projection) or projection.name != name:
                return False
            if projection.pre not in self._nodes or projection.post not in self._nodes:
                return False
            if isinstance(self._nodes[projection.post], Input):
                return False
        listed = sorted(key for keys in self._incoming.values() for key in keys)
        if listed != sorted(self._projections) or any(
                self._projections[key].post != post
                for post, keys in self._incoming.items() for key in keys):
            return False
        graph = self._graph_slot.graph
        if graph is None:
            return True
        if set(self._nodes) != set(graph.nodes) or \
                set(self._projections) != {k for *_, k in graph.edges(keys=True)}:
            return False
        return all(data.get("payload") is self._nodes[name]
                   for name, data in graph.nodes(data=True)) and \
            all(data.get("payload") is self._projections[key]
                for _, _, key, data in graph.edges(keys=True, data=True))
