"""The Lava backend's resets other than zero (the program's SubtractLIF<k>) and the
``post.tau_mem`` time constant of a learning rule's trace, without Lava (running them:
tests/lava/test_subtract.py)."""

from __future__ import annotations

import ast
import pathlib

import numpy as np
import pytest
from simulate import compile_text

from snnc.backends.lava import LavaBackend
from snnc.backends.lava.quantize import SHIFT, quantize
from snnc.cli import main
from snnc.diagnostics import Diagnostics

ROOT = pathlib.Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"

SUBTRACT = """network sub {
  dt = 1 ms
  seed = 3
}
input x[4]: poisson(rate = 50 Hz)
population p: LIF[3] {
  tau_mem = 10 ms
  threshold = -50 mV
  v_reset = -60 mV
  reset = subtract
  refractory = 2
}
population q: LIF[2] {
  tau_mem = 10 ms
  threshold = 0.5
  reset = none
}
x -> p: dense {
  weight = 5 mV
  receptor fast(tau = 5 ms)
}
x -> q: dense {
  weight = 0.2
}
"""


def graph_of(text: str):
    net = compile_text(text)
    diag = Diagnostics()
    graph = LavaBackend().graph(net, diag)
    assert graph is not None, [d.message for d in diag.items]
    return net, graph


def test_subtract_and_none_become_the_programs_subtract_model():
    _, graph = graph_of(SUBTRACT)
    p, q = graph.groups
    assert (p.kind, p.reset, p.port("fast")) == ("SubtractLIF1", "subtract", "a_in_0")
    np.testing.assert_allclose(p.vth, 0.01)  # threshold - v_reset, in the shifted voltage
    np.testing.assert_allclose(p.v_sub, -0.05)  # the threshold itself: v' <- v' - threshold
    assert (q.kind, q.reset) == ("SubtractLIF1", "none")
    np.testing.assert_array_equal(q.v_sub, 0.0)


def test_subtract_in_fixed_point_removes_the_integer_threshold():
    _, graph = graph_of(SUBTRACT.replace("v_reset = -60 mV", "v_reset = 0"))
    fixed = quantize(graph)
    p = fixed.groups["p"]
    assert p.du == [p.du[0]]  # one register per current, as CurrentsLIF
    np.testing.assert_array_equal(p.v_sub, p.vth * SHIFT)  # exactly what the spike is compared with
    _, graph = graph_of(SUBTRACT)
    p = quantize(graph).groups["p"]
    expected = p.vth * SHIFT + np.round(p.scale * -0.06)  # threshold = vth + v_reset
    np.testing.assert_array_equal(p.v_sub, expected)
    assert quantize(graph).groups["q"].v_sub is not None and not quantize(graph).groups["q"].v_sub.any()


def test_emitted_program_defines_and_imports_the_model(capsys, tmp_path):
    source = tmp_path / "sub.snn"
    source.write_text(SUBTRACT)
    out = tmp_path / "out"
    assert main(["compile", str(source), "--emit", "lava", "-o", str(out)]) == 0
    capsys.readouterr()
    network = (out / "network.py").read_text()
    models = (out / "models.py").read_text()
    assert "from models import SubtractLIF1" in network
    assert "v_sub=array('p', 'v_sub')" in network
    assert "reset = subtract: v' <- v' - threshold" in network
    tree = ast.parse(models)
    classes = {node.name for node in tree.body if isinstance(node, ast.ClassDef)}
    assert {"SubtractLIF1", "PySubtractLIF1Float", "PySubtractLIF1BitAcc"} <= classes
    assert "CurrentsLIF1" not in classes
    with np.load(out / "network.npz") as data:
        np.testing.assert_allclose(data["float/p.v_sub"], -0.05)
        assert data["fixed/p.v_sub"].dtype.kind == "i"


#: a rule whose trace decays with the post population's membrane time constant
POST_TAU = """network post_tau {{
  dt = 1 ms
  integration = exact
}}
rule follows(lr = 0.01) {{
  trace zbar = lowpass(pre.s, post.tau_mem)
  on post: dw = zbar
}}
input x[4]: poisson(rate = 10 Hz)
population p: LIF[3] {{
  tau_mem = {tau}
  reset = zero
}}
x -> p: dense {{
  weight = 0.1
  learn follows()
}}
"""


def test_a_trace_with_the_post_time_constant_translates_as_a_constant():
    _, graph = graph_of(POST_TAU.format(tau="20 ms"))
    rule = graph.connections[0].rule
    assert rule.dw == "x1 * y0"
    assert rule.arguments()["x1_tau"] == pytest.approx(20.0, rel=1e-12)  # tau_mem / dt
    assert rule.arguments()["x1_impulse"] == pytest.approx(0.01)


def test_a_trace_with_a_per_neuron_time_constant_is_refused_by_name(capsys, tmp_path):
    source = tmp_path / "varied.snn"
    source.write_text(POST_TAU.format(tau="uniform(10 ms, 30 ms)"))
    status = main(["compile", str(source), "--emit", "lava", "-o", str(tmp_path / "out")])
    text = "".join(capsys.readouterr())
    assert status == 1 and "error[E513]" in text and "post.tau_mem" in text, text
    assert "Traceback" not in text and "internal error" not in text


def test_eprop_with_a_zero_reset_compiles_not_crashes(capsys, tmp_path):
    """The standard library's eprop reads post.tau_mem in its trace (once an internal error,
    exit 3); its learning signal is now computed by processes of the program (issue 17), so it
    compiles, and runs in fixed point too."""
    source = tmp_path / "eprop_zero.snn"
    source.write_text((EXAMPLES / "eprop_randman.snn").read_text()
                      .replace("reset = subtract", "reset = zero"))
    status = main(["compile", str(source), "--emit", "lava", "-o", str(tmp_path / "out")])
    text = "".join(capsys.readouterr())
    assert status == 0, text
    assert "3 learning rules with integer traces and stochastic rounding" in text
    assert "fixed point: not available" not in text
    assert "RandomFeedback" in (tmp_path / "out" / "network.py").read_text()
    assert "internal error" not in text and "E512" not in text
