"""e-prop with random feedback in Lava's fixed point, without Lava (issue 17, part B): the
integer scales of what the post neurons and the feedback processes send, and the rules'
fixed-point constants and impulses (snnc.backends.lava.fixed_feedback), checked against
closed forms and against the engine's integer arithmetic evaluated here (Lava 0.10.0's
LearningRuleApplierBitApprox: a product of integers times m, shifted right by the widths over
15 bits, shifted left by e + 7, one weight unit 2^7)."""

from __future__ import annotations

import io
import json
import math
import shutil

import numpy as np
import pytest

from snnc import api
from snnc.backends.lava import LavaBackend
from snnc.backends.lava import feedback as fb
from snnc.backends.lava import fixed_feedback as ff
from snnc.backends.lava import fixed_rule as fr
from snnc.backends.lava.quantize import quantize
from snnc.diagnostics import Diagnostics

EPROP = "examples/randman/eprop_random.snn"


@pytest.fixture(scope="module")
def program():
    diag = Diagnostics()
    net = api.compile_network(EPROP, diag)
    graph = LavaBackend().graph(net, diag)
    assert graph is not None and not diag.has_errors
    return net, graph, quantize(graph)


@pytest.mark.parametrize("kind, params, peak", [
    ("fast_sigmoid", {"beta": 10.0}, 1.0),
    ("sigmoid", {"beta": 2.0}, 0.5),
    ("exponential", {"gamma": 0.3, "beta": 5.0}, 0.3),
    ("piecewise_linear", {"gamma": 1.5, "threshold": 1.0}, 1.5),
])
def test_psi_peak_is_sent_near_the_top_of_the_range(kind, params, peak):
    """psi peaks at v = vth (its closed-form maximum); sigma_psi is a power of two that sends
    the peak as 64 to 128 units (128 goes out as 127)."""
    assert ff.psi_peak(kind, params) == pytest.approx(peak)
    sigma = ff.psi_sigma(kind, params)
    assert math.log2(sigma).is_integer() and 64 <= sigma * peak <= 128
    x = np.linspace(-3, 3, 601)
    assert fb.surrogate(kind, params, x).max() <= peak + 1e-12


def test_feedback_never_saturates():
    """|B e| <= max_j B_ij - min_j B_ij for every softmax-minus-one-hot error (checked on
    random voltages and labels and on the extreme errors), and sigma_L is the largest power of
    two that keeps that bound within 128 (sent as 127)."""
    rng = np.random.default_rng(0)
    matrix = fb.feedback_matrix(1, "p", "r", 64, 10)
    bound = ff.feedback_bound(matrix)
    v = rng.normal(0, 5, (2000, 10))
    errors = fb.readout_error(v, rng.integers(0, 10, 2000), "cross_entropy")
    extreme = np.eye(10)[:, None, :] - np.eye(10)[None, :, :]  # p one-hot on j, label k
    worst = max(np.abs(errors @ matrix.T).max(), np.abs(extreme.reshape(-1, 10) @ matrix.T).max())
    assert worst <= bound + 1e-12 and worst == pytest.approx(bound)
    sigma = ff.feedback_sigma(matrix)
    assert sigma * bound <= 128 < 2 * sigma * bound


def engine_dw(factors: dict[str, np.ndarray], term: str) -> np.ndarray:
    """Lava's bit-approximate evaluation of one term 'm * 2^e * f1 * ... * u0' in weight units
    (before the stochastic rounding of the sum)."""
    parts = term.split(" * ")
    m, e = int(parts[0]), int(parts[1][2:])
    names = [p for p in parts[2:] if p != "u0"]
    product = np.prod([factors[n].astype(np.int64) for n in names], axis=0) * m
    shift = max(0, sum(fr.WIDTHS[n] for n in names) + 4 - 15)
    return np.left_shift(np.right_shift(product, shift), e + 7) / 2 ** 7


def test_fixed_point_products_are_the_float_rule_scaled(program):
    """Each rule's fixed-point terms, evaluated with the integer arithmetic of Lava's engine on
    factors rounded with their sigma, give the floating-point rule's dw in weight units (dw /
    q) to within the engine's floor of one product (2^(e+7) accumulator units) and the factors'
    rounding; the constants are exact powers of two (no rounding of a constant)."""
    _, graph, fixed = program
    rng = np.random.default_rng(1)
    for c in graph.connections:
        rule = fixed.rules[c.name]
        assert not rule.problems and rule.dw is not None
        terms = rule.dw.replace(" - ", " + -").split(" + ")
        assert_engine_products(c, rule, terms, rule.sigma["w"], rng)
        for term, (factors, _) in zip(terms, c.rule.dw_terms, strict=True):
            m, e = int(term.split(" * ")[0]), int(term.split(" * ")[1][2:])
            assert m * 2.0 ** e == rule.constants[" * ".join(factors)]["fixed"]


