"""The two pairing conventions of pair-based STDP against a closed form.

``stdp`` (the standard library's) counts a pre and a post spike of the same step in both
windows; ``stdp_nest`` (NEST's ``stdp_synapse``) in neither. The oracle is the all-to-all pair
sum over the spike trains, computed here in numpy and not from the rule's traces:

    dw = lr * (sum_{n_post > n_pre} a_plus d_plus^(n_post - n_pre)
               - sum_{n_pre > n_post} a_minus d_minus^(n_pre - n_post)) [+ same-step pairs]

with ``d = exp(-dt/tau)`` (exact integration) or ``1 - dt/tau`` (euler), ``n_pre`` the step a pre
spike reaches the synapse (its emission plus the projection's delay) and ``n_post`` the post
spike's step. The pre spikes are a data input fed to ``snnc run``; the post neurons fire exactly
when a second data input drives them (checked), and the oracle reads the post spikes the run
recorded. ``w_max`` is large and ``lr`` small, so no weight is clipped.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

import snnc
from snnc import recordings
from snnc.cli import main
from snnc.diagnostics import Diagnostics

STEPS, N_PRE, N_POST = 300, 8, 5
LR, TAU_PLUS, TAU_MINUS, A_PLUS, A_MINUS, W0 = 1e-4, 16.8e-3, 33.7e-3, 1.0, 1.05, 0.5
DT = 1e-3


@pytest.fixture(autouse=True)
def _numpy_kernels(monkeypatch):
    """numpy kernels: no numba compilation per program (the rules are numpy either way)."""
    monkeypatch.setenv("SNNC_NO_NUMBA", "1")

PROGRAM = """
network conventions {{
  dt = 1 ms
  seed = 1
  integration = {integration}
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
  learn {rule}(lr = {lr}, tau_plus = 16.8 ms, tau_minus = 33.7 ms, a_plus = {a_plus},
               a_minus = {a_minus}, w_max = 1e6)
}}
record post.s
"""


def spike_trains(seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Bernoulli spikes [steps, n] for the pre input and the post drive (many same-step pairs)."""
    rng = np.random.default_rng(seed)
    return rng.random((STEPS, N_PRE)) < 0.12, rng.random((STEPS, N_POST)) < 0.12


def run(tmp_path, rule: str, pre: np.ndarray, drive: np.ndarray, *, delay: int = 0,
        integration: str = "exact", delivery: str = "same_step") -> dict:
    """``snnc run`` of PROGRAM; returns its output arrays."""
    source = tmp_path / f"{rule}_{delay}_{integration}_{delivery}.snn"
    source.write_text(PROGRAM.format(
        integration=integration, n_pre=N_PRE, n_post=N_POST, w0=W0, delay=delay, rule=rule,
        lr=LR, a_plus=A_PLUS, a_minus=A_MINUS), encoding="utf-8")
    data, out = tmp_path / "data.npz", source.with_suffix(".npz")
    np.savez(data, pre_in=pre, drive=drive)
    code = main(["run", str(source), "--input", str(data), "--steps", str(STEPS),
                 "--delivery", delivery, "--record", "post.s,pre_in->post.w", "-o", str(out),
                 "--force"])
    assert code == 0
    return recordings.load(out)


def decay(tau: float, integration: str) -> float:
    return math.exp(-DT / tau) if integration == "exact" else 1.0 - DT / tau


def pair_sum(pre: np.ndarray, post: np.ndarray, delay: int, integration: str,
             same_step: bool) -> np.ndarray:
    """The closed-form weight change [post, pre] over every pre/post spike pair."""
    d_plus, d_minus = decay(TAU_PLUS, integration), decay(TAU_MINUS, integration)
    dw = np.zeros((post.shape[1], pre.shape[1]))
    for j in range(pre.shape[1]):
        arrivals = np.flatnonzero(pre[:, j]) + delay
        arrivals = arrivals[arrivals < pre.shape[0]]  # spikes still on their way never count
        for i in range(post.shape[1]):
            total = 0.0
            for n_post in np.flatnonzero(post[:, i]):
                for n_pre in arrivals:
                    if n_post > n_pre:
                        total += A_PLUS * d_plus ** (n_post - n_pre)
                    elif n_pre > n_post:
                        total -= A_MINUS * d_minus ** (n_pre - n_post)
                    elif same_step:
                        total += A_PLUS - A_MINUS
            dw[i, j] = LR * total
    return dw


