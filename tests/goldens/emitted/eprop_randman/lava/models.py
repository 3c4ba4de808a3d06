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

`FeedbackLIF<k>` (`FeedbackSubtractLIF<k>`) is `CurrentsLIF<k>` (`SubtractLIF<k>`) as the post
neuron of feedback rules (e-prop with random feedback, DECOLLE, the readout's delta):
after its spikes it sends its voltage before the reset (`v_out`), psi(v - vth), the surrogate
derivative of its population, as y1, and forwards the learning signals it receives on
`a_third_y2` and `a_third_y3` as y2 and y3. `ReadoutError` computes the loss's error of the
readout from the voltage it sent this step and the sample's label, `RandomFeedback` sends it on
through a fixed random matrix B: connected port to port, they add no step, so the signal of a
step meets that step's traces (snnc's L[n] = B e[n]). In fixed point the neuron keeps
`CurrentsLIF<k>`'s integer u, v and sends y1 = round(psi_sigma psi); the error and B e leave
their processes as 7-bit integers (quantization.json, `feedback_signals`).
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


#: the surrogate derivatives psi(x), x = v - threshold (the reference simulator's)
SURROGATES = {
    'fast_sigmoid': lambda x, beta=None, gamma=None, threshold=None: 1.0 / (beta * np.abs(x) + 1.0) ** 2,
    'piecewise_linear': lambda x, beta=None, gamma=None, threshold=None: gamma * np.maximum(0.0, 1.0 - np.abs(x) / threshold),
    'sigmoid': lambda x, beta=None, gamma=None, threshold=None: beta / (1.0 + np.exp(-beta * x)) * (1.0 - 1.0 / (1.0 + np.exp(-beta * x))),
    'exponential': lambda x, beta=None, gamma=None, threshold=None: gamma * np.exp(-beta * np.abs(x)),
}


class FeedbackLIF1(AbstractProcess):
    """A LIF neuron with 1 synaptic current as the post neuron of feedback
    rules (e-prop, delta): after its spikes it sends its voltage before the reset (v_out, the
    readout's, to the error process), psi(v - vth) as y1 (the surrogate derivative of its
    population, zero without one), and forwards what arrives on a_third_y2 and a_third_y3
    (the learning signals of this step) as y2 and y3. In fixed point (`scale`: the integer
    voltage per unit, `psi_sigma`: y1's units per unit of psi) y1 is round(psi_sigma psi)
    of v - vth = (v - (vth << 6)) / scale, and y2, y3 are the integers received, clipped to
    the engine's [-128, 127]."""

    def __init__(self, *, shape, du, dv, vth, bias_mant, bias_exp, v, refractory_period,
                 surrogate, thirds, scale=1.0, psi_sigma=None,
                 name=None):
        super().__init__(shape=shape, name=name, refractory_period=refractory_period,
                         surrogate=surrogate, thirds=thirds, scale=scale, psi_sigma=psi_sigma)
        self.a_in_0 = InPort(shape=shape)
        self.s_out = OutPort(shape=shape)
        self.v_out = OutPort(shape=shape)
        self.a_third_y2 = InPort(shape=shape)
        self.a_third_y3 = InPort(shape=shape)
        self.s_out_y1 = OutPort(shape=shape)
        self.s_out_y2 = OutPort(shape=shape)
        self.s_out_y3 = OutPort(shape=shape)
        self.u = Var(shape=(1,) + tuple(shape), init=0)
        self.v = Var(shape=shape, init=v)
        self.du = Var(shape=(1,), init=np.asarray(du, float))
        self.dv = Var(shape=(1,), init=dv)
        self.vth = Var(shape=(1,), init=vth)
        self.bias_mant = Var(shape=shape, init=bias_mant)
        self.bias_exp = Var(shape=shape, init=bias_exp)
        self.refractory_period_end = Var(shape=shape, init=0)


