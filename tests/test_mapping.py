"""Mapping onto cores: cost model, partitioning, placement and XY routing on networks small
enough to check by hand (the expected figures are worked out in the comments)."""

import json

import numpy as np
import pytest

import snnc
from snnc.diagnostics import Diagnostics
from snnc.mapping.assignment import Assignment, Slice
from snnc.mapping.capacity import NEEDS, CostModel
from snnc.mapping.graph import build_graph
from snnc.mapping.partition import evaluate, partition
from snnc.mapping.place import Mesh, Placement, chip_swaps, hop_traffic, link_loads, place, routing_entries
from snnc.mapping.traffic import traffic_matrix
from snnc.passes import DEFAULT_PIPELINE, MAPPING_PIPELINE
from snnc.targets import builtin_names, load_builtin

NEED = {n.key: i for i, n in enumerate(NEEDS)}

# x (4 inputs, 100 Hz) -dense-> a (6 neurons, 100 Hz) -dense-> b (4 neurons); dt = 1 ms, so a
# spike is 0.1 packets per step per destination core. 'tiny' holds 4 neurons per core on a
# row of 3 cores.
TINY = """
network tiny_net {
  dt = 1 ms
}
input x[4]: poisson(rate = 100 Hz)
population a: LIF[6] {
  rate 100 Hz
}
population b: LIF[4]
x -> a: dense
a -> b: dense
target tiny {
  base = generic
  cores = 3
  neurons_per_core = 4
  mesh_width = 3
  mesh_height = 1
  chips_x = 1
  chips_y = 1
}
"""


def mapped(text, *, target=None, passes=DEFAULT_PIPELINE + MAPPING_PIPELINE, **partition):
    diag = Diagnostics()
    program = snnc.load_text(text, "t.snn", diag)
    options = {"check-target": {"target": target}, "partition": partition}
    net = snnc.compile_program(program, diag, passes=passes, options=options)
    return net, diag


def test_contiguous_fill_and_balanced_slices_and_remote_packets():
    net, diag = mapped(TINY)
    assert net is not None, [snnc.render(d, diag.sources) for d in diag.items]
    part = net.analyses["partition"]
    fill, balanced = part.candidates[:2]
    # contiguous: a[0:4] | a[4:6] + b[0:2] | b[2:4]
    assert fill.assignment.slices() == [Slice("a", 0, 4, 0), Slice("a", 4, 6, 1),
                                        Slice("b", 0, 2, 1), Slice("b", 2, 4, 2)]
    # inputs reach cores {0, 1}: 4 x 0.1 x 2 = 0.8; a on core 0 reaches b on {1, 2}:
    # 4 x 0.1 x 2 = 0.8; a on core 1: 2 x 0.1 x 1 remote = 0.2; total 1.8
    assert fill.remote == pytest.approx(1.8)
    # balanced: a alone cuts into 2 runs -> a[0:3], a[3:6]; b[0:4] on its own core
    assert balanced.assignment.slices() == [Slice("a", 0, 3, 0), Slice("a", 3, 6, 1),
                                            Slice("b", 0, 4, 2)]
    # inputs 0.8 + every a neuron reaches b's single core: 6 x 0.1 = 0.6
    assert balanced.remote == pytest.approx(1.4)
    assert part.best is balanced


def test_a_balanced_fill_equal_to_the_contiguous_one_shares_its_scores(monkeypatch):
    # one population of 8 = 2 x 4 neurons: both fills cut it a[0:4] | a[4:8]
    text = TINY.replace("LIF[6]", "LIF[8]").replace("population b: LIF[4]\n", "").replace(
        "a -> b: dense\n", "a -> a: one_to_one\n")
    net, diag = mapped(text, passes=DEFAULT_PIPELINE)
    assert net is not None, [snnc.render(d, diag.sources) for d in diag.items]
    graph, model = build_graph(net), CostModel(net.analyses["check-target"])
    scored = []
    monkeypatch.setattr("snnc.mapping.partition.evaluate",
                        lambda g, m, a: scored.append(a.method) or evaluate(g, m, a))
    best, candidates = partition(graph, model, use_kahip=False, use_metis=False)
    fill, balanced = candidates[:2]
    assert [c.assignment.method for c in candidates[:2]] == ["contiguous", "balanced"]
    assert balanced.assignment.slices() == fill.assignment.slices() == [
        Slice("a", 0, 4, 0), Slice("a", 4, 8, 1)]
    assert scored.count("balanced") == 0 and scored.count("contiguous") == 1
    alone = evaluate(graph, model, balanced.assignment)  # scored on its own, for comparison
    # the inputs reach both cores: 4 x 0.1 x 2 = 0.8; one_to_one stays on each core
    assert balanced.remote == pytest.approx(0.8) and alone.remote == pytest.approx(0.8)
    assert balanced.usage.tolist() == alone.usage.tolist() and best is fill