def same_step_pairs(pre: np.ndarray, post: np.ndarray, delay: int) -> np.ndarray:
    """[post, pre]: how many times a pre spike reaches the synapse in its post neuron's step."""
    arrived = np.zeros_like(pre, dtype=float)
    arrived[delay:] = pre[:pre.shape[0] - delay]
    return post.astype(float).T @ arrived


CASES = [(0, "exact", "same_step"), (2, "exact", "same_step"), (1, "euler", "same_step"),
         (1, "exact", "next_step")]


@pytest.mark.parametrize(("delay", "integration", "delivery"), CASES)
def test_final_weights_equal_the_pair_sum_in_both_conventions(tmp_path, delay, integration,
                                                              delivery):
    pre, drive = spike_trains(seed=delay + 7)
    weights = {}
    for rule, same_step in (("stdp", True), ("stdp_nest", False)):
        out = run(tmp_path, rule, pre, drive, delay=delay, integration=integration,
                  delivery=delivery)
        post = out["post.s"][:, 0, :].astype(bool)
        # the post neurons fire exactly when driven (with next_step one step later)
        shift = 1 if delivery == "next_step" else 0
        assert np.array_equal(post[shift:], drive[:STEPS - shift]) and not post[:shift].any()
        w = out["pre_in->post.w"]
        expected = W0 + pair_sum(pre, post, delay, integration, same_step)
        np.testing.assert_allclose(w, expected, rtol=0, atol=1e-12)
        assert (w > 0).all() and np.abs(w - W0).max() > 1e-4  # no clipping, real learning
        weights[rule] = (w, post)
    # the conventions differ by exactly the same-step pairs: a_plus - a_minus each
    (w_both, post), (w_neither, _) = weights["stdp"], weights["stdp_nest"]
    pairs = same_step_pairs(pre, post, delay)
    assert (pairs > 0).mean() > 0.9  # nearly every synapse saw some
    np.testing.assert_allclose(w_both - w_neither, LR * (A_PLUS - A_MINUS) * pairs,
                               rtol=0, atol=1e-12)


def test_without_same_step_pairs_the_conventions_agree(tmp_path):
    """Pre and post spikes never in the same step: both rules give the same weights."""
    pre, drive = spike_trains(seed=3)
    pre[:, :] &= (np.arange(STEPS) % 2 == 0)[:, None]  # pre on even steps, post on odd ones
    drive[:, :] &= (np.arange(STEPS) % 2 == 1)[:, None]
    w = [run(tmp_path, rule, pre, drive)["pre_in->post.w"] for rule in ("stdp", "stdp_nest")]
    np.testing.assert_allclose(w[0], w[1], rtol=0, atol=1e-12)
    assert np.abs(w[0] - W0).max() > 1e-4


def test_stdp_nest_is_class_a_with_stdp_state(tmp_path):
    """The locality analysis sees the variant as synapse-local with the same O(N) state."""
    reports = {}
    for rule in ("stdp", "stdp_nest"):
        text = PROGRAM.format(integration="exact", n_pre=N_PRE, n_post=N_POST, w0=W0, delay=0,
                              rule=rule, lr=LR, a_plus=A_PLUS, a_minus=A_MINUS)
        diag = Diagnostics()
        net = snnc.compile_program(snnc.load_text(text, "t.snn", diag), diag)
        assert net is not None and not diag.has_errors
        (found,) = net.analyses["check-locality"]
        reports[rule] = (found.cls, found.to_json()["scaling"],
                         [(s.name, s.scope, s.count) for s in found.analysis.state])
    assert reports["stdp_nest"] == reports["stdp"]
    assert reports["stdp_nest"][:2] == ("a", "O(N)")
