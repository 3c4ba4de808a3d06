"""learned_feedback (issue 19): the readout's error sent back through feedback weights B that
start at zero and learn, synapse by synapse, the updates of their forward twin (Kolen-Pollack).

The simulator computes B_n = (W_n - W_0)^T. The oracle here is the recursion itself: the same
network with random_feedback, whose feedback matrix is set before every step to a B kept
separately, B <- B + (W_after - W_before)^T after each step (each feedback synapse applying
its twin's update), starting from zero."""

from __future__ import annotations

import numpy as np
import pytest
from simulate import compile_text, load_module

from snnc.diagnostics import Diagnostics
from snnc.ir.lowered_cache import load_lowered
from snnc.passes import DEFAULT_PIPELINE, run_pipeline
from snnc.passes.rule_analysis import analysis_of

NETWORK = """network kp {{
  dt = 1 ms
  seed = 5
}}
rule eprop_fb(lr, readout) {{
  trace zbar = lowpass(pre.s, post.tau_mem)
  signal L = {generator}(from = readout)
  dw = -L * surrogate(post.v) * zbar
}}
input a[6]: poisson(rate = 120 Hz)
population h: LIF[5] {{
  tau_mem = 10 ms
  threshold = 0.4
  surrogate = fast_sigmoid(beta = 10)
}}
readout out: LI[3]
a -> h: dense {{
  weight = normal(0.3, 0.2)
  learn eprop_fb(lr = 0.05, readout = out)
}}
h -> h: {recurrent} {{
  weight = normal(0, 0.2)
  learn eprop_fb(lr = 0.05, readout = out)
}}
h -> out: {readout} {{
  weight = normal(0, 0.5)
  learn delta(lr = 0.2, readout = out)
}}
loss cross_entropy(out.v)
"""


def network(generator: str, recurrent: str = "dense", readout: str = "dense") -> str:
    return NETWORK.format(generator=generator, recurrent=recurrent, readout=readout)


@pytest.mark.parametrize("readout", ["dense", "sparse(p = 0.7)", "sparse(p = 0.2)"])
def test_learned_feedback_is_the_kolen_pollack_recursion(tmp_path, readout):
    steps, labels = 120, np.array([2])
    learned = load_module(compile_text(network("learned_feedback", readout=readout)),
                          tmp_path / "learned")
    sim = learned.Simulation(batch=1)
    out = sim.run(steps, {}, record=["a->h.w", "h->h.w", "h->out.w", "a->h.L"], learn=True,
                  targets={"out": labels})

    oracle = load_module(compile_text(network("random_feedback", readout=readout)),
                         tmp_path / "oracle")
    twin = oracle.Simulation(batch=1)
    feedback = sorted(name for name in vars(twin) if name.endswith("_feedback"))
    assert len(feedback) == 2  # one B per rule instance (a->h, h->h)
    w_in, w_rec, w_out = (oracle.WEIGHTS[name] for name in ("a->h", "h->h", "h->out"))
    signal = oracle.VARIABLES["a->h.L"][0]
    b = np.zeros_like(getattr(twin, feedback[0]))  # [5, 3]: starts at zero
    twin.run(0, {}, learn=True, targets={"out": labels})  # the run's settings, no step
    history = {"a->h": [], "h->h": [], "L": []}
    for n in range(steps):  # the run's loop, step by step (run(1) would restart n at 0)
        for name in feedback:
            getattr(twin, name)[...] = b
        before = np.array(getattr(twin, w_out))
        twin.step(n, {})
        history["a->h"].append(np.array(getattr(twin, w_in)))
        history["h->h"].append(np.array(getattr(twin, w_rec)))
        history["L"].append(np.array(getattr(twin, signal)))
        change = np.array(getattr(twin, w_out)) - before
        if change.shape != (3, 5):  # a CSR projection: its values scattered to [post, pre]
            dense = np.zeros((3, 5))
            np.add.at(dense, (getattr(twin, w_out + "_post"), getattr(twin, w_out + "_pre")),
                      change)
            change = dense
        b += change.T  # every feedback synapse applies its twin's update
    assert np.abs(b).max() > 1e-3  # the feedback did learn
    for name in ("a->h", "h->h"):
        np.testing.assert_allclose(out[name + ".w.history"], np.array(history[name]), rtol=0,
                                   atol=1e-12)
    np.testing.assert_allclose(out["a->h.L"], np.array(history["L"]), rtol=0, atol=1e-12)
    assert np.abs(out["a->h.L"][0]).max() == 0.0  # B = 0 before the twin's first update