def test_cost_model_counts_each_capacity_per_core():
    net, _ = mapped(TINY)
    best = net.analyses["partition"].best
    usage = best.usage
    assert usage[NEED["neurons"]].tolist() == [3, 3, 4]
    assert usage[NEED["synapses"]].tolist() == [12, 12, 24]  # 4 x 3, 4 x 3, 6 x 4
    # generic: 8 weight bits + 12 index bits per static synapse
    assert usage[NEED["synapse_bits"]].tolist() == [240, 240, 480]
    assert usage[NEED["input_axons"]].tolist() == [4, 4, 6]
    assert usage[NEED["output_axons"]].tolist() == [3, 3, 0]  # one destination core each
    assert usage[NEED["destination_cores"]].tolist() == [1, 1, 0]
    assert usage[NEED["parameter_sets"]].tolist() == [1, 1, 1]


def test_placement_puts_the_shared_destination_between_its_sources():
    net, _ = mapped(TINY)
    placed = net.analyses["place"]
    # T[0, 2] = T[1, 2] = 3 x 0.1 = 0.3; raster on a row: 0.3 x 2 + 0.3 x 1 = 0.9 hops
    assert placed.baseline.hop_traffic == pytest.approx(0.9)
    assert placed.placement.hop_traffic == pytest.approx(0.6)
    assert placed.placement.slot_of[2] == 1  # core 2 in the middle
    assert placed.max_link_load == pytest.approx(0.3)


def test_mapping_is_deterministic():
    first, _ = mapped(TINY)
    second, _ = mapped(TINY)
    a, b = first.analyses["partition"].best, second.analyses["partition"].best
    assert a.assignment.slices() == b.assignment.slices() and a.remote == b.remote


def test_rates_from_a_profile_replace_declared_rates():
    rates = {"a": np.zeros(6), "x": np.full(4, 10.0)}
    net, _ = mapped(TINY, rates=rates, rates_file="r.npz")
    # silent a sends nothing; inputs at 10 Hz: 4 x 0.01 x 2 cores = 0.08
    assert net.analyses["partition"].best.remote == pytest.approx(0.08)
    assert net.analyses["partition"].rates_from == "r.npz"


def test_rates_of_the_wrong_size_are_an_error():
    net, diag = mapped(TINY, rates={"a": np.zeros(5)}, rates_file="r.npz")
    assert net is None and [d.code for d in diag.errors()] == ["E604"]


def test_xy_routing_goes_along_x_then_y():
    mesh = Mesh(width=3, height=3, cores_per_router=1, chips_x=1, chips_y=1, cores_per_chip=9)
    slots = mesh.slots(1)
    t = np.zeros((9, 9))
    t[0, 5] = 2.0  # (0, 0) -> (2, 1): east, east, north
    t[8, 0] = 1.0  # (2, 2) -> (0, 0): west, west, south, south
    placement = Placement(np.arange(9), slots, 0.0, "raster")
    loads = link_loads(t, placement)
    assert loads["east"][0, 0] == 2 and loads["east"][0, 1] == 2 and loads["east"].sum() == 4
    assert loads["north"][2, 0] == 2 and loads["north"].sum() == 2
    assert loads["west"][2, 0] == 1 and loads["west"][2, 1] == 1 and loads["west"].sum() == 2
    assert loads["south"][0, 0] == 1 and loads["south"][0, 1] == 1 and loads["south"].sum() == 2


