"""The Lava process graph of a network, as data: LIF processes, connections, sources.

Lava's floating-point LIF (lava-nc 0.10.0, ``select_tag="floating_pt"``) computes, per step::

    u <- u (1 - du) + a_in          v <- v (1 - dv) + u + bias_mant
    s  = v > vth                    v <- 0 where s

with one ``du``, ``dv`` and ``vth`` per process. snnc's neuron (README, "Numerical
conventions") is ``I <- a_syn I + J``, ``v <- a_mem (v - v_leak) + v_leak + c_in (I + bias)``,
spike when ``v > threshold``, reset to ``v_reset``. In the shifted voltage ``v' = v - v_reset``
the two are the same update with

    du = 1 - a_syn  (1 for LIF, IF, LI: u is this step's input)     dv = 1 - a_mem
    u  = c_in I     (c_in folded into the incoming weights, row by row)
    bias_mant = (1 - a_mem)(v_leak - v_reset) + c_in bias           vth = threshold - v_reset
    v'(0) = v_init - v_reset

and the recorded voltage is ``v' + v_reset``. A synaptic filter of a LIF, IF or LI population
can also come from a receptor. A population with several currents (receptors next to each
other or to the model's own current) becomes the program's ``CurrentsLIF<k>`` process: k
currents ``u_k <- u_k (1 - du_k) + a_in_k`` that all enter v. A spiking population with
``reset = subtract`` or ``none`` becomes the program's ``SubtractLIF<k>`` process (k currents as
CurrentsLIF): after a spike ``v' <- v' - v_sub`` with ``v_sub = threshold`` per neuron (the
threshold, not ``vth``: subtracting is the same in the shifted voltage) or 0 (``none``), and
during a refractory hold ``v' <- 0`` (snnc's ``v <- v_reset``).
Neurons whose (du, dv, vth) differ are split into one process per distinct triple; every
connection is cut into the blocks between those groups. Non-spiking readouts (LI, CubaLI) are
LIF processes with an infinite threshold.

Connections add one step (a spike emitted at step n reaches the post neuron at n + 1), a
DelayDense/DelaySparse with delay d at n + 1 + d: exactly the reference simulator's
``--delivery next_step`` convention, whose plan this graph is built from.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from snnc.diagnostics import Diagnostics
from snnc.ir.discrete import Plan, PopulationPlan, ProjectionPlan
from snnc.ir.network import Network

#: above this many processes for one population, a warning (each is an OS process in Lava)
MANY_GROUPS = 16
#: the resets the emitted neuron models implement (stock LIF: zero; SubtractLIF<k>: the others)
RESETS = ("zero", "subtract", "none")


@dataclass
class ThirdFactor:
    """What a post neuron sends to its three-factor learning connections."""

    signal: str  # the generator of the third factor (reward)
    gain: float  # y2 = gain * third factor
    y1_decay: float  # the post trace y1 <- y1_decay y1 + y1_impulse s (0, 0: none)
    y1_impulse: float
    rule: str  # the rule and projection it serves, for messages
    projection: str
    connection: str  # a connection of the rule into the group (its fixed-point rule)
    y3_factor: float = 0.0  # y3 = y3_factor * y2 (a tag read through y3), else 0


@dataclass
class FeedbackRole:
    """What a post neuron of feedback rules (e-prop, delta; :mod:`.feedback`) computes and
    receives: psi (``surrogate``: expression and parameters, None: no y1), the third factors
    it forwards (slot -> the projection whose signal arrives on ``a_third_<slot>``), and
    whether it sends its voltage (the readout of the loss, to the error process)."""

    surrogate: tuple[str, dict] | None = None
    thirds: dict[str, str] = field(default_factory=dict)
    sends_v: bool = False


@dataclass
class ErrorProcess:
    """The loss's error of a readout group, e = softmax(v) - onehot(label), each step."""

    name: str
    readout: str  # the readout's group
    size: int
    loss: str


@dataclass
class FeedbackProcess:
    """L = B e of a random_feedback rule, sent to its post group's ``a_third_<slot>``."""

    name: str
    projection: str
    error: str  # the error process
    post: str  # the post group
    slot: str
    matrix: np.ndarray  # B [n_post, n_out]


