"""The typed rule IR (snnc.ir.rules): what the lowering makes of every rule of the standard
library and of the examples, that names resolve to the node that denotes them, that calls
point at their entry of the one function table, and that the table (not a list kept
elsewhere) decides what a chip refuses (E307)."""

import dataclasses
import pathlib

import pytest

import snnc
from snnc.diagnostics import Diagnostics
from snnc.frontend import ast
from snnc.frontend.loader import stdlib_modules
from snnc.functions import ALL_ENGINES, PROGRAMMABLE, RULE_FUNCTIONS, RuleFunction
from snnc.ir import rules as ir
from snnc.ir.lower_rules import lower_rule
from snnc.passes.rule_analysis import analyse

EXAMPLES = sorted((pathlib.Path(__file__).resolve().parent.parent / "examples").glob("*.snn"))
STDLIB = {item.name.text: item for module in stdlib_modules() for item in module.items
          if isinstance(item, ast.RuleDecl)}


def typed(name: str) -> ir.RuleDef:
    diag = Diagnostics()
    lowered = lower_rule(STDLIB[name], diag)
    assert lowered.ok and not diag.has_errors, [d.message for d in diag.items]
    return lowered.rule


def kinds(expr: ir.Expr) -> list[str]:
    return [type(node).__name__ for node in ir.walk(expr)]


def trace(rule: ir.RuleDef, name: str) -> ir.Expr:
    return next(t.value for t in rule.traces if t.name == name)


def compile_text(text: str, target: str | None = None):
    diag = Diagnostics()
    program = snnc.load_text(text, "t.snn", diag)
    options = {"check-target": {"target": target}} if target else None
    net = snnc.compile_program(program, diag, options=options) if program else None
    return net, diag


# -- lowering of the standard library and the examples ------------------------------------------

@pytest.mark.parametrize("name", sorted(STDLIB))
def test_every_stdlib_rule_lowers_with_every_name_resolved(name):
    rule = typed(name)
    assert rule.name == name and rule.updates
    for expr in rule.expressions():
        for node in ir.walk(expr):
            assert not isinstance(node, ir.PopulationRef), f"{name}: unresolved {node}"
            if isinstance(node, ir.Call):
                assert node.function is RULE_FUNCTIONS[node.name]
            assert node.span is not None and node.span.file.startswith("<stdlib>")


def test_stdp_reads_the_spikes_of_either_side_through_named_traces():
    rule = typed("stdp")
    x_pre = trace(rule, "x_pre")
    assert isinstance(x_pre, ir.Call) and x_pre.function is RULE_FUNCTIONS["lowpass"]
    spikes, tau = x_pre.args
    assert isinstance(spikes, ir.NeuronVar) and spikes.dotted == "pre.s"
    assert isinstance(tau, ir.Param) and tau.name == "tau_plus"
    assert trace(rule, "y_post").args[0].dotted == "post.s"
    assert [u.trigger for u in rule.updates] == ["post", "pre"]
    assert kinds(rule.updates[0].value) == ["Binary", "Param", "TraceRef"]
    assert kinds(rule.updates[1].value) == ["Binary", "Unary", "Param", "TraceRef"]
    low, high = rule.bounds
    assert isinstance(low, ir.Const) and low.value == 0.0
    assert isinstance(high, ir.Param) and high.name == "w_max"
    default = rule.parameter("tau_plus").default
    assert isinstance(default, ir.Const) and default.value == pytest.approx(0.02)
    assert (default.text, default.unit) == ("20", "ms")


def test_generators_are_bound_by_parameter_name():
    decolle = typed("decolle")
    (signal,) = decolle.signals
    assert signal.generator.kind == "local_readout" and signal.generator.loss == "mse"
    assert isinstance(signal.generator.args["size"], ir.Param)
    eprop = typed("eprop")
    source = eprop.signals[0].generator.args["from"]
    assert isinstance(source, ir.Param) and source.name == "readout"
    assert eprop.signals[0].generator.source({}) == "readout"
    assert typed("rstdp").signals[0].generator.args == {}  # 'signal r = reward'


