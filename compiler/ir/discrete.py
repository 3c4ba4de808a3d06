"""The discrete model every backend and the trainer consume: the IR made concrete for one
simulation (arrays, update order, delays in steps, per-step decays), as a :class:`Plan`.
It lives in the IR layer so that no backend imports another (``tests/test_layers.py``).

Conventions (README, "Numerical conventions"):

- Step n = 0 .. T-1. Every population is updated once per step, in topological order of the
  projections without delay; inputs come first.
- A projection with delay d delivers a spike emitted at step n into the post population's
  input at step n + d_eff. With ``delivery = same_step`` (default, as snnTorch, Norse and the
  other NIR importers run layered networks) d_eff = d for projections that go forward in the
  order, and max(d, 1) for projections that close a cycle (they read the previous step).
  With ``delivery = next_step`` (Lava's convention: every connection adds one step)
  d_eff = d + 1 everywhere.
- Parameters are materialised per neuron only when they vary; constants stay scalars.

Every conversion of the model that involves ``dt`` is one function here, used by the plan, the
passes and every backend: :func:`decay` (``exp(-dt/tau)`` or ``1 - dt/tau``),
:func:`step_count` (``round(duration / dt)``), :func:`tau_in_steps` (``tau / dt``),
:func:`spike_probability` (``rate * dt``) and :func:`r_dt_over_tau` (``r * dt / tau_mem``).
What a population computes is read from its model's properties (:mod:`snnc.models`).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from snnc.ir.connectivity import transpose
from snnc.ir.network import Network
from snnc.ir.nodes import Input, Population, Projection, Settings
from snnc.ir.values import Constant, rng_for
from snnc.models import MODELS, ModelProperties

if TYPE_CHECKING:  # numpy is imported where arrays are made: checking needs none
    import numpy as np

DELIVERIES = ("same_step", "next_step")
DENSE_THRESHOLD = 0.25  # store a projection as a dense matrix above this density
RANDOM_KINDS = ("sparse", "fixed_fan_in")  # drawn by plan_random_projection


@dataclass
class PopulationPlan:
    """Per-population constants; ``scalars`` are Python floats, ``arrays`` per-neuron vectors."""

    name: str
    model: str
    size: int
    shape: tuple[int, ...]
    spiking: bool
    has_syn: bool  # the model's own synaptic current (property synaptic_current)
    adaptive: bool  # property adaptation
    reset: str
    refractory: int
    scalars: dict[str, float] = field(default_factory=dict)
    arrays: dict[str, np.ndarray] = field(default_factory=dict)
    receptors: dict[str, float] = field(default_factory=dict)  # receptor name -> decay factor
    surrogate: tuple[str, dict] = ("fast_sigmoid", {"beta": 10.0})
    leak: bool = True  # the membrane decays (a_mem < 1); IF has none

    @property
    def properties(self) -> ModelProperties:
        """The model's declared properties (``snnc.models.ModelProperties``)."""
        return MODELS[self.model].properties

    def value(self, name: str):
        return self.scalars[name] if name in self.scalars else self.arrays[name]


@dataclass
class ProjectionPlan:
    name: str
    pre: str
    post: str
    n_pre: int
    n_post: int
    delay: int  # effective delay d_eff in steps
    receptor: str | None
    dense: bool
    #: dense: weights [post, pre]; sparse: per-synapse arrays sorted by pre, then post, the
    #: indices int32 where they fit (:func:`index_dtype`: post and pre by the populations'
    #: sizes, indptr by the synapse count), else int64
    weights: np.ndarray | None  # None: not drawn (undrawn_projection)
    post_index: np.ndarray | None = None
    pre_index: np.ndarray | None = None
    indptr: np.ndarray | None = None  # CSR by pre neuron: synapses of pre j are indptr[j]:indptr[j+1]
    learning: bool = False
    mask: np.ndarray | None = None  # dense projections that are not full: where synapses exist
    kernel: np.ndarray | None = None  # conv2d/sumpool2d: the shared kernel [out, in, k, k]

    def dense_weights(self) -> np.ndarray:
        """The weights as a new float64 matrix [post, pre], zero where there is no synapse
        (a dense plan's matrix holds zeros there already)."""
        import numpy as np
        if self.dense:
            return np.array(self.weights, dtype=np.float64)
        matrix = np.zeros((self.n_post, self.n_pre))
        matrix[self.post_index, self.pre_index] = self.weights
        return matrix


