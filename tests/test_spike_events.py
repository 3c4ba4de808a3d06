"""Spikes recorded as events (snnc.recordings): the reference simulator's events are
np.nonzero of its own dense recording (the oracle: the same run with dense=True), whatever the
block boundaries; counts come from them; outputs are compressed and byte-identical for the same
input and seed; the weights keep the run's dtype; the Python API and the Lava/NEST programs'
writer give and read the same layout."""

import importlib.util
import pathlib
import sys
import tracemalloc

import numpy as np
import pytest

import snnc
from snnc import recordings
from snnc.cli import main

EXAMPLES = pathlib.Path(__file__).resolve().parents[1] / "examples"

CUBA = str(EXAMPLES / "cuba.snn")
STDP = str(EXAMPLES / "stdp.snn")
RSTDP = str(EXAMPLES / "rstdp.snn")

CONV = """network grid { dt = 1 ms }
input drive[2, 6, 5]: poisson(rate = 300 Hz)
population a: LIF[2, 6, 5] { tau_mem = 5 ms }
population b: LIF[7]
drive -> a: one_to_one { weight = 0.8 }
a -> b: dense { weight = 0.1 }
"""


@pytest.fixture(autouse=True)
def private_cache(monkeypatch, tmp_path):
    monkeypatch.setenv("SNNC_NO_NUMBA", "1")
    monkeypatch.setenv("SNNC_CACHE_DIR", str(tmp_path / "cache"))


def simulate(source, steps, **options):
    return snnc.simulate(source, steps, **options)


def simulation_runtime(net):
    """The copy of the runtime the simulation of ``net`` runs with (its snnc_runtime.py)."""
    base = simulate(net, 1).simulation.module.Simulation.__mro__[1]
    return sys.modules[base.__module__]


@pytest.mark.parametrize("batch,every", [(1, 1), (3, 1), (2, 7)])
def test_events_are_the_nonzero_of_the_dense_recording(batch, every):
    events = simulate(CUBA, 230, batch=batch, every=every)
    dense = simulate(CUBA, 230, batch=batch, every=every, dense=True)
    out = events.simulation.out
    for name in ("exc.s", "inh.s"):
        expected = dense[name]
        assert expected.dtype == bool and expected.sum() > 20  # spikes to compare
        assert recordings.key(name, "step") in out and name not in out  # held as events
        step, sample, neuron = np.nonzero(expected.reshape(*expected.shape[:2], -1))
        found = events.events(name)
        assert found.shape == expected.shape
        for have, want in ((found.step, step), (found.batch, sample), (found.index, neuron)):
            assert have.dtype == np.int32 and np.array_equal(have, want)
        assert np.array_equal(events[name], expected)  # Result rebuilds the bool array
    assert events.counts() == dense.counts()


def test_a_population_of_several_dimensions_has_flat_indices(tmp_path):
    source = tmp_path / "grid.snn"
    source.write_text(CONV)
    events = simulate(source, 40, batch=2)
    dense = simulate(source, 40, batch=2, dense=True)
    found = events.events("a.s")
    assert found.shape == (40, 2, 2, 6, 5) and found.index.max() < 60
    assert len(found.step) > 100
    assert np.array_equal(found.dense(), dense["a.s"])
    assert np.array_equal(found.counts(), dense["a.s"].sum(axis=0))


@pytest.mark.parametrize("block", [1, 7, 64, 1 << 20])
def test_block_boundaries_do_not_change_the_events(monkeypatch, block):
    """Blocks of one row (block smaller than a row) up to the whole run give the same events
    and counts."""
    net = snnc.load_network(CUBA)
    used = simulation_runtime(net)
    monkeypatch.setattr(used, "_BLOCK_BYTES", block)
    run = simulate(net, 120, batch=2)
    assert len(run.simulation.out["exc.s.events.step"]) > 10
    monkeypatch.setattr(used, "_BLOCK_BYTES", 1 << 20)
    dense = simulate(net, 120, batch=2, dense=True)
    assert np.array_equal(run["exc.s"], dense["exc.s"]) and dense["exc.s"].sum() > 10
    assert run.counts() == dense.counts()
    assert np.array_equal(run.simulation.out["exc.s.count"], dense["exc.s"].sum(axis=0))


