"""How a network learns, read from its rules: online in the simulation, or by an exact oracle.

- Online: every learning rule is one the generated simulation runs (e-prop, SuperSpike,
  DECOLLE, delta, STDP ...). Weights change at every step as the simulation runs.
- Oracle: every learning projection uses ``bptt`` (backpropagation through time) or every one
  uses ``rtrl`` (real-time recurrent learning); the gradient of the network's loss over a
  mini-batch, averaged over its samples, drives Adam with each rule's ``lr``. The oracle
  rules read a surrogate derivative, so a readout's own weights carry the ``delta`` rule
  (signal ``readout_error``, the last step of every supervised rule); beside an oracle, the
  oracle's exact gradient trains them too.

Both need one ``loss cross_entropy(...)`` on a readout: training is classification.
"""

from __future__ import annotations

from dataclasses import dataclass

from snnc.backends.reference.rules import ONLINE_GENERATORS
from snnc.diagnostics import Diagnostics
from snnc.ir import rules as ir
from snnc.ir.network import Network
from snnc.ir.nodes import Loss

ORACLES = {"backprop_through_time": "bptt", "exact_feedback": "rtrl"}


@dataclass(frozen=True)
class Method:
    mode: str  # online, bptt or rtrl
    rates: dict[str, float]  # learning projection -> its rule's lr
    loss: Loss


def generator_kinds(rule: ir.RuleDef) -> list[str]:
    """The generator of each of the rule's signals, in order (``random_feedback``, ...)."""
    return [signal.generator.kind for signal in rule.signals]


def method(net: Network, diag: Diagnostics) -> Method | None:
    """The training method of ``net`` (E622 when it cannot be trained by classification)."""
    if len(net.losses) != 1 or net.losses[0].kind != "cross_entropy":
        span = net.losses[1].span if len(net.losses) > 1 else \
            (net.losses[0].span if net.losses else None)
        diag.error("E622", span, f"snnc train needs exactly one 'loss cross_entropy(...)' on a "
                   f"readout; '{net.settings.name}' has "
                   + (", ".join(f"{loss.kind}" for loss in net.losses) or "none"),
                   hint="add e.g. 'loss cross_entropy(sum_over_time(out.v))'")
        return None
    modes: dict[str, str] = {}  # projection -> bptt, rtrl, online, or readout (delta)
    rates: dict[str, float] = {}
    for projection in net.projections():
        for instance in projection.rules:
            kinds = generator_kinds(instance.rule)
            other = [k for k in kinds if k not in ORACLES and k not in ONLINE_GENERATORS]
            if other:
                diag.error("E622", instance.span, f"rule '{instance.name}' uses the signal "
                           f"generator '{other[0]}', which snnc train cannot run")
                continue
            oracle = sorted({ORACLES[k] for k in kinds if k in ORACLES})
            mode = oracle[0] if oracle else ("readout" if kinds == ["readout_error"]
                                             else "online")
            if projection.name in modes:
                if {mode, modes[projection.name]} & {"bptt", "rtrl"}:
                    diag.error("E622", instance.span, f"'{projection.name}' has an exact oracle "
                               "and another rule", hint="an oracle computes the whole "
                               "gradient: give it alone")
                    continue
                mode = "online"
            modes[projection.name] = mode
            rates[projection.name] = instance.lr if instance.lr is not None else 1e-3
    if diag.has_errors:
        return None
    if not modes:
        diag.error("E622", None, f"'{net.settings.name}' has no learning rules: nothing to train",
                   hint="add 'learn bptt(lr = 1e-3, readout = out)' or an online rule such as "
                        "eprop to the projections to train")
        return None
    used = set(modes.values())
    oracles = sorted(used & {"bptt", "rtrl"})
    if not oracles:
        return Method("online", rates, net.losses[0])
    if len(oracles) == 1 and "online" not in used:
        return Method(oracles[0], rates, net.losses[0])
    first = {mode: name for name, mode in reversed(list(modes.items()))}
    detail = ", ".join(f"'{first[m]}' learns {'by ' + m if m in oracles else 'online'}"
                       for m in sorted(used - {"readout"}))
    diag.error("E622", None, f"the projections of '{net.settings.name}' mix training methods: "
               f"{detail}", hint="train every projection with online rules, or every one with "
                                 "the same oracle (bptt or rtrl; readouts may keep 'delta')")
    return None