@dataclass
class InputPlan:
    name: str
    size: int
    shape: tuple[int, ...]
    source: str  # data | poisson | file
    probability: float = 0.0  # per step, for poisson
    spikes: np.ndarray | None = None  # [steps, size] for file sources


@dataclass
class Plan:
    name: str
    dt: float
    seed: int
    integration: str
    delivery: str
    inputs: list[InputPlan]
    populations: list[PopulationPlan]  # in update order
    projections: list[ProjectionPlan]
    max_delay: int
    net: Network | None = None  # the IR it was built from (learning rules are printed from it)

    def incoming(self, name: str) -> list[ProjectionPlan]:
        return [p for p in self.projections if p.post == name]


def decay(settings: Settings, tau):
    """The per-step decay factor of a time constant ``tau`` (seconds; a float or an array):

    - ``exact`` integration: ``a = exp(-dt / tau)``, the exact solution of ``tau dx/dt = -x``
      over one step;
    - ``euler`` integration: ``a = 1 - dt / tau``, forward Euler.

    Evaluated as written (``exp(-dt / tau)``, ``1.0 - dt / tau``), so every caller gets the
    same bits; ``exp`` is the C library's (:func:`math.exp`, element by element for an array),
    not numpy's, whose SIMD versions round the last bit differently on different processors
    (AVX-512 or not): the same network gives the same constants on every machine. An array
    gives an array; a number gives a Python float (without importing numpy: ``snnc check``
    computes decays and imports none).
    """
    exact = settings.integration == "exact"
    if isinstance(tau, (int, float)):  # numpy's float64 is a float too
        return math.exp(-settings.dt / tau) if exact else float(1.0 - settings.dt / tau)
    import numpy as np
    if exact:
        ratio = np.asarray(-settings.dt / tau, dtype=np.float64)
        return np.frompyfunc(math.exp, 1, 1)(ratio).astype(np.float64)
    value = 1.0 - settings.dt / tau
    return value if isinstance(value, np.ndarray) else float(value)


def step_count(settings: Settings, default: int | None = None) -> int | None:
    """The number of steps ``T = round(duration / dt)`` of a network that states a
    ``duration``, else ``default`` (a lowered duration is positive, so T >= 0)."""
    if settings.duration is None:
        return default
    return round(settings.duration / settings.dt)


def tau_in_steps(settings: Settings, tau):
    """A time constant in steps, ``tau / dt`` (float or array), divided once: no exp/log round
    trip. ``tau_in_steps(dt = 1 ms, tau = 33.7 ms)`` is the float nearest 0.0337 / 0.001, which
    is ``33.7`` (``tests/test_discrete.py``)."""
    return tau / settings.dt


def spike_probability(settings: Settings, rate):
    """The per-step spike probability of a Poisson source of ``rate`` Hz: ``rate * dt`` (the
    first-order probability; check-ranges refuses a rate above one spike per step)."""
    return rate * settings.dt


def r_dt_over_tau(settings: Settings, r, tau_mem):
    """NIR's input scaling ``c_in = r * dt / tau_mem`` (evaluated left to right)."""
    return r * settings.dt / tau_mem


def materialize(net: Network, population: Population, name: str):
    value = population.params[name]
    if isinstance(value, Constant):
        return float(value.value)
    rng = rng_for(net.settings.seed, population.name, name)
    return value.materialize(population.size, rng)


