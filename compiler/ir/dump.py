"""A stable text form of the IR, for goldens and ``snnc check --dump-ir-after=PASS``.

Everything is printed in declaration order with fixed formatting (9 significant digits), so
the same program always dumps to the same text.
"""

from __future__ import annotations

from snnc.frontend.values import Symbol
from snnc.ir.network import Network
from snnc.ir.nodes import Input
from snnc.units import Quantity


def fmt(value: float) -> str:
    return f"{value:.9g}"


def shape(dims) -> str:
    return "[" + ", ".join(map(str, dims)) + "]"


def option(value) -> str:
    if isinstance(value, tuple):
        name, params = value
        return f"{name}(" + ", ".join(f"{k} = {fmt(v)}" for k, v in sorted(params.items())) + ")"
    return fmt(value) if isinstance(value, float) else str(value)


def argument(value) -> str:
    if isinstance(value, Quantity):
        return fmt(value.value)
    if isinstance(value, Symbol):
        return value.name
    return str(value)


def dump(net: Network) -> str:
    s = net.settings
    lines = [f"network {s.name}: dt = {fmt(s.dt)} s, seed = {s.seed}, integration = "
             f"{s.integration}, duration = {fmt(s.duration) + ' s' if s.duration else 'none'}, "
             f"target = {net.target}"]
    for node in net.nodes():
        if isinstance(node, Input):
            rate = f", rate = {fmt(node.rate)} Hz" if node.rate is not None else ""
            source = node.source
            if node.poisson_rate is not None:
                source += f"(rate = {fmt(node.poisson_rate)} Hz)"
            elif node.file is not None:
                source += f" {node.file.describe()}"
            lines.append(f"input {node.name}{shape(node.shape)}: {source}{rate}")
            continue
        rate = f", rate = {fmt(node.rate)} Hz" if node.rate is not None else ""
        lines.append(f"{node.kind} {node.name}{shape(node.shape)}: {node.model.name}"
                     f"{' (' + node.model_name + ')' if node.model_name != node.model.name else ''}"
                     f"{rate}")
        for name, value in node.params.items():
            lines.append(f"  {name} = {value.describe()}")
        for name, value in sorted(node.options.items()):
            lines.append(f"  {name} = {option(value)}")
    for p in net.projections():
        lines.append(f"projection {p.name}: {p.pre} -> {p.post}, {p.connectivity.describe()}, "
                     f"{net.synapse_count(p)} synapses")
        lines.append(f"  weight = {p.weight.describe()}")
        lines.append(f"  delay = {p.delay_steps} steps")
        if p.receptor is not None:
            lines.append(f"  receptor {p.receptor.name}(tau = {fmt(p.receptor.tau)} s)")
        for rule in p.rules:
            args = ", ".join(f"{k} = {argument(v)}" for k, v in rule.args.items())
            lines.append(f"  learn {rule.name}({args})")
    for loss in net.losses:
        inner = f"{loss.population}.{loss.variable}"
        if loss.reduction:
            inner = f"{loss.reduction}({inner})"
        lines.append(f"loss {loss.kind}({inner})")
    for record in net.records:
        lines.append(f"record {record.owner}.{record.variable}")
    return "\n".join(lines) + "\n"
