"""``snnc train --delivery next_step`` trains the network the Lava and NEST programs run (a
spike reaches its target one step later): the online rules' weights are those of the
simulator's own next_step run, stepped sample batch by sample batch (an independent loop over
the generated Simulation, as tests/lava/test_eprop_lava.py's reference_training), and differ
from same_step's; the exact oracles compute the gradient of the next_step network (BPTT's is
RTRL's); the checkpoint records the delivery and --resume with another one is E623."""

from __future__ import annotations

import json

import numpy as np
import pytest
from test_training import DATA, DELTA, network

import snnc
from snnc.api import compile_network
from snnc.backends.reference.runner import load_simulation
from snnc.cli import main
from snnc.diagnostics import Diagnostics
from snnc.training.archive import load_npz, save_npz
from snnc.training.data import load
from snnc.training.engines import OracleEngine
from snnc.training.setup import method

EPROP = "learn eprop(lr = 5e-3, readout = out)"
STEP_LOSS = "loss cross_entropy(out.v)"
SEED, BATCH = 5, 8


def train(path, output, *extra, epochs=1):
    return main(["train", path, "--data", DATA, "--epochs", str(epochs), "--batch",
                 str(BATCH), "-o", str(output), *extra])


def simulator_training(path: str, delivery: str) -> dict[str, np.ndarray]:
    """The weights after one epoch of --update step: the generated Simulation of ``delivery``
    run with learn=True over the training split in the trainer's order (default_rng([seed,
    1]).permutation, whole batches), one persistent simulation."""
    net = compile_network(path, Diagnostics())
    data = load(DATA, net, Diagnostics())
    module = load_simulation(net, delivery)
    sim = module.Simulation(batch=BATCH, seed=SEED)
    x, labels = data.spikes["train"], data.labels["train"]
    order = np.random.default_rng([SEED, 1]).permutation(len(labels))
    for k in range(len(labels) // BATCH):
        batch = order[k * BATCH:(k + 1) * BATCH]
        sim.reset()
        sim.run(x.shape[0], {"units": x[:, batch]}, learn=True,
                targets={"out": labels[batch], "label": labels[batch]})
    return {name: getattr(sim, attr).copy() for name, attr in module.WEIGHTS.items()}


def test_online_training_with_next_step_is_the_simulators_next_step_run(tmp_path):
    path = network(tmp_path, rule=EPROP, readout=DELTA, loss=STEP_LOSS, hidden=8)
    runs = {}
    for delivery in ("next_step", "same_step"):
        assert train(path, tmp_path / delivery, "--update", "step", "--delivery",
                     delivery) == 0
        runs[delivery] = load_npz(tmp_path / delivery / "checkpoint.npz")
        assert runs[delivery]["delivery"].item() == delivery
        expected = simulator_training(path, delivery)
        for name, w in expected.items():
            np.testing.assert_allclose(runs[delivery][name + ".w"], w, rtol=0, atol=1e-12,
                                       err_msg=f"{name}, {delivery}")
    for name in expected:
        difference = np.abs(runs["next_step"][name + ".w"] - runs["same_step"][name + ".w"])
        assert difference.max() > 1e-6, name  # the convention matters to what is learned


def test_the_oracles_differentiate_the_next_step_network():
    """The forward pass is the next_step simulator's; BPTT's gradient is RTRL's (another
    algorithm) and not same_step's."""
    import tempfile
    from pathlib import Path
    with tempfile.TemporaryDirectory() as folder:
        path = network(Path(folder), hidden=6)
        net = compile_network(path, Diagnostics())
    training = method(net, Diagnostics())
    x = np.random.default_rng(0).random((30, 4, 8)) < 0.2
    labels = np.array([0, 1, 2, 1])
    engines = {d: OracleEngine(net, training, d) for d in ("next_step", "same_step")}
    module = load_simulation(net, "next_step")
    sim = module.Simulation(batch=4)
    for name, attr in module.WEIGHTS.items():
        engines["next_step"].weights[name][...] = getattr(sim, attr)
        engines["same_step"].weights[name][...] = getattr(sim, attr)
    out = sim.run(30, {"units": x}, record=["out.v"], learn=False)
    model = engines["next_step"].model
    readout = model.readout_values(model.forward({"units": x.astype(float)}))
    np.testing.assert_array_equal(readout, out["out.v"].reshape(readout.shape))
    _, bptt = engines["next_step"].gradient(x, labels, "bptt")
    _, rtrl = engines["next_step"].gradient(x, labels, "rtrl")
    _, same = engines["same_step"].gradient(x, labels, "bptt")
    for name in bptt:
        np.testing.assert_allclose(bptt[name], rtrl[name], rtol=1e-8, atol=1e-12)
        assert np.abs(bptt[name] - same[name]).max() > 1e-6, name


def test_a_bptt_run_records_its_delivery_and_its_frozen_program_runs_so(tmp_path, capsys):
    path = network(tmp_path, hidden=6)
    data = str(tmp_path / "data.npz")
    assert train(path, tmp_path / "run", "--delivery", "next_step", "--save-data", data) == 0
    assert "(trained with --delivery next_step: run it so)" in capsys.readouterr().out
    log = json.loads((tmp_path / "run" / "log.json").read_text())
    assert log["delivery"] == "next_step" and log["mode"] == "bptt"
    logged = log["epochs"][-1]["test"]["accuracy"]
    assert main(["run", str(tmp_path / "run" / "frozen.snn"), "--input", data, "--split",
                 "test", "--delivery", "next_step"]) == 0
    assert f"accuracy {100 * logged:.1f} %" in capsys.readouterr().out


def test_resume_with_another_delivery_is_refused(tmp_path, capsys):
    path = network(tmp_path, hidden=6)
    assert train(path, tmp_path / "run", "--delivery", "next_step") == 0
    capsys.readouterr()
    assert train(path, tmp_path / "run", "--resume", epochs=2) == 1
    err = capsys.readouterr().err
    assert "error[E623]: cannot resume: the checkpoint was trained with --delivery next_step, " \
           "this run has --delivery same_step" in err
    assert "hint: resume with --delivery next_step" in err and "Traceback" not in err
    assert train(path, tmp_path / "run", "--resume", "--delivery", "next_step", epochs=2) == 0


def test_a_checkpoint_without_a_delivery_was_same_step(tmp_path, capsys):
    path = network(tmp_path, hidden=6)
    assert train(path, tmp_path / "run") == 0
    checkpoint = tmp_path / "run" / "checkpoint.npz"
    state = dict(load_npz(checkpoint))
    assert state.pop("delivery").item() == "same_step"
    save_npz(str(checkpoint), state)  # as written before --delivery existed
    assert train(path, tmp_path / "run", "--resume", "--delivery", "next_step", epochs=2) == 1
    assert "trained with --delivery same_step" in capsys.readouterr().err
    assert train(path, tmp_path / "run", "--resume", epochs=2) == 0


def test_help_and_the_python_api(capsys, tmp_path):
    with pytest.raises(SystemExit):
        main(["train", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "--delivery {same_step,next_step}" in text
    assert "next_step, the convention of the Lava and NEST programs" in text
    with pytest.raises(ValueError, match="delivery must be one of same_step, next_step"):
        snnc.train(network(tmp_path), data=DATA, epochs=1, out=tmp_path / "x",
                   delivery="later")


def test_compare_every_uses_the_exact_gradient_of_the_same_delivery(tmp_path):
    """The BPTT oracle of --compare-every runs the network of the training's delivery: its
    forward pass at the trained weights is the next_step simulator's. (Under next_step the
    delta rule's batch sum is no longer exactly the readout's gradient, as it is under
    same_step: the synapse sees pre.s one step before the readout does, README "Numerical
    conventions"; measured cosine 0.9997 against 1.)"""
    from snnc.training.session import Options, prepare
    path = network(tmp_path, rule="learn eprop_symmetric(lr = 1e-2, readout = out)",
                   readout=DELTA, loss="loss cross_entropy(out.v)")
    net = compile_network(path, Diagnostics())
    diag = Diagnostics()
    session = prepare(net, Options(DATA, str(tmp_path / "run"), 1, BATCH, compare_every=3,
                                   delivery="next_step"), diag)
    assert session is not None, [d.message for d in diag.errors()]
    reference, engine = session.trainer.reference, session.trainer.engine
    assert reference is not engine
    x = np.random.default_rng(0).random((30, 4, 8)) < 0.2
    for name, w in engine.weights.items():
        reference.weights[name][...] = w
    module = load_simulation(net, "next_step")
    sim = module.Simulation(batch=4)
    for name, attr in module.WEIGHTS.items():
        getattr(sim, attr)[...] = engine.weights[name]
    out = sim.run(30, {"units": x}, record=["out.v"], learn=False)
    readout = reference.model.readout_values(reference.model.forward({"units": x.astype(float)}))
    np.testing.assert_array_equal(readout, out["out.v"].reshape(readout.shape))
