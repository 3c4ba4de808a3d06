"""Pair STDP recognised from a rule's expressions and run on NEST's ``stdp_synapse``.

``examples/stdp.snn`` with the standard library's ``stdp_nest`` (NEST's pairing convention),
compiled with ``--connectivity exact --poisson exact``:

- replay: ``run.py --replay`` drives the plastic projection alone with the spikes ``snnc run``
  recorded (parrot neurons on both sides, network.py's ``replay``): NEST's final weights agree
  with snnc's to 1e-6 (measured 5e-17);
- closed loop: ``run.py`` runs the network; NEST pairs a pre spike with post spikes shifted by
  the dendritic delay, and the offsets that make the spikes identical shift them once more:
  NEST's pair times are 2 D + lag steps later on the post side (2 here). Checked with a replay
  built here, independently of the emitted code (spike_generator -> parrot_neuron on both
  sides, the plastic connection on the post parrots' receptor 1, which a parrot ignores): with
  snnc's spikes and the post spikes shifted by 2 steps it gives NEST's closed-loop weights on
  every post neuron whose spikes agree.

Timing of the replay built here: snnc pairs a pre spike as it reaches the synapse (step n_pre +
d, d the plan's effective delay) with a post spike at n_post; NEST pairs a pre spike at t with
post spikes at t_post + D (D the dendritic delay, 1 step here). The pre parrots fire at
(n_pre + d + K) h and the post parrots at (n_post + K - D + shift) h. NEST potentiates lazily,
at the next pre spike: one more pre spike far after the run (K_minus decayed below 1e-25)
flushes it.
"""

from __future__ import annotations

import pathlib
import subprocess
import sys

import numpy as np
import pytest

from snnc import recordings

ROOT = pathlib.Path(__file__).resolve().parents[2]
STEPS, K, D_NEST, FLUSH = 1000, 8, 1, 2000


def replay(args: dict) -> np.ndarray:
    """NEST's final weights [post, pre] (runs in a subprocess: it imports nest)."""
    import nest
    nest.set_verbosity("M_ERROR")
    nest.ResetKernel()
    h = float(args["h"])
    nest.resolution = h
    pre_spikes, post_spikes = args["pre"], args["post"]  # [steps, n] bool
    n_pre, n_post = pre_spikes.shape[1], post_spikes.shape[1]

    def parrots(spikes, shift, extra=()):
        generators = nest.Create("spike_generator", spikes.shape[1])
        nodes = nest.Create("parrot_neuron", spikes.shape[1])
        generators.set([{"spike_times": [float((n + shift - 1) * h) for n in
                                         [*np.flatnonzero(spikes[:, k]), *extra]]}
                        for k in range(spikes.shape[1])])
        nest.Connect(generators, nodes, "one_to_one", {"delay": h})
        return nodes

    steps = len(pre_spikes)
    pre = parrots(pre_spikes, int(args["delay"]) + K, extra=(steps + FLUSH,))
    post = parrots(post_spikes, K - D_NEST + int(args["shift"]))
    post.set(tau_minus=float(args["tau_minus"]))
    synapse = {key: float(args[key]) for key in ("tau_plus", "lambda", "alpha", "mu_plus",
                                                  "mu_minus", "Wmax")}
    nest.CopyModel("stdp_synapse", "snnc_stdp", synapse)
    w0 = args["w0"]
    sources = np.repeat(np.asarray(pre.tolist()), n_post)
    targets = np.tile(np.asarray(post.tolist()), n_pre)
    weights = w0.T.reshape(-1)  # [pre, post] order as sources/targets
    nest.Connect(sources, targets, "one_to_one",
                 {"synapse_model": "snnc_stdp", "weight": weights, "receptor_type": 1,
                  "delay": np.full(len(sources), D_NEST * h)})
    nest.Simulate((steps + FLUSH + int(args["delay"]) + K + 2) * h)
    got = nest.GetConnections(pre, post).get(["source", "target", "weight"])
    out = np.full((n_post, n_pre), np.nan)
    out[np.asarray(got["target"]) - post[0].global_id,
        np.asarray(got["source"]) - pre[0].global_id] = got["weight"]
    return out


def stdp_nest_example(folder: pathlib.Path) -> pathlib.Path:
    text = (ROOT / "examples" / "stdp.snn").read_text()
    assert "learn stdp(" in text and "record out.s, out.v, poisson_in->out.w" in text
    text = text.replace("learn stdp(", "learn stdp_nest(").replace(
        "record out.s, out.v, poisson_in->out.w", "record out.s, poisson_in.s, poisson_in->out.w")
    path = folder / "stdp_nest.snn"
    path.write_text(text)
    return path


