"""`snnc compile --emit reference`, `snnc run` and `snnc plot` from the command line."""

import json
import os
import pathlib
import subprocess
import sys

import numpy as np
import pytest

import snnc.backends.reference.runtime
from snnc.cli import main
from snnc.recordings import spikes_dense

ROOT = pathlib.Path(__file__).resolve().parents[1]
RANDMAN = str(ROOT / "examples" / "eprop_randman.snn")
STDP = str(ROOT / "examples" / "stdp.snn")


@pytest.fixture(autouse=True)
def numpy_kernels(monkeypatch, tmp_path):
    """Keep these tests fast: no numba compilation, a private cache folder."""
    monkeypatch.setenv("SNNC_NO_NUMBA", "1")
    monkeypatch.setenv("SNNC_CACHE_DIR", str(tmp_path / "cache"))


def test_run_records_saves_rates_and_reports(tmp_path, capsys):
    out, rates = tmp_path / "out.npz", tmp_path / "rates.npz"
    assert main(["run", STDP, "--steps", "200", "-o", str(out), "--rates", str(rates)]) == 0
    text = capsys.readouterr().out
    assert "200 steps of 1 ms" in text and "out" in text
    with np.load(out) as data:
        assert "out.s" not in data.files  # spikes are saved as events
        assert list(data["out.s.events.shape"]) == [200, 1, 10]
        assert spikes_dense(data, "out.s").shape == (200, 1, 10)
        assert data["out.v"].shape == (200, 1, 10)
        assert data["poisson_in->out.w"].shape == (10, 100)
        assert float(data["dt"]) == 1e-3 and int(data["steps"]) == 200
        spikes = spikes_dense(data, "out.s").sum(axis=(0, 1))
    with np.load(rates) as data:
        assert np.allclose(data["out"], spikes / 0.2)


