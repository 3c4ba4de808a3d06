"""e-prop with random feedback on Lava's learning engine (issue 17, part B): the rule strings of
snnc.backends.lava.feedback run in Lava 0.10.0's floating-point LearningDense (with the
program's BoundedLearningDenseFloat, which reads the y1..y3 the post side sends) and learn what
the reference simulator's rules learn.

examples/randman/eprop_random.snn learns one sample under ``--delivery next_step`` in the
reference simulator (its rules on, as ``snnc train --update step`` with batch 1); each step's
pre spikes, the post neurons' surrogate derivative psi(u - threshold), the learning signals
L = B e (B per projection) and the readout's error e are recorded. engine_probe.py plays them
to one LearningDense per projection in Lava (the pre spikes through a RingBuffer, psi as y1, the
signal as y2, or y3 for the recurrent projection, as the translation assigns them) with the
translated rule (``x1 * y1 * y2 * u0 - x2 * y1 * y2 * u0``: the cascade zbar as two pre traces
with the learning rate in their impulses). dw does not read w, so the replay ends on the
simulator's weights exactly when the engine computes the rule as the translation says: the
pre spike and the y's Lava's source processes send at the same time step meet in one update.
"""

from __future__ import annotations

import shutil
import subprocess

import numpy as np

from snnc import api
from snnc.backends.lava import feedback as fb
from snnc.backends.reference.runner import load_simulation
from snnc.diagnostics import Diagnostics
from tests.lava.conftest import HERE, ROOT, snnc

STEPS = 60
SLOTS = {"units->hidden": "y2", "hidden->hidden": "y3", "hidden->out": "y2"}
SIGNALS = {"units->hidden": "units->hidden.L", "hidden->hidden": "hidden->hidden.L",
           "hidden->out": "hidden->out.err"}


def reference_sample():
    """(network, simulation module, initial weights, learned weights, per-step records)."""
    net = api.compile_network(str(ROOT / "examples/randman/eprop_random.snn"), Diagnostics())
    module = load_simulation(net, "next_step")
    sim = module.Simulation(batch=1)
    initial = {name: getattr(sim, attr).copy() for name, attr in module.WEIGHTS.items()}
    rng = np.random.default_rng(4)
    x = np.zeros((STEPS, 1, 20), bool)
    x[rng.integers(0, 30, 20), 0, np.arange(20)] = True
    records = {key: [] for key in ("units", "hidden", "u", *SIGNALS.values())}
    u_attribute = module.VARIABLES["hidden.v"][0][:-1] + "u"

    def record(_):
        records["units"].append(sim._state(module.VARIABLES["units.s"][0])[0].astype(float))
        records["hidden"].append(sim._state(module.VARIABLES["hidden.s"][0])[0].astype(float))
        records["u"].append(getattr(sim, u_attribute)[0].copy())
        for key in SIGNALS.values():
            records[key].append(sim._state(module.VARIABLES[key][0])[0].copy())

    label = np.array([6])
    sim.run(STEPS, {"units": x}, learn=True, targets={"out": label, "label": label},
            progress=record)
    learned = {name: getattr(sim, attr).copy() for name, attr in module.WEIGHTS.items()}
    return net, initial, learned, {k: np.array(v) for k, v in records.items()}


