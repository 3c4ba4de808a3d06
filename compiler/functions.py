"""The functions of the rule language: one table every stage reads (docs/learning.md).

Each :class:`RuleFunction` states everything a stage needs to know about one function:

- ``min_args`` / ``max_args`` and ``usage``: what the checker accepts and shows in hints;
- ``nonlinear``: the function is not a sum of products of its arguments. A learning engine that
  computes only sums of products (Loihi's) cannot apply it to a variable: the locality report
  lists it and ``check-target`` refuses the rule with E307;
- ``engines``: the learning engines (``snnc.targets.ENGINES``) that can evaluate the function
  on variables, not only on constants;
- ``numpy``: the elementwise numpy form, a format string over the printed arguments
  (``"np.exp({0})"``); ``None`` for the functions a backend emits itself because they keep
  state or depend on the model (``lowpass``, ``surrogate``, ``decay``);
- ``fold``: the value on constant arguments (floats, SI units), used by constant folding; a
  ``ValueError`` means undefined there (E209), an ``OverflowError`` a non-finite result (E615).

Adding a function is one entry here: the checker, the locality analysis, the target check and
the reference simulator read it; a backend that cannot emit it refuses it with a diagnostic.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

#: every learning engine that can apply arbitrary elementwise functions to variables
PROGRAMMABLE = frozenset({"software", "reference"})
#: every learning engine with on-chip learning (sum-of-products engines included)
ALL_ENGINES = frozenset({"sum_of_products", "software", "reference"})


@dataclass(frozen=True)
class RuleFunction:
    """One function of the rule language (see the module docstring for each field)."""

    name: str
    min_args: int
    max_args: int
    usage: str
    nonlinear: bool
    engines: frozenset[str]
    numpy: str | None = None
    fold: Callable[..., float] | None = None

    def runs_on(self, engine: str) -> bool:
        """True when ``engine`` can evaluate this function on variables."""
        return engine in self.engines

    def arity(self) -> str:
        """The accepted argument count as text: ``"1"`` or ``"2 to 3"``."""
        if self.min_args == self.max_args:
            return str(self.min_args)
        return f"{self.min_args} to {self.max_args}"


def _sign(x: float) -> float:
    return float((x > 0) - (x < 0))


def _sigmoid(x: float) -> float:
    """1 / (1 + exp(-x)), evaluated so that it neither overflows nor cancels."""
    if x >= 0:
        return 1.0 / (1.0 + math.exp(-x))
    e = math.exp(x)
    return e / (1.0 + e)


def _elementwise(name: str, usage: str, numpy: str, fold: Callable[..., float],
                 args: int = 1) -> RuleFunction:
    return RuleFunction(name, args, args, usage, nonlinear=True, engines=PROGRAMMABLE,
                        numpy=numpy, fold=fold)


RULE_FUNCTIONS: dict[str, RuleFunction] = {f.name: f for f in (
    RuleFunction("lowpass", 2, 3, "lowpass(x, tau[, scale]): y <- exp(-dt/tau) y + scale x",
                 nonlinear=False, engines=ALL_ENGINES),
    RuleFunction("surrogate", 1, 1,
                 "surrogate(post.v): the post model's surrogate derivative at v - threshold",
                 nonlinear=False, engines=ALL_ENGINES),
    RuleFunction("decay", 1, 1,
                 "decay(tau): the per-step decay factor of tau (exp(-dt/tau), or 1 - dt/tau)",
                 nonlinear=False, engines=ALL_ENGINES),
    _elementwise("exp", "exponential", "np.exp({0})", math.exp),
    _elementwise("log", "natural logarithm", "np.log({0})", math.log),
    _elementwise("abs", "absolute value", "np.abs({0})", abs),
    _elementwise("sign", "sign", "np.sign({0})", _sign),
    _elementwise("sqrt", "square root", "np.sqrt({0})", math.sqrt),
    _elementwise("tanh", "hyperbolic tangent", "np.tanh({0})", math.tanh),
    _elementwise("sigmoid", "logistic function 1 / (1 + exp(-x))",
                 "np.exp(-np.logaddexp(0.0, -{0}))", _sigmoid),
    _elementwise("heaviside", "1 where x > 0, else 0", "({0} > 0)", lambda x: float(x > 0)),
    _elementwise("min", "smaller of two values", "np.minimum({0}, {1})", min, args=2),
    _elementwise("max", "larger of two values", "np.maximum({0}, {1})", max, args=2),
    _elementwise("clip", "clip(x, low, high)", "np.clip({0}, {1}, {2})",
                 lambda x, low, high: min(max(x, low), high), args=3),
)}
