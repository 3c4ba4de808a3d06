"""The discrete model's dt conversions (snnc.ir.discrete) and the model table's properties
(snnc.models), which backends ask instead of model names (issue 14, item 1)."""

import dataclasses
import math
import pathlib
import re

import numpy as np
import pytest
from simulate import compile_text

from snnc.backends.lava.graph import build_graph
from snnc.backends.nir.export import lossy_constructs
from snnc.diagnostics import Diagnostics
from snnc.ir.discrete import (
    build_plan,
    decay,
    r_dt_over_tau,
    spike_probability,
    step_count,
    tau_in_steps,
)
from snnc.ir.nodes import Settings
from snnc.models import MODELS, RESETS, ModelProperties

ROOT = pathlib.Path(__file__).resolve().parents[1]
EXACT = Settings(dt=1e-3, integration="exact")
EULER = Settings(dt=1e-3, integration="euler")


# -- dt conversions -----------------------------------------------------------------------------

@pytest.mark.parametrize("tau", [0.002, 0.02, 0.0337, 1.0])
def test_decay_is_exp_under_exact_and_one_minus_dt_over_tau_under_euler(tau):
    exact, euler = decay(EXACT, tau), decay(EULER, tau)
    assert type(exact) is float and type(euler) is float
    assert exact == math.exp(-1e-3 / tau)
    assert euler == 1.0 - 1e-3 / tau
    assert 0 < euler < exact < 1  # 1 - x < exp(-x) for x > 0


def test_decay_of_an_array_is_the_array_of_decays():
    tau = np.array([0.002, 0.02, 0.2])
    exact, euler = decay(EXACT, tau), decay(EULER, tau)
    assert isinstance(exact, np.ndarray) and exact.shape == (3,)
    assert np.array_equal(exact, np.exp(-1e-3 / tau))
    assert np.array_equal(euler, 1.0 - 1e-3 / tau)
    assert [decay(EXACT, float(t)) for t in tau] == list(exact)


def test_decay_is_the_only_decay():
    """Settings has no decay of its own any more: snnc.ir.discrete.decay is the one."""
    assert not hasattr(Settings, "decay")


def test_step_count_is_duration_over_dt_rounded_else_the_default():
    assert step_count(Settings(dt=1e-3, duration=0.5)) == 500
    assert step_count(Settings(dt=1e-4, duration=0.3)) == 3000  # 0.3 / 1e-4 = 2999.9999999999995
    assert step_count(Settings(dt=1e-3, duration=0.0004)) == 0
    assert step_count(Settings(dt=1e-3)) is None
    assert step_count(Settings(dt=1e-3), default=1000) == 1000
    assert step_count(Settings(dt=1e-3, duration=0.25), default=1000) == 250


def test_tau_in_steps_divides_once_so_33_7_ms_is_33_7_steps():
    """0.0337 / 0.001 is the double nearest 33.7 (the Lava trace of examples/stdp.snn prints
    ``y1_tau=33.7``); going through the decay and back, -1 / log(exp(-dt/tau)), is not."""
    steps = tau_in_steps(EXACT, 0.0337)
    assert steps == 33.7 and repr(steps) == "33.7"
    round_trip = -1.0 / math.log(decay(EXACT, 0.0337))
    assert round_trip != 33.7 and abs(round_trip - 33.7) < 1e-9
    assert tau_in_steps(Settings(dt=5e-4), 0.02) == 40.0
    assert np.array_equal(tau_in_steps(EXACT, np.array([0.002, 0.02])), [2.0, 20.0])


def test_poisson_probability_and_nir_input_scaling():
    assert spike_probability(EXACT, 20.0) == 20.0 * 1e-3
    assert r_dt_over_tau(EXACT, 2.0, 0.02) == 2.0 * 1e-3 / 0.02
    assert np.array_equal(r_dt_over_tau(EXACT, np.array([1.0, 2.0]), 0.01), [0.1, 0.2])


NETWORK = """network n {{
  dt = 1 ms
  integration = {integration}
}}
input x[2]: poisson(rate = 50 Hz)
population h: {model}[3] {{
  tau_mem = 20 ms
  {extra}
}}
x -> h: dense {{ weight = 0.5 }}
"""


