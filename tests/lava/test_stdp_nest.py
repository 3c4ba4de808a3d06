"""stdp_nest in Lava: the product of a pre and a post spike of the same step (``x0 * y0``),
evaluated by the program's ``SpikeFactorApplierFloat`` (Lava 0.10.0's floating-point model
refuses spike factors), learns as ``snnc run --delivery next_step`` does.

The pre spikes and the post neurons' drive are data inputs with many same-step pairs; the
constant of ``x0 * y0``, ``lr (a_minus - a_plus) = 2^-7``, is exact on Loihi. The run with the
standard library's ``stdp`` (which counts a same-step pair in both windows) ends exactly
``lr (a_plus - a_minus)`` per same-step pair away, so the term was exercised.
"""

from __future__ import annotations

import numpy as np

STEPS = 300

PROGRAM = """network pairing {{
  dt = 1 ms
  seed = 1
  integration = exact
}}
input pre_in[8]
input drive[5]
population post: LIF[5] {{
  tau_mem = 5 ms
  threshold = 1000
  reset = zero
}}
drive -> post: one_to_one {{ weight = 2000 }}
pre_in -> post: dense {{
  weight = 8
  learn {rule}(lr = 0.015625, tau_plus = 16.8 ms, tau_minus = 33.7 ms, a_plus = 1,
               a_minus = 1.5, w_max = 1e6)
}}
record post.s, pre_in->post.w
"""


def test_stdp_nest_learns_as_the_reference(programs, tmp_path):
    rng = np.random.default_rng(3)
    data = tmp_path / "data.npz"
    pre = rng.random((STEPS, 8)) < 0.15
    np.savez(data, pre_in=pre, drive=rng.random((STEPS, 5)) < 0.15)
    source = programs.source(PROGRAM.format(rule="stdp_nest"), "pairing")
    network = (programs.compile(source, "pairing") / "network.py").read_text()
    assert "x0 * y0" in network
    lava = programs.lava(programs.folder / "pairing", STEPS, "--input", str(data))
    reference = programs.reference(source, STEPS, "post.s,pre_in->post.w", "--input", str(data))
    assert reference["post.s"].sum() > 100  # the post neurons fire with their drive
    assert np.array_equal(lava["post.s"], reference["post.s"])
    np.testing.assert_allclose(lava["pre_in->post.w"], reference["pre_in->post.w"], rtol=0,
                               atol=1e-9)
    both = programs.source(PROGRAM.format(rule="stdp"), "both_windows")
    other = programs.reference(both, STEPS, "post.s,pre_in->post.w", "--input", str(data))
    assert np.array_equal(other["post.s"], reference["post.s"])  # the drive alone fires them
    for weights in (other["pre_in->post.w"], reference["pre_in->post.w"]):
        assert weights.min() > 0  # no weight clipped at the bound: every pair counted
    # stdp counts a same-step pair in both windows, stdp_nest in neither: they differ by
    # lr (a_plus - a_minus) = -2^-7 per pair (a pre spike of step n with a post spike of n)
    pairs = reference["post.s"][:, 0].astype(float).T @ pre
    assert pairs.min() >= 1
    np.testing.assert_allclose(other["pre_in->post.w"] - lava["pre_in->post.w"], -pairs / 128,
                               rtol=0, atol=1e-9)
