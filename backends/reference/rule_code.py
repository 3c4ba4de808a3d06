"""A learning rule's expressions printed as numpy code for the generated simulation.

Every typed sub-expression (:mod:`snnc.ir.rules`) carries the index the locality analysis gave
it ({} scalar, {j} per pre neuron, {i} per post neuron, {i, j} per synapse) and is computed at
that index; :meth:`RuleCode.render` broadcasts it to the index of the expression around it only
where a product needs it. Arrays: neuron quantities are [batch, n]; synapse quantities are
[batch, post, pre] for dense projections and [batch, synapses] (CSR order) for sparse ones.

Functions print from the one function table (:data:`snnc.functions.RULE_FUNCTIONS`): an entry's
``numpy`` format over the printed arguments (``np.exp({0})``). The three functions without one
are this backend's own: ``lowpass`` (an anonymous trace ``y <- decay(tau) y + scale x``, updated
before the statement that reads it), ``surrogate`` (the post model's surrogate derivative at
``v - threshold``) and ``decay`` (:func:`snnc.ir.discrete.decay`: ``exp(-dt/tau)`` for exact
integration, ``1 - dt/tau`` for Euler; folded to a literal when ``tau`` is constant).
"""

from __future__ import annotations

import abc

import numpy as np

from snnc.backends.artifacts import literal
from snnc.ir import rules as ir
from snnc.ir.discrete import decay as decay_factor
from snnc.ir.nodes import Population
from snnc.ir.values import Constant, rng_for
from snnc.literals import py_comment
from snnc.units import Quantity

EMPTY = frozenset()
POST, PRE, SYNAPSE = frozenset({"i"}), frozenset({"j"}), frozenset({"i", "j"})


def operand(code: str) -> str:
    """``code`` (a literal or an attribute) ready to follow a binary operator: a negative
    literal in parentheses."""
    return f"({code})" if code.startswith("-") else code


