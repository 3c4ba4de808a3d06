"""Learning rules compiled into the generated simulation: traces, signals, updates, optimizer.

A rule's expressions are printed as numpy code. Every sub-expression carries the index the
locality analysis gave it ({} scalar, {j} per pre neuron, {i} per post neuron, {i, j} per
synapse) and is broadcast only where a product needs it: a pre trace is stored per pre
neuron and meets the post factor in the update, a filter after the product is stored per
synapse. Arrays: neuron quantities are [batch, n]; synapse quantities are [batch, post, pre]
for dense projections and [batch, synapses] (CSR order) for sparse ones.

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

import numpy as np

from snnc.backends.artifacts import literal
from snnc.diagnostics import Diagnostics
from snnc.frontend import ast
from snnc.frontend.evaluate import Symbol
from snnc.ir.discrete import Plan, ProjectionPlan
from snnc.ir.network import Network
from snnc.ir.nodes import Population, Projection, RuleInstance
from snnc.ir.values import Constant, rng_for
from snnc.literals import py_comment
from snnc.passes.rule_analysis import RuleAnalyzer
from snnc.units import Quantity

ONLINE_GENERATORS = ("reward", "random_feedback", "symmetric_feedback", "readout_error",
                     "local_readout")
FUNCTIONS = {"exp": "np.exp", "log": "np.log", "abs": "np.abs", "sign": "np.sign",
             "sqrt": "np.sqrt", "tanh": "np.tanh", "min": "np.minimum", "max": "np.maximum",
             "clip": "np.clip"}
EMPTY = frozenset()
POST, PRE, SYNAPSE = frozenset({"i"}), frozenset({"j"}), frozenset({"i", "j"})


def check_online(net: Network, diag: Diagnostics) -> None:
    """E501 for rules the online simulator cannot run (the exact oracles run in training)."""
    for projection in net.projections():
        for instance in projection.rules:
            for signal in instance.rule.signals:
                call = signal.value
                kind = call.func.text if isinstance(call, ast.Call) else call.parts[0].text
                if kind not in ONLINE_GENERATORS:
                    diag.error("E501", instance.span, f"rule '{instance.name}' on "
                               f"'{projection.name}' uses {kind}, which needs the whole "
                               "network's history or Jacobian: it is an offline oracle",
                               hint="train with it through 'snnc train' (exact gradients), or "
                                    "use an online rule such as eprop_symmetric")
            for ref in references(instance.rule):
                if ref.parts[0].text == "net":
                    diag.error("E501", instance.span, f"rule '{instance.name}' reads "
                               f"{ref.dotted}, which only the exact oracles compute")
                    break


def references(rule):
    """Every name a rule's expressions read."""
    for statement in (*rule.traces, *rule.lets, *rule.updates, *rule.signals):
        yield from (node for node in ast.subexpressions(statement.value) if isinstance(node, ast.Ref))