def nest_arguments(path: pathlib.Path) -> dict:
    """The network's initial weights, delay and NEST synapse parameters (scale 1: the parrots
    take snnc's weights as they are)."""
    from snnc.api import load_network
    from snnc.backends.nest.rules import recognise
    from snnc.diagnostics import Diagnostics
    from snnc.ir.discrete import build_plan
    diag = Diagnostics()
    net = load_network(str(path), diag)
    assert net is not None and not diag.has_errors
    projection = next(p for p in net.projections() if p.rules)
    stdp = recognise(net, projection.rules[0])
    plan = build_plan(net)
    p = next(x for x in plan.projections if x.name == projection.name)
    h = net.settings.dt * 1000.0
    return {"h": h, "delay": p.delay, "w0": p.weights, "tau_minus": stdp.post_tau_minus(h),
            **stdp.synapse(h, 1.0)}


@pytest.fixture(scope="module")
def compiled(tmp_path_factory):
    """snnc run's recording of the example in NEST's convention, and the emitted program."""
    tmp_path = tmp_path_factory.mktemp("stdp")
    source = stdp_nest_example(tmp_path)
    recording = tmp_path / "snnc.npz"
    result = subprocess.run([sys.executable, "-m", "snnc", "run", str(source), "--steps",
                             str(STEPS), "-o", str(recording)], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    program = tmp_path / "program"
    result = subprocess.run([sys.executable, "-m", "snnc", "compile", str(source), "--emit",
                             "nest", "-o", str(program), "--connectivity", "exact", "--poisson",
                             "exact"], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    return source, recording, program, recordings.load(recording)


def run_program(program, *args) -> dict:
    result = subprocess.run([sys.executable, "run.py", *args], cwd=program,
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    return recordings.load(program / args[-1])


def test_replayed_spikes_give_snnc_weights(compiled):
    """run.py --replay: the same spikes on both sides give snnc's final weights to 1e-6."""
    source, recording, program, snnc = compiled
    final = snnc["poisson_in->out.w"]
    w0 = nest_arguments(source)["w0"]
    assert snnc["out.s"].sum() > 10 and snnc["poisson_in.s"].sum() > 1000  # pairs to learn from
    assert (np.abs(final - w0) > 1e-4).mean() > 0.5  # the rule did change the weights
    nest = run_program(program, "--replay", str(recording), "-o", "out.npz")
    assert np.max(np.abs(nest["poisson_in->out.w"] - final)) < 1e-6


def test_closed_loop_weights_differ_by_the_pair_shift(compiled, tmp_path):
    """In a closed loop NEST pairs post spikes 2 D + lag = 2 steps later than snnc: replayed
    with that shift, snnc's spikes give NEST's weights where the post spikes agree."""
    source, _, program, snnc = compiled
    nest = run_program(program, "--steps", str(STEPS), "-o", "closed.npz")
    ours, theirs = nest["out.s"][:, 0], snnc["out.s"][:, 0]
    assert (ours[:400] == theirs[:400]).all() and theirs[:400].sum() > 5
    agree = [k for k in range(ours.shape[1]) if (ours[:, k] == theirs[:, k]).all()]
    assert len(agree) >= ours.shape[1] // 2
    difference = np.abs(nest["poisson_in->out.w"] - snnc["poisson_in->out.w"])
    assert difference.max() > 1e-3  # the shift matters
    arguments = nest_arguments(source)
    np.savez(tmp_path / "args.npz", pre=snnc["poisson_in.s"][:, 0], post=theirs, shift=2,
             **arguments)
    result = subprocess.run([sys.executable, __file__, str(tmp_path / "args.npz"),
                             str(tmp_path / "nest.npy")], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    shifted = np.load(tmp_path / "nest.npy")
    assert np.max(np.abs(shifted - nest["poisson_in->out.w"])[agree]) < 1e-12


def test_replay_without_the_spikes_it_needs_is_an_error(compiled, tmp_path):
    _, _, program, snnc = compiled
    np.savez(tmp_path / "partial.npz", **{"poisson_in.s": snnc["poisson_in.s"]})
    result = subprocess.run([sys.executable, "run.py", "--replay", str(tmp_path / "partial.npz"),
                             "-o", str(tmp_path / "w.npz")], cwd=program, capture_output=True,
                            text=True)
    assert result.returncode == 1 and "no spikes 'out.s'" in result.stderr, result.stderr
    assert "Traceback" not in result.stderr


if __name__ == "__main__":
    with np.load(sys.argv[1]) as archive:
        arguments = {key: archive[key] for key in archive.files}
    np.save(sys.argv[2], replay(arguments))