@dataclass
class LocalReadoutProcess:
    """The learning signal of a local_readout rule (DECOLLE): the post group's spikes of this
    step through a fixed random readout R [size, n_post], its error against the one-hot label
    (``y - onehot`` for mse, ``softmax(y) - onehot`` for cross-entropy, y = R s) and back
    through R: L = R^T e, sent to the post group's ``a_third_<slot>``."""

    name: str
    projection: str
    post: str  # the post group
    slot: str
    matrix: np.ndarray  # R [size, n_post]
    loss: str  # mse or cross_entropy


@dataclass
class NeuronGroup:
    """One Lava LIF process: the neurons ``indices`` of population ``population``."""

    name: str  # the Lava process name (the population's, or '<population>/<k>' when split)
    population: str
    indices: np.ndarray
    du: float
    dv: float
    vth: float  # inf for readouts
    bias: np.ndarray  # bias_mant per neuron (float)
    v_init: np.ndarray  # shifted initial voltage per neuron
    v_offset: np.ndarray  # v_reset per neuron: recorded v = v' + v_offset
    refractory: int
    spiking: bool
    currents: tuple[str, ...] = ("",)  # '' for the model's own current, else receptor names
    extra_du: tuple[float, ...] = ()  # du of the currents after the first
    reset: str = "zero"  # zero (Lava's reset to 0), subtract or none (SubtractLIF<k>)
    v_sub: np.ndarray | None = None  # per neuron, subtracted after a spike (reset != zero)
    #: the post neuron of a three-factor rule (ThirdFactor<...>): y1 (the rule's post trace,
    #: decay and impulse) and y2 (the third factor times gain) sent to the learning connection
    third: ThirdFactor | None = None
    #: the post neuron of feedback rules (FeedbackLIF<k>): psi as y1, signals as y2/y3
    feedback: FeedbackRole | None = None

    @property
    def size(self) -> int:
        return len(self.indices)

    @property
    def subtracts(self) -> bool:
        """Whether the group needs the program's SubtractLIF<k> (a reset other than zero)."""
        return self.spiking and self.reset != "zero"

    @property
    def generated(self) -> bool:
        """Whether the process is one of the program's own models (models.py)."""
        return bool(self.extra_du) or self.subtracts or self.third is not None \
            or self.feedback is not None

    @property
    def kind(self) -> str:
        """The Lava process: stock LIF/LIFRefractory, or the program's CurrentsLIF<k> or
        SubtractLIF<k>."""
        if self.feedback is not None:
            return f"Feedback{'Subtract' if self.subtracts else ''}LIF{len(self.currents)}"
        if self.third is not None:
            return f"ThirdFactor{'Subtract' if self.subtracts else ''}LIF{len(self.currents)}"
        if self.subtracts:
            return f"SubtractLIF{len(self.currents)}"
        if self.extra_du:
            return f"CurrentsLIF{len(self.currents)}"
        return "LIFRefractory" if self.refractory else "LIF"

    def port(self, receptor: str | None) -> str:
        """The input port of a projection through ``receptor`` (None: the own current)."""
        if not self.generated:
            return "a_in"
        return f"a_in_{self.currents.index(receptor or '')}"


@dataclass
class Source:
    """A spike source (Lava RingBuffer): ``data`` given at run time, ``poisson`` drawn by the
    program as the reference simulator draws them, ``file`` spikes shipped in network.npz."""

    name: str
    size: int
    shape: tuple[int, ...]
    kind: str
    probability: float = 0.0
    stream: int = 0  # the reference simulator's generator is default_rng([seed, stream])
    spikes: np.ndarray | None = None


