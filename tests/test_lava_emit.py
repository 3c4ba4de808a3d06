"""The Lava backend without Lava: emission, parameter mapping, learning rules, quantization
and the diagnostics for what Lava cannot run. (Running the programs: tests/lava.)"""

from __future__ import annotations

import ast
import importlib.util
import json
import math
import pathlib

import numpy as np
import pytest
from simulate import compile_text

from snnc.backends.lava import LavaBackend
from snnc.backends.lava.graph import build_graph
from snnc.backends.lava.learning import render_constant, translate
from snnc.backends.lava.quantize import quantize, quantize_decay
from snnc.cli import main
from snnc.diagnostics import Diagnostics
from snnc.ir.discrete import build_plan
from snnc.training.metrics import REDUCTIONS, evaluate

ROOT = pathlib.Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"


def run(capsys, *argv):
    status = main(list(argv))
    out, err = capsys.readouterr()
    return status, out + err


def graph_of(text: str):
    net = compile_text(text)
    diag = Diagnostics()
    graph = LavaBackend().graph(net, diag)
    assert graph is not None, [d.message for d in diag.items]
    return net, graph


@pytest.mark.parametrize("example", ["stdp", "balanced_ei", "synfire", "conv_events"])
def test_emission_is_deterministic_and_valid_python(capsys, tmp_path, example):
    source = str(EXAMPLES / f"{example}.snn")
    first, second = tmp_path / "a", tmp_path / "b"
    for out in (first, second):
        status, text = run(capsys, "compile", source, "--emit", "lava", "-o", str(out))
        assert status == 0, text
    names = sorted(p.name for p in first.iterdir())
    assert names == [".snnc-output", "README.md", "__init__.py", "models.py", "network.npz", "network.py",
                     "process_graph.dot", "quantization.json", "run.py"]
    for name in names:
        assert (first / name).read_bytes() == (second / name).read_bytes(), name
    for name in ("network.py", "run.py", "models.py"):
        tree = ast.parse((first / name).read_text())
        guards = [node for node in tree.body if isinstance(node, ast.If)
                  and "__main__" in ast.unparse(node.test)]
        assert len(guards) == 1, name  # Lava executes every module of the folder


def test_user_names_reach_the_code_only_as_string_literals():
    net, graph = graph_of("""
network procs {
  dt = 1 ms
}
input np[2]: poisson(rate = 10 Hz)
population data: LIF[2] {
  reset = zero
}
population build: LIF[2] {
  reset = zero
}
np -> data: dense {
  weight = 1
}
data -> build: dense {
  weight = 1
}
""")
    files = LavaBackend().emit(net)
    tree = ast.parse(files["network.py"])
    assigned = {node.id for node in ast.walk(tree) if isinstance(node, ast.Name)
                and isinstance(node.ctx, ast.Store)}
    strings = {node.value for node in ast.walk(tree) if isinstance(node, ast.Constant)
               and isinstance(node.value, str)}
    assert {"data", "build", "np->data"} <= strings
    # the user's 'data' and 'build' did not become variables (the program's own are its own)
    body = ast.unparse(next(f for f in tree.body if isinstance(f, ast.FunctionDef)
                            and f.name == "build"))
    assert "procs['data'] = LIF(" in body and "procs['build'] = LIF(" in body
    assert "build" not in assigned and "procs" in assigned


def test_parameter_mapping_shifts_the_voltage_and_folds_the_input_scale():
    """v' = v - v_reset: vth = threshold - v_reset, bias = (1 - a)(v_leak - v_reset) + c_in b,
    u = c_in I with c_in in the weights; du = 1 - a_syn, dv = 1 - a_mem."""
    net, graph = graph_of("""
network mapping {
  dt = 1 ms
  integration = exact
}
input x[3]: poisson(rate = 10 Hz)
population p: CubaLIF[2] {
  tau_mem = 20 ms
  tau_syn = 5 ms
  threshold = -50 mV
  v_reset = -65 mV
  v_leak = -60 mV
  v_init = -70 mV
  bias = 2 mV
  reset = zero
  input_scale = one_minus_decay
}
x -> p: dense {
  weight = 3 mV
}
""")
    (group,) = graph.groups
    a_mem, a_syn = math.exp(-1 / 20), math.exp(-1 / 5)
    c_in = 1 - a_mem
    assert group.du == pytest.approx(1 - a_syn, abs=1e-15)
    assert group.dv == pytest.approx(1 - a_mem, abs=1e-15)
    assert group.vth == pytest.approx(0.015, abs=1e-15)
    np.testing.assert_allclose(group.bias, (1 - a_mem) * 0.005 + c_in * 0.002, atol=1e-15)
    np.testing.assert_allclose(group.v_init, -0.005, atol=1e-15)
    np.testing.assert_allclose(group.v_offset, -0.065)
    (connection,) = graph.connections
    np.testing.assert_allclose(connection.weights, c_in * 0.003, rtol=1e-12)
    assert connection.kind == "Dense" and connection.delay == 0


