"""Lowering of a ``rule`` declaration into the typed rule IR (:mod:`snnc.ir.rules`), checking
its body on the way: names, functions, triggers, generators and settings.

Inside a rule, a name is resolved once, here, in this order: ``pre.x`` / ``post.x`` (the
neurons at either end of the synapse: :class:`NeuronVar`), ``w`` (the synapse's weight),
``net.x`` (whole-network state, for the exact oracles: :class:`NetState`), then the rule's
traces (a trace may read its own previous value), signals and lets, then its parameters
(:class:`Param`; ``p.x`` for a parameter ``p`` bound to a population is a
:class:`PopulationVar`), then the program's populations (:class:`PopulationRef`, or
:class:`PopulationVar` with a field, e.g. as the ``from`` of a generator). Whether the variables
exist for the actual models, and how local they are, is decided once the rule is attached to a
projection (the check-rule-variables and locality passes).

Quantities become SI constants, calls point at their entry of
:data:`snnc.functions.RULE_FUNCTIONS`, a signal's generator call is bound to the generator's
parameter names. Every mistake is reported (E201, E202, E204, E207, E208, E209); the lowering
still builds the whole rule (a name it cannot resolve becomes a population reference, a call of
an unknown function a call of a stand-in entry) so that the checks of
:mod:`snnc.ir.check_rules` report their findings too; such a rule never reaches a network.
"""

from __future__ import annotations

from dataclasses import dataclass

from snnc.diagnostics import Diagnostics, Span, choices_hint, did_you_mean
from snnc.frontend import ast
from snnc.frontend.evaluate import Evaluator, Value
from snnc.functions import RULE_FUNCTIONS, RuleFunction
from snnc.ir import rules as ir
from snnc.ir.check_rules import check_rule
from snnc.ir.lower_calls import bind
from snnc.ir.rule_params import Role
from snnc.units import DIMENSIONLESS, UNITS
from snnc.vocabulary import GENERATORS, LOSSES, OPTIMIZERS, RULE_SETTINGS, TRIGGERS

ROOTS = ("pre", "post", "w", "net")


@dataclass(frozen=True)
class LoweredRule:
    """A rule after lowering: the typed rule, the role of each parameter
    (:mod:`snnc.ir.rule_params`) and whether it was free of errors (only then may a network
    use it)."""

    rule: ir.RuleDef
    roles: dict[str, Role]
    ok: bool


def lower_rule(decl: ast.RuleDecl, diag: Diagnostics,
               populations: set[str] | frozenset[str] = frozenset()) -> LoweredRule:
    """Check and lower ``decl``; ``populations`` are the names of the program's populations and
    inputs. The parameters' defaults are evaluated (and reported) here, once."""
    errors = sum(1 for _ in diag.errors())
    lowering = RuleLowering(decl, diag, populations)
    rule = lowering.run()
    roles = check_rule(rule, lowering.defaults, diag)
    return LoweredRule(rule, roles, sum(1 for _ in diag.errors()) == errors)


def value_expr(expr: ast.Expr) -> ir.Expr:
    """The typed form of a value written outside a rule (an argument of ``learn``), without
    reporting anything: what messages quote (the number and unit as written) and the span."""
    return ExprLowering(Diagnostics(), check=False).expr(expr)


def ast_children(expr: ast.Expr) -> tuple[ast.Expr, ...]:
    """The direct sub-expressions of a syntax-tree expression (keyword values after the
    positional arguments)."""
    if isinstance(expr, ast.Binary):
        return (expr.left, expr.right)
    if isinstance(expr, ast.Unary):
        return (expr.operand,)
    if isinstance(expr, ast.Call):
        return (*expr.args, *(k.value for k in expr.kwargs))
    if isinstance(expr, ast.ListExpr):
        return expr.items
    return ()


def as_call(expr: ast.Expr) -> ast.Call | None:
    """A bare name (``reward``, ``sgd``) as the call without arguments it stands for."""
    if isinstance(expr, ast.Ref) and len(expr.parts) == 1:
        return ast.Call(expr.parts[0], (), (), expr.span)
    return expr if isinstance(expr, ast.Call) else None


def stand_in(name: str) -> RuleFunction:
    """The entry of a call that is not a rule function (reported): it folds to nothing, runs
    nowhere and is never emitted."""
    return RuleFunction(name, 0, 0, "not a rule function", nonlinear=False,
                        engines=frozenset())


