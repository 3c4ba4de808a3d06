"""Third factors and the synapse's tag on Loihi's learning engine (class-b rules).

A rule with a ``signal`` (a third factor) runs as Lava's ``Loihi3FLearningRule``: the post
traces ``y1``, ``y2``, ``y3`` are the post neuron's, sent with its spikes. The program's post
neuron (``ThirdFactorLIF<k>`` in ``models.py``) computes the rule's post trace as ``y1``
(``y1 <- d y1 + impulse s``, snnc's lowpass), forwards the third factor it receives on its
port ``a_third`` as ``y2`` and sends ``y3 = y3_factor y2``. The third factor ``reward`` comes
from a source process of the program that plays the data's reward, one value per step, times
the gain that carries the rule's constants, to every post neuron.

A trace that filters a product (``c = lowpass(a_plus x_pre post.s - a_minus y_post pre.s,
tau_c)``, the eligibility of reward-modulated STDP) is the synapse's tag ``t`` (``tag_1``):
``dt = E - rate u0 t`` with ``rate = 1 - decay(tau_c)``, so that ``t`` holds snnc's ``c``. The
engine evaluates ``dw`` with the tag of the previous step (Lava's appliers read the synaptic
variables before any of them is updated), while snnc's ``dw`` reads the new ``c = (1 - rate)
t + E``: the backend substitutes that expression. When every product with the tag has the third
factor (``dw = r c``), ``(1 - rate) t y2`` is read as ``t y3`` with ``y3_factor = 1 - rate``
(:func:`tag_through_y3`), so ``dw = y2 E + t y3`` is exactly snnc's update with the rule's own
constants (``1 - rate`` is no rule constant); otherwise the product is written twice, ``t`` and
``- rate t`` (:func:`split_tag`). ``rate`` must be a rule constant ``m 2^e``: one below
``2^-7`` is refused (E513) with the time constants that Loihi can express, one between two
constants is rounded (W513).

The learning signals from the readout's error (e-prop's ``random_feedback``, the readout's
``readout_error``) are computed by processes of the program too, with their own post neuron
(:mod:`snnc.backends.lava.feedback`); a rule with one of them does not come here.
"""

from __future__ import annotations

from dataclasses import dataclass

from snnc.ir import rules as ir
from snnc.ir.network import Network
from snnc.targets.rule_constants import LOIHI, tag_rate

#: the engine's slot of the third factor (the post neuron's second trace)
THIRD_SLOT = "y2"
#: with a third factor, the post traces the neuron computes for the rule
POST_SLOTS_3F = ("y1",)
#: the third factors the Lava program computes with processes of its own
GENERATORS = ("reward",)
# the rule constants (m 2^e, the smallest 2^-7) and the decay rates they hold are
# :mod:`snnc.targets.rule_constants`'s, shared with ``snnc check --target loihi2``


@dataclass
class Tag:
    """The synapse's tag ``t``: the trace ``name`` with decay ``1 - rate`` per step."""

    name: str
    tau: float  # seconds, as written
    rate: float  # 1 - decay(tau), exact
    rendered: float  # the rule constant used (m 2^e)
    value: ir.Expr  # the filtered expression E (times the lowpass's scale)


def third_factor_signals(rule: ir.RuleDef, error) -> list[ir.Signal]:
    """The rule's signals, each one the Lava program computes; ``error(message, span)`` is
    raised for the others."""
    if len(rule.signals) > 1:
        raise error(f"signal '{rule.signals[1].name}': the Lava backend delivers one third "
                    f"factor per rule ({THIRD_SLOT})", rule.signals[1].span)
    for signal in rule.signals:
        kind = signal.generator.kind
        if kind not in GENERATORS:
            raise error(f"signal '{signal.name}' = {kind}(...): the Lava program computes "
                        "reward (from the data), random_feedback and readout_error (from the "
                        f"readout's error) as third factors; {kind} is not yet computed by "
                        "processes of the program", signal.span,
                        hint="use reward, random_feedback or readout_error as the third factor "
                             "on Lava, or run the rule with snnc run / snnc train")
    return list(rule.signals)


def expressible_taus(net: Network, rate: float) -> str:
    """The time constants whose decay per step is a rule constant, the three nearest ``rate``
    first, as text (:meth:`snnc.targets.rule_constants.RuleConstants.expressible_taus`)."""
    return LOIHI.expressible_taus(net.settings, rate)


def find_tag(net: Network, trace: ir.Trace, constants: list[dict], error,
             render_constant) -> Tag:
    """The tag of ``trace = lowpass(E, tau[, scale])`` (``constants``: tau and scale expanded);
    raises ``error`` when its decay cannot be a rule constant."""
    if any(set(c) != {()} for c in constants):
        raise error(f"trace '{trace.name}' needs a constant time constant and scale",
                    trace.span)
    tau = constants[0][()]
    rate = tag_rate(net.settings, tau)
    if not 0.0 < rate < 1.0:
        raise error(f"trace '{trace.name}' has no exponential decay at this dt", trace.span)
    problem = LOIHI.tag_problem(net.settings, trace.name, tau, rate)
    if problem is not None:
        raise error(problem[0], trace.span, hint=problem[1])
    _, rendered = render_constant(rate)
    value = trace.value.args[0]
    if len(constants) > 1:
        scale = constants[1][()]
        value = ir.Binary("*", ir.Const(scale, repr(scale), trace.span), value, trace.span)
    return Tag(trace.name, tau, rate, rendered, value)


def tag_dt(expander, tag: Tag) -> dict[tuple[str, ...], float]:
    """The tag's update: its input E and the decay ``-rate u0 t``."""
    products = expander.expand(tag.value)
    if any("t" in key for key in products):
        raise expander.error(f"the input of '{tag.name}' reads the tag itself",
                             tag.value.span)
    products[("t",)] = products.get(("t",), 0.0) - tag.rendered
    return products


def new_tag(expander, tag: Tag) -> dict[tuple[str, ...], float]:
    """What snnc's ``c`` of this step is in the engine's terms, read by dw: ``t + E`` (the
    ``- rate t`` of the decay is added when dw is rendered: :func:`tag_through_y3` or
    :func:`split_tag`)."""
    products = expander.expand(tag.value)
    products[("t",)] = products.get(("t",), 0.0) + 1.0
    return products


def tag_through_y3(products: dict[tuple[str, ...], float]) -> dict[tuple[str, ...], float]:
    """dw's products with ``t y2`` read as ``t y3``: the post neuron sends ``y3 = (1 - rate)
    y2``, so ``t y3`` is snnc's ``(1 - rate) c r`` in one product (no constant ``1 - rate``,
    which is no rule constant)."""
    return {tuple(sorted("y3" if f == "y2" and "t" in key else f for f in key)): value
            for key, value in products.items()}


def split_tag(products: dict[tuple[str, ...], float],
              rate: float | None) -> list[tuple[tuple[str, ...], float]]:
    """dw's products as a list, a product with the tag ``t`` followed by the same product
    times ``-rate`` (snnc's new c is ``(1 - rate) t + E``; ``1 - rate`` is no rule constant)."""
    out = []
    for key, value in products.items():
        out.append((key, value))
        if rate is not None and "t" in key:
            out.append((key, -value * rate))
    return out
