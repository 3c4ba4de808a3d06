"""Printing a :class:`~snnc.backends.nest.graph.NestGraph` as a PyNEST program.

``network.py`` holds ``build()``: one statement per source, population and projection, each
under a comment saying where it comes from (the reference backend's provenance comments:
model, parameters as written, derived decays; pre, post, storage, delay). Scalar parameters
are literals in the code, per-neuron parameters and snnc's own synapses are arrays in
``network.npz`` (``params/<population>.<name>``, ``synapses/<projection>.pre|post|weight``,
``spikes/<input>``). User text reaches the program only through :mod:`snnc.literals`.
"""

from __future__ import annotations

import numpy as np

from snnc.backends import templates
from snnc.backends.artifacts import literal, save_npz, wrap_comment, written_parameters
from snnc.backends.nest.graph import NestConnection, NestGraph, NestPopulation, NestSource
from snnc.ir.discrete import Plan
from snnc.literals import py, py_comment


def number(value) -> str:
    return literal(value) if np.isfinite(value) else f"float({str(float(value))!r})"


class Printer:
    """Collects the lines of ``build()`` and the arrays of ``network.npz``."""

    def __init__(self, graph: NestGraph, plan: Plan, poisson: str):
        self.graph, self.plan, self.poisson = graph, plan, poisson
        self.lines: list[str] = []
        self.data: dict[str, np.ndarray] = {}
        self.models: list[str] = []
        self.statics = 0

    def source(self, x: NestSource) -> None:
        name = py(x.name)
        what = {"poisson": f"poisson({x.rate:g} Hz)", "data": "data (run.py --input)",
                "file": "spikes from a file"}[x.kind]
        self.lines.append(f"# input {py_comment(x.name)}{list(x.shape)}: {what}, "
                          f"offset {x.offset} step{'' if x.offset == 1 else 's'}")
        if x.kind == "poisson" and self.poisson == "generator":
            self.lines.append("#   NEST's poisson_generator through parrot neurons (the same "
                              "rate, independent draws)")
            self.lines.append(f"nodes[{name}] = poisson_source({x.size}, rate={number(x.rate)})")
            return
        if x.kind == "file":
            self.data[f"spikes/{x.name}"] = x.spikes
            spikes = f"data[{py('spikes/' + x.name)}]"
        elif x.kind == "poisson":
            self.lines.append(f"#   the spikes snnc run draws: default_rng([seed, {x.stream}]), "
                              f"p = {x.probability:.6g} per step")
            spikes = f"poisson_spikes(steps, {x.size}, {number(x.probability)}, stream={x.stream})"
        else:
            spikes = f"inputs.get({name})"
        parrots = ", parrots=True" if x.parrots else ""
        self.lines.append(f"nodes[{name}] = spike_source({x.size}, {spikes}, steps, "
                          f"offset={x.offset}{parrots})")

    def population(self, x: NestPopulation) -> None:
        self.lines += population_comments(self.plan, x)
        self.lines.append(f"#   NEST: {x.model}, offset {x.offset} step"
                          f"{'' if x.offset == 1 else 's'}")
        if x.ports:
            self.lines.append("#   receptor ports: " + ", ".join(
                              f"{k} = {'own current' if c is None else py_comment(c)}"
                              for c, k in x.ports.items()))
        params = dict(x.params)
        if any(isinstance(params[k], np.ndarray) for k in ("V_th", "V_reset")):
            # NEST checks V_reset < V_th whenever either is set: both per neuron, in one call
            for key in ("V_th", "V_reset"):
                params[key] = np.broadcast_to(params[key], (x.size,)).astype(np.float64)
        scalars, arrays = {}, []
        for key, v in params.items():
            if isinstance(v, np.ndarray):
                self.data[f"params/{x.name}.{key}"] = v
                arrays.append(f"{key}=data[{py(f'params/{x.name}.{key}')}]")
            elif isinstance(v, list):
                scalars[key] = "[" + ", ".join(number(t) for t in v) + "]"
            else:
                scalars[key] = number(v)
        name = py(x.name)
        self.lines.append(f"nodes[{name}] = nest.Create({py(x.model)}, {x.size}, params={{")
        self.lines += wrap(", ".join(f"{py(k)}: {t}" for k, t in scalars.items()), "    ")
        self.lines.append("})")
        if arrays:
            self.lines.append(f"set_local(nodes[{name}],")
            self.lines += wrap(", ".join(arrays) + ")", "    ")

    def connection(self, c: NestConnection) -> None:
        self.lines += projection_comments(self.plan, c)
        self.lines.append(f"#   NEST delay {c.delay} step{'' if c.delay == 1 else 's'} = "
                          "effective delay + post offset - pre offset - post lag")
        pre, post = f"nodes[{py(c.pre)}]", f"nodes[{py(c.post)}]"
        receptor = f", receptor={c.receptor}" if c.receptor else ""
        delay = f"{c.delay} * RESOLUTION"
        model = self.stdp(c) or self.static(c)
        if c.rule == "arrays":
            why = f" ({py_comment(c.why_arrays)})" if c.why_arrays else ""
            self.lines.append(f"#   snnc's own synapses{why}: synapses/ in network.npz")
            key = f"synapses/{c.name}"
            self.data[key + ".pre"] = c.pre_index
            self.data[key + ".post"] = c.post_index
            self.data[key + ".weight"] = c.weights
            self.lines.append(f"connect_arrays({pre}, {post}, data, {py(key)}, "
                              f"delay={delay}{receptor}"
                              + (f", synapse={py(model)})" if model else ")"))
            return
        conn = {"rule": py(c.rule)} | {k: py(v) for k, v in c.rule_args.items()}
        if c.rule != "one_to_one":
            conn["allow_autapses"] = "True"
        if c.rule == "fixed_indegree":
            conn["allow_multapses"] = "False"
        kind, *args = c.weight
        weight = number(args[0]) if kind == "constant" else \
            f"nest.random.uniform(min={number(args[0])}, max={number(args[1])})" \
            if kind == "uniform" else \
            f"nest.random.normal(mean={number(args[0])}, std={number(args[1])})"
        syn = {"weight": weight, "delay": delay} | \
            ({"receptor_type": str(c.receptor)} if c.receptor else {}) | \
            ({"synapse_model": py(model)} if model else {})
        self.lines.append(f"#   NEST's rule {c.rule}: the same statistics as snnc's "
                          "synapses, drawn by NEST")
        self.lines.append(f"nest.Connect({pre}, {post},")
        self.lines += wrap(mapping(conn) + ",", "             ")
        self.lines += wrap(mapping(syn) + ")", "             ")

    def static(self, c: NestConnection) -> str:
        """A static projection's own copy of static_synapse: NEST 3.10 stores at most
        MAX_CONNECTIONS connections per synapse model on a virtual process, so projections that
        share one would share that limit."""
        model = f"static_{self.statics}"
        self.statics += 1
        self.lines += ["#   its own synapse model (NEST's limit on connections is per model and "
                       "virtual process)",
                       f"nest.CopyModel('static_synapse', {py(model)})"]
        return model

    def stdp(self, c: NestConnection) -> str | None:
        """For a plastic connection: the comment and CopyModel of its stdp_synapse; its name."""
        if not c.synapse:
            return None
        model = f"stdp_{len(self.models)}"
        self.models.append(model)
        if c.synapse_model == "stdp_dopamine_synapse":
            self.dopamine(c, model)
            return model
        self.lines += [f"#   learns with rule {py_comment(c.learning_rule)}, recognised as pair "
                       "STDP in NEST's convention:",
                       "#   additive stdp_synapse (Wmax = w_max * weight scale, lambda = lr "
                       "a_plus / w_max,",
                       "#   alpha = a_minus / a_plus, tau_minus on the post neurons);",
                       "#   NEST pairs a pre spike with post spikes shifted by this delay "
                       "(docs/nest.md, 'Learning')",
                       f"nest.CopyModel('stdp_synapse', {py(model)}, {{"]
        self.lines += wrap(", ".join(f"{py(k)}: {number(v)}" for k, v in c.synapse.items())
                           + "})", "    ")
        return model

    def dopamine(self, c: NestConnection, model: str) -> None:
        """The comment, volume transmitter and CopyModel of a reward-modulated connection."""
        delay, late = dopamine_delay(self.graph, c)
        timing = f"{late} step{'' if late == 1 else 's'} after" if late else "with"
        self.lines += [f"#   learns with rule {py_comment(c.learning_rule)}, recognised as "
                       "reward-modulated STDP in NEST's convention:",
                       "#   stdp_dopamine_synapse (A_plus, A_minus, b from the rule's "
                       "expressions; Wmin, Wmax = the bounds;",
                       "#   weights times the weight scale; tau_minus on the post neurons); its "
                       "dopamine: the data's",
                       "#   'reward' (spikes per step, run.py --input) through a parrot into a "
                       "volume transmitter,",
                       f"#   reaching the synapses {timing} the pre spikes of the same step "
                       "(docs/nest.md, 'Reward-modulated STDP')",
                       f"volume = dopamine_source({py(c.name)}, inputs.get('reward'), steps, "
                       f"delay={delay})",
                       f"nest.CopyModel('stdp_dopamine_synapse', {py(model)}, {{"]
        self.lines += wrap(", ".join(["'volume_transmitter': volume"] + [
            f"{py(k)}: {number(v)}" for k, v in c.synapse.items()]) + "})", "    ")

    def build(self) -> None:
        for x in self.graph.sources:
            self.source(x)
            self.lines.append("")
        for x in self.graph.populations:
            self.population(x)
            self.lines.append("")
        for c in self.graph.connections:
            self.connection(c)
            self.lines.append("")


