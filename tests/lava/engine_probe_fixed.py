"""Runs one LearningDense with a Loihi3FLearningRule in Lava's fixed-point engine (the
program's BoundedLearningDenseFixed, PyLearningDenseModelBitApproximate), the post side's
spikes and integer y1..y3 played by a source process, and saves the integer weights at the
end (engine_probe.py's fixed-point twin). A rule that goes through the tag also gives 'dt';
its tag after every step is saved as <output>.tags.npy [steps, post, pre].
Arguments: the program's folder (its models.py), then pairs of input .npz and output .npy,
one connection each, run one after another."""

import sys

import numpy as np
from lava.magma.core.decorator import implements, requires, tag
from lava.magma.core.model.py.model import PyLoihiProcessModel
from lava.magma.core.model.py.ports import PyOutPort
from lava.magma.core.model.py.type import LavaPyType
from lava.magma.core.process.ports.ports import OutPort
from lava.magma.core.process.process import AbstractProcess
from lava.magma.core.process.variable import Var
from lava.magma.core.resources import CPU
from lava.magma.core.sync.protocols.loihi_protocol import LoihiProtocol


class PostFactors(AbstractProcess):
    """Plays the post neurons' spikes and y1, y2, y3 ([4, n, steps], integers)."""

    def __init__(self, data):
        super().__init__()
        n = data.shape[1]
        self.data = Var(shape=data.shape, init=data)
        self.s_out = OutPort(shape=(n,))
        self.s_out_y1 = OutPort(shape=(n,))
        self.s_out_y2 = OutPort(shape=(n,))
        self.s_out_y3 = OutPort(shape=(n,))


@implements(proc=PostFactors, protocol=LoihiProtocol)
@requires(CPU)
@tag("fixed_pt")
class PyPostFactorsFixed(PyLoihiProcessModel):
    data: np.ndarray = LavaPyType(np.ndarray, np.int32)
    s_out: PyOutPort = LavaPyType(PyOutPort.VEC_DENSE, np.int32, precision=1)
    s_out_y1: PyOutPort = LavaPyType(PyOutPort.VEC_DENSE, np.int32, precision=7)
    s_out_y2: PyOutPort = LavaPyType(PyOutPort.VEC_DENSE, np.int32, precision=7)
    s_out_y3: PyOutPort = LavaPyType(PyOutPort.VEC_DENSE, np.int32, precision=7)

    def run_spk(self):
        k = (self.time_step - 1) % self.data.shape[2]
        self.s_out.send(self.data[0, :, k].astype(np.int32))
        self.s_out_y1.send(self.data[1, :, k].astype(np.int32))
        self.s_out_y2.send(self.data[2, :, k].astype(np.int32))
        self.s_out_y3.send(self.data[3, :, k].astype(np.int32))


def main(program, *files):
    sys.path.insert(0, program)
    for inputs, output in zip(files[::2], files[1::2], strict=True):
        run(inputs, output)


def run(inputs, output):
    from lava.magma.core.learning.learning_rule import Loihi3FLearningRule
    from lava.magma.core.run_conditions import RunSteps
    from lava.magma.core.run_configs import Loihi2SimCfg
    from lava.proc.dense.process import LearningDense
    from lava.proc.io.source import RingBuffer
    from models import exception_models

    given = np.load(inputs, allow_pickle=False)
    traces = {str(k): float(given[k]) for k in given.files if k.startswith("x")}
    tag = {"dt": str(given["dt"])} if "dt" in given.files else {}
    rule = Loihi3FLearningRule(dw=str(given["dw"]), rng_seed=int(given["seed"]), **tag, **traces)
    pre = RingBuffer(data=given["pre"].astype(np.int32))
    post = PostFactors(given["post"].astype(np.int32))
    dense = LearningDense(weights=given["w"].copy(), learning_rule=rule,
                          weight_exp=int(given["weight_exp"]), num_weight_bits=8)
    pre.s_out.connect(dense.s_in)
    post.s_out.connect(dense.s_in_bap)
    post.s_out_y1.connect(dense.s_in_y1)
    post.s_out_y2.connect(dense.s_in_y2)
    post.s_out_y3.connect(dense.s_in_y3)
    config = Loihi2SimCfg(select_tag="fixed_pt",
                          exception_proc_model_map=exception_models("fixed_pt"))
    steps = given["pre"].shape[1]
    tags = []
    try:
        if "dt" in given.files:  # step by step, keeping the tag after each step
            for _ in range(steps):
                dense.run(condition=RunSteps(num_steps=1), run_cfg=config)
                tags.append(dense.tag_1.get().copy())
        else:
            dense.run(condition=RunSteps(num_steps=steps), run_cfg=config)
        weights = dense.weights.get().copy()
    finally:
        dense.stop()
    np.save(output, weights)
    if tags:
        np.save(output.replace(".npy", ".tags.npy"), np.array(tags))


if __name__ == "__main__":
    main(*sys.argv[1:])
