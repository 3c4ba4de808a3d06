"""Xylo and Speck as their vendors' code describes them (docs/synsense.md): the profiles'
figures and their sources, the neuron and layout checks of check-target (E405, E402, W405),
the infeasible fixtures under tests/fixtures/xylo/ and tests/fixtures/speck_models/, and
(when rockpool 3.1.0 is importable) every Rockpool figure of the Xylo profiles compared with
Rockpool's own constants.

An infeasible fixture starts with one line per expected error, in the order of
``Diagnostics.sorted()``, then a line that states the mistake::

    # expect: E405 at 10:1: 'hidden' (ALIF) has an adaptive threshold ...
    # mistake: an adaptive (LSNN) hidden layer on Xylo ...

The message after the position is the whole message. A feasible fixture starts with
``# feasible:``.
"""

import json
import math
import os
import pathlib
import re
import subprocess
import sys

import pytest

import snnc
from snnc.diagnostics import Diagnostics, Severity
from snnc.ir.discrete import decay
from snnc.ir.nodes import Settings
from snnc.passes import DEFAULT_PIPELINE
from snnc.targets import builtin_names, load_builtin, profile_from_file, schema_problems
from snnc.vocabulary import BUILTIN_TARGETS

ROOT = pathlib.Path(__file__).resolve().parents[1]
FIXTURES = ROOT / "tests" / "fixtures"
XYLOS = ("xylo", "xylo_audio3", "xylo_imu")
EXPECT = re.compile(r"# expect: (?P<code>[EW]\d{3}) at (?P<line>\d+):(?P<column>\d+): "
                    r"(?P<message>.+)$")


def checked(path: pathlib.Path, target: str | None = None):
    """The default pipeline (check-target, check-fit, ...) on a file; (network or None, sink)."""
    diag = Diagnostics()
    program = snnc.load_text(path.read_text(), str(path), diag)
    options = {"check-target": {"target": target}} if target else {}
    return snnc.compile_program(program, diag, passes=DEFAULT_PIPELINE, options=options), diag


def errors(diag: Diagnostics) -> list:
    return [d for d in diag.sorted() if d.severity is Severity.ERROR]


def infeasible(folder: str) -> list[pathlib.Path]:
    return sorted(p for p in (FIXTURES / folder).glob("*.snn")
                  if p.read_text().startswith("# expect:"))


def expected(path: pathlib.Path) -> list[tuple[str, int, int, str]]:
    lines = path.read_text().splitlines()
    found = [m for line in lines if (m := EXPECT.match(line))]
    assert found and lines[len(found)].startswith("# mistake: "), path.name
    return [(m["code"], int(m["line"]), int(m["column"]), m["message"]) for m in found]


INFEASIBLE = infeasible("xylo") + infeasible("speck_models")


def test_five_infeasible_networks_per_chip():
    assert len(infeasible("xylo")) >= 5 and len(infeasible("speck_models")) >= 5
    # the Xylo fixtures cover each variant
    targets = {re.search(r"^target (\w+)", p.read_text(), re.M)[1] for p in infeasible("xylo")}
    assert targets == set(XYLOS)


@pytest.mark.parametrize("path", INFEASIBLE, ids=[f"{p.parent.name}/{p.name}" for p in INFEASIBLE])
def test_an_infeasible_network_is_refused_with_each_violation_named(path):
    net, diag = checked(path)
    assert net is None
    found = errors(diag)
    assert [(d.code, d.span.line, d.span.column, d.message) for d in found] == expected(path)
    assert all(d.hint for d in found)


@pytest.mark.parametrize("name, target", [(n, t) for n in ("feedforward", "recurrent")
                                          for t in XYLOS])
def test_feasible_xylo_networks_pass_every_check(name, target):
    """LIF dynamics with a synaptic current, subtractive reset, Euler decays 1 - 2^-dash,
    16 or fewer inputs, 8 or fewer outputs: accepted by check-target and check-fit; the one
    warning is the weights' quantisation to 8 bits."""
    net, diag = checked(FIXTURES / "xylo" / f"{name}.snn", target)
    assert net is not None, [snnc.render(d, diag.sources) for d in diag.items]
    assert "check-fit" in snnc.passes.ran(net)
    ours = [d for d in diag.items if d.code == "W405"]
    assert len(ours) == 1 and "8-bit weights, so each matrix is scaled to +-127" in ours[0].message