def test_stdp_becomes_a_sum_of_products_with_the_rate_in_the_impulses():
    net, graph = graph_of("""
network plastic {
  dt = 1 ms
}
input x[4]: poisson(rate = 10 Hz)
population p: LIF[2] {
  tau_mem = 10 ms
  reset = zero
}
x -> p: dense {
  weight = 0.1
  learn stdp(lr = 0.01, tau_plus = 16.8 ms, tau_minus = 33.7 ms, a_minus = 1.05, w_max = 0.5)
}
""")
    rule = graph.connections[0].rule
    assert rule.dw == "x1 * y0 - y1 * x0"
    assert rule.roundings == []
    arguments = rule.arguments()
    assert arguments["x1_impulse"] == pytest.approx(0.01)
    assert arguments["y1_impulse"] == pytest.approx(0.0105)
    assert arguments["x1_tau"] == pytest.approx(16.8, rel=1e-12)  # exp(-1/tau) = exp(-dt/16.8 ms)
    assert arguments["y1_tau"] == pytest.approx(33.7, rel=1e-12)
    assert (rule.low, rule.high) == (0.0, 0.5)


#: a rule with a weight-decay term whose constant (0.3) no trace can absorb
DECAYING = """network decay {
  dt = 1 ms
  integration = exact
}
rule decaying(lr = 1, tau = 10 ms, a = 0.02) {
  trace x = lowpass(pre.s, tau)
  on post: dw = a * x - 0.3 * w
}
input x[4]: poisson(rate = 10 Hz)
population p: LIF[2] {
  tau_mem = 10 ms
  reset = zero
}
x -> p: dense {
  weight = 0.1
  learn decaying()
}
"""


def test_constants_that_no_trace_absorbs_are_rounded_and_reported():
    net, graph = graph_of(DECAYING.replace("integration = exact", "integration = euler"))
    rule = graph.connections[0].rule
    assert rule.dw == "x1 * y0 - 5 * 2^-4 * w * y0"
    assert rule.arguments()["x1_impulse"] == pytest.approx(0.02)
    assert rule.arguments()["x1_tau"] == pytest.approx(-1 / math.log(1 - 0.1))  # Euler decay
    (rounding,) = rule.roundings
    assert rounding.exact == pytest.approx(-0.3) and rounding.rendered == -0.3125
    assert rounding.relative_error == pytest.approx(0.0125 / 0.3)


@pytest.mark.parametrize("value, text, rendered", [
    (0.25, "1 * 2^-2", 0.25), (3 / 16, "3 * 2^-4", 3 / 16), (-7 * 2.0 ** 8, "-7 * 2^8", -1792.0),
    (0.3, "5 * 2^-4", 0.3125), (1e-6, "1 * 2^-7", 2.0 ** -7), (5.0, "5", 5.0)])
def test_constants_render_as_mantissa_times_power_of_two(value, text, rendered):
    assert render_constant(value) == (text, rendered)


def test_quantized_decays_and_weights():
    assert quantize_decay(0.25, 0) == (1024, 0.25)
    assert quantize_decay(1.0, 1) == (4095, 1.0)  # du = 1: Lava's offset makes 4095 + 1 = 4096
    assert quantize_decay(0.0, 0) == (0, 0.0)
    net, graph = graph_of("""
network q {
  dt = 1 ms
}
input x[50]: poisson(rate = 10 Hz)
population p: LIF[20] {
  tau_mem = 10 ms
  threshold = 1
  reset = zero
}
x -> p: dense {
  weight = uniform(-0.5, 0.5)
}
""")
    fixed = quantize(graph)
    group = fixed.groups["p"]
    assert group.scale == 2.0 ** 20 and group.vth == 2 ** 20 // 64
    connection = fixed.connections["x->p"]
    weights = graph.connections[0].weights
    assert np.all(connection.weights % 2 == 0)  # mixed signs: Lava drops the lowest bit
    assert connection.weights.min() >= -256 and connection.weights.max() <= 254
    step = 2 * 2.0 ** connection.weight_exp * 64 / group.scale
    restored = connection.weights * 2.0 ** connection.weight_exp * 64 / group.scale
    assert np.abs(restored - weights).max() <= step / 2 + 1e-12
    assert connection.relative_error == pytest.approx(
        np.abs(restored - weights).max() / np.abs(weights).max())


