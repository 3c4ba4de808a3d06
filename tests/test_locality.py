"""The locality pass reproduces docs/learning.md's table for the standard library, decides
factorization from the expressions (not the names), and the target check refuses what a chip
cannot run."""

import pytest

import snnc
from snnc.diagnostics import Diagnostics
from snnc.frontend import ast
from snnc.frontend.loader import stdlib_sources

N_IN, N_HIDDEN, N_OUT = 8, 20, 3


def network(rule="eprop", model="CubaLIF", extra="", target="reference", hidden_args=None):
    unsupervised = rule.removeprefix("my_") in ("stdp", "rstdp", "decolle")
    args = hidden_args or ("" if unsupervised else "readout = out")
    return f"""
network t {{ dt = 1 ms }}
target {target}
input x[{N_IN}]
population hidden: {model}[{N_HIDDEN}] {{ tau_mem = 20 ms }}
readout out: LI[{N_OUT}]
x -> hidden: dense {{ learn {rule}({args}) }}
hidden -> hidden: dense {{ learn {rule}({args}) }}
hidden -> out: dense {{ learn delta(readout = out) }}
loss cross_entropy(sum_over_time(out.v))
{extra}
"""


def compile_text(text):
    diag = Diagnostics()
    program = snnc.load_text(text, "t.snn", diag)
    net = snnc.compile_program(program, diag) if program else None
    return net, diag


def report(text, projection="hidden->hidden", rule=None):
    net, diag = compile_text(text)
    assert net is not None, [snnc.render(d, diag.sources) for d in diag.items]
    found = [r for r in net.analyses["check-locality"] if r.projection == projection
             and (rule is None or r.rule == rule)]
    assert len(found) == 1
    return found[0]


def state(r):
    return {item.name: (item.scope, item.count) for item in r.analysis.state}


SYNAPSES = N_HIDDEN * N_HIDDEN

# docs/learning.md, "The standard library": rule -> (model, class, scaling)
TABLE = {
    "stdp": ("LIF", "a", "O(N)"),
    "rstdp": ("LIF", "b", "O(N^2)"),
    "eprop": ("CubaLIF", "b", "O(N)"),
    "eprop_leaky": ("CubaLIF", "b", "O(N^2)"),
    "eprop_symmetric": ("CubaLIF", "c", "O(N)"),
    "eprop_alif": ("ALIF", "b", "O(N^2)"),
    "eprop_alif_symmetric": ("ALIF", "c", "O(N^2)"),
    "superspike": ("LIF", "b", "O(N^2)"),
    "superspike_symmetric": ("LIF", "c", "O(N^2)"),
    "decolle": ("CubaLIF", "b", "O(N)"),
    "ostl": ("LIF", "c", "O(N)"),
    "rflo": ("LIF", "b", "O(N^2)"),
    "rtrl": ("CubaLIF", "c", "O(N^3)"),
    "bptt": ("CubaLIF", "c+d", "O(N T)"),
}


@pytest.mark.parametrize("rule", sorted(TABLE))
def test_standard_rules_reproduce_the_table(rule):
    model, cls, order = TABLE[rule]
    r = report(network(rule, model))
    assert (r.cls, r.to_json()["scaling"]) == (cls, order)


def test_eprop_state_is_one_trace_per_pre_neuron_and_a_signal_per_post_neuron():
    r = report(network("eprop"))
    assert state(r) == {"zbar": ("per pre-neuron", N_HIDDEN),
                        "signal L": ("per post-neuron", N_HIDDEN)}
    assert state(report(network("eprop"), "x->hidden"))["zbar"] == ("per pre-neuron", N_IN)
    assert r.state_bytes == 4 * 2 * N_HIDDEN


def test_rstdp_eligibility_is_per_synapse_with_real_byte_count():
    r = report(network("rstdp", "LIF"))
    assert state(r)["c"] == ("per synapse", SYNAPSES)
    assert state(r)["x_pre"] == ("per pre-neuron", N_HIDDEN)
    assert state(r)["y_post"] == ("per post-neuron", N_HIDDEN)