def peak_bytes(net, steps, dense=False) -> int:
    """The peak of numpy's and Python's allocations (tracemalloc) during ``Simulation.run``
    alone, recording and counting the spikes of both populations as ``snnc.simulate`` does
    (the simulation is built before, untraced: loading its arrays has peaks of its own)."""
    sim = simulate(net, 1).simulation.module.Simulation(batch=2)
    spikes = ["exc.s", "inh.s"]
    tracemalloc.start()
    try:
        out = sim.run(steps, record=spikes, count=spikes, events=not dense)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert sum(int(out[name + ".count"].sum()) for name in spikes) > steps // 10
    return peak


def test_recording_and_counting_need_no_dense_array(monkeypatch):
    """2,000 steps x 2 samples x 4,000 neurons: a dense recording is 16 MB of bools. What a
    run of 2,000 steps needs beyond a run of 50 steps stays far below it with events, and
    reaches it with dense=True (so the measurement sees such an array). The blocks in which
    spikes are gathered are a fixed 2 x 64 KB here (1 MB per variable by default). A first,
    untraced run in each recording mode compiles whatever the run compiles (numba's kernels,
    the C steps), whose allocations would otherwise be the peak."""
    net = snnc.load_network(CUBA)
    monkeypatch.setattr(simulation_runtime(net), "_BLOCK_BYTES", 1 << 16)  # built, imported
    dense_bytes = 2000 * 2 * 4000
    for dense in (False, True):  # untraced
        peak_bytes(net, 50, dense=dense)
    base = peak_bytes(net, 50)
    assert peak_bytes(net, 2000) - base < dense_bytes / 20
    assert peak_bytes(net, 2000, dense=True) - base > dense_bytes * 0.95


@pytest.mark.parametrize("program,extra", [
    (CUBA, ("--steps", "300", "--batch", "2")),
    (STDP, ("--steps", "200", "--record", "out.s,poisson_in.s,out.v,poisson_in->out.w")),
    (RSTDP, ("--steps", "120", "--input", "{data}")),  # learns from a reward
])
def test_outputs_are_byte_identical_and_compressed(tmp_path, program, extra):
    data = tmp_path / "data.npz"
    rng = np.random.default_rng(3)
    np.savez(data, pattern=rng.random((120, 50)) < 0.4, reward=rng.random(120))
    extra = [str(data) if word == "{data}" else word for word in extra]
    files = [tmp_path / f"{k}.npz" for k in range(2)] + [tmp_path / "f32.npz"]
    for k, path in enumerate(files):
        dtype = ["--dtype", "float32"] if k == 2 else []
        assert main(["run", program, *extra, *dtype, "-o", str(path)]) == 0
    assert files[0].read_bytes() == files[1].read_bytes()
    arrays = recordings.load(files[0])
    spikes = recordings.names(arrays)
    assert spikes and sum(arrays[name].sum() for name in spikes) > 0
    raw = sum(np.asarray(a).nbytes for k, a in arrays.items() if k not in spikes)
    assert files[0].stat().st_size < raw  # deflated
    single = recordings.load(files[2])
    weights = [k for k in single if k.endswith(".w")]
    assert weights and all(single[k].dtype == np.float32 for k in weights)
    assert all(arrays[k].dtype == np.float64 for k in weights)


def test_the_layout_is_documented_and_rebuilds(tmp_path):
    """The file's arrays as the module docstring describes them, read without snnc."""
    out = tmp_path / "o.npz"
    assert main(["run", CUBA, "--steps", "150", "--batch", "2", "-o", str(out)]) == 0
    dense = tmp_path / "d.npz"
    assert main(["run", CUBA, "--steps", "150", "--batch", "2", "--record-dense",
                 "-o", str(dense)]) == 0
    with np.load(out) as data, np.load(dense) as expected:
        assert "exc.s" not in data.files and expected["exc.s"].dtype == bool
        shape = tuple(data["exc.s.events.shape"])
        rebuilt = np.zeros(shape, bool)
        rebuilt.reshape(shape[0], shape[1], -1)[data["exc.s.events.step"],
                                                data["exc.s.events.batch"],
                                                data["exc.s.events.index"]] = True
        assert np.array_equal(rebuilt, expected["exc.s"]) and rebuilt.sum() > 100
        assert np.array_equal(recordings.spikes_dense(data, "exc.s"), expected["exc.s"])
        assert np.array_equal(recordings.spikes_dense(expected, "exc.s"), expected["exc.s"])
        steps = data["exc.s.events.step"]
        order = np.lexsort((data["exc.s.events.index"], data["exc.s.events.batch"], steps))
        assert np.array_equal(order, np.arange(len(steps)))  # sorted by step, sample, neuron


