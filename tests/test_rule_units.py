"""Units of learning-rule parameters (issue 13): each parameter's dimension comes from its role
in the rule (time constant, weight bound, learning rate) or its default's unit, and every
``learn`` is checked against it (E205); divisions by zero in rules are diagnostics (E209), and
a weight far above the post population's threshold is W206."""

import pathlib

import pytest

import snnc
from snnc.cli import main
from snnc.diagnostics import Diagnostics
from snnc.frontend.loader import load_text
from snnc.ir.lower import Lowering
from snnc.ir.rule_params import NAME_ROLE, QUANTITY_ROLE, RATE_ROLE, TIME_ROLE, WEIGHT_ROLE
from snnc.units import DIMENSIONLESS, FREQUENCY, TIME

ROOT = pathlib.Path(__file__).resolve().parents[1]
EXAMPLES = sorted(ROOT.glob("examples/*.snn")) + sorted(ROOT.glob("examples/randman/*.snn"))

HEADER = """network n {
  dt = 1 ms
}
input a[8]: poisson(rate = 10 Hz)
population b: LIF[4] { threshold = THRESHOLD }
"""


def check(body: str, threshold: str = "1"):
    diag = Diagnostics()
    summary = snnc.check_text(HEADER.replace("THRESHOLD", threshold) + body, diag, "t.snn")
    return summary, diag


def only_error(body: str, **kwargs):
    summary, diag = check(body, **kwargs)
    assert summary is None
    errors = [d for d in diag.sorted() if d.severity is snnc.Severity.ERROR]
    assert len(errors) == 1, [snnc.render(d, diag.sources) for d in errors]
    return errors[0]


def warnings(diag, code):
    return [d for d in diag.sorted() if d.code == code]


# -- the acceptance cases ------------------------------------------------------------------------

def test_stdp_tau_plus_without_unit_is_e205_with_the_name_the_unit_and_a_hint():
    error = only_error("a -> b: dense { learn stdp(tau_plus = 20) }")
    assert error.code == "E205"
    assert "'tau_plus'" in error.message and "'stdp'" in error.message
    assert "must be a time" in error.message and "plain number (20)" in error.message
    assert error.hint == "write '20 ms'"
    assert (error.span.line, error.span.column) == (6, 39)


def test_stdp_tau_plus_in_ms_is_fine():
    summary, diag = check("a -> b: dense { learn stdp(tau_plus = 20 ms) }")
    assert summary is not None, [snnc.render(d, diag.sources) for d in diag.items]
    assert not [d for d in diag.items if d.code.startswith("E")]


def test_tau_in_millivolts_and_w_max_in_hertz_are_e205():
    error = only_error("a -> b: dense { learn stdp(tau_plus = 20 mV) }")
    assert error.code == "E205" and "voltage (20 mV)" in error.message
    assert error.hint == "write '20 ms'"
    error = only_error("a -> b: dense { learn stdp(w_max = 3 Hz) }")
    assert error.code == "E205" and "'w_max'" in error.message
    assert "frequency (3 Hz)" in error.message and "weights of 'a->b'" in error.message


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_shipped_example_still_checks_without_w206(path):
    diag = Diagnostics()
    assert snnc.check_file(str(path), diag) is not None, \
        [snnc.render(d, diag.sources) for d in diag.items]
    assert not warnings(diag, "W206")


def test_cli_check_of_every_example_passes():
    assert main(["check", "-q", *map(str, EXAMPLES)]) == 0


# -- roles ---------------------------------------------------------------------------------------

def roles_of(text: str) -> dict:
    diag = Diagnostics()
    program = load_text(text, "t.snn", diag)
    lowering = Lowering(program, diag)
    lowering.run()
    assert not diag.has_errors, [snnc.render(d, diag.sources) for d in diag.items]
    return lowering.rule_roles


def test_stdlib_parameters_have_consistent_roles():
    roles = roles_of("network n { dt = 1 ms }\n")
    stdp = roles["stdp"]
    assert (stdp["tau_plus"].kind, stdp["tau_plus"].dim) == (TIME_ROLE, TIME)
    assert stdp["w_max"].kind == WEIGHT_ROLE
    assert stdp["lr"].kind == RATE_ROLE
    assert (stdp["a_plus"].kind, stdp["a_plus"].dim) == (QUANTITY_ROLE, DIMENSIONLESS)
    assert roles["rstdp"]["tau_c"].kind == TIME_ROLE
    assert roles["rflo"]["tau"].kind == TIME_ROLE
    assert roles["eprop"]["readout"].kind == NAME_ROLE
    assert roles["decolle"]["readout_size"].dim == DIMENSIONLESS
    for name, params in roles.items():
        for param, role in params.items():
            if role.kind == TIME_ROLE:  # every time constant of the stdlib has a time default
                assert role.default is not None and role.default.dim == TIME, (name, param)