def test_a_batch_update_moves_the_feedback_with_the_twin(tmp_path):
    """Updates per batch (accumulated, applied by the trainer): while the weights are fixed
    the feedback is fixed too, and it is (W - W_0)^T of the weights given to the simulation."""
    module = load_module(compile_text(network("learned_feedback")), tmp_path / "m")
    sim = module.Simulation(batch=2)
    w_out = module.WEIGHTS["h->out"]
    start = np.array(getattr(sim, w_out))
    first = sim.run(30, {}, record=["a->h.L"], learn=True, accumulate=True,
                    targets={"out": np.array([0, 1])})
    assert np.abs(first["a->h.L"]).max() == 0.0  # nothing applied yet: B = 0
    moved = start + 0.3
    getattr(sim, w_out)[...] = moved
    sim.reset()
    second = sim.run(30, {}, record=["a->h.L", "out.v"], learn=True, accumulate=True,
                     targets={"out": np.array([0, 1])})
    error = np.exp(second["out.v"]) / np.exp(second["out.v"]).sum(-1, keepdims=True)
    error[:, np.arange(2), [0, 1]] -= 1.0  # softmax - onehot, the cross-entropy's dL/dy
    np.testing.assert_allclose(second["a->h.L"], error @ (moved - start), rtol=1e-12,
                               atol=1e-12)


def analysis(text: str):
    diag = Diagnostics()
    path = "kp.snn"
    with open(path, "w") as handle:
        handle.write(text)
    net = run_pipeline(load_lowered(path, diag), diag, DEFAULT_PIPELINE)
    return net, diag


def test_learned_feedback_is_class_b_with_its_feedback_weights_as_state(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("SNNC_NO_LOWERED_CACHE", "1")
    net, diag = analysis(network("learned_feedback"))
    assert not diag.has_errors
    projection = net.projection("a->h")
    result = analysis_of(net, projection, projection.rules[0])
    assert result.cls == "b"
    state = {item.name: item.count for item in result.state}
    assert state["feedback weights of L (one per readout neuron)"] == 5 * 3
    symmetric, _ = analysis(network("symmetric_feedback"))
    assert analysis_of(symmetric, symmetric.projection("a->h"),
                       symmetric.projection("a->h").rules[0]).cls == "c"


def test_feedback_without_a_twin_or_with_a_twin_that_does_not_learn(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("SNNC_NO_LOWERED_CACHE", "1")
    text = network("learned_feedback").replace("h -> out: dense", "a -> out: dense")
    _, diag = analysis(text)
    errors = [d for d in diag.items if d.code == "E220"]
    assert len(errors) == 2  # one per rule instance (a->h, h->h)
    assert all("'h -> out'" in e.message and "random_feedback" in e.hint for e in errors)
    frozen = network("learned_feedback").replace(
        "learn delta(lr = 0.2, readout = out)", "")
    _, diag = analysis(frozen)
    warnings = [d for d in diag.items if d.code == "W207"]
    assert len(warnings) == 2
    assert all("'h->out'" in w.message and "learn delta" in w.hint for w in warnings)
    _, diag = analysis(network("symmetric_feedback").replace("h -> out: dense",
                                                              "a -> out: dense"))
    assert [d.code for d in diag.items if d.code.startswith("E")] == ["E220", "E220"]