def test_result_api():
    result = simulate(CUBA, 100, batch=2, record=["exc.s", "exc.v"])
    assert list(result) == ["exc.s", "exc.v", "exc->exc.w", "exc->inh.w", "inh->exc.w",
                            "inh->inh.w"]
    assert result["exc.s"].shape == (100, 2, 3200) and result["exc.v"].shape == (100, 2, 3200)
    assert snnc.facade.spikes_dense(result, "exc.s").shape == (100, 2, 3200)
    assert "spikes)" in repr(result)
    with pytest.raises(KeyError):
        result.events("exc.v")
    dense = simulate(CUBA, 100, batch=2, record=["exc.s"], dense=True)
    assert np.array_equal(dense.events("exc.s").step, result.events("exc.s").step)


def program_io(tmp_path):
    """The NEST program's run.py (its shared writer and reader), imported without NEST."""
    out = tmp_path / "nest"
    assert main(["compile", str(EXAMPLES / "synfire.snn"), "--emit", "nest", "-o", str(out)]) == 0
    spec = importlib.util.spec_from_file_location("nest_run_events", out / "run.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_programs_write_the_same_layout(tmp_path, capsys):
    run = program_io(tmp_path)
    rng = np.random.default_rng(5)
    arrays = {"a.s": rng.random((30, 2, 3, 4)) < 0.2, "a.v": rng.random((30, 2, 3, 4)),
              "p.w": rng.random((5, 4)).astype(np.float32)}
    first, second = tmp_path / "1.npz", tmp_path / "2.npz"
    run.write_npz(str(first), arrays)
    run.write_npz(str(second), dict(reversed(arrays.items())))
    assert first.read_bytes() == second.read_bytes()  # sorted members, fixed dates
    with np.load(first) as saved:
        found = recordings.events_of(saved, "a.s")
        expected = recordings.events_of(arrays, "a.s")
        assert found.shape == (30, 2, 3, 4) and len(found.step) > 20
        for field in recordings.FIELDS:
            assert np.array_equal(getattr(found, field), getattr(expected, field))
            assert saved[recordings.key("a.s", field)].dtype == np.int32
        assert np.array_equal(run.spikes_dense(saved, "a.s"), arrays["a.s"])
        assert saved["p.w"].dtype == np.float32 and "a.s" not in saved.files
    run.write_npz(str(first), arrays, dense=True)
    with np.load(first) as saved:
        assert np.array_equal(saved["a.s"], arrays["a.s"])
        assert np.array_equal(run.spikes_dense(saved, "a.s"), arrays["a.s"])
    assert run.spikes_dense({}, "a.s") is None


def test_event_problems_are_found():
    good = recordings.to_events({"a.s": np.eye(3, dtype=bool).reshape(3, 1, 3)})
    assert recordings.problems(good, "f.npz") == []
    missing = {k: v for k, v in good.items() if not k.endswith(".batch")}
    assert "lack a.s.events.batch" in recordings.problems(missing, "f.npz")[0]
    bad = dict(good, **{"a.s.events.index": np.array([0, 1, 3], np.int32)})
    assert "outside 0 .. 2" in recordings.problems(bad, "f.npz")[0]
    shape = dict(good, **{"a.s.events.shape": np.array([0, 1, 3])})
    assert "steps and batch > 0" in recordings.problems(shape, "f.npz")[0]


def test_load_refuses_a_broken_file_or_events_outside_their_shape(tmp_path):
    """snnc.recordings.load: a file that is no .npz archive, or whose events do not fit
    their shape, is a ValueError naming the file, never an IndexError or numpy's message."""
    (tmp_path / "broken.npz").write_bytes(b"garbage")
    with pytest.raises(ValueError, match="broken.npz' is not an .npz archive of recordings"):
        recordings.load(tmp_path / "broken.npz")
    np.savez(tmp_path / "outside.npz", **{"h.s.events.step": np.array([9]),
                                          "h.s.events.batch": np.array([0]),
                                          "h.s.events.index": np.array([0]),
                                          "h.s.events.shape": np.array([5, 1, 3])})
    with pytest.raises(ValueError, match="outside 0 .. 4"):
        recordings.load(tmp_path / "outside.npz")
    with pytest.raises(FileNotFoundError):
        recordings.load(tmp_path / "missing" / "x.npz")
