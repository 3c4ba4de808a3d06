"""Printing a :class:`~snnc.backends.lava.graph.LavaGraph` as a Lava program.

``network.py`` holds ``build()``, one statement per process and per connection, with the
scalar parameters of both precisions in ``PARAMETERS`` and the arrays in ``network.npz``
(``float/<name>.<array>`` and ``fixed/<name>.<array>``). User text (names, the source file,
the mapping's target) reaches the program only through :mod:`snnc.literals`: as Python literals
(``py``), in comments (``py_comment``), in the README as Markdown (``md``) and in the process
graph as DOT strings (``dot``); the templates are never built from user text.
"""

from __future__ import annotations

import json

import numpy as np

from snnc.backends import templates
from snnc.backends.artifacts import literal, save_npz, wrap_comment, written_parameters
from snnc.backends.lava import local_readout, render_feedback
from snnc.backends.lava.feedback import SURROGATES
from snnc.backends.lava.graph import Connection, LavaGraph, NeuronGroup
from snnc.backends.lava.quantize import FixedPoint
from snnc.literals import dot as dot_string
from snnc.literals import py, py_comment


def number(value: float) -> str:
    """A float literal that reads back to the same double (inf as float('inf'))."""
    if np.isinf(value):
        return "float('inf')" if value > 0 else "-float('inf')"
    return literal(value)


def pretty(value) -> str:
    """A literal (:func:`snnc.literals.py`) of a list or dict, one item per line when it does
    not fit on one."""
    if len(py(value)) <= 76 or not value:
        return py(value)
    if isinstance(value, dict):
        items = [f"    {py(k)}: {py(v)}," for k, v in value.items()]
        return "{\n" + "\n".join(items) + "\n}"
    return "[\n" + "\n".join(f"    {py(v)}," for v in value) + "\n]"


def dict_literal(values: dict) -> str:
    items = ", ".join(f"{py(k)}: {number(v) if isinstance(v, float) else py(v)}"
                      for k, v in values.items())
    return "{" + items + "}"


def call(target: str, function: str, arguments: list[str], width: int = 94) -> list[str]:
    """``target = function(arguments)``, wrapped to ``width`` columns (one level of indent)."""
    line = f"{target} = {function}({', '.join(arguments)})"
    if len(line) <= width:
        return [line]
    lines, current = [f"{target} = {function}("], "   "
    for argument in arguments:
        if len(current) + len(argument) + 2 > width:
            lines.append(current.rstrip())
            current = "   "
        current += f" {argument},"
    lines.append(current.rstrip(",") + ")")
    return lines


