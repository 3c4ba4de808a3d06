"""The built-in neuron models and their parameters (docs/models.md).

Discrete-time updates with step ``dt``; decays ``a = exp(-dt/tau)`` in ``exact`` integration
and ``a = 1 - dt/tau`` in ``euler``::

    CubaLIF  I[n+1] = a_syn I[n] + sum_j W_ij s_j[n]
             U[n+1] = a_mem (U[n] - v_leak) + v_leak + c_in (I[n+1] + bias) - reset term
             s[n+1] = H(U[n+1] - threshold)
    LIF      as CubaLIF without the synaptic filter (I[n+1] = sum_j W_ij s_j[n])
    IF       as LIF with a_mem = 1
    LI       as LIF without spikes (a leaky integrator, for readouts)
    CubaLI   as CubaLIF without spikes
    ALIF     as LIF with the threshold A = threshold + beta_adapt * b,  b[n+1] = rho b[n] + s[n],
             rho = exp(-dt/tau_adapt)

``c_in`` is ``input_scale``: 1 (``one``), ``one_minus_decay`` (1 - a_mem), ``r_dt_over_tau``
(r * dt / tau_mem, NIR's convention) or a number. Reset is ``zero`` (U <- v_reset),
``subtract`` (U <- U - threshold) or ``none``. ``refractory`` holds U at v_reset for that
many steps (or that long) after a spike. The surrogate derivative sigma'(x), x = U - threshold,
is used by gradient-based rules; by default the reset carries no gradient.

Each entry declares its :class:`ModelProperties` (synaptic current, adaptation, leak, spiking,
reset kinds) and its update (``ModelSpec.update``). The discrete model
(:func:`snnc.ir.discrete.plan_population`) and the backends ask these properties, never a
model's name, so a new model is one entry here plus its code in each backend; a backend refuses
a property it cannot express with a diagnostic. The decays themselves are
:func:`snnc.ir.discrete.decay`.
"""

from __future__ import annotations

from dataclasses import dataclass

from snnc.units import DIMENSIONLESS, TIME, VOLTAGE, Dim, Quantity


@dataclass(frozen=True)
class ParamSpec:
    """One model parameter: accepted dimensions, or choices, and the default."""

    name: str
    doc: str
    dims: tuple[Dim, ...] = ()
    choices: tuple[str, ...] = ()
    default: Quantity | str | None = None
    kind: str = "quantity"  # quantity | enum | number_or_enum | surrogate


@dataclass(frozen=True)
class SurrogateSpec:
    name: str
    formula: str
    params: dict[str, float]


SURROGATES: dict[str, SurrogateSpec] = {
    s.name: s for s in (
        SurrogateSpec("fast_sigmoid", "1 / (beta |x| + 1)^2", {"beta": 10.0}),
        SurrogateSpec("piecewise_linear", "gamma max(0, 1 - |x| / threshold)", {"gamma": 0.3}),
        SurrogateSpec("sigmoid", "beta s(beta x) (1 - s(beta x))", {"beta": 5.0}),
        SurrogateSpec("exponential", "gamma exp(-beta |x|)", {"beta": 1.0, "gamma": 1.0}),
    )
}

V_OR_1 = (VOLTAGE, DIMENSIONLESS)
RESETS = ("zero", "subtract", "none")  # the reset kinds of a spiking model

_TAU_MEM = ParamSpec("tau_mem", "membrane time constant", (TIME,), default=Quantity(0.02, TIME))
_TAU_SYN = ParamSpec("tau_syn", "synaptic current time constant", (TIME,),
                     default=Quantity(0.005, TIME))
_V_LEAK = ParamSpec("v_leak", "resting (leak) potential", V_OR_1, default=Quantity(0.0))
_BIAS = ParamSpec("bias", "constant input added to the current", V_OR_1, default=Quantity(0.0))
_V_INIT = ParamSpec("v_init", "initial membrane potential", V_OR_1, default=Quantity(0.0))
_R = ParamSpec("r", "input resistance (NIR's r)", (DIMENSIONLESS,), default=Quantity(1.0))
_INPUT_SCALE = ParamSpec("input_scale", "input scaling c_in", (DIMENSIONLESS,),
                         choices=("one", "one_minus_decay", "r_dt_over_tau"), default="one",
                         kind="number_or_enum")
_SPIKING = (
    ParamSpec("threshold", "firing threshold", V_OR_1, default=Quantity(1.0)),
    ParamSpec("reset", "reset after a spike", choices=RESETS,
              default="zero", kind="enum"),
    ParamSpec("v_reset", "potential after a zero reset", V_OR_1, default=Quantity(0.0)),
    ParamSpec("refractory", "refractory period, in steps or as a time", (DIMENSIONLESS, TIME),
              default=Quantity(0.0)),
    ParamSpec("surrogate", "surrogate derivative for gradient-based rules",
              choices=tuple(SURROGATES), default="fast_sigmoid", kind="surrogate"),
)
_ADAPTIVE = (
    ParamSpec("tau_adapt", "adaptation time constant", (TIME,), default=Quantity(0.2, TIME)),
    ParamSpec("beta_adapt", "threshold increase per unit of adaptation", V_OR_1,
              default=Quantity(0.05)),
)


