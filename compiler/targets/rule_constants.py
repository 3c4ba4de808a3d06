"""The constants of a sum-of-products learning engine (Loihi): which numbers a rule can hold.

A constant of a Loihi learning rule is ``m 2^e`` with the mantissa ``m`` and the exponent
``e`` in the engine's ranges (Loihi and Loihi 2: m in [-8, 7], e in [-7, 8]; a target profile
states them as ``constant_mantissa`` and ``constant_exponent``). A decay per step of a
per-synapse trace (the synapse's tag) is such a constant too: ``dt = E - rate u0 t`` with
``rate = 1 - decay(tau)``. A rate below the smallest positive constant cannot be written at all
(E513, with the time constants the engine expresses nearest to the one asked for); one between
two constants is rounded (W513).

This arithmetic is shared by the target check (``snnc check --target loihi2``,
:mod:`snnc.passes.check_target`) and the Lava backend's rule translation
(:mod:`snnc.backends.lava.learning`, :mod:`snnc.backends.lava.three_factor`), so that both
say the same.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from snnc.ir.discrete import decay

#: a decay rate this close (relative) to a rule constant is that constant (a time constant
#: written with ten digits, as the E513/W513 hints give it, cannot be closer in exact
#: integration; the difference stays far below the acceptance's 1e-9 over 1000 steps)
EXACT = 1e-9
#: ranges a profile may state that are still checked (wider ones: as good as unlimited)
LARGEST_EXPONENT, LARGEST_MANTISSA = 512, 1 << 12


@dataclass(frozen=True)
class RuleConstants:
    """The constants ``m 2^e`` of one learning engine (``chip`` names it in messages)."""

    mantissa: tuple[int, int] = (-8, 7)
    exponent: tuple[int, int] = (-7, 8)
    chip: str = "Loihi"

    @property
    def smallest(self) -> float:
        """The smallest positive constant, ``2^e_min``."""
        return 2.0 ** self.exponent[0]

    @property
    def ranges(self) -> str:
        """The ranges as text: ``m * 2^e with m in [-8, 7] and e in [-7, 8]``."""
        (m0, m1), (e0, e1) = self.mantissa, self.exponent
        return f"m * 2^e with m in [{m0}, {m1}] and e in [{e0}, {e1}]"

    def nearest(self, value: float) -> tuple[int, int, float]:
        """The constant nearest ``value`` as (m, e, m 2^e), the mantissa made shortest (odd);
        ties go to the smaller |m|, then the smaller e."""
        best = min(((m * 2.0 ** e, m, e) for m in range(self.mantissa[0], self.mantissa[1] + 1)
                    for e in range(self.exponent[0], self.exponent[1] + 1) if m),
                   key=lambda t: (abs(t[0] - value), abs(t[1]), t[2]))
        rendered, m, e = best
        while m % 2 == 0:  # the shortest mantissa
            m, e = m // 2, e + 1
        return m, e, rendered

    def render(self, value: float) -> tuple[str, float]:
        """The constant nearest ``value`` in Lava's rule syntax (``"3 * 2^-5"``; ``"1"``
        without an exponent), and its value."""
        m, e, rendered = self.nearest(value)
        return (f"{m} * 2^{e}" if e else f"{m}"), rendered

    def is_rounded(self, rate: float, rendered: float) -> bool:
        """Whether ``rendered`` differs from the decay rate ``rate`` by more than :data:`EXACT`."""
        return abs(rendered - rate) > EXACT * rate

    def rates(self) -> list[float]:
        """Every constant that can be a decay rate per step: the values ``m 2^e`` in (0, 1)."""
        (_, m1), (e0, e1) = self.mantissa, self.exponent
        return sorted({m * 2.0 ** e for m in range(1, m1 + 1) for e in range(e0, e1 + 1)
                       if m * 2.0 ** e < 1.0})

    def expressible_taus(self, settings, rate: float) -> str:
        """The time constants whose decay per step is a rule constant, the three nearest
        ``rate`` first, as text (below 2^-7 on Loihi: 2^-7, 2^-6 and 3 2^-7, the smallest)."""
        dt = settings.dt
        exact = settings.integration == "exact"
        rates = sorted(self.rates(), key=lambda r: (abs(r - rate), r))[:3]

        def tau(value: float) -> float:
            return -dt / math.log(1.0 - value) if exact else dt / value

        how = ("exact integration: tau = -dt / ln(1 - rate)" if exact else
               "Euler integration: tau = dt / rate")
        others = ", ".join(f"{tau(r) * 1e3:.10g} ms (rate {r:g})" for r in rates[1:])
        return (f"the nearest time constant {self.chip} expresses is {tau(rates[0]) * 1e3:.10g} "
                f"ms (rate {rates[0]:g} = {self.multiple(rates[0])}); others: {others} ({how})")

    def multiple(self, rate: float) -> str:
        """A rate as text: ``k * 2^e_min`` for the smallest ones (k up to the largest
        mantissa: the rates below the others), else ``m * 2^e``."""
        k = rate / self.smallest
        if k == int(k) and k <= self.mantissa[1]:
            return f"{int(k)} * 2^{self.exponent[0]}"
        m, e, _ = self.nearest(rate)
        return f"{m} * 2^{e}"

    def tag_problem(self, settings, name: str, tau: float,
                    rate: float) -> tuple[str, str] | None:
        """(message, hint) when the decay ``rate`` of the tag ``name`` (time constant ``tau``
        seconds) is below the smallest rule constant, else None."""
        if rate >= self.smallest:
            return None
        return (f"trace '{name}' is the synapse's tag; its decay per step, {rate:.3g} (tau = "
                f"{tau * 1e3:.6g} ms), is below {self.chip}'s smallest rule constant "
                f"2^{self.exponent[0]} = {self.smallest:.3g}",
                f"choose the time constant of '{name}' so that its decay is a rule constant: "
                f"{self.expressible_taus(settings, rate)}")

    def rounding_hint(self, hint: str) -> str:
        """The hint of a W513 rounding: the ranges, then how to avoid it."""
        return f"{self.chip}'s rule constants are {self.ranges}; {hint}"


#: Loihi's and Loihi 2's rule constants (the Lava backend's learning engine)
LOIHI = RuleConstants()


def tag_rate(settings, tau: float) -> float:
    """The decay rate per step of a trace with time constant ``tau``: ``1 - decay(tau)``."""
    return 1.0 - decay(settings, tau)


def of_engine(engine) -> RuleConstants | None:
    """The rule constants of a target's learning engine (a ``LearningEngine``), None when the
    profile states no ranges (no limit is known) or ranges without a positive constant."""
    if engine.constant_mantissa is None or engine.constant_exponent is None:
        return None
    mantissa = tuple(int(v) for v in engine.constant_mantissa)
    exponent = tuple(int(v) for v in engine.constant_exponent)
    if mantissa[1] < 1 or mantissa[0] > mantissa[1] or exponent[0] > exponent[1]:
        return None  # no positive constant: no decay rate to compare with
    if max(map(abs, exponent)) > LARGEST_EXPONENT or max(map(abs, mantissa)) > LARGEST_MANTISSA:
        return None  # beyond a float's range: no limit that matters
    if (mantissa, exponent) == (LOIHI.mantissa, LOIHI.exponent):
        return LOIHI
    return RuleConstants(mantissa, exponent, "the target")