def test_eprop_rules_learn_in_lava_as_the_reference(tmp_path, lava_interpreter):
    source = tmp_path / "rstdp_loihi.snn"  # its models.py: the learning dense of the program
    shutil.copy(ROOT / "examples" / "rstdp_loihi.snn", source)
    result = snnc("compile", str(source), "--emit", "lava", "-o", str(tmp_path / "program"))
    assert result.returncode == 0, result.stdout + result.stderr
    shutil.copy(HERE / "engine_probe.py", tmp_path / "engine_probe.py")
    net, initial, learned, records = reference_sample()
    for projection in net.projections():
        name = projection.name
        translated = fb.translate(net, projection, projection.rules[0], 1.0, SLOTS[name])
        rule = translated.rule
        post = np.zeros((4, initial[name].shape[0], STEPS))
        if translated.surrogate is not None:
            post[1] = fb.surrogate(*translated.surrogate, records["u"] - 1.0).T
        post[{"y2": 2, "y3": 3}[rule.third.slot]] = records[SIGNALS[name]].T
        args = {"dw": rule.dw, "pre": records[projection.pre].T, "post": post,
                "w": initial[name]}
        args |= {f"{t.slot}_{key}": getattr(t, key) for t in rule.traces
                 for key in ("impulse", "tau")}
        np.savez(tmp_path / "in.npz", **args)
        run = subprocess.run([lava_interpreter, "engine_probe.py", "program", "in.npz",
                              "out.npy"], cwd=tmp_path, capture_output=True, text=True)
        assert run.returncode == 0, run.stdout + run.stderr
        lava = np.load(tmp_path / "out.npy")
        assert np.abs(learned[name] - initial[name]).max() > 1e-4, name  # it learned
        np.testing.assert_allclose(lava, learned[name], rtol=0, atol=1e-12, err_msg=name)


