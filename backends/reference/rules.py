"""Learning rules compiled into the generated simulation: traces, signals, updates, optimizer.

A rule instance is read in the typed rule IR (:mod:`snnc.ir.rules`); its expressions are
printed as numpy code by :class:`~snnc.backends.reference.rule_code.RuleCode`, each at the index
the locality analysis gave it. Every statement's code is preceded by a comment naming the rule,
the statement's ``file:line`` and the statement as written (:mod:`.rule_text`).

Per step, after every population has been updated: (1) traces, in the order they are
written (a trace reads the new value of the traces above it and the previous value of itself
and of the traces below it; an inner ``lowpass`` is updated before the expression around it),
(2) third-factor signals, (3) ``dw`` summed over the updates, each multiplied by the spikes of
its trigger, (4) ``w <- w + lr * mean over the batch of dw`` (or Adam), then the bounds. With
``run(accumulate=True)`` the weights stay fixed and step (4) sums ``lr * mean_b dw`` over the
run instead (``snnc train --update batch`` applies the sum once per batch).

Online rules see the per-step error of their readout: softmax(v[n]) - onehot(label) for
cross-entropy, v[n] - target[n] for mse (as e-prop and SuperSpike do).
"""

from __future__ import annotations

import math

from snnc.backends.artifacts import literal
from snnc.backends.reference import rule_text
from snnc.backends.reference.rule_code import EMPTY, POST, PRE, SYNAPSE, RuleCode
from snnc.diagnostics import Diagnostics, Span
from snnc.ir import rules as ir
from snnc.ir.discrete import Plan, ProjectionPlan
from snnc.ir.network import Network
from snnc.ir.nodes import Projection, RuleInstance
from snnc.ir.values import rng_for
from snnc.passes.rule_analysis import analysis_of
from snnc.units import Quantity

ONLINE_GENERATORS = ("reward", "random_feedback", "symmetric_feedback", "learned_feedback",
                     "readout_error", "local_readout")


def check_online(net: Network, diag: Diagnostics) -> None:
    """E501 for rules the online simulator cannot run (the exact oracles run in training)."""
    for projection in net.projections():
        for instance in projection.rules:
            rule = instance.rule
            for signal in rule.signals:
                kind = signal.generator.kind
                if kind not in ONLINE_GENERATORS:
                    diag.error("E501", instance.span, f"rule '{instance.name}' on "
                               f"'{projection.name}' uses {kind}, which needs the whole "
                               "network's history or Jacobian: it is an offline oracle",
                               hint="train with it through 'snnc train' (exact gradients), or "
                                    "use an online rule such as eprop_symmetric")
            state = next((node for node in references(rule) if isinstance(node, ir.NetState)),
                         None)
            if state is not None:
                diag.error("E501", instance.span, f"rule '{instance.name}' reads "
                           f"{state.dotted}, which only the exact oracles compute")


def references(rule: ir.RuleDef):
    """Every sub-expression of a rule's traces, lets, updates and signals' arguments."""
    for expr in rule.expressions():
        yield from ir.walk(expr)


def surrogate_populations(net: Network) -> set[str]:
    """The populations whose membrane before the reset (``u``) some rule reads through
    ``surrogate(pre.v)`` or ``surrogate(post.v)``: only these keep it."""
    names = set()
    for projection in net.projections():
        for instance in projection.rules:
            for node in references(instance.rule):
                if isinstance(node, ir.Call) and node.name == "surrogate" and node.args \
                        and isinstance(node.args[0], ir.NeuronVar):
                    names.add(projection.pre if node.args[0].side == "pre" else projection.post)
    return names