def assert_engine_products(c, rule, terms: list[str], unit: float, rng) -> None:
    """Each of ``terms`` (the fixed-point text of the float rule's dw products, in order),
    evaluated with the engine's integer arithmetic on random factors rounded with their sigma,
    is the float product times ``unit`` (integer units of its target per float unit) to
    within the engine's floor of one product (2^(e+7) accumulator units) and correlated with
    the unrounded one."""
    assert len(terms) == len(c.rule.dw_terms)
    floats = {f: rng.uniform(0.3, 1.0, 2000) * 127 / rule.sigma[f]
              for f in rule.sigma if f in ("x1", "x2", "y1", "y2", "y3")}
    ints = {f: np.round(v * rule.sigma[f]) for f, v in floats.items()}
    for term, (factors, constant) in zip(terms, c.rule.dw_terms, strict=True):
        names = [f for f in factors if f != "u0"]
        exact = constant * np.prod([floats[f] for f in names], axis=0) * unit
        rounded = constant * np.prod([ints[f] / rule.sigma[f] for f in names], axis=0) * unit
        engine = engine_dw(ints, term)
        e = int(term.split(" * ")[1][2:])
        assert np.all(np.abs(engine - rounded) <= 2.0 ** e + 1e-9), (c.name, term)
        assert np.corrcoef(engine, exact)[0, 1] > 0.999, (c.name, term)


def test_impulses_round_to_lavas_eight_fraction_bits_and_say_so(program):
    _, graph, fixed = program
    for c in graph.connections:
        rule = fixed.rules[c.name]
        assert rule.roundings, c.name
        for trace, rounding in zip(c.rule.traces, rule.roundings, strict=True):
            value = rule.impulses[f"{trace.slot}_impulse"]
            assert value == trace.impulse * rule.sigma[trace.slot]
            assert 1 <= value <= 127
            assert rounding["exact"] == value
            assert rounding["rendered"] * 256 == round(rounding["rendered"] * 256)
            assert abs(rounding["rendered"] - value) <= 1 / 512


def test_what_fixed_point_cannot_express_is_refused_with_the_reason(program):
    """A coarse weight unit puts the constants below 2^-7: the impulses shrink to carry them,
    then the products go through the tag (128 times finer) with impulses shrunk again, until
    one would fall below one trace unit; a fine unit puts them above 7 * 2^8 until an impulse
    would exceed 127."""
    _, graph, _ = program
    rule = next(c.rule for c in graph.connections if c.name == "units->hidden")
    tagged = ff.fixed_feedback(rule, 2.0 ** 3, 64.0, 64.0)
    assert tagged.through_tag and not tagged.problems
    assert all(1 <= v < 4 for v in tagged.impulses.values())
    coarse = ff.fixed_feedback(rule, 2.0 ** 4, 64.0, 64.0)
    assert not coarse.through_tag and coarse.problems
    assert "below Loihi's 2^-7" in coarse.problems[0]
    assert "less than one trace unit" in coarse.problems[0]
    assert "too small for the tag's unit (1/128 of the weight unit" in coarse.problems[0]
    assert "a larger learning rate" in coarse.problems[0]
    fine = ff.fixed_feedback(rule, 2.0 ** -40, 64.0, 64.0)
    assert fine.problems and "above Loihi's 7 * 2^8" in fine.problems[0]
    assert "more than 127 trace units" in fine.problems[0]
    assert "the connection's weight unit, 9.09e-13, is too fine" in fine.problems[0]
    shrunk = ff.fixed_feedback(rule, 2.0 ** -5, 64.0, 64.0)  # 8 times coarser than the program's
    assert not shrunk.problems and not shrunk.through_tag
    assert all(1 <= v < 16 for v in shrunk.impulses.values())