class ExprLowering:
    """Builds typed expressions from syntax-tree ones; with ``check``, reports what cannot be
    read in a rule (unknown names and functions, strings, lists, wrong arguments)."""

    def __init__(self, diag: Diagnostics, check: bool = True, rule: str = "",
                 params: set[str] | frozenset[str] = frozenset(),
                 populations: set[str] | frozenset[str] = frozenset()):
        self.diag = diag
        self.check = check
        self.rule_name = rule
        self.params = params
        self.populations = populations
        self.evaluator = Evaluator(diag)
        self.unused: list[ir.Expr] = []  # see ir.RuleDef.unused
        self.names: dict[str, Span] = {}  # everything the rule defines
        self.kinds: dict[str, type] = {}  # traces, signals, lets: names without fields

    def expr(self, root: ast.Expr) -> ir.Expr:
        """The typed expression of ``root``, built bottom-up without recursion (deep
        expressions must not overflow the stack); problems are reported parents first, left
        to right."""
        built: dict[int, ir.Expr] = {}
        stack: list[tuple[ast.Expr, bool]] = [(root, False)]
        while stack:
            node, ready = stack.pop()
            children = ast_children(node)
            if not ready:
                if self.check:
                    self.check_node(node)
                if children:
                    stack.append((node, True))
                    stack.extend((child, False) for child in reversed(children))
                    continue
            built[id(node)] = self.node(node, tuple(built[id(c)] for c in children))
        return built[id(root)]

    def node(self, node: ast.Expr, args: tuple[ir.Expr, ...]) -> ir.Expr:
        if isinstance(node, ast.Quantity):
            return constant(node)
        if isinstance(node, ast.Ref):
            return self.ref(node)
        if isinstance(node, ast.Unary):
            return ir.Unary(node.op, args[0], node.span)
        if isinstance(node, ast.Binary):
            return ir.Binary(node.op, args[0], args[1], node.span)
        if isinstance(node, ast.Call):
            function = RULE_FUNCTIONS.get(node.func.text)
            if function is None:
                return ir.Call(stand_in(node.func.text), args, node.span)
            self.unused += args[len(node.args):]  # keywords: reported, not passed
            return ir.Call(function, args[:len(node.args)], node.span)
        if isinstance(node, ast.ListExpr):
            return ir.Call(stand_in("[list]"), args, node.span)
        return ir.Call(stand_in("string"), (), node.span)

    def ref(self, ref: ast.Ref) -> ir.Expr:
        parts = [p.text for p in ref.parts]
        root, span = parts[0], ref.span
        if root in ("pre", "post") and len(parts) == 2:
            return ir.NeuronVar(root, parts[1], span)
        if root == "w" and len(parts) == 1:
            return ir.Weight(span)
        if root == "net":
            return ir.NetState(parts[1] if len(parts) > 1 else "state", span)
        if len(parts) == 1:
            kind = self.kinds.get(root) or (ir.Param if root in self.params else None)
            return kind(root, span) if kind is not None else ir.PopulationRef(root, span)
        return ir.PopulationVar(root, ".".join(parts[1:]), span)

    # -- checks -----------------------------------------------------------------------------
    def check_node(self, node: ast.Expr) -> None:
        if isinstance(node, ast.Quantity):
            self.evaluator.evaluate(node)
        elif isinstance(node, ast.Ref):
            self.check_ref(node)
        elif isinstance(node, ast.String):
            self.diag.error("E209", node.span, "strings are not values in rule expressions")
        elif isinstance(node, ast.ListExpr):
            self.diag.error("E209", node.span, "lists are not values in rule expressions",
                            hint="a list is written only as a rule's 'bounds = [low, high]'")
        elif isinstance(node, ast.Call):
            self.check_call(node)

    def check_call(self, call: ast.Call) -> None:
        name = call.func.text
        if name in GENERATORS:
            self.diag.error("E207", call.func.span, f"'{name}' is a third-factor generator",
                            hint=f"define it as a signal: 'signal L = {name}(...)' and use L")
            return
        function = RULE_FUNCTIONS.get(name)
        if function is None:
            self.diag.error("E207", call.func.span, f"unknown function '{name}'",
                            hint=did_you_mean(name, RULE_FUNCTIONS) or choices_hint(RULE_FUNCTIONS))
            return
        if call.kwargs:
            self.diag.error("E208", call.kwargs[0].name.span,
                            f"{name}() takes positional arguments only", hint=function.usage)
        elif not function.min_args <= len(call.args) <= function.max_args:
            self.diag.error("E208", call.span, f"{name}() takes {function.arity()} argument(s), "
                            f"got {len(call.args)}", hint=function.usage)

    def check_ref(self, ref: ast.Ref) -> None:
        root = ref.parts[0]
        if root.text in ("pre", "post", "net"):
            if len(ref.parts) != 2:
                self.diag.error("E201", ref.span, f"'{root.text}' is read as '{root.text}.<variable>'",
                                hint=f"e.g. '{root.text}.s' or '{root.text}.v'")
            return
        if root.text in self.names or root.text in self.populations:
            if len(ref.parts) > 1 and root.text in self.kinds:
                self.diag.error("E201", ref.parts[1].span, f"'{root.text}' has no fields")
            elif len(ref.parts) > 2:
                read = f"{root.text}.{ref.parts[1].text}"
                self.diag.error("E201", ref.parts[2].span, f"'{read}' has no fields",
                                hint=f"a variable is read as '{read}'")
            return
        if root.text == "w" and len(ref.parts) == 1:
            return
        candidates = [*self.names, *ROOTS, *self.populations]
        self.diag.error("E201", root.span, f"unknown name '{root.text}' in rule "
                        f"'{self.rule_name}'",
                        hint=did_you_mean(root.text, candidates)
                        or "declare it as a rule parameter, trace, signal or let")


