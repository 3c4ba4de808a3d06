"""DECOLLE on Lava's learning engine (issue 17): every class-b rule that check --target loihi2
accepts runs in the Lava program, DECOLLE's local readout included. The program's
LocalReadout receives the hidden layer's spikes and sends L = R^T (R s - onehot(label)) back
within the step; the rule runs as e-prop's form on the engine (x1/x2 the cascade of its two
filters, psi as y1, L as y2 or y3).

examples/randman/decolle.snn on the reduced Randman, trained online in Lava (run.py --split
train) and by the simulator's rules (--update step, batch 1, --delivery next_step):
- at its own rates (Adam's, used as plain steps), one sample ends on the simulator's weights
  (measured 2.6e-15; the training is chaotic at these rates, 1.5e-8 after 3 samples);
- with per-step rates (lr 3e-7 for the local rules, 3e-5 for the readout's delta, as
  eprop_random_online.snn) over 20 samples.
About 45 s."""

from __future__ import annotations

import shutil
import subprocess

import numpy as np

from snnc import api
from snnc.diagnostics import Diagnostics
from tests.lava.conftest import ROOT
from tests.lava.test_eprop_lava import randman3, reference_training

DECOLLE = ROOT / "examples" / "randman" / "decolle.snn"


def compile_variant(programs, tmp_path, text: str, name: str):
    source = tmp_path / f"{name}.snn"
    source.write_text(text)
    shutil.copy(DECOLLE.parent / "common.snn", tmp_path / "common.snn")
    program = programs.compile(source, name)
    network = (program / "network.py").read_text()
    assert network.count("LocalReadout(") == 2
    net = api.compile_network(str(source), Diagnostics())
    return program, net


def test_decolle_learns_in_lava_as_the_reference(programs, tmp_path):
    data_file = tmp_path / "randman3.npz"
    data = randman3(data_file)
    text = DECOLLE.read_text()
    online = text.replace("lr = 2e-4", "lr = 3e-7").replace("lr = 2e-3", "lr = 3e-5")
    assert online.count("lr = 3e-7") == 2 and online.count("lr = 3e-5") == 1
    for name, source, samples in (("decolle", text, 1), ("decolle_online", online, 20)):
        program, net = compile_variant(programs, tmp_path, source, name)
        module, history = reference_training(net, data, {samples})
        lava = programs.lava(program, 100, "--input", str(data_file), "--split", "train",
                             "--samples", str(samples))
        for projection in module.WEIGHTS:
            moved = np.abs(history[samples][projection] - history[0][projection]).max()
            assert moved > 1e-5, (name, projection)  # it learned
            np.testing.assert_allclose(lava[projection + ".w"], history[samples][projection],
                                       rtol=0, atol=1e-12, err_msg=f"{name}: {projection}")


def test_a_label_beyond_the_local_readout_is_one_error_line(programs, tmp_path):
    """Labels 0..2 (the sixth sample is of class 2) against a local readout of 2 classes: run.py stops before running with one
    'run.py: error:' line naming the readout (snnc run refuses the same data)."""
    data_file = tmp_path / "randman3.npz"
    randman3(data_file)
    text = DECOLLE.read_text().replace("readout_size = 10", "readout_size = 2")
    assert text.count("readout_size = 2") == 2
    program, _ = compile_variant(programs, tmp_path, text, "decolle_small")
    run = subprocess.run([programs.python, "run.py", "--input", str(data_file), "--split",
                          "train", "--samples", "6", "-o", str(tmp_path / "out.npz")],
                         cwd=program, capture_output=True, text=True)
    assert run.returncode == 1, run.stdout + run.stderr
    lines = run.stderr.strip().splitlines()
    assert lines == ["run.py: error: --input: a label is not one of the 2 classes (0 to 1) of the "
                     "local readout of 'units->hidden'"], run.stderr
    assert not (tmp_path / "out.npz").exists()
