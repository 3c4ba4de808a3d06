"""Export to NIR: the network as a ``nir.NIRGraph`` that Euler-discretizing importers
(snnTorch, Norse, Lava) run step for step like the reference simulator (docs/interop.md).

NIR is continuous time. The importers integrate with forward Euler at the network's dt,
current first, so a decay a per step is exported as ``tau = dt / (1 - a)`` (for exact
integration a = exp(-dt/tau) gives a different, equivalent tau), and the input scaling c_in as
``r = c_in tau / dt``; a current-based neuron's synaptic input is scaled by
``w_in = tau_syn / dt``, which makes the current jump by exactly the weight. A projection with a
receptor becomes a leaky integrator (LI) node whose output is that current, feeding a LIF.

What NIR cannot express (subtractive reset, no reset, adaptive thresholds, refractoriness,
biases, initial potentials, plasticity) is reported by :func:`lossy_constructs`.
"""

from __future__ import annotations

import json

import numpy as np

from snnc.ir.discrete import Plan, PopulationPlan, ProjectionPlan, build_plan, tau_in_steps
from snnc.ir.network import Network

#: the NIR node of each combination of model properties NIR expresses, keyed by
#: (leak, synaptic_current, spiking); adaptation is dropped with E503 (lossy)
NEURON_NODES = {(True, False, True): "LIF", (True, False, False): "LI",
                (True, True, True): "CubaLIF", (True, True, False): "CubaLI",
                (False, False, True): "IF"}


def node_kind(pop: PopulationPlan) -> str | None:
    """The NIR neuron node of ``pop``'s model, from its properties; None when NIR has none."""
    props = pop.properties
    return NEURON_NODES.get((props.leak, props.synaptic_current, props.spiking))


def tau_of(decay, dt: float):
    """The time constant whose forward-Euler decay over dt is ``decay``."""
    return dt / (1.0 - np.asarray(decay, dtype=np.float64))


def per_neuron(pop: PopulationPlan, key: str, default: float) -> np.ndarray:
    value = pop.arrays[key] if key in pop.arrays else pop.scalars.get(key, default)
    return np.broadcast_to(np.asarray(value, dtype=np.float64), (pop.size,)).reshape(pop.shape) \
        .copy()


def lossy_constructs(net: Network, plan: Plan) -> list[tuple[str, object, str]]:
    """(code, span, message) for every construct NIR 1.0.8 cannot express."""
    problems = []
    for pop in plan.populations:
        node = net.node(pop.name)
        where = node.span
        if node_kind(pop) is None:
            properties = ", ".join(pop.properties.names()) or "no leak, no spikes"
            problems.append(("E515", where, f"'{pop.name}' is {pop.model} ({properties}): "
                                             "NIR has no neuron node with these properties"))
        if pop.properties.adaptation:
            problems.append(("E503", where, f"'{pop.name}' is {pop.model}: NIR has no adaptive "
                                             "threshold"))
        if pop.spiking and pop.reset == "subtract":
            problems.append(("E502", node.spans.get("reset", where), f"'{pop.name}' resets by subtraction: NIR resets to "
                                             "v_reset"))
        if pop.spiking and pop.reset == "none":
            problems.append(("E502", node.spans.get("reset", where), f"'{pop.name}' does not reset: NIR resets to "
                                             "v_reset"))
        if pop.refractory:
            problems.append(("E504", node.spans.get("refractory", where), f"'{pop.name}' has a refractory period: NIR has "
                                             "none"))
        if np.any(per_neuron(pop, "bias", 0.0) != 0):
            problems.append(("E506", node.spans.get("bias", where),
                             f"'{pop.name}' has a bias: NIR neurons have none"))
        if np.any(per_neuron(pop, "v_init", 0.0) != 0):
            problems.append(("E507", node.spans.get("v_init", where),
                             f"'{pop.name}' starts at v_init != 0: NIR states start at 0"))
    for projection in net.projections():
        pre, post = net.node(projection.pre), net.node(projection.post)
        kind = projection.connectivity.kind
        same = kind == "one_to_one" and tuple(pre.shape) == tuple(post.shape)
        if len(post.shape) > 1 and kind not in ("conv2d", "sumpool2d") and not same:
            problems.append(("E508", projection.span,
                             f"'{projection.name}' delivers a flat vector into '{post.name}' of "
                             f"shape {list(post.shape)}: NIR has no node that reshapes"))
        if projection.rules:
            names = ", ".join(r.name for r in projection.rules)
            problems.append(("E505", projection.rules[0].span,
                             f"'{projection.name}' learns ({names}): NIR has no plasticity; "
                             "the rules go into the metadata"))
    return problems