def test_a_feasible_speck_network_passes_the_neuron_checks():
    net, diag = checked(FIXTURES / "speck_models" / "feedforward.snn")
    assert net is not None, [snnc.render(d, diag.sources) for d in diag.items]
    assert not [d for d in diag.items if d.code.endswith("405")]


def codes_and_phrases(diag: Diagnostics) -> set[tuple[str, str]]:
    """(code, the message up to its first ';' without the population or projection it
    begins with) of every error: one entry per kind of violation."""
    return {(d.code, re.sub(r"^'[\w>-]+' (\(\w+\) )?", "", d.message).split(";")[0])
            for d in errors(diag)}


def test_cuba_is_refused_on_xylo_with_its_reasons():
    net, diag = checked(ROOT / "examples" / "cuba.snn", "xylo")
    assert net is None
    assert codes_and_phrases(diag) == {
        ("E405", "sets the membrane to v_reset after a spike (reset = zero)"),
        ("E405", "has a refractory period of 50 step(s)"),
        ("E402", "the network has 4,000 hidden neurons but xylo has 1,000 (its output neurons "
                 "are separate)"),
        ("E405", "the network has no readout"),
    }
    # two receptors fit Audio 2's two synaptic states, not the IMU's one
    _, imu = checked(ROOT / "examples" / "cuba.snn", "xylo_imu")
    assert ("E405", "needs 2 synaptic currents (receptor 'excitatory', receptor 'inhibitory')"
            ) in codes_and_phrases(imu)


def test_cuba_is_refused_on_speck_with_its_reasons():
    net, diag = checked(ROOT / "examples" / "cuba.snn", "speck")
    assert net is None
    assert codes_and_phrases(diag) == {
        ("E405", "leaks (tau_mem)"),
        ("E405", "has a refractory period of 50 step(s)"),
        ("E405", "filters its input through a synaptic current (receptor 'excitatory', "
                 "receptor 'inhibitory')"),
        ("E405", "closes a loop ('exc' reaches 'exc')"),
        ("E405", "closes a loop ('exc' reaches 'inh')"),
        ("E405", "closes a loop ('inh' reaches 'inh')"),
    }


# ---- bit-shift decays -------------------------------------------------------------------------

def shifted(dash: int) -> float:
    """The factor of one Xylo decay step on a large state, from integers as xylosim computes
    it: v - (v >> dash) (docs/synsense.md 1.4), v = 2^40 so the floor is exact."""
    v = 1 << 40
    return (v - (v >> dash)) / v


def program(tau_mem: str, integration: str) -> str:
    return (f"network n {{\n  dt = 1 ms\n  integration = {integration}\n}}\n"
            "input x[4]: poisson(rate = 10 Hz)\n"
            f"population h: CubaLIF[4] {{\n  tau_mem = {tau_mem}\n  tau_syn = 4 ms\n"
            "  reset = subtract\n}\n"
            "readout o: CubaLIF[2] {\n  tau_mem = 16 ms\n  tau_syn = 4 ms\n  reset = subtract\n}\n"
            "x -> h: dense\nh -> o: dense\ntarget xylo\n")


