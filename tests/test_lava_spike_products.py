"""A product of the pre and the post spike of one step (``stdp_nest``) on Loihi 2: the target
check (``snnc check --target loihi2``) and the Lava backend (``--emit lava``) give the same
verdict. Loihi's learning engine takes a spike as a factor of a product ("x0 + C", "y0 + C" in
Lava's learning-rule tutorial; Lava 0.10.0's fixed-point model computes ``x0 * y0``), so both
accept: the rule becomes ``x1 * y0 + C * x0 * y0 - y1 * x0`` with ``C = lr (a_minus - a_plus)``,
which has no trace to carry it and is rounded to ``m 2^e`` (W513) unless it is one.
(Running it in Lava, against snnc run: tests/lava/test_stdp_nest.py.)"""

from __future__ import annotations

import pytest

from snnc.backends.lava.learning import multiply
from snnc.cli import main

NETWORK = """network pairing {{
  dt = 1 ms
  seed = 1
  integration = exact
}}
input pre_in[4]: poisson(rate = 50 Hz)
population post: LIF[3] {{
  tau_mem = 20 ms
  threshold = 1
  reset = zero
}}
pre_in -> post: dense {{
  weight = 0.2
  learn stdp_nest({arguments})
}}
"""


def verdicts(capsys, tmp_path, arguments: str) -> tuple[int, str, int, str]:
    source = tmp_path / "pairing.snn"
    source.write_text(NETWORK.format(arguments=arguments))
    check = main(["check", str(source), "--target", "loihi2"])
    checked = "".join(capsys.readouterr())
    emit = main(["compile", str(source), "--emit", "lava", "-o", str(tmp_path / "lava")])
    emitted = "".join(capsys.readouterr())
    return check, checked, emit, emitted


def test_stdp_nest_default_is_accepted_by_both_with_the_rounding_named(capsys, tmp_path):
    check, checked, emit, emitted = verdicts(capsys, tmp_path, "")
    assert (check, emit) == (0, 0), checked + emitted
    assert "error[" not in checked + emitted
    # lr (a_minus - a_plus) = 0.01 * 0.05 is below Loihi's smallest constant 2^-7
    assert "warning[W513]" in emitted
    assert "x0 * y0 (pre.s * post.s of one step) is rounded from 0.0005 to 0.0078125" in emitted
    assert "x0 * y0 has no trace to carry its constant" in emitted
    network = (tmp_path / "lava" / "network.py").read_text()
    assert "dw='x1 * y0 + 1 * 2^-7 * x0 * y0 - y1 * x0'" in network


def test_stdp_nest_with_an_exact_constant_emits_without_warning(capsys, tmp_path):
    check, checked, emit, emitted = verdicts(capsys, tmp_path,
                                             "lr = 0.015625, a_plus = 1, a_minus = 1.5")
    assert (check, emit) == (0, 0), checked + emitted
    assert "warning" not in emitted and "error[" not in checked + emitted
    network = (tmp_path / "lava" / "network.py").read_text()
    assert "dw='x1 * y0 + 1 * 2^-7 * x0 * y0 - y1 * x0'" in network
    assert "x1_impulse=0.015625" in network and "y1_impulse=0.0234375" in network


def test_a_pre_spike_more_than_a_post_spike_gives_a_negative_constant(capsys, tmp_path):
    check, _, emit, emitted = verdicts(capsys, tmp_path,
                                       "lr = 0.015625, a_plus = 1.5, a_minus = 1")
    assert (check, emit) == (0, 0), emitted
    network = (tmp_path / "lava" / "network.py").read_text()
    assert "dw='x1 * y0 - 1 * 2^-7 * x0 * y0 - y1 * x0'" in network


@pytest.mark.parametrize(("a", "b", "product"), [
    ({("x0",): 2.0}, {("x0",): 3.0}, {("x0",): 6.0}),  # a spike is 0 or 1: s * s = s
    ({("y0",): 1.0}, {("x0",): 1.0, ("x1",): -1.0}, {("x0", "y0"): 1.0, ("x1", "y0"): -1.0}),
    ({("x1",): 1.0}, {("x1",): 1.0}, {("x1", "x1"): 1.0}),  # a trace is not
])
def test_spike_factors_count_once(a, b, product):
    assert multiply(a, b) == product
