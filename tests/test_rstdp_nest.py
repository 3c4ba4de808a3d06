"""``rstdp_nest`` (reward-modulated STDP in NEST's conventions) against a closed form.

NEST's ``stdp_dopamine_synapse`` integrates ``dw/dt = c (n - b)`` exactly between events: the
eligibility ``c`` jumps by ``+A_plus K_plus`` at a post spike and ``-A_minus K_minus`` at a pre
spike (a pre and a post spike of the same step paired in neither window) and decays with
``tau_c``; the dopamine trace ``n`` jumps by ``1/tau_n`` per dopamine spike and decays with
``tau_n``. The oracle here is that integral summed event by event in numpy, not the rule's
per-step recurrence: every eligibility jump ``J`` at step ``s`` (time ``s dt``) contributes until
the end of the run ``T = steps dt``

    J * ( sum_j m_j / tau_n * int_{max(s, j) dt}^{T} e^{-(t - s dt)/tau_c} e^{-(t - j dt)/tau_n} dt
          - b * int_{s dt}^{T} e^{-(t - s dt)/tau_c} dt )

with ``m_j`` the dopamine count (the data's reward) of step ``j``; the jumps themselves are the
all-to-all pair sums of ``tests/test_stdp_conventions.py``. The pre spikes are a data input, the
post neurons fire exactly when a second data input drives them (checked), and no weight is
clipped (wide bounds), so snnc's final weights must equal ``w0 + lr * (the sum)``.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

import snnc
from snnc import recordings
from snnc.backends.nest.rules import NotPairStdp, recognise_rule
from snnc.cli import main
from snnc.diagnostics import Diagnostics

STEPS, N_PRE, N_POST, DT_MS = 400, 6, 4, 1.0
LR, TAU_PLUS, TAU_MINUS, TAU_C, TAU_N, B = 0.01, 16.8e-3, 33.7e-3, 0.2, 0.05, 3.0
A_PLUS, A_MINUS, W0 = 1.0, 1.05, 0.5


@pytest.fixture(autouse=True)
def _numpy_kernels(monkeypatch):
    monkeypatch.setenv("SNNC_NO_NUMBA", "1")


PROGRAM = """
network dopamine {{
  dt = 1 ms
  seed = 1
}}
input pre_in[{n_pre}]
input drive[{n_post}]
population post: LIF[{n_post}] {{
  tau_mem = 5 ms
  threshold = 100
  reset = zero
}}
drive -> post: one_to_one {{ weight = 200 }}
pre_in -> post: dense {{
  weight = {w0}
  delay = {delay}
  learn rstdp_nest(lr = {lr}, tau_plus = 16.8 ms, tau_minus = 33.7 ms, tau_c = 200 ms,
                   tau_n = 50 ms, b = 3 Hz, a_plus = {a_plus}, a_minus = {a_minus},
                   w_min = -1e6, w_max = 1e6)
}}
record post.s
"""


def program(delay: int, learn: str | None = None, rules: str = "") -> str:
    text = PROGRAM.format(n_pre=N_PRE, n_post=N_POST, w0=W0, delay=delay, lr=LR,
                          a_plus=A_PLUS, a_minus=A_MINUS)
    if learn is not None:
        start = text.index("  learn rstdp_nest(")
        text = text[:start] + f"  learn {learn}\n" + text[text.index("}", start):]
    return rules + text


def run(tmp_path, pre, drive, reward, delay: int, delivery: str, text: str | None = None) -> dict:
    source = tmp_path / f"rstdp_nest_{delay}_{delivery}.snn"
    source.write_text(text or program(delay), encoding="utf-8")
    data, out = tmp_path / "data.npz", source.with_suffix(".npz")
    np.savez(data, pre_in=pre, drive=drive, reward=reward)
    code = main(["run", str(source), "--input", str(data), "--steps", str(STEPS), "--delivery",
                 delivery, "--record", "post.s,pre_in->post.w", "-o", str(out), "--force"])
    assert code == 0
    return recordings.load(out)


def jumps(pre_arrivals: np.ndarray, post_steps: np.ndarray, nest: dict) -> list:
    """The eligibility jumps (step, size) of one synapse in NEST's pairing convention."""
    d_plus = math.exp(-DT_MS / nest["tau_plus"])
    d_minus = math.exp(-DT_MS / nest["tau_minus"])
    out = [(int(p), nest["A_plus"] * sum(d_plus ** (p - q) for q in pre_arrivals if q < p))
           for p in post_steps]
    out += [(int(q), -nest["A_minus"] * sum(d_minus ** (q - p) for p in post_steps if p < q))
            for q in pre_arrivals]
    return out


def integral(s: int, dopamine: np.ndarray, nest: dict) -> float:
    """int_{s h}^{T} e^{-(t - s h)/tau_c} (n(t) - b) dt (ms) for a unit jump at step s."""
    tau_c, tau_n = nest["tau_c"], nest["tau_n"]
    rate = 1 / tau_c + 1 / tau_n
    end = STEPS * DT_MS
    total = -nest["b"] * tau_c * -math.expm1(-(end - s * DT_MS) / tau_c)
    for j in np.flatnonzero(dopamine):
        start = max(s, j) * DT_MS
        total += dopamine[j] / tau_n * math.exp(-(start - s * DT_MS) / tau_c) \
            * math.exp(-(start - j * DT_MS) / tau_n) * -math.expm1(-(end - start) * rate) / rate
    return total