@implements(proc=FeedbackLIF1, protocol=LoihiProtocol)
@requires(CPU)
@tag("floating_pt")
class PyFeedbackLIF1Float(PyLoihiProcessModel):
    a_in_0: PyInPort = LavaPyType(PyInPort.VEC_DENSE, float)
    s_out: PyOutPort = LavaPyType(PyOutPort.VEC_DENSE, float)
    v_out: PyOutPort = LavaPyType(PyOutPort.VEC_DENSE, float)
    a_third_y2: PyInPort = LavaPyType(PyInPort.VEC_DENSE, float)
    a_third_y3: PyInPort = LavaPyType(PyInPort.VEC_DENSE, float)
    s_out_y1: PyOutPort = LavaPyType(PyOutPort.VEC_DENSE, float)
    s_out_y2: PyOutPort = LavaPyType(PyOutPort.VEC_DENSE, float)
    s_out_y3: PyOutPort = LavaPyType(PyOutPort.VEC_DENSE, float)
    u: np.ndarray = LavaPyType(np.ndarray, float)
    v: np.ndarray = LavaPyType(np.ndarray, float)
    du: np.ndarray = LavaPyType(np.ndarray, float)
    dv: float = LavaPyType(float, float)
    vth: float = LavaPyType(float, float)
    bias_mant: np.ndarray = LavaPyType(np.ndarray, float)
    bias_exp: np.ndarray = LavaPyType(np.ndarray, float)
    refractory_period_end: np.ndarray = LavaPyType(np.ndarray, int)

    def run_spk(self):
        inputs = (self.a_in_0.recv(),)
        for k, received in enumerate(inputs):
            self.u[k] = self.u[k] * (1 - self.du[k]) + received
        free = self.refractory_period_end < self.time_step
        self.v[free] = self.v[free] * (1 - self.dv) + self.u.sum(axis=0)[free] \
            + self.bias_mant[free]
        before = self.v.copy()  # snnc's membrane before the reset (surrogate(post.v))
        spikes = self.v > self.vth
        self.v[spikes] = 0
        self.refractory_period_end[spikes] = self.time_step + self.proc_params[
            "refractory_period"]
        self.s_out.send(spikes.astype(float))
        self.v_out.send(before)
        surrogate = self.proc_params["surrogate"]
        if surrogate is None:
            self.s_out_y1.send(np.zeros_like(before))
        else:
            kind, params = surrogate
            self.s_out_y1.send(SURROGATES[kind](before - self.vth, **params))
        thirds = self.proc_params["thirds"]
        y2 = self.a_third_y2.recv() if "y2" in thirds else np.zeros_like(before)
        y3 = self.a_third_y3.recv() if "y3" in thirds else np.zeros_like(before)
        self.s_out_y2.send(y2)
        self.s_out_y3.send(y3)

@implements(proc=FeedbackLIF1, protocol=LoihiProtocol)
@requires(CPU)
@tag("bit_accurate_loihi", "fixed_pt")
class PyFeedbackLIF1BitAcc(PyLoihiProcessModel):
    """The integer u, v of CurrentsLIF<k>'s bit-accurate model (Lava's LIF arithmetic),
    then y1 = round(psi_sigma psi(v - vth)) of the integer membrane before the reset (psi
    evaluated in floating point, as a lookup table would give it) and the third factors as the
    integers received."""
    a_in_0: PyInPort = LavaPyType(PyInPort.VEC_DENSE, np.int16, precision=16)
    s_out: PyOutPort = LavaPyType(PyOutPort.VEC_DENSE, np.int32, precision=24)
    v_out: PyOutPort = LavaPyType(PyOutPort.VEC_DENSE, np.int32, precision=24)
    a_third_y2: PyInPort = LavaPyType(PyInPort.VEC_DENSE, np.int32, precision=8)
    a_third_y3: PyInPort = LavaPyType(PyInPort.VEC_DENSE, np.int32, precision=8)
    s_out_y1: PyOutPort = LavaPyType(PyOutPort.VEC_DENSE, np.int32, precision=7)
    s_out_y2: PyOutPort = LavaPyType(PyOutPort.VEC_DENSE, np.int32, precision=7)
    s_out_y3: PyOutPort = LavaPyType(PyOutPort.VEC_DENSE, np.int32, precision=7)
    u: np.ndarray = LavaPyType(np.ndarray, np.int32, precision=24)
    v: np.ndarray = LavaPyType(np.ndarray, np.int32, precision=24)
    du: np.ndarray = LavaPyType(np.ndarray, np.uint16, precision=12)
    dv: int = LavaPyType(int, np.uint16, precision=12)
    vth: int = LavaPyType(int, np.int32, precision=17)
    bias_mant: np.ndarray = LavaPyType(np.ndarray, np.int16, precision=13)
    bias_exp: np.ndarray = LavaPyType(np.ndarray, np.int16, precision=3)
    refractory_period_end: np.ndarray = LavaPyType(np.ndarray, int)

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
        threshold = np.left_shift(np.int32(self.vth), 6)
        before = self.v.copy()
        spikes = self.v > threshold
        self.v[spikes] = 0
        self.refractory_period_end[spikes] = self.time_step + self.proc_params[
            "refractory_period"]
        self.s_out.send(spikes.astype(np.int32))
        self.v_out.send(before.astype(np.int32))
        surrogate, sigma = self.proc_params["surrogate"], self.proc_params["psi_sigma"]
        y1 = np.zeros(before.shape, np.int32)
        if surrogate is not None:
            kind, params = surrogate
            x = (before.astype(float) - float(threshold)) / self.proc_params["scale"]
            y1 = np.clip(np.round(sigma * SURROGATES[kind](x, **params)), -128, 127)
        self.s_out_y1.send(y1.astype(np.int32))
        thirds = self.proc_params["thirds"]
        for slot, port, out in (("y2", self.a_third_y2, self.s_out_y2),
                                ("y3", self.a_third_y3, self.s_out_y3)):
            third = port.recv() if slot in thirds else np.zeros(before.shape)
            out.send(np.clip(third, -128, 127).astype(np.int32))