def population_comments(plan: Plan, x: NestPopulation) -> list[str]:
    """The population as written (model, every parameter in the language's units) and the
    decays NEST's time constants reproduce (graph.py)."""
    pop = next(p for p in plan.populations if p.name == x.name)
    node = plan.net.node(x.name)
    model = py_comment(node.model_name) + (f" = {py_comment(pop.model)}"
                                           if node.model_name != pop.model else "")
    parts = [f"{name} = {text}" for name, text in written_parameters(node).items()]
    lines = [f"# population {py_comment(x.name)}{list(x.shape)}: {model}"]
    lines += wrap_comment(parts) + [f"#   reset = {py_comment(pop.reset)}, refractory = "
                                    f"{pop.refractory} steps"]
    a_mem = pop.scalars.get("a_mem")
    decay = "per neuron" if a_mem is None else f"{a_mem:.6g}"
    c_in = "per neuron" if "c_in" in pop.arrays else f"{pop.scalars['c_in']:.6g}"
    lines.append(f"#   exp(-h/tau_m) = a_mem = {decay} to the bit, c_in = {c_in},")
    lines.append("#   I_e = ((1 - a_mem) v_leak + c_in bias) / P30, V_th = next double above "
                 "the threshold")
    return lines


def projection_comments(plan: Plan, c: NestConnection) -> list[str]:
    """Lines naming a projection: pre -> post, snnc's synapses, delay as written and
    effective, receptor."""
    p = next(q for q in plan.projections if q.name == c.name)
    written = plan.net.projection(c.name).delay_steps
    if p.weights is None:  # NEST draws them: snnc's count (expected, for sparse)
        count = plan.net.synapse_count(plan.net.projection(c.name))
        storage = f"{count} synapses{' expected' if c.rule == 'pairwise_bernoulli' else ''}"
    else:
        storage = f"dense [{p.n_post}, {p.n_pre}]" if p.dense else f"{len(p.weights)} synapses"
    receptor = f", receptor {py_comment(p.receptor)}" if p.receptor is not None else ""
    return [f"# projection {py_comment(p.name)}: {py_comment(p.pre)} -> {py_comment(p.post)}",
            f"#   snnc: {storage}, delay {written} as written, {p.delay} effective "
            f"({plan.delivery}){receptor}"]


