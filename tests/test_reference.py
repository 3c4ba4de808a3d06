"""The reference simulator against closed forms, explicit recurrences and direct convolutions;
its delivery conventions, delays, batches, determinism, and numba/numpy agreement."""

import math
import pathlib

import numpy as np
import pytest
from simulate import compile_text, load_module, simulate

from snnc.backends.reference import ReferenceBackend

ROOT = pathlib.Path(__file__).resolve().parents[1]
DT = 1e-3


def one_neuron(model, params, scheme="exact", extra=""):
    return (f"network t {{ dt = 1 ms\n integration = {scheme} }}\n"
            f"population n: {model}[1] {{ {params} }}\n{extra}")


@pytest.mark.parametrize("model", ["LIF", "LI", "ALIF"])
def test_leaky_membrane_under_constant_input_is_the_exact_ode_solution(model, tmp_path):
    tau, v_leak, v0, b = 0.02, -0.2, 0.3, 0.7
    params = (f"tau_mem = 20 ms\n v_leak = {v_leak}\n v_init = {v0}\n bias = {b}\n"
              " input_scale = one_minus_decay")
    if model != "LI":
        params += "\n threshold = 100"
    out, _ = simulate(one_neuron(model, params), tmp_path, 300, record=["n.v"])
    t = (np.arange(300) + 1) * DT
    # tau dv/dt = -(v - v_leak) + b, solved exactly at t = (n + 1) dt
    expected = v_leak + b + (v0 - v_leak - b) * np.exp(-t / tau)
    assert np.max(np.abs(out["n.v"][:, 0, 0] - expected)) < 1e-12


@pytest.mark.parametrize("model", ["LIF", "LI"])
def test_euler_mode_is_the_explicit_euler_recurrence(model, tmp_path):
    params = "tau_mem = 20 ms\n v_leak = -0.2\n v_init = 0.3\n bias = 0.7\n input_scale = " \
             "one_minus_decay" + ("\n threshold = 100" if model == "LIF" else "")
    out, _ = simulate(one_neuron(model, params, "euler"), tmp_path, 300, record=["n.v"])
    v, expected = 0.3, []
    for _ in range(300):
        v = v + DT / 0.02 * (-(v + 0.2) + 0.7)
        expected.append(v)
    assert np.max(np.abs(out["n.v"][:, 0, 0] - expected)) < 1e-12


@pytest.mark.parametrize("model", ["CubaLIF", "CubaLI"])
def test_current_based_neuron_matches_the_closed_form_of_the_discrete_model(model, tmp_path):
    w, c = 0.4, 0.5
    text = one_neuron(model, "tau_mem = 20 ms\n tau_syn = 5 ms\n input_scale = " + str(c) +
                      ("\n threshold = 100" if model == "CubaLIF" else ""),
                      extra="input x[1]\nx -> n: dense { weight = 0.4 }\n")
    steps = 200
    out, _ = simulate(text, tmp_path, steps, {"x": np.ones((steps, 1), bool)},
                      record=["n.v", "n.i"])
    n = np.arange(steps)
    a_m, a_s = math.exp(-1 / 20), math.exp(-1 / 5)
    current = w * (1 - a_s ** (n + 1)) / (1 - a_s)
    voltage = c * w / (1 - a_s) * ((1 - a_m ** (n + 1)) / (1 - a_m)
                                    - a_s * (a_m ** (n + 1) - a_s ** (n + 1)) / (a_m - a_s))
    assert np.max(np.abs(out["n.i"][:, 0, 0] - current)) < 1e-12
    assert np.max(np.abs(out["n.v"][:, 0, 0] - voltage)) < 1e-12


def test_integrate_and_fire_with_subtractive_reset_fires_every_fourth_step(tmp_path):
    out, _ = simulate(one_neuron("IF", "bias = 0.25\n threshold = 1\n reset = subtract"),
                      tmp_path, 40, record=["n.s", "n.v"])
    # v = 0.25 (n + 1) - spikes so far; v > 1 strictly first at n = 4 (v = 1.25)
    assert np.flatnonzero(out["n.s"][:, 0, 0]).tolist() == list(range(4, 40, 4))
    assert out["n.v"][4, 0, 0] == 0.25


def test_refractory_period_holds_the_membrane_at_reset(tmp_path):
    out, _ = simulate(one_neuron("IF", "bias = 0.6\n threshold = 1\n refractory = 3"),
                      tmp_path, 30, record=["n.s", "n.v"])
    # 0.6, 1.2 (spike), held 3 steps at 0, then 0.6, 1.2 (spike): period 5
    assert np.flatnonzero(out["n.s"][:, 0, 0]).tolist() == list(range(1, 30, 5))
    assert out["n.v"][2:5, 0, 0].tolist() == [0.0, 0.0, 0.0]