class FeedbackSubtractLIF1(AbstractProcess):
    """A LIF neuron with 1 synaptic current as the post neuron of feedback
    rules (e-prop, delta): after its spikes it sends its voltage before the reset (v_out, the
    readout's, to the error process), psi(v - vth) as y1 (the surrogate derivative of its
    population, zero without one), and forwards what arrives on a_third_y2 and a_third_y3
    (the learning signals of this step) as y2 and y3. In fixed point (`scale`: the integer
    voltage per unit, `psi_sigma`: y1's units per unit of psi) y1 is round(psi_sigma psi)
    of v - vth = (v - (vth << 6)) / scale, and y2, y3 are the integers received, clipped to
    the engine's [-128, 127]."""

    def __init__(self, *, shape, du, dv, vth, bias_mant, bias_exp, v, refractory_period,
                 v_sub, surrogate, thirds, scale=1.0, psi_sigma=None,
                 name=None):
        super().__init__(shape=shape, name=name, refractory_period=refractory_period,
                         surrogate=surrogate, thirds=thirds, scale=scale, psi_sigma=psi_sigma)
        self.a_in_0 = InPort(shape=shape)
        self.s_out = OutPort(shape=shape)
        self.v_out = OutPort(shape=shape)
        self.a_third_y2 = InPort(shape=shape)
        self.a_third_y3 = InPort(shape=shape)
        self.s_out_y1 = OutPort(shape=shape)
        self.s_out_y2 = OutPort(shape=shape)
        self.s_out_y3 = OutPort(shape=shape)
        self.u = Var(shape=(1,) + tuple(shape), init=0)
        self.v = Var(shape=shape, init=v)
        self.du = Var(shape=(1,), init=np.asarray(du, float))
        self.dv = Var(shape=(1,), init=dv)
        self.vth = Var(shape=(1,), init=vth)
        self.bias_mant = Var(shape=shape, init=bias_mant)
        self.bias_exp = Var(shape=shape, init=bias_exp)
        self.refractory_period_end = Var(shape=shape, init=0)
        self.v_sub = Var(shape=shape, init=v_sub)


@implements(proc=FeedbackSubtractLIF1, protocol=LoihiProtocol)
@requires(CPU)
@tag("floating_pt")
class PyFeedbackSubtractLIF1Float(PyLoihiProcessModel):
    a_in_0: PyInPort = LavaPyType(PyInPort.VEC_DENSE, float)
    s_out: PyOutPort = LavaPyType(PyOutPort.VEC_DENSE, float)
    v_out: PyOutPort = LavaPyType(PyOutPort.VEC_DENSE, float)
    a_third_y2: PyInPort = LavaPyType(PyInPort.VEC_DENSE, float)
    a_third_y3: PyInPort = LavaPyType(PyInPort.VEC_DENSE, float)
    s_out_y1: PyOutPort = LavaPyType(PyOutPort.VEC_DENSE, float)
    s_out_y2: PyOutPort = LavaPyType(PyOutPort.VEC_DENSE, float)
    s_out_y3: PyOutPort = LavaPyType(PyOutPort.VEC_DENSE, float)
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
        before = self.v.copy()  # snnc's membrane before the reset (surrogate(post.v))
        spikes = self.v > self.vth
        self.v[spikes] -= self.v_sub[spikes]
        self.refractory_period_end[spikes] = self.time_step + self.proc_params[
            "refractory_period"]
        self.s_out.send(spikes.astype(float))
        self.v_out.send(before)
        surrogate = self.proc_params["surrogate"]
        if surrogate is None:
            self.s_out_y1.send(np.zeros_like(before))
        else:
            kind, params = surrogate
            self.s_out_y1.send(SURROGATES[kind](before - self.vth, **params))
        thirds = self.proc_params["thirds"]
        y2 = self.a_third_y2.recv() if "y2" in thirds else np.zeros_like(before)
        y3 = self.a_third_y3.recv() if "y3" in thirds else np.zeros_like(before)
        self.s_out_y2.send(y2)
        self.s_out_y3.send(y3)

