"""Code generation: a :class:`~snnc.ir.discrete.Plan` becomes a standalone numpy
module (``simulation.py``) and its arrays (``network.npz``).

The module is straight-line code per step: one block per input, per population (in update
order) and per projection, with scalar constants printed as literals and per-neuron constants
loaded from the data file. Names in the generated code are derived from indices
(``p0``, ``w3``); user names (``.snn`` identifiers) appear only in comments and as string
literals of :func:`snnc.literals.py`; the template prints them with its ``py`` filter.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from snnc.backends.artifacts import literal, save_npz
from snnc.ir.discrete import Plan, PopulationPlan, ProjectionPlan
from snnc.literals import py

#: the membrane's per-neuron parameters, rows of ``<pop>_params``, with their defaults
NEURON_PARAMS = {"a_mem": 1.0, "v_leak": 0.0, "c_in": 1.0, "bias": 0.0, "threshold": 1.0,
                 "v_reset": 0.0, "beta_adapt": 0.0, "rho": 0.0}


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
            self.step.append(f"# input {x.name}{list(x.shape)}: {x.source}")
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
                self.init.append(f"self.{ident} = self._array({ident!r})  # {p.name}: "
                                 f"[{p.n_post}, {p.n_pre}] dense")
            else:
                for key, array in (("", p.weights), ("_post", p.post_index),
                                   ("_pre", p.pre_index), ("_indptr", p.indptr)):
                    self.data[ident + key] = array
                self.init.append(f"self.{ident} = self._array({ident!r})  # {p.name}: "
                                 f"{len(p.weights)} synapses, CSR by pre neuron")
                for key in ("_post", "_pre", "_indptr"):
                    self.init.append(f"self.{ident}{key} = self.data[{ident + key!r}]")
            if p.mask is not None and p.learning:
                self.data[ident + "_mask"] = p.mask
                self.init.append(f"self.{ident}_mask = self.data[{ident + '_mask'!r}]")

    def population(self, name: str) -> PopulationPlan:
        return next(p for p in self.plan.populations if p.name == name)

    def quantity_value(self, expr, instance=None) -> float:
        """The SI value of a literal quantity, or of a rule parameter named by ``expr``."""
        from snnc.diagnostics import Diagnostics
        from snnc.frontend import ast
        from snnc.frontend.evaluate import Evaluator
        if isinstance(expr, ast.Ref) and instance is not None:
            return instance.args[expr.parts[0].text].value
        return Evaluator(Diagnostics()).evaluate(expr).value

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
                self.learn.insert(0, f"{ident}.fill(0.0)  # no loss is defined on {readout}")
            else:
                source = f"self.{self.pop_id(readout)}_{loss.variable}"
                self.learn.insert(0, f"{ident}[...] = self._error(n, {py(readout)}, "
                                     f"{py(loss.kind)}, {source})  # loss {loss.kind}")
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
            if self.weighs_at_synapse(p):
                step.append(f"{buffer} += self.{ident}_next  # {p.name}, weighed last step")
                continue
            spikes = self.spikes_at(p.pre, p.delay)
            if p.dense:
                step.append(f"{buffer} += {spikes}.astype(self.dtype) @ self.{ident}.T  # {p.name}")
            else:
                step.append(f"_propagate({spikes}, self.{ident}_indptr, self.{ident}_post, "
                            f"self.{ident}, {buffer})  # {p.name}")

    def emit_population(self, pop: PopulationPlan) -> None:
        ident = self.pop_id(pop.name)
        step, reset = self.step, self.reset
        size = pop.size
        step.append(f"# {'population' if pop.spiking else 'readout'} {pop.name}"
                    f"{list(pop.shape)}: {pop.model}")
        zeros = f"np.zeros((self.batch, {size}), self.dtype)"
        v, total = f"self.{ident}_v", f"self.{ident}_total"
        reset.append(f"{v} = np.empty((self.batch, {size}), self.dtype)")
        reset.append(f"{v}[:] = {self.param(pop, 'v_init', 0.0)}")
        reset.append(f"{total} = {zeros}")
        reset.append(f"self.{ident}_j = {zeros}")
        incoming = self.plan.incoming(pop.name)
        direct = [p for p in incoming if p.receptor is None]
        if pop.has_syn:
            reset.append(f"self.{ident}_i = {zeros}")
            if direct:
                self.deliver(direct, f"self.{ident}_j")
            a_syn = self.param(pop, "a_syn", 0.0)
            step.append(f"_decay_add(self.{ident}_i, {a_syn}, self.{ident}_j, {total})"
                        + ("" if direct else "  # no input"))
        elif direct:  # no synaptic filter: the current is this step's input
            reset.append(f"self.{ident}_i = {zeros}")
            self.init.append(f"self.{ident}_no_memory = np.zeros({size}, self.dtype)")
            self.deliver(direct, f"self.{ident}_j")
            step.append(f"_decay_add(self.{ident}_i, self.{ident}_no_memory, self.{ident}_j, "
                        f"{total})")
        for k, (receptor, a) in enumerate(sorted(pop.receptors.items())):
            r = f"self.{ident}_r{k}"
            reset.append(f"{r} = {zeros}  # receptor {receptor}")
            self.init.append(f"self.{ident}_r{k}_decay = np.full({size}, {literal(a)}, "
                             "self.dtype)")
            feeding = [p for p in incoming if p.receptor == receptor]
            if len(feeding) == 1 and not feeding[0].dense \
                    and not self.weighs_at_synapse(feeding[0]):  # one call: decay, deliver, add
                p = feeding[0]
                w = self.proj_id(p)
                step.append(f"_decay_deliver({r}, self.{ident}_r{k}_decay, "
                            f"{self.spikes_at(p.pre, p.delay)}, self.{w}_indptr, self.{w}_post, "
                            f"self.{w}, {total})  # receptor {receptor}: {p.name}")
                continue
            self.deliver(feeding, f"self.{ident}_j")
            step.append(f"_decay_add({r}, self.{ident}_r{k}_decay, self.{ident}_j, {total})"
                        f"  # receptor {receptor}")
        self.param(pop, "a_mem", 1.0)  # creates <pop>_params
        reset_code = {"none": 0, "zero": 1, "subtract": 2}[pop.reset]
        reset.append(f"self.{ident}_ref = np.zeros((self.batch, {size}), np.int64)")
        reset.append(f"self.{ident}_a = {zeros}")
        reset.append(f"self.{ident}_s = np.zeros((self.batch, {size}), dtype=bool)")
        reset.append(f"self.{ident}_u = {zeros}  # membrane before the reset")
        args = [v, total, f"self.{ident}_params", str(reset_code), str(pop.refractory),
                f"self.{ident}_ref", f"self.{ident}_a", f"self.{ident}_s", str(pop.spiking),
                f"self.{ident}_u"]
        # the kernel says whether the new membrane (before hold and reset) is finite: every
        # current enters it; a failing current is named as the cause
        step.append(f"if not _neuron({', '.join(args)}):")
        step.append(f"    self._faulty.append({len(self.checked)})")
        causes = [(f"{ident}_r{k}", f"receptor {receptor}")
                  for k, receptor in enumerate(sorted(pop.receptors))]
        if any(line.startswith(f"self.{ident}_i =") for line in reset):
            causes.append((f"{ident}_i", "i"))
        self.checked.append((f"{ident}_u", "population", pop.name, "v", causes))

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
            if p.dense:
                self.step.append(f"self.{ident}_next = {spikes}.astype(self.dtype) @ "
                                 f"self.{ident}.T  # {p.name}: weighed at the synapse")
            else:
                self.step.append(f"self.{ident}_next.fill(0.0)")
                self.step.append(f"_propagate({spikes}, self.{ident}_indptr, self.{ident}_post, "
                                 f"self.{ident}, self.{ident}_next)  # {p.name}: weighed at "
                                 "the synapse")

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


def variables(plan: Plan, emitter: Emitter) -> dict[str, tuple[str, tuple[int, ...]]]:
    """Recordable variables: 'pop.var' -> (attribute, shape), every variable a model has, and
    the rules' traces and signals ('<projection>.<name>'). A population without a current of
    its own (no synaptic filter, no input but through receptors) records as 'i' the sum of
    its receptor currents ('a+b'), or its delivery buffer, zero after every step, without
    any input."""
    out = {}
    for x in plan.inputs:
        out[f"{x.name}.s"] = (f"{emitter.input_id(x.name)}_s", x.shape)
    for pop in plan.populations:
        ident = emitter.pop_id(pop.name)
        names = ["v"] + (["s"] if pop.spiking else [])
        names += ["i"] if any(line.startswith(f"self.{ident}_i =") for line in emitter.reset) else []
        names += ["a"] if pop.adaptive else []
        for name in names:
            out[f"{pop.name}.{name}"] = (f"{ident}_{name}", pop.shape)
        if "i" not in names:
            summed = "+".join(f"{ident}_r{k}" for k in range(len(pop.receptors)))
            out[f"{pop.name}.i"] = (summed or f"{ident}_j", pop.shape)
    out.update(emitter.histories)
    return out


def render(plan: Plan, version: str) -> tuple[str, bytes]:
    """The generated module's source and its ``network.npz`` (deterministic bytes)."""
    emitter = Emitter(plan)
    emitter.build()
    from snnc.backends import templates
    template = templates("snnc.backends.reference").get_template("simulation.py.j2")
    source = template.render(
        plan=plan, version=version, init=emitter.init, reset=emitter.reset, step=emitter.step,
        learn=emitter.learn,
        variables=variables(plan, emitter),
        weights={p.name: emitter.proj_id(p) for p in plan.projections},
        bounds={p.name: emitter.bounds[emitter.proj_id(p)] for p in plan.projections
                if emitter.proj_id(p) in emitter.bounds},
        inputs={x.name: (x.shape, x.source) for x in plan.inputs},
        events={x.name: len(x.spikes) for x in plan.inputs if x.source == "file"},
        checked=emitter.checked, literal=literal)
    return source, save_npz(emitter.data)