def test_other_populations_lets_and_network_state():
    leaky = typed("eprop_leaky")
    (var,) = [n for n in ir.walk(trace(leaky, "ebar")) if isinstance(n, ir.PopulationVar)]
    assert (var.population, var.attribute) == ("readout", "tau_mem")
    alif = typed("eprop_alif")
    eps = kinds(trace(alif, "eps_a"))
    assert "LetRef" in eps and eps.count("TraceRef") == 2  # psi, and eps_a reads itself
    assert any(isinstance(n, ir.Call) and n.name == "decay" for n in ir.walk(trace(alif, "eps_a")))
    rtrl = typed("rtrl")
    state = [n for n in ir.walk(trace(rtrl, "M")) if isinstance(n, ir.NetState)]
    assert [n.dotted for n in state] == ["net.jacobian"]


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.stem)
def test_example_rules_are_typed_and_resolve_per_instance(path):
    diag = Diagnostics()
    net = snnc.compile_file(str(path), diag)
    assert net is not None, [d.message for d in diag.items]
    for projection in net.projections():
        for instance in projection.rules:
            rule = instance.rule
            assert isinstance(rule, ir.RuleDef)
            for expr in rule.expressions():
                for node in ir.walk(expr):
                    if isinstance(node, ir.Param):  # every parameter is bound per instance
                        assert node.name in instance.args
            for signal in rule.signals:
                source = signal.generator.source(instance.args)
                if "from" in signal.generator.args:
                    assert net.has_node(source), source


# -- the visitor -------------------------------------------------------------------------------

def test_the_visitor_raises_on_a_node_it_does_not_handle():
    class OnlyConstants(ir.Visitor[float]):
        def visit_Const(self, node):
            return node.value

    span = typed("stdp").span
    assert OnlyConstants().visit(ir.Const(2.0, "2", span)) == 2.0
    with pytest.raises(NotImplementedError, match="OnlyConstants does not handle Param"):
        OnlyConstants().visit(ir.Param("tau", span))


def test_walk_is_iterative_and_nodes_hash_by_identity():
    span = typed("stdp").span
    expr: ir.Expr = ir.Const(1.0, "1", span)
    for _ in range(20000):  # far deeper than Python's recursion limit
        expr = ir.Unary("-", expr, span)
    assert sum(1 for _ in ir.walk(expr)) == 20001
    a, b = ir.Weight(span), ir.Weight(span)
    assert a != b and len({a: 1, b: 2}) == 2


# -- the one function table ----------------------------------------------------------------------

def call_text(function: RuleFunction) -> str:
    args = {"lowpass": ["pre.s", "5 ms"], "decay": ["5 ms"], "surrogate": ["post.v"]}.get(
        function.name, ["post.v"] * function.min_args)
    return f"{function.name}({', '.join(args)})"


def every_function_program(functions) -> str:
    lets = "\n".join(f"  let f_{f.name} = {call_text(f)}" for f in functions)
    total = " + ".join(f"f_{f.name}" for f in functions)
    return f"""
network t {{ dt = 1 ms }}
input x[3]
population y: LIF[2]
rule every() {{
{lets}
  dw = {total}
}}
x -> y: dense {{ learn every }}
"""


def test_a_rule_using_every_table_function_lowers_to_its_entry():
    net, diag = compile_text(every_function_program(RULE_FUNCTIONS.values()))
    assert net is not None, [d.message for d in diag.items]
    (instance,) = net.projection("x->y").rules
    lets = {let.name: let.value for let in instance.rule.lets}
    assert set(lets) == {f"f_{name}" for name in RULE_FUNCTIONS}
    for name, function in RULE_FUNCTIONS.items():
        call = lets[f"f_{name}"]
        assert isinstance(call, ir.Call) and call.function is function