@implements(proc=FeedbackSubtractLIF1, protocol=LoihiProtocol)
@requires(CPU)
@tag("bit_accurate_loihi", "fixed_pt")
class PyFeedbackSubtractLIF1BitAcc(PyLoihiProcessModel):
    """The integer u, v of SubtractLIF<k>'s bit-accurate model (Lava's LIF arithmetic),
    then y1 = round(psi_sigma psi(v - vth)) of the integer membrane before the reset (psi
    evaluated in floating point, as a lookup table would give it) and the third factors as the
    integers received."""
    a_in_0: PyInPort = LavaPyType(PyInPort.VEC_DENSE, np.int16, precision=16)
    s_out: PyOutPort = LavaPyType(PyOutPort.VEC_DENSE, np.int32, precision=24)
    v_out: PyOutPort = LavaPyType(PyOutPort.VEC_DENSE, np.int32, precision=24)
    a_third_y2: PyInPort = LavaPyType(PyInPort.VEC_DENSE, np.int32, precision=8)
    a_third_y3: PyInPort = LavaPyType(PyInPort.VEC_DENSE, np.int32, precision=8)
    s_out_y1: PyOutPort = LavaPyType(PyOutPort.VEC_DENSE, np.int32, precision=7)
    s_out_y2: PyOutPort = LavaPyType(PyOutPort.VEC_DENSE, np.int32, precision=7)
    s_out_y3: PyOutPort = LavaPyType(PyOutPort.VEC_DENSE, np.int32, precision=7)
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
        threshold = np.left_shift(np.int32(self.vth), 6)
        self.v[~free] = 0
        before = self.v.copy()
        spikes = self.v > threshold
        self.v[spikes] -= self.v_sub[spikes]
        self.refractory_period_end[spikes] = self.time_step + self.proc_params[
            "refractory_period"]
        self.s_out.send(spikes.astype(np.int32))
        self.v_out.send(before.astype(np.int32))
        surrogate, sigma = self.proc_params["surrogate"], self.proc_params["psi_sigma"]
        y1 = np.zeros(before.shape, np.int32)
        if surrogate is not None:
            kind, params = surrogate
            x = (before.astype(float) - float(threshold)) / self.proc_params["scale"]
            y1 = np.clip(np.round(sigma * SURROGATES[kind](x, **params)), -128, 127)
        self.s_out_y1.send(y1.astype(np.int32))
        thirds = self.proc_params["thirds"]
        for slot, port, out in (("y2", self.a_third_y2, self.s_out_y2),
                                ("y3", self.a_third_y3, self.s_out_y3)):
            third = port.recv() if slot in thirds else np.zeros(before.shape)
            out.send(np.clip(third, -128, 127).astype(np.int32))


class ReadoutError(AbstractProcess):
    """The loss's error of a readout at each step, softmax(v) - onehot(label) (cross-entropy),
    from the voltage the readout sent this step (plus `offset`, its v_reset): what snnc's rules
    read as readout_error and send back through random_feedback. `labels` holds the label of
    each time step (the samples one after another; -1: none, the error is zero). In fixed point
    the voltage arrives as an integer (`scale` units per unit) and the error leaves as
    round(sigma e), integers in [-sigma, sigma] (softmax computed in floating point, as Loihi 2's
    embedded CPU would)."""

    def __init__(self, *, shape, labels, offset, scale=1.0, sigma=1.0, name=None):
        super().__init__(shape=shape, name=name, scale=scale, sigma=sigma)
        self.v_in = InPort(shape=shape)
        self.e_out = OutPort(shape=shape)
        self.labels = Var(shape=(len(labels),), init=np.asarray(labels, float))
        self.offset = Var(shape=shape, init=offset)


