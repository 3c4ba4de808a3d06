"""Code generation: a :class:`~snnc.ir.discrete.Plan` becomes a standalone numpy
module (``simulation.py``), its arrays (``network.npz``) and, beside them, the runtime library
every network shares (``snnc_runtime.py``, a verbatim copy of
:mod:`snnc.backends.reference.runtime`).

The module is straight-line code per step: one block per input, per population (in update
order) and per projection. A parameter that every neuron of a population shares is printed as
a literal; one that varies is a per-neuron vector loaded from the data file. Per population and
step the projections deliver their spikes' weights into its currents (event-driven, CSR by pre
neuron), then one kernel call (``_neuron``) updates its currents and membrane in one pass over
the neurons. Kernel calls name their arguments (``reset=RESET_ZERO``), and every
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
from snnc.backends.reference.native import NativeLoop, c_source
from snnc.backends.reference.provenance import population_comments, projection_comment
from snnc.ir.discrete import Plan, PopulationPlan, ProjectionPlan
from snnc.literals import py, py_comment

#: the membrane's parameters: ``_neuron``'s argument -> (the plan's name, its default)
NEURON_PARAMS = {"a_mem": ("a_mem", 1.0), "v_leak": ("v_leak", 0.0), "c_in": ("c_in", 1.0),
                 "bias": ("bias", 0.0), "threshold": ("threshold", 1.0),
                 "v_reset": ("v_reset", 0.0), "beta": ("beta_adapt", 0.0), "rho": ("rho", 0.0)}
#: a population's reset option -> the runtime's constant for it (``reset`` of ``_neuron``)
RESETS = {"none": "RESET_NONE", "zero": "RESET_ZERO", "subtract": "RESET_SUBTRACT"}
WIDTH = 100  # generated lines are wrapped at this many characters (plus the method's indent)


#: elements compared at a time by :func:`uniform` (its temporary array stays small beside a
#: projection's weights)
UNIFORM_CHUNK = 1 << 20


def uniform(value) -> float | None:
    """The value every element of ``value`` (a number, a per-neuron vector or a projection's
    weights) holds, bit for bit, when it is one finite number; None when the elements differ
    or are not finite. Compared :data:`UNIFORM_CHUNK` elements at a time, stopping at the
    first chunk that differs."""
    array = np.ascontiguousarray(value, dtype=np.float64).reshape(-1)
    if array.size == 0 or not np.isfinite(array[0]):
        return None
    bits = array.view(np.uint64)
    for start in range(0, bits.size, UNIFORM_CHUNK):
        if not (bits[start:start + UNIFORM_CHUNK] == bits[0]).all():
            return None
    return float(array[0])


def tuple_code(items) -> str:
    """A tuple display of the code strings ``items``: ``(a,)``, ``(a, b)``."""
    items = list(items)
    return f"({items[0]},)" if len(items) == 1 else f"({', '.join(items)})"


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
    #: populations whose membrane before the reset a rule's surrogate() reads
    surrogates: set[str] = field(default_factory=set)
    #: population -> its currents' decays as ``_neuron``'s argument (code)
    decays: dict[str, str] = field(default_factory=dict)
    #: the step as C (:mod:`.native`), recorded beside the Python; None once the step does
    #: something the C loop does not (dense projections, learning)
    native: NativeLoop | None = field(default_factory=NativeLoop)
    #: population -> (name, decay) of its currents for the C loop: a literal, or
    #: (attribute, index) of a per-neuron vector
    native_currents: dict[str, list[tuple[str, object]]] = field(default_factory=dict)

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
            if self.native is not None:
                self.native.store_ring(ident, depth, size)

    # -- blocks -------------------------------------------------------------------------------
    def emit_inputs(self) -> None:
        for x in self.plan.inputs:
            ident = self.input_id(x.name)
            if self.native is not None:
                probability = float(x.probability) if x.source == "poisson" else None
                self.native.input(f"input {x.name}", ident, x.name, x.source, x.size,
                                  probability)
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
        """Per projection its weights (dense [post, pre], or one per synapse in CSR order by
        pre neuron with the synapses' post neurons and the index pointer); the synapses' pre
        neurons only where generated code reads them (:meth:`pre_index`)."""
        for p in self.plan.projections:
            ident = self.proj_id(p)
            layout = f"[{p.n_post}, {p.n_pre}] dense" if p.dense else \
                f"{len(p.weights)} synapses, CSR by pre neuron"
            self.emit_weights(p, ident, layout)
            if not p.dense:
                for key, array in (("_post", p.post_index), ("_indptr", p.indptr)):
                    self.data[ident + key] = array
                    self.init.append(f"self.{ident}{key} = self.data[{ident + key!r}]")
            if p.mask is not None and p.learning:
                self.data[ident + "_mask"] = p.mask
                self.init.append(f"self.{ident}_mask = self.data[{ident + '_mask'!r}]")

    def emit_weights(self, p: ProjectionPlan, ident: str, layout: str) -> None:
        """The line of ``__init__`` that builds the weights ``self.<ident>``, an array of the
        simulation's dtype in either case: from their array in ``network.npz``, or, when every
        weight is the same number (bit for bit: :func:`uniform`), from that one number stored
        as an array of one element (a constant weight over millions of synapses is 8 bytes to
        store, hash and read, not 8 per synapse). The values are the same either way."""
        same = uniform(p.weights)
        if same is None:
            self.data[ident] = p.weights
            self.init.append(f"self.{ident} = self._array({ident!r})  # "
                             f"{py_comment(p.name)}: {layout}")
            return
        self.data[ident] = np.array([same], np.float64)
        self.init.append(f"self.{ident} = self._full({ident!r}, {tuple(p.weights.shape)})  # "
                         f"{py_comment(p.name)}: {layout}, one weight")

    def pre_index(self, p: ProjectionPlan) -> str:
        """``self.<ident>_pre``: the pre neuron of every synapse of the sparse projection ``p``
        (for rules that spread a per-pre value over the synapses, and transposed delivery),
        put in ``network.npz`` and loaded by ``__init__`` the first time code asks for it:
        the steps themselves (Python and C) read only ``_post`` and ``_indptr``."""
        key = f"{self.proj_id(p)}_pre"
        if key not in self.data:
            self.data[key] = p.pre_index
            self.init.append(f"self.{key} = self.data[{key!r}]")
        return f"self.{key}"

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
        """A parameter of the population's neurons as code: a literal when every neuron has
        the same value (bit for bit), else the attribute holding its vector [n] (from the
        data file)."""
        value = pop.arrays[key] if key in pop.arrays else pop.scalars.get(key, default)
        same = uniform(value)
        if same is not None:
            return literal(same)
        ident = f"{self.pop_id(pop.name)}_{key}"
        if ident not in self.data:
            self.data[ident] = np.broadcast_to(np.asarray(value, np.float64), (pop.size,))
            self.init.append(f"self.{ident} = self._array({ident!r})  # per neuron")
        return f"self.{ident}"

    def deliver(self, projections: list[ProjectionPlan], buffer: str) -> None:
        """Lines that set ``buffer`` to the summed input the projections deliver this step."""
        step = self.step
        for p in projections:
            ident = self.proj_id(p)
            step.append(projection_comment(self.plan, p))
            if self.weighs_at_synapse(p):
                self.native = None
                step.append(f"{buffer} += self.{ident}_next  # weighed last step")
                continue
            spikes = self.spikes_at(p.pre, p.delay)
            if p.dense:
                self.native = None  # BLAS sums in its own order
                step.append(f"{buffer} += {spikes}.astype(self.dtype) @ self.{ident}.T")
            else:
                if self.native is not None:
                    source = self.source_id(p.pre)
                    row = self.native.ring_row(source, p.delay, self.delays_of(p.pre) + 1,
                                               p.n_pre)
                    self.native.propagate(f"projection {p.name}", row, p.n_pre, p.n_post,
                                          ident, len(p.weights), buffer[5:])
                step += call("_propagate", spikes=spikes, indptr=f"self.{ident}_indptr",
                             post=f"self.{ident}_post", weights=f"self.{ident}", out=buffer)

    def emit_population(self, pop: PopulationPlan) -> None:
        """The block of one population: its state (in ``reset``), the input its projections
        deliver into its currents, the kernel call (currents and membrane in one pass), and
        its recordable variables."""
        ident = self.pop_id(pop.name)
        size = pop.size
        self.step += population_comments(self.plan, pop)
        v = f"self.{ident}_v"
        self.reset.append(f"{v} = np.empty((self.batch, {size}), self.dtype)")
        self.reset.append(f"{v}[:] = {self.param(pop, 'v_init', 0.0)}")
        currents = self.emit_currents(pop)
        own = currents[0][0] == "i"
        self.emit_membrane(pop)
        causes = [(f"{ident}_{name}", label) for name, label in currents[own:]]
        causes += [(f"{ident}_i", "i")] if own else []
        self.checked.append((f"{ident}_fault", "population", pop.name, "v", causes))
        names = ["v"] + (["s"] if pop.spiking else []) + ["i"] + (["a"] if pop.adaptive else [])
        for name in names:
            self.recordable[f"{pop.name}.{name}"] = (f"{ident}_{name}", pop.shape)
        if not own:  # 'i' is the sum of the receptor currents
            self.recordable[f"{pop.name}.i"] = ("+".join(f"{ident}_{name}"
                                                         for name, _ in currents), pop.shape)

    def currents_of(self, pop: PopulationPlan) -> list[tuple[str, str, object, list]]:
        """(name, label, decay, feeding projections) of every current of the population, in
        the order the kernel sums them: its own current ``i`` first (the model's synaptic
        filter, decay a_syn; or, without one, this step's input, decay 0; or, without input
        at all, a current that stays 0), then one per receptor (decay exp(-dt/tau) or
        1 - dt/tau)."""
        incoming = self.plan.incoming(pop.name)
        direct = [p for p in incoming if p.receptor is None]
        currents = []
        if pop.has_syn:
            a_syn = pop.arrays["a_syn"] if "a_syn" in pop.arrays else \
                pop.scalars.get("a_syn", 0.0)
            currents.append(("i", "i", a_syn, direct))
        elif direct or not pop.receptors:
            currents.append(("i", "i", 0.0, direct))
        for k, (receptor, a) in enumerate(sorted(pop.receptors.items())):
            currents.append((f"r{k}", f"receptor {receptor}", a,
                             [p for p in incoming if p.receptor == receptor]))
        return currents

    def emit_currents(self, pop: PopulationPlan) -> list[tuple[str, str]]:
        """The currents' state and this step's input: per current ``<pop>_<name>`` [batch, n]
        (its value after the step) and ``<pop>_<name>_in``, where the kernel leaves decay *
        current and the projections deliver the next step's input; the kernel takes them as
        the tuples ``<pop>_currents`` and ``<pop>_arriving``, and the decays as a tuple of
        literals, or ``<pop>_decays`` (per-neuron vectors) when one varies per neuron.
        Returns (name, label) per current."""
        ident = self.pop_id(pop.name)
        zeros = f"np.zeros((self.batch, {pop.size}), self.dtype)"
        currents = self.currents_of(pop)
        for name, label, _, _ in currents:
            self.reset.append(f"self.{ident}_{name} = {zeros}  # {py_comment(label)}")
            self.reset.append(f"self.{ident}_{name}_in = {zeros}  # decay * {name} + input")
        names = [name for name, _, _, _ in currents]
        self.reset.append(f"self.{ident}_currents = "
                          + tuple_code(f"self.{ident}_{name}" for name in names))
        self.reset.append(f"self.{ident}_arriving = "
                          + tuple_code(f"self.{ident}_{name}_in" for name in names))
        decays = [uniform(decay) for _, _, decay, _ in currents]
        if all(d is not None for d in decays):
            self.decays[pop.name] = tuple_code(literal(d) for d in decays)
            self.native_currents[pop.name] = [(name, literal(d))
                                              for name, d in zip(names, decays, strict=True)]
        else:
            key = f"{ident}_decays"
            self.data[key] = np.stack([np.broadcast_to(np.asarray(decay, np.float64),
                                                       (pop.size,))
                                       for _, _, decay, _ in currents])
            self.init.append(f"self.{key} = tuple(self._array({key!r}))  # per neuron: "
                             + ", ".join(names))
            self.decays[pop.name] = f"self.{key}"
            self.native_currents[pop.name] = [(name, (key, c)) for c, name in enumerate(names)]
        for name, label, _, feeding in currents:
            if feeding:
                self.deliver(feeding, f"self.{ident}_{name}_in")
            else:
                self.step.append(f"# {py_comment(label)}: no input")
        return [(name, label) for name, label, _, _ in currents]

    def emit_membrane(self, pop: PopulationPlan) -> None:
        """The kernel call (``_neuron`` of the runtime): the currents, the membrane, spikes,
        refractoriness, adaptation and reset in one pass. Its result is 0.0, or the first
        non-finite membrane value (kept as ``<pop>_fault`` for the NaN/inf watch). The
        refractory counter, the adaptation and the membrane before the reset (``u``, for
        surrogate derivatives) exist only when the model has them or a rule reads them."""
        ident = self.pop_id(pop.name)
        size = pop.size
        zeros = f"np.zeros((self.batch, {size}), self.dtype)"
        refractory = pop.spiking and pop.refractory > 0
        keep_u = pop.name in self.surrogates
        self.reset.append(f"self.{ident}_fault = 0.0  # nan, inf or -inf: the membrane was not "
                          "finite")
        if refractory:
            self.reset.append(f"self.{ident}_ref = np.zeros((self.batch, {size}), np.int32)  "
                              "# refractory steps left")
        self.reset.append(f"self.{ident}_a = {zeros}")
        self.reset.append(f"self.{ident}_s = np.zeros((self.batch, {size}), dtype=bool)")
        if keep_u:
            self.reset.append(f"self.{ident}_u = {zeros}  # membrane before the reset")
        self.step.append(f"# membrane of {py_comment(pop.name)}")
        arguments = {"v": f"self.{ident}_v", "currents": f"self.{ident}_currents",
                     "arriving": f"self.{ident}_arriving", "decays": self.decays[pop.name]}
        for argument, (key, default) in NEURON_PARAMS.items():
            arguments[argument] = self.param(pop, key, default)
        arguments |= {"reset": RESETS[pop.reset], "refractory": str(pop.refractory),
                      "spiking": str(pop.spiking),
                      "ref": f"self.{ident}_ref" if refractory else "None",
                      "adapt": f"self.{ident}_a" if pop.adaptive else "None",
                      "spikes": f"self.{ident}_s", "u": f"self.{ident}_u" if keep_u else "None"}
        self.step += call("_neuron", prefix="fault = ", **arguments)
        if keep_u:
            self.native = None  # only rules read it, and rules run in Python
        if self.native is not None:
            self.native.neuron(f"membrane of {pop.name}", ident, size,
                               self.native_currents[pop.name],
                               {name: arguments[name] for name in NEURON_PARAMS},
                               RESETS[pop.reset], pop.refractory, pop.spiking, refractory,
                               pop.adaptive, len(self.checked))
        self.step += ["if fault:", f"    self.{ident}_fault = fault",
                      f"    self._faulty.append({len(self.checked)})"]

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
        from snnc.backends.reference.rules import emit_learning, surrogate_populations
        self.surrogates = surrogate_populations(self.plan.net)
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
                if self.native is not None:
                    self.native.store_ring(ident, depth, pop.size)
        self.weigh_at_synapses()
        before = (len(self.step), len(self.learn))
        emit_learning(self, self.plan, self.plan.net)
        if (len(self.step), len(self.learn)) != before:
            self.native = None  # rules run in Python


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


def render(plan: Plan, version: str) -> tuple[str, bytes, str | None]:
    """The generated module's source, its ``network.npz`` (deterministic bytes) and the C
    version of its steps (``simulation.c``; None with learning or dense projections)."""
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
        checked=emitter.checked, literal=literal, native=emitter.native)
    native = None if emitter.native is None else c_source(emitter.native, plan.name, version)
    return source, save_npz(emitter.data), native