def e307(text: str) -> list[str]:
    """The E307 messages of ``text`` checked against Loihi 2 (its other checks pass)."""
    net, diag = compile_text(text, target="loihi2")
    assert net is not None or all(d.code == "E307" for d in diag.errors()), \
        [d.message for d in diag.items]
    return [d.message for d in diag.items if d.code == "E307"]


STDP_EXP = """
network t { dt = 1 ms }
input x[3]
population y: LIF[2]
rule r(tau = 20 ms) {
  trace x_pre = lowpass(pre.s, tau)
  on post: dw = exp(x_pre)
}
x -> y: dense { learn r }
"""


def test_the_table_decides_e307(monkeypatch):
    assert any("uses exp on variables" in m for m in e307(STDP_EXP))
    # a planted entry that claims the sum-of-products engine can run exp: no E307
    monkeypatch.setitem(RULE_FUNCTIONS, "exp",
                        dataclasses.replace(RULE_FUNCTIONS["exp"], engines=ALL_ENGINES))
    assert e307(STDP_EXP) == []


def test_a_new_table_entry_is_accepted_analysed_and_refused_on_loihi(monkeypatch):
    text = STDP_EXP.replace("exp(x_pre)", "softplus(x_pre)")
    net, diag = compile_text(text)
    assert net is None and [d.code for d in diag.errors()] == ["E207"]
    softplus = RuleFunction("softplus", 1, 1, "log(1 + exp(x))", nonlinear=True,
                            engines=PROGRAMMABLE, numpy="np.logaddexp(0, {0})")
    monkeypatch.setitem(RULE_FUNCTIONS, "softplus", softplus)
    net, diag = compile_text(text)
    assert net is not None, [d.message for d in diag.items]
    projection = net.projection("x->y")
    analysis = analyse(net, projection, projection.rules[0], steps=1)
    assert analysis.functions == {"softplus"} and analysis.calls["softplus"] is softplus
    assert any("uses softplus on variables" in m for m in e307(text))


# -- mistakes the typed IR made visible (each crashed a backend before) -----------------------

MISTAKE = """network t {{ dt = 1 ms }}
input x[4]
population out: LIF[3]
rule r(lr = 0.1{extra}) {{
  dw = {update}
}}
x -> out: dense {{ learn r{args} }}
"""


@pytest.mark.parametrize("update, args, code, where, words", [
    ("[1, 2] * pre.s", "", "E209", (5, 8), "lists are not values"),
    ("out.v.x * pre.s", "", "E201", (5, 14), "'out.v' has no fields"),
    ("out * pre.s", "", "E209", (5, 8), "'out' names a population, not a value"),
    ("p * pre.s", "(p = out)", "E209", (7, 25), "'p' is the population 'out'"),
])
def test_a_value_that_is_not_one_is_reported(update, args, code, where, words):
    extra = ", p" if args else ""
    net, diag = compile_text(MISTAKE.format(update=update, args=args, extra=extra))
    assert net is None
    (error,) = diag.errors()
    assert (error.code, (error.span.line, error.span.column)) == (code, where)
    assert words in error.message and error.hint


def test_the_locality_index_covers_every_sub_expression():
    diag = Diagnostics()
    net = snnc.compile_file(str(EXAMPLES[[p.stem for p in EXAMPLES].index("stdp")]), diag)
    assert net is not None
    (report,) = net.analyses["check-locality"]
    analysis, rule = report.analysis, report.analysis.rule.rule
    tops = [*rule.expressions(), *(rule.bounds or ())]
    for top in tops:
        for node in ir.walk(top):
            assert node in analysis.info, node
    assert analysis.traces["x_pre"].index == frozenset({"j"})
    assert analysis.info[trace(rule, "y_post")].index == frozenset({"i"})
    assert analysis.info[rule.bounds[1]].constant
