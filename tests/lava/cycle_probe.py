"""The e-prop signal path in Lava's step protocol, with stand-in arithmetic: a hidden
neuron sends its spikes (through a Dense, one step later, into a readout) and then waits on its
third factor; the readout sends its voltage and then waits on its own; an error process reads
the voltage and sends the error to the readout and to a feedback process, which sends it on to
the hidden neuron. Every process records what it received, so the caller can check that the
third factors of a time step come from the readout's voltage of that same step (no Dense in the
return path, no deadlock).

usage: python cycle_probe.py STEPS OUT.npz
"""

import sys

import numpy as np
from lava.magma.core.decorator import implements, requires, tag
from lava.magma.core.model.py.model import PyLoihiProcessModel
from lava.magma.core.model.py.ports import PyInPort, PyOutPort
from lava.magma.core.model.py.type import LavaPyType
from lava.magma.core.process.ports.ports import InPort, OutPort
from lava.magma.core.process.process import AbstractProcess
from lava.magma.core.process.variable import Var
from lava.magma.core.resources import CPU
from lava.magma.core.sync.protocols.loihi_protocol import LoihiProtocol

N_HIDDEN, N_OUT = 3, 2


class Hidden(AbstractProcess):
    """Fires every other step (neuron 0) or every third (others); records its third factor."""

    def __init__(self, steps):
        super().__init__()
        self.s_out = OutPort(shape=(N_HIDDEN,))
        self.a_third = InPort(shape=(N_HIDDEN,))
        self.got = Var(shape=(steps, N_HIDDEN), init=np.zeros((steps, N_HIDDEN)))


class Readout(AbstractProcess):
    """v <- 0.5 v + input; sends v, then records its third factor."""

    def __init__(self, steps):
        super().__init__()
        self.a_in = InPort(shape=(N_OUT,))
        self.v_out = OutPort(shape=(N_OUT,))
        self.a_third = InPort(shape=(N_OUT,))
        self.v = Var(shape=(N_OUT,), init=np.zeros(N_OUT))
        self.sent = Var(shape=(steps, N_OUT), init=np.zeros((steps, N_OUT)))
        self.got = Var(shape=(steps, N_OUT), init=np.zeros((steps, N_OUT)))


class Error(AbstractProcess):
    """e = 2 v + 1, to the readout and the feedback."""

    def __init__(self):
        super().__init__()
        self.v_in = InPort(shape=(N_OUT,))
        self.e_out = OutPort(shape=(N_OUT,))
        self.f_out = OutPort(shape=(N_OUT,))


class Feedback(AbstractProcess):
    """L = B e with B = [[1, 0], [0, 1], [1, 1]]."""

    def __init__(self):
        super().__init__()
        self.e_in = InPort(shape=(N_OUT,))
        self.l_out = OutPort(shape=(N_HIDDEN,))


@implements(proc=Hidden, protocol=LoihiProtocol)
@requires(CPU)
@tag("floating_pt")
class PyHidden(PyLoihiProcessModel):
    s_out: PyOutPort = LavaPyType(PyOutPort.VEC_DENSE, float)
    a_third: PyInPort = LavaPyType(PyInPort.VEC_DENSE, float)
    got: np.ndarray = LavaPyType(np.ndarray, float)

    def run_spk(self):
        k = self.time_step
        self.s_out.send(np.array([k % 2 == 0, k % 3 == 0, k % 3 == 0], float))
        self.got[k - 1] = self.a_third.recv()


@implements(proc=Readout, protocol=LoihiProtocol)
@requires(CPU)
@tag("floating_pt")
class PyReadout(PyLoihiProcessModel):
    a_in: PyInPort = LavaPyType(PyInPort.VEC_DENSE, float)
    v_out: PyOutPort = LavaPyType(PyOutPort.VEC_DENSE, float)
    a_third: PyInPort = LavaPyType(PyInPort.VEC_DENSE, float)
    v: np.ndarray = LavaPyType(np.ndarray, float)
    sent: np.ndarray = LavaPyType(np.ndarray, float)
    got: np.ndarray = LavaPyType(np.ndarray, float)

    def run_spk(self):
        k = self.time_step
        self.v[:] = 0.5 * self.v + self.a_in.recv()
        self.v_out.send(self.v.copy())
        self.sent[k - 1] = self.v
        self.got[k - 1] = self.a_third.recv()


@implements(proc=Error, protocol=LoihiProtocol)
@requires(CPU)
@tag("floating_pt")
class PyError(PyLoihiProcessModel):
    v_in: PyInPort = LavaPyType(PyInPort.VEC_DENSE, float)
    e_out: PyOutPort = LavaPyType(PyOutPort.VEC_DENSE, float)
    f_out: PyOutPort = LavaPyType(PyOutPort.VEC_DENSE, float)

    def run_spk(self):
        e = 2.0 * self.v_in.recv() + 1.0
        self.e_out.send(e)
        self.f_out.send(e)


@implements(proc=Feedback, protocol=LoihiProtocol)
@requires(CPU)
@tag("floating_pt")
class PyFeedback(PyLoihiProcessModel):
    e_in: PyInPort = LavaPyType(PyInPort.VEC_DENSE, float)
    l_out: PyOutPort = LavaPyType(PyOutPort.VEC_DENSE, float)

    def run_spk(self):
        self.l_out.send(np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]]) @ self.e_in.recv())


def main(steps, output):
    from lava.magma.core.run_conditions import RunSteps
    from lava.magma.core.run_configs import Loihi2SimCfg
    from lava.proc.dense.process import Dense

    steps = int(steps)
    hidden, readout, error, feedback = Hidden(steps), Readout(steps), Error(), Feedback()
    dense = Dense(weights=np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 1.0]]))
    hidden.s_out.connect(dense.s_in)
    dense.a_out.connect(readout.a_in)
    readout.v_out.connect(error.v_in)
    error.e_out.connect(readout.a_third)
    error.f_out.connect(feedback.e_in)
    feedback.l_out.connect(hidden.a_third)
    try:
        hidden.run(condition=RunSteps(num_steps=steps), run_cfg=Loihi2SimCfg())
        out = {"hidden": hidden.got.get(), "readout": readout.got.get(),
               "v": readout.sent.get()}
    finally:
        hidden.stop()
    np.savez(output, **out)


if __name__ == "__main__":
    main(*sys.argv[1:3])