def test_run_with_input_data_and_batch(tmp_path, capsys):
    data = tmp_path / "data.npz"
    np.savez(data, units=np.random.default_rng(0).random((50, 3, 20)) < 0.3)
    assert main(["run", RANDMAN, "--steps", "50", "--batch", "3", "--input", str(data),
                 "--record", "spikes,v", "-o", str(tmp_path / "o.npz"), "--format", "json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["batch"] == 3 and report["spikes"]["hidden"] > 0
    with np.load(tmp_path / "o.npz") as out:
        hidden = spikes_dense(out, "hidden.s")
        assert hidden.shape == (50, 3, 128) and out["out.v"].shape == (50, 3, 10)
        assert hidden.sum() == report["spikes"]["hidden"]


@pytest.mark.parametrize("array,message", [
    (np.zeros((50, 21), bool), "has shape [50, 21]"),
    (np.zeros((10, 20), bool), "has 10 steps"),
    (np.full((50, 20), 2), "must hold spikes"),
])
def test_bad_input_data_is_a_diagnostic(array, message, tmp_path, capsys):
    data = tmp_path / "data.npz"
    np.savez(data, units=array)
    assert main(["run", RANDMAN, "--steps", "50", "--input", str(data)]) == 1
    err = capsys.readouterr().err
    assert "E604" in err and message in err and "Traceback" not in err


def test_unknown_record_and_missing_inputs(tmp_path, capsys):
    assert main(["run", RANDMAN, "--steps", "5", "--record", "hiden.s"]) == 1
    err = capsys.readouterr().err
    assert "E605" in err and "did you mean 'hidden.s'?" in err
    assert main(["run", RANDMAN, "--steps", "5"]) == 0
    assert "W601" in capsys.readouterr().err


def test_run_needs_steps_without_duration(capsys):
    assert main(["run", STDP]) == 2
    assert "--steps" in capsys.readouterr().err


def test_compile_writes_a_standalone_simulation(tmp_path, capsys):
    out = tmp_path / "build"
    assert main(["compile", STDP, "--emit", "reference", "-o", str(out)]) == 0
    assert sorted(os.listdir(out)) == [".snnc-output", "network.npz", "simulation.py",
                                       "snnc_runtime.py"]
    # the runtime in the output is the linted module of the package, copied verbatim
    runtime = pathlib.Path(snnc.backends.reference.runtime.__file__).read_bytes()
    assert (out / "snnc_runtime.py").read_bytes() == runtime
    script = ("import sys; sys.path.insert(0, sys.argv[1]); from simulation import Simulation; "
              "out = Simulation().run(100, record=['out.s']); print(out['out.s'].shape)")
    result = subprocess.run([sys.executable, "-c", script, str(out)], capture_output=True,
                            text=True, check=True)
    assert result.stdout.strip() == "(100, 1, 10)"


def test_compile_is_deterministic_and_a_failure_keeps_the_previous_output(tmp_path, capsys):
    out = tmp_path / "build"
    assert main(["compile", STDP, "-o", str(out)]) == 0
    first = {name: (out / name).read_bytes() for name in os.listdir(out)}
    assert main(["compile", STDP, "-o", str(out)]) == 0
    assert {name: (out / name).read_bytes() for name in os.listdir(out)} == first
    broken = tmp_path / "broken.snn"
    broken.write_text("population p: LFI[3]\n")
    assert main(["compile", str(broken), "-o", str(out)]) == 1
    assert {name: (out / name).read_bytes() for name in os.listdir(out)} == first
    assert [p for p in os.listdir(tmp_path) if p.startswith(".snnc")] == []


def test_plot_writes_pictures(tmp_path, capsys):
    pytest.importorskip("matplotlib")
    out = tmp_path / "o.npz"
    assert main(["run", STDP, "--steps", "100", "-o", str(out), "--record", "spikes,v"]) == 0
    assert main(["plot", str(out), "-o", str(tmp_path / "pics")]) == 0
    pictures = sorted(p for p in os.listdir(tmp_path / "pics") if p != ".snnc-output")
    assert pictures == ["raster.png", "voltages.png", "weights.png"]
    assert all((tmp_path / "pics" / p).read_bytes()[:4] == b"\x89PNG" for p in pictures)
    # the raster drawn from the events is the one drawn from the dense spikes
    with np.load(out) as data:
        assert data["poisson_in.s.events.step"].size > 50  # a raster with spikes to draw
    dense = tmp_path / "dense.npz"
    assert main(["run", STDP, "--steps", "100", "-o", str(dense), "--record", "spikes",
                 "--record-dense"]) == 0
    assert main(["plot", str(dense), "-o", str(tmp_path / "dense")]) == 0
    assert (tmp_path / "dense" / "raster.png").read_bytes() == \
        (tmp_path / "pics" / "raster.png").read_bytes()


def test_plot_refuses_broken_events(tmp_path, capsys):
    pytest.importorskip("matplotlib")
    out = tmp_path / "o.npz"
    np.savez(out, **{"a.s.events.step": np.array([0, 5]), "a.s.events.batch": np.array([0, 0]),
                     "a.s.events.index": np.array([1, 2]), "a.s.events.shape": np.array([3, 1, 4]),
                     "dt": np.array(1e-3)})
    assert main(["plot", str(out), "-o", str(tmp_path / "pics")]) == 1
    err = capsys.readouterr().err
    assert "E604" in err and "'a.s.events.step' holds values outside 0 .. 2" in err
    assert "Traceback" not in err


def test_exact_oracles_are_refused_as_online_rules(tmp_path, capsys):
    source = tmp_path / "oracle.snn"
    source.write_text("input x[4]\npopulation h: CubaLIF[5]\nreadout out: LI[2]\n"
                      "x -> h { learn bptt(readout = out) }\nh -> out\n"
                      "loss cross_entropy(sum_over_time(out.v))\n")
    assert main(["run", str(source), "--steps", "10"]) == 1
    err = capsys.readouterr().err
    assert "E501" in err and "backprop_through_time" in err


def test_supervised_targets_come_with_the_data(tmp_path, capsys):
    data = tmp_path / "data.npz"
    rng = np.random.default_rng(0)
    np.savez(data, units=rng.random((30, 2, 20)) < 0.3, **{"target.out": np.array([1, 3])})
    out = tmp_path / "o.npz"
    assert main(["run", RANDMAN, "--steps", "30", "--batch", "2", "--input", str(data),
                 "-o", str(out)]) == 0
    frozen = tmp_path / "f.npz"
    assert main(["run", RANDMAN, "--steps", "30", "--batch", "2", "--input", str(data),
                 "-o", str(frozen), "--no-learn"]) == 0
    with np.load(out) as a, np.load(frozen) as b:
        assert not np.array_equal(a["hidden->out.w"], b["hidden->out.w"])
    np.savez(data, units=rng.random((30, 2, 20)) < 0.3, **{"target.out": np.ones((30, 2, 4))})
    assert main(["run", RANDMAN, "--steps", "30", "--batch", "2", "--input", str(data)]) == 1
    assert "E604" in capsys.readouterr().err