class ProgramPrinter:
    """Collects the lines of ``build()`` and the arrays of ``network.npz``."""

    def __init__(self, graph: LavaGraph, fixed: FixedPoint, record: list[str], net=None):
        self.graph = graph
        self.net = net  # the IR, for the provenance comments (None: the graph's numbers only)
        self.fixed = fixed
        self.record = record
        self.data: dict[str, np.ndarray] = {}
        self.lines: list[str] = []
        self.parameters: dict[str, dict[str, dict]] = {"floating_pt": {}, "fixed_pt": {}}

    def array(self, precision: str, name: str, key: str, value) -> str:
        prefix = "float" if precision == "floating_pt" else "fixed"
        full = f"{prefix}/{name}.{key}"
        self.data[full] = np.asarray(value)
        return full

    def group(self, g: NeuronGroup) -> None:
        f = self.fixed.groups[g.name]
        du = [g.du, *g.extra_du] if g.generated else g.du
        self.parameters["floating_pt"][g.name] = {"du": du, "dv": g.dv, "vth": g.vth}
        self.parameters["fixed_pt"][g.name] = {"du": f.du, "dv": f.dv, "vth": f.vth}
        if g.third is not None:
            t = g.third
            self.parameters["floating_pt"][g.name].update(
                y1_decay=t.y1_decay, y1_impulse=t.y1_impulse, y3_factor=t.y3_factor)
            self.parameters["fixed_pt"][g.name].update(self.fixed.rules[t.connection].neuron)
        for precision, bias, v in (("floating_pt", g.bias, g.v_init),
                                   ("fixed_pt", f.bias_mant, f.v_init)):
            self.array(precision, g.name, "bias_mant", bias)
            self.array(precision, g.name, "v", v)
        self.array("fixed_pt", g.name, "bias_exp", f.bias_exp)
        if g.subtracts:
            self.array("floating_pt", g.name, "v_sub", g.v_sub)
            self.array("fixed_pt", g.name, "v_sub", f.v_sub)
        self.array("fixed_pt", g.name, "scale", f.scale)
        self.data[f"index/{g.name}"] = g.indices
        self.data[f"offset/{g.name}"] = g.v_offset
        kind = g.kind
        what = "population" if g.spiking else "readout (no threshold)"
        self.lines.append(f"# {what} {py_comment(g.population)}: neurons "
                          f"{describe_indices(g.indices)}")
        if self.net is not None and g is self.graph.groups_of(g.population)[0]:
            self.lines += model_comments(self.net.node(g.population))
        if g.extra_du:
            self.lines.append("# currents: " + ", ".join(
                f"a_in_{k} {'receptor ' + py_comment(c) if c else 'own current'}"
                for k, c in enumerate(g.currents)))
        self.lines += group_comments(g)
        name = py(g.name)
        arguments = [f"shape=({g.size},)", f"bias_mant=array({name}, 'bias_mant')",
                     f"bias_exp=bias_exp({name}, size={g.size})", f"v=array({name}, 'v')"]
        if g.subtracts:
            arguments.append(f"v_sub=array({name}, 'v_sub')")
        if g.feedback is not None:
            self.lines += render_feedback.group_comments(g)
            arguments += render_feedback.group_arguments(g)
        if g.refractory or g.generated:
            arguments.append(f"refractory_period={g.refractory}")
        arguments += [f"name={name}", f"**P[{name}]"]
        self.lines += call(f"procs[{name}]", kind, arguments)
        if g.third is not None:
            self.third_factor(g)

    def third_factor(self, g: NeuronGroup) -> None:
        """The source of a post group's third factor, into its port a_third."""
        t, name = g.third, py(g.name)
        source = py(third_factor_source(g))
        self.lines.append(f"# third factor of {py_comment(t.rule)} on {py_comment(t.projection)}"
                          " (y2 of the learning connection):")
        self.lines.append(f"#   the {t.signal} of each step times the gain of THIRD_FACTORS")
        self.lines.append(f"gain = THIRD_FACTORS[{source}]['gain'][precision]")
        self.lines += call(f"procs[{source}]", "Source",
                           [f"data=third_factor(reward, steps * samples, {g.size}, gain, "
                            "precision)"])
        self.lines.append(f"procs[{source}].s_out.connect(procs[{name}].a_third)")

    def connection(self, c: Connection) -> None:
        f = self.fixed.connections[c.name]
        self.parameters["floating_pt"][c.name] = {}
        self.parameters["fixed_pt"][c.name] = {"weight_exp": f.weight_exp,
                                               "num_weight_bits": f.num_weight_bits}
        for precision, weights in (("floating_pt", c.weights), ("fixed_pt", f.weights)):
            if c.mask is None:
                self.array(precision, c.name, "weights", weights)
            else:
                rows, cols = np.nonzero(c.mask)
                self.array(precision, c.name, "values", weights[rows, cols])
                self.array(precision, c.name, "rows", rows)
                self.array(precision, c.name, "cols", cols)
        self.data[f"pre_index/{c.name}"] = c.pre_indices
        self.data[f"post_index/{c.name}"] = c.post_indices
        self.data[f"scale/{c.name}"] = c.scale
        self.array("fixed_pt", c.name, "post_scale",
                   np.full(len(c.post_indices), self.fixed.groups[c.post].scale))
        n_post, n_pre, post, pre = self.graph.layouts[c.projection]
        self.data[f"shape/{c.name}"] = np.array([n_post, n_pre])
        if post is not None:
            self.data[f"synapses/{c.name}.post"] = post
            self.data[f"synapses/{c.name}.pre"] = pre
        shape = f"[{len(c.post_indices)}, {len(c.pre_indices)}]"
        self.lines.append("")
        self.lines.append(f"# projection {py_comment(c.projection)}: {py_comment(c.pre)} -> "
                          f"{py_comment(c.post)}, {c.kind} {shape}"
                          + (f", delay {c.delay} (+1)" if c.delay else "")
                          + self.current_of(c))
        name, pre, post = py(c.name), py(c.pre), py(c.post)
        args = [f"weights=weights({name}, is_sparse={c.mask is not None})"]
        if c.delay:
            args.append(f"delays={c.delay}")
        if c.rule is not None:
            args += self.rule(c)
        args += [f"name={name}", f"**P[{name}]"]
        self.lines += call(f"procs[{name}]", c.kind, args)
        self.lines.append(f"procs[{pre}].s_out.connect(procs[{name}].s_in)")
        self.lines.append(f"procs[{name}].a_out.connect(procs[{post}].{c.port})")
        if c.rule is not None:
            self.lines.append(f"procs[{post}].s_out.connect(procs[{name}].s_in_bap)")
        if c.rule is not None and c.rule.third is not None:
            for slot in ("y1", "y2", "y3"):
                self.lines.append(f"procs[{post}].s_out_{slot}.connect(procs[{name}].s_in_{slot})")

    def rule(self, c: Connection) -> list[str]:
        """The lines that make the connection's learning rule (per precision when it can learn
        in fixed point) and the connection's arguments for it."""
        rule, fixed = c.rule, self.fixed.rules.get(c.name)
        self.lines.append(f"# learning rule {py_comment(rule.rule)}: traces " + ", ".join(
            f"{py_comment(t.slot)} = {py_comment(t.name)}" for t in rule.traces))
        if rule.tag is not None:
            how = ("y3 = (1 - rate) y2 from the post neuron" if rule.y3_factor is not None
                   else "(1 - rate) t + dt's other products")
            self.lines.append(f"# tag t = {py_comment(rule.tag.name)}, decaying by "
                              f"{rule.tag.rendered:.6g} per step; dw reads this step's tag as "
                              f"{how}")
        floating = call("rule", rule.kind, [f"dw={py(rule.dw)}"] + (
            [f"dt={py(rule.dt)}"] if rule.dt else []) + [
            f"{k}={number(v)}" for k, v in rule.arguments().items()])
        if fixed is None or fixed.problems:
            self.lines += floating
            bounds = (rule.low, rule.high)
            return ["learning_rule=rule"] + ([f"snnc_bounds=({number(rule.low)}, "
                                              f"{number(rule.high)})"] if bounds[0] is not None
                                             else [])
        self.lines.append('if precision == "floating_pt":')
        self.lines += ["    " + line for line in floating]
        self.lines.append("else:  # integer traces and constants scaled (quantization.json)")
        if fixed.through_tag:
            self.lines.append("    # each step's products accumulate in the tag t, 128 times finer "
                              "than the weight; dw moves t into the weight one step later")
        self.lines += ["    " + line for line in call("rule", rule.kind, [f"dw={py(fixed.dw)}"] + (
            [f"dt={py(fixed.dt)}"] if fixed.dt else []) + [
            f"{k}={number(float(v))}" for k, v in fixed.impulses.items()] + [
            f"{k}={number(v)}" for k, v in rule.arguments().items() if k.endswith("_tau")]
            + ["rng_seed=SEED"], width=90)]
        if rule.low is None:
            return ["learning_rule=rule"]
        return ["learning_rule=rule", f"snnc_bounds=({number(rule.low)}, {number(rule.high)}) "
                f"if precision == 'floating_pt' else ({fixed.low}, {fixed.high})"]

    def current_of(self, c: Connection) -> str:
        """', into <port> (receptor <name>)' when the post process has several currents."""
        post = next((g for g in self.graph.groups if g.name == c.post), None)
        if post is None or not post.extra_du:
            return ""
        current = post.currents[int(c.port.rsplit("_", 1)[1])]
        return f", into {c.port} (" + (f"receptor {py_comment(current)})" if current
                                       else "own current)")

    def source(self, s) -> None:
        how = {"data": "spikes given to run.py (--input)",
               "poisson": f"Poisson, p = {s.probability:.6g} per step, drawn as snnc run draws "
                          "them",
               "file": "spikes from the program's file"}[s.kind]
        if s.kind == "file":
            self.data[f"spikes/{s.name}"] = s.spikes
        self.lines.append(f"# input {py_comment(s.name)}{list(s.shape)}: {how}")
        self.lines.append(f"procs[{py(s.name)}] = Source(data=spikes[{py(s.name)}]"
                          ".T.astype(float))")

    def build(self) -> None:
        for s in self.graph.sources:
            self.source(s)
        self.lines.append("")
        for g in self.graph.groups:
            self.group(g)
        for c in self.graph.connections:
            self.connection(c)
        self.lines += render_feedback.feedback_lines(self.graph, self.data)
        self.lines += local_readout.local_lines(self.graph, self.data)