def closed_form(pre: np.ndarray, post: np.ndarray, dopamine: np.ndarray, delay: int,
                nest: dict) -> np.ndarray:
    """NEST's weight change [post, pre] over the run, event by event (``nest``: its
    parameters, times in ms)."""
    dw = np.zeros((post.shape[1], pre.shape[1]))
    for j in range(pre.shape[1]):
        arrivals = np.flatnonzero(pre[:, j]) + delay
        arrivals = arrivals[arrivals < STEPS]
        for i in range(post.shape[1]):
            dw[i, j] = sum(size * integral(s, dopamine, nest) for s, size in
                           jumps(arrivals, np.flatnonzero(post[:, i]), nest))
    return dw


#: NEST's parameters of the stdlib rule as docs/learning.md states them (ms, 1/ms)
STDLIB = {"A_plus": LR * A_PLUS, "A_minus": LR * A_MINUS, "tau_plus": TAU_PLUS * 1e3,
          "tau_minus": TAU_MINUS * 1e3, "tau_c": TAU_C * 1e3, "tau_n": TAU_N * 1e3,
          "b": B / 1e3}


def trains(seed: int):
    rng = np.random.default_rng(seed)
    pre, drive = rng.random((STEPS, N_PRE)) < 0.1, rng.random((STEPS, N_POST)) < 0.1
    reward = ((rng.random(STEPS) < 0.05) * rng.integers(1, 4, STEPS)).astype(float)
    return pre, drive, reward


@pytest.mark.parametrize(("delay", "delivery"), [(0, "same_step"), (2, "next_step")])
def test_final_weights_equal_nests_integral(tmp_path, delay, delivery):
    pre, drive, reward = trains(delay + 11)
    out = run(tmp_path, pre, drive, reward, delay, delivery)
    post = out["post.s"][:, 0, :].astype(bool)
    shift = 1 if delivery == "next_step" else 0
    assert np.array_equal(post[shift:], drive[:STEPS - shift]) and not post[:shift].any()
    dw = closed_form(pre, post, reward, delay, STDLIB)
    w = out["pre_in->post.w"]
    np.testing.assert_allclose(w, W0 + dw, rtol=0, atol=1e-12)
    assert np.abs(dw).max() > 1e-3 and reward.sum() > 10  # real learning, real dopamine


#: reward-modulated STDP written otherwise: scaled traces, a left-point (Riemann) sum of c n
#: instead of the integral, the baseline as a constant; the same expressions up to constants
VARIANT = """
rule my_rstdp(lr = 0.0004, tau_c = 200 ms, tau_n = 50 ms) {
  trace x = lowpass(pre.s, 16.8 ms)
  trace y = lowpass(post.s, 33.7 ms, 2)
  trace elig = lowpass(2 * (x - pre.s) * post.s - 1.05 * (y - 2 * post.s) * pre.s, tau_c, 0.5)
  trace dop = lowpass(r, tau_n)
  signal r = reward
  let now = decay(tau_n) * dop + r
  dw = elig * now - 0.03 * elig
  bounds = [-1e6, 1e6]
}
"""


def recognised(text: str) -> dict:
    """NEST's parameters of the program's one rule (weight scale 1, ms), or NotPairStdp."""
    diag = Diagnostics()
    net = snnc.compile_program(snnc.load_text(text, "t.snn", diag), diag)
    assert net is not None and not diag.has_errors, diag
    projection = next(p for p in net.projections() if p.rules)
    found = recognise_rule(net, projection.rules[0])
    return found.synapse(DT_MS, 1.0) | {"tau_minus": found.post_tau_minus(DT_MS)}


def test_a_rule_with_the_same_expressions_maps_with_converted_parameters(tmp_path):
    """Recognised from its expressions: the variant's snnc weights are NEST's integral with the
    parameters the backend derives (A scaled by the ratio of the integral to the sum)."""
    text = program(0, learn="my_rstdp()", rules=VARIANT)
    nest = recognised(text)
    rate = 1 / 200 + 1 / 50
    unit = 0.0004 * 50 / (-math.expm1(-rate) / rate)  # lr Q tau_n / F, Q = 1
    assert nest["A_plus"] == pytest.approx(unit * 0.5 * 2, rel=1e-12)
    assert nest["A_minus"] == pytest.approx(unit * 0.5 * 1.05 * 2, rel=1e-12)
    pre, drive, reward = trains(5)
    out = run(tmp_path, pre, drive, reward, 0, "same_step", text)
    post = out["post.s"][:, 0, :].astype(bool)
    assert np.array_equal(post, drive)
    dw = closed_form(pre, post, reward, 0, nest)
    np.testing.assert_allclose(out["pre_in->post.w"], W0 + dw, rtol=0, atol=1e-12)
    assert np.abs(dw).max() > 1e-3


@pytest.mark.parametrize(("change", "why"), [
    (("dw = elig * now - 0.03 * elig", "dw = elig * dop"), "no c * r term"),
    (("dw = elig * now - 0.03 * elig", "dw = elig * (0.5 * dop + r)"), "should be"),
    (("dw = elig * now - 0.03 * elig", "dw = elig * now * w"), "the weight w in dw"),
    (("dw = elig * now - 0.03 * elig", "on post: dw = elig * now"), "not at spikes"),
    (("2 * (x - pre.s) * post.s", "2 * x * post.s"), "same step"),
    (("trace dop = lowpass(r, tau_n)", "trace dop = lowpass(r * r, tau_n)"), "one eligibility"),
])
def test_other_expressions_are_refused_with_the_reason(change, why):
    text = program(0, learn="my_rstdp()", rules=VARIANT.replace(*change))
    with pytest.raises(NotPairStdp, match="reward-modulated STDP") as refused:
        recognised(text)
    assert why in str(refused.value) or why in refused.value.hint, str(refused.value)
