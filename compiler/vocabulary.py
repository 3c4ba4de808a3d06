"""The named things a ``.snn`` file may call: connectivity, initialisers, sources, receptors,
rule functions, third-factor generators, losses and network settings.

Each entry states its arguments (name, accepted dimensions, default), so that calls can be
bound and checked in one place (:func:`bind`) with "did you mean" hints.
"""

from __future__ import annotations

from dataclasses import dataclass

from snnc.diagnostics import Diagnostics, did_you_mean
from snnc.frontend import ast
from snnc.units import DIMENSIONLESS, FREQUENCY, TIME, VOLTAGE, Dim

ANY = None  # an argument whose value is checked elsewhere (an expression or a name)


@dataclass(frozen=True)
class Arg:
    name: str
    dims: tuple[Dim, ...] | None = (DIMENSIONLESS,)
    required: bool = True
    integer: bool = False
    positive: bool = False


@dataclass(frozen=True)
class CallSpec:
    name: str
    doc: str
    args: tuple[Arg, ...] = ()

    @property
    def arg_names(self) -> tuple[str, ...]:
        return tuple(a.name for a in self.args)


def _specs(*specs: CallSpec) -> dict[str, CallSpec]:
    return {s.name: s for s in specs}


_INT = dict(integer=True, positive=True)
_FILE = (Arg("path", ANY), Arg("key", ANY, required=False))

CONNECTIVITY = _specs(
    CallSpec("dense", "every pre neuron to every post neuron"),
    CallSpec("one_to_one", "pre neuron i to post neuron i (equal sizes)"),
    CallSpec("sparse", "each synapse present independently with probability p",
             (Arg("p"),)),
    CallSpec("fixed_fan_in", "each post neuron receives exactly k random pre neurons",
             (Arg("k", **_INT),)),
    CallSpec("conv2d", "2-D convolution of a [channels, height, width] population",
             (Arg("kernel", **_INT), Arg("stride", required=False, **_INT),
              Arg("padding", required=False, integer=True), Arg("channels", **_INT))),
    CallSpec("sumpool2d", "2-D sum pooling, channel by channel",
             (Arg("kernel", **_INT), Arg("stride", required=False, **_INT))),
    CallSpec("file", "explicit weights from a .npy/.npz matrix [post, pre]; zeros are absent",
             _FILE),
)

#: values that draw one number per neuron or per synapse
DISTRIBUTIONS = _specs(
    CallSpec("uniform", "uniform between low and high",
             (Arg("low", ANY), Arg("high", ANY))),
    CallSpec("normal", "normal with mean and standard deviation",
             (Arg("mean", ANY), Arg("std", ANY))),
    CallSpec("file", "one value per neuron or synapse from a .npy/.npz file", _FILE),
)

SOURCES = _specs(
    CallSpec("poisson", "independent Poisson spike trains", (Arg("rate", (FREQUENCY,)),)),
    CallSpec("file", "spikes from a .npy/.npz array [steps, *shape]", _FILE),
)

RECEPTOR = CallSpec("receptor", "a synaptic current with its own time constant",
                    (Arg("tau", (TIME,)),))

NETWORK_SETTINGS: dict[str, Arg] = {
    "dt": Arg("dt", (TIME,)),
    "seed": Arg("seed", integer=True),
    "integration": Arg("integration", ANY),
    "duration": Arg("duration", (TIME,)),
}
INTEGRATION_SCHEMES = ("exact", "euler")

PROJECTION_SETTINGS: dict[str, Arg] = {
    "weight": Arg("weight", (DIMENSIONLESS, VOLTAGE)),
    "delay": Arg("delay", (DIMENSIONLESS, TIME)),
}

#: functions usable inside learning-rule expressions (argument count range)
RULE_FUNCTIONS: dict[str, tuple[int, int, str]] = {
    "lowpass": (2, 3, "lowpass(x, tau[, scale]): y <- exp(-dt/tau) y + scale x"),
    "surrogate": (1, 1, "surrogate(post.v): the post model's surrogate derivative at v - threshold"),
    "decay": (1, 1, "decay(tau): the per-step decay factor of tau (exp(-dt/tau), or 1 - dt/tau)"),
    "exp": (1, 1, "exponential"),
    "log": (1, 1, "natural logarithm"),
    "abs": (1, 1, "absolute value"),
    "sign": (1, 1, "sign"),
    "sqrt": (1, 1, "square root"),
    "tanh": (1, 1, "hyperbolic tangent"),
    "heaviside": (1, 1, "1 where x > 0, else 0"),
    "min": (2, 2, "smaller of two values"),
    "max": (2, 2, "larger of two values"),
    "clip": (3, 3, "clip(x, low, high)"),
}