def test_superspike_nested_filters_are_state_too():
    r = report(network("superspike", "LIF"))
    scopes = sorted(scope for scope, _ in state(r).values())
    # psp (outer lowpass, named) + its inner lowpass per pre; elig + its inner lowpass per synapse
    assert scopes.count("per pre-neuron") == 2 and scopes.count("per synapse") == 2


def test_rtrl_sensitivity_is_cubic_and_bptt_history_is_n_times_t():
    r = report(network("rtrl"))
    n_net = N_HIDDEN + N_OUT
    assert state(r)["M"] == ("per synapse, per network neuron", n_net * SYNAPSES)
    net, _ = compile_text(network("bptt"))
    b = [x for x in net.analyses["check-locality"] if x.projection == "hidden->hidden"][0]
    # CubaLIF: two state variables (v, i) per neuron, T = 1000 steps by default
    assert state(b)["history of delta"] == ("per network neuron", n_net * 1000 * 2)


def test_history_length_follows_the_duration_or_the_option():
    text = network("bptt").replace("dt = 1 ms", "dt = 1 ms\n duration = 50 ms")
    r = report(text)
    assert state(r)["history of delta"][1] == (N_HIDDEN + N_OUT) * 50 * 2


def test_nonlocal_terms_point_at_the_offending_expression():
    r = report(network("eprop_symmetric"))
    (term,) = [t for t in r.analysis.terms if t.tag == "remote"]
    assert term.span.file == "<stdlib>/eprop.snn"
    text = dict(stdlib_sources())["<stdlib>/eprop.snn"].splitlines()[term.span.line - 1]
    assert text[term.span.column - 1:].startswith("symmetric_feedback(from = readout)")
    assert "W^T" in term.reason and "non-local in space" in term.reason


def test_generators_have_their_own_class():
    gens = {g.kind: g.cls for r in (report(network(n)) for n in ("eprop", "eprop_symmetric", "bptt"))
            for g in r.analysis.generators}
    assert gens == {"random_feedback": "b", "symmetric_feedback": "c",
                    "backprop_through_time": "c+d"}


def renamed_copies():
    """Every standard rule, copied into a user file under another name."""
    for path, text in stdlib_sources():
        module = snnc.parse(text, path)
        for item in module.items:
            if isinstance(item, ast.RuleDecl):
                yield item.name.text, text, path


@pytest.mark.parametrize("rule", sorted(TABLE))
def test_a_renamed_copy_gets_the_same_verdict(rule):
    model = TABLE[rule][0]
    source = dict((name, text) for name, text, _ in renamed_copies())[rule]
    copy = source.replace(f"rule {rule}(", f"rule my_{rule}(")
    original = report(network(rule, model)).to_json()
    mine = report(network(f"my_{rule}", model, extra=copy), rule=f"my_{rule}").to_json()
    for key in ("rule",):
        original.pop(key), mine.pop(key)
    for term in original["nonlocal_terms"] + mine["nonlocal_terms"]:
        term.pop("file"), term.pop("line"), term.pop("column")
    for item in original["state"] + mine["state"]:
        item["name"] = item["name"].split("@")[0]  # anonymous traces are named by position
    assert mine == original


FACTORIZED = """
rule mine(lr = 1e-3, readout) {
  trace zbar = lowpass(pre.s, 20 ms)
  signal L = random_feedback(from = readout)
  dw = -L * surrogate(post.v) * zbar
}
"""
FILTERED_AFTER_PRODUCT = """
rule mine(lr = 1e-3, readout) {
  trace zbar = lowpass(pre.s, 20 ms)
  trace e = lowpass(surrogate(post.v) * zbar, 20 ms)
  signal L = random_feedback(from = readout)
  dw = -L * e
}
"""


def test_filter_after_the_product_flips_state_to_per_synapse():
    before = report(network("mine", extra=FACTORIZED))
    after = report(network("mine", extra=FILTERED_AFTER_PRODUCT))
    assert {s for s, _ in state(before).values()} == {"per pre-neuron", "per post-neuron"}
    assert state(after)["e"] == ("per synapse", SYNAPSES)
    assert before.to_json()["scaling"] == "O(N)" and after.to_json()["scaling"] == "O(N^2)"