def update_order(net: Network, with_delayed: bool = False) -> tuple[list[str], set[str]]:
    """Populations in update order and the names of projections that close a cycle.

    Edges with an explicit delay do not constrain the order (unless ``with_delayed``, which
    gives the cycles as a NIR importer sees them). Among the others, a depth-first search in
    declaration order marks as cycle-closing every edge that points back to a population still
    on the search stack (self-loops included). The order is topological over the other edges,
    the first declared first among the populations whose predecessors are placed (the
    lexicographical topological sort by declaration order).
    """
    import heapq

    populations = [p.name for p in net.populations()]
    back: set[str] = set()
    edges = [p for p in net.projections() if (with_delayed or p.delay_steps == 0)
             and isinstance(net.node(p.pre), Population)]
    state: dict[str, int] = {}  # 1 on stack, 2 done

    def visit(name: str) -> None:
        state[name] = 1
        for p in edges:
            if p.pre != name:
                continue
            if state.get(p.post) == 1:
                back.add(p.name)
            elif p.post not in state:
                visit(p.post)
        state[name] = 2

    for name in populations:
        if name not in state:
            visit(name)
    # the forward edges form a DAG: Kahn's algorithm, taking among the populations whose
    # predecessors are all placed the one declared first
    successors: dict[str, set[str]] = {name: set() for name in populations}
    for p in edges:
        if p.name not in back:
            successors[p.pre].add(p.post)
    waiting = {name: 0 for name in populations}
    for targets in successors.values():
        for name in targets:
            waiting[name] += 1
    rank = {name: i for i, name in enumerate(populations)}
    ready = [(rank[name], name) for name in populations if waiting[name] == 0]
    heapq.heapify(ready)
    order = []
    while ready:
        _, name = heapq.heappop(ready)
        order.append(name)
        for target in successors[name]:
            waiting[target] -= 1
            if waiting[target] == 0:
                heapq.heappush(ready, (rank[target], target))
    return order, back


def effective_delay(projection: Projection, back: set[str], delivery: str) -> int:
    if delivery == "next_step":
        return projection.delay_steps + 1
    if projection.name in back:
        return max(projection.delay_steps, 1)
    return projection.delay_steps


def input_scale(net: Network, population: Population, a_mem):
    option = population.options.get("input_scale", "one")
    if isinstance(option, float):
        return option
    if option == "one":
        return 1.0
    if option == "one_minus_decay":
        return 1.0 - a_mem
    return r_dt_over_tau(net.settings, materialize(net, population, "r"),
                         materialize(net, population, "tau_mem"))


def plan_population(net: Network, population: Population) -> PopulationPlan:
    """The population's constants, from its model's properties (``snnc.models``): ``a_mem``
    (1 without leak), ``a_syn`` with a synaptic current, ``rho`` and ``beta_adapt`` with
    adaptation, ``c_in``, the voltages, and one decay per receptor."""
    import numpy as np
    model = population.model
    props = model.properties
    settings = net.settings
    plan = PopulationPlan(
        population.name, model.name, population.size, population.shape, props.spiking,
        props.synaptic_current, props.adaptation,
        population.options.get("reset", "none"), int(population.options.get("refractory_steps", 0)),
        surrogate=population.options.get("surrogate", ("fast_sigmoid", {"beta": 10.0})),
        leak=props.leak)
    values = {}
    if props.leak:
        values["a_mem"] = decay(settings, materialize(net, population, "tau_mem"))
    else:  # IF: no leak
        values["a_mem"] = 1.0
    if plan.has_syn:
        values["a_syn"] = decay(settings, materialize(net, population, "tau_syn"))
    if plan.adaptive:
        values["rho"] = decay(settings, materialize(net, population, "tau_adapt"))
        values["beta_adapt"] = materialize(net, population, "beta_adapt")
    values["c_in"] = input_scale(net, population, values["a_mem"])
    for name in ("v_leak", "bias", "v_init", "threshold", "v_reset"):
        if name in population.params:
            values[name] = materialize(net, population, name)
    for name, value in values.items():
        if isinstance(value, np.ndarray):
            plan.arrays[name] = value.astype(np.float64)
        else:
            plan.scalars[name] = float(value)
    for projection in net.incoming(population.name):
        if projection.receptor is not None:
            plan.receptors[projection.receptor.name] = decay(settings, projection.receptor.tau)
    return plan


