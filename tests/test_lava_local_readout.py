"""DECOLLE's local readout in the Lava backend, without Lava (issue 17): the fixed random
readout R and the error the program's LocalReadout computes are the reference simulator's, the
rule becomes e-prop's form on the engine (its trace of a trace a cascade of two pre traces), the
program wires the layer's spikes to the LocalReadout and its signal back to the layer port to
port, and what the backend cannot do is refused with the reason (fixed point, a split layer)."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from snnc import api
from snnc.backends.lava import feedback as fb
from snnc.backends.lava import local_readout as lo
from snnc.backends.reference.runner import load_simulation
from snnc.cli import main
from snnc.diagnostics import Diagnostics
from snnc.ir.discrete import decay

DECOLLE = "examples/randman/decolle.snn"


@pytest.fixture(scope="module")
def decolle():
    diag = Diagnostics()
    net = api.compile_network(DECOLLE, diag)
    assert net is not None and not diag.has_errors
    return net, load_simulation(net, "next_step")


def test_local_matrix_is_the_simulators(decolle):
    net, module = decolle
    sim = module.Simulation(batch=1)
    checked = 0
    for name, attribute in module.WEIGHTS.items():
        instance = net.projection(name).rules[0]
        if instance.rule.signals[0].generator.kind != "local_readout":
            continue
        given = getattr(sim, f"{attribute}_r0_local")
        assert given.shape == (10, 64)
        np.testing.assert_array_equal(
            lo.local_matrix(net.settings.seed, name, instance.rule.name, 10, 64), given)
        checked += 1
    assert checked == 2


@pytest.mark.parametrize("loss", ["mse", "cross_entropy"])
def test_local_error_is_the_simulators(decolle, loss):
    _, module = decolle
    sim = module.Simulation(batch=3)
    labels = np.array([0, 4, 9])
    sim.targets = {"label": labels}
    y = np.random.default_rng(2).normal(0, 2, (3, 10))
    runtime = __import__(type(sim).__mro__[1].__module__, fromlist=["_local_error"])
    expected = runtime._local_error(y, sim._labels(0, 10), loss)
    for b in range(3):
        np.testing.assert_allclose(lo.local_error(y[b], int(labels[b]), loss), expected[b],
                                   rtol=0, atol=1e-15)
    np.testing.assert_array_equal(lo.local_error(y[0], -1, "mse"), y[0])  # no label: zero target


def test_decolle_becomes_a_cascade_of_two_pre_traces(decolle):
    """q = lowpass(pre.s, tau_syn), p = lowpass(q, tau_mem): p is the cascade 1/((1 - aX)(1 -
    bX)), two engine traces whose impulses are the partial fractions times lr (q itself takes
    no trace); dw = -lr L psi p."""
    net, _ = decolle
    projection = net.projection("units->hidden")
    rule = fb.translate(net, projection, projection.rules[0], 1.0, "y2").rule
    assert rule.dw == "x1 * y1 * y2 * u0 - x2 * y1 * y2 * u0"
    a, b = (float(decay(net.settings, tau)) for tau in (10e-3, 20e-3))
    (decay_a, c_a), (decay_b, c_b) = fb.cascade([a, b], 1.0)
    x1, x2 = rule.traces
    assert (x1.slot, x2.slot) == ("x1", "x2")
    # dw = -lr (c_a x1' + c_b x2') L psi: the signs go into the products, the rest into the
    # impulses (x1 enters with +, x2 with -)
    np.testing.assert_allclose([x1.impulse, -x2.impulse], [-2e-4 * c_a, -2e-4 * c_b],
                               rtol=1e-12)
    np.testing.assert_allclose([np.exp(-1 / x1.tau), np.exp(-1 / x2.tau)], [decay_a, decay_b],
                               rtol=1e-12)
    # the cascade's impulse response is lowpass(lowpass(s)) of the simulator
    steps = 40
    q = p = 0.0
    z = np.zeros(2)
    for n in range(steps):
        s = 1.0 if n == 0 else 0.0
        q = a * q + s
        p = b * p + q
        z = np.array([decay_a, decay_b]) * z + s
        assert abs(z @ np.array([c_a, c_b]) - p) < 1e-12


def test_the_program_wires_the_local_readouts(tmp_path):
    source = tmp_path / "decolle.snn"
    shutil.copy(DECOLLE, source)
    shutil.copy("examples/randman/common.snn", tmp_path / "common.snn")
    code = main(["compile", str(source), "--emit", "lava", "-o", str(tmp_path / "p")])
    assert code == 0
    network = (tmp_path / "p" / "network.py").read_text()
    for projection, slot in (("units->hidden", "y2"), ("hidden->hidden", "y3")):
        name = f"local readout of {projection}"
        assert f"procs['{name}'] = LocalReadout(" in network
        assert f"procs['hidden'].s_out.connect(procs['{name}'].s_in)" in network
        assert f"procs['{name}'].l_out.connect(procs['hidden'].a_third_{slot})" in network
    with np.load(tmp_path / "p" / "network.npz") as data:
        assert data["local/local readout of units->hidden"].shape == (10, 64)
    models = (tmp_path / "p" / "models.py").read_text()
    assert "class LocalReadout(AbstractProcess)" in models
    report = json.loads((tmp_path / "p" / "quantization.json").read_text())
    assert any("local readout's signal is computed in floating point only" in b
               for b in report["blockers"])
    assert "LocalReadout" in (tmp_path / "p" / "process_graph.dot").read_text()


def test_a_split_layer_is_refused(tmp_path, capsys):
    """Per-neuron membrane time constants split the layer into one Lava process per value;
    one LocalReadout per layer cannot serve them: E513 with the reason."""
    text = open(DECOLLE).read().replace("population hidden: Hidden[64]",
                                        "population hidden: Hidden[64] {\n  tau_mem = "
                                        "uniform(10 ms, 30 ms)\n}")
    source = tmp_path / "split.snn"
    source.write_text(text)
    shutil.copy("examples/randman/common.snn", tmp_path / "common.snn")
    code = main(["compile", str(source), "--emit", "lava", "-o", str(tmp_path / "p")])
    err = capsys.readouterr().err
    assert code == 1, err
    assert "E513" in err and "'hidden' is split into 64 Lava processes" in err
    assert not (tmp_path / "p").exists()
