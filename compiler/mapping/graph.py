"""The network as mapping sees it: groups of neurons with firing rates, and synapse sets.

Populations are mapped onto cores; inputs are spike sources off the mesh (their packets count
as remote packets into every core they reach, but not in hop-weighted traffic). Each projection
becomes a :class:`SynapseSet` of one of three forms, so that nothing is materialised that a
closed form can count:

- ``dense``: every pre neuron reaches every post neuron;
- ``random``: ``sparse(p)`` and ``fixed_fan_in(k)``, where a pre neuron reaches a given post
  neuron with probability p (k / N_pre); counts are expectations;
- ``exact``: the synapses as index arrays (one_to_one, conv2d, sumpool2d, weight files, and the
  random kinds while the network's random synapses stay within a budget), drawn with the same
  generator as the reference simulator, ``rng_for(seed, projection, "synapses")``.

Rates r_i (Hz) come from a reference-simulator profile (``snnc run --rates``), else from the
population's declared ``rate``, else :data:`DEFAULT_RATE_HZ`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from snnc.diagnostics import Diagnostics
from snnc.files import FileProblem, read_npz
from snnc.ir.network import Network
from snnc.ir.nodes import Input, Projection
from snnc.ir.values import rng_for
from snnc.mapping.arrays import stable_order

DEFAULT_RATE_HZ = 10.0
#: random synapses materialised at most, network-wide, for neuron-level partitioning
EXACT_RANDOM_BUDGET = 5_000_000
ALWAYS_EXACT = ("one_to_one", "conv2d", "sumpool2d", "file")


@dataclass
class Group:
    """A population (mapped) or an input (off the mesh), with a rate per neuron in Hz."""

    name: str
    size: int
    rates: np.ndarray
    is_input: bool


@dataclass
class SynapseSet:
    """One projection's synapses. ``posts``/``pres`` (exact form) are sorted by post;
    ``pre_items``/``post_items``/``synapse_items`` count the learning state values its rules
    keep per pre neuron, per post neuron and per synapse (from the locality pass)."""

    projection: Projection
    form: str  # dense | random | exact
    n_pre: int
    n_post: int
    synapses: int
    p: float = 0.0
    posts: np.ndarray | None = None
    pres: np.ndarray | None = None
    pre_items: int = 0
    post_items: int = 0
    synapse_items: int = 0
    _earlier: tuple[np.ndarray, np.ndarray] | None = field(default=None, repr=False,
                                                           compare=False)

    @property
    def plastic(self) -> bool:
        return bool(self.projection.rules)

    def earlier(self) -> np.ndarray:
        """(exact form) For synapse j (in post order), the position of the previous synapse from
        the same pre neuron, -1 for its first. The distinct pre neurons of synapses [lo, hi) are
        then those of the j in [lo, hi) with ``earlier[j] < lo``: counting them needs no sort.
        One stable sort by pre (:func:`stable_order`), computed once (again if ``pres`` is
        replaced)."""
        if self._earlier is None or self._earlier[0] is not self.pres:
            order = stable_order(self.pres, self.n_pre)
            same = self.pres[order[1:]] == self.pres[order[:-1]]
            earlier = np.full(len(self.pres), -1, dtype=np.int64)
            earlier[order[1:][same]] = order[:-1][same]
            self._earlier = (self.pres, earlier)
        return self._earlier[1]

    def forget(self) -> None:
        """Drop what :meth:`earlier` keeps (a benchmark times each run from scratch)."""
        self._earlier = None


@dataclass
class MapGraph:
    groups: dict[str, Group]
    sets: list[SynapseSet]
    dt: float

    @property
    def populations(self) -> list[Group]:
        return [g for g in self.groups.values() if not g.is_input]

    @property
    def neurons(self) -> int:
        return sum(g.size for g in self.populations)

    def incoming(self, name: str) -> list[SynapseSet]:
        return [s for s in self.sets if s.projection.post == name]

    @property
    def has_local_structure(self) -> bool:
        """True when some projection between populations is not dense and is held exactly:
        then which neurons share a core matters, and neuron-level partitioning can pay."""
        return any(s.form == "exact" and not self.groups[s.projection.pre].is_input
                   for s in self.sets)


def build_graph(net: Network, rates: dict[str, np.ndarray] | None = None,
                budget: int = EXACT_RANDOM_BUDGET) -> MapGraph:
    rates = rates or {}
    groups = {}
    for node in net.nodes():
        is_input = isinstance(node, Input)
        declared = (node.poisson_rate or node.rate) if is_input else node.rate
        if node.name in rates:
            values = np.asarray(rates[node.name], dtype=np.float64).reshape(node.size)
        else:
            values = np.full(node.size, DEFAULT_RATE_HZ if declared is None else declared)
        groups[node.name] = Group(node.name, node.size, values, is_input)
    random_total = sum(net.synapse_count(p) for p in net.projections()
                       if p.connectivity.kind in ("sparse", "fixed_fan_in"))
    items = learning_items(net)
    sets = []
    for projection in net.projections():
        pre, post = net.node(projection.pre), net.node(projection.post)
        c = projection.connectivity
        count = net.synapse_count(projection)
        s = SynapseSet(projection, "dense", pre.size, post.size, count)
        if c.kind in ALWAYS_EXACT or (c.kind in ("sparse", "fixed_fan_in") and random_total <= budget):
            rng = rng_for(net.settings.seed, projection.name, "synapses")
            posts, pres = c.materialize(pre.shape, post.shape, rng)
            s.form, s.posts, s.pres, s.synapses = "exact", posts, pres, len(posts)
        elif c.kind == "sparse":
            s.form, s.p = "random", c.p
        elif c.kind == "fixed_fan_in":
            s.form, s.p = "random", c.k / pre.size
        s.pre_items, s.post_items, s.synapse_items = items.get(projection.name, (0, 0, 0))
        sets.append(s)
    return MapGraph(groups, sets, net.settings.dt)


def learning_items(net: Network) -> dict[str, tuple[int, int, int]]:
    """Per projection: state values per pre neuron, per post neuron and per synapse that its
    rules keep (scalars and stored histories are not core memory and are left out)."""
    items: dict[str, list[int]] = {}
    for report in net.analyses.get("check-locality", []):
        counts = items.setdefault(report.projection, [0, 0, 0])
        for state in report.analysis.state:
            index = state.index
            if index == frozenset({"j"}):
                counts[0] += 1
            elif index == frozenset({"i"}):
                counts[1] += 1
            elif index == frozenset({"i", "j"}):
                counts[2] += 1
    return {name: tuple(c) for name, c in items.items()}


def load_rates(path: str, diag: Diagnostics) -> dict[str, np.ndarray] | None:
    """The arrays of a rates archive (``snnc run --rates``), validated by :mod:`snnc.files`
    (numeric, finite, within the size limit); None after an E601/E607/E608/E609/E615 naming
    ``--rates``."""
    try:
        return read_npz(path, finite=True)
    except FileProblem as problem:
        diag.error(problem.code, None, f"--rates: {problem.message}",
                   hint=problem.hint or "write them with 'snnc run FILE --rates rates.npz'")
        return None


def check_rates(net: Network, rates: dict[str, np.ndarray], source: str,
                diag: Diagnostics) -> None:
    """E604 for a rates array of the wrong size or with negative or non-finite values."""
    for name, values in sorted(rates.items()):
        if not net.has_node(name):
            diag.warning("W602", None, f"'{source}' holds '{name}', which is not in the network")
            continue
        size = net.node(name).size
        if np.size(values) != size:
            diag.error("E604", None, f"rates for '{name}' have {np.size(values)} values; the "
                       f"population has {size} neurons",
                       hint="write them with 'snnc run FILE --rates out.npz'")
        elif not np.all(np.isfinite(values)) or np.any(np.asarray(values) < 0):
            diag.error("E604", None, f"rates for '{name}' must be finite and non-negative")
