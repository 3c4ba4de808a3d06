"""Range checks of values: positive time constants, dt small against every time constant,
Poisson probabilities per step, thresholds above reset potentials, and weights far above the
post population's threshold (W206)."""

from __future__ import annotations

import math
from dataclasses import dataclass

from snnc.diagnostics import Diagnostics, Span
from snnc.ir.discrete import decay, r_dt_over_tau, spike_probability
from snnc.ir.network import Network
from snnc.ir.nodes import Input, Population
from snnc.ir.values import Constant, FromFile, Normal, ParamValue, Uniform
from snnc.units import FREQUENCY, TIME, Quantity

TIME_CONSTANTS = ("tau_mem", "tau_syn", "tau_adapt")

#: W206: a single spike moves the post potential by more than this many times the distance
#: from reset to threshold
FAR_ABOVE_THRESHOLD = 100.0


def format_ratio(ratio: float) -> str:
    """A large ratio for a message: grouped digits up to a billion, else scientific."""
    return f"{ratio:,.0f}" if ratio < 1e9 else f"{ratio:.3g}"


class OncePerPlace:
    """Forwards diagnostics, dropping repeats of the same code at the same place (a model
    variant's value is checked once for every population that uses it)."""

    def __init__(self, diag: Diagnostics):
        self.diag = diag
        self.seen: set[tuple[str, Span]] = set()

    def error(self, code: str, span: Span, message: str, **kwargs) -> None:
        if (code, span) not in self.seen:
            self.seen.add((code, span))
            self.diag.error(code, span, message, **kwargs)

    def warning(self, code: str, span: Span, message: str, **kwargs) -> None:
        if (code, span) not in self.seen:
            self.seen.add((code, span))
            self.diag.warning(code, span, message, **kwargs)


def largest_magnitude(value: ParamValue) -> float | None:
    """The largest |value| a weight typically takes (normal: |mean| + 3 std); None for files."""
    if isinstance(value, Constant):
        return abs(value.value)
    if isinstance(value, Uniform):
        return max(abs(value.low), abs(value.high))
    if isinstance(value, Normal):
        return abs(value.mean) + 3 * abs(value.std)
    return None


def typical(value: ParamValue | None) -> float | None:
    """A parameter's typical value (the mean of a distribution); None for files."""
    if isinstance(value, Constant):
        return value.value
    if isinstance(value, Uniform):
        return (value.low + value.high) / 2
    if isinstance(value, Normal):
        return value.mean
    return None


def input_scale(net: Network, population: Population) -> float | None:
    """The population's input scaling c_in at its typical time constant (None when unknown)."""
    option = population.options.get("input_scale", "one")
    if isinstance(option, float):
        return option
    if option == "one":
        return 1.0
    tau = typical(population.params.get("tau_mem"))
    if tau is None or tau <= 0:
        return None
    if option == "one_minus_decay":
        return 1.0 - decay(net.settings, tau)
    r = typical(population.params.get("r", Constant(1.0)))
    return None if r is None else r_dt_over_tau(net.settings, r, tau)


def value_range(value: ParamValue) -> tuple[float, float] | None:
    """(smallest, largest) value the parameter can take; None when unbounded or unknown."""
    if isinstance(value, Constant):
        return value.value, value.value
    if isinstance(value, Uniform):
        return min(value.low, value.high), max(value.low, value.high)
    return None