def model_comments(population) -> list[str]:
    """The population's model and every parameter as written (units of the language)."""
    model = py_comment(population.model.name)
    if population.model_name != population.model.name:
        model += f" (as {py_comment(population.model_name)})"
    parts = [f"{name} = {text}" for name, text in written_parameters(population).items()]
    return wrap_comment([f"{model}: {parts[0]}", *parts[1:]] if parts else [model])


def group_comments(g: NeuronGroup) -> list[str]:
    """Where a process's scalar parameters come from (graph.py): du = 1 - a_syn, or 1 - the
    decay of each current (1 without a synaptic filter), dv = 1 - a_mem, vth = threshold -
    v_reset (inf for a readout); voltages are shifted by v_reset."""
    du = ", ".join(f"{d:.6g}" for d in (g.du, *g.extra_du))
    vth = "inf (readout)" if np.isinf(g.vth) else f"{g.vth:.6g}"
    name = "du per current = 1 - its decay" if g.extra_du else "du = 1 - a_syn"
    lines = [f"#   {name} = {du}, dv = 1 - a_mem = {g.dv:.6g}",
             f"#   vth = threshold - v_reset = {vth}"
             + (f", refractory = {g.refractory} steps" if g.refractory else "")]
    if g.subtracts:
        lines.append("#   reset = subtract: v' <- v' - threshold after a spike (v_sub)"
                     if g.reset == "subtract" else "#   reset = none: v is kept after a spike")
    return lines


