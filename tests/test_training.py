"""``snnc train``: exact oracles and online rules learn a tiny Randman problem, the same seed
gives byte-identical files, a resumed run repeats an uninterrupted one, exact RTRL's gradient
is BPTT's on the same mini-batch, and every user mistake is a diagnostic."""

import json
from pathlib import Path

import numpy as np
import pytest

from snnc.cli import main
from snnc.training.archive import load_npz, save_npz

DATA = "randman:classes=3,units=8,samples=40,steps=30,seed=2"

NETWORK = """# A tiny Randman classifier for the tests.
network tiny {{
  dt = 1 ms
  seed = 5
}}
input units[8]
population hidden: CubaLIF[{hidden}] {{
  tau_mem = 20 ms
  tau_syn = 10 ms
  threshold = 1
  reset = subtract
  surrogate = fast_sigmoid(beta = 10)
}}
readout out: LI[3] {{ tau_mem = 20 ms }}
units -> hidden: dense {{ weight = normal(0, 0.3)
  {rule} }}
hidden -> hidden: dense {{ weight = normal(0, 0.02)
  {rule} }}
hidden -> out: dense {{ weight = normal(0, 0.1)
  {readout} }}
{loss}
"""

BPTT = "learn bptt(lr = 1e-2, readout = out)"
DELTA = "learn delta(lr = 1e-2, readout = out)"
LOSS = "loss cross_entropy(sum_over_time(out.v))"


def network(tmp_path, rule=BPTT, readout=DELTA, loss=LOSS, hidden=16, name="net.snn"):
    path = tmp_path / name
    path.write_text(NETWORK.format(rule=rule, readout=readout, loss=loss, hidden=hidden))
    return str(path)


def train(path, output, *extra, epochs=3, batch=8):
    return main(["train", path, "--data", DATA, "--epochs", str(epochs), "--batch", str(batch),
                 "-o", str(output), *extra])


def log(output):
    return json.loads((output / "log.json").read_text())


