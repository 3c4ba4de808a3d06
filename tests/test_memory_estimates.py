"""Memory estimates before allocation (issue 13): `snnc check` reports the reference
simulator's estimate; `run`, `train` and `compile` refuse a network, and `run` a recording, that
would need more memory than the machine has (E617), before allocating anything."""

import io
import json
import pathlib
import sys
import time
import tracemalloc

import numpy as np
import pytest

import snnc
from snnc.cli import main
from snnc.diagnostics import Diagnostics
from snnc.memory import (
    ENV_LIMIT,
    Estimate,
    available,
    available_bytes,
    check_fits,
    check_training,
    estimate_data,
    estimate_network,
    estimate_recording,
    estimate_training,
    format_bytes,
    parse_size,
    serialised_storage,
    shares_one_weight,
    synapse_storage,
)

ROOT = pathlib.Path(__file__).resolve().parents[1]
GiB = 2 ** 30

DENSE_1E5 = """network big { dt = 1 ms }
input a[100000]: poisson(rate = 10 Hz)
population b: LIF[100000]
a -> b: dense { weight = uniform(0, 0.001) }
"""

HUGE_POPULATION = """network huge { dt = 1 ms }
input a[10]: poisson(rate = 10 Hz)
population b: LIF[SIZE]
a -> b: sparse(p = 0.000000001) { weight = 0.001 }
"""

SMALL = """network small { dt = 1 ms }
input a[10]: poisson(rate = 20 Hz)
population b: LIF[20]
a -> b: dense { weight = 0.1 }
"""


def compile_text(text: str):
    diag = Diagnostics()
    program = snnc.load_text(text, "t.snn", diag)
    net = snnc.compile_program(program, diag)
    assert net is not None, [snnc.render(d, diag.sources) for d in diag.items]
    return net


def write(tmp_path, text, name="net.snn"):
    path = tmp_path / name
    path.write_text(text)
    return str(path)


# -- sizes and the machine -----------------------------------------------------------------------

@pytest.mark.parametrize("text, size", [
    ("1000", 1000), ("8G", 8 * GiB), ("512M", 512 * 2 ** 20), ("512 MiB", 512 * 2 ** 20),
    ("1.5GB", 1_500_000_000), ("2k", 2048), ("1e6", 1_000_000),
])
def test_parse_size(text, size):
    assert parse_size(text) == size


@pytest.mark.parametrize("text", ["", "abc", "-5G", "8X", "G", "nan", "1e999"])
def test_parse_size_refuses_non_sizes(text):
    assert parse_size(text) is None


def test_available_memory_is_the_override_else_the_machine(monkeypatch):
    monkeypatch.setenv(ENV_LIMIT, "3G")
    assert available_bytes() == 3 * GiB and available().source == ENV_LIMIT
    monkeypatch.delenv(ENV_LIMIT)
    room = available()
    assert room.problem is None
    assert room.bytes is None or room.bytes > 0
    if pathlib.Path("/proc/meminfo").exists():
        assert room.source in ("MemAvailable", "cgroup memory limit")


def test_an_invalid_override_is_e617_naming_the_variable(monkeypatch):
    monkeypatch.setenv(ENV_LIMIT, "lots")
    diag = Diagnostics()
    assert not check_fits(Estimate((("x", 1),)), "x", diag)
    (error,) = diag.items
    assert error.code == "E617" and ENV_LIMIT in error.message and error.span is None


def test_check_fits_gives_the_estimate_the_available_memory_and_the_largest_parts(monkeypatch):
    monkeypatch.setenv(ENV_LIMIT, "1M")
    diag = Diagnostics()
    estimate = Estimate((("projection 'p'", 3 * 2 ** 20), ("population 'q'", 2 ** 20)))
    assert not check_fits(estimate, "network 'n'", diag)
    (error,) = diag.items
    assert error.code == "E617"
    assert "4.0 MiB" in error.message and "1.0 MiB is available" in error.message
    assert error.notes[0] == "projection 'p': 3.0 MiB"
    assert check_fits(Estimate((("x", 2 ** 20),)), "x", Diagnostics())


