"""The reference simulator's fused loop: one kernel per population and step (currents and
membrane in one pass), constants as scalars where every neuron shares them.

- the numba kernels and the numpy kernels (SNNC_NO_NUMBA=1) give the same spikes, membranes,
  currents, adaptation and weights bit for bit, on networks exercising every branch of the
  kernel (receptors and the model's own current, refractoriness, adaptation, the three
  resets, per-neuron parameters and decays, non-spiking readouts, learning rules reading the
  membrane before the reset, float32, batches);
- the kernel against an independent recurrence written out here;
- the emitted code prints uniform parameters as literals, varying ones as vectors;
- the numba kernel is compiled once for networks of different sizes and constants.
"""

import pathlib

import numpy as np
import pytest
from simulate import compile_text, load_module

from snnc.api import compile_network
from snnc.diagnostics import Diagnostics

ROOT = pathlib.Path(__file__).resolve().parents[1]

#: every branch of the kernel: receptors beside an own current (CubaLIF), per-neuron
#: thresholds and time constants, refractoriness, subtract and zero resets, adaptation
#: (ALIF), delays, dense and sparse delivery, a non-spiking readout (LI)
BRANCHES = """network branches {
  dt = 1 ms
  seed = 11
}
input x[30]
population syn: CubaLIF[40] {
  tau_mem = uniform(10 ms, 30 ms)
  tau_syn = 5 ms
  threshold = uniform(0.8, 1.2)
  reset = subtract
  refractory = 2 ms
}
population adapt: ALIF[25] {
  tau_mem = 20 ms
  tau_adapt = 100 ms
  beta_adapt = 0.3
  reset = zero
  v_reset = -0.1
}
population plain: LIF[20] {
  tau_mem = 15 ms
  reset = none
  bias = 0.05
}
population out: LI[5] { tau_mem = 10 ms }
x -> syn: sparse(p = 0.3) { weight = 0.9 }
x -> syn as x_fast: sparse(p = 0.2) {
  weight = 1.5
  receptor fast(tau = 2 ms)
}
x -> adapt: dense {
  weight = uniform(0, 0.8)
  receptor slow(tau = 30 ms)
}
adapt -> syn: sparse(p = 0.3) {
  weight = -0.4
  delay = 2 ms
  receptor inhibitory(tau = 10 ms)
}
syn -> plain: fixed_fan_in(k = 8) { weight = 0.5 }
syn -> adapt: sparse(p = 0.2) {
  weight = 0.3
  receptor slow(tau = 30 ms)
}
plain -> out: dense { weight = 0.2 }
adapt -> out: dense { weight = 0.1 }
"""

CASES = {
    "branches": (lambda: compile_text(BRANCHES), 200),
    "cuba": (lambda: compile_text((ROOT / "examples" / "cuba.snn").read_text()), 300),
    "eprop_alif": (lambda: compile_network(str(ROOT / "examples" / "alif_eprop_chip.snn"),
                                           Diagnostics()), 150),
    "superspike": (lambda: compile_network(str(ROOT / "examples" / "superspike.snn"),
                                           Diagnostics()), 150),
    "stdp": (lambda: compile_network(str(ROOT / "examples" / "stdp.snn"), Diagnostics()), 300),
}


def both(net, folder):
    pytest.importorskip("numba")
    fast = load_module(net, folder / "fast", numba=True)
    slow = load_module(net, folder / "slow", numba=False)
    for module in (fast, slow):  # what a run's Python loop does first (numba for fast only)
        module._runtime._accelerate(vars(module))
    assert fast._neuron is not slow._neuron and hasattr(fast._neuron, "signatures")
    assert not hasattr(slow._neuron, "signatures")
    return fast, slow


def data_inputs(module, steps, batch, seed=3):
    rng = np.random.default_rng(seed)
    return {name: rng.random((steps, batch) + tuple(shape)) < 0.15
            for name, (shape, source) in module.INPUTS.items() if source == "data"}


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("case", sorted(CASES))
def test_numba_and_numpy_kernels_agree_bit_for_bit(case, dtype, tmp_path):
    build, steps = CASES[case]
    net = build()
    assert net is not None
    fast, slow = both(net, tmp_path)
    batch = 2
    inputs = data_inputs(fast, steps, batch)
    record = [k for k in fast.VARIABLES if k.split(".")[-1] in ("s", "v", "i", "a")
              or k.count(".") == 1 and "->" in k]
    targets = {}
    for loss in net.losses:
        targets[loss.population] = np.random.default_rng(5).random(
            (steps, batch, net.node(loss.population).size))
    runs = []
    for module in (fast, slow):
        sim = module.Simulation(batch=batch, dtype=dtype)
        runs.append(sim.run(steps, inputs, record=record, targets=dict(targets)))
    a, b = runs
    spikes = [k for k in record if k.endswith(".s") and k.split(".")[0] in
              {p.name for p in net.populations()}]
    assert sum(int(a[k].sum()) for k in spikes) > 0, "nothing spiked: a weak test"
    assert set(a) == set(b)
    for key in a:
        assert a[key].dtype == b[key].dtype, key
        assert np.array_equal(a[key], b[key], equal_nan=True), key
    if case in ("eprop_alif", "superspike", "stdp"):  # the rules ran and moved the weights
        before = fast.Simulation(batch=batch, dtype=dtype)
        assert any(not np.array_equal(a[name + ".w"], getattr(before, attribute))
                   for name, attribute in fast.WEIGHTS.items())


