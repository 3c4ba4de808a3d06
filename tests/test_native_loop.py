"""The native loop (simulation.c, snnc.backends.reference.native): a network without learning
or dense projections runs its steps in C, compiled with the system's compiler.

- C and the Python loop (numpy kernels, the independent reference here) give the same
  spikes, membranes, currents, adaptation, counts and events bit for bit, in float64 and
  float32, with batches, delays, per-neuron parameters and decays, every reset and
  adaptation, recording every k steps;
- a membrane that is not finite is reported as the Python loop reports it (the same error,
  the same step), or with allow_nonfinite the run goes on with the same results;
- inputs of every kind (data, Poisson, file) are fed in blocks with the same spikes and the
  Poisson generator left where the Python loop leaves it, also after a fault;
- networks with learning or dense projections have no C version and run as before;
- without a compiler, or when it fails (a warning), or when an array is not what the C code
  expects, the Python loop runs;
- the library is compiled once per content and dtype; user names reach the C file only as
  escaped comments; ``snnc run`` writes the same file with and without it.
"""

import io
import os
import pathlib
import subprocess
import sys
import warnings

import numpy as np
import pytest
from simulate import compile_text, load_module

import snnc
from snnc.backends.reference import ReferenceBackend
from snnc.backends.reference.native import c_comment
from snnc.ir.discrete import build_plan

ROOT = pathlib.Path(__file__).resolve().parents[1]

#: no inputs: bias and initial potentials drive it. Per-neuron time constants (membrane and
#: the model's own current, so per-neuron decays), thresholds and biases, refractoriness, the
#: three resets, adaptation, receptors beside an own current, delays of 0 to 4 steps,
#: recurrence, fixed fan-in and Bernoulli synapses, a non-spiking readout (densities below
#: 0.25: denser projections are stored dense and delivered by numpy's matrix product, which
#: has no C version)
BRANCHES = """network native_branches {
  dt = 1 ms
  seed = 5
}
population syn: CubaLIF[40] {
  tau_mem = uniform(10 ms, 30 ms)
  tau_syn = uniform(3 ms, 8 ms)
  threshold = uniform(0.8, 1.2)
  reset = subtract
  refractory = 2 ms
  bias = uniform(0.6, 1.6)
  v_init = uniform(0, 1)
}
population adapt: ALIF[25] {
  tau_mem = 20 ms
  tau_adapt = 100 ms
  beta_adapt = 0.3
  reset = zero
  v_reset = -0.1
  bias = 1.3
}
population plain: LIF[20] {
  tau_mem = 15 ms
  reset = none
  bias = 0.05
}
population out: LI[5] { tau_mem = 10 ms }
syn -> syn: sparse(p = 0.1) { weight = 0.2 }
adapt -> syn: sparse(p = 0.2) {
  weight = -0.4
  delay = 2 ms
  receptor inhibitory(tau = 10 ms)
}
syn -> plain: fixed_fan_in(k = 8) {
  weight = 0.5
  delay = 4 ms
}
syn -> adapt: sparse(p = 0.2) {
  weight = uniform(0, 0.6)
  receptor slow(tau = 30 ms)
}
plain -> out: sparse(p = 0.15) { weight = 0.2 }
adapt -> out: fixed_fan_in(k = 3) { weight = 0.1 }
"""

#: a membrane that overflows in its second step (a bias of 1e308, no reset), and one fed
#: by its infinite spikes' weights and a Poisson input
EXPLODING = """network exploding {
  dt = 1 ms
  seed = 1
}
input noise[5]: poisson(rate = 300 Hz)
noise -> b: fixed_fan_in(k = 1) { weight = 0.5 }
population a: LIF[6] {
  tau_mem = 10 ms
  reset = none
  bias = 1e308
}
population b: LIF[4] { tau_mem = 10 ms }
a -> b: fixed_fan_in(k = 1) { weight = 1e308 }
"""

#: every kind of input (data, Poisson, a file's spikes), an input's delayed spikes (its ring)
FED = """network fed {{
  dt = 1 ms
  seed = 9
}}
input d[12]
input pz[30]: poisson(rate = 80 Hz)
input f[6]: file("{path}")
population h: LIF[20] {{
  tau_mem = 10 ms
  threshold = 0.5
}}
population g: CubaLIF[8] {{
  tau_mem = 15 ms
  tau_syn = 4 ms
  threshold = 0.4
}}
d -> h: sparse(p = 0.15) {{ weight = 0.6 }}
pz -> h: fixed_fan_in(k = 4) {{
  weight = 0.3
  delay = 3 ms
}}
f -> g: fixed_fan_in(k = 1) {{ weight = 0.9 }}
h -> g: sparse(p = 0.15) {{ weight = 0.4 }}
"""

