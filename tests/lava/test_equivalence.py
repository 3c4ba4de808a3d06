"""Lava runs the emitted programs step for step like the reference simulator.

The reference simulator runs with ``--delivery next_step`` (Lava's convention: every
connection adds one step). In floating point the spike trains must be identical and voltages
and learned weights agree to 1e-9.
"""

from __future__ import annotations

import pathlib
import subprocess

import numpy as np
import pytest

EXAMPLES = pathlib.Path(__file__).resolve().parents[2] / "examples"


def assert_same(reference: dict, lava: dict, keys, tolerance: float = 1e-9) -> None:
    for key in keys:
        ours, theirs = reference[key], lava[key]
        assert ours.shape == theirs.shape, key
        if ours.dtype == bool:
            assert theirs.dtype == bool
            mismatch = np.argwhere(ours != theirs)
            assert len(mismatch) == 0, f"{key}: first difference at {mismatch[0].tolist()}"
        else:
            np.testing.assert_allclose(theirs, ours, rtol=0, atol=tolerance, err_msg=key)


def test_stdp_learns_as_the_reference(programs):
    """STDP on Loihi's learning engine: spikes identical for 1000 steps, weights to 1e-9."""
    source = EXAMPLES / "stdp.snn"
    lava = programs.lava(programs.compile(source, "stdp"), 1000)
    reference = programs.reference(source, 1000, "out.s,out.v")
    assert reference["out.s"].sum() > 20  # enough post spikes for potentiation to matter
    initial = programs.reference(source, 1, "out.s")["poisson_in->out.w"]
    change = np.abs(reference["poisson_in->out.w"] - initial).max()
    assert change > 1e-3  # the weights really moved
    assert_same(reference, lava, ["out.s", "out.v", "poisson_in->out.w"])


def test_recurrent_network(programs):
    source = EXAMPLES / "balanced_ei.snn"
    lava = programs.lava(programs.compile(source, "ei"), 200)
    reference = programs.reference(source, 200, "exc.s,inh.s,exc.v")
    assert reference["exc.s"].sum() > 100 and reference["inh.s"].sum() > 20
    assert_same(reference, lava, ["exc.s", "inh.s", "exc.v", "exc->exc.w", "inh->exc.w"])


def test_several_synaptic_currents(programs):
    """CUBA's excitatory and inhibitory receptors: the program's CurrentsLIF2 process."""
    source = EXAMPLES / "cuba.snn"
    lava = programs.lava(programs.compile(source, "cuba"), 300)
    reference = programs.reference(source, 300, "exc.s,inh.s")
    assert reference["exc.s"].sum() > 200 and reference["inh.s"].sum() > 50
    assert_same(reference, lava, ["exc.s", "inh.s"])


def test_delayed_connections(programs):
    source = EXAMPLES / "synfire.snn"
    lava = programs.lava(programs.compile(source, "synfire"), 300)
    reference = programs.reference(source, 300, "g1.s,g2.s,g3.s,g4.s,g5.s,g5.v")
    assert all(reference[f"g{k}.s"].sum() > 50 for k in range(1, 6))
    assert_same(reference, lava, [f"g{k}.s" for k in range(1, 6)] + ["g5.v"])


def test_convolutional_network_with_data_input(programs, tmp_path):
    source = EXAMPLES / "conv_events.snn"
    spikes = np.random.default_rng(0).random((200, 2, 34, 34)) < 0.05
    data = tmp_path / "retina.npz"
    np.savez(data, retina=spikes)
    lava = programs.lava(programs.compile(source, "conv"), 200, "--input", str(data))
    reference = programs.reference(source, 200, "conv1.s,conv2.s,classes.v", "--input",
                                   str(data))
    assert reference["conv2.s"].sum() > 100
    assert_same(reference, lava, ["conv1.s", "conv2.s", "classes.v"])


HETEROGENEOUS = """
network heterogeneous {{
  dt = 1 ms
  seed = 4
}}
input drive[12]: poisson(rate = 50 Hz)
population mixed: CubaLIF[6] {{
  tau_mem = file("{tau}")
  tau_syn = 5 ms
  threshold = file("{threshold}")
  v_leak = 0.2
  v_reset = -0.1
  bias = 0.01
  reset = zero
  v_init = uniform(-0.1, 0.5)
}}
readout meter: LI[2] {{
  tau_mem = 15 ms
}}
drive -> mixed: dense {{
  weight = uniform(0, 0.6)
}}
mixed -> mixed: dense {{
  weight = uniform(-0.2, 0.2)
}}
mixed -> meter: dense {{
  weight = normal(0, 0.5)
}}
record mixed.s, mixed.v, meter.v
"""