def oracle(steps, x, w, a_syn, a_mem, c_in, threshold, refractory, bias):
    """The CubaLIF recurrence as the language defines it, one neuron at a time in plain
    Python: I <- a_syn I + W s[n]; V <- a_mem V + c_in (I + bias) (v_leak = 0); held at 0
    for ``refractory`` steps after a spike; spike V > threshold, reset to zero."""
    n_post = w.shape[0]
    v_out, s_out = np.zeros((steps, n_post)), np.zeros((steps, n_post), bool)
    for i in range(n_post):
        current = volt = 0.0
        left = 0
        for n in range(steps):
            current = a_syn * current + sum(w[i, j] for j in range(w.shape[1]) if x[n, j])
            volt = a_mem * volt + c_in * (current + bias[i])
            if left > 0:
                volt, left = 0.0, left - 1
            if volt > threshold[i]:
                s_out[n, i], volt, left = True, 0.0, refractory
            v_out[n, i] = volt
    return v_out, s_out


@pytest.mark.parametrize("numba", [True, False])
def test_the_kernel_follows_the_recurrence(numba, tmp_path):
    if numba:
        pytest.importorskip("numba")
    text = """network t {
  dt = 1 ms
  seed = 2
}
input x[6]
population n: CubaLIF[4] {
  tau_mem = 10 ms
  tau_syn = 4 ms
  threshold = uniform(0.3, 0.6)
  bias = uniform(0, 0.2)
  refractory = 3 ms
  reset = zero
}
x -> n: dense { weight = uniform(0, 1) }
"""
    module = load_module(compile_text(text), tmp_path, numba=numba)
    sim = module.Simulation()
    steps = 120
    x = np.random.default_rng(8).random((steps, 6)) < 0.2
    out = sim.run(steps, {"x": x}, record=["n.v", "n.s"])
    threshold = sim.p0_threshold
    bias = sim.p0_bias
    w = sim.w0
    a_syn, a_mem = np.exp(-1 / 4), np.exp(-1 / 10)
    v, s = oracle(steps, x, w, a_syn, a_mem, 1.0, threshold, 3, bias)
    assert s.sum() > 5
    assert np.array_equal(out["n.s"][:, 0], s)
    assert np.max(np.abs(out["n.v"][:, 0] - v)) < 1e-12


def test_uniform_parameters_are_literals_and_varying_ones_vectors(tmp_path):
    from snnc.backends.reference import ReferenceBackend
    net = compile_text(BRANCHES)
    source = ReferenceBackend().emit(net)["simulation.py"]
    call = source[source.index("fault = _neuron(v=self.p0_v"):]
    call = call[:call.index("if fault:")]
    assert "threshold=self.p0_threshold" in call and "a_mem=self.p0_a_mem" in call
    assert "v_leak=0.0" in call and "bias=0.0" in call and "refractory=2" in call
    assert "decays=(0.8187307530779818, 0.6065306597126334, 0.9048374180359595)" in call
    assert "u=None" in call and "adapt=None" in call and "ref=self.p0_ref" in call
    adaptive = source[source.index("fault = _neuron(v=self.p1_v"):]
    assert "adapt=self.p1_a" in adaptive[:adaptive.index("if fault:")]
    assert "_params" not in source and "_total" not in source
    # a rule reading surrogate(post.v) keeps the membrane before the reset
    superspike = compile_network(str(ROOT / "examples" / "superspike.snn"), Diagnostics())
    assert "u=self.p0_u" in ReferenceBackend().emit(superspike)["simulation.py"]


def test_the_numba_kernel_compiles_once_for_networks_of_other_sizes(tmp_path):
    """Sizes and constants are arguments: two networks of the same kernel shape (here: one
    current, refractory, no adaptation) but other sizes, decays and thresholds share one
    compiled version of ``_neuron``."""
    pytest.importorskip("numba")
    text = """network t {{
  dt = 1 ms
  seed = 2
}}
input x[{n}]
population n: LIF[{n}] {{
  tau_mem = {tau} ms
  threshold = {th}
  refractory = 2 ms
}}
x -> n: sparse(p = 0.5) {{ weight = 0.7 }}
"""
    module = load_module(compile_text(text.format(n=7, tau=10, th=0.5)), tmp_path / "a",
                         numba=True)
    other = compile_text(text.format(n=50, tau=30, th=0.2))
    from snnc.backends.reference import ReferenceBackend
    files = ReferenceBackend().emit(other)
    assert files["snnc_runtime.py"] == (tmp_path / "a" / "snnc_runtime.py").read_text()
    for size in (7, 50):
        sim = module.Simulation() if size == 7 else load_module(other, tmp_path / "b",
                                                                numba=True).Simulation()
        sim.step.__func__.__globals__["_neuron"] = module._neuron  # one runtime for both
        x = np.random.default_rng(size).random((30, size)) < 0.3
        sim.run(30, {"x": x}, record=["n.s"])
    assert len(module._neuron.signatures) == 1