def test_the_program_runs_in_fixed_point_with_its_scales_reported(tmp_path):
    from snnc.backends.lava import LavaBackend as Backend
    diag = Diagnostics()
    net = api.compile_network(EPROP, diag)
    backend = Backend()
    backend.check(net, diag)
    files = backend.emit(net)
    report = json.loads(files["quantization.json"])
    assert report["runs_in_fixed_pt"] and report["blockers"] == []
    assert report["rules"]["units->hidden"]["dw"] == \
        "1 * 2^-7 * x1 * y1 * y2 * u0 - 1 * 2^-7 * x2 * y1 * y2 * u0"
    assert report["rules"]["hidden->out"]["dw"] == "-1 * 2^-7 * x1 * y2 * u0"
    signals = report["feedback_signals"]
    assert signals["y1 of hidden"]["sigma"] == 128 and signals["e of out"]["sigma"] == 128
    assert signals["y3 of hidden (hidden->hidden)"]["what"] == "B e"
    network = files["network.py"]
    assert "FIXED_POINT_BLOCKERS = []" in network and "rng_seed=SEED" in network
    assert "psi_sigma=128.0" in network and "sigma_out=64.0" in network
    models = files["models.py"]
    for name in ("PyFeedbackSubtractLIF1BitAcc", "PyFeedbackLIF1BitAcc", "PyReadoutErrorFixed",
                 "PyRandomFeedbackFixed"):
        assert f"class {name}(" in models, name
    with np.load(io.BytesIO(files["network.npz"])) as data:
        assert data["fixed/out.scale"].item() == report["groups"]["out"]["scale"]


ONLINE = "examples/randman/eprop_random_online.snn"


def online_rules(path: str = ONLINE):
    """The Lava graph and fixed point of eprop_random_online.snn (or of a variant at
    ``path``)."""
    diag = Diagnostics()
    net = api.compile_network(str(path), diag)
    assert not diag.has_errors, diag.items
    graph = LavaBackend().graph(net, diag)
    return graph, quantize(graph)


def test_steps_below_the_weights_resolution_accumulate_in_the_tag():
    """examples/randman/eprop_random_online.snn's rates (3e-7, 3e-5) make each step's dw far
    below what the engine adds to a weight (1/128 of a unit per product): the products go into
    the tag, 128 times finer (dt = products - u0 t), and the weight takes 2^-7 of the tag (dw =
    2^-7 u0 t). Evaluated with the engine's integer arithmetic on factors rounded with their
    sigma, each dt product is the float rule's dw in tag units (dw / q * 128) to within the
    engine's floor of one product and the factors' rounding."""
    graph, fixed = online_rules()
    assert fixed.blockers == []
    rng = np.random.default_rng(2)
    for c in graph.connections:
        rule = fixed.rules[c.name]
        q = 1 / rule.sigma["w"]
        assert rule.through_tag and not rule.problems
        assert rule.dw == "1 * 2^-7 * u0 * t"
        assert rule.dt.endswith(" - u0 * t") and rule.sigma["t"] == ff.TAG_GAIN / q
        terms = rule.dt.replace(" - ", " + -").split(" + ")[:-1]
        assert_engine_products(c, rule, terms, rule.sigma["t"], rng)
        for slot, value in rule.impulses.items():
            assert 1 <= value <= 127, (c.name, slot)
    report = fixed.report()["rules"]
    assert all(r["through_tag"] for r in report.values())


def test_steps_too_small_even_for_the_tag_are_refused_with_the_reason(tmp_path):
    """The same network with rates 10,000 times smaller: not even the tag's unit carries
    them; fixed point is refused, for each product, with the reason and what would help."""
    text = open(ONLINE).read().replace("lr = 3e-7", "lr = 3e-11").replace("lr = 3e-5",
                                                                         "lr = 3e-9")
    shutil.copy("examples/randman/common.snn", tmp_path / "common.snn")
    (tmp_path / "slow.snn").write_text(text)
    _, fixed = online_rules(tmp_path / "slow.snn")
    assert len(fixed.blockers) == 5
    assert all("below Loihi's 2^-7" in b and "the tag's unit (1/128 of the weight unit" in b
               and "a larger learning rate" in b for b in fixed.blockers)
    assert fixed.blockers[0].startswith("eprop_cuba on units->hidden: the constant of x1 * y1")


def test_a_surrogate_without_a_peak_is_refused_not_crashed(program):
    _, graph, _ = program
    rule = next(c.rule for c in graph.connections if c.name == "units->hidden")
    assert ff.psi_sigma("exponential", {"gamma": 0.0, "beta": 1.0}) is None
    refused = ff.fixed_feedback(rule, 2.0 ** -8, None, 64.0)
    assert refused.dw is None and "no positive peak" in refused.problems[0]