@dataclass
class Connection:
    """One Lava connection process: the block ``weights`` [post, pre] of a projection between
    the pre neurons ``pre_indices`` (of ``pre``) and post neurons ``post_indices``."""

    name: str
    projection: str
    pre: str  # source or group name
    post: str
    pre_indices: np.ndarray
    post_indices: np.ndarray
    weights: np.ndarray  # [post, pre], with the post neurons' c_in folded in
    mask: np.ndarray | None  # where synapses exist (None: all), for sparse blocks
    delay: int  # Lava's delay: 0 for Dense/Sparse
    scale: np.ndarray  # c_in per post neuron of the block (weights = scale * w)
    port: str = "a_in"  # the post process's input port (its current)
    rule: object | None = None  # a LoihiRule for plastic projections

    @property
    def kind(self) -> str:
        base = "Sparse" if self.mask is not None else "Dense"
        if self.rule is not None:
            return "Learning" + base
        return ("Delay" + base) if self.delay > 0 else base


@dataclass
class LavaGraph:
    name: str
    dt: float
    seed: int
    sources: list[Source]
    groups: list[NeuronGroup]
    connections: list[Connection]
    populations: dict[str, tuple[int, ...]] = field(default_factory=dict)  # name -> shape
    #: projection -> (n_post, n_pre, post index, pre index): the synapse order of snnc's
    #: weight layout for sparse projections (indices None for dense ones)
    layouts: dict[str, tuple] = field(default_factory=dict)
    #: the processes computing feedback rules' learning signals (:mod:`.feedback`)
    errors: list[ErrorProcess] = field(default_factory=list)
    feedbacks: list[FeedbackProcess] = field(default_factory=list)
    local_readouts: list[LocalReadoutProcess] = field(default_factory=list)

    @property
    def trains(self) -> bool:
        """Whether learning signals come from labels (a readout's error, a local readout)."""
        return bool(self.errors or self.local_readouts)

    def groups_of(self, population: str) -> list[NeuronGroup]:
        return [g for g in self.groups if g.population == population]


def per_neuron(pop: PopulationPlan, key: str, default: float) -> np.ndarray:
    if key in pop.arrays:
        return np.asarray(pop.arrays[key], dtype=np.float64)
    return np.full(pop.size, float(pop.scalars.get(key, default)))


def currents(pop: PopulationPlan, plan: Plan) -> tuple[list[str], np.ndarray]:
    """The population's synaptic currents (the model's own current or direct input, then the
    receptors in name order) and their du per neuron, [currents, neurons]."""
    incoming = plan.incoming(pop.name)
    receptors = sorted({p.receptor for p in incoming if p.receptor is not None})
    names, decays = [], []
    if pop.has_syn or any(p.receptor is None for p in incoming) or not receptors:
        names.append("")
        decays.append(1.0 - per_neuron(pop, "a_syn", 0.0) if pop.has_syn else np.ones(pop.size))
    for receptor in receptors:
        names.append(receptor)
        decays.append(np.full(pop.size, 1.0 - pop.receptors[receptor]))
    return names, np.stack(decays)


def neuron_groups(pop: PopulationPlan, names: list[str], du: np.ndarray) -> list[NeuronGroup]:
    """Split ``pop`` into groups of identical (du..., dv, vth), in order of first appearance."""
    a_mem = per_neuron(pop, "a_mem", 1.0)
    v_reset = per_neuron(pop, "v_reset", 0.0)
    dv = 1.0 - a_mem
    vth = per_neuron(pop, "threshold", 1.0) - v_reset if pop.spiking else np.full(pop.size, np.inf)
    c_in = per_neuron(pop, "c_in", 1.0)
    bias = (1.0 - a_mem) * (per_neuron(pop, "v_leak", 0.0) - v_reset) + \
        c_in * per_neuron(pop, "bias", 0.0)
    v_init = per_neuron(pop, "v_init", 0.0) - v_reset
    v_sub = per_neuron(pop, "threshold", 1.0) if pop.reset == "subtract" else np.zeros(pop.size)
    keys = np.concatenate([du, dv[None], vth[None]]).T
    _, first, inverse = np.unique(keys, axis=0, return_index=True, return_inverse=True)
    inverse = inverse.reshape(-1)
    groups = []
    for number, label in enumerate(np.argsort(first, kind="stable")):
        indices = np.flatnonzero(inverse == label)
        k = indices[0]
        name = pop.name if len(first) == 1 else f"{pop.name}/{number}"
        groups.append(NeuronGroup(name, pop.name, indices, float(du[0, k]), float(dv[k]),
                                  float(vth[k]), bias[indices], v_init[indices],
                                  v_reset[indices], pop.refractory, pop.spiking,
                                  tuple(names), tuple(float(d) for d in du[1:, k]),
                                  pop.reset if pop.spiking else "zero", v_sub[indices]))
    return groups


