"""Front-end checks: the examples and the standard library are clean, values are converted to
SI, sizes and synapse counts are right, and mistakes are reported with hints, all at once."""

import math
import pathlib

import pytest

import snnc
from snnc.diagnostics import Diagnostics
from snnc.frontend import ast
from snnc.frontend.loader import stdlib_modules

ROOT = pathlib.Path(__file__).resolve().parents[1]
EXAMPLES = sorted((ROOT / "examples").glob("*.snn"))


def check(text, file="t.snn"):
    diag = Diagnostics()
    summary = snnc.check_text(text, diag, file)
    return summary, diag


def errors(text):
    summary, diag = check(text)
    assert summary is None
    return [d for d in diag.sorted() if d.severity.value == "error"]


def test_there_are_at_least_seven_examples_with_header_comments():
    assert len(EXAMPLES) >= 7
    for path in EXAMPLES:
        assert path.read_text().startswith("# "), path


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_every_example_checks_without_diagnostics(path):
    diag = Diagnostics()
    summary = snnc.check_file(str(path), diag)
    assert diag.items == [], [snnc.render(d, diag.sources) for d in diag.items]
    assert summary is not None and summary.neurons > 0


def test_standard_library_has_every_documented_rule():
    names = {item.name.text for m in stdlib_modules() for item in m.items
             if isinstance(item, ast.RuleDecl)}
    assert {"stdp", "rstdp", "eprop", "eprop_symmetric", "eprop_leaky", "eprop_alif",
            "eprop_alif_symmetric", "superspike", "decolle", "ostl", "rflo", "rtrl", "bptt",
            "delta"} <= names


def test_empty_program_is_clean_and_uses_defaults():
    summary, diag = check("")
    assert diag.items == []
    assert (summary.dt, summary.seed, summary.integration, summary.target) == \
        (1e-3, 0, "exact", "reference")


def test_cuba_sizes_units_and_synapse_estimate():
    diag = Diagnostics()
    summary = snnc.check_file(str(ROOT / "examples" / "cuba.snn"), diag)
    assert math.isclose(summary.dt, 1e-4)
    assert summary.neurons == 4000
    assert summary.synapses == round(0.02 * 4000 * 4000)
    assert {p.name for p in summary.projections} == {"exc->exc", "exc->inh", "inh->exc",
                                                     "inh->inh"}


def test_conv_synapse_count_is_exact_at_the_padded_border():
    summary, _ = check("input x[2, 8, 8]\npopulation c: IF[4, 8, 8]\n"
                       "x -> c: conv2d(kernel = 3, padding = 1, channels = 4)\n")
    (projection,) = summary.projections
    # along each axis, 6 inner positions see 3 taps and the 2 border ones 2 taps: 22
    assert projection.synapses == 4 * 2 * 22 * 22


def test_arithmetic_and_units_in_settings():
    summary, diag = check("network n { dt = 2 * 50 us }\n")
    assert diag.items == [] and math.isclose(summary.dt, 1e-4)
    (error,) = errors("network n { dt = 1 ms + 1 mV }\n")
    assert error.code == "E205" and "time" in error.message and "voltage" in error.message


def test_wrong_dimension_names_both_and_hints_a_unit():
    (error,) = errors("population p: LIF[3] { tau_mem = 20 mV }\n")
    assert error.code == "E205"
    assert "must be time, not voltage" in error.message and "ms" in error.hint


def test_unknown_unit_did_you_mean():
    (error,) = errors("network n { dt = 1 msec }\n")
    assert (error.code, error.span.column) == ("E123", 20)
    assert error.hint == "did you mean 'ms'?"


