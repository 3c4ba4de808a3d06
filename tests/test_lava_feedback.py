"""e-prop with random feedback in the Lava backend's terms, without Lava (issue 17, part B).

The translation (snnc.backends.lava.feedback) is checked against the reference simulator: its
feedback matrix and readout error are the simulator's, and the rule strings, impulses and time
constants it gives, evaluated as Lava's floating-point learning engine evaluates a rule (each
trace ``x <- exp(-1/tau) x + impulse s``, then ``w <- w + sum of products``) with the post
neuron's y1 = psi and third factor L = B e, train the network over several samples (state reset
between samples, weights kept, one label per sample) to the weights of the simulator's own
rules (``snnc train --update step`` with batch 1, under ``--delivery next_step``).
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from snnc import api
from snnc.backends.lava import feedback as fb
from snnc.backends.lava import learning as lr
from snnc.backends.reference.runner import load_simulation
from snnc.diagnostics import Diagnostics

EPROP = "examples/randman/eprop_random.snn"
STEPS, SAMPLES = 60, 4
#: the third factor's slot per projection: two e-prop rules into 'hidden', each with its B
SLOTS = {"units->hidden": "y2", "hidden->hidden": "y3", "hidden->out": "y2"}


@pytest.fixture(scope="module")
def eprop():
    diag = Diagnostics()
    net = api.compile_network(EPROP, diag)
    assert net is not None and not diag.has_errors
    return net, load_simulation(net, "next_step")


def data(seed: int = 3) -> tuple[np.ndarray, np.ndarray]:
    """SAMPLES samples [steps, samples, 20] where every unit fires once in the first 30
    steps, and their labels."""
    rng = np.random.default_rng(seed)
    x = np.zeros((STEPS, SAMPLES, 20), bool)
    for b in range(SAMPLES):
        x[rng.integers(0, 30, 20), b, np.arange(20)] = True
    return x, rng.integers(0, 10, SAMPLES)


def test_feedback_matrix_is_the_simulators(eprop):
    net, module = eprop
    sim = module.Simulation(batch=1)
    for name, attribute in module.WEIGHTS.items():
        projection = net.projection(name)
        instance = projection.rules[0]
        if instance.rule.signals[0].generator.kind != "random_feedback":
            continue
        given = getattr(sim, f"{attribute}_r0_feedback")
        drawn = fb.feedback_matrix(net.settings.seed, name, instance.rule.name, *given.shape)
        assert given.shape == (64, 10)
        np.testing.assert_array_equal(drawn, given)


def test_readout_error_is_the_simulators(eprop):
    _, module = eprop
    sim = module.Simulation(batch=3)
    sim.targets = {"out": np.array([0, 7, 9])}
    v = np.random.default_rng(1).normal(0, 3, (3, 10))
    expected = sim._error(0, readout="out", loss="cross_entropy", value=v)
    np.testing.assert_allclose(fb.readout_error(v, [0, 7, 9], "cross_entropy"), expected,
                               rtol=0, atol=1e-15)
    target = np.ones((3, 10))
    np.testing.assert_array_equal(fb.readout_error(v, target, "mse"), v - target)


@pytest.mark.parametrize("kind, params", [
    ("fast_sigmoid", {"beta": 10.0}), ("piecewise_linear", {"gamma": 0.3, "threshold": 0.8}),
    ("sigmoid", {"beta": 5.0}), ("exponential", {"beta": 2.0, "gamma": 0.5})])
def test_surrogates_are_the_simulators(kind, params):
    """The post neuron's psi is the reference simulator's surrogate, far from the threshold
    too (no overflow)."""
    from snnc.backends.reference import runtime
    x = np.concatenate([np.linspace(-3, 3, 601), [-800.0, 800.0]])
    with np.errstate(over="ignore"):
        expected = getattr(runtime, f"_surrogate_{kind}")(x, **params)
        got = fb.surrogate(kind, params, x)
    np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-300)
    assert np.isfinite(got).all()


def test_cascade_is_two_traces():
    """lowpass(lowpass(s, a), b) filtered directly equals the two first-order traces."""
    rng = np.random.default_rng(0)
    s = rng.random(300) < 0.1
    a, b, scale = math.exp(-0.1), math.exp(-0.05), 0.7
    inner = outer = 0.0
    traces = np.zeros(2)
    parts = fb.cascade([a, b], scale)
    for spike in s:
        inner = a * inner + scale * spike
        outer = b * outer + inner
        traces = np.array([d for d, _ in parts]) * traces + spike
        assert abs(outer - sum(c * t for (_, c), t in zip(parts, traces, strict=True))) < 1e-12
    with pytest.raises(ValueError):
        fb.cascade([a, a], 1.0)


def test_eprop_rule_strings(eprop):
    net, _ = eprop
    assert slots(net) == SLOTS
    rules = {p.name: fb.translate(net, p, p.rules[0], 1.0, SLOTS[p.name])
             for p in net.projections()}
    hidden = rules["units->hidden"]
    assert hidden.rule.dw == "x1 * y1 * y2 * u0 - x2 * y1 * y2 * u0"
    assert rules["hidden->hidden"].rule.dw == "x1 * y1 * y3 * u0 - x2 * y1 * y3 * u0"
    assert rules["hidden->out"].rule.dw == "-x1 * y2 * u0"
    assert [t.tau for t in hidden.rule.traces] == pytest.approx([10.0, 20.0], rel=1e-12)
    assert hidden.surrogate[1] == {"beta": 10.0} and hidden.psi_gain == 1.0
    assert rules["hidden->out"].surrogate is None
    assert all(not r.rule.roundings for r in rules.values())


def test_eprop_refusals(eprop):
    """What the translation refuses, with the part it cannot express."""
    net, _ = eprop
    projection = net.projection("units->hidden")
    with pytest.raises(lr.NotExpressible, match="same time constant"):
        fb.pre_traces(net, projection, same_taus(projection.rules[0]))


def same_taus(instance):
    """``instance`` with zbar = lowpass(lowpass(pre.s, tau_mem), tau_mem)."""
    import dataclasses

    from snnc.ir import rules as ir
    trace = instance.rule.traces[0]
    outer = trace.value
    inner = dataclasses.replace(outer.args[0], args=(outer.args[0].args[0], outer.args[1]))
    value = dataclasses.replace(outer, args=(inner, outer.args[1]))
    rule = dataclasses.replace(instance.rule, traces=[ir.Trace(trace.name, value, trace.span)])
    return dataclasses.replace(instance, rule=rule)


def slots(net) -> dict[str, str]:
    """The third factor's slot of each projection: y2, then y3 for a second feedback rule
    into the same population."""
    taken: dict[str, int] = {}
    out = {}
    for projection in net.projections():
        k = taken.get(projection.post, 0)
        out[projection.name] = fb.THIRD_SLOTS[k]
        taken[projection.post] = k + 1
    return out


class Engine:
    """The rules' Loihi form evaluated as Lava's floating-point engine evaluates it, with the
    post neurons' factors (y1 = psi, y2/y3 = B e) computed as the program's processes would."""

    def __init__(self, net, module, sim):
        self.sim, self.module, self.net = sim, module, net
        self.loss = net.losses[0]
        self.rules = {p.name: fb.translate(net, p, p.rules[0], 1.0, slots(net)[p.name])
                      for p in net.projections()}
        n_out = net.node(self.loss.population).size
        self.feedback = {
            p.name: fb.feedback_matrix(net.settings.seed, p.name, p.rules[0].rule.name,
                                       net.node(p.post).size, n_out)
            for p in net.projections() if self.rules[p.name].rule.signal == "random_feedback"}
        self.projections = {p.name: p for p in net.projections()}

    def reset(self) -> None:
        self.x = {name: np.zeros((len(r.rule.traces), self.net.node(self.projections[name].pre)
                                  .size)) for name, r in self.rules.items()}

    def state(self, key: str) -> np.ndarray:
        return np.asarray(self.sim._state(self.module.VARIABLES[key][0]), float)[0]

    def psi(self, rule, population: str) -> np.ndarray:
        """The post neuron's surrogate derivative at its membrane before the reset."""
        u = getattr(self.sim, self.module.VARIABLES[f"{population}.v"][0][:-1] + "u")[0]
        threshold = self.net.node(population).params["threshold"].value
        return fb.surrogate(*rule.surrogate, u - threshold)

    def step(self, inputs: dict[str, np.ndarray], label: int) -> None:
        readout = self.state(f"{self.loss.population}.{self.loss.variable}")
        error = fb.readout_error(readout[None], [label], self.loss.kind)[0]
        for name, rule in self.rules.items():
            r, projection = rule.rule, self.projections[name]
            s = inputs[projection.pre] if projection.pre in inputs else \
                self.state(f"{projection.pre}.s")
            for k, trace in enumerate(r.traces):
                self.x[name][k] = math.exp(-1.0 / trace.tau) * self.x[name][k] + trace.impulse * s
            third = self.feedback[name] @ error if name in self.feedback else error
            factors = {r.third.slot: third * (r.third.gain or 1.0)}
            if rule.surrogate is not None:
                factors["y1"] = rule.psi_gain * self.psi(rule, projection.post)
            dw = 0.0
            for names, constant in r.dw_terms:
                post = np.prod([factors[f] for f in names if f.startswith("y")], axis=0)
                pre = np.prod([self.x[name][int(f[1]) - 1] for f in names
                               if f in ("x1", "x2")], axis=0)
                dw = dw + constant * np.outer(post, pre)
            w = getattr(self.sim, self.module.WEIGHTS[name])
            w += dw