CASES = {"branches": (BRANCHES, 200), "cuba": ((ROOT / "examples" / "cuba.snn").read_text(), 300)}


def pair(text, folder):
    """The same network loaded twice: C steps, and the Python loop with numpy kernels."""
    net = compile_text(text)
    fast = load_module(net, folder / "c", native=True)
    slow = load_module(net, folder / "python")
    assert fast.NATIVE is not None and (folder / "c" / "simulation.c").exists()
    return fast, slow


def libraries(folder):
    return sorted((folder / "__pycache__").glob("simulation.*.so"))


def every_variable(module):
    """Every recordable variable, among them sums ('a+b': the receptor currents of a
    population without a current of its own, recorded as its 'i')."""
    return list(module.VARIABLES)


def assert_same(a, b):
    assert set(a) == set(b)
    for key in a:
        assert a[key].dtype == b[key].dtype, key
        assert np.array_equal(a[key], b[key], equal_nan=True), key


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("case", sorted(CASES))
def test_c_and_python_loops_agree_bit_for_bit(case, dtype, tmp_path):
    text, steps = CASES[case]
    fast, slow = pair(text, tmp_path)
    record = every_variable(fast)
    assert any("+" in fast.VARIABLES[key][0] for key in record) == (case == "cuba")
    runs = []
    for module in (fast, slow):
        sim = module.Simulation(batch=3, dtype=dtype)
        runs.append(sim.run(steps, record=record))
    assert libraries(tmp_path / "c") and not libraries(tmp_path / "python")
    a, b = runs
    spikes = [key for key in record if key.endswith(".s")]
    assert all(a[key].sum() > 0 for key in spikes), "a population never spiked: a weak test"
    assert len({a[key][:, 0].tobytes() != a[key][:, 1].tobytes() for key in spikes}) >= 1
    assert_same(a, b)


@pytest.mark.parametrize("every", [1, 3, 7])
def test_events_counts_and_every_k_steps_agree(every, tmp_path, monkeypatch):
    """Spike recorders gather their events in blocks (a small block here: many calls of the
    C function per run), counters count every step, dense recorders keep every k-th step."""
    fast, slow = pair(BRANCHES, tmp_path)
    for module in (fast, slow):
        monkeypatch.setattr(module._runtime, "_BLOCK_BYTES", 400)
    runs = [module.Simulation(batch=2).run(333, record=["syn.s", "adapt.s", "out.v", "syn.i"],
                                           every=every, events=True,
                                           count=["syn.s", "plain.s"])
            for module in (fast, slow)]
    assert "syn.s.events.step" in runs[0] and len(runs[0]["syn.s.events.step"]) > 50
    assert_same(*runs)


def test_a_long_run_in_blocks_continues_where_the_last_one_ended(tmp_path):
    """Two runs of 150 steps after each other equal one of 300 (the state carries over)."""
    fast, slow = pair(BRANCHES, tmp_path)
    sim = fast.Simulation()
    first = sim.run(150, record=["syn.v"])["syn.v"]
    second = sim.run(150, record=["syn.v"])["syn.v"]
    whole = slow.Simulation().run(300, record=["syn.v"])["syn.v"]
    assert np.array_equal(np.concatenate([first, second]), whole)


def test_a_membrane_that_is_not_finite_is_reported_as_in_python(tmp_path):
    fast, slow = pair(EXPLODING, tmp_path)
    errors = []
    for module in (fast, slow):
        with pytest.raises(module.NonFiniteError) as caught:
            module.Simulation().run(50, record=["a.v"])
        errors.append(caught.value)
    assert str(errors[0]) == str(errors[1])
    assert (errors[0].owner, errors[0].step, errors[0].value) == \
        (errors[1].owner, errors[1].step, errors[1].value)
    runs, reports = [], []
    for module in (fast, slow):  # the C loop stops at the fault and goes on unchecked
        sim = module.Simulation()
        out = sim.run(50, record=["a.v", "b.v", "b.s", "noise.s"], allow_nonfinite=True)
        runs.append({**out, "next draw": np.array(sim.x0_rng.random())})
        reports.append([str(fault) for fault in sim.nonfinite])
    assert reports[0] == reports[1] and len(reports[0]) == 1
    assert runs[0]["noise.s"].sum() > 20
    assert_same(*runs)


