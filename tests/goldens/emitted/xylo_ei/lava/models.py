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

`SubtractLIF<k>` is the same neuron with snnc's other resets (docs/models.md, "One step of
the simulator"): after a spike `v <- v - v_sub` (`v_sub` is the threshold for `reset = subtract`,
0 for `reset = none`) instead of `v <- 0`, and during a refractory hold `v <- 0` (snnc's
`v_reset`, the voltage being shifted by it). In fixed point `v_sub` is the integer threshold
(`vth << 6`, plus `v_reset` scaled).
"""

import numpy as np

from lava.magma.core.decorator import implements, requires, tag
from lava.magma.core.learning.learning_rule import Loihi3FLearningRule
from lava.magma.core.learning.learning_rule_applier import LearningRuleApplierFloat
from lava.magma.core.model.py.model import PyLoihiProcessModel
from lava.magma.core.model.py.ports import PyInPort, PyOutPort
from lava.magma.core.model.py.type import LavaPyType
from lava.magma.core.process.ports.ports import InPort, OutPort
from lava.magma.core.process.process import AbstractProcess
from lava.magma.core.process.variable import Var
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


class SubtractLIF1(AbstractProcess):
    """A LIF neuron with 1 synaptic current (see the module's docstring)."""

    def __init__(self, *, shape, du, dv, vth, bias_mant, bias_exp, v, refractory_period,
                 v_sub, name=None):
        super().__init__(shape=shape, name=name, refractory_period=refractory_period)
        self.a_in_0 = InPort(shape=shape)
        self.s_out = OutPort(shape=shape)
        self.u = Var(shape=(1,) + tuple(shape), init=0)
        self.v = Var(shape=shape, init=v)
        self.du = Var(shape=(1,), init=np.asarray(du, float))
        self.dv = Var(shape=(1,), init=dv)
        self.vth = Var(shape=(1,), init=vth)
        self.bias_mant = Var(shape=shape, init=bias_mant)
        self.bias_exp = Var(shape=shape, init=bias_exp)
        self.refractory_period_end = Var(shape=shape, init=0)
        self.v_sub = Var(shape=shape, init=v_sub)


@implements(proc=SubtractLIF1, protocol=LoihiProtocol)
@requires(CPU)
@tag("floating_pt")
class PySubtractLIF1Float(PyLoihiProcessModel):
    a_in_0: PyInPort = LavaPyType(PyInPort.VEC_DENSE, float)
    s_out: PyOutPort = LavaPyType(PyOutPort.VEC_DENSE, float)
    u: np.ndarray = LavaPyType(np.ndarray, float)
    v: np.ndarray = LavaPyType(np.ndarray, float)
    du: np.ndarray = LavaPyType(np.ndarray, float)
    dv: float = LavaPyType(float, float)
    vth: float = LavaPyType(float, float)
    bias_mant: np.ndarray = LavaPyType(np.ndarray, float)
    bias_exp: np.ndarray = LavaPyType(np.ndarray, float)
    refractory_period_end: np.ndarray = LavaPyType(np.ndarray, int)
    v_sub: np.ndarray = LavaPyType(np.ndarray, float)

    def run_spk(self):
        inputs = (self.a_in_0.recv(),)
        for k, received in enumerate(inputs):
            self.u[k] = self.u[k] * (1 - self.du[k]) + received
        free = self.refractory_period_end < self.time_step
        self.v[free] = self.v[free] * (1 - self.dv) + self.u.sum(axis=0)[free] \
            + self.bias_mant[free]
        self.v[~free] = 0
        spikes = self.v > self.vth
        self.v[spikes] -= self.v_sub[spikes]
        self.refractory_period_end[spikes] = self.time_step + self.proc_params[
            "refractory_period"]
        self.s_out.send(spikes.astype(float))



@implements(proc=SubtractLIF1, protocol=LoihiProtocol)
@requires(CPU)
@tag("bit_accurate_loihi", "fixed_pt")
class PySubtractLIF1BitAcc(PyLoihiProcessModel):
    """The integer arithmetic of Lava's bit-accurate LIF, with one 24-bit current per port."""
    a_in_0: PyInPort = LavaPyType(PyInPort.VEC_DENSE, np.int16, precision=16)
    s_out: PyOutPort = LavaPyType(PyOutPort.VEC_DENSE, np.int32, precision=24)
    u: np.ndarray = LavaPyType(np.ndarray, np.int32, precision=24)
    v: np.ndarray = LavaPyType(np.ndarray, np.int32, precision=24)
    du: np.ndarray = LavaPyType(np.ndarray, np.uint16, precision=12)
    dv: int = LavaPyType(int, np.uint16, precision=12)
    vth: int = LavaPyType(int, np.int32, precision=17)
    bias_mant: np.ndarray = LavaPyType(np.ndarray, np.int16, precision=13)
    bias_exp: np.ndarray = LavaPyType(np.ndarray, np.int16, precision=3)
    refractory_period_end: np.ndarray = LavaPyType(np.ndarray, int)
    v_sub: np.ndarray = LavaPyType(np.ndarray, np.int32, precision=24)

    def run_spk(self):
        limit = 2 ** 23
        inputs = (self.a_in_0.recv(),)
        for k, received in enumerate(inputs):
            decayed = np.int64(self.u[k]) * (4096 - int(self.du[k]) - 1)
            decayed = np.int32(np.sign(decayed) * np.right_shift(np.abs(decayed), 12))
            current = decayed + np.left_shift(np.int32(received), 6)
            current = np.where(current > limit, current - 2 * limit, current)
            self.u[k] = np.where(current <= -limit, current + 2 * limit, current)
        bias = np.where(self.bias_exp >= 0,
                        np.left_shift(np.int32(self.bias_mant), self.bias_exp),
                        np.right_shift(np.int32(self.bias_mant), -self.bias_exp))
        decayed = np.int64(self.v) * (4096 - int(self.dv))
        decayed = np.int32(np.sign(decayed) * np.right_shift(np.abs(decayed), 12))
        updated = np.clip(decayed + self.u.sum(axis=0) + bias, -limit + 1, limit - 1)
        free = self.refractory_period_end < self.time_step
        self.v[free] = updated[free]
        self.v[~free] = 0
        spikes = self.v > np.left_shift(np.int32(self.vth), 6)
        self.v[spikes] -= self.v_sub[spikes]
        self.refractory_period_end[spikes] = self.time_step + self.proc_params[
            "refractory_period"]
        self.s_out.send(spikes.astype(np.int32))


class SubtractLIF2(AbstractProcess):
    """A LIF neuron with 2 synaptic currents (see the module's docstring)."""

    def __init__(self, *, shape, du, dv, vth, bias_mant, bias_exp, v, refractory_period,
                 v_sub, name=None):
        super().__init__(shape=shape, name=name, refractory_period=refractory_period)
        self.a_in_0 = InPort(shape=shape)
        self.a_in_1 = InPort(shape=shape)
        self.s_out = OutPort(shape=shape)
        self.u = Var(shape=(2,) + tuple(shape), init=0)
        self.v = Var(shape=shape, init=v)
        self.du = Var(shape=(2,), init=np.asarray(du, float))
        self.dv = Var(shape=(1,), init=dv)
        self.vth = Var(shape=(1,), init=vth)
        self.bias_mant = Var(shape=shape, init=bias_mant)
        self.bias_exp = Var(shape=shape, init=bias_exp)
        self.refractory_period_end = Var(shape=shape, init=0)
        self.v_sub = Var(shape=shape, init=v_sub)


@implements(proc=SubtractLIF2, protocol=LoihiProtocol)
@requires(CPU)
@tag("floating_pt")
class PySubtractLIF2Float(PyLoihiProcessModel):
    a_in_0: PyInPort = LavaPyType(PyInPort.VEC_DENSE, float)
    a_in_1: PyInPort = LavaPyType(PyInPort.VEC_DENSE, float)
    s_out: PyOutPort = LavaPyType(PyOutPort.VEC_DENSE, float)
    u: np.ndarray = LavaPyType(np.ndarray, float)
    v: np.ndarray = LavaPyType(np.ndarray, float)
    du: np.ndarray = LavaPyType(np.ndarray, float)
    dv: float = LavaPyType(float, float)
    vth: float = LavaPyType(float, float)
    bias_mant: np.ndarray = LavaPyType(np.ndarray, float)
    bias_exp: np.ndarray = LavaPyType(np.ndarray, float)
    refractory_period_end: np.ndarray = LavaPyType(np.ndarray, int)
    v_sub: np.ndarray = LavaPyType(np.ndarray, float)

    def run_spk(self):
        inputs = (self.a_in_0.recv(), self.a_in_1.recv())
        for k, received in enumerate(inputs):
            self.u[k] = self.u[k] * (1 - self.du[k]) + received
        free = self.refractory_period_end < self.time_step
        self.v[free] = self.v[free] * (1 - self.dv) + self.u.sum(axis=0)[free] \
            + self.bias_mant[free]
        self.v[~free] = 0
        spikes = self.v > self.vth
        self.v[spikes] -= self.v_sub[spikes]
        self.refractory_period_end[spikes] = self.time_step + self.proc_params[
            "refractory_period"]
        self.s_out.send(spikes.astype(float))



@implements(proc=SubtractLIF2, protocol=LoihiProtocol)
@requires(CPU)
@tag("bit_accurate_loihi", "fixed_pt")
class PySubtractLIF2BitAcc(PyLoihiProcessModel):
    """The integer arithmetic of Lava's bit-accurate LIF, with one 24-bit current per port."""
    a_in_0: PyInPort = LavaPyType(PyInPort.VEC_DENSE, np.int16, precision=16)
    a_in_1: PyInPort = LavaPyType(PyInPort.VEC_DENSE, np.int16, precision=16)
    s_out: PyOutPort = LavaPyType(PyOutPort.VEC_DENSE, np.int32, precision=24)
    u: np.ndarray = LavaPyType(np.ndarray, np.int32, precision=24)
    v: np.ndarray = LavaPyType(np.ndarray, np.int32, precision=24)
    du: np.ndarray = LavaPyType(np.ndarray, np.uint16, precision=12)
    dv: int = LavaPyType(int, np.uint16, precision=12)
    vth: int = LavaPyType(int, np.int32, precision=17)
    bias_mant: np.ndarray = LavaPyType(np.ndarray, np.int16, precision=13)
    bias_exp: np.ndarray = LavaPyType(np.ndarray, np.int16, precision=3)
    refractory_period_end: np.ndarray = LavaPyType(np.ndarray, int)
    v_sub: np.ndarray = LavaPyType(np.ndarray, np.int32, precision=24)

    def run_spk(self):
        limit = 2 ** 23
        inputs = (self.a_in_0.recv(), self.a_in_1.recv())
        for k, received in enumerate(inputs):
            decayed = np.int64(self.u[k]) * (4096 - int(self.du[k]) - 1)
            decayed = np.int32(np.sign(decayed) * np.right_shift(np.abs(decayed), 12))
            current = decayed + np.left_shift(np.int32(received), 6)
            current = np.where(current > limit, current - 2 * limit, current)
            self.u[k] = np.where(current <= -limit, current + 2 * limit, current)
        bias = np.where(self.bias_exp >= 0,
                        np.left_shift(np.int32(self.bias_mant), self.bias_exp),
                        np.right_shift(np.int32(self.bias_mant), -self.bias_exp))
        decayed = np.int64(self.v) * (4096 - int(self.dv))
        decayed = np.int32(np.sign(decayed) * np.right_shift(np.abs(decayed), 12))
        updated = np.clip(decayed + self.u.sum(axis=0) + bias, -limit + 1, limit - 1)
        free = self.refractory_period_end < self.time_step
        self.v[free] = updated[free]
        self.v[~free] = 0
        spikes = self.v > np.left_shift(np.int32(self.vth), 6)
        self.v[spikes] -= self.v_sub[spikes]
        self.refractory_period_end[spikes] = self.time_step + self.proc_params[
            "refractory_period"]
        self.s_out.send(spikes.astype(np.int32))


def exception_models(precision):
    """The `exception_proc_model_map` of the run configuration."""
    if precision == "floating_pt":
        return {LearningDense: BoundedLearningDenseFloat}
    return {LIFRefractory: PyLifRefractoryModelBitAcc, LearningDense: BoundedLearningDenseFixed}


if __name__ == "__main__":
    print(__doc__)