def test_per_neuron_thresholds_split_the_population_and_its_projections(tmp_path):
    np.save(tmp_path / "th.npy", np.array([1.0, 2.0, 1.0, 2.0, 3.0]))
    net, graph = graph_of(f"""
network split {{
  dt = 1 ms
}}
input x[3]: poisson(rate = 10 Hz)
population p: LIF[5] {{
  threshold = file("{tmp_path / 'th.npy'}")
  reset = zero
}}
x -> p: dense {{
  weight = 0.5
}}
p -> p: dense {{
  weight = 0.1
}}
""")
    assert [(g.name, g.indices.tolist(), g.vth) for g in graph.groups] == [
        ("p/0", [0, 2], 1.0), ("p/1", [1, 3], 2.0), ("p/2", [4], 3.0)]
    assert len([c for c in graph.connections if c.projection == "x->p"]) == 3
    assert len([c for c in graph.connections if c.projection == "p->p"]) == 9


@pytest.mark.parametrize("example, code, where", [
    ("alif_eprop_chip", "E511", "alif_eprop_chip.snn:33:1"),
    ("rstdp", "E513", "stdp.snn:23:3"),
    ("superspike", "E305", "superspike.snn:32:9"),
])
def test_what_lava_cannot_run_is_a_diagnostic(capsys, tmp_path, example, code, where):
    out = tmp_path / "out"
    out.mkdir()
    (out / ".snnc-output").write_text("")  # a previous output of snnc, which it may replace
    (out / "previous").write_text("kept")
    status, text = run(capsys, "compile", str(EXAMPLES / f"{example}.snn"), "--emit", "lava",
                       "-o", str(out))
    assert status == 1
    assert f"error[{code}]" in text and where in text and "Traceback" not in text
    assert (out / "previous").read_text() == "kept"  # a failed compile keeps the old output


def test_plastic_projection_with_a_delay_is_refused(capsys, tmp_path):
    source = tmp_path / "delayed.snn"
    source.write_text("""network delayed {
  dt = 1 ms
}
input x[4]: poisson(rate = 10 Hz)
population p: LIF[2] {
  reset = zero
}
x -> p: dense {
  weight = 0.1
  delay = 2
  learn stdp()
}
""")
    status, text = run(capsys, "compile", str(source), "--emit", "lava", "-o",
                       str(tmp_path / "out"))
    assert status == 1 and "error[E514]" in text and "delayed.snn:8:1" in text


def test_lava_needs_the_next_step_convention(capsys, tmp_path):
    status, text = run(capsys, "compile", str(EXAMPLES / "stdp.snn"), "--emit", "lava",
                       "--delivery", "same_step", "-o", str(tmp_path / "out"))
    assert status == 1 and "error[E509]" in text


def test_process_graph_picture_and_folder_readme():
    net = compile_text((EXAMPLES / "synfire.snn").read_text())
    files = LavaBackend(source_file="synfire.snn").emit(net)
    dot = files["process_graph.dot"]
    assert dot.startswith('digraph "synfire" {')
    assert dot.count(" -> ") == 6  # one edge per connection process
    assert '"g1" -> "g2" [label="DelayDense d=3"];' in dot
    readme = files["README.md"]
    assert "| `g1->g2` | `g1->g2`: DelayDense (delay 3) |" in readme
    assert "python run.py --steps 300" in readme


def test_graph_uses_the_next_step_plan():
    net = compile_text((EXAMPLES / "synfire.snn").read_text())
    plan = build_plan(net, "next_step")
    graph = build_graph(plan, net, Diagnostics())
    delays = {c.projection: c.delay for c in graph.connections}
    assert delays == {"source->g1": 0, "g1->g2": 3, "g2->g3": 3, "g3->g4": 3, "g4->g5": 3,
                      "g5->g1": 5}


def test_translate_is_the_function_the_backend_uses():
    """The rule on a projection is translated once per connection block, identically."""
    net, graph = graph_of((EXAMPLES / "stdp.snn").read_text())
    projection = net.projection("poisson_in->out")
    again = translate(net, projection, projection.rules[0], 1.0)
    assert again.dw == graph.connections[0].rule.dw
    assert again.arguments() == graph.connections[0].rule.arguments()