@pytest.mark.parametrize("text,code,hint", [
    ("population p: CubaLFI[3]\n", "E203", "did you mean 'CubaLIF'?"),
    ("population p: LIF[3] { tau_mme = 1 ms }\n", "E204", "did you mean 'tau_mem'?"),
    ("population p: LIF[3] { reset = subtrct }\n", "E209", "did you mean 'subtract'?"),
    ("population p: LIF[3]\np -> q\n", "E201", None),
    ("population p: LIF[3]\np -> p: sprase(p = 0.1)\n", "E207", "did you mean 'sparse'?"),
    ("population p: LIF[3]\np -> p { learn stpd }\n", "E206", "did you mean 'stdp'?"),
    ("population p: LIF[3]\np -> p { learn eprop }\n", "E208", "usage: eprop(lr=..., readout)"),
    ("population p: LIF[3]\nrecord p.a\n", "E213", None),
    ("target loihi3\n", "E212", "did you mean 'loihi2'?"),
    ("rule r { trace x = lowpas(pre.s, 1 ms)\n dw = x }\n", "E207", "did you mean 'lowpass'?"),
    ("rule r { signal L = random_feedbak(from = out)\n dw = L }\n", "E207",
     "did you mean 'random_feedback'?"),
    ("rule r(tau) { trace x = lowpass(pre.s, tua)\n dw = x }\n", "E201", "did you mean 'tau'?"),
])
def test_semantic_errors_with_hints(text, code, hint):
    first = errors(text)[0]
    assert first.code == code, first.message
    if hint is not None:
        assert first.hint == hint


def test_all_errors_of_a_file_are_reported_at_once():
    found = errors("population p: CubaLFI[3]\npopulation q: LIF[0]\np -> r\n")
    assert [(e.code, e.span.line) for e in found] == [("E203", 1), ("E209", 2), ("E201", 3)]


def test_duplicates_note_the_first_definition():
    (error,) = errors("population p: LIF[3]\npopulation p: LIF[4]\n")
    assert error.code == "E202" and error.span.line == 2 and "t.snn:1:12" in error.notes[0]


def test_parallel_projections_need_names():
    (error,) = errors("population p: LIF[3]\np -> p\np -> p\n")
    assert error.code == "E202" and "as" in error.hint
    summary, diag = check("population p: LIF[3]\np -> p as a\np -> p as b\n")
    assert [p.name for p in summary.projections] == ["a", "b"]


def test_a_user_rule_takes_precedence_over_the_standard_library():
    summary, diag = check("rule stdp(lr = 1) { dw = pre.s }\npopulation p: LIF[3]\n"
                          "p -> p { learn stdp }\n")
    assert diag.items == [] and summary.rules["stdp"] == "t.snn"


def test_imports_are_relative_to_the_importing_file(tmp_path):
    (tmp_path / "lib").mkdir()
    (tmp_path / "lib" / "models.snn").write_text("neuron Fast = LIF { tau_mem = 5 ms }\n")
    (tmp_path / "main.snn").write_text('import "lib/models.snn"\npopulation p: Fast[3]\n')
    diag = Diagnostics()
    summary = snnc.check_file(str(tmp_path / "main.snn"), diag)
    assert diag.items == [] and summary.nodes[0].model == "Fast"


def test_import_cycle_and_missing_import(tmp_path):
    (tmp_path / "a.snn").write_text('import "b.snn"\n')
    (tmp_path / "b.snn").write_text('import "a.snn"\n')
    diag = Diagnostics()
    assert snnc.check_file(str(tmp_path / "a.snn"), diag) is None
    assert [d.code for d in diag.items] == ["E602"]
    assert diag.items[0].span.file.endswith("b.snn")
    (tmp_path / "c.snn").write_text('import "nope.snn"\n')
    diag = Diagnostics()
    assert snnc.check_file(str(tmp_path / "c.snn"), diag) is None
    assert [(d.code, d.span.line, d.span.column) for d in diag.items] == [("E601", 1, 8)]


def test_not_utf8_points_at_the_bad_byte(tmp_path):
    path = tmp_path / "bad.snn"
    path.write_bytes(b"population p: LIF[3]\n# caf\xe9\n")
    diag = Diagnostics()
    assert snnc.check_file(str(path), diag) is None
    (error,) = diag.items
    assert (error.code, error.span.line, error.span.column) == ("E603", 2, 6)
