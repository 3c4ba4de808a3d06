"""Can the target's learning engine hold a rule's constants? (The second half of check-target.)

A sum-of-products engine (Loihi, Loihi 2) computes a rule with constants ``m 2^e`` only
(:mod:`snnc.targets.rule_constants`). A per-synapse trace ``c = lowpass(E, tau_c)`` (the
eligibility of reward-modulated STDP) is the synapse's tag, whose update ``E - rate t`` needs
its decay per step, ``rate = 1 - decay(tau_c)``, as such a constant:

- E513 (error) when ``rate`` is below the smallest constant (``2^-7`` on Loihi): the program
  cannot be compiled for the chip; the hint lists the nearest time constants it expresses;
- W513 (warning) when ``rate`` lies between two constants: it is rounded.

The messages and hints are the Lava backend's (``snnc compile --emit lava``), which computes
them with the same arithmetic. Constants of ``dw`` itself are rounded by the backend's
translation only after it has distributed the rule's constants over the trace impulses and
the post neurons' input scale (a W513 of ``snnc compile --emit lava``); this check does not
repeat that translation.
"""

from __future__ import annotations

from snnc.diagnostics import Diagnostics
from snnc.ir import rules as ir
from snnc.ir.network import Network
from snnc.ir.values import Constant
from snnc.passes.check_locality import RuleReport
from snnc.targets import TargetProfile
from snnc.targets.rule_constants import RuleConstants, of_engine, tag_rate
from snnc.units import Quantity


def check_constants(net: Network, report: RuleReport, profile: TargetProfile,
                    diag: Diagnostics) -> None:
    """E513 / W513 for the tag of ``report``'s rule on a sum-of-products engine whose
    profile states its constants; nothing for other engines."""
    engine = profile.learning
    constants = of_engine(engine) if engine.engine == "sum_of_products" else None
    if constants is None:
        return
    a = report.analysis
    instance = a.rule
    for trace in instance.rule.traces:
        info = a.traces.get(trace.name)
        if info is None or not {"i", "j"} <= info.index or not is_filter(trace.value):
            continue
        tau = constant_value(net, report, trace.value.args[1])
        if tau is None or not tau > 0:
            continue
        rate = tag_rate(net.settings, tau)
        if not 0.0 < rate < 1.0:
            continue
        check_tag(net, report, constants, trace, tau, rate, diag)


def check_tag(net: Network, report: RuleReport, constants: RuleConstants, trace: ir.Trace,
              tau: float, rate: float, diag: Diagnostics) -> None:
    """The tag's decay ``rate``: below the smallest constant (E513) or rounded (W513)."""
    what = f"rule '{report.rule}' on '{report.projection}'"
    problem = constants.tag_problem(net.settings, trace.name, tau, rate)
    if problem is not None:
        message, hint = problem
        diag.error("E513", trace.span, f"{what} cannot run on {constants.chip}'s learning "
                   f"engine: {message}", hint=hint)
        return
    _, rendered = constants.render(rate)
    if constants.is_rounded(rate, rendered):
        error = abs(rendered - rate) / rate
        diag.warning("W513", report.analysis.rule.span, f"{what}: the decay of the tag "
                     f"'{trace.name}' per step is rounded from {rate:.6g} to {rendered:.6g} "
                     f"({100 * error:.2g} %)", hint=constants.rounding_hint(
                         constants.expressible_taus(net.settings, rate)))


def is_filter(value: ir.Expr) -> bool:
    """Whether ``value`` is ``lowpass(E, tau[, scale])``."""
    return isinstance(value, ir.Call) and value.name == "lowpass" and len(value.args) > 1


def constant_value(net: Network, report: RuleReport, expr: ir.Expr) -> float | None:
    """The value of a constant expression of the rule on its projection (numbers, the rule's
    parameters, uniform neuron parameters, lets of those, arithmetic), else None."""
    instance = report.analysis.rule
    if isinstance(expr, ir.Const):
        return float(expr.value)
    if isinstance(expr, ir.Param):
        value = instance.args.get(expr.name)
        return float(value.value) if isinstance(value, Quantity) else None
    if isinstance(expr, ir.LetRef):
        let = next((x for x in instance.rule.lets if x.name == expr.name), None)
        return None if let is None else constant_value(net, report, let.value)
    if isinstance(expr, (ir.NeuronVar, ir.PopulationVar)):
        return neuron_parameter(net, report, expr)
    if isinstance(expr, ir.Unary):
        inner = constant_value(net, report, expr.operand)
        return None if inner is None else (-inner if expr.op == "-" else inner)
    if isinstance(expr, ir.Binary):
        return arithmetic(expr.op, constant_value(net, report, expr.left),
                          constant_value(net, report, expr.right))
    return None


def neuron_parameter(net: Network, report: RuleReport, expr) -> float | None:
    """A uniform parameter of the pre/post population (``post.tau_mem``) or another one."""
    projection, instance = report.analysis.projection, report.analysis.rule
    if isinstance(expr, ir.NeuronVar):
        name = projection.pre if expr.side == "pre" else projection.post
    else:
        name = ir.population_of(expr.population, instance.args)
    value = getattr(net.node(name), "params", {}).get(expr.attribute)
    return float(value.value) if isinstance(value, Constant) else None


def arithmetic(op: str, left: float | None, right: float | None) -> float | None:
    if left is None or right is None:
        return None
    try:
        return {"+": lambda: left + right, "-": lambda: left - right,
                "*": lambda: left * right, "/": lambda: left / right,
                "^": lambda: float(left ** right)}[op]()
    except (ZeroDivisionError, OverflowError, TypeError, KeyError):
        return None