def test_a_default_with_a_unit_declares_the_dimension():
    rule = """rule r(lr = 0.01, rate = 10 Hz) {
  trace x = lowpass(pre.s, 20 ms)
  dw = x * rate
}
"""
    assert roles_of("network n { dt = 1 ms }\n" + rule)["r"]["rate"].dim == FREQUENCY
    assert check(rule + "a -> b: dense { learn r(rate = 5 Hz) }")[0] is not None
    error = only_error(rule + "a -> b: dense { learn r(rate = 5 ms) }")
    assert error.code == "E205" and "frequency" in error.message and error.hint == "write '5 Hz'"


def test_user_rule_time_constant_needs_a_time_default_and_decay_counts_too():
    error = only_error("""rule r(lr = 0.01, tau = 20) {
  trace x = lowpass(pre.s, 10 ms)
  dw = x * decay(tau)
}
a -> b: dense { learn r }""")
    assert error.code == "E205" and "'tau'" in error.message and "decay()" in error.message
    assert error.hint == "write '20 ms'"


def test_a_time_constant_without_default_gets_its_dimension_from_its_role():
    rule = """rule r(lr = 0.01, tau) {
  trace x = lowpass(pre.s, tau)
  dw = x
}
"""
    assert check(rule + "a -> b: dense { learn r(tau = 5 ms) }")[0] is not None
    assert only_error(rule + "a -> b: dense { learn r(tau = 5) }").code == "E205"


def test_time_argument_expressions_are_checked_at_the_rule():
    error = only_error("""rule r(lr = 0.01) {
  trace x = lowpass(pre.s, 1 / post.tau_mem)
  dw = x
}
a -> b: dense { learn r }""")
    assert error.code == "E205" and "time constant of lowpass()" in error.message
    ok = """rule r(lr = 0.01) {
  trace x = lowpass(pre.s, 2 * post.tau_mem)
  dw = x
}
a -> b: dense { learn r }"""
    assert check(ok)[0] is not None


def test_weights_in_millivolts_take_bounds_and_rates_in_millivolts():
    summary, diag = check("""a -> b: dense {
  weight = 0.5 mV
  learn stdp(lr = 0.01 mV, w_max = 2 mV)
}""", threshold="10 mV")
    assert summary is not None, [snnc.render(d, diag.sources) for d in diag.items]
    error = only_error("""a -> b: dense {
  weight = 0.5 mV
  learn stdp(lr = 0.01, w_max = 2)
}""", threshold="10 mV")
    assert error.code == "E205" and "'w_max'" in error.message and error.hint == "write '2 mV'"


def test_a_default_bound_that_contradicts_the_weight_unit_points_at_the_learn():
    error = only_error("""a -> b: dense {
  weight = normal(0 mV, 0.1 mV)
  learn stdp
}""", threshold="10 mV")
    assert error.code == "E205" and (error.span.line, error.span.column) == (8, 9)
    assert any("default" in note and "stdp.snn" in note for note in error.notes)


def test_zero_is_a_weight_bound_in_any_unit():
    rule = """rule r(lr = 0.01, w_min = 0, w_max = 1 mV) {
  trace x = lowpass(pre.s, 20 ms)
  dw = x
  bounds = [w_min, w_max]
}
"""
    summary, diag = check(rule + "a -> b: dense {\n  weight = 0.5 mV\n  learn r\n}",
                          threshold="10 mV")
    assert summary is not None, [snnc.render(d, diag.sources) for d in diag.items]


def test_non_positive_time_constant_is_e209():
    error = only_error("a -> b: dense { learn stdp(tau_minus = -5 ms) }")
    assert error.code == "E209" and "positive" in error.message


def test_a_parameter_without_default_takes_names_or_plain_numbers():
    rule = """rule r(lr = 0.01, k) {
  trace x = lowpass(pre.s, 20 ms)
  dw = k * x
}
"""
    assert check(rule + "a -> b: dense { learn r(k = 2) }")[0] is not None
    error = only_error(rule + "a -> b: dense { learn r(k = 2 mV) }")
    assert error.code == "E205" and "default with that unit" in error.hint


