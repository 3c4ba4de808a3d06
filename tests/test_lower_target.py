"""Custom ``target { ... }`` blocks become profiles during lowering (issue 14, item 2), and
constant folding in setting values reads the one function table (snnc.functions).

A block's mistakes are reported when the target is used (check-target), exactly as before the
profiles moved into the lowering: a block that ``--target`` replaces is never reported."""

import ast as pyast
import math
import pathlib

import pytest

import snnc
from snnc.diagnostics import Diagnostics
from snnc.frontend import ast
from snnc.frontend.evaluate import CallValue, Evaluator
from snnc.functions import RULE_FUNCTIONS
from snnc.ir.lower import lower
from snnc.ir.target_profile import CustomTarget, TargetProfile
from snnc.passes import DEFAULT_PIPELINE
from snnc.targets import load_builtin

ROOT = pathlib.Path(__file__).resolve().parents[1]

NET = """network n { dt = 1 ms }
input x[4]: poisson(rate = 10 Hz)
population a: LIF[4]
x -> a: dense
"""
GOOD = NET + """target chip {
  base = loihi2
  neurons_per_core = 512
  chips_x = 2
  learning {
    engine = software
    classes = [a, b]
    pre_traces = 3
    reads_post_state = as_third_factor
    constant_mantissa = [-8, 7]
  }
}
"""
# three mistakes, at 7:3 (a misspelt capacity), 8:11 (a time for a count) and 9:23 (an engine)
BAD = NET + """target chip {
  base = loihi2
  neuron_per_core = 512
  cores = 3 ms
  learning { engine = sum_of_product }
}
"""


def lowered(text):
    diag = Diagnostics()
    program = snnc.load_text(text, "t.snn", diag)
    return lower(program, diag), diag


def compiled(text, target=None):
    diag = Diagnostics()
    program = snnc.load_text(text, "t.snn", diag)
    net = snnc.compile_program(program, diag, passes=DEFAULT_PIPELINE,
                               options={"check-target": {"target": target}})
    return net, diag


def test_a_custom_target_is_a_profile_after_lowering():
    net, diag = lowered(GOOD)
    assert diag.items == []
    (custom,) = net.custom_targets.values()
    assert isinstance(custom, CustomTarget) and custom.diagnostics == ()
    profile = custom.profile
    assert isinstance(profile, TargetProfile) and profile.name == "chip"
    base = load_builtin("loihi2")
    assert profile.capacity == {**base.capacity, "neurons_per_core": 512}
    assert profile.mesh == {**base.mesh, "chips_x": 2}
    assert profile.figure_sources["neurons_per_core"] == "t.snn:7:3"
    assert profile.figure_sources["cores"] == base.figure_sources["cores"]
    assert profile.sources == ("t.snn:5:1",)
    assert profile.description == "custom target based on loihi2"
    learning = profile.learning
    assert (learning.engine, learning.classes, learning.pre_traces) == ("software", ("a", "b"), 3)
    assert learning.reads_post_state == "as_third_factor"
    assert learning.constant_mantissa == (-8, 7)
    assert learning.post_traces == base.learning.post_traces


def test_the_checked_network_uses_the_lowered_profile():
    net, diag = compiled(GOOD)
    assert diag.items == []
    assert net.analyses["check-target"] is net.custom_targets["chip"].profile
    assert net.target == "chip"


def test_mistakes_of_a_used_block_are_reported_at_their_spans():
    net, diag = compiled(BAD)
    assert net is None
    found = [(d.code, d.span.line, d.span.column) for d in diag.items]
    assert found == [("E219", 7, 3), ("E219", 8, 11), ("E219", 9, 23)]
    assert diag.items[0].hint == "did you mean 'neurons_per_core'?"


def test_mistakes_wait_in_the_lowered_block_until_it_is_used():
    net, diag = lowered(BAD)
    assert diag.items == [] and net is not None
    custom = net.custom_targets["chip"]
    assert custom.profile is None and [d.code for d in custom.diagnostics] == ["E219"] * 3


def test_a_block_that_the_command_line_replaces_is_not_reported():
    net, diag = compiled(BAD, target="loihi2")
    assert diag.items == [] and net.target == "loihi2"


def test_an_unknown_base_is_e212_at_the_base_value():
    net, diag = compiled(NET + "target chip {\n  base = loihii2\n}\n")
    (error,) = diag.items
    assert (error.code, error.span.line, error.span.column) == ("E212", 6, 10)
    assert error.hint == "did you mean 'loihi2'?"


def test_an_entry_set_twice_is_e202_with_the_first_place():
    net, diag = compiled(NET + "target chip {\n  cores = 2\n  cores = 3\n}\n")
    (error,) = diag.items
    assert (error.code, error.span.line) == ("E202", 7)
    assert error.notes == ("first set at t.snn:6:3",)


def test_targets_no_longer_read_the_syntax_tree():
    """snnc.targets is a pass-level module: no import of the front end (the layering)."""
    tree = pyast.parse((ROOT / "compiler" / "targets" / "__init__.py").read_text())
    imported = [n.module for n in pyast.walk(tree) if isinstance(n, pyast.ImportFrom)]
    assert not [m for m in imported if m and m.startswith("snnc.frontend")]


# -- constant folding in setting values reads snnc.functions -----------------------------------

def evaluate(text):
    diag = Diagnostics()
    module = snnc.parse(f"network n {{ dt = {text} }}\n", "t.snn")
    (decl,) = [item for item in module.items if isinstance(item, ast.NetworkDecl)]
    return Evaluator(diag).evaluate(decl.settings[0].value), diag


@pytest.mark.parametrize("name, arg", [("sqrt", 2.0), ("exp", 1.5), ("log", 3.0)])
def test_setting_functions_fold_with_the_tables_fold(name, arg):
    value, diag = evaluate(f"{name}({arg})")
    assert diag.items == []
    assert value.value == RULE_FUNCTIONS[name].fold(arg) == getattr(math, name)(arg)


@pytest.mark.parametrize("text, expected", [("tanh(0.5)", math.tanh(0.5)), ("abs(-1)", 1.0),
                                            ("max(1, 2)", 2.0), ("min(1, -2)", -2.0),
                                            ("clip(5, 0, 1)", 1.0), ("sign(-3)", -1.0),
                                            ("heaviside(0)", 0.0)])
def test_every_table_function_with_a_fold_folds_in_settings(text, expected):
    """One table: what folds in a rule folds in a setting too."""
    value, diag = evaluate(text)
    assert diag.items == [] and value.value == expected


@pytest.mark.parametrize("text, code", [("sqrt(2 ms)", "E205"), ("log(0)", "E209"),
                                        ("sqrt(-1)", "E209"), ("exp(1000)", "E615")])
def test_folding_mistakes_keep_their_codes(text, code):
    value, diag = evaluate(text)
    assert value is None and [d.code for d in diag.items] == [code]


@pytest.mark.parametrize("text", ["exp(1, 2)", "max(1)", "lowpass(1, 2)", "uniform(0, 1)"])
def test_other_calls_stay_calls(text):
    """Calls with the wrong argument count, without a fold, or outside the table stay calls
    (and are checked where they are used)."""
    value, diag = evaluate(text)
    assert diag.items == [] and isinstance(value, CallValue)