def test_inputs_of_every_kind_agree_over_consecutive_runs(tmp_path):
    """Data, Poisson and file inputs fed a block of steps per call: the same spikes, the
    same state, and the Poisson generator where the Python loop leaves it (a second run
    continues its draws)."""
    rng = np.random.default_rng(4)
    np.save(tmp_path / "f.npy", rng.random((400, 6)) < 0.3)
    fast, slow = pair(FED.format(path=tmp_path / "f.npy"), tmp_path)
    data = rng.random((200, 3, 12)) < 0.2
    runs = []
    for module in (fast, slow):
        sim = module.Simulation(batch=3)
        first = sim.run(200, {"d": data}, record=every_variable(module))
        second = sim.run(150, {"d": data[:150, :1]}, record=["pz.s", "h.v", "g.s"])
        runs.append((first, second, sim.x1_rng.random()))
    assert runs[0][0]["d.s"].sum() > 100 and runs[0][0]["g.s"].sum() > 10
    for a, b in zip(runs[0][:2], runs[1][:2], strict=True):
        assert_same(a, b)
    assert runs[0][2] == runs[1][2]


@pytest.mark.parametrize("extra", [
    "plain -> out as dense_out: dense { weight = 0.1 }\n",
    "plain -> out as denser: sparse(p = 0.6) { weight = 0.1 }\n",
])
def test_dense_projections_have_no_c_version(extra):
    files = ReferenceBackend().emit(compile_text(BRANCHES + extra))
    assert "simulation.c" not in files and "\nNATIVE = None\n" in files["simulation.py"]


def test_learning_has_no_c_version():
    text = (ROOT / "examples" / "stdp.snn").read_text()
    files = ReferenceBackend().emit(compile_text(text))
    assert "simulation.c" not in files and "\nNATIVE = None\n" in files["simulation.py"]


def test_without_a_compiler_the_python_loop_runs(tmp_path, monkeypatch):
    fast, slow = pair(BRANCHES, tmp_path)
    monkeypatch.setattr(fast._runtime, "_compiler", lambda: None)
    runs = [module.Simulation().run(100, record=["syn.v", "adapt.s"]) for module in (fast, slow)]
    assert not libraries(tmp_path / "c")
    assert_same(*runs)


def test_a_failing_compiler_is_a_warning_and_the_python_loop_runs(tmp_path, monkeypatch):
    fast, slow = pair(BRANCHES, tmp_path)
    monkeypatch.setattr(fast._runtime, "_compiler", lambda: "/bin/false")
    with pytest.warns(RuntimeWarning, match="C compiler /bin/false failed"):
        first = fast.Simulation().run(100, record=["syn.v"])
    assert_same(first, slow.Simulation().run(100, record=["syn.v"]))
    with warnings.catch_warnings():  # tried once per process and content
        warnings.simplefilter("error")
        fast.Simulation().run(10)
    assert not libraries(tmp_path / "c")
    assert not list((tmp_path / "c" / "__pycache__").iterdir())  # no build folder left


def test_arrays_that_are_not_what_the_c_code_expects_take_the_python_loop(tmp_path):
    fast, _ = pair(BRANCHES, tmp_path)
    sim = fast.Simulation()
    assert sim._native([]) is not None
    weights = fast.WEIGHTS["syn->syn"]
    post = getattr(sim, weights + "_post")
    saved = post[0]
    post[0] = 40  # an index past the 40 neurons it points into
    assert sim._native([]) is None
    post[0] = -1
    assert sim._native([]) is None
    post[0] = saved
    assert sim._native([]) is not None
    sim.p0_ref = sim.p0_ref.astype(np.int64)  # another type than the C code's
    assert sim._native([]) is None
    sim.reset()
    sim.p0_v = np.asfortranarray(np.zeros((2, 40)))[:1]  # not contiguous, other size
    assert sim._native([]) is None


def test_the_library_is_compiled_once_per_content_and_dtype(tmp_path):
    fast, _ = pair(BRANCHES, tmp_path)
    fast.Simulation().run(5)
    (library,) = libraries(tmp_path / "c")
    stamp = library.stat().st_mtime_ns
    fast._runtime._LIBRARIES.clear()  # as a new process would: found on disk, not rebuilt
    fast.Simulation(batch=4).run(5)
    assert libraries(tmp_path / "c") == [library] and library.stat().st_mtime_ns == stamp
    fast.Simulation(dtype=np.float32).run(5)
    assert len(libraries(tmp_path / "c")) == 2


def test_a_library_file_that_cannot_be_loaded_is_left_alone(tmp_path):
    """A file under the library's name that is no library (a broken copy, someone else's):
    the steps are compiled for this process instead, the file is not replaced, and nothing of
    the private build stays behind; a failing compiler leaves nothing in __pycache__ either."""
    fast, slow = pair(BRANCHES, tmp_path)
    fast.Simulation().run(5)
    (library,) = libraries(tmp_path / "c")
    library.unlink()  # a new file (the loaded one stays mapped in this process)
    library.write_bytes(b"not a library")
    fast._runtime._LIBRARIES.clear()  # as a new process would
    sim = fast.Simulation()
    assert sim._native([]) is not None
    assert_same(sim.run(80, record=["syn.v"]), slow.Simulation().run(80, record=["syn.v"]))
    assert library.read_bytes() == b"not a library"
    assert sorted(p.name for p in (tmp_path / "c" / "__pycache__").iterdir()) == [library.name]