def trains_as_the_simulator(net, module, x: np.ndarray, labels: np.ndarray) -> float:
    """Trains on the samples x [steps, samples, n] once with the simulator's rules and once with
    the engine's form (state reset between samples, weights kept); asserts the weights agree and
    returns how far the rules moved them."""
    steps, samples = x.shape[:2]
    learner = module.Simulation(batch=1)
    for b in range(samples):
        learner.reset()
        learner.run(steps, {"units": x[:, b:b + 1]}, learn=True,
                    targets={"out": labels[b:b + 1], "label": labels[b:b + 1]})
    sim = module.Simulation(batch=1)
    engine = Engine(net, module, sim)
    for b in range(samples):
        sim.reset()
        engine.reset()
        sim.run(steps, {"units": x[:, b:b + 1]}, learn=False,
                progress=lambda n, b=b: engine.step({"units": x[n - 1, b].astype(float)},
                                                    int(labels[b])))
    moved, start = 0.0, module.Simulation(batch=1)
    for attribute in module.WEIGHTS.values():
        expected = getattr(learner, attribute)
        moved = max(moved, float(np.abs(expected - getattr(start, attribute)).max()))
        np.testing.assert_allclose(getattr(sim, attribute), expected, rtol=0, atol=1e-12)
    return moved


