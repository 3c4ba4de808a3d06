"""The NEST network of a program, as data: populations on NEST's own neuron models, spike
sources, connections; every parameter converted so that NEST's exact integration runs snnc's
discrete model (README, "Numerical conventions"; docs/nest.md).

snnc's neuron per step (``backends/reference/runtime.py``)::

    I <- a_syn I + J                    (each filtered current: the model's own, a receptor's)
    v <- a_mem (v - v_leak) + v_leak + c_in (I + bias)       (LIF: I is this step's input J)
    hold v = v_reset while refractory;  spike when v > threshold;  v <- v_reset after a spike

NEST's ``iaf_psc_delta`` (no filtered current) and ``iaf_psc_exp_multisynapse`` (one port per
current) per step of h = dt (E_L = 0, so NEST's V_m is snnc's v)::

    delta:  V <- P33 V + P30 I_e + sum of this step's weights
    exp:    V <- P22 V + P20 I_e + sum_k P21_k i_k;   i_k <- P11_k i_k + this step's weights

    spike when V >= V_th, V <- V_reset and held for t_ref

with P33 = P22 = exp(-h/tau_m), P30 = P20 = -tau_m/C_m expm1(-h/tau_m), P11_k = exp(-h/tau_k)
and P21_k NEST's propagator. So: tau_m and tau_k are chosen so that exp(-h/tau) is snnc's
decay to the bit (:func:`nest_tau`), C_m = 1 pF, I_e = ((1 - a_mem) v_leak + c_in bias) / P30,
a weight is c_in w (mV, delta) or c_in w / P21_k (pA, exp), V_th is the double just above
snnc's threshold (NEST fires at V >= V_th, snnc at v > threshold), t_ref = refractory steps.
Voltages are snnc's numbers unscaled (a program written in volts runs in NEST with "mV" that
are volts: the dynamics are linear, and unscaled numbers keep the arithmetic identical).

Timing: a spike of step n is stamped (n + 1) h in NEST and a connection of delay D steps makes
it reach the target's update of step n + D; an exp model's current reaches V one step later.
snnc delivers a spike of step n into step n + d (the plan's effective delay d, 0 allowed).
Each population and source gets a step offset o (NEST's step m is snnc's step m - o) and a
projection the NEST delay D = d + o_post - o_pre - lag_post (lag 1 for exp models), which must
be at least 1: the offsets are the smallest that satisfy every projection (longest paths), and
a cycle that cannot (a recurrence whose effective delay is shorter than the model's lag + 1)
is E523.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from snnc.backends.nest.rules import plastic
from snnc.diagnostics import Diagnostics
from snnc.ir.discrete import Plan, PopulationPlan, ProjectionPlan, plan_projection
from snnc.ir.network import Network
from snnc.ir.nodes import Projection
from snnc.ir.values import Constant, Normal, Uniform

#: NEST's membrane time constant for a population without leak (exp(-h/tau) == 1.0 exactly)
NO_LEAK_TAU = 1e300
#: a readout's threshold in NEST (never reached: it does not spike)
READOUT_THRESHOLD = float(np.finfo(np.float64).max) / 2
#: NEST's connection rule for each of snnc's random or regular connectivities
RULES = {"dense": "all_to_all", "sparse": "pairwise_bernoulli", "fixed_fan_in": "fixed_indegree",
         "one_to_one": "one_to_one"}
DELTA, EXP = "iaf_psc_delta", "iaf_psc_exp_multisynapse"
#: the weight distributions NEST's nest.random draws
DRAWN = (Constant, Uniform, Normal)
#: ALIF: instantaneous input, threshold V_th + adapt_beta a with a <- rho a + (last step's spike)
ADAPT = "eprop_iaf_psc_delta_adapt"


@dataclass
class NestPopulation:
    name: str
    shape: tuple[int, ...]
    model: str  # DELTA, EXP or ADAPT
    #: NEST parameters: a float for all neurons or an array per neuron (tau_syn: a list)
    params: dict[str, object]
    ports: dict[str | None, int] = field(default_factory=dict)  # current -> receptor_type
    offset: int = 0

    @property
    def size(self) -> int:
        return int(np.prod(self.shape))

    @property
    def lag(self) -> int:
        """Steps between a spike's arrival and its effect on V."""
        return 1 if self.model == EXP else 0


