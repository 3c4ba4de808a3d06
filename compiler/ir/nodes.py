"""Typed payloads of the IR graph: inputs and populations (nodes), projections (edges), and the
learning rules attached to projections.

Neuron dynamics (discrete time, step dt; see :mod:`snnc.models` for every model)::

    I[n+1] = a_syn I[n] + sum_j W_ij s_j[n - d_ij]          a_syn = exp(-dt/tau_syn)
    U[n+1] = a_mem (U[n] - v_leak) + v_leak + c_in (I[n+1] + bias) - reset
    s[n+1] = H(U[n+1] - threshold)

A projection with a receptor owns its current I (time constant ``receptor.tau``); without
one, its input joins the post model's own current (or, for LIF/IF/LI, enters directly).
A learning rule on a projection updates every synapse by ``w <- w + lr * dw`` (with the rule's
optimizer and bounds), where ``dw`` is the sum of the rule's updates at their triggers.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from snnc.diagnostics import Span
from snnc.frontend.values import Value
from snnc.ir.connectivity import Connectivity
from snnc.ir.values import Constant, ParamValue
from snnc.models import ModelSpec

if TYPE_CHECKING:  # the rule IR is imported by the code that reads rules, not by every network
    from snnc.ir.rules import RuleDef


@dataclass(frozen=True)
class Settings:
    """Network-wide settings, SI units."""

    name: str = "network"
    dt: float = 1e-3
    seed: int = 0
    integration: str = "exact"  # exact: a = exp(-dt/tau); euler: a = 1 - dt/tau (discrete.decay)
    duration: float | None = None


@dataclass(frozen=True)
class Input:
    """A spike source. ``source`` is ``data`` (spikes given at run time), ``poisson`` (rate in
    Hz, per channel) or ``file`` (an array [steps, *shape] of 0/1)."""

    name: str
    shape: tuple[int, ...]
    source: str
    rate: float | None
    poisson_rate: float | None
    file: ParamValue | None
    span: Span
    #: where the source's values are written ('rate' of a Poisson source)
    spans: dict[str, Span] = field(default_factory=dict, hash=False, compare=False)

    @property
    def size(self) -> int:
        return math.prod(self.shape)

    kind = "input"


@dataclass(frozen=True)
class Population:
    """Neurons of one model. ``params`` holds every parameter of the model (defaults filled in),
    as constants or per-neuron values; ``options`` the non-numeric ones (reset, surrogate,
    input_scale)."""

    name: str
    model: ModelSpec
    model_name: str  # the variant's name as written (e.g. FastLIF), or the built-in
    shape: tuple[int, ...]
    params: dict[str, ParamValue] = field(hash=False)
    options: dict[str, object] = field(hash=False)
    rate: float | None
    readout: bool
    span: Span
    #: where each explicitly set parameter's value is written (defaults have none)
    spans: dict[str, Span] = field(default_factory=dict, hash=False, compare=False)

    @property
    def size(self) -> int:
        return math.prod(self.shape)

    @property
    def kind(self) -> str:
        return "readout" if self.readout else "population"

    def param_is_uniform(self, name: str) -> bool:
        value = self.params.get(name)
        return value is None or isinstance(value, Constant)

    def __repr__(self) -> str:  # the parameters' arrays would make it kilobytes long
        return f"Population({self.name!r}, {self.model_name}, shape={list(self.shape)})"


@dataclass(frozen=True)
class Receptor:
    """A synaptic current of its own: I <- exp(-dt/tau) I + sum W s."""

    name: str
    tau: float


@dataclass(frozen=True)
class RuleInstance:
    """A rule attached to a projection, with every parameter bound (SI values or names):
    ``rule`` is the rule in the typed rule IR (:mod:`snnc.ir.rules`), shared by every instance;
    a :class:`~snnc.ir.rules.Param` of it has its value in ``args`` (a Quantity in SI, or a
    Symbol naming a population)."""

    rule: RuleDef
    args: dict[str, Value] = field(hash=False)
    span: Span

    @property
    def name(self) -> str:
        return self.rule.name

    @property
    def lr(self) -> float | None:
        from snnc.units import Quantity
        value = self.args.get("lr")
        return value.value if isinstance(value, Quantity) else None


@dataclass(frozen=True)
class Projection:
    """Synapses from ``pre`` to ``post`` (a graph edge keyed by ``name``)."""

    name: str
    pre: str
    post: str
    connectivity: Connectivity
    weight: ParamValue
    delay_steps: int
    receptor: Receptor | None
    rules: tuple[RuleInstance, ...]
    span: Span
    #: where 'weight', 'delay' and 'receptor' are written
    spans: dict[str, Span] = field(default_factory=dict, hash=False, compare=False)

    def __repr__(self) -> str:  # the weights and the rules' IR would make it kilobytes long
        return (f"Projection({self.name!r}, {self.connectivity.describe()}, "
                f"rules={[rule.name for rule in self.rules]})")


@dataclass(frozen=True)
class Loss:
    """``kind``(``reduction``(``population``.``variable``)); reduction may be None."""

    kind: str
    reduction: str | None
    population: str
    variable: str
    span: Span


@dataclass(frozen=True)
class Record:
    owner: str  # a population/input name or a projection name
    variable: str
    is_projection: bool
    span: Span