def test_a_bad_default_is_reported_once():
    summary, diag = check("""rule r(lr = 0.01, tau = 20 mV) {
  trace x = lowpass(pre.s, tau)
  dw = x
}
a -> b: dense { learn r }
a -> b as second: dense { learn r }""")
    assert summary is None
    assert [d.code for d in diag.sorted() if d.severity is snnc.Severity.ERROR] == ["E205"]


# -- divisions by zero ---------------------------------------------------------------------------

DIVIDING = """rule r(lr = 0.1, k = 1) {
  trace x = lowpass(pre.s, 20 ms)
  dw = x * (1 / k)
}
a -> b: dense { learn r(k = K) }
"""


def test_division_by_a_parameter_set_to_zero_is_e209_at_the_division():
    error = only_error(DIVIDING.replace("K", "0"))
    assert error.code == "E209" and "division by zero" in error.message
    assert (error.span.line, error.span.column) == (8, 13)
    assert any("learn" in note for note in error.notes)
    assert check(DIVIDING.replace("K", "2"))[0] is not None


def test_constant_division_by_zero_in_a_rule_is_reported_once_at_the_rule():
    summary, diag = check("""rule r(lr = 0.1) {
  trace x = lowpass(pre.s, 20 ms)
  dw = x * (1 / 0)
}
a -> b: dense { learn r }
a -> b as second: dense { learn r }""")
    assert summary is None
    assert [(d.code, d.span.line) for d in diag.sorted()] == [("E209", 8)]


@pytest.mark.parametrize("body", [
    "rule r(lr = 0.1) {\n  trace x = lowpass(pre.s, 20 ms)\n  dw = x * (1 / 0)\n}\n"
    "a -> b: dense { learn r }\n",
    DIVIDING.replace("K", "0"),
    "rule r(lr = 1 / 0) {\n  trace x = lowpass(pre.s, 20 ms)\n  dw = x\n}\n"
    "a -> b: dense { learn r }\n",
    "rule r(lr = 0.1) {\n  trace x = lowpass(pre.s, 20 ms)\n  dw = x * exp(1000)\n}\n"
    "a -> b: dense { learn r }\n",
])
def test_run_of_a_rule_dividing_by_zero_is_exit_1_not_3(tmp_path, capsys, body):
    path = tmp_path / "div.snn"
    path.write_text(HEADER.replace("THRESHOLD", "1") + body)
    assert main(["run", str(path), "--steps", "3"]) == 1
    err = capsys.readouterr().err
    assert "internal error" not in err and ("E209" in err or "E615" in err)


# -- W206 ----------------------------------------------------------------------------------------

def test_w206_when_a_plain_weight_meets_a_threshold_in_millivolts():
    summary, diag = check("a -> b: dense { weight = 0.5 }", threshold="1 mV")
    assert summary is not None
    (warning,) = warnings(diag, "W206")
    assert "500 times" in warning.message and "'b'" in warning.message
    assert (warning.span.line, warning.span.column) == (6, 26)
    assert "0.5 mV" in warning.hint


def test_no_w206_with_the_weight_in_millivolts_or_moderate_weights():
    for weight in ("0.5 mV", "uniform(0, 0.05 mV)", "normal(0 mV, 0.01 mV)"):
        diag = check(f"a -> b: dense {{ weight = {weight} }}", threshold="1 mV")[1]
        assert not warnings(diag, "W206"), weight
    assert not warnings(check("a -> b: dense { weight = 0.5 }")[1], "W206")


def test_w206_accounts_for_input_scaling_and_distributions():
    scaled = HEADER.replace("{ threshold = THRESHOLD }",
                            "{ threshold = 1 mV\n  input_scale = one_minus_decay }")
    diag = Diagnostics()
    # c_in = 1 - exp(-1/20) = 0.0488: 0.5 V x 0.0488 = 24 mV, 24 thresholds: no warning
    assert snnc.check_text(scaled + "a -> b: dense { weight = 0.5 }", diag, "t.snn") is not None
    assert not warnings(diag, "W206")
    diag = Diagnostics()
    assert snnc.check_text(scaled + "a -> b: dense { weight = 5 }", diag, "t.snn") is not None
    (warning,) = warnings(diag, "W206")
    assert "input scale 0.0488" in warning.message
    diag = check("a -> b: dense { weight = normal(0, 0.05) }", threshold="1 mV")[1]
    assert warnings(diag, "W206")  # |mean| + 3 std = 0.15 V, 150 thresholds