def test_bptt_learns_and_the_same_seed_gives_byte_identical_files(tmp_path, capsys):
    path = network(tmp_path)
    assert train(path, tmp_path / "a", epochs=4) == 0
    assert train(path, tmp_path / "b", epochs=4) == 0
    for name in ("log.json", "checkpoint.npz"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()
    epochs = log(tmp_path / "a")["epochs"]
    assert epochs[-1]["train"]["loss"] < 0.8 * epochs[0]["train"]["loss"]
    assert epochs[-1]["validation"]["accuracy"] > 0.6  # chance is 1/3
    assert "epoch   4" in capsys.readouterr().out
    checkpoint = load_npz(tmp_path / "a" / "checkpoint.npz")
    assert int(checkpoint["epoch"]) == 4 and checkpoint["hidden->out.w"].shape == (3, 16)


def test_another_seed_gives_other_weights(tmp_path):
    path = network(tmp_path)
    assert train(path, tmp_path / "a", epochs=1) == 0
    assert train(path, tmp_path / "b", "--seed", "6", epochs=1) == 0
    a, b = (load_npz(tmp_path / k / "checkpoint.npz") for k in "ab")
    assert not np.array_equal(a["units->hidden.w"], b["units->hidden.w"])


@pytest.mark.parametrize("rule, update", [(BPTT, "batch"),
                                          ("learn eprop_symmetric(lr = 5e-3, readout = out)",
                                           "batch"),
                                          ("learn eprop_symmetric(lr = 5e-3, readout = out)",
                                           "step")])
def test_a_resumed_run_repeats_an_uninterrupted_one(tmp_path, rule, update):
    path = network(tmp_path, rule=rule)
    update = ("--update", update)
    assert train(path, tmp_path / "whole", *update, epochs=2) == 0
    assert train(path, tmp_path / "parts", *update, epochs=1) == 0
    assert train(path, tmp_path / "parts", *update, "--resume", epochs=2) == 0
    for name in ("log.json", "checkpoint.npz"):
        assert (tmp_path / "whole" / name).read_bytes() == (tmp_path / "parts" / name).read_bytes()


def test_exact_rtrl_gradient_is_bptt_gradient_on_the_same_mini_batch(tmp_path):
    path = network(tmp_path, rule="learn rtrl(lr = 1e-2, readout = out)", hidden=6)
    assert train(path, tmp_path / "rtrl", "--compare-every", "1", epochs=1) == 0
    record = log(tmp_path / "rtrl")
    assert record["mode"] == "rtrl"
    compare = record["epochs"][0]["compare"]
    assert compare["batches"] == 12  # 96 training samples, batches of 8
    assert compare["max_relative_difference"] < 1e-8
    assert compare["cosine"] == pytest.approx(1.0, abs=1e-12)


@pytest.mark.parametrize("rule", ["learn eprop_symmetric(lr = 5e-3, readout = out)",
                                  "learn eprop(lr = 5e-3, readout = out)",
                                  "learn superspike(lr = 5e-3, readout = out)",
                                  "learn decolle(lr = 5e-3, readout_size = 3)"])
def test_online_rules_learn_step_by_step_and_are_compared_with_the_exact_gradient(tmp_path,
                                                                                 rule):
    path = network(tmp_path, rule=rule, loss="loss cross_entropy(out.v)")
    assert train(path, tmp_path / "run", "--compare-every", "3", "--update", "step",
                 epochs=2) == 0
    record = log(tmp_path / "run")
    assert record["mode"] == "online" and record["update"] == "step"
    epochs = record["epochs"]
    assert epochs[-1]["train"]["accuracy"] > 0.45  # chance is 1/3
    compare = epochs[-1]["compare"]
    assert compare["batches"] == 4
    assert sorted(compare["per_projection"]) == ["hidden->hidden", "hidden->out", "units->hidden"]
    # the delta rule is the exact gradient for the readout, up to the drift of the hidden
    # layer's weights within the batch
    assert compare["per_projection"]["hidden->out"] > 0.5
    assert -1 <= compare["cosine"] <= 1


def test_batch_updates_are_summed_at_fixed_weights_and_applied_by_adam(tmp_path):
    rule = "learn eprop_symmetric(lr = 1e-2, readout = out)"
    path = network(tmp_path, rule=rule, readout="learn delta(lr = 1e-2, readout = out)",
                   loss="loss cross_entropy(out.v)")
    assert train(path, tmp_path / "run", "--compare-every", "3", epochs=8) == 0
    record = log(tmp_path / "run")
    assert record["update"] == "batch"
    epochs = record["epochs"]
    assert epochs[-1]["train"]["loss"] < 0.8 * epochs[0]["train"]["loss"]
    assert epochs[-1]["validation"]["accuracy"] > 0.6  # chance is 1/3
    # at fixed weights the delta rule's sum over a batch is the readout's exact gradient
    for epoch in epochs:
        assert epoch["compare"]["per_projection"]["hidden->out"] == pytest.approx(1, abs=1e-9)
    # the hidden layers' estimate points along the exact gradient, not exactly
    assert 0.3 < epochs[-1]["compare"]["per_projection"]["units->hidden"] < 0.999
    checkpoint = load_npz(tmp_path / "run" / "checkpoint.npz")
    assert int(checkpoint["adam.t"]) == 8 * 12  # one Adam step per batch


def test_accumulating_simulation_keeps_its_weights_and_sums_the_steps(tmp_path):
    from snnc.api import compile_network
    from snnc.backends.reference.runner import load_simulation
    from snnc.diagnostics import Diagnostics

    net = compile_network(network(tmp_path, rule="learn eprop_symmetric(lr = 1e-2, readout = out)",
                              loss="loss cross_entropy(out.v)"), Diagnostics())
    module = load_simulation(net)
    x = np.random.default_rng(0).random((30, 4, 8)) < 0.1
    targets = {"out": np.array([0, 1, 2, 1])}
    # one step: the sum is that step's update
    single, summed = module.Simulation(batch=4), module.Simulation(batch=4)
    before = {name: getattr(single, attribute).copy() for name, attribute in module.WEIGHTS.items()}
    stepped = single.run(1, {"units": x}, targets=targets)
    accumulated = summed.run(1, {"units": x}, targets=targets, accumulate=True)
    for name in module.WEIGHTS:
        assert np.allclose(accumulated[name + ".dw"], stepped[name + ".w"] - before[name],
                           rtol=0, atol=1e-15)
    assert np.abs(accumulated["units->hidden.dw"]).max() > 0  # no recurrent spikes yet
    # many steps: the weights stay as they were and the readout sees no learning
    fresh, frozen = module.Simulation(batch=4), module.Simulation(batch=4)
    learned = fresh.run(30, {"units": x}, record=["out.v"], targets=targets, accumulate=True)
    fixed = frozen.run(30, {"units": x}, record=["out.v"], targets=targets, learn=False)
    assert np.array_equal(learned["out.v"], fixed["out.v"])
    for name in module.WEIGHTS:
        assert np.array_equal(learned[name + ".w"], fixed[name + ".w"])
        assert np.abs(learned[name + ".dw"]).max() > 0


def test_learning_curves_and_the_data_file_round_trip(tmp_path):
    pytest.importorskip("matplotlib")
    path = network(tmp_path)
    assert train(path, tmp_path / "a", "--save-data", str(tmp_path / "data.npz"), epochs=1) == 0
    assert (tmp_path / "a" / "curves.png").read_bytes()[:4] == b"\x89PNG"
    assert main(["train", path, "--data", str(tmp_path / "data.npz"), "--epochs", "1",
                 "--batch", "8", "-o", str(tmp_path / "b")]) == 0
    assert (tmp_path / "a" / "log.json").read_text().replace(DATA, "D") == \
        (tmp_path / "b" / "log.json").read_text().replace(str(tmp_path / "data.npz"), "D")


def bad_file(tmp_path):
    arrays = {f"{s}.units": np.zeros((30, 4, 5), bool) for s in ("train", "validation", "test")}
    arrays.update({f"{s}.label": np.zeros(4, np.int64) for s in ("train", "validation", "test")})
    save_npz(str(tmp_path / "bad.npz"), arrays)
    return str(tmp_path / "bad.npz")


@pytest.mark.parametrize("case, code, message", [
    ("option", "E620", "randman has no option 'clases'"),
    ("value", "E620", "randman option samples='many' is not a whole number"),
    ("generator", "E620", "unknown data generator 'randmen'"),
    ("file", "E621", "the data have 5 channels; input 'units' has 8"),
    ("missing", "E601", "cannot read data file"),
    ("loss", "E622", "needs exactly one 'loss cross_entropy(...)'"),
    ("mixed", "E622", "mix training methods"),
    ("resume", "E623", "cannot resume"),
    ("update", "E622", "--update step needs online rules"),
])
def test_user_mistakes_are_diagnostics(tmp_path, capsys, case, code, message):
    path = network(tmp_path, loss="" if case == "loss" else LOSS)
    if case == "mixed":  # bptt into the hidden layer from the inputs, e-prop in the recurrence
        text = (tmp_path / "net.snn").read_text()
        (tmp_path / "net.snn").write_text(text.replace("0.02)\n  learn bptt", "0.02)\n  learn eprop"))
    data = {"option": "randman:clases=3", "generator": "randmen:classes=3",
            "value": "randman:samples=many",
            "file": bad_file(tmp_path), "missing": str(tmp_path / "none.npz")}.get(case, DATA)
    extra = {"resume": ["--resume"], "update": ["--update", "step"]}.get(case, [])
    status = main(["train", path, "--data", data, "--epochs", "1", "--batch", "4",
                   "-o", str(tmp_path / "out"), *extra])
    err = capsys.readouterr().err
    assert status == 1, err
    assert f"error[{code}]" in err and message in err, err
    assert "Traceback" not in err
    if case == "option":
        assert "did you mean 'classes'" in err


EXPERIMENT = sorted((Path(__file__).parent.parent / "examples" / "randman").glob("*.snn"))


@pytest.mark.parametrize("path", EXPERIMENT, ids=lambda p: p.name)
def test_the_experiment_networks_compile_and_name_their_method(path):
    from snnc.api import compile_network
    from snnc.diagnostics import Diagnostics
    from snnc.training.setup import method

    diag = Diagnostics()
    net = compile_network(str(path), diag)
    if path.name == "common.snn":  # models and rules only
        assert net is not None and not net.projections()
        return
    assert net is not None and not diag.has_errors
    expected = {"bptt.snn": "bptt", "rtrl.snn": "rtrl"}.get(path.name, "online")
    found = method(net, diag)
    assert found.mode == expected
    learning = ["hidden->hidden", "hidden->out", "units->hidden"]
    if path.name == "decolle_input_ce.snn":  # its recurrent weights stay fixed
        learning.remove("hidden->hidden")
    assert sorted(found.rates) == learning


def test_resuming_with_another_network_size_is_a_diagnostic(tmp_path, capsys):
    rule = "learn eprop(lr = 1e-3, readout = out)"
    assert train(network(tmp_path, rule=rule), tmp_path / "run", epochs=1) == 0
    bigger = network(tmp_path, rule=rule, hidden=17, name="bigger.snn")
    assert train(bigger, tmp_path / "run", "--resume", epochs=2) == 1
    err = capsys.readouterr().err
    assert "error[E623]" in err and "does not fit" in err and "Traceback" not in err