def test_eprop_trains_as_the_simulator(eprop):
    """Over SAMPLES samples (state reset, weights kept, one label each) the engine's form of
    the three rules gives the simulator's weights (--update step, batch 1)."""
    net, module = eprop
    x, labels = data()
    assert trains_as_the_simulator(net, module, x, labels) > 1e-3  # the rules did learn


SMALL = """network small {
  dt = 1 ms
  seed = 2
}
input units[6]
population hidden: LIF[8] {
  tau_mem = 20 ms
  threshold = 0.8
  reset = subtract
  surrogate = RULE_SURROGATE
}
readout out: LI[3] {
  tau_mem = 20 ms
}
units -> hidden: dense {
  weight = normal(0, 0.6)
  learn RULE(lr = 1e-2, readout = out)
}
hidden -> out: dense {
  weight = normal(0, 0.1)
  learn delta(lr = 2e-3, readout = out)
}
loss LOSS(out.v)
"""


def small(tmp_path, rule: str, surrogate: str = "fast_sigmoid(beta = 10)",
          loss: str = "cross_entropy"):
    path = tmp_path / f"{rule}.snn"
    path.write_text(SMALL.replace("RULE_SURROGATE", surrogate).replace("RULE", rule)
                    .replace("LOSS", loss))
    diag = Diagnostics()
    net = api.compile_network(str(path), diag)
    assert net is not None, [d.message for d in diag.errors()]
    return net


@pytest.mark.parametrize("surrogate", ["fast_sigmoid(beta = 10)",
                                       "piecewise_linear(gamma = 0.3)"])
def test_stdlib_eprop_trains_as_the_simulator(tmp_path, surrogate):
    """The standard library's eprop (LIF, one trace: x1 * y1 * y2 * u0) on another network,
    threshold and surrogate."""
    net = small(tmp_path, "eprop", surrogate)
    rule = fb.translate(net, net.projection("units->hidden"),
                        net.projection("units->hidden").rules[0], 1.0)
    assert rule.rule.dw == "-x1 * y1 * y2 * u0"
    rng = np.random.default_rng(8)
    x = rng.random((50, 5, 6)) < 0.08
    moved = trains_as_the_simulator(net, load_simulation(net, "next_step"), x,
                                    rng.integers(0, 3, 5))
    assert moved > 1e-3


