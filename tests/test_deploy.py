"""From training to deployment (issue 15): the trained weights go into ``snnc run``,
``compile`` and ``map`` (``--weights``, one key convention ``<projection>.w``), the frozen
program of ``snnc train`` runs like any program, ``--no-learn`` drops every rule (oracles
included), and ``snnc run`` reads the training data layout and reports the trainer's accuracy.

The oracle for the accuracy is the trainer itself: its logged test accuracy (its own
simulation object, its own evaluation loop) must be reproduced exactly by ``snnc run`` on the
test split, which builds the network from the program and the weight file alone; the final
weights of a frozen run must equal the checkpoint's bit for bit."""

import json
import pathlib

import numpy as np
import pytest

from snnc.backends import registry
from snnc.cli import main
from snnc.training.archive import load_npz

ROOT = pathlib.Path(__file__).resolve().parents[1]
EPROP = str(ROOT / "examples" / "randman" / "eprop_random.snn")
BPTT = str(ROOT / "examples" / "randman" / "bptt.snn")
DATA = "randman:samples=50,steps=50,seed=3"  # 500 samples of 10 classes, 20 units
PROJECTIONS = ("units->hidden", "hidden->hidden", "hidden->out")


@pytest.fixture(autouse=True)
def private_cache(monkeypatch, tmp_path):
    monkeypatch.setenv("SNNC_CACHE_DIR", str(tmp_path / "cache"))


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """eprop_random.snn trained for 3 epochs on a small Randman set: (folder, data file)."""
    folder = tmp_path_factory.mktemp("deploy")
    data = folder / "data.npz"
    assert main(["train", EPROP, "--data", DATA, "--epochs", "3", "--batch", "16",
                 "-o", str(folder / "run"), "--save-data", str(data)]) == 0
    return folder / "run", data


def run_json(capsys, *args) -> dict:
    capsys.readouterr()
    code = main(["run", *args, "--format", "json"])
    out, err = capsys.readouterr()
    assert code == 0, err
    return dict(json.loads(out), stderr=err)


def logged_test_accuracy(run: pathlib.Path) -> float:
    return json.loads((run / "log.json").read_text())["epochs"][-1]["test"]["accuracy"]


def test_run_with_the_checkpoint_reproduces_the_logged_test_accuracy(trained, capsys):
    run, data = trained
    logged = logged_test_accuracy(run)
    found = run_json(capsys, EPROP, "--weights", str(run / "checkpoint.npz"), "--input",
                     str(data), "--split", "test", "--no-learn")
    assert found["accuracy"] == logged and found["samples"] == 50
    assert "note[N501]: --no-learn: the learning rules" in found["stderr"]


def test_the_frozen_program_reproduces_it_and_keeps_the_weights(trained, capsys, tmp_path):
    run, data = trained
    text = (run / "frozen.snn").read_text()
    assert "learn" not in text.split("\n", 1)[1] and 'file("frozen.npz"' in text
    found = run_json(capsys, str(run / "frozen.snn"), "--input", str(data), "--split", "test",
                     "-o", str(tmp_path / "out.npz"))
    assert found["accuracy"] == logged_test_accuracy(run)
    checkpoint = load_npz(str(run / "checkpoint.npz"))
    out = np.load(tmp_path / "out.npz")
    for name in PROJECTIONS:  # the run output's final weights: the checkpoint's, bit for bit
        assert np.array_equal(out[f"{name}.w"], checkpoint[f"{name}.w"])
    # a snnc run output is a weight file too (same key convention)
    again = run_json(capsys, EPROP, "--weights", str(tmp_path / "out.npz"), "--input",
                     str(data), "--split", "test", "--no-learn")
    assert again["accuracy"] == found["accuracy"]


def test_old_checkpoint_keys_are_still_read(trained, capsys, tmp_path):
    run, data = trained
    state = load_npz(str(run / "checkpoint.npz"))
    old = tmp_path / "old.npz"
    np.savez(old, **{f"w.{name}": state[f"{name}.w"] for name in PROJECTIONS})
    found = run_json(capsys, EPROP, "--weights", str(old), "--input", str(data), "--split",
                     "test", "--no-learn")
    assert found["accuracy"] == logged_test_accuracy(run)


def test_map_the_trained_network_onto_chips(trained, capsys, tmp_path):
    checkpoint = str(trained[0] / "checkpoint.npz")
    for target in ("loihi2", "generic"):
        assert main(["map", EPROP, "--weights", checkpoint, "--no-learn", "--target", target,
                     "-o", str(tmp_path / target)]) == 0, capsys.readouterr().err
        assert (tmp_path / target / "mapping.json").is_file()
    capsys.readouterr()
    # truenorth: no on-chip learning (speck, which has none either, runs no leaky, recurrent
    # CubaLIF network: E405)
    assert main(["map", EPROP, "--target", "truenorth", "-o", str(tmp_path / "refused")]) == 1
    assert "error[E301]" in capsys.readouterr().err


