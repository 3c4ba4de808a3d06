"""Code generation: a :class:`~snnc.ir.discrete.Plan` becomes a standalone numpy
module (``simulation.py``), its arrays (``network.npz``) and, beside them, the runtime library
every network shares (``snnc_runtime.py``, a verbatim copy of
:mod:`snnc.backends.reference.runtime`).

The module is straight-line code per step: one block per input, per population (in update
order) and per projection, with scalar constants printed as literals and per-neuron constants
loaded from the data file. Kernel calls name their arguments (``reset=RESET_ZERO``), and every
block starts with provenance comments (:mod:`.provenance`: the population, its model, its
parameters in the units of the language and the decays they give; the projection's pre, post,
delay and receptor). Names in the generated code are derived from indices (``p0``, ``w3``); user
names (``.snn`` identifiers) appear only in comments (:func:`snnc.literals.py_comment`) and as
string literals of :func:`snnc.literals.py`. The emitter records what it creates (the
recordable variables, the NaN/inf watch) as it creates it; the template holds structure only.
"""

from __future__ import annotations

import ast as python_ast
import re
from dataclasses import dataclass, field
from importlib import resources

import numpy as np

from snnc.backends.artifacts import literal, save_npz
from snnc.backends.reference.provenance import population_comments, projection_comment
from snnc.ir.discrete import Plan, PopulationPlan, ProjectionPlan
from snnc.literals import py, py_comment

#: the membrane's per-neuron parameters, rows of ``<pop>_params``, with their defaults
NEURON_PARAMS = {"a_mem": 1.0, "v_leak": 0.0, "c_in": 1.0, "bias": 0.0, "threshold": 1.0,
                 "v_reset": 0.0, "beta_adapt": 0.0, "rho": 0.0}
#: a population's reset option -> the runtime's constant for it (``reset`` of ``_neuron``)
RESETS = {"none": "RESET_NONE", "zero": "RESET_ZERO", "subtract": "RESET_SUBTRACT"}
WIDTH = 100  # generated lines are wrapped at this many characters (plus the method's indent)


def call(function: str, prefix: str = "", suffix: str = "", **arguments: str) -> list[str]:
    """``prefix function(name=value, ...) suffix`` with keyword arguments, wrapped to WIDTH
    columns with the continuation lines aligned after the parenthesis."""
    head = f"{prefix}{function}("
    items = [f"{name}={value}" for name, value in arguments.items()]
    lines, current = [], head
    for k, item in enumerate(items):
        item += ", " if k < len(items) - 1 else ")" + suffix
        if current.strip() and len(current) + len(item.rstrip()) > WIDTH \
                and current != head:
            lines.append(current.rstrip())
            current = " " * len(head)
        current += item
    return lines + [current]


