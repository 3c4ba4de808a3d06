"""NaN or inf appearing while simulating or training stops `snnc run` / `snnc train` with E616
naming the population or projection, the variable and the step (or epoch and batch);
`--allow-nonfinite` goes on with W616. numpy's floating-point warnings never reach the user."""

import numpy as np
import pytest

from snnc.api import compile_network
from snnc.backends.reference.runner import load_simulation
from snnc.cli import main
from snnc.diagnostics import Diagnostics

HEADER = """network faults {
  dt = 1 ms
  seed = 4
}
input src[10]
population out: LIF[5] { tau_mem = 20 ms {extra} }
"""

RULE = """rule broken(lr = 0.01, tau = 20 ms) {{
  trace x_pre = lowpass(pre.s, tau)
  {body}
}}
src -> out: dense {{
  weight = 0.5
  learn broken(lr = 0.01, tau = 20 ms)
}}
"""

#: rules that turn non-finite, and what E616 names
RULES = {
    "division by zero": ("on post: dw = 1 / x_pre", "w", "nan"),
    "sqrt of a negative": ("trace r = sqrt(x_pre - 0.5)\n  on post: dw = r", "r", "nan"),
    "log of a negative": ("trace g = log(x_pre - 0.5)\n  dw = g", "g", "nan"),
}


@pytest.fixture(autouse=True)
def private_cache(monkeypatch, tmp_path):
    monkeypatch.setenv("SNNC_NO_NUMBA", "1")
    monkeypatch.setenv("SNNC_CACHE_DIR", str(tmp_path / "cache"))


def program(tmp_path, body="", extra="", name="faults.snn"):
    path = tmp_path / name
    path.write_text(HEADER.replace("{extra}", extra) + body)
    return str(path)


def spikes_at(tmp_path, steps, when):
    """A data file: every input neuron spikes at the steps ``when``."""
    x = np.zeros((steps, 10), bool)
    x[list(when)] = True
    path = tmp_path / "data.npz"
    np.savez(path, src=x)
    return str(path)


@pytest.mark.parametrize("case", sorted(RULES))
def test_a_rule_producing_nan_stops_the_run_naming_projection_variable_and_step(
        tmp_path, capsys, case):
    body, variable, value = RULES[case]
    path = program(tmp_path, RULE.format(body=body))
    data = spikes_at(tmp_path, 30, [12])
    out = tmp_path / "out.npz"
    assert main(["run", path, "--steps", "30", "--input", data, "-o", str(out)]) == 1
    err = capsys.readouterr().err
    assert "error[E616]" in err
    assert f"projection 'src->out': {variable} became {value} after step" in err
    assert "RuntimeWarning" not in err and "Traceback" not in err
    assert not out.exists()


def test_the_step_is_the_first_one_with_a_non_finite_value(tmp_path, capsys):
    """y / (x_pre - 1) is finite until the input spike of step 9, which sets x_pre to exactly
    1 and, through a weight of 5, makes the post neuron spike (y = 1): 1 / 0."""
    path = program(tmp_path, """rule late(lr = 0.01, tau = 20 ms) {
  trace x_pre = lowpass(pre.s, tau)
  trace y = lowpass(post.s, tau)
  dw = y / (x_pre - 1)
}
src -> out: dense {
  weight = 5
  learn late(lr = 0.01, tau = 20 ms)
}
""")
    # x_pre becomes exactly 1 at the input spike of step 9, when y > 0 after the post spike
    data = spikes_at(tmp_path, 20, [9])
    assert main(["run", path, "--steps", "20", "--input", data]) == 1
    err = capsys.readouterr().err
    assert "projection 'src->out': w became inf after step 9" in err


@pytest.mark.parametrize("reset", ["zero", "subtract"])
@pytest.mark.parametrize("numba", ["1", ""])
def test_an_overflowing_input_scale_is_found_at_its_step(tmp_path, capsys, monkeypatch, reset,
                                                         numba):
    """input_scale = 1e308: two thresholds of input overflow v to inf at the input spike
    (step 6); with a zero reset the spike resets v to 0 in the same step, and the membrane
    kernel still reports it."""
    monkeypatch.setenv("SNNC_NO_NUMBA", numba)
    path = program(tmp_path, "src -> out: dense { weight = 2 }\n",
                   extra=f"\n  input_scale = 1e308\n  reset = {reset}")
    data = spikes_at(tmp_path, 15, [6])
    assert main(["run", path, "--steps", "15", "--input", data]) == 1
    err = capsys.readouterr().err
    assert "error[E616]: population 'out': v became inf after step 6" in err
    assert "RuntimeWarning" not in err


def test_allow_nonfinite_goes_on_with_a_warning(tmp_path, capsys):
    body, _, _ = RULES["division by zero"]
    path = program(tmp_path, RULE.format(body=body))
    data = spikes_at(tmp_path, 30, [12])
    out = tmp_path / "out.npz"
    assert main(["run", path, "--steps", "30", "--input", data, "-o", str(out),
                 "--allow-nonfinite"]) == 0
    err = capsys.readouterr().err
    assert "warning[W616]: projection 'src->out': w became nan after step" in err
    assert "E616" not in err and "RuntimeWarning" not in err
    with np.load(out) as saved:
        assert np.isnan(saved["src->out.w"]).any()


