"""The gradient oracles agree with each other and with finite differences; the block-diagonal
approximation is exact for one layer without recurrence and not with it; online rules keep
state that does not grow with the sequence, BPTT's history does."""

import tracemalloc

import numpy as np
import pytest
from simulate import compile_text, load_module

from snnc.backends.reference.gradients import GradientModel

RECURRENT = """
network g {{ dt = 1 ms
 seed = 3 }}
input x[8]
population h: CubaLIF[10] {{ tau_mem = 20 ms
 tau_syn = 5 ms
 threshold = 0.3
 reset = {reset}
 surrogate = fast_sigmoid(beta = 5) }}
readout out: LI[3] {{ tau_mem = 10 ms }}
x -> h: dense {{ weight = normal(0.3, 0.3) }}
h -> h: dense {{ weight = normal(0, 0.2) }}
h -> out: dense {{ weight = normal(0, 0.5) }}
loss {loss}
"""


def data(steps=50, batch=4, seed=0):
    rng = np.random.default_rng(seed)
    return {"x": (rng.random((steps, batch, 8)) < 0.2).astype(float)}


def relative(a, b):
    return np.abs(a - b).max() / np.abs(b).max()


@pytest.mark.parametrize("reset", ["subtract", "zero"])
@pytest.mark.parametrize("loss", ["cross_entropy(sum_over_time(out.v))", "mse(out.v)",
                                  "cross_entropy(max_over_time(out.v))", "mse(last(out.v))"])
def test_rtrl_and_bptt_agree_on_a_recurrent_network(reset, loss):
    model = GradientModel(compile_text(RECURRENT.format(reset=reset, loss=loss)))
    x = data()
    target = np.array([0, 1, 2, 1]) if "cross_entropy" in loss else \
        np.random.default_rng(1).normal(size=(50, 4, 3) if "last" not in loss else (4, 3))
    loss_b, grads_b = model.bptt(x, target)
    loss_r, grads_r = model.rtrl(x, target)
    assert loss_b == pytest.approx(loss_r, rel=1e-12)
    for name in grads_b:
        assert np.abs(grads_b[name]).max() > 0
        assert relative(grads_r[name], grads_b[name]) < 1e-8, name


@pytest.mark.parametrize("reset", ["subtract", "zero"])
def test_both_agree_with_central_finite_differences_of_the_smooth_model(reset):
    model = GradientModel(compile_text(RECURRENT.format(
        reset=reset, loss="cross_entropy(sum_over_time(out.v))")))
    x, labels = data(seed=2), np.array([2, 0, 1, 1])
    _, grads_b = model.bptt(x, labels, smooth=True, detach_reset=False)
    _, grads_r = model.rtrl(x, labels, smooth=True, detach_reset=False)
    rng = np.random.default_rng(5)
    for name, shape in (("x->h", (10, 8)), ("h->h", (10, 10)), ("h->out", (3, 10))):
        entries = [tuple(int(v) for v in rng.integers(0, shape)) for _ in range(4)]
        fd = model.finite_differences(x, labels, name, entries)
        exact_b = np.array([grads_b[name][e] for e in entries])
        exact_r = np.array([grads_r[name][e] for e in entries])
        assert np.allclose(exact_b, fd, rtol=1e-5, atol=1e-7), name
        assert np.allclose(exact_r, fd, rtol=1e-5, atol=1e-7), name


SINGLE = """
network s {{ dt = 1 ms
 seed = 4 }}
input x[8]
readout out: CubaLIF[5] {{ tau_mem = 20 ms
 tau_syn = 5 ms
 threshold = 0.4
 reset = subtract }}
x -> out: dense {{ weight = normal(0.2, 0.3) }}
{recurrence}
loss mse(out.v)
"""


def cosine(a, b):
    return float(np.dot(a.ravel(), b.ravel()) / np.linalg.norm(a) / np.linalg.norm(b))


def test_block_diagonal_is_exact_for_one_layer_and_not_with_recurrence():
    target = np.random.default_rng(3).normal(0, 0.3, size=(60, 4, 5))
    x = data(steps=60, seed=6)
    model = GradientModel(compile_text(SINGLE.format(recurrence="")))
    _, exact = model.bptt(x, target)
    _, block = model.rtrl(x, target, block_diagonal=True)
    assert relative(block["x->out"], exact["x->out"]) < 1e-10
    recurrent = GradientModel(compile_text(SINGLE.format(
        recurrence="out -> out: dense { weight = normal(0, 0.3) }")))
    _, exact = recurrent.bptt(x, target)
    _, full = recurrent.rtrl(x, target)
    _, block = recurrent.rtrl(x, target, block_diagonal=True)
    assert relative(full["x->out"], exact["x->out"]) < 1e-8
    measured = cosine(block["x->out"], exact["x->out"])
    print(f"cosine(block-diagonal, exact) with recurrence: {measured:.4f}")
    assert 0.0 < measured < 0.9999


ONLINE = """
network o { dt = 1 ms
 seed = 1 }
input x[20]: poisson(rate = 20 Hz)
population h: CubaLIF[64] { tau_mem = 20 ms
 tau_syn = 5 ms
 reset = subtract }
readout out: LI[4] { tau_mem = 20 ms }
x -> h: dense { learn eprop(lr = 1e-3, readout = out) }
h -> h: dense { weight = normal(0, 0.1)
 learn eprop(lr = 1e-3, readout = out) }
h -> out: dense { learn delta(lr = 1e-3, readout = out) }
loss mse(out.v)
"""


def peak_bytes(function) -> int:
    tracemalloc.start()
    try:
        function()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_online_state_does_not_grow_with_time_but_bptt_history_does(tmp_path):
    module = load_module(compile_text(ONLINE), tmp_path)
    target = np.zeros((2, 4))
    online = {steps: peak_bytes(lambda steps=steps: module.Simulation(batch=2).run(
        steps, targets={"out": target})) for steps in (100, 2000)}
    assert online[2000] < 1.2 * online[100], online
    model = GradientModel(compile_text(RECURRENT.format(reset="subtract", loss="mse(out.v)")))
    history = {}
    for steps in (100, 2000):
        x = data(steps=steps, batch=2)
        y = np.zeros((steps, 2, 3))
        history[steps] = peak_bytes(lambda x=x, y=y: model.bptt(x, y))
    assert history[2000] > 10 * history[100], history