class Exporter:
    def __init__(self, net: Network, plan: Plan, version: str, mapping: dict | None = None):
        self.net, self.plan, self.version = net, plan, version
        self.mapping = mapping
        self.dt = plan.dt
        self.nodes: dict = {}
        self.edges: list[tuple[str, str]] = []
        self.folds: dict[str, np.ndarray] = {}

    def population_node(self, pop: PopulationPlan, receptors: bool):
        import nir

        dt = self.dt
        kind = node_kind(pop)
        meta = {"snnc_population": pop.name, "snnc_model": pop.model, "reset": pop.reset}
        tau_mem = tau_of(per_neuron(pop, "a_mem", 1.0), dt) if pop.leak else None
        c_in = per_neuron(pop, "c_in", 1.0)
        v_leak = per_neuron(pop, "v_leak", 0.0)
        threshold = per_neuron(pop, "threshold", 1.0)
        v_reset = per_neuron(pop, "v_reset", 0.0)
        folded = self.folds.get(pop.name) is not None
        if kind == "IF":
            r = np.full(pop.shape, 1.0 / dt) if folded else c_in / dt
            return nir.IF(r=r, v_threshold=threshold, v_reset=v_reset, metadata=meta)
        r = np.ones(pop.shape) if folded else c_in * tau_mem / dt
        if pop.has_syn and not receptors:
            tau_syn = tau_of(per_neuron(pop, "a_syn", 0.0), dt)
            w_in = tau_in_steps(self.net.settings, tau_syn)
            if kind == "CubaLIF":
                return nir.CubaLIF(tau_syn=tau_syn, tau_mem=tau_mem, r=r, v_leak=v_leak,
                                   v_threshold=threshold, v_reset=v_reset, w_in=w_in,
                                   metadata=meta)
            return nir.CubaLI(tau_syn=tau_syn, tau_mem=tau_mem, r=r, v_leak=v_leak,
                              w_in=w_in, metadata=meta)
        if pop.spiking:
            return nir.LIF(tau=tau_mem, r=r, v_leak=v_leak, v_threshold=threshold,
                           v_reset=v_reset, metadata=meta)
        return nir.LI(tau=tau_mem, r=r, v_leak=v_leak, metadata=meta)

    def current_node(self, pop: PopulationPlan, decay: float, label: str):
        """A synaptic current as a leaky integrator: v <- decay v + J (r = tau / dt), times the
        post population's folded input scaling."""
        import nir

        tau = float(tau_of(decay, self.dt))
        shape = pop.shape
        fold = self.folds.get(pop.name)
        r = np.full(shape, tau_in_steps(self.net.settings, tau)) * \
            (1.0 if fold is None else fold.reshape(shape))
        return nir.LI(tau=np.full(shape, tau), r=r, v_leak=np.zeros(shape),
                      metadata={"snnc_current": label})

    def input_folds(self) -> dict[str, np.ndarray]:
        """Per LIF/IF population (a node LIF or IF: spiking, no synaptic current), the input
        scaling to fold into its incoming weights, so that the neuron is exported with r = 1
        (LIF) or r dt = 1 (IF), as docs/interop.md explains (Norse ignores r). Folding needs a
        scalable path: Linear, Scale, LI currents, or a Conv2d with one factor for the whole
        population; a population fed by pooling keeps its r."""
        folds = {}
        for pop in self.plan.populations:
            if node_kind(pop) not in ("LIF", "IF") or pop.properties.adaptation:
                continue
            c_in = per_neuron(pop, "c_in", 1.0).reshape(-1)
            if pop.leak:
                factor = c_in / (1.0 - per_neuron(pop, "a_mem", 1.0).reshape(-1))
            else:
                factor = c_in
            kinds = {self.net.projection(p.name).connectivity.kind
                     for p in self.plan.incoming(pop.name)}
            if "sumpool2d" in kinds or ("conv2d" in kinds and
                                        not np.all(factor == factor[0])):
                continue
            folds[pop.name] = factor
        return folds

    def weight_node(self, p: ProjectionPlan, pre_shape, post_shape):
        import nir

        connectivity = self.net.projection(p.name).connectivity
        meta = {"snnc_projection": p.name, "snnc_connectivity": connectivity.describe()}
        # a projection into a receptor current is scaled in the current node instead
        fold = self.folds.get(p.post) if p.receptor is None else None
        if connectivity.kind == "conv2d":
            kernel = p.kernel if fold is None else p.kernel * fold[0]
            return nir.Conv2d(input_shape=tuple(pre_shape[1:]), weight=kernel,
                              stride=connectivity.stride, padding=connectivity.padding,
                              dilation=1, groups=1, bias=np.zeros(p.kernel.shape[0]),
                              metadata=meta)
        if connectivity.kind == "sumpool2d":
            k, s = connectivity.kernel, connectivity.stride
            return nir.SumPool2d(kernel_size=np.array([k, k]), stride=np.array([s, s]),
                                 padding=np.array([0, 0]), metadata=meta)
        matrix = p.dense_weights()
        if fold is not None:
            matrix = matrix * fold[:, None]
        if connectivity.kind == "one_to_one" and tuple(pre_shape) == tuple(post_shape):
            return nir.Scale(scale=np.diag(matrix).reshape(post_shape).copy(), metadata=meta)
        return nir.Linear(weight=matrix, metadata=meta)

    def build(self):
        """The graph: inputs, populations with their current nodes, one chain of nodes per
        projection, outputs, and an entry point when no input drives anything."""
        import nir

        self.folds = self.input_folds()
        for x in self.plan.inputs:
            self.nodes[x.name] = nir.Input(input_type={"input": np.array(x.shape)},
                                           metadata={"snnc_source": x.source})
        currents = self.add_populations()
        for p in self.plan.projections:
            self.add_projection(p, currents)
        outgoing = {pre for pre, _ in self.edges}
        recorded = {r.owner for r in self.net.records if not r.is_projection}
        shown = [pop for pop in self.plan.populations if self.net.node(pop.name).readout
                 or pop.name not in outgoing or pop.name in recorded]
        for pop in shown or self.plan.populations:  # outputs: readouts, ends, recordings
            name = f"{pop.name}.output"
            self.nodes[name] = nir.Output(output_type={"output": np.array(pop.shape)})
            self.edges.append((pop.name, name))
        self.add_entry_point()
        return nir.NIRGraph(nodes=self.nodes, edges=self.edges, metadata=self.metadata())

    def add_populations(self) -> dict[tuple[str, str], str]:
        """A neuron node per population and, for one with receptors, a current node per
        current; returns (population, receptor or '') -> the node a projection feeds."""
        currents: dict[tuple[str, str], str] = {}
        for pop in self.plan.populations:
            receptors = bool(pop.receptors)
            self.nodes[pop.name] = self.population_node(pop, receptors)
            if receptors:
                if pop.has_syn:
                    name = f"{pop.name}.current"
                    self.nodes[name] = self.current_node(pop, per_neuron(pop, "a_syn", 0.0)
                                                         .ravel()[0], "synaptic current")
                    self.edges.append((name, pop.name))
                    currents[(pop.name, "")] = name
                for receptor, decay in sorted(pop.receptors.items()):
                    name = f"{pop.name}.{receptor}"
                    self.nodes[name] = self.current_node(pop, decay, f"receptor {receptor}")
                    self.edges.append((name, pop.name))
                    currents[(pop.name, receptor)] = name
        return currents

    def add_projection(self, p: ProjectionPlan, currents: dict[tuple[str, str], str]) -> None:
        """The chain [Flatten] -> weights -> [Scale] -> [Delay] -> post (or its current)."""
        import nir

        pre_shape = self.net.node(p.pre).shape
        post_shape = self.net.node(p.post).shape
        source = p.pre
        connectivity = self.net.projection(p.name).connectivity
        same_shape = connectivity.kind == "one_to_one" and tuple(pre_shape) == \
            tuple(post_shape)
        if len(pre_shape) > 1 and connectivity.kind not in ("conv2d", "sumpool2d") and \
                not same_shape:
            flat = f"{p.name}.flatten"
            self.nodes[flat] = nir.Flatten(input_type={"input": np.array(pre_shape)},
                                           start_dim=0, end_dim=-1)
            self.edges.append((source, flat))
            source = flat
        self.nodes[p.name] = self.weight_node(p, pre_shape, post_shape)
        self.edges.append((source, p.name))
        source = p.name
        if connectivity.kind == "sumpool2d" and not np.all(p.kernel == 1.0):
            scale = f"{p.name}.scale"  # the pooling weight, exactly
            self.nodes[scale] = nir.Scale(scale=np.full(post_shape, p.kernel.ravel()[0]))
            self.edges.append((source, scale))
            source = scale
        extra = p.delay - (1 if p.name in self.back_edges() else 0)
        if extra > 0:
            delay = f"{p.name}.delay"
            self.nodes[delay] = nir.Delay(delay=np.full(post_shape, extra * self.dt))
            self.edges.append((source, delay))
            source = delay
        target = currents.get((p.post, p.receptor or ""), p.post)
        self.edges.append((source, target))

    def add_entry_point(self) -> None:
        """nir's type inference starts at the edges that leave Input nodes and fails without
        one: when no input drives anything (an autonomous network, or inputs that feed no
        projection), a silent input (zero weights) drives the first population; a network of
        inputs only passes them to Output nodes. Nothing changes for other networks."""
        import nir

        inputs = {x.name for x in self.plan.inputs}
        if any(pre in inputs for pre, _ in self.edges):
            return
        if not self.plan.populations:
            for x in self.plan.inputs:
                self.nodes[f"{x.name}.output"] = nir.Output(
                    output_type={"output": np.array(x.shape)})
                self.edges.append((x.name, f"{x.name}.output"))
            return
        first = self.plan.populations[0]
        silent, k = "silent", 2
        while silent in self.nodes or f"{silent}->{first.name}" in self.nodes:
            silent, k = f"silent.{k}", k + 1  # '.' is in no .snn name
        link = f"{silent}->{first.name}"
        if len(first.shape) == 1:  # one channel, zero weights
            self.nodes[silent] = nir.Input(input_type={"input": np.array([1])},
                                           metadata={"snnc_source": "silent"})
            self.nodes[link] = nir.Linear(weight=np.zeros((first.size, 1)))
        else:  # a Linear's output is flat: a silent input of the population's shape, scaled by 0
            self.nodes[silent] = nir.Input(input_type={"input": np.array(first.shape)},
                                           metadata={"snnc_source": "silent"})
            self.nodes[link] = nir.Scale(scale=np.zeros(first.shape))
        self.edges += [(silent, link), (link, first.name)]

    def back_edges(self) -> set[str]:
        from snnc.ir.discrete import update_order
        if not hasattr(self, "_back"):
            self._back = update_order(self.net, with_delayed=True)[1]
        return self._back

    def metadata(self) -> dict:
        s = self.net.settings
        rules = []
        for report in self.net.analyses.get("check-locality", []):
            rules.append(report.to_json())
        meta = {"snnc_version": self.version, "network": s.name, "dt": s.dt, "seed": s.seed,
                "integration": s.integration, "delivery": self.plan.delivery,
                "learning": json.dumps(rules, sort_keys=True)}
        if self.mapping is not None:  # mapping.json of 'snnc map' (snnc.mapping.report)
            meta["mapping"] = json.dumps(self.mapping, sort_keys=True)
        return meta


def export_graph(net: Network, version: str, delivery: str = "same_step",
                 mapping: dict | None = None):
    """The NIR graph; ``mapping`` (the document of mapping.json) goes into its metadata."""
    plan = build_plan(net, delivery)
    return Exporter(net, plan, version, mapping).build()