def test_a_finite_run_is_unchanged(tmp_path, capsys):
    path = program(tmp_path, "src -> out: dense { weight = 0.5 }\n")
    data = spikes_at(tmp_path, 30, [3, 12])
    assert main(["run", path, "--steps", "30", "--input", data]) == 0
    assert "616" not in capsys.readouterr().err


def test_the_simulation_raises_a_typed_error(tmp_path):
    body, _, _ = RULES["sqrt of a negative"]
    net = compile_network(program(tmp_path, RULE.format(body=body)), Diagnostics())
    module = load_simulation(net)
    sim = module.Simulation(batch=2)
    x = np.zeros((30, 2, 10), bool)
    x[12] = True
    with pytest.raises(module.NonFiniteError) as caught:
        sim.run(30, {"src": x})
    error = caught.value
    assert (error.kind, error.owner, error.variable, error.value) == \
        ("projection", "src->out", "r", "nan")
    assert 0 <= error.step < 30
    sim = module.Simulation(batch=2)  # (reset() keeps the weights, NaN by now)
    sim.run(30, {"src": x}, allow_nonfinite=True)
    assert [(e.owner, e.variable) for e in sim.nonfinite] == [("src->out", "r")]
    sim.reset()  # the NaN weights reach the population (0 x NaN in the dense product)
    sim.run(30, {"src": x}, learn=False, allow_nonfinite=True)
    assert [(e.owner, e.variable, e.step) for e in sim.nonfinite] == [("out", "i", 0)]
    sim = module.Simulation(batch=2)
    sim.run(30, {"src": x}, learn=False)  # no rule runs: nothing to report
    assert sim.nonfinite == []


# ---- training -------------------------------------------------------------------------------

DATA = "randman:classes=3,units=8,samples=40,steps=30,seed=2"

TRAIN = """network tiny {{
  dt = 1 ms
  seed = 5
}}
input units[8]
population hidden: CubaLIF[16] {{
  tau_mem = 20 ms
  tau_syn = 10 ms
  threshold = 1
  reset = subtract
  surrogate = fast_sigmoid(beta = 10)
}}
readout out: LI[3] {{ tau_mem = 20 ms
  {readout} }}
units -> hidden: dense {{ weight = normal(0, 0.3)
  {rule} }}
hidden -> out: dense {{ weight = normal(0, 0.1)
  learn delta(lr = 1e-2, readout = out) }}
loss cross_entropy(sum_over_time(out.v))
"""


def train(tmp_path, rule, readout="", *extra):
    path = tmp_path / "tiny.snn"
    path.write_text(TRAIN.format(rule=rule, readout=readout))
    return main(["train", str(path), "--data", DATA, "--epochs", "2", "--batch", "8",
                 "-o", str(tmp_path / "run"), *extra])


@pytest.mark.parametrize("rule", ["learn eprop_symmetric(lr = 1e-2, readout = out)",
                                  "learn bptt(lr = 1e-2, readout = out)"])
def test_an_infinite_loss_stops_training_naming_epoch_and_batch(tmp_path, capsys, rule):
    assert train(tmp_path, rule, "input_scale = 1e306") == 1
    err = capsys.readouterr().err
    assert "error[E616]: loss 'out': cross_entropy became inf in epoch 1, training batch 1" in err
    assert "RuntimeWarning" not in err
    assert not (tmp_path / "run" / "checkpoint.npz").exists()


def test_a_rule_producing_nan_stops_training_at_its_step(tmp_path, capsys):
    rule = "learn inverse(lr = 1e-2)"
    path_rule = """rule inverse(lr = 0.01) {
  trace x_pre = lowpass(pre.s, 20 ms)
  on post: dw = 1 / x_pre
}
"""
    path = tmp_path / "tiny.snn"
    path.write_text(path_rule + TRAIN.format(rule=rule, readout="").replace(
        "units -> hidden: dense { weight = normal(0, 0.3)",
        "units -> hidden: dense { weight = normal(1, 0.3)"))
    assert main(["train", str(path), "--data", DATA, "--epochs", "1", "--batch", "8",
                 "-o", str(tmp_path / "run")]) == 1
    err = capsys.readouterr().err
    assert "error[E616]: projection 'units->hidden': dw became nan after step" in err
    assert "in epoch 1, training batch 1" in err


def test_allow_nonfinite_lets_training_go_on(tmp_path, capsys):
    assert train(tmp_path, "learn eprop_symmetric(lr = 1e-2, readout = out)",
                 "input_scale = 1e306", "--allow-nonfinite") == 0
    err = capsys.readouterr().err
    assert "warning[W616]: loss 'out': cross_entropy became inf in epoch 1" in err
    assert err.count("W616") == 1
    assert (tmp_path / "run" / "checkpoint.npz").exists()