def constant(node: ast.Quantity) -> ir.Const:
    """The SI constant of a literal; ``dim`` is None for an unknown unit (reported by the
    evaluator), and the value may be infinite (too large a literal, reported likewise)."""
    unit = UNITS.get(node.unit.text) if node.unit is not None else (DIMENSIONLESS, 1.0)
    if unit is None:
        return ir.Const(float("nan"), node.text, node.span, None, node.unit.text)
    return ir.Const(node.value * unit[1], node.text, node.span, unit[0],
                    None if node.unit is None else node.unit.text)


class RuleLowering(ExprLowering):
    """Checks and lowers one rule declaration (see the module docstring)."""

    def __init__(self, decl: ast.RuleDecl, diag: Diagnostics,
                 populations: set[str] | frozenset[str]):
        super().__init__(diag, True, decl.name.text, {p.name.text for p in decl.params},
                         populations)
        self.decl = decl
        self.quiet = ExprLowering(Diagnostics(), check=False)  # defaults: evaluated, not read
        self.defaults: dict[str, Value | None] = {}
        self.settings: dict[str, Span] = {}
        self.bounds: tuple[ir.Expr, ...] | None = None
        self.optimizer = "sgd"
        self.optimizer_args: dict[str, ir.Expr] = {}

    def define(self, ident: ast.Ident, what: str) -> None:
        if ident.text in ROOTS:
            self.diag.error("E202", ident.span, f"'{ident.text}' is reserved in rules "
                            "(pre, post, w, net)", hint=f"rename the {what}")
        elif ident.text in self.names:
            self.diag.error("E202", ident.span, f"'{ident.text}' is defined twice in rule "
                            f"'{self.rule_name}'",
                            notes=[f"first defined at {self.names[ident.text]}"])
        else:
            self.names[ident.text] = ident.span

    def run(self) -> ir.RuleDef:
        decl = self.decl
        params = tuple(self.param(p) for p in decl.params)
        local_kinds = {ast.TraceDef: ir.TraceRef, ast.SignalDef: ir.SignalRef,
                       ast.LetDef: ir.LetRef}
        for statement in decl.body:
            kind = local_kinds.get(type(statement))
            if kind is not None:
                self.define(statement.name, type(statement).__name__[:-3].lower())
                self.kinds.setdefault(statement.name.text, kind)
        traces, signals, lets, updates = [], [], [], []
        for statement in decl.body:
            if isinstance(statement, ast.SignalDef):
                signals.append(ir.Signal(statement.name.text, self.generator(statement),
                                         statement.span))
            elif isinstance(statement, (ast.TraceDef, ast.LetDef)):
                node = ir.Trace if isinstance(statement, ast.TraceDef) else ir.Let
                (traces if node is ir.Trace else lets).append(
                    node(statement.name.text, self.value(statement.value), statement.span))
            elif isinstance(statement, ast.Update):
                updates.append(self.update(statement))
            elif isinstance(statement, ast.Setting):
                self.setting(statement)
        return ir.RuleDef(decl.name.text, params, tuple(traces), tuple(signals), tuple(lets),
                          tuple(updates), self.bounds, self.optimizer, decl.span,
                          self.optimizer_args, decl.name.span, tuple(self.unused))

    def param(self, param: ast.RuleParam) -> ir.RuleParam:
        self.define(param.name, "parameter")
        default = None
        if param.default is not None:
            self.defaults[param.name.text] = self.evaluator.evaluate(param.default)
            default = self.quiet.expr(param.default)
        return ir.RuleParam(param.name.text, default, param.span)

    def value(self, expr: ast.Expr) -> ir.Expr:
        """An expression whose value the rule computes: a population named in it is E209 (a
        population is the ``from`` of a generator, or read through a field, ``out.v``)."""
        typed = self.expr(expr)
        for node in ir.walk(typed):
            if isinstance(node, ir.PopulationRef) and node.name in self.populations \
                    and node.name not in self.names:
                self.diag.error("E209", node.span, f"'{node.name}' names a population, not a "
                                "value", hint=f"read one of its variables, e.g. '{node.name}.v'")
        return typed

    # -- statements -------------------------------------------------------------------------
    def update(self, update: ast.Update) -> ir.Update:
        trigger = update.trigger
        if trigger is not None and trigger.text not in TRIGGERS:
            self.diag.error("E209", trigger.span, f"unknown trigger '{trigger.text}'",
                            hint=did_you_mean(trigger.text, TRIGGERS) or choices_hint(TRIGGERS))
        return ir.Update(None if trigger is None else trigger.text, self.value(update.value),
                         update.span, None if trigger is None else trigger.span)

    def generator(self, signal: ast.SignalDef) -> ir.Generator:
        value = signal.value
        call = as_call(value) if not isinstance(value, ast.Ref) or \
            value.parts[0].text in GENERATORS else None
        if call is None or call.func.text not in GENERATORS:
            if call is not None:
                self.diag.error("E207", call.func.span, f"unknown third-factor generator "
                                f"'{call.func.text}'", hint=did_you_mean(call.func.text, GENERATORS)
                                or choices_hint(GENERATORS))
            else:
                self.diag.error("E207", value.span, "a signal is produced by a generator",
                                hint=choices_hint(GENERATORS))
            self.keep(value)
            return ir.Generator("", {}, value.span)
        bound = bind(call, GENERATORS[call.func.text], self.diag)
        if bound is None:
            self.keep(call)
            return ir.Generator(call.func.text, {}, call.span)
        args, loss = {}, None
        for name, sub in bound.items():
            if name == "loss":
                loss = sub.dotted if isinstance(sub, ast.Ref) else ""
                if loss not in LOSSES:
                    self.diag.error("E207", sub.span, "the loss of a local readout is a loss name",
                                    hint=did_you_mean(loss, LOSSES) or choices_hint(LOSSES))
            else:
                args[name] = self.expr(sub) if name in ("from", "source") else self.value(sub)
        return ir.Generator(call.func.text, args, call.span, loss)

    def setting(self, setting: ast.Setting) -> None:
        name = setting.name.text
        if name not in RULE_SETTINGS:
            hint = did_you_mean(name, RULE_SETTINGS) or (
                "rule bodies hold 'trace', 'signal', 'let' and 'dw' statements and the settings "
                "'bounds' and 'optimizer'; parameters go in the rule's header")
            self.diag.error("E204", setting.name.span, f"rules have no setting '{name}'", hint=hint)
            self.keep(setting.value)
            return
        if name in self.settings:
            self.diag.error("E202", setting.name.span, f"'{name}' is set twice",
                            notes=[f"first set at {self.settings[name]}"])
            self.keep(setting.value)
            return
        self.settings[name] = setting.span
        if name == "bounds":
            self.lower_bounds(setting.value)
        else:
            self.lower_optimizer(setting.value)

    def lower_bounds(self, value: ast.Expr) -> None:
        if not isinstance(value, ast.ListExpr) or len(value.items) != 2:
            self.diag.error("E209", value.span, "bounds are a pair [low, high]",
                            hint="e.g. 'bounds = [0, 1]'")
            if isinstance(value, ast.ListExpr):  # their parameters still are weight bounds
                self.bounds = tuple(self.quiet.expr(item) for item in value.items)
            self.keep(value if isinstance(value, ast.Call) else None)
            return
        self.bounds = tuple(self.value(item) for item in value.items)

    def lower_optimizer(self, value: ast.Expr) -> None:
        call = as_call(value)
        if call is None or call.func.text not in OPTIMIZERS:
            word = call.func.text if call is not None else ""
            self.diag.error("E209", value.span, "optimizer must be sgd or adam(...)",
                            hint=did_you_mean(word, OPTIMIZERS) or choices_hint(OPTIMIZERS))
            self.keep(value)
            return
        self.optimizer = call.func.text
        bound = bind(call, OPTIMIZERS[call.func.text], self.diag)
        if bound is None:
            self.keep(call)
        self.optimizer_args = {name: self.value(sub) for name, sub in (bound or {}).items()}

    def keep(self, value: ast.Expr | None) -> None:
        """Keep the arguments of a setting or call the rule cannot use (a list's items, a
        call's arguments), unchecked, for constant folding (``ir.RuleDef.unused``)."""
        if isinstance(value, ast.ListExpr):
            self.unused += [self.quiet.expr(item) for item in value.items]
        elif isinstance(value, ast.Call):
            self.unused += [self.quiet.expr(sub) for sub in ast_children(value)]
