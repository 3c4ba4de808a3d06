"""The backends read learning rules in the typed rule IR and the one function table.

- every table function with a numpy form runs in the reference simulator and agrees with the
  table's own constant folding (``fold``, plain Python ``math``) on the same values: an oracle
  that is not the printed numpy code;
- the reference simulation names, above each rule statement's code, the rule, its source line
  and the statement as written, escaped so that no name can end the comment;
- the Lava backend refuses what the sum-of-products engine cannot evaluate (driven by
  ``RuleFunction.runs_on``) and gives trace time constants as tau / dt.
"""

from __future__ import annotations

import math
import pathlib

import numpy as np
import pytest
from simulate import compile_text, load_module

import snnc
from snnc.backends.lava import LavaBackend
from snnc.backends.reference import ReferenceBackend
from snnc.cli import main
from snnc.diagnostics import Diagnostics
from snnc.functions import RULE_FUNCTIONS

EXAMPLES = pathlib.Path(__file__).resolve().parents[1] / "examples"

#: each function's arguments: post.v (0 <= v < 1 here) shifted by ``shift`` (across zero, or
#: into the domain of a function undefined below zero), then constants
CONSTANTS = {1: (), 2: (0.2,), 3: (0.1, 0.5)}
PROBE = """
network oracle {{
  dt = 1 ms
  seed = 3
}}
rule probe(lr = 0) {{
  trace t = {call}
  on post: dw = t * pre.s
}}
input x[4]: poisson(rate = 300 Hz)
population p: LIF[6] {{
  tau_mem = 10 ms
  reset = zero
}}
x -> p: dense {{
  weight = uniform(0, 0.5)
  learn probe()
}}
"""
NUMPY_FUNCTIONS = sorted(name for name, f in RULE_FUNCTIONS.items() if f.numpy is not None)


@pytest.mark.parametrize("name", NUMPY_FUNCTIONS)
def test_every_numpy_function_of_the_table_runs_and_matches_its_fold(name, tmp_path):
    function = RULE_FUNCTIONS[name]
    assert function.min_args == function.max_args and function.fold is not None
    constants = CONSTANTS[function.min_args]
    try:
        shift = -0.3
        function.fold(shift, *constants)
    except ValueError:  # log, sqrt: undefined below zero
        shift = 0.5
    call = f"{name}({', '.join(['post.v + ' + repr(shift), *map(repr, constants)])})"
    module = load_module(compile_text(PROBE.format(call=call)), tmp_path)
    out = module.Simulation().run(60, {}, record=["p.v", "x->p.t"])
    v, t = out["p.v"].ravel(), out["x->p.t"].ravel()
    assert len(np.unique(v)) > 10  # the probe sees many different values
    expected = [function.fold(float(x) + shift, *constants) for x in v]
    assert len(set(expected)) > 1  # and the function takes several values on them
    np.testing.assert_allclose(t, expected, rtol=1e-12, atol=1e-15)


def reference_source(text: str, file: str = "t.snn") -> str:
    diag = Diagnostics()
    program = snnc.load_text(text, file, diag)
    net = snnc.compile_program(program, diag) if program else None
    assert net is not None, [d.message for d in diag.items]
    return ReferenceBackend().emit(net)["simulation.py"]


def test_each_rule_statement_is_preceded_by_its_provenance():
    source = ReferenceBackend().emit(compile_text((EXAMPLES / "stdp.snn").read_text()))
    text = source["simulation.py"]
    for comment in ("# rule stdp, <stdlib>/stdp.snn:9: trace x_pre = lowpass(pre.s, tau_plus)",
                    "# rule stdp, <stdlib>/stdp.snn:10: trace y_post = lowpass(post.s, "
                    "tau_minus)",
                    "# rule stdp, <stdlib>/stdp.snn:11: on post: dw = a_plus * x_pre",
                    "# rule stdp, <stdlib>/stdp.snn:12: on pre: dw = -a_minus * y_post",
                    "# rule stdp, <stdlib>/stdp.snn:13: bounds = [0, w_max]"):
        assert comment in text
    lines = [line.strip() for line in text.splitlines()]
    after = lines[lines.index("# rule stdp, <stdlib>/stdp.snn:11: on post: dw = a_plus * x_pre")
                  + 1]
    assert after.startswith("dw += (1.0 * self.w0_r0_x_pre)")