@dataclass
class NestSource:
    name: str
    shape: tuple[int, ...]
    kind: str  # data | poisson | file
    rate: float = 0.0  # Hz, poisson
    probability: float = 0.0  # per step, poisson (snnc's draw)
    stream: int = 0  # snnc draws a poisson source from default_rng([seed, stream])
    spikes: np.ndarray | None = None  # [steps, size], file
    offset: int = 0
    lag: int = 0
    #: spike generators feeding parrot neurons (the pre side of a plastic projection: a device
    #: cannot be one); the generators fire a step earlier, so the offset is at least 1
    parrots: bool = False

    @property
    def size(self) -> int:
        return int(np.prod(self.shape))


@dataclass
class NestConnection:
    """A projection: NEST's rule (``rule``/``rule_args``, weights drawn by ``weight``) or, for
    ``rule == "arrays"``, snnc's own synapses (``pre_index``, ``post_index``, ``weights``)."""

    name: str
    pre: str
    post: str
    delay: int  # NEST steps (>= 1)
    snnc_delay: int  # the plan's effective delay
    receptor: int  # receptor_type (0: iaf_psc_delta)
    rule: str
    rule_args: dict = field(default_factory=dict)
    weight: tuple = ()  # ("constant", w) | ("uniform", low, high) | ("normal", mean, std)
    pre_index: np.ndarray | None = None
    post_index: np.ndarray | None = None
    weights: np.ndarray | None = None
    why_arrays: str = ""
    #: NEST's synapse parameters of a plastic projection (rules.py, dopamine.py), else empty
    synapse: dict = field(default_factory=dict)
    learning_rule: str = ""
    #: NEST's plastic synapse model: stdp_synapse or stdp_dopamine_synapse
    synapse_model: str = "stdp_synapse"
    scale: float = 1.0  # NEST's weight per unit of snnc's (a plastic connection's)


@dataclass
class NestGraph:
    name: str
    dt: float
    seed: int
    sources: list[NestSource]
    populations: list[NestPopulation]
    connections: list[NestConnection]

    def node(self, name: str):
        return next(x for x in [*self.sources, *self.populations] if x.name == name)


def nest_tau(h: float, decay: float) -> float:
    """A time constant (ms) whose exp(-h/tau) is ``decay`` to the bit (as NEST computes it)."""
    if decay >= 1.0:
        return NO_LEAK_TAU
    if decay <= 0.0:  # exp(-h/tau) underflows to 0
        return h / 1000.0
    tau = -h / math.log(decay)
    for _ in range(200):
        got = math.exp(-h / tau)
        if got == decay:
            return tau
        tau = math.nextafter(tau, math.inf if got < decay else 0.0)
    return tau


def nest_taus(h: float, decay) -> object:
    if np.ndim(decay) == 0:
        return nest_tau(h, float(decay))
    cache: dict[float, float] = {}
    return np.array([cache.setdefault(float(a), nest_tau(h, float(a))) for a in decay])


def p30(h: float, tau, c_m: float = 1.0):
    """NEST's propagator of a constant current onto V over one step: -tau/C expm1(-h/tau)."""
    return -tau / c_m * np.expm1(-h / np.asarray(tau, dtype=float))