def test_a_folder_that_cannot_be_written_compiles_for_the_process(tmp_path, monkeypatch):
    fast, slow = pair(BRANCHES, tmp_path)

    def refuse(*args, **kwargs):
        raise PermissionError(13, "Permission denied")
    monkeypatch.setattr(fast._runtime.os, "makedirs", refuse)
    runs = [module.Simulation().run(80, record=["syn.v"]) for module in (fast, slow)]
    monkeypatch.undo()
    assert not (tmp_path / "c" / "__pycache__").exists()
    assert_same(*runs)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_a_weight_every_synapse_shares_is_stored_once(dtype, tmp_path):
    """A projection whose weights are all one number keeps that number alone in network.npz
    (an array of one element; no projection keeps its synapses' pre neurons, which only rules read), and
    the simulation builds from it what the per-synapse weights give: the plan's weights in
    the run's dtype, writable; a run from a network.npz holding every weight per synapse
    gives the same spikes and final weights."""
    net = compile_text(BRANCHES)
    plan = build_plan(net, "same_step")
    module = load_module(net, tmp_path, native=True)
    with np.load(tmp_path / "network.npz") as archive:
        stored = {key: archive[key] for key in archive.files}
    shared = [k for k, p in enumerate(plan.projections) if np.unique(p.weights).size == 1]
    assert 0 < len(shared) < len(plan.projections)  # constant and drawn weights both
    per_synapse = dict(stored)
    sim = module.Simulation(dtype=dtype)
    for k, p in enumerate(plan.projections):
        assert f"w{k}_pre" not in stored
        assert stored[f"w{k}"].shape == ((1,) if k in shared else p.weights.shape)
        weights = getattr(sim, f"w{k}")
        assert weights.dtype == dtype and weights.flags.writeable
        assert np.array_equal(weights, np.asarray(p.weights, dtype))
        per_synapse[f"w{k}"] = p.weights
    record = ["syn.s", "adapt.s", "plain.s"]
    shared_run = sim.run(200, record=record)
    whole_run = module.Simulation(dtype=dtype, data=per_synapse).run(200, record=record)
    assert sum(shared_run[key].sum() for key in record) > 0
    assert_same(shared_run, whole_run)


def test_pre_neurons_are_stored_for_the_rules_that_read_them():
    """A rule spreading a per-pre value over the synapses reads ``<w>_pre``: it is stored and
    loaded for that projection alone."""
    net = snnc.load_network(ROOT / "examples" / "alif_eprop_chip.snn")
    files = ReferenceBackend().emit(net)
    with np.load(io.BytesIO(files["network.npz"])) as archive:
        stored = [key for key in archive.files if key.endswith("_pre")]
    assert stored == ["w1_pre"]
    assert "self.w1_pre = self.data['w1_pre']" in files["simulation.py"]
    assert "[:, self.w1_pre]" in files["simulation.py"]


def test_user_names_reach_the_c_file_only_as_escaped_comments():
    assert c_comment("a*/b\n/*c??/\u00e9") == \
        "a\\x2a\\x2fb\\x0a\\x2f\\x2ac??\\x2f\\xc3\\xa9"
    text = BRANCHES.replace("adapt:", "Zq_adapt:").replace("adapt ->", "Zq_adapt ->") \
        .replace("-> adapt", "-> Zq_adapt")
    source = ReferenceBackend().emit(compile_text(text))["simulation.c"]
    named = [line.strip() for line in source.splitlines() if "Zq_adapt" in line]
    assert len(named) >= 4  # its projections, its membrane function and call
    assert all(line.startswith("/*") and line.endswith("*/") and line.count("*/") == 1
               for line in named)


def test_snnc_run_writes_the_same_file_with_and_without_c(tmp_path):
    """Two processes (a process keeps the simulation it loaded, with the choice made when it
    was loaded), each with its own cache: one with SNNC_NO_NATIVE, one compiling the C."""
    files = []
    for native in ("1", ""):
        out = tmp_path / f"out{native}.npz"
        cache = tmp_path / f"cache{native}"
        env = dict(os.environ, SNNC_NO_NATIVE=native, SNNC_CACHE_DIR=str(cache))
        result = subprocess.run([sys.executable, "-m", "snnc", "run",
                                 str(ROOT / "examples" / "cuba.snn"), "--steps", "400",
                                 "--batch", "2", "--record", "exc.s,exc.v,inh.i", "-o", str(out)],
                                env=env, capture_output=True, text=True)
        assert result.returncode == 0, result.stderr
        files.append(out.read_bytes())
        assert bool(list(cache.glob("*/__pycache__/simulation.*.so"))) == (native == "")
    assert files[0] == files[1]
