"""Reward-modulated STDP on Loihi's learning engine without Lava (issue 17): the mapping of a
class-b rule to a three-factor rule (the eligibility as the synapses' tag, the reward as y2),
checked against an independent oracle, and the diagnostics of what Loihi cannot express.

The oracle: the rule strings the backend renders are evaluated as Lava's engine evaluates them
(every product read with the values before this step's updates: the tag of the previous step,
the traces and spikes of this step) on random traces, spikes and rewards, against snnc's
``c <- d c + a_plus x post.s - a_minus y pre.s``, ``w <- w + lr r c``. (Running the program in
Lava against snnc run: tests/lava/test_rstdp_lava.py.)"""

from __future__ import annotations

import re

import numpy as np
import pytest

from snnc.api import compile_network
from snnc.backends.lava import LavaBackend
from snnc.cli import main
from snnc.diagnostics import Diagnostics

NETWORK = """network r {{
  dt = 1 ms
  seed = 3
{integration}}}
input pattern[6]
population actor: LIF[4] {{
  tau_mem = 10 ms
  threshold = 1
  reset = zero
}}
pattern -> actor: dense {{
  weight = 0.1
  learn {rule}
}}
"""
LOIHI = "rstdp(lr = 0.002, tau_c = 127.4993464 ms, a_minus = 1.05, w_max = 0.5)"


def rule_of(tmp_path, rule: str = LOIHI, integration: str = ""):
    source = tmp_path / "r.snn"
    source.write_text(NETWORK.format(rule=rule, integration=integration))
    diag = Diagnostics()
    net = compile_network(str(source), diag)
    assert net is not None and not diag.has_errors
    graph = LavaBackend().graph(net, diag)
    assert graph is not None, [d.message for d in diag.errors()]
    return graph


def products(text: str) -> list[tuple[float, list[str]]]:
    """A rule string of Lava's as (constant, factors) per product: 'm * 2^e' or 'm' constants."""
    out = []
    for sign, body in re.findall(r"(^-?|[+-] )([^+]+?)(?= [+-] |$)", text):
        factors, constant = [], -1.0 if sign.strip() == "-" else 1.0
        for part in (p.strip() for p in body.split("*")):
            if re.fullmatch(r"\d+", part):
                constant *= float(part)
            elif part.startswith("2^"):
                constant *= 2.0 ** int(part[2:])
            else:
                factors.append(part)
        out.append((constant, factors))
    return out


def evaluate(text: str, values: dict[str, float]) -> float:
    return sum(c * np.prod([values[f] for f in factors]) for c, factors in products(text))


def test_rstdp_becomes_a_three_factor_rule_with_the_eligibility_as_tag(tmp_path):
    graph = rule_of(tmp_path)
    (connection,) = graph.connections
    rule = connection.rule
    assert rule.kind == "Loihi3FLearningRule"
    assert rule.dt == "x1 * y0 - y1 * x0 - 1 * 2^-7 * t * u0"
    assert rule.dw == "x1 * y2 * y0 - y1 * y2 * x0 + t * y3 * u0"  # y3 = (1 - 2^-7) y2
    assert rule.y3_factor == 1 - 2.0 ** -7
    assert rule.arguments() == {"x1_impulse": 1.0, "x1_tau": 20.0}  # y1 is the neuron's
    assert rule.roundings == []
    (group,) = graph.groups
    assert group.kind == "ThirdFactorLIF1" and connection.port == "a_in_0"
    assert group.third.y3_factor == rule.y3_factor
    assert group.third.signal == "reward" and group.third.gain == pytest.approx(0.002)
    assert group.third.y1_impulse == pytest.approx(1.05)
    assert group.third.y1_decay == pytest.approx(np.exp(-1 / 20), abs=1e-15)


