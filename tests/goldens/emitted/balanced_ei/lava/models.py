"""Process models that this program selects in place of Lava's defaults, and a spike recorder.

Loihi saturates a plastic weight at the ends of its range; Lava 0.10.0's floating-point
LearningDense model never bounds it. `BoundedLearningDenseFloat` is that model with the rule's
`bounds` applied after every update (`snnc_bounds` of the process), as the reference simulator
and the chip do. Loihi's learning engine also takes a spike as a factor of a product (`x0 * y0`:
a pre and a post spike of the same step), which Lava 0.10.0's fixed-point model computes and
its floating-point model refuses ("Unknown Factor"); `SpikeFactorApplierFloat` evaluates it as
the fixed-point model does. With a three-factor rule (`Loihi3FLearningRule`) the post traces
y1, y2, y3 are the post neuron's, received every step; Lava 0.10.0's floating-point model
decays them once more by exp(-1/65535) before the rule reads them, `BoundedLearningDenseFloat`
does not (the rule reads the values the neuron sent, as on the chip). `PyLifRefractoryModelBitAcc` is the fixed-point LIFRefractory model
that Lava 0.10.0 lacks.

Reading a Var back from Lava's runtime moves one element per message, which takes minutes for
the spike trains of a large population; `SpikeRecorder` instead saves what it received to a
.npy file at the last step.
"""

import numpy as np

from lava.magma.core.decorator import implements, requires, tag
from lava.magma.core.learning.learning_rule import Loihi3FLearningRule
from lava.magma.core.learning.learning_rule_applier import LearningRuleApplierFloat
from lava.magma.core.model.py.model import PyLoihiProcessModel
from lava.magma.core.model.py.ports import PyInPort, PyOutPort
from lava.magma.core.model.py.type import LavaPyType
from lava.magma.core.process.ports.ports import InPort
from lava.magma.core.process.process import AbstractProcess
from lava.magma.core.resources import CPU
from lava.magma.core.sync.protocols.loihi_protocol import LoihiProtocol
from lava.proc.dense.models import PyLearningDenseModelBitApproximate, PyLearningDenseModelFloat
from lava.proc.dense.process import LearningDense
from lava.proc.lif.models import AbstractPyLifModelFixed
from lava.proc.lif.process import LIFRefractory
from lava.utils.weightutils import SignMode


class SpikeFactorApplierFloat(LearningRuleApplierFloat):
    """Lava's floating-point rule applier with the spike factors x0 and y0 (0 or 1 in the
    epoch, the arrays the model passes as 'x0' [1, pre] and 'y0' [post, 1])."""

    @staticmethod
    def _extract_factor_str(factor, dep):
        if factor.state_var not in ("x0", "y0"):
            return LearningRuleApplierFloat._extract_factor_str(factor, dep)
        if factor.has_const():
            return f"({factor.state_var} + ({factor.const}))"
        return factor.state_var


@implements(proc=LearningDense, protocol=LoihiProtocol)
@requires(CPU)
@tag("floating_pt")
class BoundedLearningDenseFloat(PyLearningDenseModelFloat):
    def _create_learning_rule_applier(self, product_series):
        return SpikeFactorApplierFloat(product_series)

    def _compute_trace_histories(self):
        x_history, y_history = super()._compute_trace_histories()
        if isinstance(self._learning_rule, Loihi3FLearningRule):
            y_history[:] = self._y_traces  # the post neuron's y1, y2, y3 of this step
        return x_history, y_history

    def _saturate_synaptic_variable(self, name, values):
        values = super()._saturate_synaptic_variable(name, values)
        bounds = self.proc_params.get("snnc_bounds")
        if name == "weights" and bounds is not None:
            values = np.clip(values, bounds[0], bounds[1])
        return values