class RuleEmitter:
    """Prints one rule instance on one projection into the emitter's step code."""

    def __init__(self, emitter, net: Network, projection: Projection, plan: ProjectionPlan,
                 instance: RuleInstance, number: int):
        self.e = emitter
        self.net = net
        self.projection = projection
        self.plan = plan
        self.instance = instance
        self.rule = instance.rule
        self.prefix = f"{emitter.proj_id(plan)}_r{number}"
        self.analyzer = RuleAnalyzer(net, projection, instance, steps=1)
        self.analyzer.run()
        self.pre = net.node(projection.pre)
        self.post = net.node(projection.post)
        self.traces = {t.name.text: f"self.{self.prefix}_{t.name.text}" for t in self.rule.traces}
        self.signals = {s.name.text: f"self.{self.prefix}_sig_{s.name.text}"
                        for s in self.rule.signals}
        self.lets = {let.name.text: let.value for let in self.rule.lets}
        self.updated: set[str] = set()  # traces already updated this step
        self.anonymous: dict = {}  # span -> state attribute
        self.lines: list[str] = []

    # -- shapes ---------------------------------------------------------------------------------
    def shape(self, index: frozenset) -> str:
        n_pre, n_post = self.plan.n_pre, self.plan.n_post
        if index - {"k"} >= SYNAPSE or ("i" in index and "j" in index):
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
        if index - {"k"} >= SYNAPSE or ("i" in index and "j" in index):
            return (n_post, n_pre) if self.plan.dense else (len(self.plan.weights),)
        if "i" in index:
            return (n_post,)
        if "j" in index:
            return (n_pre,)
        return ()

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
            return f"{code}[:, self.{w}_pre]"
        if index == POST:
            return f"{code}[:, self.{w}_post]"
        return code

    def info(self, expr):
        return self.analyzer.visit(expr)

    # -- expressions ----------------------------------------------------------------------------
    def render(self, expr, target: frozenset | None = None) -> str:
        info = self.info(expr)
        code = self.code(expr, info.index)
        if target is None:
            return code
        return self.lift(code, info.index, info.constant, target)

    def code(self, expr, index: frozenset) -> str:
        if isinstance(expr, ast.Quantity):
            return literal(self.e.quantity_value(expr))
        if isinstance(expr, ast.Unary):
            inner = self.render(expr.operand, index)
            return f"(-{inner})" if expr.op == "-" else inner
        if isinstance(expr, ast.Binary):
            op = "**" if expr.op == "^" else expr.op
            return f"({self.render(expr.left, index)} {op} {self.render(expr.right, index)})"
        if isinstance(expr, ast.Ref):
            return self.ref(expr)
        if isinstance(expr, ast.Call):
            return self.call(expr, index)
        raise ValueError(f"cannot print {type(expr).__name__} in a rule")

    def call(self, call: ast.Call, index: frozenset) -> str:
        name = call.func.text
        if name == "lowpass":
            return self.lowpass(call)
        if name == "surrogate":
            return self.surrogate(call)
        if name == "decay":
            return self.decay(call.args[0])
        if name == "heaviside":
            return f"({self.render(call.args[0], index)} > 0)"
        args = ", ".join(self.render(arg, index) for arg in call.args)
        return f"{FUNCTIONS[name]}({args})"

    def decay(self, tau_expr) -> str:
        info = self.info(tau_expr)
        tau = self.render(tau_expr)
        if info.constant:
            value = self.constant_value(tau_expr)
            dt = self.net.settings.dt
            return literal(math.exp(-dt / value) if self.net.settings.integration == "exact"
                           else 1.0 - dt / value)
        if self.net.settings.integration == "exact":
            return f"np.exp(-{literal(self.net.settings.dt)} / {tau})"
        return f"(1.0 - {literal(self.net.settings.dt)} / {tau})"

    def lowpass(self, call: ast.Call) -> str:
        """An anonymous trace: y <- decay(tau) y + scale x; returns the new value."""
        key = call.span
        if key not in self.anonymous:
            info = self.info(call)
            attribute = f"self.{self.prefix}_lp{len(self.anonymous)}"
            self.anonymous[key] = attribute
            self.e.reset.append(f"{attribute} = np.zeros({self.shape(info.index)}, self.dtype)"
                                f"  # lowpass at {py_comment(key)}")
            self.register(attribute, f"lowpass at {key}", None)
            target = info.index
            x = self.render(call.args[0], target)
            scale = f" * {self.render(call.args[2], target)}" if len(call.args) > 2 else ""
            decay = self.lift(self.decay(call.args[1]), self.info(call.args[1]).index,
                              self.info(call.args[1]).constant, target)
            self.lines.append(f"{attribute} *= {decay}")
            self.lines.append(f"{attribute} += {x}{scale}")
        return self.anonymous[key]

    def surrogate(self, call: ast.Call) -> str:
        arg = call.args[0]
        if not (isinstance(arg, ast.Ref) and len(arg.parts) == 2 and arg.parts[1].text == "v"
                and arg.parts[0].text in ("pre", "post")):
            raise ValueError("surrogate() takes pre.v or post.v")
        node = self.pre if arg.parts[0].text == "pre" else self.post
        ident = self.e.pop_id(node.name)
        pop = self.e.population(node.name)
        threshold = self.e.param(pop, "threshold", 1.0)
        x = f"self.{ident}_u - {threshold}"
        if pop.adaptive:
            x += f" - {self.e.param(pop, 'beta_adapt', 0.0)} * self.{ident}_a"
        kind, params = pop.surrogate
        extra = ", ".join(f"{k}={literal(v)}" for k, v in sorted(params.items()))
        if kind == "piecewise_linear":
            extra += f", threshold={threshold}"
        return f"_surrogate_{kind}({x}, {extra})"

    def constant_value(self, expr) -> float:
        """The value of a constant expression (rule parameters, literals, uniform parameters)."""
        code = self.render(expr)
        return float(eval(code, {"__builtins__": {}}, {"np": np}))  # noqa: S307 - printed by us

    def ref(self, ref: ast.Ref) -> str:
        root = ref.parts[0].text
        if root in ("pre", "post") and len(ref.parts) == 2:
            return self.neuron(self.pre if root == "pre" else self.post, ref.parts[1].text,
                               delivered=root == "pre")
        if root == "w":
            return f"self.{self.e.proj_id(self.plan)}[None]"
        if root in self.traces:
            return self.traces[root]
        if root in self.signals:
            return self.signals[root]
        if root in self.lets:
            return f"({self.render(self.lets[root], self.info(self.lets[root]).index)})"
        value = self.instance.args.get(root)
        if isinstance(value, Quantity):
            return literal(value.value)
        population = value.name if isinstance(value, Symbol) else root
        node = self.net.node(population)
        param = node.params[ref.parts[1].text]
        return literal(param.value)  # uniform parameters only (the analysis made others remote)

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

    # -- statements -----------------------------------------------------------------------------
    def emit(self) -> None:
        e = self.e
        e.learn.append(f"# learning: {self.rule.name} on {self.projection.name}")
        for name, trace in zip(self.traces, self.rule.traces, strict=True):
            self.updated.add(name)
            info = self.analyzer.trace_info[name]
            attribute = self.traces[name]
            e.reset.append(f"{attribute} = np.zeros({self.shape(info.index)}, self.dtype)"
                           f"  # trace {name}, {self.scope(info.index)}")
            self.register(attribute, name, self.dims(info.index))
            value = trace.value
            if isinstance(value, ast.Call) and value.func.text == "lowpass":
                x = self.render(value.args[0], info.index)
                scale = f" * {self.render(value.args[2], info.index)}" if len(value.args) > 2 \
                    else ""
                tau = value.args[1]
                decay = self.lift(self.decay(tau), self.info(tau).index, self.info(tau).constant,
                                  info.index)
                self.flush()
                e.learn.append(f"{attribute} *= {decay}")
                e.learn.append(f"{attribute} += {x}{scale}")
            else:
                new = self.render(value, info.index)
                self.flush()
                e.learn.append(f"{attribute}[...] = {new}")
        for signal in self.rule.signals:
            self.emit_signal(signal)
        factors = [self.factors(update.value) for update in self.rule.updates]
        if self.plan.dense and all(factors):
            self.emit_factored_update(factors)
            return
        synapse = self.shape(SYNAPSE)
        e.learn.append(f"dw = np.zeros({synapse}, self.dtype)")
        for update in self.rule.updates:
            term = self.render(update.value, SYNAPSE)
            side = self.trigger(update)
            if side is not None:
                term = f"{term} * {self.lift(self.trigger_spikes(side), PRE if side == 'pre' else POST, False, SYNAPSE)}"
            self.flush()
            e.learn.append(f"dw += {term}")
        self.emit_weight_update("dw.mean(axis=0)")

    @staticmethod
    def trigger(update) -> str | None:
        if update.trigger is not None and update.trigger.text in ("pre", "post"):
            return update.trigger.text
        return None

    def trigger_spikes(self, side: str) -> str:
        return self.neuron(self.pre if side == "pre" else self.post, "s", delivered=side == "pre")

    def factors(self, expr):
        """(post factor, pre factor) when ``expr`` is a product of a per-post and a per-pre
        expression (the O(N) rules: e-prop, DECOLLE, delta), else None."""
        if not (isinstance(expr, ast.Binary) and expr.op == "*"):
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
            post_code, pre_code = self.render(post, POST), self.render(pre, PRE)
            side = self.trigger(update)
            if side == "post":
                post_code = f"{post_code} * {self.trigger_spikes(side)}"
            elif side == "pre":
                pre_code = f"{pre_code} * {self.trigger_spikes(side)}"
            self.flush()
            e.learn.append(f"dw_sum += _batch_outer({post_code}, {pre_code}, self.batch)")
        self.emit_weight_update("dw_sum / self.batch")

    def flush(self) -> None:
        self.e.learn.extend(self.lines)
        self.lines = []

    @staticmethod
    def scope(index: frozenset) -> str:
        return {EMPTY: "scalar", PRE: "per pre neuron", POST: "per post neuron"}.get(
            index, "per synapse")

    def emit_signal(self, signal: ast.SignalDef) -> None:
        e = self.e
        call = signal.value if isinstance(signal.value, ast.Call) else \
            ast.Call(signal.value.parts[0], (), (), signal.value.span)
        kind = call.func.text
        attribute = self.signals[signal.name.text]
        n_post = self.plan.n_post
        e.reset.append(f"{attribute} = np.zeros((self.batch, {n_post}), self.dtype)"
                       f"  # signal {signal.name.text} = {kind}")
        self.register(attribute, signal.name.text, (n_post,))
        if kind == "reward":
            e.learn.append(f"{attribute}[...] = self._reward(n)")
            return
        if kind == "local_readout":
            size = int(self.e.quantity_value(call.kwarg("size"), self.instance))
            loss = call.kwarg("loss").dotted if call.kwarg("loss") is not None else "mse"
            key = f"{self.prefix}_local"
            rng = rng_for(self.net.settings.seed, self.projection.name, self.rule.name, "local")
            self.e.data[key] = rng.normal(0, 1 / math.sqrt(n_post), (size, n_post))
            e.init.append(f"self.{key} = self._array({key!r})  # fixed random local readout")
            post = self.neuron(self.post, "s", delivered=False)
            e.learn.append(f"{attribute}[...] = _local_error({post} @ self.{key}.T, "
                          f"self._labels(n, {size}), {loss!r}) @ self.{key}")
            return
        readout = self.source(call)
        error = e.error_for(readout)
        if kind == "readout_error":
            e.learn.append(f"{attribute}[...] = {error}")
        elif kind == "random_feedback":
            key = f"{self.prefix}_feedback"
            n_out = self.net.node(readout).size
            rng = rng_for(self.net.settings.seed, self.projection.name, self.rule.name, "feedback")
            self.e.data[key] = rng.normal(0, 1 / math.sqrt(n_out), (n_post, n_out))
            e.init.append(f"self.{key} = self._array({key!r})  # fixed random feedback")
            e.learn.append(f"{attribute}[...] = {error} @ self.{key}.T")
        else:  # symmetric_feedback: through the weights from this layer to the readout
            paths = [p for p in e.plan.projections if p.pre == self.projection.post
                     and p.post == readout]
            if not paths:
                raise ValueError(f"symmetric_feedback needs a projection from "
                                 f"'{self.projection.post}' to '{readout}'")
            e.learn.append(f"{attribute}.fill(0.0)")
            for path in paths:
                w = e.proj_id(path)
                if path.dense:
                    e.learn.append(f"{attribute} += {error} @ self.{w}")
                else:
                    e.learn.append(f"_transpose_deliver({error}, self.{w}_pre, self.{w}_post, "
                                  f"self.{w}, {attribute})")

    def source(self, call: ast.Call) -> str:
        expr = call.kwarg("from") or call.args[0]
        name = expr.parts[0].text
        value = self.instance.args.get(name)
        return value.name if isinstance(value, Symbol) else name

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
            m, v = f"self.{self.prefix}_m", f"self.{self.prefix}_v"
            for name in (m, v):
                e.init.append(f"{name} = np.zeros_like({w})")
            self.register(m, "adam m", None)
            self.register(v, "adam v", None)
            e.init.append(f"self.{self.prefix}_t = 0")
            b1, b2, eps = 0.9, 0.999, 1e-8
            e.learn += [f"    g = {step}", f"    {m} *= {b1!r}", f"    {m} += {1 - b1!r} * g",
                        f"    {v} *= {b2!r}", f"    {v} += {1 - b2!r} * g * g",
                        f"    self.{self.prefix}_t += 1",
                        f"    {w} += {rate} * ({m} / (1 - {b1!r} ** self.{self.prefix}_t)) / "
                        f"(np.sqrt({v} / (1 - {b2!r} ** self.{self.prefix}_t)) + {eps!r})"]
        else:
            e.learn.append(f"    {w} += {rate} * {step}")
        if self.rule.bounds is not None:
            low, high = (self.constant_value(item) for item in self.rule.bounds.items)
            e.learn.append(f"    np.clip({w}, {literal(low)}, {literal(high)}, out={w})")
            e.bounds.setdefault(ident, []).append((float(low), float(high)))
        self.watch()


def emit_learning(emitter, plan: Plan, net: Network) -> None:
    """Learning code for every rule of every projection (after the populations' updates)."""
    for projection_plan in plan.projections:
        projection = net.projection(projection_plan.name)
        for number, instance in enumerate(projection.rules):
            RuleEmitter(emitter, net, projection, projection_plan, instance, number).emit()
