"""``snnc check --target loihi2`` (and loihi) checks a rule's constants as the Lava backend does:
a tag whose decay per step is below Loihi's smallest rule constant 2^-7 is E513, one that is
rounded W513, with the emitter's message, hint and place (issue 17). The arithmetic is one
module (snnc.targets.rule_constants) that both use."""

from __future__ import annotations

import math
import pathlib

import pytest
from simulate import compile_text

import snnc
from snnc.backends.lava import LavaBackend
from snnc.cli import main
from snnc.diagnostics import Diagnostics
from snnc.ir.nodes import Settings
from snnc.targets import load_builtin
from snnc.targets.rule_constants import LOIHI, RuleConstants, of_engine, tag_rate

ROOT = pathlib.Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"
CODES = ("E513", "W513")
RSTDP = (EXAMPLES / "rstdp.snn").read_text()


def findings(diag: Diagnostics) -> list[tuple]:
    return [(d.code, d.message, d.hint, str(d.span)) for d in diag.items if d.code in CODES]


def checked(text: str, target: str) -> list[tuple]:
    """E513/W513 of ``snnc check --target target``."""
    diag = Diagnostics()
    snnc.check_text(text, diag, "t.snn", options={"check-target": {"target": target}})
    return findings(diag)


def emitted(text: str) -> list[tuple]:
    """E513/W513 of the Lava backend (``snnc compile --emit lava``)."""
    diag = Diagnostics()
    LavaBackend().check(compile_text(text), diag)
    return findings(diag)


def with_tau_c(tau: str, integration: str = "exact") -> str:
    text = RSTDP.replace("tau_c = 500 ms", f"tau_c = {tau}")
    return text.replace("  seed = 7\n", f"  seed = 7\n  integration = {integration}\n")


@pytest.mark.parametrize("target", ["loihi2", "loihi"])
def test_rstdp_is_refused_by_check_as_by_the_emitter(target):
    found = checked(RSTDP, target)
    assert found == emitted(RSTDP)
    ((code, message, hint, _),) = found
    assert code == "E513" and "its decay per step, 0.002 (tau = 500 ms), is below Loihi's " \
                               "smallest rule constant 2^-7" in message
    assert "127.4993464 ms (rate 0.0078125 = 1 * 2^-7)" in hint
    assert "63.49868764 ms (rate 0.015625)" in hint


@pytest.mark.parametrize("example", ["rstdp_loihi", "stdp"])
def test_expressible_examples_pass_check_and_emit_alike(example):
    text = (EXAMPLES / f"{example}.snn").read_text()
    assert checked(text, "loihi2") == emitted(text) == []


@pytest.mark.parametrize("tau, integration, code, rendered", [
    ("128 ms", "exact", "E513", None),          # rate 0.00778: just below 2^-7
    ("127 ms", "exact", "W513", 2.0 ** -7),     # rate 0.00784: just above, rounded to 2^-7
    ("127.4993464 ms", "exact", None, None),    # the hint's time constant: exactly 2^-7
    ("50 ms", "exact", "W513", 3 * 2.0 ** -7),  # rate 0.0198: rounded by 18 %
    ("10 ms", "exact", "W513", 3 * 2.0 ** -5),  # rate 0.0952: above the 2^-7 multiples
    ("128 ms", "euler", None, None),            # Euler: rate dt / tau = 2^-7 exactly
    ("129 ms", "euler", "E513", None),          # Euler: just below
])
def test_constructed_tag_decays_agree(tau, integration, code, rendered):
    text = with_tau_c(tau, integration)
    found = checked(text, "loihi2")
    assert found == emitted(text)
    assert [f[0] for f in found] == ([code] if code else [])
    if code == "W513":
        assert f"to {rendered:.6g}" in found[0][1] and found[0][2].startswith(
            "Loihi's rule constants are m * 2^e with m in [-8, 7] and e in [-7, 8]; ")
        assert "the nearest time constant Loihi expresses is " in found[0][2] and \
            f"(rate {rendered:g} = {LOIHI.multiple(rendered)});" in found[0][2]  # rounded to
    if code == "E513" and integration == "euler":
        assert "(Euler integration: tau = dt / rate)" in found[0][2]


def test_other_targets_do_not_check_loihi_constants():
    assert checked(RSTDP, "spinnaker2") == []
    assert checked(RSTDP, "reference") == []


def test_cli_check_fails_with_the_hint(capsys):
    status = main(["check", str(EXAMPLES / "rstdp.snn"), "--target", "loihi2", "-q"])
    text = capsys.readouterr()
    assert status != 0
    assert "error[E513]" in text.err + text.out
    assert "the nearest time constant Loihi expresses is 127.4993464 ms" in text.err + text.out


def test_the_shared_arithmetic():
    assert LOIHI.smallest == 2.0 ** -7
    assert LOIHI.render(0.3) == ("5 * 2^-4", 0.3125)
    assert LOIHI.nearest(2.0 ** -7) == (1, -7, 2.0 ** -7)
    settings = Settings(dt=1e-3, integration="exact")
    tau = -1e-3 / math.log(1 - 2.0 ** -7)
    assert tag_rate(settings, tau) == pytest.approx(2.0 ** -7, rel=1e-12)
    assert LOIHI.tag_problem(settings, "c", tau * 1.0001, tag_rate(settings, tau * 1.0001))
    assert LOIHI.tag_problem(settings, "c", tau, 2.0 ** -7) is None
    assert of_engine(load_builtin("loihi2").learning) is LOIHI
    assert of_engine(load_builtin("spinnaker2").learning) is None
    rates = LOIHI.rates()
    assert rates[:3] == [2.0 ** -7, 2.0 ** -6, 3 * 2.0 ** -7] and max(rates) == 7 / 8
    assert all(LOIHI.render(r)[1] == r for r in rates)
    assert LOIHI.multiple(2.0 ** -6) == "2 * 2^-7" and LOIHI.multiple(0.09375) == "3 * 2^-5"
    narrow = RuleConstants((-4, 3), (-5, 2), "the target")
    assert narrow.smallest == 2.0 ** -5 and narrow.render(0.1) == ("3 * 2^-5", 3 / 32)


def test_a_custom_target_states_its_own_constants():
    custom = "target mychip {\n  base = loihi2\n  learning {\n    constant_exponent = [-5, 8]\n" \
             "  }\n}\n"
    text = with_tau_c("40 ms").replace("input pattern[50]", custom + "\ninput pattern[50]")
    ((code, message, hint, _),) = checked(text, "mychip")
    assert code == "E513" and "below the target's smallest rule constant 2^-5" in message
    assert "31.49735432 ms (rate 0.03125 = 1 * 2^-5)" in hint
    assert checked(text, "loihi2")[0][0] == "W513"  # 0.0247 is rounded on Loihi 2
    assert checked(text.replace("[-5, 8]", "[-7, 5000]"), "mychip") == []  # as unlimited