def test_routing_entries_count_sources_per_chip():
    mesh = Mesh(width=1, height=1, cores_per_router=2, chips_x=3, chips_y=1, cores_per_chip=2)
    slots = mesh.slots(3)
    t = np.zeros((6, 6))
    t[0, 4] = 1.0  # chip 0 -> chip 2 through chip 1
    t[2, 3] = 1.0  # within chip 1
    entries = routing_entries(t, Placement(np.arange(6), slots, 0.0, "raster"), mesh)
    assert entries.tolist() == [1, 2, 1]


def test_swaps_cut_hop_traffic_on_a_ring_of_cores():
    mesh = Mesh(width=4, height=1, cores_per_router=1, chips_x=1, chips_y=1, cores_per_chip=4)
    t = np.zeros((4, 4))
    t[0, 2] = t[2, 0] = 1.0  # raster puts the chatty pair two hops apart
    best, baseline = place(t, mesh)
    assert baseline.hop_traffic == 4 and best.hop_traffic == 2


def test_large_meshes_swap_whole_chips():
    mesh = Mesh(width=1, height=1, cores_per_router=2, chips_x=3, chips_y=1, cores_per_chip=2)
    slots = mesh.slots(3)
    t = np.zeros((6, 6))
    t[0, 4] = t[4, 0] = 1.0  # chips 0 and 2 talk, two hops apart in raster order
    assert hop_traffic(t, slots, np.arange(6)) == 4
    slot_of = chip_swaps(t, mesh, 3, slots)
    assert hop_traffic(t, slots, slot_of) == 2
    assert sorted(slot_of.tolist()) == list(range(6))


def test_neuron_level_partitioning_finds_locality_in_shuffled_order():
    text = """
network grid {
  dt = 1 ms
}
input x[1, 32, 32]
population a: IF[1, 32, 32]
x -> a: one_to_one
a -> a: conv2d(kernel = 3, stride = 1, padding = 1, channels = 1)
target small {
  base = generic
  neurons_per_core = 128
}
"""
    net, diag = mapped(text, passes=DEFAULT_PIPELINE)
    assert net is not None, [snnc.render(d, diag.sources) for d in diag.items]
    graph = build_graph(net)
    order = np.random.default_rng(1).permutation(1024)
    for s in graph.sets:
        s.posts = order[s.posts]
        if s.projection.pre == "a":
            s.pres = order[s.pres]
        sort = np.argsort(s.posts, kind="stable")
        s.posts, s.pres = s.posts[sort], s.pres[sort]
    model = CostModel(net.analyses["check-target"])
    best, candidates = partition(graph, model, use_kahip=False, use_metis=False)
    fill = candidates[0]
    assert fill.assignment.method == "contiguous" and fill.assignment.cores == 8
    assert best.assignment.method == "multilevel"
    assert best.remote < 0.5 * fill.remote
    assert best.usage[NEED["neurons"]].max() <= 128


def test_the_kept_partition_is_never_worse_than_contiguous_fill():
    net, _ = mapped(TINY.replace("a -> b: dense", "a -> b: sparse(p = 0.5)"))
    part = net.analyses["partition"]
    fill = next(c for c in part.candidates if c.assignment.method == "contiguous")
    assert part.best.remote <= fill.remote


# ---- every built-in profile ---------------------------------------------------------------

SMALL = """
network small {
  dt = 1 ms
}
input x[8]: poisson(rate = 50 Hz)
population a: LIF[8]
population b: LIF[4]
x -> a: one_to_one
a -> b: dense
"""
#: bits per static synapse: weight_bits + synapse_index_bits (defaults: 8 + 0)
BITS = {"loihi": 18, "loihi2": 21, "spinnaker": 32, "spinnaker2": 24, "truenorth": 1,
        "dynapse2": 8, "xylo": 8, "xylo_audio3": 8, "xylo_imu": 8, "speck": 8,
        "brainscales2": 6, "generic": 20}
CHIPS = [n for n in builtin_names() if n != "reference"]
#: the chips mapped by the generic partitioner (Speck maps whole layers onto cores as sinabs
#: assigns them: tests/test_speck_mapping.py)
PARTITIONED = [n for n in CHIPS if n != "speck"]