def mapping(items: dict[str, str]) -> str:
    return "{" + ", ".join(f"{py(k)}: {v}" for k, v in items.items()) + "}"


def wrap(text: str, lead: str, width: int = 96) -> list[str]:
    lines, current = [], ""
    for part in text.split(", "):
        if current and len(lead) + len(current) + len(part) + 2 > width:
            lines.append(lead + current + ",")
            current = ""
        current = f"{current}, {part}" if current else part
    return lines + [lead + current]


def dopamine_delay(graph: NestGraph, c: NestConnection) -> tuple[int, int]:
    """(the parrot -> volume transmitter delay in steps, how many steps the dopamine of a step
    reaches the synapses after its pre spikes). A pre spike of snnc's step n - d (d the
    effective delay) is at the synapse at (n - d + 1 + o_pre) steps, NEST's time of the pre's
    spike; the dopamine of step n leaves its parrot at (n + 2) steps (offset 1)."""
    want = graph.node(c.pre).offset - c.snnc_delay - 1
    return max(1, want), max(0, 1 - want)


def plastic(graph: NestGraph) -> dict[str, dict]:
    """network.py's PLASTIC: what run.py needs to read (and replay) a plastic projection."""
    models = iter(f"stdp_{k}" for k in range(len(graph.connections)))
    out = {}
    for c in graph.connections:
        if c.synapse:
            post = graph.node(c.post)
            out[c.name] = {"pre": c.pre, "post": c.post, "scale": c.scale,
                           "snnc_delay": c.snnc_delay, "delay": c.delay, "model": next(models),
                           "tau_minus": post.params["tau_minus"], "synapse": c.synapse,
                           "synapse_model": c.synapse_model,
                           "synapses": f"synapses/{c.name}" if c.rule == "arrays" else None}
    return out