@dataclass(frozen=True)
class ModelProperties:
    """What a model's discrete update contains; backends ask these, never the model's name.

    - ``synaptic_current``: its own first-order current filter ``I <- a_syn I + J``
      (parameter ``tau_syn``); without it ``I = J``, the input of the step.
    - ``adaptation``: an adaptive threshold ``a <- rho a + s``, ``A = threshold + beta_adapt a``
      (``tau_adapt``, ``beta_adapt``; the state a rule reads as ``a``).
    - ``leak``: the membrane decays, ``a_mem = decay(tau_mem)``; without it ``a_mem = 1``.
    - ``spiking``: it emits spikes and resets; a non-spiking model is a readout.
    - ``resets``: the reset kinds it supports (empty for a non-spiking model).
    """

    synaptic_current: bool
    adaptation: bool
    leak: bool
    spiking: bool
    resets: tuple[str, ...]

    def names(self) -> tuple[str, ...]:
        """The properties that hold, by name (for messages and docs/models.md)."""
        flags = ("synaptic_current", "adaptation", "leak", "spiking")
        return tuple(flag for flag in flags if getattr(self, flag))


@dataclass(frozen=True)
class ModelSpec:
    """A built-in neuron model: its parameters, the state variables a rule may read, and its
    properties; ``doc`` is one line, ``update`` the discrete update (docs/models.md)."""

    name: str
    doc: str
    params: tuple[ParamSpec, ...]
    variables: tuple[str, ...]
    properties: ModelProperties
    update: str = ""

    def param(self, name: str) -> ParamSpec | None:
        return next((p for p in self.params if p.name == name), None)

    @property
    def param_names(self) -> tuple[str, ...]:
        return tuple(p.name for p in self.params)

    @property
    def spiking(self) -> bool:
        return self.properties.spiking


def _model(name, doc, params, variables, *, syn=False, adapt=False, leak=True, spiking=True,
           update=""):
    properties = ModelProperties(syn, adapt, leak, spiking, RESETS if spiking else ())
    return ModelSpec(name, doc, tuple(params), variables, properties, update)


_MEMBRANE = "v[n] = a_mem (v[n-1] - v_leak) + v_leak + c_in (I[n] + bias)"
_SPIKE = "s[n] = H(v[n] - threshold), then the reset"

MODELS: dict[str, ModelSpec] = {
    m.name: m for m in (
        _model("IF", "integrate-and-fire, no leak",
               (*_SPIKING, _BIAS, _V_INIT, _R, _INPUT_SCALE), ("v", "s", "i"), leak=False,
               update=f"I[n] = J[n];  v[n] = v[n-1] + c_in (I[n] + bias);  {_SPIKE}"),
        _model("LIF", "leaky integrate-and-fire",
               (_TAU_MEM, _V_LEAK, *_SPIKING, _BIAS, _V_INIT, _R, _INPUT_SCALE),
               ("v", "s", "i"), update=f"I[n] = J[n];  {_MEMBRANE};  {_SPIKE}"),
        _model("CubaLIF", "current-based LIF with a synaptic current filter",
               (_TAU_MEM, _TAU_SYN, _V_LEAK, *_SPIKING, _BIAS, _V_INIT, _R, _INPUT_SCALE),
               ("v", "s", "i"), syn=True,
               update=f"I[n] = a_syn I[n-1] + J[n];  {_MEMBRANE};  {_SPIKE}"),
        _model("ALIF", "adaptive-threshold LIF (LSNN)",
               (_TAU_MEM, _V_LEAK, *_SPIKING, *_ADAPTIVE, _BIAS, _V_INIT, _R, _INPUT_SCALE),
               ("v", "s", "i", "a"), adapt=True,
               update=f"I[n] = J[n];  {_MEMBRANE};  s[n] = H(v[n] - threshold - beta_adapt "
                      "a[n-1]), then the reset;  a[n] = rho a[n-1] + s[n]"),
        _model("LI", "leaky integrator, non-spiking (readouts)",
               (_TAU_MEM, _V_LEAK, _BIAS, _V_INIT, _R, _INPUT_SCALE), ("v", "i"),
               spiking=False, update=f"I[n] = J[n];  {_MEMBRANE}"),
        _model("CubaLI", "current-based leaky integrator, non-spiking (readouts)",
               (_TAU_MEM, _TAU_SYN, _V_LEAK, _BIAS, _V_INIT, _R, _INPUT_SCALE), ("v", "i"),
               syn=True, spiking=False, update=f"I[n] = a_syn I[n-1] + J[n];  {_MEMBRANE}"),
    )
}