class RuleEmitter(RuleCode):
    """Prints one rule instance on one projection into the emitter's step code."""

    def __init__(self, emitter, net: Network, projection: Projection, plan: ProjectionPlan,
                 instance: RuleInstance, number: int):
        self.e = emitter
        self.net = net
        self.projection = projection
        self.plan = plan
        self.instance = instance
        self.rule: ir.RuleDef = instance.rule
        self.prefix = f"{emitter.proj_id(plan)}_r{number}"
        self.infos, self.trace_info = locality(net, projection, instance)
        self.pre = net.node(projection.pre)
        self.post = net.node(projection.post)
        self.traces = {t.name: f"self.{self.prefix}_{t.name}" for t in self.rule.traces}
        self.signals = {s.name: f"self.{self.prefix}_sig_{s.name}" for s in self.rule.signals}
        self.lets = {let.name: let.value for let in self.rule.lets}
        self.anonymous: dict[Span, str] = {}  # span of a lowpass -> state attribute
        self.lines: list[str] = []

    def watch(self) -> tuple:
        """The projection's NaN/inf watch entry: its weights (or accumulated updates), checked
        every step; every trace and signal feeds them (a NaN times a zero trigger is NaN)."""
        ident = self.e.proj_id(self.plan)
        for entry in self.e.checked:
            if entry[0] == ident:
                return entry
        entry = (ident, "projection", self.projection.name, "w", [])
        self.e.checked.append(entry)
        return entry

    def register(self, attribute: str, variable: str, shape: tuple[int, ...] | None) -> None:
        """Name ``attribute`` when the projection's state turns non-finite; record it as
        '<projection>.<variable>' when ``shape`` is given (the first rule defining a name
        wins)."""
        bare = attribute.removeprefix("self.")
        self.watch()[4].append((bare, variable))
        if shape is not None:
            self.e.histories.setdefault(f"{self.projection.name}.{variable}", (bare, shape))

    def comment(self, span: Span, text: str) -> None:
        """The provenance comment above a statement's code."""
        self.e.learn.append("# " + rule_text.provenance(self.rule.name, span, text))

    def flush(self) -> None:
        self.e.learn.extend(self.lines)
        self.lines = []

    @staticmethod
    def scope(index: frozenset) -> str:
        return {EMPTY: "scalar", PRE: "per pre neuron", POST: "per post neuron"}.get(
            index, "per synapse")

    # -- statements -----------------------------------------------------------------------------
    def emit(self) -> None:
        self.e.learn.append(f"# learning: {self.rule.name} on {self.projection.name}")
        for trace in self.rule.traces:
            self.emit_trace(trace)
        for signal in self.rule.signals:
            self.emit_signal(signal)
        factors = [self.factors(update.value) for update in self.rule.updates]
        if self.plan.dense and all(factors):
            self.emit_factored_update(factors)
            return
        self.e.learn.append(f"dw = np.zeros({self.shape(SYNAPSE)}, self.dtype)")
        for update in self.rule.updates:
            self.comment(update.span, rule_text.statement(update))
            term = self.render(update.value, SYNAPSE)
            side = self.trigger(update)
            if side is not None:
                spikes = self.lift(self.trigger_spikes(side), PRE if side == "pre" else POST,
                                   False, SYNAPSE)
                term = f"{term} * {spikes}"
            self.flush()
            self.e.learn.append(f"dw += {term}")
        self.emit_weight_update("dw.mean(axis=0)")

    def emit_trace(self, trace: ir.Trace) -> None:
        e, name = self.e, trace.name
        info = self.trace_info[name]
        attribute = self.traces[name]
        e.reset.append(f"{attribute} = np.zeros({self.shape(info.index)}, self.dtype)"
                       f"  # trace {name}, {self.scope(info.index)}")
        self.register(attribute, name, self.dims(info.index))
        self.comment(trace.span, rule_text.statement(trace))
        value = trace.value
        if isinstance(value, ir.Call) and value.name == "lowpass":
            decay, x = self.filtered(value, info.index)
            self.flush()
            e.learn.append(f"{attribute} *= {decay}")
            e.learn.append(f"{attribute} += {x}")
        else:
            new = self.render(value, info.index)
            self.flush()
            e.learn.append(f"{attribute}[...] = {new}")

    @staticmethod
    def trigger(update: ir.Update) -> str | None:
        return update.trigger if update.trigger in ("pre", "post") else None

    def factors(self, expr: ir.Expr):
        """(post factor, pre factor) when ``expr`` is a product of a per-post and a per-pre
        expression (the O(N) rules: e-prop, DECOLLE, delta), else None."""
        if not (isinstance(expr, ir.Binary) and expr.op == "*"):
            return None
        sides = {self.info(expr.left).index: expr.left, self.info(expr.right).index: expr.right}
        if set(sides) != {POST, PRE} or any(self.info(x).constant for x in sides.values()):
            return None
        return sides[POST], sides[PRE]

    def emit_factored_update(self, factors) -> None:
        """Dense product updates summed over the batch without the [batch, post, pre] array:
        sum_b dw_b = sum_b post_b pre_b^T = post^T pre (each trigger's spikes multiply its
        own side), which the batch mean divides by the batch size."""
        e = self.e
        e.learn.append(f"dw_sum = np.zeros_like(self.{e.proj_id(self.plan)})")
        for update, (post, pre) in zip(self.rule.updates, factors, strict=True):
            self.comment(update.span, rule_text.statement(update))
            post_code, pre_code = self.render(post, POST), self.render(pre, PRE)
            side = self.trigger(update)
            if side == "post":
                post_code = f"{post_code} * {self.trigger_spikes(side)}"
            elif side == "pre":
                pre_code = f"{pre_code} * {self.trigger_spikes(side)}"
            self.flush()
            e.learn.append(f"dw_sum += _batch_outer({post_code}, {pre_code}, self.batch)")
        self.emit_weight_update("dw_sum / self.batch")

    def emit_signal(self, signal: ir.Signal) -> None:
        e, gen = self.e, signal.generator
        attribute = self.signals[signal.name]
        n_post = self.plan.n_post
        e.reset.append(f"{attribute} = np.zeros((self.batch, {n_post}), self.dtype)"
                       f"  # signal {signal.name} = {gen.kind}")
        self.register(attribute, signal.name, (n_post,))
        self.comment(signal.span, rule_text.statement(signal))
        if gen.kind == "reward":
            e.learn.append(f"{attribute}[...] = self._reward(n)")
        elif gen.kind == "local_readout":
            self.local_readout(attribute, gen)
        else:
            readout = gen.source(self.instance.args)
            error = e.error_for(readout)
            if gen.kind == "readout_error":
                e.learn.append(f"{attribute}[...] = {error}")
            elif gen.kind == "random_feedback":
                self.random_feedback(attribute, readout, error)
            elif gen.kind == "learned_feedback":
                self.learned_feedback(attribute, readout, error)
            else:
                self.symmetric_feedback(attribute, readout, error)

    def argument(self, expr: ir.Expr) -> float:
        """The value of a generator's numeric argument (a number or a rule parameter)."""
        if isinstance(expr, ir.Param):
            return self.instance.args[expr.name].value
        return expr.value

    def local_readout(self, attribute: str, gen: ir.Generator) -> None:
        """The error of a fixed random readout of this layer, sent back through it."""
        n_post = self.plan.n_post
        size = int(self.argument(gen.args["size"]))
        loss = gen.loss if gen.loss is not None else "mse"
        key = f"{self.prefix}_local"
        rng = rng_for(self.net.settings.seed, self.projection.name, self.rule.name, "local")
        self.e.data[key] = rng.normal(0, 1 / math.sqrt(n_post), (size, n_post))
        self.e.init.append(f"self.{key} = self._array({key!r})  # fixed random local readout")
        post = self.neuron(self.post, "s", delivered=False)
        self.e.learn.append(f"{attribute}[...] = _local_error({post} @ self.{key}.T, "
                            f"self._labels(n, {size}), {loss!r}) @ self.{key}")

    def random_feedback(self, attribute: str, readout: str, error: str) -> None:
        key = f"{self.prefix}_feedback"
        n_out = self.net.node(readout).size
        rng = rng_for(self.net.settings.seed, self.projection.name, self.rule.name, "feedback")
        self.e.data[key] = rng.normal(0, 1 / math.sqrt(n_out), (self.plan.n_post, n_out))
        self.e.init.append(f"self.{key} = self._array({key!r})  # fixed random feedback")
        self.e.learn.append(f"{attribute}[...] = {error} @ self.{key}.T")

    def forward_paths(self, readout: str, kind: str) -> list:
        """The projections from this layer to ``readout`` (the forward twins of feedback)."""
        paths = [p for p in self.e.plan.projections if p.pre == self.projection.post
                 and p.post == readout]
        if not paths:  # check-rule-variables refuses this first (E218)
            raise ValueError(f"{kind} needs a projection from '{self.projection.post}' to "
                             f"'{readout}'")
        return paths

    def symmetric_feedback(self, attribute: str, readout: str, error: str) -> None:
        """Through the weights from this layer to the readout (weight transport)."""
        e = self.e
        e.learn.append(f"{attribute}.fill(0.0)")
        for path in self.forward_paths(readout, "symmetric_feedback"):
            w = e.proj_id(path)
            self.transposed(attribute, error, path, f"self.{w}")

    def learned_feedback(self, attribute: str, readout: str, error: str) -> None:
        """Through feedback weights B that start at zero and learn locally (Kolen-Pollack):
        every feedback synapse k -> j applies, at every update, the update of its forward twin
        j -> k (the same two factors, the readout's error at k and neuron j's trace, and the
        same optimizer on them), so B_n = sum of the twin's updates = (W_n - W_0)^T exactly,
        W_0 the twin's weights when the simulation was built. The chip keeps B as its own
        synapses; the simulator, which holds W anyway, computes B from that identity."""
        e = self.e
        e.learn.append(f"{attribute}.fill(0.0)")
        for path in self.forward_paths(readout, "learned_feedback"):
            w = e.proj_id(path)
            start = f"self.{self.prefix}_{w}_start"
            e.init.append(f"{start} = self.{w}.copy()  # W_0: learned_feedback's B = (W - W_0)^T")
            self.transposed(attribute, error, path, f"(self.{w} - {start})")

    def transposed(self, attribute: str, error: str, path, weights: str) -> None:
        """``attribute += error @ weights`` through ``path``'s layout (dense or CSR)."""
        e = self.e
        w = e.proj_id(path)
        if path.dense:
            e.learn.append(f"{attribute} += {error} @ {weights}")
        else:
            e.learn.append(f"_transpose_deliver({error}, {e.pre_index(path)}, "
                           f"self.{w}_post, {weights}, {attribute})")

    def emit_weight_update(self, step: str) -> None:
        """w <- w + lr * mean_b dw_b (or Adam), then the bounds; while the simulation
        accumulates, lr * mean_b dw_b is added to ``self.updates`` instead (fixed weights)."""
        e = self.e
        ident = e.proj_id(self.plan)
        w = f"self.{ident}"
        lr = self.instance.args.get("lr")
        rate = literal(lr.value) if isinstance(lr, Quantity) else "1.0"
        if self.plan.mask is not None:
            step += f" * self.{ident}_mask"
        e.learn += ["if self.accumulate:", f"    self.updates[{ident!r}] += {rate} * {step}",
                    "else:"]
        if self.rule.optimizer == "adam":
            self.adam(w, rate, step)
        else:
            e.learn.append(f"    {w} += {rate} * {step}")
        if self.rule.bounds is not None:
            low, high = (self.constant_value(item) for item in self.rule.bounds)
            e.learn.append("    # " + rule_text.provenance(
                self.rule.name, self.rule.bounds[0].span, rule_text.bounds(self.rule)))
            e.learn.append(f"    np.clip({w}, {literal(low)}, {literal(high)}, out={w})")
            e.bounds.setdefault(ident, []).append((float(low), float(high)))
        self.watch()

    def adam(self, w: str, rate: str, step: str) -> None:
        """Adam (beta1 0.9, beta2 0.999, eps 1e-8) on the batch-mean update."""
        e = self.e
        m, v, t = f"self.{self.prefix}_m", f"self.{self.prefix}_v", f"self.{self.prefix}_t"
        for name in (m, v):
            e.init.append(f"{name} = np.zeros_like({w})")
        self.register(m, "adam m", None)
        self.register(v, "adam v", None)
        e.init.append(f"{t} = 0")
        b1, b2, eps = 0.9, 0.999, 1e-8
        e.learn += [f"    g = {step}", f"    {m} *= {b1!r}", f"    {m} += {1 - b1!r} * g",
                    f"    {v} *= {b2!r}", f"    {v} += {1 - b2!r} * g * g",
                    f"    {t} += 1",
                    f"    {w} += {rate} * ({m} / (1 - {b1!r} ** {t})) / "
                    f"(np.sqrt({v} / (1 - {b2!r} ** {t})) + {eps!r})"]


def locality(net: Network, projection: Projection, instance: RuleInstance):
    """({typed expression: Info}, {trace name: Info}) of a rule instance on a projection: the
    locality index of the check-locality pass (computed here when the pass did not run)."""
    analysis = analysis_of(net, projection, instance)
    return analysis.info, analysis.traces


def emit_learning(emitter, plan: Plan, net: Network) -> None:
    """Learning code for every rule of every projection (after the populations' updates)."""
    for projection_plan in plan.projections:
        projection = net.projection(projection_plan.name)
        for number, instance in enumerate(projection.rules):
            RuleEmitter(emitter, net, projection, projection_plan, instance, number).emit()