def runnable(text: str, chip: str) -> str:
    """``text`` with neurons the chip has (its profile's ``neurons`` section, checked by
    check-target): IF on Speck (no leak), CubaLIF with a subtractive reset and 'b' as the readout
    on Xylo (its outputs are separate output neurons); unchanged elsewhere."""
    neurons = load_builtin(chip).neurons
    if neurons.get("leak") == "none":
        return text.replace(": LIF[", ": IF[")
    if neurons.get("separate_outputs"):
        return text.replace("population b: LIF[4]", "readout b: LIF[4]").replace(
            ": LIF[", ": CubaLIF[").replace("]\n", "] {\n  reset = subtract\n}\n")
    return text


def test_every_chip_has_a_profile_with_a_source_per_figure():
    assert sorted(CHIPS) == sorted(BITS)
    for name in CHIPS:
        profile = load_builtin(name)
        figures = {**profile.capacity, **profile.mesh, **profile.neurons}
        assert set(profile.figure_sources) == set(figures), name
        assert all(len(s) > 5 for s in profile.figure_sources.values()), name
        mesh = Mesh.of(profile)
        assert mesh.width * mesh.height * mesh.cores_per_router >= profile.capacity["cores"]


@pytest.mark.parametrize("chip", PARTITIONED)
def test_a_small_network_fits_one_core_of_every_chip(chip):
    net, diag = mapped(runnable(SMALL, chip), target=chip)
    assert net is not None, [snnc.render(d, diag.sources) for d in diag.items]
    best = net.analyses["partition"].best
    if chip == "dynapse2":  # one parameter set per core: a and b on cores of their own
        assert best.assignment.slices() == [Slice("a", 0, 8, 0), Slice("b", 0, 4, 1)]
        # inputs 8 x 0.05 x 1 core, and every a neuron (10 Hz default) reaches b's core
        assert best.remote == pytest.approx(0.4 + 8 * 0.01)
        assert best.usage[NEED["synapses"]].tolist() == [8, 32]
        # the 4 cores share one router: no hops
        assert net.analyses["place"].placement.hop_traffic == 0
        return
    assert best.assignment.slices() == [Slice("a", 0, 8, 0), Slice("b", 0, 4, 0)]
    # only the inputs' packets leave their source: 8 x 0.05 x 1 core
    assert best.remote == pytest.approx(0.4)
    assert best.usage[NEED["synapses"]].tolist() == [8 + 32]
    assert best.usage[NEED["synapse_bits"]].tolist() == [40 * BITS[chip]]
    assert net.analyses["place"].placement.hop_traffic == 0


@pytest.mark.parametrize("chip", PARTITIONED)
def test_neurons_per_core_cut_a_population_into_full_slices(chip):
    profile = load_builtin(chip)
    n = int(profile.capacity.get("neurons_per_core", 0))
    size = 2 * n + 1 if n else 1000
    net, diag = mapped(runnable(f"population p: LIF[{size}]\n", chip), target=chip)
    cores = Mesh.of(profile).total
    if n and cores < 3:  # Xylo also refuses a network without a readout (E405)
        assert net is None and "E402" in [d.code for d in diag.errors()]
        return
    assert net is not None, [snnc.render(d, diag.sources) for d in diag.items]
    expected = [Slice("p", 0, n, 0), Slice("p", n, 2 * n, 1), Slice("p", 2 * n, size, 2)] \
        if n else [Slice("p", 0, size, 0)]
    assert net.analyses["partition"].best.assignment.slices() == expected


# ---- diagnostics ----------------------------------------------------------------------------

def test_a_neuron_with_too_many_plastic_axons_is_named_with_the_fix():
    text = """
input inp[2600]: poisson(rate = 10 Hz)
population hidden: LIF[100]
inp -> hidden: dense {
  learn stdp(lr = 0.01, tau_plus = 20 ms, tau_minus = 20 ms, w_max = 1)
}
target loihi
"""
    net, diag = mapped(text, passes=DEFAULT_PIPELINE)
    assert net is None
    (error,) = list(diag.errors())
    assert error.code == "E401" and (error.span.line, error.span.column) == (4, 1)
    assert error.message == ("population 'hidden' needs 5,200 distinct input axons per core "
                             "for a single neuron but loihi allows 4,096")
    assert error.hint == ("a plastic projection uses 2 axon slots per axon; split "
                          "'inp->hidden' or reduce its fan-in (now 2,600)")