def test_format_bytes():
    assert format_bytes(512) == "512 B"
    assert format_bytes(1536) == "1.5 KiB"
    assert format_bytes(372.5 * GiB) == "372.5 GiB"


# -- estimates -----------------------------------------------------------------------------------

def test_synapse_storage_dense_and_sparse():
    assert synapse_storage(100, 200, 20000) == (True, 20000, 20000 * 8)
    dense, values, size = synapse_storage(100, 200, 10000)  # 50 %: dense with a mask
    assert dense and values == 20000 and size == 20000 * 9
    # CSR: a float64 weight and int32 post and pre indices per synapse, an int32 pointer per
    # pre neuron; an index past 2**31 - 1 (here the pre neurons') is int64
    assert synapse_storage(1000, 1000, 1000) == (False, 1000, 1000 * 16 + 1001 * 4)
    many = 3 * 2 ** 30
    assert synapse_storage(many, 10, 100) == (False, 100, 100 * (8 + 8 + 4) + (many + 1) * 4)
    assert synapse_storage(10, 10 ** 9, 2 ** 31)[2] == 2 ** 31 * 16 + 11 * 8  # 21 %: CSR
    assert synapse_storage(10, 10, None)[0]  # a file's synapses count as full


def test_network_npz_holds_pre_neurons_for_rules_and_a_shared_weight_once():
    """serialised_storage against the network.npz the reference backend writes: CSR without
    the pre neurons (no rules) and a constant weight as one number; dense matrices whole; with
    a learning rule the pre neurons are there. Sizes of the archive's arrays (numpy's .npy
    headers aside), counted from the file itself."""
    from snnc.backends.reference import ReferenceBackend
    sparse = SMALL.replace("dense", "fixed_fan_in(k = 2)")  # CSR: 40 synapses exactly
    cases = [(SMALL, False), (sparse, False),
             (sparse.replace("weight = 0.1 }", "weight = uniform(0, 1) }"), False),
             (sparse.replace("weight = 0.1 }", "weight = 0.1\n learn stdp }"), True)]
    for text, rules in cases:
        net = compile_text(text)
        files = ReferenceBackend().emit(net)
        with np.load(io.BytesIO(files["network.npz"])) as archive:
            arrays = {key: archive[key] for key in archive.files}
        projection = net.projections()[0]
        pre, post = net.node(projection.pre), net.node(projection.post)
        written = sum(array.nbytes for key, array in arrays.items() if key.startswith("w0"))
        assert ("w0_pre" in arrays) == rules
        assert written == serialised_storage(pre.size, post.size, net.synapse_count(projection),
                                             shares_one_weight(projection), pre_index=rules)
    assert serialised_storage(100, 200, 20000, True, False) == 8  # full dense, one weight
    assert serialised_storage(100, 200, 10000, True, False) == 20000 * 9  # zeros: per synapse


def test_dense_1e5_by_1e5_projection_is_estimated_above_its_matrix():
    net = compile_text(DENSE_1E5)
    estimate = estimate_network(net)
    assert estimate.total >= 2 * 8 * 10 ** 10  # the float64 matrix, twice while it is built
    assert estimate.total < 10 * 8 * 10 ** 10
    assert estimate.largest(1)[0][0].endswith("'a->b'")
    # one weight for every synapse: network.npz holds that number, so the matrix exists once
    # in every phase (the plan's while building, the working copy while running)
    shared = estimate_network(compile_text(DENSE_1E5.replace("uniform(0, 0.001)", "0.001")))
    assert 8 * 10 ** 10 < shared.total < 1.01 * 8 * 10 ** 10


@pytest.mark.parametrize("size", ["1000000000", "1000000000000"])
def test_huge_populations_are_estimated_without_allocating(size):
    net = compile_text(HUGE_POPULATION.replace("SIZE", size))
    tracemalloc.start()
    start = time.perf_counter()
    estimate = estimate_network(net, batch=4)
    seconds = time.perf_counter() - start
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert estimate.total > 4 * int(size) * 8  # at least one float per neuron and sample
    assert seconds < 1 and peak < 10 * 2 ** 20


