"""Where each neuron of a network sits on Xylo, and its parameters in the chip's terms.

Xylo has up to 16 input channels, one pool of hidden neurons and separate output neurons
(docs/synsense.md 1.1 and 1.4). The input weights reach the first ``Nien`` hidden neurons, the
output weights leave from the last ``Noen`` (``XyloSim.from_specification``). snnc places:

- the inputs' neurons as channels, inputs in declaration order;
- the hidden populations (every population that is not a readout) in four groups, each in
  declaration order: fed by an input only, fed by an input and driving a readout, neither,
  driving a readout only. ``Nien`` ends with the last population fed by an input, ``Noen``
  starts with the first that drives a readout (the rows between are zeros);
- the readouts, in declaration order, as the output neurons.

A neuron's synaptic currents are its receptor slots (at most two on Audio 2 and 3, one on
IMU): slot 0 is the model's own current (CubaLIF's ``tau_syn``), or the unfiltered input of a
model without one; then one slot per named receptor.

The chip's update of a neuron (docs/synsense.md 1.4; a_k = 1 - 2^-dash_k, the bit shifts
aside)::

    I^x_k[n] = a_k (I^x_k[n-1] + sum_j W^x_kj x_j[n])        v^x[n] = a_m v^x[n-1] + sum_k I^x_k[n] + b^x

and snnc's (:mod:`snnc.models`)::

    I_k[n] = a_k I_k[n-1] + sum_j W_kj x_j[n]          v[n] = a_m (v[n-1] - v_leak) + v_leak + c_in (sum_k I_k[n] + bias)

They agree with ``v^x = S v`` and ``I^x_k = S c_in I_k`` when::

    W^x = S c_in W / a_k,      b^x = S (c_in bias + (1 - a_m) v_leak),      threshold^x = S threshold

(induction: a_k (S c_in I_k[n-1] + S c_in W x / a_k) = S c_in (a_k I_k[n-1] + W x)). This
module computes everything but the scale ``S`` (:mod:`snnc.backends.xylo.quantize` chooses it
per population): the gains ``c_in / a_k`` are applied to the weights, the decays are rounded
to bit shifts (``dash = round(-log2(1 - a))``, halves to even as Rockpool rounds), and an
unfiltered input passes through a current with the chip's fastest decay (``a_k`` of
``decay_shift_min``), its first step's share exact.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from snnc.ir.discrete import Plan, PopulationPlan, ProjectionPlan
from snnc.ir.network import Network


@dataclass(frozen=True)
class Placement:
    """One input or population on the chip: its neurons are ``start .. start + size - 1`` of
    the input channels, hidden neurons or output neurons."""
    name: str
    start: int
    size: int

    @property
    def stop(self) -> int:
        return self.start + self.size


@dataclass(frozen=True)
class Route:
    """Where a projection's weights go: the matrix ('in', 'rec' or 'out'), the receptor slot,
    and the placements of its pre and post sides."""
    matrix: str
    slot: int
    pre: Placement
    post: Placement


@dataclass
class Neurons:
    """The per-neuron parameters of the hidden or the output neurons, in snnc's units (before
    the scale S): ``dash_mem`` [n], ``dash_syn`` [n, slots] (the chip's fastest where a slot
    is unused),
    ``threshold`` [n] (inf for a readout that does not spike), ``bias`` [n] (``c_in bias + (1 -
    a_m) v_leak``); ``a_mem`` and ``a_syn`` are snnc's exact decay factors (NaN where a slot
    is unused or holds an unfiltered input) for the report."""
    dash_mem: np.ndarray
    dash_syn: np.ndarray
    threshold: np.ndarray
    bias: np.ndarray
    a_mem: np.ndarray
    a_syn: np.ndarray


@dataclass
class XyloNetwork:
    """A network in Xylo's terms before integer scaling: placements, neurons and the weight
    matrices ``w_in`` [Nin, Nh, slots], ``w_rec`` [Nh, Nh, slots], ``w_out`` [Nh, Nout] with the
    gains ``c_in / a_k`` applied (``W^x / S``)."""
    dt: float
    inputs: list[Placement]
    hidden: list[Placement]
    outputs: list[Placement]
    n_ien: int
    n_oen: int
    slots: int
    hidden_neurons: Neurons
    output_neurons: Neurons
    w_in: np.ndarray
    w_rec: np.ndarray
    w_out: np.ndarray
    routes: dict[str, Route] = field(default_factory=dict)
    #: population -> {receptor name or None (own current / unfiltered input): slot}
    slot_of: dict[str, dict[str | None, int]] = field(default_factory=dict)

    @property
    def n_in(self) -> int:
        return self.w_in.shape[0]

    @property
    def n_hidden(self) -> int:
        return self.w_rec.shape[0]

    @property
    def n_out(self) -> int:
        return self.w_out.shape[1]

    def placement(self, name: str) -> tuple[str, Placement] | None:
        """('input' | 'hidden' | 'output', the placement) of an input or population."""
        for kind, places in (("input", self.inputs), ("hidden", self.hidden),
                             ("output", self.outputs)):
            for place in places:
                if place.name == name:
                    return kind, place
        return None


def dash_of(a: float | np.ndarray) -> np.ndarray:
    """The bit shift whose decay ``1 - 2^-dash`` is nearest to ``a`` in ``log2(1 - a)``:
    ``round(-log2(1 - a))``, halves to even (``np.round``, as Rockpool's quantisation)."""
    a = np.asarray(a, dtype=np.float64)
    with np.errstate(divide="ignore"):
        return np.round(-np.log2(1.0 - a)).astype(np.int64)


def shift_decay(dash) -> np.ndarray:
    """The chip's decay factor per step of a bit shift: ``1 - 2^-dash``."""
    return 1.0 - np.exp2(-np.asarray(dash, dtype=np.float64))


def order_hidden(net: Network, hidden: list[str]) -> list[str]:
    """The hidden populations in the chip's order (the module's docstring)."""
    sources = {node.name for node in net.inputs()}
    readouts = {p.name for p in net.populations() if p.readout}
    fed = {q.post for q in net.projections() if q.pre in sources}
    driving = {q.pre for q in net.projections() if q.post in readouts}

    def group(name: str) -> int:
        return {(True, False): 0, (True, True): 1, (False, False): 2, (False, True): 3}[
            (name in fed, name in driving)]

    return sorted(hidden, key=lambda name: (group(name), hidden.index(name)))


def receptor_slots(net: Network, population: str, has_syn: bool) -> dict[str | None, int]:
    """The receptor slots of a population: None (its own current, or the unfiltered input of
    a model without one) first when used, then each named receptor in order of appearance."""
    incoming = net.incoming(population)
    slots: dict[str | None, int] = {}
    if has_syn or any(q.receptor is None for q in incoming):
        slots[None] = 0
    for q in incoming:
        if q.receptor is not None and q.receptor.name not in slots:
            slots[q.receptor.name] = len(slots)
    return slots


def per_neuron(plan: PopulationPlan, name: str, default: float = 0.0) -> np.ndarray:
    """A population constant as a vector over its neurons (``default`` when absent)."""
    if name in plan.arrays:
        return np.asarray(plan.arrays[name], dtype=np.float64).reshape(-1)
    return np.full(plan.size, plan.scalars.get(name, default), dtype=np.float64)


def neurons_of(plans: list[PopulationPlan], slot_maps: dict[str, dict], slots: int,
               fastest: int) -> Neurons:
    """The per-neuron parameters of the populations ``plans`` in the chip's order."""
    parts: dict[str, list[np.ndarray]] = {k: [] for k in
                                          ("dash_mem", "dash_syn", "threshold", "bias", "a_mem",
                                           "a_syn")}
    for plan in plans:
        n = plan.size
        a_mem = per_neuron(plan, "a_mem", 1.0)
        c_in = per_neuron(plan, "c_in", 1.0)
        bias = c_in * per_neuron(plan, "bias") + (1.0 - a_mem) * per_neuron(plan, "v_leak")
        threshold = per_neuron(plan, "threshold") if plan.spiking else np.full(n, np.inf)
        a_syn = np.full((n, slots), np.nan)
        # a slot no projection uses keeps the fastest decay (Rockpool refuses tau <= dt)
        dash_syn = np.full((n, slots), fastest, dtype=np.int64)
        for receptor, slot in slot_maps[plan.name].items():
            if receptor is None and plan.has_syn:
                a_syn[:, slot] = per_neuron(plan, "a_syn")
                dash_syn[:, slot] = dash_of(a_syn[:, slot])
            elif receptor is None:  # unfiltered input: the chip's fastest current
                dash_syn[:, slot] = fastest
            else:
                a_syn[:, slot] = plan.receptors[receptor]
                dash_syn[:, slot] = dash_of(a_syn[:, slot])
        for key, value in (("dash_mem", dash_of(a_mem)), ("dash_syn", dash_syn),
                           ("threshold", threshold), ("bias", bias), ("a_mem", a_mem),
                           ("a_syn", a_syn)):
            parts[key].append(value)
    if not plans:
        empty = {k: np.zeros((0, slots) if k in ("dash_syn", "a_syn") else 0,
                             dtype=np.int64 if k.startswith("dash") else np.float64)
                 for k in parts}
        return Neurons(**empty)
    return Neurons(**{k: np.concatenate(v) for k, v in parts.items()})


def place(names: list[str], sizes: dict[str, int]) -> list[Placement]:
    places, start = [], 0
    for name in names:
        places.append(Placement(name, start, sizes[name]))
        start += sizes[name]
    return places


def build_layout(net: Network, plan: Plan, fastest: int, slots_max: int = 2) -> XyloNetwork:
    """The network of ``plan`` in Xylo's terms. The caller has checked that it fits the chip
    (check-target's E405: inputs -> hidden -> readouts, readouts that feed nothing, at most
    ``slots_max`` currents per neuron); ``fastest`` is the chip's smallest bit shift, the
    current of an unfiltered input."""
    populations = {p.name: p for p in plan.populations}
    sizes = {name: p.size for name, p in populations.items()}
    sizes.update({i.name: i.size for i in plan.inputs})
    declared = [p.name for p in net.populations()]
    readouts = [name for name in declared if net.node(name).readout]
    hidden = order_hidden(net, [name for name in declared if name not in readouts])
    inputs = place([i.name for i in net.inputs()], sizes)
    hidden_places, output_places = place(hidden, sizes), place(readouts, sizes)
    slot_of = {name: receptor_slots(net, name, populations[name].has_syn)
               for name in declared}
    slots = max([len(s) for name, s in slot_of.items() if name in hidden] + [1])
    slots = min(slots, slots_max)
    fed = {q.post for q in plan.projections if any(i.name == q.pre for i in plan.inputs)}
    driving = {q.pre for q in plan.projections if q.post in readouts}
    n_hidden = sum(p.size for p in hidden_places)
    n_ien = max((p.stop for p in hidden_places if p.name in fed), default=0)
    n_oen = n_hidden - min((p.start for p in hidden_places if p.name in driving),
                           default=n_hidden)
    n_in = sum(p.size for p in inputs)
    n_out = sum(p.size for p in output_places)
    layout = XyloNetwork(
        net.settings.dt, inputs, hidden_places, output_places, n_ien, n_oen, slots,
        neurons_of([populations[n] for n in hidden], slot_of, slots, fastest),
        neurons_of([populations[n] for n in readouts], slot_of, 1, fastest),
        np.zeros((n_in, n_hidden, slots)), np.zeros((n_hidden, n_hidden, slots)),
        np.zeros((n_hidden, n_out)), slot_of=slot_of)
    for p in plan.projections:
        add_projection(layout, p, populations[p.post])
    return layout


def add_projection(layout: XyloNetwork, p: ProjectionPlan, post: PopulationPlan) -> None:
    """Adds the projection's weights times its gain ``c_in / a_k`` to its matrix (transposed
    to the chip's [pre, post])."""
    (pre_kind, pre), (post_kind, post_place) = layout.placement(p.pre), layout.placement(p.post)
    slot = layout.slot_of[p.post][p.receptor]
    neurons = layout.hidden_neurons if post_kind == "hidden" else layout.output_neurons
    rows = slice(post_place.start, post_place.stop)
    a_k = shift_decay(neurons.dash_syn[rows, slot])
    c_in = per_neuron(post, "c_in", 1.0)
    gained = p.dense_weights() * (c_in / a_k)[:, None]  # [post, pre]
    if pre_kind == "input":
        layout.w_in[pre.start:pre.stop, rows, slot] += gained.T
        layout.routes[p.name] = Route("in", slot, pre, post_place)
    elif post_kind == "hidden":
        layout.w_rec[pre.start:pre.stop, rows, slot] += gained.T
        layout.routes[p.name] = Route("rec", slot, pre, post_place)
    else:
        layout.w_out[pre.start:pre.stop, rows] += gained.T
        layout.routes[p.name] = Route("out", 0, pre, post_place)