@dataclass
class Emitter:
    plan: Plan
    data: dict[str, np.ndarray] = field(default_factory=dict)
    init: list[str] = field(default_factory=list)  # lines of Simulation.__init__
    reset: list[str] = field(default_factory=list)  # lines of Simulation.reset
    step: list[str] = field(default_factory=list)  # lines of Simulation.step
    learn: list[str] = field(default_factory=list)  # lines of Simulation.step, when learning
    errors: dict[str, str] = field(default_factory=dict)  # readout -> attribute of its error
    bounds: dict[str, list[tuple[float, float]]] = field(default_factory=dict)  # w attr -> clips
    #: NaN/inf watch, one entry per population and learning projection: (attribute, kind,
    #: owner, variable, causes); the causes (attribute, variable) feed it and are named first
    checked: list[tuple] = field(default_factory=list)
    #: recordable projection state: '<projection>.<trace or signal>' -> (attribute, shape)
    histories: dict[str, tuple[str, tuple[int, ...]]] = field(default_factory=dict)
    #: recordable inputs and populations, recorded as their state is created:
    #: '<input>.s', '<population>.<v, s, i, a>' -> (attribute or 'a+b', shape)
    recordable: dict[str, tuple[str, tuple[int, ...]]] = field(default_factory=dict)

    # -- naming -------------------------------------------------------------------------------
    def pop_id(self, name: str) -> str:
        return f"p{[p.name for p in self.plan.populations].index(name)}"

    def input_id(self, name: str) -> str:
        return f"x{[x.name for x in self.plan.inputs].index(name)}"

    def source_id(self, name: str) -> str:
        if name in [x.name for x in self.plan.inputs]:
            return self.input_id(name)
        return self.pop_id(name)

    def proj_id(self, projection: ProjectionPlan) -> str:
        return f"w{self.plan.projections.index(projection)}"

    # -- sources ------------------------------------------------------------------------------
    def delays_of(self, source: str) -> int:
        return max((p.delay for p in self.plan.projections if p.pre == source), default=0)

    def spikes_at(self, source: str, delay: int) -> str:
        """The spikes of ``source`` emitted ``delay`` steps ago (bool array [batch, n])."""
        ident = self.source_id(source)
        if delay == 0:
            return f"self.{ident}_s"
        depth = self.delays_of(source) + 1
        return f"self.{ident}_ring[(n - {delay}) % {depth}]"

    def store_spikes(self, source: str, size: int) -> None:
        ident = self.source_id(source)
        depth = self.delays_of(source) + 1
        self.reset.append(f"self.{ident}_s = np.zeros((self.batch, {size}), dtype=bool)")
        if depth > 1:
            self.reset.append(f"self.{ident}_ring = np.zeros(({depth}, self.batch, {size}), "
                              "dtype=bool)")
            self.step.append(f"self.{ident}_ring[n % {depth}] = self.{ident}_s")

    # -- blocks -------------------------------------------------------------------------------
    def emit_inputs(self) -> None:
        for x in self.plan.inputs:
            ident = self.input_id(x.name)
            self.step.append(f"# input {py_comment(x.name)}{list(x.shape)}: {x.source}")
            self.recordable[f"{x.name}.s"] = (f"{ident}_s", x.shape)
            if x.source == "data":
                self.step.append(f"self.{ident}_s = inputs[{py(x.name)}][n]")
            elif x.source == "poisson":
                self.reset.append(f"self.{ident}_rng = np.random.default_rng("
                                  f"[self.seed, {self.plan.inputs.index(x)}])")
                self.step.append(f"self.{ident}_s = self.{ident}_rng.random((self.batch, "
                                 f"{x.size})) < {literal(x.probability)}")
            else:
                self.data[f"{ident}_spikes"] = x.spikes
                self.init.append(f"self.{ident}_spikes = self.data[{ident + '_spikes'!r}]")
                self.step.append(f"self.{ident}_s = np.broadcast_to(self.{ident}_spikes[n], "
                                 f"(self.batch, {x.size}))")
            self.store_spikes(x.name, x.size)

    def emit_projection_data(self) -> None:
        for p in self.plan.projections:
            ident = self.proj_id(p)
            if p.dense:
                self.data[ident] = p.weights
                self.init.append(f"self.{ident} = self._array({ident!r})  # "
                                 f"{py_comment(p.name)}: [{p.n_post}, {p.n_pre}] dense")
            else:
                for key, array in (("", p.weights), ("_post", p.post_index),
                                   ("_pre", p.pre_index), ("_indptr", p.indptr)):
                    self.data[ident + key] = array
                self.init.append(f"self.{ident} = self._array({ident!r})  # "
                                 f"{py_comment(p.name)}: {len(p.weights)} synapses, CSR by "
                                 "pre neuron")
                for key in ("_post", "_pre", "_indptr"):
                    self.init.append(f"self.{ident}{key} = self.data[{ident + key!r}]")
            if p.mask is not None and p.learning:
                self.data[ident + "_mask"] = p.mask
                self.init.append(f"self.{ident}_mask = self.data[{ident + '_mask'!r}]")

    def population(self, name: str) -> PopulationPlan:
        return next(p for p in self.plan.populations if p.name == name)

    def error_for(self, readout: str) -> str:
        """The attribute holding the readout's per-step error dL/dv [batch, n] (computed once)."""
        if readout not in self.errors:
            ident = f"self.{self.pop_id(readout)}_error"
            self.errors[readout] = ident
            loss = next((loss for loss in self.plan.net.losses if loss.population == readout),
                        None)
            size = self.population(readout).size
            self.reset.append(f"{ident} = np.zeros((self.batch, {size}), self.dtype)")
            if loss is None:
                self.learn.insert(0, f"{ident}.fill(0.0)  # no loss is defined on "
                                     f"{py_comment(readout)}")
            else:
                source = f"self.{self.pop_id(readout)}_{loss.variable}"
                self.learn.insert(0, f"{ident}[...] = self._error(n, readout={py(readout)}, "
                                     f"loss={py(loss.kind)}, value={source})")
        return self.errors[readout]

    def param(self, pop: PopulationPlan, key: str, default: float) -> str:
        """The attribute holding a per-neuron parameter vector (scalars are broadcast). The
        membrane's parameters are rows of one matrix ``<pop>_params`` (one kernel argument)."""
        ident = f"{self.pop_id(pop.name)}_{key}"
        if key in NEURON_PARAMS:
            stacked = f"{self.pop_id(pop.name)}_params"
            if stacked not in self.data:
                rows = [np.broadcast_to(np.asarray(pop.arrays[k] if k in pop.arrays else
                                                   pop.scalars.get(k, d), dtype=np.float64),
                                        (pop.size,)) for k, d in NEURON_PARAMS.items()]
                self.data[stacked] = np.stack(rows)
                self.init.append(f"self.{stacked} = self._array({stacked!r})  # rows: "
                                 + ", ".join(NEURON_PARAMS))
                for row, name in enumerate(NEURON_PARAMS):
                    self.init.append(f"self.{self.pop_id(pop.name)}_{name} = self.{stacked}[{row}]")
            return f"self.{ident}"
        if ident in self.data:
            return f"self.{ident}"
        if key in pop.arrays:
            value = pop.arrays[key]
        else:
            value = np.full(pop.size, pop.scalars.get(key, default))
        self.data[ident] = np.asarray(value, dtype=np.float64)
        self.init.append(f"self.{ident} = self._array({ident!r})")
        return f"self.{ident}"

    def deliver(self, projections: list[ProjectionPlan], buffer: str) -> None:
        """Lines that set ``buffer`` to the summed input the projections deliver this step."""
        step = self.step
        for p in projections:
            ident = self.proj_id(p)
            step.append(projection_comment(self.plan, p))
            if self.weighs_at_synapse(p):
                step.append(f"{buffer} += self.{ident}_next  # weighed last step")
                continue
            spikes = self.spikes_at(p.pre, p.delay)
            if p.dense:
                step.append(f"{buffer} += {spikes}.astype(self.dtype) @ self.{ident}.T")
            else:
                step += call("_propagate", spikes=spikes, indptr=f"self.{ident}_indptr",
                             post=f"self.{ident}_post", weights=f"self.{ident}", out=buffer)

    def emit_population(self, pop: PopulationPlan) -> None:
        """The block of one population: its state (in ``reset``), the currents its
        projections feed, the membrane step, and its recordable variables."""
        ident = self.pop_id(pop.name)
        size = pop.size
        self.step += population_comments(self.plan, pop)
        zeros = f"np.zeros((self.batch, {size}), self.dtype)"
        v = f"self.{ident}_v"
        self.reset.append(f"{v} = np.empty((self.batch, {size}), self.dtype)")
        self.reset.append(f"{v}[:] = {self.param(pop, 'v_init', 0.0)}")
        self.reset.append(f"self.{ident}_total = {zeros}")
        self.reset.append(f"self.{ident}_j = {zeros}")
        incoming = self.plan.incoming(pop.name)
        own = self.emit_own_current(pop, [p for p in incoming if p.receptor is None])
        self.emit_receptors(pop, incoming)
        self.emit_membrane(pop)
        causes = [(f"{ident}_r{k}", f"receptor {receptor}")
                  for k, receptor in enumerate(sorted(pop.receptors))]
        causes += [(f"{ident}_i", "i")] if own else []
        self.checked.append((f"{ident}_u", "population", pop.name, "v", causes))
        names = ["v"] + (["s"] if pop.spiking else []) + (["i"] if own else []) \
            + (["a"] if pop.adaptive else [])
        for name in names:
            self.recordable[f"{pop.name}.{name}"] = (f"{ident}_{name}", pop.shape)
        if not own:  # 'i' is the sum of the receptor currents, else the (empty) input buffer
            summed = "+".join(f"{ident}_r{k}" for k in range(len(pop.receptors)))
            self.recordable[f"{pop.name}.i"] = (summed or f"{ident}_j", pop.shape)

    def emit_own_current(self, pop: PopulationPlan, direct: list[ProjectionPlan]) -> bool:
        """The population's own current ``i`` (the model's synaptic filter, or this step's
        input without one): i <- a_syn i + input; total += i. False when it has none."""
        ident = self.pop_id(pop.name)
        zeros = f"np.zeros((self.batch, {pop.size}), self.dtype)"
        if pop.has_syn:
            self.reset.append(f"self.{ident}_i = {zeros}")
            if direct:
                self.deliver(direct, f"self.{ident}_j")
            a_syn = self.param(pop, "a_syn", 0.0)
            if not direct:
                self.step.append("# no input: the current only decays")
            self.step += call("_decay_add", current=f"self.{ident}_i", decay=a_syn,
                              delivered=f"self.{ident}_j", total=f"self.{ident}_total")
            return True
        if not direct:
            return False
        # no synaptic filter: the current is this step's input
        self.reset.append(f"self.{ident}_i = {zeros}")
        self.init.append(f"self.{ident}_no_memory = np.zeros({pop.size}, self.dtype)")
        self.deliver(direct, f"self.{ident}_j")
        self.step += call("_decay_add", current=f"self.{ident}_i",
                          decay=f"self.{ident}_no_memory", delivered=f"self.{ident}_j",
                          total=f"self.{ident}_total")
        return True

    def emit_receptors(self, pop: PopulationPlan, incoming: list[ProjectionPlan]) -> None:
        """One current per receptor: r <- a r + the input of its projections; total += r."""
        ident = self.pop_id(pop.name)
        size = pop.size
        for k, (receptor, a) in enumerate(sorted(pop.receptors.items())):
            r = f"self.{ident}_r{k}"
            self.reset.append(f"{r} = np.zeros((self.batch, {size}), self.dtype)  "
                              f"# receptor {py_comment(receptor)}")
            self.init.append(f"self.{ident}_r{k}_decay = np.full({size}, {literal(a)}, "
                             "self.dtype)")
            feeding = [p for p in incoming if p.receptor == receptor]
            if len(feeding) == 1 and not feeding[0].dense \
                    and not self.weighs_at_synapse(feeding[0]):  # one call: decay, deliver, add
                p = feeding[0]
                w = self.proj_id(p)
                self.step.append(projection_comment(self.plan, p))
                self.step += call("_decay_deliver", current=r, decay=f"{r}_decay",
                                  spikes=self.spikes_at(p.pre, p.delay),
                                  indptr=f"self.{w}_indptr", post=f"self.{w}_post",
                                  weights=f"self.{w}", total=f"self.{ident}_total")
                continue
            self.deliver(feeding, f"self.{ident}_j")
            self.step.append(f"# receptor {py_comment(receptor)}")
            self.step += call("_decay_add", current=r, decay=f"{r}_decay",
                              delivered=f"self.{ident}_j", total=f"self.{ident}_total")

    def emit_membrane(self, pop: PopulationPlan) -> None:
        """The membrane step (``_neuron`` of the runtime), which says whether the new membrane
        (before hold and reset) is finite: every current enters it; a failing current is
        named as the cause."""
        ident = self.pop_id(pop.name)
        zeros = f"np.zeros((self.batch, {pop.size}), self.dtype)"
        self.param(pop, "a_mem", 1.0)  # creates <pop>_params
        self.reset.append(f"self.{ident}_ref = np.zeros((self.batch, {pop.size}), np.int64)")
        self.reset.append(f"self.{ident}_a = {zeros}")
        self.reset.append(f"self.{ident}_s = np.zeros((self.batch, {pop.size}), dtype=bool)")
        self.reset.append(f"self.{ident}_u = {zeros}  # membrane before the reset")
        self.step.append(f"# membrane of {py_comment(pop.name)}")
        self.step += call("_neuron", prefix="if not ", suffix=":", v=f"self.{ident}_v",
                          total=f"self.{ident}_total", params=f"self.{ident}_params",
                          reset=RESETS[pop.reset], refractory=str(pop.refractory),
                          ref=f"self.{ident}_ref", adapt=f"self.{ident}_a",
                          spikes=f"self.{ident}_s", spiking=str(pop.spiking),
                          u=f"self.{ident}_u")
        self.step.append(f"    self._faulty.append({len(self.checked)})")

    def weighs_at_synapse(self, p: ProjectionPlan) -> bool:
        """With ``delivery = next_step`` a plastic synapse weighs a spike when it arrives (d
        steps after it was sent), before that step's learning update, and the soma gets the
        result one step later: Lava's and Loihi's order."""
        return self.plan.delivery == "next_step" and p.learning

    def weigh_at_synapses(self) -> None:
        """The next step's input of plastic synapses (see ``weighs_at_synapse``)."""
        for p in self.plan.projections:
            if not self.weighs_at_synapse(p):
                continue
            ident = self.proj_id(p)
            spikes = self.spikes_at(p.pre, p.delay - 1)
            self.reset.append(f"self.{ident}_next = np.zeros((self.batch, {p.n_post}), "
                              "self.dtype)")
            self.step.append(projection_comment(self.plan, p) + ": weighed at the synapse")
            if p.dense:
                self.step.append(f"self.{ident}_next = {spikes}.astype(self.dtype) @ "
                                 f"self.{ident}.T")
            else:
                self.step.append(f"self.{ident}_next.fill(0.0)")
                self.step += call("_propagate", spikes=spikes, indptr=f"self.{ident}_indptr",
                                  post=f"self.{ident}_post", weights=f"self.{ident}",
                                  out=f"self.{ident}_next")

    def build(self) -> None:
        from snnc.backends.reference.rules import emit_learning
        self.emit_projection_data()
        self.emit_inputs()
        for pop in self.plan.populations:
            self.emit_population(pop)
            depth = self.delays_of(pop.name) + 1
            if depth > 1:
                ident = self.pop_id(pop.name)
                self.reset.append(f"self.{ident}_ring = np.zeros(({depth}, self.batch, "
                                  f"{pop.size}), dtype=bool)")
                self.step.append(f"self.{ident}_ring[n % {depth}] = self.{ident}_s")
        self.weigh_at_synapses()
        emit_learning(self, self.plan, self.plan.net)


