"""The named things a ``.snn`` file may call: connectivity, initialisers, sources, receptors,
rule functions, third-factor generators, losses and network settings.

Each entry states its arguments (name, accepted dimensions, default), so that calls can be
bound and checked in one place (:func:`snnc.ir.lower_calls.bind`) with "did you mean" hints.
The functions of learning-rule expressions are one table of their own,
:data:`snnc.functions.RULE_FUNCTIONS`.
"""

from __future__ import annotations

from dataclasses import dataclass

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

#: third-factor generators, usable as the value of a 'signal' statement
GENERATORS = _specs(
    CallSpec("reward", "a global scalar reward, delivered to every neuron",
             (Arg("source", ANY, required=False),)),
    CallSpec("random_feedback", "readout error sent back through fixed random weights",
             (Arg("from", ANY),)),
    CallSpec("symmetric_feedback", "readout error sent back through the readout weights W^T",
             (Arg("from", ANY),)),
    CallSpec("learned_feedback", "readout error sent back through feedback weights that start "
             "at zero and learn the readout weights' own updates (Kolen-Pollack)",
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
                   "truenorth", "dynapse2", "xylo", "xylo_audio3", "xylo_imu", "speck",
                   "brainscales2")