def loss_of(net) -> dict | None:
    """network.py's LOSS: the program's first loss (the one ``snnc run`` and ``snnc train``
    decide the class with): kind, population, variable, reduction; None without one."""
    if net is None or not net.losses:
        return None
    loss = net.losses[0]
    return {"kind": loss.kind, "population": loss.population, "variable": loss.variable,
            "reduction": loss.reduction}


def render_program(graph: NestGraph, plan: Plan, record: dict[str, int], source_file: str,
                   version: str, default_steps: int | None, poisson: str,
                   connectivity: str) -> dict[str, str | bytes]:
    """The program's files; ``record``: {'<population>.s|v': neurons recorded (the first)}."""
    printer = Printer(graph, plan, poisson)
    printer.build()
    nodes = [*graph.sources, *graph.populations]
    context = dict(
        synapses={c.name: plan.net.synapse_count(plan.net.projection(c.name))
                  for c in graph.connections},
        graph=graph, version=version, source_file=source_file,
        body="\n".join("    " + line if line else "" for line in printer.lines),
        record=record, default_steps=default_steps, poisson=poisson,
        sampled_any=any(count < graph.node(key.rsplit(".", 1)[0]).size
                        for key, count in record.items()),
        connectivity=connectivity, resolution=number(graph.dt * 1000.0), number=number,
        shapes={x.name: list(x.shape) for x in nodes},
        offsets={x.name: x.offset for x in nodes},
        starts={x.name: (x.offset, x.lag) for x in graph.populations if x.offset},
        sources={x.name: x.kind for x in graph.sources},
        data_inputs=[x.name for x in graph.sources if x.kind == "data"],
        models=sorted({x.model for x in graph.populations}),
        rules=sorted({c.rule for c in graph.connections}),
        delivery=plan.delivery, uses_data=bool(printer.data), plastic=plastic(graph),
        loss=loss_of(plan.net))
    env = templates("snnc.backends.nest")
    files = {name: env.get_template(name + ".j2").render(**context)
             for name in ("network.py", "run.py", "README.md")}
    files["__init__.py"] = '"""A PyNEST program generated by snnc (see README.md)."""\n'
    files["network.npz"] = save_npz({"dt": np.array(graph.dt), **printer.data})
    return files