def test_error_and_feedback_reach_the_neurons_in_the_same_step(tmp_path, lava_interpreter):
    """cycle_probe.py: the readout sends its voltage and then waits on its third factor, the
    hidden neurons send their spikes and then wait on theirs; an error process and a feedback
    process between them, connected port to port (no Dense), deliver e[k] = 2 v[k] + 1 and
    B e[k] within the time step k of v[k], and the spikes still reach the readout one step later
    through the Dense: snnc's L[n] from e[n], no step added on the way back."""
    shutil.copy(HERE / "cycle_probe.py", tmp_path / "cycle_probe.py")
    steps = 12
    run = subprocess.run([lava_interpreter, "cycle_probe.py", str(steps), "out.npz"],
                         cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stdout + run.stderr
    with np.load(tmp_path / "out.npz") as out:
        v, readout, hidden = out["v"], out["readout"], out["hidden"]
    error = 2.0 * v + 1.0
    np.testing.assert_array_equal(readout, error)
    np.testing.assert_array_equal(hidden, error @ np.array([[1.0, 0.0, 1.0], [0.0, 1.0, 1.0]]))
    # the hidden spikes of time step k (neuron 0 at even k) reach the readout at k + 1
    expected = np.zeros((steps, 2))
    for k in range(1, steps + 1):
        spikes = np.array([k % 2 == 0, k % 3 == 0, k % 3 == 0], float)
        if k < steps:
            expected[k] = 0.5 * expected[k - 1] + np.array([[1, 0, 0], [0, 1, 1]]) @ spikes
    np.testing.assert_array_equal(v, expected)


TRAIN = 20  # training samples


def randman3(path):
    """A reduced Randman (3 classes, 100 samples each: 240 train, 30 test) in the layout of
    snnc train --save-data."""
    from snnc.datasets.randman import RandmanOptions, generate
    data = generate(RandmanOptions(classes=3, samples=100, seed=0))
    np.savez(path, **{f"{split}.units": data.spikes[split] for split in ("train", "test")},
             **{f"{split}.label": data.labels[split] for split in ("train", "test")})
    return data


def reference_training(net, data, samples: int):
    """The simulator's rules over the first training samples, one at a time (--update step,
    batch 1, --delivery next_step): the weights after each sample."""
    module = load_simulation(net, "next_step")
    sim = module.Simulation(batch=1)
    x, labels = data.spikes["train"], data.labels["train"]
    history = []
    for b in range(samples):
        sim.reset()
        sim.run(x.shape[0], {"units": x[:, b:b + 1]}, learn=True,
                targets={"out": labels[b:b + 1], "label": labels[b:b + 1]})
        history.append({name: getattr(sim, attr).copy() for name, attr in module.WEIGHTS.items()})
    return module, history


def frozen_accuracy(module, weights, data) -> float:
    """Test accuracy of the frozen network with ``weights`` (the simulator decides)."""
    sim = module.Simulation(batch=len(data.labels["test"]))
    for name, attr in module.WEIGHTS.items():
        getattr(sim, attr)[...] = weights[name]
    x = data.spikes["test"]
    out = sim.run(x.shape[0], {"units": x}, learn=False, record=["out.v"])
    return float((out["out.v"].sum(axis=0).argmax(axis=-1) == data.labels["test"]).mean())


def perturbed_deviation(module, data, samples: int) -> float:
    """How far the simulator's own training ends from itself when the recurrent weights start
    1e-15 (relative) away: the floating-point sensitivity of this network's training."""
    a, b = module.Simulation(batch=1), module.Simulation(batch=1)
    attribute = module.WEIGHTS["hidden->hidden"]
    getattr(b, attribute)[...] *= 1 + 1e-15
    x, labels = data.spikes["train"], data.labels["train"]
    for k in range(samples):
        for sim in (a, b):
            sim.reset()
            sim.run(x.shape[0], {"units": x[:, k:k + 1]}, learn=True,
                    targets={"out": labels[k:k + 1], "label": labels[k:k + 1]})
    return max(float(np.abs(getattr(a, w) - getattr(b, w)).max())
               for w in module.WEIGHTS.values())


def test_eprop_random_trains_online_in_lava_as_snnc(programs, tmp_path):
    """examples/randman/eprop_random.snn emitted for Lava trains online over 20 samples of a
    reduced Randman (run.py --split train: the state reset between samples, the weights kept,
    the labels per sample to the error process) as the simulator's rules do (--update step,
    batch 1, --delivery next_step), and the frozen networks' test accuracies are equal.

    The training is chaotic in the weights: the simulator itself, its recurrent weights scaled
    by 1 + 1e-15, ends 2.6e-6 away after 10 samples and 0.04 after 20 (measured). Lava
    computes the neurons with other floating-point roundings (u, v, the Dense sums), so its
    weights leave snnc's at that rate: 4e-16 after 2 samples, 3.5e-7 after 10, 1.6e-4 after
    20 (measured); the oracle is the simulator's own sensitivity: Lava ends closer to snnc
    than snnc to itself under the perturbation. The learning signals themselves are exact
    (test_eprop_rules_learn_in_lava_as_the_reference)."""
    source = tmp_path / "eprop_random.snn"
    shutil.copy(ROOT / "examples/randman/eprop_random.snn", source)
    shutil.copy(ROOT / "examples/randman/common.snn", tmp_path / "common.snn")
    program = programs.compile(source, "eprop_random")
    network = (program / "network.py").read_text()
    assert "RandomFeedback(" in network and "ReadoutError(" in network
    data = randman3(tmp_path / "randman3.npz")
    net = api.compile_network(str(source), Diagnostics())
    module, history = reference_training(net, data, TRAIN)
    lava = {n: programs.lava(program, 100, "--input", str(tmp_path / "randman3.npz"), "--split",
                             "train", "--samples", str(n)) for n in (2, TRAIN)}
    start = module.Simulation(batch=1)
    sensitivity = perturbed_deviation(module, data, TRAIN)
    for name, attribute in module.WEIGHTS.items():
        assert np.abs(history[-1][name] - getattr(start, attribute)).max() > 1e-3, name
        assert np.abs(lava[2][name + ".w"] - history[1][name]).max() < 1e-12, name
        deviation = np.abs(lava[TRAIN][name + ".w"] - history[-1][name]).max()
        assert deviation < min(1e-3, sensitivity), name
    trained = {name: lava[TRAIN][name + ".w"] for name in module.WEIGHTS}
    assert frozen_accuracy(module, trained, data) == frozen_accuracy(module, history[-1], data)
    assert float(lava[TRAIN]["seconds_per_sample"]) > 0