def variables(emitter: Emitter) -> dict[str, tuple[str, tuple[int, ...]]]:
    """Recordable variables: 'pop.var' -> (attribute, shape), as the emitter recorded them
    when it created their state: every input's spikes, every variable a model has (a
    population without a current of its own records as 'i' the sum of its receptor currents
    ('a+b'), or its delivery buffer, zero after every step, without any input), then the
    rules' traces and signals ('<projection>.<name>')."""
    return {**emitter.recordable, **emitter.histories}


def runtime_source() -> str:
    """The text of :mod:`snnc.backends.reference.runtime`, copied into every output folder as
    ``snnc_runtime.py``."""
    return resources.files("snnc.backends.reference").joinpath("runtime.py").read_text("utf-8")


def runtime_names(source: str) -> list[str]:
    """The names the runtime defines at its top level (functions, classes, constants)."""
    names = []
    for node in python_ast.parse(source).body:
        if isinstance(node, (python_ast.FunctionDef, python_ast.ClassDef)):
            names.append(node.name)
        elif isinstance(node, python_ast.Assign):
            for target in node.targets:
                elements = target.elts if isinstance(target, python_ast.Tuple) else [target]
                names += [e.id for e in elements if isinstance(e, python_ast.Name)]
    return names


def used_names(names: list[str], lines: list[str]) -> list[str]:
    """The runtime names the generated lines use, always with the base class and the errors
    a run raises (the module's callers catch them as ``module.TargetError``...)."""
    text = "\n".join(lines)
    always = ("NonFiniteError", "SimulationBase", "TargetError")
    return sorted(name for name in set(names)
                  if name in always or re.search(rf"(?<![\w.]){re.escape(name)}\b", text))


def render(plan: Plan, version: str) -> tuple[str, bytes]:
    """The generated module's source and its ``network.npz`` (deterministic bytes)."""
    emitter = Emitter(plan)
    emitter.build()
    from snnc.backends import templates
    template = templates("snnc.backends.reference").get_template("simulation.py.j2")
    code = emitter.init + emitter.reset + emitter.step + emitter.learn
    source = template.render(
        plan=plan, version=version, init=emitter.init, reset=emitter.reset, step=emitter.step,
        learn=emitter.learn, imports=used_names(runtime_names(runtime_source()), code),
        variables=variables(emitter),
        weights={p.name: emitter.proj_id(p) for p in plan.projections},
        bounds={p.name: emitter.bounds[emitter.proj_id(p)] for p in plan.projections
                if emitter.proj_id(p) in emitter.bounds},
        inputs={x.name: (x.shape, x.source) for x in plan.inputs},
        events={x.name: len(x.spikes) for x in plan.inputs if x.source == "file"},
        checked=emitter.checked, literal=literal)
    return source, save_npz(emitter.data)