def test_several_currents_become_one_process_with_a_port_each():
    net = compile_text((EXAMPLES / "cuba.snn").read_text())
    files = LavaBackend().emit(net)
    network, models = files["network.py"], files["models.py"]
    assert "from models import CurrentsLIF2" in network
    assert "# currents: a_in_0 receptor excitatory, a_in_1 receptor inhibitory" in network
    assert "procs['exc->exc'].a_out.connect(procs['exc'].a_in_0)" in network
    assert "procs['inh->exc'].a_out.connect(procs['exc'].a_in_1)" in network
    assert "class CurrentsLIF2(AbstractProcess):" in models
    assert "'du': [0.0198013266932" in network and ", 0.00995016625083" in network
    ast.parse(models)


def test_rounded_constants_are_warnings_and_quantization_is_summarised(capsys, tmp_path):
    source = tmp_path / "decay.snn"
    source.write_text(DECAYING)
    status, text = run(capsys, "compile", str(source), "--emit", "lava", "-o",
                       str(tmp_path / "out"))
    assert status == 0
    assert "decay.snn:16:9: warning[W513]" in text
    assert "rounded from -0.3 to -0.3125 (4.2 %)" in text
    assert "1 learning rule with integer traces and stochastic rounding" in text
    status, text = run(capsys, "compile", str(EXAMPLES / "balanced_ei.snn"), "--emit", "lava",
                       "-o", str(tmp_path / "ei"))
    assert status == 0
    assert "fixed point: largest relative errors du 0.064 %, dv 0.12 %, vth 0 %, weights 0.31 %" \
        in text


def test_a_non_local_rule_is_refused(capsys, tmp_path):
    """e-prop with symmetric feedback transports the readout weights to the hidden synapses:
    class c, which no chip's learning engine can run (E302)."""
    source = tmp_path / "eprop.snn"
    source.write_text("""network nonlocal {
  dt = 1 ms
}
input x[4]: poisson(rate = 10 Hz)
population hidden: LIF[8] {
  tau_mem = 20 ms
  reset = zero
}
readout out: LI[2] {
  tau_mem = 20 ms
}
x -> hidden: dense {
  weight = 0.1
  learn eprop_symmetric(readout = out)
}
hidden -> out: dense {
  weight = 0.1
}
loss cross_entropy(out.v)
""")
    status, text = run(capsys, "compile", str(source), "--emit", "lava", "-o",
                       str(tmp_path / "out"))
    assert status == 1 and "error[E302]" in text and "eprop.snn:14:9" in text


def test_the_process_graph_is_drawn_when_graphviz_is_installed(capsys, tmp_path, monkeypatch):
    """`dot -Tpng` gets the DOT text on stdin; its output becomes process_graph.png."""
    bin_folder = tmp_path / "bin"
    bin_folder.mkdir()
    fake = bin_folder / "dot"
    fake.write_text("#!/bin/sh\n[ \"$1\" = -Tpng ] || exit 1\necho PNG; cat\n")
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_folder}:/usr/bin:/bin")
    status, text = run(capsys, "compile", str(EXAMPLES / "synfire.snn"), "--emit", "lava", "-o",
                       str(tmp_path / "out"))
    assert status == 0, text
    png = (tmp_path / "out" / "process_graph.png").read_bytes()
    assert png == b"PNG\n" + (tmp_path / "out" / "process_graph.dot").read_bytes()


def test_core_assignment_from_snnc_map(capsys, tmp_path):
    """`snnc map` writes mapping.json; `--emit lava --mapping` records each process's cores."""
    source = str(EXAMPLES / "balanced_ei.snn")
    status, text = run(capsys, "map", source, "--target", "spinnaker", "-o",
                       str(tmp_path / "map"))
    assert status == 0, text
    mapping = json.loads((tmp_path / "map" / "mapping.json").read_text())
    expected: dict[str, set] = {}
    for piece in mapping["slices"]:
        expected.setdefault(piece["population"], set()).add(piece["core"])
    status, text = run(capsys, "compile", source, "--emit", "lava", "--mapping",
                       str(tmp_path / "map" / "mapping.json"), "-o", str(tmp_path / "lava"))
    assert status == 0, text
    tree = ast.parse((tmp_path / "lava" / "network.py").read_text())
    cores = next(ast.literal_eval(node.value) for node in tree.body
                 if isinstance(node, ast.Assign) and node.targets[0].id == "CORES")
    assert {name: set(value) for name, value in cores.items()} == expected
    assert len(cores["exc"]) == 2  # 400 neurons, 256 per SpiNNaker core
    assert "| cores (`spinnaker`) |" in (tmp_path / "lava" / "README.md").read_text()