class RuleCode(ir.Visitor[str], abc.ABC):
    """Prints the expressions of one rule instance on one projection.

    Subclasses set ``e`` (the emitter), ``net``, ``projection``, ``plan`` (the projection's
    plan), ``instance``, ``rule`` (the typed rule), ``prefix``, ``pre``, ``post``, ``traces``
    and ``signals`` (name -> attribute), ``lets`` (name -> expression), ``infos`` (typed
    expression -> locality info), ``anonymous`` and ``lines`` (code of anonymous traces
    waiting for the statement that reads them)."""

    index: frozenset = EMPTY  # the index of the expression being printed

    # -- shapes ---------------------------------------------------------------------------------
    def is_synapse(self, index: frozenset) -> bool:
        return index - {"k"} >= SYNAPSE or ("i" in index and "j" in index)

    def shape(self, index: frozenset) -> str:
        n_pre, n_post = self.plan.n_pre, self.plan.n_post
        if self.is_synapse(index):
            return f"(self.batch, {n_post}, {n_pre})" if self.plan.dense else \
                f"(self.batch, {len(self.plan.weights)})"
        if "i" in index:
            return f"(self.batch, {n_post})"
        if "j" in index:
            return f"(self.batch, {n_pre})"
        return "(self.batch, 1)"

    def dims(self, index: frozenset) -> tuple[int, ...]:
        """The per-sample shape of an array laid out as ``shape(index)`` (no batch axis)."""
        n_pre, n_post = self.plan.n_pre, self.plan.n_post
        if self.is_synapse(index):
            return (n_post, n_pre) if self.plan.dense else (len(self.plan.weights),)
        if "i" in index:
            return (n_post,)
        if "j" in index:
            return (n_pre,)
        return ()

    def lift(self, code: str, index: frozenset, constant: bool, target: frozenset) -> str:
        """Broadcast ``code`` (computed at ``index``) to the layout of ``target``."""
        if constant or index == target or not (target >= SYNAPSE):
            return code
        w = self.e.proj_id(self.plan)
        if self.plan.dense:
            if index == PRE:
                return f"{code}[:, None, :]"
            return f"{code}[:, :, None]"  # {i} [batch, post] or {} [batch, 1]
        if index == PRE:
            return f"{code}[:, {self.e.pre_index(self.plan)}]"
        if index == POST:
            return f"{code}[:, self.{w}_post]"
        return code

    def info(self, expr: ir.Expr):
        return self.infos[expr]

    # -- expressions ----------------------------------------------------------------------------
    def render(self, expr: ir.Expr, target: frozenset | None = None) -> str:
        """``expr`` computed at its own index, broadcast to ``target`` when given."""
        info = self.info(expr)
        outer, self.index = self.index, info.index
        try:
            code = self.visit(expr)
        finally:
            self.index = outer
        if target is None:
            return code
        return self.lift(code, info.index, info.constant, target)

    def visit_Const(self, node: ir.Const) -> str:
        return literal(node.value)

    def visit_Unary(self, node: ir.Unary) -> str:
        inner = self.render(node.operand, self.index)
        return f"(-{inner})" if node.op == "-" else inner

    def visit_Binary(self, node: ir.Binary) -> str:
        op = "**" if node.op == "^" else node.op
        index = self.index
        return f"({self.render(node.left, index)} {op} {self.render(node.right, index)})"

    def visit_Call(self, node: ir.Call) -> str:
        function = node.function
        if function.numpy is None:  # lowpass, surrogate, decay: this backend's own
            return getattr(self, "call_" + function.name)(node)
        index = self.index
        return function.numpy.format(*(self.render(arg, index) for arg in node.args))

    def visit_Param(self, node: ir.Param) -> str:
        value = self.instance.args.get(node.name)
        if not isinstance(value, Quantity):
            raise ValueError(f"rule parameter '{node.name}' has no numeric value")
        return literal(value.value)

    def visit_NeuronVar(self, node: ir.NeuronVar) -> str:
        pre = node.side == "pre"
        return self.neuron(self.pre if pre else self.post, node.attribute, delivered=pre)

    def visit_Weight(self, node: ir.Weight) -> str:
        return f"self.{self.e.proj_id(self.plan)}[None]"

    def visit_TraceRef(self, node: ir.TraceRef) -> str:
        return self.traces[node.name]

    def visit_SignalRef(self, node: ir.SignalRef) -> str:
        return self.signals[node.name]

    def visit_LetRef(self, node: ir.LetRef) -> str:
        value = self.lets[node.name]
        return f"({self.render(value, self.info(value).index)})"

    def visit_PopulationVar(self, node: ir.PopulationVar) -> str:
        population = ir.population_of(node.population, self.instance.args)
        param = self.net.node(population).params[node.attribute]
        return literal(param.value)  # uniform parameters only (the analysis made others remote)

    # -- the backend's own functions ------------------------------------------------------------
    def call_decay(self, node: ir.Call) -> str:
        return self.decay(node.args[0])

    def decay(self, tau_expr: ir.Expr) -> str:
        """The per-step decay of ``tau_expr``: a literal when it is constant."""
        settings = self.net.settings
        tau = self.render(tau_expr)
        if self.info(tau_expr).constant:
            return literal(decay_factor(settings, self.constant_value(tau_expr)))
        if settings.integration == "exact":
            return f"np.exp(-{literal(settings.dt)} / {tau})"
        return f"(1.0 - {literal(settings.dt)} / {tau})"

    def filtered(self, node: ir.Call, target: frozenset) -> tuple[str, str]:
        """(decay broadcast to ``target``, input ``x [* scale]``) of ``lowpass(x, tau[, scale])``."""
        x = self.render(node.args[0], target)
        scale = f" * {self.render(node.args[2], target)}" if len(node.args) > 2 else ""
        tau = node.args[1]
        return self.lift(self.decay(tau), self.info(tau).index, self.info(tau).constant,
                         target), f"{x}{scale}"

    def call_lowpass(self, node: ir.Call) -> str:
        """An anonymous trace: y <- decay(tau) y + scale x; returns the new value."""
        key = node.span
        if key not in self.anonymous:
            index = self.info(node).index
            attribute = f"self.{self.prefix}_lp{len(self.anonymous)}"
            self.anonymous[key] = attribute
            self.e.reset.append(f"{attribute} = np.zeros({self.shape(index)}, self.dtype)"
                                f"  # lowpass at {py_comment(key)}")
            self.register(attribute, f"lowpass at {key}", None)
            decay_code, x = self.filtered(node, index)
            self.lines.append(f"{attribute} *= {decay_code}")
            self.lines.append(f"{attribute} += {x}")
        return self.anonymous[key]

    def call_surrogate(self, node: ir.Call) -> str:
        arg = node.args[0]
        if not (isinstance(arg, ir.NeuronVar) and arg.attribute == "v"):
            raise ValueError("surrogate() takes pre.v or post.v")
        name = (self.pre if arg.side == "pre" else self.post).name
        if name not in self.e.surrogates:  # the emitter keeps u for what surrogate_populations finds
            raise ValueError(f"population '{name}' keeps no membrane before the reset")
        ident = self.e.pop_id(name)
        pop = self.e.population(name)
        threshold = self.e.param(pop, "threshold", 1.0)
        x = f"self.{ident}_u - {operand(threshold)}"
        if pop.adaptive:
            x += f" - {operand(self.e.param(pop, 'beta_adapt', 0.0))} * self.{ident}_a"
        kind, params = pop.surrogate
        extra = ", ".join(f"{k}={literal(v)}" for k, v in sorted(params.items()))
        if kind == "piecewise_linear":
            extra += f", threshold={threshold}"
        return f"_surrogate_{kind}({x}, {extra})"

    def constant_value(self, expr: ir.Expr) -> float:
        """The value of a constant expression (rule parameters, literals, uniform parameters)."""
        code = self.render(expr)
        return float(eval(code, {"__builtins__": {}}, {"np": np}))  # noqa: S307 - printed by us

    # -- neurons --------------------------------------------------------------------------------
    def neuron(self, node, attribute: str, delivered: bool) -> str:
        if isinstance(node, Population) and attribute in node.params:
            value = node.params[attribute]
            if isinstance(value, Constant):
                return literal(value.value)
            ident = f"{self.e.pop_id(node.name)}_param_{attribute}"
            if ident not in self.e.data:
                rng = rng_for(self.net.settings.seed, node.name, attribute)
                self.e.data[ident] = value.materialize(node.size, rng)
                self.e.init.append(f"self.{ident} = self._array({ident!r})[None, :]")
            return f"self.{ident}"
        if attribute == "s":
            if delivered:  # the pre spike as it reaches the synapse (see synapse_lag)
                return f"{self.e.spikes_at(node.name, self.synapse_lag())}.astype(self.dtype)"
            return f"self.{self.e.source_id(node.name)}_s.astype(self.dtype)"
        return f"self.{self.e.pop_id(node.name)}_{attribute}"

    def synapse_lag(self) -> int:
        """Steps from a pre spike to its arrival at the synapse: the projection's delay. With
        ``delivery = same_step`` that is also when it reaches the post neuron; with
        ``next_step`` (Lava, Loihi) the extra step lies between the synapse and the soma."""
        if self.e.plan.delivery == "next_step":
            return self.plan.delay - 1
        return self.plan.delay

    def trigger_spikes(self, side: str) -> str:
        return self.neuron(self.pre if side == "pre" else self.post, "s", delivered=side == "pre")

    @abc.abstractmethod
    def register(self, attribute: str, variable: str, shape: tuple[int, ...] | None) -> None:
        """Record ``attribute`` (the generated state of ``variable``, of ``shape`` or the
        synapse shape when None) as recordable and watched for NaN/inf."""