def test_adaptive_threshold_decays_geometrically_and_suppresses_firing(tmp_path):
    rho = math.exp(-1 / 200)
    beta, theta = 0.5, 1.0
    for amplitude, fires in ((theta + 0.5 * beta * rho ** 4, False),
                             (theta + 1.5 * beta * rho ** 4, True)):
        drive = np.zeros((8, 1))
        drive[0], drive[5] = 2.0, amplitude
        np.save(tmp_path / "w.npy", np.ones((1, 1)))
        text = one_neuron("ALIF", f"tau_mem = 20 ms\n tau_adapt = 200 ms\n beta_adapt = {beta}")
        text += "input x[1]\nx -> n: dense { weight = 1 }\n"
        # an input spike of amplitude A is one spike through a weight A: use two inputs
        text = text.replace("input x[1]\nx -> n: dense { weight = 1 }\n",
                            f"input x[1]\ninput y[1]\nx -> n {{ weight = 2 }}\n"
                            f"y -> n {{ weight = {amplitude!r} }}\n")
        x = np.zeros((8, 1), bool)
        y = np.zeros((8, 1), bool)
        x[0], y[5] = True, True
        out, _ = simulate(text, tmp_path / str(fires), 8, {"x": x, "y": y},
                          record=["n.s", "n.a"])
        spikes = np.flatnonzero(out["n.s"][:, 0, 0]).tolist()
        assert spikes == ([0, 5] if fires else [0])
        if not fires:
            assert np.allclose(out["n.a"][:5, 0, 0], rho ** np.arange(5), atol=1e-12)


@pytest.mark.parametrize("delivery,offset", [("same_step", 0), ("next_step", 1)])
@pytest.mark.parametrize("delay", [0, 1, 3])
def test_a_delay_of_d_steps_delivers_d_steps_later(delivery, offset, delay, tmp_path):
    text = ("input x[1]\npopulation n: IF[1] { threshold = 0.5 }\n"
            f"x -> n {{ weight = 1\n delay = {delay} }}\n")
    x = np.zeros((12, 1), bool)
    x[3] = True
    out, _ = simulate(text, tmp_path, 12, {"x": x}, record=["n.s"], delivery=delivery)
    assert np.flatnonzero(out["n.s"][:, 0, 0]).tolist() == [3 + delay + offset]


def test_feedforward_chain_in_one_step_and_recurrence_one_step_later(tmp_path):
    text = ("input x[1]\npopulation a: IF[1] { threshold = 0.5 }\n"
            "population b: IF[1] { threshold = 0.5 }\n"
            "x -> a { weight = 1 }\na -> b { weight = 1 }\nb -> a as back { weight = 1 }\n")
    x = np.zeros((6, 1), bool)
    x[2] = True
    out, _ = simulate(text, tmp_path, 6, {"x": x}, record=["a.s", "b.s"])
    assert np.flatnonzero(out["a.s"][:, 0, 0]).tolist()[:2] == [2, 3]
    assert np.flatnonzero(out["b.s"][:, 0, 0]).tolist()[:2] == [2, 3]


def correlate(x, kernel, stride, padding):
    """Direct cross-correlation of x [C_in, H, W] with kernel [C_out, C_in, k, k]."""
    c_out, _, k, _ = kernel.shape
    padded = np.pad(x, ((0, 0), (padding, padding), (padding, padding)))
    oh = (padded.shape[1] - k) // stride + 1
    ow = (padded.shape[2] - k) // stride + 1
    out = np.zeros((c_out, oh, ow))
    for co in range(c_out):
        for y in range(oh):
            for z in range(ow):
                window = padded[:, y * stride:y * stride + k, z * stride:z * stride + k]
                out[co, y, z] = np.sum(window * kernel[co])
    return out


@pytest.mark.parametrize("stride,padding", [(1, 1), (2, 0), (2, 1)])
def test_conv2d_delivers_a_direct_cross_correlation(stride, padding, tmp_path):
    rng = np.random.default_rng(0)
    kernel = rng.normal(size=(3, 2, 3, 3))
    np.save(tmp_path / "kernel.npy", kernel)
    oh = (7 + 2 * padding - 3) // stride + 1
    text = (f"input x[2, 7, 7]\npopulation c: LIF[3, {oh}, {oh}] {{ threshold = 1000 }}\n"
            f"x -> c: conv2d(kernel = 3, stride = {stride}, padding = {padding}, channels = 3) "
            '{\n weight = file("' + str(tmp_path / "kernel.npy") + '")\n}\n')
    x = rng.random((4, 2, 7, 7)) < 0.3
    out, _ = simulate(text, tmp_path / "sim", 4, {"x": x}, record=["c.i"])
    for n in range(4):
        expected = correlate(x[n].astype(float), kernel, stride, padding)
        assert np.allclose(out["c.i"][n, 0], expected, atol=1e-12)