@implements(proc=LearningDense, protocol=LoihiProtocol)
@requires(CPU)
@tag("bit_approximate_loihi", "fixed_pt")
class BoundedLearningDenseFixed(PyLearningDenseModelBitApproximate):
    """Lava's fixed-point LearningDense with the rule's bounds (`snnc_bounds`, in weight units)
    and its sign (Lava's default, mixed, drops the lowest weight bit); a three-factor rule
    reads the y1..y3 the post neuron sent, as BoundedLearningDenseFloat."""

    def __init__(self, proc_params):
        super().__init__(proc_params)
        bounds = proc_params.get("snnc_bounds")
        if bounds is not None and bounds[0] >= 0:
            self.sign_mode = SignMode.EXCITATORY
        elif bounds is not None and bounds[1] <= 0:
            self.sign_mode = SignMode.INHIBITORY

    def _compute_trace_histories(self):
        x_history, y_history = super()._compute_trace_histories()
        if isinstance(self._learning_rule, Loihi3FLearningRule):
            y_history[:] = self._y_traces
        return x_history, y_history

    def _saturate_synaptic_variable(self, name, values):
        values = super()._saturate_synaptic_variable(name, values)
        bounds = self.proc_params.get("snnc_bounds")
        if name == "weights" and bounds is not None:
            values = np.clip(values, bounds[0], bounds[1])
        return values


@implements(proc=LIFRefractory, protocol=LoihiProtocol)
@requires(CPU)
@tag("bit_accurate_loihi", "fixed_pt")
class PyLifRefractoryModelBitAcc(AbstractPyLifModelFixed):
    """Lava's bit-accurate LIF (as PyLifModelBitAcc) with LIFRefractory's hold (Lava 0.10.0 has
    it in floating point only): v is not updated, so it stays 0 after the reset, for
    refractory_period steps."""

    s_out: PyOutPort = LavaPyType(PyOutPort.VEC_DENSE, np.int32, precision=24)
    vth: int = LavaPyType(int, np.int32, precision=17)
    refractory_period_end: np.ndarray = LavaPyType(np.ndarray, int)

    def scale_threshold(self):
        self.effective_vth = np.left_shift(self.vth, self.vth_shift)
        self.isthrscaled = True

    def spiking_activation(self):
        return self.v > self.effective_vth

    def subthr_dynamics(self, activation_in):
        held = self.refractory_period_end >= self.time_step
        before = self.v.copy()
        super().subthr_dynamics(activation_in)
        self.v[held] = before[held]

    def reset_voltage(self, spike_vector):
        super().reset_voltage(spike_vector)
        self.refractory_period_end[spike_vector] = (self.time_step
                                                    + self.proc_params["refractory_period"])


class SpikeRecorder(AbstractProcess):
    """Receives spikes for `steps` steps and saves them, [steps, n], to `path` (.npy)."""

    def __init__(self, *, shape, steps, path):
        super().__init__(shape=shape, steps=steps, path=path)
        self.a_in = InPort(shape=shape)


@implements(proc=SpikeRecorder, protocol=LoihiProtocol)
@requires(CPU)
@tag("floating_pt", "fixed_pt")
class PySpikeRecorderModel(PyLoihiProcessModel):
    a_in: PyInPort = LavaPyType(PyInPort.VEC_DENSE, float)

    def __init__(self, proc_params):
        super().__init__(proc_params)
        self.steps = proc_params["steps"]
        self.spikes = np.zeros((self.steps,) + tuple(proc_params["shape"]), dtype=bool)

    def run_spk(self):
        received = self.a_in.recv()
        if self.time_step <= self.steps:
            self.spikes[self.time_step - 1] = received > 0
        if self.time_step == self.steps:
            np.save(self.proc_params["path"], self.spikes)


def exception_models(precision):
    """The `exception_proc_model_map` of the run configuration."""
    if precision == "floating_pt":
        return {LearningDense: BoundedLearningDenseFloat}
    return {LIFRefractory: PyLifRefractoryModelBitAcc, LearningDense: BoundedLearningDenseFixed}


if __name__ == "__main__":
    print(__doc__)