def dense_blocks(p: ProjectionPlan) -> tuple[np.ndarray, np.ndarray | None]:
    """The projection as a dense [post, pre] weight matrix and its synapse mask (None: full)."""
    if p.dense:
        return p.weights, p.mask
    matrix = np.zeros((p.n_post, p.n_pre))
    mask = np.zeros((p.n_post, p.n_pre), dtype=bool)
    matrix[p.post_index, p.pre_index] = p.weights
    mask[p.post_index, p.pre_index] = True
    return matrix, mask


def build_graph(plan: Plan, net: Network, diag: Diagnostics) -> LavaGraph | None:
    """The process graph of ``plan`` (built with ``delivery = next_step``); None after errors."""
    graph = LavaGraph(plan.name, plan.dt, plan.seed, [], [], [])
    for stream, x in enumerate(plan.inputs):
        graph.sources.append(Source(x.name, x.size, x.shape, x.source, x.probability, stream,
                                    x.spikes))
        graph.populations[x.name] = x.shape
    c_in: dict[str, np.ndarray] = {}
    for pop in plan.populations:
        graph.populations[pop.name] = pop.shape
        span = net.node(pop.name).span
        if pop.adaptive:
            diag.error("E511", span, f"population '{pop.name}' is {pop.model}: Lava's LIF has "
                       "no adaptive threshold", hint="use LIF or CubaLIF for the Lava backend")
            continue
        if pop.spiking and pop.reset not in RESETS:
            diag.error("E512", span, f"population '{pop.name}' has reset '{pop.reset}'; the "
                       "Lava backend's neuron models reset to v_reset (zero), subtract the "
                       "threshold (subtract) or leave v (none)",
                       hint="use 'reset = zero', 'subtract' or 'none'")
            continue
        groups = neuron_groups(pop, *currents(pop, plan))
        if len(groups) > MANY_GROUPS:
            diag.warning("W510", span, f"population '{pop.name}' has {len(groups)} distinct "
                         "(du, dv, vth): it becomes as many Lava processes, each an operating-"
                         "system process in Lava's simulator", hint="draw time constants and "
                         "thresholds from a few values (e.g. a file) rather than a distribution")
        graph.groups.extend(groups)
        c_in[pop.name] = per_neuron(pop, "c_in", 1.0)
    if diag.has_errors:
        return None
    for p in plan.projections:
        graph.layouts[p.name] = (p.n_post, p.n_pre, p.post_index, p.pre_index)
        graph.connections.extend(connections_of(p, graph, c_in[p.post]))
    return graph


def connections_of(p: ProjectionPlan, graph: LavaGraph, c_in: np.ndarray) -> list[Connection]:
    """The blocks of projection ``p`` between the groups of its pre and post populations."""
    matrix, mask = dense_blocks(p)
    pres = graph.groups_of(p.pre) or [None]
    posts = graph.groups_of(p.post)
    out = []
    for post in posts:
        for pre in pres:
            pre_name = p.pre if pre is None else pre.name
            pre_indices = np.arange(p.n_pre) if pre is None else pre.indices
            block = np.ix_(post.indices, pre_indices)
            block_mask = None if mask is None else mask[block]
            if block_mask is not None and not block_mask.any():
                continue
            if block_mask is not None and block_mask.all():
                block_mask = None
            scale = c_in[post.indices]
            name = p.name if len(pres) * len(posts) == 1 else f"{p.name} [{pre_name} -> {post.name}]"
            out.append(Connection(name, p.name, pre_name, post.name, pre_indices, post.indices,
                                  matrix[block] * scale[:, None], block_mask, p.delay - 1, scale,
                                  port=post.port(p.receptor)))
    return out