def test_per_neuron_time_constants_split_into_processes(programs, tmp_path):
    """Neurons with different (tau, threshold) become separate LIF processes, and every
    projection is cut into the blocks between them; the network still runs identically."""
    np.save(tmp_path / "tau.npy", np.array([10, 20, 10, 30, 20, 10]) * 1e-3)
    np.save(tmp_path / "threshold.npy", np.array([1.0, 1.0, 1.0, 1.0, 0.8, 0.8]))
    source = programs.source(HETEROGENEOUS.format(tau=tmp_path / "tau.npy",
                                                  threshold=tmp_path / "threshold.npy"), "het")
    program = programs.compile(source, "het")
    network = (program / "network.py").read_text()
    for k in range(4):  # (10 ms, 1), (20 ms, 1), (30 ms, 1), (20 ms, 0.8), (10 ms, 0.8)
        assert f"procs['mixed/{k}'] = LIF(" in network
    assert "procs['mixed/5']" not in network and "procs['mixed/4']" in network
    lava = programs.lava(program, 200)
    reference = programs.reference(source, 200, "mixed.s,mixed.v,meter.v")
    assert reference["mixed.s"].sum() > 20
    assert_same(reference, lava, ["mixed.s", "mixed.v", "meter.v", "mixed->mixed.w"])


AUTONOMOUS = """
network autonomous {
  dt = 1 ms
}
population tonic: IF[3] {
  bias = 0.3
  threshold = 1
  reset = zero
}
population lonely: LIF[2] {
  tau_mem = 10 ms
  bias = 0.2
  threshold = 0.5
  reset = zero
}
readout meter: LI[1] {
  tau_mem = 5 ms
}
tonic -> meter: dense {
  weight = 1
}
record tonic.s, lonely.s, meter.v
"""


def test_autonomous_network_in_two_components(programs):
    """No inputs, biases only, IF neurons, a readout, and two unconnected parts (Lava runs
    each connected component on its own): identical in floating point, and in fixed point too
    (a bias-driven network has no rounding of inputs to accumulate)."""
    source = programs.source(AUTONOMOUS, "autonomous")
    program = programs.compile(source, "autonomous")
    reference = programs.reference(source, 50, "tonic.s,lonely.s,meter.v")
    assert reference["tonic.s"].sum() > 20 and reference["lonely.s"].sum() > 20
    assert_same(reference, programs.lava(program, 50), ["tonic.s", "lonely.s", "meter.v"])
    fixed = programs.lava(program, 50, "--precision", "fixed_pt")
    assert_same(reference, fixed, ["tonic.s", "lonely.s"])
    np.testing.assert_allclose(fixed["meter.v"], reference["meter.v"], atol=0.01)


def test_user_names_are_only_literals(programs):
    """Populations named like the program's own variables do not clash with them."""
    text = """
network procs {
  dt = 1 ms
  seed = 1
}
input np[4]: poisson(rate = 100 Hz)
population data: LIF[3] {
  tau_mem = 10 ms
  threshold = 0.5
  reset = zero
}
population build: LIF[2] {
  tau_mem = 10 ms
  threshold = 0.5
  reset = zero
}
np -> data: dense {
  weight = 0.4
}
data -> build: dense {
  weight = 0.6
}
record data.s, build.s
"""
    source = programs.source(text, "names")
    lava = programs.lava(programs.compile(source, "names"), 200)
    reference = programs.reference(source, 200, "data.s,build.s")
    assert reference["build.s"].sum() > 5
    assert_same(reference, lava, ["data.s", "build.s"])


def test_hostile_file_name_and_mapping_run_nothing_in_lava(programs):
    """A program file named `x\"\"\"; import os; os.system("touch PWNED"); \"\"\"` and a
    mapping whose target holds a line of Python: Lava imports and runs the emitted program,
    which spikes exactly as the same program under a plain name, and the payload never runs."""
    import json
    import sys

    def snnc(*args):
        return subprocess.run([sys.executable, "-m", "snnc", *args], capture_output=True,
                              text=True)

    text = (EXAMPLES / "synfire.snn").read_text()
    plain = programs.compile(programs.source(text, "plain"), "plain")
    name = 'x"""; import os; os.system("touch PWNED"); """\n#'
    source = programs.source(text, name)
    result = snnc("map", str(source), "--target", "loihi", "-o", str(programs.folder / "map"))
    assert result.returncode == 0, result.stderr
    mapping = json.loads((programs.folder / "map" / "mapping.json").read_text())
    mapping["target"] = "loihi2\nimport os; os.system('touch PWNED')\n#"
    evil = programs.folder / "evil.json"
    evil.write_text(json.dumps(mapping))
    out = programs.folder / ("out " + name)
    result = snnc("compile", str(source), "--emit", "lava", "--mapping", str(evil), "-o",
                  str(out))
    assert result.returncode == 0, result.stderr
    spikes = programs.lava(out, 100)
    assert spikes["g1.s"].sum() > 0
    assert_same(programs.lava(plain, 100), spikes, ["g1.s", "g5.s"])
    assert not list(programs.folder.rglob("PWNED"))