def plan_projection(net: Network, projection: Projection, delay: int) -> ProjectionPlan:
    """The projection's synapses and weights (one weight per synapse from ``rng_for(seed,
    projection, "weight")``; conv2d/sumpool2d: one per kernel tap). A random connectivity
    (``sparse``, ``fixed_fan_in``) goes to :func:`plan_random_projection`."""
    import numpy as np
    if projection.connectivity.kind in RANDOM_KINDS:
        return plan_random_projection(net, projection, delay)
    pre, post = net.node(projection.pre), net.node(projection.post)
    if projection.connectivity.kind == "dense" and pre.size * post.size:
        # every pair, weights drawn in row-major [post, pre] order: the matrix itself
        weights = projection.weight.materialize(pre.size * post.size, rng_for(
            net.settings.seed, projection.name, "weight")).astype(np.float64, copy=False)
        receptor = projection.receptor.name if projection.receptor else None
        return ProjectionPlan(projection.name, projection.pre, projection.post, pre.size,
                              post.size, delay, receptor, True,
                              weights.reshape(post.size, pre.size),
                              learning=bool(projection.rules))
    rng = rng_for(net.settings.seed, projection.name, "synapses")
    posts, pres = projection.connectivity.materialize(pre.shape, post.shape, rng)
    weight_rng = rng_for(net.settings.seed, projection.name, "weight")
    connectivity = projection.connectivity
    kernel = None
    if connectivity.kind == "file" and isinstance(projection.weight, Constant) \
            and projection.weight.value == 1.0:
        matrix = connectivity.file.load().reshape(post.size, pre.size)
        weights = matrix[posts, pres].astype(np.float64)
    elif connectivity.kind in ("conv2d", "sumpool2d"):  # one weight per kernel tap, shared
        _, _, taps = connectivity.conv_synapses(pre.shape, post.shape)
        kernel = projection.weight.materialize(int(np.prod(connectivity.kernel_shape(pre.shape))),
                                               weight_rng).astype(np.float64)
        weights = kernel[taps]
        kernel = kernel.reshape(connectivity.kernel_shape(pre.shape))
    else:
        weights = projection.weight.materialize(len(posts), weight_rng).astype(np.float64)
    n = pre.size * post.size
    dense = n > 0 and len(posts) / n > DENSE_THRESHOLD
    receptor = projection.receptor.name if projection.receptor else None
    plan = ProjectionPlan(projection.name, projection.pre, projection.post, pre.size, post.size,
                          delay, receptor, dense, weights, learning=bool(projection.rules),
                          kernel=kernel)
    if dense:
        matrix = np.zeros((post.size, pre.size))
        matrix[posts, pres] = weights
        plan.weights = matrix
        if len(posts) < n:
            plan.mask = np.zeros((post.size, pre.size), dtype=bool)
            plan.mask[posts, pres] = True
        return plan
    order = np.lexsort((posts, pres))
    plan.post_index = narrowed(posts, post.size)[order]
    plan.pre_index = narrowed(pres, pre.size)[order]
    plan.weights = weights[order]
    plan.indptr = csr_pointers(plan.pre_index, pre.size)
    return plan


def index_dtype(limit: int) -> np.dtype:
    """The dtype of CSR index arrays whose values lie in [0, ``limit``]: int32 up to
    2**31 - 1, else int64 (4 bytes per synapse instead of 8 for every population and
    projection below 2**31 neurons and synapses)."""
    import numpy as np
    return np.dtype(np.int32 if limit <= np.iinfo(np.int32).max else np.int64)


def narrowed(indices: np.ndarray, size: int) -> np.ndarray:
    """Neuron indices in [0, ``size``) as :func:`index_dtype` (``size``) (the same values;
    a copy when the dtype changes)."""
    return indices.astype(index_dtype(size), copy=False)


def csr_pointers(pre_index: np.ndarray, n_pre: int) -> np.ndarray:
    """indptr of synapses sorted by pre: those of pre j are indptr[j]:indptr[j + 1], as
    :func:`index_dtype` (synapse count). ``pre_index`` is searched in its own dtype (no copy:
    :func:`narrowed` chose one that holds n_pre)."""
    import numpy as np
    points = np.arange(n_pre + 1, dtype=np.result_type(pre_index.dtype, index_dtype(n_pre)))
    return np.searchsorted(pre_index, points).astype(index_dtype(len(pre_index)), copy=False)