#: third-factor generators, usable as the value of a 'signal' statement
GENERATORS = _specs(
    CallSpec("reward", "a global scalar reward, delivered to every neuron",
             (Arg("source", ANY, required=False),)),
    CallSpec("random_feedback", "readout error sent back through fixed random weights",
             (Arg("from", ANY),)),
    CallSpec("symmetric_feedback", "readout error sent back through the readout weights W^T",
             (Arg("from", ANY),)),
    CallSpec("local_readout", "error of a fixed random per-layer readout (DECOLLE)",
             (Arg("size", **_INT), Arg("loss", ANY, required=False))),
    CallSpec("readout_error", "the readout's own error dL/dy, for projections into the readout",
             (Arg("from", ANY),)),
    CallSpec("exact_feedback", "dL/ds of every neuron through all paths at this step",
             (Arg("from", ANY),)),
    CallSpec("backprop_through_time", "adjoints computed backwards from the end of the sequence",
             (Arg("from", ANY),)),
)

RULE_SETTINGS = ("bounds", "optimizer")
OPTIMIZERS = _specs(
    CallSpec("sgd", "plain gradient step, w <- w + lr dw"),
    CallSpec("adam", "Adam",
             (Arg("beta1", required=False), Arg("beta2", required=False),
              Arg("eps", required=False))),
)
TRIGGERS = ("pre", "post", "step")

LOSSES = _specs(
    CallSpec("cross_entropy", "softmax cross-entropy of a per-class score",
             (Arg("score", ANY),)),
    CallSpec("mse", "mean squared error against the target trace",
             (Arg("value", ANY),)),
)
REDUCTIONS = _specs(
    CallSpec("max_over_time", "maximum over the time steps", (Arg("value", ANY),)),
    CallSpec("mean_over_time", "mean over the time steps", (Arg("value", ANY),)),
    CallSpec("sum_over_time", "sum over the time steps", (Arg("value", ANY),)),
    CallSpec("last", "value at the last time step", (Arg("value", ANY),)),
)

BUILTIN_TARGETS = ("reference", "generic", "loihi", "loihi2", "spinnaker", "spinnaker2",
                   "truenorth", "dynapse2", "xylo", "speck", "brainscales2")


def bind(call: ast.Call, spec: CallSpec, diag: Diagnostics,
         what: str = "") -> dict[str, ast.Expr] | None:
    """Match a call's arguments to the spec's parameters; report E208 and return None on error."""
    what = what or f"'{spec.name}'"
    bound: dict[str, ast.Expr] = {}
    ok = True
    if len(call.args) > len(spec.args):
        extra = call.args[len(spec.args)]
        diag.error("E208", extra.span, f"{what} takes at most {len(spec.args)} argument(s)",
                   hint=_signature(spec))
        ok = False
    for arg, value in zip(spec.args, call.args, strict=False):
        bound[arg.name] = value
    for kw in call.kwargs:
        name = kw.name.text
        if name not in spec.arg_names:
            hint = did_you_mean(name, spec.arg_names) or _signature(spec)
            diag.error("E208", kw.name.span, f"{what} has no argument '{name}'", hint=hint)
            ok = False
        elif name in bound:
            diag.error("E208", kw.name.span, f"argument '{name}' of {what} is given twice")
            ok = False
        else:
            bound[name] = kw.value
    if ok:
        missing = [a.name for a in spec.args if a.required and a.name not in bound]
        if missing:
            diag.error("E208", call.span, f"{what} needs argument '{missing[0]}'",
                       hint=_signature(spec))
            ok = False
    return bound if ok else None


def _signature(spec: CallSpec) -> str:
    parts = [a.name if a.required else f"{a.name}=..." for a in spec.args]
    return f"usage: {spec.name}({', '.join(parts)})"
