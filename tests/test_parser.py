"""The parser: AST shape and spans, newline rules, contextual keywords, and syntax errors."""

import pytest

import snnc
from snnc.diagnostics import Diagnostics, Span
from snnc.frontend import ast
from snnc.frontend.parser import parse_text
from snnc.frontend.syntax_errors import LABELLED_EXAMPLES


def parse(text):
    diag = Diagnostics()
    module = parse_text(text, "t.snn", diag)
    return module, diag


def only_error(text):
    module, diag = parse(text)
    assert module is None
    (error,) = diag.items
    return error


def test_population_with_shape_settings_and_rate():
    module, _ = parse("population hidden: CubaLIF[16, 4] {\n  tau_mem = 20 ms\n  rate 5 Hz\n}\n")
    (pop,) = module.items
    assert isinstance(pop, ast.PopulationDecl)
    assert pop.name.text == "hidden" and pop.model.text == "CubaLIF" and not pop.is_readout
    assert [d.value for d in pop.shape.dims] == [16, 4]
    (setting,) = pop.settings
    assert setting.name.text == "tau_mem"
    assert setting.value == ast.Quantity(20.0, "20", setting.value.unit, Span("t.snn", 2, 13, 2, 18))
    assert setting.value.unit.text == "ms"
    assert pop.rate.value == 5 and pop.rate.unit.text == "Hz"
    assert pop.span == Span("t.snn", 1, 1, 4, 2)
    assert pop.name.span == Span("t.snn", 1, 12, 1, 18)


def test_projection_parts():
    module, _ = parse("a -> b as rec: sparse(p = 0.1) {\n weight = normal(0, 0.1)\n"
                      " receptor fast(tau = 5 ms)\n learn stdp(lr = 1e-3)\n}")
    (proj,) = module.items
    assert (proj.pre.text, proj.post.text, proj.alias.text, proj.name) == ("a", "b", "rec", "rec")
    assert proj.connectivity.func.text == "sparse"
    assert proj.connectivity.kwarg("p").value == 0.1
    assert proj.receptors[0].func.text == "fast"
    assert proj.learn[0].func.text == "stdp"
    assert proj.settings[0].value.func.text == "normal"


def test_projection_defaults_name_and_connectivity():
    module, _ = parse("a -> b\n")
    (proj,) = module.items
    assert proj.name == "a->b" and proj.connectivity is None and proj.settings == ()


def test_expression_precedence_and_unary_minus():
    module, _ = parse("rule r { dw = -a * b + c / d ^ 2 }")
    (update,) = module.items[0].body
    expr = update.value
    assert isinstance(expr, ast.Binary) and expr.op == "+"
    assert expr.left.op == "*" and isinstance(expr.left.left, ast.Unary)
    assert expr.right.op == "/" and expr.right.right.op == "^"


def test_rule_statements_and_triggers():
    module, _ = parse(
        "rule r(lr = 1e-3, readout) {\n"
        "  trace x = lowpass(pre.s, 20 ms)\n"
        "  signal L = random_feedback(from = readout)\n"
        "  let h = surrogate(post.v)\n"
        "  on post: dw = x\n"
        "  dw = -L * h * x\n"
        "  bounds = [0, 1]\n"
        "}\n")
    rule = module.items[0]
    assert [p.name.text for p in rule.params] == ["lr", "readout"]
    assert rule.params[1].default is None
    kinds = [type(s).__name__ for s in rule.body]
    assert kinds == ["TraceDef", "SignalDef", "LetDef", "Update", "Update", "Setting"]
    assert rule.body[3].trigger.text == "post" and rule.body[4].trigger is None
    # 'from' is an ordinary argument name: keywords are contextual
    assert rule.body[1].value.kwargs[0].name.text == "from"


def test_newlines_inside_brackets_are_ignored_and_blank_lines_merge():
    text = "\n\n# header\nx -> y: conv2d(kernel = 3,\n\n   stride = 1,\n   channels = 4)\n\n\n"
    module, diag = parse(text)
    assert diag.items == []
    assert module.items[0].connectivity.kwarg("channels").value == 4