@pytest.mark.parametrize("integration, tau_mem, dash", [
    ("euler", "20 ms", 4), ("euler", "50 ms", 6), ("exact", "16 ms", 4), ("exact", "100 ms", 7),
])
def test_a_time_constant_between_shifts_is_warned_with_the_nearest_one(tmp_path, integration,
                                                                      tau_mem, dash):
    """The hint's tau decays, under the network's integration, exactly as v - (v >> dash)."""
    path = tmp_path / "n.snn"
    path.write_text(program(tau_mem, integration))
    net, diag = checked(path)
    assert net is not None
    (warning,) = [d for d in diag.items if d.code == "W405" and "tau_mem" in d.message
                  and "of 'h'" in d.message]
    assert f"the nearest is dash = {dash}" in warning.message
    named = re.search(r"write tau_mem = ([\d.]+) ms", warning.hint)[1]
    settings = Settings(dt=1e-3, integration=integration)
    assert decay(settings, float(named) * 1e-3) == pytest.approx(shifted(dash), abs=1e-6)
    if integration == "euler":
        assert float(named) == 2 ** dash
    else:
        assert float(named) == pytest.approx(-1 / math.log(1 - 2 ** -dash), rel=1e-5)


@pytest.mark.parametrize("integration, tau_mem", [("euler", "32 ms"),
                                                  ("exact", f"{-1 / math.log(1 - 2 ** -5)!r} ms")])
def test_an_exact_bit_shift_decay_is_not_warned(tmp_path, integration, tau_mem):
    path = tmp_path / "n.snn"
    path.write_text(program(tau_mem, integration))
    net, diag = checked(path)
    assert net is not None and not [d for d in diag.items if d.code == "W405"
                                    and "tau_mem" in d.message and "of 'h'" in d.message]


# ---- profiles and schema ----------------------------------------------------------------------

def test_every_synsense_figure_names_its_package_version_and_file():
    for name in XYLOS + ("speck",):
        profile = load_builtin(name)
        figures = {**profile.capacity, **profile.mesh, **profile.neurons}
        assert set(profile.figure_sources) == set(figures), name
        vendor = ("rockpool 3.1.0, rockpool/", "xylosim 0.1.3, src/") if name != "speck" \
            else ("sinabs 3.1.3, sinabs/",)
        for key in profile.neurons:
            assert profile.figure_sources[key].startswith(vendor), (name, key)
        if name != "speck":
            assert "recurrent_targets_per_neuron" not in profile.capacity  # it has no source
            for key in profile.capacity:
                assert profile.figure_sources[key].startswith(vendor), (name, key)


def test_the_xylo_variants_differ_where_rockpool_says():
    a2, a3, imu = (load_builtin(name) for name in XYLOS)
    assert [p.capacity["neurons_per_core"] for p in (a2, a3, imu)] == [1000, 992, 496]
    assert [p.capacity["output_neurons"] for p in (a2, a3, imu)] == [8, 32, 16]
    assert [p.neurons["synaptic_states"] for p in (a2, a3, imu)] == [2, 2, 1]
    assert [p.neurons["input_expansion_neurons"] for p in (a2, a3, imu)] == [1000, 128, 128]
    assert {p.capacity["input_channels"] for p in (a2, a3, imu)} == {16}


def test_every_builtin_target_is_a_known_target_name():
    assert set(BUILTIN_TARGETS) == set(builtin_names())
    # the other chips carry no neuron facts: their checks are unchanged
    assert [n for n in builtin_names() if load_builtin(n).neurons] == ["speck", *XYLOS]


@pytest.mark.parametrize("neurons, message", [
    ({"leak": "exponential"}, "neurons 'leak' is one of bit_shift, none, not 'exponential'"),
    ({"synaptic_states": -1}, "neurons 'synaptic_states' must be a whole number from 0 to "
                              "1,099,511,627,776, not -1"),
    ({"resets": ["zeroo"]}, "neurons 'resets' is a list of reset kinds (zero, subtract, none)"),
    ({"refractory": "no"}, "neurons 'refractory' is true or false, not 'no'"),
    ({"refactory": False}, "unknown neurons entry 'refactory'"),
])
def test_a_target_file_with_a_bad_neuron_fact_is_a_clear_diagnostic(tmp_path, neurons, message):
    document = {"base": "xylo", "neurons": neurons}
    assert [m for m, _ in schema_problems(document)] == [message]
    path = tmp_path / "chip.json"
    path.write_text(json.dumps(document))
    diag = Diagnostics()
    assert profile_from_file(str(path), diag) is None
    (error,) = diag.items
    assert error.code == "E618" and error.message.endswith(message)
    if "refactory" in neurons:
        assert error.hint == "did you mean 'refractory'?"