def test_a_mapping_of_another_network_is_refused(capsys, tmp_path):
    bad = tmp_path / "mapping.json"
    bad.write_text(json.dumps({"slices": [{"population": "g9", "start": 0, "stop": 3,
                                           "core": 1}]}))
    status, text = run(capsys, "compile", str(EXAMPLES / "synfire.snn"), "--emit", "lava",
                       "--mapping", str(bad), "-o", str(tmp_path / "out"))
    assert status == 1 and "error[E606]" in text and "g9[0:3]" in text
    status, text = run(capsys, "compile", str(EXAMPLES / "synfire.snn"), "--emit", "lava",
                       "--mapping", str(tmp_path / "missing.json"), "-o", str(tmp_path / "out"))
    assert status == 1 and "error[E601]" in text


def test_nir_export_records_the_mapping(capsys, tmp_path):
    nir = pytest.importorskip("nir")
    source = str(EXAMPLES / "conv_events.snn")
    status, text = run(capsys, "map", source, "--target", "loihi", "-o", str(tmp_path / "map"))
    assert status == 0, text
    path = tmp_path / "map" / "mapping.json"
    status, text = run(capsys, "compile", source, "--emit", "nir", "--mapping", str(path), "-o",
                       str(tmp_path / "nir"))
    assert status == 0, text
    graph = nir.read(str(tmp_path / "nir" / "network.nir"))
    assert json.loads(graph.metadata["mapping"]) == json.loads(path.read_text())
    status, text = run(capsys, "compile", str(EXAMPLES / "synfire.snn"), "--emit", "nir",
                       "--allow-lossy", "--mapping", str(path), "-o", str(tmp_path / "other"))
    assert status == 1 and "error[E606]" in text


def test_the_compiler_never_imports_lava(tmp_path):
    import subprocess
    import sys
    code = ("import sys; from snnc.cli import main; "
            f"main(['compile', {str(EXAMPLES / 'stdp.snn')!r}, '--emit', 'lava', '-o', "
            f"{str(tmp_path / 'out')!r}]); "
            "assert not [m for m in sys.modules if m.split('.')[0] == 'lava'], 'lava imported'")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


def test_run_py_decides_the_class_as_the_trainer(capsys, tmp_path):
    """The emitted run.py's predictions (argmax of the loss's readout reduced over time) are
    snnc.training.metrics's, and count the correct samples as its evaluate does, for every
    reduction, ties included; network.py carries the program's loss as data."""
    source = EXAMPLES / "randman" / "eprop_random.snn"
    status, text = run(capsys, "compile", str(source), "--no-learn", "--emit", "lava", "-o",
                       str(tmp_path / "lava"))
    assert status == 0, text
    tree = ast.parse((tmp_path / "lava" / "network.py").read_text())
    loss = next(ast.literal_eval(node.value) for node in tree.body
                if isinstance(node, ast.Assign) and ast.unparse(node.targets[0]) == "LOSS")
    assert loss == {"kind": "cross_entropy", "population": "out", "variable": "v",
                    "reduction": None}
    spec = importlib.util.spec_from_file_location("emitted_run", tmp_path / "lava" / "run.py")
    emitted = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(emitted)  # numpy only: Lava is imported when it runs
    assert set(emitted.REDUCTIONS) == set(REDUCTIONS)
    rng = np.random.default_rng(4)
    for reduction in REDUCTIONS:
        for values in (rng.normal(size=(30, 64, 10)),
                       rng.integers(0, 2, size=(30, 64, 10)).astype(float)):  # many ties
            labels = rng.integers(0, 10, size=64)
            predicted = emitted.predict(values, reduction)
            assert np.array_equal(predicted, REDUCTIONS[reduction](values).argmax(axis=-1))
            assert int((predicted == labels).sum()) == evaluate(values, labels, reduction)[1]


def test_a_population_split_into_many_processes_is_a_warning():
    net = compile_text("""
network spread {
  dt = 1 ms
}
input x[3]: poisson(rate = 10 Hz)
population p: LIF[40] {
  tau_mem = uniform(10 ms, 30 ms)
  reset = zero
}
x -> p: dense {
  weight = 0.5
}
""")
    diag = Diagnostics()
    graph = LavaBackend().graph(net, diag)
    assert graph is not None and len(graph.groups) == 40
    (warning,) = [d for d in diag.items if d.code == "W510"]
    assert "40 distinct (du, dv, vth)" in warning.message