def test_the_estimate_grows_with_the_batch_and_plastic_traces():
    net = compile_text(SMALL)
    assert estimate_network(net, 8).total > estimate_network(net, 1).total
    plastic = compile_text(SMALL.replace("weight = 0.1 }", "weight = 0.1\n learn rstdp }"))
    # rstdp keeps a per-synapse eligibility trace c: batch x 200 floats more per sample
    grow = estimate_network(plastic, 8).total - estimate_network(plastic, 1).total
    grow_plain = estimate_network(net, 8).total - estimate_network(net, 1).total
    assert grow - grow_plain >= 7 * 200 * 8


def test_recording_estimate_is_steps_batch_neurons_and_item_size():
    net = compile_text(SMALL)
    assert estimate_recording(net, ["b.v"], 1000, 4).total == 1000 * 4 * 20 * 8
    assert estimate_recording(net, ["b.s"], 1000, 4).total == 1000 * 4 * 20
    assert estimate_recording(net, ["b.v"], 1000, 4, every=10).total == 100 * 4 * 20 * 8
    assert estimate_recording(net, ["a->b.w"], 1000, 4).total == 1000 * 200 * 8
    assert estimate_recording(net, ["b.v", "b.v"], 10, 1).total == 10 * 20 * 8


def test_data_set_estimate():
    estimate = estimate_data(samples=1000, steps=100, channels=20)
    assert estimate.total == 1000 * 100 * 20 + 1000 * 8


# -- the passes and the commands -------------------------------------------------------------------

def test_check_memory_pass_is_in_the_default_pipeline_after_check_fit():
    pipeline = snnc.DEFAULT_PIPELINE
    assert "check-memory" in pipeline
    assert pipeline.index("check-memory") > pipeline.index("check-fit")


def test_check_accepts_a_network_too_big_for_this_machine_and_says_so(tmp_path, monkeypatch,
                                                                      capsys):
    monkeypatch.setenv(ENV_LIMIT, "1G")
    path = write(tmp_path, DENSE_1E5)
    assert main(["check", path]) == 0
    out = capsys.readouterr().out
    assert "to simulate (batch 1), more than the 1.0 GiB available here" in out
    assert main(["check", path, "--format", "json"]) == 0
    summary = json.loads(capsys.readouterr().out)["summary"]
    assert summary["memory"]["bytes"] > 160 * 10 ** 9


@pytest.mark.parametrize("command", [
    ["run", "--steps", "10"],
    ["compile", "--emit", "reference", "-o", "OUT"],
])
def test_commands_that_allocate_refuse_a_network_above_the_memory(tmp_path, monkeypatch, capsys,
                                                                   command):
    monkeypatch.setenv(ENV_LIMIT, "1G")
    path = write(tmp_path, DENSE_1E5)
    argv = [command[0], path] + [str(tmp_path / "out") if a == "OUT" else a for a in command[1:]]
    start = time.perf_counter()
    assert main(argv) == 1
    assert time.perf_counter() - start < 30
    err = capsys.readouterr().err
    assert "error[E617]" in err and "1.0 GiB is available (SNNC_MEMORY_LIMIT)" in err
    assert "internal error" not in err
    assert not (tmp_path / "out").exists()


def test_run_refuses_a_recording_above_the_memory(tmp_path, monkeypatch, capsys):
    path = write(tmp_path, SMALL)
    monkeypatch.setenv(ENV_LIMIT, "1M")
    assert main(["run", path, "--steps", "100000", "--record", "v"]) == 1
    err = capsys.readouterr().err
    assert "error[E617]" in err and "recording 'b.v'" in err
    monkeypatch.setenv(ENV_LIMIT, "1G")
    assert main(["run", path, "--steps", "100", "--record", "v"]) == 0


def test_check_large_benchmark_network_still_checks(tmp_path, monkeypatch):
    sys.path.insert(0, str(ROOT / "tests" / "bench"))
    try:
        import check_large
    finally:
        sys.path.pop(0)
    monkeypatch.setenv(ENV_LIMIT, "100M")  # checking never refuses for memory
    path = write(tmp_path, check_large.spec(), "large.snn")
    start = time.perf_counter()
    assert main(["check", "-q", path]) == 0
    assert time.perf_counter() - start < 20