def test_statements_print_with_the_parentheses_the_grammar_needs():
    text = reference_source("""network n { dt = 1 ms }
rule r(lr = 0, a = 1, b = 2) {
  trace x = lowpass(pre.s, 20 ms, 0.5)
  let h = (a - (b - x)) * (x + 1) / (a / (b * x))
  on post: dw = -(h^2) + (-h)^2 + (h + a)^-2 - a^(b - 1)
}
input i[2]: poisson(rate = 10 Hz)
population p: LIF[2] { reset = zero }
i -> p: dense { weight = 0.1
 learn r() }
""")
    assert "# rule r, t.snn:3: trace x = lowpass(pre.s, 20 ms, 0.5)" in text
    assert "# rule r, t.snn:5: on post: dw = -h^2 + (-h)^2 + (h + a)^-2 - a^(b - 1)" in text


def test_a_file_name_cannot_end_the_provenance_comment(tmp_path):
    name = "evil\nraise SystemExit\r\u2028.snn"
    text = reference_source("""network n { dt = 1 ms }
rule r(lr = 0) {
  trace x = lowpass(pre.s, 20 ms)
  on post: dw = x
}
input i[2]: poisson(rate = 10 Hz)
population p: LIF[2] { reset = zero }
i -> p: dense { weight = 0.1
 learn r() }
""", name)
    assert "# rule r, evil\\nraise SystemExit\\r\\u2028.snn:3: trace x = lowpass(pre.s, 20 ms)" in text
    assert not any(line.strip() == "raise SystemExit" for line in text.splitlines())
    compile(text, "simulation.py", "exec")


def run(capsys, *argv):
    status = main(list(argv))
    out, err = capsys.readouterr()
    return status, out + err


RULE = """network e {{
  dt = 1 ms
}}
rule r(lr = 0.01, tau = 10 ms, a = 1) {{
  trace x = lowpass(pre.s, tau)
  on post: dw = {update}
}}
input i[4]: poisson(rate = 10 Hz)
population p: LIF[2] {{
  reset = zero
}}
i -> p: dense {{
  weight = 0.1
  learn r()
}}
"""


@pytest.mark.parametrize("update, code, where", [
    ("exp(x)", "E307", "t.snn:14:9"),  # a nonlinear function of a variable: the target check
    ("exp(a) * x", "E513", "t.snn:6:17"),  # of a constant: the engine still has no exp
    ("decay(tau) * x", "E513", "t.snn:6:17"),  # runs on the engine, but only as a trace
])
def test_lava_refuses_functions_the_engine_cannot_evaluate(capsys, tmp_path, update, code,
                                                           where):
    source = tmp_path / "t.snn"
    source.write_text(RULE.format(update=update))
    status, text = run(capsys, "compile", str(source), "--emit", "lava", "-o",
                       str(tmp_path / "out"))
    assert status == 1 and f"error[{code}]" in text and where in text
    assert "Traceback" not in text


def test_every_function_lava_refuses_is_one_the_table_denies_the_engine():
    denied = {name for name, f in RULE_FUNCTIONS.items() if not f.runs_on("sum_of_products")}
    assert denied == {name for name, f in RULE_FUNCTIONS.items() if f.nonlinear}
    assert {"exp", "log", "clip"} <= denied and not denied & {"lowpass", "decay", "surrogate"}


def test_lava_trace_time_constants_are_tau_over_dt():
    net = compile_text((EXAMPLES / "stdp.snn").read_text())
    diag = Diagnostics()
    graph = LavaBackend().graph(net, diag)
    (rule,) = {c.rule.rule: c.rule for c in graph.connections if c.rule is not None}.values()
    arguments = rule.arguments()
    assert arguments["x1_tau"] == 16.8 and arguments["y1_tau"] == 33.7  # not exp then log
    assert "y1_tau=33.7)" in LavaBackend().emit(net)["network.py"]
    assert math.isclose(math.exp(-1 / arguments["y1_tau"]), math.exp(-1e-3 / 0.0337),
                        rel_tol=1e-15)


STDLIB = pathlib.Path(snnc.__file__).resolve().parent / "stdlib"


@pytest.mark.parametrize("example", ["stdp", "rstdp", "decolle", "superspike", "eprop_randman",
                                     "alif_eprop_chip"])
def test_provenance_quotes_the_standard_library_as_written(example):
    from snnc.api import compile_network
    diag = Diagnostics()
    net = compile_network(str(EXAMPLES / f"{example}.snn"), diag)
    assert net is not None, [d.message for d in diag.items]
    text = ReferenceBackend().emit(net)["simulation.py"]
    quoted = [line.strip() for line in text.splitlines() if line.strip().startswith("# rule ")]
    assert quoted
    for comment in quoted:
        head, _, statement = comment.partition(".snn:")
        file = head.split("<stdlib>/")[1] + ".snn"
        number, _, statement = statement.partition(": ")
        source = (STDLIB / file).read_text().splitlines()[int(number) - 1].strip()
        assert statement == source