def test_one_destination_per_neuron_on_truenorth():
    text = """
input x[256]: poisson(rate = 5 Hz)
population a: LIF[256]
population b: LIF[256]
population c: LIF[256]
x -> a: one_to_one
a -> b: dense
a -> c: dense
target truenorth
"""
    # 256 neurons fill a core, so a, b and c take a core each: every a neuron needs 2
    net, diag = mapped(text)
    assert net is None
    (error,) = list(diag.errors())
    assert error.code == "E403" and error.span.line == 3
    assert error.message == ("a neuron of 'a' reaches 2 destination cores but truenorth "
                             "allows 1 per neuron")


def test_mapping_onto_the_reference_simulator_is_refused():
    net, diag = mapped(SMALL, target="reference")
    assert net is None and [d.code for d in diag.errors()] == ["E406"]


def test_output_axons_that_no_partition_keeps_are_reported_with_a_hint():
    text = """
population a: LIF[4]
population b: LIF[4]
a -> b: dense
target tight {
  base = generic
  neurons_per_core = 4
  output_axons_per_core = 1
}
"""
    # every a neuron needs an output axon per core holding b: at least 1 each, 4 on a full core
    net, diag = mapped(text)
    assert net is None
    (error,) = list(diag.errors())
    assert error.code == "E403" and error.span.line == 2
    assert "output axons on core" in error.message and "tight allows 1" in error.message
    assert error.hint.startswith("each neuron uses one output axon per destination core")


def test_a_network_without_populations_has_nothing_to_map():
    net, diag = mapped("input x[4]: poisson(rate = 5 Hz)\n", target="loihi")
    assert net is None and [d.code for d in diag.errors()] == ["E407"]


def test_routing_entries_beyond_the_limit_are_reported():
    text = SMALL.replace("LIF[8]", "LIF[600]").replace("x[8]", "x[600]").replace(
        "LIF[4]", "LIF[600]") + """
target tight {
  base = spinnaker
  routing_entries_per_chip = 1
}
"""
    net, diag = mapped(text)
    assert net is None and [d.code for d in diag.errors()] == ["E404"]


def test_evaluate_checks_every_capacity():
    net, _ = mapped(TINY)
    part = net.analyses["partition"]
    everything_on_one = Assignment.from_slices([Slice("a", 0, 6, 0), Slice("b", 0, 4, 0)],
                                               {"a": 6, "b": 4}, "test")
    result = evaluate(part.graph, part.model, everything_on_one)
    assert not result.feasible
    assert result.over[NEED["neurons"]].tolist() == [True]
    assert traffic_matrix(result.flows, 1).tolist() == [[0.0]]


def test_the_mapping_goes_into_nir_metadata():
    pytest.importorskip("nir")
    from snnc.backends.nir.export import export_graph
    from snnc.mapping import report

    net, _ = mapped(TINY)
    doc = report.document(net, net.analyses["partition"], net.analyses["place"])
    graph = export_graph(net, "test", mapping=doc)
    recorded = json.loads(graph.metadata["mapping"])
    assert recorded["slices"] == doc["slices"] and recorded["target"] == "tiny"
    assert "mapping" not in export_graph(net, "test").metadata


@pytest.mark.parametrize("text, message", [
    ("input mic[8]: poisson(rate = 5 Hz)\npopulation h: CubaLIF[8] {\n  reset = subtract\n}\n"
     "readout out: CubaLI[10]\nmic -> h: dense\nh -> out: dense\ntarget xylo\n",
     "the network has 10 output neurons but xylo has 8"),
    ("input ev[1, 4, 4]: poisson(rate = 5 Hz)\npopulation c: IF[1100, 4, 4]\n"
     "ev -> c: conv2d(kernel = 1, stride = 1, padding = 0, channels = 1100)\ntarget speck\n",
     "'ev->c' has 1,100 channels but speck allows 1,024"),
])
def test_interface_limits_of_small_chips(text, message):
    net, diag = mapped(text, passes=DEFAULT_PIPELINE)
    assert net is None
    assert [(d.code, d.message) for d in diag.errors()] == [("E405", message)]