def test_training_estimate_counts_the_oracles_histories(monkeypatch):
    net = compile_text(SMALL.replace("weight = 0.1 }", "weight = 0.1\n learn stdp }"))
    online = estimate_training(net, 4, 100).total
    assert online == estimate_network(net, 4).total
    bptt = estimate_training(net, 4, 100, "bptt").total
    assert bptt - online == 100 * 4 * 20 * 8 * 8
    rtrl = estimate_training(net, 4, 100, "rtrl").total
    assert rtrl - online == 5 * 4 * 20 * 200 * 8
    monkeypatch.setenv(ENV_LIMIT, "10K")
    diag = Diagnostics()
    assert not check_training(net, 4, 100, "bptt", diag, data=estimate_data(10, 100, 10))
    assert diag.items[0].code == "E617" and "training by bptt" in diag.items[0].message


# -- the estimate against what snnc run uses (issue 18) ---------------------------------------

DENSE_4000 = """network dense4000 {
  dt = 0.1 ms
  seed = 3
}
input x[4000]: poisson(rate = 10 Hz)
population y: LIF[4000]
x -> y: dense { weight = uniform(0, 0.001) }
"""


def million_bench():
    sys.path.insert(0, str(ROOT / "tests" / "bench"))
    try:
        import million
    finally:
        sys.path.pop(0)
    return million


@pytest.mark.parametrize("kind", ["sparse", "fixed", "dense"])
def test_check_estimate_agrees_with_what_snnc_run_uses(kind):
    """``snnc check``'s figure against ``snnc run`` measured in a child process: its peak
    resident set minus its resident set just before the network's arrays are built
    (tests/bench/million.py, :func:`measure`), within 20 %. Networks of ~8 M synapses (100k
    CUBA neurons, sparse(p = 80 / N) or fixed_fan_in, estimated at ~0.16 GB: their constant
    weights are stored once) and a dense 4000 x 4000 projection (~0.26 GB); the numpy kernels (SNNC_NO_NUMBA), since numba's compiler
    (tens of MB, per process) is not in the estimate."""
    million = million_bench()
    text = DENSE_4000 if kind == "dense" else million.spec(102400, kind)
    record = "y.s" if kind == "dense" else "inh.s"
    figures = million.measure(text, 10, record, env={"SNNC_NO_NUMBA": "1"})
    assert figures["check_estimate_bytes"] > 150 * 2 ** 20
    assert 0.8 < figures["ratio"] < 1.2, figures


FIXED_20K = """network fixed20k {
  dt = 0.1 ms
  seed = 4
}
population a: LIF[20000]
a -> a: fixed_fan_in(k = 80) { weight = uniform(0, 0.001) }
"""


def test_building_phase_is_what_emitting_the_simulation_allocates():
    """The estimate's building phase, the plan's arrays (synapse_storage: 1.6 M synapses of
    16 bytes, int32 indices) and their serialised network.npz (serialised_storage: 12 bytes,
    no pre neurons without rules), against the peak numpy and Python allocate while the
    reference backend emits the network (tracemalloc): within 15 % above (network.npz grows
    in a BytesIO, reserved 1/8 ahead) and not below it. A network of 200 neurons is emitted
    first: the one-time costs (imports, templates: ~13 MB) are not the network's."""
    from snnc.backends.reference import ReferenceBackend
    ReferenceBackend().emit(compile_text(FIXED_20K.replace("[20000]", "[200]")))
    net = compile_text(FIXED_20K)
    estimate = estimate_network(net)
    stored = synapse_storage(20000, 20000, 1_600_000)[2]
    assert stored == 1_600_000 * 16 + 20001 * 4
    serialised = serialised_storage(20000, 20000, 1_600_000, one_weight=False, pre_index=False)
    assert serialised == 1_600_000 * 12 + 20001 * 4
    assert estimate.largest(1) == [("projection 'a->a' (and its serialised copy)",
                                    stored + serialised)]
    tracemalloc.start()
    try:
        ReferenceBackend().emit(net)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert 1.0 < peak / estimate.total < 1.15, peak / estimate.total