@pytest.mark.parametrize("integration", ["exact", "euler"])
def test_the_plan_takes_its_decays_and_probabilities_from_the_discrete_functions(integration):
    net = compile_text(NETWORK.format(integration=integration, model="CubaLIF",
                                      extra="tau_syn = 5 ms"))
    plan = build_plan(net)
    h = plan.populations[0]
    assert h.scalars["a_mem"] == decay(net.settings, 0.02)
    assert h.scalars["a_syn"] == decay(net.settings, 0.005)
    assert plan.inputs[0].probability == spike_probability(net.settings, 50.0)


# -- model properties ---------------------------------------------------------------------------

def test_every_model_declares_properties_that_match_its_parameters():
    for spec in MODELS.values():
        props, params = spec.properties, set(spec.param_names)
        assert props.synaptic_current == ("tau_syn" in params), spec.name
        assert props.adaptation == ({"tau_adapt", "beta_adapt"} <= params), spec.name
        assert props.leak == ("tau_mem" in params), spec.name
        assert props.spiking == ("threshold" in params) == spec.spiking, spec.name
        assert props.resets == (RESETS if props.spiking else ()), spec.name
        assert spec.update.startswith("I[n] = ") and ("s[n]" in spec.update) == props.spiking


def test_the_plan_reads_the_properties():
    net = compile_text(NETWORK.format(integration="exact", model="ALIF", extra=""))
    h = build_plan(net).populations[0]
    assert h.adaptive and not h.has_syn and h.leak and h.spiking
    assert h.properties == MODELS["ALIF"].properties and "rho" in h.scalars


def register(monkeypatch, name: str, base: str, **properties) -> None:
    """A new entry of the model table: ``base``'s parameters under another name."""
    spec = MODELS[base]
    props = dataclasses.replace(spec.properties, **properties)
    monkeypatch.setitem(MODELS, name, dataclasses.replace(spec, name=name, properties=props))


def test_a_new_adaptive_model_is_not_exported_to_nir_without_a_word(monkeypatch):
    """The exporter asks the property, not the name: a second adaptive model gets E503 (and
    Lava E511) exactly as ALIF does."""
    register(monkeypatch, "AdaptiveLIF", "ALIF")
    net = compile_text(NETWORK.format(integration="exact", model="AdaptiveLIF", extra=""))
    plan = build_plan(net)
    assert plan.populations[0].adaptive
    codes = [(code, message) for code, _, message in lossy_constructs(net, plan)]
    assert codes == [("E503", "'h' is AdaptiveLIF: NIR has no adaptive threshold")]
    diag = Diagnostics()
    assert build_graph(build_plan(net, "next_step"), net, diag) is None
    assert [d.code for d in diag.items] == ["E511"]


def test_nir_refuses_properties_it_has_no_node_for(monkeypatch):
    """A current-based model without leak has no NIR node (NIR's IF has no current): E515,
    naming the properties."""
    register(monkeypatch, "CubaIF", "CubaLIF", leak=False)
    net = compile_text(NETWORK.format(integration="exact", model="CubaIF",
                                      extra="tau_syn = 5 ms"))
    plan = build_plan(net)
    assert plan.populations[0].scalars["a_mem"] == 1.0
    problems = [(code, message) for code, _, message in lossy_constructs(net, plan)]
    assert problems == [("E515", "'h' is CubaIF (synaptic_current, spiking): NIR has no neuron "
                                 "node with these properties")]


def test_docs_models_lists_every_models_properties():
    """docs/models.md has one row per model in its properties table, with the table's values."""
    text = (ROOT / "docs/models.md").read_text(encoding="utf-8")
    section = text.split("## Model properties", 1)[1].split("\n## ", 1)[0]
    rows = {cells[0].strip("` "): [c.strip() for c in cells[1:]]
            for line in section.splitlines() if line.startswith("| `")
            for cells in [line.strip("|").split("|")]}
    assert set(rows) == set(MODELS)
    yes = {"yes": True, "no": False}
    for name, cells in rows.items():
        props: ModelProperties = MODELS[name].properties
        flags = [yes[c] for c in cells[:4]]
        assert flags == [props.synaptic_current, props.adaptation, props.leak, props.spiking]
        assert re.findall(r"`(\w+)`", cells[4]) == list(props.resets), name
