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


ONLINE = """
network o { dt = 1 ms
 seed = 9 }
input x[20]: poisson(rate = 30 Hz)
population h: CubaLIF[32] { tau_mem = 20 ms
 reset = subtract }
readout out: LI[4] { tau_mem = 20 ms }
x -> h: dense { weight = normal(0.2, 0.2)
 learn eprop(lr = 1e-2, readout = out) }
h -> h: sparse(p = 0.3) { weight = normal(0, 0.1)
 learn eprop_symmetric(lr = 1e-2, readout = out) }
h -> out: dense { learn delta(lr = 1e-2, readout = out) }
loss cross_entropy(sum_over_time(out.v))
"""


def test_same_seed_gives_bit_identical_weights_after_learning(tmp_path):
    module = load_module(compile_text(ONLINE), tmp_path)
    runs = [module.Simulation(batch=3).run(200, targets={"out": np.array([0, 1, 2])},
                                           record=["h.s"]) for _ in range(2)]
    for key in ("x->h.w", "h->h.w", "h->out.w"):
        assert np.array_equal(runs[0][key], runs[1][key])
    initial = module.Simulation().data
    assert not np.allclose(runs[0]["h->out.w"], initial["w2"])


def test_readout_learning_reduces_its_error(tmp_path):
    """The delta rule on a fixed hidden layer is gradient descent on the per-step error."""
    module = load_module(compile_text(ONLINE.replace("learn eprop(lr = 1e-2, readout = out)", "")
                                      .replace("learn eprop_symmetric(lr = 1e-2, readout = out)",
                                               "")), tmp_path)
    sim = module.Simulation(batch=4)
    labels = np.array([0, 1, 2, 3])
    losses = []
    for _ in range(6):
        out = sim.run(150, targets={"out": labels}, record=["out.v"])
        v = out["out.v"]
        p = np.exp(v - v.max(-1, keepdims=True))
        p /= p.sum(-1, keepdims=True)
        losses.append(-np.mean(np.log(p[:, np.arange(4), labels] + 1e-12)))
        sim.reset()
    assert losses[-1] < 0.8 * losses[0], losses


FACTORED = """
network f {{ dt = 1 ms
 seed = 4 }}
input x[12]: poisson(rate = 60 Hz)
population h: CubaLIF[9] {{ tau_mem = 20 ms
 reset = subtract }}
readout out: LI[3] {{ tau_mem = 20 ms }}
rule r(lr = 1e-2, readout) {{
  trace zbar = lowpass(lowpass(pre.s, post.tau_syn), post.tau_mem)
  trace ypost = lowpass(post.s, 10 ms)
  signal L = symmetric_feedback(from = readout)
  dw = {update}
  on post: dw = {on_post}
  on pre: dw = {on_pre}
}}
x -> h: dense {{ weight = normal(0.3, 0.2)
 learn r(lr = 1e-2, readout = out) }}
h -> out: dense {{ weight = normal(0, 0.3) }}
loss cross_entropy(out.v)
"""


def test_product_updates_summed_over_the_batch_equal_the_per_synapse_sum(tmp_path):
    """A product of a per-post and a per-pre factor is summed over the batch as post^T pre;
    written so that it is not a product of two factors, the simulator forms dw [batch, post,
    pre] synapse by synapse. Both give the same weights (with the triggers' spikes)."""
    factored = FACTORED.format(update="-L * surrogate(post.v) * zbar",
                               on_post="0.1 * ypost * zbar", on_pre="-ypost * (0.05 * zbar)")
    synapse_wise = FACTORED.format(update="-L * (surrogate(post.v) * zbar)",
                                   on_post="0.1 * (ypost * zbar)",
                                   on_pre="-(ypost * (0.05 * zbar)) * 1")
    weights = []
    for number, text in enumerate((factored, synapse_wise)):
        module = load_module(compile_text(text), tmp_path / str(number))
        assert ("_batch_outer" in module.Simulation.step.__code__.co_names) == (number == 0)
        out = module.Simulation(batch=5).run(150, targets={"out": np.array([0, 1, 2, 0, 1])})
        weights.append(out["x->h.w"])
    initial = load_module(compile_text(factored), tmp_path / "0").Simulation().w0
    assert np.abs(weights[0] - initial).max() > 1e-3  # the rule learned
    np.testing.assert_allclose(weights[0], weights[1], rtol=0, atol=1e-12)