def test_the_engine_form_computes_snncs_update(tmp_path):
    rule = rule_of(tmp_path).connections[0].rule
    gain = {"x1": rule.traces[0].impulse, "y1": rule.post_trace.impulse, "y2": rule.third.gain}
    rng = np.random.default_rng(0)
    c = t = w_snnc = w_lava = 0.0
    d = np.exp(np.log1p(-2.0 ** -7))  # snnc's decay of tau_c = -dt / ln(1 - 2^-7)
    for _ in range(400):
        x, y = rng.random(2) * 3  # snnc's traces after this step's spikes
        pre, post = rng.random(2) < 0.3
        r = rng.choice([-1.0, 0.0, 2.0])
        values = {"x1": gain["x1"] * x, "y1": gain["y1"] * y, "y2": gain["y2"] * r,
                  "y3": rule.y3_factor * gain["y2"] * r,  # what the post neuron sends
                  "x0": float(pre), "y0": float(post), "u0": 1.0, "t": t}
        w_lava += evaluate(rule.dw, values)  # both read the tag of the previous step
        t += evaluate(rule.dt, values)
        c = d * c + 1.0 * x * post - 1.05 * y * pre
        w_snnc += 0.002 * r * c
        assert t == pytest.approx(c, abs=1e-12)
    assert abs(w_snnc) > 1e-3
    assert w_lava == pytest.approx(w_snnc, abs=1e-12)


def test_a_tag_decay_below_loihis_constants_is_refused_with_the_expressible_choice(
        capsys, tmp_path):
    assert main(["compile", "examples/rstdp.snn", "--emit", "lava", "-o",
                 str(tmp_path / "out")]) == 1
    err = capsys.readouterr().err
    assert "error[E513]" in err and "trace 'c' is the synapse's tag" in err
    assert "0.002" in err and "2^-7" in err
    assert "127.4993464 ms" in err  # -dt / ln(1 - 2^-7): the time constant to write


def test_euler_offers_128_ms_and_a_rounded_tag_decay_is_reported(capsys, tmp_path):
    source = tmp_path / "r.snn"
    source.write_text(NETWORK.format(rule=LOIHI.replace("127.4993464", "500"),
                                     integration="  integration = euler\n"))
    assert main(["compile", str(source), "--emit", "lava", "-o", str(tmp_path / "a")]) == 1
    assert "128 ms (rate 0.0078125" in capsys.readouterr().err
    source.write_text(NETWORK.format(rule=LOIHI.replace("127.4993464", "100"),
                                     integration="  integration = euler\n"))
    assert main(["compile", str(source), "--emit", "lava", "-o", str(tmp_path / "b")]) == 0
    err = capsys.readouterr().err
    assert "warning[W513]" in err and "decay of the tag 'c' per step is rounded from 0.01 " \
        "to 0.0078125" in err
    assert "128 ms" in err  # the hint: the time constant that is exact
    graph = rule_of(tmp_path, LOIHI.replace("127.4993464", "100"), "  integration = euler\n")
    assert graph.connections[0].rule.dt.endswith("- 1 * 2^-7 * t * u0")


def test_a_local_readout_is_computed_by_the_program(capsys, tmp_path):
    """Every third factor a rule accepted on loihi2 can have is computed by the program:
    local_readout (DECOLLE) by a LocalReadout process fed with the layer's own spikes (here a
    readout's, which never spike: its error is -onehot(label)); fixed point is refused with the
    reason."""
    signal = "signal r = local_readout(size = 2, loss = mse)"
    source = tmp_path / "s.snn"
    source.write_text(f"""network s {{
  dt = 1 ms
}}
input x[3]
readout out: LI[2] {{
  tau_mem = 10 ms
}}
loss cross_entropy(sum_over_time(out.v))
rule mine(lr = 0.1, tau = 20 ms) {{
  trace x_pre = lowpass(pre.s, tau)
  {signal}
  dw = r * x_pre
}}
x -> out: dense {{
  weight = 0.1
  learn mine()
}}
""")
    assert main(["compile", str(source), "--emit", "lava", "-o", str(tmp_path / "o")]) == 0
    out = capsys.readouterr()
    assert "local readout's signal is computed in floating point only" in out.out + out.err
    network = (tmp_path / "o" / "network.py").read_text()
    assert "procs['out'].s_out.connect(procs['local readout of x->out'].s_in)" in network
    assert "procs['local readout of x->out'].l_out.connect(procs['out'].a_third_y2)" in network