def test_sum_pooling_sums_each_window(tmp_path):
    text = ("input x[2, 6, 6]\npopulation p: LIF[2, 3, 3] { threshold = 1000 }\n"
            "x -> p: sumpool2d(kernel = 2)\n")
    x = np.random.default_rng(1).random((2, 2, 6, 6)) < 0.5
    out, _ = simulate(text, tmp_path, 2, {"x": x}, record=["p.i"])
    expected = x[1].reshape(2, 3, 2, 3, 2).sum(axis=(2, 4))
    assert np.array_equal(out["p.i"][1, 0], expected)


RECURRENT = """
network r { dt = 1 ms
 seed = 5 }
input x[12]
population h: CubaLIF[30] { tau_mem = 20 ms
 tau_syn = 5 ms
 threshold = uniform(0.8, 1.2)
 reset = subtract }
readout o: LI[4]
x -> h: dense { weight = normal(0.3, 0.3) }
h -> h: sparse(p = 0.3) { weight = normal(0, 0.4)
 delay = 2 }
h -> o: dense { weight = normal(0, 0.3) }
"""


def test_batch_elements_are_independent(tmp_path):
    rng = np.random.default_rng(3)
    x = rng.random((60, 2, 12)) < 0.2
    both, _ = simulate(RECURRENT, tmp_path / "b", 60, {"x": x}, record=["h.s", "o.v"], batch=2)
    for b in range(2):
        alone, _ = simulate(RECURRENT, tmp_path / f"a{b}", 60, {"x": x[:, b]},
                            record=["h.s", "o.v"])
        assert np.array_equal(both["h.s"][:, b], alone["h.s"][:, 0])
        # BLAS may sum a matrix-matrix product in another order than a matrix-vector one
        assert np.allclose(both["o.v"][:, b], alone["o.v"][:, 0], rtol=1e-13, atol=1e-13)


def test_same_seed_same_bytes_and_same_spikes(tmp_path):
    net = compile_text(RECURRENT + "input noise[12]: poisson(rate = 50 Hz)\nnoise -> h\n")
    assert ReferenceBackend().emit(net) == ReferenceBackend().emit(compile_text(
        RECURRENT + "input noise[12]: poisson(rate = 50 Hz)\nnoise -> h\n"))
    runs = []
    for k in range(2):
        module = load_module(net, tmp_path / str(k))
        runs.append(module.Simulation().run(100, {}, record=["h.s", "h.v"]))
    assert np.array_equal(runs[0]["h.s"], runs[1]["h.s"]) and runs[0]["h.s"].any()
    assert np.array_equal(runs[0]["h.v"], runs[1]["h.v"])


def test_float32_runs_close_to_float64(tmp_path):
    module = load_module(compile_text(RECURRENT), tmp_path)
    x = np.random.default_rng(4).random((50, 12)) < 0.2
    a = module.Simulation(dtype=np.float64).run(50, {"x": x}, record=["o.v"])["o.v"]
    b = module.Simulation(dtype=np.float32).run(50, {"x": x}, record=["o.v"])["o.v"]
    assert b.dtype == np.float32 and np.allclose(a, b, atol=1e-3)


@pytest.mark.parametrize("text,steps", [
    (RECURRENT, 80),
    ((ROOT / "examples" / "cuba.snn").read_text(), 400),
    ((ROOT / "examples" / "conv_events.snn").read_text().replace("ConvIF[", "ConvIF["), 20),
])
def test_numba_kernels_match_the_numpy_kernels_bit_for_bit(text, steps, tmp_path):
    pytest.importorskip("numba")
    net = compile_text(text)
    rng = np.random.default_rng(7)
    fast = load_module(net, tmp_path / "fast", numba=True)
    slow = load_module(net, tmp_path / "slow", numba=False)
    assert fast._neuron is not slow._neuron
    inputs = {name: rng.random((steps,) + tuple(shape)) < 0.1
              for name, (shape, source) in fast.INPUTS.items() if source == "data"}
    record = [k for k in fast.VARIABLES if k.endswith((".s", ".v"))]
    a = fast.Simulation().run(steps, inputs, record=record)
    b = slow.Simulation().run(steps, inputs, record=record)
    assert sum(int(a[k].sum()) for k in record if k.endswith(".s")) > 0
    for key in record:
        assert np.array_equal(a[key], b[key]), key


def test_integrate_and_fire_integrates_constant_input_linearly(tmp_path):
    out, _ = simulate(one_neuron("IF", "bias = 0.3\n v_init = -0.2\n threshold = 100"),
                      tmp_path, 100, record=["n.v"])
    expected = -0.2 + 0.3 * (np.arange(100) + 1)
    assert np.max(np.abs(out["n.v"][:, 0, 0] - expected)) < 1e-12