def plan_random_projection(net: Network, projection: Projection, delay: int) -> ProjectionPlan:
    """A ``sparse`` or ``fixed_fan_in`` projection, built in time and memory proportional to
    its synapses: drawn by :meth:`Connectivity.draw`, then one weight per synapse drawn in the
    order the simulator stores them, so that no permutation of the weights is needed:

    - above :data:`DENSE_THRESHOLD` density, a [post, pre] matrix: weights in row-major order
      (by post, then pre; the order of every drawn projection before issue 18);
    - otherwise CSR by pre neuron: weights in CSR order (by pre, then post). Synapses drawn by
      post are re-sorted by pre first (one sort of the int64 key ``pre * N_post + post``);
      the int64 indices drawn are then narrowed (:func:`narrowed`) one array at a time."""
    import numpy as np
    pre, post = net.node(projection.pre), net.node(projection.post)
    rng = rng_for(net.settings.seed, projection.name, "synapses")
    posts, pres, by_pre = projection.connectivity.draw(pre.shape, post.shape, rng)
    weight_rng = rng_for(net.settings.seed, projection.name, "weight")
    n, count = pre.size * post.size, len(posts)
    dense = n > 0 and count / n > DENSE_THRESHOLD
    receptor = projection.receptor.name if projection.receptor else None
    plan = ProjectionPlan(projection.name, projection.pre, projection.post, pre.size, post.size,
                          delay, receptor, dense, None, learning=bool(projection.rules))
    if dense:
        mask = np.zeros((post.size, pre.size), dtype=bool)
        mask[posts, pres] = True
        del posts, pres
        plan.weights = np.zeros((post.size, pre.size))
        plan.weights[mask] = projection.weight.materialize(count, weight_rng)  # row-major
        plan.mask = mask if count < n else None
        return plan
    if not by_pre:
        posts, pres = transpose(posts, pres, pre.size, post.size, to_pre=True)
    plan.post_index = narrowed(posts, post.size)
    del posts  # the drawn int64 array, before the next one is narrowed
    plan.pre_index = narrowed(pres, pre.size)
    del pres
    plan.weights = projection.weight.materialize(count, weight_rng).astype(np.float64,
                                                                          copy=False)
    plan.indptr = csr_pointers(plan.pre_index, pre.size)
    return plan


def plan_input(net: Network, node: Input) -> InputPlan:
    plan = InputPlan(node.name, node.size, node.shape, node.source)
    if node.source == "poisson":
        plan.probability = spike_probability(net.settings, node.poisson_rate)
    elif node.source == "file":
        plan.spikes = node.file.load().reshape(-1, node.size).astype(bool)
    return plan


def undrawn_projection(net: Network, projection: Projection, delay: int) -> ProjectionPlan:
    """``projection``'s plan without its synapses (``weights`` None): for a backend whose
    engine draws them (NEST's connection rules); :func:`plan_projection` draws them."""
    pre, post = net.node(projection.pre), net.node(projection.post)
    receptor = projection.receptor.name if projection.receptor else None
    return ProjectionPlan(projection.name, projection.pre, projection.post, pre.size, post.size,
                          delay, receptor, False, None, learning=bool(projection.rules))


def build_plan(net: Network, delivery: str = "same_step",
               draw: Callable[[Projection], bool] | None = None) -> Plan:
    """The discrete plan of ``net`` under ``delivery``; every projection's synapses drawn, or
    only those for which ``draw`` says so (the others: :func:`undrawn_projection`)."""
    order, back = update_order(net)
    projections = []
    for projection in net.projections():
        delay = effective_delay(projection, back, delivery)
        projections.append(plan_projection(net, projection, delay)
                           if draw is None or draw(projection)
                           else undrawn_projection(net, projection, delay))
    populations = [plan_population(net, net.node(name)) for name in order]
    inputs = [plan_input(net, node) for node in net.inputs()]
    max_delay = max((p.delay for p in projections), default=0)
    s = net.settings
    return Plan(s.name, s.dt, s.seed, s.integration, delivery, inputs, populations, projections,
                max_delay, net)