@dataclass
class CheckRanges:
    name: str = "check-ranges"
    description: str = "value ranges: tau > 0, dt against time constants, rates, thresholds"
    requires = ()

    def run(self, net: Network, diag: Diagnostics) -> Network:
        diag = OncePerPlace(diag)
        dt = net.settings.dt
        for node in net.nodes():
            if isinstance(node, Input):
                if node.poisson_rate is not None and \
                        spike_probability(net.settings, node.poisson_rate) > 1 + 1e-9:
                    diag.error("E209", node.spans.get("rate", node.span), f"Poisson rate {Quantity(node.poisson_rate, FREQUENCY)} gives more than one spike per step of "
                               f"{Quantity(dt, TIME)}", hint="lower the rate or dt")
                continue
            for name in TIME_CONSTANTS:
                if name in node.params:
                    self.check_tau(net, diag, node.params[name], f"{name} of '{node.name}'",
                                   node.spans.get(name, node.span))
            self.check_reset(node, diag)
        for projection in net.projections():
            if projection.receptor is not None:
                self.check_tau(net, diag, Constant(projection.receptor.tau),
                               f"tau of receptor '{projection.receptor.name}'",
                               projection.spans.get("receptor", projection.span))
            if isinstance(projection.weight, Normal) and projection.weight.std < 0:
                diag.error("E209", projection.spans.get("weight", projection.span),
                           "a standard deviation cannot be negative")
            self.check_weight_scale(net, diag, projection)
        return net

    @staticmethod
    def check_weight_scale(net: Network, diag, projection) -> None:
        """W206: one spike moves the post potential by more than FAR_ABOVE_THRESHOLD times the
        distance from its reset (or rest) potential to its threshold."""
        post = net.node(projection.post)
        if not isinstance(post, Population) or not post.model.spiking:
            return
        if projection.connectivity.kind == "file" and projection.weight == Constant(1.0):
            return  # the weights are the file's
        weight = largest_magnitude(projection.weight)
        c_in = input_scale(net, post)
        threshold = typical(post.params.get("threshold"))
        base_name = "v_reset" if post.options.get("reset") == "zero" else "v_leak"
        base = typical(post.params.get(base_name, Constant(0.0)))
        if None in (weight, c_in, threshold, base):
            return
        gap = threshold - base if threshold > base else abs(threshold)
        jump = weight * abs(c_in)
        if gap <= 0 or not math.isfinite(jump) or jump <= FAR_ABOVE_THRESHOLD * gap:
            return
        scale = "" if c_in == 1 else f" x input scale {c_in:.3g}"
        if "weight" not in projection.spans:
            scale += ", the default weight"
        diag.warning("W206", projection.spans.get("weight", projection.span),
                     f"one spike through '{projection.name}' moves the potential of "
                     f"'{post.name}' by up to {jump:.3g} (weight {weight:.3g}{scale}), "
                     f"{format_ratio(jump / gap)} times the distance from {base_name} to threshold "
                     f"({gap:.3g})",
                     hint="values are in SI: a plain weight of 0.5 is 0.5 V against a threshold "
                          "in mV; write the weight with its unit (e.g. '0.5 mV') or lower it")

    @staticmethod
    def check_tau(net: Network, diag: Diagnostics, value: ParamValue, what: str,
                  span: Span) -> None:
        if isinstance(value, Normal):
            diag.warning("W202", span, f"{what} is drawn from a normal distribution, which can "
                         "give non-positive time constants", hint="use uniform(low, high) with "
                         "low > 0")
            return
        if isinstance(value, FromFile):
            return
        low, high = value_range(value)
        dt = net.settings.dt
        if low <= 0:
            diag.error("E209", span, f"{what} must be positive, not {Quantity(low, TIME)}")
        elif net.settings.integration == "euler" and low <= dt:
            diag.error("E209", span, f"{what} = {Quantity(low, TIME)} is not larger than dt = "
                       f"{Quantity(dt, TIME)}: forward Euler would not decay (1 - dt/tau <= 0)",
                       hint="reduce dt or use 'integration = exact'")
        elif dt > low / 5:
            diag.warning("W203", span, f"dt = {Quantity(dt, TIME)} is more than a fifth of "
                         f"{what} = {Quantity(low, TIME)}: the dynamics are coarsely resolved",
                         hint=f"use dt <= {Quantity(low / 5, TIME)}")

    @staticmethod
    def check_reset(node: Population, diag: Diagnostics) -> None:
        if not node.model.spiking or node.options.get("reset") != "zero":
            return
        threshold = value_range(node.params["threshold"])
        v_reset = value_range(node.params["v_reset"])
        if threshold and v_reset and v_reset[1] >= threshold[0]:
            where = node.spans.get("v_reset", node.spans.get("threshold", node.span))
            diag.warning("W204", where, f"'{node.name}' resets to {v_reset[1]:g}, not below "
                         f"its threshold {threshold[0]:g}: it fires every step once it crosses",
                         hint="set v_reset below threshold")
