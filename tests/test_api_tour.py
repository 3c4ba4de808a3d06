"""The Python API (issue 15, item 6; docs/python-api.md): ``examples/api_tour.py`` runs and
agrees with the CLI, and every function of :mod:`snnc.facade` reports mistakes as diagnostics.

The oracles are the CLI and the trainer: the tour's simulation of the test split, fed as
arrays, must give the recordings ``snnc run --input --split`` saves from the data file,
bit for bit, and the accuracy the trainer logged; its compiled folders must hold the files
``snnc compile`` writes, byte for byte."""

from __future__ import annotations

import json
import os
import pathlib
import subprocess
import sys
import warnings

import numpy as np
import pytest

import snnc
from snnc.cli import main

ROOT = pathlib.Path(__file__).resolve().parents[1]
TOUR = ROOT / "examples" / "api_tour.py"
EPROP = str(ROOT / "examples" / "randman" / "eprop_random.snn")
BALANCED = str(ROOT / "examples" / "balanced_ei.snn")  # 500 ms of 1 ms, Poisson drive


@pytest.fixture(autouse=True, scope="module")
def private_cache(tmp_path_factory):
    """One simulation cache for the module (its tests simulate the same networks)."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("SNNC_CACHE_DIR", str(tmp_path_factory.mktemp("cache")))
        yield


@pytest.fixture(scope="module")
def tour(tmp_path_factory):
    """The tour run in a subprocess from an empty folder: (its folder, its cwd, stdout)."""
    top = tmp_path_factory.mktemp("tour")
    folder, cwd = top / "out", top / "cwd"
    cwd.mkdir()
    assert os.environ["SNNC_CACHE_DIR"] not in (str(folder), str(cwd))  # the module's cache
    done = subprocess.run([sys.executable, str(TOUR), str(folder)], cwd=cwd,
                          capture_output=True, text=True, timeout=600, check=False)
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr
    return folder, cwd, done.stdout


def test_the_tour_writes_only_under_its_folder(tour):
    folder, cwd, stdout = tour
    assert list(cwd.iterdir()) == []
    assert {p.name for p in folder.iterdir()} >= {"tour.json", "data.npz", "test_run.npz",
                                                   "train", "reference", "nir"}
    assert (folder / "train" / "checkpoint.npz").is_file()
    found = json.loads((folder / "tour.json").read_text())
    assert found["summary"] in stdout and found["mistake"] == "E604"
    assert "did you mean 'units'?" in stdout
    assert found["shapes"]["hidden.s"] == [100, 4, 64] and found["shapes"]["out.v"] == [100, 4, 10]


def test_the_tour_reproduces_the_trainer_and_snnc_run(tour, capsys, tmp_path):
    folder, _, _ = tour
    found = json.loads((folder / "tour.json").read_text())
    tested = found["simulated_test_accuracy"]
    assert tested["arrays"] == tested["file"] == found["logged_test_accuracy"]
    capsys.readouterr()
    cli = tmp_path / "cli.npz"
    assert main(["run", EPROP, "--weights", found["checkpoint"], "--no-learn", "--input",
                 found["data"], "--split", "test", "--record", "hidden.s,out.v", "-o", str(cli),
                 "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out)["accuracy"] == found["logged_test_accuracy"]
    with np.load(cli) as expected, np.load(folder / "test_run.npz") as saved:
        assert sorted(expected.files) == sorted(saved.files)
        for key in expected.files:
            assert np.array_equal(expected[key], saved[key]), key
    assert tested["samples"] == 50 and tested["steps"] == 50


def test_the_tour_compiles_as_snnc_compile_does(tour, capsys, tmp_path):
    folder, _, _ = tour
    checkpoint = json.loads((folder / "tour.json").read_text())["checkpoint"]
    for backend, extra in (("reference", []), ("nir", ["--allow-lossy", "reset"])):
        out = tmp_path / backend
        assert main(["compile", EPROP, "--emit", backend, "--weights", checkpoint, "--no-learn",
                     *extra, "-o", str(out)]) == 0, capsys.readouterr().err
        names = sorted(p.name for p in out.iterdir())
        assert names == sorted(p.name for p in (folder / backend).iterdir())
        for name in names:
            assert (out / name).read_bytes() == (folder / backend / name).read_bytes(), name


def test_repr_is_a_short_summary_of_every_example():
    programs = sorted(ROOT.glob("examples/**/*.snn"))
    assert len(programs) >= 10
    for program in programs:
        net = snnc.load_network(program)
        text = repr(net)
        assert len(text) < 2000 and str(net) == text, program
        assert text.startswith(f"Network '{net.settings.name}'")
        for population in net.populations()[:net.REPR_LINES]:
            assert f" {population.name}{list(population.shape)} " in text


def test_repr_names_models_projections_and_losses():
    lines = repr(snnc.load_network(EPROP)).splitlines()
    assert lines[0] == "Network 'randman_eprop_random': dt 1 ms, seed 1, target reference"
    assert "  population hidden[64] Hidden (CubaLIF)" in lines
    assert "  hidden->out: dense, 640 synapses, learn delta" in lines
    assert lines[-1] == "  loss cross_entropy(out.v)"


def test_a_program_with_errors_raises_the_rendered_diagnostics(tmp_path):
    bad = tmp_path / "bad.snn"
    bad.write_text("network n { dt = 1 ms }\npopulation p: LIFF[3]\n")
    with pytest.raises(snnc.CompileError) as caught:
        snnc.load_network(bad)
    text = str(caught.value)
    assert "bad.snn:2" in text and "error[E" in text and "LIFF" in text
    assert caught.value.diagnostics.has_errors


@pytest.mark.parametrize("inputs, steps, expected", [
    ({"unit": np.zeros((10, 20))}, None, "has no data input 'unit'"),
    ({"units": np.zeros((10, 21))}, None, "input 'units' has shape [10, 21]"),
    ({"units": np.zeros((10, 20))}, 20, "pass steps= with at most"),
    ({"units": np.full((10, 20), 2)}, None, "must hold spikes (0 or 1)"),
    ({"units": np.zeros((10, 2, 20)), "label": np.array([0, 10])}, None, "class indices 0 .. 9"),
    ({"units": np.array([["a"] * 20] * 10)}, None, "must be an array of numbers"),
])
def test_input_arrays_are_checked(inputs, steps, expected):
    with pytest.raises(snnc.CompileError) as caught:
        snnc.simulate(EPROP, steps, inputs=inputs)
    assert expected in str(caught.value)
    assert [d.code for d in caught.value.diagnostics.errors()] == ["E604"]
    assert "--input" not in str(caught.value) and "snnc-inputs-" not in str(caught.value)


def test_wrong_arguments_are_value_errors():
    with pytest.raises(ValueError, match="split= reads a data file"):
        snnc.simulate(EPROP, inputs={"units": np.zeros((5, 20))}, split="test")
    with pytest.raises(ValueError, match="split must be 'train', 'validation' or 'test'"):
        snnc.simulate(EPROP, inputs="data.npz", split="tain")
    with pytest.raises(ValueError, match="delivery must be one of"):
        snnc.simulate(EPROP, 5, delivery="later")
    with pytest.raises(ValueError, match="give steps="):
        snnc.simulate(EPROP)
    with pytest.raises(ValueError, match="unknown backend 'nri'"):
        snnc.compile(EPROP, "nri")
    with pytest.raises(ValueError, match="has no option 'mapping'; its options: delivery"):
        snnc.compile(EPROP, "reference", mapping="m.json")
    with pytest.raises(ValueError, match="unknown loss 'resett'"):
        snnc.compile(EPROP, "nir", allow_lossy=["resett"])
    with pytest.raises(ValueError, match="epochs and batch must be positive"):
        snnc.train(EPROP, data="randman", epochs=0, out="never")


def test_simulate_defaults_and_warnings():
    with pytest.warns(snnc.SnncWarning, match="W601"):  # no spikes for the data input
        result = snnc.simulate(EPROP, 7)
    assert result.steps == 7 and result.batch == 1 and result["hidden.s"].shape == (7, 1, 64)
    assert result.accuracy() is None and "units->hidden.w" in result
    balanced = snnc.simulate(BALANCED, record=["v"])  # steps from the duration
    assert balanced.steps == 500 and all(k.endswith((".v", ".w")) for k in balanced)
    assert repr(balanced).startswith("<snnc.Result: 500 steps, batch 1: exc.v [500, 1, 400]")
    assert sum(balanced.counts().values()) > 0


def test_other_weights_never_change_the_callers_network(tmp_path):
    net = snnc.load_network(EPROP)
    first = snnc.simulate(net, 5, inputs={"units": np.ones((5, 20))}, learn=False,
                          record=["out.v"])
    weights = tmp_path / "w.npz"
    first.save(weights)
    doubled = {k: 2 * first[k] for k in first if k.endswith(".w")}
    np.savez(tmp_path / "doubled.npz", **doubled)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        second = snnc.simulate(net, 5, inputs={"units": np.ones((5, 20))},
                               weights=tmp_path / "doubled.npz", learn=False, record="out.v")
    for key, value in doubled.items():
        assert np.array_equal(second[key], value)
    again = snnc.simulate(net, 5, inputs={"units": np.ones((5, 20))}, learn=False,
                          record=["out.v"], weights=weights)  # a run's own output: the same
    assert np.array_equal(again["out.v"], first["out.v"])
    assert not np.array_equal(second["out.v"], first["out.v"])
    assert [p.rules for p in net.projections()][0]  # the caller's network still learns


def test_compile_writes_only_what_snnc_may_replace(tmp_path):
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "notes.txt").write_text("keep")
    with pytest.raises(snnc.CompileError) as caught:
        snnc.compile(EPROP, "reference", out=mine)
    assert caught.value.diagnostics.items[0].code == "E630" and "force=True" in str(caught.value)
    assert (mine / "notes.txt").read_text() == "keep"
    files = snnc.compile(EPROP, "reference", out=tmp_path / "built")
    assert snnc.compile(EPROP, "reference", out=tmp_path / "built") == files  # snnc's: replaced
    assert sorted(p.name for p in (tmp_path / "built").iterdir()) == \
        sorted([*files, ".snnc-output"])
    assert snnc.compile(EPROP) == files  # nothing written without out


def test_train_reports_a_network_it_cannot_train(tmp_path):
    with pytest.raises(snnc.CompileError) as caught:
        snnc.train(BALANCED, data="randman", epochs=1, out=tmp_path / "run")
    assert {d.code for d in caught.value.diagnostics.errors()} == {"E622"}
    assert "exactly one 'loss cross_entropy(...)'" in str(caught.value)
    assert not (tmp_path / "run").exists()  # nothing written