def test_per_neuron_time_constant_makes_a_pre_trace_per_synapse():
    text = network("eprop").replace("{ tau_mem = 20 ms }", "{ tau_mem = uniform(10 ms, 30 ms) }")
    # zbar = lowpass(pre.s, post.tau_mem): a different decay for every post neuron
    assert state(report(text))["zbar"] == ("per synapse", SYNAPSES)


def test_reading_the_weight_is_synapse_local():
    rule = "rule decay_w(lr = 1) { dw = -w * pre.s }\n"
    r = report(network("decay_w", extra=rule, hidden_args=" "))
    assert r.cls == "a" and r.analysis.tags == frozenset({"syn", "pre"})


def test_reading_another_population_is_remote():
    rule = "rule spy(lr = 1, other) { dw = other.v * pre.s }\n"
    r = report(network("spy", extra=rule, hidden_args="other = out"))
    assert r.cls == "c" and "another population" in r.analysis.terms[0].reason


# ---- the target check ------------------------------------------------------------------------

def errors(text, target=None):
    net, diag = compile_text(text.replace("target reference", f"target {target}") if target
                             else text)
    return [(d.code, d.severity.value) for d in diag.sorted()]


def test_reference_accepts_everything_and_flags_oracles():
    assert errors(network("stdp", "LIF")) == []
    assert ("W301", "warning") in errors(network("eprop_symmetric"))
    assert ("W301", "warning") in errors(network("bptt"))


@pytest.mark.parametrize("target", ["truenorth", "xylo", "speck", "dynapse2"])
def test_chips_without_learning_refuse_every_rule(target):
    assert ("E301", "error") in errors(network("stdp", "LIF"), target)


@pytest.mark.parametrize("target", ["loihi", "loihi2", "spinnaker", "spinnaker2", "brainscales2"])
def test_nonlocal_rules_are_refused_on_every_learning_chip(target):
    assert ("E302", "error") in errors(network("eprop_symmetric"), target)
    assert ("E302", "error") in errors(network("rtrl"), target)


def test_loihi_engine_limits():
    assert errors(network("stdp", "LIF"), "loihi") == []
    assert ("E306", "error") in errors(network("eprop"), "loihi")   # reads post.v
    assert errors(network("eprop"), "loihi2") == []                  # as a third factor
    assert ("E305", "error") in errors(network("superspike", "LIF"), "loihi2")  # 2 per-synapse
    three_pre = "rule tri(lr = 1) {\n trace a = lowpass(pre.s, 1 ms)\n trace b = " \
                "lowpass(pre.s, 2 ms)\n trace c = lowpass(pre.s, 3 ms)\n on post: dw = a + b + c\n}\n"
    assert ("E303", "error") in errors(network("tri", "LIF", extra=three_pre, hidden_args=" "),
                                       "loihi2")
    divide = "rule div(lr = 1) {\n trace a = lowpass(pre.s, 1 ms)\n on post: dw = a / (w + 1)\n}\n"
    assert ("E307", "error") in errors(network("div", "LIF", extra=divide, hidden_args=" "),
                                       "loihi2")


def test_software_targets_run_class_b_with_per_synapse_state():
    assert errors(network("superspike", "LIF"), "spinnaker2") == []


def test_custom_target_overrides_its_base():
    custom = "target mychip {\n base = loihi2\n learning {\n  tags_per_synapse = 2\n }\n}\n"
    text = network("superspike", "LIF", extra=custom).replace("target reference", "target mychip")
    # the structure fits (two tags); superspike's tag 'elig' decays by 0.0952 per step,
    # rounded to 3 * 2^-5 on Loihi's constants (snnc.passes.check_rule_constants)
    assert errors(text) == [("W513", "warning"), ("W513", "warning")]


def test_command_line_target_overrides_the_program(capsys):
    import pathlib

    from snnc.cli import main
    example = pathlib.Path(__file__).resolve().parents[1] / "examples" / "eprop_randman.snn"
    assert main(["check", str(example), "--target", "loihi", "-q"]) == 1
    assert "E306" in capsys.readouterr().err
    assert main(["check", str(example), "--target", "loihi2", "--report", "locality"]) == 0
    out = capsys.readouterr().out
    assert "hidden->hidden  eprop  class b" in out and "zbar per pre-neuron, 128 floats" in out