def test_crlf_line_endings_and_comments_everywhere():
    text = "network n { # comment\r\n  dt = 1 ms # another\r\n}\r\n"
    module, diag = parse(text)
    assert diag.items == [] and module.items[0].settings[0].name.text == "dt"


def test_one_line_blocks_and_missing_final_newline():
    module, _ = parse("neuron F = LIF { tau_mem = 5 ms }\nrecord a.s, a->b.w")
    neuron, record = module.items
    assert neuron.settings[0].value.value == 5
    assert [i.owner_name for i in record.items] == ["a", "a->b"]


def test_string_escapes():
    module, _ = parse('import "dir/with \\"quote\\".snn"\n')
    assert module.items[0].path.value == 'dir/with "quote".snn'


def test_target_block_with_sections():
    module, _ = parse("target chip {\n base = loihi2\n learning {\n  engine = software\n }\n}\n")
    target = module.items[0]
    assert target.body[0].name.text == "base"
    assert isinstance(target.body[1], ast.TargetSection)
    assert target.body[1].body[0].value.dotted == "software"


@pytest.mark.parametrize("mistake,example",
                         [(m, e) for m, examples in LABELLED_EXAMPLES.items() for e in examples],
                         ids=lambda v: v.code if hasattr(v, "code") else repr(v)[:30])
def test_every_labelled_example_gets_its_own_code(mistake, example):
    error = only_error(example)
    assert error.code == mistake.code, (example, error.message)


def test_misspelt_keyword_gets_did_you_mean():
    error = only_error("populaton hidden: LIF[3]\n")
    assert (error.code, error.span.line, error.span.column) == ("E121", 1, 1)
    assert error.hint == "did you mean 'population'?"


def test_unclosed_paren_at_end_points_to_its_opener():
    error = only_error("a -> b: sparse(p = 0.1\n")
    assert error.code == "E103" and "line 1, column 15" in error.message


def test_unclosed_paren_before_a_brace():
    error = only_error("a -> b: sparse(p = 0.1 {\n}\n")
    assert error.code == "E103" and (error.span.line, error.span.column) == (1, 24)


def test_unclosed_brace_at_end_of_file():
    error = only_error("population p: LIF[3] {\n  tau_mem = 3 ms\n\n\n")
    assert error.code == "E103" and error.span.line == 2 and "'{'" in error.message


def test_unterminated_string_and_bad_characters():
    assert only_error('import "abc\n').code == "E102"
    error = only_error("population p: LIF[3] \u00e9\n")
    assert error.code == "E101" and "U+00E9" in error.message
    assert only_error("a -> b @\n").code == "E101"


def test_deep_nesting_is_a_diagnostic_not_a_crash():
    text = "network n { dt = " + "(" * 5000 + "1" + ")" * 5000 + " }\n"
    module, diag = parse(text)
    assert module is not None or diag.has_errors


def test_public_parse_raises_compile_error_with_diagnostics():
    with pytest.raises(snnc.CompileError) as caught:
        snnc.parse("population p LIF[3]\n")
    assert caught.value.diagnostics.items[0].code == "E104"


def test_rendered_line_is_the_parsers_line_even_after_a_line_separator():
    diag = Diagnostics()
    text = "population h: LIF[10]\n# Gerstner \u2028 Kistler\npopulation g: LFI[10]\n"
    assert snnc.check_text(text, diag, "t.snn") is None
    rendered = snnc.render(diag.items[0], diag.sources)
    assert " 3 | population g: LFI[10]" in rendered


def test_byte_order_mark_is_accepted(tmp_path):
    path = tmp_path / "bom.snn"
    path.write_bytes(b"\xef\xbb\xbfpopulation h: LIF[10]\n")
    diag = Diagnostics()
    assert snnc.check_file(str(path), diag) is not None and diag.items == []


@pytest.mark.parametrize("value", [
    "^".join(["1"] * 600),                 # a long right-associative chain
    "sqrt(" * 190 + "1" + ")" * 190,       # deep calls under the bracket limit
    "-" * 3000 + "1",                      # a long chain of signs
])
def test_deep_expressions_are_diagnostics_never_crashes(value):
    diag = Diagnostics()
    snnc.check_text(f"population p: LIF[1] {{ bias = {value} }}\n", diag, "t.snn")
    assert all(d.code == "E199" for d in diag.items)
