"""NIR graphs as untrusted input and programs NIR's type inference cannot start on: every
problem is a diagnostic (exit 1) naming what is wrong, never an internal error (exit 3)."""

from __future__ import annotations

import pathlib

import numpy as np
import pytest

from snnc.cli import main

nir = pytest.importorskip("nir")

ROOT = pathlib.Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"


def graph(metadata=None, nodes=None, edges=None):
    """Input -> Linear -> LIF -> Output, with nodes and edges replaced as given."""
    lif = dict(tau=np.array([0.01]), r=np.array([1.0]), v_leak=np.array([0.0]),
               v_threshold=np.array([1.0]))
    base = {"input": nir.Input(input_type={"input": np.array([1])}),
            "w": nir.Linear(weight=np.ones((1, 1))), "lif": nir.LIF(**lif),
            "output": nir.Output(output_type={"output": np.array([1])})}
    base.update(nodes or {})
    edges = edges or [("input", "w"), ("w", "lif"), ("lif", "output")]
    return nir.NIRGraph(nodes=base, edges=edges, metadata=metadata or {}, type_check=False)


def delayed(delay):
    return graph({"dt": 1e-3}, {"d": nir.Delay(delay=np.asarray(delay, dtype=float))},
                 [("input", "w"), ("w", "d"), ("d", "lif"), ("lif", "output")])


def import_nir(tmp_path, capsys, g, *options):
    path = tmp_path / "g.nir"
    nir.write(str(path), g)
    status = main(["import-nir", str(path), "-o", str(tmp_path / "out" / "net.snn"), *options])
    return status, capsys.readouterr().err


@pytest.mark.parametrize("dt,shown", [
    ("fast", "'fast'"), (np.array([1e-3, 2e-3]), "[0.001, 0.002]"), (float("nan"), "nan"),
    (-1e-3, "-0.001"), (0.0, "is 0"), (True, "True"), (float("inf"), "inf"),
])
def test_a_time_step_in_the_metadata_that_is_no_positive_number_is_E614(dt, shown, tmp_path,
                                                                        capsys):
    status, err = import_nir(tmp_path, capsys, graph({"dt": dt}))
    assert status == 1 and "error[E614]" in err and shown in err and "--dt" in err, err
    assert "Traceback" not in err and not (tmp_path / "out" / "net.snn").exists()
    status, err = import_nir(tmp_path, capsys, graph({"dt": dt}), "--dt", "1e-3")
    assert status == 0, err  # --dt replaces the metadata


@pytest.mark.parametrize("delay,code,words", [
    ([1e9], "E613", "1e+12 steps"),  # would be a ring buffer of 1e12 steps
    ([-1.0], "E613", "cannot be negative"),
    ([0.002, 0.003], "E611", "a different delay for every neuron"),
])
def test_delays_that_no_projection_can_hold_are_refused_before_anything_is_allocated(
        delay, code, words, tmp_path, capsys):
    lif = dict(tau=np.full(2, 0.01), r=np.ones(2), v_leak=np.zeros(2), v_threshold=np.ones(2))
    g = delayed(np.array(delay)) if len(delay) == 1 else graph(
        {"dt": 1e-3}, {"input": nir.Input(input_type={"input": np.array([2])}),
                       "w": nir.Linear(weight=np.eye(2)), "lif": nir.LIF(**lif),
                       "output": nir.Output(output_type={"output": np.array([2])}),
                       "d": nir.Delay(delay=np.array(delay))},
        [("input", "w"), ("w", "d"), ("d", "lif"), ("lif", "output")])
    status, err = import_nir(tmp_path, capsys, g)
    assert status == 1 and f"error[{code}]" in err and words in err and "'d'" in err, err


def test_a_delay_of_whole_steps_is_imported(tmp_path, capsys):
    status, err = import_nir(tmp_path, capsys, delayed([0.004]))
    assert status == 0, err
    assert "delay = 4" in (tmp_path / "out" / "net.snn").read_text()


def test_invalid_shapes_and_weights_are_diagnostics(tmp_path, capsys):
    for g in (graph({"dt": 1e-3}, {"input": nir.Input(input_type={"input": np.array([-3])})}),
              graph({"dt": 1e-3}, {"w": nir.Linear(weight=np.ones((3, 5)))})):
        status, err = import_nir(tmp_path, capsys, g)
        assert status == 1 and "error[E611]" in err and "Traceback" not in err, err


MUTANT = (EXAMPLES / "decolle.snn").read_text().replace("events -> layer1", "layer1 -> layer1")