@pytest.mark.parametrize("rule, reason", [
    ("eprop_leaky", "must filter pre.s once or twice"),
    ("eprop_symmetric", "one signal, random_feedback or readout_error"),
])
def test_other_eprop_rules_are_refused(tmp_path, rule, reason):
    net = small(tmp_path, rule)
    projection = net.projection("units->hidden")
    with pytest.raises(lr.NotExpressible, match=reason):
        fb.translate(net, projection, projection.rules[0], 1.0)


def emit(tmp_path, source) -> dict:
    """The files of ``snnc compile SOURCE --emit lava`` (SOURCE a path), or the diagnostics."""
    from snnc.backends.lava import LavaBackend
    diag = Diagnostics()
    net = api.compile_network(str(source), diag)
    backend = LavaBackend()
    backend.check(net, diag)
    if diag.has_errors:
        return {"errors": [(d.code, d.message) for d in diag.errors()]}
    return backend.emit(net)


def test_the_program_computes_the_learning_signals(tmp_path):
    """eprop_random.snn becomes a Lava program: FeedbackSubtractLIF1 hidden neurons (psi as y1,
    two signals), the readout sending its voltage, ReadoutError and one RandomFeedback per
    e-prop projection with the simulator's B, the rule strings of the translation, state reset
    with the pre traces, and fixed point available (test_lava_feedback_fixed.py)."""
    import io
    files = emit(tmp_path, EPROP)
    network = files["network.py"]
    for text in ("FeedbackSubtractLIF1(", "FeedbackLIF1(", "ReadoutError(", "RandomFeedback(",
                 "dw='x1 * y1 * y2 * u0 - x2 * y1 * y2 * u0'",
                 "dw='x1 * y1 * y3 * u0 - x2 * y1 * y3 * u0'", "dw='-x1 * y2 * u0'",
                 "procs['out'].v_out.connect(procs['error of out'].v_in)",
                 "procs['feedback to hidden->hidden'].l_out.connect(procs['hidden'].a_third_y3)",
                 "procs['error of out'].e_out.connect(procs['out'].a_third_y2)",
                 '"a_buff", "x1", "x2")', "TRAINS = True"):
        assert text in network, text
    assert "surrogate=['fast_sigmoid', {'beta': 10.0}]" in network
    with np.load(io.BytesIO(files["network.npz"])) as data:
        drawn = data["feedback/feedback to units->hidden"]
    sim = load_simulation(api.compile_network(EPROP, Diagnostics()), "next_step").Simulation()
    np.testing.assert_array_equal(drawn, sim.w0_r0_feedback)
    assert __import__("json").loads(files["quantization.json"])["blockers"] == []
    assert "def step_labels" in network and "labels=None" in files["run.py"]


TWO_READOUTS = SMALL.replace("loss LOSS(out.v)", """hidden -> hidden: dense {
  weight = normal(0, 0.1)
  learn eprop(lr = 1e-2, readout = out)
}
more -> hidden: dense {
  weight = normal(0, 0.1)
  learn eprop(lr = 1e-2, readout = out)
}
loss LOSS(out.v)""").replace("input units[6]", "input units[6]\ninput more[2]")


@pytest.mark.parametrize("text, message", [
    (TWO_READOUTS, "receives a third feedback rule"),
    (SMALL.replace("LOSS", "mse"), "needs a cross_entropy loss on 'out'"),
    (SMALL.replace("tau_mem = 20 ms\n  threshold = 0.8",
                   "tau_mem = 20 ms\n  threshold = uniform(0.5, 1)"), "needs one threshold"),
    (SMALL.replace("tau_mem = 20 ms\n  threshold = 0.8",
                   "tau_mem = uniform(10 ms, 30 ms)\n  threshold = 0.8"), "post.tau_mem is not"),
    (SMALL.replace("  learn delta(lr = 2e-3, readout = out)\n", "").replace(
        "LI[3] {\n  tau_mem = 20 ms", "LI[3] {\n  tau_mem = uniform(10 ms, 30 ms)"),
     "'out' is split into 3 Lava processes"),
])
def test_what_the_feedback_program_refuses(tmp_path, text, message):
    source = tmp_path / "refused.snn"
    source.write_text(text.replace("RULE_SURROGATE", "fast_sigmoid(beta = 10)")
                      .replace("RULE", "eprop").replace("LOSS", "cross_entropy"))
    errors = emit(tmp_path, source)["errors"]
    assert any(code == "E513" and message in text for code, text in errors), errors