def test_compile_applies_the_weights_for_every_backend(trained, capsys, tmp_path):
    """--weights and --no-learn reach every backend (applied to the IR before it); the
    frozen program compiles too. A backend may still refuse the dynamics (NIR: subtract
    reset) or the size (Xylo), never the rules or the weights."""
    run, _ = trained
    for backend in registry():
        for program, extra in ((BPTT, ["--weights", str(run / "checkpoint.npz"), "--no-learn"]),
                               (str(run / "frozen.snn"), [])):
            capsys.readouterr()
            code = main(["compile", program, "--emit", backend, *extra,
                         "-o", str(tmp_path / f"{backend}-{len(extra)}")])
            err = capsys.readouterr().err
            assert code in (0, 1, 2), err
            assert "E501" not in err and "E505" not in err and "E624" not in err, err
            # Xylo Audio 2 refuses the network's size (20 inputs, 10 outputs: E405)
            assert code != 1 or "reset" in err or (
                backend == "xylo" and "error[E405]" in err and "E301" not in err), err


def test_no_learn_runs_oracle_rules(trained, capsys):
    run, data = trained
    capsys.readouterr()
    assert main(["run", BPTT, "--steps", "10"]) == 1
    assert "E501" in capsys.readouterr().err
    found = run_json(capsys, BPTT, "--weights", str(run / "checkpoint.npz"), "--input",
                     str(data), "--split", "test", "--no-learn")
    assert found["accuracy"] == logged_test_accuracy(run)  # the same network, frozen


def test_weight_file_mistakes(tmp_path, capsys):
    bad = tmp_path / "bad.npz"
    np.savez(bad, **{"units->hiden.w": np.zeros((64, 20)), "hidden->out.w": np.zeros((3, 3))})
    assert main(["run", EPROP, "--weights", str(bad), "--steps", "5"]) == 1
    err = capsys.readouterr().err
    assert "error[E624]" in err and "did you mean 'units->hidden'?" in err
    assert "'hidden->out'" in err and "shape [3, 3]; expected [10, 64]" in err
    np.savez(bad, dt=np.float64(1e-3))
    assert main(["compile", EPROP, "--weights", str(bad), "-o", str(tmp_path / "c")]) == 1
    assert "holds no weights" in capsys.readouterr().err
    assert main(["map", EPROP, "--weights", str(tmp_path / "missing.npz"),
                 "-o", str(tmp_path / "m")]) == 1
    assert "E601" in capsys.readouterr().err
    np.savez(bad, **{"w.hidden->out": np.zeros((10, 64)), "hidden->out.w": np.ones((10, 64))})
    assert main(["run", EPROP, "--weights", str(bad), "--steps", "5"]) == 1
    err = capsys.readouterr().err
    assert "error[E624]" in err and "'hidden->out' twice" in err  # never a silent choice


def test_training_data_needs_a_split(trained, capsys):
    _, data = trained
    capsys.readouterr()
    assert main(["run", EPROP, "--input", str(data), "--steps", "10"]) == 1
    err = capsys.readouterr().err
    assert "error[E604]" in err and "training data file" in err and "--split" in err
    assert main(["run", EPROP, "--split", "test", "--steps", "10"]) == 2
    np.savez(data.parent / "one.npz", **{"train.units": np.zeros((10, 2, 20)),
                                         "train.label": np.zeros(2, np.int64)})
    assert main(["run", EPROP, "--input", str(data.parent / "one.npz"), "--split",
                 "test"]) == 1
    assert "has no split 'test'" in capsys.readouterr().err
    np.savez(data.parent / "other.npz", **{"test.unit": np.zeros((10, 2, 20)),
                                           "test.label": np.zeros(2, np.int64)})
    assert main(["run", EPROP, "--input", str(data.parent / "other.npz"), "--split",
                 "test"]) == 1  # never a run without input spikes
    assert "did you mean 'test.unit'?" in capsys.readouterr().err


def test_the_frozen_program_of_an_oracle(tmp_path, capsys):
    """bptt.snn trains with the exact-gradient oracle (not the simulator); its frozen program,
    run by the reference simulator, gives the logged test accuracy."""
    data = tmp_path / "data.npz"
    assert main(["train", BPTT, "--data", "randman:samples=30,steps=40,seed=4", "--epochs", "1",
                 "-o", str(tmp_path / "run"), "--save-data", str(data)]) == 0
    text = (tmp_path / "run" / "frozen.snn").read_text()
    assert "bptt(" not in text and text.count('file("frozen.npz"') == 3
    found = run_json(capsys, str(tmp_path / "run" / "frozen.snn"), "--input", str(data),
                     "--split", "test")
    assert found["accuracy"] == logged_test_accuracy(tmp_path / "run")