NO_ENTRY = {
    # decolle.snn with its input driving nothing: every population is reached through a loop
    "decolle mutant": MUTANT,
    "input drives nothing": """network n {
  dt = 1 ms
}
input unused[2]
population a: LIF[3]
population b: LIF[2]
a -> a: dense { weight = 0.1 }
a -> b: dense { weight = 0.1 }
b -> a: dense { weight = 0.1 }
""",
    "a shaped population in a loop": """network n {
  dt = 1 ms
}
input unused[2]
population grid: LIF[2, 3, 3]
grid -> grid: one_to_one { weight = 0.1 }
""",
    "a population nothing feeds": """network n {
  dt = 1 ms
}
input x[3]
population fed: LIF[3]
population alone: LIF[2] { bias = 0.1 }
x -> fed: dense { weight = 0.5 }
alone -> fed: dense { weight = 0.5 }
""",
    "inputs only": """network n {
  dt = 1 ms
}
input x[3]
input y[2]
""",
    "a population named silent": """network n {
  dt = 1 ms
}
population silent: LIF[2]
silent -> silent: dense { weight = 0.1 }
""",
}


@pytest.mark.parametrize("name", list(NO_ENTRY))
def test_networks_without_an_input_that_drives_anything_export_and_import(name, tmp_path,
                                                                           capsys):
    """nir's type inference starts at edges that leave Input nodes: a network where none does
    gets a silent input (zero weights), a network of inputs only passes them to outputs."""
    source = tmp_path / "net.snn"
    source.write_text(MUTANT if name == "decolle mutant" else NO_ENTRY[name])
    assert main(["check", str(source)]) == 0, capsys.readouterr().err
    status = main(["compile", str(source), "--emit", "nir", "--allow-lossy", "-o",
                   str(tmp_path / "nir")])
    err = capsys.readouterr().err
    assert status == 0, err
    g = nir.read(str(tmp_path / "nir" / "network.nir"))
    inputs = [k for k, node in g.nodes.items() if isinstance(node, nir.Input)]
    assert any(pre in inputs for pre, _ in g.edges)
    if name == "a population named silent":
        assert isinstance(g.nodes["silent"], nir.LIF) and "silent.2" in inputs
    status = main(["import-nir", str(tmp_path / "nir" / "network.nir"), "-o",
                   str(tmp_path / "back" / "net.snn")])
    assert status == 0, capsys.readouterr().err
    assert main(["check", str(tmp_path / "back" / "net.snn")]) == 0, capsys.readouterr().err


def test_a_direct_edge_imports_as_one_to_one_spikes_only(tmp_path, capsys):
    """Input -> LIF without a weight node is a one-to-one projection of weight 1; an LI's
    voltage feeding a LIF directly is no spike train and is refused."""
    lif = dict(tau=np.full(2, 0.01), r=np.ones(2), v_leak=np.zeros(2), v_threshold=np.ones(2))
    direct = graph({"dt": 1e-3}, {"input": nir.Input(input_type={"input": np.array([2])}),
                                  "lif": nir.LIF(**lif),
                                  "output": nir.Output(output_type={"output": np.array([2])})},
                   [("input", "lif"), ("lif", "output")])
    status, err = import_nir(tmp_path, capsys, direct)
    assert status == 0, err
    text = (tmp_path / "out" / "net.snn").read_text()
    assert "input_ -> lif as input__lif: one_to_one {\n  weight = 1.0\n}" in text
    voltage = graph({"dt": 1e-3}, {"input": nir.Input(input_type={"input": np.array([2])}),
                                   "w": nir.Linear(weight=np.eye(2)),
                                   "li": nir.LI(tau=np.full(2, 0.01), r=np.ones(2),
                                                v_leak=np.zeros(2)),
                                   "lif": nir.LIF(**lif),
                                   "output": nir.Output(output_type={"output": np.array([2])})},
                    [("input", "w"), ("w", "li"), ("li", "lif"), ("lif", "output")])
    status, err = import_nir(tmp_path, capsys, voltage)
    assert status == 1 and "error[E611]" in err and "non-spiking 'li'" in err, err


@pytest.mark.parametrize("options", [(), ("--dt", "0.02")])
def test_a_time_constant_not_above_dt_is_refused_not_written(options, tmp_path, capsys):
    """Euler at dt does not decay when tau <= dt: refused at import (E613), also for one neuron
    of a per-neuron array (which goes into the .npz, where `snnc check` does not look)."""
    lif = dict(tau=np.array([0.01, 1e-300]), r=np.ones(2), v_leak=np.zeros(2),
               v_threshold=np.ones(2))
    g = graph({"dt": 1e-3}, {"input": nir.Input(input_type={"input": np.array([2])}),
                             "w": nir.Linear(weight=np.eye(2)), "lif": nir.LIF(**lif),
                             "output": nir.Output(output_type={"output": np.array([2])})})
    status, err = import_nir(tmp_path, capsys, g, *options)
    assert status == 1 and "error[E613]" in err and "not larger than dt" in err, err
    assert not (tmp_path / "out" / "net.snn").exists()