def close_in_fixed_point(reference: dict, fixed: dict, keys) -> None:
    """Per population the spike count is within 5 % and at least 90 % of the spikes fall within
    one step of a reference spike."""
    for key in keys:
        ours, theirs = reference[key][:, 0], fixed[key][:, 0]
        assert ours.sum() > 30, key
        assert abs(int(theirs.sum()) - int(ours.sum())) <= 0.05 * ours.sum(), key
        padded = np.pad(ours, ((1, 1), (0, 0)))
        near = padded[:-2] | padded[1:-1] | padded[2:]
        assert (theirs & near).sum() >= 0.9 * theirs.sum(), key


def test_fixed_point_with_refractory_periods_and_delays(programs):
    """Lava 0.10.0 has no fixed-point LIFRefractory: the program brings one (models.py)."""
    source = EXAMPLES / "synfire.snn"
    fixed = programs.lava(programs.compile(source, "synfire"), 300, "--precision", "fixed_pt")
    reference = programs.reference(source, 300, "g1.s,g3.s,g5.s")
    close_in_fixed_point(reference, fixed, ["g1.s", "g3.s", "g5.s"])


def test_fixed_point_feedforward_spikes_within_one_step(programs):
    """Fixed point (8-bit weights, 12-bit decays, 24-bit state) on a feed-forward network:
    stated tolerance, measured here: per population the spike count is within 5 % of the
    floating-point reference and at least 90 % of the spikes fall within one step of one."""
    text = """
network feedforward {
  dt = 1 ms
  seed = 9
}
input drive[40]: poisson(rate = 30 Hz)
population hidden: CubaLIF[30] {
  tau_mem = 20 ms
  tau_syn = 5 ms
  threshold = 1
  reset = zero
}
population out: LIF[10] {
  tau_mem = 10 ms
  threshold = 1
  reset = zero
}
drive -> hidden: dense {
  weight = uniform(0, 0.3)
}
hidden -> out: dense {
  weight = uniform(-0.2, 0.6)
}
record hidden.s, out.s
"""
    source = programs.source(text, "feedforward")
    fixed = programs.lava(programs.compile(source, "feedforward"), 200, "--precision", "fixed_pt")
    reference = programs.reference(source, 200, "hidden.s,out.s")
    close_in_fixed_point(reference, fixed, ["hidden.s", "out.s"])


@pytest.mark.parametrize("example, steps", [("balanced_ei", 200), ("cuba", 300)])
def test_fixed_point_recurrent_rates(programs, example, steps):
    """A recurrent network is chaotic: in fixed point only its population rates are kept
    (stated tolerance: spike counts within 10 %). CUBA also checks the program's fixed-point
    CurrentsLIF2 (two 24-bit currents)."""
    source = EXAMPLES / f"{example}.snn"
    fixed = programs.lava(programs.compile(source, example), steps, "--precision", "fixed_pt")
    reference = programs.reference(source, steps, "exc.s,inh.s")
    for key in ("exc.s", "inh.s"):
        count, ours = int(fixed[key].sum()), int(reference[key].sum())
        assert ours > 50
        assert abs(count - ours) <= 0.1 * ours, (key, count, ours)


MIXED = """network mixed {
  dt = 1 ms
  seed = 1
}
rule signed(lr = 0.01, tau = 20 ms) {
  trace x = lowpass(pre.s, tau)
  on post: dw = x
  bounds = [-1, 1]
}
input x[4]: poisson(rate = 20 Hz)
population p: LIF[2] {
  tau_mem = 10 ms
}
x -> p: dense {
  weight = 0.1
  learn signed()
}
"""


def test_fixed_point_refused_with_the_reason(programs):
    program = programs.compile(programs.source(MIXED, "mixed"), "mixed")
    result = subprocess.run([programs.python, "run.py", "--steps", "10", "--precision",
                             "fixed_pt"], cwd=program, capture_output=True, text=True)
    assert result.returncode == 1
    assert "run.py: error: this program cannot run in fixed point: signed on x->p: weights of " \
        "both signs" in result.stderr