def lava_fixed_product(constant: float, factors: list[str], values: dict[str, int]) -> int:
    """One product as Lava 0.10.0's LearningRuleApplierBitApprox computes it, in accumulator
    units (2^7 per weight or tag unit): the factors' widths (7 a trace, 9 t and w, 1 a spike
    after the dependency) plus 4 above 15 bits are shifted out, then the constant's exponent
    + 7 is shifted in."""
    widths = {"x1": 7, "x2": 7, "y1": 7, "y2": 7, "y3": 7, "t": 9, "w": 9, "x0": 1, "y0": 1}
    dependency = next(f for f in factors if f in ("x0", "y0", "u0"))
    rest = list(factors)
    rest.remove(dependency)
    exponent = next(e for e in range(-7, 9) if (constant / 2.0 ** e).is_integer()
                    and -8 <= constant / 2.0 ** e <= 7)
    product = int(constant / 2.0 ** exponent)
    for f in rest:
        product *= values[f]
    shift = max(0, sum(widths[f] for f in rest) + 4 - 15)
    return (product >> shift) << (exponent + 7)


def test_the_fixed_point_rule_computes_the_floating_point_one_in_lavas_integers(tmp_path):
    from snnc.backends.lava.quantize import quantize
    graph = rule_of(tmp_path)
    fixed = quantize(graph)
    (name,) = fixed.rules
    rule, ours = graph.connections[0].rule, fixed.rules[name]
    assert ours.problems == [] and fixed.blockers == []
    assert ours.dw == "1 * 2^-7 * x1 * y2 * y0 - 1 * 2^-7 * y1 * y2 * x0 + 4 * 2^-6 * t * y3 * u0"
    assert ours.dt == "1 * 2^-1 * x1 * y0 - 1 * 2^-1 * y1 * x0 - 1 * 2^-7 * t * u0"
    q, sigma = 1 / ours.sigma["w"], ours.sigma
    rng = np.random.default_rng(1)
    for terms, text, unit in ((rule.dw_terms, ours.dw, 1 / q), (rule.dt_terms, ours.dt,
                                                                 sigma["t"])):
        for (factors, constant), (fixed_constant, _) in zip(terms, products(text), strict=True):
            for _ in range(50):
                values = {f: int(rng.integers(1, 128)) for f in ("x1", "y1", "y2", "y3")}
                values |= {"t": int(rng.integers(-255, 256)), "x0": 1, "y0": 1, "u0": 1}
                exact = constant * unit * np.prod([values[f] / sigma[f] for f in factors])
                got = lava_fixed_product(fixed_constant, factors, values) / 2 ** 7
                step = 2.0 ** (np.log2(abs(fixed_constant)) // 1) if fixed_constant else 0
                assert exact - step - 1e-12 <= got <= exact + 1e-12  # the shift floors


def test_a_reward_modulated_rule_without_a_tag_needs_no_y3(tmp_path):
    source = tmp_path / "h.snn"
    source.write_text("""network h {
  dt = 1 ms
}
rule rhebb(lr = 0.01, tau_plus = 20 ms, tau_minus = 10 ms) {
  trace x = lowpass(pre.s, tau_plus)
  trace y = lowpass(post.s, tau_minus)
  signal r = reward
  dw = r * (x * post.s - 0.5 * y * pre.s)
  bounds = [0, 0.25]
}
input pattern[5]
population actor: LIF[3] {
  tau_mem = 10 ms
}
pattern -> actor: dense {
  weight = 0.1
  learn rhebb()
}
""")
    diag = Diagnostics()
    graph = LavaBackend().graph(compile_network(str(source), diag), diag)
    rule = graph.connections[0].rule
    assert rule.kind == "Loihi3FLearningRule" and rule.dt is None and rule.y3_factor is None
    assert rule.dw == "x1 * y2 * y0 - y1 * y2 * x0"
    assert graph.groups[0].third.y3_factor == 0.0  # the neuron sends y3 = 0
    # each product's constant goes to its first trace without a gain: lr to x1, lr 0.5 to y1;
    # the reward enters as it is
    assert rule.traces[0].impulse == pytest.approx(0.01) and rule.third.gain == 1.0
    assert rule.post_trace.impulse == pytest.approx(0.005)
