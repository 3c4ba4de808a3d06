"""Learning rules compiled into the reference simulator: the STDP window, traces by their
scope, the error signals of supervised rules, and state that does not grow with time."""

import math

import numpy as np
import pytest
from simulate import compile_text, load_module

PAIR = """
network pair {{ dt = 1 ms }}
input x[1]
input y[1]
population n: IF[1] {{ threshold = 0.5 }}
y -> n {{ weight = 1 }}
x -> n {{
  weight = 0.5
  learn stdp(lr = 0.01, tau_plus = 16.8 ms, tau_minus = 33.7 ms, a_plus = 1, a_minus = 1.05,
             w_max = 1)
}}
"""


@pytest.mark.parametrize("delta", [-40, -20, -7, -1, 0, 1, 3, 10, 25, 50])
def test_pair_stdp_reproduces_the_exponential_window(delta, tmp_path):
    module = load_module(compile_text(PAIR.format()), tmp_path)
    steps, t_pre = 120, 60
    x = np.zeros((steps, 1), bool)
    y = np.zeros((steps, 1), bool)
    x[t_pre] = True
    y[t_pre + delta] = True  # the post neuron fires when y does (x alone stays below threshold)
    out = module.Simulation().run(steps, {"x": x, "y": y}, record=["n.s"])
    assert np.flatnonzero(out["n.s"][:, 0, 0]).tolist() == [t_pre + delta]
    change = float(out["x->n.w"][0, 0]) - 0.5
    potentiation = 0.01 * 1.0 * math.exp(-delta / 16.8) if delta >= 0 else 0.0
    depression = 0.01 * 1.05 * math.exp(delta / 33.7) if delta <= 0 else 0.0
    assert change == pytest.approx(potentiation - depression, abs=1e-12)