def third_factor_source(g: NeuronGroup) -> str:
    """The process name of the source of a group's third factor."""
    return f"{g.third.signal} -> {g.name}"


def describe_indices(indices: np.ndarray) -> str:
    if len(indices) and indices[-1] - indices[0] + 1 == len(indices):
        return f"{indices[0]}..{indices[-1]}"
    return f"{len(indices)} (see index/ in network.npz)"


#: where each Lava class the program may use comes from: name in the program -> import line
LAVA_IMPORTS = {
    "Loihi2FLearningRule": "from lava.magma.core.learning.learning_rule import Loihi2FLearningRule",
    "Loihi3FLearningRule": "from lava.magma.core.learning.learning_rule import Loihi3FLearningRule",
    "Dense": "from lava.proc.dense.process import Dense",
    "DelayDense": "from lava.proc.dense.process import DelayDense",
    "LearningDense": "from lava.proc.dense.process import LearningDense",
    "Source": "from lava.proc.io.source import RingBuffer as Source",
    "LIF": "from lava.proc.lif.process import LIF",
    "LIFRefractory": "from lava.proc.lif.process import LIFRefractory",
    "Monitor": "from lava.proc.monitor.process import Monitor",
    "Sparse": "from lava.proc.sparse.process import Sparse",
    "DelaySparse": "from lava.proc.sparse.process import DelaySparse",
    "LearningSparse": "from lava.proc.sparse.process import LearningSparse",
}


def lava_imports(graph: LavaGraph) -> list[str]:
    """The import statements of ``network.py``: the Lava classes its processes use (one
    statement per module, names sorted), the probes' Monitor always."""
    used = {"Monitor"} | {c.kind for c in graph.connections}
    used |= {g.kind for g in graph.groups if not g.generated}
    used |= {"Source"} if graph.sources else set()
    used |= {c.rule.kind for c in graph.connections if c.rule is not None}
    used |= {"Source"} if any(g.third is not None for g in graph.groups) else set()
    modules: dict[str, list[str]] = {}
    for name in sorted(used):
        module, imported = LAVA_IMPORTS[name].removeprefix("from ").split(" import ")
        modules.setdefault(module, []).append(imported)
    return [f"from {module} import {', '.join(sorted(names, key=str.lower))}"
            for module, names in sorted(modules.items())]


def components(graph: LavaGraph) -> list[str]:
    """One process name per weakly connected component (Lava runs a component at a time)."""
    import networkx as nx
    g = nx.Graph()
    g.add_nodes_from([s.name for s in graph.sources] + [x.name for x in graph.groups])
    g.add_edges_from((c.pre, c.post) for c in graph.connections)
    order = {name: k for k, name in enumerate(g.nodes)}
    roots = [min(component, key=order.__getitem__) for component in nx.connected_components(g)]
    return sorted(roots, key=order.__getitem__)