def test_a_target_file_overrides_one_neuron_fact(tmp_path):
    """A chip with three synaptic states per neuron takes the three-currents fixture."""
    path = tmp_path / "chip.json"
    path.write_text(json.dumps({"base": "xylo", "neurons": {"synaptic_states": 3}}))
    net, diag = checked(FIXTURES / "xylo" / "three_currents.snn", str(path))
    assert net is not None, [snnc.render(d, diag.sources) for d in diag.items]
    profile = net.analyses["check-target"]
    assert profile.neurons["synaptic_states"] == 3 and profile.neurons["resets"] == ["subtract"]
    assert profile.figure_sources["synaptic_states"] == str(path)


# ---- Rockpool's own constants -----------------------------------------------------------------

#: imports rockpool 3.1.0's Xylo packages with samna answered by mocks (docs/synsense.md
#: section 4) and prints the constants the profiles state
PROBE = r'''
import inspect, json, sys, types, warnings
sys.path.insert(0, sys.argv[1])  # the tests' folder
from samna_stub import SamnaStub

sys.meta_path.insert(0, SamnaStub())
import rockpool
import rockpool.devices.xylo as xylo
from rockpool.devices.xylo.syns61201 import xylo_mapper as a2
from rockpool.devices.xylo.syns65302 import xylo_mapper as a3, ram as a3_ram
from rockpool.devices.xylo.syns63300 import xylo_mapper as imu
from rockpool.transform import quantize_methods

def default(function, name):
    return inspect.signature(function).parameters[name].default

def input_limit(rule):
    """The largest input count for which the design rule does not warn."""
    n = 1
    while True:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            rule(types.SimpleNamespace(input_nodes=list(range(n + 1))))
        if caught:
            return n
        n += 1

def synapses(mapper):
    rules = [rule.__name__ for rule in mapper.xylo_drc]
    if "max_synapses_per_neuron" in rules:
        return default(mapper.max_synapses_per_neuron, "max_syns")
    return 2 if "Two synapses per neuron" in xylo.__doc__ else None

found = {"version": rockpool.__version__}
for name, mapper in (("xylo", a2), ("xylo_audio3", a3), ("xylo_imu", imu)):
    found[name] = {
        "neurons_per_core": default(mapper.mapper, "max_hidden_neurons"),
        "output_neurons": default(mapper.mapper, "max_output_neurons"),
        "input_channels": input_limit(mapper.le_16_input_channels),
        "weight_bits": default(quantize_methods.global_quantize, "bits_per_weight"),
        "threshold_bits": default(quantize_methods.global_quantize, "bits_per_threshold"),
        "synaptic_states": synapses(mapper),
    }
# Audio 3's RAM: 16 input channels x IEN input weights, OEN x 32 output weights
found["xylo_audio3"]["input_expansion_neurons"] = (a3_ram.IWT2RAM - a3_ram.IWTRAM) // 16
found["xylo_audio3"]["output_expansion_neurons"] = (a3_ram.RAM_END + 1 - a3_ram.OWTRAM) // 32
print(json.dumps(found))
'''


def rockpool_constants() -> dict:
    import importlib.util
    if importlib.util.find_spec("rockpool") is None:
        if os.environ.get("SNNC_REQUIRE_ROCKPOOL") == "1":
            pytest.fail("SNNC_REQUIRE_ROCKPOOL=1 but rockpool is not importable")
        pytest.skip("rockpool 3.1.0 is not installed (pip install --no-deps rockpool==3.1.0)")
    done = subprocess.run([sys.executable, "-c", PROBE, str(ROOT / "tests")],
                          capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_the_xylo_profiles_state_rockpools_own_constants():
    found = rockpool_constants()
    assert found.pop("version") == "3.1.0"
    for name, figures in found.items():
        profile = load_builtin(name)
        stated = {**profile.capacity, **profile.neurons}
        assert {key: stated[key] for key in figures} == figures, name