@implements(proc=ReadoutError, protocol=LoihiProtocol)
@requires(CPU)
@tag("floating_pt")
class PyReadoutErrorFloat(PyLoihiProcessModel):
    v_in: PyInPort = LavaPyType(PyInPort.VEC_DENSE, float)
    e_out: PyOutPort = LavaPyType(PyOutPort.VEC_DENSE, float)
    labels: np.ndarray = LavaPyType(np.ndarray, float)
    offset: np.ndarray = LavaPyType(np.ndarray, float)

    def run_spk(self):
        v = self.v_in.recv() + self.offset
        label = int(self.labels[(self.time_step - 1) % len(self.labels)])
        error = np.zeros_like(v)
        if label >= 0:
            z = np.exp(v - v.max())
            error = z / z.sum()
            error[label] -= 1.0
        self.e_out.send(error)


@implements(proc=ReadoutError, protocol=LoihiProtocol)
@requires(CPU)
@tag("fixed_pt")
class PyReadoutErrorFixed(PyLoihiProcessModel):
    v_in: PyInPort = LavaPyType(PyInPort.VEC_DENSE, np.int32, precision=24)
    e_out: PyOutPort = LavaPyType(PyOutPort.VEC_DENSE, np.int32, precision=8)
    labels: np.ndarray = LavaPyType(np.ndarray, int)
    offset: np.ndarray = LavaPyType(np.ndarray, float)

    def run_spk(self):
        v = self.v_in.recv() / self.proc_params["scale"] + self.offset
        label = int(self.labels[(self.time_step - 1) % len(self.labels)])
        error = np.zeros(v.shape)
        if label >= 0:
            z = np.exp(v - v.max())
            error = z / z.sum()
            error[label] -= 1.0
        sigma = self.proc_params["sigma"]
        self.e_out.send(np.clip(np.round(sigma * error), -128, 127).astype(np.int32))


class RandomFeedback(AbstractProcess):
    """L = B e: the readout's error of this step through the fixed random matrix B [n_post,
    n_out] of a random_feedback rule, sent on at once (no step added, as snnc's L[n] uses
    e[n]). In fixed point it receives round(sigma_in e) and sends round(sigma_out B e),
    integers in [-128, 127] (B e computed in floating point, as Loihi 2's embedded CPU would)."""

    def __init__(self, *, matrix, sigma_in=1.0, sigma_out=1.0, name=None):
        matrix = np.asarray(matrix, float)
        super().__init__(shape=matrix.shape, name=name, sigma_in=sigma_in, sigma_out=sigma_out)
        self.e_in = InPort(shape=(matrix.shape[1],))
        self.l_out = OutPort(shape=(matrix.shape[0],))
        self.matrix = Var(shape=matrix.shape, init=matrix)


@implements(proc=RandomFeedback, protocol=LoihiProtocol)
@requires(CPU)
@tag("floating_pt")
class PyRandomFeedbackFloat(PyLoihiProcessModel):
    e_in: PyInPort = LavaPyType(PyInPort.VEC_DENSE, float)
    l_out: PyOutPort = LavaPyType(PyOutPort.VEC_DENSE, float)
    matrix: np.ndarray = LavaPyType(np.ndarray, float)

    def run_spk(self):
        self.l_out.send(self.matrix @ self.e_in.recv())


@implements(proc=RandomFeedback, protocol=LoihiProtocol)
@requires(CPU)
@tag("fixed_pt")
class PyRandomFeedbackFixed(PyLoihiProcessModel):
    e_in: PyInPort = LavaPyType(PyInPort.VEC_DENSE, np.int32, precision=8)
    l_out: PyOutPort = LavaPyType(PyOutPort.VEC_DENSE, np.int32, precision=8)
    matrix: np.ndarray = LavaPyType(np.ndarray, float)

    def run_spk(self):
        error = self.e_in.recv() / self.proc_params["sigma_in"]
        signal = np.round(self.proc_params["sigma_out"] * (self.matrix @ error))
        self.l_out.send(np.clip(signal, -128, 127).astype(np.int32))


def exception_models(precision):
    """The `exception_proc_model_map` of the run configuration."""
    if precision == "floating_pt":
        return {LearningDense: BoundedLearningDenseFloat}
    return {LIFRefractory: PyLifRefractoryModelBitAcc, LearningDense: BoundedLearningDenseFixed}


if __name__ == "__main__":
    print(__doc__)