def render_program(graph: LavaGraph, fixed: FixedPoint, record: list[str], source_file: str,
                   version: str, default_steps: int | None, cores: dict | None = None,
                   target: str | None = None, net=None) -> dict[str, str | bytes]:
    printer = ProgramPrinter(graph, fixed, record, net)
    printer.build()
    env = templates("snnc.backends.lava")
    groups = {}
    for g in graph.groups:
        groups.setdefault(g.population, []).append(g.name)
    projections: dict[str, list[str]] = {}
    for c in graph.connections:
        projections.setdefault(c.projection, []).append(c.name)
    context = dict(
        graph=graph, version=version, source_file=source_file, lines=printer.lines,
        parameters=printer.parameters, dict_literal=dict_literal, groups=groups,
        projections=projections, record=record, roots=components(graph),
        default_steps=default_steps, cores=cores, target=target,
        plastic=[c.name for c in graph.connections if c.rule is not None],
        kinds=sorted({c.kind for c in graph.connections}),
        refractory=any(g.refractory for g in graph.groups),
        current_counts=sorted({len(g.currents) for g in graph.groups if g.extra_du
                               and not g.subtracts and g.third is None and g.feedback is None}),
        subtract_counts=sorted({len(g.currents) for g in graph.groups if g.subtracts
                                and g.third is None and g.feedback is None}),
        own_models=sorted({g.kind for g in graph.groups if g.generated}
                          | render_feedback.model_names(graph)
                          | ({"LocalReadout"} if graph.local_readouts else set())),
        feedback_counts=sorted({(len(g.currents), g.subtracts) for g in graph.groups
                                if g.feedback is not None}),
        surrogates=SURROGATES, trains=graph.trains,
        local_readouts=bool(graph.local_readouts),
        third_counts=sorted({(len(g.currents), g.subtracts) for g in graph.groups
                             if g.third is not None}),
        third_factors={third_factor_source(g): {
            "post": g.name, "signal": g.third.signal, "gain": {
                "floating_pt": g.third.gain,
                "fixed_pt": fixed.rules[g.third.connection].third_gain}}
            for g in graph.groups if g.third is not None},
        learning=any(c.rule is not None for c in graph.connections),
        shapes={name: list(shape) for name, shape in graph.populations.items()},
        sources={s.name: (s.kind, s.probability, s.stream) for s in graph.sources},
        data_inputs=[s.name for s in graph.sources if s.kind == "data"],
        fixed_blockers=fixed.blockers, number=number, pretty=pretty, loss=loss_of(net),
        imports=lava_imports(graph))
    files = {name: env.get_template(name + ".j2").render(**context)
             for name in ("network.py", "run.py", "models.py", "README.md")}
    files["__init__.py"] = '"""A Lava program generated by snnc (see README.md)."""\n'
    files["network.npz"] = save_npz(printer.data)
    files["quantization.json"] = json.dumps(fixed.report(), indent=2, sort_keys=True) + "\n"
    files["process_graph.dot"] = dot(graph)
    return files


def loss_of(net) -> dict | None:
    """The program's first loss (the one ``snnc run`` and ``snnc train`` decide the class
    with) as data for ``network.py``: kind, population, variable, reduction."""
    if net is None or not net.losses:
        return None
    loss = net.losses[0]
    return {"kind": loss.kind, "population": loss.population, "variable": loss.variable,
            "reduction": loss.reduction}


def dot(graph: LavaGraph) -> str:
    """The process graph in Graphviz DOT: sources, LIF processes, connections as edges. Names
    are DOT strings (:func:`snnc.literals.dot`)."""
    lines = [f"digraph {dot_string(graph.name)} {{", "  rankdir=LR;",
             "  node [fontname=\"Helvetica\", fontsize=10];",
             "  edge [fontname=\"Helvetica\", fontsize=9];"]
    for s in graph.sources:
        label = dot_string(f"{s.name} [{s.size}]", f"RingBuffer ({s.kind})")
        lines.append(f"  {dot_string(s.name)} [shape=box, style=rounded, label={label}];")
    for g in graph.groups:
        label = dot_string(f"{g.name} [{g.size}]", f"{g.kind} du={g.du:.4g} dv={g.dv:.4g}")
        shape = "ellipse" if g.spiking else "octagon"
        lines.append(f"  {dot_string(g.name)} [shape={shape}, label={label}];")
    for g in graph.groups:
        if g.third is not None:
            source = third_factor_source(g)
            label = dot_string(source, f"RingBuffer (third factor, x {g.third.gain:.4g})")
            lines.append(f"  {dot_string(source)} [shape=box, style=\"rounded,dashed\", "
                         f"label={label}];")
            lines.append(f"  {dot_string(source)} -> {dot_string(g.name)} "
                         f"[label={dot_string('a_third')}, style=dashed];")
    lines += render_feedback.dot_lines(graph, dot_string)
    lines += local_readout.dot_lines(graph, dot_string)
    for c in graph.connections:
        label = [c.kind + (f" d={c.delay}" if c.delay else "")]
        label += [c.rule.rule] if c.rule is not None else []
        style = ", color=firebrick, fontcolor=firebrick" if c.rule is not None else ""
        lines.append(f"  {dot_string(c.pre)} -> {dot_string(c.post)} "
                     f"[label={dot_string(*label)}{style}];")
    lines.append("}")
    return "\n".join(lines) + "\n"
