"""The NEST backend without NEST: emission, the parameter conversion and the diagnostics for
what NEST cannot run. (Running the programs against snnc run: tests/nest.)"""

from __future__ import annotations

import ast
import math
import pathlib
import subprocess
import sys

import numpy as np
import pytest
from simulate import compile_text

from snnc.backends.nest import NestBackend
from snnc.backends.nest.graph import ADAPT, DELTA, EXP, nest_tau, p21, p30
from snnc.cli import main
from snnc.diagnostics import Diagnostics
from snnc.recordings import spikes_dense

ROOT = pathlib.Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"
RUFF_CONFIG = ROOT / "tests" / "goldens" / "emitted" / "ruff.toml"

HEAD = "network t {\n  dt = 1 ms\n  seed = 1\n}\n"


def check(text: str, **options) -> tuple[Diagnostics, object]:
    net = compile_text(HEAD + text)
    diag = Diagnostics()
    graph = NestBackend(**options).graph(net, diag)
    return diag, graph


def codes(diag: Diagnostics) -> list[str]:
    return [d.code for d in diag.items]


@pytest.mark.parametrize("example", ["synfire", "cuba"])
def test_emission_is_deterministic_ruff_clean_python(capsys, tmp_path, example):
    source = str(EXAMPLES / f"{example}.snn")
    outs = [tmp_path / "a", tmp_path / "b"]
    for out in outs:
        assert main(["compile", source, "--emit", "nest", "-o", str(out)]) == 0, \
            capsys.readouterr()
    names = sorted(p.name for p in outs[0].iterdir())
    assert names == [".snnc-output", "README.md", "__init__.py", "network.npz", "network.py",
                     "run.py"]
    for name in names:
        assert (outs[0] / name).read_bytes() == (outs[1] / name).read_bytes(), name
    for name in ("network.py", "run.py"):
        ast.parse((outs[0] / name).read_text())
    pytest.importorskip("ruff")
    result = subprocess.run([sys.executable, "-m", "ruff", "check", "--no-cache", "--config",
                             str(RUFF_CONFIG), *map(str, outs[0].glob("*.py"))],
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_connectivity_nest_uses_rules_and_exact_passes_arrays(tmp_path, capsys):
    source = str(EXAMPLES / "cuba.snn")
    for mode, out in (("nest", tmp_path / "n"), ("exact", tmp_path / "e")):
        argv = ["compile", source, "--emit", "nest", "-o", str(out), "--connectivity", mode,
                "--delivery", "next_step"]
        status = main(argv)
        text = capsys.readouterr()
        if mode == "exact":  # a zero-delay CubaLIF/receptor recurrence: not exact in NEST
            assert status == 1 and "E523" in text.err, text
            continue
        assert status == 0 and "W523" in text.err
        network = (out / "network.py").read_text()
        assert network.count("'pairwise_bernoulli'") == 4 and "connect_arrays(nodes" not in network
        with np.load(out / "network.npz") as data:
            assert not [k for k in data.files if k.startswith("synapses/")]


def test_provenance_comments_and_exact_synapses(tmp_path, capsys):
    out = tmp_path / "s"
    assert main(["compile", str(EXAMPLES / "synfire.snn"), "--emit", "nest", "-o", str(out),
                 "--connectivity", "exact", "--poisson", "exact"]) == 0
    capsys.readouterr()
    network = (out / "network.py").read_text()
    assert "# population g1[20]: Relay = LIF" in network
    assert "#   tau_mem = 10 ms" in network
    assert "# projection g1->g2: g1 -> g2" in network and "delay 3 as written" in network
    assert "poisson_spikes(steps, 20, 0.04, stream=0)" in network
    with np.load(out / "network.npz") as data:
        assert data["synapses/g1->g2.weight"].shape == (400,)
        assert data["synapses/g5->g1.pre"].tolist() == list(range(20))


def test_parameters_reproduce_snnc_decays_bit_for_bit():
    for h, tau in ((1.0, 20.0), (0.1, 20.0), (0.1, 5.0), (1.0, 3.7), (0.25, 1000.0)):
        a = float(np.exp(-(h / 1000) / (tau / 1000)))  # snnc: exp(-dt/tau) in seconds
        assert math.exp(-h / nest_tau(h, a)) == a
    assert nest_tau(1.0, 1.0) == 1e300 and math.exp(-1.0 / 1e300) == 1.0
    # P30: the integral of a unit current over a step; P21 against the closed form
    assert p30(1.0, 20.0) == pytest.approx(20.0 * (1 - math.exp(-1 / 20)), rel=1e-14)
    closed = 5.0 * 20.0 / (20.0 - 5.0) * (math.exp(-1 / 20) - math.exp(-1 / 5))
    assert float(p21(1.0, 5.0, 20.0)) == pytest.approx(closed, rel=1e-12)
    assert float(p21(1.0, 20.0, 20.0)) == pytest.approx(math.exp(-1 / 20), rel=1e-12)


def test_models_thresholds_and_biases():
    diag, graph = check("""
neuron Cell = LIF {
  tau_mem = 20 ms
  threshold = 1
  reset = zero
  bias = 0.5
  v_leak = 0.2
  refractory = 3
}
input x[4]: poisson(rate = 10 Hz)
population a: Cell[3]
population b: CubaLIF[2] {
  tau_syn = 5 ms
  reset = zero
}
x -> a: dense { weight = 0.5 }
a -> b: dense { weight = 0.5 }
""")
    assert graph is not None, codes(diag)
    a, b = graph.populations
    assert (a.model, b.model) == (DELTA, EXP) and b.ports == {None: 1}
    assert a.params["V_th"] == np.nextafter(1.0, 2.0) and a.params["t_ref"] == 3.0
    a_mem = math.exp(-1 / 20)
    assert a.params["I_e"] * p30(1.0, a.params["tau_m"]) == pytest.approx(
        (1 - a_mem) * 0.2 + 0.5, rel=1e-14)
    # offsets: x -> a same step (a one step later in NEST), b's current one more
    assert [x.offset for x in (*graph.sources, *graph.populations)] == [0, 1, 3]
    assert [c.delay for c in graph.connections] == [1, 1]


def test_alif_becomes_the_adaptive_eprop_neuron_with_snncs_decays():
    """ALIF on eprop_iaf_psc_delta_adapt: exp(-h/adapt_tau) is snnc's rho to the bit, adapt_beta
    is beta_adapt (per neuron too), I_e goes through the model's own P_i = tau_m (1 - P_v)."""
    diag, graph = check("""
population a: ALIF[3] {
  tau_mem = 20 ms
  tau_adapt = 300 ms
  beta_adapt = 0.4
  threshold = 1
  reset = zero
  bias = 0.05
}
population b: ALIF[4] {
  reset = zero
  beta_adapt = uniform(0.1, 0.5)
}
a -> b: dense { weight = 0.5 }
""")
    assert graph is not None, codes(diag)
    a, b = graph.populations
    assert a.model == b.model == ADAPT and not a.ports
    assert math.exp(-1.0 / a.params["adapt_tau"]) == math.exp(-1 / 300)
    assert a.params["adapt_beta"] == 0.4 and np.shape(b.params["adapt_beta"]) == (4,)
    p_i = a.params["tau_m"] * (1 - math.exp(-1.0 / a.params["tau_m"]))
    assert a.params["I_e"] * p_i == pytest.approx(0.05, rel=1e-14)
    assert graph.connections[0].delay == 1 and b.offset == a.offset + 1


@pytest.mark.parametrize("text, code, words", [
    ("population a: ALIF[2] {\n  reset = zero\n  refractory = 2\n}\n", "E520",
     "neither decays nor increments the adaptation while refractory"),
    ("population a: ALIF[2] { reset = zero }\na -> a: dense {\n  weight = 0.1\n"
     "  receptor e(tau = 5 ms)\n  delay = 3 ms\n}\n", "E520", "instantaneous input only"),
    ("population a: IF[2] {\n  bias = 0.1\n  reset = zero\n}\n", "E520", "with a bias"),
    ("population a: LIF[2] { reset = subtract }\n", "E521", "reset 'subtract'"),
    ("population a: LIF[2] { reset = none }\n", "E521", "reset 'none'"),
    ("input x[2]: poisson(rate = 5 Hz)\npopulation a: LIF[2] { reset = zero }\n"
     "x -> a: dense {\n  weight = 1\n  learn stdp()\n}\n", "E522", "same step"),
    ("population a: LIF[2] { reset = zero }\npopulation b: LIF[2] { reset = zero }\n"
     "a -> b: dense {\n  weight = 0.1\n  learn rstdp()\n}\n", "E522", "same step"),
    ("population a: CubaLIF[4] { reset = zero }\na -> a: dense { weight = 0.1 }\n",
     "E523", "cycle"),
    ("population a: LIF[2] { reset = zero }\npopulation b: LIF[2] { reset = zero }\n"
     "a -> b: dense { weight = 1 }\na -> b as r: dense {\n  weight = 1\n"
     "  receptor e(tau = 5 ms)\n}\n", "E520", "both instantaneous"),
])
def test_what_nest_cannot_run_is_a_diagnostic(text, code, words):
    diag, graph = check(text, connectivity="exact")
    assert graph is None
    found = [d for d in diag.items if d.code == code]
    assert found and words in found[0].message and found[0].hint, codes(diag)


def test_records_other_than_population_spikes_and_voltages_are_a_warning(capsys, tmp_path):
    assert main(["compile", str(EXAMPLES / "synfire.snn"), "--emit", "nest", "-o",
                 str(tmp_path / "s")]) == 0
    err = capsys.readouterr().err
    assert "W524" not in err
    assert "RECORD = {'g1.s': 20, 'g2.s': 20, 'g3.s': 20, 'g4.s': 20, 'g5.s': 20, 'g5.v': 20}" in \
        (tmp_path / "s" / "network.py").read_text()
    assert main(["compile", str(EXAMPLES / "stdp.snn"), "--emit", "nest", "--no-learn", "-o",
                 str(tmp_path / "t")]) == 0
    err = capsys.readouterr().err
    assert "W524" in err and "poisson_in->out.w" in err


def test_a_fast_recurrence_is_a_warning_with_nest_connectivity():
    diag, graph = check("population a: CubaLIF[4] { reset = zero }\n"
                        "a -> a: sparse(p = 0.5) { weight = 0.1 }\n")
    assert graph is not None and codes(diag) == ["W523"]
    assert graph.connections[0].delay == 1 and graph.connections[0].rule == "pairwise_bernoulli"


def test_run_merges_the_ranks_files(tmp_path, capsys, monkeypatch):
    """run.py's save() under MPI, with a stand-in for nest: rank 1 writes its part, rank 0
    merges it with its own (spikes OR-ed, voltages from the rank that owns the neuron)."""
    import importlib.util
    import types
    out = tmp_path / "s"
    assert main(["compile", str(EXAMPLES / "synfire.snn"), "--emit", "nest", "-o", str(out)]) == 0
    capsys.readouterr()
    spec = importlib.util.spec_from_file_location("nest_run_under_test", out / "run.py")
    run = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(run)
    network = types.SimpleNamespace(DT=0.001)
    output = str(tmp_path / "rec.npz")
    spikes = np.zeros((4, 3), bool)
    volts = np.full((4, 3), np.nan)
    parts = {1: ({"g1.s": spikes.copy(), "g5.v": volts.copy()}, [2]),
             0: ({"g1.s": spikes.copy(), "g5.v": volts.copy()}, [0, 1])}
    for rank in (1, 0):  # rank 1 finishes first; rank 0 merges after the barrier
        recorded, owned = parts[rank]
        recorded["g1.s"][rank, owned] = True
        recorded["g5.v"][:, owned] = float(rank + 1)
        fake = types.SimpleNamespace(NumProcesses=lambda: 2, Rank=lambda r=rank: r,
                                     SyncProcesses=lambda: None)
        monkeypatch.setitem(sys.modules, "nest", fake)
        run.save(recorded, 4, output, network)
    with np.load(output) as merged:
        g1 = spikes_dense(merged, "g1.s")
        assert g1.shape == (4, 1, 3) and int(merged["steps"]) == 4
        assert [a.tolist() for a in g1[:, 0].nonzero()] == [[0, 0, 1], [0, 1, 2]]
        assert merged["g5.v"][:, 0].tolist() == [[1.0, 1.0, 2.0]] * 4
    assert sorted(p.name for p in tmp_path.iterdir()) == ["rec.npz", "s"]


def test_pair_stdp_in_nests_convention_becomes_stdp_synapse(tmp_path):
    """stdp_nest (recognised from its expressions) maps onto stdp_synapse; rules.py."""
    diag, graph = check("input x[3]: poisson(rate = 5 Hz)\n"
                        "population a: LIF[2] {\n  tau_mem = 20 ms\n  reset = zero\n}\n"
                        "x -> a: dense {\n  weight = 0.05\n  learn stdp_nest(lr = 0.005, "
                        "tau_plus = 16.8 ms, tau_minus = 33.7 ms, w_max = 0.1)\n}\n")
    assert graph is not None, codes(diag)
    c = graph.connections[0]
    assert c.learning_rule == "stdp_nest"
    assert c.synapse["lambda"] == pytest.approx(0.005 / 0.1, rel=1e-15)
    assert (c.synapse["alpha"], c.synapse["mu_plus"], c.synapse["mu_minus"]) == (1.05, 0, 0)
    assert c.synapse["Wmax"] == pytest.approx(0.1 * c.weight[1] / 0.05, rel=1e-15)
    assert math.exp(-1 / c.synapse["tau_plus"]) == math.exp(-1e-3 / 16.8e-3)
    assert math.exp(-1 / graph.populations[0].params["tau_minus"]) == math.exp(-1e-3 / 33.7e-3)
    # an input on the pre side is replayed through parrots (generators fire a step earlier)
    diag, graph = check("input x[3]\npopulation a: LIF[2] { reset = zero }\n"
                        "x -> a: dense {\n  weight = 0.05\n  learn stdp_nest()\n}\n",
                        connectivity="exact")
    assert graph is not None and graph.sources[0].parrots and graph.sources[0].offset >= 1


def test_a_projection_beyond_one_virtual_process_is_a_warning_and_its_own_model(monkeypatch):
    """NEST 3.10 holds at most 2^27 - 2 connections per synapse model and virtual process:
    W526 names the threads x ranks a larger projection needs; every static projection gets its
    own copy of static_synapse, so that two projections do not share the limit."""
    text = """
population exc: LIF[2000000] { reset = zero }
population inh: LIF[500000] { reset = zero }
exc -> exc: fixed_fan_in(k = 70) { weight = 0.1 }
exc -> inh: fixed_fan_in(k = 64) { weight = 0.1 }
"""
    monkeypatch.setenv("SNNC_MEMORY_LIMIT", "100G")  # NEST's estimate: ~9 GB
    net = compile_text(HEAD + text)
    diag = Diagnostics()
    backend = NestBackend(record_neurons=1)
    backend.check(net, diag)
    [warning] = [d for d in diag.items if d.code == "W526"]
    assert "projection 'exc->exc' has 140,000,000 synapses" in warning.message
    assert "--threads 2" in warning.hint and not diag.has_errors
    network_py = backend.emit(net)["network.py"]
    assert "SYNAPSES = {'exc->exc': 140000000, 'exc->inh': 32000000}" in network_py
    assert network_py.count("nest.CopyModel('static_synapse', 'static_") == 2
    assert "'synapse_model': 'static_1'" in network_py