def p21(h: float, tau_syn: float, tau_m, c_m: float = 1.0):
    """NEST 3.10's propagator of an exponential current onto V over one step
    (IAFPropagatorExp: gamma exp(-h/tau_syn) expm1(h/beta), h/C exp(-h/tau_m) when singular)."""
    tau_m = np.asarray(tau_m, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        beta = tau_syn * tau_m / (tau_m - tau_syn)
        inv_beta = (tau_m - tau_syn) / (tau_syn * tau_m)
        value = beta / c_m * np.exp(-h * (1 / tau_syn)) * np.expm1(h * inv_beta)
    singular = ~(np.isfinite(value) & (value > 0))
    return np.where(singular, h / c_m * np.exp(-h * (1 / tau_m)), value)


def value(pop: PopulationPlan, key: str, default: float):
    if key in pop.arrays:
        return np.asarray(pop.arrays[key], dtype=np.float64)
    return float(pop.scalars.get(key, default))


def currents(pop: PopulationPlan, plan: Plan) -> list[str | None]:
    """The filtered currents of a population (None: the model's own), or [] for a
    population whose input is instantaneous (iaf_psc_delta)."""
    incoming = plan.incoming(pop.name)
    receptors = sorted({p.receptor for p in incoming if p.receptor is not None})
    own = [None] if pop.has_syn else []
    return own + receptors


def population_params(pop: PopulationPlan, h: float, ports: list) -> dict[str, object]:
    """NEST's parameters of ``pop`` (module docstring)."""
    a_mem = value(pop, "a_mem", 1.0)
    tau_m = nest_taus(h, a_mem)
    c_in = value(pop, "c_in", 1.0)
    drive = (1.0 - np.asarray(a_mem)) * value(pop, "v_leak", 0.0) + c_in * value(pop, "bias", 0.0)
    i_e = drive / p30(h, tau_m)
    threshold = value(pop, "threshold", 1.0) if pop.spiking else READOUT_THRESHOLD
    params: dict[str, object] = {
        "E_L": 0.0, "C_m": 1.0, "tau_m": tau_m, "I_e": scalar(i_e),
        "V_th": scalar(np.nextafter(threshold, np.inf)),
        "V_reset": value(pop, "v_reset", 0.0) if pop.spiking else 0.0,
        "V_m": value(pop, "v_init", 0.0), "t_ref": pop.refractory * h if pop.spiking else 0.0}
    if ports:
        params["tau_syn"] = [nest_tau(h, float(value(pop, "a_syn", 0.0)) if c is None
                                      else pop.receptors[c]) for c in ports]
    return params


def scalar(x):
    x = np.asarray(x, dtype=np.float64)
    return float(x) if x.ndim == 0 else x


def plan_population(pop: PopulationPlan, plan: Plan, net: Network,
                    diag: Diagnostics) -> NestPopulation | None:
    span = net.node(pop.name).span
    if pop.spiking and pop.reset != "zero":
        diag.error("E521", span, f"population '{pop.name}' has reset '{pop.reset}': NEST's "
                   "integrate-and-fire models reset to V_reset", hint="use 'reset = zero'")
        return None
    if not pop.leak and np.any(value(pop, "bias", 0.0) != 0):
        diag.error("E520", span, f"population '{pop.name}' is {pop.model} with a bias: NEST's "
                   "models have a leak, and a constant current without one is not exact",
                   hint="use LIF (with tau_mem) or remove the bias")
        return None
    ports = currents(pop, plan)
    direct = [p.name for p in plan.incoming(pop.name) if p.receptor is None]
    if ports and None not in ports and direct:
        diag.error("E520", span, f"population '{pop.name}' gets both instantaneous input "
                   f"('{direct[0]}') and receptor currents: no NEST model has both",
                   hint="give every projection into it a receptor, or none")
        return None
    if pop.spiking and np.any(np.asarray(value(pop, "v_reset", 0.0))
                              >= np.asarray(value(pop, "threshold", 1.0))):
        diag.error("E520", span, f"population '{pop.name}': v_reset is not below the threshold "
                   "(NEST requires V_reset < V_th)", hint="lower v_reset")
        return None
    if pop.adaptive and not adaptive_maps(pop, ports, span, diag):
        return None
    if None in ports and np.ndim(value(pop, "a_syn", 0.0)):
        diag.error("E520", span, f"population '{pop.name}' has tau_syn per neuron: the NEST "
                   "backend sets one per population", hint="use one tau_syn")
        return None
    params = population_params(pop, plan.dt * 1000.0, ports)
    if pop.adaptive:
        params |= adaptive_params(pop, plan.dt * 1000.0, params)
    return NestPopulation(pop.name, pop.shape, ADAPT if pop.adaptive else EXP if ports
                          else DELTA, params, {c: k + 1 for k, c in enumerate(ports)})


def adaptive_maps(pop: PopulationPlan, ports: list, span, diag: Diagnostics) -> bool:
    """Whether ALIF population ``pop`` runs exactly on eprop_iaf_psc_delta_adapt (NEST 3.10's
    only adaptive-threshold model with a deterministic reset to V_reset); E520 saying why not.
    Its update (eprop_iaf_psc_delta_adapt.cpp) is, per step of a non-refractory neuron,
    V <- P_v V + P_i I_e + weights; a <- rho a + z; z <- [V >= V_th + beta a], then V <- V_reset
    and z = 1: the threshold of a step sees the spikes up to the step before, as snnc's
    threshold + beta_adapt a[n-1] with a[n] = rho a[n-1] + s[n]. While refractory it skips
    the adaptation (no decay, and the spike's increment is lost), so only refractory = 0 maps;
    its input is instantaneous (no current ports)."""
    why = ""
    if ports:
        why = ("receives filtered currents (a synaptic current or receptors), but NEST's "
               f"adaptive-threshold model with a reset ({ADAPT}) takes instantaneous input only")
    elif pop.refractory:
        why = (f"has a refractory period: NEST's {ADAPT} neither decays nor increments the "
               "adaptation while refractory (the spike's own increment is lost), snnc's ALIF "
               "updates it every step")
    if why:
        diag.error("E520", span, f"population '{pop.name}' is {pop.model} and {why}",
                   hint="ALIF without refractory period and without receptors runs on NEST "
                        f"({ADAPT}); otherwise compare with snnc run")
    return not why


def adaptive_params(pop: PopulationPlan, h: float, params: dict) -> dict[str, object]:
    """eprop_iaf_psc_delta_adapt's parameters beyond iaf_psc_delta's: adapt_beta (snnc's
    beta_adapt, voltages being unscaled), adapt_tau with exp(-h/tau) == rho to the bit, and I_e
    through this model's own propagator P_i = tau_m / C_m (1 - exp(-h/tau_m))."""
    tau_m = params["tau_m"]
    drive = np.asarray(params["I_e"]) * p30(h, tau_m)
    p_i = np.asarray(tau_m) * (1.0 - np.exp(-h / np.asarray(tau_m, dtype=float)))
    with np.errstate(divide="ignore", invalid="ignore"):
        i_e = np.where(drive == 0, 0.0, drive / p_i)
    return {"I_e": scalar(i_e), "adapt_beta": scalar(value(pop, "beta_adapt", 0.0)),
            "adapt_tau": nest_taus(h, value(pop, "rho", 0.0))}


def weight_scale(target: NestPopulation, pop: PopulationPlan, receptor: str | None,
                 h: float):
    """What one unit of snnc weight is in NEST: c_in (mV) or c_in / P21 (pA)."""
    c_in = value(pop, "c_in", 1.0)
    if target.model in (DELTA, ADAPT):
        return c_in
    port = target.ports[receptor if receptor in target.ports else None]
    tau_syn = target.params["tau_syn"][port - 1]
    return c_in / p21(h, tau_syn, target.params["tau_m"])


def weight_spec(weight, scale: float) -> tuple | None:
    """The weight distribution scaled by ``scale`` > 0 (None: not one NEST draws)."""
    if isinstance(weight, Constant):
        return ("constant", weight.value * scale)
    if isinstance(weight, Uniform):
        return ("uniform", weight.low * scale, weight.high * scale)
    if isinstance(weight, Normal):
        return ("normal", weight.mean * scale, weight.std * scale)
    return None


def nest_may_draw(net: Network, rules: bool) -> Callable[[Projection], bool]:
    """For :func:`snnc.ir.discrete.build_plan`'s ``draw``: whether snnc must draw a projection's
    synapses: not when NEST's connection rules may (``rules``, one of NEST's connectivities,
    a weight NEST draws); :func:`connection` draws the rest of them when it needs them
    after all (a per-neuron weight scale). So a network of 10^8 synapses is never drawn by
    Python on the way to NEST."""
    def draw(projection: Projection) -> bool:
        kind = projection.connectivity.kind
        sizes = net.node(projection.pre).size, net.node(projection.post).size
        return not (rules and kind in RULES and isinstance(projection.weight, DRAWN)
                    and not (kind == "one_to_one" and sizes[0] != sizes[1]))
    return draw


def connection(p: ProjectionPlan, plan: Plan, net: Network, graph: NestGraph,
               rules: bool) -> NestConnection:
    """Projection ``p`` as NEST connections: a rule when ``rules`` and the connectivity is
    one of NEST's, else snnc's own synapses (drawn now if the plan did not)."""
    post = graph.node(p.post)
    pop = next(x for x in plan.populations if x.name == p.post)
    scale = weight_scale(post, pop, p.receptor, plan.dt * 1000.0)
    port = post.ports.get(p.receptor if p.receptor in post.ports else None, 0)
    c = NestConnection(p.name, p.pre, p.post, 0, p.delay, port, "arrays")
    ir = net.projection(p.name)
    kind = ir.connectivity.kind
    spec = weight_spec(ir.weight, float(scale)) if np.ndim(scale) == 0 else None
    if rules and kind in RULES and spec is not None and not \
            (kind == "one_to_one" and p.n_pre != p.n_post):
        c.rule, c.weight = RULES[kind], spec
        c.rule_args = {"p": ir.connectivity.p} if kind == "sparse" else \
            {"indegree": ir.connectivity.k} if kind == "fixed_fan_in" else {}
        return c
    if rules:
        c.why_arrays = (f"{ir.connectivity.describe()} has no NEST rule" if kind not in RULES
                        else "the weights are not a distribution NEST draws")
    if p.weights is None:
        p = plan_projection(net, ir, p.delay)
    if p.dense:
        post_index, pre_index = np.nonzero(p.mask if p.mask is not None else
                                           np.ones((p.n_post, p.n_pre), dtype=bool))
        weights = p.weights[post_index, pre_index]
    else:
        post_index, pre_index, weights = p.post_index, p.pre_index, p.weights
    c.pre_index, c.post_index = pre_index.astype(np.int64), post_index.astype(np.int64)
    factor = np.asarray(scale)
    c.weights = weights * (factor[post_index] if factor.ndim else factor)
    return c


def longest_paths(nodes: dict, need: list) -> NestConnection | None:
    """Offsets with o_post >= o_pre + gap for every (connection, gap) in ``need``
    (Bellman-Ford from all zeros); the connection of a cycle that cannot be satisfied, or None."""
    for node in nodes.values():
        node.offset = int(getattr(node, "parrots", False))
    for _ in range(len(nodes) + 1):
        changed = False
        for c, gap in need:
            if nodes[c.post].offset < nodes[c.pre].offset + gap:
                nodes[c.post].offset = nodes[c.pre].offset + gap
                changed = True
        if not changed:
            return None
    return next(c for c, gap in need if nodes[c.post].offset < nodes[c.pre].offset + gap)


def assign_offsets(graph: NestGraph, net: Network, diag: Diagnostics, strict: bool) -> bool:
    """The smallest step offsets with every NEST delay >= 1 (module docstring). A cycle that no
    offsets satisfy is E523, or with ``strict`` False (NEST's own connectivity, statistically
    equivalent anyway) W523: its projections get NEST's minimum delay, a step or two later than
    snnc's. False after E523."""
    nodes = {x.name: x for x in [*graph.sources, *graph.populations]}
    need = [(c, 1 + nodes[c.post].lag - c.snnc_delay) for c in graph.connections]
    while (c := longest_paths(nodes, need)) is not None:
        lag = nodes[c.post].lag
        current = f", and one more for the current of '{c.post}' to reach its membrane" \
            if lag else ""
        text = (f"projection '{c.name}' is on a cycle whose spikes arrive after {c.snnc_delay} "
                f"step(s): NEST delivers a spike at least one step after the step it is "
                f"emitted in{current}")
        hint = f"delays of at least {1 + lag} steps on the cycle's projections"
        if strict:
            diag.error("E523", net.projection(c.name).span, text, hint=hint + ", or "
                       "--connectivity nest (statistically equivalent; accepts NEST's latency)")
            return False
        diag.warning("W523", net.projection(c.name).span, text + "; NEST runs it with its "
                     "minimum latency", hint=hint + " make NEST's timing exact")
        need = [(x, gap) for x, gap in need if x is not c]
    for c in graph.connections:
        c.delay = max(1, c.snnc_delay + nodes[c.post].offset - nodes[c.pre].offset
                      - nodes[c.post].lag)
    return True


def stdp_synapses(graph: NestGraph, learning: dict, plan: Plan, net: Network,
                  diag: Diagnostics, poisson: str) -> bool:
    """NEST's stdp_synapse on each plastic connection (weights scaled as the connection's) and
    tau_minus on its post population; E522 where that is not possible."""
    h = plan.dt * 1000.0
    for c in graph.connections:
        if c.name not in learning:
            continue
        stdp, post = learning[c.name], graph.node(c.post)
        pop = next(x for x in plan.populations if x.name == c.post)
        scale = weight_scale(post, pop, next(p.receptor for p in plan.projections
                                             if p.name == c.name), h)
        tau_minus = stdp.post_tau_minus(h)
        span = net.projection(c.name).span
        pre = graph.node(c.pre)
        if isinstance(pre, NestSource) and (pre.kind != "poisson" or poisson != "generator"):
            pre.parrots = True
        if np.ndim(scale) or not float(scale) > 0:
            diag.error("E522", span, f"projection '{c.name}' learns onto neurons with input "
                       "scales per neuron: NEST's stdp_synapse has one Wmax",
                       hint="one tau_mem for the post population, or --no-learn")
            return False
        if post.params.get("tau_minus", tau_minus) != tau_minus:
            diag.error("E522", span, f"projection '{c.name}': NEST keeps tau_minus on the post "
                       f"neuron, and '{c.post}' learns with two", hint="one tau_minus per "
                       "post population")
            return False
        post.params["tau_minus"] = tau_minus
        c.synapse, c.learning_rule = stdp.synapse(h, float(scale)), stdp.rule
        c.synapse_model = stdp.model
        c.scale = float(scale)
    return True


def build_graph(plan: Plan, net: Network, diag: Diagnostics, rules: bool,
                poisson: str = "generator") -> NestGraph | None:
    """The NEST network of ``plan``; None after errors (E520-E523)."""
    graph = NestGraph(plan.name, plan.dt, plan.seed, [], [], [])
    for stream, x in enumerate(plan.inputs):
        rate = x.probability / plan.dt if x.source == "poisson" else 0.0
        graph.sources.append(NestSource(x.name, x.shape, x.source, rate, x.probability,
                                        stream, x.spikes))
    for pop in plan.populations:
        nest_pop = plan_population(pop, plan, net, diag)
        if nest_pop is not None:
            graph.populations.append(nest_pop)
    learning = plastic(plan, net, diag)
    if diag.has_errors:
        return None
    graph.connections = [connection(p, plan, net, graph, rules) for p in plan.projections]
    if not stdp_synapses(graph, learning, plan, net, diag, poisson):
        return None
    return graph if assign_offsets(graph, net, diag, strict=not rules) else None
